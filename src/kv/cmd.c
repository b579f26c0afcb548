/* cmd.c — command table lookup, dispatch with Redis's checks and errors, propagation. */
#include "cmd.h"
#include "../repl/repl_node.h"
#include "subsys.h"
#include "../common/log.h"
#include "../common/mem.h"
#include "../common/util.h"
#include "../persist/aof.h"

#include <stdlib.h>
#include <string.h>

typedef struct cmd_node {
    dict_node node;
    kv_cmd *cmd;
} cmd_node;

static const char *cmd_key(const dict_node *n, size_t *len)
{
    const kv_cmd *cmd = ((const cmd_node *)n)->cmd;
    *len = strlen(cmd->name);
    return cmd->name;
}

static const dict_type cmd_dict_type = {.key = cmd_key, .nocase = true};
static dict g_cmds;
static bool g_init;

const double cmd_lat_bounds_us[CMD_LAT_BUCKETS] = {1,    2,    5,     10,    25,    50,
                                                   100,  250,  500,   1000,  2500,  5000,
                                                   10000, 50000, 250000, 1000000};
uint64_t cmd_lat_counts[CMD_LAT_BUCKETS + 1];
double cmd_lat_sum_us;

void cmd_table_init(void)
{
    if (g_init) return;
    g_init = true;
    dict_init(&g_cmds, &cmd_dict_type);
    kv_cmd *tables[] = {kv_cmds_server, kv_cmds_keys, kv_cmds_string, kv_cmds_hash,
                        kv_cmds_list,   kv_cmds_set,  kv_cmds_zset,   kv_cmds_pubsub,
                        kv_cmds_multi,  kv_cmds_debug,  kv_cmds_repl};
    for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
        for (kv_cmd *cmd = tables[t]; cmd->name; cmd++) {
            if (dict_find(&g_cmds, cmd->name, strlen(cmd->name))) {
                log_error("duplicate command in table: %s", cmd->name);
                continue;
            }
            cmd_node *n = hmalloc(sizeof(*n));
            n->cmd = cmd;
            dict_add(&g_cmds, &n->node);
        }
    }
}

const kv_cmd *cmd_lookup(const char *name, size_t len)
{
    cmd_node *n = (cmd_node *)dict_find(&g_cmds, name, len);
    return n ? n->cmd : NULL;
}

void cmd_foreach(void (*fn)(kv_cmd *cmd, void *priv), void *priv)
{
    dict_iter it;
    dict_iter_init(&it, &g_cmds, false);
    dict_node *n;
    while ((n = dict_iter_next(&it))) fn(((cmd_node *)n)->cmd, priv);
    dict_iter_done(&it);
}

size_t cmd_count(void) { return dict_size(&g_cmds); }

static void collect_used(kv_cmd *cmd, void *priv)
{
    cmd_list *l = priv;
    if (l->n < l->cap && (cmd->calls || cmd->rejected_calls || cmd->failed_calls))
        l->v[l->n++] = cmd;
}

static int cmp_cmd_name(const void *a, const void *b)
{
    return strcmp((*(kv_cmd *const *)a)->name, (*(kv_cmd *const *)b)->name);
}

void cmd_list_used(cmd_list *out)
{
    out->n = 0;
    out->cap = cmd_count();
    out->v = out->cap ? hmalloc(out->cap * sizeof(*out->v)) : NULL;
    if (out->cap) cmd_foreach(collect_used, out);
    if (out->n > 1) qsort(out->v, out->n, sizeof(*out->v), cmp_cmd_name);
}

/* Propagation is built only when something consumes it (the AOF today,
 * replicas later): a node without persistence skips the serialisation. */
static inline bool prop_wanted(const kv_server *srv) { return srv->propagate && !srv->loading; }

void prop_replace(kv_client *c, int argc, const resp_arg *argv)
{
    kv_server *srv = c->srv;
    if (!prop_wanted(srv)) return;
    buf_reset(&srv->prop_cmd);
    buf_append_mbulk_len(&srv->prop_cmd, '*', argc);
    for (int i = 0; i < argc; i++) buf_append_bulk(&srv->prop_cmd, argv[i].ptr, argv[i].len);
    srv->prop_replaced = true;
}

void prop_append(kv_server *srv, int argc, const resp_arg *argv)
{
    if (!prop_wanted(srv)) return;
    buf_append_mbulk_len(&srv->prop, '*', argc);
    for (int i = 0; i < argc; i++) buf_append_bulk(&srv->prop, argv[i].ptr, argv[i].len);
}

void prop_suppress(kv_client *c) { c->srv->prop_suppressed = true; }

static void record_latency(kv_cmd *cmd, int64_t us)
{
    cmd->calls++;
    cmd->usec += (uint64_t)us;
    cmd_lat_sum_us += (double)us;
    int i = 0;
    while (i < CMD_LAT_BUCKETS && (double)us > cmd_lat_bounds_us[i]) i++;
    cmd_lat_counts[i]++;
}

void prop_flush(kv_server *srv)
{
    if (srv->prop.len == 0) return;
    if (!srv->loading) {
        if (srv->aof) aof_feed(srv->aof, srv->prop.data, srv->prop.len);
        repl_feed(srv, srv->prop.data, srv->prop.len);
    }
    buf_reset(&srv->prop);
}

void cmd_call(kv_client *c, const kv_cmd *cmd_const)
{
    kv_server *srv = c->srv;
    kv_cmd *cmd = (kv_cmd *)cmd_const;
    bool outer_replaced = srv->prop_replaced, outer_suppressed = srv->prop_suppressed;
    uint64_t dirty = srv->dirty;
    /* One clock read per command start: wall time derives from it. */
    int64_t start = mono_us();
    if (srv->call_depth++ == 0) {
        if (srv->wall_offset_us == 0) srv->wall_offset_us = time_us() - start;
        srv->db.now_ms = (start + srv->wall_offset_us) / 1000;
        db_tick(srv->db.now_ms);
    }
    srv->prop_replaced = srv->prop_suppressed = false;
    c->cmd = cmd;
    c->flags |= CLIENT_EXECUTING;
    uint64_t errors = srv->stats.error_replies;
    cmd->proc(c);
    record_latency(cmd, mono_us() - start);
    if (srv->stats.error_replies != errors) cmd->failed_calls++;
    c->flags &= ~CLIENT_EXECUTING;
    c->last_cmd = cmd;
    srv->stats.commands_processed++;
    if (srv->dirty != dirty && !srv->prop_suppressed && prop_wanted(srv)) {
        if (srv->prop_replaced) buf_append(&srv->prop, srv->prop_cmd.data, srv->prop_cmd.len);
        else prop_append(srv, c->argc, c->argv);
    }
    srv->prop_replaced = outer_replaced;
    srv->prop_suppressed = outer_suppressed;
    if (--srv->call_depth == 0) {
        srv->db.now_ms = 0;
        prop_flush(srv);
        block_serve_ready(srv);
    }
}

static void reply_unknown(kv_client *c)
{
    char args[512];
    size_t n = 0;
    args[0] = '\0';
    for (int i = 1; i < c->argc && n < sizeof(args) - 140; i++) {
        int len = c->argv[i].len > 128 ? 128 : (int)c->argv[i].len;
        n += (size_t)snprintf(args + n, sizeof(args) - n, "'%.*s' ", len, c->argv[i].ptr);
    }
    int len = c->argv[0].len > 128 ? 128 : (int)c->argv[0].len;
    reply_errorf(c, "ERR unknown command '%.*s', with args beginning with: %s", len,
                 c->argv[0].ptr, args);
}

static bool arity_ok(const kv_cmd *cmd, int argc)
{
    return (cmd->arity > 0 && argc == cmd->arity) || (cmd->arity < 0 && argc >= -cmd->arity);
}

static bool is_multi_control(const kv_cmd *cmd)
{
    return strcmp(cmd->name, "exec") == 0 || strcmp(cmd->name, "discard") == 0 ||
           strcmp(cmd->name, "multi") == 0 || strcmp(cmd->name, "watch") == 0 ||
           strcmp(cmd->name, "quit") == 0 || strcmp(cmd->name, "reset") == 0;
}

void cmd_dispatch(kv_client *c)
{
    kv_server *srv = c->srv;
    const kv_cmd *cmd = cmd_lookup(c->argv[0].ptr, c->argv[0].len);
    if (cmd == NULL) {
        reply_unknown(c);
        return;
    }
    if (!arity_ok(cmd, c->argc)) {
        reply_errorf(c, "ERR wrong number of arguments for '%s' command", cmd->name);
        ((kv_cmd *)cmd)->rejected_calls++;
        return;
    }
    if (srv->cfg.requirepass && srv->cfg.requirepass[0] && !(c->flags & CLIENT_AUTHED) &&
        !(cmd->flags & CMD_NOAUTH)) {
        reply_error(c, "NOAUTH Authentication required.");
        return;
    }
    if (c->resp == 2 && pubsub_client_subs(c) > 0 && !(cmd->flags & CMD_ALLOW_PUBSUB)) {
        reply_errorf(c,
                     "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                     "QUIT / RESET are allowed in this context",
                     cmd->name);
        return;
    }
    if (srv->cfg.maxmemory > 0 && (cmd->flags & CMD_DENYOOM) && !srv->loading) {
        if (evict_perform(srv) != 0) {
            reply_error(c, "OOM command not allowed when used memory > 'maxmemory'.");
            ((kv_cmd *)cmd)->rejected_calls++;
            return;
        }
    }
    int gate = srv->repl ? repl_gate(c, cmd) : 0;
    if (gate > 0) return; /* paused by a planned switchover: dispatched again after it */
    if (gate < 0) {
        ((kv_cmd *)cmd)->rejected_calls++;
        if (c->flags & CLIENT_MULTI) c->flags |= CLIENT_DIRTY_EXEC;
        return;
    }
    if ((c->flags & CLIENT_MULTI) && !is_multi_control(cmd)) {
        multi_queue(c, cmd);
        return;
    }
    cmd_call(c, cmd);
}
