/* aof_rewrite.c — AOF rewrite: fork, the child writing the keyspace as a new BASE file, installing it. */
#include "aof_int.h"
#include "../common/err.h"
#include "../common/log.h"
#include "../common/mem.h"
#include "../common/util.h"
#include "../kv/server.h"
#include "../kv/types.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The child writes a batch whenever this many command bytes are buffered. */
#define DUMP_BATCH_BYTES (64 * 1024)
/* After a failed rewrite, automatic ones wait this long per consecutive failure. */
#define RETRY_BACKOFF_MS (60 * 1000)
#define RETRY_BACKOFF_MAX_MS (3600 * 1000)

/* Exit codes of the child, for the parent's log line. */
enum { CHILD_OK = 0, CHILD_EOPEN = 10, CHILD_EWRITE = 11, CHILD_ESYNC = 12 };

void aof_rewrite_temp_name(char *out, size_t cap, pid_t pid)
{
    snprintf(out, cap, "temp-rewriteaof-%d.aof", (int)pid);
}

static void append_cmd(buf *out, int argc, const resp_arg *argv)
{
    buf_append_mbulk_len(out, '*', argc);
    for (int i = 0; i < argc; i++) buf_append_bulk(out, argv[i].ptr, argv[i].len);
}

/* Commands recreating one key: SET [PXAT], or the type's rewrite + PEXPIREAT. */
static void dump_entry(buf *out, kv_entry *e, int64_t when_ms)
{
    char ms[24];
    resp_arg t = {ms, (size_t)i64_to_str(ms, sizeof(ms), when_ms)};
    resp_arg key = {entry_key(e), e->keylen};
    if (entry_type(e) == KV_STRING) {
        resp_arg argv[5] = {{"SET", 3}, key, {entry_str(e), e->vlen}, {"PXAT", 4}, t};
        append_cmd(out, when_ms >= 0 ? 5 : 3, argv);
        return;
    }
    const kv_type_ops *ops = kv_type_ops_of(entry_type(e));
    if (ops == NULL || ops->rewrite == NULL) return;
    ops->rewrite(entry_obj(e), key.ptr, key.len, out);
    if (when_ms >= 0) {
        resp_arg argv[3] = {{"PEXPIREAT", 9}, key, t};
        append_cmd(out, 3, argv);
    }
}

static int write_batch(int fd, buf *out)
{
    if (out->len == 0) return 0;
    aof_seal_batch(out, 0);
    int rc = aof_write_all(fd, out->data, out->len);
    buf_reset(out);
    return rc;
}

int aof_dump_db(kv_db *db, int fd, int64_t now_ms)
{
    buf out;
    buf_init(&out);
    int rc = 0;
    dict_iter it;
    dict_iter_init(&it, &db->keys, false);
    dict_node *n;
    while (rc == 0 && (n = dict_iter_next(&it)) != NULL) {
        kv_entry *e = (kv_entry *)n;
        int64_t when = db_get_expire(db, e);
        if (when >= 0 && when <= now_ms) continue; /* expired: its DEL follows in INCR */
        dump_entry(&out, e, when);
        if (out.len >= DUMP_BATCH_BYTES) rc = write_batch(fd, &out);
    }
    dict_iter_done(&it);
    if (rc == 0) rc = write_batch(fd, &out);
    buf_free(&out);
    return rc;
}

/* The child must not keep the parent's sockets (a restarted node could not
 * bind its port while the child lives) or its directory lock. Descriptors
 * 0-2 stay: the log may be stderr. */
static void close_inherited(kv_aof *aof)
{
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        int self = dirfd(d);
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            int fd = atoi(de->d_name);
            struct stat st;
            if (fd > 2 && fd != self && fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode)) close(fd);
        }
        closedir(d);
    }
    if (aof->srv->lock_fd > 2) close(aof->srv->lock_fd);
    close(aof->fd);
}

static void child_main(kv_aof *aof)
{
    signal(SIGTERM, SIG_DFL); /* libuv's handlers would wake the parent's loop */
    signal(SIGINT, SIG_DFL);
    close_inherited(aof);
    char name[64];
    aof_rewrite_temp_name(name, sizeof(name), getpid());
    int fd = openat(aof->dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        log_warn("AOF rewrite child: cannot create %s/%s: %s", aof->dir, name, strerror(errno));
        _exit(CHILD_EOPEN);
    }
    int rc = aof_dump_db(&aof->srv->db, fd, time_ms());
    if (rc != 0) {
        log_warn("AOF rewrite child: writing %s/%s failed: %s", aof->dir, name, strerror(-rc));
        _exit(CHILD_EWRITE);
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        log_warn("AOF rewrite child: fsync of %s/%s failed: %s", aof->dir, name, strerror(errno));
        _exit(CHILD_ESYNC);
    }
    _exit(CHILD_OK);
}

static void note_failure(kv_aof *aof)
{
    aof->rewrite_ok = false;
    aof->consecutive_failures++;
    int64_t wait = RETRY_BACKOFF_MS * (int64_t)aof->consecutive_failures;
    aof->auto_not_before_ms = time_ms() + (wait > RETRY_BACKOFF_MAX_MS ? RETRY_BACKOFF_MAX_MS : wait);
}

int aof_rewrite_fork(kv_aof *aof)
{
    int64_t base_seq = aof->next_seq++; /* below the new INCR's: names sort in replay order */
    int rc = aof_switch_incr(aof);
    if (rc != 0) {
        log_warn("cannot start the AOF rewrite: the current INCR file could not be closed off");
        note_failure(aof);
        return rc;
    }
    pid_t pid = fork();
    if (pid < 0) {
        log_warn("cannot start the AOF rewrite: fork: %s", strerror(errno));
        note_failure(aof);
        return -HALO_EIO;
    }
    if (pid == 0) child_main(aof);
    aof->child = pid;
    aof->child_start_ms = time_ms();
    aof->child_base_seq = base_seq;
    aof->child_first_incr = aof->man.nincr - 1;
    log_notice("Background append only file rewriting started by pid %d", (int)pid);
    return 0;
}

/* Old files the new manifest no longer lists: deleted once it is durable. */
static void remove_replaced(kv_aof *aof, const aof_manifest *old)
{
    if (!aof_manifest_has(&aof->man, old->base.name)) unlinkat(aof->dir_fd, old->base.name, 0);
    for (size_t i = 0; i < old->nincr; i++)
        if (!aof_manifest_has(&aof->man, old->incr[i].name)) unlinkat(aof->dir_fd, old->incr[i].name, 0);
    aof_fsync_dir(aof);
}

/* The child's file becomes the BASE; the INCR files opened since the fork follow it. */
static int install_base(kv_aof *aof, pid_t pid)
{
    char tmp[64];
    aof_rewrite_temp_name(tmp, sizeof(tmp), pid);
    aof_manifest next;
    aof_manifest_init(&next);
    next.base.seq = aof->child_base_seq;
    if (!aof_file_name(next.base.name, sizeof(next.base.name), aof->prefix, next.base.seq, true))
        return -HALO_ECONFIG;
    if (renameat(aof->dir_fd, tmp, aof->dir_fd, next.base.name) != 0) {
        log_warn("AOF rewrite: cannot rename %s to %s: %s", tmp, next.base.name, strerror(errno));
        return -HALO_EIO;
    }
    for (size_t i = aof->child_first_incr; i < aof->man.nincr; i++)
        aof_manifest_push_incr(&next, &aof->man.incr[i]);
    if (aof_persist_manifest(aof, &next) != 0) {
        unlinkat(aof->dir_fd, next.base.name, 0);
        aof_manifest_free(&next);
        return -HALO_EIO;
    }
    aof_manifest old = aof->man;
    aof->man = next;
    remove_replaced(aof, &old);
    aof_manifest_free(&old);
    aof->base_size = aof_file_size(aof, aof->man.base.name);
    aof->incr_size = 0;
    for (size_t i = 0; i < aof->man.nincr; i++) aof->incr_size += aof_file_size(aof, aof->man.incr[i].name);
    log_notice("Background AOF rewrite finished successfully: BASE file %s (%lld bytes)",
               aof->man.base.name, (long long)aof->base_size);
    return 0;
}

static const char *child_failure(int code)
{
    switch (code) {
    case CHILD_EOPEN: return "could not create its file";
    case CHILD_EWRITE: return "write error";
    case CHILD_ESYNC: return "fsync error";
    default: return "unexpected exit";
    }
}

static void finish(kv_aof *aof, pid_t pid, int status)
{
    int64_t now = time_ms();
    aof->last_rewrite_s = (now - aof->child_start_ms) / 1000;
    int rc = -HALO_EIO;
    if (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_OK) rc = install_base(aof, pid);
    else if (WIFEXITED(status))
        log_warn("Background AOF rewrite failed (child %d: %s, exit code %d); keeping the "
                 "current AOF files", (int)pid, child_failure(WEXITSTATUS(status)), WEXITSTATUS(status));
    else
        log_warn("Background AOF rewrite terminated by signal %d; keeping the current AOF files",
                 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    if (rc != 0) {
        char tmp[64];
        aof_rewrite_temp_name(tmp, sizeof(tmp), pid);
        unlinkat(aof->dir_fd, tmp, 0);
        note_failure(aof);
        return;
    }
    aof->rewrite_ok = true;
    aof->consecutive_failures = 0;
    aof->auto_not_before_ms = 0;
    aof->rewrites++;
}

void aof_rewrite_check(kv_aof *aof)
{
    if (aof->child <= 0) return;
    int status = 0;
    pid_t r = waitpid(aof->child, &status, WNOHANG);
    if (r == 0 || (r < 0 && errno == EINTR)) return;
    pid_t pid = aof->child;
    aof->child = 0;
    if (r < 0) {
        log_warn("waitpid on the AOF rewrite child %d: %s", (int)pid, strerror(errno));
        status = 0x7f00; /* treated as a failed exit */
    }
    finish(aof, pid, status);
}

void aof_rewrite_kill(kv_aof *aof)
{
    if (aof->child <= 0) return;
    pid_t pid = aof->child;
    aof->child = 0;
    kill(pid, SIGKILL);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    char tmp[64];
    aof_rewrite_temp_name(tmp, sizeof(tmp), pid);
    unlinkat(aof->dir_fd, tmp, 0);
    log_notice("killed the AOF rewrite child %d at shutdown; the current AOF files stay", (int)pid);
}
