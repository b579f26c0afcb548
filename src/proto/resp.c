/* resp.c — sans-I/O parser of Redis commands (multibulk and inline), with Redis's errors. */
#include "resp.h"
#include "../common/limits.h"
#include "../common/mem.h"
#include "../common/util.h"

#include <ctype.h>
#include <string.h>

void resp_parser_init(resp_parser *p, int64_t max_bulk_len)
{
    memset(p, 0, sizeof(*p));
    p->max_bulk_len = max_bulk_len;
    p->bulk_len = -1;
}

void resp_parser_free(resp_parser *p)
{
    hfree(p->spans);
    hfree(p->argv);
    hfree(p->inline_buf);
    memset(p, 0, sizeof(*p));
}

static void ensure_args(resp_parser *p, size_t n)
{
    if (n <= p->cap) return;
    size_t cap = p->cap ? p->cap : 8;
    while (cap < n) cap *= 2;
    p->spans = hrealloc(p->spans, cap * sizeof(*p->spans));
    p->argv = hrealloc(p->argv, cap * sizeof(*p->argv));
    p->cap = cap;
}

static int fail(resp_parser *p, const char *msg)
{
    p->error = msg;
    return RESP_ERR;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

resp_arg *resp_argv_dup(const resp_arg *argv, size_t argc, size_t extra)
{
    size_t head = argc * sizeof(resp_arg) + extra;
    head = (head + sizeof(void *) - 1) & ~(sizeof(void *) - 1);
    size_t bytes = 0;
    for (size_t i = 0; i < argc; i++) bytes += argv[i].len + 1;
    char *mem = hmalloc(head + bytes);
    resp_arg *copy = (resp_arg *)mem;
    char *p = mem + head;
    for (size_t i = 0; i < argc; i++) {
        if (argv[i].len) memcpy(p, argv[i].ptr, argv[i].len);
        p[argv[i].len] = '\0';
        copy[i].ptr = p;
        copy[i].len = argv[i].len;
        p += argv[i].len + 1;
    }
    return copy;
}

int resp_split_inline(const char *line, size_t len, char *out, resp_arg *args, size_t max_args)
{
    size_t i = 0, o = 0;
    int argc = 0;
    for (;;) {
        while (i < len && isspace((unsigned char)line[i])) i++;
        if (i >= len) return argc;
        if ((size_t)argc >= max_args) return -2;
        size_t start = o;
        bool dq = false, sq = false, done = false;
        while (!done) {
            if (dq) {
                if (i >= len) return -1;
                if (line[i] == '\\' && i + 3 < len && line[i + 1] == 'x' &&
                    hexval(line[i + 2]) >= 0 && hexval(line[i + 3]) >= 0) {
                    out[o++] = (char)(hexval(line[i + 2]) * 16 + hexval(line[i + 3]));
                    i += 4;
                    continue;
                }
                if (line[i] == '\\' && i + 1 < len) {
                    char c = line[++i];
                    switch (c) {
                    case 'n': c = '\n'; break;
                    case 'r': c = '\r'; break;
                    case 't': c = '\t'; break;
                    case 'b': c = '\b'; break;
                    case 'a': c = '\a'; break;
                    default: break;
                    }
                    out[o++] = c;
                } else if (line[i] == '"') {
                    /* closing quote must be followed by a space or nothing */
                    if (i + 1 < len && !isspace((unsigned char)line[i + 1])) return -1;
                    done = true;
                } else {
                    out[o++] = line[i];
                }
                i++;
            } else if (sq) {
                if (i >= len) return -1;
                if (line[i] == '\\' && i + 1 < len && line[i + 1] == '\'') {
                    out[o++] = '\'';
                    i += 2;
                    continue;
                }
                if (line[i] == '\'') {
                    if (i + 1 < len && !isspace((unsigned char)line[i + 1])) return -1;
                    done = true;
                } else {
                    out[o++] = line[i];
                }
                i++;
            } else {
                if (i >= len || isspace((unsigned char)line[i])) {
                    done = true;
                } else if (line[i] == '"') {
                    dq = true;
                    i++;
                } else if (line[i] == '\'') {
                    sq = true;
                    i++;
                } else {
                    out[o++] = line[i++];
                }
            }
        }
        args[argc].ptr = out + start;
        args[argc].len = o - start;
        argc++;
    }
}

static int parse_inline(resp_parser *p, const char *buf, size_t len, size_t *consumed)
{
    const char *nl = memchr(buf, '\n', len);
    if (nl == NULL) {
        if (len > HALO_MAX_INLINE_LEN) return fail(p, "Protocol error: too big inline request");
        return RESP_NEED_MORE;
    }
    size_t linelen = (size_t)(nl - buf);
    if (linelen > HALO_MAX_INLINE_LEN) return fail(p, "Protocol error: too big inline request");
    *consumed = linelen + 1;
    if (linelen && buf[linelen - 1] == '\r') linelen--;
    if (linelen + 1 > p->inline_cap) {
        p->inline_cap = linelen + 1;
        p->inline_buf = hrealloc(p->inline_buf, p->inline_cap);
    }
    /* An inline line has at most linelen/2+1 arguments. */
    ensure_args(p, linelen / 2 + 1);
    int argc = resp_split_inline(buf, linelen, p->inline_buf, p->argv, p->cap);
    if (argc < 0) return fail(p, "Protocol error: unbalanced quotes in request");
    p->argc = (size_t)argc;
    return argc == 0 ? RESP_NEED_MORE : RESP_COMMAND;
}

/* Reads "<prefix><int>\r\n" at buf[pos]; returns bytes used, 0 if incomplete, -1 if malformed. */
static long read_header(const char *buf, size_t len, size_t pos, int64_t *val, bool *toolong)
{
    const char *start = buf + pos + 1;
    size_t avail = len - pos - 1;
    const char *cr = memchr(start, '\r', avail < HALO_MAX_HEADER_LINE ? avail : HALO_MAX_HEADER_LINE);
    *toolong = false;
    if (cr == NULL) {
        if (avail >= HALO_MAX_HEADER_LINE) *toolong = true;
        return avail >= HALO_MAX_HEADER_LINE ? -1 : 0;
    }
    size_t numlen = (size_t)(cr - start);
    if (numlen + 1 >= avail) return 0; /* need the \n */
    if (cr[1] != '\n') return -1;
    if (!str_to_i64(start, numlen, val)) return -1;
    return (long)(1 + numlen + 2);
}

int resp_parse(resp_parser *p, const char *buf, size_t len, size_t *consumed)
{
    *consumed = 0;
    if (p->multibulk_len == 0) {
        if (len == 0) return RESP_NEED_MORE;
        if (buf[0] != '*') return parse_inline(p, buf, len, consumed);
        int64_t n;
        bool toolong;
        long used = read_header(buf, len, 0, &n, &toolong);
        if (used == 0) return RESP_NEED_MORE;
        if (used < 0 && toolong) return fail(p, "Protocol error: too big mbulk count string");
        if (used < 0 || n > HALO_MAX_MULTIBULK_LEN)
            return fail(p, "Protocol error: invalid multibulk length");
        if (n <= 0) {
            *consumed = (size_t)used;
            return RESP_NEED_MORE;
        }
        p->multibulk_len = n;
        p->argc = 0;
        p->bulk_len = -1;
        ensure_args(p, (size_t)(n < HALO_ARGV_PREALLOC_MAX ? n : HALO_ARGV_PREALLOC_MAX));
        p->spans[0].off = (size_t)used; /* header length kept for the restart below */
    }
    /* Re-scan from the command's start each call; spans are offsets from it.
     * Position after the already-parsed arguments: */
    size_t pos = p->argc ? p->spans[p->argc - 1].off + p->spans[p->argc - 1].len + 2
                         : p->spans[0].off;
    while ((int64_t)p->argc < p->multibulk_len) {
        if (p->bulk_len == -1) {
            if (pos >= len) return RESP_NEED_MORE;
            if (buf[pos] != '$') {
                memcpy(p->errbuf, "Protocol error: expected '$', got ' '", 38);
                p->errbuf[35] = isprint((unsigned char)buf[pos]) ? buf[pos] : '?';
                return fail(p, p->errbuf);
            }
            int64_t n;
            bool toolong;
            long used = read_header(buf, len, pos, &n, &toolong);
            if (used == 0) return RESP_NEED_MORE;
            if (used < 0 && toolong) return fail(p, "Protocol error: too big bulk count string");
            if (used < 0 || n < 0 || n > p->max_bulk_len)
                return fail(p, "Protocol error: invalid bulk length");
            p->bulk_len = n;
            pos += (size_t)used;
            ensure_args(p, p->argc + 1);
            p->spans[p->argc].off = pos;
            p->spans[p->argc].len = 0;
        }
        size_t off = p->spans[p->argc].off;
        if (len < off + (size_t)p->bulk_len + 2) return RESP_NEED_MORE;
        if (buf[off + (size_t)p->bulk_len] != '\r' || buf[off + (size_t)p->bulk_len + 1] != '\n')
            return fail(p, "Protocol error: invalid bulk length");
        p->spans[p->argc].len = (size_t)p->bulk_len;
        p->argc++;
        pos = off + (size_t)p->bulk_len + 2;
        p->bulk_len = -1;
    }
    for (size_t i = 0; i < p->argc; i++) {
        p->argv[i].ptr = buf + p->spans[i].off;
        p->argv[i].len = p->spans[i].len;
    }
    *consumed = pos;
    p->multibulk_len = 0;
    return RESP_COMMAND;
}

size_t resp_pending_bulk(const resp_parser *p)
{
    if (p->multibulk_len == 0 || p->bulk_len < 0) return 0;
    return p->spans[p->argc].off + (size_t)p->bulk_len + 2;
}
