/* admin.h — the gateway's admin API: /metrics, /status, /healthz, POST /reload and /drain. */
#ifndef HALO_GW_ADMIN_H
#define HALO_GW_ADMIN_H

#include "../common/buf.h"

#include <stdbool.h>
#include <sys/socket.h>
#include <uv.h>

/* Limits, timeouts and the request parsing are the shared listener's
 * (metrics/admin_http.h): ADMIN_HTTP_READ_TIMEOUT_MS, ADMIN_HTTP_MAX_CONNS,
 * HALO_MAX_HTTP_REQUEST (413/431 past it), ADMIN_REQ_MAX_URL (414). */

/* What the owner provides; every callback runs on the admin loop's thread,
 * between I/O callbacks, so it may touch anything the main thread owns.
 * render_metrics and render_status append to out (the admin module adds its
 * own halo_gw_admin_* families after the metrics). reload returns 0 when the
 * new configuration was applied, or nonzero with a message for the operator
 * in err (sent back with status 400). drain may be NULL (POST /drain then
 * answers 404); it starts a drain and returns at once. While draining()
 * returns true, GET /healthz answers 503 "draining", so a load balancer in
 * front of the gateways moves traffic away before the process exits. */
typedef struct gw_admin_ops {
    void (*render_metrics)(void *ctx, buf *out);
    void (*render_status)(void *ctx, buf *out);
    int (*reload)(void *ctx, buf *err);
    void (*drain)(void *ctx);
    bool (*draining)(void *ctx); /* NULL = never; true makes /healthz answer 503 */
} gw_admin_ops;

typedef struct gw_admin gw_admin;

/* Listen on addr on loop and serve until gw_admin_stop. ops is copied; ctx
 * is passed to every callback. Returns NULL with the reason in err. */
gw_admin *gw_admin_start(uv_loop_t *loop, const struct sockaddr *addr, const gw_admin_ops *ops,
                         void *ctx, buf *err);
/* The same on an already bound and listening TCP socket (one received in a
 * process hand-over); ownership of fd passes in every case. */
gw_admin *gw_admin_start_fd(uv_loop_t *loop, int fd, const gw_admin_ops *ops, void *ctx,
                            buf *err);
/* The listening socket's fd (to offer in a hand-over), or -1. */
int gw_admin_fd(const gw_admin *a);
/* Close the listener and every admin connection. The memory is released by
 * the last close callback, so the loop must run once more (uv_run after the
 * workers exit does). Safe to call from inside an ops callback and with NULL;
 * a stopped admin is not touched again. */
void gw_admin_stop(gw_admin *a);

#endif
