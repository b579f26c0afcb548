/* aof.h — the append-only log: multi-part files under a manifest, fsync policy, rewrite, recovery. */
#ifndef HALO_AOF_H
#define HALO_AOF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kv_aof kv_aof;
struct kv_server;

/* Open (creating if needed) the AOF in srv->cfg.dir and replay it into the
 * keyspace. On a torn tail: truncate it and log, if aof-load-truncated (the
 * default); refuse otherwise. On corruption before the tail: refuse to start.
 * Returns 0 or a negative HALO_E* code; *out is set only on success. */
int aof_open_and_load(struct kv_server *srv, kv_aof **out);
/* Append the propagation of one event; written and fsynced by aof_flush. */
void aof_feed(kv_aof *aof, const char *data, size_t len);
/* Write buffered data (and fsync under appendfsync always). Called before any
 * reply of the event that produced the data is sent. Returns 0 or -HALO_EIO. */
int aof_flush(kv_aof *aof);
/* Periodic work: everysec fsync, rewrite child completion, auto rewrite. */
void aof_cron(kv_aof *aof);
/* BGREWRITEAOF: start a rewrite in a child process unless one runs. */
int aof_rewrite_start(kv_aof *aof);
/* Clean shutdown: flush, fsync, wait for no child, close. */
void aof_close(kv_aof *aof);
/* Change the fsync policy at run time (CONFIG SET appendfsync). */
void aof_set_fsync(kv_aof *aof, int policy);

/* INFO persistence / metrics fields. */
typedef struct aof_info {
    bool enabled, rewrite_in_progress, rewrite_scheduled, last_write_ok, last_rewrite_ok;
    int64_t current_rewrite_time_s; /* -1 when no rewrite runs */
    int64_t current_size, base_size, last_rewrite_time_s;
    uint64_t rewrites, fsyncs, write_errors, pending_bytes;
    int64_t last_fsync_ms, delayed_fsync;
} aof_info;
void aof_get_info(const kv_aof *aof, aof_info *out);

#endif
