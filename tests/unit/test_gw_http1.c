/* test_gw_http1.c — the gateway's HTTP/1.1 head handling: parsing, validation, rewriting. */
#include "gw/accesslog.h"
#include "gw/http1.h"
#include "test.h"

#include <stdlib.h>

static const h1_limits LIM = {64 * 1024, 8 * 1024, 0};

/* Feed a whole request; returns the first event that is not H1_AGAIN/H1_BODY. */
static h1_ev feed_all(h1_parser *p, const char *s, size_t len, size_t *consumed)
{
    size_t off = 0, used;
    h1_ev ev = H1_AGAIN;
    while (off < len) {
        ev = h1_feed(p, s + off, len - off, &used);
        off += used;
        if (ev != H1_AGAIN && ev != H1_BODY) break;
    }
    if (consumed) *consumed = off;
    return ev;
}

/* Status a request gets from the parser (0 when it parses cleanly). */
static int status_of(const char *req, size_t len, const h1_limits *lim)
{
    h1_parser p;
    h1_parser_init(&p, H1_REQUEST, lim ? lim : &LIM);
    size_t off = 0, used;
    h1_ev ev = H1_AGAIN;
    for (int steps = 0; steps < 1000 && ev != H1_ERROR && ev != H1_DONE; steps++) {
        if (ev == H1_HEAD && h1_done(&p)) break;
        ev = h1_feed(&p, req + off, len - off, &used);
        off += used;
        if (off == len && (ev == H1_AGAIN || ev == H1_BODY)) break;
    }
    int st = ev == H1_ERROR ? p.err_status : 0;
    h1_parser_free(&p);
    return st;
}

#define STATUS(lit) status_of(lit, sizeof(lit) - 1, NULL)

static h1_parser *parse_req(const char *s);
static void free_req(h1_parser *p);
static bool contains(const buf *b, const char *s);

static bool value_is(const h1_head *h, const char *name, const char *want)
{
    size_t len;
    const char *v = h1_get(h, name, &len);
    return v && len == strlen(want) && memcmp(v, want, len) == 0;
}

static void test_simple_get(void)
{
    const char req[] = "GET /a/b?x=1 HTTP/1.1\r\nHost: example.com:8080\r\nX-A:  spaced  \r\n\r\n";
    h1_parser p;
    h1_parser_init(&p, H1_REQUEST, &LIM);
    size_t used;
    CHECK_EQ_INT(h1_feed(&p, req, sizeof(req) - 1, &used), H1_HEAD);
    CHECK_EQ_INT(used, sizeof(req) - 1);
    CHECK(h1_done(&p));
    CHECK_EQ_INT(p.head.method, HTTP_GET);
    CHECK_EQ_INT(p.head.minor, 1);
    CHECK(p.head.keep_alive);
    CHECK(value_is(&p.head, "host", "example.com:8080"));
    CHECK(value_is(&p.head, "x-a", "spaced"));
    h1_target t;
    h1_request_target(&p.head, &t);
    CHECK_MEM(t.host, t.host_len, "example.com:8080");
    CHECK_MEM(t.path, t.path_len, "/a/b?x=1");
    CHECK_EQ_INT(t.route_path_len, 4);
    h1_parser_free(&p);
}

static void test_bytewise_same_head(void)
{
    const char req[] = "POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nX-Long: "
                       "abcdefghijklmnopqrstuvwxyz\r\n\r\nhello";
    h1_parser p;
    h1_parser_init(&p, H1_REQUEST, &LIM);
    size_t used, off = 0;
    h1_ev ev = H1_AGAIN;
    while (ev == H1_AGAIN) {
        ev = h1_feed(&p, req + off, 1, &used);
        off += used;
    }
    CHECK_EQ_INT(ev, H1_HEAD);
    CHECK(value_is(&p.head, "x-long", "abcdefghijklmnopqrstuvwxyz"));
    CHECK(p.head.has_length && p.head.content_length == 5);
    CHECK(!h1_done(&p));
    size_t body = 0;
    while (off < sizeof(req) - 1) {
        ev = h1_feed(&p, req + off, 1, &used);
        off += used;
        body += used;
        if (ev == H1_DONE) break;
        CHECK_EQ_INT(ev, H1_BODY);
    }
    CHECK_EQ_INT(ev, H1_DONE);
    CHECK_EQ_INT(body, 5);
    h1_parser_free(&p);
}

static void test_pipelined(void)
{
    const char req[] = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
                       "POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
                       "GET /3 HTTP/1.1\r\nHost: h\r\n\r\n";
    h1_parser p;
    h1_parser_init(&p, H1_REQUEST, &LIM);
    size_t off = 0, used;
    CHECK_EQ_INT(h1_feed(&p, req, sizeof(req) - 1, &used), H1_HEAD);
    off += used;
    CHECK(h1_done(&p));
    CHECK_MEM(h1_str(&p.head, p.head.url), p.head.url.len, "/1");
    CHECK_EQ_INT(h1_feed(&p, req + off, sizeof(req) - 1 - off, &used), H1_HEAD);
    off += used;
    CHECK_MEM(h1_str(&p.head, p.head.url), p.head.url.len, "/2");
    CHECK_EQ_INT(h1_feed(&p, req + off, sizeof(req) - 1 - off, &used), H1_DONE);
    CHECK_EQ_INT(used, 3);
    CHECK_MEM(req + off, used, "abc");
    off += used;
    CHECK_EQ_INT(h1_feed(&p, req + off, sizeof(req) - 1 - off, &used), H1_HEAD);
    CHECK_MEM(h1_str(&p.head, p.head.url), p.head.url.len, "/3");
    CHECK_EQ_INT(off + used, sizeof(req) - 1);
    h1_parser_free(&p);
}

static void test_chunked_raw(void)
{
    const char head[] = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    const char body[] = "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: v\r\n\r\n";
    char all[256];
    snprintf(all, sizeof(all), "%s%sGET", head, body);
    h1_parser p;
    h1_parser_init(&p, H1_REQUEST, &LIM);
    size_t used;
    CHECK_EQ_INT(h1_feed(&p, all, strlen(all), &used), H1_HEAD);
    CHECK_EQ_INT(used, sizeof(head) - 1);
    CHECK(p.head.chunked);
    size_t off = used, raw = 0;
    h1_ev ev;
    do {
        ev = h1_feed(&p, all + off, strlen(all) - off, &used);
        off += used;
        raw += used;
    } while (ev == H1_BODY);
    CHECK_EQ_INT(ev, H1_DONE);
    CHECK_EQ_INT(raw, sizeof(body) - 1); /* framing and trailer pass through as sent */
    CHECK_EQ_INT(p.body_bytes, 11);
    h1_parser_free(&p);
}

static void test_smuggling_vectors(void)
{
    CHECK_EQ_INT(STATUS("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400);
    CHECK_EQ_INT(STATUS("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                        "Content-Length: 3\r\n\r\n0\r\n\r\n"), 400);
    CHECK_EQ_INT(STATUS("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
                        "Content-Length: 3\r\n\r\nabc"), 400);
    CHECK_EQ_INT(STATUS("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
                        "Content-Length: 4\r\n\r\nabcd"), 400);
    CHECK_EQ_INT(STATUS("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\nabc"), 400);
    CHECK_EQ_INT(STATUS("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\nabc"), 400);
    CHECK_EQ_INT(STATUS("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x3\r\n\r\nabc"), 400);
    CHECK_EQ_INT(STATUS("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "zz\r\nabc\r\n0\r\n\r\n"), 400);
    CHECK_EQ_INT(STATUS("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "ffffffffffffffffff\r\n"), 400);
    CHECK_EQ_INT(STATUS("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "3\r\nabcX\r\n0\r\n\r\n"), 400);
    CHECK_EQ_INT(STATUS("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n"
                        "\r\n"), 400);
    CHECK_EQ_INT(STATUS("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n"), 400);
    CHECK_EQ_INT(STATUS("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400);
    /* obs-fold, with a value on the first line and without */
    CHECK_EQ_INT(STATUS("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n"), 400);
    CHECK_EQ_INT(STATUS("GET / HTTP/1.1\r\nHost: h\r\nX:\r\n\tb\r\n\r\n"), 400);
    CHECK_EQ_INT(STATUS("GET / HTTP/1.1\r\n Host: h\r\n\r\n"), 400);
    /* NUL and control bytes, whitespace before the colon, empty names, bare LF */
    CHECK_EQ_INT(status_of("GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n", 36, NULL), 400);
    CHECK_EQ_INT(STATUS("GET / HTTP/1.1\r\nHost: h\r\nX: a\x01" "b\r\n\r\n"), 400);
    CHECK_EQ_INT(STATUS("GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f\r\n\r\n"), 400);
    CHECK_EQ_INT(STATUS("GET / HTTP/1.1\r\nHost: h\r\nX : b\r\n\r\n"), 400);
    CHECK_EQ_INT(STATUS("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n"), 400);
    CHECK_EQ_INT(STATUS("GET / HTTP/1.1\r\nHost: h\r\n: b\r\n\r\n"), 400);
    CHECK_EQ_INT(STATUS("GET / HTTP/1.1\r\nHost: h\nX: b\r\n\r\n"), 400);
    CHECK_EQ_INT(STATUS("GET / HTTP/1.1\r\nHost: h\r\nX: a\rb: c\r\n\r\n"), 400);
    CHECK_EQ_INT(STATUS("GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    /* bare LF anywhere in a request head, the request line included */
    CHECK_EQ_INT(STATUS("GET / HTTP/1.1\nHost: h\r\n\r\n"), 400);
    CHECK_EQ_INT(STATUS("GET / HTTP/1.1\r\nHost: h\r\n\n"), 400);
    CHECK_EQ_INT(STATUS("GET /s HTTP/1.1\nHost: x\nX: y\n\n"), 400);
    /* whitespace and control bytes in the request-target (llhttp passes HTAB, FF) */
    CHECK_EQ_INT(STATUS("GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    CHECK_EQ_INT(STATUS("GET /a\fb HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    CHECK_EQ_INT(STATUS("GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    /* codings other than exactly one "chunked": 501 (RFC 9112 6.1) */
    CHECK_EQ_INT(STATUS("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n"
                        "\r\n0\r\n\r\n"), 501);
    CHECK_EQ_INT(STATUS("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 501);
    CHECK_EQ_INT(STATUS("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n"
                        "\r\n0\r\n\r\n"), 400); /* llhttp: chunked twice is not chunked last */
    CHECK_EQ_INT(STATUS("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked \r\n"
                        "\r\n0\r\n\r\n"), 0);
}

/* Which targets are absolute-form, and which forms are served at all. */
static void test_request_target_forms(void)
{
    /* "://" inside an origin-form path is a path (it used to route by "admin.internal") */
    h1_parser *p = parse_req("GET /x://admin.internal/ HTTP/1.1\r\nHost: www.example\r\n\r\n");
    h1_target t;
    h1_request_target(&p->head, &t);
    CHECK_MEM(t.host, t.host_len, "www.example");
    CHECK_MEM(t.path, t.path_len, "/x://admin.internal/");
    free_req(p);
    p = parse_req("GET HTTPS://Example.org?q HTTP/1.1\r\nHost: other\r\n\r\n");
    h1_request_target(&p->head, &t);
    CHECK_MEM(t.host, t.host_len, "Example.org");
    CHECK_MEM(t.path, t.path_len, "?q");
    free_req(p);
    CHECK_EQ_INT(STATUS("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
    CHECK_EQ_INT(STATUS("GET * HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    CHECK_EQ_INT(STATUS("GET ftp://admin.internal/ HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    CHECK_EQ_INT(STATUS("GET x://admin.internal/ HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    CHECK_EQ_INT(STATUS("GET admin HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    /* an absolute-form target without a host would send an empty Host upstream */
    CHECK_EQ_INT(STATUS("GET http:///p HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    CHECK_EQ_INT(STATUS("GET http://u@/p HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    CHECK_EQ_INT(STATUS("GET http://h/p HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
}

static void test_request_rules(void)
{
    CHECK_EQ_INT(STATUS("GET / HTTP/1.1\r\n\r\n"), 400);                       /* no Host */
    CHECK_EQ_INT(STATUS("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);  /* two */
    CHECK_EQ_INT(STATUS("GET / HTTP/1.0\r\n\r\n"), 0);                         /* fine in 1.0 */
    CHECK_EQ_INT(STATUS("GET / HTTP/2.0\r\nHost: h\r\n\r\n"), 505);
    CHECK_EQ_INT(STATUS("GET / HTTP/0.9\r\nHost: h\r\n\r\n"), 505);
    CHECK_EQ_INT(STATUS("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n"), 501);
    CHECK_EQ_INT(STATUS("BREW / HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    CHECK_EQ_INT(STATUS("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n"), 417);
    h1_parser p;
    h1_parser_init(&p, H1_REQUEST, &LIM);
    const char e[] = "PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n";
    size_t used;
    CHECK_EQ_INT(h1_feed(&p, e, sizeof(e) - 1, &used), H1_HEAD);
    CHECK(p.head.expect_continue);
    h1_parser_free(&p);
}

static void test_limits(void)
{
    h1_limits small = {200, 50, 10};
    char req[400];
    snprintf(req, sizeof(req), "GET /%060d HTTP/1.1\r\nHost: h\r\n\r\n", 0);
    CHECK_EQ_INT(status_of(req, strlen(req), &small), 414);
    snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: h\r\nX-Big: %0250d\r\n\r\n", 0);
    CHECK_EQ_INT(status_of(req, strlen(req), &small), 431);
    const char big[] = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world";
    CHECK_EQ_INT(status_of(big, sizeof(big) - 1, &small), 413);
    const char chunk[] = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n";
    CHECK_EQ_INT(status_of(chunk, sizeof(chunk) - 1, &small), 413);
    /* too many header fields */
    buf b;
    buf_init(&b);
    buf_append_str(&b, "GET / HTTP/1.1\r\nHost: h\r\n");
    for (int i = 0; i < H1_MAX_HEADERS + 1; i++) buf_printf(&b, "X-%d: v\r\n", i);
    buf_append_str(&b, "\r\n");
    CHECK_EQ_INT(status_of(b.data, b.len, NULL), 431);
    buf_free(&b);
    /* a head arriving in pieces still meets the limit exactly once */
    snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: h\r\nX-Big: %0250d", 0);
    h1_parser p;
    h1_parser_init(&p, H1_REQUEST, &small);
    size_t used, off = 0;
    h1_ev ev = H1_AGAIN;
    while (ev == H1_AGAIN && off < strlen(req)) {
        ev = h1_feed(&p, req + off, 7, &used);
        off += used;
    }
    CHECK_EQ_INT(ev, H1_ERROR);
    CHECK_EQ_INT(p.err_status, 431);
    CHECK(off <= 200);
    h1_parser_free(&p);
}

static void test_http10_keepalive(void)
{
    h1_parser p;
    h1_parser_init(&p, H1_REQUEST, &LIM);
    size_t used;
    const char a[] = "GET / HTTP/1.0\r\n\r\n";
    CHECK_EQ_INT(h1_feed(&p, a, sizeof(a) - 1, &used), H1_HEAD);
    CHECK(!p.head.keep_alive);
    h1_parser_reset(&p);
    const char b[] = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    CHECK_EQ_INT(h1_feed(&p, b, sizeof(b) - 1, &used), H1_HEAD);
    CHECK(p.head.keep_alive);
    h1_parser_reset(&p);
    const char c[] = "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
    CHECK_EQ_INT(h1_feed(&p, c, sizeof(c) - 1, &used), H1_HEAD);
    CHECK(!p.head.keep_alive);
    h1_parser_free(&p);
}

static h1_parser *parse_req(const char *s)
{
    h1_parser *p = malloc(sizeof(*p));
    h1_parser_init(p, H1_REQUEST, &LIM);
    size_t used;
    if (h1_feed(p, s, strlen(s), &used) != H1_HEAD) fprintf(stderr, "did not parse: %s\n", s);
    return p;
}

static void free_req(h1_parser *p)
{
    h1_parser_free(p);
    free(p);
}

static bool contains(const buf *b, const char *s)
{
    return memmem(b->data, b->len, s, strlen(s)) != NULL;
}

static void test_rewrite_request(void)
{
    h1_parser *p = parse_req("POST /x?q HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Hop\r\n"
                             "X-Hop: 1\r\nKeep-Alive: 5\r\nProxy-Connection: x\r\nTE: trailers\r\n"
                             "Trailer: X-T\r\nUpgrade: h2c\r\nTransfer-Encoding: chunked\r\n"
                             "X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: https\r\n"
                             "Via: 1.0 other\r\nExpect: 100-continue\r\nX-Keep: yes\r\n\r\n");
    h1_fwd_req o = {.client_ip = "192.0.2.7", .proto = "http", .host = "10.1.1.1:80",
                    .strip_expect = true};
    buf out;
    buf_init(&out);
    h1_write_request(&p->head, &o, &out);
    buf_append(&out, "", 1);
    CHECK(strncmp(out.data, "POST /x?q HTTP/1.1\r\n", 20) == 0);
    CHECK(contains(&out, "\r\nHost: h\r\n"));
    CHECK(contains(&out, "\r\nX-Keep: yes\r\n"));
    CHECK(contains(&out, "\r\nTransfer-Encoding: chunked\r\n"));
    CHECK(contains(&out, "\r\nX-Forwarded-For: 10.0.0.1, 192.0.2.7\r\n"));
    CHECK(contains(&out, "\r\nX-Forwarded-Proto: http\r\n"));
    CHECK(contains(&out, "\r\nVia: 1.0 other, 1.1 halo\r\n"));
    CHECK(!contains(&out, "Connection"));
    CHECK(!contains(&out, "X-Hop"));
    CHECK(!contains(&out, "Keep-Alive"));
    CHECK(!contains(&out, "TE:"));
    CHECK(!contains(&out, "Trailer"));
    CHECK(!contains(&out, "Upgrade"));
    CHECK(!contains(&out, "Expect"));
    CHECK(!contains(&out, "https"));
    CHECK(memcmp(out.data + out.len - 5, "\r\n\r\n", 4) == 0);
    free_req(p);

    /* HTTP/1.0 without Host gets one; absolute-form becomes origin-form */
    buf_reset(&out);
    p = parse_req("GET / HTTP/1.0\r\n\r\n");
    h1_write_request(&p->head, &o, &out);
    buf_append(&out, "", 1);
    CHECK(strncmp(out.data, "GET / HTTP/1.1\r\n", 16) == 0);
    CHECK(contains(&out, "\r\nHost: 10.1.1.1:80\r\n"));
    CHECK(contains(&out, "\r\nX-Forwarded-For: 192.0.2.7\r\n"));
    CHECK(contains(&out, "\r\nVia: 1.1 halo\r\n"));
    free_req(p);
    buf_reset(&out);
    p = parse_req("GET http://user@Example.org:81/p/q?z HTTP/1.1\r\nHost: other\r\n\r\n");
    h1_target t;
    h1_request_target(&p->head, &t);
    CHECK_MEM(t.host, t.host_len, "Example.org:81");
    CHECK_MEM(t.path, t.path_len, "/p/q?z");
    h1_write_request(&p->head, &o, &out);
    buf_append(&out, "", 1);
    CHECK(strncmp(out.data, "GET /p/q?z HTTP/1.1\r\n", 21) == 0);
    CHECK(contains(&out, "\r\nHost: Example.org:81\r\n"));
    CHECK(!contains(&out, "other"));
    free_req(p);
    buf_free(&out);
}

/* The framing upstream comes from the parsed head: a Connection header
 * naming Content-Length (or Host, Transfer-Encoding) changes nothing. The
 * body of the first request below used to go up without its length, so the
 * upstream read it as a second request. */
static void test_rewrite_framing(void)
{
    h1_fwd_req o = {.client_ip = "192.0.2.7", .proto = "http", .host = "10.1.1.1:80"};
    buf out;
    buf_init(&out);
    h1_parser *p = parse_req("POST /innocent HTTP/1.1\r\nHost: x\r\nConnection: content-length\r\n"
                             "Content-Length: 41\r\n\r\n");
    h1_write_request(&p->head, &o, &out);
    buf_append(&out, "", 1);
    CHECK(contains(&out, "\r\nContent-Length: 41\r\n"));
    CHECK(contains(&out, "\r\nHost: x\r\n"));
    free_req(p);
    buf_reset(&out);
    p = parse_req("POST / HTTP/1.1\r\nHost: x\r\nConnection: Host, transfer-encoding, Content-Length\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n");
    h1_write_request(&p->head, &o, &out);
    buf_append(&out, "", 1);
    CHECK(contains(&out, "\r\nHost: x\r\n"));
    CHECK(contains(&out, "\r\nTransfer-Encoding: chunked\r\n"));
    CHECK(!contains(&out, "Content-Length"));
    CHECK(!contains(&out, "10.1.1.1"));
    free_req(p);
    buf_reset(&out);
    /* the length is written once, as parsed: 0 stays, odd spellings do not pass */
    p = parse_req("PUT / HTTP/1.1\r\nHost: x\r\ncontent-LENGTH: 007\r\n\r\n");
    h1_write_request(&p->head, &o, &out);
    buf_append(&out, "", 1);
    CHECK(contains(&out, "\r\nContent-Length: 7\r\n"));
    CHECK(!contains(&out, "007"));
    free_req(p);
    buf_reset(&out);
    p = parse_req("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    h1_write_request(&p->head, &o, &out);
    buf_append(&out, "", 1);
    CHECK(contains(&out, "\r\nContent-Length: 0\r\n"));
    free_req(p);
    buf_reset(&out);
    p = parse_req("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    h1_write_request(&p->head, &o, &out);
    buf_append(&out, "", 1);
    CHECK(!contains(&out, "Content-Length") && !contains(&out, "Transfer-Encoding"));
    free_req(p);
    buf_free(&out);
}

/* A chunked request body re-framed for the upstream: sizes kept, chunk
 * extensions and trailer fields (framing names among them) left out; the same
 * whether it arrives at once or byte by byte. */
static void test_request_rechunk(void)
{
    const char head[] = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    const char body[] = "5;ext=1\r\nhello\r\n1A\r\n abcdefghijklmnopqrstuvwxy\r\n"
                        "0;x=y\r\nContent-Length: 5\r\nX-T: v\r\n\r\n";
    const char want[] = "5\r\nhello\r\n1a\r\n abcdefghijklmnopqrstuvwxy\r\n0\r\n\r\n";
    for (int step = 0; step < 2; step++) {
        h1_parser p;
        h1_parser_init(&p, H1_REQUEST, &LIM);
        buf fwd;
        buf_init(&fwd);
        p.chunked_out = &fwd;
        size_t used;
        CHECK_EQ_INT(h1_feed(&p, head, sizeof(head) - 1, &used), H1_HEAD);
        size_t off = 0;
        h1_ev ev = H1_AGAIN;
        while (off < sizeof(body) - 1 && ev != H1_DONE && ev != H1_ERROR) {
            size_t n = step ? 1 : sizeof(body) - 1 - off;
            ev = h1_feed(&p, body + off, n, &used);
            off += used;
        }
        CHECK_EQ_INT(ev, H1_DONE);
        CHECK_EQ_INT(off, sizeof(body) - 1);
        CHECK_MEM(fwd.data, fwd.len, want);
        /* a Content-Length body is not copied */
        buf_reset(&fwd);
        const char cl[] = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
        CHECK_EQ_INT(h1_feed(&p, cl, sizeof(cl) - 1, &used), H1_HEAD);
        CHECK_EQ_INT(h1_feed(&p, cl + used, sizeof(cl) - 1 - used, &used), H1_DONE);
        CHECK_EQ_INT(fwd.len, 0);
        buf_free(&fwd);
        h1_parser_free(&p);
    }
}

static void test_cookie(void)
{
    h1_parser *p = parse_req("GET / HTTP/1.1\r\nHost: h\r\nCookie: a=1; sid=xyz; b=2\r\n"
                             "Cookie: late=9\r\n\r\n");
    size_t len;
    const char *v = h1_cookie(&p->head, "sid", &len);
    CHECK(v && len == 3 && memcmp(v, "xyz", 3) == 0);
    v = h1_cookie(&p->head, "late", &len);
    CHECK(v && len == 1 && v[0] == '9');
    CHECK(h1_cookie(&p->head, "si", &len) == NULL);
    free_req(p);
}

/* ---- responses ---- */

static void test_response_basic(void)
{
    h1_limits rl = {H1_MAX_RESPONSE_HEAD, 0, 0};
    h1_parser p;
    h1_parser_init(&p, H1_RESPONSE, &rl);
    const char r[] = "HTTP/1.1 201 Made It\r\nContent-Length: 2\r\nConnection: keep-alive, X-Q\r\n"
                     "X-Q: 1\r\nVia: 1.1 up\r\n\r\nok";
    size_t used;
    CHECK_EQ_INT(h1_feed(&p, r, sizeof(r) - 1, &used), H1_HEAD);
    CHECK_EQ_INT(p.head.status, 201);
    CHECK_MEM(h1_str(&p.head, p.head.reason), p.head.reason.len, "Made It");
    size_t off = used;
    CHECK_EQ_INT(h1_feed(&p, r + off, sizeof(r) - 1 - off, &used), H1_DONE);
    CHECK_EQ_INT(used, 2);
    buf out;
    buf_init(&out);
    h1_fwd_resp o = {.close = true};
    h1_write_response(&p.head, &o, &out);
    buf_append(&out, "", 1);
    CHECK(strncmp(out.data, "HTTP/1.1 201 Made It\r\n", 22) == 0);
    CHECK(contains(&out, "\r\nContent-Length: 2\r\n"));
    CHECK(contains(&out, "\r\nVia: 1.1 up, 1.1 halo\r\n"));
    CHECK(contains(&out, "\r\nConnection: close\r\n"));
    CHECK(!contains(&out, "X-Q"));
    CHECK(!contains(&out, "keep-alive"));
    buf_free(&out);
    h1_parser_free(&p);
}

static void test_response_dechunk(void)
{
    h1_limits rl = {H1_MAX_RESPONSE_HEAD, 0, 0};
    h1_parser p;
    h1_parser_init(&p, H1_RESPONSE, &rl);
    const char r[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n";
    size_t used;
    CHECK_EQ_INT(h1_feed(&p, r, sizeof(r) - 1, &used), H1_HEAD);
    buf out, head;
    buf_init(&out);
    buf_init(&head);
    h1_fwd_resp o = {.close = true, .dechunk = true};
    h1_write_response(&p.head, &o, &head);
    buf_append(&head, "", 1);
    CHECK(!contains(&head, "Transfer-Encoding"));
    p.body_out = &out;
    size_t off = used;
    h1_ev ev;
    do {
        ev = h1_feed(&p, r + off, 3, &used); /* small pieces */
        off += used;
    } while (ev == H1_BODY);
    CHECK_EQ_INT(ev, H1_DONE);
    CHECK_MEM(out.data, out.len, "hello world");
    buf_free(&out);
    buf_free(&head);
    h1_parser_free(&p);
}

static void test_response_framing(void)
{
    h1_limits rl = {H1_MAX_RESPONSE_HEAD, 0, 0};
    h1_parser p;
    size_t used;
    /* HEAD: the length describes a body that does not follow */
    h1_parser_init(&p, H1_RESPONSE, &rl);
    p.skip_body = true;
    const char h[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
    CHECK_EQ_INT(h1_feed(&p, h, sizeof(h) - 1, &used), H1_HEAD);
    CHECK(h1_done(&p));
    h1_parser_free(&p);
    /* 100 Continue, then the final response */
    h1_parser_init(&p, H1_RESPONSE, &rl);
    const char c[] = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
    CHECK_EQ_INT(h1_feed(&p, c, sizeof(c) - 1, &used), H1_HEAD);
    CHECK_EQ_INT(p.head.status, 100);
    CHECK(h1_done(&p));
    size_t off = used;
    CHECK_EQ_INT(h1_feed(&p, c + off, sizeof(c) - 1 - off, &used), H1_HEAD);
    CHECK_EQ_INT(p.head.status, 204);
    CHECK(h1_done(&p));
    h1_parser_free(&p);
    /* close-delimited body ends at EOF */
    h1_parser_init(&p, H1_RESPONSE, &rl);
    const char e[] = "HTTP/1.1 200 OK\r\n\r\nuntil close";
    CHECK_EQ_INT(h1_feed(&p, e, sizeof(e) - 1, &used), H1_HEAD);
    CHECK(h1_needs_eof(&p));
    CHECK(!p.head.keep_alive);
    off = used;
    CHECK_EQ_INT(h1_feed(&p, e + off, sizeof(e) - 1 - off, &used), H1_BODY);
    CHECK_EQ_INT(h1_finish(&p), H1_DONE);
    h1_parser_free(&p);
    /* a length-delimited body cut short is an error at EOF */
    h1_parser_init(&p, H1_RESPONSE, &rl);
    const char s[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
    CHECK_EQ_INT(h1_feed(&p, s, sizeof(s) - 1, &used), H1_HEAD);
    off = used;
    CHECK_EQ_INT(h1_feed(&p, s + off, sizeof(s) - 1 - off, &used), H1_BODY);
    CHECK_EQ_INT(h1_finish(&p), H1_ERROR);
    h1_parser_free(&p);
}

/* Parse one response head (no body follows it); returns the bytes used. */
static size_t parse_resp(h1_parser *p, const char *r, size_t len)
{
    h1_limits rl = {H1_MAX_RESPONSE_HEAD, 0, 0};
    h1_parser_init(p, H1_RESPONSE, &rl);
    size_t used;
    CHECK_EQ_INT(h1_feed(p, r, len, &used), H1_HEAD);
    return used;
}

/* 1xx, 204 and 304 have no body whatever their framing says (RFC 9112 6.3):
 * reading one hung the connection (304 + length, no body) or passed the bytes
 * of what followed to the client (204 + length + body). */
static void test_response_no_body_statuses(void)
{
    h1_parser p;
    buf out;
    buf_init(&out);
    h1_fwd_resp o = {0};
    const char nm[] = "HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\nETag: \"x\"\r\n\r\n";
    CHECK_EQ_INT(parse_resp(&p, nm, sizeof(nm) - 1), sizeof(nm) - 1);
    CHECK(h1_done(&p));
    CHECK(p.head.keep_alive);
    h1_write_response(&p.head, &o, &out);
    buf_append(&out, "", 1);
    CHECK(contains(&out, "\r\nContent-Length: 1234\r\n")); /* the representation's, allowed */
    h1_parser_free(&p);
    const char nc[] = "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello";
    CHECK_EQ_INT(parse_resp(&p, nc, sizeof(nc) - 1), sizeof(nc) - 1 - 5);
    CHECK(h1_done(&p));
    buf_reset(&out);
    h1_write_response(&p.head, &o, &out);
    buf_append(&out, "", 1);
    CHECK(!contains(&out, "Content-Length"));
    /* what follows is read as the next response: garbage */
    size_t used;
    CHECK_EQ_INT(h1_feed(&p, "hello", 5, &used), H1_ERROR);
    h1_parser_free(&p);
    const char te[] = "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n";
    CHECK_EQ_INT(parse_resp(&p, te, sizeof(te) - 1), sizeof(te) - 1);
    CHECK(h1_done(&p));
    buf_reset(&out);
    h1_write_response(&p.head, &o, &out);
    buf_append(&out, "", 1);
    CHECK(!contains(&out, "Transfer-Encoding"));
    h1_parser_free(&p);
    const char info[] = "HTTP/1.1 103 Early Hints\r\nContent-Length: 3\r\nLink: </a>\r\n\r\n"
                        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    size_t off = parse_resp(&p, info, sizeof(info) - 1);
    CHECK(h1_done(&p) && p.head.status == 103);
    buf_reset(&out);
    h1_write_response(&p.head, &o, &out);
    buf_append(&out, "", 1);
    CHECK(!contains(&out, "Content-Length"));
    CHECK_EQ_INT(h1_feed(&p, info + off, sizeof(info) - 1 - off, &used), H1_HEAD);
    CHECK_EQ_INT(p.head.status, 200);
    h1_parser_free(&p);
    buf_free(&out);
}

/* The client's framing comes from the parsed head: Connection naming
 * Content-Length cannot strip it from a kept-alive response. */
static void test_response_framing_rewritten(void)
{
    h1_parser p;
    buf out;
    buf_init(&out);
    h1_fwd_resp o = {0};
    const char r[] = "HTTP/1.1 200 OK\r\nConnection: content-length, transfer-encoding\r\n"
                     "Content-Length: 5\r\n\r\nhello";
    parse_resp(&p, r, sizeof(r) - 1);
    h1_write_response(&p.head, &o, &out);
    buf_append(&out, "", 1);
    CHECK(contains(&out, "\r\nContent-Length: 5\r\n"));
    CHECK(!contains(&out, "Connection"));
    h1_parser_free(&p);
    /* codings other than chunked are refused, not forwarded undeclared */
    h1_limits rl = {H1_MAX_RESPONSE_HEAD, 0, 0};
    const char *bad[] = {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
                         "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc"};
    for (int i = 0; i < 2; i++) {
        h1_parser_init(&p, H1_RESPONSE, &rl);
        CHECK_EQ_INT(feed_all(&p, bad[i], strlen(bad[i]), NULL), H1_ERROR);
        CHECK_EQ_INT(p.err_status, 502);
        h1_parser_free(&p);
    }
    buf_free(&out);
}

static void test_response_garbage(void)
{
    h1_limits rl = {H1_MAX_RESPONSE_HEAD, 0, 0};
    const char *bad[] = {"garbage\r\n\r\n", "HTTP/1.1 999 X\r\n\r\n", "HTTP/1.1 20 X\r\n\r\n",
                         "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                         "\x00\x01garbage", "HTTP/2.0 200 OK\r\n\r\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        h1_parser p;
        h1_parser_init(&p, H1_RESPONSE, &rl);
        size_t used;
        size_t len = i == 4 ? 9 : strlen(bad[i]);
        h1_ev ev = feed_all(&p, bad[i], len, &used);
        if (ev != H1_ERROR) fprintf(stderr, "accepted bad response %zu\n", i);
        CHECK_EQ_INT(ev, H1_ERROR);
        CHECK_EQ_INT(p.err_status, 502);
        h1_parser_free(&p);
    }
}

static void test_error_response(void)
{
    buf out;
    buf_init(&out);
    h1_write_error(502, "upstream reset", true, false, &out);
    buf_append(&out, "", 1);
    CHECK(strncmp(out.data, "HTTP/1.1 502 Bad Gateway\r\n", 26) == 0);
    CHECK(contains(&out, "Content-Length: 32\r\n"));
    CHECK(contains(&out, "Connection: close\r\n\r\n502 Bad Gateway: upstream reset\n"));
    buf_reset(&out);
    h1_write_error(404, NULL, false, true, &out);
    buf_append(&out, "", 1);
    CHECK(contains(&out, "Content-Length: 14\r\n\r\n"));
    CHECK(!contains(&out, "404 Not Found\n"));
    CHECK(!contains(&out, "Connection"));
    buf_free(&out);
    CHECK(h1_idempotent(HTTP_GET) && h1_idempotent(HTTP_PUT) && !h1_idempotent(HTTP_POST) &&
          !h1_idempotent(HTTP_PATCH));
}

static void test_accesslog_format(void)
{
    char line[4096];
    gw_access_entry e = {.client_ip = "10.0.0.9", .method = "GET", .url = "/a\"b\n",
                         .url_len = 5, .major = 1, .minor = 1, .status = 200,
                         .bytes_sent = 123, .agent = "curl", .agent_len = 4,
                         .upstream = "127.0.0.1:9001", .cluster = "api", .attempts = 2,
                         .duration_us = 1500};
    size_t n = accesslog_format(&e, 0, line, sizeof(line));
    line[n] = '\0';
    CHECK(strncmp(line, "10.0.0.9 - - [", 14) == 0);
    CHECK(strstr(line, "\"GET /a\\x22b\\x0a HTTP/1.1\" 200 123 \"-\" \"curl\" "
                       "upstream=127.0.0.1:9001 cluster=api attempts=2 duration_ms=1.500\n"));
    CHECK(strchr(line, '\n') == line + n - 1);
}

/* Every byte in a header name: accepted exactly when it is an RFC 9110 tchar
 * (the parser checks names with a bit set; this is the reference). */
static void test_header_name_bytes(void)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    for (int c = 1; c < 256; c++) {
        if (c == ':' || c == '\r' || c == '\n') continue; /* end the name or the line */
        bool tchar = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                     strchr(extra, c) != NULL;
        char req[64];
        int n = snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: a\r\nX%cY: 1\r\n\r\n", c);
        int st = status_of(req, (size_t)n, NULL);
        if (tchar != (st == 0)) fprintf(stderr, "byte 0x%02x: status %d\n", c, st);
        CHECK(tchar == (st == 0));
    }
}

/* Header kinds are recognised whatever the case, and only for the exact name. */
static void test_header_kinds(void)
{
    static const struct { const char *name; int kind; } cases[] = {
        {"Connection", H1H_CONNECTION}, {"KEEP-ALIVE", H1H_KEEP_ALIVE},
        {"proxy-Connection", H1H_PROXY_CONNECTION}, {"tE", H1H_TE}, {"Trailer", H1H_TRAILER},
        {"upgrade", H1H_UPGRADE}, {"Transfer-Encoding", H1H_TRANSFER_ENCODING},
        {"HOST", H1H_HOST}, {"Via", H1H_VIA}, {"X-Forwarded-For", H1H_X_FORWARDED_FOR},
        {"x-forwarded-PROTO", H1H_X_FORWARDED_PROTO}, {"Expect", H1H_EXPECT},
        {"Cookie", H1H_COOKIE},
        /* same lengths, other names */
        {"Date", H1H_OTHER}, {"hose", H1H_OTHER}, {"Vie", H1H_OTHER}, {"tf", H1H_OTHER},
        {"Server", H1H_OTHER}, {"cookie2", H1H_OTHER}, {"Connexion", H1H_OTHER},
        {"Content-Length", H1H_CONTENT_LENGTH}, {"content-lengths", H1H_OTHER},
        {"content-lengtx", H1H_OTHER}, {"x-forwarded-foo", H1H_OTHER},
        {"transfer-encodinG", H1H_TRANSFER_ENCODING}, {"x-forwarded-protx", H1H_OTHER},
        {"", H1H_OTHER}, {"hosts", H1H_OTHER}, {"@ost", H1H_OTHER},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int k = h1_header_kind(cases[i].name, strlen(cases[i].name));
        if (k != cases[i].kind) fprintf(stderr, "%s: kind %d\n", cases[i].name, k);
        CHECK_EQ_INT(k, cases[i].kind);
        bool hop = cases[i].kind >= H1H_CONNECTION && cases[i].kind <= H1H_TRANSFER_ENCODING;
        CHECK(h1_is_hop_by_hop(cases[i].name, strlen(cases[i].name)) == hop);
    }
    /* and a parsed head carries them */
    h1_parser *p = parse_req("GET / HTTP/1.1\r\nhOsT: a\r\nX-A: 1\r\nVIA: x\r\n\r\n");
    CHECK_EQ_INT(p->head.nhdr, 3);
    CHECK_EQ_INT(p->head.hdr[0].kind, H1H_HOST);
    CHECK_EQ_INT(p->head.hdr[1].kind, H1H_OTHER);
    CHECK_EQ_INT(p->head.hdr[2].kind, H1H_VIA);
    free_req(p);
}

/* A head arriving one byte at a time with the next request right behind it:
 * spans stay right, and nothing of the first head leaks into the second. */
static void test_split_heads_reuse(void)
{
    const char two[] = "GET /first HTTP/1.1\r\nHost: one\r\nX-Only-First: yes\r\n"
                       "Cookie: sid=1\r\n\r\nGET /2 HTTP/1.1\r\nHost: two\r\n\r\n";
    h1_parser p;
    h1_parser_init(&p, H1_REQUEST, &LIM);
    size_t off = 0, used;
    h1_ev ev = H1_AGAIN;
    while (ev != H1_HEAD && off < sizeof(two) - 1) {
        ev = h1_feed(&p, two + off, 1, &used);
        off += used;
    }
    CHECK_EQ_INT(ev, H1_HEAD);
    CHECK(value_is(&p.head, "host", "one"));
    CHECK(value_is(&p.head, "x-only-first", "yes"));
    CHECK_MEM(h1_str(&p.head, p.head.url), p.head.url.len, "/first");
    CHECK_EQ_INT(h1_feed(&p, two + off, sizeof(two) - 1 - off, &used), H1_HEAD);
    CHECK_EQ_INT(off + used, sizeof(two) - 1);
    CHECK_EQ_INT(p.head.nhdr, 1);
    CHECK(value_is(&p.head, "host", "two"));
    CHECK(h1_get(&p.head, "x-only-first", &used) == NULL);
    CHECK(h1_cookie(&p.head, "sid", &used) == NULL);
    CHECK_MEM(h1_str(&p.head, p.head.url), p.head.url.len, "/2");
    h1_parser_reset(&p);
    CHECK_EQ_INT(p.head.nhdr, 0);
    CHECK_EQ_INT(p.state, H1S_HEAD);
    CHECK_EQ_INT(h1_feed(&p, two, sizeof(two) - 1, &used), H1_HEAD);
    CHECK(value_is(&p.head, "x-only-first", "yes"));
    h1_parser_free(&p);
}

int main(void)
{
    RUN(test_simple_get);
    RUN(test_bytewise_same_head);
    RUN(test_pipelined);
    RUN(test_chunked_raw);
    RUN(test_smuggling_vectors);
    RUN(test_request_rules);
    RUN(test_limits);
    RUN(test_http10_keepalive);
    RUN(test_request_target_forms);
    RUN(test_rewrite_request);
    RUN(test_rewrite_framing);
    RUN(test_request_rechunk);
    RUN(test_cookie);
    RUN(test_response_basic);
    RUN(test_response_dechunk);
    RUN(test_response_framing);
    RUN(test_response_no_body_statuses);
    RUN(test_response_framing_rewritten);
    RUN(test_response_garbage);
    RUN(test_error_response);
    RUN(test_accesslog_format);
    RUN(test_header_name_bytes);
    RUN(test_header_kinds);
    RUN(test_split_heads_reuse);
    return TEST_REPORT();
}
