/* test_db_replica.c — a replica: reads hide TTL-passed keys, the stream sees them. */
#include "kv_fixture.h"
#include "common/log.h"
#include "common/util.h"

#include <stdbool.h>

/* The last reply, RESP text, NUL-terminated (truncated at the buffer). */
static char reply[4096];

/* Run one command (words split on spaces) and keep its reply. The client is
 * a fake one whose replies are kept: CLIENT_PENDING_WRITE stops it from being
 * queued for a socket write it does not have. */
static const char *call(const char *line)
{
    char words[512];
    resp_arg argv[16];
    int argc = 0;
    snprintf(words, sizeof(words), "%s", line);
    for (char *save = NULL, *w = strtok_r(words, " ", &save); w && argc < 16;
         w = strtok_r(NULL, " ", &save))
        argv[argc++] = (resp_arg){w, strlen(w)};
    kv_client *c = client_new_fake(&srv);
    c->flags = (c->flags & ~CLIENT_FAKE) | CLIENT_PENDING_WRITE;
    c->argc = argc;
    c->argv = argv;
    const kv_cmd *cmd = cmd_lookup(argv[0].ptr, argv[0].len);
    CHECK(cmd != NULL);
    if (cmd) cmd_call(c, cmd);
    size_t n = 0;
    for (reply_block *b = c->reply_head; b && n < sizeof(reply) - 1; b = b->next) {
        size_t take = b->used < sizeof(reply) - 1 - n ? b->used : sizeof(reply) - 1 - n;
        memcpy(reply + n, b->buf, take);
        n += take;
    }
    reply[n] = '\0';
    c->argc = 0;
    c->argv = NULL;
    client_free_fake(c);
    return reply;
}

#define CHECK_REPLY(line, want)                                                          \
    do {                                                                                 \
        const char *_got = call(line);                                                   \
        if (strcmp(_got, want) != 0) {                                                   \
            fprintf(stderr, "%s:%d: %s replied %s, expected %s\n", __FILE__, __LINE__,   \
                    line, _got, want);                                                   \
            t_failed_checks++;                                                           \
        }                                                                                \
    } while (0)

/* The roles' flags as the replication adapter sets them. */
static void as_primary(void) { srv.db.no_expire = srv.db.hide_expired = false; }
static void as_stream(void) { srv.db.no_expire = true; srv.db.hide_expired = false; }
static void as_replica(void) { srv.db.no_expire = srv.db.hide_expired = true; }

/* live (no TTL), later (future TTL), then gone and hgone given a past TTL by
 * the stream (PEXPIREAT 1 there keeps the key, as on a real replica). */
static void replica_setup(void)
{
    node_setup_named("dbrep");
    as_primary();
    call("SET live 1");
    call("SET later 2 PX 100000");
    call("SET gone 3");
    call("HSET hgone f v");
    as_stream();
    CHECK_REPLY("PEXPIREAT gone 1", ":1\r\n");
    CHECK_REPLY("PEXPIREAT hgone 1", ":1\r\n");
    CHECK_REPLY("EXISTS gone hgone", ":2\r\n");
    as_replica();
}

static void test_reads_hide(void)
{
    replica_setup();
    CHECK_REPLY("GET gone", "$-1\r\n");
    CHECK_REPLY("MGET gone live", "*2\r\n$-1\r\n$1\r\n1\r\n");
    CHECK_REPLY("EXISTS gone hgone live later", ":2\r\n");
    CHECK_REPLY("TTL gone", ":-2\r\n");
    CHECK_REPLY("PTTL hgone", ":-2\r\n");
    CHECK_REPLY("PEXPIRETIME gone", ":-2\r\n");
    CHECK_REPLY("TYPE hgone", "+none\r\n");
    CHECK_REPLY("OBJECT ENCODING gone", "$-1\r\n");
    CHECK_REPLY("TOUCH gone hgone", ":0\r\n");
    CHECK_REPLY("STRLEN gone", ":0\r\n");
    CHECK_REPLY("HGET hgone f", "$-1\r\n");
    CHECK_REPLY("HLEN hgone", ":0\r\n");
    CHECK_REPLY("TYPE later", "+string\r\n");
    /* dict order is unspecified: check membership and counts */
    call("KEYS *");
    CHECK(strncmp(reply, "*2\r\n", 4) == 0 && strstr(reply, "live") && strstr(reply, "later"));
    call("SCAN 0 COUNT 100");
    CHECK(strstr(reply, "*2\r\n") && strstr(reply, "live") && strstr(reply, "later"));
    CHECK(!strstr(reply, "gone"));
    for (int i = 0; i < 50; i++) {
        call("RANDOMKEY");
        CHECK(!strstr(reply, "gone"));
    }
    /* nothing deleted, counted or propagated: the primary's DEL will come */
    CHECK_REPLY("DBSIZE", ":4\r\n");
    CHECK(db_find(&srv.db, "gone", 4) != NULL && db_find(&srv.db, "hgone", 5) != NULL);
    CHECK_EQ_INT(srv.db.expired, 0);
    node_teardown();
}

/* The primary's commands run with hide_expired cleared and see the keys. */
static void test_stream_sees_keys(void)
{
    replica_setup();
    as_stream();
    CHECK_REPLY("HSET hgone g w", ":1\r\n");
    CHECK_REPLY("HLEN hgone", ":2\r\n");
    CHECK_REPLY("PERSIST hgone", ":1\r\n");
    CHECK_REPLY("DEL gone", ":1\r\n");
    as_replica();
    CHECK_REPLY("HLEN hgone", ":2\r\n"); /* persisted by the stream: visible again */
    CHECK_REPLY("EXISTS gone", ":0\r\n");
    CHECK(db_find(&srv.db, "gone", 4) == NULL);
    CHECK_REPLY("DBSIZE", ":3\r\n");
    node_teardown();
}

/* Every key hidden: RANDOMKEY gives up after bounded picks, answering nil. */
static void test_randomkey_all_hidden(void)
{
    replica_setup();
    as_stream();
    call("DEL live later");
    as_replica();
    CHECK_REPLY("RANDOMKEY", "$-1\r\n");
    CHECK_REPLY("KEYS *", "*0\r\n");
    CHECK_REPLY("SCAN 0", "*2\r\n$1\r\n0\r\n*0\r\n");
    CHECK_REPLY("DBSIZE", ":2\r\n");
    node_teardown();
}

/* A write while hiding (the replication gate refuses these from clients)
 * replaces the hidden key rather than adding a second one. */
static void test_write_while_hiding(void)
{
    replica_setup();
    CHECK_REPLY("HSET hgone x y", ":1\r\n");
    CHECK_REPLY("HLEN hgone", ":1\r\n");
    CHECK_REPLY("TTL hgone", ":-1\r\n");
    CHECK_REPLY("SET gone new", "+OK\r\n");
    CHECK_REPLY("GET gone", "$3\r\nnew\r\n");
    CHECK_REPLY("DBSIZE", ":4\r\n");
    CHECK_REPLY("DEL hgone gone", ":2\r\n");
    CHECK(db_find(&srv.db, "hgone", 5) == NULL && db_find(&srv.db, "gone", 4) == NULL);
    node_teardown();
}

/* A replica restarting reloads from its AOF a key the stream gave a past
 * TTL (loading deletes nothing), and hides it once it is a replica again. */
static void test_restart_keeps_hidden(void)
{
    node_setup_named("dbrep");
    CHECK_EQ_INT(aof_open_and_load(&srv, &srv.aof), 0);
    run("SET", "live", "1", NULL, NULL);
    run("HSET", "hgone", "f", "v", NULL);
    as_stream();
    run("PEXPIREAT", "hgone", "1", NULL, NULL);
    run("HSET", "hgone", "g", "w", NULL);
    as_primary(); /* a node starts without a role; the adapter sets it later */
    CHECK_EQ_INT(reopen(), 0);
    as_replica();
    CHECK_REPLY("EXISTS hgone live", ":1\r\n");
    CHECK_REPLY("DBSIZE", ":2\r\n");
    as_stream();
    CHECK_REPLY("HLEN hgone", ":2\r\n");
    node_teardown();
}

/* Back to primary: the same lookups delete the expired keys. */
static void test_primary_deletes(void)
{
    replica_setup();
    as_primary();
    CHECK_REPLY("GET gone", "$-1\r\n");
    CHECK(db_find(&srv.db, "gone", 4) == NULL);
    call("RANDOMKEY");
    CHECK(strncmp(reply, "$", 1) == 0 && !strstr(reply, "gone"));
    call("SCAN 0 COUNT 100"); /* SCAN deletes what it finds expired */
    CHECK(!strstr(reply, "gone"));
    CHECK_REPLY("DBSIZE", ":2\r\n");
    CHECK_EQ_INT(srv.db.expired, 2);
    node_teardown();
}

int main(void)
{
    log_set_level(getenv("HALO_TEST_VERBOSE") ? LOG_DEBUG : LOG_ERROR + 1);
    cmd_table_init();
    RUN(test_reads_hide);
    RUN(test_stream_sees_keys);
    RUN(test_randomkey_all_hidden);
    RUN(test_write_while_hiding);
    RUN(test_restart_keeps_hidden);
    RUN(test_primary_deletes);
    return TEST_REPORT();
}
