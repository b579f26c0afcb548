/* hcheck.c — active health checks: one probe per endpoint, rise/fall via hc_record. */
#include "hcheck.h"
#include "http1.h"
#include "../common/log.h"
#include "../common/mem.h"

#include <stdio.h>
#include <string.h>

#define HC_READ_BUF 4096

typedef struct hc_probe hc_probe;

/* One check's connection. It may outlive its probe: a timed-out check is
 * abandoned (probe = NULL) and freed when libuv has closed the socket. */
typedef struct hc_conn {
    uv_tcp_t tcp;
    uv_connect_t creq;
    hc_probe *probe;
    h1_parser resp;
    char rbuf[HC_READ_BUF];
} hc_conn;

struct hc_probe {
    gw_hcheck *hc;
    const gw_cluster_cfg *cc;
    const gw_endpoint_cfg *ep;
    gw_ep_health *shared;
    hc_state state;
    uv_timer_t timer;          /* next check, then the check's timeout */
    hc_conn *conn;             /* the check in flight, or NULL */
    buf request;               /* HTTP: the request, built once */
};

struct gw_hcheck {
    uv_loop_t *loop;
    gw_snapshot *snap;
    hc_probe *probes;
    int nprobes;
    int open_timers;
};

/* ---- one check ---- */

static void conn_closed(uv_handle_t *h)
{
    hc_conn *k = h->data;
    h1_parser_free(&k->resp);
    hfree(k);
}

static void on_check_timer(uv_timer_t *t);

/* The check is over: record it, log a state change, schedule the next. */
static void finish(hc_probe *p, bool ok, const char *why)
{
    if (p->conn) {
        p->conn->probe = NULL;
        uv_close((uv_handle_t *)&p->conn->tcp, conn_closed);
        p->conn = NULL;
    }
    const gw_health_cfg *hc = &p->cc->health;
    if (!ok) log_debug("health check of %s (cluster %s) failed: %s", p->ep->address, p->cc->name, why);
    if (hc_record(&p->state, hc, ok)) {
        atomic_store_explicit(&p->shared->active_ok, p->state.healthy, memory_order_relaxed);
        if (p->state.healthy)
            log_notice("endpoint %s of cluster %s is now UP (%d successful checks)",
                       p->ep->address, p->cc->name, p->state.successes);
        else
            log_warn("endpoint %s of cluster %s is now DOWN (%d failed checks: %s)",
                     p->ep->address, p->cc->name, p->state.failures, why);
    }
    uv_timer_start(&p->timer, on_check_timer, (uint64_t)hc->interval_ms, 0);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    hc_conn *k = h->data;
    b->base = k->rbuf;
    b->len = sizeof(k->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    hc_conn *k = s->data;
    hc_probe *p = k->probe;
    if (p == NULL || n == 0) return;
    if (n < 0) {
        finish(p, false, n == UV_EOF ? "connection closed before a response" : uv_strerror((int)n));
        return;
    }
    size_t used;
    h1_ev ev = h1_feed(&k->resp, b->base, (size_t)n, &used);
    if (ev == H1_ERROR) {
        finish(p, false, "invalid HTTP response");
    } else if (ev == H1_HEAD && k->resp.head.status >= 200) {
        char why[32];
        int status = k->resp.head.status;
        snprintf(why, sizeof(why), "status %d", status);
        finish(p, hc_status_ok(&p->cc->health, status), why);
    }
}

static void on_connect(uv_connect_t *req, int status)
{
    hc_conn *k = req->data;
    hc_probe *p = k->probe;
    if (p == NULL) return;
    if (status < 0) {
        finish(p, false, uv_strerror(status));
        return;
    }
    if (p->cc->health.type == HC_TCP) {
        finish(p, true, NULL);
        return;
    }
    int rc = gw_write((uv_stream_t *)&k->tcp, p->request.data, p->request.len, NULL);
    if (rc == 0) rc = uv_read_start((uv_stream_t *)&k->tcp, on_alloc, on_read);
    if (rc < 0) finish(p, false, uv_strerror(rc));
}

static void start_check(hc_probe *p)
{
    hc_conn *k = hcalloc(1, sizeof(*k));
    k->probe = p;
    h1_limits lim = {H1_MAX_RESPONSE_HEAD, 0, 0};
    h1_parser_init(&k->resp, H1_RESPONSE, &lim);
    uv_tcp_init(p->hc->loop, &k->tcp);
    k->tcp.data = k;
    k->creq.data = k;
    p->conn = k;
    uv_timer_start(&p->timer, on_check_timer, (uint64_t)p->cc->health.timeout_ms, 0);
    int rc = uv_tcp_connect(&k->creq, &k->tcp, (const struct sockaddr *)&p->ep->addr, on_connect);
    if (rc < 0) finish(p, false, uv_strerror(rc));
}

/* Fires for the next check, or as the timeout of the one in flight. */
static void on_check_timer(uv_timer_t *t)
{
    hc_probe *p = t->data;
    if (p->conn) finish(p, false, "timeout");
    else start_check(p);
}

/* ---- set-up and tear-down ---- */

static void build_request(hc_probe *p)
{
    const gw_health_cfg *h = &p->cc->health;
    buf_init(&p->request);
    buf_printf(&p->request,
               "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: halo-gw-health-check\r\n"
               "Accept: */*\r\nConnection: close\r\n\r\n",
               h->path ? h->path : "/", h->host ? h->host : p->ep->address);
}

gw_hcheck *hcheck_start(uv_loop_t *loop, gw_snapshot *snap)
{
    const gw_config *cfg = snap->cfg;
    gw_hcheck *hc = hcalloc(1, sizeof(*hc));
    hc->loop = loop;
    gw_snapshot_ref(snap);
    hc->snap = snap;
    int n = 0;
    for (int c = 0; c < cfg->nclusters; c++)
        if (cfg->clusters[c].health.type != HC_NONE) n += cfg->clusters[c].nendpoints;
    hc->probes = hcalloc((size_t)n + 1, sizeof(hc_probe));
    for (int c = 0; c < cfg->nclusters; c++) {
        const gw_cluster_cfg *cc = &cfg->clusters[c];
        if (cc->health.type == HC_NONE) continue;
        for (int i = 0; i < cc->nendpoints; i++) {
            hc_probe *p = &hc->probes[hc->nprobes++];
            p->hc = hc;
            p->cc = cc;
            p->ep = &cc->endpoints[i];
            p->shared = &snap->health[c][i];
            hc_init(&p->state, atomic_load(&p->shared->active_ok));
            build_request(p);
            uv_timer_init(loop, &p->timer);
            p->timer.data = p;
            hc->open_timers++;
            uv_timer_start(&p->timer, on_check_timer, 0, 0);
        }
    }
    return hc;
}

static void timer_closed(uv_handle_t *h)
{
    hc_probe *p = h->data;
    gw_hcheck *hc = p->hc;
    if (--hc->open_timers > 0) return;
    for (int i = 0; i < hc->nprobes; i++) buf_free(&hc->probes[i].request);
    hfree(hc->probes);
    gw_snapshot_unref(hc->snap);
    hfree(hc);
}

void hcheck_stop(gw_hcheck *hc)
{
    if (hc == NULL) return;
    if (hc->nprobes == 0) {
        hc->open_timers = 1;
        hc->probes[0].hc = hc;
        hc->probes[0].timer.data = &hc->probes[0];
        timer_closed((uv_handle_t *)&hc->probes[0].timer);
        return;
    }
    for (int i = 0; i < hc->nprobes; i++) {
        hc_probe *p = &hc->probes[i];
        if (p->conn) {
            p->conn->probe = NULL;
            uv_close((uv_handle_t *)&p->conn->tcp, conn_closed);
            p->conn = NULL;
        }
        uv_close((uv_handle_t *)&p->timer, timer_closed);
    }
}
