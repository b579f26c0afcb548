/* pool.h — per worker, per endpoint pools of keep-alive upstream connections. */
#ifndef HALO_GW_POOL_H
#define HALO_GW_POOL_H

#include "worker.h"

#include <stdbool.h>
#include <uv.h>

typedef struct gw_upconn gw_upconn;

/* Events for the user of a connection (a request in progress). None is
 * delivered after the user gave the connection back with pool_release. */
typedef struct gw_upconn_ops {
    /* A new connection is established (status 0) or failed (negative). */
    void (*on_ready)(void *owner, gw_upconn *u, int status);
    /* Bytes from the upstream (n > 0), or its end (n < 0: UV_EOF or an error). */
    void (*on_read)(void *owner, gw_upconn *u, const char *data, ssize_t n);
    /* The write queue fell below GW_WRITE_LOW after passing GW_WRITE_HIGH
     * (status 0), or a write failed (negative). */
    void (*on_writable)(void *owner, gw_upconn *u, int status);
} gw_upconn_ops;

/* One upstream connection. While idle it sits in its pool's list with
 * reading on, so a close or stray bytes from the upstream retire it at once. */
struct gw_upconn {
    uv_tcp_t tcp;
    uv_connect_t creq;
    gw_pool *pool;
    gw_upconn *next, *prev;            /* idle list, most recently used first */
    void *owner;                       /* NULL while idle or closing */
    const gw_upconn_ops *ops;
    int64_t idle_since_ms;
    unsigned requests;                 /* requests sent on it so far */
    bool connected, reused, closing, reading, blocked;
};

struct gw_pool {
    gw_wstate *st;
    gw_wcluster *cl;
    int ep;
    gw_upconn *idle;                   /* list head */
    int nidle, nbusy;                  /* busy: connecting or lent out */
};

void pool_init(gw_pool *p, gw_wstate *st, gw_wcluster *cl, int ep);

/* A connection for owner in *out: an idle one (u->connected, u->reused), or a
 * new one being connected (on_ready follows). fresh: do not reuse an idle
 * one. Returns 0, UV_EBUSY when the pool already holds max_connections, or
 * the error of a connect that failed at once. */
int pool_acquire(gw_pool *p, void *owner, const gw_upconn_ops *ops, bool fresh, gw_upconn **out);

/* Give a connection back. reusable: it is between messages and may serve
 * another request; it is pooled unless its state is retired, the worker is
 * draining or the pool is full. Otherwise it is closed. */
void pool_release(gw_upconn *u, bool reusable);

/* Queue bytes to the upstream (see gw_write). Returns 0 or a libuv error. */
int pool_write(gw_upconn *u, const void *data, size_t len);
size_t pool_queued(gw_upconn *u);
/* Start or stop reading (back-pressure from the client side). */
void pool_read(gw_upconn *u, bool on);

/* Close idle connections idle for the pool's idle_timeout (all: every one). */
void pool_sweep(gw_pool *p, int64_t now_ms, bool all);

#endif
