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

/* aof.c */
/* write(2) all of p, retrying EINTR and short writes: 0 or -errno. */
int aof_write_all(int fd, const char *p, size_t len);
/* Write man as the manifest: temp file, fsync, rename, fsync dir. 0 or -HALO_EIO. */
int aof_persist_manifest(kv_aof *aof, const aof_manifest *man);
/* Flush pending and staged bytes to the INCR file and fsync it synchronously. */
int aof_flush_and_sync(kv_aof *aof);
/* Open a new empty INCR file, list it in the manifest and append to it from now on. */
int aof_switch_incr(kv_aof *aof);
void aof_fsync_dir(kv_aof *aof);
int64_t aof_file_size(kv_aof *aof, const char *name);

/* aof_rewrite.c */
/* Write the keyspace to fd as checksummed batches of commands that recreate
 * it: SET (with PXAT for a TTL) for strings, the type's rewrite for others,
 * then PEXPIREAT. Keys whose TTL passed before now_ms are left out.
 * Returns 0 or -errno of the failed write. */
int aof_dump_db(kv_db *db, int fd, int64_t now_ms);
int aof_rewrite_fork(kv_aof *aof);
/* Reap the child if it ended and install its BASE file. */
void aof_rewrite_check(kv_aof *aof);
/* Stop a running child and remove its temporary file (shutdown). */
void aof_rewrite_kill(kv_aof *aof);
/* "temp-rewriteaof-<pid>.aof" */
void aof_rewrite_temp_name(char *out, size_t cap, pid_t pid);

#endif
