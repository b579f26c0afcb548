/* aof_format.c — AOF batch framing, position records, the strict RESP command parser and batch scanner, the manifest. */
#include "aof_format.h"
#include "../common/err.h"
#include "../common/limits.h"
#include "../common/mem.h"
#include "../common/util.h"

#include <stdio.h>
#include <string.h>
#include <zlib.h>

#define CRC_HEADER "*2\r\n$7\r\n" AOF_CRC_NAME "\r\n$8\r\n"
_Static_assert(sizeof(CRC_HEADER) - 1 + 8 + 2 == AOF_CRC_RECORD_LEN, "checksum record length");

uint32_t aof_crc32(const char *data, size_t len)
{
    return (uint32_t)crc32_z(0L, (const Bytef *)data, len);
}

void aof_seal_batch(buf *b, size_t start)
{
    char rec[AOF_CRC_RECORD_LEN + 1];
    uint32_t crc = aof_crc32(b->data + start, b->len - start);
    int n = snprintf(rec, sizeof(rec), CRC_HEADER "%08x\r\n", (unsigned)crc);
    buf_append(b, rec, (size_t)n);
}

void aof_frame_batch(buf *out, const char *data, size_t len)
{
    size_t start = out->len;
    buf_reserve(out, len + AOF_CRC_RECORD_LEN);
    buf_append(out, data, len);
    aof_seal_batch(out, start);
}

/* ---------------------------------------------------------------- positions */

bool aof_pos_valid(const repl_history *pos)
{
    if (pos->n < 0 || pos->n > REPL_MAX_HISTORY) return false;
    for (int i = 0; i < pos->n; i++) {
        if (pos->seg[i].start > pos->end) return false;
        if (i > 0 && (pos->seg[i].start <= pos->seg[i - 1].start ||
                      pos->seg[i].epoch <= pos->seg[i - 1].epoch))
            return false;
    }
    return true;
}

static void append_u64(buf *out, uint64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
    buf_append_bulk(out, num, (size_t)n);
}

void aof_format_pos(buf *out, const repl_history *pos)
{
    buf_append_mbulk_len(out, '*', 3 + 2 * (int64_t)pos->n);
    buf_append_bulk(out, AOF_POS_NAME, sizeof(AOF_POS_NAME) - 1);
    append_u64(out, pos->end);
    append_u64(out, (uint64_t)pos->n);
    for (int i = 0; i < pos->n; i++) {
        append_u64(out, pos->seg[i].epoch);
        append_u64(out, pos->seg[i].start);
    }
}

bool aof_is_pos_record(int argc, const resp_arg *argv)
{
    return argc >= 1 && argv[0].len == sizeof(AOF_POS_NAME) - 1 &&
           memcmp(argv[0].ptr, AOF_POS_NAME, sizeof(AOF_POS_NAME) - 1) == 0;
}

/* An unsigned decimal: digits only, no leading zero, no overflow. */
static bool parse_u64(const resp_arg *a, uint64_t *out)
{
    if (a->len == 0 || a->len > 20 || (a->len > 1 && a->ptr[0] == '0')) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < a->len; i++) {
        unsigned d = (unsigned)(a->ptr[i] - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

const char *aof_parse_pos(int argc, const resp_arg *argv, repl_history *out)
{
    uint64_t n;
    memset(out, 0, sizeof(*out));
    if (argc < 3 || !parse_u64(&argv[1], &out->end) || !parse_u64(&argv[2], &n))
        return "malformed position record";
    if (n > REPL_MAX_HISTORY || (uint64_t)argc != 3 + 2 * n)
        return "position record with a bad segment count";
    out->n = (int)n;
    for (int i = 0; i < out->n; i++)
        if (!parse_u64(&argv[3 + 2 * i], &out->seg[i].epoch) ||
            !parse_u64(&argv[4 + 2 * i], &out->seg[i].start))
            return "malformed position record";
    return aof_pos_valid(out) ? NULL : "position record with an invalid history";
}

/* ---------------------------------------------------------------- parser */

void aof_parser_init(aof_parser *p) { memset(p, 0, sizeof(*p)); }

void aof_parser_free(aof_parser *p)
{
    hfree(p->argv);
    memset(p, 0, sizeof(*p));
}

static void push_arg(aof_parser *p, const char *ptr, size_t len)
{
    if (p->argc == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->argv = hrealloc(p->argv, p->cap * sizeof(*p->argv));
    }
    p->argv[p->argc].ptr = ptr;
    p->argv[p->argc].len = len;
    p->argc++;
}

/* One parse step's outcome: where it went wrong and why. */
typedef struct cursor {
    const char *data;
    size_t len, pos;
    size_t err_off;
    const char *err;
} cursor;

static int bad(cursor *c, size_t off, const char *why)
{
    c->err_off = off;
    c->err = why;
    return AOF_CMD_BAD;
}

/* "<prefix><digits>\r\n": a non-negative decimal without leading zeros,
 * at most 18 digits so it cannot overflow. */
static int parse_header(cursor *c, char prefix, int64_t *out)
{
    if (c->pos >= c->len) return AOF_CMD_INCOMPLETE;
    if (c->data[c->pos] != prefix)
        return bad(c, c->pos, prefix == '*' ? "expected '*' (start of a command)"
                                            : "expected '$' (start of an argument)");
    size_t p = c->pos + 1, digits = 0;
    int64_t v = 0;
    for (;; p++, digits++) {
        if (p >= c->len) return AOF_CMD_INCOMPLETE;
        char ch = c->data[p];
        if (ch == '\r') break;
        if (ch < '0' || ch > '9' || digits >= 18 || (digits == 1 && v == 0))
            return bad(c, p, "malformed length in a header line");
        v = v * 10 + (ch - '0');
    }
    if (digits == 0) return bad(c, p, "empty length in a header line");
    if (p + 1 >= c->len) return AOF_CMD_INCOMPLETE;
    if (c->data[p + 1] != '\n') return bad(c, p + 1, "expected '\\n' after a header line");
    c->pos = p + 2;
    *out = v;
    return AOF_CMD_OK;
}

static int parse_bulk(cursor *c, aof_parser *p)
{
    int64_t blen;
    int rc = parse_header(c, '$', &blen);
    if (rc != AOF_CMD_OK) return rc;
    size_t left = c->len - c->pos;
    if ((uint64_t)blen > left || left - (size_t)blen < 2) return AOF_CMD_INCOMPLETE;
    size_t end = c->pos + (size_t)blen;
    if (c->data[end] != '\r' || c->data[end + 1] != '\n')
        return bad(c, c->data[end] != '\r' ? end : end + 1, "expected '\\r\\n' after an argument");
    push_arg(p, c->data + c->pos, (size_t)blen);
    c->pos = end + 2;
    return AOF_CMD_OK;
}

int aof_parse_cmd(aof_parser *p, const char *data, size_t len, size_t off, size_t *end,
                  size_t *err_off, const char **err)
{
    cursor c = {.data = data, .len = len, .pos = off};
    p->argc = 0;
    int64_t argc;
    int rc = parse_header(&c, '*', &argc);
    if (rc == AOF_CMD_OK && (argc < 1 || argc > HALO_MAX_MULTIBULK_LEN))
        rc = bad(&c, off, "command with no arguments or too many");
    for (int64_t i = 0; rc == AOF_CMD_OK && i < argc; i++) rc = parse_bulk(&c, p);
    if (rc == AOF_CMD_OK) *end = c.pos;
    if (rc == AOF_CMD_BAD) {
        *err_off = c.err_off;
        *err = c.err;
    }
    return rc;
}

static bool all_nul(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != '\0') return false;
    return true;
}

static bool is_hex8(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 8; i++) {
        char ch = s[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        if (d < 0) return false;
        v = (v << 4) | (uint32_t)d;
    }
    *out = v;
    return true;
}

/* Replay the verified commands of data[start..stop). They parsed once (and
 * position records were checked then), so they parse again. */
static void apply_batch(aof_parser *p, const char *data, size_t start, size_t stop,
                        aof_apply_fn fn, void *priv, aof_scan_result *res)
{
    size_t pos = start, end = 0, eo;
    const char *err;
    while (pos < stop) {
        aof_parse_cmd(p, data, stop, pos, &end, &eo, &err);
        if (aof_is_pos_record((int)p->argc, p->argv)) {
            aof_parse_pos((int)p->argc, p->argv, &res->pos);
            res->has_pos = true;
            res->cmd_bytes = 0;
            res->positions++;
            pos = end;
            continue;
        }
        res->commands++;
        res->cmd_bytes += end - pos;
        int rc = fn ? fn(priv, (int)p->argc, p->argv, pos) : 0;
        if (rc != 0) {
            res->status = AOF_SCAN_STOPPED;
            res->apply_rc = rc;
            res->err_off = pos;
            return;
        }
        pos = end;
    }
}

static void set_corrupt(aof_scan_result *res, size_t off, const char *why)
{
    res->status = AOF_SCAN_CORRUPT;
    res->err_off = off;
    res->err = why;
}

/* A checksum record ends the batch that began at *start: verify, apply. */
static void end_batch(aof_parser *p, const char *data, size_t rec_off, size_t rec_end,
                      size_t *start, aof_apply_fn fn, void *priv, aof_scan_result *res)
{
    uint32_t want;
    if (p->argc != 2 || p->argv[1].len != 8 || !is_hex8(p->argv[1].ptr, &want)) {
        set_corrupt(res, rec_off, "malformed checksum record");
        return;
    }
    if (aof_crc32(data + *start, rec_off - *start) != want) {
        set_corrupt(res, *start, "checksum mismatch in the batch starting here");
        return;
    }
    apply_batch(p, data, *start, rec_off, fn, priv, res);
    if (res->status != AOF_SCAN_OK) return;
    res->batches++;
    *start = rec_end;
    res->good_len = rec_end;
}

/* Whether p[0..len) contains the bytes of a whole checksum record. */
static bool holds_crc_record(const char *p, size_t len)
{
    static const char sig[] = CRC_HEADER;
    const size_t slen = sizeof(sig) - 1;
    uint32_t crc;
    while (len >= AOF_CRC_RECORD_LEN) {
        const char *hit = memmem(p, len - (AOF_CRC_RECORD_LEN - slen), sig, slen);
        if (hit == NULL) return false;
        const char *hex = hit + slen;
        if (is_hex8(hex, &crc) && hex[8] == '\r' && hex[9] == '\n') return true;
        len -= (size_t)(hit + 1 - p);
        p = hit + 1;
    }
    return false;
}

static bool is_crc_record(const aof_parser *p)
{
    return p->argc >= 1 && p->argv[0].len == sizeof(AOF_CRC_NAME) - 1 &&
           memcmp(p->argv[0].ptr, AOF_CRC_NAME, sizeof(AOF_CRC_NAME) - 1) == 0;
}

void aof_scan(const char *data, size_t len, aof_apply_fn fn, void *priv, aof_scan_result *res)
{
    memset(res, 0, sizeof(*res));
    aof_parser p;
    aof_parser_init(&p);
    size_t pos = 0, start = 0;
    while (res->status == AOF_SCAN_OK && pos < len) {
        size_t end = 0, eo = 0;
        const char *err = NULL;
        int rc = aof_parse_cmd(&p, data, len, pos, &end, &eo, &err);
        if (rc == AOF_CMD_INCOMPLETE) {
            res->status = AOF_SCAN_TORN;
            res->err_off = pos;
        } else if (rc == AOF_CMD_BAD) {
            if (all_nul(data + eo, len - eo)) {
                res->status = AOF_SCAN_TORN;
                res->err_off = eo;
            } else {
                set_corrupt(res, eo, err);
            }
        } else if (is_crc_record(&p)) {
            end_batch(&p, data, pos, end, &start, fn, priv, res);
        } else if (aof_is_pos_record((int)p.argc, p.argv)) {
            /* Checked before its batch is applied: a batch is all or nothing. */
            repl_history h;
            const char *why = aof_parse_pos((int)p.argc, p.argv, &h);
            if (why) set_corrupt(res, pos, why);
        }
        pos = end;
    }
    /* Complete commands but no checksum record after them: unfinished write. */
    if (res->status == AOF_SCAN_OK && start < len) {
        res->status = AOF_SCAN_TORN;
        res->err_off = len;
    }
    /* An unfinished write holds at most the start of one batch after the last
     * verified one. A complete checksum record further on means the data went
     * on: a damaged length made the rest look unfinished. */
    if (res->status == AOF_SCAN_TORN && holds_crc_record(data + start, len - start))
        set_corrupt(res, res->err_off, "damaged length: checksummed batches follow it");
    aof_parser_free(&p);
}

const char *aof_head_pos(const char *data, size_t len, repl_history *out)
{
    aof_parser p;
    aof_parser_init(&p);
    size_t pos = 0, end = 0, eo;
    const char *err;
    int rc;
    for (;;) {
        rc = aof_parse_cmd(&p, data, len, pos, &end, &eo, &err);
        if (rc != AOF_CMD_OK || is_crc_record(&p)) break;
        pos = end;
    }
    aof_parser_free(&p);
    if (rc != AOF_CMD_OK) return "the first batch is cut or malformed";
    aof_scan_result res;
    aof_scan(data, end, NULL, NULL, &res);
    if (res.status != AOF_SCAN_OK) return res.err ? res.err : "the first batch is not valid";
    if (!res.has_pos) return "no position record in the first batch";
    *out = res.pos;
    return NULL;
}

/* ---------------------------------------------------------------- manifest */

void aof_manifest_init(aof_manifest *m) { memset(m, 0, sizeof(*m)); }

void aof_manifest_free(aof_manifest *m)
{
    hfree(m->incr);
    memset(m, 0, sizeof(*m));
}

void aof_manifest_copy(aof_manifest *dst, const aof_manifest *src)
{
    aof_manifest_init(dst);
    dst->base = src->base;
    if (src->nincr) {
        dst->incr = hmemdup(src->incr, src->nincr * sizeof(*src->incr));
        dst->nincr = dst->cap = src->nincr;
    }
}

bool aof_name_ok(const char *name, size_t len)
{
    if (len == 0 || len > AOF_NAME_MAX) return false;
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.')) return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch == '/' || ch <= ' ' || ch == 0x7f) return false;
    }
    return true;
}

bool aof_file_name(char *out, size_t cap, const char *prefix, int64_t seq, bool base)
{
    int n = snprintf(out, cap, "%s.%lld.%s.aof", prefix, (long long)seq, base ? "base" : "incr");
    return n > 0 && (size_t)n < cap && (size_t)n <= AOF_NAME_MAX;
}

void aof_manifest_push_incr(aof_manifest *m, const aof_file_ent *e)
{
    if (m->nincr == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 4;
        m->incr = hrealloc(m->incr, m->cap * sizeof(*m->incr));
    }
    m->incr[m->nincr++] = *e;
}

int64_t aof_manifest_max_seq(const aof_manifest *m)
{
    int64_t max = m->base.seq;
    for (size_t i = 0; i < m->nincr; i++)
        if (m->incr[i].seq > max) max = m->incr[i].seq;
    return max;
}

bool aof_manifest_has(const aof_manifest *m, const char *name)
{
    if (m->base.name[0] && strcmp(m->base.name, name) == 0) return true;
    for (size_t i = 0; i < m->nincr; i++)
        if (strcmp(m->incr[i].name, name) == 0) return true;
    return false;
}

void aof_manifest_format(const aof_manifest *m, buf *out)
{
    buf_append_str(out, "# halo append-only file manifest: the BASE file, then INCR files in order\n");
    buf_printf(out, "file %s seq %lld type b\n", m->base.name, (long long)m->base.seq);
    for (size_t i = 0; i < m->nincr; i++)
        buf_printf(out, "file %s seq %lld type i\n", m->incr[i].name, (long long)m->incr[i].seq);
}

/* Split one line into at most 6 space-separated tokens; false if more. */
static bool split_line(const char *line, size_t len, resp_arg *tok, int *ntok)
{
    *ntok = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && line[i] == ' ') i++;
        if (i == len) break;
        size_t s = i;
        while (i < len && line[i] != ' ') i++;
        if (*ntok == 6) return false;
        tok[*ntok].ptr = line + s;
        tok[*ntok].len = i - s;
        (*ntok)++;
    }
    return true;
}

static bool tok_is(const resp_arg *t, const char *s) { return t->len == strlen(s) && memcmp(t->ptr, s, t->len) == 0; }

/* "file <name> seq <n> type <b|i>" -> entry and its type letter. */
static const char *parse_entry(const char *line, size_t len, aof_file_ent *e, char *type)
{
    resp_arg t[6];
    int n;
    if (!split_line(line, len, t, &n) || n != 6 || !tok_is(&t[0], "file") || !tok_is(&t[2], "seq") ||
        !tok_is(&t[4], "type"))
        return "expected 'file <name> seq <n> type <b|i>'";
    if (!aof_name_ok(t[1].ptr, t[1].len)) return "unsafe or too long file name";
    if (!str_to_i64(t[3].ptr, t[3].len, &e->seq) || e->seq < 1) return "bad seq number";
    if (t[5].len != 1 || (t[5].ptr[0] != 'b' && t[5].ptr[0] != 'i')) return "type must be b or i";
    memcpy(e->name, t[1].ptr, t[1].len);
    e->name[t[1].len] = '\0';
    *type = t[5].ptr[0];
    return NULL;
}

static const char *add_entry(aof_manifest *m, const aof_file_ent *e, char type)
{
    if (type == 'b') {
        if (m->base.name[0]) return "more than one BASE file";
        if (m->nincr) return "BASE file listed after INCR files";
        m->base = *e;
        return NULL;
    }
    if (m->nincr && e->seq <= m->incr[m->nincr - 1].seq) return "INCR seq numbers not increasing";
    if (aof_manifest_has(m, e->name)) return "file listed twice";
    aof_manifest_push_incr(m, e);
    return NULL;
}

int aof_manifest_parse(aof_manifest *m, const char *text, size_t len, char *err, size_t errcap)
{
    aof_manifest_init(m);
    size_t pos = 0;
    int lineno = 0;
    const char *why = NULL;
    while (pos < len && why == NULL) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t llen = nl ? (size_t)(nl - (text + pos)) : len - pos;
        const char *line = text + pos;
        pos += llen + (nl ? 1 : 0);
        lineno++;
        if (llen && line[llen - 1] == '\r') llen--;
        if (llen == 0 || line[0] == '#') continue;
        aof_file_ent e;
        char type = 0;
        why = parse_entry(line, llen, &e, &type);
        if (why == NULL) why = add_entry(m, &e, type);
    }
    if (why == NULL && m->base.name[0] == '\0') why = "no BASE file";
    if (why == NULL) return 0;
    snprintf(err, errcap, "line %d: %s", lineno, why);
    aof_manifest_free(m);
    return -HALO_ECORRUPT;
}
