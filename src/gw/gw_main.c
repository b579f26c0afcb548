/* gw_main.c — `halo gw`: load the config, start workers and health checks, reload on SIGHUP, drain on SIGTERM. */
#include "gw.h"
#include "accesslog.h"
#include "gw_config.h"
#include "hcheck.h"
#include "worker.h"
#include "../common/log.h"
#include "../common/mem.h"
#include "../common/version.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Everything the main thread owns while the gateway runs. */
typedef struct gw_main_ctx {
    const char *path;               /* the config file, re-read on SIGHUP */
    uv_loop_t loop;
    uv_signal_t sigterm, sigint, sighup;
    uv_timer_t drain_timer;
    gw_snapshot *snap;
    gw_workers *workers;
    gw_hcheck *hcheck;
    gw_accesslog *alog;
    bool draining, stopped;
} gw_main_ctx;

static void usage(FILE *out)
{
    fprintf(out, "usage: halo gw -c FILE [-t]\n"
                 "  -c FILE   the gateway's YAML configuration\n"
                 "  -t        check the configuration and exit\n");
}

static void on_drain_deadline(uv_timer_t *t)
{
    gw_main_ctx *m = t->data;
    log_warn("drain deadline (%lld ms) passed: closing the remaining connections",
             (long long)m->snap->cfg->drain_timeout_ms);
    gw_workers_stop(m->workers);
}

/* Stop accepting and finish requests in flight, up to drain_timeout. */
static void start_drain(gw_main_ctx *m, const char *why)
{
    if (m->draining) return;
    m->draining = true;
    int64_t ms = m->snap->cfg->drain_timeout_ms;
    log_notice("%s: no longer accepting; finishing requests in flight (up to %lld ms)", why,
               (long long)ms);
    gw_workers_drain(m->workers);
    uv_timer_start(&m->drain_timer, on_drain_deadline, (uint64_t)ms, 0);
}

static void on_stop_signal(uv_signal_t *s, int signum)
{
    gw_main_ctx *m = s->data;
    if (m->draining) {
        log_notice("second %s: stopping now", strsignal(signum));
        gw_workers_stop(m->workers);
        return;
    }
    start_drain(m, strsignal(signum));
}

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

static void on_sighup(uv_signal_t *s, int signum)
{
    gw_main_ctx *m = s->data;
    if (m->draining) return;
    buf err;
    buf_init(&err);
    if (gw_reload(m, &err) != 0)
        log_warn("reload failed, still serving the previous configuration: %.*s",
                 (int)err.len, err.data ? err.data : "");
    buf_free(&err);
}

/* All workers have stopped: close what the main loop holds so uv_run returns. */
static void on_workers_exit(void *arg)
{
    gw_main_ctx *m = arg;
    m->stopped = true;
    hcheck_stop(m->hcheck);
    m->hcheck = NULL;
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

/* Serve cfg (ownership passes) until a stop signal; returns the exit code. */
static int serve(gw_config *cfg, const char *path)
{
    gw_main_ctx m;
    memset(&m, 0, sizeof(m));
    m.path = path;
    buf err;
    buf_init(&err);
    int rc = 1;
    m.alog = accesslog_open(cfg->access_log, &err);
    if (m.alog == NULL && err.len) goto fail_cfg;
    int nfds = cfg->workers * cfg->nlisteners;
    int *fds = hmalloc(sizeof(int) * (size_t)nfds);
    for (int i = 0; i < nfds; i++) fds[i] = -1; /* a hand-over would fill some here */
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
    log_ready(m.snap->cfg);
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
    hfree(fds);
    accesslog_close(m.alog);
fail_cfg:
    fprintf(stderr, "halo gw: %s\n", err.data);
    gw_config_free(cfg);
    buf_free(&err);
    return rc;
}

int gw_main(int argc, char **argv)
{
    const char *path = NULL;
    bool test = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-t") == 0) test = true;
        else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) path = argv[++i];
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "halo gw: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (path == NULL) {
        usage(stderr);
        return 2;
    }
    buf err;
    buf_init(&err);
    gw_config *cfg = gw_config_load(path, &err);
    if (cfg == NULL) {
        fprintf(stderr, "halo gw: %s\n", err.len ? err.data : "cannot load the configuration");
        buf_free(&err);
        return 1;
    }
    buf_free(&err);
    if (test) {
        printf("configuration file %s test is successful\n", path);
        gw_config_free(cfg);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN); /* a peer that went away is an error code, not a death */
    return serve(cfg, path);
}
