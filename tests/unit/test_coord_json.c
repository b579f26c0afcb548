/* test_coord_json.c — the coordinator's JSON documents: round trips, strictness, limits. */
#include "common/err.h"
#include "coord/coord_json.h"
#include "test.h"

#include <stdio.h>
#include <string.h>

/* Copies a literal into a fixed array (asserting it fits). */
#define SET(dst, lit)                                                                              \
    do {                                                                                           \
        _Static_assert(sizeof(lit) <= sizeof(dst), "literal too long");                            \
        memcpy((dst), (lit), sizeof(lit));                                                         \
    } while (0)

static int parse_cfg(const char *doc, coord_config *cfg)
{
    return coord_config_parse(doc, strlen(doc), cfg, NULL);
}

static int parse_node(const char *doc, coord_node_info *n)
{
    return coord_node_parse(doc, strlen(doc), n, NULL);
}

static coord_config sample_config(void)
{
    coord_config c = {.epoch = 7, .n_isr = 2, .n_members = 3};
    SET(c.primary, "n1");
    SET(c.isr[0], "n1");
    SET(c.isr[1], "n2");
    SET(c.members[0], "n1");
    SET(c.members[1], "n2");
    SET(c.members[2], "n3");
    return c;
}

static void test_config_roundtrip(void)
{
    coord_config c = sample_config(), back;
    char buf[COORD_DOC_MAX];
    int n = coord_config_encode(&c, buf, sizeof(buf), NULL);
    CHECK_MEM(buf, (size_t)n,
              "{\"epoch\":7,\"primary\":\"n1\",\"isr\":[\"n1\",\"n2\"],\"members\":[\"n1\",\"n2\","
              "\"n3\"]}");
    CHECK_EQ_INT(coord_config_parse(buf, (size_t)n, &back, NULL), 0);
    CHECK(coord_config_equal(&c, &back));
    back.epoch++;
    CHECK(!coord_config_equal(&c, &back));
}

static void test_config_lenient_syntax(void)
{
    coord_config c;
    /* whitespace anywhere between tokens, keys in any order */
    CHECK_EQ_INT(parse_cfg(" {\n\t\"members\" : [ \"a\" , \"b\" ] ,\r\n \"isr\":[],"
                           "\"primary\": null, \"epoch\" : 0 } \n",
                           &c),
                 0);
    CHECK_EQ_INT(c.n_members, 2);
    CHECK_EQ_INT(c.n_isr, 0);
    CHECK(c.primary[0] == '\0');
    CHECK_EQ_INT(c.epoch, 0);
    CHECK_EQ_INT(parse_cfg("{\"epoch\":18446744073709551615,\"primary\":null,\"isr\":[],"
                           "\"members\":[\"x\"]}",
                           &c),
                 0);
    CHECK(c.epoch == UINT64_MAX);
}

static void test_config_rejects(void)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{}",
        "{\"epoch\":1,\"primary\":null,\"isr\":[]}",                                 /* missing */
        "{\"epoch\":1,\"primary\":null,\"isr\":[],\"members\":[\"a\"],\"x\":1}",     /* unknown */
        "{\"epoch\":1,\"epoch\":2,\"primary\":null,\"isr\":[],\"members\":[\"a\"]}", /* dup */
        "{\"epoch\":01,\"primary\":null,\"isr\":[],\"members\":[\"a\"]}",
        "{\"epoch\":-1,\"primary\":null,\"isr\":[],\"members\":[\"a\"]}",
        "{\"epoch\":1.5,\"primary\":null,\"isr\":[],\"members\":[\"a\"]}",
        "{\"epoch\":1e3,\"primary\":null,\"isr\":[],\"members\":[\"a\"]}",
        "{\"epoch\":\"1\",\"primary\":null,\"isr\":[],\"members\":[\"a\"]}",
        "{\"epoch\":18446744073709551616,\"primary\":null,\"isr\":[],\"members\":[\"a\"]}",
        "{\"epoch\":1,\"primary\":null,\"isr\":[],\"members\":[]}",                  /* none */
        "{\"epoch\":1,\"primary\":null,\"isr\":[],\"members\":[\"a\",\"a\"]}",       /* repeat */
        "{\"epoch\":1,\"primary\":null,\"isr\":[\"b\"],\"members\":[\"a\"]}",        /* isr ⊄ */
        "{\"epoch\":1,\"primary\":\"b\",\"isr\":[\"a\"],\"members\":[\"a\",\"b\"]}", /* prim ∉ isr
                                                                                      */
        "{\"epoch\":1,\"primary\":\"\",\"isr\":[],\"members\":[\"a\"]}",             /* empty id */
        "{\"epoch\":1,\"primary\":null,\"isr\":[],\"members\":[\"a b\"]}",
        "{\"epoch\":1,\"primary\":null,\"isr\":[],\"members\":[\"a\\u0041\"]}", /* escape */
        "{\"epoch\":1,\"primary\":null,\"isr\":[],\"members\":[\"a\",]}",
        "{\"epoch\":1,\"primary\":null,\"isr\":[],\"members\":[\"a\"],}",
        "{\"epoch\":1,\"primary\":null,\"isr\":[],\"members\":[\"a\"]} x",
        "{\"epoch\":1,\"primary\":null,\"isr\":[],\"members\":[\"a\"]}{}",
        "{\"epoch\":1,\"primary\":null,\"isr\":[],\"members\":[\"a\"]",
        "{\"epoch\":1,\"primary\":nul,\"isr\":[],\"members\":[\"a\"]}",
        "{\"epoch\":1,\"primary\":null,\"isr\":[],\"members\":[\"a",
        "{\"epoch\":1,\"primary\":null,\"isr\":[],\"members\":\"a\"}",
        "{'epoch':1}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        coord_config c;
        const char *why = NULL;
        int rc = coord_config_parse(bad[i], strlen(bad[i]), &c, &why);
        if (rc != -HALO_EPROTO || why == NULL) fprintf(stderr, "accepted: %s\n", bad[i]);
        CHECK_EQ_INT(rc, -HALO_EPROTO);
        CHECK(why != NULL);
    }
}

static void test_config_limits(void)
{
    coord_config c = {
        .epoch = UINT64_MAX, .n_isr = COORD_MAX_MEMBERS, .n_members = COORD_MAX_MEMBERS};
    for (unsigned i = 0; i < COORD_MAX_MEMBERS; i++) {
        memset(c.members[i], 'a' + (int)i, COORD_ID_MAX);
        c.members[i][COORD_ID_MAX] = '\0';
        memcpy(c.isr[i], c.members[i], sizeof(coord_id));
    }
    memcpy(c.primary, c.members[3], sizeof(coord_id));
    char buf[COORD_DOC_MAX];
    int n = coord_config_encode(&c, buf, sizeof(buf), NULL);
    CHECK(n > 2000 && n <= COORD_DOC_MAX);
    coord_config back;
    CHECK_EQ_INT(coord_config_parse(buf, (size_t)n, &back, NULL), 0);
    CHECK(coord_config_equal(&c, &back));
    CHECK_EQ_INT(coord_config_encode(&c, buf, 100, NULL), -HALO_ETOOBIG);

    /* a 17th member */
    char doc[COORD_DOC_MAX];
    size_t len = (size_t)snprintf(doc, sizeof(doc),
                                  "{\"epoch\":1,\"primary\":null,\"isr\":[],\"members\":[");
    for (int i = 0; i < 17; i++)
        len += (size_t)snprintf(doc + len, sizeof(doc) - len, "%s\"m%d\"", i ? "," : "", i);
    len += (size_t)snprintf(doc + len, sizeof(doc) - len, "]}");
    const char *why = NULL;
    CHECK_EQ_INT(coord_config_parse(doc, len, &back, &why), -HALO_EPROTO);
    CHECK(why && strstr(why, "too many"));

    /* a 65-byte id */
    char id65[200];
    snprintf(id65, sizeof(id65),
             "{\"epoch\":1,\"primary\":null,\"isr\":[],\"members\":[\"%065d\"]}", 0);
    CHECK_EQ_INT(parse_cfg(id65, &back), -HALO_EPROTO);

    /* more than COORD_DOC_MAX bytes, even if it were valid */
    char big[COORD_DOC_MAX + 100];
    memset(big, ' ', sizeof(big));
    static const char ok[] = "{\"epoch\":1,\"primary\":null,\"isr\":[],\"members\":[\"a\"]}";
    memcpy(big, ok, sizeof(ok) - 1);
    CHECK_EQ_INT(coord_config_parse(big, sizeof(big), &back, NULL), -HALO_ETOOBIG);
    CHECK_EQ_INT(coord_config_parse(big, COORD_DOC_MAX, &back, NULL), 0);

    /* a NUL byte inside */
    static const char nul[] = "{\"epoch\":1,\"primary\":null,\"isr\":[],\"members\":[\"a\"]}\0";
    CHECK_EQ_INT(coord_config_parse(nul, sizeof(nul) - 1, &back, NULL), -HALO_EPROTO);
}

static void test_config_encode_invalid(void)
{
    char buf[COORD_DOC_MAX];
    const char *why = NULL;
    coord_config c = sample_config();
    SET(c.primary, "n3"); /* not in isr */
    CHECK_EQ_INT(coord_config_encode(&c, buf, sizeof(buf), &why), -HALO_EINVAL);
    CHECK(why && strstr(why, "primary"));
    c = sample_config();
    SET(c.isr[1], "n9");
    CHECK_EQ_INT(coord_config_encode(&c, buf, sizeof(buf), NULL), -HALO_EINVAL);
    c = sample_config();
    SET(c.members[2], "n\"3");
    CHECK_EQ_INT(coord_config_encode(&c, buf, sizeof(buf), NULL), -HALO_EINVAL);
    c = sample_config();
    c.n_members = 0;
    CHECK_EQ_INT(coord_config_encode(&c, buf, sizeof(buf), NULL), -HALO_EINVAL);
    c = sample_config();
    c.n_members = COORD_MAX_MEMBERS + 1;
    CHECK_EQ_INT(coord_config_encode(&c, buf, sizeof(buf), NULL), -HALO_EINVAL);
    c = sample_config();
    memset(c.members[0], 'x', sizeof(coord_id)); /* not NUL-terminated */
    CHECK_EQ_INT(coord_config_encode(&c, buf, sizeof(buf), NULL), -HALO_EINVAL);
    c = sample_config();
    c.primary[0] = '\0';
    int n = coord_config_encode(&c, buf, sizeof(buf), NULL);
    CHECK(n > 0 && memmem(buf, (size_t)n, "\"primary\":null", 14) != NULL);
}

static void test_node(void)
{
    coord_node_info n, back;
    CHECK_EQ_INT(parse_node("{\"addr\":\"127.0.0.1:7001\"}", &n), 0);
    CHECK(strcmp(n.addr, "127.0.0.1:7001") == 0 && n.repl[0] == '\0' && n.zone[0] == '\0');
    CHECK_EQ_INT(parse_node("{\"addr\":\"10.0.0.1:7001\",\"repl\":\"10.0.0.1:17001\","
                            "\"zone\":\"eu-1a\"}",
                            &n),
                 0);
    char buf[COORD_DOC_MAX];
    int len = coord_node_encode(&n, buf, sizeof(buf), NULL);
    CHECK_MEM(buf, (size_t)len,
              "{\"addr\":\"10.0.0.1:7001\",\"repl\":\"10.0.0.1:17001\",\"zone\":\"eu-1a\"}");
    CHECK_EQ_INT(coord_node_parse(buf, (size_t)len, &back, NULL), 0);
    CHECK(coord_node_equal(&n, &back));
    /* unknown keys of any shape are skipped */
    CHECK_EQ_INT(parse_node("{\"ports\":{\"metrics\":[9100,{\"a\":null}],\"x\":-1.5e+3},"
                            "\"tags\":[\"a\\\"b\\u00e9\",true,false],\"addr\":\"[::1]:7001\","
                            "\"k\\n\":\"v\"}",
                            &n),
                 0);
    CHECK(strcmp(n.addr, "[::1]:7001") == 0);
    CHECK_EQ_INT(parse_node("{\"addr\":\"db-1.example:6379\"}", &n), 0);
}

static void test_node_rejects(void)
{
    static const char *const bad[] = {
        "{}",
        "{\"repl\":\"127.0.0.1:1\"}",
        "{\"addr\":\"127.0.0.1\"}",
        "{\"addr\":\"127.0.0.1:0\"}",
        "{\"addr\":\"127.0.0.1:65536\"}",
        "{\"addr\":\"127.0.0.1:07001\"}",
        "{\"addr\":\":7001\"}",
        "{\"addr\":\"a b:1\"}",
        "{\"addr\":\"[]:1\"}",
        "{\"addr\":\"[zz]:1\"}",
        "{\"addr\":\"h:1\",\"zone\":\"\"}",
        "{\"addr\":\"h:1\",\"addr\":\"h:2\"}",
        "{\"addr\":\"h:1\",\"x\":[[[[[[[[[1]]]]]]]]]}", /* 9 deep */
        "{\"addr\":\"h:1\",\"x\":\"\\q\"}",
        "{\"addr\":\"h:1\",\"x\":\"\\u12\"}",
        "{\"addr\":\"h:1\",\"x\":01}",
        "{\"addr\":\"h:1\",\"x\":-}",
        "{\"addr\":\"h:1\",\"x\":1.}",
        "{\"addr\":\"h:1\",\"x\":tru}",
        "{\"addr\":\"h:1\",\"x\":[1,]}",
        "{\"addr\":\"h:1\",\"x\":{\"a\"}}",
        "{\"addr\":\"h:1\",\"x\":\"a\tb\"}", /* raw control character */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        coord_node_info n;
        int rc = parse_node(bad[i], &n);
        if (rc != -HALO_EPROTO) fprintf(stderr, "accepted: %s\n", bad[i]);
        CHECK_EQ_INT(rc, -HALO_EPROTO);
    }
    coord_node_info n;
    CHECK_EQ_INT(parse_node("{\"addr\":\"h:1\",\"x\":[[[[[[[[1]]]]]]]]}", &n), 0); /* 8 deep */
}

static void test_primary(void)
{
    coord_primary_info p = {.epoch = 9}, back;
    SET(p.node, "n2");
    char buf[COORD_DOC_MAX];
    int n = coord_primary_encode(&p, buf, sizeof(buf), NULL);
    CHECK_MEM(buf, (size_t)n, "{\"node\":\"n2\",\"epoch\":9}");
    CHECK_EQ_INT(coord_primary_parse(buf, (size_t)n, &back, NULL), 0);
    CHECK(coord_primary_equal(&p, &back));
    CHECK_EQ_INT(coord_primary_parse("{\"node\":\"n2\"}", 13, &back, NULL), -HALO_EPROTO);
    const char *extra = "{\"since_ms\":123,\"node\":\"n2\",\"epoch\":9}";
    CHECK_EQ_INT(coord_primary_parse(extra, strlen(extra), &back, NULL), 0);
    p.node[0] = '\0';
    CHECK_EQ_INT(coord_primary_encode(&p, buf, sizeof(buf), NULL), -HALO_EINVAL);
}

static void test_ids_and_addrs(void)
{
    CHECK(coord_id_valid("a", 1));
    CHECK(coord_id_valid("A-z_0.9", 7));
    CHECK(!coord_id_valid("", 0));
    CHECK(!coord_id_valid("a/b", 3));
    CHECK(!coord_id_valid("é", 2));
    char id[65];
    memset(id, 'x', sizeof(id));
    CHECK(coord_id_valid(id, 64));
    CHECK(!coord_id_valid(id, 65));
    CHECK(coord_addr_valid("127.0.0.1:1", 11));
    CHECK(coord_addr_valid("[fe80::1]:65535", 15));
    CHECK(!coord_addr_valid("[fe80::1]", 9));
    CHECK(!coord_addr_valid("host:", 5));
    CHECK(!coord_addr_valid("host:99999", 10));
    coord_id ids[2] = {"a", "b"};
    CHECK(coord_id_in(ids, 2, "b"));
    CHECK(!coord_id_in(ids, 1, "b"));
}

int main(void)
{
    RUN(test_config_roundtrip);
    RUN(test_config_lenient_syntax);
    RUN(test_config_rejects);
    RUN(test_config_limits);
    RUN(test_config_encode_invalid);
    RUN(test_node);
    RUN(test_node_rejects);
    RUN(test_primary);
    RUN(test_ids_and_addrs);
    return TEST_REPORT();
}
