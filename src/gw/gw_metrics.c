/* gw_metrics.c — Prometheus exposition and JSON status of the gateway, summed over workers. */
#include "gw_metrics.h"
#include "health.h"
#include "worker.h"
#include "../common/mem.h"
#include "../common/version.h"
#include "../metrics/prom.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *const class_names[6] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};
static const char *const lb_names[] = {"round_robin", "least_request", "random", "ring_hash",
                                       "maglev"};

static const struct {
    const char *label;
    int status;
} err_kinds[GW_ERR_COUNT] = {
#define GW_ERR_ROW(name, st, lbl) {lbl, st},
    GW_ERR_MAP(GW_ERR_ROW)
#undef GW_ERR_ROW
};

static const char *const upfail_names[GW_UPFAIL_COUNT] = {
#define GW_UPFAIL_ROW(name, lbl) lbl,
    GW_UPFAIL_MAP(GW_UPFAIL_ROW)
#undef GW_UPFAIL_ROW
};

/* ---- sums over workers ---- */

/* The counter at byte offset off inside element i of an array of structs of
 * size sz. Offsets come from offsetof, so every read is of a gw_counter. */
static uint64_t read_at(void *base, size_t sz, size_t i, size_t off)
{
    return gw_read((gw_counter *)((char *)base + i * sz + off));
}

static uint64_t worker_sum(const gw_metrics_src *s, size_t off)
{
    uint64_t n = 0;
    for (int w = 0; w < s->nworkers; w++)
        if (s->workers && s->workers[w]) n += read_at(s->workers[w], 0, 0, off);
    return n;
}

static uint64_t route_sum(const gw_metrics_src *s, int r, size_t off)
{
    uint64_t n = 0;
    if (s->route_stats == NULL) return 0;
    for (int w = 0; w < s->nworkers; w++)
        n += read_at(s->route_stats, sizeof(gw_route_stats),
                     (size_t)w * (size_t)s->cfg->nroutes + (size_t)r, off);
    return n;
}

static uint64_t ep_sum(const gw_metrics_src *s, int c, int e, size_t off)
{
    uint64_t n = 0;
    if (s->ep_stats == NULL || s->ep_stats[c] == NULL) return 0;
    size_t nep = (size_t)s->cfg->clusters[c].nendpoints;
    for (int w = 0; w < s->nworkers; w++)
        n += read_at(s->ep_stats[c], sizeof(gw_endpoint_stats), (size_t)w * nep + (size_t)e, off);
    return n;
}

#define W_OFF(field) offsetof(gw_worker_stats, field)
#define R_OFF(field) offsetof(gw_route_stats, field)
#define E_OFF(field) offsetof(gw_endpoint_stats, field)
#define NTH(base, i) ((base) + (size_t)(i) * sizeof(gw_counter)) /* element i of a counter array */

static void get_health(const gw_metrics_src *s, int c, int e, gw_metrics_health *h)
{
    memset(h, 0, sizeof(*h));
    h->active_ok = true;
    if (s->health) s->health(s->hctx, c, e, h);
}

static bool is_ejected(const gw_metrics_src *s, const gw_metrics_health *h)
{
    return h->ejected_until_ms != 0 && h->ejected_until_ms > s->proc.now_ms;
}

/* ---- labels ---- */

/* b's bytes as a C string (the NUL is not counted in b->len). */
static const char *cstr(buf *b)
{
    buf_reserve(b, 1);
    b->data[b->len] = '\0';
    return b->data;
}

static void label(buf *l, const char *name, const char *value)
{
    if (l->len) buf_append(l, ",", 1);
    value = value ? value : "";
    prom_label(l, name, value, strlen(value));
}

static void route_labels(const gw_metrics_src *s, int r, buf *l)
{
    const gw_route_cfg *rc = &s->cfg->routes[r];
    char idx[16];
    snprintf(idx, sizeof(idx), "%d", r);
    buf_reset(l);
    label(l, "route", idx);
    label(l, "host", rc->host ? rc->host : "*");
    label(l, "path_prefix", rc->path_prefix);
    label(l, "cluster", rc->cluster_name);
}

static void endpoint_labels(const gw_metrics_src *s, int c, int e, buf *l)
{
    buf_reset(l);
    label(l, "cluster", s->cfg->clusters[c].name);
    label(l, "endpoint", s->cfg->clusters[c].endpoints[e].address);
}

/* l with one more label appended, in tmp. */
static const char *plus_label(buf *tmp, const buf *l, const char *name, const char *value)
{
    buf_reset(tmp);
    buf_append(tmp, l->data, l->len);
    label(tmp, name, value);
    return cstr(tmp);
}

/* ---- process and worker-wide families ---- */

static void render_process(const gw_metrics_src *s, buf *b)
{
    const gw_metrics_proc *p = &s->proc;
    prom_family(b, "halo_gw_info", "gauge", "Constant 1, labelled with the version.");
    prom_sample_u64(b, "halo_gw_info", "version=\"" HALO_VERSION "\"", 1);
    prom_gauge(b, "halo_gw_uptime_seconds", "Seconds since the gateway process started.",
               (double)p->uptime_ms / 1000.0);
    prom_gauge(b, "halo_gw_workers", "Worker threads serving traffic.", s->nworkers);
    prom_gauge(b, "halo_gw_draining", "1 while the gateway drains (SIGTERM or hand-over).",
               p->draining);
    prom_family(b, "halo_gw_config_reloads_total", "counter",
                "Configuration reloads by result (ok: applied; failed: rejected, old config kept).");
    prom_sample_u64(b, "halo_gw_config_reloads_total", "result=\"ok\"", p->reloads_ok);
    prom_sample_u64(b, "halo_gw_config_reloads_total", "result=\"failed\"", p->reloads_failed);
    prom_gauge(b, "halo_gw_config_last_reload_timestamp_seconds",
               "Unix time of the last successful reload, 0 if never.",
               (double)p->last_reload_wall_ms / 1000.0);
}

static void counter_w(buf *b, const gw_metrics_src *s, const char *name, const char *help,
                      size_t off)
{
    prom_counter(b, name, help, worker_sum(s, off));
}

static void gauge_w(buf *b, const gw_metrics_src *s, const char *name, const char *help,
                    size_t off)
{
    prom_gauge(b, name, help, (double)(int64_t)worker_sum(s, off));
}

static void render_connections(const gw_metrics_src *s, buf *b)
{
    counter_w(b, s, "halo_gw_downstream_connections_accepted_total",
              "Client connections accepted.", W_OFF(conns_accepted));
    gauge_w(b, s, "halo_gw_downstream_connections_active", "Client connections open now.",
            W_OFF(conns_active));
    prom_family(b, "halo_gw_worker_connections_active", "gauge",
                "Client connections open now, per worker thread (the kernel's spread).");
    for (int w = 0; w < s->nworkers; w++) {
        if (s->workers == NULL || s->workers[w] == NULL) continue;
        char l[32];
        snprintf(l, sizeof(l), "worker=\"%d\"", w);
        prom_sample_double(b, "halo_gw_worker_connections_active", l,
                           (double)(int64_t)gw_read(&s->workers[w]->conns_active));
    }
    gauge_w(b, s, "halo_gw_upstream_connections_active",
            "Upstream connections carrying a request now.", W_OFF(upstream_active));
    gauge_w(b, s, "halo_gw_upstream_connections_idle", "Idle pooled upstream connections.",
            W_OFF(upstream_idle));
    counter_w(b, s, "halo_gw_upstream_connections_opened_total",
              "New upstream connections opened.", W_OFF(upstream_connects));
    counter_w(b, s, "halo_gw_upstream_requests_reused_total",
              "Requests sent on a pooled (kept-alive) upstream connection.", W_OFF(upstream_reused));
}

static void render_traffic(const gw_metrics_src *s, buf *b)
{
    counter_w(b, s, "halo_gw_downstream_requests_total", "Request heads received from clients.",
              W_OFF(requests));
    prom_family(b, "halo_gw_downstream_responses_total", "counter",
                "Responses to clients by status class (none: the client got no response).");
    for (int k = 0; k < 6; k++) {
        char l[32];
        snprintf(l, sizeof(l), "class=\"%s\"", class_names[k]);
        prom_sample_u64(b, "halo_gw_downstream_responses_total", l,
                        worker_sum(s, NTH(W_OFF(responses), k)));
    }
    prom_family(b, "halo_gw_gateway_responses_total", "counter",
                "Responses the gateway wrote itself, by kind and status.");
    for (int k = 0; k < GW_ERR_COUNT; k++) {
        char l[96];
        snprintf(l, sizeof(l), "kind=\"%s\",status=\"%d\"", err_kinds[k].label, err_kinds[k].status);
        prom_sample_u64(b, "halo_gw_gateway_responses_total", l,
                        worker_sum(s, NTH(W_OFF(errors), k)));
    }
    prom_family(b, "halo_gw_upstream_failures_total", "counter",
                "Failed attempts at an upstream, by reason.");
    for (int k = 0; k < GW_UPFAIL_COUNT; k++) {
        char l[64];
        snprintf(l, sizeof(l), "reason=\"%s\"", upfail_names[k]);
        prom_sample_u64(b, "halo_gw_upstream_failures_total", l,
                        worker_sum(s, NTH(W_OFF(upstream_failures), k)));
    }
    counter_w(b, s, "halo_gw_retries_total", "Retries of a request at another endpoint.",
              W_OFF(retries));
    counter_w(b, s, "halo_gw_retries_denied_total",
              "Retries wanted but refused by the retry budget.", W_OFF(retries_denied));
    counter_w(b, s, "halo_gw_stale_connection_retries_total",
              "Requests resent on a fresh connection after a pooled one was found closed.",
              W_OFF(stale_conn_retries));
    counter_w(b, s, "halo_gw_ejections_total", "Passive-health ejections of endpoints.",
              W_OFF(ejections));
    counter_w(b, s, "halo_gw_client_aborts_total",
              "Clients that left before their response was complete.", W_OFF(client_aborts));
}

static void render_bytes(const gw_metrics_src *s, buf *b)
{
    counter_w(b, s, "halo_gw_downstream_received_bytes_total", "Bytes read from clients.",
              W_OFF(bytes_from_clients));
    counter_w(b, s, "halo_gw_downstream_sent_bytes_total", "Bytes written to clients.",
              W_OFF(bytes_to_clients));
    counter_w(b, s, "halo_gw_upstream_received_bytes_total", "Bytes read from upstreams.",
              W_OFF(bytes_from_upstreams));
    counter_w(b, s, "halo_gw_upstream_sent_bytes_total", "Bytes written to upstreams.",
              W_OFF(bytes_to_upstreams));
}

/* ---- per route ---- */

static void route_counter(const gw_metrics_src *s, buf *b, const char *name, const char *help,
                          size_t off, buf *l)
{
    prom_family(b, name, "counter", help);
    for (int r = 0; r < s->cfg->nroutes; r++) {
        route_labels(s, r, l);
        prom_sample_u64(b, name, cstr(l), route_sum(s, r, off));
    }
}

static void route_responses(const gw_metrics_src *s, buf *b, buf *l, buf *tmp)
{
    const char *name = "halo_gw_route_responses_total";
    prom_family(b, name, "counter", "Responses per route by status class.");
    for (int r = 0; r < s->cfg->nroutes; r++) {
        route_labels(s, r, l);
        for (int k = 0; k < 6; k++)
            prom_sample_u64(b, name, plus_label(tmp, l, "class", class_names[k]),
                            route_sum(s, r, NTH(R_OFF(responses), k)));
    }
}

/* Plain (not cumulative) bucket counts and the sum in µs of one series. */
typedef struct hist {
    uint64_t counts[GW_LATENCY_BUCKETS + 1];
    uint64_t sum_us;
} hist;

/* One labelled histogram series: cumulative buckets in seconds, _sum, _count. */
static void histogram(buf *b, const char *name, const hist *h, buf *l, buf *tmp)
{
    char series[96], le[32];
    uint64_t cum = 0;
    snprintf(series, sizeof(series), "%s_bucket", name);
    for (int i = 0; i <= GW_LATENCY_BUCKETS; i++) {
        cum += h->counts[i];
        if (i < GW_LATENCY_BUCKETS)
            prom_format_double(le, sizeof(le), gw_latency_bounds_ms[i] / 1000.0);
        else
            snprintf(le, sizeof(le), "+Inf");
        prom_sample_u64(b, series, plus_label(tmp, l, "le", le), cum);
    }
    snprintf(series, sizeof(series), "%s_sum", name);
    prom_sample_double(b, series, cstr(l), (double)h->sum_us / 1e6);
    snprintf(series, sizeof(series), "%s_count", name);
    prom_sample_u64(b, series, cstr(l), cum);
}

static void route_histogram(const gw_metrics_src *s, int r, buf *b, buf *l, buf *tmp)
{
    hist h = {.sum_us = route_sum(s, r, R_OFF(latency_sum_us))};
    for (int i = 0; i <= GW_LATENCY_BUCKETS; i++) h.counts[i] = route_sum(s, r, NTH(R_OFF(latency), i));
    histogram(b, "halo_gw_route_request_duration_seconds", &h, l, tmp);
}

static void render_routes(const gw_metrics_src *s, buf *b)
{
    if (s->route_stats == NULL) return;
    buf l, tmp;
    buf_init(&l);
    buf_init(&tmp);
    route_counter(s, b, "halo_gw_route_requests_total", "Requests matched to each route.",
                  R_OFF(requests), &l);
    route_responses(s, b, &l, &tmp);
    route_counter(s, b, "halo_gw_route_retries_total", "Retries per route.", R_OFF(retries), &l);
    prom_family(b, "halo_gw_route_request_duration_seconds", "histogram",
                "Time from the request head to the end of the response, per route.");
    for (int r = 0; r < s->cfg->nroutes; r++) {
        route_labels(s, r, &l);
        route_histogram(s, r, b, &l, &tmp);
    }
    buf_free(&l);
    buf_free(&tmp);
}

/* ---- per cluster and endpoint ---- */

typedef struct ep_view {
    gw_metrics_health h;
    bool ejected, up;
} ep_view;

static void view_endpoint(const gw_metrics_src *s, int c, int e, ep_view *v)
{
    get_health(s, c, e, &v->h);
    v->ejected = is_ejected(s, &v->h);
    v->up = v->h.active_ok && !v->ejected;
}

/* Endpoints up in cluster c and whether it balances in panic mode. */
static int cluster_up(const gw_metrics_src *s, int c, bool *panic)
{
    const gw_cluster_cfg *cl = &s->cfg->clusters[c];
    int n = cl->nendpoints, up = 0;
    bool *usable = hcalloc((size_t)n + 1, sizeof(bool));
    bool *eligible = hcalloc((size_t)n + 1, sizeof(bool));
    for (int e = 0; e < n; e++) {
        ep_view v;
        view_endpoint(s, c, e, &v);
        usable[e] = v.up;
        up += v.up;
    }
    *panic = n > 0 && health_eligible(usable, n, cl->panic_threshold_percent, eligible);
    hfree(usable);
    hfree(eligible);
    return up;
}

static void render_clusters(const gw_metrics_src *s, buf *b)
{
    static const char *const fam[][2] = {
        {"halo_gw_cluster_endpoints", "Endpoints configured in the cluster."},
        {"halo_gw_cluster_endpoints_up", "Endpoints passing active checks and not ejected."},
        {"halo_gw_cluster_panic", "1 when too few endpoints are up and the cluster balances over all."},
    };
    int n = s->cfg->nclusters;
    double *v = hcalloc((size_t)n * 3 + 1, sizeof(double)); /* [f * n + c] */
    for (int c = 0; c < n; c++) {
        bool panic;
        v[c] = s->cfg->clusters[c].nendpoints;
        v[n + c] = cluster_up(s, c, &panic);
        v[2 * n + c] = panic;
    }
    buf l;
    buf_init(&l);
    for (int f = 0; f < 3; f++) {
        prom_family(b, fam[f][0], "gauge", fam[f][1]);
        for (int c = 0; c < n; c++) {
            buf_reset(&l);
            label(&l, "cluster", s->cfg->clusters[c].name);
            prom_sample_double(b, fam[f][0], cstr(&l), v[f * n + c]);
        }
    }
    buf_free(&l);
    hfree(v);
}

/* One family over every endpoint: value(s, c, e) gives each sample. */
static void ep_family(const gw_metrics_src *s, buf *b, const char *name, const char *type,
                      const char *help, double (*value)(const gw_metrics_src *, int, int))
{
    buf l;
    buf_init(&l);
    prom_family(b, name, type, help);
    for (int c = 0; c < s->cfg->nclusters; c++)
        for (int e = 0; e < s->cfg->clusters[c].nendpoints; e++) {
            endpoint_labels(s, c, e, &l);
            prom_sample_double(b, name, cstr(&l), value(s, c, e));
        }
    buf_free(&l);
}

static double ep_requests(const gw_metrics_src *s, int c, int e)
{
    return (double)ep_sum(s, c, e, E_OFF(requests));
}
static double ep_failures(const gw_metrics_src *s, int c, int e)
{
    return (double)ep_sum(s, c, e, E_OFF(failures));
}
static double ep_active(const gw_metrics_src *s, int c, int e)
{
    return (double)(int64_t)ep_sum(s, c, e, E_OFF(active));
}
static double ep_weight(const gw_metrics_src *s, int c, int e)
{
    return s->cfg->clusters[c].endpoints[e].weight;
}
static double ep_healthy(const gw_metrics_src *s, int c, int e)
{
    ep_view v;
    view_endpoint(s, c, e, &v);
    return v.h.active_ok;
}
static double ep_ejected(const gw_metrics_src *s, int c, int e)
{
    ep_view v;
    view_endpoint(s, c, e, &v);
    return v.ejected;
}
static double ep_up(const gw_metrics_src *s, int c, int e)
{
    ep_view v;
    view_endpoint(s, c, e, &v);
    return v.up;
}
static double ep_ejections(const gw_metrics_src *s, int c, int e)
{
    ep_view v;
    view_endpoint(s, c, e, &v);
    return v.h.ejections;
}

static void ep_responses(const gw_metrics_src *s, buf *b)
{
    const char *name = "halo_gw_endpoint_responses_total";
    buf l, tmp;
    buf_init(&l);
    buf_init(&tmp);
    prom_family(b, name, "counter", "Responses received from each endpoint, by status class.");
    for (int c = 0; c < s->cfg->nclusters; c++)
        for (int e = 0; e < s->cfg->clusters[c].nendpoints; e++) {
            endpoint_labels(s, c, e, &l);
            for (int k = 1; k < 6; k++)
                prom_sample_u64(b, name, plus_label(&tmp, &l, "class", class_names[k]),
                                ep_sum(s, c, e, NTH(E_OFF(responses), k)));
        }
    buf_free(&l);
    buf_free(&tmp);
}

/* Requests and responses per cluster: the endpoint series summed. */
static void cluster_traffic(const gw_metrics_src *s, buf *b)
{
    buf l, tmp;
    buf_init(&l);
    buf_init(&tmp);
    prom_family(b, "halo_gw_cluster_requests_total", "counter",
                "Attempts sent to the cluster's endpoints (retries included).");
    for (int c = 0; c < s->cfg->nclusters; c++) {
        uint64_t n = 0;
        for (int e = 0; e < s->cfg->clusters[c].nendpoints; e++) n += ep_sum(s, c, e, E_OFF(requests));
        buf_reset(&l);
        label(&l, "cluster", s->cfg->clusters[c].name);
        prom_sample_u64(b, "halo_gw_cluster_requests_total", cstr(&l), n);
    }
    prom_family(b, "halo_gw_cluster_responses_total", "counter",
                "Responses from the cluster's endpoints, by status class.");
    for (int c = 0; c < s->cfg->nclusters; c++) {
        buf_reset(&l);
        label(&l, "cluster", s->cfg->clusters[c].name);
        for (int k = 1; k < 6; k++) {
            uint64_t n = 0;
            for (int e = 0; e < s->cfg->clusters[c].nendpoints; e++)
                n += ep_sum(s, c, e, NTH(E_OFF(responses), k));
            prom_sample_u64(b, "halo_gw_cluster_responses_total",
                            plus_label(&tmp, &l, "class", class_names[k]), n);
        }
    }
    buf_free(&l);
    buf_free(&tmp);
}

/* Adds endpoint e's response-head latency into h. */
static void add_head_latency(const gw_metrics_src *s, int c, int e, hist *h)
{
    for (int i = 0; i <= GW_LATENCY_BUCKETS; i++)
        h->counts[i] += ep_sum(s, c, e, NTH(E_OFF(head_latency), i));
    h->sum_us += ep_sum(s, c, e, E_OFF(head_latency_sum_us));
}

/* Time to the response head per cluster (its endpoints summed) and per endpoint. */
static void head_latency(const gw_metrics_src *s, buf *b)
{
    const char *cname = "halo_gw_cluster_response_head_duration_seconds";
    const char *ename = "halo_gw_endpoint_response_head_duration_seconds";
    buf l, tmp;
    buf_init(&l);
    buf_init(&tmp);
    prom_family(b, cname, "histogram",
                "From an attempt's start (connect included) to the endpoint's response head, per cluster.");
    for (int c = 0; c < s->cfg->nclusters; c++) {
        hist h = {0};
        for (int e = 0; e < s->cfg->clusters[c].nendpoints; e++) add_head_latency(s, c, e, &h);
        buf_reset(&l);
        label(&l, "cluster", s->cfg->clusters[c].name);
        histogram(b, cname, &h, &l, &tmp);
    }
    prom_family(b, ename, "histogram",
                "From an attempt's start (connect included) to the response head, per endpoint.");
    for (int c = 0; c < s->cfg->nclusters; c++)
        for (int e = 0; e < s->cfg->clusters[c].nendpoints; e++) {
            hist h = {0};
            add_head_latency(s, c, e, &h);
            endpoint_labels(s, c, e, &l);
            histogram(b, ename, &h, &l, &tmp);
        }
    buf_free(&l);
    buf_free(&tmp);
}

static void render_endpoints(const gw_metrics_src *s, buf *b)
{
    render_clusters(s, b);
    cluster_traffic(s, b);
    head_latency(s, b);
    ep_family(s, b, "halo_gw_endpoint_requests_total", "counter",
              "Attempts sent to each endpoint (retries included).", ep_requests);
    ep_responses(s, b);
    ep_family(s, b, "halo_gw_endpoint_failures_total", "counter",
              "Attempts that failed: connect errors, resets, timeouts, bad responses.", ep_failures);
    ep_family(s, b, "halo_gw_endpoint_active_requests", "gauge", "Attempts in flight now.",
              ep_active);
    ep_family(s, b, "halo_gw_endpoint_weight", "gauge", "Configured load-balancing weight.",
              ep_weight);
    ep_family(s, b, "halo_gw_endpoint_healthy", "gauge",
              "1 when the last active health check verdict is healthy.", ep_healthy);
    ep_family(s, b, "halo_gw_endpoint_ejected", "gauge",
              "1 while passive health (outlier detection) has the endpoint ejected.", ep_ejected);
    ep_family(s, b, "halo_gw_endpoint_up", "gauge",
              "1 when the endpoint may receive traffic: healthy and not ejected.", ep_up);
    ep_family(s, b, "halo_gw_endpoint_ejections_total", "counter",
              "Times the endpoint was ejected (kept across reloads).", ep_ejections);
}

void gw_metrics_render(const gw_metrics_src *s, buf *out)
{
    render_process(s, out);
    render_connections(s, out);
    render_traffic(s, out);
    render_bytes(s, out);
    render_routes(s, out);
    render_endpoints(s, out);
}

/* ---- JSON ---- */

/* Length of the valid UTF-8 sequence at s[0..n) (1..4), its code point in
 * *cp; 0 when the bytes are not valid UTF-8 (overlong, surrogate, > U+10FFFF,
 * truncated, stray continuation byte). */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) len = 2, v = c & 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0) len = 3, v = c & 0x0f, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4) len = 4, v = c & 0x07, min = 0x10000;
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        v = v << 6 | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = v;
    return len;
}

/* The escape for an ASCII byte, or NULL when it is copied as is. */
static const char *json_ascii_escape(unsigned char c, char tmp[8])
{
    switch (c) {
    case '"': return "\\\"";
    case '\\': return "\\\\";
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    case '\b': return "\\b";
    case '\f': return "\\f";
    default: break;
    }
    if (c < 0x20 || c == 0x7f || c == '<' || c == '>' || c == '&') {
        snprintf(tmp, 8, "\\u%04x", c);
        return tmp;
    }
    return NULL;
}

void gw_json_str(buf *out, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t run = 0; /* start of the bytes copied as they are */
    buf_append(out, "\"", 1);
    for (size_t i = 0; i < len;) {
        char tmp[8];
        uint32_t cp = 0;
        size_t n = utf8_seq(s + i, len - i, &cp);
        const char *esc = NULL;
        if (n == 0) esc = "\\ufffd", n = 1;
        else if (n == 1) esc = json_ascii_escape(s[i], tmp);
        else if (cp == 0x2028 || cp == 0x2029) esc = cp == 0x2028 ? "\\u2028" : "\\u2029";
        if (esc) {
            buf_append(out, s + run, i - run);
            buf_append_str(out, esc);
            run = i + n;
        }
        i += n;
    }
    buf_append(out, s + run, len - run);
    buf_append(out, "\"", 1);
}

static void json_key(buf *b, const char *key, bool *first)
{
    if (!*first) buf_append(b, ",", 1);
    *first = false;
    gw_json_str(b, key, strlen(key));
    buf_append(b, ":", 1);
}

static void json_kv_str(buf *b, const char *key, const char *v, bool *first)
{
    json_key(b, key, first);
    if (v) gw_json_str(b, v, strlen(v));
    else buf_append_str(b, "null");
}

static void json_kv_i64(buf *b, const char *key, int64_t v, bool *first)
{
    json_key(b, key, first);
    buf_printf(b, "%" PRId64, v);
}

static void json_kv_bool(buf *b, const char *key, bool v, bool *first)
{
    json_key(b, key, first);
    buf_append_str(b, v ? "true" : "false");
}

static void json_classes(buf *b, const gw_metrics_src *s, int c, int e)
{
    bool first = true;
    buf_append(b, "{", 1);
    for (int k = 1; k < 6; k++)
        json_kv_i64(b, class_names[k], (int64_t)ep_sum(s, c, e, NTH(E_OFF(responses), k)), &first);
    buf_append(b, "}", 1);
}

static void json_endpoint(buf *b, const gw_metrics_src *s, int c, int e)
{
    const gw_endpoint_cfg *ep = &s->cfg->clusters[c].endpoints[e];
    ep_view v;
    view_endpoint(s, c, e, &v);
    int64_t left_ms = v.ejected ? v.h.ejected_until_ms - s->proc.now_ms : 0;
    bool first = true;
    buf_append(b, "{", 1);
    json_kv_str(b, "address", ep->address, &first);
    json_kv_i64(b, "weight", ep->weight, &first);
    json_kv_bool(b, "healthy", v.h.active_ok, &first);
    json_kv_bool(b, "ejected", v.ejected, &first);
    json_kv_i64(b, "ejected_until_ms", v.ejected ? s->proc.wall_ms + left_ms : 0, &first);
    json_kv_i64(b, "ejected_remaining_ms", left_ms, &first);
    json_kv_i64(b, "ejections", v.h.ejections, &first);
    json_kv_bool(b, "up", v.up, &first);
    json_kv_i64(b, "active_requests", (int64_t)ep_sum(s, c, e, E_OFF(active)), &first);
    json_kv_i64(b, "requests", (int64_t)ep_sum(s, c, e, E_OFF(requests)), &first);
    json_kv_i64(b, "failures", (int64_t)ep_sum(s, c, e, E_OFF(failures)), &first);
    json_key(b, "responses", &first);
    json_classes(b, s, c, e);
    buf_append(b, "}", 1);
}

static void json_cluster(buf *b, const gw_metrics_src *s, int c)
{
    const gw_cluster_cfg *cl = &s->cfg->clusters[c];
    bool panic, first = true;
    int up = cluster_up(s, c, &panic);
    buf_append(b, "{", 1);
    json_kv_str(b, "name", cl->name, &first);
    json_kv_str(b, "lb", (unsigned)cl->lb < sizeof(lb_names) / sizeof(lb_names[0])
                             ? lb_names[cl->lb] : "unknown", &first);
    json_kv_i64(b, "endpoints_total", cl->nendpoints, &first);
    json_kv_i64(b, "endpoints_up", up, &first);
    json_kv_bool(b, "panic", panic, &first);
    json_key(b, "endpoints", &first);
    buf_append(b, "[", 1);
    for (int e = 0; e < cl->nendpoints; e++) {
        if (e) buf_append(b, ",", 1);
        json_endpoint(b, s, c, e);
    }
    buf_append(b, "]}", 2);
}

static void json_route(buf *b, const gw_metrics_src *s, int r)
{
    const gw_route_cfg *rc = &s->cfg->routes[r];
    bool first = true;
    buf_append(b, "{", 1);
    json_kv_i64(b, "index", r, &first);
    json_kv_str(b, "host", rc->host, &first);
    json_kv_str(b, "path_prefix", rc->path_prefix, &first);
    json_kv_str(b, "cluster", rc->cluster_name, &first);
    json_kv_i64(b, "requests", (int64_t)route_sum(s, r, R_OFF(requests)), &first);
    json_kv_i64(b, "retries", (int64_t)route_sum(s, r, R_OFF(retries)), &first);
    buf_append(b, "}", 1);
}

static void json_process(buf *b, const gw_metrics_src *s, bool *first)
{
    const gw_metrics_proc *p = &s->proc;
    json_kv_str(b, "version", HALO_VERSION, first);
    json_kv_i64(b, "uptime_ms", p->uptime_ms, first);
    json_kv_i64(b, "workers", s->nworkers, first);
    json_kv_bool(b, "draining", p->draining, first);
    json_kv_str(b, "config", s->cfg->source, first);
    json_kv_i64(b, "reloads_ok", (int64_t)p->reloads_ok, first);
    json_kv_i64(b, "reloads_failed", (int64_t)p->reloads_failed, first);
    json_kv_i64(b, "last_reload_ms", p->last_reload_wall_ms, first);
    json_kv_i64(b, "connections_active", (int64_t)worker_sum(s, W_OFF(conns_active)), first);
    json_kv_i64(b, "requests", (int64_t)worker_sum(s, W_OFF(requests)), first);
}

void gw_status_render(const gw_metrics_src *s, buf *out)
{
    bool first = true;
    buf_append(out, "{", 1);
    json_process(out, s, &first);
    json_key(out, "clusters", &first);
    buf_append(out, "[", 1);
    for (int c = 0; c < s->cfg->nclusters; c++) {
        if (c) buf_append(out, ",", 1);
        json_cluster(out, s, c);
    }
    buf_append(out, "]", 1);
    json_key(out, "routes", &first);
    buf_append(out, "[", 1);
    for (int r = 0; r < s->cfg->nroutes; r++) {
        if (r) buf_append(out, ",", 1);
        json_route(out, s, r);
    }
    buf_append(out, "]}\n", 3);
}

/* ---- engine adapters ---- */

static void live_health(const void *hctx, int c, int e, gw_metrics_health *out)
{
    const gw_snapshot *snap = hctx;
    gw_ep_health *h = &snap->health[c][e];
    out->active_ok = atomic_load_explicit(&h->active_ok, memory_order_relaxed);
    out->ejected_until_ms = atomic_load_explicit(&h->ejected_until_ms, memory_order_relaxed);
    out->ejections = atomic_load_explicit(&h->ejections, memory_order_relaxed);
}

/* Point src into the live snapshot; returns the worker array to hfree. */
static gw_worker_stats **live_src(gw_metrics_src *src, gw_snapshot *snap, gw_workers *ws,
                                  const gw_metrics_proc *proc)
{
    int nw = snap->nworkers, running = ws ? gw_workers_count(ws) : 0;
    gw_worker_stats **w = hcalloc((size_t)nw + 1, sizeof(*w));
    for (int i = 0; i < nw && i < running; i++) w[i] = gw_workers_stats(ws, i);
    memset(src, 0, sizeof(*src));
    src->cfg = snap->cfg;
    src->nworkers = nw;
    src->workers = w;
    src->route_stats = snap->route_stats;
    src->ep_stats = snap->ep_stats;
    src->health = live_health;
    src->hctx = snap;
    src->proc = *proc;
    return w;
}

void gw_metrics_render_live(gw_snapshot *snap, gw_workers *ws, const gw_metrics_proc *proc,
                            buf *out)
{
    gw_metrics_src src;
    gw_worker_stats **w = live_src(&src, snap, ws, proc);
    gw_metrics_render(&src, out);
    hfree(w);
}

void gw_status_render_live(gw_snapshot *snap, gw_workers *ws, const gw_metrics_proc *proc,
                           buf *out)
{
    gw_metrics_src src;
    gw_worker_stats **w = live_src(&src, snap, ws, proc);
    gw_status_render(&src, out);
    hfree(w);
}
