/* reply.c — building RESP2/RESP3 replies into a client's output chain. */
#include "client.h"
#include "../common/log.h"
#include "../common/mem.h"
#include "../common/util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define REPLY_BLOCK_SIZE (16 * 1024)

static void mark_pending(kv_client *c)
{
    if (c->flags & (CLIENT_PENDING_WRITE | CLIENT_FAKE)) return;
    c->flags |= CLIENT_PENDING_WRITE;
    c->next_pending = c->srv->pending_write;
    c->srv->pending_write = c;
}

static void check_obuf_limit(kv_client *c)
{
    if (c->flags & (CLIENT_REPL_LINK | CLIENT_REPL_UPSTREAM)) return; /* paced by repl_link.c */
    int64_t limit = c->pubsub ? c->srv->cfg.obuf_pubsub_hard : c->srv->cfg.obuf_normal_hard;
    if (limit <= 0 || (int64_t)c->reply_bytes <= limit) return;
    log_warn("client id=%llu addr=%s closed for overcoming of output buffer limits "
             "(%zu bytes > %lld)",
             (unsigned long long)c->id, c->addr, c->reply_bytes, (long long)limit);
    c->srv->stats.evicted_clients_obuf++;
    client_close_async(c);
}

void reply_raw(kv_client *c, const void *p, size_t len)
{
    if (c->flags & (CLIENT_FAKE | CLIENT_NO_REPLY) || client_closing(c)) return;
    const char *src = p;
    reply_block *b = c->reply_tail;
    /* Appending past what an in-flight write covers is safe: the write holds
     * fixed (base, len) pairs and blocks are freed only after it completes. */
    if (b) {
        size_t room = b->size - b->used;
        size_t n = len < room ? len : room;
        if (n) {
            memcpy(b->buf + b->used, src, n);
            b->used += n;
            src += n;
            len -= n;
            c->reply_bytes += n;
        }
    }
    if (len) {
        size_t size = len > REPLY_BLOCK_SIZE ? len : REPLY_BLOCK_SIZE;
        reply_block *nb = hmalloc(sizeof(reply_block) + size);
        nb->next = NULL;
        nb->size = size;
        nb->used = len;
        memcpy(nb->buf, src, len);
        if (c->reply_tail) c->reply_tail->next = nb;
        else c->reply_head = nb;
        c->reply_tail = nb;
        c->reply_bytes += len;
    }
    mark_pending(c);
    check_obuf_limit(c);
}

size_t client_obuf_bytes(const kv_client *c) { return c->reply_bytes; }

static void reply_len(kv_client *c, char prefix, int64_t n)
{
    char tmp[32];
    tmp[0] = prefix;
    int l = i64_to_str(tmp + 1, sizeof(tmp) - 3, n);
    tmp[1 + l] = '\r';
    tmp[2 + l] = '\n';
    reply_raw(c, tmp, (size_t)l + 3);
}

void reply_ok(kv_client *c) { reply_raw(c, "+OK\r\n", 5); }

void reply_status(kv_client *c, const char *s)
{
    reply_raw(c, "+", 1);
    reply_raw(c, s, strlen(s));
    reply_raw(c, "\r\n", 2);
}

void reply_error(kv_client *c, const char *msg)
{
    /* An error string may not contain newlines: they would break the protocol. */
    char tmp[512];
    size_t n = strlen(msg);
    if (n > sizeof(tmp) - 4) n = sizeof(tmp) - 4;
    tmp[0] = '-';
    for (size_t i = 0; i < n; i++) tmp[1 + i] = (msg[i] == '\r' || msg[i] == '\n') ? ' ' : msg[i];
    tmp[1 + n] = '\r';
    tmp[2 + n] = '\n';
    reply_raw(c, tmp, n + 3);
    c->srv->stats.error_replies++;
    if (c->flags & CLIENT_MULTI && !(c->flags & CLIENT_IN_EXEC)) c->flags |= CLIENT_DIRTY_EXEC;
}

void reply_errorf(kv_client *c, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    reply_error(c, tmp);
}

void reply_bulk(kv_client *c, const char *p, size_t len)
{
    reply_len(c, '$', (int64_t)len);
    reply_raw(c, p, len);
    reply_raw(c, "\r\n", 2);
}

void reply_cstr(kv_client *c, const char *s) { reply_bulk(c, s, strlen(s)); }

void reply_int(kv_client *c, int64_t v)
{
    static const char *small[] = {":0\r\n", ":1\r\n", ":2\r\n", ":3\r\n"};
    if (v >= 0 && v <= 3) reply_raw(c, small[v], 4);
    else reply_len(c, ':', v);
}

void reply_double(kv_client *c, double v)
{
    char tmp[64];
    if (c->resp == 3) {
        int n = 0;
        tmp[n++] = ',';
        n += double_to_str(tmp + n, sizeof(tmp) - (size_t)n - 2, v);
        tmp[n++] = '\r';
        tmp[n++] = '\n';
        reply_raw(c, tmp, (size_t)n);
    } else {
        int n = double_to_str(tmp, sizeof(tmp), v);
        reply_bulk(c, tmp, (size_t)n);
    }
}

void reply_null(kv_client *c)
{
    if (c->resp == 3) reply_raw(c, "_\r\n", 3);
    else reply_raw(c, "$-1\r\n", 5);
}

void reply_null_array(kv_client *c)
{
    if (c->resp == 3) reply_raw(c, "_\r\n", 3);
    else reply_raw(c, "*-1\r\n", 5);
}

void reply_array(kv_client *c, int64_t n) { reply_len(c, '*', n); }
void reply_map(kv_client *c, int64_t n) { reply_len(c, c->resp == 3 ? '%' : '*', c->resp == 3 ? n : 2 * n); }
void reply_set(kv_client *c, int64_t n) { reply_len(c, c->resp == 3 ? '~' : '*', n); }
void reply_push(kv_client *c, int64_t n) { reply_len(c, c->resp == 3 ? '>' : '*', n); }

void reply_bool(kv_client *c, bool v)
{
    if (c->resp == 3) reply_raw(c, v ? "#t\r\n" : "#f\r\n", 4);
    else reply_int(c, v ? 1 : 0);
}

void reply_verbatim(kv_client *c, const char *p, size_t len, const char *ext)
{
    if (c->resp != 3) {
        reply_bulk(c, p, len);
        return;
    }
    reply_len(c, '=', (int64_t)len + 4);
    reply_raw(c, ext, 3);
    reply_raw(c, ":", 1);
    reply_raw(c, p, len);
    reply_raw(c, "\r\n", 2);
}

/* A deferred length is a placeholder block of its own; the length is written
 * into it later. The block is sized for "*<20 digits>\r\n". */
void *reply_deferred_len(kv_client *c)
{
    if (c->flags & (CLIENT_FAKE | CLIENT_NO_REPLY) || client_closing(c)) return NULL;
    reply_block *nb = hmalloc(sizeof(reply_block) + 32);
    nb->next = NULL;
    nb->size = 32;
    nb->used = 0;
    if (c->reply_tail) c->reply_tail->next = nb;
    else c->reply_head = nb;
    c->reply_tail = nb;
    /* A fresh block follows so later appends do not land in the placeholder. */
    reply_block *after = hmalloc(sizeof(reply_block) + REPLY_BLOCK_SIZE);
    after->next = NULL;
    after->size = REPLY_BLOCK_SIZE;
    after->used = 0;
    nb->next = after;
    c->reply_tail = after;
    mark_pending(c);
    return nb;
}

static void set_deferred(kv_client *c, void *slot, char prefix, int64_t n)
{
    if (slot == NULL) return;
    reply_block *b = slot;
    b->buf[0] = prefix;
    int l = i64_to_str(b->buf + 1, b->size - 3, n);
    b->buf[1 + l] = '\r';
    b->buf[2 + l] = '\n';
    b->used = (size_t)l + 3;
    c->reply_bytes += b->used;
    check_obuf_limit(c);
}

void reply_set_deferred_array(kv_client *c, void *slot, int64_t n) { set_deferred(c, slot, '*', n); }

void reply_set_deferred_map(kv_client *c, void *slot, int64_t n)
{
    set_deferred(c, slot, c->resp == 3 ? '%' : '*', c->resp == 3 ? n : 2 * n);
}

void reply_set_deferred_set(kv_client *c, void *slot, int64_t n)
{
    set_deferred(c, slot, c->resp == 3 ? '~' : '*', n);
}

void reply_wrongtype(kv_client *c)
{
    reply_error(c, "WRONGTYPE Operation against a key holding the wrong kind of value");
}

void reply_syntax_error(kv_client *c) { reply_error(c, "ERR syntax error"); }
void reply_not_integer(kv_client *c) { reply_error(c, "ERR value is not an integer or out of range"); }
void reply_not_float(kv_client *c) { reply_error(c, "ERR value is not a valid float"); }

bool arg_i64(kv_client *c, int i, int64_t *out)
{
    if (str_to_i64(c->argv[i].ptr, c->argv[i].len, out)) return true;
    reply_not_integer(c);
    return false;
}

bool arg_i64_range(kv_client *c, int i, int64_t min, int64_t max, int64_t *out, const char *what)
{
    if (!str_to_i64(c->argv[i].ptr, c->argv[i].len, out)) {
        reply_not_integer(c);
        return false;
    }
    if (*out < min || *out > max) {
        if (what) reply_errorf(c, "ERR %s is out of range", what);
        else reply_not_integer(c);
        return false;
    }
    return true;
}

bool arg_i64_min(kv_client *c, int i, int64_t min, int64_t *out, const char *err)
{
    if (str_to_i64(c->argv[i].ptr, c->argv[i].len, out) && *out >= min) return true;
    reply_error(c, err);
    return false;
}

bool arg_i64_bounded(kv_client *c, int i, int64_t min, int64_t max, int64_t *out)
{
    if (!arg_i64(c, i, out)) return false;
    if (*out >= min && *out <= max) return true;
    reply_errorf(c, "ERR value is out of range, value must between %lld and %lld", (long long)min,
                 (long long)max);
    return false;
}

bool arg_timeout_ms(kv_client *c, int i, int64_t *ms)
{
    long double sec;
    if (!str_to_ldouble(c->argv[i].ptr, c->argv[i].len, &sec)) {
        reply_error(c, "ERR timeout is not a float or out of range");
        return false;
    }
    long double v = ceill(sec * 1000.0L);
    /* Redis 7.0 casts to long long unchecked, so timeouts past the range
     * (inf, 1e300) come out negative there; we give the same error. */
    if (v < 0 || v >= 9223372036854775807.0L) {
        reply_error(c, "ERR timeout is negative");
        return false;
    }
    *ms = (int64_t)v;
    return true;
}

bool arg_double(kv_client *c, int i, double *out)
{
    if (str_to_double(c->argv[i].ptr, c->argv[i].len, out)) return true;
    reply_not_float(c);
    return false;
}

bool arg_key_typed(kv_client *c, int i, bool write, int type, kv_entry **out)
{
    bool wrong;
    *out = db_lookup_typed(&c->srv->db, c->argv[i].ptr, c->argv[i].len, write, type, &wrong);
    if (wrong) reply_wrongtype(c);
    return !wrong;
}

bool arg_is(kv_client *c, int i, const char *word)
{
    return i < c->argc && str_eq_nocase(c->argv[i].ptr, c->argv[i].len, word);
}
