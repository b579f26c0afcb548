/* kv_fixture.h — an in-process kv node with its AOF in a temp directory, for unit tests of persistence. */
#ifndef HALO_TEST_KV_FIXTURE_H
#define HALO_TEST_KV_FIXTURE_H

#include "test.h"
#include "common/mem.h"
#include "kv/client.h"
#include "kv/cmd.h"
#include "kv/config.h"
#include "kv/subsys.h"
#include "persist/aof.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Header-only: each test program includes it once. */
static kv_server srv;
static char tmpdir[64];

static void rm_rf(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
            char sub[512];
            snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
            rm_rf(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* A node with appendonly yes, appendfsync always, in a fresh directory
 * /tmp/halo-test-<name>-XXXXXX; the AOF is not opened yet. */
/* Entries of dir, not counting dot files. */
static __attribute__((unused)) int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) n += de->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

static void node_setup_named(const char *name)
{
    memset(&srv, 0, sizeof(srv));
    config_defaults(&srv.cfg);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/halo-test-%s-XXXXXX", name);
    CHECK(mkdtemp(tmpdir) != NULL);
    hfree(srv.cfg.dir);
    srv.cfg.dir = hstrdup(tmpdir);
    srv.cfg.appendonly = true;
    srv.cfg.appendfsync = FSYNC_ALWAYS;
    srv.lock_fd = -1;
    srv.loop = uv_default_loop();
    db_init(&srv.db);
    buf_init(&srv.prop);
    buf_init(&srv.prop_cmd);
    watch_init(&srv);
    block_init(&srv);
    pubsub_init(&srv);
}

static void node_teardown(void)
{
    if (srv.aof) aof_close(srv.aof);
    srv.aof = NULL;
    pubsub_free(&srv);
    block_free(&srv);
    watch_free(&srv);
    db_free(&srv.db);
    buf_free(&srv.prop);
    buf_free(&srv.prop_cmd);
    config_free(&srv.cfg);
    rm_rf(tmpdir);
}

/* Run one command as a client would (propagated to the AOF). */
static void run(const char *a0, const char *a1, const char *a2, const char *a3, const char *a4)
{
    const char *args[5] = {a0, a1, a2, a3, a4};
    resp_arg argv[5];
    int argc = 0;
    while (argc < 5 && args[argc]) {
        argv[argc].ptr = args[argc];
        argv[argc].len = strlen(args[argc]);
        argc++;
    }
    kv_client *c = client_new_fake(&srv);
    c->argc = argc;
    c->argv = argv;
    const kv_cmd *cmd = cmd_lookup(a0, strlen(a0));
    CHECK(cmd != NULL);
    if (cmd) cmd_call(c, cmd);
    c->argc = 0;
    c->argv = NULL;
    client_free_fake(c);
}

/* Close the AOF, empty the keyspace and load the AOF again. */
static int reopen(void)
{
    if (srv.aof) aof_close(srv.aof);
    srv.aof = NULL;
    db_flush(&srv.db);
    return aof_open_and_load(&srv, &srv.aof);
}

#endif
