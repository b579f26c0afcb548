/* hcheck.h — active health checks (HTTP or TCP) on the main thread's loop. */
#ifndef HALO_GW_HCHECK_H
#define HALO_GW_HCHECK_H

#include "worker.h"

#include <uv.h>

typedef struct gw_hcheck gw_hcheck;

/* Probe every endpoint of every cluster with a health_check on loop, and
 * publish verdicts to the snapshot's shared endpoint health (active_ok).
 * Takes a reference to snap. Probing starts at once; each endpoint starts in
 * the state its shared health says (healthy for a fresh snapshot). */
gw_hcheck *hcheck_start(uv_loop_t *loop, gw_snapshot *snap);

/* Stop probing; memory is released once the loop has closed the handles. */
void hcheck_stop(gw_hcheck *hc);

#endif
