/* proxy.c — client connections and the request path: route, pick, forward, stream back. */
#include "proxy.h"
#include "accesslog.h"
#include "http1.h"
#include "pool.h"
#include "../common/log.h"
#include "../common/mem.h"
#include "../common/util.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* After the last response on a connection the gateway sends FIN and keeps
 * reading (and discarding) for up to this long, so a client still sending a
 * body reads the response instead of a reset (a "lingering close"). */
#define GW_LINGER_MS 2000
/* On drain, an idle client connection may still send one request within
 * this (see proxy_drain). */
#define GW_DRAIN_GRACE_MS 1000

/* Request body bytes kept, until the response head arrives, so that a retry
 * (or the transparent retry after a stale pooled connection) can send them
 * again. A body beyond this is streamed without a copy and not retried. */
#define GW_REPLAY_MAX (64 * 1024)

/* The client deadline (d_client) serves one purpose at a time. */
enum { T_HEADER, T_KEEPALIVE, T_LINGER };

/* A request's phases; d_phase holds the timeout of the current one.
 *   X_CONNECTING  waiting for an upstream connection    (connect_timeout_ms)
 *   X_SENDING     head sent, request body streaming     (route idle_timeout_ms)
 *   X_WAITING     request sent, no response byte yet    (route first_byte_timeout_ms)
 *   X_STREAMING   response head forwarded, body flowing (route idle_timeout_ms)
 * d_req bounds the whole request (route request_timeout_ms).
 *
 * Transitions (the function making each):
 *   head parsed            -> route, pick, pool   ex_start, ex_attempt
 *   pooled conn / connect  -> X_SENDING           ex_upstream_ready
 *   body complete          -> X_WAITING           ex_request_sent
 *   response head          -> X_STREAMING         ex_on_resp_head (or a retry)
 *   response complete      -> next request / end  ex_response_done, ex_finish
 *   failure before the response started -> retry (ex_retry, another endpoint) or an
 *     error response (ex_reply_error); after it started -> the client connection is
 *     cut (conn_close)                                              ex_upstream_failed
 * Invariant: ex.up is the connection of the current attempt or NULL, and
 * ep_counted says whether the attempt is in the endpoint's active count. */
enum { X_CONNECTING, X_SENDING, X_WAITING, X_STREAMING };

/* The request in progress on a client connection (one at a time: pipelined
 * requests wait, unparsed, in the connection's pending bytes). */
typedef struct gw_exch {
    bool active;
    gw_wstate *st;                 /* referenced while active */
    const gw_route_cfg *route;
    int route_idx;
    gw_wcluster *cl;
    int ep, last_ep;               /* endpoint of this attempt / of the previous one */
    bool ep_counted;               /* active[ep] and the endpoint gauge include us */
    uint64_t hash;
    int attempts, retries;
    bool stale_retry_done;         /* the one transparent retry after a stale connection */
    gw_upconn *up;
    int phase;
    buf replay;                    /* body bytes forwarded so far (up to GW_REPLAY_MAX) */
    buf chunked;                   /* a chunked request body re-framed (h1_feed), to send */
    bool replay_lost;              /* forwarded body bytes not in replay: no retry */
    bool req_done;                 /* the whole request went to the upstream */
    bool continue_sent;            /* we answered Expect: 100-continue */
    bool up_broken;                /* a write to the upstream failed: wait for its reply or end */
    bool up_wrote;                 /* this attempt handed the upstream socket a byte */
    bool resp_any;                 /* this attempt received a byte from the upstream */
    bool resp_head_done;           /* the final response head arrived */
    bool resp_started;             /* response bytes went to the client */
    bool dechunk;                  /* HTTP/1.0 client: body decoded, close-delimited */
    h1_parser resp;
    buf out;                       /* heads being written, decoded body */
    int status;                    /* what the client got (0: nothing) */
    uint64_t bytes_out;
    int64_t start_us;
    int64_t attempt_us;            /* when the current attempt started */
    int64_t last_io_ms;
} gw_exch;

/* A timeout kept as a deadline on a lazily re-armed timer: moving a deadline
 * later (every request and phase does) touches no timer; the timer fires at
 * the old time and re-arms for what is left. at == 0: no deadline. */
typedef struct gw_deadline {
    uv_timer_t t;
    int64_t at;
} gw_deadline;

typedef struct gw_conn {
    uv_tcp_t tcp;
    gw_deadline d_client, d_phase, d_req; /* header/keep-alive/linger; phase; request */
    uv_shutdown_t sreq;
    int open_handles;
    gw_worker *w;
    struct gw_conn *next, *prev;
    int listener;
    h1_parser req;
    buf pending;                   /* bytes read but not consumed yet */
    size_t pending_off;
    gw_exch ex;
    char ip[INET6_ADDRSTRLEN];
    int tmode;                     /* T_* */
    bool head_timer_armed;         /* the header timer runs for the current head */
    bool closing;                  /* handles are being closed */
    bool ending;                   /* no more responses: shut down and linger */
    bool close_after;              /* end after the current response */
    bool client_eof;
    bool reading;
    bool blocked;                  /* our writes to the client passed GW_WRITE_HIGH */
    bool in_process;               /* conn_process is on the stack */
    bool corked;                   /* client writes collect in cork */
    buf cork;
} gw_conn;

static void conn_close(gw_conn *c);
static void conn_end(gw_conn *c);
static void conn_update_reading(gw_conn *c);
static void conn_process_pending(gw_conn *c);
static void ex_attempt(gw_conn *c, bool fresh);
static void ex_finish(gw_conn *c);
static void ex_upstream_failed(gw_conn *c, enum gw_upfail kind, int err);
static void on_client_timer(uv_timer_t *t);
static const gw_upconn_ops proxy_up_ops;

static const gw_listener_cfg *listener_cfg(gw_conn *c)
{
    return &c->w->state->snap->cfg->listeners[c->listener];
}

static int64_t now_ms(gw_conn *c) { return gw_now_ms(c->w); }

static void deadline_set(gw_deadline *d, uv_timer_cb cb, int64_t now, int64_t ms)
{
    if (ms < 1) ms = 1;
    d->at = now + ms;
    if (uv_is_active((uv_handle_t *)&d->t) &&
        now + (int64_t)uv_timer_get_due_in(&d->t) <= d->at)
        return; /* fires early, then re-arms */
    uv_timer_start(&d->t, cb, (uint64_t)ms, 0);
}

static void deadline_clear(gw_deadline *d) { d->at = 0; }

/* In a timer callback: whether the deadline has really passed (it is then
 * cleared); if it lies ahead the timer is re-armed for the rest. */
static bool deadline_due(gw_deadline *d, uv_timer_cb cb, int64_t now)
{
    if (d->at == 0) return false;
    if (now < d->at) {
        uv_timer_start(&d->t, cb, (uint64_t)(d->at - now), 0);
        return false;
    }
    d->at = 0;
    return true;
}

/* ---- writing to the client ---- */

static void on_client_written(uv_stream_t *s, int status)
{
    gw_conn *c = s->data;
    if (c->closing) return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (c->blocked && gw_queued(s) <= GW_WRITE_LOW) {
        c->blocked = false;
        if (c->ex.active && c->ex.up) pool_read(c->ex.up, true);
    }
}

static void conn_send(gw_conn *c, const void *data, size_t len)
{
    int rc = gw_write((uv_stream_t *)&c->tcp, data, len, on_client_written);
    if (rc < 0) {
        log_debug("write to client %s failed: %s", c->ip, uv_strerror(rc));
        conn_close(c);
        return;
    }
    if (gw_queued((uv_stream_t *)&c->tcp) > GW_WRITE_HIGH) {
        c->blocked = true;
        if (c->ex.active && c->ex.up) pool_read(c->ex.up, false);
    }
}

/* Write to the client; while corked, only collect (one write per upstream read). */
static void conn_write(gw_conn *c, const void *data, size_t len)
{
    if (c->closing || len == 0) return;
    c->ex.bytes_out += len;
    gw_count(&c->w->stats.bytes_to_clients, len);
    if (c->corked) buf_append(&c->cork, data, len);
    else conn_send(c, data, len);
}

static void conn_uncork(gw_conn *c)
{
    if (!c->corked) return;
    c->corked = false;
    if (c->cork.len && !c->closing) conn_send(c, c->cork.data, c->cork.len);
    buf_reset(&c->cork);
}

/* ---- passive health and picking ---- */

static int ejected_count(const gw_wcluster *cl, int64_t now)
{
    int n = 0;
    for (int i = 0; i < cl->cfg->nendpoints; i++)
        n += atomic_load_explicit(&cl->health[i].ejected_until_ms, memory_order_relaxed) > now;
    return n;
}

/* Feed one result to this worker's outlier detector; publish an ejection to
 * every worker (the first worker to eject wins the compare-and-swap). */
static void outlier_report(gw_conn *c, int result)
{
    gw_exch *ex = &c->ex;
    gw_wcluster *cl = ex->cl;
    gw_ep_health *sh = &cl->health[ex->ep];
    outlier_state *os = &cl->outlier[ex->ep];
    int64_t now = now_ms(c);
    int64_t until = atomic_load_explicit(&sh->ejected_until_ms, memory_order_relaxed);
    int shared = atomic_load_explicit(&sh->ejections, memory_order_relaxed);
    os->ejected_until_ms = until;
    if (shared > os->ejections) os->ejections = shared;
    if (!outlier_record(os, &cl->cfg->outlier, result, now, ejected_count(cl, now),
                        cl->cfg->nendpoints))
        return;
    if (!atomic_compare_exchange_strong(&sh->ejected_until_ms, &until, os->ejected_until_ms))
        return;
    atomic_store_explicit(&sh->ejections, os->ejections, memory_order_relaxed);
    gw_count(&c->w->stats.ejections, 1);
    log_warn("endpoint %s of cluster %s ejected for %lld ms (consecutive %s, ejection #%d)",
             cl->cfg->endpoints[ex->ep].address, cl->cfg->name,
             (long long)(os->ejected_until_ms - now),
             result == OUT_5XX ? "5xx responses" : "failures", os->ejections);
}

static uint64_t request_hash(gw_conn *c, const gw_cluster_cfg *cc)
{
    if (cc->lb != LB_RING_HASH && cc->lb != LB_MAGLEV) return 0;
    const char *v = NULL;
    size_t len = 0;
    if (cc->hash_on == HASH_HEADER && cc->hash_key) v = h1_get(&c->req.head, cc->hash_key, &len);
    else if (cc->hash_on == HASH_COOKIE && cc->hash_key)
        v = h1_cookie(&c->req.head, cc->hash_key, &len);
    if (v == NULL) { /* no key: the client address keeps a client on one endpoint */
        v = c->ip;
        len = strlen(c->ip);
    }
    return lb_hash(v, len);
}

static int pick(gw_conn *c)
{
    gw_wcluster *cl = c->ex.cl;
    int n = cl->cfg->nendpoints;
    int64_t now = now_ms(c);
    for (int i = 0; i < n; i++) {
        gw_ep_health *h = &cl->health[i];
        cl->usable[i] = atomic_load_explicit(&h->active_ok, memory_order_relaxed) &&
                        atomic_load_explicit(&h->ejected_until_ms, memory_order_relaxed) <= now;
    }
    health_eligible(cl->usable, n, cl->cfg->panic_threshold_percent, cl->eligible);
    lb_input in = {.eligible = cl->eligible, .active = cl->active, .hash = c->ex.hash,
                   .rnd = rand_u64(), .exclude = c->ex.last_ep};
    return lb_pick(cl->lb, &in);
}

/* ---- finishing a request ---- */

static void count_latency(gw_counter *buckets, gw_counter *sum_us, int64_t us)
{
    double ms = (double)us / 1000.0;
    int b = 0;
    while (b < GW_LATENCY_BUCKETS && ms > gw_latency_bounds_ms[b]) b++;
    gw_count(&buckets[b], 1);
    gw_count(sum_us, (uint64_t)us);
}

static void access_log(gw_conn *c, int64_t us)
{
    if (c->w->alog == NULL) return; /* off: skip the header look-ups below too */
    gw_exch *ex = &c->ex;
    const h1_head *h = &c->req.head;
    gw_access_entry e = {
        .client_ip = c->ip,
        .method = llhttp_method_name((llhttp_method_t)h->method),
        .url = h1_str(h, h->url), .url_len = h->url.len,
        .major = h->major, .minor = h->minor,
        .status = ex->status, .bytes_sent = ex->bytes_out,
        .upstream = ex->cl && ex->attempts ? ex->cl->cfg->endpoints[ex->ep].address : NULL,
        .cluster = ex->cl ? ex->cl->cfg->name : NULL,
        .attempts = ex->attempts, .duration_us = us,
    };
    e.referer = h1_get(h, "referer", &e.referer_len);
    e.agent = h1_get(h, "user-agent", &e.agent_len);
    accesslog_write(c->w->alog, &e);
}

/* Give back the upstream connection of the current attempt. */
static void ex_end_attempt(gw_conn *c, bool reusable)
{
    gw_exch *ex = &c->ex;
    deadline_clear(&c->d_phase);
    if (ex->up) {
        pool_release(ex->up, reusable);
        ex->up = NULL;
    }
    if (ex->ep_counted) {
        ex->cl->active[ex->ep]--;
        gw_gauge(&gw_snapshot_endpoint_stats(ex->st->snap, c->w->id, ex->cl->index, ex->ep)->active,
                 -1);
        ex->ep_counted = false;
    }
}

/* Book-keeping for a request that is over, whatever happened. */
static void ex_close_books(gw_conn *c)
{
    gw_exch *ex = &c->ex;
    ex_end_attempt(c, false);
    deadline_clear(&c->d_req);
    int64_t us = mono_us() - ex->start_us;
    int cls = gw_status_class(ex->status);
    gw_count(&c->w->stats.responses[cls], 1);
    if (ex->route) {
        gw_route_stats *rs = gw_snapshot_route_stats(ex->st->snap, c->w->id, ex->route_idx);
        gw_count(&rs->responses[cls], 1);
        count_latency(rs->latency, &rs->latency_sum_us, us);
    }
    access_log(c, us);
    buf_free(&ex->replay);
    gw_wstate_unref(ex->st);
    ex->active = false;
    ex->st = NULL;
}

/* The response is complete: next request, or end of the connection. A
 * response sent while draining announced "Connection: close" (close_after);
 * one that promised keep-alive before the drain began gets the drain grace
 * instead (see proxy_drain), as the client may be sending its next request. */
static void ex_finish(gw_conn *c)
{
    ex_close_books(c);
    if (c->closing) return;
    if (c->close_after) {
        conn_end(c);
        return;
    }
    c->tmode = T_KEEPALIVE;
    c->head_timer_armed = false;
    int64_t ms = c->w->draining ? GW_DRAIN_GRACE_MS : listener_cfg(c)->keepalive_timeout_ms;
    deadline_set(&c->d_client, on_client_timer, now_ms(c), ms);
    conn_process_pending(c);
}

/* An error response written by the gateway itself. */
static void ex_reply_error(gw_conn *c, int status, enum gw_err kind, const char *detail)
{
    gw_exch *ex = &c->ex;
    gw_count(&c->w->stats.errors[kind], 1);
    if (ex->resp_started) { /* too late for a status: cut the connection */
        conn_close(c);
        return;
    }
    if (!h1_done(&c->req)) c->close_after = true; /* the body was not read */
    if (c->w->draining) c->close_after = true;
    buf_reset(&ex->out);
    h1_write_error(status, detail, c->close_after, c->req.head.method == HTTP_HEAD, &ex->out);
    ex->status = status;
    ex->resp_started = true;
    conn_write(c, ex->out.data, ex->out.len);
    ex_finish(c);
}

/* ---- timers ---- */

static void on_phase_timer(uv_timer_t *t)
{
    gw_conn *c = t->data;
    gw_exch *ex = &c->ex;
    if (c->closing || !ex->active || !deadline_due(&c->d_phase, on_phase_timer, now_ms(c))) return;
    switch (ex->phase) {
    case X_CONNECTING: ex_upstream_failed(c, GW_UPFAIL_CONNECT_TIMEOUT, UV_ETIMEDOUT); return;
    case X_WAITING: ex_upstream_failed(c, GW_UPFAIL_FIRST_BYTE_TIMEOUT, UV_ETIMEDOUT); return;
    default: break;
    }
    /* Idle: measured from the last byte either way, so traffic never touches the timer. */
    int64_t left = ex->last_io_ms + ex->route->idle_timeout_ms - now_ms(c);
    if (left > 0) deadline_set(&c->d_phase, on_phase_timer, now_ms(c), left);
    else ex_upstream_failed(c, GW_UPFAIL_IDLE_TIMEOUT, UV_ETIMEDOUT);
}

static void on_request_timer(uv_timer_t *t)
{
    gw_conn *c = t->data;
    if (c->closing || !c->ex.active || !deadline_due(&c->d_req, on_request_timer, now_ms(c)))
        return;
    ex_upstream_failed(c, GW_UPFAIL_REQUEST_TIMEOUT, UV_ETIMEDOUT);
}

static void phase(gw_conn *c, int ph)
{
    gw_exch *ex = &c->ex;
    ex->phase = ph;
    int64_t ms = ph == X_CONNECTING ? ex->cl->cfg->connect_timeout_ms
                 : ph == X_WAITING  ? ex->route->first_byte_timeout_ms
                                    : ex->route->idle_timeout_ms;
    ex->last_io_ms = now_ms(c);
    deadline_set(&c->d_phase, on_phase_timer, ex->last_io_ms, ms);
}

/* ---- retries ---- */

static bool retry_budget_ok(gw_conn *c)
{
    gw_exch *ex = &c->ex;
    const gw_retry_cfg *r = &ex->route->retry;
    if (ex->replay_lost || ex->retries >= r->max_retries) return false;
    if (!retry_budget_take(&ex->st->budgets[ex->route_idx], r, now_ms(c))) {
        gw_count(&c->w->stats.retries_denied, 1);
        return false;
    }
    return true;
}

/* Connect failures are safe to retry for any method (nothing was sent);
 * resets and statuses only for idempotent ones. */
static bool may_retry(gw_conn *c, enum gw_upfail kind)
{
    const gw_retry_cfg *r = &c->ex.route->retry;
    bool connect = kind == GW_UPFAIL_CONNECT || kind == GW_UPFAIL_CONNECT_TIMEOUT;
    if (connect) return r->on_connect_failure && retry_budget_ok(c);
    if (kind == GW_UPFAIL_RESET)
        return r->on_reset && h1_idempotent(c->req.head.method) && retry_budget_ok(c);
    return false;
}

static bool status_retryable(gw_conn *c, int status)
{
    const gw_retry_cfg *r = &c->ex.route->retry;
    for (int i = 0; i < r->nstatuses; i++)
        if (r->statuses[i] == status)
            return h1_idempotent(c->req.head.method) && retry_budget_ok(c);
    return false;
}

static void ex_retry(gw_conn *c)
{
    gw_exch *ex = &c->ex;
    ex->last_ep = ex->ep;
    ex->retries++;
    gw_count(&c->w->stats.retries, 1);
    gw_count(&gw_snapshot_route_stats(ex->st->snap, c->w->id, ex->route_idx)->retries, 1);
    ex_attempt(c, false);
}

static void ex_upstream_failed(gw_conn *c, enum gw_upfail kind, int err)
{
    static const char *const what[] = {
#define GW_UPFAIL_TEXT(name, label) label,
        GW_UPFAIL_MAP(GW_UPFAIL_TEXT)
#undef GW_UPFAIL_TEXT
    };
    gw_exch *ex = &c->ex;
    gw_count(&c->w->stats.upstream_failures[kind], 1);
    if (ex->ep_counted) {
        gw_count(&gw_snapshot_endpoint_stats(ex->st->snap, c->w->id, ex->cl->index, ex->ep)->failures, 1);
        if (kind != GW_UPFAIL_REQUEST_TIMEOUT) outlier_report(c, OUT_FAILURE);
    }
    log_info("upstream %s of cluster %s: %s (%s)",
             ex->ep >= 0 ? ex->cl->cfg->endpoints[ex->ep].address : "-", ex->cl->cfg->name,
             what[kind], uv_strerror(err));
    ex_end_attempt(c, false);
    if (ex->resp_started) {
        conn_close(c);
        return;
    }
    if (may_retry(c, kind)) {
        ex_retry(c);
        return;
    }
    bool timeout = kind == GW_UPFAIL_CONNECT_TIMEOUT || kind == GW_UPFAIL_FIRST_BYTE_TIMEOUT ||
                   kind == GW_UPFAIL_IDLE_TIMEOUT || kind == GW_UPFAIL_REQUEST_TIMEOUT;
    char detail[96];
    snprintf(detail, sizeof(detail), "upstream %s", what[kind]);
    for (char *p = detail; *p; p++)
        if (*p == '_') *p = ' ';
    if (timeout) ex_reply_error(c, 504, GW_ERR_GATEWAY_TIMEOUT, detail);
    else ex_reply_error(c, 502, GW_ERR_BAD_GATEWAY, detail);
}

/* ---- the request going up ---- */

static void ex_request_sent(gw_conn *c)
{
    c->ex.req_done = true;
    if (!c->ex.resp_head_done) phase(c, X_WAITING);
}

static void up_write(gw_conn *c, const void *d, size_t len);

static void ex_upstream_ready(gw_conn *c)
{
    gw_exch *ex = &c->ex;
    const h1_head *h = &c->req.head;
    h1_fwd_req fwd = {.client_ip = c->ip, .proto = "http",
                      .host = ex->cl->cfg->endpoints[ex->ep].address, .strip_expect = true};
    buf_reset(&ex->out);
    h1_write_request(h, &fwd, &ex->out);
    gw_upconn *u = ex->up;
    u->requests++;
    phase(c, X_SENDING);
    up_write(c, ex->out.data, ex->out.len);
    if (ex->replay.len && ex->up == u) up_write(c, ex->replay.data, ex->replay.len); /* a retry */
    if (!ex->active || c->closing || ex->up != u || ex->up_broken) return;
    if (h->expect_continue && !ex->continue_sent && !h1_done(&c->req)) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        ex->continue_sent = true;
        conn_write(c, cont, sizeof(cont) - 1);
    }
    if (h1_done(&c->req)) {
        ex_request_sent(c);
        return;
    }
    conn_process_pending(c);
    conn_update_reading(c);
}

static void on_up_ready(void *owner, gw_upconn *u, int status)
{
    gw_conn *c = owner;
    if (status < 0) {
        ex_upstream_failed(c, GW_UPFAIL_CONNECT, status);
        return;
    }
    ex_upstream_ready(c);
}

static void ex_attempt(gw_conn *c, bool fresh)
{
    gw_exch *ex = &c->ex;
    int ep = fresh ? ex->ep : pick(c);
    if (ep < 0) {
        char detail[128];
        snprintf(detail, sizeof(detail), "no healthy endpoint in cluster %s", ex->cl->cfg->name);
        ex_reply_error(c, 503, GW_ERR_UNAVAILABLE, detail);
        return;
    }
    ex->ep = ep;
    ex->attempts++;
    ex->attempt_us = mono_us();
    ex->up_broken = false;
    ex->up_wrote = false;
    ex->resp_any = false;
    ex->resp_head_done = false;
    h1_parser_reset(&ex->resp);
    ex->resp.skip_body = c->req.head.method == HTTP_HEAD;
    ex->cl->active[ep]++;
    ex->ep_counted = true;
    gw_endpoint_stats *es = gw_snapshot_endpoint_stats(ex->st->snap, c->w->id, ex->cl->index, ep);
    gw_count(&es->requests, 1);
    gw_gauge(&es->active, 1);
    gw_upconn *u;
    int rc = pool_acquire(&ex->cl->pools[ep], c, &proxy_up_ops, fresh, &u);
    if (rc == UV_EBUSY) {
        ex_end_attempt(c, false);
        ex_reply_error(c, 503, GW_ERR_POOL_FULL, "upstream connection pool full");
        return;
    }
    if (rc < 0) {
        ex_upstream_failed(c, GW_UPFAIL_CONNECT, rc);
        return;
    }
    ex->up = u;
    if (u->connected) ex_upstream_ready(c);
    else phase(c, X_CONNECTING);
}

/* ---- the response coming down ---- */

static void on_up_eof(gw_conn *c, int err);

/* A write to the upstream that fails does not end the attempt by itself:
 * an upstream that answers early (413 before reading a large body) and
 * closes makes our writes fail while its response is still unread. Stop
 * sending and let the read side report the response or the reset. */
static void up_broken(gw_conn *c, int err)
{
    gw_exch *ex = &c->ex;
    if (ex->up_broken) return;
    ex->up_broken = true;
    log_debug("write to upstream %s failed: %s", ex->cl->cfg->endpoints[ex->ep].address,
              uv_strerror(err));
    if (ex->up) pool_read(ex->up, true);
}

static void up_write(gw_conn *c, const void *d, size_t len)
{
    gw_exch *ex = &c->ex;
    ex->last_io_ms = now_ms(c);
    if (ex->up_broken) return;
    int rc = pool_write(ex->up, d, len);
    if (rc < 0) up_broken(c, rc);
    else if (len) ex->up_wrote = true;
}

static void ex_forward_body(gw_conn *c, const char *d, size_t n)
{
    gw_exch *ex = &c->ex;
    if (ex->dechunk) {
        conn_write(c, ex->out.data, ex->out.len);
        buf_reset(&ex->out);
    } else {
        conn_write(c, d, n);
    }
}

/* The final response is complete. extra: the upstream sent bytes after it. */
static void ex_response_done(gw_conn *c, bool extra)
{
    gw_exch *ex = &c->ex;
    bool reusable = ex->resp.head.keep_alive && ex->req_done && !extra;
    ex_end_attempt(c, reusable);
    if (!ex->req_done) c->close_after = true; /* the rest of the body is not read */
    ex_finish(c);
}

/* Decide the framing towards the client and forward the response head. */
static void ex_forward_head(gw_conn *c)
{
    gw_exch *ex = &c->ex;
    const h1_head *rh = &ex->resp.head;
    bool c10 = c->req.head.minor == 0;
    bool body = !h1_done(&ex->resp);
    ex->dechunk = c10 && rh->chunked && body;
    if (body && (h1_needs_eof(&ex->resp) || ex->dechunk)) c->close_after = true;
    ex->resp.body_out = ex->dechunk ? &ex->out : NULL;
    if (c->w->draining) c->close_after = true; /* announced below; ex_finish ends it */
    h1_fwd_resp fwd = {.close = c->close_after,
                       .keep_alive_10 = c10 && !c->close_after,
                       .dechunk = c10 && rh->chunked};
    buf_reset(&ex->out);
    h1_write_response(rh, &fwd, &ex->out);
    ex->status = rh->status;
    ex->resp_started = true;
    conn_write(c, ex->out.data, ex->out.len);
    buf_reset(&ex->out);
}

/* A response head arrived. Returns false when the attempt is over (retry,
 * error or the connection closed) and the caller must stop. */
static bool ex_on_resp_head(gw_conn *c)
{
    gw_exch *ex = &c->ex;
    int status = ex->resp.head.status;
    if (status == 101) {
        ex_upstream_failed(c, GW_UPFAIL_BAD_RESPONSE, UV_EPROTO);
        return false;
    }
    if (status < 200) { /* informational: pass on to HTTP/1.1 clients */
        if (c->req.head.minor >= 1 && !(status == 100 && ex->continue_sent)) {
            h1_fwd_resp fwd = {0};
            buf_reset(&ex->out);
            h1_write_response(&ex->resp.head, &fwd, &ex->out);
            conn_write(c, ex->out.data, ex->out.len);
        }
        return !c->closing;
    }
    ex->resp_head_done = true;
    gw_endpoint_stats *es = gw_snapshot_endpoint_stats(ex->st->snap, c->w->id, ex->cl->index, ex->ep);
    gw_count(&es->responses[gw_status_class(status)], 1);
    count_latency(es->head_latency, &es->head_latency_sum_us, mono_us() - ex->attempt_us);
    outlier_report(c, status >= 500 ? OUT_5XX : OUT_OK);
    if (status_retryable(c, status)) {
        ex_end_attempt(c, false);
        ex_retry(c);
        return false;
    }
    buf_free(&ex->replay); /* no retry once a response is on its way */
    ex->replay_lost = true;
    phase(c, X_STREAMING);
    ex_forward_head(c);
    return !c->closing;
}

static void up_read(gw_conn *c, const char *data, ssize_t n)
{
    gw_exch *ex = &c->ex;
    if (n < 0) {
        on_up_eof(c, (int)n);
        return;
    }
    ex->resp_any = true;
    ex->last_io_ms = now_ms(c);
    size_t off = 0;
    while (off < (size_t)n) {
        size_t used;
        h1_ev ev = h1_feed(&ex->resp, data + off, (size_t)n - off, &used);
        off += used;
        switch (ev) {
        case H1_AGAIN: return;
        case H1_ERROR:
            log_info("bad response from %s: %s", ex->cl->cfg->endpoints[ex->ep].address,
                     ex->resp.err_reason ? ex->resp.err_reason : "?");
            ex_upstream_failed(c, GW_UPFAIL_BAD_RESPONSE, UV_EPROTO);
            return;
        case H1_HEAD:
            if (!ex_on_resp_head(c)) return;
            if (ex->resp_head_done && h1_done(&ex->resp)) {
                ex_response_done(c, off < (size_t)n);
                return;
            }
            break;
        case H1_BODY:
            ex_forward_body(c, data + off - used, used);
            if (c->closing) return;
            break;
        case H1_DONE:
            ex_forward_body(c, data + off - used, used);
            if (c->closing) return;
            if (!ex->resp_head_done) break; /* an informational response ended */
            ex_response_done(c, off < (size_t)n);
            return;
        }
    }
}

/* Bytes from the upstream: what they produce for the client goes out in one write. */
static void on_up_read(void *owner, gw_upconn *u, const char *data, ssize_t n)
{
    gw_conn *c = owner;
    c->corked = true;
    up_read(c, data, n);
    conn_uncork(c);
}

static void on_up_eof(gw_conn *c, int err)
{
    gw_exch *ex = &c->ex;
    if (ex->resp_head_done && h1_needs_eof(&ex->resp) && h1_finish(&ex->resp) == H1_DONE) {
        ex_response_done(c, true); /* close-delimited body complete */
        return;
    }
    if (!ex->resp_any && ex->up && ex->up->reused && !ex->stale_retry_done &&
        !ex->replay_lost && (h1_idempotent(c->req.head.method) || !ex->up_wrote)) {
        /* A pooled connection the upstream had closed: try once more on a
         * fresh one, without counting it against the endpoint. Only when
         * sending the request twice is safe: the upstream may have read it
         * before closing (its idle timeout racing our reuse), so a POST that
         * reached the socket is not sent again (nginx does the same). */
        ex->stale_retry_done = true;
        gw_count(&c->w->stats.stale_conn_retries, 1);
        ex_end_attempt(c, false);
        ex_attempt(c, true);
        return;
    }
    ex_upstream_failed(c, ex->resp_any && !ex->resp_head_done ? GW_UPFAIL_BAD_RESPONSE
                                                              : GW_UPFAIL_RESET,
                       err == UV_EOF ? UV_ECONNRESET : err);
}

static void on_up_writable(void *owner, gw_upconn *u, int status)
{
    gw_conn *c = owner;
    if (status < 0) {
        up_broken(c, status);
        return;
    }
    c->ex.last_io_ms = now_ms(c);
    conn_process_pending(c);
    conn_update_reading(c);
}

static const gw_upconn_ops proxy_up_ops = {on_up_ready, on_up_read, on_up_writable};

/* ---- the request coming in ---- */

static void ex_start(gw_conn *c)
{
    gw_worker *w = c->w;
    gw_exch *ex = &c->ex;
    const h1_head *h = &c->req.head;
    ex->active = true;
    ex->st = w->state;
    gw_wstate_ref(ex->st);
    ex->route = NULL;
    ex->cl = NULL;
    ex->ep = ex->last_ep = -1;
    ex->attempts = ex->retries = 0;
    ex->stale_retry_done = ex->replay_lost = ex->req_done = ex->continue_sent = false;
    buf_reset(&ex->replay);
    ex->resp_started = ex->resp_head_done = ex->dechunk = false;
    ex->status = 0;
    ex->bytes_out = 0;
    ex->start_us = mono_us();
    deadline_clear(&c->d_client);
    c->head_timer_armed = false;
    gw_count(&w->stats.requests, 1);
    if (!h->keep_alive || h->upgrade) c->close_after = true;

    const gw_config *cfg = ex->st->snap->cfg;
    h1_target t;
    h1_request_target(h, &t);
    const char *path = t.route_path_len ? t.path : "/";
    int r = gw_config_match_route(cfg, t.host, t.host_len, path, t.route_path_len ? t.route_path_len : 1);
    if (r < 0) {
        ex_reply_error(c, 404, GW_ERR_NO_ROUTE, "no route for this host and path");
        return;
    }
    ex->route_idx = r;
    ex->route = &cfg->routes[r];
    ex->cl = &ex->st->clusters[ex->route->cluster];
    gw_count(&gw_snapshot_route_stats(ex->st->snap, w->id, r)->requests, 1);
    retry_budget_on_request(&ex->st->budgets[r], &ex->route->retry);
    if (ex->route->request_timeout_ms > 0)
        deadline_set(&c->d_req, on_request_timer, now_ms(c), ex->route->request_timeout_ms);
    ex->hash = request_hash(c, ex->cl->cfg);
    ex_attempt(c, false);
}

/* Refuse a request whose head never became a request: count it, log it
 * (the access log too), answer and close. */
static void reject_head(gw_conn *c, int status, enum gw_err kind, const char *why)
{
    log_info("bad request from %s: %s", c->ip, why);
    gw_count(&c->w->stats.requests, 1);
    gw_count(&c->w->stats.errors[kind], 1);
    gw_count(&c->w->stats.responses[gw_status_class(status)], 1);
    c->close_after = true;
    buf out;
    buf_init(&out);
    h1_write_error(status, why, true, false, &out);
    gw_access_entry e = {.client_ip = c->ip, .major = 1, .minor = 1, .status = status,
                         .bytes_sent = out.len};
    accesslog_write(c->w->alog, &e);
    conn_write(c, out.data, out.len);
    buf_free(&out);
    conn_end(c);
}

/* The head could not be parsed or broke a limit. */
static void request_error(gw_conn *c)
{
    int status = c->req.err_status ? c->req.err_status : 400;
    enum gw_err kind = status == 414   ? GW_ERR_URL_TOO_LONG
                       : status == 431 ? GW_ERR_HEAD_TOO_LARGE
                       : status == 413 ? GW_ERR_BODY_TOO_LARGE
                       : status == 417 ? GW_ERR_EXPECTATION
                       : status == 501 ? GW_ERR_NOT_IMPLEMENTED
                       : status == 505 ? GW_ERR_BAD_VERSION
                                       : GW_ERR_BAD_REQUEST;
    reject_head(c, status, kind, c->req.err_reason ? c->req.err_reason : "malformed request");
}

/* Keep forwarded body bytes for a retry while that is still possible. */
static void keep_for_replay(gw_conn *c, const char *d, size_t n)
{
    gw_exch *ex = &c->ex;
    if (ex->replay_lost) return;
    if (ex->resp_head_done || ex->replay.len + n > GW_REPLAY_MAX) {
        ex->replay_lost = true;
        buf_free(&ex->replay);
        return;
    }
    buf_append(&ex->replay, d, n);
}

/* Body bytes may go up once the head is out and the upstream keeps up. */
static bool can_send_body(gw_conn *c)
{
    gw_exch *ex = &c->ex;
    return ex->up && ex->up->connected && ex->phase != X_CONNECTING && !ex->up_broken &&
           pool_queued(ex->up) <= GW_WRITE_HIGH;
}

/* One step over client bytes; returns how many were consumed. */
static size_t conn_consume(gw_conn *c, const char *d, size_t n)
{
    gw_exch *ex = &c->ex;
    size_t used = 0;
    if (c->closing || c->ending) return 0;
    if (!ex->active) {
        if (c->close_after) return 0;
        h1_ev ev = h1_feed(&c->req, d, n, &used);
        if (used > 0 && !c->head_timer_armed) {
            c->head_timer_armed = true;
            c->tmode = T_HEADER;
            deadline_set(&c->d_client, on_client_timer, now_ms(c),
                         listener_cfg(c)->header_timeout_ms);
        }
        if (ev == H1_ERROR) {
            request_error(c);
            return n;
        }
        if (ev == H1_HEAD) ex_start(c);
        return used;
    }
    if (ex->req_done || !can_send_body(c)) return 0;
    h1_ev ev = h1_feed(&c->req, d, n, &used);
    switch (ev) {
    case H1_BODY:
    case H1_DONE: {
        /* a chunked body goes up re-framed, without extensions or trailers */
        const char *fwd = c->req.head.chunked ? ex->chunked.data : d;
        size_t fwd_len = c->req.head.chunked ? ex->chunked.len : used;
        keep_for_replay(c, fwd, fwd_len);
        gw_upconn *u = ex->up;
        up_write(c, fwd, fwd_len);
        buf_reset(&ex->chunked);
        if (c->closing || !ex->active || ex->up != u) return used; /* the attempt failed */
        if (ev == H1_DONE) ex_request_sent(c);
        return used;
    }
    case H1_ERROR: {
        buf_reset(&ex->chunked);
        int status = c->req.err_status == 413 ? 413 : 400;
        c->close_after = true;
        ex_end_attempt(c, false);
        ex_reply_error(c, status, status == 413 ? GW_ERR_BODY_TOO_LARGE : GW_ERR_BAD_REQUEST,
                       c->req.err_reason);
        return n;
    }
    default:
        return used;
    }
}

static size_t pending_len(const gw_conn *c) { return c->pending.len - c->pending_off; }

/* Consume what can be consumed of d[0..n). */
static size_t conn_consume_all(gw_conn *c, const char *d, size_t n)
{
    size_t off = 0;
    while (off < n) {
        size_t used = conn_consume(c, d + off, n - off);
        if (used == 0) break;
        off += used;
    }
    return off;
}

static void conn_process_pending(gw_conn *c)
{
    if (c->in_process || c->closing) return;
    c->in_process = true;
    while (pending_len(c) > 0 && !c->closing) {
        size_t used = conn_consume_all(c, c->pending.data + c->pending_off, pending_len(c));
        if (used == 0) break;
        c->pending_off += used;
    }
    if (!c->closing && pending_len(c) == 0) {
        buf_reset(&c->pending);
        c->pending_off = 0;
    }
    c->in_process = false;
    if (!c->closing) conn_update_reading(c);
}

/* ---- client socket ---- */

static void on_client_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    gw_conn *c = h->data;
    b->base = c->w->scratch;
    b->len = 64 * 1024;
}

/* The client closed its side (or the connection broke). */
static void conn_on_eof(gw_conn *c, ssize_t n)
{
    gw_exch *ex = &c->ex;
    c->client_eof = true;
    c->reading = false;
    if (ex->active && n == UV_EOF && h1_done(&c->req)) {
        /* Half-close after a whole request: answer it, then close. */
        c->close_after = true;
        return;
    }
    if (ex->active) gw_count(&c->w->stats.client_aborts, 1);
    conn_close(c);
}

static void on_client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    gw_conn *c = s->data;
    if (n == 0 || c->closing) return;
    if (c->ending) { /* lingering: discard until the client closes */
        if (n < 0) conn_close(c);
        return;
    }
    if (n < 0) {
        conn_on_eof(c, n);
        return;
    }
    gw_count(&c->w->stats.bytes_from_clients, (uint64_t)n);
    if (c->ex.active) c->ex.last_io_ms = now_ms(c);
    if (pending_len(c) == 0 && !c->in_process) {
        c->in_process = true;
        size_t used = conn_consume_all(c, b->base, (size_t)n);
        c->in_process = false;
        if (c->closing) return;
        if (used < (size_t)n) buf_append(&c->pending, b->base + used, (size_t)n - used);
        conn_process_pending(c); /* a response may have finished meanwhile */
        return;
    }
    buf_append(&c->pending, b->base, (size_t)n);
    conn_process_pending(c);
}

static void conn_update_reading(gw_conn *c)
{
    gw_exch *ex = &c->ex;
    bool want = !c->closing && !c->client_eof;
    if (want && !c->ending) {
        want = pending_len(c) < GW_PENDING_MAX &&
               !(ex->active && ex->up && pool_queued(ex->up) > GW_WRITE_HIGH);
    }
    if (want == c->reading) return;
    if (want) uv_read_start((uv_stream_t *)&c->tcp, on_client_alloc, on_client_read);
    else uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = want;
}

static void on_client_timer(uv_timer_t *t)
{
    gw_conn *c = t->data;
    if (c->closing || !deadline_due(&c->d_client, on_client_timer, now_ms(c))) return;
    if (c->tmode == T_HEADER && !c->ex.active && !c->ending &&
        (c->req.head_bytes > 0 || c->req.state == H1S_BODY)) {
        /* slowloris: the head did not arrive in time */
        reject_head(c, 408, GW_ERR_HEAD_TIMEOUT, "request head not received in time");
        return;
    }
    conn_close(c); /* keep-alive idle, lingering over, or nothing ever sent */
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    gw_conn *c = req->data;
    if (c->closing) return;
    if (status < 0 || c->client_eof) conn_close(c);
}

/* No more responses on this connection: send FIN once the writes are out,
 * then discard input until the client closes or the linger time passes. */
static void conn_end(gw_conn *c)
{
    conn_uncork(c);
    if (c->closing || c->ending) return;
    c->ending = true;
    c->tmode = T_LINGER;
    deadline_set(&c->d_client, on_client_timer, now_ms(c), GW_LINGER_MS);
    c->sreq.data = c;
    if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        conn_close(c);
        return;
    }
    conn_update_reading(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    gw_conn *c = h->data;
    if (--c->open_handles > 0) return;
    gw_worker *w = c->w;
    if (c->prev) c->prev->next = c->next;
    else w->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    gw_gauge(&w->stats.conns_active, -1);
    h1_parser_free(&c->req);
    h1_parser_free(&c->ex.resp);
    buf_free(&c->ex.out);
    buf_free(&c->ex.replay);
    buf_free(&c->ex.chunked);
    buf_free(&c->cork);
    buf_free(&c->pending);
    hfree(c);
}

static void conn_close(gw_conn *c)
{
    if (c->closing) return;
    c->closing = true;
    if (c->ex.active) ex_close_books(c);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->d_client.t, on_handle_closed);
    uv_close((uv_handle_t *)&c->d_phase.t, on_handle_closed);
    uv_close((uv_handle_t *)&c->d_req.t, on_handle_closed);
}

static void peer_ip(gw_conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    snprintf(c->ip, sizeof(c->ip), "-");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0) return;
    if (ss.ss_family == AF_INET) uv_ip4_name((struct sockaddr_in *)&ss, c->ip, sizeof(c->ip));
    else if (ss.ss_family == AF_INET6) uv_ip6_name((struct sockaddr_in6 *)&ss, c->ip, sizeof(c->ip));
}

static void conn_init(gw_conn *c)
{
    const gw_listener_cfg *l = listener_cfg(c);
    h1_limits lim = {(uint64_t)l->max_header_bytes, (uint64_t)l->max_url_bytes,
                     (uint64_t)l->max_body_bytes};
    h1_parser_init(&c->req, H1_REQUEST, &lim);
    buf_init(&c->ex.chunked);
    c->req.chunked_out = &c->ex.chunked;
    h1_limits rlim = {H1_MAX_RESPONSE_HEAD, 0, 0};
    h1_parser_init(&c->ex.resp, H1_RESPONSE, &rlim);
    buf_init(&c->ex.out);
    buf_init(&c->pending);
    uv_tcp_nodelay(&c->tcp, 1);
    peer_ip(c);
    /* The first head must arrive within header_timeout of the accept. */
    c->tmode = T_HEADER;
    c->head_timer_armed = true;
    deadline_set(&c->d_client, on_client_timer, now_ms(c), l->header_timeout_ms);
}

static void free_unaccepted(uv_handle_t *h) { hfree(h->data); }

void proxy_accept(gw_worker *w, uv_stream_t *server, int listener)
{
    gw_conn *c = hcalloc(1, sizeof(*c));
    c->w = w;
    c->listener = listener;
    uv_tcp_init(&w->loop, &c->tcp);
    c->tcp.data = c;
    c->open_handles = 1;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, free_unaccepted);
        return;
    }
    uv_timer_t *timers[] = {&c->d_client.t, &c->d_phase.t, &c->d_req.t};
    for (int i = 0; i < 3; i++) {
        uv_timer_init(&w->loop, timers[i]);
        timers[i]->data = c;
        c->open_handles++;
    }
    c->next = w->conns;
    if (w->conns) w->conns->prev = c;
    w->conns = c;
    gw_count(&w->stats.conns_accepted, 1);
    gw_gauge(&w->stats.conns_active, 1);
    conn_init(c);
    conn_update_reading(c);
}

/* Draining: a connection in the middle of an exchange ends after its
 * response (or, if that response already promised keep-alive, gets the grace
 * below once it is complete). An idle one is not closed at once: its next request may already
 * be in flight or unread in the socket buffer (a brand-new connection during
 * a hand-over always is), and closing would reset it. Its client deadline
 * becomes GW_DRAIN_GRACE_MS from now; a request arriving in time is served
 * with "Connection: close" (every response sent while draining announces
 * it), and silence closes the connection as an idle keep-alive. */
void proxy_drain(gw_worker *w)
{
    for (gw_conn *c = w->conns; c; c = c->next) {
        if (c->closing) continue;
        if (c->ending || (c->ex.active && c->ex.resp_started))
            continue; /* ending, or keep-alive promised: ex_finish gives the grace */
        if (c->ex.active) {
            c->close_after = true; /* its response head will announce the close */
            continue;
        }
        /* A head already started keeps T_HEADER, so a slow one still gets 408. */
        if (!c->head_timer_armed) c->tmode = T_KEEPALIVE;
        deadline_set(&c->d_client, on_client_timer, now_ms(c), GW_DRAIN_GRACE_MS);
    }
}

void proxy_close_all(gw_worker *w)
{
    for (gw_conn *c = w->conns; c; c = c->next) conn_close(c);
}
