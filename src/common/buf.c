/* buf.c — growable byte buffer. */
#include "buf.h"
#include "mem.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void buf_init(buf *b) { memset(b, 0, sizeof(*b)); }

void buf_free(buf *b)
{
    hfree(b->data);
    buf_init(b);
}

void buf_reserve(buf *b, size_t extra)
{
    if (b->len + extra <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra) cap *= 2;
    b->data = hrealloc(b->data, cap);
    b->cap = cap;
}

void buf_append(buf *b, const void *p, size_t len)
{
    buf_reserve(b, len);
    if (len) memcpy(b->data + b->len, p, len);
    b->len += len;
}

void buf_append_str(buf *b, const char *s) { buf_append(b, s, strlen(s)); }

void buf_printf(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0) return;
    buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void buf_consume(buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void buf_append_mbulk_len(buf *b, char prefix, int64_t n)
{
    char tmp[32];
    tmp[0] = prefix;
    int l = i64_to_str(tmp + 1, sizeof(tmp) - 3, n);
    tmp[1 + l] = '\r';
    tmp[2 + l] = '\n';
    buf_append(b, tmp, (size_t)l + 3);
}

void buf_append_bulk(buf *b, const char *p, size_t len)
{
    buf_append_mbulk_len(b, '$', (int64_t)len);
    buf_reserve(b, len + 2);
    memcpy(b->data + b->len, p, len);
    b->data[b->len + len] = '\r';
    b->data[b->len + len + 1] = '\n';
    b->len += len + 2;
}

void buf_append_resp_cmd(buf *b, int argc, const char *const *argv, const size_t *lens)
{
    buf_append_mbulk_len(b, '*', argc);
    for (int i = 0; i < argc; i++) buf_append_bulk(b, argv[i], lens[i]);
}
