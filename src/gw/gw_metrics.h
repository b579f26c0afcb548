/* gw_metrics.h — the gateway's Prometheus metrics (text format 0.0.4) and JSON status document. */
#ifndef HALO_GW_METRICS_H
#define HALO_GW_METRICS_H

#include "../common/buf.h"
#include "gw_config.h"
#include "gw_stats.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One endpoint's shared health as the renderers need it. */
typedef struct gw_metrics_health {
    bool active_ok;           /* last active-check verdict (true without checks) */
    int64_t ejected_until_ms; /* passive ejection end on the monotonic clock of now_ms, 0 = none */
    int ejections;            /* ejections so far, over all workers */
} gw_metrics_health;

/* What the gateway process knows about itself (not per worker). */
typedef struct gw_metrics_proc {
    int64_t uptime_ms;
    int64_t now_ms;           /* monotonic ms (uv_now), the clock of ejected_until_ms */
    int64_t wall_ms;          /* time_ms() at the same instant: ejection ends as wall time */
    uint64_t reloads_ok, reloads_failed;
    int64_t last_reload_wall_ms; /* 0 = never reloaded */
    bool draining;
} gw_metrics_proc;

/* Everything the renderers read, borrowed for the duration of one call.
 * Layouts are those of worker.h's gw_snapshot, so the engine can point into
 * its snapshot directly (gw_metrics_render_live does), and tests can hand-make
 * them. Counters are read with gw_read (relaxed loads), so rendering on the
 * main thread while workers count is safe; totals may lag by a few increments. */
typedef struct gw_metrics_src {
    const gw_config *cfg;
    int nworkers;
    gw_worker_stats *const *workers;     /* [nworkers]; a NULL entry is skipped */
    gw_route_stats *route_stats;         /* [w * cfg->nroutes + r]; NULL = no route series */
    gw_endpoint_stats *const *ep_stats;  /* [c][w * nendpoints(c) + e]; NULL = no per-endpoint traffic */
    /* Health of endpoint e of cluster c; NULL = every endpoint up, never ejected. */
    void (*health)(const void *hctx, int c, int e, gw_metrics_health *out);
    const void *hctx;
    gw_metrics_proc proc;
} gw_metrics_src;

/* Append the Prometheus exposition of src to out (every family once, HELP and
 * TYPE first; names from the config are escaped as label values). Pure: reads
 * src, writes out. Serve it with Content-Type GW_METRICS_CONTENT_TYPE. */
void gw_metrics_render(const gw_metrics_src *src, buf *out);
#define GW_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Append the JSON status document (process, clusters with their endpoints,
 * routes) to out; one object, newline-terminated. Every string from the
 * config goes through gw_json_str. Pure, as gw_metrics_render. */
void gw_status_render(const gw_metrics_src *src, buf *out);

/* Append s[0..len) as a JSON string literal, quotes included. Escapes '"',
 * '\\', control bytes, DEL, '<', '>', '&' and U+2028/U+2029 (so the text is
 * also safe inside HTML and JavaScript); bytes that are not valid UTF-8 become
 * U+FFFD, so the output is always valid JSON whatever the input. */
void gw_json_str(buf *out, const char *s, size_t len);

/* Engine adapters (gw_metrics.c reads worker.h): render from the live
 * snapshot and worker pool, on the main thread. proc.now_ms should be
 * uv_now(main loop) after uv_update_time, proc.wall_ms time_ms(). */
struct gw_snapshot;
struct gw_workers;
void gw_metrics_render_live(struct gw_snapshot *snap, struct gw_workers *ws,
                            const gw_metrics_proc *proc, buf *out);
void gw_status_render_live(struct gw_snapshot *snap, struct gw_workers *ws,
                           const gw_metrics_proc *proc, buf *out);

#endif
