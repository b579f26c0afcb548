/* accesslog.c — one line per request, written by each worker without locks. */
#include "accesslog.h"
#include "../common/mem.h"
#include "../common/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A line is at most this long: long URLs and agents are cut, not the line. */
#define ALOG_LINE_MAX 4096
#define ALOG_FIELD_MAX 1024

struct gw_accesslog {
    int fd;
    bool owned; /* we opened fd (not stderr) */
};

gw_accesslog *accesslog_open(const char *where, buf *err)
{
    if (where == NULL || strcmp(where, "off") == 0) return NULL;
    gw_accesslog *a = hcalloc(1, sizeof(*a));
    if (strcmp(where, "stderr") == 0) {
        a->fd = 2;
        return a;
    }
    a->fd = open(where, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (a->fd < 0) {
        buf_printf(err, "cannot open access log %s: %s", where, strerror(errno));
        hfree(a);
        return NULL;
    }
    a->owned = true;
    return a;
}

void accesslog_close(gw_accesslog *a)
{
    if (a == NULL) return;
    if (a->owned) close(a->fd);
    hfree(a);
}

/* Appender over a fixed buffer that never overflows (cuts instead). */
typedef struct line {
    char *p;
    size_t len, cap;
} line;

static void put(line *l, const char *s, size_t n)
{
    if (n > l->cap - l->len) n = l->cap - l->len;
    memcpy(l->p + l->len, s, n);
    l->len += n;
}

static void puts_(line *l, const char *s) { put(l, s ? s : "-", strlen(s ? s : "-")); }

static void putf(line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(line *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(l->p + l->len, l->cap - l->len, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    l->len += (size_t)n < l->cap - l->len ? (size_t)n : l->cap - l->len - 1;
}

/* Client-supplied text: control bytes, '"', '\\' and non-ASCII as \xHH, so a
 * line cannot be forged or broken by what a client sends. */
static void put_escaped(line *l, const char *s, size_t n)
{
    if (s == NULL) {
        put(l, "-", 1);
        return;
    }
    if (n > ALOG_FIELD_MAX) n = ALOG_FIELD_MAX;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            char esc[5];
            snprintf(esc, sizeof(esc), "\\x%02x", c);
            put(l, esc, 4);
        } else {
            put(l, (const char *)&c, 1);
        }
    }
}

/* "[22/Nov/2024:07:19:00 +0000]", cached per thread for the current second. */
static const char *clock_text(int64_t now_s)
{
    static _Thread_local int64_t cached_s = -1;
    static _Thread_local char text[40];
    if (now_s != cached_s) {
        time_t t = (time_t)now_s;
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(text, sizeof(text), "[%d/%b/%Y:%H:%M:%S %z]", &tm);
        cached_s = now_s;
    }
    return text;
}

size_t accesslog_format(const gw_access_entry *e, int64_t now_s, char *out, size_t cap)
{
    line l = {out, 0, cap - 1};
    puts_(&l, e->client_ip);
    put(&l, " - - ", 5);
    puts_(&l, clock_text(now_s));
    put(&l, " \"", 2);
    puts_(&l, e->method);
    put(&l, " ", 1);
    put_escaped(&l, e->url, e->url_len);
    putf(&l, " HTTP/%d.%d\" %d %llu \"", e->major, e->minor, e->status,
         (unsigned long long)e->bytes_sent);
    put_escaped(&l, e->referer, e->referer_len);
    put(&l, "\" \"", 3);
    put_escaped(&l, e->agent, e->agent_len);
    put(&l, "\" upstream=", 11);
    puts_(&l, e->upstream);
    put(&l, " cluster=", 9);
    puts_(&l, e->cluster);
    putf(&l, " attempts=%d duration_ms=%.3f", e->attempts, (double)e->duration_us / 1000.0);
    out[l.len++] = '\n';
    return l.len;
}

void accesslog_write(gw_accesslog *a, const gw_access_entry *e)
{
    if (a == NULL) return;
    char text[ALOG_LINE_MAX];
    size_t n = accesslog_format(e, time_ms() / 1000, text, sizeof(text));
    ssize_t w = write(a->fd, text, n);
    (void)w; /* a full disk must not stop the gateway */
}
