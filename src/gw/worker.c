/* worker.c — gateway worker threads: a loop each, own listening sockets, config swaps, drain. */
#include "worker.h"
#include "pool.h"
#include "proxy.h"
#include "../common/err.h"
#include "../common/log.h"
#include "../common/mem.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define GW_READ_BUF (64 * 1024)
#define GW_TICK_MS 1000
#define GW_DRAIN_TICK_MS 50
#define GW_LISTEN_BACKLOG 511

struct gw_workers {
    gw_worker *w;
    int n;
    int nlisteners;
    int *fds;                          /* [n * nlisteners] */
    uv_async_t exited;                 /* on the main loop: a worker stopped */
    atomic_int running;
    void (*on_exit)(void *);
    void *arg;
    pthread_mutex_t lock;              /* the mailboxes below, never the request path */
    struct mailbox {
        gw_snapshot *snap;
        bool drain, stop;
    } *mail;
};

/* ---- writes ---- */

typedef struct gw_wreq {
    uv_write_t req;
    gw_write_cb done;
    char data[];
} gw_wreq;

static void on_write_done(uv_write_t *req, int status)
{
    gw_wreq *r = (gw_wreq *)req;
    uv_stream_t *s = req->handle;
    gw_write_cb done = r->done;
    hfree(r);
    if (status != UV_ECANCELED && done) done(s, status);
}

int gw_write(uv_stream_t *s, const void *data, size_t len, gw_write_cb done)
{
    if (len == 0) return 0;
    size_t sent = 0;
    if (uv_stream_get_write_queue_size(s) == 0) {
        uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
        int n = uv_try_write(s, &b, 1);
        if (n < 0 && n != UV_EAGAIN) return n;
        if (n > 0) sent = (size_t)n;
        if (sent == len) return 0;
    }
    gw_wreq *r = hmalloc(sizeof(*r) + len - sent);
    r->done = done;
    memcpy(r->data, (const char *)data + sent, len - sent);
    uv_buf_t b = uv_buf_init(r->data, (unsigned)(len - sent));
    int rc = uv_write(&r->req, s, &b, 1, on_write_done);
    if (rc < 0) hfree(r);
    return rc;
}

/* ---- snapshots ---- */

static const gw_ep_health *find_health(const gw_snapshot *prev, const gw_cluster_cfg *cl,
                                       const gw_endpoint_cfg *e)
{
    if (prev == NULL) return NULL;
    for (int c = 0; c < prev->cfg->nclusters; c++) {
        const gw_cluster_cfg *pc = &prev->cfg->clusters[c];
        if (strcmp(pc->name, cl->name) != 0) continue;
        for (int i = 0; i < pc->nendpoints; i++)
            if (strcmp(pc->endpoints[i].address, e->address) == 0) return &prev->health[c][i];
    }
    return NULL;
}

gw_snapshot *gw_snapshot_new(gw_config *cfg, int nworkers, const gw_snapshot *prev)
{
    gw_snapshot *s = hcalloc(1, sizeof(*s));
    s->cfg = cfg;
    atomic_init(&s->refs, 1);
    s->nworkers = nworkers;
    s->health = hcalloc((size_t)cfg->nclusters + 1, sizeof(*s->health));
    s->ep_stats = hcalloc((size_t)cfg->nclusters + 1, sizeof(*s->ep_stats));
    for (int c = 0; c < cfg->nclusters; c++) {
        const gw_cluster_cfg *cl = &cfg->clusters[c];
        s->health[c] = hcalloc((size_t)cl->nendpoints, sizeof(gw_ep_health));
        s->ep_stats[c] = hcalloc((size_t)nworkers * (size_t)cl->nendpoints,
                                 sizeof(gw_endpoint_stats));
        for (int i = 0; i < cl->nendpoints; i++) {
            gw_ep_health *h = &s->health[c][i];
            const gw_ep_health *old = find_health(prev, cl, &cl->endpoints[i]);
            atomic_init(&h->active_ok, old ? atomic_load(&old->active_ok) : true);
            atomic_init(&h->ejected_until_ms, old ? atomic_load(&old->ejected_until_ms) : 0);
            atomic_init(&h->ejections, old ? atomic_load(&old->ejections) : 0);
        }
    }
    s->route_stats = hcalloc((size_t)nworkers * (size_t)cfg->nroutes + 1, sizeof(gw_route_stats));
    return s;
}

void gw_snapshot_ref(gw_snapshot *s) { atomic_fetch_add(&s->refs, 1); }

void gw_snapshot_unref(gw_snapshot *s)
{
    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1) return;
    for (int c = 0; c < s->cfg->nclusters; c++) {
        hfree(s->health[c]);
        hfree(s->ep_stats[c]);
    }
    hfree(s->health);
    hfree(s->ep_stats);
    hfree(s->route_stats);
    gw_config_free(s->cfg);
    hfree(s);
}

/* ---- per-worker state of a snapshot ---- */

static void wcluster_init(gw_wstate *st, gw_wcluster *cl, int index)
{
    const gw_cluster_cfg *cc = &st->snap->cfg->clusters[index];
    int n = cc->nendpoints;
    cl->index = index;
    cl->cfg = cc;
    int *weights = hcalloc((size_t)n + 1, sizeof(int));
    const char **keys = hcalloc((size_t)n + 1, sizeof(char *));
    for (int i = 0; i < n; i++) {
        weights[i] = cc->endpoints[i].weight;
        keys[i] = cc->endpoints[i].address; /* identity: hashing survives list edits */
    }
    cl->lb = lb_new_keyed(cc->lb, weights, keys, n);
    hfree(weights);
    hfree(keys);
    cl->pools = hcalloc((size_t)n, sizeof(gw_pool));
    for (int i = 0; i < n; i++) pool_init(&cl->pools[i], st, cl, i);
    cl->outlier = hcalloc((size_t)n, sizeof(outlier_state));
    cl->active = hcalloc((size_t)n, sizeof(uint32_t));
    cl->usable = hcalloc((size_t)n, sizeof(bool));
    cl->eligible = hcalloc((size_t)n, sizeof(bool));
    cl->health = st->snap->health[index];
}

static gw_wstate *wstate_new(gw_worker *w, gw_snapshot *snap)
{
    gw_wstate *st = hcalloc(1, sizeof(*st));
    const gw_config *cfg = snap->cfg;
    gw_snapshot_ref(snap);
    st->snap = snap;
    st->w = w;
    st->refs = 1;
    st->clusters = hcalloc((size_t)cfg->nclusters + 1, sizeof(gw_wcluster));
    for (int i = 0; i < cfg->nclusters; i++) wcluster_init(st, &st->clusters[i], i);
    st->budgets = hcalloc((size_t)cfg->nroutes + 1, sizeof(retry_budget));
    for (int i = 0; i < cfg->nroutes; i++) retry_budget_init(&st->budgets[i]);
    return st;
}

static void wstate_free(gw_wstate *st)
{
    for (int i = 0; i < st->snap->cfg->nclusters; i++) {
        gw_wcluster *cl = &st->clusters[i];
        lb_free(cl->lb);
        hfree(cl->pools);
        hfree(cl->outlier);
        hfree(cl->active);
        hfree(cl->usable);
        hfree(cl->eligible);
    }
    hfree(st->clusters);
    hfree(st->budgets);
    gw_snapshot_unref(st->snap);
    hfree(st);
}

void gw_wstate_ref(gw_wstate *st) { st->refs++; }

void gw_wstate_unref(gw_wstate *st)
{
    if (--st->refs == 0 && st->open_upconns == 0) wstate_free(st);
}

void gw_wstate_upconn_closed(gw_wstate *st)
{
    if (--st->open_upconns == 0 && st->refs == 0) wstate_free(st);
}

/* A newer state took over: idle connections go now, busy ones when released. */
static void wstate_retire(gw_wstate *st)
{
    st->retired = true;
    for (int i = 0; i < st->snap->cfg->nclusters; i++)
        for (int e = 0; e < st->clusters[i].cfg->nendpoints; e++)
            pool_sweep(&st->clusters[i].pools[e], 0, true);
    gw_wstate_unref(st);
}

/* ---- listening sockets ---- */

static int listen_one(const gw_listener_cfg *l, buf *err)
{
    int one = 1;
    int fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) goto fail;
    /* SO_REUSEPORT: one socket per worker, the kernel spreads connections;
     * also lets a new process bind next to an old one during a hand-over. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
        goto fail_fd;
    if (l->addr.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)&l->addr, l->addrlen) != 0) goto fail_fd;
    if (listen(fd, GW_LISTEN_BACKLOG) != 0) goto fail_fd;
    return fd;
fail_fd:;
    int e = errno;
    close(fd);
    errno = e;
fail:
    buf_printf(err, "cannot listen on %s (listener %s): %s", l->address, l->name, strerror(errno));
    return -1;
}

int gw_listen_open_all(const gw_config *cfg, int nworkers, int *fds, buf *err)
{
    int n = nworkers * cfg->nlisteners, rc = 0;
    bool *mine = hcalloc((size_t)n + 1, sizeof(bool));
    for (int i = 0; i < n && rc == 0; i++) {
        if (fds[i] >= 0) continue; /* received in a hand-over */
        fds[i] = listen_one(&cfg->listeners[i % cfg->nlisteners], err);
        mine[i] = fds[i] >= 0;
        if (fds[i] < 0) rc = -1;
    }
    for (int i = 0; i < n && rc != 0; i++) /* undo what this call opened */
        if (mine[i]) {
            close(fds[i]);
            fds[i] = -1;
        }
    hfree(mine);
    return rc;
}

/* ---- worker thread ---- */

static void on_connection(uv_stream_t *server, int status)
{
    gw_worker *w = server->data;
    if (status < 0) {
        log_warn("accept failed: %s", uv_strerror(status));
        return;
    }
    if (w->draining) return;
    proxy_accept(w, server, (int)((uv_tcp_t *)server - w->listeners));
}

static void close_listeners(gw_worker *w)
{
    if (!w->listening) return;
    w->listening = false;
    for (int i = 0; i < w->nlisteners; i++) uv_close((uv_handle_t *)&w->listeners[i], NULL);
}

static void worker_shutdown(gw_worker *w)
{
    if (w->state == NULL) return;
    close_listeners(w);
    uv_close((uv_handle_t *)&w->tick, NULL);
    uv_close((uv_handle_t *)&w->wake, NULL);
    wstate_retire(w->state);
    w->state = NULL;
}

static void sweep_pools(gw_worker *w, bool all)
{
    gw_wstate *st = w->state;
    int64_t now = gw_now_ms(w);
    for (int i = 0; i < st->snap->cfg->nclusters; i++)
        for (int e = 0; e < st->clusters[i].cfg->nendpoints; e++)
            pool_sweep(&st->clusters[i].pools[e], now, all);
}

static void on_tick(uv_timer_t *t)
{
    gw_worker *w = t->data;
    if (w->state == NULL) return;
    if (w->draining && w->conns == NULL) {
        worker_shutdown(w);
        return;
    }
    sweep_pools(w, w->draining);
}

static void worker_drain(gw_worker *w)
{
    if (w->draining) return;
    w->draining = true;
    close_listeners(w);
    proxy_drain(w);
    sweep_pools(w, true);
    uv_timer_start(&w->tick, on_tick, GW_DRAIN_TICK_MS, GW_DRAIN_TICK_MS);
}

static void worker_stop(gw_worker *w)
{
    w->draining = w->stopping = true;
    proxy_close_all(w);
    worker_shutdown(w);
}

static void worker_swap(gw_worker *w, gw_snapshot *snap)
{
    gw_wstate *old = w->state;
    w->state = wstate_new(w, snap);
    wstate_retire(old);
}

static void on_wake(uv_async_t *a)
{
    gw_worker *w = a->data;
    gw_workers *ws = w->ws;
    pthread_mutex_lock(&ws->lock);
    struct mailbox m = ws->mail[w->id];
    memset(&ws->mail[w->id], 0, sizeof(m));
    pthread_mutex_unlock(&ws->lock);
    if (w->state == NULL) { /* already shut down */
        gw_snapshot_unref(m.snap);
        return;
    }
    if (m.snap) {
        worker_swap(w, m.snap);
        gw_snapshot_unref(m.snap);
    }
    if (m.stop) worker_stop(w);
    else if (m.drain) worker_drain(w);
}

static void worker_main(void *arg)
{
    gw_worker *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    atomic_fetch_sub(&w->ws->running, 1);
    uv_async_send(&w->ws->exited);
}

static void on_exited(uv_async_t *a)
{
    gw_workers *ws = a->data;
    if (atomic_load(&ws->running) != 0 || ws->on_exit == NULL) return;
    void (*cb)(void *) = ws->on_exit;
    ws->on_exit = NULL;
    uv_close((uv_handle_t *)&ws->exited, NULL); /* the main loop may end now */
    cb(ws->arg);
}

static int worker_init(gw_workers *ws, gw_worker *w, gw_snapshot *snap, const int *fds,
                       struct gw_accesslog *alog)
{
    uv_loop_init(&w->loop);
    w->ws = ws;
    w->alog = alog;
    w->scratch = hmalloc(GW_READ_BUF);
    uv_async_init(&w->loop, &w->wake, on_wake);
    w->wake.data = w;
    uv_timer_init(&w->loop, &w->tick);
    w->tick.data = w;
    uv_timer_start(&w->tick, on_tick, GW_TICK_MS, GW_TICK_MS);
    w->nlisteners = ws->nlisteners;
    w->listeners = hcalloc((size_t)w->nlisteners + 1, sizeof(uv_tcp_t));
    for (int l = 0; l < w->nlisteners; l++) {
        uv_tcp_t *t = &w->listeners[l];
        uv_tcp_init(&w->loop, t);
        t->data = w;
        int rc = uv_tcp_open(t, fds[l]);
        if (rc == 0) rc = uv_listen((uv_stream_t *)t, GW_LISTEN_BACKLOG, on_connection);
        if (rc != 0) {
            log_error("worker %d: cannot serve listener %s: %s", w->id,
                      snap->cfg->listeners[l].name, uv_strerror(rc));
            return -HALO_EIO;
        }
    }
    w->listening = true;
    w->state = wstate_new(w, snap);
    return 0;
}

int gw_workers_start(gw_workers **out, uv_loop_t *main_loop, gw_snapshot *snap, int nworkers,
                     const int *fds, struct gw_accesslog *alog, void (*on_exit)(void *),
                     void *arg)
{
    gw_workers *ws = hcalloc(1, sizeof(*ws));
    ws->n = nworkers;
    ws->nlisteners = snap->cfg->nlisteners;
    ws->fds = hmemdup(fds, sizeof(int) * (size_t)(nworkers * ws->nlisteners));
    ws->on_exit = on_exit;
    ws->arg = arg;
    ws->w = hcalloc((size_t)nworkers, sizeof(gw_worker));
    ws->mail = hcalloc((size_t)nworkers, sizeof(*ws->mail));
    pthread_mutex_init(&ws->lock, NULL);
    uv_async_init(main_loop, &ws->exited, on_exited);
    ws->exited.data = ws;
    for (int i = 0; i < nworkers; i++) {
        ws->w[i].id = i;
        if (worker_init(ws, &ws->w[i], snap, fds + i * ws->nlisteners, alog) != 0) {
            log_error("cannot start worker %d", i);
            abort(); /* start-up only: the listening sockets were just checked */
        }
    }
    atomic_init(&ws->running, nworkers);
    for (int i = 0; i < nworkers; i++)
        if (uv_thread_create(&ws->w[i].thread, worker_main, &ws->w[i]) != 0) {
            log_error("cannot create worker thread %d", i);
            abort();
        }
    *out = ws;
    return 0;
}

static void post(gw_workers *ws, gw_snapshot *snap, bool drain, bool stop)
{
    for (int i = 0; i < ws->n; i++) {
        pthread_mutex_lock(&ws->lock);
        struct mailbox *m = &ws->mail[i];
        if (snap) {
            gw_snapshot_unref(m->snap);
            gw_snapshot_ref(snap);
            m->snap = snap;
        }
        m->drain |= drain;
        m->stop |= stop;
        pthread_mutex_unlock(&ws->lock);
        uv_async_send(&ws->w[i].wake);
    }
}

void gw_workers_apply_config(gw_workers *ws, gw_snapshot *snap) { post(ws, snap, false, false); }
void gw_workers_drain(gw_workers *ws) { post(ws, NULL, true, false); }
void gw_workers_stop(gw_workers *ws) { post(ws, NULL, false, true); }

void gw_workers_free(gw_workers *ws)
{
    for (int i = 0; i < ws->n; i++) {
        gw_worker *w = &ws->w[i];
        uv_thread_join(&w->thread);
        uv_loop_close(&w->loop);
        hfree(w->listeners);
        hfree(w->scratch);
        gw_snapshot_unref(ws->mail[i].snap);
    }
    pthread_mutex_destroy(&ws->lock);
    hfree(ws->w);
    hfree(ws->mail);
    hfree(ws->fds);
    hfree(ws);
}

int gw_workers_count(const gw_workers *ws) { return ws->n; }
gw_worker_stats *gw_workers_stats(gw_workers *ws, int worker) { return &ws->w[worker].stats; }
const int *gw_workers_listen_fds(const gw_workers *ws) { return ws->fds; }
