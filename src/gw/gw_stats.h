/* gw_stats.h — gateway counters, one set per worker thread: no lock on the request path. */
#ifndef HALO_GW_STATS_H
#define HALO_GW_STATS_H

#include <stdatomic.h>
#include <stdint.h>

/* Every counter has exactly one writer, the worker thread that owns it, so
 * an increment is a relaxed load and a relaxed store (no locked instruction,
 * no cache-line ping-pong). Readers on other threads (the metrics endpoint)
 * load with relaxed order and sum over workers; a total may be a few
 * increments behind, never torn. Gauges are counters that also go down:
 * stored as uint64_t and read as int64_t. */
typedef _Atomic uint64_t gw_counter;

static inline void gw_count(gw_counter *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static inline void gw_gauge(gw_counter *c, int64_t d) { gw_count(c, (uint64_t)d); }

static inline uint64_t gw_read(gw_counter *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* Responses the gateway writes itself, each with its status (X-macro: the
 * enum, the status and a label for metrics come from one list). */
#define GW_ERR_MAP(X)                                                                    \
    X(BAD_REQUEST, 400, "bad_request")                                                   \
    X(NO_ROUTE, 404, "no_route")                                                         \
    X(HEAD_TIMEOUT, 408, "header_timeout")                                               \
    X(BODY_TOO_LARGE, 413, "body_too_large")                                             \
    X(URL_TOO_LONG, 414, "url_too_long")                                                 \
    X(EXPECTATION, 417, "expectation_failed")                                            \
    X(HEAD_TOO_LARGE, 431, "header_too_large")                                           \
    X(NOT_IMPLEMENTED, 501, "not_implemented")                                           \
    X(BAD_GATEWAY, 502, "bad_gateway")                                                   \
    X(UNAVAILABLE, 503, "no_healthy_upstream")                                           \
    X(GATEWAY_TIMEOUT, 504, "gateway_timeout")                                           \
    X(BAD_VERSION, 505, "http_version")                                                  \
    X(POOL_FULL, 503, "pool_full")

enum gw_err {
#define GW_ERR_ENUM(name, status, label) GW_ERR_##name,
    GW_ERR_MAP(GW_ERR_ENUM)
#undef GW_ERR_ENUM
    GW_ERR_COUNT
};

/* Why an attempt at an upstream failed (also the passive-health input). */
#define GW_UPFAIL_MAP(X)                                                                 \
    X(CONNECT, "connect_failure")                                                        \
    X(CONNECT_TIMEOUT, "connect_timeout")                                                \
    X(RESET, "reset")                                                                    \
    X(BAD_RESPONSE, "bad_response")                                                      \
    X(FIRST_BYTE_TIMEOUT, "first_byte_timeout")                                          \
    X(IDLE_TIMEOUT, "idle_timeout")                                                      \
    X(REQUEST_TIMEOUT, "request_timeout")

enum gw_upfail {
#define GW_UPFAIL_ENUM(name, label) GW_UPFAIL_##name,
    GW_UPFAIL_MAP(GW_UPFAIL_ENUM)
#undef GW_UPFAIL_ENUM
    GW_UPFAIL_COUNT
};

/* Latency histogram upper bounds in milliseconds; one more bucket (+Inf)
 * follows. Buckets hold plain (not cumulative) counts. */
#define GW_LATENCY_BUCKETS 12
static const double gw_latency_bounds_ms[GW_LATENCY_BUCKETS] = {
    1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000};

/* Whole-worker counters (gw_workers_stats() hands them out). */
typedef struct gw_worker_stats {
    gw_counter conns_accepted;
    gw_counter conns_active;             /* gauge: client connections open */
    gw_counter requests;                 /* request heads received */
    gw_counter responses[6];             /* by class: [1] 1xx .. [5] 5xx; [0] none sent */
    gw_counter errors[GW_ERR_COUNT];     /* responses the gateway generated itself */
    gw_counter upstream_failures[GW_UPFAIL_COUNT];
    gw_counter retries;                  /* attempts at another endpoint */
    gw_counter retries_denied;           /* retry wanted, budget exhausted */
    gw_counter stale_conn_retries;       /* transparent retries on a fresh connection */
    gw_counter upstream_connects;        /* new upstream connections opened */
    gw_counter upstream_reused;          /* requests sent on a pooled connection */
    gw_counter upstream_active;          /* gauge: upstream connections in use */
    gw_counter upstream_idle;            /* gauge: pooled idle connections */
    gw_counter ejections;                /* passive-health ejections made by this worker */
    gw_counter client_aborts;            /* client left before its response ended */
    gw_counter bytes_from_clients, bytes_to_clients;
    gw_counter bytes_from_upstreams, bytes_to_upstreams;
} gw_worker_stats;

/* Per route, per worker (held by the config snapshot: gw_snapshot_route_stats). */
typedef struct gw_route_stats {
    gw_counter requests;
    gw_counter responses[6];             /* by class, as above */
    gw_counter latency[GW_LATENCY_BUCKETS + 1];
    gw_counter latency_sum_us;
    gw_counter retries;
} gw_route_stats;

/* Per endpoint, per worker (gw_snapshot_endpoint_stats). */
typedef struct gw_endpoint_stats {
    gw_counter requests;                 /* attempts sent to the endpoint */
    gw_counter responses[6];
    gw_counter failures;                 /* connect errors, resets, timeouts, bad responses */
    gw_counter active;                   /* gauge: attempts in flight */
    /* attempt start (connect included) to the final response head: the
     * endpoint's own latency, as nginx's $upstream_header_time */
    gw_counter head_latency[GW_LATENCY_BUCKETS + 1];
    gw_counter head_latency_sum_us;
} gw_endpoint_stats;

static inline int gw_status_class(int status)
{
    return status >= 100 && status <= 599 ? status / 100 : 0;
}

#endif
