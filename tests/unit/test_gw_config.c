/* test_gw_config.c — `halo gw` YAML config: defaults, every key, every error class
 * with its file:line:col, route matching, durations and sizes, the shipped example. */
#include "test.h"
#include "common/buf.h"
#include "common/mem.h"
#include "gw/gw_config.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static buf err;

static gw_config *parse(const char *text)
{
    buf_reset(&err);
    return gw_config_parse(text, strlen(text), "gw.yaml", &err);
}

static const char *errtext(void) { return err.len ? err.data : ""; }

/* The config must fail with a message starting with prefix (file:line:col: path: ...). */
static bool fails_with(const char *text, const char *prefix, const char *also)
{
    gw_config *cfg = parse(text);
    bool ok = !cfg && err.len && !strncmp(errtext(), prefix, strlen(prefix)) &&
              (!also || strstr(errtext(), also));
    if (!ok) fprintf(stderr, "config:\n%s\nerror was: %s\n", text, errtext());
    gw_config_free(cfg);
    return ok;
}

#define MINIMAL                                                                          \
    "listeners:\n"                                                                       \
    "  - name: public\n"                                                                 \
    "    address: 127.0.0.1:8080\n"                                                      \
    "clusters:\n"                                                                        \
    "  - name: api\n"                                                                    \
    "    endpoints: [127.0.0.1:9001]\n"                                                  \
    "routes:\n"                                                                          \
    "  - cluster: api\n"

static void test_defaults(void)
{
    gw_config *cfg = parse(MINIMAL);
    CHECK(cfg != NULL);
    if (!cfg) return;
    CHECK(strcmp(cfg->source, "gw.yaml") == 0);
    CHECK(cfg->workers >= 1);
    CHECK(cfg->admin_address == NULL);
    CHECK(cfg->access_log == NULL);
    CHECK_EQ_INT(cfg->drain_timeout_ms, 30000);

    CHECK_EQ_INT(cfg->nlisteners, 1);
    gw_listener_cfg *l = &cfg->listeners[0];
    CHECK(strcmp(l->name, "public") == 0 && strcmp(l->address, "127.0.0.1:8080") == 0);
    CHECK_EQ_INT(l->addr.ss_family, AF_INET);
    CHECK_EQ_INT(ntohs(((struct sockaddr_in *)&l->addr)->sin_port), 8080);
    CHECK_EQ_INT(l->addrlen, sizeof(struct sockaddr_in));
    CHECK_EQ_INT(l->header_timeout_ms, 10000);
    CHECK_EQ_INT(l->keepalive_timeout_ms, 60000);
    CHECK_EQ_INT(l->max_header_bytes, 64 * 1024);
    CHECK_EQ_INT(l->max_url_bytes, 8 * 1024);
    CHECK_EQ_INT(l->max_body_bytes, 0);

    CHECK_EQ_INT(cfg->nroutes, 1);
    gw_route_cfg *r = &cfg->routes[0];
    CHECK(r->host == NULL && strcmp(r->path_prefix, "/") == 0);
    CHECK(strcmp(r->cluster_name, "api") == 0);
    CHECK_EQ_INT(r->cluster, 0);
    CHECK_EQ_INT(r->first_byte_timeout_ms, 15000);
    CHECK_EQ_INT(r->request_timeout_ms, 60000);
    CHECK_EQ_INT(r->idle_timeout_ms, 60000);
    CHECK_EQ_INT(r->retry.max_retries, 1);
    CHECK(r->retry.on_connect_failure && r->retry.on_reset);
    CHECK_EQ_INT(r->retry.nstatuses, 0);
    CHECK_EQ_INT(r->retry.budget_percent, 20);
    CHECK_EQ_INT(r->retry.budget_min_per_s, 3);

    CHECK_EQ_INT(cfg->nclusters, 1);
    gw_cluster_cfg *c = &cfg->clusters[0];
    CHECK_EQ_INT(c->lb, LB_ROUND_ROBIN);
    CHECK(c->hash_key == NULL);
    CHECK_EQ_INT(c->nendpoints, 1);
    CHECK_EQ_INT(c->endpoints[0].weight, 1);
    CHECK(strcmp(c->endpoints[0].address, "127.0.0.1:9001") == 0);
    CHECK_EQ_INT(c->health.type, HC_NONE);
    CHECK(strcmp(c->health.path, "/") == 0 && c->health.host == NULL);
    CHECK_EQ_INT(c->health.nexpect, 1);
    CHECK(c->health.expect[0].lo == 200 && c->health.expect[0].hi == 399);
    CHECK_EQ_INT(c->health.interval_ms, 1000);
    CHECK_EQ_INT(c->health.timeout_ms, 500);
    CHECK(c->health.rise == 2 && c->health.fall == 3);
    CHECK(c->outlier.consecutive_5xx == 5 && c->outlier.consecutive_failures == 5);
    CHECK_EQ_INT(c->outlier.base_ejection_ms, 10000);
    CHECK_EQ_INT(c->outlier.max_ejection_ms, 300000);
    CHECK_EQ_INT(c->outlier.max_ejection_percent, 50);
    CHECK_EQ_INT(c->pool.max_connections, 128);
    CHECK_EQ_INT(c->pool.idle_timeout_ms, 30000);
    CHECK_EQ_INT(c->panic_threshold_percent, 50);
    CHECK_EQ_INT(c->connect_timeout_ms, 1000);
    gw_config_free(cfg);
}

static const char full[] =
    "workers: 3\n"
    "admin: '[::1]:9901'\n"
    "access_log: /tmp/gw-access.log\n"
    "drain_timeout: 2m\n"
    "listeners:\n"
    "  - name: public\n"
    "    address: 127.0.0.1:8080\n"
    "    header_timeout: 5s\n"
    "    keepalive_timeout: 1h\n"
    "    max_header_size: 32kb\n"
    "    max_url_size: 4k\n"
    "    max_body_size: 1mb\n"
    "  - name: v6\n"
    "    address: \"[::1]:8080\"\n"
    "routes:\n"
    "  - match: { host: API.Example.com, path_prefix: /v1/ }\n"
    "    cluster: api\n"
    "    timeouts: { first_byte: 1500ms, request: 0, idle: 90s }\n"
    "    retry: { max: 2, on: [reset, 502, 503], budget_percent: 10, budget_min_per_s: 7 }\n"
    "  - match: { host: '*.example.com' }\n"
    "    cluster: web\n"
    "    retry: { on: [] }\n"
    "clusters:\n"
    "  - name: api\n"
    "    lb: ring_hash\n"
    "    hash_on: header:X-User\n"
    "    connect_timeout: 250ms\n"
    "    panic_threshold: 0\n"
    "    pool: { max_connections: 16, idle_timeout: 5s }\n"
    "    health_check: { type: http, path: /healthz, host: example, expect: [200, 204-299],\n"
    "                    interval: 2s, timeout: 100ms, rise: 1, fall: 4 }\n"
    "    outlier: { consecutive_5xx: 0, consecutive_failures: 7, base_ejection: 1s,\n"
    "               max_ejection: 1m, max_ejection_percent: 100 }\n"
    "    endpoints:\n"
    "      - address: 127.0.0.1:9001\n"
    "        weight: 1000\n"
    "      - 127.0.0.1:9002\n"
    "      - '[::1]:9003'\n"
    "  - name: web\n"
    "    lb: maglev\n"
    "    health_check: { type: tcp }\n"
    "    endpoints: [10.0.0.1:80]\n"
    "  - name: c3\n"
    "    lb: least_request\n"
    "    endpoints: [10.0.0.1:80]\n"
    "  - name: c4\n"
    "    lb: random\n"
    "    hash_on: client_ip\n"
    "    endpoints: [10.0.0.1:80]\n";

static void test_every_key(void)
{
    /* c4 sets hash_on on a non-hash policy: an error, checked below; drop it here. */
    char text[sizeof(full)];
    memcpy(text, full, sizeof(full));
    char *c4 = strstr(text, "    hash_on: client_ip\n");
    memmove(c4, c4 + 23, strlen(c4 + 23) + 1);
    gw_config *cfg = parse(text);
    CHECK(cfg != NULL);
    if (!cfg) {
        fprintf(stderr, "error: %s\n", errtext());
        return;
    }
    CHECK_EQ_INT(cfg->workers, 3);
    CHECK(strcmp(cfg->admin_address, "[::1]:9901") == 0);
    CHECK_EQ_INT(cfg->admin_addr.ss_family, AF_INET6);
    CHECK_EQ_INT(cfg->admin_addrlen, sizeof(struct sockaddr_in6));
    CHECK(strcmp(cfg->access_log, "/tmp/gw-access.log") == 0);
    CHECK_EQ_INT(cfg->drain_timeout_ms, 120000);

    gw_listener_cfg *l = cfg->listeners;
    CHECK_EQ_INT(cfg->nlisteners, 2);
    CHECK_EQ_INT(l[0].header_timeout_ms, 5000);
    CHECK_EQ_INT(l[0].keepalive_timeout_ms, 3600000);
    CHECK_EQ_INT(l[0].max_header_bytes, 32768);
    CHECK_EQ_INT(l[0].max_url_bytes, 4000);
    CHECK_EQ_INT(l[0].max_body_bytes, 1048576);
    CHECK_EQ_INT(l[1].addr.ss_family, AF_INET6);
    CHECK_EQ_INT(ntohs(((struct sockaddr_in6 *)&l[1].addr)->sin6_port), 8080);

    gw_route_cfg *r = cfg->routes;
    CHECK_EQ_INT(cfg->nroutes, 2);
    CHECK(strcmp(r[0].host, "api.example.com") == 0); /* stored lower-case */
    CHECK(strcmp(r[0].path_prefix, "/v1/") == 0);
    CHECK_EQ_INT(r[0].cluster, 0);
    CHECK_EQ_INT(r[0].first_byte_timeout_ms, 1500);
    CHECK_EQ_INT(r[0].request_timeout_ms, 0);
    CHECK_EQ_INT(r[0].idle_timeout_ms, 90000);
    CHECK_EQ_INT(r[0].retry.max_retries, 2);
    CHECK(!r[0].retry.on_connect_failure && r[0].retry.on_reset);
    CHECK_EQ_INT(r[0].retry.nstatuses, 2);
    CHECK(r[0].retry.statuses[0] == 502 && r[0].retry.statuses[1] == 503);
    CHECK_EQ_INT(r[0].retry.budget_percent, 10);
    CHECK_EQ_INT(r[0].retry.budget_min_per_s, 7);
    CHECK(strcmp(r[1].host, "*.example.com") == 0);
    CHECK_EQ_INT(r[1].cluster, 1);
    CHECK(!r[1].retry.on_connect_failure && !r[1].retry.on_reset && r[1].retry.nstatuses == 0);

    gw_cluster_cfg *c = cfg->clusters;
    CHECK_EQ_INT(cfg->nclusters, 4);
    CHECK_EQ_INT(c[0].lb, LB_RING_HASH);
    CHECK_EQ_INT(c[0].hash_on, HASH_HEADER);
    CHECK(strcmp(c[0].hash_key, "X-User") == 0);
    CHECK_EQ_INT(c[0].connect_timeout_ms, 250);
    CHECK_EQ_INT(c[0].panic_threshold_percent, 0);
    CHECK_EQ_INT(c[0].pool.max_connections, 16);
    CHECK_EQ_INT(c[0].pool.idle_timeout_ms, 5000);
    CHECK_EQ_INT(c[0].health.type, HC_HTTP);
    CHECK(strcmp(c[0].health.path, "/healthz") == 0);
    CHECK(strcmp(c[0].health.host, "example") == 0);
    CHECK_EQ_INT(c[0].health.nexpect, 2);
    CHECK(c[0].health.expect[0].lo == 200 && c[0].health.expect[0].hi == 200);
    CHECK(c[0].health.expect[1].lo == 204 && c[0].health.expect[1].hi == 299);
    CHECK_EQ_INT(c[0].health.interval_ms, 2000);
    CHECK_EQ_INT(c[0].health.timeout_ms, 100);
    CHECK(c[0].health.rise == 1 && c[0].health.fall == 4);
    CHECK_EQ_INT(c[0].outlier.consecutive_5xx, 0);
    CHECK_EQ_INT(c[0].outlier.consecutive_failures, 7);
    CHECK_EQ_INT(c[0].outlier.base_ejection_ms, 1000);
    CHECK_EQ_INT(c[0].outlier.max_ejection_ms, 60000);
    CHECK_EQ_INT(c[0].outlier.max_ejection_percent, 100);
    CHECK_EQ_INT(c[0].nendpoints, 3);
    CHECK_EQ_INT(c[0].endpoints[0].weight, 1000);
    CHECK_EQ_INT(c[0].endpoints[1].weight, 1);
    CHECK(strcmp(c[0].endpoints[1].address, "127.0.0.1:9002") == 0);
    CHECK_EQ_INT(c[0].endpoints[2].addr.ss_family, AF_INET6);
    CHECK_EQ_INT(c[1].lb, LB_MAGLEV);
    CHECK_EQ_INT(c[1].hash_on, HASH_CLIENT_IP); /* hash policy without hash_on */
    CHECK_EQ_INT(c[1].health.type, HC_TCP);
    CHECK_EQ_INT(c[2].lb, LB_LEAST_REQUEST);
    CHECK_EQ_INT(c[3].lb, LB_RANDOM);
    gw_config_free(cfg);

    cfg = parse("access_log: 'off'\n" MINIMAL);
    CHECK(cfg && cfg->access_log == NULL);
    gw_config_free(cfg);
    cfg = parse("access_log: stderr\n" MINIMAL);
    CHECK(cfg && strcmp(cfg->access_log, "stderr") == 0);
    gw_config_free(cfg);
    cfg = parse(MINIMAL "    match: { host: '*' }\n");
    CHECK(cfg && cfg->routes[0].host == NULL);
    gw_config_free(cfg);
    cfg = parse(MINIMAL "  - cluster: api\n    match: { host: '[::1]' }\n");
    CHECK(cfg && strcmp(cfg->routes[1].host, "[::1]") == 0);
    gw_config_free(cfg);
    cfg = parse("clusters:\n  - name: k\n    lb: maglev\n    hash_on: cookie:sid\n"
                "    endpoints: [127.0.0.1:1]\nroutes: [{cluster: k}]\n"
                "listeners: [{name: a, address: '0.0.0.0:80'}]\n");
    CHECK(cfg && cfg->clusters[0].hash_on == HASH_COOKIE &&
          strcmp(cfg->clusters[0].hash_key, "sid") == 0);
    gw_config_free(cfg);
}

/* Each class of error, with the exact position and key path it must name. */
static void test_errors(void)
{
    /* the example from the issue: an out-of-range value deep in a list */
    CHECK(fails_with("listeners: [{name: a, address: 127.0.0.1:80}]\n"
                     "routes: [{cluster: api}]\n"
                     "clusters:\n"
                     "  - name: api\n"
                     "    endpoints:\n"
                     "      - 127.0.0.1:9001\n"
                     "      - address: 127.0.0.1:9002\n"
                     "        weight: 0\n",
                     "gw.yaml:8:17: clusters[0].endpoints[1].weight: must be between 1 and 1000, got 0",
                     NULL));
    /* unknown keys, with a suggestion for a typo and the list otherwise */
    CHECK(fails_with(MINIMAL "    retyr: {}\n", "gw.yaml:9:5: routes[0]: unknown key 'retyr'",
                     "did you mean 'retry'?"));
    CHECK(fails_with("bogus: 1\n" MINIMAL, "gw.yaml:1:1: unknown key 'bogus'",
                     "expected one of: workers, admin"));
    CHECK(fails_with(MINIMAL "    match: { hots: a.com }\n", "gw.yaml:9:14: routes[0].match: unknown key 'hots'",
                     "did you mean 'host'?"));
    CHECK(fails_with("clusters: [{name: c, <<: {a: 1}}]\n", "gw.yaml:1:22: clusters[0]: unknown key '<<'; expected one of: name, lb", NULL));
    CHECK(fails_with("clusters: [{name: c, endpoints: [{address: 127.0.0.1:1, wieght: 3}]}]\n",
                     "gw.yaml:1:57: clusters[0].endpoints[0]: unknown key 'wieght'; did you mean 'weight'?", NULL));
    CHECK(fails_with("clusters: [{name: c, helth_check: {}}]\n",
                     "gw.yaml:1:22: clusters[0]: unknown key 'helth_check'; did you mean 'health_check'?", NULL));
    CHECK(fails_with(MINIMAL "    match: { 1: a }\n" /* a number is a plain key too */
                     , "gw.yaml:9:14: routes[0].match: unknown key '1'", NULL));
    CHECK(fails_with(MINIMAL "    match: { [a]: a }\n", "gw.yaml:9:14: routes[0].match: keys must be plain names, got a list", NULL));
    /* duplicates: keys, cluster names, listener names and addresses, endpoints, admin */
    CHECK(fails_with(MINIMAL "    cluster: api\n", "gw.yaml:9:5: routes[0]: duplicate key 'cluster' (first given at line 8)", NULL));
    CHECK(fails_with("clusters:\n  - {name: api, endpoints: [127.0.0.1:1]}\n"
                     "  - {name: api, endpoints: [127.0.0.1:1]}\n",
                     "gw.yaml:3:12: clusters[1].name: duplicate cluster name 'api'", NULL));
    CHECK(fails_with("listeners:\n  - {name: a, address: 127.0.0.1:80}\n  - {name: a, address: 127.0.0.1:81}\n"
                     "clusters: [{name: c, endpoints: [127.0.0.1:1]}]\nroutes: [{cluster: c}]\n",
                     "gw.yaml:3:12: listeners[1].name: duplicate listener name 'a'", NULL));
    CHECK(fails_with("listeners:\n  - {name: a, address: 127.0.0.1:80}\n  - {name: b, address: 127.0.0.1:80}\n"
                     "clusters: [{name: c, endpoints: [127.0.0.1:1]}]\nroutes: [{cluster: c}]\n",
                     "gw.yaml:3:24: listeners[1].address: listener 'a' already uses 127.0.0.1:80", NULL));
    CHECK(fails_with("admin: 127.0.0.1:8080\n" MINIMAL,
                     "gw.yaml:1:8: admin: listener 'public' already uses 127.0.0.1:8080", NULL));
    CHECK(fails_with("listeners: [{name: a, address: 127.0.0.1:80}]\nroutes: [{cluster: c}]\n"
                     "clusters: [{name: c, endpoints: [127.0.0.1:1, 127.0.0.1:2, 127.0.0.1:1]}]\n",
                     "gw.yaml:3:60: clusters[0].endpoints[2]: 127.0.0.1:1 is listed twice", NULL));
    /* references and required things */
    CHECK(fails_with(MINIMAL "  - cluster: apj\n",
                     "gw.yaml:9:14: routes[1].cluster: no cluster named 'apj' (defined: api)", NULL));
    CHECK(fails_with("listeners: [{name: a, address: 127.0.0.1:80}]\nroutes: [{cluster: c}]\n"
                     "clusters: [{name: c}]\n",
                     "gw.yaml:3:12: clusters[0]: missing required key 'endpoints'", NULL));
    CHECK(fails_with("listeners: [{name: a, address: 127.0.0.1:80}]\nroutes: [{cluster: c}]\n"
                     "clusters: [{name: c, endpoints: []}]\n",
                     "gw.yaml:3:33: clusters[0].endpoints: must list at least 1 endpoint", NULL));
    CHECK(fails_with("listeners: [{name: a, address: 127.0.0.1:80}]\nroutes: [{cluster: c}]\n",
                     "gw.yaml:2:20: routes[0].cluster: no cluster named 'c' (no clusters are defined)", NULL));
    CHECK(fails_with("listeners: [{name: a, address: 127.0.0.1:80}]\n"
                     "clusters: [{name: c, endpoints: [127.0.0.1:1]}]\n",
                     "gw.yaml:1:1: missing required key 'routes'", NULL));
    CHECK(fails_with("listeners: []\n", "gw.yaml:1:12: listeners: must list at least 1 listener", NULL));
    CHECK(fails_with(MINIMAL "  - match: {}\n", "gw.yaml:9:5: routes[1]: missing required key 'cluster'", NULL));
    /* policies */
    CHECK(fails_with(full, "gw.yaml:48:14: clusters[3].hash_on: only applies to lb: ring_hash or maglev (this cluster uses random)", NULL));
    CHECK(fails_with("clusters: [{name: c, lb: round-robin, endpoints: [127.0.0.1:1]}]\n",
                     "gw.yaml:1:26: clusters[0].lb: must be one of round_robin, least_request, random, ring_hash, maglev; got 'round-robin'", NULL));
    CHECK(fails_with("clusters: [{name: c, lb: maglev, hash_on: 'header:', endpoints: [127.0.0.1:1]}]\n",
                     "gw.yaml:1:43: clusters[0].hash_on: must be header:<name>, cookie:<name> or client_ip", NULL));
    CHECK(fails_with("clusters: [{name: c, health_check: {path: /x}, endpoints: [127.0.0.1:1]}]\n",
                     "gw.yaml:1:36: clusters[0].health_check: missing required key 'type'", NULL));
    CHECK(fails_with("clusters: [{name: c, health_check: {type: tcp, path: /x}, endpoints: [127.0.0.1:1]}]\n",
                     "gw.yaml:1:54: clusters[0].health_check.path: only applies to type: http", NULL));
    CHECK(fails_with("clusters: [{name: c, health_check: {type: http, expect: [200-99]}, endpoints: [127.0.0.1:1]}]\n",
                     "gw.yaml:1:58: clusters[0].health_check.expect[0]: must be a status 100-599 or a range like 200-399, got '200-99'", NULL));
    CHECK(fails_with("clusters: [{name: c, health_check: {type: http, expect: []}, endpoints: [127.0.0.1:1]}]\n",
                     "gw.yaml:1:57: clusters[0].health_check.expect: must list 1 to 8 statuses", NULL));
    CHECK(fails_with("clusters: [{name: c, health_check: {type: http, path: 'a b'}, endpoints: [127.0.0.1:1]}]\n",
                     "gw.yaml:1:55: clusters[0].health_check.path: must start with '/'", NULL));
    CHECK(fails_with("clusters: [{name: c, health_check: {type: http, host: \"a\\r\\nX: y\"}, endpoints: [127.0.0.1:1]}]\n",
                     "gw.yaml:1:55: clusters[0].health_check.host: must be at most 255 visible ASCII characters, got 'a??X: y'", NULL));
    CHECK(fails_with("clusters: [{name: c, outlier: {base_ejection: 1m, max_ejection: 10s}, endpoints: [127.0.0.1:1]}]\n",
                     "gw.yaml:1:65: clusters[0].outlier.max_ejection: max_ejection (10s) must not be less than base_ejection (1m)", NULL));
    CHECK(fails_with(MINIMAL "    retry: { on: [connect-failure, 200] }\n",
                     "gw.yaml:9:36: routes[0].retry.on[1]: must be connect-failure, reset or a status 400-599, got '200'", NULL));
    CHECK(fails_with(MINIMAL "    retry: { on: [503, 503] }\n",
                     "gw.yaml:9:24: routes[0].retry.on[1]: status 503 is listed twice", NULL));
    CHECK(fails_with(MINIMAL "    retry: { on: 503 }\n", "gw.yaml:9:18: routes[0].retry.on: must be a list", NULL));
    /* wrong types */
    CHECK(fails_with("workers: two\n", "gw.yaml:1:10: workers: must be an integer between 1 and 256, got 'two'", NULL));
    CHECK(fails_with("workers: '2'\n", "gw.yaml:1:10: workers: must be an integer", NULL));
    CHECK(fails_with("workers: [2]\n", "gw.yaml:1:10: workers: must be an integer, got a list", NULL));
    CHECK(fails_with("workers:\n", "gw.yaml:1:9: workers: must be an integer, got an empty value", NULL));
    CHECK(fails_with("listeners: {name: a}\n", "gw.yaml:1:12: listeners: must be a list (of listeners), got a mapping", NULL));
    CHECK(fails_with("listeners: [a]\n", "gw.yaml:1:13: listeners[0]: must be a mapping of keys to values, got a plain value", NULL));
    CHECK(fails_with("clusters: [{name: 'a b', endpoints: [127.0.0.1:1]}]\n",
                     "gw.yaml:1:19: clusters[0].name: must be 1-64 characters of A-Z a-z 0-9 _ . -, got 'a b'", NULL));
    CHECK(fails_with("access_log: \"a\\0b\"\n", "gw.yaml:1:13: access_log: must not contain NUL bytes", NULL));
    /* ranges, durations, sizes */
    CHECK(fails_with("workers: 0\n", "gw.yaml:1:10: workers: must be between 1 and 256, got 0", NULL));
    CHECK(fails_with("workers: 99999999999999999999\n", "gw.yaml:1:10: workers: must be an integer", NULL));
    CHECK(fails_with("drain_timeout: 10 s\n", "gw.yaml:1:16: drain_timeout: must be a duration like 500ms, 10s, 2m or 1h, got '10 s'", NULL));
    CHECK(fails_with("drain_timeout: 25h\n", "gw.yaml:1:16: drain_timeout: must be between 0ms and 24h, got '25h'", NULL));
    CHECK(fails_with("drain_timeout: -1s\n", "gw.yaml:1:16: drain_timeout: must be a duration", NULL));
    CHECK(fails_with("listeners: [{name: a, address: 127.0.0.1:80, max_header_size: 100}]\n",
                     "gw.yaml:1:63: listeners[0].max_header_size: must be between 1kb and 16mb, got '100'", NULL));
    CHECK(fails_with("listeners: [{name: a, address: 127.0.0.1:80, max_body_size: 1tb}]\n",
                     "gw.yaml:1:61: listeners[0].max_body_size: must be a size in bytes like 8192, 64kb or 1mb, got '1tb'", NULL));
    CHECK(fails_with("listeners: [{name: a, address: 127.0.0.1:80, max_header_size: 4kb, max_url_size: 8kb}]\n",
                     "gw.yaml:1:82: listeners[0].max_url_size: max_url_size (8kb) must not exceed max_header_size (4kb)", NULL));
    /* addresses: numeric only */
    CHECK(fails_with("admin: localhost:9901\n", "gw.yaml:1:8: admin: must be a numeric address with a port 1-65535",
                     "(host names are not resolved at load), got 'localhost:9901'"));
    CHECK(fails_with("admin: 127.0.0.1\n", "gw.yaml:1:8: admin: must be a numeric address", NULL));
    CHECK(fails_with("admin: 127.0.0.1:0\n", "gw.yaml:1:8: admin: must be a numeric address", NULL));
    CHECK(fails_with("admin: 127.0.0.1:65536\n", "gw.yaml:1:8: admin: must be a numeric address", NULL));
    CHECK(fails_with("admin: '::1:80'\n", "gw.yaml:1:8: admin: must be a numeric address", NULL));
    CHECK(fails_with("admin: 256.0.0.1:80\n", "gw.yaml:1:8: admin: must be a numeric address", NULL));
    CHECK(fails_with(MINIMAL "    match: { host: 'a.com:80' }\n", "gw.yaml:9:20: routes[0].match.host: must be a host name", NULL));
    CHECK(fails_with(MINIMAL "    match: { host: 'a.*.com' }\n", "gw.yaml:9:20: routes[0].match.host: must be a host name", NULL));
    CHECK(fails_with(MINIMAL "    match: { path_prefix: v1 }\n", "gw.yaml:9:27: routes[0].match.path_prefix: must start with '/'", NULL));
}

static void test_yaml_errors(void)
{
    CHECK(fails_with("", "gw.yaml:1:1: the file is empty", NULL));
    CHECK(fails_with("# only a comment\n\n", "gw.yaml:1:1: the file is empty", NULL));
    CHECK(fails_with("---\n", "gw.yaml:2:1: the top level must be a mapping", "got an empty value"));
    CHECK(fails_with("- a\n", "gw.yaml:1:1: the top level must be a mapping", "got a list"));
    CHECK(fails_with("workers: 1\n---\nworkers: 2\n", "gw.yaml:2:1: only one YAML document is allowed", NULL));
    CHECK(fails_with("workers: 1\n  admin: x\n", "gw.yaml:2:8: YAML syntax error: mapping values are not allowed in this context", NULL));
    CHECK(fails_with("listeners: [a\n", "gw.yaml:2:1: YAML syntax error: did not find expected ',' or ']'",
                     "(while parsing a flow sequence at line 1, column 12)"));
    CHECK(fails_with("workers: \"1\n", "gw.yaml:2:1: YAML syntax error: found unexpected end of stream",
                     "while scanning a quoted scalar at line 1, column 10"));
    CHECK(fails_with("workers: 1\n\tadmin: x\n", "gw.yaml:2:1: YAML syntax error", NULL));
    CHECK(fails_with("workers: 1\nadmin: \x01\n", "gw.yaml:2:8: invalid input: control characters are not allowed", NULL));
    CHECK(fails_with("workers: \xff\n", "gw.yaml:1:10: invalid input: invalid leading UTF-8 octet (byte 0xff)", NULL));
    CHECK(fails_with("workers: &w 2\nadmin: *w\n", "gw.yaml:2:8: aliases (*w) are not supported: write the value out", NULL));
}

/* A "billion laughs" alias bomb and a deeply nested document are refused at
 * once, without expansion. */
static void test_bombs(void)
{
    buf b;
    buf_init(&b);
    buf_append_str(&b, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 30; i++)
        buf_printf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n",
                   i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
    buf_append(&b, "", 1);
    clock_t t0 = clock();
    CHECK(fails_with(b.data, "gw.yaml:2:10: aliases (*a0) are not supported", NULL));
    buf_reset(&b);
    CHECK(fails_with("a: &a [*a]\n", "gw.yaml:1:8: aliases (*a) are not supported", NULL));
    for (int i = 0; i < 10000; i++) buf_append_str(&b, "[");
    buf_append(&b, "", 1);
    CHECK(fails_with(b.data, "gw.yaml:1:33: nested too deeply", NULL));
    buf_reset(&b);
    buf_append_str(&b, "workers: [");
    for (int i = 0; i < 250000; i++) buf_append_str(&b, "1,");
    buf_append(&b, "1]\n", 4);
    CHECK(fails_with(b.data, "gw.yaml:1:", "too many values"));
    buf_reset(&b);
    buf_reserve(&b, 5 * 1024 * 1024);
    memset(b.data, ' ', 5 * 1024 * 1024);
    b.len = 5 * 1024 * 1024;
    buf_reset(&err);
    CHECK(gw_config_parse(b.data, b.len, "gw.yaml", &err) == NULL);
    CHECK(strstr(errtext(), "larger than 4 MiB") != NULL);
    CHECK((double)(clock() - t0) / CLOCKS_PER_SEC < 5.0);
    buf_free(&b);
}

static void test_route_match(void)
{
    gw_config *cfg = parse("listeners: [{name: a, address: 127.0.0.1:80}]\n"
                           "clusters: [{name: c, endpoints: [127.0.0.1:1]}]\n"
                           "routes:\n"
                           "  - {cluster: c, match: {host: api.example.com, path_prefix: /v1/}}\n"
                           "  - {cluster: c, match: {host: '*.Example.com'}}\n"
                           "  - {cluster: c, match: {host: '[::1]'}}\n"
                           "  - {cluster: c, match: {path_prefix: /static}}\n"
                           "  - {cluster: c, match: {host: exact.org}}\n");
    CHECK(cfg != NULL);
    if (!cfg) return;
#define M(h, p) gw_config_match_route(cfg, h, strlen(h), p, strlen(p))
    CHECK_EQ_INT(M("api.example.com", "/v1/users"), 0);
    CHECK_EQ_INT(M("API.EXAMPLE.COM:8443", "/v1/"), 0);
    CHECK_EQ_INT(M("api.example.com.", "/v1/x"), 0);      /* trailing dot */
    CHECK_EQ_INT(M("api.example.com", "/v1"), 1);         /* prefix is bytes: "/v1" < "/v1/" */
    CHECK_EQ_INT(M("api.example.com", "/V1/x"), 1);       /* and case-sensitive */
    CHECK_EQ_INT(M("www.example.com", "/"), 1);
    CHECK_EQ_INT(M("a.b.example.com:80", "/"), 1);
    CHECK_EQ_INT(M("example.com", "/static/x"), 3);       /* the apex is not a subdomain */
    CHECK_EQ_INT(M("xexample.com", "/static"), 3);
    CHECK_EQ_INT(M("[::1]:8080", "/"), 2);
    CHECK_EQ_INT(M("[::1]", "/"), 2);
    CHECK_EQ_INT(gw_config_match_route(cfg, NULL, 0, "/static/a.css", 13), 3); /* no Host */
    CHECK_EQ_INT(gw_config_match_route(cfg, NULL, 0, "/", 1), -1); /* only host-less routes */
    CHECK_EQ_INT(M("Exact.ORG", "/anything"), 4);
    CHECK_EQ_INT(M("exact.org.evil", "/"), -1);
    CHECK_EQ_INT(M("", "/"), -1);
    CHECK_EQ_INT(gw_config_match_route(cfg, "api.example.com", 3, "/", 1), -1); /* "api" */
    CHECK_EQ_INT(gw_config_match_route(cfg, "x.example.com", 13, NULL, 0), -1);
#undef M
    gw_config_free(cfg);

    cfg = parse(MINIMAL);
    CHECK(cfg && gw_config_match_route(cfg, NULL, 0, "/", 1) == 0);
    CHECK(cfg && gw_config_match_route(cfg, "anything", 8, "/x", 2) == 0);
    CHECK(cfg && gw_config_match_route(cfg, "anything", 8, "*", 1) == -1); /* OPTIONS * */
    gw_config_free(cfg);
}

static void test_units(void)
{
    int64_t v;
    CHECK(gw_parse_duration_ms("10s", &v) && v == 10000);
    CHECK(gw_parse_duration_ms("500ms", &v) && v == 500);
    CHECK(gw_parse_duration_ms("2m", &v) && v == 120000);
    CHECK(gw_parse_duration_ms("1h", &v) && v == 3600000);
    CHECK(gw_parse_duration_ms("1H", &v) && v == 3600000);
    CHECK(gw_parse_duration_ms("250", &v) && v == 250);
    CHECK(gw_parse_duration_ms("0", &v) && v == 0);
    CHECK(!gw_parse_duration_ms("", &v));
    CHECK(!gw_parse_duration_ms("s", &v));
    CHECK(!gw_parse_duration_ms("1.5s", &v));
    CHECK(!gw_parse_duration_ms("-1s", &v));
    CHECK(!gw_parse_duration_ms("+1s", &v));
    CHECK(!gw_parse_duration_ms("01s", &v));
    CHECK(!gw_parse_duration_ms("10 s", &v));
    CHECK(!gw_parse_duration_ms("10d", &v));
    CHECK(!gw_parse_duration_ms("10sec", &v));
    CHECK(!gw_parse_duration_ms("9223372036854775807h", &v));
    CHECK(!gw_parse_duration_ms("99999999999999999999", &v));
    CHECK(!gw_parse_duration_ms(NULL, &v));

    gw_config *cfg = parse("listeners:\n"
                           "  - {name: a, address: 127.0.0.1:1, max_header_size: 2kb, max_url_size: 1k, max_body_size: 3mb}\n"
                           "  - {name: b, address: 127.0.0.1:2, max_header_size: 1MB, max_url_size: 100b, max_body_size: 2g}\n"
                           "  - {name: c, address: 127.0.0.1:3, max_header_size: 1m, max_url_size: 512, max_body_size: 1GB}\n"
                           "clusters: [{name: c, endpoints: [127.0.0.1:1]}]\nroutes: [{cluster: c}]\n");
    CHECK(cfg != NULL);
    if (!cfg) {
        fprintf(stderr, "error: %s\n", errtext());
        return;
    }
    gw_listener_cfg *l = cfg->listeners;
    CHECK(l[0].max_header_bytes == 2048 && l[0].max_url_bytes == 1000 && l[0].max_body_bytes == 3145728);
    CHECK(l[1].max_header_bytes == 1048576 && l[1].max_url_bytes == 100 && l[1].max_body_bytes == 2000000000);
    CHECK(l[2].max_header_bytes == 1000000 && l[2].max_url_bytes == 512 && l[2].max_body_bytes == 1073741824);
    gw_config_free(cfg);
}

/* The shipped example must load; its path is derived from this file's. */
static void test_example_file(void)
{
    char path[4096];
    const char *me = __FILE__; /* .../tests/unit/test_gw_config.c */
    const char *cut = strstr(me, "tests/unit/test_gw_config.c");
    CHECK(cut != NULL);
    if (!cut) return;
    snprintf(path, sizeof(path), "%.*sexamples/gw.yaml", (int)(cut - me), me);
    buf_reset(&err);
    gw_config *cfg = gw_config_load(path, &err);
    if (!cfg) fprintf(stderr, "loading %s: %s\n", path, errtext());
    CHECK(cfg != NULL);
    if (!cfg) return;
    CHECK(strcmp(cfg->source, path) == 0);
    CHECK(strcmp(cfg->admin_address, "127.0.0.1:9901") == 0);
    CHECK_EQ_INT(cfg->nclusters, 1);
    CHECK_EQ_INT(cfg->clusters[0].nendpoints, 2);
    CHECK(strcmp(cfg->clusters[0].endpoints[0].address, "127.0.0.1:9001") == 0);
    CHECK(strcmp(cfg->clusters[0].endpoints[1].address, "127.0.0.1:9002") == 0);
    CHECK_EQ_INT(cfg->clusters[0].health.type, HC_HTTP);
    CHECK(strcmp(cfg->clusters[0].health.path, "/healthz") == 0);
    CHECK_EQ_INT(gw_config_match_route(cfg, "localhost", 9, "/api/x", 6), 0);
    CHECK_EQ_INT(gw_config_match_route(cfg, "localhost", 9, "/", 1), 1);
    gw_config_free(cfg);
}

static void test_load_errors(void)
{
    buf_reset(&err);
    CHECK(gw_config_load("/nonexistent/gw.yaml", &err) == NULL);
    CHECK(strcmp(errtext(), "/nonexistent/gw.yaml: cannot open: No such file or directory") == 0);

    char tmpl[] = "/tmp/test_gw_config_XXXXXX";
    int fd = mkstemp(tmpl);
    CHECK(fd >= 0);
    if (fd < 0) return;
    const char *text = "workers: 1\nworkers: 2\n";
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    buf_reset(&err);
    CHECK(gw_config_load(tmpl, &err) == NULL);
    char want[128];
    snprintf(want, sizeof(want), "%s:2:1: duplicate key 'workers'", tmpl);
    CHECK(strncmp(errtext(), want, strlen(want)) == 0);
    unlink(tmpl);
}

int main(void)
{
    buf_init(&err);
    RUN(test_defaults);
    RUN(test_every_key);
    RUN(test_errors);
    RUN(test_yaml_errors);
    RUN(test_bombs);
    RUN(test_route_match);
    RUN(test_units);
    RUN(test_example_file);
    RUN(test_load_errors);
    buf_free(&err);
    return TEST_REPORT();
}
