/* metrics_http.c — GET /metrics (Prometheus) and /healthz on a small HTTP/1.1 listener (libuv). */
#include "../common/version.h"
#include "metrics_http.h"
#include "http_req.h"
#include "prom.h"
#include "../common/err.h"
#include "../common/limits.h"
#include "../common/log.h"
#include "../common/mem.h"
#include "../common/util.h"
#include "../kv/cmd.h"
#include "../kv/subsys.h"
#include "../persist/aof.h"
#include "../repl/repl_node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* A scraper answers within a second; more than this many at once is abuse,
 * and each one holds a request buffer, so the excess is accepted and closed. */
#define METRICS_MAX_CONNS 64
/* Time to receive the whole request head, counted from accept: a client
 * trickling bytes cannot hold a connection longer than this. */
#define METRICS_READ_TIMEOUT_MS 5000
/* Time to send the response and see the peer close after it. */
#define METRICS_WRITE_TIMEOUT_MS 5000
/* After responding we read and drop what the peer still sends (so closing
 * does not reset the connection before it read the response), up to this. */
#define METRICS_LINGER_MAX_BYTES (64 * 1024)
#define METRICS_BACKLOG 128

/* Connection states; each moves only forward:
 *   READING   request head arriving; read timer armed     -> WRITING (respond)
 *   WRITING   response queued; write timer armed           -> LINGERING (on_written)
 *   LINGERING FIN sent; draining input until EOF           -> CLOSING
 *   CLOSING   uv_close called on tcp and timer; freed when both close callbacks ran.
 * Any state goes to CLOSING on error, timeout, EOF or metrics_http_stop. */
enum { CONN_READING, CONN_WRITING, CONN_LINGERING, CONN_CLOSING };

typedef struct mconn mconn;

struct kv_metrics_http {
    struct kv_server *srv;
    uv_tcp_t listener;
    mconn *conns;        /* connections not yet closing */
    int nconns;          /* connections allocated, including closing ones */
    bool stopping, listener_closed;
    uint64_t rejected;   /* connections closed at once: over METRICS_MAX_CONNS */
};

struct mconn {
    kv_metrics_http *m;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wreq;
    uv_shutdown_t sreq;
    int state;
    int open_handles;    /* close callbacks still to come */
    size_t in_len, lingered;
    http_req req;
    buf out;
    mconn *prev, *next;
    /* One byte over the limit, so the parser sees a head that is too long. */
    char in[HALO_MAX_HTTP_REQUEST + 1];
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

static void render_metrics(kv_metrics_http *m, buf *b)
{
    kv_server *srv = m->srv;
    render_info(srv, b);
    render_node(srv, b);
    render_keyspace(srv, b);
    render_commands(b);
    render_aof(srv, b);
    repl_metrics(srv, b);
    prom_counter(b, "halo_kv_metrics_rejected_connections_total",
                 "Metrics connections closed at once: too many were open.", m->rejected);
}

/* ---- connections ---- */

static void on_handle_closed(uv_handle_t *h)
{
    mconn *c = h->data;
    if (--c->open_handles > 0) return;
    kv_metrics_http *m = c->m;
    buf_free(&c->out);
    hfree(c);
    m->nconns--;
    if (m->stopping && m->listener_closed && m->nconns == 0) hfree(m);
}

static void conn_close(mconn *c)
{
    if (c->state == CONN_CLOSING) return;
    c->state = CONN_CLOSING;
    kv_metrics_http *m = c->m;
    if (c->prev) c->prev->next = c->next;
    else m->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

static void on_timeout(uv_timer_t *t) { conn_close(t->data); }

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out)
{
    static char discard[4096]; /* lingering input is read and dropped */
    (void)suggested;
    mconn *c = h->data;
    if (c->state == CONN_READING)
        *out = uv_buf_init(c->in + c->in_len, (unsigned)(sizeof(c->in) - c->in_len));
    else
        *out = uv_buf_init(discard, sizeof(discard));
}

typedef struct response {
    int code;
    const char *reason;
    const char *content_type;
    bool allow;       /* add "Allow: GET, HEAD" (405) */
    bool head_only;   /* HEAD: headers with the body's length, no body */
} response;

static void set_error(response *r, buf *body, int code, const char *reason)
{
    r->code = code;
    r->reason = reason;
    r->content_type = "text/plain; charset=utf-8";
    buf_printf(body, "%d %s\n", code, reason);
}

static void set_ok(response *r, const char *content_type)
{
    r->code = 200;
    r->reason = "OK";
    r->content_type = content_type;
}

/* Decide the answer to a parsed (or refused) request and render its body. */
static void route(mconn *c, http_req_status st, response *r, buf *body)
{
    const http_req *q = &c->req;
    memset(r, 0, sizeof(*r));
    bool get = st == HTTP_REQ_DONE && q->method_len == 3 && memcmp(q->method, "GET", 3) == 0;
    bool head = st == HTTP_REQ_DONE && q->method_len == 4 && memcmp(q->method, "HEAD", 4) == 0;
    if (st == HTTP_REQ_TOO_BIG) {
        set_error(r, body, 431, "Request Header Fields Too Large");
    } else if (st != HTTP_REQ_DONE) {
        set_error(r, body, 400, "Bad Request");
    } else if (q->version_major != 1) {
        set_error(r, body, 505, "HTTP Version Not Supported");
    } else if (!get && !head) {
        r->allow = true;
        set_error(r, body, 405, "Method Not Allowed");
    } else if (q->path_len == 8 && memcmp(q->path, "/metrics", 8) == 0) {
        set_ok(r, PROM_CONTENT_TYPE);
        render_metrics(c->m, body);
    } else if (q->path_len == 8 && memcmp(q->path, "/healthz", 8) == 0) {
        set_ok(r, "text/plain; charset=utf-8");
        buf_append_str(body, "ok\n");
    } else {
        set_error(r, body, 404, "Not Found");
    }
    r->head_only = head;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    mconn *c = req->data;
    if (status < 0) conn_close(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

/* Response sent: half-close, then drain until the peer closes (bounded). */
static void on_written(uv_write_t *req, int status)
{
    mconn *c = req->data;
    if (c->state == CONN_CLOSING) return;
    if (status < 0 || uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        conn_close(c);
        return;
    }
    c->state = CONN_LINGERING;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) conn_close(c);
}

static void respond(mconn *c, http_req_status st)
{
    response r;
    buf body;
    buf_init(&body);
    route(c, st, &r, &body);
    buf_printf(&c->out,
               "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
               "Connection: close\r\n%s\r\n",
               r.code, r.reason, r.content_type, body.len, r.allow ? "Allow: GET, HEAD\r\n" : "");
    if (!r.head_only) buf_append(&c->out, body.data, body.len);
    buf_free(&body);
    if (r.code != 200) log_debug("metrics: %d for a request from a client", r.code);
    c->state = CONN_WRITING;
    uv_timer_start(&c->timer, on_timeout, METRICS_WRITE_TIMEOUT_MS, 0);
    uv_buf_t ub = uv_buf_init(c->out.data, (unsigned)c->out.len);
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &ub, 1, on_written) != 0) conn_close(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    (void)b;
    mconn *c = s->data;
    if (c->state == CONN_CLOSING) return;
    if (nread < 0) { /* EOF or error: nothing more to answer */
        conn_close(c);
        return;
    }
    if (c->state == CONN_LINGERING) {
        c->lingered += (size_t)nread;
        if (c->lingered > METRICS_LINGER_MAX_BYTES) conn_close(c);
        return;
    }
    if (c->state != CONN_READING || nread == 0) return;
    c->in_len += (size_t)nread;
    http_req_status st = http_req_parse(&c->req, c->in, c->in_len, HALO_MAX_HTTP_REQUEST);
    if (st == HTTP_REQ_AGAIN) return;
    uv_read_stop(s);
    respond(c, st);
}

static void on_rejected_closed(uv_handle_t *h) { hfree(h); }

/* Accept and close at once: over the connection cap. */
static void reject_connection(kv_metrics_http *m, uv_stream_t *server)
{
    uv_tcp_t *t = hmalloc(sizeof(*t));
    uv_tcp_init(server->loop, t);
    m->rejected++;
    uv_accept(server, (uv_stream_t *)t);
    uv_close((uv_handle_t *)t, on_rejected_closed);
}

static void on_connection(uv_stream_t *server, int status)
{
    kv_metrics_http *m = server->data;
    if (status < 0) {
        log_warn("metrics: accept error: %s", uv_strerror(status));
        return;
    }
    if (m->nconns >= METRICS_MAX_CONNS) {
        reject_connection(m, server);
        return;
    }
    mconn *c = hcalloc(1, sizeof(*c));
    c->m = m;
    c->open_handles = 2;
    uv_tcp_init(server->loop, &c->tcp);
    uv_timer_init(server->loop, &c->timer);
    c->tcp.data = c->timer.data = c->wreq.data = c->sreq.data = c;
    m->nconns++;
    c->next = m->conns;
    if (m->conns) m->conns->prev = c;
    m->conns = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_timer_start(&c->timer, on_timeout, METRICS_READ_TIMEOUT_MS, 0);
}

/* ---- listener ---- */

static void on_listener_closed(uv_handle_t *h)
{
    kv_metrics_http *m = h->data;
    m->listener_closed = true;
    if (m->nconns == 0) hfree(m);
}

static int listen_on(kv_metrics_http *m, const char *host, int port)
{
    struct sockaddr_storage ss;
    int rc = strchr(host, ':') ? uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss)
                               : uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
    if (rc != 0) {
        log_error("metrics: invalid metrics-bind address '%s'", host);
        return -HALO_EINVAL;
    }
    rc = uv_tcp_bind(&m->listener, (const struct sockaddr *)&ss, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&m->listener, METRICS_BACKLOG, on_connection);
    if (rc != 0) {
        log_error("metrics: cannot listen on %s:%d: %s", host, port, uv_strerror(rc));
        return -HALO_EIO;
    }
    return 0;
}

int metrics_http_start(struct kv_server *srv, const char *host, int port, kv_metrics_http **out)
{
    kv_metrics_http *m = hcalloc(1, sizeof(*m));
    m->srv = srv;
    uv_tcp_init(srv->loop, &m->listener);
    m->listener.data = m;
    int rc = listen_on(m, host, port);
    if (rc != 0) {
        m->stopping = true;
        uv_close((uv_handle_t *)&m->listener, on_listener_closed);
        return rc;
    }
    log_notice("metrics: serving /metrics and /healthz on http://%s:%d", host, port);
    *out = m;
    return 0;
}

/* Close the listener and every connection; m is freed by the last close
 * callback, so the loop must run once more (the server's shutdown does). */
void metrics_http_stop(kv_metrics_http *m)
{
    if (m == NULL || m->stopping) return;
    m->stopping = true;
    while (m->conns) conn_close(m->conns);
    uv_close((uv_handle_t *)&m->listener, on_listener_closed);
}
