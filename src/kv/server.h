/* server.h — the data node's state: configuration, keyspace, clients, statistics. */
#ifndef HALO_KV_SERVER_H
#define HALO_KV_SERVER_H

#include "../common/buf.h"
#include "db.h"
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef struct kv_client kv_client;
typedef struct kv_aof kv_aof;
typedef struct kv_metrics_http kv_metrics_http;

enum { EVICT_NOEVICTION, EVICT_ALLKEYS_LRU, EVICT_VOLATILE_LRU, EVICT_ALLKEYS_RANDOM,
       EVICT_VOLATILE_RANDOM, EVICT_VOLATILE_TTL };
enum { FSYNC_ALWAYS, FSYNC_EVERYSEC, FSYNC_NO };

/* Every directive of `halo kv`; see config.c for names, bounds and which are
 * settable at run time. Sizes in bytes, times as their names say. */
typedef struct kv_config {
    char *bind;             /* space separated addresses */
    int port;
    char *dir;
    char *logfile;
    int loglevel;
    char *requirepass;      /* NULL or "" = no password */
    int64_t maxmemory;      /* 0 = no limit */
    int maxmemory_policy;
    int maxmemory_samples;
    bool appendonly;
    int appendfsync;
    char *appendfilename;
    int auto_aof_rewrite_percentage;
    int64_t auto_aof_rewrite_min_size;
    bool aof_load_truncated;
    int timeout_s;          /* idle client timeout, 0 = never */
    int maxclients;
    int64_t proto_max_bulk_len;
    int64_t client_query_buffer_limit;
    int64_t obuf_normal_hard;  /* output buffer hard limit, normal clients */
    int64_t obuf_pubsub_hard;  /* pub/sub clients */
    int hz;
    int tcp_backlog;
    int tcp_keepalive_s;
    int metrics_port;       /* 0 = off */
    char *metrics_bind;
    int databases;          /* only 1 is supported: SELECT 0 */
    char *pidfile;
    bool daemonize;         /* accepted for compatibility; only "no" is valid */
    int64_t slowlog_log_slower_than_us;
    /* replicated mode (docs/replication.md); on when repl_zk is set */
    char *repl_zk;           /* ZooKeeper connect string */
    char *repl_cluster;
    char *repl_group;
    char *repl_node_id;
    char *repl_members;      /* "n1,n2,n3": the order fixes the members' numbers */
    char *repl_announce;     /* "ip:port" published for clients and peers; "" = bind[0]:port */
    int repl_session_timeout_ms;
    int repl_timeout_ms;
    int min_sync_replicas;
    int64_t repl_backlog_size;
} kv_config;

typedef struct kv_stats {
    uint64_t connections_received, rejected_connections, commands_processed;
    uint64_t net_input_bytes, net_output_bytes;
    uint64_t evicted_clients_obuf, protocol_errors, timeouts_closed;
    uint64_t error_replies;  /* every -ERR/-WRONGTYPE/... sent to a client */
    uint64_t ops_sample[16];  /* commands per cron tick, for instantaneous_ops */
    int64_t ops_sample_time[16];
    int ops_idx;
} kv_stats;

typedef struct kv_server {
    kv_config cfg;
    uv_loop_t *loop;
    kv_db db;
    uint64_t dirty;          /* writes since start; a command that writes bumps it */
    uint64_t next_client_id;
    int64_t start_time_ms;
    kv_client *clients;      /* doubly linked list of all clients */
    kv_client *pending_write;/* singly linked via next_pending */
    int nclients;
    int nlisteners;
    uv_tcp_t listeners[16];
    uv_timer_t cron;
    uv_check_t after_io;     /* flushes AOF then replies after each loop poll */
    uv_signal_t sig_term, sig_int;
    bool shutting_down;
    bool propagate;          /* someone consumes propagation (AOF on; replicas later) */
    buf prop;                /* propagation of the current event (AOF/replicas) */
    buf prop_cmd;            /* replacement propagation of the running command */
    bool prop_replaced, prop_suppressed;
    int call_depth;          /* > 1 inside EXEC */
    kv_aof *aof;
    struct repl_node *repl;  /* replicated mode, else NULL */
    kv_metrics_http *metrics;
    kv_stats stats;
    char run_id[41];
    int lock_fd;             /* flock on the data dir */
    uint8_t loading;         /* replaying the AOF */
    int64_t cron_loops;
    int64_t wall_offset_us;  /* wall clock minus monotonic clock, refreshed by the cron */
    /* subsystems' state (pubsub, blocking, watch) */
    struct kv_pubsub *pubsub;
    struct kv_block *block;
    struct kv_watch *watch;
    char *config_file;       /* absolute path, for CONFIG REWRITE and INFO */
    char executable[1024];
} kv_server;

/* `halo kv` entry point: argv after the subcommand. Returns the exit code. */
int kv_main(int argc, char **argv);

/* Close every client and stop the loop after flushing persistence. */
void kv_server_shutdown(kv_server *srv, const char *why);

#endif
