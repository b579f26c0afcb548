/* metrics_http.c — a data node's GET /metrics (Prometheus) and /healthz on the admin listener. */
#include "../common/version.h"
#include "metrics_http.h"
#include "admin_http.h"
#include "prom.h"
#include "../common/err.h"
#include "../common/log.h"
#include "../common/mem.h"
#include "../common/util.h"
#include "../kv/cmd.h"
#include "../kv/subsys.h"
#include "../persist/aof.h"
#include "../repl/repl_node.h"

#include <string.h>

struct kv_metrics_http {
    struct kv_server *srv;
    admin_http *http;
};

/* ---- metrics ---- */


/* b's bytes as a C string (the NUL is not counted in b->len). */
static const char *cstr(buf *b)
{
    buf_reserve(b, 1);
    b->data[b->len] = '\0';
    return b->data;
}

/* One labelled family over the commands used so far. */
static void cmd_family(buf *b, const cmd_list *l, const char *name, const char *help,
                       double (*value)(const kv_cmd *))
{
    buf label;
    buf_init(&label);
    prom_family(b, name, "counter", help);
    for (size_t i = 0; i < l->n; i++) {
        buf_reset(&label);
        prom_label(&label, "cmd", l->v[i]->name, strlen(l->v[i]->name));
        prom_sample_double(b, name, cstr(&label), value(l->v[i]));
    }
    buf_free(&label);
}

static double cmd_calls(const kv_cmd *c) { return (double)c->calls; }
static double cmd_rejected(const kv_cmd *c) { return (double)c->rejected_calls; }
static double cmd_failed(const kv_cmd *c) { return (double)c->failed_calls; }
static double cmd_seconds(const kv_cmd *c) { return (double)c->usec / 1e6; }

static void render_commands(buf *b)
{
    cmd_list l;
    cmd_list_used(&l);
    cmd_family(b, &l, "halo_kv_commands_total", "Calls per command.", cmd_calls);
    cmd_family(b, &l, "halo_kv_commands_rejected_total",
               "Calls refused before execution (arity, OOM), per command.", cmd_rejected);
    cmd_family(b, &l, "halo_kv_commands_failed_total",
               "Calls that executed and replied an error, per command.", cmd_failed);
    cmd_family(b, &l, "halo_kv_command_seconds_total",
               "Time spent executing each command, in seconds.", cmd_seconds);
    hfree(l.v);
    prom_histogram(b, "halo_kv_command_duration_seconds",
                   "Execution time of every command, in seconds.", cmd_lat_bounds_us,
                   CMD_LAT_BUCKETS, cmd_lat_counts, cmd_lat_sum_us, 1e6);
}

static void render_info(kv_server *srv, buf *b)
{
    buf labels;
    buf_init(&labels);
    prom_label(&labels, "version", HALO_VERSION, strlen(HALO_VERSION));
    buf_append(&labels, ",", 1);
    prom_label(&labels, "run_id", srv->run_id, strlen(srv->run_id));
    prom_family(b, "halo_kv_info", "gauge", "Constant 1, labelled with the version and run id.");
    prom_sample_u64(b, "halo_kv_info", cstr(&labels), 1);
    buf_free(&labels);
}

static void render_node(kv_server *srv, buf *b)
{
    const kv_stats *st = &srv->stats;
    prom_gauge(b, "halo_kv_uptime_seconds", "Seconds since the node started.",
               (double)(time_ms() - srv->start_time_ms) / 1000.0);
    prom_gauge(b, "halo_kv_connected_clients", "Client connections open now.", srv->nclients);
    prom_gauge(b, "halo_kv_blocked_clients", "Clients waiting in a blocking command.",
               (double)block_count(srv));
    prom_counter(b, "halo_kv_connections_received_total", "Client connections accepted.",
                 st->connections_received);
    prom_counter(b, "halo_kv_rejected_connections_total",
                 "Client connections refused because maxclients was reached.",
                 st->rejected_connections);
    prom_counter(b, "halo_kv_commands_processed_total", "Commands executed.",
                 st->commands_processed);
    prom_counter(b, "halo_kv_net_input_bytes_total", "Bytes read from clients.",
                 st->net_input_bytes);
    prom_counter(b, "halo_kv_net_output_bytes_total", "Bytes written to clients.",
                 st->net_output_bytes);
    prom_counter(b, "halo_kv_protocol_errors_total",
                 "Clients disconnected for a RESP protocol error.", st->protocol_errors);
    prom_counter(b, "halo_kv_client_output_buffer_disconnections_total",
                 "Clients disconnected for exceeding their output buffer limit.",
                 st->evicted_clients_obuf);
    prom_counter(b, "halo_kv_client_idle_timeout_disconnections_total",
                 "Clients disconnected after the idle timeout.", st->timeouts_closed);
    prom_gauge(b, "halo_kv_pubsub_channels", "Channels with at least one subscriber.",
               (double)pubsub_channels(srv));
    prom_gauge(b, "halo_kv_pubsub_patterns", "Pattern subscriptions.",
               (double)pubsub_patterns(srv));
}

static void render_keyspace(kv_server *srv, buf *b)
{
    const kv_db *db = &srv->db;
    prom_gauge(b, "halo_kv_used_memory_bytes", "Bytes allocated by the node.",
               (double)kv_used_memory(srv));
    prom_gauge(b, "halo_kv_rss_bytes", "Resident set size of the process.",
               (double)hmem_rss());
    prom_gauge(b, "halo_kv_maxmemory_bytes", "The maxmemory limit, 0 when unlimited.",
               (double)srv->cfg.maxmemory);
    prom_gauge(b, "halo_kv_keys", "Keys in the keyspace.", (double)db_size(db));
    prom_gauge(b, "halo_kv_keys_with_expiry", "Keys with a time to live.",
               (double)db_volatile(db));
    prom_counter(b, "halo_kv_expired_keys_total", "Keys deleted because their TTL passed.",
                 db->expired);
    prom_counter(b, "halo_kv_evicted_keys_total", "Keys evicted by the maxmemory policy.",
                 db->evicted);
    prom_counter(b, "halo_kv_keyspace_hits_total", "Key lookups by reads that found the key.",
                 db->hits);
    prom_counter(b, "halo_kv_keyspace_misses_total",
                 "Key lookups by reads that did not find the key.", db->misses);
}

static void render_aof(kv_server *srv, buf *b)
{
    aof_info ai;
    memset(&ai, 0, sizeof(ai));
    ai.last_write_ok = true;
    if (srv->aof) {
        ai.enabled = true;
        aof_get_info(srv->aof, &ai);
    }
    prom_gauge(b, "halo_kv_aof_enabled", "1 when the append-only file is on.", ai.enabled);
    prom_gauge(b, "halo_kv_aof_rewrite_in_progress", "1 while an AOF rewrite runs.",
               ai.rewrite_in_progress);
    prom_gauge(b, "halo_kv_aof_current_size_bytes", "Size of the AOF (base and increments).",
               (double)ai.current_size);
    prom_gauge(b, "halo_kv_aof_last_write_ok", "0 when the last AOF write or fsync failed.",
               ai.last_write_ok);
    prom_counter(b, "halo_kv_aof_fsyncs_total", "fsync calls on the AOF.", ai.fsyncs);
    prom_counter(b, "halo_kv_aof_rewrites_total", "AOF rewrites completed.", ai.rewrites);
}

static void render_metrics(void *ctx, buf *b)
{
    kv_metrics_http *m = ctx;
    kv_server *srv = m->srv;
    render_info(srv, b);
    render_node(srv, b);
    render_keyspace(srv, b);
    render_commands(b);
    render_aof(srv, b);
    repl_metrics(srv, b);
    admin_http_stats st;
    admin_http_get_stats(m->http, &st);
    prom_counter(b, "halo_kv_metrics_rejected_connections_total",
                 "Metrics connections closed at once: too many were open.", st.rejected);
}

/* ---- routes and lifetime ---- */

static void on_metrics(void *ctx, admin_http_resp *r)
{
    r->content_type = PROM_CONTENT_TYPE;
    render_metrics(ctx, &r->body);
}

static void on_healthz(void *ctx, admin_http_resp *r) { buf_append_str(&r->body, "ok\n"); }

static const admin_http_route g_routes[] = {
    {ADMIN_HTTP_GET, "/metrics", on_metrics},
    {ADMIN_HTTP_GET, "/healthz", on_healthz},
};

static void on_closed(void *ctx) { hfree(ctx); }

int metrics_http_start(struct kv_server *srv, const char *host, int port, kv_metrics_http **out)
{
    struct sockaddr_storage ss;
    int rc = strchr(host, ':') ? uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss)
                               : uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
    if (rc != 0) {
        log_error("metrics: invalid metrics-bind address '%s'", host);
        return -HALO_EINVAL;
    }
    kv_metrics_http *m = hcalloc(1, sizeof(*m));
    m->srv = srv;
    const admin_http_ops ops = {"metrics", g_routes, sizeof(g_routes) / sizeof(g_routes[0]), m,
                                on_closed};
    buf err;
    buf_init(&err);
    m->http = admin_http_start(srv->loop, (const struct sockaddr *)&ss, &ops, &err);
    if (m->http == NULL) {
        log_error("%.*s", (int)err.len, err.data);
        buf_free(&err);
        hfree(m);
        return -HALO_EIO;
    }
    buf_free(&err);
    log_notice("metrics: serving /metrics and /healthz on http://%s:%d", host, port);
    *out = m;
    return 0;
}

/* m is freed once the listener is released, so the loop must run once more
 * (the server's shutdown does). */
void metrics_http_stop(kv_metrics_http *m)
{
    if (m) admin_http_stop(m->http);
}
