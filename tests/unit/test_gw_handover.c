/* test_gw_handover.c — listening-socket hand-over: the wire codec, a real server on a loop thread
 * passing real listening sockets, release, stale/live control paths, and hostile peers both ways. */
#include "test.h"
#include "common/buf.h"
#include "common/mem.h"
#include "common/util.h"
#include "gw/handover.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static char dir[64];
static char path[128];

/* err holds text containing s (buf_printf keeps it NUL-terminated). */
static bool has(const buf *err, const char *s)
{
    return err->len && strstr(err->data, s) != NULL;
}

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    while (readdir(d)) n++;
    closedir(d);
    return n;
}

/* Open descriptors once the server thread has settled: it closes its
 * duplicates and the connection on its own loop, a moment after the client
 * call returned. Waits up to 2 s for the count to come down to want. */
static int open_fds_settled(int want)
{
    int n = count_fds();
    for (int i = 0; i < 200 && n > want; i++) {
        usleep(10000);
        n = count_fds();
    }
    return n;
}

/* A listening TCP socket on 127.0.0.1:port (0 = any), SO_REUSEPORT when asked. */
static int tcp_listener(int port, bool reuseport)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 16) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int port_of(int fd)
{
    struct sockaddr_in a;
    socklen_t l = sizeof(a);
    if (getsockname(fd, (struct sockaddr *)&a, &l) != 0) return -1;
    return ntohs(a.sin_port);
}

static int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Accept one connection on fd within 2 s; returns whether one came. */
static bool accepts(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 2000) != 1) return false;
    int c = accept(fd, NULL, NULL);
    if (c < 0) return false;
    close(c);
    return true;
}

/* ---- the codec ---- */

static void test_codec_roundtrip(void)
{
    handover_msg m, d;
    uint8_t wire[HANDOVER_MAX_MSG];
    memset(&m, 0, sizeof(m));
    m.type = HO_FDS;
    m.naddrs = HANDOVER_FDS_PER_MSG;
    for (int i = 0; i < m.naddrs; i++) {
        if (i % 2) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&m.addrs[i];
            s6->sin6_family = AF_INET6;
            s6->sin6_port = htons((uint16_t)(8000 + i));
            inet_pton(AF_INET6, "fe80::1", &s6->sin6_addr);
            s6->sin6_scope_id = 2;
        } else {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&m.addrs[i];
            s4->sin_family = AF_INET;
            s4->sin_port = htons((uint16_t)(8000 + i));
            s4->sin_addr.s_addr = htonl(0x7f000001 + (uint32_t)i);
        }
    }
    size_t n = handover_encode(&m, wire, sizeof(wire));
    CHECK_EQ_INT(n, HANDOVER_MAX_MSG);
    CHECK_EQ_INT(handover_decode(wire, n, &d), 0);
    CHECK_EQ_INT(d.type, HO_FDS);
    CHECK_EQ_INT(d.naddrs, HANDOVER_FDS_PER_MSG);
    for (int i = 0; i < d.naddrs; i++)
        CHECK(handover_addr_eq((struct sockaddr *)&m.addrs[i], (struct sockaddr *)&d.addrs[i]));
    CHECK_EQ_INT(handover_encode(&m, wire, n - 1), 0); /* does not fit */

    memset(&m, 0, sizeof(m));
    m.type = HO_END;
    m.total = 1234;
    n = handover_encode(&m, wire, sizeof(wire));
    CHECK(n == 12 && handover_decode(wire, n, &d) == 0 && d.type == HO_END && d.total == 1234);
    m.type = HO_ERR;
    memset(m.text, 'x', HANDOVER_MAX_TEXT); /* longest text; no NUL inside the field */
    n = handover_encode(&m, wire, sizeof(wire));
    CHECK(n == 12 + HANDOVER_MAX_TEXT && handover_decode(wire, n, &d) == 0);
    CHECK(d.type == HO_ERR && strlen(d.text) == HANDOVER_MAX_TEXT && d.total == 0);
    for (int t = HO_REQ_FDS; t <= HO_ACK; t++) {
        if (t == HO_FDS || t == HO_END) continue;
        memset(&m, 0, sizeof(m));
        m.type = t;
        n = handover_encode(&m, wire, sizeof(wire));
        CHECK(n == 12 && handover_decode(wire, n, &d) == 0 && d.type == t);
    }
    /* Invalid messages are not encoded. */
    memset(&m, 0, sizeof(m));
    m.type = 99;
    CHECK_EQ_INT(handover_encode(&m, wire, sizeof(wire)), 0);
    m.type = HO_FDS; /* no addresses */
    CHECK_EQ_INT(handover_encode(&m, wire, sizeof(wire)), 0);
    m.naddrs = 1;
    m.addrs[0].ss_family = AF_UNIX;
    CHECK_EQ_INT(handover_encode(&m, wire, sizeof(wire)), 0);
}

static void test_codec_garbage(void)
{
    handover_msg m, d;
    uint8_t good[HANDOVER_MAX_MSG], bad[HANDOVER_MAX_MSG + 8];
    memset(&m, 0, sizeof(m));
    m.type = HO_FDS;
    m.naddrs = 2;
    for (int i = 0; i < 2; i++) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&m.addrs[i];
        s4->sin_family = AF_INET;
        s4->sin_port = htons(80);
    }
    size_t n = handover_encode(&m, good, sizeof(good));
    CHECK_EQ_INT(n, 12 + 2 * 24);
#define MUTATE(stmt, len)                                                                \
    do {                                                                                 \
        memcpy(bad, good, n);                                                            \
        stmt;                                                                            \
        CHECK_EQ_INT(handover_decode(bad, (len), &d), -1);                               \
    } while (0)
    MUTATE(bad[0] = 'X', n);                  /* magic */
    MUTATE(bad[4] = 2, n);                    /* version */
    MUTATE(bad[5] = 0, n);                    /* type */
    MUTATE(bad[5] = 7, n);
    MUTATE(bad[6] = 3, n);                    /* count says 3, two records */
    MUTATE(bad[6] = 0, n);                    /* FDS with none */
    MUTATE((void)0, n - 1);                   /* truncated */
    MUTATE(bad[n] = 0, n + 1);                /* trailing byte */
    MUTATE((void)0, 11);                      /* shorter than a header */
    MUTATE(bad[12] = 99, n);                  /* family */
    MUTATE(bad[12 + 10] = 1, n);              /* IPv4 padding not zero */
    MUTATE(bad[12 + 20] = 1, n);              /* IPv4 with a scope id */
    MUTATE(bad[8] = 1, n);                    /* total on a non-END message */
    CHECK_EQ_INT(handover_decode(bad, HANDOVER_MAX_MSG + 1, &d), -1);
    /* Fixed-size messages with a payload, and an ERR longer than allowed. */
    memset(&m, 0, sizeof(m));
    m.type = HO_ACK;
    n = handover_encode(&m, good, sizeof(good));
    MUTATE(bad[6] = 1, n + 1);
    memset(&m, 0, sizeof(m));
    m.type = HO_ERR;
    n = handover_encode(&m, good, sizeof(good));
    uint16_t big = HANDOVER_MAX_TEXT + 1;
    memcpy(good + 6, &big, 2);
    memset(good + 12, 'a', HANDOVER_MAX_TEXT + 1);
    CHECK_EQ_INT(handover_decode(good, 12 + HANDOVER_MAX_TEXT + 1, &d), -1);
#undef MUTATE
    /* Random bytes, and random mutations of a good header: never a crash. */
    for (int i = 0; i < 20000; i++) {
        size_t len = rand_u64() % sizeof(bad);
        for (size_t k = 0; k < len; k++) bad[k] = (uint8_t)rand_u64();
        if (i % 2 && len >= 6) memcpy(bad, "HGWH\x01", 5);
        if (handover_decode(bad, len, &d) == 0) CHECK(d.type >= HO_REQ_FDS && d.type <= HO_ERR);
    }
}

static void test_match(void)
{
    handover_fd f[3];
    memset(f, 0, sizeof(f));
    for (int i = 0; i < 3; i++) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&f[i].addr;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(i < 2 ? 8080 : 8081);
        s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        f[i].fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    struct sockaddr_in want = {.sin_family = AF_INET, .sin_port = htons(8080)};
    want.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int a = f[0].fd, b = f[1].fd;
    CHECK_EQ_INT(handover_take(f, 3, (struct sockaddr *)&want), a);
    CHECK_EQ_INT(handover_take(f, 3, (struct sockaddr *)&want), b);
    CHECK_EQ_INT(handover_take(f, 3, (struct sockaddr *)&want), -1);
    want.sin_addr.s_addr = htonl(INADDR_ANY); /* another address, same port */
    want.sin_port = htons(8081);
    CHECK_EQ_INT(handover_take(f, 3, (struct sockaddr *)&want), -1);
    struct sockaddr_in6 six = {.sin6_family = AF_INET6, .sin6_port = htons(8081)};
    CHECK(!handover_addr_eq((struct sockaddr *)&six, (struct sockaddr *)&f[2].addr));
    close(a);
    close(b);
    handover_close_all(f, 3);
    CHECK_EQ_INT(f[2].fd, -1);
}

/* ---- a real server on a loop thread ---- */

#define NSOCK 20 /* two distinct listeners + 18 in one SO_REUSEPORT group: two FDS messages */

typedef struct fixture {
    uv_loop_t loop;
    uv_thread_t thread;
    uv_async_t stop;
    handover_server *srv;
    int fds[NSOCK];
    atomic_int done_calls;
    atomic_bool refuse;
} fixture;

static int get_fds(void *ctx, int *fds, int max)
{
    fixture *f = ctx;
    if (atomic_load(&f->refuse)) return -1;
    int n = NSOCK < max ? NSOCK : max;
    memcpy(fds, f->fds, sizeof(int) * (size_t)n);
    return n;
}

static void on_done(void *ctx)
{
    fixture *f = ctx;
    atomic_fetch_add(&f->done_calls, 1);
}

static void on_stop(uv_async_t *a)
{
    fixture *f = a->data;
    handover_serve_stop(f->srv);
    uv_close((uv_handle_t *)a, NULL);
}

static void run_loop(void *arg)
{
    fixture *f = arg;
    uv_run(&f->loop, UV_RUN_DEFAULT);
}

static bool fixture_start(fixture *f)
{
    memset(f, 0, sizeof(*f));
    f->fds[0] = tcp_listener(0, false);
    f->fds[1] = tcp_listener(0, false);
    f->fds[2] = tcp_listener(0, true);
    for (int i = 3; i < NSOCK; i++) f->fds[i] = tcp_listener(port_of(f->fds[2]), true);
    for (int i = 0; i < NSOCK; i++)
        if (f->fds[i] < 0) return false;
    uv_loop_init(&f->loop);
    buf err;
    buf_init(&err);
    int rc = handover_serve_start(&f->loop, path, get_fds, on_done, f, &f->srv, &err);
    if (rc != 0) fprintf(stderr, "serve_start: %.*s\n", (int)err.len, err.data);
    buf_free(&err);
    if (rc != 0) return false;
    uv_async_init(&f->loop, &f->stop, on_stop);
    f->stop.data = f;
    uv_thread_create(&f->thread, run_loop, f);
    return true;
}

static void fixture_stop(fixture *f)
{
    uv_async_send(&f->stop);
    uv_thread_join(&f->thread);
    CHECK_EQ_INT(uv_loop_close(&f->loop), 0); /* every handle closed: nothing leaked */
    for (int i = 0; i < NSOCK; i++) close(f->fds[i]);
}

static void check_received(fixture *f, handover_fd *got, int n)
{
    CHECK_EQ_INT(n, NSOCK);
    for (int i = 0; i < n && i < NSOCK; i++) {
        int acc = 0;
        socklen_t l = sizeof(acc);
        CHECK(got[i].fd >= 0 && got[i].fd != f->fds[i]);
        CHECK(getsockopt(got[i].fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &l) == 0 && acc == 1);
        CHECK_EQ_INT(port_of(got[i].fd), port_of(f->fds[i]));
        CHECK_EQ_INT(got[i].addrlen, sizeof(struct sockaddr_in));
        CHECK(fcntl(got[i].fd, F_GETFD) & FD_CLOEXEC);
    }
    /* The same kernel sockets: a connection made to the port is accepted on
     * the received descriptor. */
    for (int i = 0; i < 2 && i < n; i++) {
        int c = tcp_connect(port_of(f->fds[i]));
        CHECK(c >= 0);
        CHECK(accepts(got[i].fd));
        if (c >= 0) close(c);
    }
    /* Matching by address: the 18 group members are taken one by one. */
    struct sockaddr_storage group = got[n - 1].addr;
    int taken = 0, k;
    while ((k = handover_take(got, n, (struct sockaddr *)&group)) >= 0) {
        close(k);
        taken++;
    }
    CHECK_EQ_INT(taken, NSOCK - 2);
}

/* Run `this-test release PATH` in another process; returns its exit code. */
static int release_from_another_process(void)
{
    extern char **environ;
    char self[] = "/proc/self/exe", cmd[] = "release";
    char *argv[] = {self, cmd, path, NULL};
    pid_t pid;
    int st = 0;
    if (posix_spawn(&pid, self, NULL, NULL, argv, environ) != 0) return -1;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) return -1;
    return WEXITSTATUS(st);
}

static void test_fetch_and_release(void)
{
    fixture f;
    if (!fixture_start(&f)) {
        CHECK(!"fixture");
        return;
    }
    buf err;
    buf_init(&err);
    int before = count_fds();
    /* Release before any fetch is refused: the only gateway must not drain. */
    CHECK_EQ_INT(handover_release(path, &err), -1);
    CHECK(has(&err, "has not fetched the sockets"));
    CHECK_EQ_INT(atomic_load(&f.done_calls), 0);

    /* Too small an array: an error and nothing left open. */
    handover_fd got[NSOCK + 4];
    int n = -1;
    buf_reset(&err);
    CHECK_EQ_INT(handover_fetch(path, got, NSOCK - 1, &n, &err), -1);
    CHECK_EQ_INT(n, 0);
    CHECK(has(&err, "more sockets"));
    CHECK_EQ_INT(open_fds_settled(before), before);

    /* The owner refusing: its refusal is the message. */
    atomic_store(&f.refuse, true);
    buf_reset(&err);
    CHECK_EQ_INT(handover_fetch(path, got, NSOCK + 4, &n, &err), -1);
    CHECK(has(&err, "refused to hand over"));
    atomic_store(&f.refuse, false);

    buf_reset(&err);
    CHECK_EQ_INT(handover_fetch(path, got, NSOCK + 4, &n, &err), 0);
    if (err.len) fprintf(stderr, "fetch: %.*s\n", (int)err.len, err.data);
    check_received(&f, got, n);
    handover_close_all(got, n);
    CHECK_EQ_INT(open_fds_settled(before), before);

    /* A second fetch works too (a successor that died may be replaced). */
    CHECK_EQ_INT(handover_fetch(path, got, NSOCK + 4, &n, &err), 0);
    CHECK_EQ_INT(n, NSOCK);
    handover_close_all(got, n);

    /* Only the process that fetched may release. */
    CHECK_EQ_INT(release_from_another_process(), 3);
    CHECK_EQ_INT(atomic_load(&f.done_calls), 0);
    buf_reset(&err);
    CHECK_EQ_INT(handover_release(path, &err), 0);
    for (int i = 0; i < 200 && atomic_load(&f.done_calls) == 0; i++) usleep(10000); /* runs after the ACK */
    CHECK_EQ_INT(atomic_load(&f.done_calls), 1);
    struct stat st;
    CHECK(stat(path, &st) != 0 && errno == ENOENT); /* gone before the ACK */
    CHECK_EQ_INT(handover_release(path, NULL), -1);  /* nobody listens any more */
    fixture_stop(&f);
    buf_free(&err);
}

/* ---- hostile clients against the server ---- */

static int raw_connect(void)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    memcpy(sun.sun_path, path, strlen(path));
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct timeval tv = {3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Send raw bytes (and maybe a descriptor); returns the reply's type, or -1. */
static int raw_exchange(const void *data, size_t len, int pass_fd, char *text)
{
    int fd = raw_connect();
    if (fd < 0) return -1;
    union {
        char b[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {(void *)data, len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (pass_fd >= 0) {
        memset(&ctl, 0, sizeof(ctl));
        mh.msg_control = ctl.b;
        mh.msg_controllen = sizeof(ctl.b);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
    }
    uint8_t reply[HANDOVER_MAX_MSG];
    handover_msg m;
    int type = -1;
    if (sendmsg(fd, &mh, MSG_NOSIGNAL) >= 0) {
        ssize_t n = recv(fd, reply, sizeof(reply), 0);
        if (n > 0 && handover_decode(reply, (size_t)n, &m) == 0) {
            type = m.type;
            if (text) memcpy(text, m.text, sizeof(m.text));
        }
    }
    close(fd);
    return type;
}

static void test_server_garbage(void)
{
    fixture f;
    if (!fixture_start(&f)) {
        CHECK(!"fixture");
        return;
    }
    char text[HANDOVER_MAX_TEXT + 1] = "";
    uint8_t big[HANDOVER_MAX_MSG + 100];
    memset(big, 'A', sizeof(big));
    CHECK_EQ_INT(raw_exchange("hello, gateway", 14, -1, text), HO_ERR);
    CHECK(strstr(text, "malformed") != NULL);
    CHECK_EQ_INT(raw_exchange(big, sizeof(big), -1, text), HO_ERR); /* truncated: too long */
    CHECK(strstr(text, "malformed") != NULL);
    handover_msg m;
    uint8_t wire[HANDOVER_MAX_MSG];
    memset(&m, 0, sizeof(m));
    m.type = HO_ACK; /* valid message, not a request */
    size_t n = handover_encode(&m, wire, sizeof(wire));
    CHECK_EQ_INT(raw_exchange(wire, n, -1, text), HO_ERR);
    CHECK(strstr(text, "unexpected") != NULL);
    m.type = HO_REQ_FDS; /* a request with a descriptor attached is refused */
    n = handover_encode(&m, wire, sizeof(wire));
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    CHECK_EQ_INT(raw_exchange(wire, n, devnull, text), HO_ERR);
    close(devnull);
    /* A client that connects and says nothing is dropped after the timeout;
     * meanwhile the server serves others. */
    int idle = raw_connect();
    CHECK(idle >= 0);
    handover_fd got[NSOCK];
    int k = 0;
    buf err;
    buf_init(&err);
    CHECK_EQ_INT(handover_fetch(path, got, NSOCK, &k, &err), 0);
    handover_close_all(got, k);
    char c;
    struct timeval tv = {HANDOVER_TIMEOUT_MS / 1000 + 3, 0};
    setsockopt(idle, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    int64_t t0 = mono_us();
    CHECK_EQ_INT(recv(idle, &c, 1, 0), 0); /* closed by the server */
    CHECK((mono_us() - t0) / 1000 >= HANDOVER_TIMEOUT_MS - 1000);
    close(idle);
    CHECK_EQ_INT(atomic_load(&f.done_calls), 0);
    fixture_stop(&f);
    buf_free(&err);
}

/* ---- hostile servers against the client ---- */

typedef struct fake {
    int lfd;
    int script;
    int spare_fd;        /* a descriptor the script may send */
    int listen_fd;       /* a real listener the script may send */
    uv_thread_t thread;
} fake;

enum { F_NOT_LISTENING, F_WRONG_ADDR, F_COUNT_MISMATCH, F_GARBAGE, F_CLOSE_EARLY, F_BAD_TOTAL,
       F_ERR, F_SILENT, F_NSCRIPTS };

static void fake_send(int fd, const handover_msg *m, const int *fds, int nfds)
{
    uint8_t wire[HANDOVER_MAX_MSG];
    size_t n = handover_encode(m, wire, sizeof(wire));
    union {
        char b[CMSG_SPACE(sizeof(int) * 2)];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {wire, n};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nfds) {
        memset(&ctl, 0, sizeof(ctl));
        mh.msg_control = ctl.b;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    (void)sendmsg(fd, &mh, MSG_NOSIGNAL);
}

static void fds_msg(handover_msg *m, int naddrs, int port)
{
    memset(m, 0, sizeof(*m));
    m->type = HO_FDS;
    m->naddrs = naddrs;
    for (int i = 0; i < naddrs; i++) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&m->addrs[i];
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    }
}

static void fake_run(void *arg)
{
    fake *f = arg;
    int c = accept(f->lfd, NULL, NULL);
    if (c < 0) return;
    uint8_t req[64];
    (void)recv(c, req, sizeof(req), 0);
    handover_msg m;
    int port = port_of(f->listen_fd);
    switch (f->script) {
    case F_NOT_LISTENING: fds_msg(&m, 1, port), fake_send(c, &m, &f->spare_fd, 1); break;
    case F_WRONG_ADDR: fds_msg(&m, 1, port + 1), fake_send(c, &m, &f->listen_fd, 1); break;
    case F_COUNT_MISMATCH: fds_msg(&m, 2, port), fake_send(c, &m, &f->listen_fd, 1); break;
    case F_GARBAGE: (void)send(c, "garbage!", 8, MSG_NOSIGNAL); break;
    case F_CLOSE_EARLY: fds_msg(&m, 1, port), fake_send(c, &m, &f->listen_fd, 1); break;
    case F_BAD_TOTAL:
        fds_msg(&m, 1, port), fake_send(c, &m, &f->listen_fd, 1);
        memset(&m, 0, sizeof(m)), m.type = HO_END, m.total = 5, fake_send(c, &m, NULL, 0);
        break;
    case F_ERR:
        memset(&m, 0, sizeof(m)), m.type = HO_ERR;
        snprintf(m.text, sizeof(m.text), "shutting down");
        fake_send(c, &m, NULL, 0);
        break;
    case F_SILENT: {
        char x;
        (void)recv(c, &x, 1, 0); /* until the client gives up and closes */
        break;
    }
    }
    close(c);
}

static void test_client_against_hostile_servers(void)
{
    static const char *const expect[F_NSCRIPTS] = {
        "not a listening TCP socket", "declared address", "count does not match",
        "malformed", "closed the connection", "unexpected message", "shutting down", "timed out"};
    for (int s = 0; s < F_NSCRIPTS; s++) {
        fake f = {.script = s};
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        memcpy(sun.sun_path, path, strlen(path));
        unlink(path);
        f.lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        CHECK(bind(f.lfd, (struct sockaddr *)&sun, sizeof(sun)) == 0 && listen(f.lfd, 4) == 0);
        f.spare_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); /* not listening */
        f.listen_fd = tcp_listener(0, false);
        int before = count_fds();
        uv_thread_create(&f.thread, fake_run, &f);
        handover_fd got[4];
        int n = -1;
        buf err;
        buf_init(&err);
        int rc = handover_fetch(path, got, 4, &n, &err);
        uv_thread_join(&f.thread);
        CHECK_EQ_INT(rc, -1);
        CHECK_EQ_INT(n, 0);
        if (!has(&err, expect[s]))
            fprintf(stderr, "script %d: error '%.*s', expected '%s'\n", s, (int)err.len,
                    err.data, expect[s]);
        CHECK(has(&err, expect[s]));
        CHECK_EQ_INT(open_fds_settled(before), before); /* everything received was closed */
        buf_free(&err);
        close(f.spare_fd);
        close(f.listen_fd);
        close(f.lfd);
        unlink(path);
    }
}

/* ---- control path life cycle ---- */

static void test_paths(void)
{
    buf err;
    buf_init(&err);
    handover_fd got[2];
    int n;
    /* No server. */
    CHECK_EQ_INT(handover_fetch(path, got, 2, &n, &err), -1);
    CHECK(has(&err, "no gateway serves a hand-over on"));
    CHECK_EQ_INT(n, 0);
    buf_reset(&err);
    char longp[200];
    memset(longp, 'p', sizeof(longp) - 1);
    longp[sizeof(longp) - 1] = '\0';
    CHECK_EQ_INT(handover_fetch(longp, got, 2, &n, &err), -1);
    CHECK(has(&err, "path must be"));

    uv_loop_t loop;
    uv_loop_init(&loop);
    handover_server *s = NULL, *s2 = NULL;
    /* A stale socket file (its process died) is replaced. */
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    memcpy(sun.sun_path, path, strlen(path));
    int dead = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    CHECK(bind(dead, (struct sockaddr *)&sun, sizeof(sun)) == 0);
    close(dead);
    buf_reset(&err);
    CHECK_EQ_INT(handover_serve_start(&loop, path, get_fds, on_done, NULL, &s, &err), 0);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    /* A live one is not. */
    buf_reset(&err);
    CHECK_EQ_INT(handover_serve_start(&loop, path, get_fds, on_done, NULL, &s2, &err), -1);
    CHECK(has(&err, "in use by a running gateway"));
    handover_serve_stop(s);
    handover_serve_stop(s); /* twice is harmless */
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(stat(path, &st) != 0); /* stop removed the file */
    /* Not a socket: never unlinked. */
    int f = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    close(f);
    buf_reset(&err);
    CHECK_EQ_INT(handover_serve_start(&loop, path, get_fds, on_done, NULL, &s, &err), -1);
    CHECK(has(&err, "not a socket"));
    CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode));
    unlink(path);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
    buf_free(&err);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "release")) { /* the stranger of test_fetch_and_release */
        buf err;
        buf_init(&err);
        int rc = handover_release(argv[2], &err);
        bool refused = rc != 0 && has(&err, "has not fetched the sockets");
        buf_free(&err);
        return rc == 0 ? 0 : refused ? 3 : 1;
    }
    snprintf(dir, sizeof(dir), "/tmp/halo-ho-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof(path), "%s/halo-gw.sock", dir);
    RUN(test_codec_roundtrip);
    RUN(test_codec_garbage);
    RUN(test_match);
    RUN(test_paths);
    RUN(test_fetch_and_release);
    RUN(test_server_garbage);
    RUN(test_client_against_hostile_servers);
    unlink(path);
    rmdir(dir);
    return TEST_REPORT();
}
