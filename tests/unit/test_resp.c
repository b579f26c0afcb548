/* test_resp.c — the RESP command parser: multibulk, inline, partial input, errors, limits. */
#include "test.h"
#include "proto/resp.h"

#include <stdlib.h>

static int parse_all(resp_parser *p, const char *in, size_t len, size_t *consumed)
{
    return resp_parse(p, in, len, consumed);
}

static void test_multibulk(void)
{
    resp_parser p;
    resp_parser_init(&p, 1024);
    const char *in = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
    size_t used;
    CHECK_EQ_INT(parse_all(&p, in, strlen(in), &used), RESP_COMMAND);
    CHECK_EQ_INT(used, strlen(in));
    CHECK_EQ_INT(p.argc, 2);
    CHECK_MEM(p.argv[0].ptr, p.argv[0].len, "GET");
    CHECK_MEM(p.argv[1].ptr, p.argv[1].len, "k");
    resp_parser_free(&p);
}

/* Feeding a command one byte at a time yields it exactly once, at the end. */
static void test_byte_by_byte(void)
{
    resp_parser p;
    resp_parser_init(&p, 1024);
    const char *in = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
    size_t n = strlen(in), start = 0;
    int commands = 0;
    for (size_t end = 1; end <= n; end++) {
        size_t used;
        int rc = resp_parse(&p, in + start, end - start, &used);
        CHECK(rc != RESP_ERR);
        if (rc == RESP_COMMAND) {
            commands++;
            CHECK_EQ_INT(end, n);
            CHECK_MEM(p.argv[2].ptr, p.argv[2].len, "value");
        }
        start += used;
    }
    CHECK_EQ_INT(commands, 1);
    resp_parser_free(&p);
}

static void test_inline(void)
{
    resp_parser p;
    resp_parser_init(&p, 1024);
    const char *in = "SET k \"a b\\x41\\n\" 'c d'\r\n";
    size_t used;
    CHECK_EQ_INT(resp_parse(&p, in, strlen(in), &used), RESP_COMMAND);
    CHECK_EQ_INT(p.argc, 4);
    CHECK_MEM(p.argv[2].ptr, p.argv[2].len, "a bA\n");
    CHECK_MEM(p.argv[3].ptr, p.argv[3].len, "c d");
    /* empty line: consumed, no command */
    CHECK_EQ_INT(resp_parse(&p, "\r\n", 2, &used), RESP_NEED_MORE);
    CHECK_EQ_INT(used, 2);
    /* unbalanced quotes */
    CHECK_EQ_INT(resp_parse(&p, "SET \"a\r\n", 8, &used), RESP_ERR);
    CHECK(strstr(p.error, "unbalanced quotes") != NULL);
    resp_parser_free(&p);
}

static void expect_error(const char *in, const char *msg)
{
    resp_parser p;
    resp_parser_init(&p, 1024);
    size_t used;
    int rc = resp_parse(&p, in, strlen(in), &used);
    CHECK_EQ_INT(rc, RESP_ERR);
    if (rc == RESP_ERR && strstr(p.error, msg) == NULL) {
        fprintf(stderr, "input %s: error '%s', expected '%s'\n", in, p.error, msg);
        t_failed_checks++;
    }
    resp_parser_free(&p);
}

static void test_errors(void)
{
    expect_error("*x\r\n", "invalid multibulk length");
    expect_error("*2147483648000\r\n", "invalid multibulk length");
    expect_error("*1\r\n+3\r\n", "expected '$', got '+'");
    expect_error("*1\r\n$-5\r\n", "invalid bulk length");
    expect_error("*1\r\n$2048\r\n", "invalid bulk length"); /* > max_bulk_len 1024 */
    expect_error("*1\r\n$3\r\nabcXY", "invalid bulk length");
    expect_error("*1\r\n$12345678901234567890123456789012345678901234567890123456789012345678",
                 "too big bulk count string");
    expect_error("*1234567890123456789012345678901234567890123456789012345678901234567890",
                 "too big mbulk count string");
}

/* A huge declared count does not allocate: argv grows only as arguments arrive. */
static void test_no_prealloc(void)
{
    resp_parser p;
    resp_parser_init(&p, 1024);
    const char *in = "*1000000000\r\n$1\r\na\r\n";
    size_t used;
    CHECK_EQ_INT(resp_parse(&p, in, strlen(in), &used), RESP_NEED_MORE);
    CHECK(p.cap <= 1024);
    resp_parser_free(&p);
}

static void test_pipeline(void)
{
    resp_parser p;
    resp_parser_init(&p, 1024);
    const char *in = "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\nPING\r\n";
    size_t pos = 0, len = strlen(in), used;
    int n = 0;
    while (pos < len) {
        int rc = resp_parse(&p, in + pos, len - pos, &used);
        CHECK(rc != RESP_ERR);
        pos += used;
        if (rc == RESP_COMMAND) n++;
        if (used == 0) break;
    }
    CHECK_EQ_INT(n, 3);
    resp_parser_free(&p);
}

int main(void)
{
    RUN(test_multibulk);
    RUN(test_byte_by_byte);
    RUN(test_inline);
    RUN(test_errors);
    RUN(test_no_prealloc);
    RUN(test_pipeline);
    return TEST_REPORT();
}
