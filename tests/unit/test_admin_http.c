/* test_admin_http.c — the shared admin/metrics listener with its own routes, on one thread. */
#include "test.h"
#include "common/buf.h"
#include "common/util.h"
#include "metrics/admin_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct owner {
    admin_http *h;
    int gets, posts, closed;
    bool stop_in_handler;
} owner;

static void on_get(void *ctx, admin_http_resp *r)
{
    owner *o = ctx;
    o->gets++;
    if (o->stop_in_handler) admin_http_stop(o->h);
    buf_append_str(&r->body, "got\n");
}

static void on_post(void *ctx, admin_http_resp *r)
{
    ((owner *)ctx)->posts++;
    r->status = 202;
    r->content_type = "application/json";
    buf_append_str(&r->body, "{}\n");
}

static void on_closed(void *ctx) { ((owner *)ctx)->closed++; }

static const admin_http_route g_routes[] = {
    {ADMIN_HTTP_GET, "/x", on_get},
    {ADMIN_HTTP_POST, "/x", on_post},
    {ADMIN_HTTP_GET, "/y", on_get},
};

static admin_http *start(uv_loop_t *loop, owner *o, int *port)
{
    admin_http_ops ops = {"test", g_routes, 3, o, on_closed};
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    buf err;
    buf_init(&err);
    o->h = admin_http_start(loop, (struct sockaddr *)&a, &ops, &err);
    buf_free(&err);
    struct sockaddr_in got;
    socklen_t l = sizeof(got);
    if (o->h) getsockname(admin_http_fd(o->h), (struct sockaddr *)&got, &l);
    *port = o->h ? ntohs(got.sin_port) : 0;
    return o->h;
}

/* Send req and run the loop until the listener closes the connection (at
 * most 5 s); the response is in resp. */
static void exchange(uv_loop_t *loop, int port, const char *req, buf *resp)
{
    buf_reset(resp);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    CHECK(send(fd, req, strlen(req), MSG_NOSIGNAL) == (ssize_t)strlen(req));
    int64_t deadline = mono_us() + 5000000;
    for (;;) {
        uv_run(loop, UV_RUN_NOWAIT);
        char tmp[4096];
        ssize_t n = recv(fd, tmp, sizeof(tmp), MSG_DONTWAIT);
        if (n > 0) buf_append(resp, tmp, (size_t)n);
        else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) break;
        if (mono_us() > deadline) {
            CHECK(!"no answer within 5 s");
            break;
        }
        usleep(1000);
    }
    close(fd);
    buf_append(resp, "", 1);
    resp->len--;
}

static int status_of(const buf *resp)
{
    return resp->len > 12 && !strncmp(resp->data, "HTTP/1.1 ", 9) ? atoi(resp->data + 9) : 0;
}

static const char *body_of(const buf *resp)
{
    const char *p = strstr(resp->data, "\r\n\r\n");
    return p ? p + 4 : "";
}

/* Run the loop until the stopped listener released everything: closed ran once. */
static void run_to_end(uv_loop_t *loop, const owner *o)
{
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(o->closed, 1);
    CHECK_EQ_INT(uv_loop_close(loop), 0);
}

static void test_routes_and_methods(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    owner o = {0};
    int port;
    if (!start(&loop, &o, &port)) { CHECK(!"start"); return; }
    buf r;
    buf_init(&r);
    exchange(&loop, port, "GET /x?q HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    CHECK_EQ_INT(status_of(&r), 200);
    CHECK(strstr(r.data, "Content-Type: text/plain; charset=utf-8\r\n") != NULL);
    CHECK(strstr(r.data, "Content-Length: 4\r\nCache-Control: no-store\r\nConnection: close\r\n"));
    CHECK(!strcmp(body_of(&r), "got\n"));
    exchange(&loop, port, "HEAD /x HTTP/1.1\r\n\r\n", &r);
    CHECK(status_of(&r) == 200 && strstr(r.data, "Content-Length: 4\r\n") && !*body_of(&r));
    exchange(&loop, port, "POST /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &r);
    CHECK_EQ_INT(status_of(&r), 202);
    CHECK(strstr(r.data, "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n") != NULL);
    exchange(&loop, port, "PUT /x HTTP/1.1\r\n\r\n", &r);
    CHECK_EQ_INT(status_of(&r), 405);
    CHECK(strstr(r.data, "Allow: GET, HEAD, POST\r\n") != NULL);
    exchange(&loop, port, "POST /y HTTP/1.1\r\n\r\n", &r);
    CHECK(status_of(&r) == 405 && strstr(r.data, "Allow: GET, HEAD\r\n"));
    exchange(&loop, port, "GET /z HTTP/1.1\r\n\r\n", &r);
    CHECK(status_of(&r) == 404 && !strcmp(body_of(&r), "404 Not Found\n"));
    exchange(&loop, port, "GET /x HTTP/2.0\r\n\r\n", &r);
    CHECK_EQ_INT(status_of(&r), 505);
    exchange(&loop, port, "GET /x\r\n\r\n", &r);
    CHECK(status_of(&r) == 400 && !strcmp(body_of(&r), "400 Bad Request\n"));
    CHECK_EQ_INT(o.gets, 2);
    CHECK_EQ_INT(o.posts, 1);
    admin_http_stats st;
    admin_http_get_stats(o.h, &st);
    CHECK(st.requests == 8 && st.bad_requests == 1 && st.rejected == 0);
    /* closed runs once, after the loop released everything. */
    admin_http_stop(o.h);
    admin_http_stop(o.h);
    CHECK_EQ_INT(o.closed, 0);
    run_to_end(&loop, &o);
    buf_free(&r);
}

static void test_stop_from_handler(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    owner o = {.stop_in_handler = true};
    int port;
    if (!start(&loop, &o, &port)) { CHECK(!"start"); return; }
    buf r;
    buf_init(&r);
    exchange(&loop, port, "GET /x HTTP/1.1\r\n\r\n", &r);
    CHECK_EQ_INT(o.gets, 1);
    CHECK_EQ_INT(r.len, 0); /* closed without an answer */
    run_to_end(&loop, &o);
    buf_free(&r);
}

static void test_start_failure(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    owner o = {0}, o2 = {0};
    int port;
    if (!start(&loop, &o, &port)) { CHECK(!"start"); return; }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    admin_http_ops ops = {"test", g_routes, 3, &o2, on_closed};
    buf err;
    buf_init(&err);
    CHECK(admin_http_start(&loop, (struct sockaddr *)&a, &ops, &err) == NULL);
    CHECK(err.len && strstr(err.data, "test: cannot listen on 127.0.0.1:") != NULL);
    buf_reset(&err);
    CHECK(admin_http_start_fd(&loop, -1, &ops, &err) == NULL);
    CHECK(err.len && strstr(err.data, "test: cannot use inherited socket -1") != NULL);
    admin_http_stop(o.h);
    run_to_end(&loop, &o);
    CHECK_EQ_INT(o2.closed, 0); /* a listener that never started never calls closed */
    CHECK(admin_http_fd(NULL) == -1);
    admin_http_stop(NULL);
    buf_free(&err);
}

int main(void)
{
    RUN(test_routes_and_methods);
    RUN(test_stop_from_handler);
    RUN(test_start_failure);
    return TEST_REPORT();
}
