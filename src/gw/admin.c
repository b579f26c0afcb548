/* admin.c — the gateway's admin HTTP/1.1 listener on the main loop, requests parsed by llhttp. */
#include "admin.h"
#include "gw_metrics.h"
#include "../common/log.h"
#include "../common/mem.h"
#include "../metrics/prom.h"

#include <errno.h>
#include <llhttp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Longest path (with query) an admin request may name; the API's paths are
 * short, so a longer one is a 414, and the buffer lives in the connection. */
#define ADMIN_MAX_URL 256
/* After responding we read and drop what the peer still sends (so closing
 * does not reset the connection before it read the response), up to this. */
#define ADMIN_LINGER_MAX_BYTES (64 * 1024)
#define ADMIN_BACKLOG 128

/* Connection states; each moves only forward:
 *   READING   request arriving, fed to llhttp; read timer armed  -> WRITING (respond)
 *   WRITING   response queued; write timer armed                  -> LINGERING (on_written)
 *   LINGERING FIN sent; input read and dropped until EOF          -> CLOSING
 *   CLOSING   uv_close called on tcp and timer; freed when both close callbacks ran.
 * Any state goes to CLOSING on error, timeout, EOF or gw_admin_stop. */
enum { CONN_READING, CONN_WRITING, CONN_LINGERING, CONN_CLOSING };

typedef struct aconn aconn;

struct gw_admin {
    uv_tcp_t listener;
    gw_admin_ops ops;
    void *ctx;
    aconn *conns;        /* connections not yet closing */
    int nconns;          /* connections allocated, including closing ones */
    bool stopping, listener_closed;
    gw_admin_stats stats;
    llhttp_settings_t settings;  /* the parser callbacks, shared by the connections */
    /* Every read lands here and is parsed at once (one loop thread), so the
     * connections share it; one byte over the limit shows an overlong request. */
    char rbuf[GW_ADMIN_MAX_REQUEST + 1];
};

struct aconn {
    gw_admin *a;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wreq;
    uv_shutdown_t sreq;
    int state;
    int open_handles;    /* close callbacks still to come */
    size_t nread, lingered;
    llhttp_t parser;
    bool head_done, complete, url_too_long;
    size_t url_len;
    char url[ADMIN_MAX_URL];
    buf out;
    aconn *prev, *next;
};

/* ---- llhttp callbacks ---- */

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    aconn *c = p->data;
    if (len > sizeof(c->url) - c->url_len) {
        c->url_too_long = true;
        return HPE_USER;
    }
    memcpy(c->url + c->url_len, at, len);
    c->url_len += len;
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    ((aconn *)p->data)->head_done = true;
    return 0;
}

/* One request per connection: pause so pipelined bytes are not parsed. */
static int on_message_complete(llhttp_t *p)
{
    ((aconn *)p->data)->complete = true;
    return HPE_PAUSED;
}

/* ---- routing (what to answer) ---- */

typedef struct response {
    int code;
    const char *reason;
    const char *content_type;
    const char *allow;   /* Allow header value for 405, else NULL */
    bool head_only;      /* HEAD: headers with the body's length, no body */
} response;

#define TEXT "text/plain; charset=utf-8"

static void set_text(response *r, buf *body, int code, const char *reason, const char *text)
{
    r->code = code;
    r->reason = reason;
    r->content_type = TEXT;
    buf_append_str(body, text);
}

static void set_error(response *r, buf *body, int code, const char *reason)
{
    r->code = code;
    r->reason = reason;
    r->content_type = TEXT;
    buf_printf(body, "%d %s\n", code, reason);
}

static void render_admin_stats(gw_admin *a, buf *b)
{
    prom_counter(b, "halo_gw_admin_requests_total", "Admin requests answered.",
                 a->stats.requests);
    prom_counter(b, "halo_gw_admin_bad_requests_total",
                 "Admin requests refused as malformed or too large.", a->stats.bad_requests);
    prom_counter(b, "halo_gw_admin_rejected_connections_total",
                 "Admin connections closed at once: too many were open.", a->stats.rejected);
}

static bool path_is(const char *path, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(path, want, len) == 0;
}

/* GET/HEAD resources. Returns false when path is not one. */
static bool route_get(gw_admin *a, const char *path, size_t len, response *r, buf *body)
{
    if (path_is(path, len, "/metrics")) {
        r->code = 200, r->reason = "OK", r->content_type = GW_METRICS_CONTENT_TYPE;
        if (a->ops.render_metrics) a->ops.render_metrics(a->ctx, body);
        render_admin_stats(a, body);
    } else if (path_is(path, len, "/status")) {
        r->code = 200, r->reason = "OK", r->content_type = "application/json";
        if (a->ops.render_status) a->ops.render_status(a->ctx, body);
        else buf_append_str(body, "{}\n");
    } else if (path_is(path, len, "/healthz")) {
        if (a->ops.draining && a->ops.draining(a->ctx))
            set_text(r, body, 503, "Service Unavailable", "draining\n");
        else
            set_text(r, body, 200, "OK", "ok\n");
    } else {
        return false;
    }
    return true;
}

/* POST actions. Returns false when path is not one. */
static bool route_post(gw_admin *a, const char *path, size_t len, response *r, buf *body)
{
    if (path_is(path, len, "/reload")) {
        buf err;
        buf_init(&err);
        int rc = a->ops.reload ? a->ops.reload(a->ctx, &err) : -1;
        if (rc == 0) {
            set_text(r, body, 200, "OK", "reloaded\n");
        } else {
            set_text(r, body, 400, "Bad Request", err.len ? "" : "reload is not available");
            buf_append(body, err.data, err.len);
            buf_append(body, "\n", 1);
        }
        buf_free(&err);
    } else if (path_is(path, len, "/drain") && a->ops.drain) {
        a->ops.drain(a->ctx);
        set_text(r, body, 202, "Accepted", "draining\n");
    } else {
        return false;
    }
    return true;
}

/* A path that exists with another method: 405 with the methods it takes. */
static const char *allowed_methods(gw_admin *a, const char *path, size_t len)
{
    if (path_is(path, len, "/metrics") || path_is(path, len, "/status") ||
        path_is(path, len, "/healthz"))
        return "GET, HEAD";
    if (path_is(path, len, "/reload") || (path_is(path, len, "/drain") && a->ops.drain))
        return "POST";
    return NULL;
}

/* Decide the answer to a complete request and render its body. */
static void route_request(aconn *c, response *r, buf *body)
{
    gw_admin *a = c->a;
    const char *q = memchr(c->url, '?', c->url_len);
    size_t len = q ? (size_t)(q - c->url) : c->url_len; /* the query is ignored */
    uint8_t m = llhttp_get_method(&c->parser);
    if (llhttp_get_http_major(&c->parser) != 1) {
        set_error(r, body, 505, "HTTP Version Not Supported");
        return;
    }
    r->head_only = m == HTTP_HEAD;
    if ((m == HTTP_GET || m == HTTP_HEAD) && route_get(a, c->url, len, r, body)) return;
    if (m == HTTP_POST && route_post(a, c->url, len, r, body)) return;
    r->allow = allowed_methods(a, c->url, len);
    if (r->allow) set_error(r, body, 405, "Method Not Allowed");
    else set_error(r, body, 404, "Not Found");
}

/* ---- connections ---- */

static void free_if_done(gw_admin *a)
{
    if (a->stopping && a->listener_closed && a->nconns == 0) hfree(a);
}

static void on_handle_closed(uv_handle_t *h)
{
    aconn *c = h->data;
    if (--c->open_handles > 0) return;
    gw_admin *a = c->a;
    buf_free(&c->out);
    hfree(c);
    a->nconns--;
    free_if_done(a);
}

static void conn_close(aconn *c)
{
    if (c->state == CONN_CLOSING) return;
    c->state = CONN_CLOSING;
    gw_admin *a = c->a;
    if (c->prev) c->prev->next = c->next;
    else a->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

static void on_timeout(uv_timer_t *t) { conn_close(t->data); }

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out)
{
    aconn *c = h->data;
    gw_admin *a = c->a;
    size_t room = sizeof(a->rbuf);
    /* While reading, never take more than one byte past the limit. */
    if (c->state == CONN_READING) room -= c->nread < room ? c->nread : room - 1;
    *out = uv_buf_init(a->rbuf, (unsigned)room);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    if (status < 0) conn_close(req->data);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

/* Response sent: half-close, then drain input until the peer closes (bounded). */
static void on_written(uv_write_t *req, int status)
{
    aconn *c = req->data;
    if (c->state == CONN_CLOSING) return;
    if (status < 0 || uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        conn_close(c);
        return;
    }
    c->state = CONN_LINGERING;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) conn_close(c);
}

static void send_response(aconn *c, const response *r, const buf *body)
{
    buf_printf(&c->out,
               "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
               "Cache-Control: no-store\r\nConnection: close\r\n",
               r->code, r->reason, r->content_type, body->len);
    if (r->allow) buf_printf(&c->out, "Allow: %s\r\n", r->allow);
    buf_append(&c->out, "\r\n", 2);
    if (!r->head_only) buf_append(&c->out, body->data, body->len);
    c->state = CONN_WRITING;
    uv_timer_start(&c->timer, on_timeout, GW_ADMIN_WRITE_TIMEOUT_MS, 0);
    uv_buf_t ub = uv_buf_init(c->out.data, (unsigned)c->out.len);
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &ub, 1, on_written) != 0) conn_close(c);
}

/* Answer: code 0 means route the complete request, else this error. */
static void respond(aconn *c, int code, const char *reason)
{
    response r;
    buf body;
    memset(&r, 0, sizeof(r));
    buf_init(&body);
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->a->stats.requests++;
    if (code) {
        c->a->stats.bad_requests++;
        set_error(&r, &body, code, reason);
    } else {
        route_request(c, &r, &body);
    }
    /* A callback may have stopped the admin listener (and so this connection). */
    if (c->state == CONN_READING) send_response(c, &r, &body);
    buf_free(&body);
}

/* Feed new bytes to the parser; respond once the request is complete or bad. */
static void parse_more(aconn *c, const char *data, size_t len)
{
    c->nread += len;
    llhttp_errno_t e = llhttp_execute(&c->parser, data, len);
    if (c->complete) respond(c, 0, NULL);
    else if (c->url_too_long) respond(c, 414, "URI Too Long");
    else if (e != HPE_OK) respond(c, 400, "Bad Request");
    else if (c->nread > GW_ADMIN_MAX_REQUEST)
        respond(c, c->head_done ? 413 : 431,
                c->head_done ? "Content Too Large" : "Request Header Fields Too Large");
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    aconn *c = s->data;
    if (c->state == CONN_CLOSING) return;
    if (nread < 0) { /* EOF or error: nothing more to answer */
        conn_close(c);
        return;
    }
    if (c->state == CONN_LINGERING) {
        c->lingered += (size_t)nread;
        if (c->lingered > ADMIN_LINGER_MAX_BYTES) conn_close(c);
        return;
    }
    if (c->state == CONN_READING && nread > 0) parse_more(c, b->base, (size_t)nread);
}

static void on_rejected_closed(uv_handle_t *h) { hfree(h); }

/* Accept and close at once: over the connection cap. */
static void reject_connection(gw_admin *a, uv_stream_t *server)
{
    uv_tcp_t *t = hmalloc(sizeof(*t));
    uv_tcp_init(server->loop, t);
    a->stats.rejected++;
    (void)uv_accept(server, (uv_stream_t *)t);
    uv_close((uv_handle_t *)t, on_rejected_closed);
}

static aconn *conn_new(gw_admin *a, uv_loop_t *loop)
{
    aconn *c = hcalloc(1, sizeof(*c));
    c->a = a;
    c->open_handles = 2;
    uv_tcp_init(loop, &c->tcp);
    uv_timer_init(loop, &c->timer);
    c->tcp.data = c->timer.data = c->wreq.data = c->sreq.data = c;
    llhttp_init(&c->parser, HTTP_REQUEST, &a->settings);
    c->parser.data = c;
    buf_init(&c->out);
    a->nconns++;
    c->next = a->conns;
    if (a->conns) a->conns->prev = c;
    a->conns = c;
    return c;
}

static void on_connection(uv_stream_t *server, int status)
{
    gw_admin *a = server->data;
    if (status < 0) {
        log_warn("admin: accept error: %s", uv_strerror(status));
        return;
    }
    if (a->stopping) return;
    if (a->nconns >= GW_ADMIN_MAX_CONNS) {
        reject_connection(a, server);
        return;
    }
    aconn *c = conn_new(a, server->loop);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_timer_start(&c->timer, on_timeout, GW_ADMIN_READ_TIMEOUT_MS, 0);
}

/* ---- listener ---- */

static void on_listener_closed(uv_handle_t *h)
{
    gw_admin *a = h->data;
    a->listener_closed = true;
    free_if_done(a);
}

static gw_admin *admin_new(uv_loop_t *loop, const gw_admin_ops *ops, void *ctx)
{
    gw_admin *a = hcalloc(1, sizeof(*a));
    if (ops) a->ops = *ops;
    a->ctx = ctx;
    llhttp_settings_init(&a->settings);
    a->settings.on_url = on_url;
    a->settings.on_headers_complete = on_headers_complete;
    a->settings.on_message_complete = on_message_complete;
    uv_tcp_init(loop, &a->listener);
    a->listener.data = a;
    return a;
}

/* Start failed: close the handle; a is freed by its close callback. */
static gw_admin *admin_fail(gw_admin *a)
{
    a->stopping = true;
    uv_close((uv_handle_t *)&a->listener, on_listener_closed);
    return NULL;
}

gw_admin *gw_admin_start(uv_loop_t *loop, const struct sockaddr *addr, const gw_admin_ops *ops,
                         void *ctx, buf *err)
{
    gw_admin *a = admin_new(loop, ops, ctx);
    int rc = uv_tcp_bind(&a->listener, addr, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&a->listener, ADMIN_BACKLOG, on_connection);
    if (rc != 0) {
        char host[64] = "?";
        int port = 0;
        if (addr->sa_family == AF_INET6) {
            const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)addr;
            uv_ip6_name(s6, host, sizeof(host));
            port = ntohs(s6->sin6_port);
        } else if (addr->sa_family == AF_INET) {
            const struct sockaddr_in *s4 = (const struct sockaddr_in *)addr;
            uv_ip4_name(s4, host, sizeof(host));
            port = ntohs(s4->sin_port);
        }
        buf_printf(err, "admin: cannot listen on %s:%d: %s", host, port, uv_strerror(rc));
        return admin_fail(a);
    }
    return a;
}

gw_admin *gw_admin_start_fd(uv_loop_t *loop, int fd, const gw_admin_ops *ops, void *ctx,
                            buf *err)
{
    gw_admin *a = admin_new(loop, ops, ctx);
    int rc = uv_tcp_open(&a->listener, fd);
    if (rc != 0) {
        close(fd);
        buf_printf(err, "admin: cannot use inherited socket %d: %s", fd, uv_strerror(rc));
        return admin_fail(a);
    }
    rc = uv_listen((uv_stream_t *)&a->listener, ADMIN_BACKLOG, on_connection);
    if (rc != 0) {
        buf_printf(err, "admin: cannot listen on inherited socket %d: %s", fd, uv_strerror(rc));
        return admin_fail(a); /* the handle owns fd now: closing it closes fd */
    }
    return a;
}

int gw_admin_fd(const gw_admin *a)
{
    uv_os_fd_t fd;
    if (a == NULL || a->stopping || uv_fileno((const uv_handle_t *)&a->listener, &fd) != 0)
        return -1;
    return fd;
}

void gw_admin_stop(gw_admin *a)
{
    if (a == NULL || a->stopping) return;
    a->stopping = true;
    while (a->conns) conn_close(a->conns);
    uv_close((uv_handle_t *)&a->listener, on_listener_closed);
}

void gw_admin_get_stats(const gw_admin *a, gw_admin_stats *out)
{
    if (a) *out = a->stats;
    else memset(out, 0, sizeof(*out));
}
