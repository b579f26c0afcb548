/* http1.c — sans-I/O HTTP/1.1 message heads on top of llhttp: parse, validate, rewrite. */
#include "http1.h"
#include "../common/util.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Which header callback ran last, to join spans llhttp splits across reads. */
enum { CB_NONE, CB_FIELD, CB_VALUE, CB_VALUE_DONE };

/* ---- small string helpers ---- */

/* RFC 9110 5.6.2 token characters: DIGIT, ALPHA and "!#$%&'*+-.^_`|~", one row
 * per 16 byte values (0x80 and above: none). A table because every byte of
 * every header name is looked up. */
static const bool tchar[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 controls */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 controls */
    0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0, /* 0x20  !"#$%&'()*+,-./ */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, /* 0x30 0-9 :;<=>? */
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 @ A-O */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, /* 0x50 P-Z [\]^_ */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 ` a-o */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0, /* 0x70 p-z {|}~ DEL */
};

static bool is_tchar(unsigned char c) { return tchar[c]; }

static bool is_ows(char c) { return c == ' ' || c == '\t'; }

static void trim(const char **s, size_t *len)
{
    while (*len && is_ows((*s)[0])) {
        (*s)++;
        (*len)--;
    }
    while (*len && is_ows((*s)[*len - 1])) (*len)--;
}

static bool name_is(const h1_head *h, const h1_header *x, const char *name, size_t len)
{
    return x->name.len == len && strncasecmp(h1_str(h, x->name), name, len) == 0;
}

/* ---- header kinds ---- */

/* kind if name equals lower (same length, compared case-insensitively), else H1H_OTHER. */
static int kind_if(const char *name, const char *lower, size_t len, int kind)
{
    return (name[0] | 0x20) == lower[0] && strncasecmp(name, lower, len) == 0 ? kind : H1H_OTHER;
}

int h1_header_kind(const char *name, size_t len)
{
    /* By length first: most names a gateway sees (Date, Server, Content-Type, ...)
     * are rejected without a comparison. */
    switch (len) {
    case 2: return kind_if(name, "te", 2, H1H_TE);
    case 3: return kind_if(name, "via", 3, H1H_VIA);
    case 4: return kind_if(name, "host", 4, H1H_HOST);
    case 6:
        if ((name[0] | 0x20) == 'e') return kind_if(name, "expect", 6, H1H_EXPECT);
        return kind_if(name, "cookie", 6, H1H_COOKIE);
    case 7:
        if ((name[0] | 0x20) == 't') return kind_if(name, "trailer", 7, H1H_TRAILER);
        return kind_if(name, "upgrade", 7, H1H_UPGRADE);
    case 10:
        if ((name[0] | 0x20) == 'c') return kind_if(name, "connection", 10, H1H_CONNECTION);
        return kind_if(name, "keep-alive", 10, H1H_KEEP_ALIVE);
    case 14: return kind_if(name, "content-length", 14, H1H_CONTENT_LENGTH);
    case 15: return kind_if(name, "x-forwarded-for", 15, H1H_X_FORWARDED_FOR);
    case 16: return kind_if(name, "proxy-connection", 16, H1H_PROXY_CONNECTION);
    case 17:
        if ((name[0] | 0x20) == 't') return kind_if(name, "transfer-encoding", 17, H1H_TRANSFER_ENCODING);
        return kind_if(name, "x-forwarded-proto", 17, H1H_X_FORWARDED_PROTO);
    default: return H1H_OTHER;
    }
}

static bool kind_is_hop(int kind) { return kind >= H1H_CONNECTION && kind <= H1H_TRANSFER_ENCODING; }

/* First header of a kind, or NULL. */
static const h1_header *first_of(const h1_head *h, int kind)
{
    for (int i = 0; i < h->nhdr; i++)
        if (h->hdr[i].kind == kind) return &h->hdr[i];
    return NULL;
}

static int count_of(const h1_head *h, int kind)
{
    int n = 0;
    for (int i = 0; i < h->nhdr; i++) n += h->hdr[i].kind == kind;
    return n;
}

/* ---- head queries ---- */

const char *h1_get(const h1_head *h, const char *name, size_t *len)
{
    size_t nlen = strlen(name);
    for (int i = 0; i < h->nhdr; i++) {
        if (name_is(h, &h->hdr[i], name, nlen)) {
            *len = h->hdr[i].value.len;
            return h1_str(h, h->hdr[i].value);
        }
    }
    *len = 0;
    return NULL;
}

int h1_count(const h1_head *h, const char *name)
{
    size_t nlen = strlen(name);
    int n = 0;
    for (int i = 0; i < h->nhdr; i++) n += name_is(h, &h->hdr[i], name, nlen);
    return n;
}

/* Search one Cookie header value "a=1; b=2" for name. */
static const char *cookie_in(const char *v, size_t vlen, const char *name, size_t *len)
{
    size_t nlen = strlen(name);
    while (vlen) {
        const char *semi = memchr(v, ';', vlen);
        size_t plen = semi ? (size_t)(semi - v) : vlen;
        const char *pair = v;
        size_t pl = plen;
        trim(&pair, &pl);
        const char *eq = memchr(pair, '=', pl);
        if (eq && (size_t)(eq - pair) == nlen && memcmp(pair, name, nlen) == 0) {
            *len = pl - nlen - 1;
            return eq + 1;
        }
        if (!semi) break;
        v += plen + 1;
        vlen -= plen + 1;
    }
    return NULL;
}

const char *h1_cookie(const h1_head *h, const char *name, size_t *len)
{
    for (int i = 0; i < h->nhdr; i++) {
        if (h->hdr[i].kind != H1H_COOKIE) continue;
        const char *v = cookie_in(h1_str(h, h->hdr[i].value), h->hdr[i].value.len, name, len);
        if (v) return v;
    }
    *len = 0;
    return NULL;
}

bool h1_idempotent(int method)
{
    switch (method) {
    case HTTP_GET: case HTTP_HEAD: case HTTP_OPTIONS:
    case HTTP_PUT: case HTTP_DELETE: case HTTP_TRACE:
        return true;
    default:
        return false;
    }
}

bool h1_is_hop_by_hop(const char *name, size_t len) { return kind_is_hop(h1_header_kind(name, len)); }

/* Length of the "http://" or "https://" (any case) that starts an
 * absolute-form target, or 0: only these schemes make a target absolute-form
 * (RFC 9112 3.2.2), so "/x://y" stays an origin-form path. */
static size_t absolute_prefix(const char *u, size_t len)
{
    if (len >= 7 && strncasecmp(u, "http://", 7) == 0) return 7;
    if (len >= 8 && strncasecmp(u, "https://", 8) == 0) return 8;
    return 0;
}

void h1_request_target(const h1_head *h, h1_target *t)
{
    const char *u = h1_str(h, h->url);
    size_t ulen = h->url.len;
    size_t prefix = absolute_prefix(u, ulen);
    memset(t, 0, sizeof(*t));
    if (prefix) {
        /* absolute-form: scheme://authority/path (RFC 9112 3.2.2) */
        const char *a = u + prefix, *end = u + ulen, *p = a;
        while (p < end && *p != '/' && *p != '?') p++;
        const char *at = memchr(a, '@', (size_t)(p - a));
        if (at) a = at + 1;
        t->host = a;
        t->host_len = (size_t)(p - a);
        t->path = p;
        t->path_len = (size_t)(end - p);
    } else {
        const h1_header *host = first_of(h, H1H_HOST);
        t->host = host ? h1_str(h, host->value) : "";
        t->host_len = host ? host->value.len : 0;
        t->path = u;
        t->path_len = ulen;
    }
    const char *q = t->path_len ? memchr(t->path, '?', t->path_len) : NULL;
    t->route_path_len = q ? (size_t)(q - t->path) : t->path_len;
}

/* ---- parser callbacks ---- */

static h1_parser *P(llhttp_t *ll) { return ll->data; }

static int fail(h1_parser *p, int status, const char *reason)
{
    if (p->err_status == 0) {
        p->err_status = status;
        p->err_reason = reason;
    }
    return HPE_USER;
}

/* Offset in head.store of a byte llhttp passes to a callback: feed_head copies
 * each chunk of head bytes into store whole, before llhttp runs over it. */
static uint32_t raw_pos(const h1_parser *p, const char *at)
{
    return p->raw_off + (uint32_t)(at - p->raw_base);
}

static int on_url(llhttp_t *ll, const char *at, size_t len)
{
    h1_parser *p = P(ll);
    if (p->head.url.len == 0) p->head.url.off = raw_pos(p, at);
    p->head.url.len += (uint32_t)len;
    if (p->lim.max_url_bytes && p->head.url.len > p->lim.max_url_bytes)
        return fail(p, 414, "request-target too long");
    return 0;
}

static int on_status(llhttp_t *ll, const char *at, size_t len)
{
    h1_parser *p = P(ll);
    if (p->head.reason.len == 0) p->head.reason.off = raw_pos(p, at);
    p->head.reason.len += (uint32_t)len;
    return 0;
}

static int on_header_field(llhttp_t *ll, const char *at, size_t len)
{
    h1_parser *p = P(ll);
    for (size_t i = 0; i < len; i++)
        if (!is_tchar((unsigned char)at[i])) return fail(p, 400, "invalid header name");
    bool in_head = p->state == H1S_HEAD; /* else a trailer: validated, not kept */
    if (p->last_cb != CB_FIELD) {
        if (in_head && p->head.nhdr == H1_MAX_HEADERS) return fail(p, 431, "too many headers");
        if (in_head) {
            h1_header *x = &p->head.hdr[p->head.nhdr];
            memset(x, 0, sizeof(*x));
            x->name.off = raw_pos(p, at);
        }
        p->last_cb = CB_FIELD;
        p->field_len = 0;
    }
    p->field_len += len;
    if (in_head) p->head.hdr[p->head.nhdr].name.len += (uint32_t)len;
    return 0;
}

static int on_header_field_complete(llhttp_t *ll)
{
    h1_parser *p = P(ll);
    if (p->last_cb != CB_FIELD || p->field_len == 0) {
        fail(p, 400, "empty header name");
        return -1;
    }
    return 0;
}

static int on_header_value(llhttp_t *ll, const char *at, size_t len)
{
    h1_parser *p = P(ll);
    /* A value continuing after its line ended is obs-fold (RFC 9112 5.2). */
    if (p->last_cb == CB_VALUE_DONE) return fail(p, 400, "obsolete line folding");
    if (p->state != H1S_HEAD) {
        p->last_cb = CB_VALUE;
        return 0;
    }
    h1_header *x = &p->head.hdr[p->head.nhdr];
    if (p->last_cb != CB_VALUE) {
        x->value.off = raw_pos(p, at);
        p->last_cb = CB_VALUE;
    }
    x->value.len += (uint32_t)len;
    return 0;
}

static int on_header_value_complete(llhttp_t *ll)
{
    h1_parser *p = P(ll);
    if (p->state == H1S_HEAD) {
        h1_header *x = &p->head.hdr[p->head.nhdr];
        if (p->last_cb == CB_FIELD) x->value.off = x->name.off + x->name.len; /* empty */
        const char *v = h1_str(&p->head, x->value);
        size_t vlen = x->value.len;
        trim(&v, &vlen);
        x->value.off = (uint32_t)(v - p->head.store.data);
        x->value.len = (uint32_t)vlen;
        x->kind = h1_header_kind(h1_str(&p->head, x->name), x->name.len);
        p->head.nhdr++;
    }
    p->last_cb = CB_VALUE_DONE;
    return 0;
}

/* Why the request-target is not one we serve, or NULL (RFC 9112 3.2):
 * origin-form, absolute-form with an http(s) scheme and a host, or "*" for
 * OPTIONS. Whitespace and control bytes are refused whatever llhttp let
 * through (it passes HTAB and FF): forwarded raw, they would split the
 * request line differently upstream. */
static const char *target_problem(const h1_head *h)
{
    const unsigned char *u = (const unsigned char *)h1_str(h, h->url);
    size_t n = h->url.len;
    for (size_t i = 0; i < n; i++)
        if (u[i] <= ' ' || u[i] == 0x7f) return "whitespace or control byte in the request-target";
    if (n && u[0] == '/') return NULL;
    if (n == 1 && u[0] == '*' && h->method == HTTP_OPTIONS) return NULL;
    if (absolute_prefix((const char *)u, n) == 0) return "invalid request-target";
    h1_target t;
    h1_request_target(h, &t);
    return t.host_len ? NULL : "no host in the absolute-form request-target";
}

/* Whether the Transfer-Encoding fields, taken together, are exactly one
 * "chunked": the only coding the gateway forwards (it rewrites the field). */
static bool te_is_chunked_only(const h1_head *h)
{
    int seen = 0;
    for (int i = 0; i < h->nhdr; i++) {
        if (h->hdr[i].kind != H1H_TRANSFER_ENCODING) continue;
        if (++seen > 1) return false;
        if (!str_eq_nocase(h1_str(h, h->hdr[i].value), h->hdr[i].value.len, "chunked"))
            return false;
    }
    return seen == 1;
}

/* Request rules llhttp leaves to us (RFC 9112 3.2, 6.1; RFC 9110 10.1.1). */
static int validate_request(h1_parser *p)
{
    h1_head *h = &p->head;
    if (h->major != 1) return fail(p, 505, "HTTP version not supported");
    if (h->method == HTTP_CONNECT) return fail(p, 501, "CONNECT is not supported");
    const char *bad_target = target_problem(h);
    if (bad_target) return fail(p, 400, bad_target);
    int hosts = count_of(h, H1H_HOST);
    if (hosts > 1) return fail(p, 400, "more than one Host header");
    if (hosts == 0 && h->minor >= 1) return fail(p, 400, "missing Host header");
    if (h->minor == 0 && count_of(h, H1H_TRANSFER_ENCODING))
        return fail(p, 400, "Transfer-Encoding in an HTTP/1.0 request");
    /* chunked last but other codings too ("gzip, chunked"): a coding we do
     * not implement (RFC 9112 6.1); chunked not last is llhttp's 400 */
    if (h->chunked && !te_is_chunked_only(h))
        return fail(p, 501, "Transfer-Encoding other than chunked");
    if (h->has_length && p->lim.max_body_bytes && h->content_length > p->lim.max_body_bytes)
        return fail(p, 413, "request body too large");
    const h1_header *e = first_of(h, H1H_EXPECT);
    if (e && h->minor >= 1) {
        if (!str_eq_nocase(h1_str(h, e->value), e->value.len, "100-continue"))
            return fail(p, 417, "unsupported Expect");
        h->expect_continue = true;
    }
    return 0;
}

static int on_headers_complete(llhttp_t *ll)
{
    h1_parser *p = P(ll);
    h1_head *h = &p->head;
    h->method = ll->method;
    h->status = ll->status_code;
    h->major = ll->http_major;
    h->minor = ll->http_minor;
    h->chunked = (ll->flags & F_CHUNKED) != 0;
    h->has_length = (ll->flags & F_CONTENT_LENGTH) != 0;
    h->content_length = h->has_length ? ll->content_length : 0;
    h->keep_alive = llhttp_should_keep_alive(ll) != 0;
    h->upgrade = ll->upgrade != 0;
    p->ev_head = true;
    p->last_cb = CB_NONE;
    if (p->kind == H1_REQUEST) {
        if (validate_request(p) != 0) return -1;
    } else {
        if (h->major != 1 || h->status < 100 || h->status > 599) {
            fail(p, 502, "invalid status line");
            return -1;
        }
        /* No body, whatever Content-Length or Transfer-Encoding say: a
         * response to HEAD, 1xx, 204 and 304 (RFC 9112 6.3). Reading one
         * would take the next response's bytes (or wait for bytes that never come). */
        if (p->skip_body || h->status < 200 || h->status == 204 || h->status == 304) return 1;
        /* a coding other than chunked would reach the client undeclared (the
         * field is rewritten) or make the body close-delimited */
        if (count_of(h, H1H_TRANSFER_ENCODING) && !te_is_chunked_only(h)) {
            fail(p, 502, "Transfer-Encoding other than chunked");
            return -1;
        }
    }
    return HPE_PAUSED;
}

static int on_body(llhttp_t *ll, const char *at, size_t len)
{
    h1_parser *p = P(ll);
    p->body_bytes += len;
    if (p->lim.max_body_bytes && p->body_bytes > p->lim.max_body_bytes)
        return fail(p, 413, "request body too large");
    if (p->body_out) buf_append(p->body_out, at, len);
    if (p->chunked_out && p->head.chunked) buf_append(p->chunked_out, at, len);
    return 0;
}

/* Put "<size in hex>\r\n". */
static void put_chunk_size(buf *out, uint64_t size)
{
    char hex[18];
    int n = 0;
    do {
        hex[sizeof(hex) - 3 - n++] = "0123456789abcdef"[size & 15];
        size >>= 4;
    } while (size);
    hex[sizeof(hex) - 2] = '\r';
    hex[sizeof(hex) - 1] = '\n';
    buf_append(out, hex + sizeof(hex) - 2 - n, (size_t)n + 2);
}

/* Chunk framing for chunked_out (see h1_feed): a size line per data chunk
 * (extensions left out), CRLF after its data, the last chunk without trailers. */
static int on_chunk_header(llhttp_t *ll)
{
    h1_parser *p = P(ll);
    p->last_chunk = ll->content_length == 0;
    if (p->chunked_out && !p->last_chunk) put_chunk_size(p->chunked_out, ll->content_length);
    return 0;
}

static int on_chunk_complete(llhttp_t *ll)
{
    h1_parser *p = P(ll);
    if (p->chunked_out) {
        if (p->last_chunk) buf_append(p->chunked_out, "0\r\n\r\n", 5);
        else buf_append(p->chunked_out, "\r\n", 2);
    }
    return 0;
}

static int on_message_complete(llhttp_t *ll)
{
    P(ll)->ev_done = true;
    return HPE_PAUSED;
}

static const llhttp_settings_t g_settings = {
    .on_url = on_url,
    .on_status = on_status,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_chunk_header = on_chunk_header,
    .on_chunk_complete = on_chunk_complete,
    .on_message_complete = on_message_complete,
};

/* ---- parser driver ---- */

/* The resets below clear everything up to hdr[] and head, relying on their being last. */
_Static_assert(sizeof(h1_head) - offsetof(h1_head, hdr) - sizeof(((h1_head *)0)->hdr) <
                   _Alignof(h1_head),
               "h1_head.hdr must be the last member");
_Static_assert(offsetof(h1_parser, head) + sizeof(h1_head) == sizeof(h1_parser),
               "h1_parser.head must be the last member");

/* Clear a head for the next message, keeping store's memory; hdr[] (last in
 * h1_head, 2.5 KiB) is left as it is: entries are written as headers arrive. */
static void head_reset(h1_head *h)
{
    buf saved = h->store;
    memset(h, 0, offsetof(h1_head, hdr));
    h->store = saved;
    buf_reset(&h->store);
}

void h1_parser_init(h1_parser *p, enum h1_kind kind, const h1_limits *lim)
{
    memset(p, 0, sizeof(*p));
    p->kind = kind;
    p->lim = *lim;
    buf_init(&p->head.store);
    llhttp_init(&p->ll, kind == H1_REQUEST ? HTTP_REQUEST : HTTP_RESPONSE, &g_settings);
    p->ll.data = p;
    p->after_lf = true;
}

void h1_parser_free(h1_parser *p) { buf_free(&p->head.store); }

void h1_parser_reset(h1_parser *p)
{
    enum h1_kind kind = p->kind;
    h1_limits lim = p->lim;
    memset(p, 0, offsetof(h1_parser, head)); /* head is last */
    head_reset(&p->head);
    p->kind = kind;
    p->lim = lim;
    llhttp_init(&p->ll, kind == H1_REQUEST ? HTTP_REQUEST : HTTP_RESPONSE, &g_settings);
    p->ll.data = p;
    p->after_lf = true;
}

static h1_ev error(h1_parser *p, int status, const char *reason)
{
    p->state = H1S_ERROR;
    if (p->err_status == 0) {
        p->err_status = status;
        p->err_reason = reason;
    }
    if (p->kind == H1_RESPONSE) p->err_status = 502;
    return H1_ERROR;
}

static h1_ev ll_error(h1_parser *p, llhttp_errno_t err)
{
    const char *why = llhttp_get_error_reason(&p->ll);
    int status = err == HPE_INVALID_VERSION ? 505 : 400;
    return error(p, status, why ? why : llhttp_errno_name(err));
}

/* Line rules llhttp 8 does not enforce, over head bytes d[0..n); returns why
 * they are broken, or NULL. obs-fold and whitespace before the first header:
 * a head line that starts with SP or HTAB (RFC 9112 5.2, 2.2). In requests,
 * an LF without a CR before it: RFC 9112 2.2 lets a server accept a bare LF,
 * but llhttp takes it only in the request line (no lenient flag turns that
 * off), and a next hop that does not would see different lines. */
static const char *scan_lines(h1_parser *p, const char *d, size_t n)
{
    if (n == 0) return NULL;
    if (p->after_lf && is_ows(d[0]) && p->head_bytes > 0) return "obsolete line folding";
    const char *end = d + n, *lf = d;
    while ((lf = memchr(lf, '\n', (size_t)(end - lf))) != NULL) {
        char before = lf > d ? lf[-1] : p->last_byte;
        if (before != '\r' && p->kind == H1_REQUEST) return "bare LF in the request head";
        if (++lf < end && is_ows(*lf)) return "obsolete line folding";
    }
    p->after_lf = end[-1] == '\n';
    p->last_byte = end[-1];
    return NULL;
}

/* Run llhttp over d[0..n); returns its errno and the bytes it consumed. */
static llhttp_errno_t run(h1_parser *p, const char *d, size_t n, size_t *used)
{
    if (p->paused) {
        llhttp_resume(&p->ll);
        p->paused = false;
    }
    const char *src = d ? d : "";
    p->raw_base = src;
    llhttp_errno_t err = llhttp_execute(&p->ll, src, n);
    *used = err == HPE_OK ? n : (size_t)(llhttp_get_error_pos(&p->ll) - src);
    if (err == HPE_PAUSED) p->paused = true;
    return err;
}

/* The head just ended (paused in on_headers_complete, or with no body). */
static h1_ev head_complete(h1_parser *p)
{
    p->ev_head = false;
    if (p->ev_done) { /* response to HEAD: already complete */
        p->ev_done = false;
        p->state = H1S_DONE;
        return H1_HEAD;
    }
    /* Let llhttp finish a body-less message now, consuming nothing. */
    size_t used;
    llhttp_errno_t err = run(p, "", 0, &used);
    if (err == HPE_PAUSED && p->ev_done) {
        p->ev_done = false;
        p->state = H1S_DONE;
    } else if (err != HPE_OK) {
        return ll_error(p, err);
    } else {
        p->state = H1S_BODY;
    }
    return H1_HEAD;
}

static h1_ev feed_head(h1_parser *p, const char *data, size_t len, size_t *used)
{
    uint64_t max = p->kind == H1_REQUEST ? p->lim.max_head_bytes : H1_MAX_RESPONSE_HEAD;
    uint64_t room = max > p->head_bytes ? max - p->head_bytes : 0;
    size_t n = len < room ? len : (size_t)room;
    if (n == 0 && len > 0) return error(p, 431, "request head too large");
    /* One copy of the whole chunk instead of one per span; what llhttp did not
     * consume (the body, the next message) is cut off again below. */
    p->raw_off = (uint32_t)p->head.store.len;
    if (n) buf_append(&p->head.store, data, n);
    llhttp_errno_t err = run(p, data, n, used);
    p->head.store.len = p->raw_off + *used;
    const char *bad_line = scan_lines(p, data, *used);
    if (bad_line) return error(p, 400, bad_line);
    p->head_bytes += *used;
    if (err == HPE_PAUSED && p->ev_head) return head_complete(p);
    if (err != HPE_OK) return ll_error(p, err);
    if (p->head_bytes >= max && n > 0) return error(p, 431, "request head too large");
    return H1_AGAIN;
}

static h1_ev feed_body(h1_parser *p, const char *data, size_t len, size_t *used)
{
    llhttp_errno_t err = run(p, data, len, used);
    if (err == HPE_OK) return len ? H1_BODY : H1_AGAIN;
    if (err == HPE_PAUSED && p->ev_done) {
        p->ev_done = false;
        p->state = H1S_DONE;
        return H1_DONE;
    }
    return ll_error(p, err);
}

h1_ev h1_feed(h1_parser *p, const char *data, size_t len, size_t *used)
{
    *used = 0;
    if (p->state == H1S_DONE) {
        /* Nothing may follow a final message (Connection: close, upgrade). */
        if (!p->head.keep_alive || p->head.upgrade)
            return error(p, 400, "data after the last message of the connection");
        head_reset(&p->head);
        p->state = H1S_HEAD;
        p->head_bytes = 0;
        p->body_bytes = 0;
        p->last_cb = CB_NONE;
        p->after_lf = true;
        p->last_byte = 0;
        p->last_chunk = false;
    }
    switch (p->state) {
    case H1S_HEAD: return feed_head(p, data, len, used);
    case H1S_BODY: return feed_body(p, data, len, used);
    default: return H1_ERROR;
    }
}

h1_ev h1_finish(h1_parser *p)
{
    if (p->state == H1S_ERROR) return H1_ERROR;
    if (p->state == H1S_DONE) return H1_DONE;
    if (p->paused) {
        llhttp_resume(&p->ll);
        p->paused = false;
    }
    llhttp_errno_t err = llhttp_finish(&p->ll);
    if (p->ev_done) {
        p->ev_done = false;
        p->paused = err == HPE_PAUSED;
        p->state = H1S_DONE;
        return H1_DONE;
    }
    return error(p, 400, "connection closed in the middle of a message");
}

bool h1_needs_eof(const h1_parser *p)
{
    return p->state == H1S_BODY && llhttp_message_needs_eof(&p->ll);
}

/* ---- writing heads ---- */

typedef struct conn_tokens {
    const char *tok[H1_MAX_CONN_TOKENS];
    size_t len[H1_MAX_CONN_TOKENS];
    int n;
} conn_tokens;

/* Names listed in Connection headers: hop-by-hop for this message. */
static void collect_tokens(const h1_head *h, conn_tokens *t)
{
    t->n = 0;
    for (int i = 0; i < h->nhdr; i++) {
        if (h->hdr[i].kind != H1H_CONNECTION) continue;
        const char *v = h1_str(h, h->hdr[i].value);
        size_t vlen = h->hdr[i].value.len;
        while (vlen && t->n < H1_MAX_CONN_TOKENS) {
            const char *comma = memchr(v, ',', vlen);
            size_t l = comma ? (size_t)(comma - v) : vlen;
            const char *tok = v;
            size_t tl = l;
            trim(&tok, &tl);
            if (tl) {
                t->tok[t->n] = tok;
                t->len[t->n++] = tl;
            }
            if (!comma) break;
            v += l + 1;
            vlen -= l + 1;
        }
    }
}

static bool listed(const conn_tokens *t, const char *name, size_t len)
{
    for (int i = 0; i < t->n; i++)
        if (t->len[i] == len && strncasecmp(t->tok[i], name, len) == 0) return true;
    return false;
}

/* buf_append inlined: a head is written in some thirty short pieces. */
static inline void put(buf *out, const void *s, size_t n)
{
    if (out->cap - out->len < n) buf_reserve(out, n);
    if (n) memcpy(out->data + out->len, s, n);
    out->len += n;
}

static void put_str(buf *out, const char *s) { put(out, s, strlen(s)); }

/* Append a string literal (no strlen at run time). */
#define PUT_LIT(out, s) put(out, s, sizeof(s) - 1)

/* "name: v\r\n" with one reservation: heads are built from many short pieces. */
static void put_header(buf *out, const char *name, size_t nlen, const char *v, size_t vlen)
{
    buf_reserve(out, nlen + vlen + 4);
    char *w = out->data + out->len;
    memcpy(w, name, nlen);
    w += nlen;
    *w++ = ':';
    *w++ = ' ';
    if (vlen) memcpy(w, v, vlen);
    w += vlen;
    *w++ = '\r';
    *w++ = '\n';
    out->len = (size_t)(w - out->data);
}

/* "Canon: v1, v2, ..., last\r\n" over every header of a kind, plus last. */
static void put_joined(buf *out, const h1_head *h, int kind, const char *canon, size_t canon_len,
                       const char *last, size_t last_len)
{
    put(out, canon, canon_len);
    PUT_LIT(out, ": ");
    for (int i = 0; i < h->nhdr; i++) {
        const h1_header *x = &h->hdr[i];
        if (x->kind != kind || x->value.len == 0) continue;
        put(out, h1_str(h, x->value), x->value.len);
        PUT_LIT(out, ", ");
    }
    put(out, last, last_len);
    PUT_LIT(out, "\r\n");
}

static void put_via(buf *out, const h1_head *h)
{
    static const char via[] = "1.1 halo";
    put_joined(out, h, H1H_VIA, "Via", 3, via, sizeof(via) - 1);
}

/* Whether header x is dropped when forwarding: hop-by-hop, listed in
 * Connection, or ours to set. Framing headers (Content-Length,
 * Transfer-Encoding) are always dropped and written from the parsed head, so
 * Connection cannot take the framing away from a body that is forwarded
 * anyway (request smuggling); Connection cannot remove Host either. */
static bool dropped(const h1_head *h, const h1_header *x, const conn_tokens *t)
{
    return kind_is_hop(x->kind) || x->kind == H1H_VIA || x->kind == H1H_CONTENT_LENGTH ||
           (t->n && x->kind != H1H_HOST && listed(t, h1_str(h, x->name), x->name.len));
}

/* "Content-Length: n\r\n" without printf. */
static void put_content_length(buf *out, uint64_t n)
{
    char digits[20];
    int k = 0;
    do {
        digits[sizeof(digits) - 1 - k++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    put_header(out, "Content-Length", 14, digits + sizeof(digits) - k, (size_t)k);
}

/* The framing headers of a message that may have a body, from the parsed head. */
static void put_framing(buf *out, const h1_head *h, bool dechunk)
{
    if (h->chunked) {
        if (!dechunk) PUT_LIT(out, "Transfer-Encoding: chunked\r\n");
    } else if (h->has_length) {
        put_content_length(out, h->content_length);
    }
}

/* Whether a request header is left out upstream: dropped, or one the gateway sets. */
static bool dropped_upstream(const h1_head *h, const h1_header *x, const conn_tokens *t,
                             const h1_fwd_req *o)
{
    return dropped(h, x, t) || x->kind == H1H_X_FORWARDED_FOR ||
           x->kind == H1H_X_FORWARDED_PROTO || (o->strip_expect && x->kind == H1H_EXPECT);
}

void h1_write_request(const h1_head *h, const h1_fwd_req *o, buf *out)
{
    conn_tokens t;
    collect_tokens(h, &t);
    h1_target tg;
    h1_request_target(h, &tg);
    bool absolute = tg.path != h1_str(h, h->url) || h->url.len == 0;
    put_str(out, llhttp_method_name((llhttp_method_t)h->method));
    PUT_LIT(out, " ");
    bool star = tg.path_len == 1 && tg.path[0] == '*';
    if (!star && (tg.path_len == 0 || tg.path[0] != '/')) PUT_LIT(out, "/");
    put(out, tg.path, tg.path_len);
    PUT_LIT(out, " HTTP/1.1\r\n");
    bool have_host = false;
    for (int i = 0; i < h->nhdr; i++) {
        const h1_header *x = &h->hdr[i];
        if (dropped_upstream(h, x, &t, o)) continue;
        if (x->kind == H1H_HOST) {
            have_host = true;
            if (absolute) { /* the authority of an absolute-form target wins */
                put_header(out, "Host", 4, tg.host, tg.host_len);
                continue;
            }
        }
        put_header(out, h1_str(h, x->name), x->name.len, h1_str(h, x->value), x->value.len);
    }
    if (!have_host) {
        const char *host = absolute && tg.host_len ? tg.host : o->host;
        size_t hl = absolute && tg.host_len ? tg.host_len : strlen(o->host);
        put_header(out, "Host", 4, host, hl);
    }
    put_framing(out, h, false);
    put_joined(out, h, H1H_X_FORWARDED_FOR, "X-Forwarded-For", 15, o->client_ip,
               strlen(o->client_ip));
    put_header(out, "X-Forwarded-Proto", 17, o->proto, strlen(o->proto));
    put_via(out, h);
    PUT_LIT(out, "\r\n");
}

/* "HTTP/1.1 <status> " without printf: statuses here have three digits. */
static void put_status_line_start(buf *out, int status)
{
    if (status < 100 || status > 999) {
        buf_printf(out, "HTTP/1.1 %d ", status);
        return;
    }
    char s[] = "HTTP/1.1 000 ";
    s[9] = (char)('0' + status / 100);
    s[10] = (char)('0' + status / 10 % 10);
    s[11] = (char)('0' + status % 10);
    put(out, s, sizeof(s) - 1);
}

void h1_write_response(const h1_head *h, const h1_fwd_resp *o, buf *out)
{
    conn_tokens t;
    collect_tokens(h, &t);
    put_status_line_start(out, h->status);
    if (h->reason.len) put(out, h1_str(h, h->reason), h->reason.len);
    else put_str(out, h1_status_text(h->status));
    PUT_LIT(out, "\r\n");
    for (int i = 0; i < h->nhdr; i++) {
        const h1_header *x = &h->hdr[i];
        if (dropped(h, x, &t)) continue;
        put_header(out, h1_str(h, x->name), x->name.len, h1_str(h, x->value), x->value.len);
    }
    if (h->status >= 200 && h->status != 204) put_framing(out, h, o->dechunk);
    put_via(out, h);
    if (o->close) PUT_LIT(out, "Connection: close\r\n");
    else if (o->keep_alive_10) PUT_LIT(out, "Connection: keep-alive\r\n");
    PUT_LIT(out, "\r\n");
}

void h1_write_error(int status, const char *detail, bool close, bool no_body, buf *out)
{
    char body[256];
    int n = detail && detail[0]
                ? snprintf(body, sizeof(body), "%d %s: %s\n", status, h1_status_text(status), detail)
                : snprintf(body, sizeof(body), "%d %s\n", status, h1_status_text(status));
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof(body)) n = sizeof(body) - 1;
    buf_printf(out,
               "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
               "Content-Length: %d\r\n%s\r\n",
               status, h1_status_text(status), n, close ? "Connection: close\r\n" : "");
    if (!no_body) buf_append(out, body, (size_t)n);
}

const char *h1_status_text(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}
