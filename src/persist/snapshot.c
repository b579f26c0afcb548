/* snapshot.c — full-sync snapshots: forking the child that writes one, reaping it, loading one through the AOF loader. */
#include "snapshot.h"
#include "aof_int.h"
#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../kv/server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int snap_fork(kv_server *srv, int dir_fd, const char *dir, const repl_history *pos, snap_job *out)
{
    if (!aof_pos_valid(pos)) {
        log_error("snap_fork: invalid replication history (n %d, end %llu); aborting", pos->n,
                  (unsigned long long)pos->end);
        abort();
    }
    pid_t pid = fork();
    if (pid < 0) {
        log_warn("cannot start a full-sync snapshot: fork: %s", strerror(errno));
        return -HALO_EIO;
    }
    if (pid == 0)
        aof_child_write_base(srv, dir_fd, dir, AOF_TEMP_FULLSYNC, pos, "full-sync snapshot child");
    memset(out, 0, sizeof(*out));
    out->pid = pid;
    out->start_ms = time_ms();
    char name[64];
    aof_temp_name(name, sizeof(name), AOF_TEMP_FULLSYNC, pid);
    snprintf(out->path, sizeof(out->path), "%s/%s", dir, name);
    log_notice("full-sync snapshot started by pid %d at offset %llu", (int)pid,
               (unsigned long long)pos->end);
    return 0;
}

/* The child ended with status: the file is complete, or removed. */
static int reaped(snap_job *job, int status)
{
    int64_t ms = time_ms() - job->start_ms;
    struct stat st;
    if (WIFEXITED(status) && WEXITSTATUS(status) == AOF_CHILD_OK && stat(job->path, &st) == 0) {
        job->size = (int64_t)st.st_size;
        log_notice("full-sync snapshot %s written: %lld bytes in %lld ms", job->path,
                   (long long)job->size, (long long)ms);
        return 1;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == AOF_CHILD_OK)
        log_warn("full-sync snapshot %s: the child succeeded but the file is gone: %s", job->path,
                 strerror(errno));
    else if (WIFEXITED(status))
        log_warn("full-sync snapshot failed (child %d: %s, exit code %d)", (int)job->pid,
                 aof_child_failure(WEXITSTATUS(status)), WEXITSTATUS(status));
    else
        log_warn("full-sync snapshot child %d terminated by signal %d", (int)job->pid,
                 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    unlink(job->path);
    job->path[0] = '\0';
    return -HALO_EIO;
}

int snap_poll(snap_job *job)
{
    if (job->pid <= 0) return -HALO_EINVAL;
    int status = 0;
    pid_t r = waitpid(job->pid, &status, WNOHANG);
    if (r == 0 || (r < 0 && errno == EINTR)) return 0;
    if (r < 0) {
        log_warn("waitpid on the full-sync snapshot child %d: %s", (int)job->pid, strerror(errno));
        status = 0x7f00; /* treated as a failed exit */
    }
    int rc = reaped(job, status);
    job->pid = 0;
    return rc;
}

void snap_abort(snap_job *job)
{
    if (job->pid > 0) {
        kill(job->pid, SIGKILL);
        int status;
        while (waitpid(job->pid, &status, 0) < 0 && errno == EINTR) {}
        log_notice("full-sync snapshot child %d killed", (int)job->pid);
        job->pid = 0;
    }
    if (job->path[0]) unlink(job->path);
    job->path[0] = '\0';
}

/* Split path into its directory (opened) and file name. */
static int open_parent(const char *path, char *dir, size_t cap, const char **name)
{
    const char *slash = strrchr(path, '/');
    size_t dlen = slash == NULL ? 1 : slash == path ? 1 : (size_t)(slash - path);
    if (dlen >= cap) return -HALO_EINVAL;
    memcpy(dir, slash == NULL ? "." : path, dlen);
    dir[dlen] = '\0';
    *name = slash ? slash + 1 : path;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) log_warn("cannot open the directory of the snapshot %s: %s", path, strerror(errno));
    return fd < 0 ? -HALO_EIO : fd;
}

int snap_load(kv_server *srv, const char *path, repl_history *pos_out)
{
    char dir[PATH_MAX];
    const char *name;
    int dir_fd = open_parent(path, dir, sizeof(dir), &name);
    if (dir_fd < 0) return dir_fd;
    aof_replay r;
    aof_replay_begin(&r, srv, dir_fd, dir);
    r.what = "full-sync snapshot";
    r.refusal = "refusing the snapshot";
    int64_t size = 0;
    int rc = aof_replay_file(&r, name, AOF_FILE_BASE, &size);
    aof_replay_end(&r);
    close(dir_fd);
    if (rc == 0 && !r.has_pos) {
        log_error("full-sync snapshot %s holds no position record (HALOPOS); refusing the snapshot",
                  path);
        rc = -HALO_ECORRUPT;
    }
    if (rc == 0) *pos_out = r.pos;
    return rc;
}
