/* aof.h — the append-only log: multi-part files under a manifest, fsync policy, rewrite, recovery. */
#ifndef HALO_AOF_H
#define HALO_AOF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../repl/repl_sm.h" /* repl_history: the type only */

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

/* ---- replication positions (docs/persistence.md, "Positions") ----
 * The replication log is the stream of bytes given to aof_feed; its offsets
 * count those bytes only. A HALOPOS record in the AOF names the position
 * (repl_history) of the stream where it stands, so a restart knows where
 * its log ends. */

/* Append a HALOPOS record of pos to the pending batch: written by the next
 * aof_flush, in order with aof_feed's data. pos->end must be the stream
 * position at this point (the caller's contract; a mismatch with the AOF's
 * own count is logged), and pos must be a valid history (aof_pos_valid in
 * aof_format.h: epochs and starts strictly ascending, starts <= end, n <=
 * REPL_MAX_HISTORY); an invalid one is a caller bug and aborts the process,
 * as writing it would make the AOF unloadable. aof may be NULL (no-op). */
void aof_feed_pos(kv_aof *aof, const repl_history *pos);
/* The position where the AOF's stream ends: after aof_open_and_load, where
 * the loaded files end (the last HALOPOS loaded, its end advanced by the
 * bytes of every command record after it, a torn tail's dropped batch not
 * counted); afterwards it follows aof_feed / aof_feed_pos (bytes fed and not
 * yet written included) and aof_install_snapshot. Returns true if a HALOPOS
 * was ever loaded or fed; false: out->n = 0 and out->end = the bytes of all
 * command records loaded and fed, BASE files included (no meaning for
 * replication). */
bool aof_loaded_pos(const kv_aof *aof, repl_history *out);

/* Asked (in the parent, after the new INCR file is open, just before the
 * fork) for the position of the stream at that point, exactly where the new
 * INCR file begins. */
typedef void (*aof_pos_fn)(void *arg, repl_history *out);
/* Every rewrite from now on writes the position fn gives as the first record
 * of its new BASE file (and the AOF's own count adopts it). Without a source
 * (fn NULL) a rewrite writes the AOF's own count if it ever saw a HALOPOS,
 * and no position otherwise. */
void aof_set_pos_source(kv_aof *aof, aof_pos_fn fn, void *arg);

/* The snapshot file at path (a BASE-format file holding a HALOPOS first, as
 * snap_fork writes it, already verified by snap_load; in the appendonlydir,
 * so the rename is atomic) becomes the BASE file, followed by a new empty
 * INCR file; the manifest naming them is persisted atomically and the old
 * BASE and INCR files are removed. A running rewrite is killed first (its
 * result would describe the old dataset), and bytes fed but not yet written
 * are dropped (they belong to the old dataset). Afterwards the AOF's
 * position is the snapshot's; the caller feeds the stream on from there.
 * Returns 0, or a negative HALO_E* code with the old files still in force
 * (the snapshot file is then left at path, or removed if it could not be
 * put back). */
int aof_install_snapshot(kv_aof *aof, const char *path);

/* The appendonlydir ("<dir>/appendonlydir") and a descriptor of it (owned by
 * the AOF), where full-sync snapshot files belong. */
const char *aof_dir(const kv_aof *aof);
int aof_dir_fd(const kv_aof *aof);

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
