/* gw_config.c — loads and validates the `halo gw` YAML configuration (table-driven, libyaml). */
#include "gw_config.h"
#include "../common/mem.h"
#include "../common/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

/* Limits on what a config file may declare. The file comes from an operator,
 * not a client, but a reload must never be able to exhaust the gateway's
 * memory or time: libyaml keeps ~100 bytes per node, so these bound a load to
 * a few tens of MiB and a fraction of a second whatever the text says. */
#define GWC_MAX_FILE_BYTES (4 * 1024 * 1024) /* far beyond any hand-written config */
#define GWC_MAX_NODES 200000                 /* scalars + lists + mappings */
#define GWC_MAX_DEPTH 32                     /* the schema itself nests 4 deep */
#define GWC_MAX_LISTENERS 64
#define GWC_MAX_ROUTES 4096
#define GWC_MAX_CLUSTERS 1024
#define GWC_MAX_ENDPOINTS 1024 /* per cluster; keeps ring/Maglev tables small */
#define GWC_MAX_NAME 64        /* names become metric labels and JSON keys */
#define GWC_MAX_PATH 1024      /* path_prefix, health-check path */
#define GWC_MAX_FIELDS 12      /* keys in the largest mapping schema */

#define MS_PER_S 1000LL
#define MS_PER_M (60 * MS_PER_S)
#define MS_PER_H (60 * MS_PER_M)

/* ---- parse context, key paths and errors ---- */

typedef struct pctx {
    yaml_document_t *doc;
    const char *name;   /* file name for messages */
    buf *err;
    gw_config *cfg;     /* being built; lists grow as elements are parsed */
    char path[256];     /* key path of the value being parsed: "clusters[0].lb" */
    size_t plen;
} pctx;

static void err_finish(buf *err)
{
    buf_append(err, "", 1); /* keep err->data a C string for callers */
    err->len--;
}

static void err_at(buf *err, const char *name, yaml_mark_t mark, const char *path,
                   const char *msg)
{
    buf_printf(err, "%s:%zu:%zu: ", name, mark.line + 1, mark.column + 1);
    if (path && path[0]) buf_printf(err, "%s: ", path);
    buf_append_str(err, msg);
    err_finish(err);
}

/* Record the (first) error at node n's position under the current key path. */
__attribute__((format(printf, 3, 4))) static int fail(pctx *c, const yaml_node_t *n,
                                                      const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    yaml_mark_t none = {0, 0, 0};
    err_at(c->err, c->name, n ? n->start_mark : none, c->path, msg);
    return -1;
}

static size_t path_push(pctx *c, const char *key, int index)
{
    size_t old = c->plen, room = sizeof(c->path) - c->plen;
    int n = key ? snprintf(c->path + old, room, "%s%s", old ? "." : "", key)
                : snprintf(c->path + old, room, "[%d]", index);
    c->plen += n < 0 ? 0 : (size_t)n < room ? (size_t)n : room - 1;
    return old;
}

static void path_pop(pctx *c, size_t old)
{
    c->plen = old;
    c->path[old] = '\0';
}

/* A user's value in a message: at most 60 bytes, control bytes shown as '?'. */
static const char *show(const char *s, size_t len, char out[80])
{
    size_t n = len > 60 ? 60 : len, i;
    while (n < len && n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--; /* whole UTF-8 */
    for (i = 0; i < n; i++) out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    if (n < len) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
    return out;
}

static char *dupn(const char *s, size_t len)
{
    char *p = hmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

static void set_str(char **field, const char *s, size_t len)
{
    hfree(*field);
    *field = dupn(s, len);
}

/* ---- scalar access ---- */

static yaml_node_t *node_at(pctx *c, int id) { return yaml_document_get_node(c->doc, id); }

static bool is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)n->data.scalar.value;
    return !v[0] || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
           !strcmp(v, "NULL");
}

static const char *kind_of(const yaml_node_t *n)
{
    if (n->type == YAML_MAPPING_NODE) return "a mapping";
    if (n->type == YAML_SEQUENCE_NODE) return "a list";
    if (is_null(n)) return "an empty value";
    return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? "a plain value" : "a quoted string";
}

/* The text of a scalar node, which must be present and free of NUL bytes. */
static int get_scalar(pctx *c, const yaml_node_t *n, const char *what, const char **s,
                      size_t *len)
{
    *s = NULL; /* defined on failure too: -O3 cannot see that fail() returns -1 */
    *len = 0;
    if (n->type != YAML_SCALAR_NODE || is_null(n))
        return fail(c, n, "must be %s, got %s", what, kind_of(n));
    *s = (const char *)n->data.scalar.value;
    *len = n->data.scalar.length;
    if (strlen(*s) != *len) return fail(c, n, "must not contain NUL bytes");
    return 0;
}

/* ---- number, duration and size syntax ---- */

/* Leading decimal digits of s[0..len) as int64; *used gets their count. */
static bool lead_i64(const char *s, size_t len, int64_t *v, size_t *used)
{
    size_t d = 0;
    while (d < len && s[d] >= '0' && s[d] <= '9') d++;
    *used = d;
    return d > 0 && str_to_i64(s, d, v);
}

typedef struct unit {
    const char *suffix;
    int64_t mul;
} unit;

/* n<suffix> with a suffix from units (case-insensitive) or none (mul 1). */
static bool parse_units(const char *s, size_t len, const unit *units, int64_t *out)
{
    int64_t v;
    size_t d;
    if (!lead_i64(s, len, &v, &d)) return false;
    int64_t mul = d == len ? 1 : 0;
    for (const unit *u = units; !mul && u->suffix; u++)
        if (strlen(u->suffix) == len - d && !strncasecmp(s + d, u->suffix, len - d)) mul = u->mul;
    if (!mul || v > INT64_MAX / mul) return false;
    *out = v * mul;
    return true;
}

static const unit duration_units[] = {
    {"ms", 1}, {"s", MS_PER_S}, {"m", MS_PER_M}, {"h", MS_PER_H}, {NULL, 0}};
/* Sizes as the kv node's config (Redis): k/m/g are powers of 1000, kb/mb/gb of 1024. */
static const unit size_units[] = {{"b", 1},
                                  {"k", 1000},
                                  {"kb", 1024},
                                  {"m", 1000 * 1000},
                                  {"mb", 1024 * 1024},
                                  {"g", 1000LL * 1000 * 1000},
                                  {"gb", 1024LL * 1024 * 1024},
                                  {NULL, 0}};

bool gw_parse_duration_ms(const char *s, int64_t *out)
{
    return s && parse_units(s, strlen(s), duration_units, out);
}

static bool parse_size(const char *s, size_t len, int64_t *out)
{
    return parse_units(s, len, size_units, out);
}

/* "1h", "90s", "250ms": the largest unit that divides v, for messages. */
static const char *fmt_units(int64_t v, const unit *units, int last, char out[32])
{
    int i = v ? last : 0;
    while (i > 0 && (v % units[i].mul) != 0) i--;
    snprintf(out, 32, "%lld%s", (long long)(v / units[i].mul), units[i].suffix);
    return out;
}

static const char *fmt_ms(int64_t v, char out[32]) { return fmt_units(v, duration_units, 3, out); }

static const char *fmt_bytes(int64_t v, char out[32])
{
    static const unit bin[] = {{"", 1}, {"kb", 1024}, {"mb", 1024 * 1024}, {"gb", 1 << 30}};
    return fmt_units(v, bin, 3, out);
}

/* ---- addresses: numeric only, no DNS at load ---- */

/* "a.b.c.d:port" or "[v6]:port", port 1..65535. */
static bool parse_addr(const char *s, size_t len, struct sockaddr_storage *ss, socklen_t *sl)
{
    char host[64];
    int port;
    if (!split_hostport(s, len, host, sizeof(host), &port)) return false;
    bool v6 = s[0] == '[';
    memset(ss, 0, sizeof(*ss));
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        *sl = sizeof(*a);
        return inet_pton(AF_INET6, host, &a->sin6_addr) == 1;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    *sl = sizeof(*a);
    return inet_pton(AF_INET, host, &a->sin_addr) == 1;
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family) return false;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return x->sin6_port == y->sin6_port && !memcmp(&x->sin6_addr, &y->sin6_addr, 16);
}

static int get_addr(pctx *c, const yaml_node_t *n, char **text, struct sockaddr_storage *ss,
                    socklen_t *sl)
{
    const char *s;
    size_t len;
    char shown[80];
    if (get_scalar(c, n, "an address like 127.0.0.1:8080", &s, &len)) return -1;
    if (!parse_addr(s, len, ss, sl))
        return fail(c, n,
                    "must be a numeric address with a port 1-65535, like 127.0.0.1:8080 or "
                    "[::1]:8080 (host names are not resolved at load), got '%s'",
                    show(s, len, shown));
    set_str(text, s, len);
    return 0;
}

/* ---- the schema: fields of each mapping, parsed in table order ---- */

struct field;
typedef int (*parse_fn)(pctx *c, yaml_node_t *n, void *obj, const struct field *f);

typedef struct field {
    const char *key;
    parse_fn parse;
    size_t off;        /* of the destination inside the mapping's object */
    int64_t min, max;  /* numeric bounds */
    const void *aux;   /* enum table, nested schema or list description */
    bool required;
} field;

/* What parse_map found, for the cross-field checks that run after it. */
typedef struct mapinfo {
    yaml_node_t *node;
    yaml_node_t *vals[GWC_MAX_FIELDS];
    const struct schema *s;
} mapinfo;

typedef struct schema {
    const field *fields;
    int nfields;
    int (*check)(pctx *c, void *obj, const mapinfo *m); /* may be NULL */
} schema;

typedef struct enum_val {
    const char *name;
    int value;
} enum_val;

/* A list of objects: the array pointer is at field.off, its int count at count_off. */
typedef struct list_desc {
    size_t elem_size, count_off;
    int min, max;
    const char *what; /* "listener": for "at least one listener" */
    void (*init)(void *elem);
    int (*parse)(pctx *c, yaml_node_t *n, void *elem);
} list_desc;

#define NFIELDS(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define FIELD_AT(obj, f, type) ((type *)((char *)(obj) + (f)->off))

static yaml_node_t *got(const mapinfo *m, const char *key)
{
    for (int i = 0; i < m->s->nfields; i++)
        if (!strcmp(m->s->fields[i].key, key)) return m->vals[i];
    return NULL;
}

static int p_int(pctx *c, yaml_node_t *n, void *obj, const field *f)
{
    const char *s;
    size_t len;
    int64_t v;
    char shown[80];
    if (get_scalar(c, n, "an integer", &s, &len)) return -1;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || !str_to_i64(s, len, &v))
        return fail(c, n, "must be an integer between %lld and %lld, got '%s'",
                    (long long)f->min, (long long)f->max, show(s, len, shown));
    if (v < f->min || v > f->max)
        return fail(c, n, "must be between %lld and %lld, got %lld", (long long)f->min,
                    (long long)f->max, (long long)v);
    *FIELD_AT(obj, f, int) = (int)v;
    return 0;
}

static int p_duration(pctx *c, yaml_node_t *n, void *obj, const field *f)
{
    const char *s;
    size_t len;
    int64_t v;
    char shown[80], lo[32], hi[32];
    if (get_scalar(c, n, "a duration", &s, &len)) return -1;
    if (!parse_units(s, len, duration_units, &v))
        return fail(c, n, "must be a duration like 500ms, 10s, 2m or 1h, got '%s'",
                    show(s, len, shown));
    if (v < f->min || v > f->max)
        return fail(c, n, "must be between %s and %s, got '%s'", fmt_ms(f->min, lo),
                    fmt_ms(f->max, hi), show(s, len, shown));
    *FIELD_AT(obj, f, int64_t) = v;
    return 0;
}

static int p_size(pctx *c, yaml_node_t *n, void *obj, const field *f)
{
    const char *s;
    size_t len;
    int64_t v;
    char shown[80], lo[32], hi[32];
    if (get_scalar(c, n, "a size", &s, &len)) return -1;
    if (!parse_size(s, len, &v))
        return fail(c, n, "must be a size in bytes like 8192, 64kb or 1mb, got '%s'",
                    show(s, len, shown));
    if (v < f->min || v > f->max)
        return fail(c, n, "must be between %s and %s, got '%s'", fmt_bytes(f->min, lo),
                    fmt_bytes(f->max, hi), show(s, len, shown));
    *FIELD_AT(obj, f, int64_t) = v;
    return 0;
}

static int p_enum(pctx *c, yaml_node_t *n, void *obj, const field *f)
{
    const char *s;
    size_t len;
    char shown[80], names[256];
    if (get_scalar(c, n, "a name", &s, &len)) return -1;
    size_t o = 0;
    for (const enum_val *e = f->aux; e->name; e++) {
        if (strlen(e->name) == len && !memcmp(e->name, s, len)) {
            *FIELD_AT(obj, f, int) = e->value;
            return 0;
        }
        int w = snprintf(names + o, sizeof(names) - o, "%s%s", o ? ", " : "", e->name);
        if (w > 0 && (size_t)w < sizeof(names) - o) o += (size_t)w;
    }
    return fail(c, n, "must be one of %s; got '%s'", names, show(s, len, shown));
}

/* Bytes allowed in names: they end up in metric labels, JSON and log lines. */
static bool name_ok(const char *s, size_t len)
{
    if (len == 0 || len > GWC_MAX_NAME) return false;
    for (size_t i = 0; i < len; i++)
        if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= 'A' && s[i] <= 'Z') &&
            !(s[i] >= '0' && s[i] <= '9') && !strchr("_.-", s[i]))
            return false;
    return true;
}

static int p_name(pctx *c, yaml_node_t *n, void *obj, const field *f)
{
    const char *s;
    size_t len;
    char shown[80];
    if (get_scalar(c, n, "a name", &s, &len)) return -1;
    if (!name_ok(s, len))
        return fail(c, n, "must be 1-%d characters of A-Z a-z 0-9 _ . -, got '%s'",
                    GWC_MAX_NAME, show(s, len, shown));
    set_str(FIELD_AT(obj, f, char *), s, len);
    return 0;
}

/* An absolute request path: '/' then visible ASCII (other bytes percent-encoded,
 * as clients send them); it is written into request lines, so no spaces or CR/LF. */
static int p_path(pctx *c, yaml_node_t *n, void *obj, const field *f)
{
    const char *s;
    size_t len;
    char shown[80];
    if (get_scalar(c, n, "a path starting with '/'", &s, &len)) return -1;
    bool ok = s[0] == '/' && len <= GWC_MAX_PATH;
    for (size_t i = 0; ok && i < len; i++) ok = s[i] > 0x20 && s[i] < 0x7f;
    if (!ok)
        return fail(c, n,
                    "must start with '/' and be at most %d visible ASCII characters "
                    "(percent-encode others), got '%s'",
                    GWC_MAX_PATH, show(s, len, shown));
    set_str(FIELD_AT(obj, f, char *), s, len);
    return 0;
}

/* A host name or IP literal (no port), as a Host header carries it. */
static bool host_ok(const char *s, size_t len)
{
    if (len == 0 || len > 255) return false;
    if (s[0] == '[') { /* IPv6 literal */
        if (len < 3 || s[len - 1] != ']') return false;
        for (size_t i = 1; i + 1 < len; i++)
            if (!strchr("0123456789abcdefABCDEF:.", s[i])) return false;
        return true;
    }
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        if (!alnum && ch != '-' && ch != '_' && !(ch == '.' && i > 0 && s[i - 1] != '.'))
            return false;
    }
    return true;
}

/* Route host: exact name or "*.suffix"; "*" means any host (stored as NULL).
 * Stored lower-case; matching is case-insensitive. */
static int p_route_host(pctx *c, yaml_node_t *n, void *obj, const field *f)
{
    const char *s;
    size_t len;
    char shown[80];
    char **dst = FIELD_AT(obj, f, char *);
    if (get_scalar(c, n, "a host name", &s, &len)) return -1;
    if (len == 1 && s[0] == '*') return 0;
    size_t skip = len > 2 && s[0] == '*' && s[1] == '.' ? 2 : 0;
    if (!host_ok(s + skip, len - skip) || s[len - 1] == '.')
        return fail(c, n,
                    "must be a host name like api.example.com, a wildcard like *.example.com "
                    "or '*' (no port), got '%s'",
                    show(s, len, shown));
    set_str(dst, s, len);
    for (char *p = *dst; *p; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    return 0;
}

static int p_hc_host(pctx *c, yaml_node_t *n, void *obj, const field *f)
{
    const char *s;
    size_t len;
    char shown[80];
    if (get_scalar(c, n, "a host name", &s, &len)) return -1;
    bool ok = len <= 255;
    for (size_t i = 0; ok && i < len; i++) ok = s[i] > 0x20 && s[i] < 0x7f;
    if (!ok)
        return fail(c, n, "must be at most 255 visible ASCII characters, got '%s'",
                    show(s, len, shown));
    set_str(FIELD_AT(obj, f, char *), s, len);
    return 0;
}

static int p_access_log(pctx *c, yaml_node_t *n, void *obj, const field *f)
{
    const char *s;
    size_t len;
    char **dst = FIELD_AT(obj, f, char *);
    if (get_scalar(c, n, "off, stderr or a file path", &s, &len)) return -1;
    if (len > 4096) return fail(c, n, "path is longer than 4096 bytes");
    hfree(*dst);
    *dst = !strcmp(s, "off") ? NULL : dupn(s, len);
    return 0;
}

/* ---- mappings and lists ---- */

static int field_index(const schema *s, const char *key, size_t len)
{
    for (int i = 0; i < s->nfields; i++)
        if (strlen(s->fields[i].key) == len && !memcmp(s->fields[i].key, key, len)) return i;
    return -1;
}

/* Edit distance with transpositions (optimal string alignment) of two short
 * strings, for "did you mean": "retyr" is one edit from "retry". */
static int edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
    int rows[3][GWC_MAX_NAME + 1]; /* i-2, i-1, i (rotating) */
    if (la > GWC_MAX_NAME || lb > GWC_MAX_NAME) return 1000;
    for (size_t j = 0; j <= lb; j++) rows[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int *cur = rows[i % 3], *prev = rows[(i - 1) % 3], *pprev = rows[(i + 1) % 3];
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int best = prev[j - 1] + (a[i - 1] != b[j - 1]);
            if (prev[j] + 1 < best) best = prev[j] + 1;
            if (cur[j - 1] + 1 < best) best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                pprev[j - 2] + 1 < best)
                best = pprev[j - 2] + 1;
            cur[j] = best;
        }
    }
    return rows[la % 3][lb];
}

static int unknown_key(pctx *c, const yaml_node_t *k, const schema *s, const char *key,
                       size_t len)
{
    char shown[80], keys[512];
    size_t o = 0;
    const char *near = NULL;
    int best = len > 4 ? 3 : 2; /* near misses only: 1 typo in short keys, 2 in longer */
    for (int i = 0; i < s->nfields; i++) {
        const char *fk = s->fields[i].key;
        int d = edit_distance(key, len, fk, strlen(fk));
        if (d < best) best = d, near = fk;
        int w = snprintf(keys + o, sizeof(keys) - o, "%s%s", o ? ", " : "", fk);
        if (w > 0 && (size_t)w < sizeof(keys) - o) o += (size_t)w;
    }
    if (near) return fail(c, k, "unknown key '%s'; did you mean '%s'?", show(key, len, shown), near);
    return fail(c, k, "unknown key '%s'; expected one of: %s", show(key, len, shown), keys);
}

/* Collect the mapping's values by field, rejecting unknown and repeated keys. */
static int collect_keys(pctx *c, yaml_node_t *n, const schema *s, mapinfo *m)
{
    yaml_node_t *keys[GWC_MAX_FIELDS] = {0};
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(c, p->key);
        const char *key;
        size_t len;
        if (k->type != YAML_SCALAR_NODE || is_null(k))
            return fail(c, k, "keys must be plain names, got %s", kind_of(k));
        key = (const char *)k->data.scalar.value;
        len = k->data.scalar.length;
        int i = field_index(s, key, len);
        if (i < 0) return unknown_key(c, k, s, key, len);
        if (keys[i])
            return fail(c, k, "duplicate key '%s' (first given at line %zu)", s->fields[i].key,
                        keys[i]->start_mark.line + 1);
        keys[i] = k;
        m->vals[i] = node_at(c, p->value);
    }
    return 0;
}

static int parse_map(pctx *c, yaml_node_t *n, void *obj, const schema *s)
{
    mapinfo m = {.node = n, .s = s};
    if (n->type != YAML_MAPPING_NODE)
        return fail(c, n, "must be a mapping of keys to values, got %s", kind_of(n));
    if (collect_keys(c, n, s, &m)) return -1;
    for (int i = 0; i < s->nfields; i++) {
        const field *f = &s->fields[i];
        if (!m.vals[i]) continue;
        size_t old = path_push(c, f->key, 0);
        int rc = f->parse(c, m.vals[i], obj, f);
        if (rc) return rc; /* keep the path: the message has been written */
        path_pop(c, old);
    }
    /* Missing keys last, so a mistake in what is there is reported first. */
    for (int i = 0; i < s->nfields; i++)
        if (!m.vals[i] && s->fields[i].required)
            return fail(c, n, "missing required key '%s'", s->fields[i].key);
    return s->check ? s->check(c, obj, &m) : 0;
}

static int p_map(pctx *c, yaml_node_t *n, void *obj, const field *f)
{
    return parse_map(c, n, (char *)obj + f->off, f->aux);
}

/* Lists are allocated from the number of items actually present (the bytes
 * have arrived), bounded by max; the count grows per element so a partly
 * built list is always freeable. */
static int p_list(pctx *c, yaml_node_t *n, void *obj, const field *f)
{
    const list_desc *d = f->aux;
    int *count = (int *)((char *)obj + d->count_off);
    char **arr = FIELD_AT(obj, f, char *);
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(c, n, "must be a list (of %ss), got %s", d->what, kind_of(n));
    long items = n->data.sequence.items.top - n->data.sequence.items.start;
    if (items < d->min) return fail(c, n, "must list at least %d %s", d->min, d->what);
    if (items > d->max)
        return fail(c, n, "at most %d %ss are allowed, got %ld", d->max, d->what, items);
    *arr = items ? hcalloc((size_t)items, d->elem_size) : NULL;
    for (long i = 0; i < items; i++) {
        char *elem = *arr + (size_t)i * d->elem_size;
        d->init(elem);
        (*count)++;
        size_t old = path_push(c, NULL, (int)i);
        if (d->parse(c, node_at(c, n->data.sequence.items.start[i]), elem)) return -1;
        path_pop(c, old);
    }
    return 0;
}

/* ---- endpoints ---- */

static int endpoint_addr(pctx *c, yaml_node_t *n, void *obj, const field *f)
{
    gw_endpoint_cfg *e = obj;
    return get_addr(c, n, &e->address, &e->addr, &e->addrlen);
}

static const field endpoint_fields[] = {
    {"address", endpoint_addr, 0, 0, 0, NULL, true},
    {"weight", p_int, offsetof(gw_endpoint_cfg, weight), 1, 1000, NULL, false},
};
static const schema endpoint_schema = {endpoint_fields, NFIELDS(endpoint_fields), NULL};

static void endpoint_init(void *elem) { ((gw_endpoint_cfg *)elem)->weight = 1; }

/* An endpoint is "address" (short form) or {address, weight}; addresses are
 * unique within the cluster. The cluster being parsed is the last one. */
static int endpoint_parse(pctx *c, yaml_node_t *n, void *elem)
{
    gw_endpoint_cfg *e = elem;
    int rc = n->type == YAML_SCALAR_NODE ? endpoint_addr(c, n, e, NULL)
                                         : parse_map(c, n, e, &endpoint_schema);
    if (rc) return rc;
    const gw_cluster_cfg *cl = &c->cfg->clusters[c->cfg->nclusters - 1];
    for (const gw_endpoint_cfg *o = cl->endpoints; o < e; o++)
        if (same_addr(&o->addr, &e->addr))
            return fail(c, n, "%s is listed twice in this cluster (use weight instead)",
                        e->address);
    return 0;
}

/* ---- clusters ---- */

static const enum_val lb_names[] = {{"round_robin", LB_ROUND_ROBIN},
                                    {"least_request", LB_LEAST_REQUEST},
                                    {"random", LB_RANDOM},
                                    {"ring_hash", LB_RING_HASH},
                                    {"maglev", LB_MAGLEV},
                                    {NULL, 0}};
static const enum_val hc_names[] = {
    {"none", HC_NONE}, {"http", HC_HTTP}, {"tcp", HC_TCP}, {NULL, 0}};

/* RFC 9110 token characters: header and cookie names. */
static bool token_ok(const char *s, size_t len)
{
    if (len == 0 || len > GWC_MAX_NAME) return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", s[i]))
            return false;
    return true;
}

static int p_hash_on(pctx *c, yaml_node_t *n, void *obj, const field *f)
{
    gw_cluster_cfg *cl = obj;
    const char *s;
    size_t len;
    char shown[80];
    if (get_scalar(c, n, "header:<name>, cookie:<name> or client_ip", &s, &len)) return -1;
    if (!strcmp(s, "client_ip")) {
        cl->hash_on = HASH_CLIENT_IP;
        return 0;
    }
    size_t pre = !strncmp(s, "header:", 7) ? 7 : !strncmp(s, "cookie:", 7) ? 7 : 0;
    if (!pre || !token_ok(s + pre, len - pre))
        return fail(c, n,
                    "must be header:<name>, cookie:<name> or client_ip (names: 1-%d token "
                    "characters), got '%s'",
                    GWC_MAX_NAME, show(s, len, shown));
    cl->hash_on = s[0] == 'h' ? HASH_HEADER : HASH_COOKIE;
    set_str(&cl->hash_key, s + pre, len - pre);
    return 0;
}

/* "200-399" or a single status as a string. */
static bool parse_status_range(const char *s, size_t len, gw_status_range *r)
{
    const char *dash = memchr(s, '-', len);
    int64_t lo, hi;
    if (!dash) {
        if (!str_to_i64(s, len, &lo)) return false;
        hi = lo;
    } else if (!str_to_i64(s, (size_t)(dash - s), &lo) ||
               !str_to_i64(dash + 1, len - (size_t)(dash - s) - 1, &hi)) {
        return false;
    }
    if (lo < 100 || hi > 599 || lo > hi) return false;
    r->lo = (int)lo;
    r->hi = (int)hi;
    return true;
}

static int p_expect(pctx *c, yaml_node_t *n, void *obj, const field *f)
{
    gw_health_cfg *h = obj;
    const int max = (int)(sizeof(h->expect) / sizeof(h->expect[0]));
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(c, n, "must be a list of statuses or ranges like [200-399], got %s",
                    kind_of(n));
    yaml_node_item_t *it = n->data.sequence.items.start, *end = n->data.sequence.items.top;
    if (it == end || end - it > max)
        return fail(c, n, "must list 1 to %d statuses or ranges, got %ld", max, (long)(end - it));
    h->nexpect = 0;
    for (; it < end; it++) {
        yaml_node_t *e = node_at(c, *it);
        const char *s;
        size_t len;
        char shown[80];
        size_t old = path_push(c, NULL, h->nexpect);
        if (get_scalar(c, e, "a status or range like 200-399", &s, &len)) return -1;
        if (!parse_status_range(s, len, &h->expect[h->nexpect]))
            return fail(c, e, "must be a status 100-599 or a range like 200-399, got '%s'",
                        show(s, len, shown));
        path_pop(c, old);
        h->nexpect++;
    }
    return 0;
}

/* TCP checks only connect: the HTTP keys would be silently ignored, so refuse them. */
static int health_check(pctx *c, void *obj, const mapinfo *m)
{
    gw_health_cfg *h = obj;
    static const char *const http_only[] = {"path", "host", "expect"};
    if (h->type == HC_HTTP) return 0;
    for (int i = 0; i < 3; i++) {
        yaml_node_t *v = got(m, http_only[i]);
        if (v) {
            path_push(c, http_only[i], 0);
            return fail(c, v, "only applies to type: http");
        }
    }
    return 0;
}

static const field health_fields[] = {
    {"type", p_enum, offsetof(gw_health_cfg, type), 0, 0, hc_names, true},
    {"path", p_path, offsetof(gw_health_cfg, path), 0, 0, NULL, false},
    {"host", p_hc_host, offsetof(gw_health_cfg, host), 0, 0, NULL, false},
    {"expect", p_expect, 0, 0, 0, NULL, false},
    {"interval", p_duration, offsetof(gw_health_cfg, interval_ms), 10, 24 * MS_PER_H, NULL, false},
    {"timeout", p_duration, offsetof(gw_health_cfg, timeout_ms), 1, MS_PER_H, NULL, false},
    {"rise", p_int, offsetof(gw_health_cfg, rise), 1, 100, NULL, false},
    {"fall", p_int, offsetof(gw_health_cfg, fall), 1, 100, NULL, false},
};
static const schema health_schema = {health_fields, NFIELDS(health_fields), health_check};

static int outlier_check(pctx *c, void *obj, const mapinfo *m)
{
    gw_outlier_cfg *o = obj;
    yaml_node_t *v = got(m, "max_ejection") ? got(m, "max_ejection") : got(m, "base_ejection");
    char a[32], b[32];
    if (o->max_ejection_ms >= o->base_ejection_ms) return 0;
    path_push(c, got(m, "max_ejection") ? "max_ejection" : "base_ejection", 0);
    return fail(c, v, "max_ejection (%s) must not be less than base_ejection (%s)",
                fmt_ms(o->max_ejection_ms, a), fmt_ms(o->base_ejection_ms, b));
}

static const field outlier_fields[] = {
    {"consecutive_5xx", p_int, offsetof(gw_outlier_cfg, consecutive_5xx), 0, 1000, NULL, false},
    {"consecutive_failures", p_int, offsetof(gw_outlier_cfg, consecutive_failures), 0, 1000, NULL, false},
    {"base_ejection", p_duration, offsetof(gw_outlier_cfg, base_ejection_ms), 1, 24 * MS_PER_H, NULL, false},
    {"max_ejection", p_duration, offsetof(gw_outlier_cfg, max_ejection_ms), 1, 24 * MS_PER_H, NULL, false},
    {"max_ejection_percent", p_int, offsetof(gw_outlier_cfg, max_ejection_percent), 0, 100, NULL, false},
};
static const schema outlier_schema = {outlier_fields, NFIELDS(outlier_fields), outlier_check};

static const field pool_fields[] = {
    {"max_connections", p_int, offsetof(gw_pool_cfg, max_connections), 1, 100000, NULL, false},
    {"idle_timeout", p_duration, offsetof(gw_pool_cfg, idle_timeout_ms), 1, 24 * MS_PER_H, NULL, false},
};
static const schema pool_schema = {pool_fields, NFIELDS(pool_fields), NULL};

static const list_desc endpoint_list = {sizeof(gw_endpoint_cfg), offsetof(gw_cluster_cfg, nendpoints),
                                        1, GWC_MAX_ENDPOINTS, "endpoint", endpoint_init,
                                        endpoint_parse};

/* hash_on must agree with lb; names are unique (the cluster is the last one). */
static int cluster_check(pctx *c, void *obj, const mapinfo *m)
{
    gw_cluster_cfg *cl = obj;
    yaml_node_t *h = got(m, "hash_on");
    bool hashing = cl->lb == LB_RING_HASH || cl->lb == LB_MAGLEV;
    if (h && !hashing) {
        path_push(c, "hash_on", 0);
        return fail(c, h, "only applies to lb: ring_hash or maglev (this cluster uses %s)",
                    lb_names[cl->lb].name);
    }
    for (const gw_cluster_cfg *o = c->cfg->clusters; o < cl; o++)
        if (!strcmp(o->name, cl->name)) {
            path_push(c, "name", 0);
            return fail(c, got(m, "name"), "duplicate cluster name '%s'", cl->name);
        }
    return 0;
}

static const field cluster_fields[] = {
    {"name", p_name, offsetof(gw_cluster_cfg, name), 0, 0, NULL, true},
    {"lb", p_enum, offsetof(gw_cluster_cfg, lb), 0, 0, lb_names, false},
    {"hash_on", p_hash_on, 0, 0, 0, NULL, false},
    {"connect_timeout", p_duration, offsetof(gw_cluster_cfg, connect_timeout_ms), 1, MS_PER_H, NULL, false},
    {"panic_threshold", p_int, offsetof(gw_cluster_cfg, panic_threshold_percent), 0, 100, NULL, false},
    {"pool", p_map, offsetof(gw_cluster_cfg, pool), 0, 0, &pool_schema, false},
    {"health_check", p_map, offsetof(gw_cluster_cfg, health), 0, 0, &health_schema, false},
    {"outlier", p_map, offsetof(gw_cluster_cfg, outlier), 0, 0, &outlier_schema, false},
    {"endpoints", p_list, offsetof(gw_cluster_cfg, endpoints), 0, 0, &endpoint_list, true},
};
static const schema cluster_schema = {cluster_fields, NFIELDS(cluster_fields), cluster_check};

static void cluster_init(void *elem)
{
    gw_cluster_cfg *cl = elem;
    cl->lb = LB_ROUND_ROBIN;
    cl->hash_on = HASH_CLIENT_IP;
    cl->health = (gw_health_cfg){.type = HC_NONE, .path = hstrdup("/"), .expect = {{200, 399}},
                                 .nexpect = 1, .interval_ms = 1000, .timeout_ms = 500,
                                 .rise = 2, .fall = 3};
    cl->outlier = (gw_outlier_cfg){5, 5, 10 * MS_PER_S, 300 * MS_PER_S, 50};
    cl->pool = (gw_pool_cfg){128, 30 * MS_PER_S};
    cl->panic_threshold_percent = 50;
    cl->connect_timeout_ms = 1000;
}

static int cluster_parse(pctx *c, yaml_node_t *n, void *elem)
{
    return parse_map(c, n, elem, &cluster_schema);
}

/* ---- routes ---- */

static const char *const retry_on_names = "connect-failure, reset or a status 400-599";

static int retry_on_item(pctx *c, yaml_node_t *e, gw_retry_cfg *r)
{
    const int max = (int)(sizeof(r->statuses) / sizeof(r->statuses[0]));
    const char *s;
    size_t len;
    int64_t st;
    char shown[80];
    if (get_scalar(c, e, retry_on_names, &s, &len)) return -1;
    if (!strcmp(s, "connect-failure")) r->on_connect_failure = true;
    else if (!strcmp(s, "reset")) r->on_reset = true;
    else if (!str_to_i64(s, len, &st) || st < 400 || st > 599)
        return fail(c, e, "must be %s, got '%s'", retry_on_names, show(s, len, shown));
    else {
        for (int i = 0; i < r->nstatuses; i++)
            if (r->statuses[i] == st) return fail(c, e, "status %d is listed twice", (int)st);
        if (r->nstatuses == max) return fail(c, e, "at most %d statuses are allowed", max);
        r->statuses[r->nstatuses++] = (int)st;
    }
    return 0;
}

/* "on" replaces the default set (connect-failure, reset) with exactly what it lists. */
static int p_retry_on(pctx *c, yaml_node_t *n, void *obj, const field *f)
{
    gw_retry_cfg *r = obj;
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(c, n, "must be a list like [connect-failure, reset, 503], got %s",
                    kind_of(n));
    r->on_connect_failure = r->on_reset = false;
    r->nstatuses = 0;
    for (long i = 0; i < n->data.sequence.items.top - n->data.sequence.items.start; i++) {
        size_t old = path_push(c, NULL, (int)i);
        if (retry_on_item(c, node_at(c, n->data.sequence.items.start[i]), r)) return -1;
        path_pop(c, old);
    }
    return 0;
}

static const field retry_fields[] = {
    {"max", p_int, offsetof(gw_retry_cfg, max_retries), 0, 10, NULL, false},
    {"on", p_retry_on, 0, 0, 0, NULL, false},
    {"budget_percent", p_int, offsetof(gw_retry_cfg, budget_percent), 0, 100, NULL, false},
    {"budget_min_per_s", p_int, offsetof(gw_retry_cfg, budget_min_per_s), 0, 10000, NULL, false},
};
static const schema retry_schema = {retry_fields, NFIELDS(retry_fields), NULL};

static const field match_fields[] = {
    {"host", p_route_host, offsetof(gw_route_cfg, host), 0, 0, NULL, false},
    {"path_prefix", p_path, offsetof(gw_route_cfg, path_prefix), 0, 0, NULL, false},
};
static const schema match_schema = {match_fields, NFIELDS(match_fields), NULL};

static const field timeout_fields[] = {
    {"first_byte", p_duration, offsetof(gw_route_cfg, first_byte_timeout_ms), 1, 24 * MS_PER_H, NULL, false},
    {"request", p_duration, offsetof(gw_route_cfg, request_timeout_ms), 0, 24 * MS_PER_H, NULL, false},
    {"idle", p_duration, offsetof(gw_route_cfg, idle_timeout_ms), 1, 24 * MS_PER_H, NULL, false},
};
static const schema timeout_schema = {timeout_fields, NFIELDS(timeout_fields), NULL};

/* Routes are parsed after clusters, so the cluster name resolves here. */
static int p_route_cluster(pctx *c, yaml_node_t *n, void *obj, const field *f)
{
    gw_route_cfg *r = obj;
    char names[200];
    size_t o = 0;
    if (p_name(c, n, obj, f)) return -1;
    for (int i = 0; i < c->cfg->nclusters; i++) {
        if (!strcmp(c->cfg->clusters[i].name, r->cluster_name)) {
            r->cluster = i;
            return 0;
        }
        int w = snprintf(names + o, sizeof(names) - o, "%s%s", o ? ", " : "",
                         c->cfg->clusters[i].name);
        if (w > 0 && (size_t)w < sizeof(names) - o) o += (size_t)w;
    }
    return fail(c, n, "no cluster named '%s' (%s%s)", r->cluster_name,
                o ? "defined: " : "no clusters are defined", o ? names : "");
}

static const field route_fields[] = {
    {"match", p_map, 0, 0, 0, &match_schema, false},
    {"cluster", p_route_cluster, offsetof(gw_route_cfg, cluster_name), 0, 0, NULL, true},
    {"timeouts", p_map, 0, 0, 0, &timeout_schema, false},
    {"retry", p_map, offsetof(gw_route_cfg, retry), 0, 0, &retry_schema, false},
};
static const schema route_schema = {route_fields, NFIELDS(route_fields), NULL};

static void route_init(void *elem)
{
    gw_route_cfg *r = elem;
    r->path_prefix = hstrdup("/");
    r->cluster = -1;
    r->first_byte_timeout_ms = 15 * MS_PER_S;
    r->request_timeout_ms = 60 * MS_PER_S;
    r->idle_timeout_ms = 60 * MS_PER_S;
    r->retry = (gw_retry_cfg){.max_retries = 1, .on_connect_failure = true, .on_reset = true,
                              .budget_percent = 20, .budget_min_per_s = 3};
}

static int route_parse(pctx *c, yaml_node_t *n, void *elem)
{
    return parse_map(c, n, elem, &route_schema);
}

/* ---- listeners ---- */

static int listener_addr(pctx *c, yaml_node_t *n, void *obj, const field *f)
{
    gw_listener_cfg *l = obj;
    return get_addr(c, n, &l->address, &l->addr, &l->addrlen);
}

/* The URL is part of the head; names and addresses are unique (this is the last listener). */
static int listener_check(pctx *c, void *obj, const mapinfo *m)
{
    gw_listener_cfg *l = obj;
    char a[32], b[32];
    if (l->max_url_bytes > l->max_header_bytes) {
        yaml_node_t *v = got(m, "max_url_size") ? got(m, "max_url_size") : got(m, "max_header_size");
        path_push(c, got(m, "max_url_size") ? "max_url_size" : "max_header_size", 0);
        return fail(c, v, "max_url_size (%s) must not exceed max_header_size (%s)",
                    fmt_bytes(l->max_url_bytes, a), fmt_bytes(l->max_header_bytes, b));
    }
    for (const gw_listener_cfg *o = c->cfg->listeners; o < l; o++) {
        if (!strcmp(o->name, l->name)) {
            path_push(c, "name", 0);
            return fail(c, got(m, "name"), "duplicate listener name '%s'", l->name);
        }
        if (same_addr(&o->addr, &l->addr)) {
            path_push(c, "address", 0);
            return fail(c, got(m, "address"), "listener '%s' already uses %s", o->name, l->address);
        }
    }
    return 0;
}

#define KIB 1024LL
#define MIB (1024 * KIB)
static const field listener_fields[] = {
    {"name", p_name, offsetof(gw_listener_cfg, name), 0, 0, NULL, true},
    {"address", listener_addr, 0, 0, 0, NULL, true},
    {"header_timeout", p_duration, offsetof(gw_listener_cfg, header_timeout_ms), 1, MS_PER_H, NULL, false},
    {"keepalive_timeout", p_duration, offsetof(gw_listener_cfg, keepalive_timeout_ms), 1, 24 * MS_PER_H, NULL, false},
    {"max_header_size", p_size, offsetof(gw_listener_cfg, max_header_bytes), 1 * KIB, 16 * MIB, NULL, false},
    {"max_url_size", p_size, offsetof(gw_listener_cfg, max_url_bytes), 64, 16 * MIB, NULL, false},
    {"max_body_size", p_size, offsetof(gw_listener_cfg, max_body_bytes), 0, INT64_MAX / 2, NULL, false},
};
static const schema listener_schema = {listener_fields, NFIELDS(listener_fields), listener_check};

static void listener_init(void *elem)
{
    gw_listener_cfg *l = elem;
    l->header_timeout_ms = 10 * MS_PER_S;
    l->keepalive_timeout_ms = 60 * MS_PER_S;
    l->max_header_bytes = 64 * KIB;
    l->max_url_bytes = 8 * KIB;
    l->max_body_bytes = 0;
}

static int listener_parse(pctx *c, yaml_node_t *n, void *elem)
{
    return parse_map(c, n, elem, &listener_schema);
}

/* ---- top level ---- */

static int admin_addr(pctx *c, yaml_node_t *n, void *obj, const field *f)
{
    gw_config *cfg = obj;
    return get_addr(c, n, &cfg->admin_address, &cfg->admin_addr, &cfg->admin_addrlen);
}

static int top_check(pctx *c, void *obj, const mapinfo *m)
{
    gw_config *cfg = obj;
    if (!cfg->admin_address) return 0;
    for (int i = 0; i < cfg->nlisteners; i++)
        if (same_addr(&cfg->listeners[i].addr, &cfg->admin_addr)) {
            path_push(c, "admin", 0);
            return fail(c, got(m, "admin"), "listener '%s' already uses %s",
                        cfg->listeners[i].name, cfg->admin_address);
        }
    return 0;
}

static const list_desc listener_list = {sizeof(gw_listener_cfg), offsetof(gw_config, nlisteners), 1,
                                        GWC_MAX_LISTENERS, "listener", listener_init, listener_parse};
static const list_desc cluster_list = {sizeof(gw_cluster_cfg), offsetof(gw_config, nclusters), 1,
                                       GWC_MAX_CLUSTERS, "cluster", cluster_init, cluster_parse};
static const list_desc route_list = {sizeof(gw_route_cfg), offsetof(gw_config, nroutes), 1,
                                     GWC_MAX_ROUTES, "route", route_init, route_parse};

/* Clusters before routes: routes refer to clusters by name. */
static const field top_fields[] = {
    {"workers", p_int, offsetof(gw_config, workers), 1, 256, NULL, false},
    {"admin", admin_addr, 0, 0, 0, NULL, false},
    {"access_log", p_access_log, offsetof(gw_config, access_log), 0, 0, NULL, false},
    {"drain_timeout", p_duration, offsetof(gw_config, drain_timeout_ms), 0, 24 * MS_PER_H, NULL, false},
    {"listeners", p_list, offsetof(gw_config, listeners), 0, 0, &listener_list, true},
    {"clusters", p_list, offsetof(gw_config, clusters), 0, 0, &cluster_list, true},
    {"routes", p_list, offsetof(gw_config, routes), 0, 0, &route_list, true},
};
static const schema top_schema = {top_fields, NFIELDS(top_fields), top_check};

_Static_assert(NFIELDS(cluster_fields) <= GWC_MAX_FIELDS && NFIELDS(health_fields) <= GWC_MAX_FIELDS &&
                   NFIELDS(listener_fields) <= GWC_MAX_FIELDS && NFIELDS(top_fields) <= GWC_MAX_FIELDS,
               "raise GWC_MAX_FIELDS");

/* Default worker count: the CPUs this process may run on. */
static int default_workers(void)
{
    cpu_set_t set;
    int n = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 0;
    if (n <= 0) n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 256 ? 256 : n;
}

/* ---- libyaml: syntax errors, the safety pre-scan, loading ---- */

/* Line and column of a byte offset (reader errors carry only an offset). */
static yaml_mark_t mark_of_offset(const char *text, size_t len, size_t off)
{
    yaml_mark_t m = {off, 0, 0};
    for (size_t i = 0; i < off && i < len; i++) {
        if (text[i] == '\n') m.line++, m.column = 0;
        else m.column++;
    }
    return m;
}

static void yaml_problem(const yaml_parser_t *p, const char *name, const char *text, size_t len,
                         buf *err)
{
    char msg[512];
    const char *problem = p->problem ? p->problem : "unknown error";
    yaml_mark_t at = p->problem_mark;
    if (p->error == YAML_MEMORY_ERROR) {
        snprintf(msg, sizeof(msg), "out of memory while parsing YAML");
    } else if (p->error == YAML_READER_ERROR) {
        at = mark_of_offset(text, len, p->problem_offset);
        if (p->problem_value != -1)
            snprintf(msg, sizeof(msg), "invalid input: %s (byte 0x%02x)", problem, p->problem_value);
        else
            snprintf(msg, sizeof(msg), "invalid input: %s", problem);
    } else if (p->context) {
        snprintf(msg, sizeof(msg), "YAML syntax error: %s (%s at line %zu, column %zu)", problem,
                 p->context, p->context_mark.line + 1, p->context_mark.column + 1);
    } else {
        snprintf(msg, sizeof(msg), "YAML syntax error: %s", problem);
    }
    err_at(err, name, at, NULL, msg);
}

typedef struct scan_state {
    int docs, depth;
    long nodes;
} scan_state;

/* One event of the pre-scan: 0 to continue, -1 with err written. */
static int scan_event(const yaml_event_t *ev, scan_state *st, const char *name, buf *err)
{
    char msg[256], shown[80];
    const char *what = NULL;
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++st->docs > 1) what = "only one YAML document is allowed per file";
        break;
    case YAML_ALIAS_EVENT: {
        const char *a = (const char *)ev->data.alias.anchor;
        snprintf(msg, sizeof(msg), "aliases (*%s) are not supported: write the value out",
                 show(a, strlen(a), shown));
        what = msg;
        break;
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        if (++st->depth > GWC_MAX_DEPTH) what = "nested too deeply";
        /* fall through */
    case YAML_SCALAR_EVENT:
        if (++st->nodes > GWC_MAX_NODES) what = "too many values (more than 200000)";
        break;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        st->depth--;
        break;
    default:
        break;
    }
    if (what) err_at(err, name, ev->start_mark, NULL, what);
    return what ? -1 : 0;
}

/* Stream the events once before building the document: syntax errors, more
 * than one document, and aliases are refused here, and the node count and
 * depth are bounded, so no input can make the loader (or our walk over its
 * graph) expand a "billion laughs" or a cycle, or grow without limit. */
static int prescan(const char *text, size_t len, const char *name, buf *err)
{
    yaml_parser_t p;
    yaml_event_t ev;
    scan_state st = {0, 0, 0};
    int rc = 0;
    bool done = false;
    if (!yaml_parser_initialize(&p)) {
        err_at(err, name, (yaml_mark_t){0, 0, 0}, NULL, "out of memory");
        return -1;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    while (!done && rc == 0) {
        if (!yaml_parser_parse(&p, &ev)) {
            yaml_problem(&p, name, text, len, err);
            rc = -1;
            break;
        }
        rc = scan_event(&ev, &st, name, err);
        done = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    if (rc == 0 && st.docs == 0) {
        err_at(err, name, (yaml_mark_t){0, 0, 0}, NULL,
               "the file is empty: expected a mapping with listeners, clusters and routes");
        rc = -1;
    }
    return rc;
}

static gw_config *config_new(const char *name)
{
    gw_config *cfg = hcalloc(1, sizeof(*cfg));
    cfg->source = hstrdup(name);
    cfg->workers = default_workers();
    cfg->drain_timeout_ms = 30 * MS_PER_S;
    return cfg;
}

static int walk(gw_config *cfg, yaml_document_t *doc, const char *name, buf *err)
{
    yaml_node_t *root = yaml_document_get_root_node(doc);
    pctx c = {.doc = doc, .name = name, .err = err, .cfg = cfg};
    if (!root) /* prescan has seen a document; kept for safety */
        return fail(&c, NULL, "the file is empty");
    if (root->type != YAML_MAPPING_NODE)
        return fail(&c, root,
                    "the top level must be a mapping with listeners, clusters and routes, got %s",
                    kind_of(root));
    return parse_map(&c, root, cfg, &top_schema);
}

static int build(gw_config *cfg, const char *text, size_t len, const char *name, buf *err)
{
    yaml_parser_t p;
    yaml_document_t doc;
    int rc = -1;
    if (!yaml_parser_initialize(&p)) {
        err_at(err, name, (yaml_mark_t){0, 0, 0}, NULL, "out of memory");
        return -1;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    if (yaml_parser_load(&p, &doc)) {
        rc = walk(cfg, &doc, name, err);
        yaml_document_delete(&doc);
    } else {
        yaml_problem(&p, name, text, len, err);
    }
    yaml_parser_delete(&p);
    return rc;
}

gw_config *gw_config_parse(const char *text, size_t len, const char *name, buf *err)
{
    if (!name) name = "<config>";
    if (len > GWC_MAX_FILE_BYTES) {
        err_at(err, name, (yaml_mark_t){0, 0, 0}, NULL, "file is larger than 4 MiB");
        return NULL;
    }
    if (prescan(text, len, name, err)) return NULL;
    gw_config *cfg = config_new(name);
    if (build(cfg, text, len, name, err)) {
        gw_config_free(cfg);
        return NULL;
    }
    return cfg;
}

gw_config *gw_config_load(const char *path, buf *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        buf_printf(err, "%s: cannot open: %s", path, strerror(errno));
        err_finish(err);
        return NULL;
    }
    buf text;
    buf_init(&text);
    char chunk[16384];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && text.len <= GWC_MAX_FILE_BYTES)
        buf_append(&text, chunk, n);
    bool bad = ferror(f);
    fclose(f);
    gw_config *cfg = NULL;
    if (bad) {
        buf_printf(err, "%s: cannot read: %s", path, strerror(errno));
        err_finish(err);
    } else {
        cfg = gw_config_parse(text.data ? text.data : "", text.len, path, err);
    }
    buf_free(&text);
    return cfg;
}

void gw_config_free(gw_config *cfg)
{
    if (!cfg) return;
    for (int i = 0; i < cfg->nlisteners; i++) {
        hfree(cfg->listeners[i].name);
        hfree(cfg->listeners[i].address);
    }
    for (int i = 0; i < cfg->nroutes; i++) {
        hfree(cfg->routes[i].host);
        hfree(cfg->routes[i].path_prefix);
        hfree(cfg->routes[i].cluster_name);
    }
    for (int i = 0; i < cfg->nclusters; i++) {
        gw_cluster_cfg *cl = &cfg->clusters[i];
        for (int j = 0; j < cl->nendpoints; j++) hfree(cl->endpoints[j].address);
        hfree(cl->endpoints);
        hfree(cl->name);
        hfree(cl->hash_key);
        hfree(cl->health.path);
        hfree(cl->health.host);
    }
    hfree(cfg->listeners);
    hfree(cfg->routes);
    hfree(cfg->clusters);
    hfree(cfg->admin_address);
    hfree(cfg->access_log);
    hfree(cfg->source);
    hfree(cfg);
}

/* ---- route matching (request path: no allocation) ---- */

static char lower(char ch) { return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch; }

/* pat is lower-case; h[0..hl) compared case-insensitively. */
static bool eq_nocase(const char *pat, const char *h, size_t hl)
{
    for (size_t i = 0; i < hl; i++)
        if (pat[i] != lower(h[i])) return false;
    return true;
}

static bool host_matches(const char *pat, const char *h, size_t hl)
{
    size_t pl = strlen(pat);
    if (pat[0] == '*') /* "*.suffix": at least one byte before ".suffix" */
        return hl > pl - 1 && eq_nocase(pat + 1, h + hl - (pl - 1), pl - 1);
    return hl == pl && eq_nocase(pat, h, hl);
}

/* The Host value without its port ("[::1]:80" -> "[::1]") or a trailing dot. */
static size_t host_len(const char *h, size_t hl)
{
    const char *end;
    if (hl && h[0] == '[') {
        end = memchr(h, ']', hl);
        return end ? (size_t)(end - h) + 1 : hl;
    }
    end = memchr(h, ':', hl);
    if (end) hl = (size_t)(end - h);
    if (hl > 1 && h[hl - 1] == '.') hl--;
    return hl;
}

int gw_config_match_route(const gw_config *cfg, const char *host, size_t hlen, const char *path,
                          size_t plen)
{
    if (host) hlen = host_len(host, hlen);
    if (!path) plen = 0;
    for (int i = 0; i < cfg->nroutes; i++) {
        const gw_route_cfg *r = &cfg->routes[i];
        if (r->host && (!host || !host_matches(r->host, host, hlen))) continue;
        size_t pl = strlen(r->path_prefix);
        if (plen >= pl && !memcmp(path, r->path_prefix, pl)) return i;
    }
    return -1;
}
