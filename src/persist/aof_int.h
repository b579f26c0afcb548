/* aof_int.h — private to the AOF module: its state, shared by aof.c (log, load, fsync) and aof_rewrite.c. */
#ifndef HALO_AOF_INT_H
#define HALO_AOF_INT_H

#include "aof.h"
#include "aof_format.h"
#include "../common/buf.h"
#include "../kv/db.h"

#include <pthread.h>
#include <sys/types.h>

/* The background fsync thread of appendfsync everysec (see aof.c). One job
 * at a time: a dup() of the INCR file's descriptor, so the loop may close or
 * switch its own descriptor while an fsync runs. Fields under mu. */
typedef struct aof_bio {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool started, stop, busy;
    int job_fd;             /* -1 = no job queued */
    uint64_t done, failed;  /* completed fsyncs, failed ones */
    int last_errno;         /* errno of the last failure not yet logged, 0 = none */
    int64_t last_ok_ms;     /* wall clock of the last successful fsync */
} aof_bio;

struct kv_aof {
    struct kv_server *srv;
    char *dir;              /* "<dir>/appendonlydir" */
    int dir_fd;             /* for fsync after create/rename/unlink */
    char *prefix;           /* appendfilename: file names are "<prefix>.<seq>.<kind>.aof" */
    aof_manifest man;       /* what the manifest on disk says now */
    int64_t next_seq;       /* seq of the next file created */
    int fd;                 /* the last INCR file of man, opened O_APPEND */
    int fsync_policy;       /* FSYNC_ALWAYS / EVERYSEC / NO */
    buf pending;            /* fed since the last flush: the next batch's commands */
    buf staged;             /* framed batches not yet written; a failed or short write
                               keeps the unwritten rest here, so the file stays a prefix
                               of the intended stream */
    /* The replication position where the stream fed so far ends (written or
     * not): the last HALOPOS loaded or fed (pos_known), its end advanced by
     * every command byte fed after it; without one, end counts all command
     * bytes loaded and fed (a count with no meaning for replication). */
    repl_history pos;
    bool pos_known;
    aof_pos_fn pos_fn;      /* the position for a rewrite's BASE; NULL: pos */
    void *pos_arg;
    int64_t base_size;      /* bytes of the BASE file */
    int64_t incr_size;      /* bytes of all INCR files together */
    bool unsynced;          /* bytes written since the last fsync began */
    int64_t last_fsync_start_ms;
    int64_t last_sync_ok_ms;  /* wall clock of the last fsync done on the loop thread */
    int64_t last_delay_ms;    /* last time delayed_fsync was counted */
    bool write_ok;
    int64_t last_err_log_ms;
    aof_bio bio;
    /* rewrite */
    pid_t child;            /* > 0 while a rewrite child runs */
    int64_t child_start_ms;
    int64_t child_base_seq; /* seq the new BASE file will get */
    size_t child_first_incr;/* index in man.incr of the first INCR opened at fork */
    bool scheduled;         /* BGREWRITEAOF arrived while a rewrite could not start */
    bool rewrite_ok;
    int consecutive_failures;
    int64_t auto_not_before_ms;
    /* statistics */
    uint64_t rewrites, fsyncs, write_errors;
    int64_t last_rewrite_s, delayed_fsync;
};

/* Temporary files in the appendonlydir, "<prefix><pid>.aof": a rewrite
 * child's new BASE, and a full-sync snapshot (snapshot.c). Start-up deletes
 * any left over. */
#define AOF_TEMP_REWRITE "temp-rewriteaof-"
#define AOF_TEMP_FULLSYNC "temp-fullsync-"

/* aof.c */
/* write(2) all of p, retrying EINTR and short writes: 0 or -errno. */
int aof_write_all(int fd, const char *p, size_t len);
/* Write man as the manifest: temp file, fsync, rename, fsync dir. 0 or -HALO_EIO. */
int aof_persist_manifest(kv_aof *aof, const aof_manifest *man);
/* Create a new empty INCR file and persist the manifest `from` plus it. On
 * success that manifest becomes aof->man (the one it replaces is moved to
 * *prev, or freed when prev is NULL) and *fd_out is the new file, opened
 * O_APPEND; aof->fd is left to the caller. */
int aof_push_incr(kv_aof *aof, const aof_manifest *from, aof_manifest *prev, int *fd_out);
/* Flush pending and staged bytes to the INCR file and fsync it synchronously. */
int aof_flush_and_sync(kv_aof *aof);
/* Open a new empty INCR file, list it in the manifest and append to it from now on. */
int aof_switch_incr(kv_aof *aof);
void aof_fsync_dir(kv_aof *aof);
int64_t aof_file_size(kv_aof *aof, const char *name);

/* Replaying files into srv->db through the command table with a fake client,
 * nothing propagated and nothing expiring: the AOF loader (aof.c), also the
 * loader of full-sync snapshots (snap_load). Between begin and end it holds
 * srv->loading, srv->db.no_expire and srv->dirty. */
typedef struct aof_replay {
    struct kv_server *srv;
    int dir_fd;               /* files are opened relative to it */
    const char *dir;          /* for messages */
    const char *what;         /* "AOF" or "full-sync snapshot", for messages */
    const char *refusal;      /* "refusing to start", ... */
    struct kv_client *fake;
    uint8_t was_loading;
    bool was_no_expire;
    bool was_hide_expired;
    uint64_t dirty;
    /* Where the files replayed so far end (see aof_replay_file). */
    bool has_pos;
    repl_history pos;
} aof_replay;

/* BASE: a keyspace image; INCR: the stream; INCR_LAST: may end torn. */
enum { AOF_FILE_BASE, AOF_FILE_INCR, AOF_FILE_INCR_LAST };
void aof_replay_begin(aof_replay *r, struct kv_server *srv, int dir_fd, const char *dir);
/* Replay one file; *size is its size after any truncation of a torn tail.
 * Position: a BASE file's command records are an image of the keyspace, not
 * stream records: its last HALOPOS (written first by a rewrite or snapshot)
 * is the position where it ends, and without one its command bytes are
 * counted (a plain count). In an INCR file each HALOPOS sets the position
 * and each command record advances its end by its bytes. Returns 0 or a
 * negative HALO_E* code, having logged the file, offset and reason. */
int aof_replay_file(aof_replay *r, const char *name, int kind, int64_t *size);
void aof_replay_end(aof_replay *r);

/* aof_rewrite.c */
/* Write the keyspace to fd as checksummed batches of commands that recreate
 * it: SET (with PXAT for a TTL) for strings, the type's rewrite for others,
 * then PEXPIREAT. Keys whose TTL passed before now_ms are left out.
 * Returns 0 or -errno of the failed write. */
int aof_dump_db(kv_db *db, int fd, int64_t now_ms);
/* A BASE-format file: pos (if not NULL) as a batch of its own, then
 * aof_dump_db. Returns 0 or -errno of the failed write. */
int aof_write_base(kv_db *db, int fd, const repl_history *pos, int64_t now_ms);
/* The body of a forked child writing a BASE-format file: drop what it must
 * not hold (aof_child_close_inherited), write "<temp><pid>.aof" in dir_fd
 * with aof_write_base, fsync it and _exit with an AOF_CHILD_* code. who
 * names the child in log lines. */
_Noreturn void aof_child_write_base(struct kv_server *srv, int dir_fd, const char *dir,
                                    const char *temp, const repl_history *pos, const char *who);
/* In a forked child: close the parent's sockets, its data-dir lock and its
 * AOF descriptor. */
void aof_child_close_inherited(struct kv_server *srv);
enum { AOF_CHILD_OK = 0, AOF_CHILD_EOPEN = 10, AOF_CHILD_EWRITE = 11, AOF_CHILD_ESYNC = 12 };
/* What an AOF_CHILD_* exit code means, for log lines. */
const char *aof_child_failure(int code);
/* "<temp><pid>.aof" */
void aof_temp_name(char *out, size_t cap, const char *temp, pid_t pid);
int aof_rewrite_fork(kv_aof *aof);
/* Reap the child if it ended and install its BASE file. */
void aof_rewrite_check(kv_aof *aof);
/* Stop a running child and remove its temporary file; why ends the log line. */
void aof_rewrite_kill(kv_aof *aof, const char *why);

#endif
