/* net.c — the libuv adapter of the data node: listeners, client I/O, flush after poll, closing. */
#include "client.h"
#include "cmd.h"
#include "net.h"
#include "subsys.h"
#include "../common/err.h"
#include "../common/limits.h"
#include "../common/log.h"
#include "../common/mem.h"
#include "../common/util.h"
#include "../persist/aof.h"
#include "../repl/repl_node.h"

#include <stdio.h>
#include <string.h>

#define QBUF_MIN_FREE (16 * 1024)

static void link_client(kv_server *srv, kv_client *c)
{
    c->next = srv->clients;
    if (srv->clients) srv->clients->prev = c;
    srv->clients = c;
    srv->nclients++;
}

static void unlink_client(kv_server *srv, kv_client *c)
{
    if (c->prev) c->prev->next = c->next;
    else srv->clients = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    srv->nclients--;
}

static void client_init(kv_server *srv, kv_client *c)
{
    memset(c, 0, sizeof(*c));
    c->srv = srv;
    c->id = ++srv->next_client_id;
    c->resp = 2;
    c->ctime_ms = time_ms();
    c->last_interaction_ms = srv->loop ? (int64_t)uv_now(srv->loop) : 0;
    resp_parser_init(&c->parser, srv->cfg.proto_max_bulk_len);
}

kv_client *client_new_fake(kv_server *srv)
{
    kv_client *c = hmalloc(sizeof(*c));
    client_init(srv, c);
    c->flags |= CLIENT_FAKE | CLIENT_AUTHED;
    snprintf(c->addr, sizeof(c->addr), "aof");
    return c;
}

static void free_replies(kv_client *c)
{
    reply_block *b = c->reply_head;
    while (b) {
        reply_block *next = b->next;
        hfree(b);
        b = next;
    }
    c->reply_head = c->reply_tail = NULL;
    c->reply_bytes = 0;
}

static void client_release(kv_client *c)
{
    if (c->flags & (CLIENT_REPL_LINK | CLIENT_REPL_UPSTREAM | CLIENT_REPL_HELD)) repl_client_gone(c);
    multi_discard(c);
    watch_unwatch_all(c);
    block_client_free(c);
    pubsub_client_free(c);
    resp_parser_free(&c->parser);
    free_replies(c);
    hfree(c->qbuf);
    hfree(c->name);
}

void client_free_fake(kv_client *c)
{
    client_release(c);
    hfree(c);
}

static void on_closed(uv_handle_t *h)
{
    kv_client *c = h->data;
    hfree(c);
}

/* Freeing is deferred to a safe point: never inside a callback still using c. */
void client_close_async(kv_client *c)
{
    if (c->flags & CLIENT_FAKE || c->flags & CLIENT_CLOSING) return;
    c->flags |= CLIENT_CLOSE_ASAP;
    /* An in-flight write still points into the reply blocks: keep them until
     * the handle is closed (client_release frees them). */
    if (!(c->flags & CLIENT_WRITING)) free_replies(c);
    if (!(c->flags & CLIENT_PENDING_WRITE)) {
        c->flags |= CLIENT_PENDING_WRITE;
        c->next_pending = c->srv->pending_write;
        c->srv->pending_write = c;
    }
}

static void client_close_now(kv_client *c)
{
    if (c->flags & CLIENT_CLOSING) return;
    c->flags |= CLIENT_CLOSING;
    kv_server *srv = c->srv;
    unlink_client(srv, c);
    client_release(c);
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

/* Drop n written bytes from the head of the reply chain. */
static void advance(kv_client *c, size_t n)
{
    c->srv->stats.net_output_bytes += n;
    while (n && c->reply_head) {
        reply_block *b = c->reply_head;
        size_t avail = b->used - c->head_sent;
        if (n < avail) {
            c->head_sent += n;
            c->reply_bytes -= n;
            return;
        }
        n -= avail;
        c->reply_bytes -= avail;
        c->head_sent = 0;
        c->reply_head = b->next;
        if (c->reply_head == NULL) c->reply_tail = NULL;
        hfree(b);
    }
    /* Drop empty leading blocks (deferred placeholders already sent). */
    while (c->reply_head && c->reply_head->used == 0 && c->reply_head != c->reply_tail) {
        reply_block *b = c->reply_head;
        c->reply_head = b->next;
        hfree(b);
    }
}

static unsigned fill_bufs(kv_client *c, size_t *total)
{
    unsigned n = 0;
    *total = 0;
    size_t skip = c->head_sent;
    for (reply_block *b = c->reply_head; b && n < 64; b = b->next) {
        size_t len = b->used - skip;
        if (len) {
            c->wbufs[n] = uv_buf_init(b->buf + skip, (unsigned)len);
            *total += len;
            n++;
        }
        skip = 0;
    }
    return n;
}

static void client_flush(kv_client *c);

static void on_written(uv_write_t *req, int status)
{
    kv_client *c = req->data;
    c->flags &= ~CLIENT_WRITING;
    if (c->flags & CLIENT_CLOSING) return;
    if (status < 0) {
        log_debug("write to client %s failed: %s", c->addr, uv_strerror(status));
        c->writing_bytes = 0;
        client_close_now(c);
        return;
    }
    advance(c, c->writing_bytes);
    c->writing_bytes = 0;
    /* Replies added while the write was out may be waiting for the group. */
    if (repl_may_flush(c)) client_flush(c);
}

/* Write as much as the socket takes now; queue the rest with uv_write. */
static void client_flush(kv_client *c)
{
    if (c->flags & CLIENT_CLOSING) return;
    if (c->flags & CLIENT_CLOSE_ASAP) {
        client_close_now(c); /* uv_close cancels an in-flight write */
        return;
    }
    if (c->flags & CLIENT_WRITING) return;
    size_t total;
    unsigned n = fill_bufs(c, &total);
    if (n > 0) {
        int w = uv_try_write((uv_stream_t *)&c->tcp, c->wbufs, n);
        if (w > 0) advance(c, (size_t)w);
        else if (w < 0 && w != UV_EAGAIN) {
            client_close_now(c);
            return;
        }
        n = fill_bufs(c, &total);
        if (n > 0) {
            c->wreq.data = c;
            c->writing_bytes = total;
            c->flags |= CLIENT_WRITING;
            int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, c->wbufs, n, on_written);
            if (rc < 0) {
                c->flags &= ~CLIENT_WRITING;
                client_close_now(c);
            }
            return;
        }
    }
    if (c->flags & CLIENT_CLOSE_AFTER_REPLY) client_close_now(c);
}

/* Runs once per loop iteration right after the poll phase: make the AOF
 * durable first (an acknowledged write is on disk), then send replies. */
static void after_io(uv_check_t *h)
{
    kv_server *srv = h->data;
    /* Released held clients may run commands that log more: flush again
     * (bounded: each round needs a commit point the group already reached). */
    for (int round = 0; round < 8; round++) {
        if (srv->aof && aof_flush(srv->aof) != 0) {
            /* Replies to writes must not go out: keep them until a flush succeeds
             * (the cron retries); reads are delayed too, as Redis does. */
            return;
        }
        if (!repl_after_flush(srv)) break;
    }
    if (srv->pending_write == NULL) return;
    kv_client *c = srv->pending_write;
    srv->pending_write = NULL;
    while (c) {
        kv_client *next = c->next_pending;
        c->flags &= ~CLIENT_PENDING_WRITE;
        c->next_pending = NULL;
        if (repl_may_flush(c)) client_flush(c);
        c = next;
    }
}

void client_wake(kv_client *c)
{
    if (client_closing(c)) return;
    client_flush(c);
    if (c->qpos < c->qlen) client_process_input(c);
}

void net_flush_all(kv_server *srv) { after_io(&srv->after_io); }

static void reset_command(kv_client *c)
{
    c->argc = 0;
    c->argv = NULL;
}

void client_process_input(kv_client *c)
{
    while (c->qpos < c->qlen &&
           !(c->flags & (CLIENT_BLOCKED | CLIENT_CLOSE_AFTER_REPLY | CLIENT_REPL_HELD |
                         CLIENT_REPL_PAUSED)) &&
           !client_closing(c)) {
        size_t consumed = 0;
        int rc = resp_parse(&c->parser, c->qbuf + c->qpos, c->qlen - c->qpos, &consumed);
        if (rc == RESP_ERR) {
            c->srv->stats.protocol_errors++;
            log_info("protocol error from client %s: %s", c->addr, c->parser.error);
            reply_errorf(c, "ERR %s", c->parser.error);
            c->flags |= CLIENT_CLOSE_AFTER_REPLY;
            c->qpos = c->qlen;
            break;
        }
        c->qpos += consumed;
        if (rc == RESP_NEED_MORE) {
            if (consumed == 0) break;
            continue;
        }
        c->argc = (int)c->parser.argc;
        c->argv = c->parser.argv;
        cmd_dispatch(c);
        reset_command(c);
    }
    /* Keep the unparsed tail at the front of the buffer. */
    if (c->qpos == c->qlen) {
        c->qpos = c->qlen = 0;
    } else if (c->qpos > 0 && (c->parser.multibulk_len == 0 || c->qpos > c->qcap / 2)) {
        /* A partially parsed multibulk keeps offsets relative to its start, so
         * moving the bytes that follow qpos is safe. */
        memmove(c->qbuf, c->qbuf + c->qpos, c->qlen - c->qpos);
        c->qlen -= c->qpos;
        c->qpos = 0;
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out)
{
    (void)suggested;
    kv_client *c = h->data;
    size_t want = QBUF_MIN_FREE;
    size_t pending = resp_pending_bulk(&c->parser);
    /* A large bulk argument: room for more of it, growing geometrically with
     * what actually arrived — never from the declared length alone. */
    if (pending > c->qlen - c->qpos) {
        size_t need = pending - (c->qlen - c->qpos);
        size_t step = c->qlen > want ? c->qlen : want;
        want = need < step ? need : step;
    }
    if (c->qcap - c->qlen < want) {
        size_t cap = c->qcap ? c->qcap : QBUF_MIN_FREE;
        while (cap - c->qlen < want) cap *= 2;
        c->qbuf = hrealloc(c->qbuf, cap);
        c->qcap = cap;
    }
    *out = uv_buf_init(c->qbuf + c->qlen, (unsigned)(c->qcap - c->qlen));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    (void)b;
    kv_client *c = s->data;
    if (c->flags & CLIENT_CLOSING) return;
    if (nread < 0) {
        if (nread != UV_EOF) log_debug("read from %s: %s", c->addr, uv_strerror((int)nread));
        client_close_now(c);
        return;
    }
    if (nread == 0) return;
    c->qlen += (size_t)nread;
    c->srv->stats.net_input_bytes += (uint64_t)nread;
    c->last_interaction_ms = (int64_t)uv_now(c->srv->loop); /* cached per loop iteration */
    if ((int64_t)(c->qlen - c->qpos) > c->srv->cfg.client_query_buffer_limit) {
        log_warn("closing client %s: query buffer of %zu bytes exceeds "
                 "client-query-buffer-limit", c->addr, c->qlen - c->qpos);
        client_close_now(c);
        return;
    }
    if (c->flags & CLIENT_CLOSE_AFTER_REPLY) {
        c->qlen = c->qpos = 0; /* discard input after QUIT or a protocol error */
        return;
    }
    client_process_input(c);
}

static void format_addr(const struct sockaddr_storage *ss, char *out, size_t cap)
{
    char ip[64] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        uv_ip4_name(a, ip, sizeof(ip));
        port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        uv_ip6_name(a, ip, sizeof(ip));
        port = ntohs(a->sin6_port);
    }
    snprintf(out, cap, "%s:%d", ip, port);
}

/* "ip:port" of the peer and of our end, for CLIENT LIST and logs. */
static void fill_addrs(kv_client *c)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
        format_addr(&ss, c->addr, sizeof(c->addr));
    len = sizeof(ss);
    if (uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
        format_addr(&ss, c->laddr, sizeof(c->laddr));
}

static void on_connection(uv_stream_t *server, int status)
{
    kv_server *srv = server->data;
    if (status < 0) {
        log_warn("accept error: %s", uv_strerror(status));
        return;
    }
    kv_client *c = hmalloc(sizeof(*c));
    client_init(srv, c);
    uv_tcp_init(srv->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_closed);
        return;
    }
    srv->stats.connections_received++;
    uv_tcp_nodelay(&c->tcp, 1);
    if (srv->cfg.tcp_keepalive_s > 0) uv_tcp_keepalive(&c->tcp, 1, (unsigned)srv->cfg.tcp_keepalive_s);
    fill_addrs(c);
    link_client(srv, c);
    if (srv->nclients > srv->cfg.maxclients) {
        srv->stats.rejected_connections++;
        log_warn("rejecting client %s: max number of clients (%d) reached", c->addr,
                 srv->cfg.maxclients);
        reply_error(c, "ERR max number of clients reached");
        c->flags |= CLIENT_CLOSE_AFTER_REPLY;
        return;
    }
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static int listen_one(kv_server *srv, const char *host)
{
    struct sockaddr_storage ss;
    if (strchr(host, ':')) {
        if (uv_ip6_addr(host, srv->cfg.port, (struct sockaddr_in6 *)&ss) != 0) return -1;
    } else if (uv_ip4_addr(host, srv->cfg.port, (struct sockaddr_in *)&ss) != 0) {
        return -1;
    }
    if (srv->nlisteners >= (int)(sizeof(srv->listeners) / sizeof(srv->listeners[0]))) return -1;
    uv_tcp_t *t = &srv->listeners[srv->nlisteners];
    uv_tcp_init(srv->loop, t);
    t->data = srv;
    int rc = uv_tcp_bind(t, (struct sockaddr *)&ss, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)t, srv->cfg.tcp_backlog, on_connection);
    if (rc != 0) {
        log_error("could not listen on %s:%d: %s", host, srv->cfg.port, uv_strerror(rc));
        uv_close((uv_handle_t *)t, NULL);
        return -1;
    }
    srv->nlisteners++;
    log_notice("listening on %s:%d", host, srv->cfg.port);
    return 0;
}

int net_listen(kv_server *srv)
{
    char *copy = hstrdup(srv->cfg.bind);
    char *save = NULL;
    int rc = 0;
    for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        const char *host = tok[0] == '-' ? tok + 1 : tok; /* "-::1": optional address */
        if (listen_one(srv, host) != 0 && tok[0] != '-') rc = -1;
    }
    hfree(copy);
    if (srv->nlisteners == 0) rc = -1;
    uv_check_init(srv->loop, &srv->after_io);
    srv->after_io.data = srv;
    uv_check_start(&srv->after_io, after_io);
    return rc;
}

void net_close_listeners(kv_server *srv)
{
    for (int i = 0; i < srv->nlisteners; i++)
        if (!uv_is_closing((uv_handle_t *)&srv->listeners[i]))
            uv_close((uv_handle_t *)&srv->listeners[i], NULL);
}

void net_close_all_clients(kv_server *srv)
{
    while (srv->clients) client_close_now(srv->clients);
    srv->pending_write = NULL;
}

/* An idle client's empty query buffer is returned to the allocator, so ten
 * thousand quiet connections do not pin 16 KiB each (Redis does the same in
 * clientsCronResizeQueryBuffer). */
#define QBUF_IDLE_FREE_MS 2000

void net_clients_cron(kv_server *srv)
{
    int64_t now = (int64_t)uv_now(srv->loop);
    for (kv_client *c = srv->clients; c; c = c->next) {
        if (c->flags & CLIENT_CLOSING) continue;
        if (c->qlen == 0 && c->qbuf && now - c->last_interaction_ms > QBUF_IDLE_FREE_MS) {
            hfree(c->qbuf);
            c->qbuf = NULL;
            c->qcap = c->qpos = 0;
        }
        if (srv->cfg.timeout_s <= 0 || (c->flags & (CLIENT_BLOCKED | CLIENT_REPL_LINK | CLIENT_REPL_UPSTREAM)))
            continue;
        if (pubsub_client_subs(c) > 0) continue;
        if (now - c->last_interaction_ms > (int64_t)srv->cfg.timeout_s * 1000) {
            log_info("closing idle client %s", c->addr);
            srv->stats.timeouts_closed++;
            client_close_async(c);
        }
    }
}

/* ---- outgoing connections (a replica to its primary) ---- */

typedef struct connect_req {
    uv_connect_t req;
    kv_client *c;
    net_connect_cb cb;
    void *arg;
} connect_req;

static void on_connect_closed(uv_handle_t *h)
{
    hfree(h->data);
}

static void on_connected(uv_connect_t *req, int status)
{
    connect_req *cr = req->data;
    kv_client *c = cr->c;
    kv_server *srv = c->srv;
    net_connect_cb cb = cr->cb;
    void *arg = cr->arg;
    hfree(cr);
    if (status < 0 || srv->shutting_down) {
        log_info("connection to a peer failed: %s", uv_strerror(status < 0 ? status : UV_ECANCELED));
        resp_parser_free(&c->parser);
        uv_close((uv_handle_t *)&c->tcp, on_connect_closed);
        cb(NULL, status < 0 ? status : UV_ECANCELED, arg);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (srv->cfg.tcp_keepalive_s > 0) uv_tcp_keepalive(&c->tcp, 1, (unsigned)srv->cfg.tcp_keepalive_s);
    fill_addrs(c);
    link_client(srv, c);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    cb(c, 0, arg);
}

static int parse_hostport(const char *addr, struct sockaddr_storage *ss)
{
    char host[80];
    int port;
    if (!split_hostport(addr, strlen(addr), host, sizeof(host), &port)) return -HALO_EINVAL;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0) return 0;
    if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0) return 0;
    return -HALO_EINVAL;
}

int net_connect(kv_server *srv, const char *addr, net_connect_cb cb, void *arg)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (parse_hostport(addr, &ss) != 0) return -HALO_EINVAL;
    kv_client *c = hmalloc(sizeof(*c));
    client_init(srv, c);
    c->flags |= CLIENT_AUTHED;
    snprintf(c->addr, sizeof(c->addr), "%s", addr);
    uv_tcp_init(srv->loop, &c->tcp);
    c->tcp.data = c;
    connect_req *cr = hmalloc(sizeof(*cr));
    cr->c = c;
    cr->cb = cb;
    cr->arg = arg;
    cr->req.data = cr;
    int rc = uv_tcp_connect(&cr->req, &c->tcp, (struct sockaddr *)&ss, on_connected);
    if (rc != 0) {
        hfree(cr);
        resp_parser_free(&c->parser);
        uv_close((uv_handle_t *)&c->tcp, on_connect_closed);
        return -HALO_EINVAL;
    }
    return 0;
}

void client_info_line(kv_client *c, buf *out)
{
    int64_t now = time_ms(), now_mono = (int64_t)uv_now(c->srv->loop);
    char flags[8];
    int nf = 0;
    if (c->flags & CLIENT_MULTI) flags[nf++] = 'x';
    if (c->flags & CLIENT_BLOCKED) flags[nf++] = 'b';
    if (pubsub_client_subs(c)) flags[nf++] = 'P';
    if (c->flags & CLIENT_CLOSE_ASAP) flags[nf++] = 'A';
    if (nf == 0) flags[nf++] = 'N';
    flags[nf] = '\0';
    buf_printf(out,
               "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=0 "
               "sub=%zu psub=0 multi=%d qbuf=%zu qbuf-free=%zu obl=0 oll=0 omem=%zu "
               "tot-mem=%zu events=r cmd=%s user=default resp=%d\n",
               (unsigned long long)c->id, c->addr, c->laddr, -1, c->name ? c->name : "",
               (long long)((now - c->ctime_ms) / 1000),
               (long long)((now_mono - c->last_interaction_ms) / 1000), flags, pubsub_client_subs(c),
               (c->flags & CLIENT_MULTI) ? c->mcount : -1, c->qlen - c->qpos,
               c->qcap - c->qlen, c->reply_bytes, c->qcap + c->reply_bytes + sizeof(*c),
               c->last_cmd ? c->last_cmd->name : "NULL", c->resp);
}
