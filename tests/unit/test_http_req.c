/* test_http_req.c — unit tests of the metrics endpoint's HTTP request-head parser. */
#include "metrics/http_req.h"
#include "metrics/prom.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int passed, failed;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (cond) {                                                                   \
            passed++;                                                                 \
        } else {                                                                      \
            failed++;                                                                 \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                             \
    } while (0)

static bool eq(const char *p, size_t len, const char *s)
{
    return p != NULL && len == strlen(s) && memcmp(p, s, len) == 0;
}

/* Whole input in one call. */
static http_req_status parse_all(http_req *r, const char *s, size_t len, size_t max)
{
    http_req_init(r);
    return http_req_parse(r, s, len, max);
}

static http_req_status parse_str(http_req *r, const char *s)
{
    return parse_all(r, s, strlen(s), 8192);
}

/* One byte per call, as a slow client sends it. */
static http_req_status parse_bytewise(http_req *r, const char *s, size_t len, size_t max)
{
    http_req_init(r);
    http_req_status st = HTTP_REQ_AGAIN;
    for (size_t i = 1; i <= len && st == HTTP_REQ_AGAIN; i++) st = http_req_parse(r, s, i, max);
    return st;
}

static void test_simple_get(void)
{
    const char *s = "GET /metrics HTTP/1.1\r\nHost: localhost:9121\r\nAccept: */*\r\n\r\n";
    http_req r;
    CHECK(parse_str(&r, s) == HTTP_REQ_DONE);
    CHECK(eq(r.method, r.method_len, "GET"));
    CHECK(eq(r.path, r.path_len, "/metrics"));
    CHECK(r.query == NULL);
    CHECK(r.version_major == 1 && r.version_minor == 1);
    CHECK(r.head_len == strlen(s));
}

static void test_bytewise_matches_whole(void)
{
    const char *s = "HEAD /healthz?verbose=1&x HTTP/1.0\r\nUser-Agent: t\r\n\r\nBODY";
    http_req r;
    CHECK(parse_bytewise(&r, s, strlen(s), 8192) == HTTP_REQ_DONE);
    CHECK(eq(r.method, r.method_len, "HEAD"));
    CHECK(eq(r.path, r.path_len, "/healthz"));
    CHECK(eq(r.query, r.query_len, "verbose=1&x"));
    CHECK(r.version_minor == 0);
    CHECK(r.head_len == strlen(s) - 4);
    /* Incomplete heads wait for more. */
    CHECK(parse_str(&r, "GET /metrics HTTP/1.1\r\nHost: x\r\n") == HTTP_REQ_AGAIN);
    CHECK(parse_str(&r, "GET /metr") == HTTP_REQ_AGAIN);
    CHECK(parse_str(&r, "") == HTTP_REQ_AGAIN);
}

static void test_bare_lf_and_forms(void)
{
    http_req r;
    CHECK(parse_str(&r, "GET /metrics HTTP/1.0\n\n") == HTTP_REQ_DONE);
    CHECK(eq(r.path, r.path_len, "/metrics"));
    CHECK(parse_str(&r, "GET http://127.0.0.1:9121/metrics?a=b HTTP/1.1\r\n\r\n") == HTTP_REQ_DONE);
    CHECK(eq(r.path, r.path_len, "/metrics"));
    CHECK(eq(r.query, r.query_len, "a=b"));
    CHECK(parse_str(&r, "GET http://host HTTP/1.1\r\n\r\n") == HTTP_REQ_DONE);
    CHECK(eq(r.path, r.path_len, "/"));
    CHECK(parse_str(&r, "OPTIONS * HTTP/1.1\r\n\r\n") == HTTP_REQ_DONE);
    CHECK(eq(r.path, r.path_len, "*"));
    CHECK(parse_str(&r, "GET / HTTP/2.0\r\n\r\n") == HTTP_REQ_DONE);
    CHECK(r.version_major == 2);
    /* Lower case is a valid token; the endpoint answers it 405. */
    CHECK(parse_str(&r, "get /metrics HTTP/1.1\r\n\r\n") == HTTP_REQ_DONE);
    /* Empty values, obs-text and trailing whitespace are valid field values. */
    const char *odd = "GET / HTTP/1.1\r\nX-Empty:\r\nX-Obs: \xe9t\xe9\t \r\n\r\n";
    CHECK(parse_str(&r, odd) == HTTP_REQ_DONE);
}

static void test_malformed(void)
{
    static const char *const bad[] = {
        "GET /metrics\r\n\r\n",                      /* no version */
        "GET  /metrics HTTP/1.1\r\n\r\n",            /* empty target */
        "GET /a b HTTP/1.1\r\n\r\n",                 /* space in target */
        "GET /metrics HTTP/1.10\r\n\r\n",
        "GET /metrics http/1.1\r\n\r\n",
        "GET /metrics HTTP/1.1 \r\n\r\n",
        "GET metrics HTTP/1.1\r\n\r\n",              /* not origin/absolute form */
        "GET /a#frag HTTP/1.1\r\n\r\n",
        "GET /\xc3\xa9 HTTP/1.1\r\n\r\n",            /* non-ASCII target */
        "GET http:///x HTTP/1.1\r\n\r\n",            /* empty authority */
        "\r\nGET / HTTP/1.1\r\n\r\n",                /* empty request line */
        "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
        "GET / HTTP/1.1\r\nName : v\r\n\r\n",        /* space before colon */
        "GET / HTTP/1.1\r\n: v\r\n\r\n",             /* empty name */
        "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",      /* obs-fold */
        "GET / HTTP/1.1\r\nA: b\x01\r\n\r\n",        /* control byte in value */
        "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",         /* bare CR */
        "ABCDEFGHIJKLMNOPQ / HTTP/1.1\r\n\r\n",      /* method too long */
        "*1\r\n$4\r\nPING\r\n",                      /* RESP on the wrong port */
    };
    http_req r;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        http_req_status st = parse_str(&r, bad[i]);
        if (st != HTTP_REQ_BAD) fprintf(stderr, "case %zu parsed as %d\n", i, (int)st);
        CHECK(st == HTTP_REQ_BAD);
        CHECK(parse_bytewise(&r, bad[i], strlen(bad[i]), 8192) == HTTP_REQ_BAD);
    }
}

static void test_fails_fast(void)
{
    http_req r;
    /* A TLS ClientHello or binary garbage is refused at its first byte. */
    CHECK(parse_all(&r, "\x16\x03\x01", 3, 8192) == HTTP_REQ_BAD);
    CHECK(parse_all(&r, "GET /\x01", 6, 8192) == HTTP_REQ_BAD);
    CHECK(parse_str(&r, "GET /x\rY") == HTTP_REQ_BAD);
    CHECK(parse_str(&r, "VERYLONGMETHODNAMEXX") == HTTP_REQ_BAD);
    /* Once decided, the status sticks. */
    CHECK(http_req_parse(&r, "GET / HTTP/1.1\r\n\r\n", 18, 8192) == HTTP_REQ_BAD);
}

static void test_too_big(void)
{
    char s[256];
    http_req r;
    int n = snprintf(s, sizeof(s), "GET / HTTP/1.1\r\nX: %s\r\n\r\n",
                     "0123456789012345678901234567890123456789");
    size_t head = (size_t)n;
    CHECK(parse_all(&r, s, head, head) == HTTP_REQ_DONE); /* exactly the limit */
    CHECK(r.head_len == head);
    CHECK(parse_all(&r, s, head, head - 1) == HTTP_REQ_TOO_BIG);
    CHECK(parse_bytewise(&r, s, head, head - 1) == HTTP_REQ_TOO_BIG);
    /* A head that never ends is too big as soon as it passes the limit. */
    CHECK(parse_all(&r, s, 40, 30) == HTTP_REQ_TOO_BIG);
    CHECK(parse_all(&r, s, 30, 30) == HTTP_REQ_AGAIN);
    CHECK(http_req_parse(&r, s, 31, 30) == HTTP_REQ_TOO_BIG);
}

static void test_prom_format(void)
{
    char num[32];
    CHECK(prom_format_double(num, sizeof(num), 0.1) == 3 && strcmp(num, "0.1") == 0);
    prom_format_double(num, sizeof(num), 1e-6);
    CHECK(strcmp(num, "1e-06") == 0);
    prom_format_double(num, sizeof(num), 1.0 / 0.0);
    CHECK(strcmp(num, "+Inf") == 0);
    buf b;
    buf_init(&b);
    prom_label(&b, "cmd", "a\"b\\c\nd", 7);
    const char *want = "cmd=\"a\\\"b\\\\c\\nd\"";
    CHECK(b.len == strlen(want) && memcmp(b.data, want, b.len) == 0);
    buf_reset(&b);
    const double bounds[2] = {10, 100};
    const uint64_t counts[3] = {1, 2, 3};
    prom_histogram(&b, "h", "help", bounds, 2, counts, 500, 1e6);
    buf_append(&b, "", 1);
    CHECK(strstr(b.data, "h_bucket{le=\"1e-05\"} 1\n") != NULL);
    CHECK(strstr(b.data, "h_bucket{le=\"0.0001\"} 3\n") != NULL);
    CHECK(strstr(b.data, "h_bucket{le=\"+Inf\"} 6\n") != NULL);
    CHECK(strstr(b.data, "h_sum 0.0005\n") != NULL);
    CHECK(strstr(b.data, "h_count 6\n") != NULL);
    CHECK(strncmp(b.data, "# HELP h help\n# TYPE h histogram\n", 33) == 0);
    buf_free(&b);
}

int main(void)
{
    test_simple_get();
    test_bytewise_matches_whole();
    test_bare_lf_and_forms();
    test_malformed();
    test_fails_fast();
    test_too_big();
    test_prom_format();
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
