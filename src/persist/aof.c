/* aof.c — the append-only log of `halo kv`: files under a manifest, load and recovery, writes, fsync policy.
 *
 * Design (docs/persistence.md says the same for operators):
 *
 * Files. Everything lives in <dir>/appendonlydir/, as Redis 7's multi-part
 * AOF: a manifest "<appendfilename>.manifest" names one BASE file (a
 * snapshot of the keyspace written by a rewrite) and the INCR files that
 * follow it, in replay order; the last INCR file receives appends. The
 * manifest is replaced atomically: written to a temp file, fsynced, renamed
 * over the old one, then the directory fsynced. The manifest is the truth:
 * at start-up files of ours that it does not list are leftovers of a crash
 * between two steps and are deleted.
 *
 * Records. Commands are RESP arrays, exactly as propagated by the dispatcher
 * (cmd.c hands one event's propagation to aof_feed). Everything fed between
 * two aof_flush calls is one batch, written as one write() and closed by a
 * checksum record "HALOCRC <crc32 hex>" (aof_format.h). A MULTI/EXEC arrives
 * as one propagation, so it is inside one batch and atomic on load.
 *
 * Loading replays the BASE and then each INCR file through cmd_lookup and
 * cmd_call with a fake client, srv->loading set (nothing is propagated again)
 * and db.no_expire set (a TTL that passed while the node was down is then
 * applied by normal expiry, which propagates a DEL). A batch is applied only
 * once its checksum matched. The end of the LAST INCR file may hold a torn
 * batch (a crash during a write): with aof-load-truncated yes the file is
 * truncated to the last good batch with a warning naming the file, offset
 * and bytes dropped; with no, start-up is refused. Anything else — bad bytes
 * or a checksum mismatch before the tail, a torn end of any other file, an
 * unknown command — refuses start-up naming the file and offset: garbage is
 * never loaded silently.
 *
 * Durability. net.c calls aof_flush after each loop poll, before any reply
 * is sent, and holds all replies while it fails; so:
 *   always   — aof_flush writes and fdatasyncs before returning: every
 *              acknowledged write is on disk, one fsync per loop iteration
 *              for all clients (group commit). A failed fsync ends the
 *              process: after one, the kernel may have dropped the dirty
 *              pages and a retry can report success for lost data.
 *   everysec — a background thread fdatasyncs at most once a second, so the
 *              loop never waits for the disk; up to ~1 s of acknowledged
 *              writes can be lost on power failure (not on a process crash).
 *   no       — the kernel decides when to write back.
 * A failed write keeps the unwritten bytes, returns -HALO_EIO (replies stay
 * held), logs, and is retried by aof_cron.
 *
 * Rewrite (aof_rewrite.c). BGREWRITEAOF, or automatically when the AOF grew
 * past auto-aof-rewrite-percentage over the BASE and past
 * auto-aof-rewrite-min-size. The parent first flushes and fsyncs the current
 * INCR file, opens a new INCR file and lists it in the manifest, then forks;
 * from then on it appends to the new INCR file. The child writes the
 * keyspace as a new BASE file (checksummed batches), fsyncs it and exits.
 * aof_cron reaps it: on success the parent renames the file into place,
 * writes a manifest of the new BASE plus the INCR files opened since the
 * fork, and deletes the old files; on failure it logs and keeps the old
 * files (the manifest already lists them and the new INCR file). One
 * rewrite at a time: a request while one runs (or inside EXEC) is scheduled.
 *
 * Positions. The replication log is the stream given to aof_feed, addressed
 * by byte offset. aof_feed_pos puts a HALOPOS record (aof_format.h) in the
 * pending batch; kv_aof.pos follows it and every byte fed after it, loading
 * recomputes it from the files (aof_replay_file says how BASE and INCR files
 * count), and a rewrite writes the position at the fork as the first batch of
 * its BASE file. aof_install_snapshot (aof_rewrite.c) makes a full-sync
 * snapshot (snapshot.c) the BASE file, the AOF's position then its own.
 */
#include "aof_int.h"
#include "../common/err.h"
#include "../common/log.h"
#include "../common/mem.h"
#include "../common/util.h"
#include "../kv/client.h"
#include "../kv/cmd.h"
#include "../kv/server.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define AOF_DIRNAME "appendonlydir"
/* Buffers bigger than this after a flush are freed rather than kept. */
#define AOF_BUF_KEEP_MAX (1024 * 1024)
/* While writes fail, the error is logged at most this often. */
#define AOF_ERR_LOG_INTERVAL_MS 10000
/* An everysec fsync still running after this long counts as delayed. */
#define AOF_FSYNC_DELAY_MS 2000

/* ------------------------------------------------------------ small I/O */

int aof_write_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return n == 0 ? -ENOSPC : -errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

void aof_fsync_dir(kv_aof *aof)
{
    if (fsync(aof->dir_fd) != 0)
        log_warn("cannot fsync directory %s: %s", aof->dir, strerror(errno));
}

int64_t aof_file_size(kv_aof *aof, const char *name)
{
    struct stat st;
    if (fstatat(aof->dir_fd, name, &st, 0) != 0) return -1;
    return (int64_t)st.st_size;
}

static int create_empty(kv_aof *aof, const char *name, int flags)
{
    int fd = openat(aof->dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | flags, 0644);
    if (fd < 0) {
        log_error("cannot create %s/%s: %s", aof->dir, name, strerror(errno));
        return -HALO_EIO;
    }
    return fd;
}

/* Read a whole small file (the manifest): -HALO_ENOTFOUND if absent. */
static int read_small(kv_aof *aof, const char *name, buf *out)
{
    int fd = openat(aof->dir_fd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? -HALO_ENOTFOUND : -HALO_EIO;
    struct stat st;
    int rc = fstat(fd, &st) == 0 ? 0 : -HALO_EIO;
    if (rc == 0 && st.st_size > AOF_MANIFEST_MAX_BYTES) rc = -HALO_ETOOBIG;
    if (rc == 0) {
        buf_reserve(out, (size_t)st.st_size + 1);
        ssize_t n;
        while ((n = read(fd, out->data + out->len, out->cap - out->len)) != 0) {
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 || out->len + (size_t)n > AOF_MANIFEST_MAX_BYTES) {
                rc = n < 0 ? -HALO_EIO : -HALO_ETOOBIG;
                break;
            }
            out->len += (size_t)n;
            if (out->len == out->cap) buf_reserve(out, 4096);
        }
    }
    close(fd);
    return rc;
}

/* ------------------------------------------------------------ manifest */

static void manifest_name(const kv_aof *aof, char *out, size_t cap, bool temp)
{
    snprintf(out, cap, "%s%s.manifest", temp ? "temp-" : "", aof->prefix);
}

int aof_persist_manifest(kv_aof *aof, const aof_manifest *man)
{
    char tmp[PATH_MAX], final[PATH_MAX];
    manifest_name(aof, tmp, sizeof(tmp), true);
    manifest_name(aof, final, sizeof(final), false);
    int fd = create_empty(aof, tmp, 0);
    if (fd < 0) return -HALO_EIO;
    buf text;
    buf_init(&text);
    aof_manifest_format(man, &text);
    int err = -aof_write_all(fd, text.data, text.len);
    buf_free(&text);
    if (err == 0 && fsync(fd) != 0) err = errno;
    if (close(fd) != 0 && err == 0) err = errno;
    if (err == 0 && renameat(aof->dir_fd, tmp, aof->dir_fd, final) != 0) err = errno;
    if (err != 0) {
        log_error("cannot write the AOF manifest %s/%s: %s", aof->dir, final, strerror(err));
        unlinkat(aof->dir_fd, tmp, 0);
        return -HALO_EIO;
    }
    aof_fsync_dir(aof);
    return 0;
}

int aof_push_incr(kv_aof *aof, const aof_manifest *from, aof_manifest *prev, int *fd_out)
{
    aof_file_ent e;
    e.seq = aof->next_seq;
    if (!aof_file_name(e.name, sizeof(e.name), aof->prefix, e.seq, false)) return -HALO_ECONFIG;
    int fd = create_empty(aof, e.name, O_APPEND);
    if (fd < 0) return fd;
    aof_manifest next;
    aof_manifest_copy(&next, from);
    aof_manifest_push_incr(&next, &e);
    if (aof_persist_manifest(aof, &next) != 0) {
        close(fd);
        unlinkat(aof->dir_fd, e.name, 0);
        aof_manifest_free(&next);
        return -HALO_EIO;
    }
    aof->next_seq++;
    if (prev) *prev = aof->man;
    else aof_manifest_free(&aof->man);
    aof->man = next;
    *fd_out = fd;
    return 0;
}

/* A new INCR file after the current ones. */
static int add_new_incr(kv_aof *aof, int *fd_out)
{
    return aof_push_incr(aof, &aof->man, NULL, fd_out);
}

/* ------------------------------------------------------------ directory */

/* Whether name is "<prefix>.<digits>.base.aof" or ".incr.aof". */
static bool is_our_file(const kv_aof *aof, const char *name)
{
    size_t pl = strlen(aof->prefix), nl = strlen(name);
    if (nl <= pl + 1 || memcmp(name, aof->prefix, pl) != 0 || name[pl] != '.') return false;
    const char *p = name + pl + 1;
    size_t digits = 0;
    while (p[digits] >= '0' && p[digits] <= '9') digits++;
    if (digits == 0) return false;
    return strcmp(p + digits, ".base.aof") == 0 || strcmp(p + digits, ".incr.aof") == 0;
}

static bool has_prefix(const char *name, const char *prefix)
{
    return strncmp(name, prefix, strlen(prefix)) == 0;
}

static bool is_temp_file(const kv_aof *aof, const char *name)
{
    char tmp[PATH_MAX];
    manifest_name(aof, tmp, sizeof(tmp), true);
    return has_prefix(name, AOF_TEMP_REWRITE) || has_prefix(name, AOF_TEMP_FULLSYNC) ||
           strcmp(name, tmp) == 0;
}

static bool is_manifest_name(const char *name)
{
    size_t n = strlen(name);
    return n > 9 && strcmp(name + n - 9, ".manifest") == 0;
}

/* One directory entry of clean_dir: leave it, remove it, or refuse. */
static int clean_entry(kv_aof *aof, const char *name, bool have_manifest)
{
    bool ours = is_our_file(aof, name), temp = is_temp_file(aof, name);
    if (!have_manifest && !temp && is_manifest_name(name))
        log_warn("%s/%s is the manifest of an AOF under another appendfilename; it is not "
                 "loaded (appendfilename is %s)", aof->dir, name, aof->prefix);
    if ((!ours && !temp) || (ours && have_manifest && aof_manifest_has(&aof->man, name))) return 0;
    if (ours && !have_manifest && aof_file_size(aof, name) != 0) {
        log_error("%s/%s holds data but the manifest %s.manifest is missing; refusing to "
                  "start (restore the manifest, or move the files away to start empty)",
                  aof->dir, name, aof->prefix);
        return -HALO_ECORRUPT;
    }
    if (unlinkat(aof->dir_fd, name, 0) == 0)
        log_notice("removed %s/%s: not part of the AOF (left over from an interrupted %s)",
                   aof->dir, name, has_prefix(name, AOF_TEMP_FULLSYNC) ? "full sync" : "step");
    else
        log_warn("cannot remove %s/%s, which is not part of the AOF: %s", aof->dir, name,
                 strerror(errno));
    return 0;
}

/* With a manifest: delete our files it does not list (a crash between
 * writing a file and the manifest naming it, or between the manifest and
 * deleting what it replaced) and temp files. Without one: only empty files of
 * ours may exist (a crash while creating the first files); anything else
 * means the manifest is lost, and starting empty would hide data. */
static int clean_dir(kv_aof *aof, bool have_manifest)
{
    int fd = openat(aof->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        log_error("cannot list %s: %s", aof->dir, strerror(errno));
        if (fd >= 0) close(fd);
        return -HALO_EIO;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) rc = clean_entry(aof, de->d_name, have_manifest);
    closedir(d);
    return rc;
}

/* ------------------------------------------------------------ loading */

typedef struct load_ctx {
    aof_replay *r;
    const char *file;
} load_ctx;

static int replay_cmd(void *priv, int argc, const resp_arg *argv, size_t off)
{
    load_ctx *lc = priv;
    aof_replay *r = lc->r;
    const kv_cmd *cmd = cmd_lookup(argv[0].ptr, argv[0].len);
    int shown = argv[0].len > 64 ? 64 : (int)argv[0].len;
    if (cmd == NULL) {
        log_error("%s %s/%s: unknown command '%.*s' at offset %zu; %s", r->what, r->dir, lc->file,
                  shown, argv[0].ptr, off, r->refusal);
        return -HALO_ECORRUPT;
    }
    if ((cmd->arity > 0 && argc != cmd->arity) || (cmd->arity < 0 && argc < -cmd->arity)) {
        log_error("%s %s/%s: wrong number of arguments for '%s' at offset %zu; %s", r->what, r->dir,
                  lc->file, cmd->name, off, r->refusal);
        return -HALO_ECORRUPT;
    }
    /* The batch is the transaction's atomic unit already. */
    if (strcmp(cmd->name, "multi") == 0 || strcmp(cmd->name, "exec") == 0) return 0;
    kv_client *c = r->fake;
    c->argc = argc;
    c->argv = (resp_arg *)argv;
    cmd_call(c, cmd);
    c->argc = 0;
    c->argv = NULL;
    return 0;
}

/* A torn end of the last INCR file: cut it off, or refuse by configuration. */
static int handle_torn(aof_replay *r, const char *name, int fd, size_t len,
                       const aof_scan_result *res, bool last)
{
    size_t dropped = len - res->good_len;
    if (!last) {
        log_error("%s %s/%s ends inside a batch at offset %zu (%zu bytes after the last "
                  "complete batch); only the last INCR file may have a torn tail; %s", r->what,
                  r->dir, name, res->good_len, dropped, r->refusal);
        return -HALO_ECORRUPT;
    }
    if (!r->srv->cfg.aof_load_truncated) {
        log_error("AOF %s/%s has a torn tail at offset %zu (%zu bytes of an unfinished write) "
                  "and aof-load-truncated is no; refusing to start", r->dir, name,
                  res->good_len, dropped);
        return -HALO_ECORRUPT;
    }
    if (ftruncate(fd, (off_t)res->good_len) != 0 || fsync(fd) != 0) {
        log_error("cannot truncate %s/%s: %s", r->dir, name, strerror(errno));
        return -HALO_EIO;
    }
    log_warn("!!! AOF %s/%s: torn tail at offset %zu: %zu bytes of an unfinished write dropped; "
             "the file was truncated to %zu bytes, its last complete batch", r->dir, name,
             res->good_len, dropped, res->good_len);
    return 0;
}

/* The position where the file ends, from where the files before it ended. */
static void advance_pos(aof_replay *r, const aof_scan_result *res, int kind)
{
    if (res->has_pos) {
        r->has_pos = true;
        r->pos = res->pos;
        if (kind != AOF_FILE_BASE) r->pos.end += res->cmd_bytes;
    } else {
        r->pos.end += res->cmd_bytes;
    }
}

static int scan_mapped(aof_replay *r, const char *name, int fd, size_t len, int kind)
{
    char *map = NULL;
    if (len > 0) {
        /* Private and writable: a command may scribble on its argv. */
        map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            log_error("cannot map %s/%s: %s", r->dir, name, strerror(errno));
            return -HALO_EIO;
        }
        madvise(map, len, MADV_SEQUENTIAL);
    }
    load_ctx lc = {r, name};
    aof_scan_result res;
    aof_scan(map, len, replay_cmd, &lc, &res);
    if (map) munmap(map, len);
    int rc = 0;
    if (res.status == AOF_SCAN_TORN) {
        rc = handle_torn(r, name, fd, len, &res, kind == AOF_FILE_INCR_LAST);
    } else if (res.status == AOF_SCAN_CORRUPT) {
        log_error("%s %s/%s is corrupt at offset %zu: %s; %s (it must be repaired or removed by "
                  "an operator; nothing is loaded past bad data)", r->what, r->dir, name,
                  res.err_off, res.err, r->refusal);
        rc = -HALO_ECORRUPT;
    } else if (res.status == AOF_SCAN_STOPPED) {
        rc = res.apply_rc;
    }
    if (rc != 0) return rc;
    advance_pos(r, &res, kind);
    log_notice("%s %s/%s loaded: %llu batches, %llu commands, %zu bytes", r->what, r->dir, name,
               (unsigned long long)res.batches, (unsigned long long)res.commands, res.good_len);
    return 0;
}

void aof_replay_begin(aof_replay *r, kv_server *srv, int dir_fd, const char *dir)
{
    memset(r, 0, sizeof(*r));
    r->srv = srv;
    r->dir_fd = dir_fd;
    r->dir = dir;
    r->what = "AOF";
    r->refusal = "refusing to start";
    r->fake = client_new_fake(srv);
    r->was_loading = srv->loading;
    r->was_no_expire = srv->db.no_expire;
    r->was_hide_expired = srv->db.hide_expired;
    r->dirty = srv->dirty;
    srv->loading = 1;
    srv->db.no_expire = true;
    srv->db.hide_expired = false; /* the log's commands see keys as they are */
}

void aof_replay_end(aof_replay *r)
{
    kv_server *srv = r->srv;
    srv->loading = r->was_loading;
    srv->db.no_expire = r->was_no_expire;
    srv->db.hide_expired = r->was_hide_expired;
    srv->dirty = r->dirty;
    client_free_fake(r->fake);
    r->fake = NULL;
}

int aof_replay_file(aof_replay *r, const char *name, int kind, int64_t *size)
{
    bool last = kind == AOF_FILE_INCR_LAST;
    int fd = openat(r->dir_fd, name, (last ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) {
        log_error("cannot open %s/%s: %s", r->dir, name, strerror(errno));
        return -HALO_EIO;
    }
    struct stat st;
    int rc = fstat(fd, &st) == 0 ? 0 : -HALO_EIO;
    if (rc == 0) rc = scan_mapped(r, name, fd, (size_t)st.st_size, kind);
    if (rc == 0 && fstat(fd, &st) == 0) *size = (int64_t)st.st_size;
    close(fd);
    return rc;
}

static int load_all(kv_aof *aof)
{
    aof_replay r;
    aof_replay_begin(&r, aof->srv, aof->dir_fd, aof->dir);
    int rc = aof_replay_file(&r, aof->man.base.name, AOF_FILE_BASE, &aof->base_size);
    aof->incr_size = 0;
    for (size_t i = 0; rc == 0 && i < aof->man.nincr; i++) {
        int64_t size = 0;
        int kind = i + 1 == aof->man.nincr ? AOF_FILE_INCR_LAST : AOF_FILE_INCR;
        rc = aof_replay_file(&r, aof->man.incr[i].name, kind, &size);
        aof->incr_size += size;
    }
    aof->pos = r.pos;
    aof->pos_known = r.has_pos;
    aof_replay_end(&r);
    if (rc == 0 && aof->pos_known)
        log_notice("AOF position: offset %llu, %d history segments",
                   (unsigned long long)aof->pos.end, aof->pos.n);
    return rc;
}

/* ------------------------------------------------------------ open */

static int read_manifest(kv_aof *aof, bool *found)
{
    char name[PATH_MAX], err[160];
    manifest_name(aof, name, sizeof(name), false);
    buf text;
    buf_init(&text);
    int rc = read_small(aof, name, &text);
    *found = rc != -HALO_ENOTFOUND;
    if (rc == -HALO_ENOTFOUND) rc = 0;
    else if (rc != 0) log_error("cannot read the AOF manifest %s/%s: %s", aof->dir, name, halo_strerror(rc));
    else if ((rc = aof_manifest_parse(&aof->man, text.data, text.len, err, sizeof(err))) != 0)
        log_error("the AOF manifest %s/%s is invalid (%s); refusing to start", aof->dir, name, err);
    buf_free(&text);
    return rc;
}

/* A new AOF: an empty BASE file and an INCR file, then the manifest. */
static int create_fresh(kv_aof *aof)
{
    aof->man.base.seq = 1;
    aof->next_seq = 2;
    if (!aof_file_name(aof->man.base.name, sizeof(aof->man.base.name), aof->prefix, 1, true))
        return -HALO_ECONFIG;
    int fd = create_empty(aof, aof->man.base.name, 0);
    if (fd < 0) return fd;
    int rc = fsync(fd) == 0 ? 0 : -HALO_EIO;
    close(fd);
    if (rc == 0) rc = add_new_incr(aof, &aof->fd);
    if (rc == 0) log_notice("created a new AOF in %s (manifest %s.manifest)", aof->dir, aof->prefix);
    return rc;
}

static int open_tail(kv_aof *aof)
{
    if (aof->man.nincr == 0) return add_new_incr(aof, &aof->fd);
    const char *name = aof->man.incr[aof->man.nincr - 1].name;
    aof->fd = openat(aof->dir_fd, name, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (aof->fd < 0) {
        log_error("cannot open %s/%s for appending: %s", aof->dir, name, strerror(errno));
        return -HALO_EIO;
    }
    return 0;
}

static int open_dir(kv_aof *aof)
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s/%s", aof->srv->cfg.dir, AOF_DIRNAME);
    if (n < 0 || (size_t)n >= sizeof(path)) return -HALO_ECONFIG;
    aof->dir = hstrdup(path);
    if (mkdir(path, 0755) == 0) {
        /* The new directory's own entry must survive a power loss too. */
        int parent = open(aof->srv->cfg.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (parent >= 0) {
            fsync(parent);
            close(parent);
        }
    } else if (errno != EEXIST) {
        log_error("cannot create %s: %s", path, strerror(errno));
        return -HALO_EIO;
    }
    aof->dir_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (aof->dir_fd < 0) {
        log_error("cannot open %s: %s", path, strerror(errno));
        return -HALO_EIO;
    }
    return 0;
}

static void *bio_main(void *arg);

static int bio_start(kv_aof *aof)
{
    aof_bio *b = &aof->bio;
    b->job_fd = -1;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    /* Signals go to the loop thread (libuv's handlers), never to this one. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&b->thread, NULL, bio_main, b);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        log_error("cannot start the AOF fsync thread: %s", strerror(rc));
        return -HALO_ENOMEM;
    }
    b->started = true;
    return 0;
}

static int open_files(kv_aof *aof)
{
    const char *name = aof->srv->cfg.appendfilename;
    if (name == NULL || !aof_name_ok(name, strlen(name)) || strlen(name) > AOF_NAME_MAX - 40) {
        log_error("appendfilename must be a plain file name (no '/'), at most %d bytes",
                  AOF_NAME_MAX - 40);
        return -HALO_ECONFIG;
    }
    aof->prefix = hstrdup(name);
    int rc = open_dir(aof);
    bool found = false;
    if (rc == 0) rc = read_manifest(aof, &found);
    if (rc == 0) rc = clean_dir(aof, found);
    if (rc == 0 && !found) return create_fresh(aof);
    if (rc != 0) return rc;
    aof->next_seq = aof_manifest_max_seq(&aof->man) + 1;
    rc = load_all(aof);
    if (rc == 0) rc = open_tail(aof);
    return rc;
}

static void aof_free(kv_aof *aof)
{
    if (aof->bio.started) {
        pthread_mutex_lock(&aof->bio.mu);
        aof->bio.stop = true;
        pthread_cond_broadcast(&aof->bio.cv);
        pthread_mutex_unlock(&aof->bio.mu);
        pthread_join(aof->bio.thread, NULL);
        pthread_mutex_destroy(&aof->bio.mu);
        pthread_cond_destroy(&aof->bio.cv);
    }
    if (aof->fd >= 0) close(aof->fd);
    if (aof->dir_fd >= 0) close(aof->dir_fd);
    aof_manifest_free(&aof->man);
    buf_free(&aof->pending);
    buf_free(&aof->staged);
    hfree(aof->dir);
    hfree(aof->prefix);
    hfree(aof);
}

int aof_open_and_load(struct kv_server *srv, kv_aof **out)
{
    kv_aof *aof = hcalloc(1, sizeof(*aof));
    aof->srv = srv;
    aof->fd = aof->dir_fd = -1;
    aof->fsync_policy = srv->cfg.appendfsync;
    aof->write_ok = aof->rewrite_ok = true;
    aof->last_rewrite_s = -1;
    aof->last_fsync_start_ms = time_ms();
    buf_init(&aof->pending);
    buf_init(&aof->staged);
    aof_manifest_init(&aof->man);
    int rc = open_files(aof);
    if (rc == 0) rc = bio_start(aof);
    if (rc != 0) {
        aof_free(aof);
        return rc;
    }
    *out = aof;
    srv->propagate = true; /* the AOF consumes every write's propagation */
    return 0;
}

/* ------------------------------------------------------------ writing */

void aof_feed(kv_aof *aof, const char *data, size_t len)
{
    if (aof == NULL || len == 0) return;
    buf_append(&aof->pending, data, len);
    aof->pos.end += len;
}

void aof_feed_pos(kv_aof *aof, const repl_history *pos)
{
    if (aof == NULL) return;
    if (!aof_pos_valid(pos)) {
        /* Written, it would make the AOF refuse to load: stop before that. */
        log_error("aof_feed_pos: invalid replication history (n %d, end %llu); aborting", pos->n,
                  (unsigned long long)pos->end);
        abort();
    }
    if (aof->pos_known && pos->end != aof->pos.end)
        log_warn("AOF position record at offset %llu, but the stream fed to the AOF ends at %llu",
                 (unsigned long long)pos->end, (unsigned long long)aof->pos.end);
    aof_format_pos(&aof->pending, pos);
    aof->pos = *pos;
    aof->pos_known = true;
}

bool aof_loaded_pos(const kv_aof *aof, repl_history *out)
{
    *out = aof->pos;
    return aof->pos_known;
}

void aof_set_pos_source(kv_aof *aof, aof_pos_fn fn, void *arg)
{
    aof->pos_fn = fn;
    aof->pos_arg = arg;
}

const char *aof_dir(const kv_aof *aof) { return aof->dir; }

int aof_dir_fd(const kv_aof *aof) { return aof->dir_fd; }

/* Close the pending commands into a batch at the end of staged. */
static void seal_pending(kv_aof *aof)
{
    if (aof->pending.len == 0) return;
    if (aof->staged.len == 0) {
        buf t = aof->staged;
        aof->staged = aof->pending;
        aof->pending = t;
        aof_seal_batch(&aof->staged, 0);
    } else {
        aof_frame_batch(&aof->staged, aof->pending.data, aof->pending.len);
        buf_reset(&aof->pending);
    }
    if (aof->pending.cap > AOF_BUF_KEEP_MAX) buf_free(&aof->pending);
}

static void note_write_error(kv_aof *aof, int err)
{
    aof->write_errors++;
    int64_t now = time_ms();
    if (aof->write_ok || now - aof->last_err_log_ms >= AOF_ERR_LOG_INTERVAL_MS) {
        log_warn("error writing to the AOF file %s/%s: %s; %zu bytes kept in memory, replies "
                 "held until the write succeeds (retrying)", aof->dir,
                 aof->man.incr[aof->man.nincr - 1].name, strerror(err), aof->staged.len);
        aof->last_err_log_ms = now;
    }
    aof->write_ok = false;
}

/* Write staged bytes; a short write keeps the rest for the next try. */
static int write_staged(kv_aof *aof)
{
    while (aof->staged.len) {
        ssize_t n = write(aof->fd, aof->staged.data, aof->staged.len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            note_write_error(aof, n == 0 ? ENOSPC : errno);
            return -HALO_EIO;
        }
        buf_consume(&aof->staged, (size_t)n);
        aof->incr_size += n;
        aof->unsynced = true;
    }
    if (aof->staged.cap > AOF_BUF_KEEP_MAX) buf_free(&aof->staged);
    if (!aof->write_ok) log_notice("AOF write error is solved: the AOF is being written again");
    aof->write_ok = true;
    return 0;
}

/* Ask the thread for an fdatasync if one is due (everysec). */
static void bg_fsync(kv_aof *aof)
{
    int64_t now = time_ms();
    if (!aof->unsynced || now - aof->last_fsync_start_ms < 1000) return;
    aof_bio *b = &aof->bio;
    pthread_mutex_lock(&b->mu);
    bool busy = b->busy || b->job_fd >= 0;
    int fd = busy ? -1 : fcntl(aof->fd, F_DUPFD_CLOEXEC, 0);
    if (fd >= 0) {
        b->job_fd = fd;
        pthread_cond_signal(&b->cv);
    }
    pthread_mutex_unlock(&b->mu);
    if (busy) {
        /* Counted once a second while an fsync runs late, as Redis's aof_delayed_fsync. */
        if (now - aof->last_fsync_start_ms >= AOF_FSYNC_DELAY_MS && now - aof->last_delay_ms >= 1000) {
            aof->delayed_fsync++;
            aof->last_delay_ms = now;
        }
        return;
    }
    if (fd < 0) {
        log_warn("cannot dup the AOF descriptor for fsync: %s", strerror(errno));
        return;
    }
    aof->unsynced = false;
    aof->last_fsync_start_ms = now;
}

static void sync_now(kv_aof *aof)
{
    if (fdatasync(aof->fd) != 0) {
        log_error("fdatasync of the AOF file %s/%s failed: %s; exiting: after a failed fsync "
                  "the kernel may have dropped the written pages, so no write may be "
                  "acknowledged (appendfsync always)", aof->dir,
                  aof->man.incr[aof->man.nincr - 1].name, strerror(errno));
        _exit(1);
    }
    aof->fsyncs++;
    aof->unsynced = false;
    aof->last_fsync_start_ms = aof->last_sync_ok_ms = time_ms();
}

int aof_flush(kv_aof *aof)
{
    seal_pending(aof);
    if (aof->staged.len == 0) return 0;
    if (write_staged(aof) != 0) return -HALO_EIO;
    if (aof->fsync_policy == FSYNC_ALWAYS) sync_now(aof);
    else if (aof->fsync_policy == FSYNC_EVERYSEC) bg_fsync(aof);
    return 0;
}

int aof_flush_and_sync(kv_aof *aof)
{
    if (aof_flush(aof) != 0) return -HALO_EIO;
    if (fdatasync(aof->fd) != 0) {
        log_error("fdatasync of the AOF failed: %s", strerror(errno));
        return -HALO_EIO;
    }
    aof->fsyncs++;
    aof->unsynced = false;
    aof->last_sync_ok_ms = time_ms();
    return 0;
}

int aof_switch_incr(kv_aof *aof)
{
    int rc = aof_flush_and_sync(aof);
    int fd = -1;
    if (rc == 0) rc = add_new_incr(aof, &fd);
    if (rc != 0) return rc;
    close(aof->fd);
    aof->fd = fd;
    return 0;
}

/* ------------------------------------------------------------ fsync thread */

static void *bio_main(void *arg)
{
    aof_bio *b = arg;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (b->job_fd < 0 && !b->stop) pthread_cond_wait(&b->cv, &b->mu);
        if (b->job_fd < 0) break; /* stop, with no job left */
        int fd = b->job_fd;
        b->job_fd = -1;
        b->busy = true;
        pthread_mutex_unlock(&b->mu);
        int rc = fdatasync(fd);
        int err = errno;
        close(fd);
        int64_t now = time_ms();
        pthread_mutex_lock(&b->mu);
        b->busy = false;
        if (rc == 0) {
            b->done++;
            b->last_ok_ms = now;
        } else {
            b->failed++;
            b->last_errno = err;
        }
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* Log what the thread reported; a failed fsync is retried at the next tick. */
static void bio_collect(kv_aof *aof)
{
    pthread_mutex_lock(&aof->bio.mu);
    int err = aof->bio.last_errno;
    aof->bio.last_errno = 0;
    pthread_mutex_unlock(&aof->bio.mu);
    if (err == 0) return;
    log_warn("background fsync of the AOF failed: %s; retrying", strerror(err));
    aof->unsynced = true;
}

/* ------------------------------------------------------------ cron, rewrite */

static bool auto_rewrite_due(kv_aof *aof)
{
    const kv_config *cfg = &aof->srv->cfg;
    int64_t cur = aof->base_size + aof->incr_size;
    if (cfg->auto_aof_rewrite_percentage <= 0 || cur < cfg->auto_aof_rewrite_min_size) return false;
    if (time_ms() < aof->auto_not_before_ms) return false;
    int64_t base = aof->base_size > 0 ? aof->base_size : 1;
    int64_t growth = cur / base * 100 + (cur % base) * 100 / base - 100;
    return growth >= cfg->auto_aof_rewrite_percentage;
}

void aof_cron(kv_aof *aof)
{
    if (aof->pending.len || aof->staged.len) aof_flush(aof);
    bio_collect(aof);
    if (aof->fsync_policy == FSYNC_EVERYSEC) bg_fsync(aof);
    aof_rewrite_check(aof);
    if (aof->child > 0 || !aof->write_ok) return;
    bool autostart = !aof->scheduled && auto_rewrite_due(aof);
    if (!aof->scheduled && !autostart) return;
    if (autostart)
        log_notice("starting automatic rewriting of the AOF on %lld%% growth",
                   (long long)aof->srv->cfg.auto_aof_rewrite_percentage);
    /* Events that finished but were not fed yet (active expiry's DELs) belong
     * before the fork, in the old INCR file: the snapshot includes them.
     * prop_flush hands them to every consumer, so the stream position the
     * rewrite asks for includes them too. */
    prop_flush(aof->srv);
    aof->scheduled = false;
    aof_rewrite_fork(aof);
}

int aof_rewrite_start(kv_aof *aof)
{
    kv_server *srv = aof->srv;
    /* Inside EXEC, or with propagation not yet fed, the fork's snapshot would
     * hold writes whose commands land in the new INCR file: replayed twice. */
    if (aof->child > 0 || srv->call_depth > 1 || srv->prop.len) {
        aof->scheduled = true;
        return 1;
    }
    return aof_rewrite_fork(aof) == 0 ? 0 : -HALO_EIO;
}

void aof_close(kv_aof *aof)
{
    if (aof == NULL) return;
    aof_rewrite_kill(aof, "at shutdown; the current AOF files stay");
    if (aof_flush_and_sync(aof) != 0)
        log_error("the AOF could not be written at shutdown: %zu bytes not saved",
                  aof->pending.len + aof->staged.len);
    aof_free(aof);
}

void aof_set_fsync(kv_aof *aof, int policy)
{
    if (policy == FSYNC_ALWAYS && aof->fsync_policy != FSYNC_ALWAYS && aof->unsynced) sync_now(aof);
    aof->fsync_policy = policy;
}

void aof_get_info(const kv_aof *aof, aof_info *out)
{
    memset(out, 0, sizeof(*out));
    aof_bio *b = (aof_bio *)&aof->bio;
    pthread_mutex_lock(&b->mu);
    uint64_t bg_done = b->done;
    int64_t bg_last = b->last_ok_ms;
    pthread_mutex_unlock(&b->mu);
    out->enabled = true;
    out->rewrite_in_progress = aof->child > 0;
    out->rewrite_scheduled = aof->scheduled;
    out->current_rewrite_time_s = aof->child > 0 ? (time_ms() - aof->child_start_ms) / 1000 : -1;
    out->last_write_ok = aof->write_ok;
    out->last_rewrite_ok = aof->rewrite_ok;
    out->current_size = aof->base_size + aof->incr_size;
    out->base_size = aof->base_size;
    out->last_rewrite_time_s = aof->last_rewrite_s;
    out->rewrites = aof->rewrites;
    out->fsyncs = aof->fsyncs + bg_done;
    out->write_errors = aof->write_errors;
    out->pending_bytes = aof->pending.len + aof->staged.len;
    out->last_fsync_ms = bg_last > aof->last_sync_ok_ms ? bg_last : aof->last_sync_ok_ms;
    out->delayed_fsync = aof->delayed_fsync;
}
