/* aof_rewrite.c — AOF rewrite: fork, the child writing the keyspace as a new BASE file, installing it (or a full-sync snapshot). */
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

/* The first bytes of a snapshot file read for its position record: the batch
 * holding it alone, as aof_write_base writes it. */
#define HEAD_READ_BYTES (AOF_POS_RECORD_MAX + AOF_CRC_RECORD_LEN)

void aof_temp_name(char *out, size_t cap, const char *temp, pid_t pid)
{
    snprintf(out, cap, "%s%d.aof", temp, (int)pid);
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

int aof_write_base(kv_db *db, int fd, const repl_history *pos, int64_t now_ms)
{
    if (pos) {
        buf out;
        buf_init(&out);
        aof_format_pos(&out, pos);
        int rc = write_batch(fd, &out);
        buf_free(&out);
        if (rc != 0) return rc;
    }
    return aof_dump_db(db, fd, now_ms);
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
void aof_child_close_inherited(kv_server *srv)
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
    if (srv->lock_fd > 2) close(srv->lock_fd);
    if (srv->aof && srv->aof->fd >= 0) close(srv->aof->fd);
}

_Noreturn void aof_child_write_base(kv_server *srv, int dir_fd, const char *dir, const char *temp,
                                    const repl_history *pos, const char *who)
{
    signal(SIGTERM, SIG_DFL); /* libuv's handlers would wake the parent's loop */
    signal(SIGINT, SIG_DFL);
    aof_child_close_inherited(srv);
    char name[64];
    aof_temp_name(name, sizeof(name), temp, getpid());
    int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        log_warn("%s: cannot create %s/%s: %s", who, dir, name, strerror(errno));
        _exit(AOF_CHILD_EOPEN);
    }
    int rc = aof_write_base(&srv->db, fd, pos, time_ms());
    if (rc != 0) {
        log_warn("%s: writing %s/%s failed: %s", who, dir, name, strerror(-rc));
        _exit(AOF_CHILD_EWRITE);
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        log_warn("%s: fsync of %s/%s failed: %s", who, dir, name, strerror(errno));
        _exit(AOF_CHILD_ESYNC);
    }
    _exit(AOF_CHILD_OK);
}

const char *aof_child_failure(int code)
{
    switch (code) {
    case AOF_CHILD_EOPEN: return "could not create its file";
    case AOF_CHILD_EWRITE: return "write error";
    case AOF_CHILD_ESYNC: return "fsync error";
    default: return "unexpected exit";
    }
}

static void note_failure(kv_aof *aof)
{
    aof->rewrite_ok = false;
    aof->consecutive_failures++;
    int64_t wait = RETRY_BACKOFF_MS * (int64_t)aof->consecutive_failures;
    aof->auto_not_before_ms = time_ms() + (wait > RETRY_BACKOFF_MAX_MS ? RETRY_BACKOFF_MAX_MS : wait);
}

/* The position the new BASE file ends at, asked once the new INCR file is
 * open: the source's (which the AOF's own count then follows), or the
 * AOF's own count if it knows one. false: the BASE gets no position. */
static bool fork_pos(kv_aof *aof, repl_history *pos)
{
    if (aof->pos_fn == NULL) {
        *pos = aof->pos;
        return aof->pos_known;
    }
    aof->pos_fn(aof->pos_arg, pos);
    if (!aof_pos_valid(pos)) {
        log_error("AOF rewrite: the position source gave an invalid history (n %d, end %llu); "
                  "aborting", pos->n, (unsigned long long)pos->end);
        abort();
    }
    if (aof->pos_known && pos->end != aof->pos.end)
        log_warn("AOF rewrite: the stream position is %llu but the AOF counted %llu; the new BASE "
                 "file takes the stream's", (unsigned long long)pos->end,
                 (unsigned long long)aof->pos.end);
    aof->pos = *pos;
    aof->pos_known = true;
    return true;
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
    repl_history pos;
    bool have_pos = fork_pos(aof, &pos);
    pid_t pid = fork();
    if (pid < 0) {
        log_warn("cannot start the AOF rewrite: fork: %s", strerror(errno));
        note_failure(aof);
        return -HALO_EIO;
    }
    if (pid == 0)
        aof_child_write_base(aof->srv, aof->dir_fd, aof->dir, AOF_TEMP_REWRITE,
                             have_pos ? &pos : NULL, "AOF rewrite child");
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
    aof_temp_name(tmp, sizeof(tmp), AOF_TEMP_REWRITE, pid);
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

static void finish(kv_aof *aof, pid_t pid, int status)
{
    int64_t now = time_ms();
    aof->last_rewrite_s = (now - aof->child_start_ms) / 1000;
    int rc = -HALO_EIO;
    if (WIFEXITED(status) && WEXITSTATUS(status) == AOF_CHILD_OK) rc = install_base(aof, pid);
    else if (WIFEXITED(status))
        log_warn("Background AOF rewrite failed (child %d: %s, exit code %d); keeping the "
                 "current AOF files", (int)pid, aof_child_failure(WEXITSTATUS(status)),
                 WEXITSTATUS(status));
    else
        log_warn("Background AOF rewrite terminated by signal %d; keeping the current AOF files",
                 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    if (rc != 0) {
        char tmp[64];
        aof_temp_name(tmp, sizeof(tmp), AOF_TEMP_REWRITE, pid);
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

void aof_rewrite_kill(kv_aof *aof, const char *why)
{
    if (aof->child <= 0) return;
    pid_t pid = aof->child;
    aof->child = 0;
    kill(pid, SIGKILL);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    char tmp[64];
    aof_temp_name(tmp, sizeof(tmp), AOF_TEMP_REWRITE, pid);
    unlinkat(aof->dir_fd, tmp, 0);
    log_notice("killed the AOF rewrite child %d %s", (int)pid, why);
}

/* ------------------------------------------------------------ full-sync snapshot */

/* Make the snapshot's bytes durable and read its position from its head. */
static int snapshot_head(const char *path, repl_history *pos)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        log_warn("cannot open the snapshot %s: %s", path, strerror(errno));
        return -HALO_EIO;
    }
    char head[HEAD_READ_BYTES];
    ssize_t n;
    while ((n = pread(fd, head, sizeof(head), 0)) < 0 && errno == EINTR) {}
    int err = n < 0 || fsync(fd) != 0 ? errno : 0;
    close(fd);
    if (err) {
        log_warn("cannot read and fsync the snapshot %s: %s", path, strerror(err));
        return -HALO_EIO;
    }
    const char *why = aof_head_pos(head, (size_t)n, pos);
    if (why) {
        log_warn("%s is not a full-sync snapshot: %s", path, why);
        return -HALO_ECORRUPT;
    }
    return 0;
}

/* The new manifest {BASE <- path, a new empty INCR}, made durable. */
static int snapshot_manifest(kv_aof *aof, const char *path, aof_manifest *old, int *fd)
{
    aof_manifest next;
    aof_manifest_init(&next);
    next.base.seq = aof->next_seq;
    if (!aof_file_name(next.base.name, sizeof(next.base.name), aof->prefix, next.base.seq, true))
        return -HALO_ECONFIG;
    if (renameat(AT_FDCWD, path, aof->dir_fd, next.base.name) != 0) {
        log_warn("cannot rename the snapshot %s to %s/%s: %s", path, aof->dir, next.base.name,
                 strerror(errno));
        return -HALO_EIO;
    }
    aof->next_seq++;
    int rc = aof_push_incr(aof, &next, old, fd);
    if (rc != 0 && renameat(aof->dir_fd, next.base.name, AT_FDCWD, path) != 0)
        unlinkat(aof->dir_fd, next.base.name, 0);
    aof_manifest_free(&next);
    return rc;
}

int aof_install_snapshot(kv_aof *aof, const char *path)
{
    repl_history pos;
    int rc = snapshot_head(path, &pos);
    if (rc != 0) return rc;
    aof_rewrite_kill(aof, "as a full-sync snapshot replaces the dataset");
    aof_manifest old;
    int fd = -1;
    rc = snapshot_manifest(aof, path, &old, &fd);
    if (rc != 0) return rc;
    /* Bytes not written yet belong to the replaced dataset. */
    buf_reset(&aof->pending);
    buf_reset(&aof->staged);
    aof->write_ok = true;
    aof->unsynced = false;
    close(aof->fd);
    aof->fd = fd;
    remove_replaced(aof, &old);
    aof_manifest_free(&old);
    aof->base_size = aof_file_size(aof, aof->man.base.name);
    aof->incr_size = 0;
    aof->pos = pos;
    aof->pos_known = true;
    log_notice("full-sync snapshot installed as the AOF BASE file %s (%lld bytes), position %llu",
               aof->man.base.name, (long long)aof->base_size, (unsigned long long)pos.end);
    return 0;
}
