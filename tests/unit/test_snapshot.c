/* test_snapshot.c — full-sync snapshots in-process: fork/poll/load round trip, corruption refused, install as the AOF BASE. */
#include "test.h"
#include "kv_fixture.h"
#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "kv/client.h"
#include "kv/cmd.h"
#include "kv/config.h"
#include "kv/subsys.h"
#include "kv/types.h"
#include "persist/aof.h"
#include "persist/aof_int.h"
#include "persist/snapshot.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------ fixture */

/* A node with its AOF open in a fresh directory. */
static void node_setup(void)
{
    node_setup_named("snap");
    CHECK_EQ_INT(aof_open_and_load(&srv, &srv.aof), 0);
}

static bool pos_eq(const repl_history *a, const repl_history *b)
{
    if (a->n != b->n || a->end != b->end) return false;
    for (int i = 0; i < a->n; i++)
        if (a->seg[i].epoch != b->seg[i].epoch || a->seg[i].start != b->seg[i].start) return false;
    return true;
}

/* The keyspace digest DEBUG DIGEST reports (debug.c), folded to one number. */
static uint64_t db_digest(kv_db *db)
{
    uint64_t d[2];
    debug_db_digest(db, d);
    return d[0] ^ (d[1] * 31);
}

/* ------------------------------------------------------------ helpers */

static const repl_history POS = {.seg = {{2, 0}, {5, 1000}}, .n = 2, .end = 123456};

/* Keys of every type, with and without a TTL. */
static void populate(int nkeys)
{
    char k[32], v[32];
    for (int i = 0; i < nkeys; i++) {
        snprintf(k, sizeof(k), "s%d", i);
        snprintf(v, sizeof(v), "value-%d", i);
        run("SET", k, v, NULL, NULL);
    }
    run("SET", "ttl", "x", "PX", "1000000");
    run("RPUSH", "list", "a", "b", "c");
    run("HSET", "hash", "f1", "v1", NULL);
    run("HSET", "hash", "f2", "v2", NULL);
    run("SADD", "set", "m1", "m2", "m3");
    run("ZADD", "zset", "1.5", "z1", NULL);
    run("ZADD", "zset", "2", "z2", NULL);
    run("PEXPIRE", "hash", "1000000", NULL, NULL);
    aof_flush(srv.aof);
}

/* Wait for the job's end (bounded: 20 s). */
static int poll_done(snap_job *job)
{
    for (int i = 0; i < 2000; i++) {
        int rc = snap_poll(job);
        if (rc != 0) return rc;
        usleep(10000);
    }
    snap_abort(job);
    return -HALO_EAGAIN;
}

/* A finished snapshot of the current keyspace at POS, in the appendonlydir. */
static int make_snapshot(snap_job *job)
{
    int rc = snap_fork(&srv, aof_dir_fd(srv.aof), aof_dir(srv.aof), &POS, job);
    return rc == 0 ? poll_done(job) : rc;
}

/* Load path into a fresh keyspace (left in srv.db); the old one in *saved. */
static int load_fresh(const char *path, kv_db *saved, repl_history *pos)
{
    *saved = srv.db;
    db_init(&srv.db);
    return snap_load(&srv, path, pos);
}

static void restore_db(kv_db *saved)
{
    db_free(&srv.db);
    srv.db = *saved;
}

/* ------------------------------------------------------------ tests */

static void test_fork_poll_load(void)
{
    node_setup();
    populate(300);
    uint64_t want = db_digest(&srv.db);
    size_t keys = db_size(&srv.db);
    snap_job job;
    CHECK_EQ_INT(make_snapshot(&job), 1);
    CHECK_EQ_INT(job.pid, 0);
    CHECK(strstr(job.path, "/appendonlydir/temp-fullsync-") != NULL);
    struct stat st;
    CHECK(stat(job.path, &st) == 0 && st.st_size == job.size && job.size > 0);
    aof_info before, after;
    aof_get_info(srv.aof, &before);
    kv_db saved;
    repl_history pos;
    uint64_t dirty = srv.dirty;
    CHECK_EQ_INT(load_fresh(job.path, &saved, &pos), 0);
    CHECK(pos_eq(&pos, &POS));
    CHECK_EQ_INT(db_size(&srv.db), keys);
    CHECK(db_digest(&srv.db) == want);
    CHECK_EQ_INT(srv.dirty, dirty);
    CHECK_EQ_INT(srv.loading, 0);
    aof_get_info(srv.aof, &after); /* the AOF was not touched */
    CHECK_EQ_INT(after.current_size, before.current_size);
    CHECK_EQ_INT(after.pending_bytes, 0);
    restore_db(&saved);
    CHECK_EQ_INT(snap_poll(&job), -HALO_EINVAL); /* reaped already */
    char path[sizeof(job.path)];
    memcpy(path, job.path, sizeof(path));
    snap_abort(&job); /* removes a finished file too */
    CHECK(access(path, F_OK) != 0);
    node_teardown();
}

static void flip_byte(const char *path, off_t off)
{
    int fd = open(path, O_RDWR);
    char c = 0;
    CHECK(pread(fd, &c, 1, off) == 1);
    c ^= 0x20;
    CHECK(pwrite(fd, &c, 1, off) == 1);
    close(fd);
}

/* A damaged, cut, or position-less snapshot is refused. */
static void test_corrupt_refused(void)
{
    node_setup();
    populate(100);
    snap_job job;
    CHECK_EQ_INT(make_snapshot(&job), 1);
    kv_db saved;
    repl_history pos;
    flip_byte(job.path, job.size / 2);
    CHECK_EQ_INT(load_fresh(job.path, &saved, &pos), -HALO_ECORRUPT);
    restore_db(&saved);
    flip_byte(job.path, job.size / 2);
    CHECK_EQ_INT(load_fresh(job.path, &saved, &pos), 0);
    restore_db(&saved);
    flip_byte(job.path, 20); /* inside the HALOPOS record */
    CHECK_EQ_INT(load_fresh(job.path, &saved, &pos), -HALO_ECORRUPT);
    restore_db(&saved);
    CHECK_EQ_INT(aof_install_snapshot(srv.aof, job.path), -HALO_ECORRUPT);
    flip_byte(job.path, 20);
    CHECK_EQ_INT(truncate(job.path, job.size - 5), 0); /* a snapshot may not end torn */
    CHECK_EQ_INT(load_fresh(job.path, &saved, &pos), -HALO_ECORRUPT);
    restore_db(&saved);
    /* A plain dump without a position is no snapshot. */
    int fd = open(job.path, O_WRONLY | O_TRUNC);
    CHECK_EQ_INT(aof_write_base(&srv.db, fd, NULL, time_ms()), 0);
    close(fd);
    CHECK_EQ_INT(load_fresh(job.path, &saved, &pos), -HALO_ECORRUPT);
    restore_db(&saved);
    CHECK_EQ_INT(aof_install_snapshot(srv.aof, job.path), -HALO_ECORRUPT);
    CHECK(access(job.path, F_OK) == 0); /* left to the caller */
    snap_abort(&job);
    CHECK(access(job.path, F_OK) != 0);
    CHECK_EQ_INT(reopen(), 0); /* the AOF is intact */
    CHECK_EQ_INT(db_size(&srv.db), 105);
    node_teardown();
}

/* Install: the snapshot becomes the BASE, a fresh INCR follows, the old
 * files go, the position continues from the snapshot's. */
static void test_install(void)
{
    node_setup();
    populate(200);
    uint64_t snap_digest = db_digest(&srv.db);
    snap_job job;
    CHECK_EQ_INT(make_snapshot(&job), 1);
    run("SET", "late", "1", NULL, NULL); /* in the old dataset only */
    aof_flush(srv.aof);
    kv_db saved;
    repl_history pos;
    CHECK_EQ_INT(load_fresh(job.path, &saved, &pos), 0);
    db_free(&saved); /* swapped: the node now holds the snapshot's data */
    CHECK(db_find(&srv.db, "late", 4) == NULL);
    CHECK_EQ_INT(aof_rewrite_start(srv.aof), 0); /* not reaped yet: the install kills it */
    run("SET", "unwritten", "1", NULL, NULL);    /* fed, not written: dropped */
    CHECK_EQ_INT(aof_install_snapshot(srv.aof, job.path), 0);
    db_delete(&srv.db, "unwritten", 9);
    CHECK(access(job.path, F_OK) != 0);
    aof_info ai;
    aof_get_info(srv.aof, &ai);
    CHECK(!ai.rewrite_in_progress);
    CHECK_EQ_INT(ai.base_size, job.size);
    CHECK_EQ_INT(ai.pending_bytes, 0);
    repl_history h;
    CHECK(aof_loaded_pos(srv.aof, &h) && pos_eq(&h, &POS));
    char dir[128];
    snprintf(dir, sizeof(dir), "%s/appendonlydir", tmpdir);
    CHECK_EQ_INT(count_files(dir), 3); /* manifest, base, incr */
    CHECK_EQ_INT(srv.aof->man.nincr, 1);
    /* The stream goes on from the snapshot's position. */
    repl_history want = POS;
    want.seg[want.n++] = (repl_segment){6, want.end};
    aof_feed_pos(srv.aof, &want);
    run("SET", "after", "2", NULL, NULL);
    want.end += strlen("*3\r\n$3\r\nSET\r\n$5\r\nafter\r\n$1\r\n2\r\n");
    uint64_t final = db_digest(&srv.db);
    CHECK(final != snap_digest);
    CHECK_EQ_INT(reopen(), 0);
    CHECK(db_digest(&srv.db) == final);
    CHECK(db_find(&srv.db, "late", 4) == NULL && db_find(&srv.db, "unwritten", 9) == NULL);
    CHECK(aof_loaded_pos(srv.aof, &h) && pos_eq(&h, &want));
    /* A rewrite after it keeps the position. */
    CHECK_EQ_INT(aof_rewrite_start(srv.aof), 0);
    for (int i = 0; i < 1000 && (srv.aof->child > 0 || srv.aof->rewrites == 0); i++) {
        aof_cron(srv.aof);
        usleep(10000);
    }
    CHECK_EQ_INT(srv.aof->rewrites, 1);
    CHECK_EQ_INT(reopen(), 0);
    CHECK(db_digest(&srv.db) == final);
    CHECK(aof_loaded_pos(srv.aof, &h) && pos_eq(&h, &want));
    CHECK_EQ_INT(count_files(dir), 3);
    node_teardown();
}

static void test_abort_and_failure(void)
{
    node_setup();
    populate(2000);
    snap_job job;
    CHECK_EQ_INT(snap_fork(&srv, aof_dir_fd(srv.aof), aof_dir(srv.aof), &POS, &job), 0);
    char path[sizeof(job.path)];
    memcpy(path, job.path, sizeof(path));
    snap_abort(&job);
    CHECK_EQ_INT(job.pid, 0);
    CHECK(access(path, F_OK) != 0);
    snap_abort(&job); /* twice is harmless */
    /* The child cannot create its file: a failure, nothing left behind. */
    char gone[128];
    snprintf(gone, sizeof(gone), "%s/gone", tmpdir);
    CHECK_EQ_INT(mkdir(gone, 0755), 0);
    int fd = open(gone, O_RDONLY | O_DIRECTORY);
    CHECK_EQ_INT(rmdir(gone), 0);
    CHECK_EQ_INT(snap_fork(&srv, fd, gone, &POS, &job), 0);
    CHECK_EQ_INT(poll_done(&job), -HALO_EIO);
    CHECK_EQ_INT(job.pid, 0);
    CHECK_EQ_INT(job.path[0], 0);
    close(fd);
    node_teardown();
}

int main(void)
{
    log_set_level(getenv("HALO_TEST_VERBOSE") ? LOG_DEBUG : LOG_ERROR + 1);
    cmd_table_init();
    RUN(test_fork_poll_load);
    RUN(test_corrupt_refused);
    RUN(test_install);
    RUN(test_abort_and_failure);
    return TEST_REPORT();
}
