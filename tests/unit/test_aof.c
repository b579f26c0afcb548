/* test_aof.c — the AOF: batch framing and checksums, position records, torn tails and corruption, manifest, load/write/rewrite in-process. */
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
#include "persist/aof.h"
#include "persist/aof_format.h"
#include "persist/aof_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

static void add_cmd(buf *b, const char *a0, const char *a1, const char *a2)
{
    const char *argv[3] = {a0, a1, a2};
    size_t lens[3] = {strlen(a0), a1 ? strlen(a1) : 0, a2 ? strlen(a2) : 0};
    buf_append_resp_cmd(b, a2 ? 3 : a1 ? 2 : 1, argv, lens);
}

/* A stream of three batches: {SET a 1, SET b 2}, {INCR c}, {DEL a, SET d 4}.
 * ends[i] is the offset after batch i. */
static void make_stream(buf *out, size_t ends[3])
{
    buf cmds;
    buf_init(&cmds);
    buf_init(out);
    add_cmd(&cmds, "SET", "a", "1");
    add_cmd(&cmds, "SET", "b", "2");
    aof_frame_batch(out, cmds.data, cmds.len);
    ends[0] = out->len;
    buf_reset(&cmds);
    add_cmd(&cmds, "INCR", "c", NULL);
    aof_frame_batch(out, cmds.data, cmds.len);
    ends[1] = out->len;
    buf_reset(&cmds);
    add_cmd(&cmds, "DEL", "a", NULL);
    add_cmd(&cmds, "SET", "d", "4");
    aof_frame_batch(out, cmds.data, cmds.len);
    ends[2] = out->len;
    buf_free(&cmds);
}

/* Apply function rendering commands as "a0 a1 a2;" into a buf. */
static int render(void *priv, int argc, const resp_arg *argv, size_t off)
{
    (void)off;
    buf *b = priv;
    for (int i = 0; i < argc; i++) {
        buf_append(b, argv[i].ptr, argv[i].len);
        buf_append_str(b, i + 1 < argc ? " " : ";");
    }
    return 0;
}

static int scan_str(const char *data, size_t len, aof_scan_result *res, buf *seen)
{
    buf_reset(seen);
    aof_scan(data, len, render, seen, res);
    return res->status;
}

static bool seen_is(const buf *b, const char *want)
{
    return b->len == strlen(want) && (b->len == 0 || memcmp(b->data, want, b->len) == 0);
}

/* ------------------------------------------------------------ format */

static void test_roundtrip(void)
{
    buf s, seen;
    size_t ends[3];
    make_stream(&s, ends);
    buf_init(&seen);
    aof_scan_result res;
    aof_frame_batch(&s, NULL, 0); /* an empty batch is valid */
    CHECK_EQ_INT(scan_str(s.data, s.len, &res, &seen), AOF_SCAN_OK);
    CHECK_EQ_INT(res.batches, 4);
    CHECK_EQ_INT(res.commands, 5);
    CHECK_EQ_INT(res.good_len, s.len);
    CHECK(seen_is(&seen, "SET a 1;SET b 2;INCR c;DEL a;SET d 4;"));
    CHECK(memmem(s.data, s.len, "HALOCRC", 7) != NULL);
    buf_free(&s);
    buf_free(&seen);
}

/* Cut at every length: OK exactly on batch boundaries, otherwise torn at
 * the last boundary, and only complete batches applied. */
static void test_torn_every_length(void)
{
    buf s, seen;
    size_t ends[3];
    make_stream(&s, ends);
    buf_init(&seen);
    const char *applied[4] = {"", "SET a 1;SET b 2;", "SET a 1;SET b 2;INCR c;",
                              "SET a 1;SET b 2;INCR c;DEL a;SET d 4;"};
    for (size_t len = 0; len <= s.len; len++) {
        aof_scan_result res;
        int st = scan_str(s.data, len, &res, &seen);
        int whole = 0;
        while (whole < 3 && ends[whole] <= len) whole++;
        size_t boundary = whole ? ends[whole - 1] : 0;
        CHECK_EQ_INT(st, boundary == len ? AOF_SCAN_OK : AOF_SCAN_TORN);
        CHECK_EQ_INT(res.good_len, boundary);
        CHECK(seen_is(&seen, applied[whole]));
    }
    buf_free(&s);
    buf_free(&seen);
}

/* A run of NUL bytes to the end (file extended, data never written) is torn. */
static void test_nul_tail(void)
{
    buf s, seen;
    size_t ends[3];
    make_stream(&s, ends);
    buf_init(&seen);
    aof_scan_result res;
    size_t len = s.len;
    buf_reserve(&s, 100);
    memset(s.data + len, 0, 100);
    CHECK_EQ_INT(scan_str(s.data, len + 100, &res, &seen), AOF_SCAN_TORN);
    CHECK_EQ_INT(res.good_len, len);
    /* The last batch zeroed from its middle on. */
    size_t mid = ends[1] + (ends[2] - ends[1]) / 2;
    memset(s.data + mid, 0, ends[2] - mid);
    CHECK_EQ_INT(scan_str(s.data, ends[2], &res, &seen), AOF_SCAN_TORN);
    CHECK_EQ_INT(res.good_len, ends[1]);
    /* NUL bytes followed by data are corruption. */
    s.data[ends[2] - 1] = 'x';
    CHECK_EQ_INT(scan_str(s.data, ends[2], &res, &seen), AOF_SCAN_CORRUPT);
    buf_free(&s);
    buf_free(&seen);
}

/* Any damaged byte of a batch that is not the last is corruption: never
 * loaded, never mistaken for a torn tail. */
static void test_flip_every_byte(void)
{
    buf s, seen;
    size_t ends[3];
    make_stream(&s, ends);
    buf_init(&seen);
    const unsigned char flips[] = {0x01, 0x20, 0x80, 0xff};
    int bad = 0;
    for (size_t i = 0; i < ends[1]; i++) {
        for (size_t f = 0; f < sizeof(flips); f++) {
            s.data[i] ^= (char)flips[f];
            aof_scan_result res;
            if (scan_str(s.data, s.len, &res, &seen) != AOF_SCAN_CORRUPT) {
                if (bad++ < 5) fprintf(stderr, "flip %zu ^%02x: status %d\n", i, flips[f], res.status);
            }
            s.data[i] ^= (char)flips[f];
        }
        char saved = s.data[i];
        s.data[i] = '9';
        aof_scan_result res;
        if (saved != '9' && scan_str(s.data, s.len, &res, &seen) != AOF_SCAN_CORRUPT) bad++;
        s.data[i] = saved;
    }
    CHECK_EQ_INT(bad, 0);
    buf_free(&s);
    buf_free(&seen);
}

static void test_checksum_mismatch_last_batch(void)
{
    buf s, seen;
    size_t ends[3];
    make_stream(&s, ends);
    buf_init(&seen);
    char *p = memmem(s.data + ends[1], ends[2] - ends[1], "$1\r\nd", 5);
    CHECK(p != NULL);
    p[4] = 'e';
    aof_scan_result res;
    CHECK_EQ_INT(scan_str(s.data, s.len, &res, &seen), AOF_SCAN_CORRUPT);
    CHECK_EQ_INT(res.err_off, ends[1]);
    CHECK(strstr(res.err, "checksum") != NULL);
    CHECK_EQ_INT(res.good_len, ends[1]);
    buf_free(&s);
    buf_free(&seen);
}

/* A length damaged so that it runs past the end must not pass for a torn
 * tail while checksummed batches follow it. */
static void test_damaged_length_hides_batches(void)
{
    buf s, seen;
    size_t ends[3];
    make_stream(&s, ends);
    buf_init(&seen);
    buf d;
    buf_init(&d);
    buf_append_str(&d, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$99999\r\n");
    buf_append(&d, s.data, s.len);
    aof_scan_result res;
    CHECK_EQ_INT(scan_str(d.data, d.len, &res, &seen), AOF_SCAN_CORRUPT);
    CHECK_EQ_INT(res.good_len, 0);
    CHECK_EQ_INT(seen.len, 0);
    buf_free(&d);
    buf_free(&s);
    buf_free(&seen);
}

static void test_parser_rejects(void)
{
    static const struct { const char *in; int status; } cases[] = {
        {"*0\r\n", AOF_SCAN_CORRUPT},
        {"*01\r\n$1\r\na\r\n", AOF_SCAN_CORRUPT},
        {"*-1\r\n", AOF_SCAN_CORRUPT},
        {"*1\r\n$-1\r\n", AOF_SCAN_CORRUPT},
        {"*\r\n", AOF_SCAN_CORRUPT},
        {"*1\n$1\r\na\r\n", AOF_SCAN_CORRUPT},
        {"*99999999999999999999\r\n", AOF_SCAN_CORRUPT},
        {"*1073741825\r\n$1\r\na\r\n", AOF_SCAN_CORRUPT},
        {"*2\r\n$7\r\nHALOCRC\r\n$8\r\nzzzzzzzz\r\n", AOF_SCAN_CORRUPT},
        {"*2\r\n$7\r\nHALOCRC\r\n$8\r\n00000001\r\n", AOF_SCAN_CORRUPT},
        {"*1\r\n$7\r\nHALOCRC\r\n", AOF_SCAN_CORRUPT},
        {"SET a b\r\n", AOF_SCAN_CORRUPT},
        {"*1\r\n$1\r\nab\r\n", AOF_SCAN_CORRUPT},
        {"*1\r\n$5\r\nab", AOF_SCAN_TORN},
        {"*3\r\n", AOF_SCAN_TORN},
        {"*3", AOF_SCAN_TORN},
        {"*1\r\n$999999999999\r\nab", AOF_SCAN_TORN},
        {"*1073741824\r\n$1\r\na\r\n", AOF_SCAN_TORN},
        {"*1\r\n$1\r\nx\r\n", AOF_SCAN_TORN},
        {"*2\r\n$7\r\nHALOCRC\r\n$8\r\n00000000\r\n", AOF_SCAN_OK},
        {"", AOF_SCAN_OK},
    };
    buf seen;
    buf_init(&seen);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        aof_scan_result res;
        int st = scan_str(cases[i].in, strlen(cases[i].in), &res, &seen);
        if (st != cases[i].status) fprintf(stderr, "case %zu: status %d\n", i, st);
        CHECK_EQ_INT(st, cases[i].status);
        CHECK_EQ_INT(seen.len, 0);
        if (st == AOF_SCAN_CORRUPT) CHECK(res.err != NULL);
    }
    buf_free(&seen);
}

static int stop_at_incr(void *priv, int argc, const resp_arg *argv, size_t off)
{
    (void)argc;
    (void)off;
    (*(int *)priv)++;
    return argv[0].len == 4 && memcmp(argv[0].ptr, "INCR", 4) == 0 ? -HALO_EINVAL : 0;
}

static void test_apply_stop(void)
{
    buf s;
    size_t ends[3];
    make_stream(&s, ends);
    int calls = 0;
    aof_scan_result res;
    aof_scan(s.data, s.len, stop_at_incr, &calls, &res);
    CHECK_EQ_INT(res.status, AOF_SCAN_STOPPED);
    CHECK_EQ_INT(res.apply_rc, -HALO_EINVAL);
    CHECK_EQ_INT(res.err_off, ends[0]);
    CHECK_EQ_INT(calls, 3);
    buf_free(&s);
}


/* ------------------------------------------------------------ position records */

static const repl_history POS_A = {.seg = {{1, 0}, {3, 40}}, .n = 2, .end = 100};
static const repl_history POS_B = {.seg = {{1, 0}, {3, 40}, {7, 180}}, .n = 3, .end = 200};

static bool pos_eq(const repl_history *a, const repl_history *b)
{
    if (a->n != b->n || a->end != b->end) return false;
    for (int i = 0; i < a->n; i++)
        if (a->seg[i].epoch != b->seg[i].epoch || a->seg[i].start != b->seg[i].start) return false;
    return true;
}

/* argv of the one command in b, for aof_parse_pos. */
static int parse_one(const buf *b, aof_parser *p)
{
    size_t end, eo;
    const char *err;
    return aof_parse_cmd(p, b->data, b->len, 0, &end, &eo, &err);
}

static void test_pos_record_format(void)
{
    buf b;
    buf_init(&b);
    aof_format_pos(&b, &POS_A);
    CHECK_MEM(b.data, b.len, "*7\r\n$7\r\nHALOPOS\r\n$3\r\n100\r\n$1\r\n2\r\n$1\r\n1\r\n$1\r\n0\r\n"
                             "$1\r\n3\r\n$2\r\n40\r\n");
    aof_parser p;
    aof_parser_init(&p);
    CHECK_EQ_INT(parse_one(&b, &p), AOF_CMD_OK);
    repl_history h;
    CHECK(aof_is_pos_record((int)p.argc, p.argv));
    CHECK(aof_parse_pos((int)p.argc, p.argv, &h) == NULL);
    CHECK(pos_eq(&h, &POS_A));
    /* The largest history fits the bound used to read a snapshot's head. */
    repl_history big = {.n = REPL_MAX_HISTORY, .end = UINT64_MAX};
    for (int i = 0; i < REPL_MAX_HISTORY; i++)
        big.seg[i] = (repl_segment){UINT64_MAX - 8 + (uint64_t)i, UINT64_MAX - 8 + (uint64_t)i};
    CHECK(aof_pos_valid(&big));
    buf_reset(&b);
    aof_format_pos(&b, &big);
    CHECK(b.len <= AOF_POS_RECORD_MAX);
    CHECK_EQ_INT(parse_one(&b, &p), AOF_CMD_OK);
    CHECK(aof_parse_pos((int)p.argc, p.argv, &h) == NULL && pos_eq(&h, &big));
    static const char *bad[] = {
        "*3\r\n$7\r\nHALOPOS\r\n$1\r\n5\r\n$1\r\n1\r\n",                    /* n 1, no segment */
        "*2\r\n$7\r\nHALOPOS\r\n$1\r\n5\r\n",                               /* no n */
        "*3\r\n$7\r\nHALOPOS\r\n$2\r\n05\r\n$1\r\n0\r\n",                   /* leading zero */
        "*3\r\n$7\r\nHALOPOS\r\n$2\r\n-5\r\n$1\r\n0\r\n",                   /* sign */
        "*3\r\n$7\r\nHALOPOS\r\n$20\r\n18446744073709551616\r\n$1\r\n0\r\n", /* overflow */
        "*5\r\n$7\r\nHALOPOS\r\n$1\r\n5\r\n$1\r\n1\r\n$1\r\n1\r\n$1\r\n6\r\n", /* start > end */
        "*7\r\n$7\r\nHALOPOS\r\n$1\r\n9\r\n$1\r\n2\r\n$1\r\n2\r\n$1\r\n0\r\n$1\r\n2\r\n$1\r\n1\r\n",
        "*21\r\n$7\r\nHALOPOS\r\n$1\r\n0\r\n$1\r\n9\r\n",                  /* n > max */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        buf_reset(&b);
        buf_append_str(&b, bad[i]);
        int rc = parse_one(&b, &p);
        CHECK(rc != AOF_CMD_OK || aof_parse_pos((int)p.argc, p.argv, &h) != NULL);
        /* In a batch with a good checksum it is corruption, not a command. */
        buf f;
        buf_init(&f);
        aof_frame_batch(&f, b.data, b.len);
        aof_scan_result res;
        aof_scan(f.data, f.len, NULL, NULL, &res);
        if (rc == AOF_CMD_OK) CHECK_EQ_INT(res.status, AOF_SCAN_CORRUPT);
        CHECK(!res.has_pos);
        buf_free(&f);
    }
    aof_parser_free(&p);
    buf_free(&b);
}

/* Batches: {SET a 1, HALOPOS A, SET b 2}, {INCR c}, {HALOPOS B}, {DEL a}.
 * The position after each: A + |SET b 2|, + |INCR c|, B, B + |DEL a|. */
static void test_pos_scan(void)
{
    buf s, cmds, seen;
    buf_init(&s);
    buf_init(&cmds);
    buf_init(&seen);
    add_cmd(&cmds, "SET", "a", "1");
    aof_format_pos(&cmds, &POS_A);
    size_t before = cmds.len;
    add_cmd(&cmds, "SET", "b", "2");
    uint64_t set_b = cmds.len - before;
    aof_frame_batch(&s, cmds.data, cmds.len);
    buf_reset(&cmds);
    add_cmd(&cmds, "INCR", "c", NULL);
    uint64_t incr_c = cmds.len;
    aof_frame_batch(&s, cmds.data, cmds.len);
    size_t end2 = s.len;
    buf_reset(&cmds);
    aof_format_pos(&cmds, &POS_B);
    aof_frame_batch(&s, cmds.data, cmds.len);
    size_t end3 = s.len;
    buf_reset(&cmds);
    add_cmd(&cmds, "DEL", "a", NULL);
    uint64_t del_a = cmds.len;
    aof_frame_batch(&s, cmds.data, cmds.len);
    aof_scan_result res;
    CHECK_EQ_INT(scan_str(s.data, s.len, &res, &seen), AOF_SCAN_OK);
    CHECK(seen_is(&seen, "SET a 1;SET b 2;INCR c;DEL a;")); /* HALOPOS is never applied */
    CHECK_EQ_INT(res.commands, 4);
    CHECK_EQ_INT(res.positions, 2);
    CHECK(res.has_pos && pos_eq(&res.pos, &POS_B));
    CHECK_EQ_INT(res.cmd_bytes, del_a);
    /* A cut batch counts for nothing. */
    CHECK_EQ_INT(scan_str(s.data, s.len - 1, &res, &seen), AOF_SCAN_TORN);
    CHECK(res.has_pos && pos_eq(&res.pos, &POS_B));
    CHECK_EQ_INT(res.cmd_bytes, 0);
    CHECK_EQ_INT(scan_str(s.data, end3 - 1, &res, &seen), AOF_SCAN_TORN);
    CHECK(res.has_pos && pos_eq(&res.pos, &POS_A));
    CHECK_EQ_INT(res.cmd_bytes, set_b + incr_c);
    CHECK_EQ_INT(scan_str(s.data, end2, &res, &seen), AOF_SCAN_OK);
    CHECK_EQ_INT(res.cmd_bytes, set_b + incr_c);
    /* The head of a file: the first batch must hold one. */
    repl_history h;
    CHECK(aof_head_pos(s.data, s.len, &h) == NULL && pos_eq(&h, &POS_A));
    CHECK(aof_head_pos(s.data, end2 - 1, &h) == NULL); /* only the first batch is read */
    CHECK(aof_head_pos(s.data + end2, s.len - end2, &h) == NULL && pos_eq(&h, &POS_B));
    CHECK(aof_head_pos(s.data + end3, s.len - end3, &h) != NULL);
    CHECK(aof_head_pos(s.data, 20, &h) != NULL);
    s.data[5] ^= 1;
    CHECK(aof_head_pos(s.data, s.len, &h) != NULL);
    buf_free(&s);
    buf_free(&cmds);
    buf_free(&seen);
}

static void test_manifest(void)
{
    const char *text = "# comment\n"
                       "file appendonly.aof.3.base.aof seq 3 type b\n"
                       "file appendonly.aof.4.incr.aof seq 4 type i\r\n"
                       "\n"
                       "file appendonly.aof.6.incr.aof seq 6 type i";
    aof_manifest m;
    char err[128];
    CHECK_EQ_INT(aof_manifest_parse(&m, text, strlen(text), err, sizeof(err)), 0);
    CHECK(strcmp(m.base.name, "appendonly.aof.3.base.aof") == 0);
    CHECK_EQ_INT(m.base.seq, 3);
    CHECK_EQ_INT(m.nincr, 2);
    CHECK_EQ_INT(m.incr[1].seq, 6);
    CHECK_EQ_INT(aof_manifest_max_seq(&m), 6);
    CHECK(aof_manifest_has(&m, "appendonly.aof.4.incr.aof"));
    CHECK(!aof_manifest_has(&m, "appendonly.aof.5.incr.aof"));
    buf out;
    buf_init(&out);
    aof_manifest_format(&m, &out);
    aof_manifest m2;
    CHECK_EQ_INT(aof_manifest_parse(&m2, out.data, out.len, err, sizeof(err)), 0);
    CHECK_EQ_INT(m2.nincr, 2);
    CHECK(strcmp(m2.incr[0].name, m.incr[0].name) == 0);
    aof_manifest_free(&m2);
    aof_manifest_free(&m);
    buf_free(&out);
    static const char *bad[] = {
        "",
        "file a.1.incr.aof seq 1 type i\n",
        "file a seq 1 type b\nfile b seq 2 type b\n",
        "file ../etc/passwd seq 1 type b\n",
        "file a/b seq 1 type b\n",
        "file .. seq 1 type b\n",
        "file a seq 0 type b\n",
        "file a seq 1 type x\n",
        "file a seq 1 type b extra words\n",
        "file a seq 1 type b\nfile i1 seq 5 type i\nfile i2 seq 5 type i\n",
        "file a seq 1 type b\nfile a seq 2 type i\n",
        "file a seq 1\n",
        "garbage\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ_INT(aof_manifest_parse(&m, bad[i], strlen(bad[i]), err, sizeof(err)), -HALO_ECORRUPT);
        CHECK(strncmp(err, "line ", 5) == 0);
    }
}

/* ------------------------------------------------------------ in-process node */

static void node_setup(void)
{
    node_setup_named("aof");
}

static bool has_value(const char *key, const char *val)
{
    kv_entry *e = db_find(&srv.db, key, strlen(key));
    return e && entry_type(e) == KV_STRING && e->vlen == strlen(val) && memcmp(entry_str(e), val, e->vlen) == 0;
}

static void incr_path(char *out, size_t cap)
{
    const aof_manifest *m = &srv.aof->man;
    snprintf(out, cap, "%s/appendonlydir/%s", tmpdir, m->incr[m->nincr - 1].name);
}

static int64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

static void test_load_write_reload(void)
{
    node_setup();
    CHECK_EQ_INT(aof_open_and_load(&srv, &srv.aof), 0);
    run("SET", "a", "1", NULL, NULL);
    run("SET", "t", "v", "PX", "100000");
    run("INCR", "n", NULL, NULL, NULL);
    run("INCR", "n", NULL, NULL, NULL);
    CHECK_EQ_INT(aof_flush(srv.aof), 0);
    run("INCR", "n", NULL, NULL, NULL);
    /* aof_close flushes what is still pending. */
    uint64_t dirty = srv.dirty;
    CHECK_EQ_INT(reopen(), 0);
    CHECK(has_value("a", "1"));
    CHECK(has_value("n", "3"));
    kv_entry *e = db_find(&srv.db, "t", 1);
    CHECK(e != NULL && db_get_expire(&srv.db, e) > time_ms());
    CHECK_EQ_INT(srv.dirty, dirty); /* replay does not count as new writes */
    CHECK_EQ_INT(srv.loading, 0);
    CHECK(!srv.db.no_expire);
    aof_info ai;
    aof_get_info(srv.aof, &ai);
    CHECK(ai.enabled && ai.last_write_ok && !ai.rewrite_in_progress);
    CHECK(ai.current_size > 0);
    CHECK_EQ_INT(ai.pending_bytes, 0);
    node_teardown();
}

/* A failed write keeps the data, reports -HALO_EIO, and is retried. */
static void test_write_error_retry(void)
{
    node_setup();
    CHECK_EQ_INT(aof_open_and_load(&srv, &srv.aof), 0);
    int saved = dup(srv.aof->fd);
    int full = open("/dev/full", O_WRONLY);
    CHECK(saved >= 0 && full >= 0);
    dup2(full, srv.aof->fd);
    run("SET", "x", "1", NULL, NULL);
    CHECK_EQ_INT(aof_flush(srv.aof), -HALO_EIO);
    run("SET", "y", "2", NULL, NULL);
    CHECK_EQ_INT(aof_flush(srv.aof), -HALO_EIO);
    aof_info ai;
    aof_get_info(srv.aof, &ai);
    CHECK(!ai.last_write_ok);
    CHECK_EQ_INT(ai.write_errors, 2);
    CHECK(ai.pending_bytes > 2 * AOF_CRC_RECORD_LEN);
    dup2(saved, srv.aof->fd);
    close(saved);
    close(full);
    aof_cron(srv.aof);
    aof_get_info(srv.aof, &ai);
    CHECK(ai.last_write_ok);
    CHECK_EQ_INT(ai.pending_bytes, 0);
    CHECK_EQ_INT(reopen(), 0);
    CHECK(has_value("x", "1"));
    CHECK(has_value("y", "2"));
    node_teardown();
}

static void test_torn_tail_reload(void)
{
    node_setup();
    CHECK_EQ_INT(aof_open_and_load(&srv, &srv.aof), 0);
    run("SET", "a", "1", NULL, NULL);
    aof_flush(srv.aof);
    run("SET", "b", "2", NULL, NULL);
    aof_flush(srv.aof);
    char path[512];
    incr_path(path, sizeof(path));
    aof_close(srv.aof);
    srv.aof = NULL;
    int64_t full = file_size(path);
    CHECK_EQ_INT(truncate(path, full - 3), 0);
    srv.cfg.aof_load_truncated = false;
    CHECK_EQ_INT(reopen(), -HALO_ECORRUPT);
    CHECK_EQ_INT(file_size(path), full - 3);
    srv.cfg.aof_load_truncated = true;
    CHECK_EQ_INT(reopen(), 0);
    CHECK(has_value("a", "1"));
    CHECK(db_find(&srv.db, "b", 1) == NULL);
    CHECK(file_size(path) < full - 3);
    /* Appending after the cut yields a clean file. */
    run("SET", "c", "3", NULL, NULL);
    CHECK_EQ_INT(reopen(), 0);
    CHECK(has_value("c", "3"));
    node_teardown();
}

static void test_corruption_refused(void)
{
    node_setup();
    CHECK_EQ_INT(aof_open_and_load(&srv, &srv.aof), 0);
    run("SET", "key", "value", NULL, NULL);
    run("SET", "key2", "value2", NULL, NULL);
    aof_flush(srv.aof);
    char path[512];
    incr_path(path, sizeof(path));
    aof_close(srv.aof);
    srv.aof = NULL;
    int fd = open(path, O_WRONLY);
    CHECK(pwrite(fd, "V", 1, 24) == 1); /* inside "value" */
    close(fd);
    CHECK_EQ_INT(reopen(), -HALO_ECORRUPT);
    CHECK(srv.aof == NULL);
    node_teardown();
}

static void wait_rewrites(uint64_t n)
{
    for (int i = 0; i < 1000; i++) {
        aof_cron(srv.aof);
        if (srv.aof->rewrites >= n && srv.aof->child == 0) return;
        usleep(10000);
    }
    CHECK(!"rewrite did not finish");
}

static void test_rewrite(void)
{
    node_setup();
    CHECK_EQ_INT(aof_open_and_load(&srv, &srv.aof), 0);
    char k[16], v[16];
    for (int i = 0; i < 200; i++) {
        snprintf(k, sizeof(k), "k%d", i);
        snprintf(v, sizeof(v), "v%d", i);
        run("SET", k, v, NULL, NULL);
    }
    run("SET", "ttl", "x", "PX", "100000");
    run("INCR", "n", NULL, NULL, NULL);
    aof_flush(srv.aof);
    CHECK_EQ_INT(aof_rewrite_start(srv.aof), 0);
    CHECK_EQ_INT(aof_rewrite_start(srv.aof), 1); /* one at a time: scheduled */
    run("INCR", "n", NULL, NULL, NULL);           /* lands in the new INCR file */
    aof_flush(srv.aof);
    wait_rewrites(2);                             /* the scheduled one ran too */
    CHECK(srv.aof->rewrite_ok);
    run("INCR", "n", NULL, NULL, NULL);
    char dir[128];
    snprintf(dir, sizeof(dir), "%s/appendonlydir", tmpdir);
    CHECK_EQ_INT(count_files(dir), 3); /* manifest, base, one incr */
    CHECK_EQ_INT(srv.aof->man.nincr, 1);
    CHECK_EQ_INT(reopen(), 0);
    CHECK(has_value("k0", "v0"));
    CHECK(has_value("k199", "v199"));
    CHECK(has_value("n", "3"));
    kv_entry *e = db_find(&srv.db, "ttl", 3);
    CHECK(e != NULL && db_get_expire(&srv.db, e) > time_ms());
    CHECK_EQ_INT(db_size(&srv.db), 202);
    node_teardown();
}


/* ------------------------------------------------------------ positions in-process */

/* Bytes of the command as propagated (these commands propagate verbatim). */
static uint64_t cmd_len(const char *a0, const char *a1, const char *a2)
{
    const char *args[3] = {a0, a1, a2};
    size_t lens[3];
    int argc = 0;
    while (argc < 3 && args[argc]) {
        lens[argc] = strlen(args[argc]);
        argc++;
    }
    buf b;
    buf_init(&b);
    buf_append_resp_cmd(&b, argc, args, lens);
    uint64_t n = b.len;
    buf_free(&b);
    return n;
}

/* run() and count its propagated bytes into *end. */
static void run_counted(uint64_t *end, const char *a0, const char *a1, const char *a2)
{
    run(a0, a1, a2, NULL, NULL);
    *end += cmd_len(a0, a1, a2);
}

static bool loaded_pos_is(const repl_history *want)
{
    repl_history got;
    bool known = aof_loaded_pos(srv.aof, &got);
    if (!pos_eq(&got, want))
        fprintf(stderr, "position: n %d end %llu, expected n %d end %llu\n", got.n,
                (unsigned long long)got.end, want->n, (unsigned long long)want->end);
    return known && pos_eq(&got, want);
}

/* Commands, HALOPOS, more commands; reopen: the position is exact. Before
 * any HALOPOS the count is every command byte, and false. */
static void test_pos_reload(void)
{
    node_setup();
    CHECK_EQ_INT(aof_open_and_load(&srv, &srv.aof), 0);
    repl_history h;
    CHECK(!aof_loaded_pos(srv.aof, &h));
    CHECK_EQ_INT(h.n, 0);
    CHECK_EQ_INT(h.end, 0);
    uint64_t count = 0;
    run_counted(&count, "SET", "a", "1");
    run_counted(&count, "SET", "b", "22");
    CHECK_EQ_INT(reopen(), 0);
    CHECK(!aof_loaded_pos(srv.aof, &h));
    CHECK_EQ_INT(h.end, count);
    repl_history want = POS_A;
    aof_feed_pos(srv.aof, &want);
    run_counted(&want.end, "SET", "c", "333");
    aof_flush(srv.aof);
    run_counted(&want.end, "DEL", "a", NULL);
    CHECK(loaded_pos_is(&want)); /* the running count */
    CHECK_EQ_INT(reopen(), 0);
    CHECK(loaded_pos_is(&want));
    CHECK(has_value("c", "333"));
    CHECK(db_find(&srv.db, "a", 1) == NULL);
    /* A new epoch's segment at the same end, then more. */
    want.seg[want.n++] = (repl_segment){9, want.end};
    aof_feed_pos(srv.aof, &want);
    run_counted(&want.end, "SET", "d", "4");
    CHECK_EQ_INT(reopen(), 0);
    CHECK(loaded_pos_is(&want));
    node_teardown();
}

/* The torn batch's bytes are not counted. */
static void test_pos_torn_tail(void)
{
    node_setup();
    CHECK_EQ_INT(aof_open_and_load(&srv, &srv.aof), 0);
    repl_history want = POS_A;
    aof_feed_pos(srv.aof, &want);
    run_counted(&want.end, "SET", "a", "1");
    aof_flush(srv.aof);
    repl_history cut = want;
    run("SET", "b", "2", NULL, NULL);
    aof_feed_pos(srv.aof, &POS_B); /* in the batch that will be torn: dropped too */
    aof_flush(srv.aof);
    char path[512];
    incr_path(path, sizeof(path));
    aof_close(srv.aof);
    srv.aof = NULL;
    CHECK_EQ_INT(truncate(path, file_size(path) - 3), 0);
    CHECK_EQ_INT(reopen(), 0);
    CHECK(db_find(&srv.db, "b", 1) == NULL);
    CHECK(loaded_pos_is(&cut));
    run_counted(&cut.end, "SET", "c", "3");
    CHECK_EQ_INT(reopen(), 0);
    CHECK(loaded_pos_is(&cut));
    node_teardown();
}

typedef struct pos_src {
    repl_history pos;
    int calls;
} pos_src;

static void give_pos(void *arg, repl_history *out)
{
    pos_src *ps = arg;
    ps->calls++;
    *out = ps->pos;
}

/* The first batch of the BASE file: its position, or NULL. */
static bool base_head_pos(repl_history *out)
{
    char path[512], head[4096];
    snprintf(path, sizeof(path), "%s/appendonlydir/%s", tmpdir, srv.aof->man.base.name);
    int fd = open(path, O_RDONLY);
    ssize_t n = fd >= 0 ? pread(fd, head, sizeof(head), 0) : -1;
    if (fd >= 0) close(fd);
    return n >= 0 && aof_head_pos(head, (size_t)n, out) == NULL;
}

/* A rewrite with a source writes the source's position first in the BASE;
 * what follows in INCR advances it. */
static void test_pos_rewrite_with_source(void)
{
    node_setup();
    CHECK_EQ_INT(aof_open_and_load(&srv, &srv.aof), 0);
    pos_src ps = {POS_A, 0};
    aof_feed_pos(srv.aof, &ps.pos);
    for (int i = 0; i < 50; i++) run_counted(&ps.pos.end, "SET", "k", i % 2 ? "odd" : "even");
    run_counted(&ps.pos.end, "SET", "x", "1");
    aof_set_pos_source(srv.aof, give_pos, &ps);
    CHECK_EQ_INT(aof_rewrite_start(srv.aof), 0);
    CHECK_EQ_INT(ps.calls, 1);
    repl_history want = ps.pos;
    run_counted(&want.end, "SET", "y", "2"); /* in the new INCR file */
    wait_rewrites(1);
    repl_history h;
    CHECK(base_head_pos(&h) && pos_eq(&h, &ps.pos));
    CHECK(loaded_pos_is(&want));
    CHECK_EQ_INT(reopen(), 0);
    CHECK(loaded_pos_is(&want));
    CHECK(has_value("k", "odd") && has_value("x", "1") && has_value("y", "2"));
    node_teardown();
}

/* Without a source: the AOF's own count if it saw a HALOPOS, else none. */
static void test_pos_rewrite_without_source(void)
{
    node_setup();
    CHECK_EQ_INT(aof_open_and_load(&srv, &srv.aof), 0);
    run("SET", "a", "1", NULL, NULL);
    CHECK_EQ_INT(aof_rewrite_start(srv.aof), 0);
    wait_rewrites(1);
    repl_history h;
    CHECK(!base_head_pos(&h));
    CHECK_EQ_INT(reopen(), 0);
    CHECK(!aof_loaded_pos(srv.aof, &h));
    /* Continue the plain count, as a node becoming a member might. */
    repl_history want = {.seg = {{1, h.end}}, .n = 1, .end = h.end};
    aof_feed_pos(srv.aof, &want);
    run_counted(&want.end, "SET", "b", "2");
    CHECK_EQ_INT(aof_rewrite_start(srv.aof), 0);
    wait_rewrites(1); /* counted since the reopen */
    CHECK(base_head_pos(&h) && pos_eq(&h, &want));
    run_counted(&want.end, "SET", "c", "3");
    CHECK_EQ_INT(reopen(), 0);
    CHECK(loaded_pos_is(&want));
    node_teardown();
}

/* The dump leaves out keys whose TTL passed and keeps others' TTLs. */
static void test_dump_db(void)
{
    node_setup();
    kv_entry *e = db_set_string(&srv.db, "s", 1, "v", 1, false);
    e = db_set_string(&srv.db, "t", 1, "w", 1, false);
    db_set_expire(&srv.db, e, 5000);
    e = db_set_string(&srv.db, "gone", 4, "z", 1, false);
    db_set_expire(&srv.db, e, 1000);
    char path[128];
    snprintf(path, sizeof(path), "%s/dump", tmpdir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK_EQ_INT(aof_dump_db(&srv.db, fd, 2000), 0);
    char data[512];
    ssize_t n = pread(fd, data, sizeof(data), 0);
    close(fd);
    CHECK(n > 0);
    buf seen;
    buf_init(&seen);
    aof_scan_result res;
    CHECK_EQ_INT(scan_str(data, (size_t)n, &res, &seen), AOF_SCAN_OK);
    CHECK_EQ_INT(res.commands, 2);
    CHECK(memmem(seen.data, seen.len, "SET s v;", 8) != NULL);
    CHECK(memmem(seen.data, seen.len, "SET t w PXAT 5000;", 18) != NULL);
    CHECK(memmem(seen.data, seen.len, "gone", 4) == NULL);
    buf_free(&seen);
    node_teardown();
}

/* Without a manifest, data files are not silently ignored; leftovers of
 * interrupted steps are removed when a manifest exists. */
static void test_directory_rules(void)
{
    node_setup();
    CHECK_EQ_INT(aof_open_and_load(&srv, &srv.aof), 0);
    run("SET", "a", "1", NULL, NULL);
    aof_close(srv.aof);
    srv.aof = NULL;
    char path[512];
    snprintf(path, sizeof(path), "%s/appendonlydir/appendonly.aof.99.incr.aof", tmpdir);
    close(open(path, O_WRONLY | O_CREAT, 0644));
    char tmp[512];
    snprintf(tmp, sizeof(tmp), "%s/appendonlydir/temp-rewriteaof-123.aof", tmpdir);
    close(open(tmp, O_WRONLY | O_CREAT, 0644));
    char sync[512]; /* a full sync cut by a crash */
    snprintf(sync, sizeof(sync), "%s/appendonlydir/temp-fullsync-456.aof", tmpdir);
    close(open(sync, O_WRONLY | O_CREAT, 0644));
    CHECK_EQ_INT(reopen(), 0);
    CHECK(access(path, F_OK) != 0);
    CHECK(access(tmp, F_OK) != 0);
    CHECK(access(sync, F_OK) != 0);
    CHECK(has_value("a", "1"));
    aof_close(srv.aof);
    srv.aof = NULL;
    snprintf(path, sizeof(path), "%s/appendonlydir/appendonly.aof.manifest", tmpdir);
    CHECK_EQ_INT(unlink(path), 0);
    CHECK_EQ_INT(reopen(), -HALO_ECORRUPT);
    node_teardown();
}

int main(void)
{
    log_set_level(getenv("HALO_TEST_VERBOSE") ? LOG_DEBUG : LOG_ERROR + 1);
    cmd_table_init();
    RUN(test_roundtrip);
    RUN(test_torn_every_length);
    RUN(test_nul_tail);
    RUN(test_flip_every_byte);
    RUN(test_checksum_mismatch_last_batch);
    RUN(test_damaged_length_hides_batches);
    RUN(test_parser_rejects);
    RUN(test_apply_stop);
    RUN(test_pos_record_format);
    RUN(test_pos_scan);
    RUN(test_manifest);
    RUN(test_load_write_reload);
    RUN(test_write_error_retry);
    RUN(test_torn_tail_reload);
    RUN(test_corruption_refused);
    RUN(test_rewrite);
    RUN(test_pos_reload);
    RUN(test_pos_torn_tail);
    RUN(test_pos_rewrite_with_source);
    RUN(test_pos_rewrite_without_source);
    RUN(test_dump_db);
    RUN(test_directory_rules);
    return TEST_REPORT();
}
