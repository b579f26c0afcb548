/* admin.c — the gateway's admin routes on the shared listener (metrics/admin_http.c). */
#include "admin.h"
#include "gw_metrics.h"
#include "../common/mem.h"
#include "../metrics/admin_http.h"
#include "../metrics/prom.h"

#include <string.h>

struct gw_admin {
    gw_admin_ops ops;
    void *ctx;
    admin_http *http;
    bool stopped;        /* gw_admin_stop ran: http is released by the loop, not ours */
};

static void render_admin_stats(gw_admin *a, buf *b)
{
    admin_http_stats st;
    admin_http_get_stats(a->http, &st);
    prom_counter(b, "halo_gw_admin_requests_total", "Admin requests answered.", st.requests);
    prom_counter(b, "halo_gw_admin_bad_requests_total",
                 "Admin requests refused as malformed or too large.", st.bad_requests);
    prom_counter(b, "halo_gw_admin_rejected_connections_total",
                 "Admin connections closed at once: too many were open.", st.rejected);
}

/* ---- routes ---- */

static void on_metrics(void *ctx, admin_http_resp *r)
{
    gw_admin *a = ctx;
    r->content_type = GW_METRICS_CONTENT_TYPE;
    if (a->ops.render_metrics) a->ops.render_metrics(a->ctx, &r->body);
    render_admin_stats(a, &r->body);
}

static void on_status(void *ctx, admin_http_resp *r)
{
    gw_admin *a = ctx;
    r->content_type = "application/json";
    if (a->ops.render_status) a->ops.render_status(a->ctx, &r->body);
    else buf_append_str(&r->body, "{}\n");
}

static void on_healthz(void *ctx, admin_http_resp *r)
{
    gw_admin *a = ctx;
    bool draining = a->ops.draining && a->ops.draining(a->ctx);
    r->status = draining ? 503 : 200;
    buf_append_str(&r->body, draining ? "draining\n" : "ok\n");
}

static void on_reload(void *ctx, admin_http_resp *r)
{
    gw_admin *a = ctx;
    buf err;
    buf_init(&err);
    int rc = a->ops.reload ? a->ops.reload(a->ctx, &err) : -1;
    if (rc == 0) {
        buf_append_str(&r->body, "reloaded\n");
    } else {
        r->status = 400;
        if (err.len == 0) buf_append_str(&r->body, "reload is not available");
        buf_append(&r->body, err.data, err.len);
        buf_append(&r->body, "\n", 1);
    }
    buf_free(&err);
}

static void on_drain(void *ctx, admin_http_resp *r)
{
    gw_admin *a = ctx;
    a->ops.drain(a->ctx);
    r->status = 202;
    buf_append_str(&r->body, "draining\n");
}

/* ---- lifetime ---- */

static void on_closed(void *ctx) { hfree(ctx); }

/* The listener's ops for a: POST /drain only when the owner can drain. */
static gw_admin *admin_new(const gw_admin_ops *ops, void *ctx, admin_http_ops *hops,
                           admin_http_route *routes)
{
    gw_admin *a = hcalloc(1, sizeof(*a));
    if (ops) a->ops = *ops;
    a->ctx = ctx;
    size_t n = 0;
    routes[n++] = (admin_http_route){ADMIN_HTTP_GET, "/metrics", on_metrics};
    routes[n++] = (admin_http_route){ADMIN_HTTP_GET, "/status", on_status};
    routes[n++] = (admin_http_route){ADMIN_HTTP_GET, "/healthz", on_healthz};
    routes[n++] = (admin_http_route){ADMIN_HTTP_POST, "/reload", on_reload};
    if (a->ops.drain) routes[n++] = (admin_http_route){ADMIN_HTTP_POST, "/drain", on_drain};
    *hops = (admin_http_ops){"admin", routes, n, a, on_closed};
    return a;
}

/* a's listener started (or not); a is freed by its closed callback, or here. */
static gw_admin *admin_started(gw_admin *a, admin_http *http)
{
    if (http == NULL) {
        hfree(a);
        return NULL;
    }
    a->http = http;
    return a;
}

gw_admin *gw_admin_start(uv_loop_t *loop, const struct sockaddr *addr, const gw_admin_ops *ops,
                         void *ctx, buf *err)
{
    admin_http_ops hops;
    admin_http_route routes[ADMIN_HTTP_MAX_ROUTES];
    gw_admin *a = admin_new(ops, ctx, &hops, routes);
    return admin_started(a, admin_http_start(loop, addr, &hops, err));
}

gw_admin *gw_admin_start_fd(uv_loop_t *loop, int fd, const gw_admin_ops *ops, void *ctx,
                            buf *err)
{
    admin_http_ops hops;
    admin_http_route routes[ADMIN_HTTP_MAX_ROUTES];
    gw_admin *a = admin_new(ops, ctx, &hops, routes);
    return admin_started(a, admin_http_start_fd(loop, fd, &hops, err));
}

int gw_admin_fd(const gw_admin *a)
{
    return a == NULL || a->stopped ? -1 : admin_http_fd(a->http);
}

void gw_admin_stop(gw_admin *a)
{
    if (a == NULL || a->stopped) return;
    a->stopped = true;
    admin_http_stop(a->http); /* a is freed by on_closed once the listener is released */
}
