/* test_config.c — config parsing: values, quoting, units, errors naming file and line. */
#include "test.h"
#include "common/buf.h"
#include "kv/config.h"

static int load(kv_config *cfg, const char *text, buf *err)
{
    config_defaults(cfg);
    buf_reset(err);
    return config_load_text(cfg, text, strlen(text), "t.conf", err);
}

static bool err_has(buf *err, const char *needle)
{
    buf_append(err, "", 1);
    err->len--;
    bool ok = err->data && strstr(err->data, needle);
    if (!ok) fprintf(stderr, "error text was: %.*s\n", (int)err->len, err->data ? err->data : "");
    return ok;
}

static void test_values(void)
{
    kv_config cfg;
    buf err;
    buf_init(&err);
    CHECK_EQ_INT(load(&cfg, "# c\n\nport 7000\nmaxmemory 10mb\nappendonly yes\n"
                            "requirepass \"a b\"\nbind 127.0.0.1 ::1\nmaxmemory-policy ALLKEYS-LRU\n"
                            "appendfsync always\r\n",
                      &err),
                 0);
    CHECK_EQ_INT(cfg.port, 7000);
    CHECK_EQ_INT(cfg.maxmemory, 10 * 1024 * 1024);
    CHECK(cfg.appendonly);
    CHECK(strcmp(cfg.requirepass, "a b") == 0);
    CHECK(strcmp(cfg.bind, "127.0.0.1 ::1") == 0);
    CHECK_EQ_INT(cfg.maxmemory_policy, EVICT_ALLKEYS_LRU);
    CHECK_EQ_INT(cfg.appendfsync, FSYNC_ALWAYS);
    config_free(&cfg);
    buf_free(&err);
}

static void test_errors(void)
{
    kv_config cfg;
    buf err;
    buf_init(&err);
    CHECK(load(&cfg, "port 1\nnope 2\n", &err) != 0);
    CHECK(err_has(&err, "t.conf:2: unknown directive 'nope'"));
    config_free(&cfg);
    CHECK(load(&cfg, "port 70000\n", &err) != 0);
    CHECK(err_has(&err, "t.conf:1: invalid 'port' value '70000': argument must be between 0 and 65535"));
    config_free(&cfg);
    CHECK(load(&cfg, "appendonly maybe\n", &err) != 0);
    CHECK(err_has(&err, "argument must be 'yes' or 'no'"));
    config_free(&cfg);
    CHECK(load(&cfg, "port\n", &err) != 0);
    CHECK(err_has(&err, "wrong number of arguments for 'port'"));
    config_free(&cfg);
    CHECK(load(&cfg, "requirepass \"open\n", &err) != 0);
    CHECK(err_has(&err, "t.conf:1: unbalanced quotes"));
    config_free(&cfg);
    CHECK(load(&cfg, "maxmemory -5\n", &err) != 0);
    config_free(&cfg);
    CHECK(load(&cfg, "daemonize yes\n", &err) == 0);
    CHECK(config_validate(&cfg, &err) != 0);
    config_free(&cfg);
    buf_free(&err);
}

static void test_memory_units(void)
{
    int64_t v;
    CHECK(config_parse_memory("100", &v) && v == 100);
    CHECK(config_parse_memory("1k", &v) && v == 1000);
    CHECK(config_parse_memory("1kb", &v) && v == 1024);
    CHECK(config_parse_memory("2GB", &v) && v == 2LL * 1024 * 1024 * 1024);
    CHECK(!config_parse_memory("kb", &v));
    CHECK(!config_parse_memory("1x", &v));
    CHECK(!config_parse_memory("99999999999999999999gb", &v));
}

static void test_args(void)
{
    kv_config cfg;
    buf err;
    buf_init(&err);
    config_defaults(&cfg);
    char *argv[] = {"--port", "7001", "--bind", "127.0.0.1", "::1", "--appendonly", "yes"};
    char *file = NULL;
    CHECK_EQ_INT(config_load_args(&cfg, 7, argv, &file, &err), 0);
    CHECK_EQ_INT(cfg.port, 7001);
    CHECK(strcmp(cfg.bind, "127.0.0.1 ::1") == 0);
    CHECK(file == NULL);
    char *bad[] = {"--port"};
    CHECK(config_load_args(&cfg, 1, bad, &file, &err) != 0);
    CHECK(err_has(&err, "command line --port: wrong number of arguments"));
    config_free(&cfg);
    buf_free(&err);
}

int main(void)
{
    RUN(test_values);
    RUN(test_errors);
    RUN(test_memory_units);
    RUN(test_args);
    return TEST_REPORT();
}
