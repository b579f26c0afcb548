/* server.c — `halo kv` start-up, the periodic cron, signals and clean shutdown. */
#include "server.h"
#include "client.h"
#include "cmd.h"
#include "config.h"
#include "net.h"
#include "subsys.h"
#include "../common/err.h"
#include "../common/log.h"
#include "../common/mem.h"
#include "../common/util.h"
#include "../metrics/metrics_http.h"
#include "../persist/aof.h"
#include "../repl/repl_node.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static void on_key_modified(kv_db *db, const char *key, size_t len, void *priv)
{
    (void)db;
    kv_server *srv = priv;
    watch_touch_key(srv, key, len);
    block_signal_key(srv, key, len);
}

static void on_key_expired(kv_db *db, const char *key, size_t len, void *priv)
{
    (void)db;
    kv_server *srv = priv;
    resp_arg argv[2] = {{"DEL", 3}, {key, len}};
    prop_append(srv, 2, argv);
    srv->dirty++;
}

/* One lock file in the data directory, held with flock for the process's
 * life: a second node on the same directory fails at start with a message. */
static int lock_dir(kv_server *srv)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/halo.lock", srv->cfg.dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        log_error("cannot open lock file %s: %s", path, strerror(errno));
        return -HALO_EIO;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char other[32] = "";
        ssize_t n = pread(fd, other, sizeof(other) - 1, 0);
        if (n > 0) other[n] = '\0';
        while (n > 0 && (other[n - 1] == '\n')) other[--n] = '\0';
        log_error("data directory %s is in use by another halo process (pid %s); "
                  "refusing to start", srv->cfg.dir, other[0] ? other : "unknown");
        close(fd);
        return -HALO_ELOCKED;
    }
    char pid[32];
    int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n)
        log_warn("cannot write pid to %s", path);
    srv->lock_fd = fd;
    return 0;
}

static void sample_ops(kv_server *srv)
{
    kv_stats *st = &srv->stats;
    st->ops_idx = (st->ops_idx + 1) % 16;
    st->ops_sample[st->ops_idx] = st->commands_processed;
    st->ops_sample_time[st->ops_idx] = mono_us();
}

static void cron(uv_timer_t *t)
{
    kv_server *srv = t->data;
    srv->cron_loops++;
    srv->wall_offset_us = time_us() - mono_us();
    db_tick(time_ms());
    /* Active expiry: at most 25% of a tick, as Redis's slow cycle. */
    int64_t budget = 250000 / srv->cfg.hz;
    db_active_expire(&srv->db, budget);
    dict_rehash(&srv->db.keys, 100);
    dict_rehash(&srv->db.expires, 100);
    dict_maybe_shrink(&srv->db.keys);
    dict_maybe_shrink(&srv->db.expires);
    net_clients_cron(srv);
    if (srv->cfg.maxmemory > 0 && repl_is_primary(srv)) evict_perform(srv);
    if (srv->aof) aof_cron(srv->aof);
    sample_ops(srv);
    prop_flush(srv); /* DELs from active expiry and eviction */
    block_serve_ready(srv);
    net_flush_all(srv);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

void kv_server_shutdown(kv_server *srv, const char *why)
{
    if (srv->shutting_down) return;
    srv->shutting_down = true;
    log_notice("shutting down: %s", why);
    net_close_listeners(srv);
    net_flush_all(srv);
    repl_node_stop(srv); /* held replies are failed: their writes may not be on the replicas */
    if (srv->aof) {
        aof_close(srv->aof);
        srv->aof = NULL;
    }
    net_close_all_clients(srv);
    if (srv->metrics) metrics_http_stop(srv->metrics);
    srv->metrics = NULL;
    uv_timer_stop(&srv->cron);
    uv_stop(srv->loop);
}

static void on_signal(uv_signal_t *s, int signum)
{
    kv_server *srv = s->data;
    kv_server_shutdown(srv, signum == SIGTERM ? "received SIGTERM" : "received SIGINT");
}

static void make_run_id(kv_server *srv)
{
    uint8_t raw[20];
    random_bytes(raw, sizeof(raw));
    for (int i = 0; i < 20; i++) snprintf(srv->run_id + 2 * i, 3, "%02x", raw[i]);
}

static int write_pidfile(const kv_config *cfg)
{
    if (cfg->pidfile[0] == '\0') return 0;
    FILE *f = fopen(cfg->pidfile, "w");
    if (f == NULL) {
        log_warn("cannot write pidfile %s: %s", cfg->pidfile, strerror(errno));
        return -HALO_EIO;
    }
    fprintf(f, "%d\n", (int)getpid());
    fclose(f);
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: halo kv [config-file] [--directive value ...]\n"
            "  Redis-style directives, e.g. --port 6379 --dir /var/lib/halo --appendonly yes\n"
            "  --appendfsync always|everysec|no --maxmemory 1gb --maxmemory-policy allkeys-lru\n"
            "  --requirepass secret --metrics-port 9121. See docs/kv.md for the full list.\n");
}

static int init_server(kv_server *srv, int argc, char **argv)
{
    config_defaults(&srv->cfg);
    buf err;
    buf_init(&err);
    int rc = config_load_args(&srv->cfg, argc, argv, &srv->config_file, &err);
    if (rc == 0) rc = config_validate(&srv->cfg, &err);
    if (rc != 0) {
        fprintf(stderr, "halo kv: configuration error: %.*s\n", (int)err.len, err.data);
        buf_free(&err);
        return rc;
    }
    buf_free(&err);
    log_set_level(srv->cfg.loglevel);
    if (log_set_file(srv->cfg.logfile) != 0) {
        fprintf(stderr, "halo kv: cannot open logfile %s\n", srv->cfg.logfile);
        return -HALO_EIO;
    }
    return 0;
}

static int open_data_dir(kv_server *srv)
{
    if (mkdir(srv->cfg.dir, 0755) != 0 && errno != EEXIST) {
        log_error("cannot create data directory %s: %s", srv->cfg.dir, strerror(errno));
        return -HALO_EIO;
    }
    int rc = lock_dir(srv);
    if (rc != 0) return rc;
    if (srv->cfg.appendonly) {
        int64_t start = mono_us();
        rc = aof_open_and_load(srv, &srv->aof);
        if (rc != 0) {
            log_error("cannot load the append-only file: %s", halo_strerror(rc));
            return rc;
        }
        log_notice("DB loaded from append only file: %.3f seconds, %zu keys",
                   (double)(mono_us() - start) / 1e6, db_size(&srv->db));
    }
    return 0;
}

int kv_main(int argc, char **argv)
{
    if (argc > 0 && (strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0)) {
        usage();
        return 0;
    }
    static kv_server server;
    kv_server *srv = &server;
    memset(srv, 0, sizeof(*srv));
    srv->lock_fd = -1;
    uint8_t seed[16];
    random_bytes(seed, sizeof(seed));
    dict_set_seed(seed);
    if (init_server(srv, argc, argv) != 0) return 1;
    ssize_t exe_len = readlink("/proc/self/exe", srv->executable, sizeof(srv->executable) - 1);
    srv->executable[exe_len > 0 ? exe_len : 0] = '\0';
    signal(SIGPIPE, SIG_IGN);
    cmd_table_init();
    make_run_id(srv);
    srv->start_time_ms = time_ms();
    srv->wall_offset_us = time_us() - mono_us();
    srv->loop = uv_default_loop();
    db_init(&srv->db);
    srv->db.on_modified = on_key_modified;
    srv->db.on_expired = on_key_expired;
    srv->db.priv = srv;
    buf_init(&srv->prop);
    buf_init(&srv->prop_cmd);
    watch_init(srv);
    block_init(srv);
    pubsub_init(srv);
    log_notice("halo kv starting, pid %d, run id %s", (int)getpid(), srv->run_id);
    int exit_code = 1;
    if (open_data_dir(srv) != 0) goto out_data;
    if (net_listen(srv) != 0) goto out_listen;
    if (repl_node_start(srv) != 0) goto out_listen;
    if (srv->cfg.metrics_port > 0 &&
        metrics_http_start(srv, srv->cfg.metrics_bind, srv->cfg.metrics_port, &srv->metrics) != 0)
        goto out_listen;
    write_pidfile(&srv->cfg);
    uv_timer_init(srv->loop, &srv->cron);
    srv->cron.data = srv;
    uv_timer_start(&srv->cron, cron, (uint64_t)(1000 / srv->cfg.hz), (uint64_t)(1000 / srv->cfg.hz));
    uv_signal_init(srv->loop, &srv->sig_term);
    uv_signal_init(srv->loop, &srv->sig_int);
    srv->sig_term.data = srv->sig_int.data = srv;
    uv_signal_start(&srv->sig_term, on_signal, SIGTERM);
    uv_signal_start(&srv->sig_int, on_signal, SIGINT);
    log_notice("ready to accept connections");
    uv_run(srv->loop, UV_RUN_DEFAULT);
    exit_code = 0;
out_listen:
    if (!srv->shutting_down) kv_server_shutdown(srv, exit_code ? "start-up failed" : "loop ended");
out_data:
    if (srv->aof) aof_close(srv->aof);
    uv_walk(srv->loop, close_walk, NULL);
    uv_run(srv->loop, UV_RUN_DEFAULT);
    uv_loop_close(srv->loop);
    pubsub_free(srv);
    block_free(srv);
    watch_free(srv);
    db_free(&srv->db);
    buf_free(&srv->prop);
    buf_free(&srv->prop_cmd);
    if (srv->cfg.pidfile && srv->cfg.pidfile[0]) unlink(srv->cfg.pidfile);
    if (srv->lock_fd >= 0) close(srv->lock_fd);
    config_free(&srv->cfg);
    hfree(srv->config_file);
    if (exit_code == 0) log_notice("halo kv is now ready to exit, bye bye...");
    return exit_code;
}
