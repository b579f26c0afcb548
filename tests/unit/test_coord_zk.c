/* test_coord_zk.c — the ZooKeeper coordinator against a real 3-member ensemble it starts. */
#include "common/err.h"
#include "common/util.h"
#include "coord/coord.h"
#include "test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Bounds: the whole test must end well inside ctest's 120 s. */
#define START_TIMEOUT_S 30 /* the script's own wait for a quorum */
#define STEP_MS 10000      /* one asynchronous step (connect, an operation, a watch) */
#define HARD_LIMIT_S 100   /* SIGALRM: stop the ensemble and fail */
#define SESSION_MS 2000

static uv_loop_t g_loop;
static uv_timer_t g_tick;
static char g_script[512];
static char g_dir[128];
static bool g_ensemble_up;

/* ---- the ensemble, always stopped ----------------------------------------- */

/* Runs the script with arguments; the first line of its output goes to out.
 * Returns its exit status. */
static int script(const char *args, char *out, size_t cap)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "/bin/bash '%s' %s", g_script, args);
    FILE *f = popen(cmd, "r");
    if (f == NULL) return -1;
    char line[512] = "";
    if (fgets(line, sizeof(line), f) == NULL) line[0] = '\0';
    char rest[256];
    while (fgets(rest, sizeof(rest), f) != NULL) {
    }
    int st = pclose(f);
    line[strcspn(line, "\n")] = '\0';
    if (out) snprintf(out, cap, "%s", line);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int ensemble(const char *verb, char *out, size_t cap)
{
    char args[256];
    snprintf(args, sizeof(args), "%s '%s'", verb, g_dir);
    return script(args, out, cap);
}

static void ensemble_stop(void)
{
    if (!g_ensemble_up) return;
    g_ensemble_up = false;
    ensemble("stop", NULL, 0);
}

/* Async-signal-safe: fork, exec the script's stop, wait, exit. */
static void on_fatal_signal(int sig)
{
    static const char msg[] = "test_coord_zk: signal, stopping the ZooKeeper ensemble\n";
    ssize_t w = write(2, msg, sizeof(msg) - 1);
    (void)w;
    if (g_ensemble_up) {
        pid_t pid = fork();
        if (pid == 0) {
            execl("/bin/bash", "bash", g_script, "stop", g_dir, (char *)NULL);
            _exit(127);
        }
        if (pid > 0) waitpid(pid, NULL, 0);
    }
    _exit(128 + sig);
}

static void guard_setup(void)
{
    atexit(ensemble_stop);
    struct sigaction sa = {.sa_handler = on_fatal_signal};
    sigemptyset(&sa.sa_mask);
    int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGALRM, SIGABRT};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);
    alarm(HARD_LIMIT_S);
    /* If this process dies without cleaning up (SIGKILL, a sanitizer's
     * _exit), the script's watchdog stops the ensemble within a second. */
    char pid[24];
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    setenv("HALO_ZK_OWNER_PID", pid, 1);
}

/* tests/unit/test_coord_zk.c -> scripts/zk-ensemble.sh */
static void find_script(void)
{
    const char *file = __FILE__;
    const char *tail = strstr(file, "tests/unit/");
    int root = tail ? (int)(tail - file) : 0;
    snprintf(g_script, sizeof(g_script), "%.*sscripts/zk-ensemble.sh", root, file);
}

/* ---- waiting on the loop ---------------------------------------------------- */

static void on_tick(uv_timer_t *t) {}

/* Runs the loop until cond holds or ms pass. */
#define WAIT(cond, ms)                                                                             \
    do {                                                                                           \
        int64_t deadline_ = mono_us() + (int64_t)(ms)*1000;                                        \
        while (!(cond) && mono_us() < deadline_)                                                   \
            uv_run(&g_loop, UV_RUN_ONCE);                                                          \
    } while (0)

/* ---- recording callbacks ---------------------------------------------------- */

typedef struct result {
    bool done;
    int err;
    int32_t version;
    bool has_config, has_primary;
    coord_config config;
    coord_primary_info primary;
    size_t n_nodes;
    coord_node_entry nodes[8];
} result;

static void record(result *out, const coord_result *r)
{
    memset(out, 0, sizeof(*out));
    out->done = true;
    out->err = r->err;
    out->version = r->version;
    CHECK(r->errmsg != NULL);
    if (r->err != 0) CHECK(r->errmsg[0] != '\0');
    if (r->config) {
        out->has_config = true;
        out->config = *r->config;
    }
    if (r->primary) {
        out->has_primary = true;
        out->primary = *r->primary;
    }
    out->n_nodes = r->n_nodes;
    for (size_t i = 0; i < r->n_nodes && i < 8; i++)
        out->nodes[i] = r->nodes[i];
}

static void on_result(coord *c, const coord_result *r, void *arg)
{
    record(arg, r);
}

typedef struct watch_log {
    int count;
    result last;
} watch_log;

static void on_watch(coord *c, const coord_result *r, void *arg)
{
    watch_log *w = arg;
    w->count++;
    record(&w->last, r);
}

typedef struct session_log {
    coord_state state;
    int counts[COORD_CLOSED + 1];
} session_log;

static void on_session(coord *c, coord_state s, void *arg)
{
    session_log *l = arg;
    l->state = s;
    l->counts[s]++;
}

static void on_closed(void *arg)
{
    *(bool *)arg = true;
}

/* Runs one operation to completion: start it with `call`, wait, check it
 * started and finished in time. */
#define OP(res, call)                                                                              \
    do {                                                                                           \
        memset(&(res), 0, sizeof(res));                                                            \
        CHECK_EQ_INT((call), 0);                                                                   \
        WAIT((res).done, STEP_MS);                                                                 \
        CHECK((res).done);                                                                         \
    } while (0)

/* ---- fixtures --------------------------------------------------------------- */

typedef struct client {
    coord *c;
    session_log log;
    bool closed;
} client;

static int client_open(client *cl, const char *servers, int session_ms, int op_timeout_ms)
{
    memset(cl, 0, sizeof(*cl));
    coord_options o = {.servers = servers,
                       .cluster = "test",
                       .session_timeout_ms = session_ms,
                       .op_timeout_ms = op_timeout_ms,
                       .on_session = on_session,
                       .arg = &cl->log};
    return coord_zk_open(&g_loop, &o, &cl->c);
}

static void client_close(client *cl)
{
    if (cl->c == NULL) return;
    coord_close(cl->c, on_closed, &cl->closed);
    WAIT(cl->closed, STEP_MS);
    CHECK(cl->closed);
    cl->c = NULL;
}

static coord_config make_config(uint64_t epoch, const char *primary)
{
    coord_config cfg = {.epoch = epoch, .n_isr = 2, .n_members = 3};
    snprintf(cfg.primary, sizeof(cfg.primary), "%s", primary);
    snprintf(cfg.isr[0], sizeof(coord_id), "n1");
    snprintf(cfg.isr[1], sizeof(coord_id), "n2");
    snprintf(cfg.members[0], sizeof(coord_id), "n1");
    snprintf(cfg.members[1], sizeof(coord_id), "n2");
    snprintf(cfg.members[2], sizeof(coord_id), "n3");
    return cfg;
}

static coord_node_info make_node(const char *addr)
{
    coord_node_info n = {{0}};
    snprintf(n.addr, sizeof(n.addr), "%s", addr);
    return n;
}

static client A, B;
static char g_servers[256];

/* ---- the tests -------------------------------------------------------------- */

static void test_connect(void)
{
    /* B outlives member pauses and the outage below: a longer session */
    CHECK_EQ_INT(client_open(&A, g_servers, SESSION_MS, 0), 0);
    CHECK_EQ_INT(client_open(&B, g_servers, 2 * SESSION_MS, 20000), 0);
    WAIT(A.log.state == COORD_CONNECTED && B.log.state == COORD_CONNECTED, STEP_MS);
    CHECK_EQ_INT(A.log.state, COORD_CONNECTED);
    CHECK_EQ_INT(B.log.state, COORD_CONNECTED);
    coord_session_info sa, sb;
    coord_session(A.c, &sa);
    coord_session(B.c, &sb);
    CHECK(sa.session_id != 0 && sb.session_id != 0 && sa.session_id != sb.session_id);
    CHECK(sa.timeout_ms >= 400 && sa.timeout_ms <= SESSION_MS);
    CHECK(sb.timeout_ms > sa.timeout_ms);
    /* The lease basis appears with the first answered request (a ping). */
    WAIT((coord_session(A.c, &sa), sa.last_contact_us != 0), STEP_MS);
    CHECK(sa.last_contact_us > 0 && sa.last_contact_us <= mono_us());
}

static void test_bad_arguments(void)
{
    result r;
    coord_config cfg = make_config(1, "n9"); /* primary not in isr */
    CHECK_EQ_INT(coord_create_config(A.c, "g1", &cfg, on_result, &r), -HALO_EINVAL);
    cfg = make_config(1, "n1");
    CHECK_EQ_INT(coord_create_config(A.c, "bad/gid", &cfg, on_result, &r), -HALO_EINVAL);
    CHECK_EQ_INT(coord_cas_config(A.c, "g1", &cfg, -1, on_result, &r), -HALO_EINVAL);
    CHECK_EQ_INT(coord_get_config(A.c, "", on_result, &r), -HALO_EINVAL);
    coord_options o = {.servers = g_servers, .cluster = "no/slash", .session_timeout_ms = 1000};
    coord *c = NULL;
    CHECK_EQ_INT(coord_zk_open(&g_loop, &o, &c), -HALO_EINVAL);
}

static void test_bootstrap_and_read(void)
{
    result r;
    coord_config cfg = make_config(1, "n1"), other = make_config(1, "n2");
    OP(r, coord_get_config(A.c, "g1", on_result, &r));
    CHECK_EQ_INT(r.err, -HALO_ENOTFOUND);
    /* parents /halo/test/groups/g1 are created on the way */
    OP(r, coord_create_config(A.c, "g1", &cfg, on_result, &r));
    CHECK_EQ_INT(r.err, 0);
    CHECK_EQ_INT(r.version, 0);
    OP(r, coord_create_config(B.c, "g1", &other, on_result, &r));
    CHECK_EQ_INT(r.err, -HALO_EEXISTS);
    result ra, rb;
    OP(ra, coord_get_config(A.c, "g1", on_result, &ra));
    OP(rb, coord_get_config(B.c, "g1", on_result, &rb));
    CHECK(ra.err == 0 && rb.err == 0 && ra.has_config && rb.has_config);
    CHECK(coord_config_equal(&ra.config, &cfg) && coord_config_equal(&rb.config, &cfg));
    CHECK_EQ_INT(ra.version, 0);
    CHECK_EQ_INT(rb.version, 0);
}

static watch_log g_cfg_watch;
static coord_watch *g_cfg_w;

static void test_cas_and_watch(void)
{
    result r;
    CHECK_EQ_INT(coord_watch_config(B.c, "g1", on_watch, &g_cfg_watch, &g_cfg_w), 0);
    WAIT(g_cfg_watch.count == 1, STEP_MS);
    CHECK_EQ_INT(g_cfg_watch.count, 1);
    CHECK(g_cfg_watch.last.err == 0 && g_cfg_watch.last.version == 0);

    coord_config next = make_config(2, "n2");
    OP(r, coord_cas_config(A.c, "g1", &next, 0, on_result, &r));
    CHECK_EQ_INT(r.err, 0);
    CHECK_EQ_INT(r.version, 1);
    WAIT(g_cfg_watch.count == 2, STEP_MS);
    CHECK_EQ_INT(g_cfg_watch.count, 2);
    CHECK(g_cfg_watch.last.has_config && g_cfg_watch.last.config.epoch == 2);
    CHECK_EQ_INT(g_cfg_watch.last.version, 1);

    /* B decided on version 0: its CAS loses */
    coord_config stale = make_config(2, "n1");
    OP(r, coord_cas_config(B.c, "g1", &stale, 0, on_result, &r));
    CHECK_EQ_INT(r.err, -HALO_EBADVERSION);
    OP(r, coord_cas_config(B.c, "nope", &stale, 0, on_result, &r));
    CHECK_EQ_INT(r.err, -HALO_ENOTFOUND);

    /* two quick changes: the watch ends on the latest */
    coord_config e3 = make_config(3, "n1"), e4 = make_config(4, "n2");
    result r3, r4;
    memset(&r3, 0, sizeof(r3));
    memset(&r4, 0, sizeof(r4));
    CHECK_EQ_INT(coord_cas_config(A.c, "g1", &e3, 1, on_result, &r3), 0);
    CHECK_EQ_INT(coord_cas_config(A.c, "g1", &e4, 2, on_result, &r4), 0);
    WAIT(r3.done && r4.done && g_cfg_watch.last.version == 3, STEP_MS);
    CHECK(r3.err == 0 && r4.err == 0);
    CHECK_EQ_INT(g_cfg_watch.last.version, 3);
    CHECK(g_cfg_watch.last.config.epoch == 4);
}

static void test_nodes(void)
{
    result r;
    coord_node_info n1 = make_node("127.0.0.1:7001"), n2 = make_node("127.0.0.1:7002");
    OP(r, coord_register_node(A.c, "n1", &n1, on_result, &r));
    CHECK_EQ_INT(r.err, 0);
    OP(r, coord_register_node(B.c, "n2", &n2, on_result, &r));
    CHECK_EQ_INT(r.err, 0);
    OP(r, coord_register_node(B.c, "n1", &n2, on_result, &r)); /* A's session holds it */
    CHECK_EQ_INT(r.err, -HALO_EEXISTS);
    coord_node_info moved = make_node("127.0.0.1:7101");
    OP(r, coord_register_node(A.c, "n1", &moved, on_result, &r)); /* ours: data replaced */
    CHECK_EQ_INT(r.err, 0);
    OP(r, coord_list_nodes(B.c, on_result, &r));
    CHECK_EQ_INT(r.err, 0);
    CHECK_EQ_INT(r.n_nodes, 2);
    CHECK(strcmp(r.nodes[0].id, "n1") == 0 && strcmp(r.nodes[1].id, "n2") == 0);
    CHECK(strcmp(r.nodes[0].info.addr, "127.0.0.1:7101") == 0);
}

static watch_log g_prim_watch;
static coord_watch *g_prim_w;

static void test_primary_marker(void)
{
    result r;
    CHECK_EQ_INT(coord_watch_primary(B.c, "g1", on_watch, &g_prim_watch, &g_prim_w), 0);
    WAIT(g_prim_watch.count == 1, STEP_MS);
    CHECK_EQ_INT(g_prim_watch.count, 1);
    CHECK_EQ_INT(g_prim_watch.last.err, -HALO_ENOTFOUND);

    coord_primary_info p = {.epoch = 4};
    snprintf(p.node, sizeof(p.node), "n1");
    OP(r, coord_create_primary(A.c, "g1", &p, on_result, &r));
    CHECK_EQ_INT(r.err, 0);
    WAIT(g_prim_watch.count == 2, STEP_MS);
    CHECK(g_prim_watch.last.has_primary && strcmp(g_prim_watch.last.primary.node, "n1") == 0);
    CHECK(g_prim_watch.last.primary.epoch == 4);

    coord_primary_info q = {.epoch = 4};
    snprintf(q.node, sizeof(q.node), "n2");
    OP(r, coord_create_primary(B.c, "g1", &q, on_result, &r));
    CHECK_EQ_INT(r.err, -HALO_EEXISTS);
    OP(r, coord_release_primary(B.c, "g1", on_result, &r));
    CHECK_EQ_INT(r.err, -HALO_ELOCKED);
    OP(r, coord_create_primary(A.c, "g1", &p, on_result, &r)); /* already ours */
    CHECK_EQ_INT(r.err, 0);

    /* planned hand-off: A releases, B sees it gone, B takes it */
    OP(r, coord_release_primary(A.c, "g1", on_result, &r));
    CHECK_EQ_INT(r.err, 0);
    WAIT(g_prim_watch.last.err == -HALO_ENOTFOUND, STEP_MS);
    CHECK_EQ_INT(g_prim_watch.last.err, -HALO_ENOTFOUND);
    OP(r, coord_release_primary(A.c, "g1", on_result, &r));
    CHECK_EQ_INT(r.err, -HALO_ENOTFOUND);
    OP(r, coord_create_primary(A.c, "g1", &p, on_result, &r));
    CHECK_EQ_INT(r.err, 0);
    WAIT(g_prim_watch.last.has_primary, STEP_MS);
    CHECK(g_prim_watch.last.has_primary);
}

/* A's session ends: its ephemerals (node, primary marker) go at once. */
static void test_close_releases_ephemerals(void)
{
    int before = g_prim_watch.count;
    client_close(&A);
    WAIT(g_prim_watch.count > before && g_prim_watch.last.err == -HALO_ENOTFOUND, STEP_MS);
    CHECK_EQ_INT(g_prim_watch.last.err, -HALO_ENOTFOUND);
    result r;
    OP(r, coord_list_nodes(B.c, on_result, &r));
    CHECK_EQ_INT(r.n_nodes, 1);
    CHECK(strcmp(r.nodes[0].id, "n2") == 0);
}

static void test_unwatch(void)
{
    int before = g_cfg_watch.count;
    coord_unwatch(B.c, g_cfg_w);
    g_cfg_w = NULL;
    result r;
    coord_config e5 = make_config(5, "n1");
    OP(r, coord_cas_config(B.c, "g1", &e5, 3, on_result, &r));
    CHECK_EQ_INT(r.err, 0);
    /* give a stray delivery the time to show up */
    result r2;
    OP(r2, coord_get_config(B.c, "g1", on_result, &r2));
    CHECK_EQ_INT(g_cfg_watch.count, before);
}

/* Failover's transaction: the config CAS and the primary marker together. */
static void test_elect(void)
{
    result r;
    coord_config cfg = make_config(6, "n2");
    coord_primary_info p = {.epoch = 6};
    snprintf(p.node, sizeof(p.node), "n2");
    OP(r, coord_elect(B.c, "g1", &cfg, 4, &p, on_result, &r));
    CHECK_EQ_INT(r.err, 0);
    CHECK_EQ_INT(r.version, 5);
    WAIT(g_prim_watch.last.has_primary && g_prim_watch.last.primary.epoch == 6, STEP_MS);
    CHECK(g_prim_watch.last.has_primary && strcmp(g_prim_watch.last.primary.node, "n2") == 0);

    /* the marker exists: the whole transaction fails, the config stays */
    coord_config next = make_config(7, "n2");
    OP(r, coord_elect(B.c, "g1", &next, 5, &p, on_result, &r));
    CHECK_EQ_INT(r.err, -HALO_EEXISTS);
    OP(r, coord_elect(B.c, "g1", &next, 4, &p, on_result, &r));
    CHECK_EQ_INT(r.err, -HALO_EBADVERSION);
    OP(r, coord_get_config(B.c, "g1", on_result, &r));
    CHECK(r.err == 0 && r.version == 5 && r.config.epoch == 6);

    OP(r, coord_release_primary(B.c, "g1", on_result, &r));
    CHECK_EQ_INT(r.err, 0);
    WAIT(g_prim_watch.last.err == -HALO_ENOTFOUND, STEP_MS);
    CHECK_EQ_INT(g_prim_watch.last.err, -HALO_ENOTFOUND);
}

/* Planned switchover's transaction: another session's live marker is
 * replaced together with the config CAS; without a marker it fails whole. */
static void test_take_over(void)
{
    result r;
    coord_config e7 = make_config(7, "n2");
    coord_primary_info p2 = {.epoch = 7};
    snprintf(p2.node, sizeof(p2.node), "n2");
    OP(r, coord_elect(B.c, "g1", &e7, 5, &p2, on_result, &r));
    CHECK_EQ_INT(r.err, 0);
    CHECK_EQ_INT(r.version, 6);

    client C;
    CHECK_EQ_INT(client_open(&C, g_servers, SESSION_MS, 0), 0);
    coord_config e8 = make_config(8, "n1");
    coord_primary_info p3 = {.epoch = 8};
    snprintf(p3.node, sizeof(p3.node), "n1");
    OP(r, coord_take_over(C.c, "g1", &e8, 5, &p3, on_result, &r)); /* stale version */
    CHECK_EQ_INT(r.err, -HALO_EBADVERSION);
    OP(r, coord_take_over(C.c, "g1", &e8, 6, &p3, on_result, &r));
    CHECK_EQ_INT(r.err, 0);
    CHECK_EQ_INT(r.version, 7);
    WAIT(g_prim_watch.last.has_primary && g_prim_watch.last.primary.epoch == 8, STEP_MS);
    CHECK(g_prim_watch.last.has_primary && strcmp(g_prim_watch.last.primary.node, "n1") == 0);
    /* the marker is C's now: B cannot release it, C's end removes it */
    OP(r, coord_release_primary(B.c, "g1", on_result, &r));
    CHECK_EQ_INT(r.err, -HALO_ELOCKED);
    client_close(&C);
    WAIT(g_prim_watch.last.err == -HALO_ENOTFOUND, STEP_MS);
    CHECK_EQ_INT(g_prim_watch.last.err, -HALO_ENOTFOUND);

    coord_config e9 = make_config(9, "n2");
    OP(r, coord_take_over(B.c, "g1", &e9, 7, &p2, on_result, &r)); /* no marker to replace */
    CHECK_EQ_INT(r.err, -HALO_ENOTFOUND);
    OP(r, coord_get_config(B.c, "g1", on_result, &r));
    CHECK(r.err == 0 && r.version == 7 && r.config.epoch == 8);
}

/* No server reachable: operations fail with CONNLOSS after op_timeout_ms. */
static void test_unreachable(void)
{
    client C;
    coord_options o = {.servers = "127.0.0.1:1",
                       .cluster = "test",
                       .session_timeout_ms = 1000,
                       .op_timeout_ms = 300};
    memset(&C, 0, sizeof(C));
    CHECK_EQ_INT(coord_zk_open(&g_loop, &o, &C.c), 0);
    if (C.c == NULL) return;
    result r;
    int64_t t0 = mono_us();
    OP(r, coord_get_config(C.c, "g1", on_result, &r));
    CHECK_EQ_INT(r.err, -HALO_ECONNLOSS);
    CHECK(mono_us() - t0 < 3000000);
    /* closing with an operation pending completes it with ECLOSED */
    result pending;
    memset(&pending, 0, sizeof(pending));
    CHECK_EQ_INT(coord_get_config(C.c, "g1", on_result, &pending), 0);
    client_close(&C);
    CHECK(pending.done && pending.err == -HALO_ECLOSED);
}

/* The whole ensemble goes away: B is told, its lease stops growing, a read
 * waits for the connection; the ensemble returns: B reconnects (the servers
 * restart sessions' clocks on election) and the read completes. */
static void test_ensemble_outage(void)
{
    int prim_before = g_prim_watch.count;
    CHECK_EQ_INT(ensemble("stop", NULL, 0), 0);
    WAIT(B.log.state == COORD_DISCONNECTED, STEP_MS);
    CHECK_EQ_INT(B.log.state, COORD_DISCONNECTED);
    coord_session_info s1, s2;
    coord_session(B.c, &s1);
    result r;
    memset(&r, 0, sizeof(r));
    CHECK_EQ_INT(coord_get_config(B.c, "g1", on_result, &r), 0);
    WAIT(r.done, 500);
    CHECK(!r.done); /* parked: no server */
    coord_session(B.c, &s2);
    CHECK(s2.last_contact_us == s1.last_contact_us);

    char conn[256];
    CHECK_EQ_INT(ensemble("start", conn, sizeof(conn)), 0);
    CHECK(strcmp(conn, g_servers) == 0);
    WAIT(B.log.state == COORD_CONNECTED || B.log.state == COORD_EXPIRED, 15000);
    if (B.log.state == COORD_EXPIRED) { /* allowed, if slower than the session */
        fprintf(stderr, "note: B's session expired during the outage; reconnecting\n");
        CHECK_EQ_INT(coord_reconnect(B.c), 0);
        WAIT(B.log.state == COORD_CONNECTED, STEP_MS);
    }
    CHECK_EQ_INT(B.log.state, COORD_CONNECTED);
    CHECK(B.log.counts[COORD_DISCONNECTED] >= 1);
    WAIT(r.done, STEP_MS);
    CHECK(r.done);
    CHECK(r.err == 0 || r.err == -HALO_EEXPIRED);
    coord_session(B.c, &s2);
    WAIT((coord_session(B.c, &s2), s2.last_contact_us > s1.last_contact_us), STEP_MS);
    CHECK(s2.last_contact_us > s1.last_contact_us);
    CHECK_EQ_INT(g_prim_watch.count, prim_before); /* same state: not delivered again */
}

/* A new session by choice: the old one's ephemerals go, watches carry over. */
static void test_reconnect(void)
{
    coord_session_info s1, s2;
    coord_session(B.c, &s1);
    int connected = B.log.counts[COORD_CONNECTED];
    CHECK_EQ_INT(coord_reconnect(B.c), 0);
    WAIT(B.log.counts[COORD_CONNECTED] > connected, STEP_MS);
    coord_session(B.c, &s2);
    CHECK(s2.state == COORD_CONNECTED && s2.session_id != 0 && s2.session_id != s1.session_id);

    result r;
    coord_primary_info q = {.epoch = 5};
    snprintf(q.node, sizeof(q.node), "n2");
    OP(r, coord_create_primary(B.c, "g1", &q, on_result, &r));
    CHECK_EQ_INT(r.err, 0);
    WAIT(g_prim_watch.last.has_primary && strcmp(g_prim_watch.last.primary.node, "n2") == 0,
         STEP_MS);
    CHECK(g_prim_watch.last.has_primary && g_prim_watch.last.primary.epoch == 5);
    /* the old session's n2 registration left with it (closed on the pool) */
    bool gone = false;
    for (int i = 0; i < 50 && !gone; i++) {
        OP(r, coord_list_nodes(B.c, on_result, &r));
        gone = r.err == 0 && r.n_nodes == 0;
        if (!gone) WAIT(false, 100);
    }
    CHECK(gone);
}

/* A session really expires: client E talks only to member 3, which is
 * paused (SIGSTOP) beyond E's session timeout while members 1 and 2 keep a
 * quorum. E's marker disappears for B; when member 3 resumes, E learns that
 * its session expired, its operations fail with EXPIRED, and a reconnect
 * gives it a new session. */
static void test_expiry(void)
{
    const char *third = strrchr(g_servers, ',');
    CHECK(third != NULL);
    if (third == NULL) return;
    client E;
    memset(&E, 0, sizeof(E));
    coord_options o = {.servers = third + 1,
                       .cluster = "test",
                       .session_timeout_ms = 800,
                       .on_session = on_session,
                       .arg = &E.log};
    CHECK_EQ_INT(coord_zk_open(&g_loop, &o, &E.c), 0);
    WAIT(E.log.state == COORD_CONNECTED, STEP_MS);
    CHECK_EQ_INT(E.log.state, COORD_CONNECTED);

    watch_log wl;
    memset(&wl, 0, sizeof(wl));
    coord_watch *w = NULL;
    CHECK_EQ_INT(coord_watch_primary(B.c, "g2", on_watch, &wl, &w), 0);
    result r;
    coord_primary_info p = {.epoch = 1};
    snprintf(p.node, sizeof(p.node), "n3");
    OP(r, coord_create_primary(E.c, "g2", &p, on_result, &r)); /* creates groups/g2 too */
    CHECK_EQ_INT(r.err, 0);
    WAIT(wl.last.has_primary, STEP_MS);
    CHECK(wl.last.has_primary);

    char args[256];
    snprintf(args, sizeof(args), "pause '%s' 3", g_dir);
    CHECK_EQ_INT(script(args, NULL, 0), 0);
    WAIT(E.log.state == COORD_DISCONNECTED, STEP_MS);
    CHECK_EQ_INT(E.log.state, COORD_DISCONNECTED);
    WAIT(wl.last.err == -HALO_ENOTFOUND, 15000); /* the quorum expired E's session */
    CHECK_EQ_INT(wl.last.err, -HALO_ENOTFOUND);
    snprintf(args, sizeof(args), "resume '%s' 3", g_dir);
    CHECK_EQ_INT(script(args, NULL, 0), 0);
    WAIT(E.log.state == COORD_EXPIRED, 15000);
    CHECK_EQ_INT(E.log.state, COORD_EXPIRED);
    coord_session_info si;
    coord_session(E.c, &si);
    CHECK(si.state == COORD_EXPIRED && si.last_contact_us == 0);
    OP(r, coord_get_config(E.c, "g1", on_result, &r));
    CHECK_EQ_INT(r.err, -HALO_EEXPIRED);

    int64_t old_id = si.session_id;
    CHECK_EQ_INT(coord_reconnect(E.c), 0);
    WAIT(E.log.state == COORD_CONNECTED, STEP_MS);
    coord_session(E.c, &si);
    CHECK(si.state == COORD_CONNECTED && si.session_id != old_id);
    OP(r, coord_create_primary(E.c, "g2", &p, on_result, &r));
    CHECK_EQ_INT(r.err, 0);
    coord_unwatch(B.c, w);
    client_close(&E);
}

static int64_t g_t0;

/* Closes the clients and the loop, stops the ensemble, removes its
 * directory unless something failed (its logs are then worth reading). */
static void test_teardown(void)
{
    client_close(&A);
    if (g_prim_w) coord_unwatch(B.c, g_prim_w);
    client_close(&B);
    uv_close((uv_handle_t *)&g_tick, NULL);
    uv_run(&g_loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(&g_loop), 0);

    ensemble_stop();
    if (t_failed == 0 && t_failed_checks == 0) {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    } else {
        fprintf(stderr, "ZooKeeper logs kept in %s\n", g_dir);
    }
    fprintf(stderr, "total %.1f s\n", (mono_us() - g_t0) / 1e6);
}

int main(void)
{
    find_script();
    if (access(g_script, R_OK) != 0) {
        fprintf(stderr, "test_coord_zk: %s not found\n", g_script);
        return 1;
    }
    snprintf(g_dir, sizeof(g_dir), "/tmp/halo-zk-XXXXXX");
    if (mkdtemp(g_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    guard_setup();
    g_ensemble_up = true; /* from here on, stop it whatever happens */
    g_t0 = mono_us();
    if (ensemble("start", g_servers, sizeof(g_servers)) != 0 || g_servers[0] == '\0') {
        fprintf(stderr,
                "test_coord_zk: ZooKeeper did not start (waited at most %d s; is Debian's "
                "zookeeper package installed? logs in %s)\n",
                START_TIMEOUT_S, g_dir);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    fprintf(stderr, "ensemble %s up in %.1f s\n", g_servers, (mono_us() - g_t0) / 1e6);

    uv_loop_init(&g_loop);
    uv_timer_init(&g_loop, &g_tick);
    uv_timer_start(&g_tick, on_tick, 10, 10);

    RUN(test_connect);
    if (t_failed == 0) {
        RUN(test_bad_arguments);
        RUN(test_bootstrap_and_read);
        RUN(test_cas_and_watch);
        RUN(test_nodes);
        RUN(test_primary_marker);
        RUN(test_close_releases_ephemerals);
        RUN(test_unwatch);
        RUN(test_elect);
        RUN(test_take_over);
        RUN(test_unreachable);
        RUN(test_ensemble_outage);
        RUN(test_expiry);
        RUN(test_reconnect);
    }

    RUN(test_teardown);
    return TEST_REPORT();
}
