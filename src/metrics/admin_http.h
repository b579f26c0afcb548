/* admin_http.h — the admin/metrics HTTP/1.1 listener both services run; routes from its owner. */
#ifndef HALO_ADMIN_HTTP_H
#define HALO_ADMIN_HTTP_H

#include "../common/buf.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

/* Limits. A request (head and body) is at most HALO_MAX_HTTP_REQUEST bytes
 * (common/limits.h), its target at most ADMIN_REQ_MAX_URL (admin_req.h). */
/* The whole request must arrive within this, counted from accept: a client
 * trickling bytes cannot hold a connection longer. */
#define ADMIN_HTTP_READ_TIMEOUT_MS 5000
/* Time to send the response and see the peer close after it. */
#define ADMIN_HTTP_WRITE_TIMEOUT_MS 5000
/* More connections than this at once are accepted and closed at once: a
 * scraper needs one, an operator a few, and each holds a response buffer. */
#define ADMIN_HTTP_MAX_CONNS 64
/* Routes one listener serves at most (they are copied into it). */
#define ADMIN_HTTP_MAX_ROUTES 8

#define ADMIN_HTTP_TEXT "text/plain; charset=utf-8"

/* The answer a route handler fills in. */
typedef struct admin_http_resp {
    int status;                /* preset 200; reason phrases: reason_of() in admin_http.c */
    const char *content_type;  /* preset ADMIN_HTTP_TEXT; must outlive the listener (a literal) */
    buf body;                  /* preset empty; the handler appends */
} admin_http_resp;

typedef enum admin_http_method { ADMIN_HTTP_GET, ADMIN_HTTP_POST } admin_http_method;

/* One resource: an exact path (the query string is ignored) and a method. A
 * GET route also answers HEAD, with the same headers and no body. A path
 * served with another method answers 405 with Allow; an unknown path 404.
 * handle runs on the listener's loop thread between I/O callbacks, so it may
 * touch whatever that thread owns, and may call admin_http_stop. */
typedef struct admin_http_route {
    admin_http_method method;
    const char *path;          /* must outlive the listener (a literal) */
    void (*handle)(void *ctx, admin_http_resp *r);
} admin_http_route;

/* What the owner provides; the struct and the routes are copied. name
 * prefixes log lines and start errors ("admin", "metrics"). closed, if not
 * NULL, runs once when a started listener has released everything after
 * admin_http_stop; ctx is not used after it, so it may free ctx. */
typedef struct admin_http_ops {
    const char *name;
    const admin_http_route *routes;
    size_t nroutes;            /* at most ADMIN_HTTP_MAX_ROUTES */
    void *ctx;
    void (*closed)(void *ctx);
} admin_http_ops;

typedef struct admin_http admin_http;

/* Listen on addr on loop and serve until admin_http_stop. Returns NULL with
 * the reason in err (closed is then never called; the loop must still run
 * once to release the listener's own memory). */
admin_http *admin_http_start(uv_loop_t *loop, const struct sockaddr *addr,
                             const admin_http_ops *ops, buf *err);
/* The same on an already bound and listening TCP socket (one received in a
 * process hand-over); ownership of fd passes in every case. */
admin_http *admin_http_start_fd(uv_loop_t *loop, int fd, const admin_http_ops *ops, buf *err);
/* The listening socket's fd (to offer in a hand-over), or -1 once stopping. */
int admin_http_fd(const admin_http *h);
/* Close the listener and every connection. The memory is released by the
 * last close callback (then ops.closed runs), so the loop must run once
 * more. Safe with NULL, twice, and from inside a handler. */
void admin_http_stop(admin_http *h);

/* Counters of the listener itself; each owner renders them under its prefix. */
typedef struct admin_http_stats {
    uint64_t requests;      /* requests answered (any status), counted before the handler runs */
    uint64_t rejected;      /* connections closed at once: over ADMIN_HTTP_MAX_CONNS */
    uint64_t bad_requests;  /* 400/413/414/431 answers */
} admin_http_stats;
void admin_http_get_stats(const admin_http *h, admin_http_stats *out);

#endif
