/* test_hashset.c — hash and set values: deterministic propagation, AOF rewrite batches replayed, dup, free, memory. */
#include "test.h"
#include "kv/cmd.h"
#include "kv/types.h"
#include "common/mem.h"
#include "common/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* A server with no loop and a client with no socket. call_depth stays at 1,
 * as inside EXEC, so each command's propagation stays in srv.prop for the
 * test to read, and the post-event hooks (AOF flush, blocked clients) that
 * need a running node are not reached. */
static kv_server srv;
static kv_client cli;
static buf replies;

static void setup(void)
{
    memset(&srv, 0, sizeof(srv));
    db_init(&srv.db);
    buf_init(&srv.prop);
    buf_init(&srv.prop_cmd);
    srv.call_depth = 1;
    srv.propagate = true;
    memset(&cli, 0, sizeof(cli));
    cli.srv = &srv;
    cli.resp = 2;
    buf_init(&replies);
    cmd_table_init();
}

static void teardown(void)
{
    db_free(&srv.db);
    buf_free(&srv.prop);
    buf_free(&srv.prop_cmd);
    buf_free(&replies);
}

/* Move the client's reply chain into `replies` (reset first). */
static void take_replies(void)
{
    buf_reset(&replies);
    reply_block *b = cli.reply_head;
    while (b) {
        reply_block *next = b->next;
        buf_append(&replies, b->buf, b->used);
        hfree(b);
        b = next;
    }
    cli.reply_head = cli.reply_tail = NULL;
    cli.reply_bytes = 0;
}

/* Run one command from an argv array; its reply lands in `replies`. */
static void run_argv(int argc, const resp_arg *argv)
{
    const kv_cmd *cmd = cmd_lookup(argv[0].ptr, argv[0].len);
    CHECK(cmd != NULL);
    if (cmd == NULL) return;
    cli.argc = argc;
    cli.argv = (resp_arg *)argv;
    buf_reset(&srv.prop);
    cmd_call(&cli, cmd);
    take_replies();
}

/* run("HSET", "h", "f", "v", NULL) */
static void run(const char *first, ...)
{
    resp_arg argv[16];
    int argc = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *s = first; s && argc < 16; s = va_arg(ap, const char *))
        argv[argc++] = (resp_arg){s, strlen(s)};
    va_end(ap);
    run_argv(argc, argv);
}

#define REPLY_IS(lit) CHECK_MEM(replies.data, replies.len, lit)
#define PROP_IS(lit) CHECK_MEM(srv.prop.data, srv.prop.len, lit)

/* Parse "*N\r\n" then N "$L\r\n<bytes>\r\n" at *pos; returns argc, 0 at end. */
static int parse_cmd(const buf *b, size_t *pos, resp_arg *argv, int max)
{
    if (*pos >= b->len) return 0;
    char *p = b->data + *pos, *end;
    int argc = (int)strtol(p + 1, &end, 10);
    p = end + 2;
    for (int i = 0; i < argc && i < max; i++) {
        size_t len = (size_t)strtoul(p + 1, &end, 10);
        argv[i] = (resp_arg){end + 2, len};
        p = end + 2 + len + 2;
    }
    *pos = (size_t)(p - b->data);
    return argc;
}

static void *obj_of(const char *key)
{
    kv_entry *e = db_find(&srv.db, key, strlen(key));
    return e ? entry_obj(e) : NULL;
}

static void test_hincrbyfloat_propagates_hset(void)
{
    setup();
    run("HINCRBYFLOAT", "h", "f", "1.5", NULL);
    REPLY_IS("$3\r\n1.5\r\n");
    PROP_IS("*4\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nf\r\n$3\r\n1.5\r\n");
    run("HINCRBYFLOAT", "h", "f", "x", NULL);
    CHECK_EQ_INT(srv.prop.len, 0);
    run("HINCRBY", "h", "n", "3", NULL);
    PROP_IS("*4\r\n$7\r\nHINCRBY\r\n$1\r\nh\r\n$1\r\nn\r\n$1\r\n3\r\n");
    run("HSETNX", "h", "f", "y", NULL);
    REPLY_IS(":0\r\n");
    CHECK_EQ_INT(srv.prop.len, 0);
    run("HDEL", "h", "nope", NULL);
    CHECK_EQ_INT(srv.prop.len, 0);
    teardown();
}

static void test_spop_propagates_srem_or_del(void)
{
    setup();
    run("SADD", "s", "a", "b", "c", "d", "e", NULL);
    run("SPOP", "s", NULL);
    CHECK(replies.len == 7 && replies.data[0] == '$');
    char want[64];
    int n = snprintf(want, sizeof(want), "*3\r\n$4\r\nSREM\r\n$1\r\ns\r\n$1\r\n%c\r\n", replies.data[4]);
    CHECK(srv.prop.len == (size_t)n && memcmp(srv.prop.data, want, (size_t)n) == 0);

    run("SPOP", "s", "2", NULL);
    /* The reply "*2\r\n$1\r\nX\r\n$1\r\nY\r\n" names exactly the SREM's members. */
    CHECK_EQ_INT(replies.len, 18);
    n = snprintf(want, sizeof(want), "*4\r\n$4\r\nSREM\r\n$1\r\ns\r\n$1\r\n%c\r\n$1\r\n%c\r\n",
                 replies.data[8], replies.data[15]);
    CHECK(srv.prop.len == (size_t)n && memcmp(srv.prop.data, want, (size_t)n) == 0);
    CHECK_EQ_INT(tset_ops.len(obj_of("s")), 2);

    run("SPOP", "s", "10", NULL);
    PROP_IS("*2\r\n$3\r\nDEL\r\n$1\r\ns\r\n");
    CHECK(db_find(&srv.db, "s", 1) == NULL);
    run("SPOP", "s", "3", NULL);
    REPLY_IS("*0\r\n");
    CHECK_EQ_INT(srv.prop.len, 0);
    teardown();
}

static void test_read_commands_do_not_propagate(void)
{
    setup();
    run("SADD", "a", "1", "2", NULL);
    run("SADD", "b", "2", "3", NULL);
    const char *reads[][4] = {{"SMEMBERS", "a"}, {"SINTER", "a", "b"}, {"SUNION", "a", "b"},
                              {"SDIFF", "a", "b"}, {"SRANDMEMBER", "a", "-5"}, {"SCARD", "a"}};
    for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
        run(reads[i][0], reads[i][1], reads[i][2], reads[i][3], NULL);
        CHECK_EQ_INT(srv.prop.len, 0);
    }
    run("SINTER", "a", "b", NULL);
    REPLY_IS("*1\r\n$1\r\n2\r\n");
    run("SADD", "a", "1", NULL);
    CHECK_EQ_INT(srv.prop.len, 0);
    run("SINTERSTORE", "d", "a", "nokey", NULL);
    CHECK_EQ_INT(srv.prop.len, 0); /* nothing to delete, nothing stored */
    run("SMOVE", "a", "a", "1", NULL);
    REPLY_IS(":1\r\n");
    CHECK_EQ_INT(srv.prop.len, 0);
    teardown();
}

/* Fill key with n fields/members, rewrite it, replay the rewrite into an
 * empty keyspace and check every element came back. */
static void rewrite_roundtrip(bool hash, int n)
{
    setup();
    char f[32], v[32];
    for (int i = 0; i < n; i++) {
        snprintf(f, sizeof(f), "f%d", i);
        snprintf(v, sizeof(v), "v%d", i);
        if (hash) run("HSET", "k", f, v, NULL);
        else run("SADD", "k", f, NULL);
    }
    const kv_type_ops *ops = hash ? &thash_ops : &tset_ops;
    buf out;
    buf_init(&out);
    ops->rewrite(obj_of("k"), "k", 1, &out);
    db_flush(&srv.db);
    resp_arg argv[2 + 2 * 64 + 1];
    size_t pos = 0;
    int cmds = 0, argc;
    while ((argc = parse_cmd(&out, &pos, argv, (int)(sizeof(argv) / sizeof(argv[0]))))) {
        CHECK(argc <= 2 + (hash ? 2 : 1) * 64);
        CHECK(str_eq_nocase(argv[0].ptr, argv[0].len, hash ? "hset" : "sadd"));
        run_argv(argc, argv);
        cmds++;
    }
    CHECK_EQ_INT(cmds, (n + 63) / 64);
    CHECK_EQ_INT(ops->len(obj_of("k")), n);
    for (int i = 0; i < n; i++) {
        snprintf(f, sizeof(f), "f%d", i);
        snprintf(v, sizeof(v), "v%d", i);
        char want[64];
        int len = hash ? snprintf(want, sizeof(want), "$%zu\r\n%s\r\n", strlen(v), v)
                       : snprintf(want, sizeof(want), ":1\r\n");
        if (hash) run("HGET", "k", f, NULL);
        else run("SISMEMBER", "k", f, NULL);
        CHECK(replies.len == (size_t)len && memcmp(replies.data, want, (size_t)len) == 0);
    }
    buf_free(&out);
    teardown();
}

static void test_rewrite_batches(void)
{
    rewrite_roundtrip(true, 1);
    rewrite_roundtrip(true, 64);
    rewrite_roundtrip(true, 130);
    rewrite_roundtrip(false, 1);
    rewrite_roundtrip(false, 128);
    rewrite_roundtrip(false, 200);
}

static void test_dup_is_deep(void)
{
    setup();
    run("HSET", "h", "a", "1", "b", "2", NULL);
    run("SADD", "s", "x", "y", NULL);
    void *hd = kv_object_dup(KV_HASH, obj_of("h"));
    void *sd = kv_object_dup(KV_SET, obj_of("s"));
    db_add_object(&srv.db, "h2", 2, KV_HASH, hd);
    db_add_object(&srv.db, "s2", 2, KV_SET, sd);
    run("HSET", "h", "a", "changed", NULL);
    run("SREM", "s", "x", NULL);
    run("HGET", "h2", "a", NULL);
    REPLY_IS("$1\r\n1\r\n");
    run("SISMEMBER", "s2", "x", NULL);
    REPLY_IS(":1\r\n");
    CHECK_EQ_INT(kv_object_len(KV_HASH, hd), 2);
    CHECK_EQ_INT(kv_object_len(KV_SET, sd), 2);
    teardown();
}

static void test_mem_estimate(void)
{
    setup();
    char f[32], v[200];
    memset(v, 'v', sizeof(v) - 1);
    v[sizeof(v) - 1] = '\0';
    for (int i = 0; i < 1000; i++) {
        snprintf(f, sizeof(f), "f%d", i);
        run("HSET", "h", f, v, NULL);
        run("SADD", "s", f, NULL);
    }
    size_t hm = thash_ops.mem(obj_of("h")), sm = tset_ops.mem(obj_of("s"));
    CHECK(hm >= 1000 * 200 && hm < 1000 * 600);
    CHECK(sm >= 1000 * 8 && sm < 1000 * 100);
    teardown();
}

static void test_value_resize_in_place(void)
{
    setup();
    static char big[70000];
    memset(big, 'b', sizeof(big) - 1);
    run("HSET", "h", "f", "tiny", "g", "other", NULL);
    run("HSET", "h", "f", big, NULL);
    run("HSTRLEN", "h", "f", NULL);
    REPLY_IS(":69999\r\n");
    run("HSET", "h", "f", "s", NULL);
    run("HGET", "h", "f", NULL);
    REPLY_IS("$1\r\ns\r\n");
    run("HGET", "h", "g", NULL);
    REPLY_IS("$5\r\nother\r\n");
    run("HDEL", "h", "f", "g", NULL);
    REPLY_IS(":2\r\n");
    CHECK(db_find(&srv.db, "h", 1) == NULL);
    teardown();
}

int main(void)
{
    RUN(test_hincrbyfloat_propagates_hset);
    RUN(test_spop_propagates_srem_or_del);
    RUN(test_read_commands_do_not_propagate);
    RUN(test_rewrite_batches);
    RUN(test_dup_is_deep);
    RUN(test_mem_estimate);
    RUN(test_value_resize_in_place);
    return TEST_REPORT();
}
