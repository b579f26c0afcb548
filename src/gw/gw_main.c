/* gw_main.c — `halo gw`: load the config, serve; reload, drain, admin and hand-over. */
#include "gw.h"
#include "accesslog.h"
#include "admin.h"
#include "gw_config.h"
#include "gw_metrics.h"
#include "handover.h"
#include "hcheck.h"
#include "worker.h"
#include "../common/log.h"
#include "../common/mem.h"
#include "../common/util.h"
#include "../common/version.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Everything the main thread owns while the gateway runs. */
typedef struct gw_main_ctx {
    const char *path;               /* the config file, re-read on reload */
    uv_loop_t loop;
    uv_signal_t sigterm, sigint, sighup;
    uv_timer_t drain_timer;
    gw_snapshot *snap;
    gw_workers *workers;
    gw_hcheck *hcheck;
    gw_accesslog *alog;
    gw_admin *admin;
    handover_server *ho;
    int64_t start_ms;
    uint64_t reloads_ok, reloads_failed;
    int64_t last_reload_ms;
    bool draining, stopped;
} gw_main_ctx;

typedef struct gw_opts {
    const char *config;
    const char *handover;   /* serve hand-over requests on this Unix socket */
    const char *takeover;   /* take the sockets over from the gateway serving this path */
    bool test;
} gw_opts;

static void usage(FILE *out)
{
    fprintf(out, "usage: halo gw -c FILE [-t] [--handover PATH] [--takeover PATH]\n"
                 "  -c FILE           the gateway's YAML configuration\n"
                 "  -t                check the configuration and exit\n"
                 "  --handover PATH   let a successor take the listening sockets over via PATH\n"
                 "  --takeover PATH   take the sockets over from the gateway serving PATH,\n"
                 "                    then serve hand-overs on PATH (or on --handover's)\n");
}

/* ---- drain ---- */

static void on_drain_deadline(uv_timer_t *t)
{
    gw_main_ctx *m = t->data;
    log_warn("drain deadline (%lld ms) passed: closing the remaining connections",
             (long long)m->snap->cfg->drain_timeout_ms);
    gw_workers_stop(m->workers);
}

/* Stop accepting, finish requests in flight up to drain_timeout. Returns
 * false when already draining. */
static bool start_drain(gw_main_ctx *m, const char *why)
{
    if (m->draining) return false;
    m->draining = true;
    int64_t ms = m->snap->cfg->drain_timeout_ms;
    log_notice("%s: no longer accepting; finishing requests in flight (up to %lld ms)", why,
               (long long)ms);
    gw_workers_drain(m->workers);
    uv_timer_start(&m->drain_timer, on_drain_deadline, (uint64_t)ms, 0);
    return true;
}

static void on_stop_signal(uv_signal_t *s, int signum)
{
    gw_main_ctx *m = s->data;
    if (!start_drain(m, strsignal(signum))) {
        log_notice("second %s: stopping now", strsignal(signum));
        gw_workers_stop(m->workers);
    }
}

/* ---- reload ---- */

/* What a reload cannot change in a running process: the listening sockets
 * (they belong to the workers) and the number of workers. */
static bool reloadable(const gw_config *old, const gw_config *cfg, buf *err)
{
    if (cfg->workers != old->workers) {
        buf_printf(err, "workers changed from %d to %d: that needs a restart", old->workers,
                   cfg->workers);
        return false;
    }
    bool same = cfg->nlisteners == old->nlisteners;
    for (int i = 0; same && i < cfg->nlisteners; i++)
        same = strcmp(cfg->listeners[i].address, old->listeners[i].address) == 0;
    if (!same) buf_append_str(err, "the listeners' addresses changed: that needs a restart");
    return same;
}

/* Load the file again and swap it in: workers finish requests in flight on
 * the old configuration; endpoint health carries over. Returns 0, or -1 with
 * the reason in err (the old configuration keeps serving). */
static int gw_reload(gw_main_ctx *m, buf *err)
{
    gw_config *cfg = gw_config_load(m->path, err);
    if (cfg == NULL) return -1;
    if (!reloadable(m->snap->cfg, cfg, err)) {
        gw_config_free(cfg);
        return -1;
    }
    const char *old_log = m->snap->cfg->access_log ? m->snap->cfg->access_log : "off";
    const char *new_log = cfg->access_log ? cfg->access_log : "off";
    if (strcmp(old_log, new_log) != 0)
        log_warn("access_log changed to %s: takes effect at the next restart", new_log);
    gw_snapshot *snap = gw_snapshot_new(cfg, m->snap->nworkers, m->snap);
    hcheck_stop(m->hcheck);
    m->hcheck = hcheck_start(&m->loop, snap);
    gw_workers_apply_config(m->workers, snap);
    gw_snapshot_unref(m->snap);
    m->snap = snap;
    log_notice("configuration reloaded from %s: %d routes, %d clusters", m->path,
               snap->cfg->nroutes, snap->cfg->nclusters);
    return 0;
}

/* gw_reload, counted for the metrics (SIGHUP and POST /reload). */
static int reload(gw_main_ctx *m, buf *err)
{
    if (m->draining) {
        buf_printf(err, "the gateway is draining");
        return -1;
    }
    if (gw_reload(m, err) != 0) {
        m->reloads_failed++;
        return -1;
    }
    m->reloads_ok++;
    m->last_reload_ms = time_ms();
    return 0;
}

static void on_sighup(uv_signal_t *s, int signum)
{
    gw_main_ctx *m = s->data;
    buf err;
    buf_init(&err);
    if (reload(m, &err) != 0)
        log_warn("reload failed, still serving the previous configuration: %.*s",
                 (int)err.len, err.data ? err.data : "");
    buf_free(&err);
}

/* ---- admin callbacks ---- */

static void fill_proc(gw_main_ctx *m, gw_metrics_proc *p)
{
    memset(p, 0, sizeof(*p));
    uv_update_time(&m->loop);
    p->now_ms = (int64_t)uv_now(&m->loop);
    p->wall_ms = time_ms();
    p->uptime_ms = p->wall_ms - m->start_ms;
    p->reloads_ok = m->reloads_ok;
    p->reloads_failed = m->reloads_failed;
    p->last_reload_wall_ms = m->last_reload_ms;
    p->draining = m->draining;
}

static void admin_metrics(void *ctx, buf *out)
{
    gw_main_ctx *m = ctx;
    gw_metrics_proc p;
    fill_proc(m, &p);
    gw_metrics_render_live(m->snap, m->workers, &p, out);
}

static void admin_status(void *ctx, buf *out)
{
    gw_main_ctx *m = ctx;
    gw_metrics_proc p;
    fill_proc(m, &p);
    gw_status_render_live(m->snap, m->workers, &p, out);
}

static int admin_reload(void *ctx, buf *err) { return reload(ctx, err); }

static void admin_drain(void *ctx) { start_drain(ctx, "POST /drain"); }
static bool admin_draining(void *ctx) { return ((gw_main_ctx *)ctx)->draining; }

static const gw_admin_ops admin_ops = {admin_metrics, admin_status, admin_reload, admin_drain,
                                       admin_draining};

/* ---- hand-over ---- */

/* The sockets a successor gets: every worker's listeners, then the admin's. */
static int offer_fds(void *ctx, int *fds, int max)
{
    gw_main_ctx *m = ctx;
    if (m->draining) return -1; /* workers are closing their listeners */
    int n = gw_workers_count(m->workers) * m->snap->cfg->nlisteners;
    int afd = gw_admin_fd(m->admin);
    if (n + (afd >= 0) > max) return -1;
    memcpy(fds, gw_workers_listen_fds(m->workers), sizeof(int) * (size_t)n);
    if (afd >= 0) fds[n++] = afd;
    return n;
}

/* The successor serves now: stop accepting and drain. Its copies keep the
 * kernel sockets open, so closing ours refuses nothing. */
static void on_taken_over(void *ctx)
{
    gw_main_ctx *m = ctx;
    gw_admin_stop(m->admin);
    m->admin = NULL;
    start_drain(m, "taken over by a new process");
}

/* Fill fds[w * nlisteners + l] (and *admin_fd) with sockets received from
 * the gateway serving path, matched by address; -1 where none matched. */
static int take_over(const char *path, const gw_config *cfg, int *fds, int *admin_fd, buf *err)
{
    handover_fd *got = hcalloc(HANDOVER_MAX_FDS, sizeof(*got));
    int ngot = 0, nl = cfg->nlisteners, taken = 0;
    if (handover_fetch(path, got, HANDOVER_MAX_FDS, &ngot, err) != 0) {
        hfree(got);
        return -1;
    }
    for (int w = 0; w < cfg->workers; w++)
        for (int l = 0; l < nl; l++) {
            const struct sockaddr *addr = (const struct sockaddr *)&cfg->listeners[l].addr;
            fds[w * nl + l] = handover_take(got, ngot, addr);
            taken += fds[w * nl + l] >= 0;
        }
    if (cfg->admin_address)
        *admin_fd = handover_take(got, ngot, (const struct sockaddr *)&cfg->admin_addr);
    log_notice("hand-over: received %d listening sockets from %s, using %d%s", ngot, path,
               taken + (*admin_fd >= 0), *admin_fd >= 0 ? " (admin included)" : "");
    handover_close_all(got, ngot); /* listeners this configuration no longer has */
    hfree(got);
    return 0;
}

/* ---- life cycle ---- */

/* All workers have stopped: close what the main loop holds so uv_run returns. */
static void on_workers_exit(void *arg)
{
    gw_main_ctx *m = arg;
    m->stopped = true;
    hcheck_stop(m->hcheck);
    m->hcheck = NULL;
    gw_admin_stop(m->admin);
    m->admin = NULL;
    handover_serve_stop(m->ho);
    m->ho = NULL;
    uv_close((uv_handle_t *)&m->sigterm, NULL);
    uv_close((uv_handle_t *)&m->sigint, NULL);
    uv_close((uv_handle_t *)&m->sighup, NULL);
    uv_close((uv_handle_t *)&m->drain_timer, NULL);
}

static void watch_signal(gw_main_ctx *m, uv_signal_t *s, uv_signal_cb cb, int signum)
{
    uv_signal_init(&m->loop, s);
    s->data = m;
    uv_signal_start(s, cb, signum);
}

static void log_ready(const gw_config *cfg)
{
    char where[512];
    size_t o = 0;
    where[0] = '\0';
    for (int i = 0; i < cfg->nlisteners && o < sizeof(where); i++) {
        int n = snprintf(where + o, sizeof(where) - o, "%s%s", i ? ", " : "",
                         cfg->listeners[i].address);
        if (n < 0) break;
        o += (size_t)n;
    }
    log_notice("halo gw %s ready: %d workers, listening on %s, %d routes, %d clusters",
               HALO_VERSION, cfg->workers, where, cfg->nroutes, cfg->nclusters);
}

static void start_admin(gw_main_ctx *m, int admin_fd)
{
    const gw_config *cfg = m->snap->cfg;
    buf err;
    buf_init(&err);
    if (admin_fd >= 0)
        m->admin = gw_admin_start_fd(&m->loop, admin_fd, &admin_ops, m, &err);
    else if (cfg->admin_address)
        m->admin = gw_admin_start(&m->loop, (const struct sockaddr *)&cfg->admin_addr,
                                  &admin_ops, m, &err);
    if (cfg->admin_address && m->admin == NULL)
        log_error("no admin listener: %s", err.data ? err.data : "");
    else if (m->admin)
        log_notice("admin: /metrics /status /healthz, POST /reload /drain on http://%s",
                   cfg->admin_address);
    buf_free(&err);
}

/* After the workers serve: tell the old process to drain, then serve
 * hand-overs ourselves. Failures are logged; serving goes on. */
static void start_handover(gw_main_ctx *m, const gw_opts *o)
{
    buf err;
    buf_init(&err);
    if (o->takeover && handover_release(o->takeover, &err) != 0)
        log_warn("%s (stop the old process with SIGTERM)", err.data ? err.data : "");
    else if (o->takeover)
        log_notice("hand-over: the old process confirmed and drains");
    const char *path = o->handover ? o->handover : o->takeover;
    buf_reset(&err);
    if (path &&
        handover_serve_start(&m->loop, path, offer_fds, on_taken_over, m, &m->ho, &err) != 0)
        log_warn("no hand-over socket: %s", err.data ? err.data : "");
    else if (path)
        log_notice("hand-over: a successor may take over with --takeover %s", path);
    buf_free(&err);
}

/* Serve cfg (ownership passes) until a stop signal; returns the exit code. */
static int serve(gw_config *cfg, const gw_opts *o)
{
    gw_main_ctx m;
    memset(&m, 0, sizeof(m));
    m.path = o->config;
    m.start_ms = time_ms();
    buf err;
    buf_init(&err);
    int rc = 1, admin_fd = -1;
    m.alog = accesslog_open(cfg->access_log, &err);
    if (m.alog == NULL && err.len) goto fail_cfg;
    int nfds = cfg->workers * cfg->nlisteners;
    int *fds = hmalloc(sizeof(int) * (size_t)nfds);
    for (int i = 0; i < nfds; i++) fds[i] = -1; /* take_over fills the slots it can */
    if (o->takeover && take_over(o->takeover, cfg, fds, &admin_fd, &err) != 0) goto fail_fds;
    /* Opens only the empty slots: never an extra socket on a taken-over
     * address (in the SO_REUSEPORT group it would get connections that its
     * close would reset). */
    if (gw_listen_open_all(cfg, cfg->workers, fds, &err) != 0) goto fail_fds;

    uv_loop_init(&m.loop);
    m.snap = gw_snapshot_new(cfg, cfg->workers, NULL);
    cfg = NULL; /* the snapshot owns it */
    uv_timer_init(&m.loop, &m.drain_timer);
    m.drain_timer.data = &m;
    watch_signal(&m, &m.sigterm, on_stop_signal, SIGTERM);
    watch_signal(&m, &m.sigint, on_stop_signal, SIGINT);
    watch_signal(&m, &m.sighup, on_sighup, SIGHUP);
    m.hcheck = hcheck_start(&m.loop, m.snap);
    gw_workers_start(&m.workers, &m.loop, m.snap, m.snap->cfg->workers, fds, m.alog,
                     on_workers_exit, &m);
    hfree(fds);
    start_admin(&m, admin_fd);
    log_ready(m.snap->cfg);
    start_handover(&m, o);
    uv_run(&m.loop, UV_RUN_DEFAULT);

    gw_workers_free(m.workers);
    uv_run(&m.loop, UV_RUN_DEFAULT); /* health-check sockets still closing */
    uv_loop_close(&m.loop);
    gw_snapshot_unref(m.snap);
    accesslog_close(m.alog);
    log_notice("halo gw stopped");
    buf_free(&err);
    return 0;

fail_fds:
    for (int i = 0; i < nfds; i++)
        if (fds[i] >= 0) close(fds[i]);
    if (admin_fd >= 0) close(admin_fd);
    hfree(fds);
    accesslog_close(m.alog);
fail_cfg:
    fprintf(stderr, "halo gw: %s\n", err.data);
    gw_config_free(cfg);
    buf_free(&err);
    return rc;
}

static int parse_args(int argc, char **argv, gw_opts *o)
{
    memset(o, 0, sizeof(*o));
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-t") == 0) o->test = true;
        else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) o->config = argv[++i];
        else if (strcmp(argv[i], "--handover") == 0 && i + 1 < argc) o->handover = argv[++i];
        else if (strcmp(argv[i], "--takeover") == 0 && i + 1 < argc) o->takeover = argv[++i];
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "halo gw: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (o->config == NULL) {
        usage(stderr);
        return 2;
    }
    return -1;
}

/* -t: everything serving would check before it binds anything, as nginx -t
 * (the access log must open: serving would stop at it). */
static int test_config(gw_config *cfg, const char *path)
{
    buf err;
    buf_init(&err);
    gw_accesslog *alog = accesslog_open(cfg->access_log, &err);
    int rc = alog == NULL && err.len ? 1 : 0;
    if (rc) fprintf(stderr, "halo gw: %s: access_log: %.*s\n", path, (int)err.len, err.data);
    else printf("configuration file %s test is successful\n", path);
    accesslog_close(alog);
    buf_free(&err);
    gw_config_free(cfg);
    return rc;
}

int gw_main(int argc, char **argv)
{
    gw_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) return rc;
    buf err;
    buf_init(&err);
    gw_config *cfg = gw_config_load(o.config, &err);
    if (cfg == NULL) {
        fprintf(stderr, "halo gw: %s\n", err.len ? err.data : "cannot load the configuration");
        buf_free(&err);
        return 1;
    }
    buf_free(&err);
    if (o.test) return test_config(cfg, o.config);
    signal(SIGPIPE, SIG_IGN); /* a peer that went away is an error code, not a death */
    return serve(cfg, &o);
}
