/* test_util.c — strict number parsing/formatting and glob matching. */
#include "test.h"
#include "common/util.h"

#include <math.h>

static void test_i64(void)
{
    int64_t v;
    CHECK(str_to_i64("0", 1, &v) && v == 0);
    CHECK(str_to_i64("-1", 2, &v) && v == -1);
    CHECK(str_to_i64("9223372036854775807", 19, &v) && v == INT64_MAX);
    CHECK(str_to_i64("-9223372036854775808", 20, &v) && v == INT64_MIN);
    CHECK(!str_to_i64("9223372036854775808", 19, &v));
    CHECK(!str_to_i64("01", 2, &v));
    CHECK(!str_to_i64("+1", 2, &v));
    CHECK(!str_to_i64(" 1", 2, &v));
    CHECK(!str_to_i64("1 ", 2, &v));
    CHECK(!str_to_i64("-", 1, &v));
    CHECK(!str_to_i64("", 0, &v));
    CHECK(!str_to_i64("-0", 2, &v));
    char buf[32];
    CHECK_EQ_INT(i64_to_str(buf, sizeof(buf), INT64_MIN), 20);
    CHECK(strcmp(buf, "-9223372036854775808") == 0);
    CHECK_EQ_INT(u64_to_str(buf, UINT64_MAX), 20);
    CHECK(strcmp(buf, "18446744073709551615") == 0);
    CHECK_EQ_INT(u64_to_str(buf, 0), 1);
    CHECK(strcmp(buf, "0") == 0);
}

static void test_double(void)
{
    double d;
    CHECK(str_to_double("1.5", 3, &d) && d == 1.5);
    CHECK(str_to_double("-inf", 4, &d) && isinf(d) && d < 0);
    CHECK(!str_to_double("nan", 3, &d));
    CHECK(!str_to_double("1.5x", 4, &d));
    CHECK(!str_to_double(" 1", 2, &d));
    char buf[64];
    double_to_str(buf, sizeof(buf), 3.0);
    CHECK(strcmp(buf, "3") == 0);
    double_to_str(buf, sizeof(buf), 0.1);
    CHECK(strcmp(buf, "0.10000000000000001") == 0);
    long double ld;
    CHECK(str_to_ldouble("10.5", 4, &ld));
    char big[5120];
    ldouble_to_str(big, sizeof(big), ld + 0.1L);
    CHECK(strcmp(big, "10.6") == 0);
    ldouble_to_str(big, sizeof(big), 5.0e3L);
    CHECK(strcmp(big, "5000") == 0);
}

static bool m(const char *p, const char *s) { return glob_match(p, strlen(p), s, strlen(s), false); }

static void test_glob(void)
{
    CHECK(m("*", "anything"));
    CHECK(m("h?llo", "hello"));
    CHECK(m("h*llo", "heeeello"));
    CHECK(m("h[ae]llo", "hallo"));
    CHECK(!m("h[ae]llo", "hillo"));
    CHECK(m("h[^e]llo", "hallo"));
    CHECK(!m("h[^e]llo", "hello"));
    CHECK(m("h[a-b]llo", "hbllo"));
    CHECK(m("h\\*llo", "h*llo"));
    CHECK(!m("h\\*llo", "hello"));
    CHECK(!m("a*b", "acd"));
    CHECK(glob_match("HeLLo", 5, "hello", 5, true));
    /* pathological pattern terminates */
    const char *p = "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
    CHECK(!m(p, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

static void test_hostport(void)
{
    char host[16];
    int port = 0;
    CHECK(split_hostport("127.0.0.1:7001", 14, host, sizeof(host), &port));
    CHECK(strcmp(host, "127.0.0.1") == 0 && port == 7001);
    CHECK(split_hostport("[::1]:65535", 11, host, sizeof(host), &port));
    CHECK(strcmp(host, "::1") == 0 && port == 65535);
    CHECK(split_hostport("a:1xyz", 3, host, sizeof(host), &port)); /* len bounds the input */
    CHECK(strcmp(host, "a") == 0 && port == 1);
    const char *bad[] = {"", "7001", ":7001", "h:", "h:0", "h:65536", "h:-1", "h:7x", "[]:80",
                         "a-host-name-too-long-for-it:80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(!split_hostport(bad[i], strlen(bad[i]), host, sizeof(host), &port));
}

int main(void)
{
    RUN(test_i64);
    RUN(test_double);
    RUN(test_glob);
    RUN(test_hostport);
    return TEST_REPORT();
}
