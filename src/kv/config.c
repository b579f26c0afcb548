/* config.c — table-driven `halo kv` configuration with Redis's directive names. */
#include "../repl/repl_node.h"
#include "config.h"
#include "../common/err.h"
#include "../common/limits.h"
#include "../common/log.h"
#include "../common/mem.h"
#include "../common/util.h"
#include "../persist/aof.h"
#include "../proto/resp.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum ctype { C_BOOL, C_INT, C_MEM, C_STR, C_ENUM };

typedef struct enum_val {
    const char *name;
    int value;
} enum_val;

typedef struct config_def {
    const char *name;
    enum ctype type;
    size_t offset;
    int64_t min, max;        /* C_INT, C_MEM bounds */
    const enum_val *enums;   /* C_ENUM names */
    bool runtime;            /* CONFIG SET allowed */
    int (*apply)(kv_server *srv); /* after CONFIG SET, may be NULL */
} config_def;

static const enum_val policy_enum[] = {
    {"noeviction", EVICT_NOEVICTION},        {"allkeys-lru", EVICT_ALLKEYS_LRU},
    {"volatile-lru", EVICT_VOLATILE_LRU},    {"allkeys-random", EVICT_ALLKEYS_RANDOM},
    {"volatile-random", EVICT_VOLATILE_RANDOM}, {"volatile-ttl", EVICT_VOLATILE_TTL},
    {NULL, 0}};
static const enum_val fsync_enum[] = {
    {"always", FSYNC_ALWAYS}, {"everysec", FSYNC_EVERYSEC}, {"no", FSYNC_NO}, {NULL, 0}};
static const enum_val loglevel_enum[] = {{"debug", LOG_DEBUG},     {"verbose", LOG_INFO},
                                         {"notice", LOG_NOTICE},   {"warning", LOG_WARNING},
                                         {NULL, 0}};

static int apply_loglevel(kv_server *srv)
{
    log_set_level(srv->cfg.loglevel);
    return 0;
}

static int apply_fsync(kv_server *srv)
{
    if (srv->aof) aof_set_fsync(srv->aof, srv->cfg.appendfsync);
    return 0;
}

#define OFF(f) offsetof(kv_config, f)
#define MEM_MAX (INT64_MAX / 2)
static const config_def defs[] = {
    {"bind", C_STR, OFF(bind), 0, 0, NULL, false, NULL},
    {"port", C_INT, OFF(port), 0, 65535, NULL, false, NULL},
    {"dir", C_STR, OFF(dir), 0, 0, NULL, false, NULL},
    {"logfile", C_STR, OFF(logfile), 0, 0, NULL, false, NULL},
    {"loglevel", C_ENUM, OFF(loglevel), 0, 0, loglevel_enum, true, apply_loglevel},
    {"requirepass", C_STR, OFF(requirepass), 0, 0, NULL, true, NULL},
    {"maxmemory", C_MEM, OFF(maxmemory), 0, MEM_MAX, NULL, true, NULL},
    {"maxmemory-policy", C_ENUM, OFF(maxmemory_policy), 0, 0, policy_enum, true, NULL},
    {"maxmemory-samples", C_INT, OFF(maxmemory_samples), 1, 64, NULL, true, NULL},
    {"appendonly", C_BOOL, OFF(appendonly), 0, 0, NULL, false, NULL},
    {"appendfsync", C_ENUM, OFF(appendfsync), 0, 0, fsync_enum, true, apply_fsync},
    {"appendfilename", C_STR, OFF(appendfilename), 0, 0, NULL, false, NULL},
    {"auto-aof-rewrite-percentage", C_INT, OFF(auto_aof_rewrite_percentage), 0, INT32_MAX, NULL, true, NULL},
    {"auto-aof-rewrite-min-size", C_MEM, OFF(auto_aof_rewrite_min_size), 0, MEM_MAX, NULL, true, NULL},
    {"aof-load-truncated", C_BOOL, OFF(aof_load_truncated), 0, 0, NULL, true, NULL},
    {"timeout", C_INT, OFF(timeout_s), 0, INT32_MAX, NULL, true, NULL},
    {"maxclients", C_INT, OFF(maxclients), 1, 1000000, NULL, true, NULL},
    {"proto-max-bulk-len", C_MEM, OFF(proto_max_bulk_len), 1024 * 1024, HALO_MAX_STRING_LEN * 2, NULL, true, NULL},
    {"client-query-buffer-limit", C_MEM, OFF(client_query_buffer_limit), 1024 * 1024, MEM_MAX, NULL, true, NULL},
    {"client-output-buffer-limit-normal", C_MEM, OFF(obuf_normal_hard), 0, MEM_MAX, NULL, true, NULL},
    {"client-output-buffer-limit-pubsub", C_MEM, OFF(obuf_pubsub_hard), 0, MEM_MAX, NULL, true, NULL},
    {"hz", C_INT, OFF(hz), 1, 500, NULL, true, NULL},
    {"tcp-backlog", C_INT, OFF(tcp_backlog), 1, 65535, NULL, false, NULL},
    {"tcp-keepalive", C_INT, OFF(tcp_keepalive_s), 0, INT32_MAX, NULL, true, NULL},
    {"metrics-port", C_INT, OFF(metrics_port), 0, 65535, NULL, false, NULL},
    {"metrics-bind", C_STR, OFF(metrics_bind), 0, 0, NULL, false, NULL},
    {"databases", C_INT, OFF(databases), 1, 1, NULL, false, NULL},
    {"pidfile", C_STR, OFF(pidfile), 0, 0, NULL, false, NULL},
    {"daemonize", C_BOOL, OFF(daemonize), 0, 0, NULL, false, NULL},
    {"slowlog-log-slower-than", C_INT, OFF(slowlog_log_slower_than_us), -1, INT32_MAX, NULL, true, NULL},
    {"repl-zk", C_STR, OFF(repl_zk), 0, 0, NULL, false, NULL},
    {"repl-cluster", C_STR, OFF(repl_cluster), 0, 0, NULL, false, NULL},
    {"repl-group", C_STR, OFF(repl_group), 0, 0, NULL, false, NULL},
    {"repl-node-id", C_STR, OFF(repl_node_id), 0, 0, NULL, false, NULL},
    {"repl-members", C_STR, OFF(repl_members), 0, 0, NULL, false, NULL},
    {"repl-announce", C_STR, OFF(repl_announce), 0, 0, NULL, false, NULL},
    {"repl-session-timeout", C_INT, OFF(repl_session_timeout_ms), 200, 60000, NULL, false, NULL},
    {"repl-timeout", C_INT, OFF(repl_timeout_ms), 50, 600000, NULL, true, NULL},
    {"min-sync-replicas", C_INT, OFF(min_sync_replicas), 0, 15, NULL, false, NULL},
    {"repl-backlog-size", C_MEM, OFF(repl_backlog_size), 1024 * 1024, MEM_MAX, NULL, false, NULL},
};
#define NDEFS (sizeof(defs) / sizeof(defs[0]))

static char **str_field(kv_config *cfg, const config_def *d) { return (char **)((char *)cfg + d->offset); }

void config_defaults(kv_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->bind = hstrdup("127.0.0.1 -::1");
    cfg->port = 6379;
    cfg->dir = hstrdup(".");
    cfg->logfile = hstrdup("");
    cfg->loglevel = LOG_NOTICE;
    cfg->requirepass = hstrdup("");
    cfg->maxmemory_policy = EVICT_NOEVICTION;
    cfg->maxmemory_samples = 5;
    cfg->appendonly = false;
    cfg->appendfsync = FSYNC_EVERYSEC;
    cfg->appendfilename = hstrdup("appendonly.aof");
    cfg->auto_aof_rewrite_percentage = 100;
    cfg->auto_aof_rewrite_min_size = 64LL * 1024 * 1024;
    cfg->aof_load_truncated = true;
    cfg->maxclients = 10000;
    cfg->proto_max_bulk_len = HALO_DEFAULT_PROTO_MAX_BULK_LEN;
    cfg->client_query_buffer_limit = HALO_DEFAULT_QUERYBUF_MAX;
    cfg->obuf_normal_hard = HALO_DEFAULT_OBUF_HARD_MAX;
    cfg->obuf_pubsub_hard = HALO_DEFAULT_OBUF_PUBSUB_MAX;
    cfg->hz = 10;
    cfg->tcp_backlog = 511;
    cfg->tcp_keepalive_s = 300;
    cfg->metrics_port = 0;
    cfg->metrics_bind = hstrdup("127.0.0.1");
    cfg->databases = 1;
    cfg->pidfile = hstrdup("");
    cfg->slowlog_log_slower_than_us = 10000;
    cfg->repl_zk = hstrdup("");
    cfg->repl_cluster = hstrdup("halo");
    cfg->repl_group = hstrdup("g1");
    cfg->repl_node_id = hstrdup("");
    cfg->repl_members = hstrdup("");
    cfg->repl_announce = hstrdup("");
    cfg->repl_session_timeout_ms = 1000;
    cfg->repl_timeout_ms = 1000;
    cfg->min_sync_replicas = 1;
    cfg->repl_backlog_size = 64LL * 1024 * 1024;
}

void config_free(kv_config *cfg)
{
    for (size_t i = 0; i < NDEFS; i++) {
        if (defs[i].type != C_STR) continue;
        char **f = str_field(cfg, &defs[i]);
        hfree(*f);
        *f = NULL;
    }
}

bool config_parse_memory(const char *s, int64_t *out)
{
    size_t len = strlen(s);
    int64_t mul = 1;
    size_t numlen = len;
    static const struct { const char *suffix; int64_t mul; } units[] = {
        {"kb", 1024}, {"mb", 1024 * 1024}, {"gb", 1024LL * 1024 * 1024},
        {"k", 1000}, {"m", 1000 * 1000}, {"g", 1000LL * 1000 * 1000}, {"b", 1}};
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        size_t sl = strlen(units[i].suffix);
        if (len > sl && strcasecmp(s + len - sl, units[i].suffix) == 0 && isdigit((unsigned char)s[len - sl - 1])) {
            mul = units[i].mul;
            numlen = len - sl;
            break;
        }
    }
    int64_t v;
    if (!str_to_i64(s, numlen, &v) || v < 0 || v > INT64_MAX / mul) return false;
    *out = v * mul;
    return true;
}

static const config_def *find_def(const char *name)
{
    for (size_t i = 0; i < NDEFS; i++)
        if (strcasecmp(defs[i].name, name) == 0) return &defs[i];
    return NULL;
}

/* Set one directive from its text value; writes a reason to err on failure. */
static int set_value(kv_config *cfg, const config_def *d, const char *value, buf *err)
{
    void *field = (char *)cfg + d->offset;
    switch (d->type) {
    case C_BOOL:
        if (strcasecmp(value, "yes") == 0) *(bool *)field = true;
        else if (strcasecmp(value, "no") == 0) *(bool *)field = false;
        else {
            buf_printf(err, "argument must be 'yes' or 'no'");
            return -HALO_ECONFIG;
        }
        return 0;
    case C_INT: {
        int64_t v;
        if (!str_to_i64(value, strlen(value), &v)) {
            buf_printf(err, "argument couldn't be parsed into an integer");
            return -HALO_ECONFIG;
        }
        if (v < d->min || v > d->max) {
            buf_printf(err, "argument must be between %lld and %lld inclusive", (long long)d->min,
                       (long long)d->max);
            return -HALO_ECONFIG;
        }
        *(int *)field = (int)v;
        return 0;
    }
    case C_MEM: {
        int64_t v;
        if (!config_parse_memory(value, &v)) {
            buf_printf(err, "argument must be a memory value");
            return -HALO_ECONFIG;
        }
        if (v < d->min || v > d->max) {
            buf_printf(err, "argument must be between %lld and %lld inclusive", (long long)d->min,
                       (long long)d->max);
            return -HALO_ECONFIG;
        }
        *(int64_t *)field = v;
        return 0;
    }
    case C_STR:
        hfree(*(char **)field);
        *(char **)field = hstrdup(value);
        return 0;
    case C_ENUM:
        for (const enum_val *e = d->enums; e->name; e++) {
            if (strcasecmp(e->name, value) == 0) {
                *(int *)field = e->value;
                return 0;
            }
        }
        buf_printf(err, "argument(s) must be one of the following:");
        for (const enum_val *e = d->enums; e->name; e++) buf_printf(err, " %s", e->name);
        return -HALO_ECONFIG;
    }
    return -HALO_ECONFIG;
}

static void format_value(const kv_config *cfg, const config_def *d, char *out, size_t cap)
{
    const void *field = (const char *)cfg + d->offset;
    switch (d->type) {
    case C_BOOL: snprintf(out, cap, "%s", *(const bool *)field ? "yes" : "no"); break;
    case C_INT: snprintf(out, cap, "%d", *(const int *)field); break;
    case C_MEM: snprintf(out, cap, "%lld", (long long)*(const int64_t *)field); break;
    case C_STR: snprintf(out, cap, "%s", *(char *const *)field ? *(char *const *)field : ""); break;
    case C_ENUM:
        out[0] = '\0';
        for (const enum_val *e = d->enums; e->name; e++)
            if (e->value == *(const int *)field) snprintf(out, cap, "%s", e->name);
        break;
    }
}

/* Split a config line into words with Redis's quoting rules. */
static int split_line(const char *line, size_t len, char *scratch, resp_arg *args, size_t max)
{
    return resp_split_inline(line, len, scratch, args, max);
}

/* Join words 1..n with spaces (bind takes several addresses). */
static char *join_args(const resp_arg *args, int n)
{
    size_t total = 1;
    for (int i = 1; i < n; i++) total += args[i].len + 1;
    char *s = hmalloc(total);
    size_t o = 0;
    for (int i = 1; i < n; i++) {
        if (i > 1) s[o++] = ' ';
        memcpy(s + o, args[i].ptr, args[i].len);
        o += args[i].len;
    }
    s[o] = '\0';
    return s;
}

static int apply_directive(kv_config *cfg, const resp_arg *args, int n, buf *err)
{
    char name[128];
    size_t nl = args[0].len < sizeof(name) - 1 ? args[0].len : sizeof(name) - 1;
    memcpy(name, args[0].ptr, nl);
    name[nl] = '\0';
    const config_def *d = find_def(name);
    if (d == NULL) {
        buf_printf(err, "unknown directive '%s'", name);
        return -HALO_ECONFIG;
    }
    if (n < 2 || (n > 2 && strcmp(d->name, "bind") != 0)) {
        buf_printf(err, "wrong number of arguments for '%s'", d->name);
        return -HALO_ECONFIG;
    }
    char *value = join_args(args, n);
    if (strlen(value) != (n == 2 ? args[1].len : strlen(value))) {
        hfree(value);
        buf_printf(err, "'%s' value contains a NUL byte", d->name);
        return -HALO_ECONFIG;
    }
    size_t before = err->len;
    int rc = set_value(cfg, d, value, err);
    if (rc != 0) {
        /* Prefix the reason with the directive for the operator. */
        buf tmp;
        buf_init(&tmp);
        buf_printf(&tmp, "invalid '%s' value '%s': ", d->name, value);
        buf_append(&tmp, err->data + before, err->len - before);
        err->len = before;
        buf_append(err, tmp.data, tmp.len);
        buf_free(&tmp);
    }
    hfree(value);
    return rc;
}

int config_load_text(kv_config *cfg, const char *text, size_t len, const char *fname, buf *err)
{
    size_t pos = 0;
    int lineno = 0;
    char *scratch = hmalloc(HALO_MAX_CONFIG_LINE + 1);
    resp_arg args[64];
    int rc = 0;
    while (pos < len && rc == 0) {
        lineno++;
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - line) : len - pos;
        pos += ll + (nl ? 1 : 0);
        if (ll && line[ll - 1] == '\r') ll--;
        size_t skip = 0;
        while (skip < ll && isspace((unsigned char)line[skip])) skip++;
        if (skip == ll || line[skip] == '#') continue;
        if (ll > HALO_MAX_CONFIG_LINE) {
            buf_printf(err, "%s:%d: line longer than %d bytes", fname, lineno, HALO_MAX_CONFIG_LINE);
            rc = -HALO_ECONFIG;
            break;
        }
        int n = split_line(line, ll, scratch, args, 64);
        if (n < 0) {
            buf_printf(err, "%s:%d: %s", fname, lineno,
                       n == -1 ? "unbalanced quotes" : "too many arguments");
            rc = -HALO_ECONFIG;
            break;
        }
        if (n == 0) continue;
        size_t before = err->len;
        rc = apply_directive(cfg, args, n, err);
        if (rc != 0) {
            buf tmp;
            buf_init(&tmp);
            buf_printf(&tmp, "%s:%d: ", fname, lineno);
            buf_append(&tmp, err->data + before, err->len - before);
            err->len = before;
            buf_append(err, tmp.data, tmp.len);
            buf_free(&tmp);
        }
    }
    hfree(scratch);
    return rc;
}

int config_load_file(kv_config *cfg, const char *path, buf *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        buf_printf(err, "cannot open config file '%s': %s", path, strerror(errno));
        return -HALO_ECONFIG;
    }
    buf text;
    buf_init(&text);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        buf_append(&text, chunk, n);
        if (text.len > 16 * 1024 * 1024) break;
    }
    fclose(f);
    int rc;
    if (text.len > 16 * 1024 * 1024) {
        buf_printf(err, "config file '%s' is larger than 16 MiB", path);
        rc = -HALO_ECONFIG;
    } else {
        rc = config_load_text(cfg, text.data ? text.data : "", text.len, path, err);
    }
    buf_free(&text);
    return rc;
}

int config_load_args(kv_config *cfg, int argc, char **argv, char **config_file, buf *err)
{
    int i = 0;
    *config_file = NULL;
    if (argc > 0 && strncmp(argv[0], "--", 2) != 0) {
        *config_file = hstrdup(argv[0]);
        int rc = config_load_file(cfg, argv[0], err);
        if (rc != 0) return rc;
        i = 1;
    }
    while (i < argc) {
        if (strncmp(argv[i], "--", 2) != 0 || argv[i][2] == '\0') {
            buf_printf(err, "command line: expected --directive, got '%s'", argv[i]);
            return -HALO_ECONFIG;
        }
        resp_arg args[64];
        int n = 0;
        args[n].ptr = argv[i] + 2;
        args[n++].len = strlen(argv[i] + 2);
        i++;
        while (i < argc && strncmp(argv[i], "--", 2) != 0 && n < 64) {
            args[n].ptr = argv[i];
            args[n++].len = strlen(argv[i]);
            i++;
        }
        size_t before = err->len;
        int rc = apply_directive(cfg, args, n, err);
        if (rc != 0) {
            buf tmp;
            buf_init(&tmp);
            buf_printf(&tmp, "command line --%.*s: ", (int)args[0].len, args[0].ptr);
            buf_append(&tmp, err->data + before, err->len - before);
            err->len = before;
            buf_append(err, tmp.data, tmp.len);
            buf_free(&tmp);
            return rc;
        }
    }
    return 0;
}

int config_validate(const kv_config *cfg, buf *err)
{
    if (cfg->daemonize) {
        buf_printf(err, "daemonize yes is not supported: run halo under a supervisor (systemd)");
        return -HALO_ECONFIG;
    }
    if (cfg->appendfilename[0] == '\0' || strchr(cfg->appendfilename, '/')) {
        buf_printf(err, "appendfilename must be a plain file name, not a path");
        return -HALO_ECONFIG;
    }
    if (cfg->metrics_port != 0 && cfg->metrics_port == cfg->port) {
        buf_printf(err, "metrics-port must differ from port");
        return -HALO_ECONFIG;
    }
    return repl_config_check(cfg, err);
}

int config_set(kv_server *srv, const char *name, const char *value, buf *err)
{
    const config_def *d = find_def(name);
    if (d == NULL) {
        buf_printf(err, "Unknown option or number of arguments for CONFIG SET - '%s'", name);
        return -HALO_ENOTFOUND;
    }
    if (!d->runtime) {
        buf_printf(err, "CONFIG SET failed (possibly related to argument '%s') - can't set immutable config", d->name);
        return -HALO_EINVAL;
    }
    kv_config saved = srv->cfg;
    char *saved_str = d->type == C_STR ? hstrdup(*str_field(&srv->cfg, d)) : NULL;
    buf reason;
    buf_init(&reason);
    int rc = set_value(&srv->cfg, d, value, &reason);
    if (rc == 0 && d->apply) rc = d->apply(srv);
    if (rc != 0) {
        buf_printf(err, "CONFIG SET failed (possibly related to argument '%s') - %.*s", d->name,
                   (int)reason.len, reason.data ? reason.data : "");
        if (d->type == C_STR) {
            hfree(*str_field(&srv->cfg, d));
            *str_field(&srv->cfg, d) = saved_str;
            saved_str = NULL;
        } else {
            memcpy((char *)&srv->cfg + d->offset, (char *)&saved + d->offset,
                   d->type == C_MEM ? sizeof(int64_t) : d->type == C_BOOL ? sizeof(bool) : sizeof(int));
        }
    }
    hfree(saved_str);
    buf_free(&reason);
    return rc;
}

int config_get(const kv_config *cfg, const char *pattern, size_t plen, config_pair_fn fn, void *priv)
{
    int n = 0;
    char value[4096];
    for (size_t i = 0; i < NDEFS; i++) {
        if (!glob_match(pattern, plen, defs[i].name, strlen(defs[i].name), true)) continue;
        format_value(cfg, &defs[i], value, sizeof(value));
        fn(defs[i].name, value, priv);
        n++;
    }
    return n;
}
