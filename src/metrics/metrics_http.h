/* metrics_http.h — a data node's Prometheus metrics and /healthz over the shared admin listener. */
#ifndef HALO_METRICS_HTTP_H
#define HALO_METRICS_HTTP_H

#include <stddef.h>

struct kv_server;
typedef struct kv_metrics_http kv_metrics_http;

/* Listen on host:port on srv's loop and answer GET /metrics (and /healthz).
 * Returns 0 or a negative HALO_E* code (logged). */
int metrics_http_start(struct kv_server *srv, const char *host, int port, kv_metrics_http **out);
void metrics_http_stop(kv_metrics_http *m);

#endif
