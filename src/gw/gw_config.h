/* gw_config.h — `halo gw` configuration: listeners, routes, clusters, loaded from YAML. */
#ifndef HALO_GW_CONFIG_H
#define HALO_GW_CONFIG_H

#include "../common/buf.h"
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

enum gw_lb_policy { LB_ROUND_ROBIN, LB_LEAST_REQUEST, LB_RANDOM, LB_RING_HASH, LB_MAGLEV };
enum gw_hash_on { HASH_CLIENT_IP, HASH_HEADER, HASH_COOKIE };
enum gw_hc_type { HC_NONE, HC_HTTP, HC_TCP };

typedef struct gw_status_range {
    int lo, hi; /* inclusive, e.g. 200-399 */
} gw_status_range;

typedef struct gw_endpoint_cfg {
    char *address;                /* "127.0.0.1:9001" as written */
    struct sockaddr_storage addr; /* resolved at load time (numeric only) */
    socklen_t addrlen;
    int weight;                   /* 1..1000, default 1 */
} gw_endpoint_cfg;

typedef struct gw_health_cfg {
    enum gw_hc_type type;         /* default HC_NONE */
    char *path;                   /* HTTP: request path, default "/" */
    char *host;                   /* HTTP: Host header, default the endpoint address */
    gw_status_range expect[8];    /* HTTP: healthy statuses, default 200-399 */
    int nexpect;
    int64_t interval_ms, timeout_ms; /* defaults 1000, 500 */
    int rise, fall;               /* defaults 2, 3 */
} gw_health_cfg;

/* Passive health: outlier ejection on consecutive failures. */
typedef struct gw_outlier_cfg {
    int consecutive_5xx;          /* 0 = off; default 5 */
    int consecutive_failures;     /* connect errors/timeouts/resets; 0 = off; default 5 */
    int64_t base_ejection_ms;     /* default 10000; doubles per repeat ejection */
    int64_t max_ejection_ms;      /* cap of the doubling, default 300000 */
    int max_ejection_percent;     /* never eject more than this share, default 50 */
} gw_outlier_cfg;

typedef struct gw_pool_cfg {
    int max_connections;          /* per worker per endpoint, default 128 */
    int64_t idle_timeout_ms;      /* idle pooled connection closed after, default 30000 */
} gw_pool_cfg;

typedef struct gw_cluster_cfg {
    char *name;
    enum gw_lb_policy lb;         /* default LB_ROUND_ROBIN */
    enum gw_hash_on hash_on;      /* ring_hash / maglev only */
    char *hash_key;               /* header or cookie name */
    gw_endpoint_cfg *endpoints;
    int nendpoints;
    gw_health_cfg health;
    gw_outlier_cfg outlier;
    gw_pool_cfg pool;
    int panic_threshold_percent;  /* below this share healthy, balance over all; default 50 */
    int64_t connect_timeout_ms;   /* default 1000 */
} gw_cluster_cfg;

typedef struct gw_retry_cfg {
    int max_retries;              /* per request, default 1; 0 = off */
    bool on_connect_failure;      /* default true */
    bool on_reset;                /* upstream closed before a response: default true */
    int statuses[8];              /* retry on these statuses (idempotent requests only) */
    int nstatuses;
    int budget_percent;           /* retries may add at most this % of requests, default 20 */
    int budget_min_per_s;         /* ... but always allow this many per second, default 3 */
} gw_retry_cfg;

typedef struct gw_route_cfg {
    char *host;                   /* exact host, "*.suffix" wildcard, or NULL = any */
    char *path_prefix;            /* default "/" */
    char *cluster_name;
    int cluster;                  /* index into gw_config.clusters, resolved at load */
    int64_t first_byte_timeout_ms;/* default 15000 */
    int64_t request_timeout_ms;   /* whole request, default 60000; 0 = none */
    int64_t idle_timeout_ms;      /* no bytes either way for this long, default 60000 */
    gw_retry_cfg retry;
} gw_route_cfg;

typedef struct gw_listener_cfg {
    char *name;
    char *address;                /* "127.0.0.1:8080" */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int64_t header_timeout_ms;    /* whole request head must arrive within, default 10000 */
    int64_t keepalive_timeout_ms; /* idle client connection between requests, default 60000 */
    int64_t max_header_bytes;     /* request line + headers, default 64 KiB (431 beyond) */
    int64_t max_url_bytes;        /* default 8 KiB (414 beyond) */
    int64_t max_body_bytes;       /* default 0 = unlimited (413 beyond) */
} gw_listener_cfg;

typedef struct gw_config {
    char *source;                 /* file path, for messages */
    int workers;                  /* default: number of cores */
    char *admin_address;          /* "127.0.0.1:9901"; NULL = no admin listener */
    struct sockaddr_storage admin_addr;
    socklen_t admin_addrlen;
    char *access_log;             /* NULL/"off" = off, "stderr", or a file path */
    int64_t drain_timeout_ms;     /* SIGTERM: finish in-flight requests up to, default 30000 */
    gw_listener_cfg *listeners;
    int nlisteners;
    gw_route_cfg *routes;         /* in file order; first match wins */
    int nroutes;
    gw_cluster_cfg *clusters;
    int nclusters;
} gw_config;

/* Load and validate a YAML file. On error returns NULL and writes
 * "<file>:<line>:<col>: <problem>" to err. The caller owns the result. */
gw_config *gw_config_load(const char *path, buf *err);
/* The same from text (tests, fuzzing); name is used in messages. */
gw_config *gw_config_parse(const char *text, size_t len, const char *name, buf *err);
void gw_config_free(gw_config *cfg);
/* Index of the first route matching host (port stripped, case-insensitive)
 * and path, or -1. */
int gw_config_match_route(const gw_config *cfg, const char *host, size_t hlen, const char *path,
                          size_t plen);
/* Parse "10s", "500ms", "2m", "1h" or a bare number of milliseconds. */
bool gw_parse_duration_ms(const char *s, int64_t *out);

#endif
