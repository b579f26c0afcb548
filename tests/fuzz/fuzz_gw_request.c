/* fuzz_gw_request.c — libFuzzer target: a client byte stream through the gateway's request path (http1.c). */
#include "gw/http1.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* What a stream parsed into, to compare whole and piecewise feeding. */
typedef struct trace {
    int heads, dones, error_status;
    uint64_t body_bytes;
    uint32_t url_sum;
} trace;

/* The rewritten head must be one head: it ends with the only blank line in it,
 * and no header line carries a bare CR or LF (no smuggled second message). */
static void check_rewrite(const h1_head *h)
{
    buf out;
    buf_init(&out);
    h1_fwd_req o = {.client_ip = "192.0.2.1", .proto = "http", .host = "10.0.0.1:80",
                    .strip_expect = true};
    h1_write_request(h, &o, &out);
    if (out.len < 4 || memcmp(out.data + out.len - 4, "\r\n\r\n", 4) != 0) abort();
    for (size_t i = 0; i + 4 < out.len; i++) {
        if (memcmp(out.data + i, "\r\n\r\n", 4) == 0) abort();
        if (out.data[i] == '\n' && (i == 0 || out.data[i - 1] != '\r')) abort();
        if (out.data[i] == '\r' && out.data[i + 1] != '\n') abort();
    }
    buf_free(&out);
}

static int count_fields(const buf *b, const char *name)
{
    int k = 0;
    size_t n = strlen(name);
    for (size_t i = 0; i + n <= b->len; i++) k += strncasecmp(b->data + i, name, n) == 0;
    return k;
}

/* Framing comes from the parsed head, never from the client's fields: at most
 * one of Content-Length / Transfer-Encoding, matching the parse, and one Host. */
static void check_framing(const h1_head *h)
{
    buf out;
    buf_init(&out);
    h1_fwd_req o = {.client_ip = "192.0.2.1", .proto = "http", .host = "10.0.0.1:80"};
    h1_write_request(h, &o, &out);
    int cl = count_fields(&out, "\r\ncontent-length:");
    int te = count_fields(&out, "\r\ntransfer-encoding:");
    if (cl > 1 || te > 1 || (cl && te)) abort();
    if (h->chunked != (te == 1)) abort();
    if (!h->chunked && h->has_length != (cl == 1)) abort();
    if (count_fields(&out, "\r\nhost:") != 1) abort();
    buf_free(&out);
}

/* A re-chunked body (chunked_out) is strict chunked framing of exactly the
 * decoded body: hex sizes, no extensions, no trailers, one last chunk. */
static void check_rechunked(const buf *c, const buf *dec)
{
    size_t i = 0, o = 0;
    for (;;) {
        uint64_t n = 0;
        size_t start = i;
        while (i < c->len && ((c->data[i] >= '0' && c->data[i] <= '9') ||
                              (c->data[i] >= 'a' && c->data[i] <= 'f'))) {
            n = n * 16 + (uint64_t)(c->data[i] <= '9' ? c->data[i] - '0' : c->data[i] - 'a' + 10);
            i++;
        }
        if (i == start || i + 2 > c->len || c->data[i] != '\r' || c->data[i + 1] != '\n') abort();
        i += 2;
        if (n == 0) {
            if (i + 2 != c->len || c->data[i] != '\r' || c->data[i + 1] != '\n') abort();
            break;
        }
        if (i + n + 2 > c->len || o + n > dec->len || memcmp(c->data + i, dec->data + o, n) != 0)
            abort();
        i += n;
        o += n;
        if (c->data[i] != '\r' || c->data[i + 1] != '\n') abort();
        i += 2;
    }
    if (o != dec->len) abort();
}

/* The proxy's request-body path: decoded body and re-chunked copy per message. */
static void run_rechunk(const char *d, size_t len, unsigned seed, const h1_limits *lim)
{
    h1_parser p;
    h1_parser_init(&p, H1_REQUEST, lim);
    buf co, dec;
    buf_init(&co);
    buf_init(&dec);
    p.chunked_out = &co;
    p.body_out = &dec;
    size_t off = 0;
    for (int guard = 0; guard < 100000 && off < len; guard++) {
        seed = seed * 1103515245u + 12345u;
        size_t step = 1 + (seed >> 16) % 17;
        if (step > len - off) step = len - off;
        size_t used;
        h1_ev ev = h1_feed(&p, d + off, step, &used);
        off += used;
        if (ev == H1_ERROR) break;
        if (ev == H1_HEAD) {
            check_framing(&p.head);
            if (co.len || dec.len) abort();
        }
        if (ev == H1_DONE || (ev == H1_HEAD && h1_done(&p))) {
            if (p.head.chunked) check_rechunked(&co, &dec);
            else if (co.len) abort();
            buf_reset(&co);
            buf_reset(&dec);
            if (!p.head.keep_alive || p.head.upgrade) break;
        }
        if (used == 0 && ev != H1_HEAD && ev != H1_DONE) break;
    }
    buf_free(&co);
    buf_free(&dec);
    h1_parser_free(&p);
}

/* Feed d[0..len) in steps from the seed (0: all at once) like the proxy does. */
static trace run(const char *d, size_t len, unsigned seed, const h1_limits *lim)
{
    trace t = {0};
    h1_parser p;
    h1_parser_init(&p, H1_REQUEST, lim);
    size_t off = 0, avail = seed ? 0 : len;
    for (int guard = 0; guard < 100000; guard++) {
        if (seed && avail < len) {
            seed = seed * 1103515245u + 12345u;
            size_t step = 1 + (seed >> 16) % 13;
            avail = avail + step > len ? len : avail + step;
        }
        size_t used;
        h1_ev ev = h1_feed(&p, d + off, avail - off, &used);
        if (used > avail - off) abort();
        off += used;
        if (ev == H1_ERROR) {
            if (p.err_status < 400 || p.err_status > 599) abort();
            t.error_status = p.err_status;
            break;
        }
        if (ev == H1_HEAD) {
            t.heads++;
            if (p.head.url.len > lim->max_url_bytes) abort();
            if (p.head.nhdr > H1_MAX_HEADERS) abort();
            for (uint32_t i = 0; i < p.head.url.len; i++) t.url_sum += (uint8_t)h1_str(&p.head, p.head.url)[i];
            check_rewrite(&p.head);
            if (h1_done(&p)) t.dones++;
            if (h1_done(&p) && (!p.head.keep_alive || p.head.upgrade)) break;
        }
        if (ev == H1_BODY || ev == H1_DONE) t.body_bytes += used;
        if (ev == H1_DONE) {
            t.dones++;
            if (!p.head.keep_alive || p.head.upgrade) break;
        }
        if (used == 0 && ev != H1_HEAD && !(ev == H1_DONE)) {
            if (avail == len) break;
        }
    }
    h1_parser_free(&p);
    return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    h1_limits lim = {data[0] & 1 ? 256 : 64 * 1024, data[0] & 2 ? 40 : 8192,
                     data[0] & 4 ? 16 : 0};
    unsigned seed = data[1] | 1u;
    const char *d = (const char *)data + 2;
    size_t len = size - 2;
    trace whole = run(d, len, 0, &lim);
    trace part = run(d, len, seed, &lim);
    /* Complete messages and whether the stream is refused do not depend on
     * how the bytes arrive. (Which status a head that breaks two rules gets,
     * say an invalid and too long URL, may: llhttp reports spans lazily.) */
    if (whole.heads != part.heads || whole.dones != part.dones ||
        !whole.error_status != !part.error_status || whole.url_sum != part.url_sum)
        abort();
    if (whole.error_status == 0 && whole.body_bytes != part.body_bytes) abort();
    run_rechunk(d, len, seed, &lim);

    /* The same bytes as an upstream response must not crash the response side. */
    h1_limits rl = {H1_MAX_RESPONSE_HEAD, 0, 0};
    h1_parser r;
    h1_parser_init(&r, H1_RESPONSE, &rl);
    buf body;
    buf_init(&body);
    r.body_out = data[0] & 8 ? &body : NULL;
    r.skip_body = data[0] & 16;
    size_t off = 0;
    for (int guard = 0; guard < 10000 && off <= len; guard++) {
        size_t used;
        h1_ev ev = h1_feed(&r, d + off, len - off, &used);
        off += used;
        if (ev == H1_ERROR || (used == 0 && ev != H1_HEAD && ev != H1_DONE)) break;
        if (ev == H1_HEAD && (r.head.status < 100 || r.head.status > 599)) abort();
        if (ev == H1_DONE && r.head.status >= 200) break;
    }
    if (r.state == H1S_BODY) h1_finish(&r);
    buf_free(&body);
    h1_parser_free(&r);
    return 0;
}
