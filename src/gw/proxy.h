/* proxy.h — client connections and the request path: route, pick, forward, stream back. */
#ifndef HALO_GW_PROXY_H
#define HALO_GW_PROXY_H

#include "worker.h"

#include <uv.h>

/* Accept one connection on worker w from listening socket server, which
 * serves listener index `listener` of the worker's current config. */
void proxy_accept(gw_worker *w, uv_stream_t *server, int listener);

/* Drain: close connections with no request in progress; the others close
 * once their response is complete (it carries Connection: close). */
void proxy_drain(gw_worker *w);

/* Close every client connection now (requests in progress are cut). */
void proxy_close_all(gw_worker *w);

#endif
