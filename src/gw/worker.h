/* worker.h — gateway worker threads, config snapshots and shared endpoint health. */
#ifndef HALO_GW_WORKER_H
#define HALO_GW_WORKER_H

#include "../common/buf.h"
#include "gw_config.h"
#include "gw_stats.h"
#include "health.h"
#include "lb.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <uv.h>

/* Above this many queued bytes on one side, the gateway stops reading the
 * other side (back-pressure); it reads again below the low mark. */
#define GW_WRITE_HIGH (256 * 1024)
#define GW_WRITE_LOW (64 * 1024)

/* Client bytes read ahead of what the current request can use (pipelined
 * requests, body bytes while the upstream connects) are held up to this. */
#define GW_PENDING_MAX (64 * 1024)

/* ---- shared across threads ---- */

/* Health of one endpoint as every worker sees it. The active checker (main
 * thread) writes active_ok; a worker that ejects the endpoint publishes the
 * ejection with a compare-and-swap on ejected_until_ms. Relaxed atomics:
 * a worker acting on a value a few microseconds old is harmless. */
typedef struct gw_ep_health {
    _Atomic bool active_ok;            /* last active-check verdict (true without checks) */
    _Atomic int64_t ejected_until_ms;  /* passive ejection end (uv_now clock), 0 = none */
    _Atomic int ejections;             /* ejections so far (drives the back-off) */
} gw_ep_health;

/* An immutable, reference-counted configuration with the state that lives
 * as long as it: shared endpoint health and per-worker statistics. Workers
 * hold a reference while they serve it; a reload makes a new snapshot
 * (carrying health over) and hands it to the workers with
 * gw_workers_apply_config. */
typedef struct gw_snapshot {
    gw_config *cfg;                    /* owned */
    _Atomic int refs;
    int nworkers;
    gw_ep_health **health;             /* [cluster][endpoint] */
    gw_route_stats *route_stats;       /* [worker * nroutes + route] */
    gw_endpoint_stats **ep_stats;      /* [cluster][worker * nendpoints + endpoint] */
} gw_snapshot;

/* Build a snapshot owning cfg (ownership passes always). Endpoint health
 * starts healthy, or is copied from prev for endpoints with the same cluster
 * name and address. One reference is returned to the caller. */
gw_snapshot *gw_snapshot_new(gw_config *cfg, int nworkers, const gw_snapshot *prev);
void gw_snapshot_ref(gw_snapshot *s);
void gw_snapshot_unref(gw_snapshot *s);
static inline gw_route_stats *gw_snapshot_route_stats(gw_snapshot *s, int worker, int route)
{
    return &s->route_stats[worker * s->cfg->nroutes + route];
}
static inline gw_endpoint_stats *gw_snapshot_endpoint_stats(gw_snapshot *s, int worker,
                                                            int cluster, int ep)
{
    return &s->ep_stats[cluster][worker * s->cfg->clusters[cluster].nendpoints + ep];
}

/* ---- the worker pool (main thread API) ---- */

typedef struct gw_workers gw_workers;
struct gw_accesslog;

/* Open the listening sockets: one SO_REUSEPORT socket per worker per
 * listener, fds[w * nlisteners + l]. Slots already >= 0 (sockets received in
 * a process hand-over) are kept; the others must be -1 and are opened.
 * Returns 0, or -1 with the reason in err (what this call opened is closed
 * again and set back to -1). */
int gw_listen_open_all(const gw_config *cfg, int nworkers, int *fds, buf *err);

/* Start nworkers threads serving snap (one reference is taken) on the given
 * listening fds (ownership passes). on_exit(arg) runs on main_loop once all
 * workers have stopped. Returns 0 or a negative HALO_E* code. */
int gw_workers_start(gw_workers **out, uv_loop_t *main_loop, gw_snapshot *snap, int nworkers,
                     const int *fds, struct gw_accesslog *alog, void (*on_exit)(void *),
                     void *arg);
/* Swap in a new configuration at each worker's next safe point: requests in
 * flight finish on the old snapshot, new requests use the new one. The new
 * snapshot must have the same listeners (same count and order) and workers. */
void gw_workers_apply_config(gw_workers *ws, gw_snapshot *snap);
/* Stop accepting; finish requests in flight; close connections as they go idle. */
void gw_workers_drain(gw_workers *ws);
/* Close everything now (the drain deadline passed). */
void gw_workers_stop(gw_workers *ws);
/* Join the threads and free everything (after on_exit ran and the main
 * loop processed the close it made). */
void gw_workers_free(gw_workers *ws);
int gw_workers_count(const gw_workers *ws);
gw_worker_stats *gw_workers_stats(gw_workers *ws, int worker);
/* The listening fds workers serve, [w * nlisteners + l] (for a hand-over). */
const int *gw_workers_listen_fds(const gw_workers *ws);

/* ---- worker internals shared by proxy.c and pool.c ---- */

typedef struct gw_worker gw_worker;
typedef struct gw_pool gw_pool;
typedef struct gw_wstate gw_wstate;

/* One cluster as one worker serves it under one snapshot. */
typedef struct gw_wcluster {
    int index;
    const gw_cluster_cfg *cfg;
    gw_lb *lb;
    gw_pool *pools;                    /* [nendpoints] */
    outlier_state *outlier;            /* [nendpoints] this worker's streaks */
    uint32_t *active;                  /* [nendpoints] attempts in flight from this worker */
    bool *usable, *eligible;           /* [nendpoints] scratch for picking */
    gw_ep_health *health;              /* [nendpoints] shared */
} gw_wcluster;

/* What one worker builds from one snapshot. refs: 1 while current, plus one
 * per request in flight; freed when no reference and no upstream connection
 * of its pools is left. */
struct gw_wstate {
    gw_snapshot *snap;
    gw_worker *w;
    int refs;
    int open_upconns;                  /* upstream connections of its pools */
    bool retired;                      /* a newer state is current */
    gw_wcluster *clusters;             /* [nclusters] */
    retry_budget *budgets;             /* [nroutes] */
};

struct gw_worker {
    int id;
    gw_workers *ws;
    uv_thread_t thread;
    uv_loop_t loop;
    uv_async_t wake;                   /* mailbox: new snapshot, drain, stop */
    uv_timer_t tick;                   /* once a second: pool idle sweep */
    uv_tcp_t *listeners;               /* [nlisteners] */
    int nlisteners;
    bool listening;
    bool draining, stopping;
    gw_wstate *state;                  /* current */
    struct gw_conn *conns;             /* client connections (for drain) */
    struct gw_accesslog *alog;
    char *scratch;                     /* read buffer reused by every read */
    gw_worker_stats stats;
};

void gw_wstate_ref(gw_wstate *st);
void gw_wstate_unref(gw_wstate *st);
/* A state's upstream connection closed: may free a retired state. */
void gw_wstate_upconn_closed(gw_wstate *st);

/* Milliseconds on the worker's loop clock (also the clock of ejections). */
static inline int64_t gw_now_ms(gw_worker *w) { return (int64_t)uv_now(&w->loop); }

/* Write to a stream: as much as the socket takes now, the rest copied and
 * queued. done(stream, status) runs when a queued part completes (not for
 * what was written at once, not with UV_ECANCELED after a close). Returns 0
 * or a negative libuv error. */
typedef void (*gw_write_cb)(uv_stream_t *s, int status);
int gw_write(uv_stream_t *s, const void *data, size_t len, gw_write_cb done);
static inline size_t gw_queued(uv_stream_t *s) { return uv_stream_get_write_queue_size(s); }

#endif
