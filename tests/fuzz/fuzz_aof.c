/* fuzz_aof.c — libFuzzer target for the AOF loader's parsers: batch scanner, position records, torn-tail rules, manifest. */
#include "common/buf.h"
#include "common/err.h"
#include "persist/aof_format.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Every argument handed to the apply function lies inside the input. */
typedef struct span {
    const char *data;
    size_t len;
    uint64_t seen;
} span;

static int check_args(void *priv, int argc, const resp_arg *argv, size_t off)
{
    span *s = priv;
    if (argc < 1 || off >= s->len) abort();
    for (int i = 0; i < argc; i++)
        if (argv[i].ptr < s->data || argv[i].ptr + argv[i].len > s->data + s->len) abort();
    s->seen++;
    return 0;
}

/* Mode 0: arbitrary bytes must never crash the scanner, and a result must
 * be consistent: good_len within the input and on a verified prefix. */
static void fuzz_raw(const uint8_t *d, size_t n)
{
    span s = {(const char *)d, n, 0};
    aof_scan_result res;
    aof_scan(s.data, n, check_args, &s, &res);
    if (res.good_len > n || res.commands != s.seen) abort();
    if (res.status == AOF_SCAN_OK && res.good_len != n) abort();
    if (res.status == AOF_SCAN_CORRUPT && res.err == NULL) abort();
    /* A position applied is a valid history, and counts only applied bytes. */
    if (res.has_pos != (res.positions > 0) || (res.has_pos && !aof_pos_valid(&res.pos))) abort();
    if (res.cmd_bytes > res.good_len) abort();
    aof_scan_result again;
    aof_scan(s.data, res.good_len, NULL, NULL, &again);
    if (again.status != AOF_SCAN_OK || again.positions != res.positions) abort();
    if (again.cmd_bytes != res.cmd_bytes && res.status != AOF_SCAN_STOPPED) abort();
}

/* What the framed stream's scan must report: the last position record
 * inserted, and the command bytes after it. */
typedef struct expect_pos {
    bool has;
    repl_history pos;
    uint64_t total, after; /* command bytes in all, and since the last record */
    int count;
} expect_pos;

/* A valid history ending at the command bytes so far, shaped by the input. */
static void insert_pos(buf *batch, expect_pos *x, uint8_t shape)
{
    repl_history h;
    memset(&h, 0, sizeof(h));
    h.end = x->total;
    h.n = shape % (REPL_MAX_HISTORY + 1);
    uint64_t epoch0 = (uint64_t)x->count * 16 + (shape & 0x80 ? UINT64_MAX / 2 : 1);
    for (int i = 0; i < h.n; i++) {
        h.seg[i].epoch = epoch0 + (uint64_t)i;
        h.seg[i].start = h.end < (uint64_t)h.n ? 0 : h.end - (uint64_t)(h.n - i);
    }
    if (h.end < (uint64_t)h.n) h.n = h.end > 0 ? 1 : 0;
    if (!aof_pos_valid(&h)) abort();
    aof_format_pos(batch, &h);
    x->has = true;
    x->pos = h;
    x->after = 0;
    x->count++;
}

static bool same_pos(const repl_history *a, const repl_history *b)
{
    if (a->n != b->n || a->end != b->end) return false;
    for (int i = 0; i < a->n; i++)
        if (a->seg[i].epoch != b->seg[i].epoch || a->seg[i].start != b->seg[i].start) return false;
    return true;
}

/* Mode 1: commands made from the input (arguments split at byte 0xff,
 * commands at 0xfe, batches at 0xfd, commands followed by a position record
 * at 0xfc; names prefixed), framed by the writer's code. The whole stream
 * loads back exactly, with the position of the last record plus the command
 * bytes after it; any cut of it is OK or a torn tail, never corruption
 * (unless a value itself holds a checksum record's bytes). */
static void fuzz_framed(const uint8_t *d, size_t n)
{
    if (n < 2) return;
    size_t cut_seed = d[0] | (size_t)d[1] << 8;
    d += 2;
    n -= 2;
    buf stream, batch;
    buf_init(&stream);
    buf_init(&batch);
    size_t start = 0;
    int argc = 0;
    buf args;
    buf_init(&args);
    expect_pos x;
    memset(&x, 0, sizeof(x));
    for (size_t i = 0; i <= n; i++) {
        bool end = i == n || d[i] >= 0xfc;
        if (!end) continue;
        /* One argument d[start..i). A command name gets a prefix: HALOCRC is
         * no client's command, so the writer never sees it as argv[0]. */
        if (argc == 0) {
            buf_append_mbulk_len(&args, '$', (int64_t)(i - start + 1));
            buf_append_str(&args, "c");
            buf_append(&args, d + start, i - start);
            buf_append_str(&args, "\r\n");
        } else {
            buf_append_bulk(&args, (const char *)d + start, i - start);
        }
        argc++;
        if (i == n || d[i] <= 0xfe) {
            size_t before = batch.len;
            buf_append_mbulk_len(&batch, '*', argc);
            buf_append(&batch, args.data, args.len);
            buf_reset(&args);
            argc = 0;
            x.total += batch.len - before;
            x.after += batch.len - before;
        }
        if (i < n && d[i] == 0xfc) insert_pos(&batch, &x, i + 1 < n ? d[i + 1] : 0);
        if (i == n || d[i] == 0xfd) {
            aof_frame_batch(&stream, batch.data, batch.len);
            buf_reset(&batch);
        }
        start = i + 1;
    }
    span s = {stream.data, stream.len, 0};
    aof_scan_result res;
    aof_scan(stream.data, stream.len, check_args, &s, &res);
    if (res.status != AOF_SCAN_OK || res.good_len != stream.len) abort();
    if (res.has_pos != x.has || res.positions != (uint64_t)x.count) abort();
    if (x.has ? !same_pos(&res.pos, &x.pos) || res.cmd_bytes != x.after : res.cmd_bytes != x.total)
        abort();
    size_t cut = stream.len ? cut_seed % (stream.len + 1) : 0;
    aof_scan(stream.data, cut, NULL, NULL, &res);
    if (res.status == AOF_SCAN_CORRUPT &&
        memmem(stream.data + res.good_len, cut - res.good_len, AOF_CRC_NAME, 7) == NULL)
        abort();
    if (res.status == AOF_SCAN_STOPPED || res.good_len > cut) abort();
    if (res.has_pos && !aof_pos_valid(&res.pos)) abort();
    buf_free(&args);
    buf_free(&batch);
    buf_free(&stream);
}

/* Mode 2: the manifest parser; what it accepts formats and parses back the same. */
static void fuzz_manifest(const uint8_t *d, size_t n)
{
    aof_manifest m, m2;
    char err[128];
    if (aof_manifest_parse(&m, (const char *)d, n, err, sizeof(err)) != 0) return;
    buf out;
    buf_init(&out);
    aof_manifest_format(&m, &out);
    if (aof_manifest_parse(&m2, out.data, out.len, err, sizeof(err)) != 0) abort();
    if (m2.nincr != m.nincr || strcmp(m2.base.name, m.base.name) != 0 || m2.base.seq != m.base.seq)
        abort();
    for (size_t i = 0; i < m.nincr; i++)
        if (strcmp(m.incr[i].name, m2.incr[i].name) != 0 || m.incr[i].seq != m2.incr[i].seq) abort();
    aof_manifest_free(&m2);
    aof_manifest_free(&m);
    buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    switch (data[0] % 3) {
    case 0: fuzz_raw(data + 1, size - 1); break;
    case 1: fuzz_framed(data + 1, size - 1); break;
    default: fuzz_manifest(data + 1, size - 1); break;
    }
    return 0;
}
