/* pool.c — per worker, per endpoint pools of keep-alive upstream connections. */
#include "pool.h"
#include "../common/log.h"
#include "../common/mem.h"

#include <string.h>

static gw_worker *W(gw_pool *p) { return p->st->w; }

void pool_init(gw_pool *p, gw_wstate *st, gw_wcluster *cl, int ep)
{
    memset(p, 0, sizeof(*p));
    p->st = st;
    p->cl = cl;
    p->ep = ep;
}

/* ---- idle list ---- */

static void idle_push(gw_pool *p, gw_upconn *u)
{
    u->prev = NULL;
    u->next = p->idle;
    if (p->idle) p->idle->prev = u;
    p->idle = u;
    p->nidle++;
    gw_gauge(&W(p)->stats.upstream_idle, 1);
}

static void idle_unlink(gw_pool *p, gw_upconn *u)
{
    if (u->prev) u->prev->next = u->next;
    else p->idle = u->next;
    if (u->next) u->next->prev = u->prev;
    u->next = u->prev = NULL;
    p->nidle--;
    gw_gauge(&W(p)->stats.upstream_idle, -1);
}

/* ---- closing ---- */

static void on_closed(uv_handle_t *h)
{
    gw_upconn *u = h->data;
    gw_wstate *st = u->pool->st;
    hfree(u);
    gw_wstate_upconn_closed(st);
}

/* Close a connection that is neither idle-listed nor counted busy any more. */
static void upconn_close(gw_upconn *u)
{
    if (u->closing) return;
    u->closing = true;
    u->owner = NULL;
    u->ops = NULL;
    uv_close((uv_handle_t *)&u->tcp, on_closed);
}

/* ---- reading ---- */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    gw_upconn *u = h->data;
    b->base = W(u->pool)->scratch;
    b->len = 64 * 1024;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    gw_upconn *u = s->data;
    if (n == 0 || u->closing) return;
    if (u->owner == NULL) {
        /* Idle: the upstream closed it or sent bytes nobody asked for. */
        idle_unlink(u->pool, u);
        upconn_close(u);
        return;
    }
    if (n > 0) gw_count(&W(u->pool)->stats.bytes_from_upstreams, (uint64_t)n);
    u->ops->on_read(u->owner, u, b->base, n);
}

void pool_read(gw_upconn *u, bool on)
{
    if (u->closing || !u->connected || on == u->reading) return;
    if (on) {
        if (uv_read_start((uv_stream_t *)&u->tcp, on_alloc, on_read) != 0) return;
    } else {
        uv_read_stop((uv_stream_t *)&u->tcp);
    }
    u->reading = on;
}

/* ---- writing ---- */

static void on_written(uv_stream_t *s, int status)
{
    gw_upconn *u = s->data;
    if (u->closing || u->owner == NULL) return;
    if (status < 0) {
        u->ops->on_writable(u->owner, u, status);
        return;
    }
    if (u->blocked && gw_queued(s) <= GW_WRITE_LOW) {
        u->blocked = false;
        u->ops->on_writable(u->owner, u, 0);
    }
}

int pool_write(gw_upconn *u, const void *data, size_t len)
{
    if (u->closing) return UV_ECANCELED;
    gw_count(&W(u->pool)->stats.bytes_to_upstreams, len);
    int rc = gw_write((uv_stream_t *)&u->tcp, data, len, on_written);
    if (gw_queued((uv_stream_t *)&u->tcp) > GW_WRITE_HIGH) u->blocked = true;
    return rc;
}

size_t pool_queued(gw_upconn *u) { return gw_queued((uv_stream_t *)&u->tcp); }

/* ---- connecting ---- */

static void on_connect(uv_connect_t *req, int status)
{
    gw_upconn *u = req->data;
    if (u->closing || u->owner == NULL) return; /* given up (timeout) and closing */
    if (status == 0) {
        u->connected = true;
        uv_tcp_nodelay(&u->tcp, 1);
        pool_read(u, true);
    }
    u->ops->on_ready(u->owner, u, status);
}

static int upconn_new(gw_pool *p, void *owner, const gw_upconn_ops *ops, gw_upconn **out)
{
    gw_worker *w = W(p);
    gw_upconn *u = hcalloc(1, sizeof(*u));
    u->pool = p;
    u->owner = owner;
    u->ops = ops;
    uv_tcp_init(&w->loop, &u->tcp);
    u->tcp.data = u;
    u->creq.data = u;
    p->st->open_upconns++;
    gw_count(&w->stats.upstream_connects, 1);
    const gw_endpoint_cfg *e = &p->cl->cfg->endpoints[p->ep];
    int rc = uv_tcp_connect(&u->creq, &u->tcp, (const struct sockaddr *)&e->addr, on_connect);
    if (rc != 0) {
        upconn_close(u);
        return rc;
    }
    *out = u;
    return 0;
}

int pool_acquire(gw_pool *p, void *owner, const gw_upconn_ops *ops, bool fresh, gw_upconn **out)
{
    gw_worker *w = W(p);
    *out = NULL;
    if (!fresh && p->idle) {
        gw_upconn *u = p->idle;
        idle_unlink(p, u);
        u->owner = owner;
        u->ops = ops;
        u->reused = true;
        p->nbusy++;
        gw_gauge(&w->stats.upstream_active, 1);
        gw_count(&w->stats.upstream_reused, 1);
        *out = u;
        return 0;
    }
    if (p->nbusy + p->nidle >= p->cl->cfg->pool.max_connections) {
        if (!p->idle) return UV_EBUSY;
        /* fresh wanted but the pool is full of idle ones: make room */
        gw_upconn *old = p->idle;
        idle_unlink(p, old);
        upconn_close(old);
    }
    int rc = upconn_new(p, owner, ops, out);
    if (rc != 0) return rc;
    p->nbusy++;
    gw_gauge(&w->stats.upstream_active, 1);
    return 0;
}

void pool_release(gw_upconn *u, bool reusable)
{
    gw_pool *p = u->pool;
    gw_worker *w = W(p);
    p->nbusy--;
    gw_gauge(&w->stats.upstream_active, -1);
    u->owner = NULL;
    u->ops = NULL;
    u->blocked = false;
    bool keep = reusable && u->connected && !u->closing && !p->st->retired && !w->draining &&
                !w->stopping && pool_queued(u) == 0;
    if (!keep) {
        upconn_close(u);
        return;
    }
    u->idle_since_ms = gw_now_ms(w);
    idle_push(p, u);
    pool_read(u, true);
}

void pool_sweep(gw_pool *p, int64_t now_ms, bool all)
{
    int64_t max_idle = p->cl->cfg->pool.idle_timeout_ms;
    gw_upconn *u = p->idle;
    while (u) {
        gw_upconn *next = u->next;
        if (all || now_ms - u->idle_since_ms >= max_idle) {
            idle_unlink(p, u);
            upconn_close(u);
        }
        u = next;
    }
}
