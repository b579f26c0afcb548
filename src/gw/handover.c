/* handover.c — listening-socket hand-over between gateway processes over AF_UNIX SOCK_SEQPACKET. */
#include "handover.h"
#include "../common/log.h"
#include "../common/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- wire format ----
 * header (12 bytes): "HGWH", version 1, type, count (u16), total (u32), in
 * host byte order (both ends are on one host). Then, by type:
 *   FDS: count address records of 24 bytes: family (u16), port (2 bytes,
 *        network order as in sockaddr), address (16 bytes, IPv4 in the first
 *        4, the rest zero), IPv6 scope id (u32, zero for IPv4);
 *   ERR: count bytes of text;
 *   others: nothing, count and total zero (total is END's count of sockets).
 * The message length must be exactly what the header announces. */
#define HO_MAGIC "HGWH"
#define HO_VERSION 1
#define HO_HDR 12
#define HO_REC 24

_Static_assert(HANDOVER_MAX_MSG == HO_HDR + HANDOVER_FDS_PER_MSG * HO_REC, "message size");
_Static_assert(HO_HDR + HANDOVER_MAX_TEXT <= HANDOVER_MAX_MSG, "ERR must fit a message");

static void put_rec(uint8_t *p, const struct sockaddr_storage *ss)
{
    uint16_t fam = ss->ss_family;
    uint32_t scope = 0;
    memset(p, 0, HO_REC);
    memcpy(p, &fam, 2);
    if (fam == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        memcpy(p + 2, &s4->sin_port, 2);
        memcpy(p + 4, &s4->sin_addr, 4);
    } else {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        memcpy(p + 2, &s6->sin6_port, 2);
        memcpy(p + 4, &s6->sin6_addr, 16);
        scope = s6->sin6_scope_id;
    }
    memcpy(p + 20, &scope, 4);
}

static bool zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

static int get_rec(const uint8_t *p, struct sockaddr_storage *ss)
{
    uint16_t fam;
    uint32_t scope;
    memcpy(&fam, p, 2);
    memcpy(&scope, p + 20, 4);
    memset(ss, 0, sizeof(*ss));
    if (fam == AF_INET) {
        if (scope != 0 || !zero(p + 8, 12)) return -1;
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        memcpy(&s4->sin_port, p + 2, 2);
        memcpy(&s4->sin_addr, p + 4, 4);
        return 0;
    }
    if (fam != AF_INET6) return -1;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    s6->sin6_family = AF_INET6;
    memcpy(&s6->sin6_port, p + 2, 2);
    memcpy(&s6->sin6_addr, p + 4, 16);
    s6->sin6_scope_id = scope;
    return 0;
}

size_t handover_encode(const handover_msg *m, uint8_t *out, size_t cap)
{
    uint16_t count = 0;
    uint32_t total = m->type == HO_END ? m->total : 0;
    size_t len = HO_HDR;
    if (m->type < HO_REQ_FDS || m->type > HO_ERR) return 0;
    if (m->type == HO_FDS) {
        if (m->naddrs < 1 || m->naddrs > HANDOVER_FDS_PER_MSG) return 0;
        for (int i = 0; i < m->naddrs; i++)
            if (m->addrs[i].ss_family != AF_INET && m->addrs[i].ss_family != AF_INET6) return 0;
        count = (uint16_t)m->naddrs;
        len += (size_t)count * HO_REC;
    } else if (m->type == HO_ERR) {
        count = (uint16_t)strnlen(m->text, HANDOVER_MAX_TEXT);
        len += count;
    }
    if (len > cap) return 0;
    memcpy(out, HO_MAGIC, 4);
    out[4] = HO_VERSION;
    out[5] = (uint8_t)m->type;
    memcpy(out + 6, &count, 2);
    memcpy(out + 8, &total, 4);
    for (int i = 0; m->type == HO_FDS && i < count; i++)
        put_rec(out + HO_HDR + (size_t)i * HO_REC, &m->addrs[i]);
    if (m->type == HO_ERR) memcpy(out + HO_HDR, m->text, count);
    return len;
}

int handover_decode(const uint8_t *in, size_t len, handover_msg *m)
{
    uint16_t count;
    uint32_t total;
    memset(m, 0, sizeof(*m));
    if (len < HO_HDR || len > HANDOVER_MAX_MSG || memcmp(in, HO_MAGIC, 4) != 0 ||
        in[4] != HO_VERSION || in[5] < HO_REQ_FDS || in[5] > HO_ERR)
        return -1;
    m->type = in[5];
    memcpy(&count, in + 6, 2);
    memcpy(&total, in + 8, 4);
    if (m->type != HO_END && total != 0) return -1;
    m->total = total;
    if (m->type == HO_FDS) {
        if (count < 1 || count > HANDOVER_FDS_PER_MSG || len != HO_HDR + (size_t)count * HO_REC)
            return -1;
        for (int i = 0; i < count; i++)
            if (get_rec(in + HO_HDR + (size_t)i * HO_REC, &m->addrs[i]) != 0) return -1;
        m->naddrs = count;
    } else if (m->type == HO_ERR) {
        if (count > HANDOVER_MAX_TEXT || len != HO_HDR + (size_t)count) return -1;
        memcpy(m->text, in + HO_HDR, count);
        m->text[count] = '\0';
    } else if (count != 0 || len != HO_HDR) {
        return -1;
    }
    return 0;
}

/* ---- addresses ---- */

static socklen_t addr_len(int family)
{
    return family == AF_INET    ? (socklen_t)sizeof(struct sockaddr_in)
           : family == AF_INET6 ? (socklen_t)sizeof(struct sockaddr_in6)
                                : 0;
}

bool handover_addr_eq(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family != b->sa_family) return false;
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->sa_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
    }
    return false;
}

int handover_take(handover_fd *fds, int n, const struct sockaddr *addr)
{
    for (int i = 0; i < n; i++) {
        if (fds[i].fd < 0 || !handover_addr_eq((struct sockaddr *)&fds[i].addr, addr)) continue;
        int fd = fds[i].fd;
        fds[i].fd = -1;
        return fd;
    }
    return -1;
}

void handover_close_all(handover_fd *fds, int n)
{
    for (int i = 0; i < n; i++)
        if (fds[i].fd >= 0) {
            close(fds[i].fd);
            fds[i].fd = -1;
        }
}

/* A listening TCP socket: fills its address; -1 with the reason in err. */
static int check_listener(int fd, struct sockaddr_storage *ss, buf *err)
{
    int type = 0, acc = 0;
    socklen_t tl = sizeof(type), al = sizeof(acc), sl = sizeof(*ss);
    memset(ss, 0, sizeof(*ss));
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 ||
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &al) != 0 ||
        getsockname(fd, (struct sockaddr *)ss, &sl) != 0) {
        buf_printf(err, "descriptor %d is not a socket: %s", fd, strerror(errno));
        return -1;
    }
    if (type != SOCK_STREAM || !acc || addr_len(ss->ss_family) == 0) {
        buf_printf(err, "descriptor %d is not a listening TCP socket", fd);
        return -1;
    }
    return 0;
}

/* ---- control socket helpers ---- */

static int fill_sun(struct sockaddr_un *sun, const char *path, buf *err)
{
    size_t len = strlen(path);
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    if (len == 0 || len >= sizeof(sun->sun_path)) {
        buf_printf(err, "hand-over socket path must be 1..%zu bytes: '%s'",
                   sizeof(sun->sun_path) - 1, path);
        return -1;
    }
    memcpy(sun->sun_path, path, len);
    return 0;
}

/* The peer runs as our user, or as root; its pid in *pid when asked. */
static bool peer_trusted(int fd, pid_t *pid)
{
    struct ucred cr;
    socklen_t l = sizeof(cr);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &l) != 0) return false;
    if (pid) *pid = cr.pid;
    return cr.uid == geteuid() || cr.uid == 0;
}

/* Send one message with nfds descriptors. Returns 0, -EAGAIN or -errno. */
static int send_msg(int fd, const handover_msg *m, const int *fds, int nfds)
{
    uint8_t data[HANDOVER_MAX_MSG];
    union {
        char b[CMSG_SPACE(sizeof(int) * HANDOVER_FDS_PER_MSG)];
        struct cmsghdr align;
    } ctl;
    size_t len = handover_encode(m, data, sizeof(data));
    if (len == 0 || nfds < 0 || nfds > HANDOVER_FDS_PER_MSG) return -EINVAL;
    struct iovec iov = {data, len};
    struct msghdr mh;
    memset(&mh, 0, sizeof(mh));
    memset(&ctl, 0, sizeof(ctl));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    if (nfds > 0) {
        mh.msg_control = ctl.b;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    if (sendmsg(fd, &mh, MSG_NOSIGNAL) >= 0) return 0;
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

static int send_simple(int fd, int type, const char *text)
{
    handover_msg m;
    memset(&m, 0, sizeof(m));
    m.type = type;
    if (text) {
        size_t n = strnlen(text, HANDOVER_MAX_TEXT);
        memcpy(m.text, text, n);
    }
    return send_msg(fd, &m, NULL, 0);
}

/* ---- server ---- */

/* Control connection states:
 *   C_REQUEST  waiting for the one request (readable)       -> C_SENDING | closed
 *   C_SENDING  FDS messages, then END, as the socket takes them (writable) -> closed
 * The connection is closed right after its last message: what was sent stays
 * readable by the peer, descriptors in flight included. */
enum { C_REQUEST, C_SENDING, C_CLOSING };

typedef struct ho_conn ho_conn;

struct handover_server {
    uv_loop_t *loop;
    uv_poll_t poll;
    int fd;                    /* the control socket; -1 once closed */
    char *path;
    dev_t dev;
    ino_t ino;                 /* the socket file we made: unlink only that one */
    handover_get_fds_fn get_fds;
    handover_done_fn done;
    void *ctx;
    ho_conn *conns;
    int nconns;
    int open_handles;          /* the listener's poll + every connection's handles */
    int fetches;
    pid_t fetchers[HANDOVER_MAX_CONNS]; /* recent processes that fetched (ring) */
    bool stopping;
};

struct ho_conn {
    handover_server *s;
    uv_poll_t poll;
    uv_timer_t timer;
    int fd;
    int state;
    int *dups;                 /* our duplicates of the offered sockets */
    struct sockaddr_storage *addrs;
    int n, next;               /* sockets to send, next to send */
    int open_handles;          /* close callbacks still to come (poll, timer) */
    pid_t peer;
    ho_conn *prev, *next_conn;
};

static void server_maybe_free(handover_server *s)
{
    if (!s->stopping || s->open_handles > 0) return;
    hfree(s->path);
    hfree(s);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
    ho_conn *c = h->data;
    handover_server *s = c->s;
    s->open_handles--;
    if (--c->open_handles > 0) return;
    close(c->fd);
    for (int i = 0; i < c->n; i++) close(c->dups[i]);
    hfree(c->dups);
    hfree(c->addrs);
    hfree(c);
    server_maybe_free(s);
}

static void conn_close(ho_conn *c)
{
    if (c->state == C_CLOSING) return;
    c->state = C_CLOSING;
    handover_server *s = c->s;
    if (c->prev) c->prev->next_conn = c->next_conn;
    else s->conns = c->next_conn;
    if (c->next_conn) c->next_conn->prev = c->prev;
    s->nconns--;
    uv_close((uv_handle_t *)&c->poll, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
}

static void conn_fail(ho_conn *c, const char *why)
{
    log_warn("hand-over: %s", why);
    (void)send_simple(c->fd, HO_ERR, why);
    conn_close(c);
}

/* Duplicate the owner's sockets so a reload or drain meanwhile cannot pull
 * them from under the transfer. Returns 0 or -1 with the reason in err. */
static int conn_collect(ho_conn *c, buf *err)
{
    handover_server *s = c->s;
    int *fds = hmalloc(sizeof(int) * HANDOVER_MAX_FDS);
    int n = s->get_fds(s->ctx, fds, HANDOVER_MAX_FDS);
    if (n < 0 || n > HANDOVER_MAX_FDS) {
        buf_printf(err, "%s", "the gateway refused to hand over its sockets now");
        n = -1;
    }
    c->dups = hcalloc((size_t)(n > 0 ? n : 0) + 1, sizeof(int));
    c->addrs = hcalloc((size_t)(n > 0 ? n : 0) + 1, sizeof(*c->addrs));
    for (int i = 0; i < n; i++) {
        if (check_listener(fds[i], &c->addrs[i], err) != 0) break;
        c->dups[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
        if (c->dups[i] < 0) {
            buf_printf(err, "cannot duplicate socket %d: %s", fds[i], strerror(errno));
            break;
        }
        c->n = i + 1;
    }
    hfree(fds);
    return err->len ? -1 : 0;
}

static void on_conn_event(uv_poll_t *p, int status, int events);

/* Send what the socket takes; END after the last FDS, then close. */
static void conn_send(ho_conn *c)
{
    while (c->next <= c->n) {
        handover_msg m;
        memset(&m, 0, sizeof(m));
        int k = c->n - c->next < HANDOVER_FDS_PER_MSG ? c->n - c->next : HANDOVER_FDS_PER_MSG;
        m.type = k ? HO_FDS : HO_END;
        m.total = (uint32_t)c->n;
        m.naddrs = k;
        memcpy(m.addrs, c->addrs + c->next, sizeof(*c->addrs) * (size_t)k);
        int rc = send_msg(c->fd, &m, c->dups + c->next, k);
        if (rc == -EAGAIN) {
            uv_poll_start(&c->poll, UV_WRITABLE, on_conn_event);
            return;
        }
        if (rc != 0) {
            log_warn("hand-over: sending sockets failed: %s", strerror(-rc));
            conn_close(c);
            return;
        }
        c->next += k ? k : 1; /* END counts as one step past the last socket */
    }
    if (c->n > 0) {
        c->s->fetchers[c->s->fetches % HANDOVER_MAX_CONNS] = c->peer;
        c->s->fetches++;
    }
    log_notice("hand-over: %d listening sockets sent to a successor", c->n);
    conn_close(c);
}

static void server_close_listener(handover_server *s);

/* Only a process that fetched the sockets may release: a stray or confused
 * client cannot make the only gateway drain. */
static bool fetched_by(const handover_server *s, pid_t pid)
{
    for (int i = 0; i < s->fetches && i < HANDOVER_MAX_CONNS; i++)
        if (s->fetchers[i] == pid) return true;
    return false;
}

static void on_request(ho_conn *c, const handover_msg *m)
{
    handover_server *s = c->s;
    if (m->type == HO_REQ_FDS) {
        buf err;
        buf_init(&err);
        if (conn_collect(c, &err) != 0) {
            conn_fail(c, err.data);
        } else {
            c->state = C_SENDING;
            conn_send(c);
        }
        buf_free(&err);
    } else if (m->type == HO_RELEASE && !fetched_by(s, c->peer)) {
        conn_fail(c, "release refused: this process has not fetched the sockets");
    } else if (m->type == HO_RELEASE) {
        log_notice("hand-over: the successor took over; this process drains");
        server_close_listener(s); /* before ACK: the successor binds the path next */
        (void)send_simple(c->fd, HO_ACK, NULL);
        conn_close(c);
        if (s->done) s->done(s->ctx); /* last: it may stop this server */
    } else {
        conn_fail(c, "unexpected message");
    }
}

static void conn_read(ho_conn *c)
{
    uint8_t data[HANDOVER_MAX_MSG + 1];
    struct iovec iov = {data, sizeof(data)};
    struct msghdr mh;
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1; /* no control buffer: descriptors sent to us are discarded (CTRUNC) */
    ssize_t n = recvmsg(c->fd, &mh, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
        conn_close(c);
        return;
    }
    handover_msg m;
    if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || handover_decode(data, (size_t)n, &m) != 0) {
        conn_fail(c, "malformed request");
        return;
    }
    on_request(c, &m);
}

static void on_conn_event(uv_poll_t *p, int status, int events)
{
    ho_conn *c = p->data;
    if (c->state == C_CLOSING) return;
    if (status < 0) conn_close(c);
    else if (c->state == C_REQUEST && (events & UV_READABLE)) conn_read(c);
    else if (c->state == C_SENDING && (events & UV_WRITABLE)) conn_send(c);
}

static void on_conn_timeout(uv_timer_t *t) { conn_close(t->data); }

static void conn_new(handover_server *s, int fd, pid_t peer)
{
    ho_conn *c = hcalloc(1, sizeof(*c));
    c->s = s;
    c->peer = peer;
    c->fd = fd;
    uv_poll_init_socket(s->loop, &c->poll, fd); /* fd is an open socket: cannot fail */
    uv_timer_init(s->loop, &c->timer);
    c->poll.data = c->timer.data = c;
    c->open_handles = 2;
    s->open_handles += 2;
    s->nconns++;
    c->next_conn = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    uv_timer_start(&c->timer, on_conn_timeout, HANDOVER_TIMEOUT_MS, 0);
    uv_poll_start(&c->poll, UV_READABLE, on_conn_event);
}

static void on_listener_event(uv_poll_t *p, int status, int events)
{
    handover_server *s = p->data;
    if (s->fd < 0 || status < 0) return;
    int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return; /* EAGAIN, or a connection that went away */
    pid_t peer = 0;
    if (s->nconns >= HANDOVER_MAX_CONNS || !peer_trusted(fd, &peer)) {
        log_warn("hand-over: control connection refused (%s)",
                 s->nconns >= HANDOVER_MAX_CONNS ? "too many" : "peer is another user");
        close(fd);
        return;
    }
    conn_new(s, fd, peer);
}

static void on_listener_closed(uv_handle_t *h)
{
    handover_server *s = h->data;
    close(s->fd);
    s->fd = -1;
    s->open_handles--;
    server_maybe_free(s);
}

/* Close the control socket and remove its file if it is still the one we made. */
static void server_close_listener(handover_server *s)
{
    struct stat st;
    if (uv_is_closing((uv_handle_t *)&s->poll)) return;
    if (stat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino) unlink(s->path);
    uv_close((uv_handle_t *)&s->poll, on_listener_closed);
}

/* Make path free for bind: remove a stale socket file (nobody answers on it);
 * refuse a live one or anything that is not a socket. */
static int clear_stale(const char *path, const struct sockaddr_un *sun, buf *err)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT) return 0;
        buf_printf(err, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        buf_printf(err, "%s exists and is not a socket: not replacing it", path);
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        buf_printf(err, "socket: %s", strerror(errno));
        return -1;
    }
    int rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
    int e = errno;
    close(fd);
    if (rc == 0) {
        buf_printf(err, "%s is in use by a running gateway (take it over with --takeover %s)",
                   path, path);
        return -1;
    }
    if (e != ECONNREFUSED) {
        buf_printf(err, "%s: %s", path, strerror(e));
        return -1;
    }
    unlink(path);
    return 0;
}

static int bind_control(const char *path, buf *err, struct stat *st)
{
    struct sockaddr_un sun;
    if (fill_sun(&sun, path, err) != 0 || clear_stale(path, &sun, err) != 0) return -1;
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        buf_printf(err, "socket: %s", strerror(errno));
        return -1;
    }
    if (bind(fd, (const struct sockaddr *)&sun, sizeof(sun)) != 0) goto fail_fd;
    if (chmod(path, 0600) != 0 || stat(path, st) != 0) goto fail_file;
    if (listen(fd, HANDOVER_MAX_CONNS) != 0) goto fail_file;
    return fd;
fail_file:;
    int e = errno;
    unlink(path);
    errno = e;
fail_fd:
    buf_printf(err, "cannot listen on %s: %s", path, strerror(errno));
    close(fd);
    return -1;
}

int handover_serve_start(uv_loop_t *loop, const char *path, handover_get_fds_fn get_fds,
                         handover_done_fn done, void *ctx, handover_server **out, buf *err)
{
    struct stat st;
    int fd = bind_control(path, err, &st);
    if (fd < 0) return -1;
    handover_server *s = hcalloc(1, sizeof(*s));
    s->loop = loop;
    s->fd = fd;
    s->path = hstrdup(path);
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    s->get_fds = get_fds;
    s->done = done;
    s->ctx = ctx;
    s->open_handles = 1;
    uv_poll_init_socket(loop, &s->poll, fd);
    s->poll.data = s;
    uv_poll_start(&s->poll, UV_READABLE, on_listener_event);
    *out = s;
    return 0;
}

void handover_serve_stop(handover_server *s)
{
    if (s == NULL || s->stopping) return;
    s->stopping = true;
    while (s->conns) conn_close(s->conns);
    server_close_listener(s);
    server_maybe_free(s); /* when the listener was closed already and no connection is left */
}

int handover_serve_fetches(const handover_server *s) { return s ? s->fetches : 0; }

/* ---- client ---- */

/* Connected control socket with send/receive timeouts, or -1 (err set). */
static int client_connect(const char *path, buf *err)
{
    struct sockaddr_un sun;
    if (fill_sun(&sun, path, err) != 0) return -1;
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        buf_printf(err, "socket: %s", strerror(errno));
        return -1;
    }
    struct timeval tv = {HANDOVER_TIMEOUT_MS / 1000, (HANDOVER_TIMEOUT_MS % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (const struct sockaddr *)&sun, sizeof(sun)) != 0) {
        buf_printf(err, "no gateway serves a hand-over on %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!peer_trusted(fd, NULL)) {
        buf_printf(err, "%s is served by a process of another user: refusing it", path);
        close(fd);
        return -1;
    }
    return fd;
}

/* Receive one message and the descriptors that came with it (at most
 * HANDOVER_FDS_PER_MSG, close-on-exec). Returns 0, or -1 (err set, every
 * descriptor received closed). */
static int recv_msg(int fd, handover_msg *m, int *fds, int *nfds, buf *err)
{
    uint8_t data[HANDOVER_MAX_MSG + 1];
    union {
        char b[CMSG_SPACE(sizeof(int) * HANDOVER_FDS_PER_MSG)];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {data, sizeof(data)};
    struct msghdr mh;
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.b;
    mh.msg_controllen = sizeof(ctl.b);
    *nfds = 0;
    ssize_t n;
    do n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    for (struct cmsghdr *c = n < 0 ? NULL : CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int got;
            memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (*nfds < HANDOVER_FDS_PER_MSG) fds[(*nfds)++] = got;
            else close(got);
        }
    }
    const char *why = n < 0 ? (errno == EAGAIN ? "timed out" : strerror(errno))
                      : n == 0 ? "the old process closed the connection"
                      : (mh.msg_flags & MSG_CTRUNC)
                          ? "descriptors were dropped (is the open-file limit, ulimit -n, too low?)"
                      : (mh.msg_flags & MSG_TRUNC) || handover_decode(data, (size_t)n, m) != 0
                          ? "malformed message"
                          : NULL;
    if (why == NULL) return 0;
    buf_printf(err, "hand-over: %s", why);
    for (int i = 0; i < *nfds; i++) close(fds[i]);
    *nfds = 0;
    return -1;
}

static int send_request(int fd, int type, buf *err)
{
    int rc = send_simple(fd, type, NULL);
    if (rc == 0) return 0;
    buf_printf(err, "hand-over: cannot send the request: %s", strerror(-rc));
    return -1;
}

/* Check an FDS message's sockets and append them to out. On error the
 * message's descriptors are closed (those appended before are the caller's). */
static int take_fds(const handover_msg *m, int *got, int ngot, handover_fd *out, int max, int *n,
                    buf *err)
{
    const char *why = ngot != m->naddrs ? "descriptor count does not match the addresses"
                      : *n + ngot > max ? "more sockets than this process can take"
                                        : NULL;
    for (int i = 0; why == NULL && i < ngot; i++) {
        struct sockaddr_storage ss;
        if (check_listener(got[i], &ss, err) != 0) why = "bad descriptor";
        else if (!handover_addr_eq((struct sockaddr *)&ss, (const struct sockaddr *)&m->addrs[i]))
            why = "a socket is not bound to its declared address";
    }
    if (why) {
        buf_printf(err, "%shand-over: %s", err->len ? "; " : "", why);
        for (int i = 0; i < ngot; i++) close(got[i]);
        return -1;
    }
    for (int i = 0; i < ngot; i++) {
        out[*n].fd = got[i];
        out[*n].addr = m->addrs[i];
        out[*n].addrlen = addr_len(m->addrs[i].ss_family);
        (*n)++;
    }
    return 0;
}

/* Read FDS messages until END. Returns 0, or -1 (err set). */
static int fetch_loop(int fd, handover_fd *fds, int max, int *n, buf *err)
{
    handover_msg m;
    int got[HANDOVER_FDS_PER_MSG], ngot;
    /* Each FDS message carries at least one socket: bounded by max. */
    for (int msgs = 0; msgs <= max + 1; msgs++) {
        if (recv_msg(fd, &m, got, &ngot, err) != 0) return -1;
        if (m.type == HO_FDS) {
            if (take_fds(&m, got, ngot, fds, max, n, err) != 0) return -1;
            continue;
        }
        for (int i = 0; i < ngot; i++) close(got[i]);
        if (m.type == HO_END && m.total == (uint32_t)*n && ngot == 0) return 0;
        if (m.type == HO_ERR) buf_printf(err, "hand-over refused by the old process: %s", m.text);
        else buf_printf(err, "hand-over: unexpected message (type %d)", m.type);
        return -1;
    }
    buf_printf(err, "%s", "hand-over: too many messages");
    return -1;
}

int handover_fetch(const char *path, handover_fd *fds, int max, int *n, buf *err)
{
    *n = 0;
    int fd = client_connect(path, err);
    if (fd < 0) return -1;
    int rc = send_request(fd, HO_REQ_FDS, err);
    if (rc == 0) rc = fetch_loop(fd, fds, max, n, err);
    close(fd);
    if (rc != 0) {
        handover_close_all(fds, *n);
        *n = 0;
    }
    return rc;
}

int handover_release(const char *path, buf *err)
{
    buf local;
    buf_init(&local);
    buf *e = err ? err : &local;
    handover_msg m;
    int got[HANDOVER_FDS_PER_MSG], ngot = 0;
    int fd = client_connect(path, e);
    int rc = fd < 0 ? -1 : send_request(fd, HO_RELEASE, e);
    if (rc == 0) rc = recv_msg(fd, &m, got, &ngot, e);
    for (int i = 0; i < ngot; i++) close(got[i]);
    if (rc == 0 && m.type != HO_ACK) {
        if (m.type == HO_ERR) buf_printf(e, "release refused by the old process: %s", m.text);
        else buf_printf(e, "hand-over: unexpected reply to release (type %d)", m.type);
        rc = -1;
    }
    if (fd >= 0) close(fd);
    buf_free(&local);
    return rc;
}
