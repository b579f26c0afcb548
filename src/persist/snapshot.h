/* snapshot.h — full-sync snapshots: the keyspace and its replication position as a loadable AOF BASE file, written by a forked child. */
#ifndef HALO_SNAPSHOT_H
#define HALO_SNAPSHOT_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "../repl/repl_sm.h" /* repl_history: the type only */

struct kv_server;

/* A snapshot being written (pid > 0) or written (pid == 0, path set). */
typedef struct snap_job {
    pid_t pid;            /* the child; 0 once reaped */
    char path[PATH_MAX];  /* "<dir>/temp-fullsync-<pid>.aof"; "" when none */
    int64_t start_ms;     /* wall clock at the fork */
    int64_t size;         /* bytes of the finished file (snap_poll returned 1) */
} snap_job;

/* Fork a child that writes, into "<dir>/temp-fullsync-<pid>.aof" (dir_fd an
 * open descriptor of dir, normally aof_dir_fd / aof_dir), a complete
 * BASE-format file: a batch holding only the HALOPOS record of pos, then the
 * keyspace of srv->db as an AOF rewrite writes it (keys whose TTL passed are
 * left out); it fsyncs the file and exits. pos must be the stream position
 * of srv->db now (every write's propagation counted: call it between
 * events, with srv->prop flushed) and a valid history (aof_pos_valid; an
 * invalid one aborts). The child closes the parent's sockets, data-dir lock
 * and AOF descriptor, as a rewrite child does. Returns 0 with *out filled,
 * or -HALO_EIO (fork failed, logged). Any number of jobs may run at once. */
int snap_fork(struct kv_server *srv, int dir_fd, const char *dir, const repl_history *pos,
              snap_job *out);

/* Reap the child without blocking. 0: still running. 1: done, job->path is
 * the finished, fsynced file of job->size bytes and belongs to the caller
 * (install, send, or remove it; snap_abort removes it). Negative HALO_E*:
 * the child failed or was killed; the temp file is removed and a log line
 * gives the reason. -HALO_EINVAL if no child runs (job already reaped). */
int snap_poll(snap_job *job);

/* Kill and reap a running child, and remove the job's file (running or
 * finished). Safe on a job already aborted or zeroed. */
void snap_abort(snap_job *job);

/* Replay the snapshot file at path into srv->db with a fake client, as the
 * AOF loader replays a BASE file (the same code): checksums verified,
 * nothing propagated, nothing expiring during the replay. Corruption (bad
 * bytes, a checksum mismatch, a cut end, an unknown command, no HALOPOS) is
 * refused with -HALO_ECORRUPT and a log line naming the file and offset;
 * srv->db then holds a partial keyspace the caller discards. The caller
 * prepares an empty srv->db first and swaps it in afterwards; srv->aof is
 * not touched. On 0, *pos_out is the snapshot's position: its HALOPOS (the
 * keyspace records after it are an image, not stream bytes, so they do not
 * advance it). */
int snap_load(struct kv_server *srv, const char *path, repl_history *pos_out);

#endif
