/* test_admin_req.c — the admin/metrics listener's request parsing: llhttp, limits, paths. */
#include "test.h"
#include "metrics/admin_req.h"

#include <stdlib.h>

#define MAX 8192

/* Feed s whole; returns the result. */
static int feed_str(admin_req *r, const char *s, size_t max)
{
    admin_req_init(r, max);
    return admin_req_feed(r, s, strlen(s));
}

/* Feed s one byte at a time, as a slow client sends it. */
static int feed_bytewise(admin_req *r, const char *s, size_t len, size_t max)
{
    admin_req_init(r, max);
    int st = ADMIN_REQ_AGAIN;
    for (size_t i = 0; i < len && st == ADMIN_REQ_AGAIN; i++) st = admin_req_feed(r, s + i, 1);
    return st;
}

static void test_simple_get(void)
{
    admin_req r;
    CHECK_EQ_INT(feed_str(&r, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", MAX), ADMIN_REQ_DONE);
    CHECK_EQ_INT(r.method, HTTP_GET);
    CHECK_EQ_INT(r.http_major, 1);
    CHECK_MEM(r.path, r.path_len, "/metrics");
    /* Once decided, the answer stays. */
    CHECK_EQ_INT(admin_req_feed(&r, "garbage", 7), ADMIN_REQ_DONE);
}

static void test_paths(void)
{
    admin_req r;
    CHECK_EQ_INT(feed_str(&r, "GET /metrics?x=1&y HTTP/1.0\r\n\r\n", MAX), ADMIN_REQ_DONE);
    CHECK_MEM(r.path, r.path_len, "/metrics");
    CHECK_EQ_INT(feed_str(&r, "GET http://h:9121/metrics?q HTTP/1.1\r\n\r\n", MAX), ADMIN_REQ_DONE);
    CHECK_MEM(r.path, r.path_len, "/metrics");
    CHECK_EQ_INT(feed_str(&r, "GET HTTPS://h HTTP/1.1\r\n\r\n", MAX), ADMIN_REQ_DONE);
    CHECK_MEM(r.path, r.path_len, "/");
    CHECK_EQ_INT(feed_str(&r, "GET * HTTP/1.1\r\n\r\n", MAX), ADMIN_REQ_DONE);
    CHECK_MEM(r.path, r.path_len, "*");
    CHECK_EQ_INT(feed_str(&r, "POST /reload HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", MAX),
                 ADMIN_REQ_DONE);
    CHECK_EQ_INT(r.method, HTTP_POST);
    CHECK_MEM(r.path, r.path_len, "/reload");
}

static void test_line_endings_and_versions(void)
{
    admin_req r;
    /* A bare LF ends the request line and the head when there are no headers. */
    CHECK_EQ_INT(feed_str(&r, "GET /metrics?x=1 HTTP/1.0\n\n", MAX), ADMIN_REQ_DONE);
    CHECK_EQ_INT(feed_str(&r, "GET /healthz HTTP/1.1\nHost: x\r\n\r\n", MAX), ADMIN_REQ_DONE);
    /* llhttp refuses one after a header value. */
    CHECK_EQ_INT(feed_str(&r, "GET /healthz HTTP/1.1\r\nHost: x\n\n", MAX), 400);
    /* Other versions parse; the listener answers them 505. */
    CHECK_EQ_INT(feed_str(&r, "GET /metrics HTTP/2.0\r\n\r\n", MAX), ADMIN_REQ_DONE);
    CHECK_EQ_INT(r.http_major, 2);
    CHECK_EQ_INT(feed_str(&r, "GET /metrics HTTP/0.9\r\n\r\n", MAX), ADMIN_REQ_DONE);
    CHECK_EQ_INT(r.http_major, 0);
    CHECK_EQ_INT(feed_str(&r, "GET /metrics HTTP/3.0\r\n\r\n", MAX), 400);
    /* No version at all (HTTP/0.9's simple request) is malformed HTTP/1.x. */
    CHECK_EQ_INT(feed_str(&r, "GET /metrics\r\n\r\n", MAX), 400);
}

static void test_malformed(void)
{
    static const char *bad[] = {
        "garbage\r\n\r\n",
        "HELLO\r\n\r\n",
        "*1\r\n$4\r\nPING\r\n",
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",   /* a TLS ClientHello */
        "FOO /metrics HTTP/1.1\r\n\r\n",                  /* a method llhttp does not know */
        "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
        "GET / HTTP/1.1\r\nBad\"Name: x\r\n\r\n",
        "GET / HTTP/1.1\r\nName : x\r\n\r\n",
        "GET / HTTP/1.1\r\n: x\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "GET /a b HTTP/1.1\r\n\r\n",
        "GET /metrics HTTP/1.1\rX: y\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        admin_req r;
        int st = feed_str(&r, bad[i], MAX);
        if (st != 400) fprintf(stderr, "  case %zu: %d\n", i, st);
        CHECK_EQ_INT(st, 400);
    }
    admin_req r;
    /* A NUL in a header value. */
    admin_req_init(&r, MAX);
    CHECK_EQ_INT(admin_req_feed(&r, "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 25), 400);
    /* Garbage is refused at its first bytes, not after a whole head. */
    CHECK_EQ_INT(feed_bytewise(&r, "\x00\x01\x02", 3, MAX), 400);
    CHECK_EQ_INT(r.nread, 1);
}

static void test_limits(void)
{
    admin_req r;
    char *big = malloc(MAX + 64);
    /* A head of exactly the limit is fine; one byte more is 431. */
    int n = snprintf(big, MAX + 64, "GET /healthz HTTP/1.1\r\nX: ");
    while (n < MAX - 4) big[n++] = 'c';
    memcpy(big + n, "\r\n\r\n", 5);
    CHECK_EQ_INT(strlen(big), MAX);
    CHECK_EQ_INT(feed_str(&r, big, MAX), ADMIN_REQ_DONE);
    CHECK_EQ_INT(feed_bytewise(&r, big, MAX, MAX), ADMIN_REQ_DONE);
    CHECK_EQ_INT(feed_str(&r, big, MAX - 1), 431);
    CHECK_EQ_INT(feed_bytewise(&r, big, MAX, MAX - 1), 431);
    /* Only the limit is parsed: a head still growing at the limit is 431 at
     * once, even if the rest would be garbage. */
    CHECK_EQ_INT(feed_str(&r, "GET / HTTP/1.1\r\nX: aaaa\r\n\x01", 20), 431);
    CHECK_EQ_INT(r.nread, 20);
    /* A body that takes the request over the limit: 413. */
    CHECK_EQ_INT(feed_str(&r, "POST /reload HTTP/1.1\r\nContent-Length: 100\r\n\r\nabcdef", 50),
                 413);
    /* A target over ADMIN_REQ_MAX_URL: 414, whether it arrives whole or in pieces. */
    n = snprintf(big, MAX + 64, "GET /metrics?");
    while (n < ADMIN_REQ_MAX_URL + 20) big[n++] = 'q';
    memcpy(big + n, " HTTP/1.1\r\n\r\n", 14);
    CHECK_EQ_INT(feed_str(&r, big, MAX), 414);
    CHECK_EQ_INT(feed_bytewise(&r, big, strlen(big), MAX), 414);
    /* Exactly the longest target is fine. */
    n = snprintf(big, MAX + 64, "GET /");
    while (n < ADMIN_REQ_MAX_URL + 4) big[n++] = 'p';
    memcpy(big + n, " HTTP/1.1\r\n\r\n", 14);
    CHECK_EQ_INT(feed_str(&r, big, MAX), ADMIN_REQ_DONE);
    CHECK_EQ_INT(r.path_len, ADMIN_REQ_MAX_URL);
    free(big);
}

static void test_pipelined_and_pieces(void)
{
    admin_req r;
    const char *two = "GET /healthz HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\n\r\n";
    CHECK_EQ_INT(feed_str(&r, two, MAX), ADMIN_REQ_DONE);
    CHECK_MEM(r.path, r.path_len, "/healthz");
    const char *req = "GET http://host/metrics?x HTTP/1.1\r\nHost: host\r\nAccept: */*\r\n\r\n";
    CHECK_EQ_INT(feed_bytewise(&r, req, strlen(req), MAX), ADMIN_REQ_DONE);
    CHECK_MEM(r.path, r.path_len, "/metrics");
    CHECK_EQ_INT(feed_bytewise(&r, "GET /me", 7, MAX), ADMIN_REQ_AGAIN);
}

int main(void)
{
    RUN(test_simple_get);
    RUN(test_paths);
    RUN(test_line_endings_and_versions);
    RUN(test_malformed);
    RUN(test_limits);
    RUN(test_pipelined_and_pieces);
    return TEST_REPORT();
}
