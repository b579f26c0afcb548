/* cmd.h — the command table: names, arity, flags, key positions; dispatch and propagation. */
#ifndef HALO_KV_CMD_H
#define HALO_KV_CMD_H

#include "client.h"

enum {
    CMD_WRITE = 1u << 0,    /* may modify the keyspace */
    CMD_READONLY = 1u << 1,
    CMD_DENYOOM = 1u << 2,  /* may grow memory: refused over maxmemory */
    CMD_ADMIN = 1u << 3,
    CMD_PUBSUB = 1u << 4,
    CMD_NOSCRIPT = 1u << 5,
    CMD_BLOCKING = 1u << 6,
    CMD_LOADING = 1u << 7,  /* allowed while loading */
    CMD_STALE = 1u << 8,
    CMD_FAST = 1u << 9,
    CMD_NOAUTH = 1u << 10,  /* allowed before AUTH */
    CMD_NO_MULTI = 1u << 11,/* not queued inside MULTI (executed or refused) */
    CMD_ALLOW_PUBSUB = 1u << 12, /* allowed in RESP2 subscribed context */
    CMD_MOVABLE_KEYS = 1u << 13,
};

typedef struct kv_cmd {
    const char *name;      /* lower case */
    void (*proc)(kv_client *c);
    int arity;             /* > 0 exact argc, < 0 at least -arity */
    uint32_t flags;
    int first_key, last_key, key_step; /* as COMMAND INFO reports them */
    const char *group;     /* "string", "list", ... for COMMAND DOCS */
    const char *summary;
    const char *since;
    /* statistics */
    uint64_t calls, usec, failed_calls, rejected_calls;
} kv_cmd;

/* Each command family file defines a table ending with a {NULL} entry. */
extern kv_cmd kv_cmds_server[], kv_cmds_keys[], kv_cmds_string[], kv_cmds_hash[],
    kv_cmds_list[], kv_cmds_set[], kv_cmds_zset[], kv_cmds_pubsub[], kv_cmds_multi[],
    kv_cmds_debug[], kv_cmds_repl[];

void cmd_table_init(void);
const kv_cmd *cmd_lookup(const char *name, size_t len);
/* Iterate all commands (COMMAND, INFO commandstats); fn returns nothing. */
void cmd_foreach(void (*fn)(kv_cmd *cmd, void *priv), void *priv);
size_t cmd_count(void);
/* The commands called (or rejected) since start or CONFIG RESETSTAT, sorted by
 * name, as INFO commandstats and the metrics list them: out->v[0..n) is an
 * array the caller frees with hfree (NULL when there are no commands). */
typedef struct cmd_list {
    kv_cmd **v;
    size_t n, cap;
} cmd_list;
void cmd_list_used(cmd_list *out);

/* Run the command in c->argv: lookup, checks (auth, arity, multi, OOM),
 * execution, statistics and propagation. */
void cmd_dispatch(kv_client *c);
/* Execute an already looked-up command (EXEC and the AOF loader use it). */
void cmd_call(kv_client *c, const kv_cmd *cmd);

/* Propagation: by default a command that bumped srv->dirty is propagated as
 * its argv. A command whose effect depends on time or chance calls
 * prop_replace with a deterministic equivalent (SET EX -> SET PXAT). */
void prop_replace(kv_client *c, int argc, const resp_arg *argv);
/* Append another command to this call's propagation (e.g. DEL of an expired key). */
void prop_append(kv_server *srv, int argc, const resp_arg *argv);
/* Hand the finished event's propagation (srv->prop) to the AOF, and later to
 * replicas. The dispatcher calls it after each top-level command; code that
 * writes outside a command (cron expiry, served blocked clients) calls it too. */
void prop_flush(kv_server *srv);
/* Tell the dispatcher not to propagate this call's argv (nothing changed). */
void prop_suppress(kv_client *c);

/* Latency histogram of all commands (metrics). Buckets in microseconds. */
#define CMD_LAT_BUCKETS 16
extern const double cmd_lat_bounds_us[CMD_LAT_BUCKETS];
extern uint64_t cmd_lat_counts[CMD_LAT_BUCKETS + 1];
extern double cmd_lat_sum_us;

#endif
