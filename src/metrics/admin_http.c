/* admin_http.c — the admin/metrics HTTP/1.1 listener on libuv: connections, limits, routing. */
#include "admin_http.h"
#include "admin_req.h"
#include "../common/limits.h"
#include "../common/log.h"
#include "../common/mem.h"

#include <string.h>
#include <unistd.h>

/* After responding we read and drop what the peer still sends (so closing
 * does not reset the connection before it read the response), up to this. */
#define ADMIN_HTTP_LINGER_MAX_BYTES (64 * 1024)
#define ADMIN_HTTP_BACKLOG 128

/* Connection states; each moves only forward:
 *   READING   request arriving, fed to admin_req; read timer armed  -> WRITING (respond)
 *   WRITING   response queued; write timer armed                    -> LINGERING (on_written)
 *   LINGERING FIN sent; input read and dropped until EOF            -> CLOSING
 *   CLOSING   uv_close called on tcp and timer; freed when both close callbacks ran.
 * Any state goes to CLOSING on error, timeout, EOF or admin_http_stop. */
enum { CONN_READING, CONN_WRITING, CONN_LINGERING, CONN_CLOSING };

typedef struct hconn hconn;

struct admin_http {
    uv_tcp_t listener;
    admin_http_ops ops;
    admin_http_route routes[ADMIN_HTTP_MAX_ROUTES]; /* ops.routes points here */
    hconn *conns;        /* connections not yet closing */
    int nconns;          /* connections allocated, including closing ones */
    bool started, stopping, listener_closed;
    admin_http_stats stats;
    /* Every read lands here and is parsed at once (one loop thread), so the
     * connections share it; one byte over the limit shows an overlong request. */
    char rbuf[HALO_MAX_HTTP_REQUEST + 1];
};

struct hconn {
    admin_http *h;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wreq;
    uv_shutdown_t sreq;
    int state;
    int open_handles;    /* close callbacks still to come */
    size_t lingered;
    admin_req req;
    buf out;
    hconn *prev, *next;
};

/* ---- routing (what to answer) ---- */

static const char *reason_of(int status)
{
    switch (status) {
    case 200: return "OK";
    case 202: return "Accepted";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

/* The answer to one request, before it is written. */
typedef struct answer {
    admin_http_resp r;
    const char *allow;   /* Allow header value for 405, else NULL */
    bool head_only;      /* HEAD: headers with the body's length, no body */
} answer;

static void set_error(answer *a, int status)
{
    a->r.status = status;
    a->r.content_type = ADMIN_HTTP_TEXT;
    buf_reset(&a->r.body);
    buf_printf(&a->r.body, "%d %s\n", status, reason_of(status));
}

static bool path_is(const admin_req *q, const char *want)
{
    return q->path_len == strlen(want) && memcmp(q->path, want, q->path_len) == 0;
}

/* The methods the path is served with (for 405), or NULL if none. */
static const char *allowed_methods(const admin_http *h, const admin_req *q)
{
    bool get = false, post = false;
    for (size_t i = 0; i < h->ops.nroutes; i++) {
        if (!path_is(q, h->routes[i].path)) continue;
        if (h->routes[i].method == ADMIN_HTTP_GET) get = true;
        else post = true;
    }
    if (get && post) return "GET, HEAD, POST";
    return get ? "GET, HEAD" : post ? "POST" : NULL;
}

static const admin_http_route *find_route(const admin_http *h, const admin_req *q)
{
    admin_http_method m;
    if (q->method == HTTP_GET || q->method == HTTP_HEAD) m = ADMIN_HTTP_GET;
    else if (q->method == HTTP_POST) m = ADMIN_HTTP_POST;
    else return NULL;
    for (size_t i = 0; i < h->ops.nroutes; i++)
        if (h->routes[i].method == m && path_is(q, h->routes[i].path)) return &h->routes[i];
    return NULL;
}

/* Decide the answer to a complete request and let its handler render it. */
static void route_request(admin_http *h, const admin_req *q, answer *a)
{
    if (q->http_major != 1) {
        set_error(a, 505);
        return;
    }
    a->head_only = q->method == HTTP_HEAD;
    const admin_http_route *rt = find_route(h, q);
    if (rt) {
        rt->handle(h->ops.ctx, &a->r);
        return;
    }
    a->allow = allowed_methods(h, q);
    set_error(a, a->allow ? 405 : 404);
}

/* ---- connections ---- */

static void free_if_done(admin_http *h)
{
    if (!h->stopping || !h->listener_closed || h->nconns > 0) return;
    if (h->started && h->ops.closed) h->ops.closed(h->ops.ctx);
    hfree(h);
}

static void on_handle_closed(uv_handle_t *handle)
{
    hconn *c = handle->data;
    if (--c->open_handles > 0) return;
    admin_http *h = c->h;
    buf_free(&c->out);
    hfree(c);
    h->nconns--;
    free_if_done(h);
}

static void conn_close(hconn *c)
{
    if (c->state == CONN_CLOSING) return;
    c->state = CONN_CLOSING;
    admin_http *h = c->h;
    if (c->prev) c->prev->next = c->next;
    else h->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

static void on_timeout(uv_timer_t *t) { conn_close(t->data); }

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *out)
{
    hconn *c = handle->data;
    admin_http *h = c->h;
    size_t room = sizeof(h->rbuf);
    /* While reading, never take more than one byte past the limit. */
    if (c->state == CONN_READING) room -= c->req.nread < room ? c->req.nread : room - 1;
    *out = uv_buf_init(h->rbuf, (unsigned)room);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    if (status < 0) conn_close(req->data);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

/* Response sent: half-close, then drain input until the peer closes (bounded). */
static void on_written(uv_write_t *req, int status)
{
    hconn *c = req->data;
    if (c->state == CONN_CLOSING) return;
    if (status < 0 || uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        conn_close(c);
        return;
    }
    c->state = CONN_LINGERING;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) conn_close(c);
}

static void send_answer(hconn *c, const answer *a)
{
    const admin_http_resp *r = &a->r;
    buf_printf(&c->out,
               "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
               "Cache-Control: no-store\r\nConnection: close\r\n",
               r->status, reason_of(r->status), r->content_type, r->body.len);
    if (a->allow) buf_printf(&c->out, "Allow: %s\r\n", a->allow);
    buf_append(&c->out, "\r\n", 2);
    if (!a->head_only) buf_append(&c->out, r->body.data, r->body.len);
    c->state = CONN_WRITING;
    uv_timer_start(&c->timer, on_timeout, ADMIN_HTTP_WRITE_TIMEOUT_MS, 0);
    uv_buf_t ub = uv_buf_init(c->out.data, (unsigned)c->out.len);
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &ub, 1, on_written) != 0) conn_close(c);
}

/* Answer: result is ADMIN_REQ_DONE (route the request) or an error status. */
static void respond(hconn *c, int result)
{
    admin_http *h = c->h;
    answer a = {.r = {.status = 200, .content_type = ADMIN_HTTP_TEXT}};
    buf_init(&a.r.body);
    uv_read_stop((uv_stream_t *)&c->tcp);
    h->stats.requests++;
    if (result == ADMIN_REQ_DONE) {
        route_request(h, &c->req, &a);
    } else {
        h->stats.bad_requests++;
        set_error(&a, result);
    }
    if (a.r.status >= 400) log_debug("%s: %d for a request", h->ops.name, a.r.status);
    /* A handler may have stopped the listener (and so this connection). */
    if (c->state == CONN_READING) send_answer(c, &a);
    buf_free(&a.r.body);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    hconn *c = s->data;
    if (c->state == CONN_CLOSING) return;
    if (nread < 0) { /* EOF or error: nothing more to answer */
        conn_close(c);
        return;
    }
    if (c->state == CONN_LINGERING) {
        c->lingered += (size_t)nread;
        if (c->lingered > ADMIN_HTTP_LINGER_MAX_BYTES) conn_close(c);
        return;
    }
    if (c->state != CONN_READING || nread == 0) return;
    int result = admin_req_feed(&c->req, b->base, (size_t)nread);
    if (result != ADMIN_REQ_AGAIN) respond(c, result);
}

static void on_rejected_closed(uv_handle_t *handle) { hfree(handle); }

/* Accept and close at once: over the connection cap. */
static void reject_connection(admin_http *h, uv_stream_t *server)
{
    uv_tcp_t *t = hmalloc(sizeof(*t));
    uv_tcp_init(server->loop, t);
    h->stats.rejected++;
    (void)uv_accept(server, (uv_stream_t *)t);
    uv_close((uv_handle_t *)t, on_rejected_closed);
}

static hconn *conn_new(admin_http *h, uv_loop_t *loop)
{
    hconn *c = hcalloc(1, sizeof(*c));
    c->h = h;
    c->open_handles = 2;
    uv_tcp_init(loop, &c->tcp);
    uv_timer_init(loop, &c->timer);
    c->tcp.data = c->timer.data = c->wreq.data = c->sreq.data = c;
    admin_req_init(&c->req, HALO_MAX_HTTP_REQUEST);
    buf_init(&c->out);
    h->nconns++;
    c->next = h->conns;
    if (h->conns) h->conns->prev = c;
    h->conns = c;
    return c;
}

static void on_connection(uv_stream_t *server, int status)
{
    admin_http *h = server->data;
    if (status < 0) {
        log_warn("%s: accept error: %s", h->ops.name, uv_strerror(status));
        return;
    }
    if (h->stopping) return;
    if (h->nconns >= ADMIN_HTTP_MAX_CONNS) {
        reject_connection(h, server);
        return;
    }
    hconn *c = conn_new(h, server->loop);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_timer_start(&c->timer, on_timeout, ADMIN_HTTP_READ_TIMEOUT_MS, 0);
}

/* ---- listener ---- */

static void on_listener_closed(uv_handle_t *handle)
{
    admin_http *h = handle->data;
    h->listener_closed = true;
    free_if_done(h);
}

static admin_http *listener_new(uv_loop_t *loop, const admin_http_ops *ops)
{
    admin_http *h = hcalloc(1, sizeof(*h));
    h->ops = *ops;
    if (h->ops.nroutes > ADMIN_HTTP_MAX_ROUTES) {
        log_error("%s: %zu routes, at most %d are served", ops->name, ops->nroutes,
                  ADMIN_HTTP_MAX_ROUTES);
        h->ops.nroutes = ADMIN_HTTP_MAX_ROUTES;
    }
    if (h->ops.nroutes) memcpy(h->routes, ops->routes, h->ops.nroutes * sizeof(h->routes[0]));
    h->ops.routes = h->routes;
    uv_tcp_init(loop, &h->listener);
    h->listener.data = h;
    return h;
}

/* Start failed: close the handle; h is freed by its close callback. */
static admin_http *listener_fail(admin_http *h)
{
    h->stopping = true;
    uv_close((uv_handle_t *)&h->listener, on_listener_closed);
    return NULL;
}

/* "host:port" of addr into err, for a start error. */
static void append_addr(buf *err, const struct sockaddr *addr)
{
    char host[64] = "?";
    int port = 0;
    (void)uv_ip_name(addr, host, sizeof(host));
    if (addr->sa_family == AF_INET6) port = ntohs(((const struct sockaddr_in6 *)addr)->sin6_port);
    else if (addr->sa_family == AF_INET) port = ntohs(((const struct sockaddr_in *)addr)->sin_port);
    buf_printf(err, "%s:%d", host, port);
}

admin_http *admin_http_start(uv_loop_t *loop, const struct sockaddr *addr,
                             const admin_http_ops *ops, buf *err)
{
    admin_http *h = listener_new(loop, ops);
    int rc = uv_tcp_bind(&h->listener, addr, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&h->listener, ADMIN_HTTP_BACKLOG, on_connection);
    if (rc != 0) {
        buf_printf(err, "%s: cannot listen on ", ops->name);
        append_addr(err, addr);
        buf_printf(err, ": %s", uv_strerror(rc));
        return listener_fail(h);
    }
    h->started = true;
    return h;
}

admin_http *admin_http_start_fd(uv_loop_t *loop, int fd, const admin_http_ops *ops, buf *err)
{
    admin_http *h = listener_new(loop, ops);
    int rc = uv_tcp_open(&h->listener, fd);
    if (rc != 0) {
        close(fd);
        buf_printf(err, "%s: cannot use inherited socket %d: %s", ops->name, fd, uv_strerror(rc));
        return listener_fail(h);
    }
    rc = uv_listen((uv_stream_t *)&h->listener, ADMIN_HTTP_BACKLOG, on_connection);
    if (rc != 0) {
        buf_printf(err, "%s: cannot listen on inherited socket %d: %s", ops->name, fd,
                   uv_strerror(rc));
        return listener_fail(h); /* the handle owns fd now: closing it closes fd */
    }
    h->started = true;
    return h;
}

int admin_http_fd(const admin_http *h)
{
    uv_os_fd_t fd;
    if (h == NULL || h->stopping || uv_fileno((const uv_handle_t *)&h->listener, &fd) != 0)
        return -1;
    return fd;
}

void admin_http_stop(admin_http *h)
{
    if (h == NULL || h->stopping) return;
    h->stopping = true;
    while (h->conns) conn_close(h->conns);
    uv_close((uv_handle_t *)&h->listener, on_listener_closed);
}

void admin_http_get_stats(const admin_http *h, admin_http_stats *out)
{
    if (h) *out = h->stats;
    else memset(out, 0, sizeof(*out));
}
