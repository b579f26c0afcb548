/* test_gw_metrics.c — gateway metrics and status from hand-made counters (exposition format and
 * JSON checked by small validators), the JSON escaper, and the admin listener over real sockets. */
#include "test.h"
#include "common/buf.h"
#include "common/limits.h"
#include "common/mem.h"
#include "common/util.h"
#include "gw/admin.h"
#include "gw/gw_config.h"
#include "gw/gw_metrics.h"
#include "metrics/admin_http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

/* ---- a Prometheus text-format (0.0.4) validator ---- */

#define MAX_FAMILIES 256

typedef struct fam {
    char name[128];
    char type[16];
} fam;

static bool name_char(char c, bool first)
{
    return isalpha((unsigned char)c) || c == '_' || c == ':' || (!first && isdigit((unsigned char)c));
}

/* Parse a label set "{a=\"x\",b=\"y\"}" at *p; advances past '}'. */
static bool parse_labels(const char **p)
{
    const char *s = *p + 1;
    while (*s != '}') {
        if (!name_char(*s, true) || *s == ':') return false;
        while (name_char(*s, false) && *s != ':') s++;
        if (*s++ != '=' || *s++ != '"') return false;
        while (*s != '"') {
            if (*s == '\n' || *s == '\0') return false;
            if (*s == '\\') {
                s++;
                if (*s != '\\' && *s != '"' && *s != 'n') return false;
            }
            s++;
        }
        s++;
        if (*s == ',') s++;
        else if (*s != '}') return false;
    }
    *p = s + 1;
    return true;
}

static bool parse_value(const char *s, const char *end)
{
    size_t n = (size_t)(end - s);
    if ((n == 4 && (!memcmp(s, "+Inf", 4) || !memcmp(s, "-Inf", 4))) || (n == 3 && !memcmp(s, "NaN", 3)))
        return true;
    char tmp[64];
    if (n == 0 || n >= sizeof(tmp)) return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *e;
    strtod(tmp, &e);
    return *e == '\0';
}

/* Whether the sample name belongs to the family declared last. */
static bool in_family(const fam *f, const char *name, size_t len)
{
    size_t fl = strlen(f->name);
    if (len == fl && !memcmp(name, f->name, fl)) return true;
    if (strcmp(f->type, "histogram") != 0 || len <= fl || memcmp(name, f->name, fl)) return false;
    const char *suffix = name + fl;
    size_t sl = len - fl;
    return (sl == 7 && !memcmp(suffix, "_bucket", 7)) || (sl == 4 && !memcmp(suffix, "_sum", 4)) ||
           (sl == 6 && !memcmp(suffix, "_count", 6));
}

/* Every line is a HELP, a TYPE or a sample of the family just declared; every
 * family is declared once (HELP then TYPE); the text ends with a newline. */
static bool valid_exposition(const char *t, size_t len, int *nfamilies)
{
    static fam fams[MAX_FAMILIES];
    int n = 0;
    if (len == 0 || t[len - 1] != '\n') return false;
    for (const char *line = t; line < t + len;) {
        const char *eol = memchr(line, '\n', (size_t)(t + len - line));
        char l[4096];
        size_t ll = (size_t)(eol - line);
        if (ll >= sizeof(l)) return false;
        memcpy(l, line, ll);
        l[ll] = '\0';
        line = eol + 1;
        if (!strncmp(l, "# HELP ", 7)) {
            if (n == MAX_FAMILIES) return false;
            const char *nm = l + 7, *sp = strchr(nm, ' ');
            if (!sp || (size_t)(sp - nm) >= sizeof(fams[n].name)) return false;
            for (int i = 0; i < n; i++)
                if (strlen(fams[i].name) == (size_t)(sp - nm) && !memcmp(fams[i].name, nm, (size_t)(sp - nm))) {
                    fprintf(stderr, "family declared twice: %s\n", l);
                    return false;
                }
            memcpy(fams[n].name, nm, (size_t)(sp - nm));
            fams[n].name[sp - nm] = '\0';
            fams[n].type[0] = '\0';
            n++;
        } else if (!strncmp(l, "# TYPE ", 7)) {
            char want[160];
            if (n == 0) return false;
            snprintf(want, sizeof(want), "# TYPE %s ", fams[n - 1].name);
            if (strncmp(l, want, strlen(want)) || fams[n - 1].type[0]) return false;
            const char *ty = l + strlen(want);
            if (strcmp(ty, "counter") && strcmp(ty, "gauge") && strcmp(ty, "histogram")) return false;
            snprintf(fams[n - 1].type, sizeof(fams[n - 1].type), "%s", ty);
        } else {
            const char *p = l;
            if (n == 0 || !fams[n - 1].type[0] || !name_char(*p, true)) return false;
            while (name_char(*p, false)) p++;
            if (!in_family(&fams[n - 1], l, (size_t)(p - l))) {
                fprintf(stderr, "sample outside its family: %s\n", l);
                return false;
            }
            if (*p == '{' && !parse_labels(&p)) {
                fprintf(stderr, "bad labels: %s\n", l);
                return false;
            }
            if (*p++ != ' ' || !parse_value(p, l + ll)) {
                fprintf(stderr, "bad value: %s\n", l);
                return false;
            }
        }
    }
    *nfamilies = n;
    return true;
}

/* The value of the sample line starting with prefix (name and labels), or NAN. */
static double sample(const buf *b, const char *prefix)
{
    size_t pl = strlen(prefix);
    for (const char *l = b->data; l && l < b->data + b->len;) {
        const char *eol = memchr(l, '\n', (size_t)(b->data + b->len - l));
        if (!eol) break;
        if ((size_t)(eol - l) > pl && !memcmp(l, prefix, pl) && l[pl] == ' ') return strtod(l + pl + 1, NULL);
        l = eol + 1;
    }
    return NAN;
}

/* ---- a JSON validator (RFC 8259, strict) ---- */

typedef struct jp {
    const char *s, *end;
    int depth;
} jp;

static void ws(jp *p)
{
    while (p->s < p->end && strchr(" \t\r\n", *p->s)) p->s++;
}

static bool lit(jp *p, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(p->end - p->s) < n || memcmp(p->s, w, n)) return false;
    p->s += n;
    return true;
}

static bool jstring(jp *p)
{
    if (p->s >= p->end || *p->s++ != '"') return false;
    while (p->s < p->end && *p->s != '"') {
        unsigned char c = (unsigned char)*p->s++;
        if (c < 0x20) return false;
        if (c != '\\') continue;
        if (p->s >= p->end) return false;
        c = (unsigned char)*p->s++;
        if (c == 'u') {
            for (int i = 0; i < 4; i++)
                if (p->s >= p->end || !isxdigit((unsigned char)*p->s++)) return false;
        } else if (!strchr("\"\\/bfnrt", c)) {
            return false;
        }
    }
    return p->s++ < p->end;
}

static bool jnumber(jp *p)
{
    const char *s = p->s;
    if (s < p->end && *s == '-') s++;
    if (s >= p->end || !isdigit((unsigned char)*s)) return false;
    if (*s == '0') s++;
    else while (s < p->end && isdigit((unsigned char)*s)) s++;
    if (s < p->end && *s == '.') {
        s++;
        if (s >= p->end || !isdigit((unsigned char)*s)) return false;
        while (s < p->end && isdigit((unsigned char)*s)) s++;
    }
    p->s = s;
    return true;
}

static bool jvalue(jp *p);

static bool jcontainer(jp *p, char close, bool object)
{
    p->s++;
    if (++p->depth > 64) return false;
    ws(p);
    if (p->s < p->end && *p->s == close) {
        p->s++;
        p->depth--;
        return true;
    }
    for (;;) {
        ws(p);
        if (object) {
            if (!jstring(p)) return false;
            ws(p);
            if (p->s >= p->end || *p->s++ != ':') return false;
        }
        if (!jvalue(p)) return false;
        ws(p);
        if (p->s >= p->end) return false;
        char c = *p->s++;
        if (c == close) break;
        if (c != ',') return false;
    }
    p->depth--;
    return true;
}

static bool jvalue(jp *p)
{
    ws(p);
    if (p->s >= p->end) return false;
    switch (*p->s) {
    case '{': return jcontainer(p, '}', true);
    case '[': return jcontainer(p, ']', false);
    case '"': return jstring(p);
    case 't': return lit(p, "true");
    case 'f': return lit(p, "false");
    case 'n': return lit(p, "null");
    default: return jnumber(p);
    }
}

/* Valid UTF-8 (RFC 3629: no overlongs, surrogates or code points past U+10FFFF). */
static bool valid_utf8(const unsigned char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        unsigned c = s[i], n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (n == 0 || i + n > len) return false;
        unsigned long cp = n == 1 ? c : c & (0x7f >> n);
        for (unsigned k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        static const unsigned long min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += n;
    }
    return true;
}

/* Valid UTF-8 throughout and one JSON value. */
static bool valid_json(const char *s, size_t len)
{
    if (!valid_utf8((const unsigned char *)s, len)) return false;
    jp p = {s, s + len, 0};
    if (!jvalue(&p)) return false;
    ws(&p);
    return p.s == p.end;
}

/* ---- fixtures ---- */

#define CONFIG                                                                           \
    "listeners:\n"                                                                       \
    "  - name: public\n"                                                                 \
    "    address: 127.0.0.1:8080\n"                                                      \
    "clusters:\n"                                                                        \
    "  - name: api\n"                                                                    \
    "    endpoints: [127.0.0.1:9001, 127.0.0.1:9002]\n"                                  \
    "  - name: static\n"                                                                 \
    "    endpoints: [127.0.0.1:9101]\n"                                                  \
    "routes:\n"                                                                          \
    "  - match: { path_prefix: /api }\n"                                                 \
    "    cluster: api\n"                                                                 \
    "  - cluster: static\n"

#define NW 2

typedef struct world {
    gw_config *cfg;
    gw_worker_stats ws[NW];
    gw_worker_stats *wp[NW];
    gw_route_stats *rs;              /* [w * nroutes + r] */
    gw_endpoint_stats *es[2];        /* [c][w * nep + e] */
    gw_metrics_health health[2][2];  /* [c][e] */
    gw_metrics_src src;
} world;

static void world_health(const void *hctx, int c, int e, gw_metrics_health *out)
{
    const world *w = hctx;
    *out = w->health[c][e];
}

static bool world_init(world *w)
{
    buf err;
    buf_init(&err);
    memset(w, 0, sizeof(*w));
    w->cfg = gw_config_parse(CONFIG, strlen(CONFIG), "gw.yaml", &err);
    if (!w->cfg) fprintf(stderr, "config: %.*s\n", (int)err.len, err.data);
    buf_free(&err);
    if (!w->cfg) return false;
    w->rs = hcalloc(NW * 2, sizeof(gw_route_stats));
    w->es[0] = hcalloc(NW * 2, sizeof(gw_endpoint_stats));
    w->es[1] = hcalloc(NW * 1, sizeof(gw_endpoint_stats));
    for (int i = 0; i < NW; i++) w->wp[i] = &w->ws[i];
    for (int c = 0; c < 2; c++)
        for (int e = 0; e < 2; e++) w->health[c][e].active_ok = true;
    w->src.cfg = w->cfg;
    w->src.nworkers = NW;
    w->src.workers = w->wp;
    w->src.route_stats = w->rs;
    w->src.ep_stats = w->es;
    w->src.health = world_health;
    w->src.hctx = w;
    w->src.proc.uptime_ms = 12500;
    w->src.proc.now_ms = 1000000;
    w->src.proc.wall_ms = 1700000000000;
    w->src.proc.reloads_ok = 3;
    w->src.proc.reloads_failed = 1;
    return true;
}

static void world_free(world *w)
{
    hfree(w->rs);
    hfree(w->es[0]);
    hfree(w->es[1]);
    gw_config_free(w->cfg);
}

/* Traffic: worker 0 and 1 both served; route 0 (api) saw latencies. */
static void world_traffic(world *w)
{
    for (int i = 0; i < NW; i++) {
        gw_worker_stats *s = &w->ws[i];
        gw_count(&s->conns_accepted, 10);
        gw_gauge(&s->conns_active, 3);
        gw_gauge(&s->conns_active, -1); /* a gauge goes down too */
        gw_count(&s->requests, 100);
        gw_count(&s->responses[2], 90);
        gw_count(&s->responses[5], 7);
        gw_count(&s->responses[0], 3);
        gw_count(&s->errors[GW_ERR_UNAVAILABLE], 4);
        gw_count(&s->errors[GW_ERR_HEAD_TOO_LARGE], 1);
        gw_count(&s->upstream_failures[GW_UPFAIL_CONNECT], 2);
        gw_count(&s->retries, 5);
        gw_gauge(&s->upstream_active, 1);
        gw_count(&s->ejections, 1);
    }
    gw_route_stats *api0 = &w->rs[0 * 2 + 0], *api1 = &w->rs[1 * 2 + 0];
    gw_count(&api0->requests, 60);
    gw_count(&api1->requests, 40);
    gw_count(&api0->responses[2], 55);
    gw_count(&api0->latency[0], 10);                  /* <= 1 ms */
    gw_count(&api1->latency[0], 5);
    gw_count(&api0->latency[3], 20);                  /* <= 10 ms */
    gw_count(&api1->latency[GW_LATENCY_BUCKETS], 2);  /* > 10 s */
    gw_count(&api0->latency_sum_us, 1500000);
    gw_count(&api1->latency_sum_us, 25000000);
    gw_count(&w->es[0][0 * 2 + 1].requests, 30);      /* worker 0, endpoint 9002 */
    gw_count(&w->es[0][1 * 2 + 1].requests, 12);      /* worker 1, endpoint 9002 */
    gw_count(&w->es[0][1 * 2 + 1].responses[5], 2);
    gw_gauge(&w->es[0][0 * 2 + 1].active, 2);
    gw_count(&w->es[1][1].failures, 4);               /* worker 1, static's one endpoint */
    gw_count(&w->es[0][0 * 2 + 0].head_latency[0], 3); /* worker 0, endpoint 9001: <= 1 ms */
    gw_count(&w->es[0][1 * 2 + 1].head_latency[4], 2); /* worker 1, endpoint 9002: <= 25 ms */
    gw_count(&w->es[0][0 * 2 + 0].head_latency_sum_us, 1500);
    gw_count(&w->es[0][1 * 2 + 1].head_latency_sum_us, 30000);
}

/* ---- tests ---- */

static void test_json_str(void)
{
    struct {
        const char *in;
        size_t len;
        const char *out;
    } cases[] = {
        {"plain", 5, "\"plain\""},
        {"a\"b\\c", 5, "\"a\\\"b\\\\c\""},
        {"\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\""},
        {"\x01\x1f\x7f", 3, "\"\\u0001\\u001f\\u007f\""},
        {"<script>&", 9, "\"\\u003cscript\\u003e\\u0026\""},
        {"nul\0in", 6, "\"nul\\u0000in\""},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""},
        {"\xe2\x80\xa8\xe2\x80\xa9", 6, "\"\\u2028\\u2029\""},
        {"\xff", 1, "\"\\ufffd\""},                          /* never a UTF-8 byte */
        {"\xc0\xaf", 2, "\"\\ufffd\\ufffd\""},               /* overlong '/' */
        {"\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""},    /* surrogate */
        {"\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\""}, /* > U+10FFFF */
        {"ok\xe2\x82", 4, "\"ok\\ufffd\\ufffd\""},           /* truncated sequence */
        {"\x80x", 2, "\"\\ufffdx\""},                         /* stray continuation */
        {"", 0, "\"\""},
    };
    buf b;
    buf_init(&b);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        buf_reset(&b);
        gw_json_str(&b, cases[i].in, cases[i].len);
        bool ok = b.len == strlen(cases[i].out) && !memcmp(b.data, cases[i].out, b.len);
        if (!ok) fprintf(stderr, "case %zu: got %.*s\n", i, (int)b.len, b.data);
        CHECK(ok);
    }
    /* Random bytes always come out as valid UTF-8 and valid JSON. */
    for (int i = 0; i < 2000; i++) {
        char in[64];
        size_t n = rand_u64() % sizeof(in);
        for (size_t k = 0; k < n; k++) in[k] = (char)rand_u64();
        buf_reset(&b);
        gw_json_str(&b, in, n);
        CHECK(valid_json(b.data, b.len));
    }
    buf_free(&b);
}

static void test_metrics_idle(void)
{
    world w;
    if (!world_init(&w)) { CHECK(!"world"); return; }
    buf b;
    buf_init(&b);
    gw_metrics_render(&w.src, &b);
    int nf = 0;
    CHECK(valid_exposition(b.data, b.len, &nf));
    CHECK(nf >= 40);
    CHECK_EQ_INT(sample(&b, "halo_gw_downstream_requests_total"), 0);
    CHECK_EQ_INT(sample(&b, "halo_gw_workers"), NW);
    CHECK(sample(&b, "halo_gw_uptime_seconds") == 12.5);
    CHECK_EQ_INT(sample(&b, "halo_gw_config_reloads_total{result=\"ok\"}"), 3);
    CHECK_EQ_INT(sample(&b, "halo_gw_config_reloads_total{result=\"failed\"}"), 1);
    CHECK_EQ_INT(sample(&b, "halo_gw_endpoint_up{cluster=\"api\",endpoint=\"127.0.0.1:9001\"}"), 1);
    CHECK_EQ_INT(sample(&b, "halo_gw_cluster_panic{cluster=\"api\"}"), 0);
    /* No worker stats, no route/endpoint arrays: still valid, zeros. */
    w.src.workers = NULL;
    w.src.route_stats = NULL;
    w.src.ep_stats = NULL;
    w.src.health = NULL;
    buf_reset(&b);
    gw_metrics_render(&w.src, &b);
    CHECK(valid_exposition(b.data, b.len, &nf));
    CHECK(isnan(sample(&b, "halo_gw_route_requests_total{route=\"0\",host=\"*\",path_prefix=\"/api\",cluster=\"api\"}")));
    buf_free(&b);
    world_free(&w);
}

static void test_metrics_traffic(void)
{
    world w;
    if (!world_init(&w)) { CHECK(!"world"); return; }
    world_traffic(&w);
    buf b;
    buf_init(&b);
    gw_metrics_render(&w.src, &b);
    int nf = 0;
    CHECK(valid_exposition(b.data, b.len, &nf));
    /* Sums over workers. */
    CHECK_EQ_INT(sample(&b, "halo_gw_downstream_connections_accepted_total"), 20);
    CHECK_EQ_INT(sample(&b, "halo_gw_downstream_connections_active"), 4);
    CHECK_EQ_INT(sample(&b, "halo_gw_worker_connections_active{worker=\"1\"}"), 2);
    CHECK_EQ_INT(sample(&b, "halo_gw_downstream_requests_total"), 200);
    CHECK_EQ_INT(sample(&b, "halo_gw_downstream_responses_total{class=\"2xx\"}"), 180);
    CHECK_EQ_INT(sample(&b, "halo_gw_downstream_responses_total{class=\"5xx\"}"), 14);
    CHECK_EQ_INT(sample(&b, "halo_gw_downstream_responses_total{class=\"none\"}"), 6);
    CHECK_EQ_INT(sample(&b, "halo_gw_gateway_responses_total{kind=\"no_healthy_upstream\",status=\"503\"}"), 8);
    CHECK_EQ_INT(sample(&b, "halo_gw_gateway_responses_total{kind=\"header_too_large\",status=\"431\"}"), 2);
    CHECK_EQ_INT(sample(&b, "halo_gw_gateway_responses_total{kind=\"bad_gateway\",status=\"502\"}"), 0);
    CHECK_EQ_INT(sample(&b, "halo_gw_upstream_failures_total{reason=\"connect_failure\"}"), 4);
    CHECK_EQ_INT(sample(&b, "halo_gw_retries_total"), 10);
    CHECK_EQ_INT(sample(&b, "halo_gw_ejections_total"), 2);
    CHECK_EQ_INT(sample(&b, "halo_gw_upstream_connections_active"), 2);
    /* Per route, with its histogram: cumulative buckets in seconds. */
    const char *r0 = "route=\"0\",host=\"*\",path_prefix=\"/api\",cluster=\"api\"";
    char name[256];
#define R0(fmt) (snprintf(name, sizeof(name), fmt, r0), name)
    CHECK_EQ_INT(sample(&b, R0("halo_gw_route_requests_total{%s}")), 100);
    CHECK_EQ_INT(sample(&b, R0("halo_gw_route_responses_total{%s,class=\"2xx\"}")), 55);
    CHECK_EQ_INT(sample(&b, R0("halo_gw_route_request_duration_seconds_bucket{%s,le=\"0.001\"}")), 15);
    CHECK_EQ_INT(sample(&b, R0("halo_gw_route_request_duration_seconds_bucket{%s,le=\"0.005\"}")), 15);
    CHECK_EQ_INT(sample(&b, R0("halo_gw_route_request_duration_seconds_bucket{%s,le=\"0.01\"}")), 35);
    CHECK_EQ_INT(sample(&b, R0("halo_gw_route_request_duration_seconds_bucket{%s,le=\"10\"}")), 35);
    CHECK_EQ_INT(sample(&b, R0("halo_gw_route_request_duration_seconds_bucket{%s,le=\"+Inf\"}")), 37);
    CHECK_EQ_INT(sample(&b, R0("halo_gw_route_request_duration_seconds_count{%s}")), 37);
    CHECK(sample(&b, R0("halo_gw_route_request_duration_seconds_sum{%s}")) == 26.5);
#undef R0
    CHECK_EQ_INT(sample(&b, "halo_gw_route_requests_total{route=\"1\",host=\"*\",path_prefix=\"/\",cluster=\"static\"}"), 0);
    /* Per endpoint and cluster. */
    const char *e2 = "{cluster=\"api\",endpoint=\"127.0.0.1:9002\"}";
    snprintf(name, sizeof(name), "halo_gw_endpoint_requests_total%s", e2);
    CHECK_EQ_INT(sample(&b, name), 42);
    snprintf(name, sizeof(name), "halo_gw_endpoint_active_requests%s", e2);
    CHECK_EQ_INT(sample(&b, name), 2);
    CHECK_EQ_INT(sample(&b, "halo_gw_endpoint_responses_total{cluster=\"api\",endpoint=\"127.0.0.1:9002\",class=\"5xx\"}"), 2);
    CHECK_EQ_INT(sample(&b, "halo_gw_endpoint_failures_total{cluster=\"static\",endpoint=\"127.0.0.1:9101\"}"), 4);
    CHECK_EQ_INT(sample(&b, "halo_gw_cluster_requests_total{cluster=\"api\"}"), 42);
    CHECK_EQ_INT(sample(&b, "halo_gw_cluster_responses_total{cluster=\"api\",class=\"5xx\"}"), 2);
    /* Time to the response head: per endpoint, and per cluster summed. */
    CHECK_EQ_INT(sample(&b, "halo_gw_endpoint_response_head_duration_seconds_bucket{cluster=\"api\",endpoint=\"127.0.0.1:9002\",le=\"0.01\"}"), 0);
    CHECK_EQ_INT(sample(&b, "halo_gw_endpoint_response_head_duration_seconds_bucket{cluster=\"api\",endpoint=\"127.0.0.1:9002\",le=\"0.025\"}"), 2);
    CHECK_EQ_INT(sample(&b, "halo_gw_cluster_response_head_duration_seconds_bucket{cluster=\"api\",le=\"0.001\"}"), 3);
    CHECK_EQ_INT(sample(&b, "halo_gw_cluster_response_head_duration_seconds_count{cluster=\"api\"}"), 5);
    CHECK(sample(&b, "halo_gw_cluster_response_head_duration_seconds_sum{cluster=\"api\"}") == 0.0315);
    CHECK_EQ_INT(sample(&b, "halo_gw_cluster_response_head_duration_seconds_count{cluster=\"static\"}"), 0);
    buf_free(&b);
    world_free(&w);
}

static void test_health_states(void)
{
    world w;
    if (!world_init(&w)) { CHECK(!"world"); return; }
    w.health[0][0].active_ok = false;                  /* api 9001: failing active checks */
    w.health[0][1].ejected_until_ms = 1000000 + 7000;  /* api 9002: ejected 7 s more */
    w.health[0][1].ejections = 3;
    w.health[1][0].ejected_until_ms = 1000000 - 1;     /* static: ejection over */
    w.health[1][0].ejections = 1;
    buf b;
    buf_init(&b);
    gw_metrics_render(&w.src, &b);
    int nf;
    CHECK(valid_exposition(b.data, b.len, &nf));
    CHECK_EQ_INT(sample(&b, "halo_gw_endpoint_healthy{cluster=\"api\",endpoint=\"127.0.0.1:9001\"}"), 0);
    CHECK_EQ_INT(sample(&b, "halo_gw_endpoint_up{cluster=\"api\",endpoint=\"127.0.0.1:9001\"}"), 0);
    CHECK_EQ_INT(sample(&b, "halo_gw_endpoint_healthy{cluster=\"api\",endpoint=\"127.0.0.1:9002\"}"), 1);
    CHECK_EQ_INT(sample(&b, "halo_gw_endpoint_ejected{cluster=\"api\",endpoint=\"127.0.0.1:9002\"}"), 1);
    CHECK_EQ_INT(sample(&b, "halo_gw_endpoint_ejections_total{cluster=\"api\",endpoint=\"127.0.0.1:9002\"}"), 3);
    CHECK_EQ_INT(sample(&b, "halo_gw_endpoint_ejected{cluster=\"static\",endpoint=\"127.0.0.1:9101\"}"), 0);
    CHECK_EQ_INT(sample(&b, "halo_gw_endpoint_up{cluster=\"static\",endpoint=\"127.0.0.1:9101\"}"), 1);
    CHECK_EQ_INT(sample(&b, "halo_gw_cluster_endpoints_up{cluster=\"api\"}"), 0);
    CHECK_EQ_INT(sample(&b, "halo_gw_cluster_panic{cluster=\"api\"}"), 1);
    CHECK_EQ_INT(sample(&b, "halo_gw_cluster_panic{cluster=\"static\"}"), 0);

    buf_reset(&b);
    gw_status_render(&w.src, &b);
    CHECK(valid_json(b.data, b.len));
    buf_append(&b, "", 1); /* NUL for strstr */
    CHECK(strstr(b.data, "\"address\":\"127.0.0.1:9002\",\"weight\":1,\"healthy\":true,"
                         "\"ejected\":true,\"ejected_until_ms\":1700000007000,"
                         "\"ejected_remaining_ms\":7000,\"ejections\":3,\"up\":false") != NULL);
    CHECK(strstr(b.data, "\"endpoints_total\":2,\"endpoints_up\":0,\"panic\":true") != NULL);
    buf_free(&b);
    world_free(&w);
}

static void test_status(void)
{
    world w;
    if (!world_init(&w)) { CHECK(!"world"); return; }
    world_traffic(&w);
    buf b;
    buf_init(&b);
    gw_status_render(&w.src, &b);
    CHECK(valid_json(b.data, b.len));
    CHECK(b.len && b.data[b.len - 1] == '\n');
    buf_append(&b, "", 1);
    CHECK(strstr(b.data, "\"workers\":2,\"draining\":false,\"config\":\"gw.yaml\","
                         "\"reloads_ok\":3,\"reloads_failed\":1") != NULL);
    CHECK(strstr(b.data, "{\"name\":\"api\",\"lb\":\"round_robin\",\"endpoints_total\":2,"
                         "\"endpoints_up\":2,\"panic\":false,\"endpoints\":[") != NULL);
    CHECK(strstr(b.data, "\"active_requests\":2,\"requests\":42,\"failures\":0,"
                         "\"responses\":{\"1xx\":0,\"2xx\":0,\"3xx\":0,\"4xx\":0,\"5xx\":2}") != NULL);
    CHECK(strstr(b.data, "{\"index\":1,\"host\":null,\"path_prefix\":\"/\",\"cluster\":\"static\","
                         "\"requests\":0,\"retries\":0}") != NULL);
    /* Names are never trusted: whatever bytes they hold, the output stays valid. */
    hfree(w.cfg->clusters[0].name);
    w.cfg->clusters[0].name = hstrdup("evil\"},{\\\n</script>\xff\x01");
    hfree(w.cfg->clusters[1].endpoints[0].address);
    w.cfg->clusters[1].endpoints[0].address = hstrdup("\"}]\n# TYPE x counter\nx 1");
    buf_reset(&b);
    gw_status_render(&w.src, &b);
    CHECK(valid_json(b.data, b.len));
    buf_reset(&b);
    gw_metrics_render(&w.src, &b);
    int nf;
    CHECK(valid_exposition(b.data, b.len, &nf));
    buf_free(&b);
    world_free(&w);
}

/* ---- the admin listener, over real sockets ---- */

typedef struct admin_fx {
    uv_loop_t loop;
    uv_thread_t thread;
    uv_async_t stop;
    gw_admin *a;
    int port;
    atomic_int reloads, drains;
    atomic_bool reload_fails, draining;
} admin_fx;

static void fx_metrics(void *ctx, buf *out) { buf_append_str(out, "# HELP t_x x\n# TYPE t_x gauge\nt_x 1\n"); }
static void fx_status(void *ctx, buf *out) { buf_append_str(out, "{\"ok\":true}\n"); }

static int fx_reload(void *ctx, buf *err)
{
    admin_fx *f = ctx;
    atomic_fetch_add(&f->reloads, 1);
    if (!atomic_load(&f->reload_fails)) return 0;
    buf_printf(err, "gw.yaml:3:5: clusters[0].name: must be 1-64 characters");
    return -1;
}

static void fx_drain(void *ctx)
{
    admin_fx *f = ctx;
    atomic_fetch_add(&f->drains, 1);
    atomic_store(&f->draining, true);
}

static bool fx_draining(void *ctx) { return atomic_load(&((admin_fx *)ctx)->draining); }

static void fx_on_stop(uv_async_t *a)
{
    admin_fx *f = a->data;
    gw_admin_stop(f->a);
    uv_close((uv_handle_t *)a, NULL);
}

static void fx_run(void *arg) { uv_run(&((admin_fx *)arg)->loop, UV_RUN_DEFAULT); }

static bool fx_start(admin_fx *f)
{
    static const gw_admin_ops ops = {fx_metrics, fx_status, fx_reload, fx_drain, fx_draining};
    memset(f, 0, sizeof(*f));
    uv_loop_init(&f->loop);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    buf err;
    buf_init(&err);
    f->a = gw_admin_start(&f->loop, (struct sockaddr *)&a, &ops, f, &err);
    buf_free(&err);
    if (!f->a) return false;
    struct sockaddr_in got;
    socklen_t l = sizeof(got);
    getsockname(gw_admin_fd(f->a), (struct sockaddr *)&got, &l);
    f->port = ntohs(got.sin_port);
    uv_async_init(&f->loop, &f->stop, fx_on_stop);
    f->stop.data = f;
    uv_thread_create(&f->thread, fx_run, f);
    return true;
}

static void fx_stop(admin_fx *f)
{
    uv_async_send(&f->stop);
    uv_thread_join(&f->thread);
    CHECK_EQ_INT(uv_loop_close(&f->loop), 0);
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Send req, read until the server closes; returns the status (0 if none). */
static int http(admin_fx *f, const char *req, size_t len, buf *resp)
{
    buf_reset(resp);
    int fd = connect_to(f->port);
    if (fd < 0) return 0;
    for (size_t off = 0; off < len;) {
        ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (n <= 0) break; /* the server may answer and close before all is sent */
        off += (size_t)n;
    }
    char tmp[4096];
    ssize_t n;
    while ((n = recv(fd, tmp, sizeof(tmp), 0)) > 0) buf_append(resp, tmp, (size_t)n);
    close(fd);
    buf_append(resp, "", 1);
    resp->len--;
    int status = 0;
    if (resp->len > 12 && !strncmp(resp->data, "HTTP/1.1 ", 9)) status = atoi(resp->data + 9);
    return status;
}

static int get(admin_fx *f, const char *method, const char *path, buf *resp)
{
    char req[512];
    int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: x\r\n\r\n", method, path);
    return http(f, req, (size_t)n, resp);
}

static const char *body_of(const buf *resp)
{
    const char *p = strstr(resp->data, "\r\n\r\n");
    return p ? p + 4 : "";
}

static void test_admin_routes(void)
{
    admin_fx f;
    if (!fx_start(&f)) { CHECK(!"admin start"); return; }
    buf r;
    buf_init(&r);
    CHECK_EQ_INT(get(&f, "GET", "/metrics", &r), 200);
    CHECK(strstr(r.data, "Content-Type: text/plain; version=0.0.4") != NULL);
    CHECK(strstr(r.data, "Connection: close\r\n") != NULL);
    CHECK(strstr(body_of(&r), "t_x 1\n") != NULL);
    CHECK(strstr(body_of(&r), "halo_gw_admin_requests_total 1\n") != NULL); /* this one */
    CHECK_EQ_INT(get(&f, "GET", "/metrics?name=x", &r), 200);
    CHECK(strstr(body_of(&r), "halo_gw_admin_requests_total 2\n") != NULL);
    CHECK_EQ_INT(get(&f, "HEAD", "/metrics", &r), 200);
    CHECK(strstr(r.data, "Content-Length: 0\r\n") == NULL && *body_of(&r) == '\0');
    CHECK_EQ_INT(get(&f, "GET", "/status", &r), 200);
    CHECK(strstr(r.data, "Content-Type: application/json") && !strcmp(body_of(&r), "{\"ok\":true}\n"));
    CHECK_EQ_INT(get(&f, "GET", "/healthz", &r), 200);
    CHECK(!strcmp(body_of(&r), "ok\n"));

    CHECK_EQ_INT(get(&f, "POST", "/reload", &r), 200);
    CHECK(!strcmp(body_of(&r), "reloaded\n"));
    atomic_store(&f.reload_fails, true);
    const char *post = "POST /reload HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
    CHECK_EQ_INT(http(&f, post, strlen(post), &r), 400);
    CHECK(!strcmp(body_of(&r), "gw.yaml:3:5: clusters[0].name: must be 1-64 characters\n"));
    CHECK_EQ_INT(atomic_load(&f.reloads), 2);

    CHECK_EQ_INT(get(&f, "GET", "/reload", &r), 405);
    CHECK(strstr(r.data, "Allow: POST\r\n") != NULL);
    CHECK_EQ_INT(get(&f, "DELETE", "/metrics", &r), 405);
    CHECK(strstr(r.data, "Allow: GET, HEAD\r\n") != NULL);
    CHECK_EQ_INT(get(&f, "GET", "/nope", &r), 404);
    CHECK_EQ_INT(get(&f, "POST", "/nope", &r), 404);

    CHECK_EQ_INT(get(&f, "POST", "/drain", &r), 202);
    CHECK_EQ_INT(atomic_load(&f.drains), 1);
    CHECK_EQ_INT(get(&f, "GET", "/healthz", &r), 503);
    CHECK(!strcmp(body_of(&r), "draining\n"));
    /* HTTP/1.0 is answered too. */
    const char *h10 = "GET /healthz HTTP/1.0\r\n\r\n";
    CHECK_EQ_INT(http(&f, h10, strlen(h10), &r), 503);
    buf_free(&r);
    fx_stop(&f);
}

static void test_admin_bad_requests(void)
{
    admin_fx f;
    if (!fx_start(&f)) { CHECK(!"admin start"); return; }
    buf r, req;
    buf_init(&r);
    buf_init(&req);
    CHECK_EQ_INT(http(&f, "HELLO\r\n\r\n", 9, &r), 400);
    const char *dup_cl = "GET /metrics HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
    CHECK_EQ_INT(http(&f, dup_cl, strlen(dup_cl), &r), 400);
    const char *nul = "GET /metrics HTTP/1.1\r\nX: a\0b\r\n\r\n";
    CHECK_EQ_INT(http(&f, nul, 33, &r), 400);
    /* A head over 8 KiB: 431; a body making the request over 8 KiB: 413. */
    buf_append_str(&req, "GET /metrics HTTP/1.1\r\nX-Big: ");
    for (int i = 0; i < HALO_MAX_HTTP_REQUEST; i++) buf_append(&req, "a", 1);
    buf_append_str(&req, "\r\n\r\n");
    CHECK_EQ_INT(http(&f, req.data, req.len, &r), 431);
    buf_reset(&req);
    buf_printf(&req, "POST /reload HTTP/1.1\r\nContent-Length: %d\r\n\r\n", HALO_MAX_HTTP_REQUEST);
    for (int i = 0; i < HALO_MAX_HTTP_REQUEST; i++) buf_append(&req, "b", 1);
    CHECK_EQ_INT(http(&f, req.data, req.len, &r), 413);
    CHECK_EQ_INT(atomic_load(&f.reloads), 0); /* never reached the owner */
    /* A head of exactly the limit is fine. */
    buf_reset(&req);
    buf_append_str(&req, "GET /healthz HTTP/1.1\r\nX: ");
    while (req.len < HALO_MAX_HTTP_REQUEST - 4) buf_append(&req, "c", 1);
    buf_append_str(&req, "\r\n\r\n");
    CHECK_EQ_INT(req.len, HALO_MAX_HTTP_REQUEST);
    CHECK_EQ_INT(http(&f, req.data, req.len, &r), 200);
    /* A long URL: 414. */
    buf_reset(&req);
    buf_append_str(&req, "GET /metrics?");
    for (int i = 0; i < 300; i++) buf_append(&req, "q", 1);
    buf_append_str(&req, " HTTP/1.1\r\n\r\n");
    CHECK_EQ_INT(http(&f, req.data, req.len, &r), 414);
    /* Another major version: 505 (llhttp parses it, the admin refuses it). */
    const char *v2 = "GET /healthz HTTP/2.0\r\n\r\n";
    CHECK_EQ_INT(http(&f, v2, strlen(v2), &r), 505);
    CHECK_EQ_INT(get(&f, "HEAD", "/nope", &r), 404);
    CHECK(*body_of(&r) == '\0');
    /* Pipelined requests: one answer, then close. */
    const char *two = "GET /healthz HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\n\r\n";
    CHECK_EQ_INT(http(&f, two, strlen(two), &r), 200);
    CHECK(strstr(r.data + 10, "HTTP/1.1") == NULL);
    /* The counters saw it all. */
    CHECK_EQ_INT(get(&f, "GET", "/metrics", &r), 200);
    CHECK(strstr(body_of(&r), "halo_gw_admin_bad_requests_total 6\n") != NULL);
    buf_free(&req);
    buf_free(&r);
    fx_stop(&f);
}

static void test_admin_limits(void)
{
    admin_fx f;
    if (!fx_start(&f)) { CHECK(!"admin start"); return; }
    buf r;
    buf_init(&r);
    /* 64 idle connections fill the admin; the 65th is closed at once. */
    int idle[ADMIN_HTTP_MAX_CONNS];
    for (int i = 0; i < ADMIN_HTTP_MAX_CONNS; i++) idle[i] = connect_to(f.port);
    int extra = connect_to(f.port);
    char c;
    CHECK(extra >= 0 && recv(extra, &c, 1, 0) == 0);
    close(extra);
    for (int i = 0; i < ADMIN_HTTP_MAX_CONNS; i++) close(idle[i]);
    /* Until the admin has seen those closes, new connections are refused too:
     * each refusal is counted. */
    int status = 0, refused = 1;
    for (int tries = 0; tries < 100 && status != 200; tries++) {
        status = get(&f, "GET", "/metrics", &r);
        if (status != 200) refused++, usleep(20000);
    }
    CHECK_EQ_INT(status, 200);
    char want[96];
    snprintf(want, sizeof(want), "halo_gw_admin_rejected_connections_total %d\n", refused);
    CHECK(strstr(body_of(&r), want) != NULL);
    /* A client that starts a request and stalls is closed after the read timeout. */
    int slow = connect_to(f.port);
    CHECK(send(slow, "GET /met", 8, MSG_NOSIGNAL) == 8);
    int64_t t0 = mono_us();
    CHECK(recv(slow, &c, 1, 0) == 0);
    int64_t ms = (mono_us() - t0) / 1000;
    CHECK(ms >= ADMIN_HTTP_READ_TIMEOUT_MS - 500 && ms < ADMIN_HTTP_READ_TIMEOUT_MS + 3000);
    close(slow);
    /* Stopping with a connection open closes it cleanly (fx_stop checks the loop is empty). */
    int open_conn = connect_to(f.port);
    usleep(50000);
    fx_stop(&f);
    CHECK(recv(open_conn, &c, 1, 0) <= 0);
    close(open_conn);
    buf_free(&r);
}

static void test_admin_start_errors(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    buf err;
    buf_init(&err);
    /* Port in use. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof(a);
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(fd, 1) == 0);
    getsockname(fd, (struct sockaddr *)&a, &l);
    CHECK(gw_admin_start(&loop, (struct sockaddr *)&a, NULL, NULL, &err) == NULL);
    CHECK(err.len && strstr(err.data, "cannot listen on 127.0.0.1:") != NULL);
    /* An inherited listening socket is served (a hand-over). */
    gw_admin *ad = gw_admin_start_fd(&loop, fd, NULL, NULL, &err);
    CHECK(ad != NULL && gw_admin_fd(ad) == fd);
    gw_admin_stop(ad);
    gw_admin_stop(ad);
    gw_admin_stop(NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
    buf_free(&err);
}

int main(void)
{
    RUN(test_json_str);
    RUN(test_metrics_idle);
    RUN(test_metrics_traffic);
    RUN(test_health_states);
    RUN(test_status);
    RUN(test_admin_routes);
    RUN(test_admin_bad_requests);
    RUN(test_admin_limits);
    RUN(test_admin_start_errors);
    return TEST_REPORT();
}
