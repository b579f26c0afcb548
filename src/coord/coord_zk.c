/* coord_zk.c — the coordinator on ZooKeeper: libzookeeper-mt callbacks marshalled onto libuv. */
#include "coord/coord.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zookeeper/zookeeper.h>

/* How it works.
 *
 * The mt client runs two threads per handle: I/O, and completions (which
 * calls our completion and watcher functions). Those functions only copy
 * what they were given into a zk_msg, push it on a mutex-protected queue and
 * wake the loop with uv_async_send. Everything else — requests, watches,
 * session state, user callbacks — lives on the loop thread.
 *
 * A request (zk_req) is one user operation, possibly several ZooKeeper calls
 * (a create that meets NODEEXISTS reads the node back to see whose it is). It
 * is in c->reqs from start to finish, and is at any time either in flight
 * (exactly one completion message will come for it), parked (waiting for a
 * connection or the next tick to be sent again), or being handled.
 * Connection loss and operation timeouts are retried until the request's
 * deadline; a write whose attempt was lost is marked ambiguous, and a later
 * conflict (NODEEXISTS, BADVERSION) is resolved by reading the node back.
 *
 * Each zhandle_t gets a generation number. coord_reconnect replaces the
 * handle; session and watch events of an old handle are ignored, its
 * completions still finish their requests (with EXPIRED when it was closed).
 * zookeeper_close blocks (it may flush a close request to a slow server), so
 * it runs on libuv's thread pool; the coord is freed only after every handle
 * is closed, so no ZooKeeper thread can touch it afterwards. */

#define ZK_PATH_MAX 200 /* "/halo/" id "/groups/" id "/primary" < 160 */
#define ZK_TICK_MS 50   /* retry back-off, deadline and ping granularity */
#define ZK_PARENT_PASSES 3
#define ZK_RETIRE_MS 1000 /* longest wait for answers before closing a retired handle */

typedef struct zk_coord zk_coord;
typedef struct zk_req zk_req;

/* The context of one zhandle_t, shared by its session and path watchers;
 * freed after that handle's zookeeper_close returned.
 *
 * A retired handle (replaced or closed) is closed only once none of our
 * calls is in flight on it, or after ZK_RETIRE_MS: with the 3.8.0 client,
 * zookeeper_close leaked, uncalled, the completions of requests still awaiting
 * an answer (cf. ZOOKEEPER-2894, ZOOKEEPER-3868). So answers may arrive first,
 * and any request the close drops anyway is completed by fail_dropped. */
typedef struct zk_handle {
    zk_coord *c;
    zhandle_t *zh;
    unsigned gen;
    int in_flight;         /* our calls awaiting a completion */
    bool retiring, queued; /* replaced; zookeeper_close queued on the pool */
    int64_t retire_deadline_us;
    struct zk_handle *next_retiring;
    uv_work_t work;
} zk_handle;

enum { MSG_SESSION, MSG_WATCH, MSG_DONE };

typedef struct zk_msg {
    struct zk_msg *next;
    int kind;
    unsigned gen;       /* MSG_SESSION, MSG_WATCH */
    int state;          /* MSG_SESSION: ZooKeeper state; MSG_WATCH: event type */
    int64_t session_id; /* MSG_SESSION */
    int timeout_ms;     /* MSG_SESSION */
    zk_req *req;        /* MSG_DONE */
    int rc;             /* MSG_DONE */
    bool has_stat;
    int32_t version;
    int64_t mzxid, owner;
    bool too_big; /* data longer than COORD_DOC_MAX, or too many children */
    char *data;   /* MSG_DONE get: the bytes (not NUL-terminated) */
    size_t data_len;
    char *names; /* MSG_DONE children: n_names NUL-terminated names */
    size_t n_names;
    char path[]; /* MSG_WATCH */
} zk_msg;

typedef enum {
    R_GET_CONFIG,
    R_CREATE_CONFIG,
    R_CAS_CONFIG,
    R_REGISTER,
    R_CREATE_PRIMARY,
    R_RELEASE_PRIMARY,
    R_LIST,
    R_WATCH,
    R_PING,
    R_MKDIR,
    R_SYNC,
    R_ELECT,
} req_kind;

typedef enum {
    Z_GET,
    Z_EXISTS,
    Z_CREATE,
    Z_SET,
    Z_DELETE,
    Z_CHILDREN,
    Z_WGET,
    Z_WEXISTS,
    Z_SYNC,
    Z_MULTI, /* R_ELECT: set the config and create the primary marker, atomically */
} zk_call;

struct coord_watch {
    coord_watch *prev, *next; /* c->watches, while subscribed */
    zk_coord *c;
    bool is_config; /* else the primary marker */
    char path[ZK_PATH_MAX];
    coord_cb cb;
    void *arg;
    bool arming;    /* a R_WATCH request is live for it */
    bool rearm;     /* an event came while arming: read again after */
    bool cancelled; /* unwatched: free once no request and no callback uses it */
    bool in_cb;
    bool delivered, last_present;
    int64_t last_mzxid;
};

struct zk_req {
    zk_req *prev, *next; /* c->reqs */
    zk_coord *c;
    req_kind kind;
    zk_call call; /* the ZooKeeper call to make (next) or made (in flight) */
    bool in_flight;
    bool parked;
    bool ambiguous; /* a lost write attempt may have been applied */
    int parent_passes;
    unsigned gen; /* of the handle the last call went to (lease bookkeeping) */
    zk_handle *h; /* the handle the call in flight went to, NULL if none */
    int64_t sent_us;
    int64_t deadline_us; /* 0: none */
    int create_mode;
    int32_t version; /* CAS: expected; delete/set after a read: the read one */
    char path[ZK_PATH_MAX];
    char doc[COORD_DOC_MAX];
    size_t doc_len;
    coord_cb cb;
    void *arg;
    coord_watch *watch; /* R_WATCH */
    /* R_ELECT: the marker's path and document; the multi's results (written
     * by the client's threads before the completion, read after it). */
    char path2[ZK_PATH_MAX];
    char doc2[COORD_DOC_MAX];
    size_t doc2_len;
    int multi_rc;
    zoo_op_result_t results[3];
    bool replace; /* R_ELECT: delete the existing marker first (coord_take_over) */
    struct Stat multi_stat;
    char created[ZK_PATH_MAX];
    /* R_LIST: the children names, the one being read, and the entries so far */
    char *names;
    size_t n_names, name_idx;
    const char *name_cur;
    char child[ZK_PATH_MAX + COORD_ID_MAX + 2];
    coord_node_entry *nodes;
    size_t n_nodes;
    char errmsg[256];
};

struct zk_coord {
    coord base;
    uv_loop_t *loop;
    uv_async_t async;
    uv_timer_t timer;
    pthread_mutex_t mu;
    zk_msg *q_head, *q_tail; /* under mu */

    zk_handle *h;        /* current handle, NULL once closing */
    zk_handle *retiring; /* replaced handles not yet handed to zookeeper_close */
    unsigned gen;
    char *servers;
    char cluster[COORD_ID_MAX + 1];
    int session_timeout_ms, op_timeout_ms;
    coord_session_cb on_session;
    void *arg;

    coord_state state;
    int64_t session_id;
    int timeout_ms;
    int64_t last_contact_us;
    bool ping_in_flight;
    int64_t last_ping_us;

    zk_req *reqs_head, *reqs_tail;
    coord_watch *watches;

    bool closing;
    bool torn_down;
    int closes_pending; /* handles whose zookeeper_close has not returned */
    int uv_open;        /* uv handles not yet closed */
    void (*done)(void *);
    void *done_arg;
};

static const coord_ops zk_ops;

static void req_send(zk_req *r);
static void req_handle(zk_req *r, zk_msg *m);
static void watch_arm(coord_watch *w);
static void teardown_finish(zk_coord *c);

/* ---- ZooKeeper's own logging, routed to ours ------------------------------ */

/* Lines of the client library: its errors are mostly "connection refused"
 * while a server is down, which our own session lines already say once. */
static void zk_log_line(const char *msg)
{
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        n--;
    int level = strstr(msg, "ZOO_ERROR@") || strstr(msg, "ZOO_WARN@") ? LOG_INFO : LOG_DEBUG;
    log_msg(level, "zookeeper: %.*s", (int)n, msg);
}

static ssize_t zk_stream_write(void *cookie, const char *buf, size_t size)
{
    char line[1024];
    size_t n = size < sizeof(line) - 1 ? size : sizeof(line) - 1;
    memcpy(line, buf, n);
    line[n] = '\0';
    zk_log_line(line);
    return (ssize_t)size;
}

/* Messages logged outside any handle go to the library's global stream:
 * make that stream ours too. */
static void zk_log_setup_once(void)
{
    cookie_io_functions_t io = {.write = zk_stream_write};
    FILE *f = fopencookie(NULL, "w", io);
    if (f != NULL) {
        setvbuf(f, NULL, _IOLBF, 0);
        zoo_set_log_stream(f);
    }
}

static void zk_log_setup(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, zk_log_setup_once);
    int ours = log_get_level();
    zoo_set_debug_level(ours <= LOG_DEBUG  ? ZOO_LOG_LEVEL_INFO
                        : ours <= LOG_INFO ? ZOO_LOG_LEVEL_WARN
                                           : ZOO_LOG_LEVEL_ERROR);
}

/* ---- the queue from ZooKeeper's threads to the loop ----------------------- */

static zk_msg *msg_new(int kind, size_t extra)
{
    zk_msg *m = hcalloc(1, sizeof(*m) + extra);
    m->kind = kind;
    return m;
}

static void msg_post(zk_coord *c, zk_msg *m)
{
    pthread_mutex_lock(&c->mu);
    if (c->q_tail)
        c->q_tail->next = m;
    else
        c->q_head = m;
    c->q_tail = m;
    pthread_mutex_unlock(&c->mu);
    uv_async_send(&c->async);
}

static void msg_stat(zk_msg *m, int rc, const struct Stat *st)
{
    m->rc = rc;
    if (rc == ZOK && st != NULL) {
        m->has_stat = true;
        m->version = st->version;
        m->mzxid = st->mzxid;
        m->owner = st->ephemeralOwner;
    }
}

/* Completion functions, on ZooKeeper's completion thread (or on the thread
 * calling zookeeper_close): copy, post, return. */
static void on_data(int rc, const char *value, int value_len, const struct Stat *st,
                    const void *data)
{
    zk_req *r = (zk_req *)data;
    size_t n = rc == ZOK && value != NULL && value_len > 0 ? (size_t)value_len : 0;
    bool too_big = n > COORD_DOC_MAX;
    if (too_big) n = 0;
    zk_msg *m = msg_new(MSG_DONE, n);
    msg_stat(m, rc, st);
    m->req = r;
    m->too_big = too_big;
    m->data = (char *)(m + 1);
    m->data_len = n;
    if (n) memcpy(m->data, value, n);
    msg_post(r->c, m);
}

static void on_stat(int rc, const struct Stat *st, const void *data)
{
    zk_req *r = (zk_req *)data;
    zk_msg *m = msg_new(MSG_DONE, 0);
    msg_stat(m, rc, st);
    m->req = r;
    msg_post(r->c, m);
}

static void on_string(int rc, const char *value, const void *data)
{
    on_stat(rc, NULL, data);
}

static void on_void(int rc, const void *data)
{
    on_stat(rc, NULL, data);
}

/* Children names longer than an id cannot be ids: they are dropped here so
 * the copy stays bounded (COORD_MAX_NODES * (COORD_ID_MAX + 1) bytes). */
static void on_strings(int rc, const struct String_vector *sv, const void *data)
{
    zk_req *r = (zk_req *)data;
    size_t count = rc == ZOK && sv != NULL && sv->count > 0 ? (size_t)sv->count : 0;
    bool too_many = count > COORD_MAX_NODES;
    if (too_many) count = 0;
    zk_msg *m = msg_new(MSG_DONE, count * (COORD_ID_MAX + 1));
    m->rc = rc;
    m->req = r;
    m->too_big = too_many;
    m->names = (char *)(m + 1);
    char *p = m->names;
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(sv->data[i]);
        if (len > COORD_ID_MAX) continue;
        memcpy(p, sv->data[i], len + 1);
        p += len + 1;
        m->n_names++;
    }
    msg_post(r->c, m);
}

static void on_session_event(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    zk_handle *h = ctx;
    if (type != ZOO_SESSION_EVENT) return;
    zk_msg *m = msg_new(MSG_SESSION, 0);
    m->gen = h->gen;
    m->state = state;
    if (state == ZOO_CONNECTED_STATE) {
        const clientid_t *id = zoo_client_id(zh);
        m->session_id = id ? id->client_id : 0;
        m->timeout_ms = zoo_recv_timeout(zh);
    }
    msg_post(h->c, m);
}

/* Watches of znodes (one-shot). Session events also reach path watchers in
 * this client: the handle's session watcher reports those. */
static void on_path_event(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    zk_handle *h = ctx;
    if (type == ZOO_SESSION_EVENT || path == NULL) return;
    size_t n = strnlen(path, ZK_PATH_MAX);
    if (n == ZK_PATH_MAX) return; /* not one of ours */
    zk_msg *m = msg_new(MSG_WATCH, n + 1);
    m->gen = h->gen;
    m->state = type;
    memcpy(m->path, path, n + 1);
    msg_post(h->c, m);
}

/* ---- requests: lifecycle -------------------------------------------------- */

static void reqs_unlink(zk_coord *c, zk_req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        c->reqs_head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        c->reqs_tail = r->prev;
    r->prev = r->next = NULL;
}

static void reqs_append(zk_coord *c, zk_req *r)
{
    r->prev = c->reqs_tail;
    r->next = NULL;
    if (c->reqs_tail)
        c->reqs_tail->next = r;
    else
        c->reqs_head = r;
    c->reqs_tail = r;
}

static void watch_free_if_unused(coord_watch *w)
{
    if (w->cancelled && !w->arming && !w->in_cb) hfree(w);
}

static void req_free(zk_req *r)
{
    zk_coord *c = r->c;
    reqs_unlink(c, r);
    if (r->kind == R_PING) c->ping_in_flight = false;
    if (r->watch) {
        r->watch->arming = false;
        watch_free_if_unused(r->watch);
    }
    hfree(r->names);
    hfree(r->nodes);
    hfree(r);
}

static zk_req *req_new(zk_coord *c, req_kind kind, zk_call call, coord_cb cb, void *arg)
{
    zk_req *r = hcalloc(1, sizeof(*r));
    r->c = c;
    r->kind = kind;
    r->call = call;
    r->cb = cb;
    r->arg = arg;
    r->version = -1;
    return r;
}

static int zk_to_err(zk_coord *c, int rc)
{
    if (rc == ZOK) return 0;
    if (rc == ZNONODE) return -HALO_ENOTFOUND;
    if (rc == ZNODEEXISTS) return -HALO_EEXISTS;
    if (rc == ZBADVERSION) return -HALO_EBADVERSION;
    if (rc == ZCLOSING) return c->closing ? -HALO_ECLOSED : -HALO_EEXPIRED;
    if (rc == ZSESSIONEXPIRED || rc == ZINVALIDSTATE || rc == ZAUTHFAILED ||
        rc == ZSESSIONCLOSEDREQUIRESASLAUTH)
        return -HALO_EEXPIRED;
    if (rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT || rc == ZSESSIONMOVED ||
        rc == ZTHROTTLEDOP)
        return -HALO_ECONNLOSS;
    if (rc == ZBADARGUMENTS) return -HALO_EINVAL;
    return -HALO_EIO;
}

/* Errors after which the same call may simply be made again. */
static bool zk_retriable(int rc)
{
    return rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT || rc == ZSESSIONMOVED ||
           rc == ZTHROTTLEDOP;
}

/* Results that only a server gives: the session was alive when it read us. */
static bool zk_server_answered(int rc)
{
    return rc == ZOK || rc == ZNONODE || rc == ZNODEEXISTS || rc == ZBADVERSION ||
           rc == ZNOTEMPTY || rc == ZNOAUTH || rc == ZNOCHILDRENFOREPHEMERALS || rc == ZINVALIDACL;
}

static bool req_is_internal(const zk_req *r)
{
    return r->kind == R_PING || r->kind == R_MKDIR || r->kind == R_SYNC || r->kind == R_WATCH;
}

/* Calls the user's callback with res (err/errmsg filled here) and frees r. */
static void req_finish_res(zk_req *r, int err, coord_result *res)
{
    res->err = err;
    if (err == 0)
        res->errmsg = "";
    else if (res->errmsg == NULL) {
        snprintf(r->errmsg, sizeof(r->errmsg), "%s: %s", r->path, coord_strerror(err));
        res->errmsg = r->errmsg;
    }
    if (err != 0 && err != -HALO_ENOTFOUND && err != -HALO_EEXISTS && err != -HALO_EBADVERSION)
        log_debug("coord: %s", res->errmsg);
    zk_coord *c = r->c;
    coord_cb cb = r->cb;
    void *arg = r->arg;
    if (cb) cb(&c->base, res, arg);
    req_free(r);
}

static void req_finish(zk_req *r, int err, int32_t version)
{
    coord_result res = {.version = version};
    req_finish_res(r, err, &res);
}

static void req_finish_rc(zk_req *r, int rc)
{
    coord_result res = {.version = -1};
    int err = zk_to_err(r->c, rc);
    snprintf(r->errmsg, sizeof(r->errmsg), "%s: %s (zookeeper: %s)", r->path, coord_strerror(err),
             zerror(rc));
    res.errmsg = r->errmsg;
    req_finish_res(r, err, &res);
}

/* Waits for a connection (or the next tick) to be sent again. Moved to the
 * tail so requests it depends on (parents it just asked for) go first. */
static void req_park(zk_req *r)
{
    r->parked = true;
    reqs_unlink(r->c, r);
    reqs_append(r->c, r);
}

/* Posts a completion that did not come from ZooKeeper (a call refused at
 * once), so it is handled like any other — later, on the loop. */
static void req_post_rc(zk_req *r, int rc)
{
    zk_msg *m = msg_new(MSG_DONE, 0);
    m->req = r;
    m->rc = rc;
    msg_post(r->c, m);
}

static int req_multi(zk_req *r, zhandle_t *zh)
{
    zoo_op_t ops[3];
    int n = 0;
    zoo_set_op_init(&ops[n++], r->path, r->doc, (int)r->doc_len, r->version, &r->multi_stat);
    if (r->replace) zoo_delete_op_init(&ops[n++], r->path2, -1);
    zoo_create_op_init(&ops[n++], r->path2, r->doc2, (int)r->doc2_len, &ZOO_OPEN_ACL_UNSAFE,
                       ZOO_EPHEMERAL, r->created, sizeof(r->created));
    memset(r->results, 0, sizeof(r->results));
    return zoo_amulti(zh, n, ops, r->results, on_void, r);
}

static int req_call(zk_req *r, zhandle_t *zh, zk_handle *h)
{
    /* R_LIST reads its directory, then each child by its own path. */
    const char *path = r->kind == R_LIST && r->call == Z_GET ? r->child : r->path;
    switch (r->call) {
    case Z_GET:
        return zoo_aget(zh, path, 0, on_data, r);
    case Z_EXISTS:
        return zoo_aexists(zh, path, 0, on_stat, r);
    case Z_CREATE:
        return zoo_acreate(zh, path, r->doc, (int)r->doc_len, &ZOO_OPEN_ACL_UNSAFE, r->create_mode,
                           on_string, r);
    case Z_SET:
        return zoo_aset(zh, path, r->doc, (int)r->doc_len, r->version, on_stat, r);
    case Z_DELETE:
        return zoo_adelete(zh, path, r->version, on_void, r);
    case Z_CHILDREN:
        return zoo_aget_children(zh, path, 0, on_strings, r);
    case Z_WGET:
        return zoo_awget(zh, path, on_path_event, h, on_data, r);
    case Z_WEXISTS:
        return zoo_awexists(zh, path, on_path_event, h, on_stat, r);
    case Z_SYNC:
        return zoo_async(zh, path, on_string, r);
    case Z_MULTI:
        return req_multi(r, zh);
    }
    return ZBADARGUMENTS;
}

/* Makes r's call on the current handle; a call refused at once comes back
 * as a completion message all the same. */
static void req_send(zk_req *r)
{
    zk_coord *c = r->c;
    r->parked = false;
    r->in_flight = true;
    r->gen = c->gen;
    r->sent_us = mono_us();
    r->h = c->h;
    if (r->h) r->h->in_flight++;
    int rc = c->h ? req_call(r, c->h->zh, c->h) : ZCLOSING;
    if (rc != ZOK) req_post_rc(r, rc);
}

/* Sends now if connected, parks otherwise; fails at once (later, on the
 * loop) if the session is expired. */
static void req_start(zk_req *r, int64_t timeout_ms)
{
    zk_coord *c = r->c;
    r->deadline_us = timeout_ms > 0 ? mono_us() + timeout_ms * 1000 : 0;
    reqs_append(c, r);
    if (c->state == COORD_CONNECTED)
        req_send(r);
    else if (c->state == COORD_EXPIRED && !req_is_internal(r)) {
        r->in_flight = true;
        req_post_rc(r, ZSESSIONEXPIRED);
    } else
        req_park(r);
}

/* ---- requests: results ---------------------------------------------------- */

static void contact(zk_coord *c, int64_t sent_us)
{
    if (sent_us > c->last_contact_us) c->last_contact_us = sent_us;
}

static void handle_close_if_idle(zk_handle *h);

static void req_done(zk_req *r, zk_msg *m)
{
    zk_coord *c = r->c;
    zk_handle *h = r->h;
    r->in_flight = false;
    r->h = NULL;
    if (h != NULL && --h->in_flight == 0 && h->retiring) handle_close_if_idle(h);
    if (zk_server_answered(m->rc) && r->gen == c->gen && c->state != COORD_EXPIRED)
        contact(c, r->sent_us);
    if (zk_retriable(m->rc)) {
        bool is_write = r->call == Z_CREATE || r->call == Z_SET || r->call == Z_DELETE;
        if (is_write && m->rc != ZTHROTTLEDOP) r->ambiguous = true;
        if (r->kind == R_PING || r->kind == R_MKDIR || r->kind == R_SYNC)
            req_free(r);
        else
            req_park(r);
        return;
    }
    req_handle(r, m);
}

static void make_parents(zk_coord *c, const char *path, int64_t timeout_ms)
{
    for (const char *p = strchr(path + 1, '/'); p != NULL; p = strchr(p + 1, '/')) {
        zk_req *d = req_new(c, R_MKDIR, Z_CREATE, NULL, NULL);
        memcpy(d->path, path, (size_t)(p - path));
        d->path[p - path] = '\0';
        req_start(d, timeout_ms);
    }
}

static int64_t req_remaining_ms(const zk_req *r)
{
    if (r->deadline_us == 0) return 0;
    int64_t left = (r->deadline_us - mono_us()) / 1000;
    return left > 1 ? left : 1;
}

/* Makes the next call of r (same request, same callback). */
static void req_next(zk_req *r, zk_call call)
{
    r->call = call;
    req_send(r);
}

static bool same_doc(const zk_req *r, const zk_msg *m)
{
    return m->data_len == r->doc_len && memcmp(m->data, r->doc, r->doc_len) == 0;
}

/* The create call of R_CREATE_CONFIG, R_REGISTER, R_CREATE_PRIMARY. */
static void create_result(zk_req *r, zk_msg *m)
{
    bool ephemeral = r->create_mode == ZOO_EPHEMERAL;
    if (m->rc == ZOK) {
        req_finish(r, 0, 0);
    } else if (m->rc == ZNONODE && r->parent_passes < ZK_PARENT_PASSES) {
        /* Parents first: a session's requests run in order. */
        r->parent_passes++;
        make_parents(r->c, r->path, req_remaining_ms(r));
        if (r->c->state == COORD_CONNECTED)
            req_send(r);
        else
            req_park(r);
    } else if (m->rc == ZNODEEXISTS && (ephemeral || r->ambiguous)) {
        req_next(r, Z_GET); /* whose is it? */
    } else {
        req_finish_rc(r, m->rc);
    }
}

/* The read-back after NODEEXISTS: a persistent node holding exactly our
 * document is ours in effect (a lost attempt of ours, or an identical
 * bootstrap); an ephemeral is ours if this session owns it, and then gets
 * our data if it holds other data. */
static void create_readback(zk_req *r, zk_msg *m)
{
    zk_coord *c = r->c;
    bool ours = r->create_mode == ZOO_EPHEMERAL ? c->session_id != 0 && m->owner == c->session_id
                                                : same_doc(r, m);
    if (m->rc == ZNONODE) {
        req_next(r, Z_CREATE); /* gone meanwhile: try again */
    } else if (m->rc != ZOK) {
        req_finish_rc(r, m->rc);
    } else if (!ours) {
        req_finish_rc(r, ZNODEEXISTS);
    } else if (same_doc(r, m)) {
        req_finish(r, 0, m->version);
    } else {
        r->version = m->version;
        req_next(r, Z_SET);
    }
}

static void handle_create(zk_req *r, zk_msg *m)
{
    if (r->call == Z_CREATE) {
        create_result(r, m);
    } else if (r->call == Z_GET) {
        create_readback(r, m);
    } else if (m->rc == ZOK) { /* Z_SET of our own ephemeral */
        req_finish(r, 0, m->version);
    } else if (m->rc == ZBADVERSION || m->rc == ZNONODE) {
        req_next(r, m->rc == ZNONODE ? Z_CREATE : Z_GET);
    } else {
        req_finish_rc(r, m->rc);
    }
}

/* Z_SET; after a conflict that a lost attempt of ours may explain, Z_GET:
 * our exact document at expected+1 means the lost attempt was applied. */
static void handle_cas(zk_req *r, zk_msg *m)
{
    if (r->call == Z_SET && m->rc == ZOK) {
        req_finish(r, 0, m->version);
    } else if (r->call == Z_SET && m->rc == ZBADVERSION && r->ambiguous) {
        req_next(r, Z_GET);
    } else if (r->call == Z_SET || m->rc != ZOK) {
        req_finish_rc(r, m->rc);
    } else if (same_doc(r, m) && m->version == r->version + 1) {
        req_finish(r, 0, m->version);
    } else {
        req_finish_rc(r, ZBADVERSION);
    }
}

/* Z_MULTI: the whole transaction's result is its failing op's error. After a
 * lost attempt, a conflict is resolved as for CAS: our config document at
 * expected+1 means the multi was applied — marker included, atomically. */
static void handle_elect(zk_req *r, zk_msg *m)
{
    bool conflict = m->rc == ZBADVERSION || m->rc == ZNODEEXISTS;
    if (r->call == Z_MULTI && m->rc == ZOK) {
        req_finish(r, 0, r->multi_stat.version);
    } else if (r->call == Z_MULTI && conflict && r->ambiguous) {
        r->multi_rc = m->rc;
        req_next(r, Z_GET);
    } else if (r->call == Z_MULTI || m->rc != ZOK) {
        req_finish_rc(r, m->rc);
    } else if (same_doc(r, m) && m->version == r->version + 1) {
        req_finish(r, 0, m->version);
    } else {
        req_finish_rc(r, r->multi_rc);
    }
}

static void handle_get_config(zk_req *r, zk_msg *m)
{
    if (m->rc != ZOK) {
        req_finish_rc(r, m->rc);
        return;
    }
    coord_config cfg;
    const char *why = NULL;
    coord_result res = {.version = m->version};
    int err = m->too_big ? -HALO_ECORRUPT : 0;
    if (!err && coord_config_parse(m->data, m->data_len, &cfg, &why) != 0) err = -HALO_ECORRUPT;
    if (err) {
        snprintf(r->errmsg, sizeof(r->errmsg), "%s: bad config document: %s", r->path,
                 why ? why : "larger than 4 KiB");
        res.errmsg = r->errmsg;
    } else
        res.config = &cfg;
    req_finish_res(r, err, &res);
}

/* Z_EXISTS to learn the owner, then Z_DELETE of that exact version. */
static void handle_release(zk_req *r, zk_msg *m)
{
    zk_coord *c = r->c;
    if (r->call == Z_EXISTS && m->rc != ZOK) {
        req_finish_rc(r, m->rc);
    } else if (r->call == Z_EXISTS && (c->session_id == 0 || m->owner != c->session_id)) {
        snprintf(r->errmsg, sizeof(r->errmsg), "%s: held by another session", r->path);
        coord_result res = {.version = -1, .errmsg = r->errmsg};
        req_finish_res(r, -HALO_ELOCKED, &res);
    } else if (r->call == Z_EXISTS) {
        r->version = m->version;
        req_next(r, Z_DELETE);
    } else if (m->rc == ZOK || m->rc == ZNONODE) {
        req_finish(r, 0, -1);
    } else if (m->rc == ZBADVERSION) {
        req_next(r, Z_EXISTS);
    } else {
        req_finish_rc(r, m->rc);
    }
}

static int node_entry_cmp(const void *a, const void *b)
{
    return strcmp(((const coord_node_entry *)a)->id, ((const coord_node_entry *)b)->id);
}

/* Reads the next child of nodes/, or finishes with the entries. */
static void list_next(zk_req *r)
{
    while (r->name_idx < r->n_names) {
        const char *name = r->name_cur;
        r->name_cur += strlen(name) + 1;
        r->name_idx++;
        if (!coord_id_valid(name, strlen(name))) {
            log_warn("coord: ignoring node with a bad id under %s", r->path);
            continue;
        }
        snprintf(r->child, sizeof(r->child), "%s/%s", r->path, name);
        req_next(r, Z_GET);
        return;
    }
    qsort(r->nodes, r->n_nodes, sizeof(*r->nodes), node_entry_cmp);
    coord_result res = {.version = -1, .nodes = r->nodes, .n_nodes = r->n_nodes};
    req_finish_res(r, 0, &res);
}

static void list_add(zk_req *r, zk_msg *m)
{
    const char *name = strrchr(r->child, '/') + 1;
    coord_node_entry *e = &r->nodes[r->n_nodes];
    const char *why = NULL;
    if (m->too_big || coord_node_parse(m->data, m->data_len, &e->info, &why) != 0) {
        log_warn("coord: ignoring node %s: bad document: %s", name, why ? why : "too large");
        return;
    }
    memcpy(e->id, name, strlen(name) + 1);
    r->n_nodes++;
}

static void list_start(zk_req *r, zk_msg *m)
{
    size_t bytes = m->n_names * (COORD_ID_MAX + 1);
    r->names = hmalloc(bytes ? bytes : 1);
    if (bytes) memcpy(r->names, m->names, bytes);
    r->n_names = m->n_names;
    r->name_cur = r->names;
    r->nodes = hcalloc(m->n_names ? m->n_names : 1, sizeof(*r->nodes));
    list_next(r);
}

/* Z_CHILDREN of nodes/, then Z_GET of each child in turn. */
static void handle_list(zk_req *r, zk_msg *m)
{
    if (r->call == Z_CHILDREN && m->rc == ZNONODE) {
        req_finish(r, 0, -1); /* no node registered yet */
    } else if (r->call == Z_CHILDREN && m->rc == ZOK && m->too_big) {
        req_finish(r, -HALO_ETOOBIG, -1);
    } else if (r->call == Z_CHILDREN && m->rc == ZOK) {
        list_start(r, m);
    } else if (m->rc != ZOK && m->rc != ZNONODE) {
        req_finish_rc(r, m->rc);
    } else {
        if (m->rc == ZOK) list_add(r, m); /* ZNONODE: it left meanwhile */
        list_next(r);
    }
}

/* ---- watches ---------------------------------------------------------------- */

/* Delivers a state unless it is the one delivered last. */
static void watch_deliver(coord_watch *w, bool present, zk_msg *m)
{
    if (w->delivered && w->last_present == present && (!present || w->last_mzxid == m->mzxid))
        return;
    w->delivered = true;
    w->last_present = present;
    w->last_mzxid = present ? m->mzxid : 0;
    coord_config cfg;
    coord_primary_info prim;
    const char *why = NULL;
    char msg[256];
    coord_result res = {.version = present ? m->version : -1, .errmsg = ""};
    if (!present)
        res.err = -HALO_ENOTFOUND;
    else if (m->too_big)
        res.err = -HALO_ECORRUPT;
    else if (w->is_config) {
        if (coord_config_parse(m->data, m->data_len, &cfg, &why) == 0)
            res.config = &cfg;
        else
            res.err = -HALO_ECORRUPT;
    } else {
        if (coord_primary_parse(m->data, m->data_len, &prim, &why) == 0)
            res.primary = &prim;
        else
            res.err = -HALO_ECORRUPT;
    }
    if (res.err) {
        snprintf(msg, sizeof(msg), "%s: %s%s%s", w->path, coord_strerror(res.err), why ? ": " : "",
                 why ? why : "");
        res.errmsg = msg;
    }
    w->in_cb = true;
    w->cb(&w->c->base, &res, w->arg);
    w->in_cb = false;
}

/* The arming request finished: deliver (m != NULL), then re-arm if an
 * event came meanwhile. */
static void watch_armed(zk_req *r, bool present, zk_msg *m)
{
    coord_watch *w = r->watch;
    r->watch = NULL;
    req_free(r);
    w->arming = false;
    if (!w->cancelled && m != NULL) watch_deliver(w, present, m);
    if (w->cancelled) {
        watch_free_if_unused(w);
    } else if (w->rearm) {
        w->rearm = false;
        watch_arm(w);
    }
}

/* Read with a data watch; if absent, an existence watch (which fires on
 * creation); if it appeared between the two, read again. Each delivered state
 * comes from a call that set the next watch, so no later change is missed.
 * Other errors (session gone, closing): re-armed on the next connection. */
static void handle_watch(zk_req *r, zk_msg *m)
{
    bool get = r->call == Z_WGET;
    if (r->watch->cancelled)
        watch_armed(r, false, NULL);
    else if (get && m->rc == ZOK)
        watch_armed(r, true, m);
    else if (get && m->rc == ZNONODE)
        req_next(r, Z_WEXISTS);
    else if (!get && m->rc == ZNONODE)
        watch_armed(r, false, m);
    else if (!get && m->rc == ZOK)
        req_next(r, Z_WGET);
    else
        watch_armed(r, false, NULL);
}

static void watch_arm(coord_watch *w)
{
    if (w->cancelled) return;
    if (w->arming) {
        w->rearm = true;
        return;
    }
    w->arming = true;
    zk_req *r = req_new(w->c, R_WATCH, Z_WGET, NULL, NULL);
    memcpy(r->path, w->path, sizeof(r->path));
    r->watch = w;
    req_start(r, 0);
}

static void watches_on_event(zk_coord *c, const char *path)
{
    for (coord_watch *w = c->watches; w != NULL; w = w->next)
        if (strcmp(w->path, path) == 0) watch_arm(w);
}

/* ---- dispatch on the loop --------------------------------------------------- */

static void req_handle(zk_req *r, zk_msg *m)
{
    switch (r->kind) {
    case R_GET_CONFIG:
        handle_get_config(r, m);
        break;
    case R_CREATE_CONFIG:
    case R_REGISTER:
    case R_CREATE_PRIMARY:
        handle_create(r, m);
        break;
    case R_CAS_CONFIG:
        handle_cas(r, m);
        break;
    case R_RELEASE_PRIMARY:
        handle_release(r, m);
        break;
    case R_LIST:
        handle_list(r, m);
        break;
    case R_WATCH:
        handle_watch(r, m);
        break;
    case R_ELECT:
        handle_elect(r, m);
        break;
    case R_PING:
    case R_MKDIR:
    case R_SYNC:
        req_free(r);
        break;
    }
}

static void emit_state(zk_coord *c, coord_state s)
{
    c->state = s;
    if (c->on_session && !c->closing) c->on_session(&c->base, s, c->arg);
}

/* Fails (or drops) parked requests after the session ended; watches stay
 * parked for the next session. Restarts from the head after each callback,
 * which may change the list. */
static void fail_parked(zk_coord *c, int rc)
{
    for (;;) {
        zk_req *r = c->reqs_head;
        while (r != NULL && !(r->parked && r->kind != R_WATCH))
            r = r->next;
        if (r == NULL) return;
        r->parked = false;
        if (r->kind == R_PING || r->kind == R_MKDIR || r->kind == R_SYNC)
            req_free(r);
        else
            req_finish_rc(r, rc);
    }
}

static void send_parked(zk_coord *c)
{
    for (zk_req *r = c->reqs_head, *next; r != NULL; r = next) {
        next = r->next;
        if (r->parked) req_send(r);
    }
}

static void ping(zk_coord *c)
{
    if (c->ping_in_flight || c->state != COORD_CONNECTED || c->closing) return;
    c->ping_in_flight = true;
    c->last_ping_us = mono_us();
    zk_req *r = req_new(c, R_PING, Z_EXISTS, NULL, NULL);
    memcpy(r->path, "/", 2);
    req_start(r, 0);
}

static void on_state(zk_coord *c, zk_msg *m)
{
    if (m->state == ZOO_CONNECTED_STATE) {
        bool fresh = m->session_id != c->session_id;
        c->session_id = m->session_id;
        c->timeout_ms = m->timeout_ms;
        log_notice("coord: connected to ZooKeeper, session 0x%" PRIx64 "%s, timeout %d ms",
                   (uint64_t)m->session_id, fresh ? " (new)" : "", m->timeout_ms);
        c->state = COORD_CONNECTED;
        send_parked(c);
        for (coord_watch *w = c->watches; w != NULL; w = w->next)
            watch_arm(w);
        ping(c);
        emit_state(c, COORD_CONNECTED);
        return;
    }
    if (m->state == ZOO_EXPIRED_SESSION_STATE || m->state == ZOO_AUTH_FAILED_STATE) {
        if (c->state == COORD_EXPIRED) return;
        log_warn("coord: ZooKeeper session 0x%" PRIx64 " %s", (uint64_t)c->session_id,
                 m->state == ZOO_EXPIRED_SESSION_STATE ? "expired" : "failed authentication");
        c->state = COORD_EXPIRED;
        c->last_contact_us = 0;
        fail_parked(c, ZSESSIONEXPIRED);
        emit_state(c, COORD_EXPIRED);
        return;
    }
    /* CONNECTING, ASSOCIATING, NOTCONNECTED, READONLY: not usable */
    if (c->state == COORD_CONNECTED) {
        log_warn("coord: lost ZooKeeper connection, session 0x%" PRIx64 " lives %d ms more "
                 "at most without contact",
                 (uint64_t)c->session_id, c->timeout_ms);
        emit_state(c, COORD_DISCONNECTED);
    }
}

static void msg_handle(zk_coord *c, zk_msg *m)
{
    switch (m->kind) {
    case MSG_SESSION:
        if (m->gen == c->gen && !c->closing) on_state(c, m);
        break;
    case MSG_WATCH:
        if (m->gen == c->gen && !c->closing) watches_on_event(c, m->path);
        break;
    case MSG_DONE:
        req_done(m->req, m);
        break;
    }
}

static void drain(zk_coord *c)
{
    for (;;) {
        pthread_mutex_lock(&c->mu);
        zk_msg *m = c->q_head;
        c->q_head = c->q_tail = NULL;
        pthread_mutex_unlock(&c->mu);
        if (m == NULL) return;
        while (m != NULL) {
            zk_msg *next = m->next;
            msg_handle(c, m);
            hfree(m);
            m = next;
        }
    }
}

/* Also where closing ends: once every handle is closed (no ZooKeeper thread
 * is left), outside of any user callback. */
static void on_async(uv_async_t *a)
{
    zk_coord *c = a->data;
    drain(c);
    if (c->closing && c->closes_pending == 0 && !c->torn_down) teardown_finish(c);
}

/* Every ZK_TICK_MS: re-send parked requests, fail overdue ones, ping. */
static void on_tick(uv_timer_t *t)
{
    zk_coord *c = t->data;
    int64_t now = mono_us();
    for (zk_handle *h = c->retiring, *next; h != NULL; h = next) {
        next = h->next_retiring;
        handle_close_if_idle(h);
    }
    if (c->closing) return;
    for (;;) {
        zk_req *r = c->reqs_head;
        while (r != NULL && !(r->parked && r->deadline_us && now > r->deadline_us))
            r = r->next;
        if (r == NULL) break;
        r->parked = false;
        if (req_is_internal(r))
            req_free(r);
        else
            req_finish_rc(r, ZCONNECTIONLOSS);
    }
    if (c->state == COORD_CONNECTED) send_parked(c);
    int64_t interval_us =
        (int64_t)(c->timeout_ms > 0 ? c->timeout_ms : c->session_timeout_ms) * 250;
    if (now - c->last_ping_us >= interval_us) ping(c);
}

/* ---- handles ---------------------------------------------------------------- */

static int handle_open(zk_coord *c)
{
    zk_handle *h = hcalloc(1, sizeof(*h));
    h->c = c;
    h->gen = ++c->gen;
    zk_log_setup();
    h->zh = zookeeper_init2(c->servers, on_session_event, c->session_timeout_ms, NULL, h, 0,
                            zk_log_line);
    if (h->zh == NULL) {
        log_warn("coord: cannot start a ZooKeeper client for %s", c->servers);
        hfree(h);
        return -HALO_EIO;
    }
    c->h = h;
    c->state = COORD_CONNECTING;
    c->session_id = 0;
    c->last_contact_us = 0;
    c->timeout_ms = c->session_timeout_ms;
    return 0;
}

static void work_close(uv_work_t *w)
{
    zk_handle *h = w->data;
    zookeeper_close(h->zh);
}

/* Completes, with ZCLOSING, the requests whose completion the closed handle
 * dropped: it will never call them now. */
static void fail_dropped(zk_coord *c, zk_handle *h)
{
    for (;;) {
        zk_req *r = c->reqs_head;
        while (r != NULL && r->h != h)
            r = r->next;
        if (r == NULL) return;
        zk_msg *m = msg_new(MSG_DONE, 0);
        m->req = r;
        m->rc = ZCLOSING;
        req_done(r, m);
        hfree(m);
    }
}

static void after_close(uv_work_t *w, int status)
{
    zk_handle *h = w->data;
    zk_coord *c = h->c;
    drain(c); /* what zookeeper_close completed */
    fail_dropped(c, h);
    hfree(h);
    c->closes_pending--;
    if (c->closing) uv_async_send(&c->async);
}

static void handle_close_if_idle(zk_handle *h)
{
    zk_coord *c = h->c;
    if (h->queued || (h->in_flight > 0 && mono_us() < h->retire_deadline_us)) return;
    h->queued = true;
    for (zk_handle **p = &c->retiring; *p != NULL; p = &(*p)->next_retiring)
        if (*p == h) {
            *p = h->next_retiring;
            break;
        }
    h->work.data = h;
    if (uv_queue_work(c->loop, &h->work, work_close, after_close) != 0) {
        zookeeper_close(h->zh); /* only for a NULL work function */
        after_close(&h->work, 0);
    }
}

/* Takes the current handle out of use; it is closed on the thread pool once
 * its calls in flight have been answered (see zk_handle). */
static void handle_retire(zk_coord *c)
{
    zk_handle *h = c->h;
    if (h == NULL) return;
    c->h = NULL;
    c->gen++; /* its session and watch events are stale from now on */
    c->closes_pending++;
    h->retiring = true;
    int wait_ms = c->session_timeout_ms < ZK_RETIRE_MS ? c->session_timeout_ms : ZK_RETIRE_MS;
    h->retire_deadline_us = mono_us() + (int64_t)wait_ms * 1000;
    h->next_retiring = c->retiring;
    c->retiring = h;
    handle_close_if_idle(h);
}

/* ---- the coord_ops -------------------------------------------------------- */

static zk_coord *zc(coord *c)
{
    return (zk_coord *)c;
}

static void zk_session(coord *base, coord_session_info *out)
{
    zk_coord *c = zc(base);
    out->state = c->closing ? COORD_CLOSED : c->state;
    out->session_id = c->session_id;
    out->timeout_ms = c->timeout_ms;
    out->last_contact_us = c->last_contact_us;
}

static int zk_reconnect(coord *base)
{
    zk_coord *c = zc(base);
    if (c->closing) return -HALO_ECLOSED;
    handle_retire(c);
    fail_parked(c, ZSESSIONEXPIRED);
    if (c->closing) return -HALO_ECLOSED; /* a callback just closed it */
    return handle_open(c);
}

static void uv_closed(uv_handle_t *h)
{
    zk_coord *c = h->data;
    if (--c->uv_open > 0) return;
    if (c->done) c->done(c->done_arg);
    pthread_mutex_destroy(&c->mu);
    hfree(c->servers);
    hfree(c);
}

/* Every handle is closed: no ZooKeeper thread is left. Finish what remains. */
static void teardown_finish(zk_coord *c)
{
    c->torn_down = true;
    drain(c);
    while (c->reqs_head != NULL) {
        zk_req *r = c->reqs_head;
        if (req_is_internal(r))
            req_free(r);
        else
            req_finish_rc(r, ZCLOSING);
    }
    uv_close((uv_handle_t *)&c->async, uv_closed);
    uv_close((uv_handle_t *)&c->timer, uv_closed);
}

static void zk_close(coord *base, void (*done)(void *), void *arg)
{
    zk_coord *c = zc(base);
    if (c->closing) return;
    c->closing = true;
    c->done = done;
    c->done_arg = arg;
    while (c->watches != NULL)
        coord_unwatch(base, c->watches);
    handle_retire(c);
    uv_async_send(&c->async);
}

/* Checks an id argument and builds "/halo/<cluster>/<a>[/<b>[/<c>]]". */
static int zk_path(zk_coord *c, char *out, const char *a, const char *id, const char *leaf)
{
    if (id != NULL && (id[0] == '\0' || !coord_id_valid(id, strnlen(id, COORD_ID_MAX + 1))))
        return -HALO_EINVAL;
    int n = snprintf(out, ZK_PATH_MAX, "/halo/%s/%s%s%s%s%s", c->cluster, a, id ? "/" : "",
                     id ? id : "", leaf ? "/" : "", leaf ? leaf : "");
    return n > 0 && n < ZK_PATH_MAX ? 0 : -HALO_EINVAL;
}

static int op_check(zk_coord *c, coord_cb cb)
{
    if (c->closing) return -HALO_ECLOSED;
    return cb == NULL ? -HALO_EINVAL : 0;
}

/* Starts r (its path and document set) or frees it and returns the error. */
static int op_start(zk_coord *c, zk_req *r, int rc)
{
    if (rc != 0) {
        hfree(r);
        return rc;
    }
    req_start(r, c->op_timeout_ms);
    return 0;
}

static int encoded(zk_req *r, int len)
{
    if (len < 0) return len;
    r->doc_len = (size_t)len;
    return 0;
}

static int zk_register_node(coord *base, const char *id, const coord_node_info *info, coord_cb cb,
                            void *arg)
{
    zk_coord *c = zc(base);
    int rc = op_check(c, cb);
    if (rc) return rc;
    zk_req *r = req_new(c, R_REGISTER, Z_CREATE, cb, arg);
    r->create_mode = ZOO_EPHEMERAL;
    rc = zk_path(c, r->path, "nodes", id, NULL);
    if (!rc) rc = encoded(r, coord_node_encode(info, r->doc, sizeof(r->doc), NULL));
    return op_start(c, r, rc);
}

static int zk_list_nodes(coord *base, coord_cb cb, void *arg)
{
    zk_coord *c = zc(base);
    int rc = op_check(c, cb);
    if (rc) return rc;
    zk_req *r = req_new(c, R_LIST, Z_CHILDREN, cb, arg);
    return op_start(c, r, zk_path(c, r->path, "nodes", NULL, NULL));
}

static int zk_get_config(coord *base, const char *gid, coord_cb cb, void *arg)
{
    zk_coord *c = zc(base);
    int rc = op_check(c, cb);
    if (rc) return rc;
    zk_req *r = req_new(c, R_GET_CONFIG, Z_GET, cb, arg);
    rc = zk_path(c, r->path, "groups", gid, "config");
    if (rc == 0) {
        /* A sync first, pipelined: the server answers the read only after
         * catching up with the leader, so it reflects every write committed
         * before the call, other sessions' included. */
        zk_req *s = req_new(c, R_SYNC, Z_SYNC, NULL, NULL);
        memcpy(s->path, r->path, sizeof(s->path));
        req_start(s, c->op_timeout_ms);
    }
    return op_start(c, r, rc);
}

static int zk_create_config(coord *base, const char *gid, const coord_config *cfg, coord_cb cb,
                            void *arg)
{
    zk_coord *c = zc(base);
    int rc = op_check(c, cb);
    if (rc) return rc;
    zk_req *r = req_new(c, R_CREATE_CONFIG, Z_CREATE, cb, arg);
    rc = zk_path(c, r->path, "groups", gid, "config");
    if (!rc) rc = encoded(r, coord_config_encode(cfg, r->doc, sizeof(r->doc), NULL));
    return op_start(c, r, rc);
}

static int zk_cas_config(coord *base, const char *gid, const coord_config *cfg, int32_t expected,
                         coord_cb cb, void *arg)
{
    zk_coord *c = zc(base);
    int rc = op_check(c, cb);
    if (rc) return rc;
    if (expected < 0) return -HALO_EINVAL; /* -1 would mean "any version" to ZooKeeper */
    zk_req *r = req_new(c, R_CAS_CONFIG, Z_SET, cb, arg);
    r->version = expected;
    rc = zk_path(c, r->path, "groups", gid, "config");
    if (!rc) rc = encoded(r, coord_config_encode(cfg, r->doc, sizeof(r->doc), NULL));
    return op_start(c, r, rc);
}

static int zk_create_primary(coord *base, const char *gid, const coord_primary_info *p, coord_cb cb,
                             void *arg)
{
    zk_coord *c = zc(base);
    int rc = op_check(c, cb);
    if (rc) return rc;
    zk_req *r = req_new(c, R_CREATE_PRIMARY, Z_CREATE, cb, arg);
    r->create_mode = ZOO_EPHEMERAL;
    rc = zk_path(c, r->path, "groups", gid, "primary");
    if (!rc) rc = encoded(r, coord_primary_encode(p, r->doc, sizeof(r->doc), NULL));
    return op_start(c, r, rc);
}

static int zk_elect(coord *base, const char *gid, const coord_config *cfg, int32_t expected,
                    const coord_primary_info *p, bool replace, coord_cb cb, void *arg)
{
    zk_coord *c = zc(base);
    int rc = op_check(c, cb);
    if (rc) return rc;
    if (expected < 0) return -HALO_EINVAL;
    zk_req *r = req_new(c, R_ELECT, Z_MULTI, cb, arg);
    r->version = expected;
    r->replace = replace;
    rc = zk_path(c, r->path, "groups", gid, "config");
    if (!rc) rc = zk_path(c, r->path2, "groups", gid, "primary");
    if (!rc) rc = encoded(r, coord_config_encode(cfg, r->doc, sizeof(r->doc), NULL));
    if (!rc) {
        int n = coord_primary_encode(p, r->doc2, sizeof(r->doc2), NULL);
        if (n < 0)
            rc = n;
        else
            r->doc2_len = (size_t)n;
    }
    return op_start(c, r, rc);
}

static int zk_release_primary(coord *base, const char *gid, coord_cb cb, void *arg)
{
    zk_coord *c = zc(base);
    int rc = op_check(c, cb);
    if (rc) return rc;
    zk_req *r = req_new(c, R_RELEASE_PRIMARY, Z_EXISTS, cb, arg);
    return op_start(c, r, zk_path(c, r->path, "groups", gid, "primary"));
}

static int watch_start(zk_coord *c, const char *gid, bool is_config, coord_cb cb, void *arg,
                       coord_watch **out)
{
    int rc = op_check(c, cb);
    if (rc) return rc;
    coord_watch *w = hcalloc(1, sizeof(*w));
    rc = zk_path(c, w->path, "groups", gid, is_config ? "config" : "primary");
    if (rc) {
        hfree(w);
        return rc;
    }
    w->c = c;
    w->is_config = is_config;
    w->cb = cb;
    w->arg = arg;
    w->next = c->watches;
    if (c->watches) c->watches->prev = w;
    c->watches = w;
    watch_arm(w);
    *out = w;
    return 0;
}

static int zk_watch_config(coord *base, const char *gid, coord_cb cb, void *arg, coord_watch **out)
{
    return watch_start(zc(base), gid, true, cb, arg, out);
}

static int zk_watch_primary(coord *base, const char *gid, coord_cb cb, void *arg, coord_watch **out)
{
    return watch_start(zc(base), gid, false, cb, arg, out);
}

static void zk_unwatch(coord *base, coord_watch *w)
{
    zk_coord *c = zc(base);
    if (w == NULL || w->cancelled) return;
    if (w->prev)
        w->prev->next = w->next;
    else
        c->watches = w->next;
    if (w->next) w->next->prev = w->prev;
    w->cancelled = true;
    watch_free_if_unused(w);
}

static const coord_ops zk_ops = {
    .session = zk_session,
    .reconnect = zk_reconnect,
    .close = zk_close,
    .register_node = zk_register_node,
    .list_nodes = zk_list_nodes,
    .get_config = zk_get_config,
    .create_config = zk_create_config,
    .cas_config = zk_cas_config,
    .create_primary = zk_create_primary,
    .release_primary = zk_release_primary,
    .elect = zk_elect,
    .watch_config = zk_watch_config,
    .watch_primary = zk_watch_primary,
    .unwatch = zk_unwatch,
};

static int options_check(const coord_options *o)
{
    if (o == NULL || o->servers == NULL || o->servers[0] == '\0' || o->cluster == NULL)
        return -HALO_EINVAL;
    if (!coord_id_valid(o->cluster, strnlen(o->cluster, COORD_ID_MAX + 1))) return -HALO_EINVAL;
    if (o->session_timeout_ms <= 0 || o->op_timeout_ms < 0) return -HALO_EINVAL;
    return 0;
}

static void open_failed_closed(uv_handle_t *h)
{
    zk_coord *c = h->data;
    pthread_mutex_destroy(&c->mu);
    hfree(c->servers);
    hfree(c);
}

int coord_zk_open(uv_loop_t *loop, const coord_options *o, coord **out)
{
    int rc = options_check(o);
    if (rc) return rc;
    zk_coord *c = hcalloc(1, sizeof(*c));
    c->base.ops = &zk_ops;
    c->loop = loop;
    c->servers = hstrdup(o->servers);
    memcpy(c->cluster, o->cluster, strlen(o->cluster) + 1);
    c->session_timeout_ms = o->session_timeout_ms;
    c->op_timeout_ms = o->op_timeout_ms ? o->op_timeout_ms : 2 * o->session_timeout_ms;
    c->on_session = o->on_session;
    c->arg = o->arg;
    pthread_mutex_init(&c->mu, NULL);
    uv_async_init(loop, &c->async, on_async);
    c->async.data = c;
    rc = handle_open(c);
    if (rc) {
        uv_close((uv_handle_t *)&c->async, open_failed_closed);
        return rc;
    }
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    uv_timer_start(&c->timer, on_tick, ZK_TICK_MS, ZK_TICK_MS);
    c->uv_open = 2;
    *out = &c->base;
    return 0;
}
