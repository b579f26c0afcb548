/* test_repl_sim.c — deterministic simulator of a replica group: repl_sm nodes, a ZooKeeper model, FIFO links, faults, invariant checks. */
#include "test.h"
#include "repl/repl_sm.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What is modelled (docs/replication-sm.md, "The simulator"):
 *   - time: one simulated clock in ms; nothing reads the real clock, no
 *     sockets, no threads. Everything is drawn from one seeded PRNG, so a seed
 *     replays exactly (REPL_SIM_SEED=n prints its trace).
 *   - network: a FIFO queue per directed link (TCP keeps order), a random
 *     delay per message (mostly 1-6 ms, sometimes up to 40 ms); a cut link
 *     drops what is in flight and everything sent until healed.
 *   - coordinator: ZooKeeper semantics: sessions kept alive by pings and
 *     expired by the server after the session timeout without contact; the
 *     ephemeral primary marker dies with its session; versioned CAS of the
 *     config, optionally creating the marker in the same transaction (multi);
 *     watches deliver the latest config and marker (delayed by the link).
 *     Its client in each node: pings every timeout/3, reports DISCONNECTED
 *     after a dropped message or 2/3 of the timeout in silence, EXPIRED when
 *     the server says so (then opens a new session), CAS UNKNOWN when the
 *     connection dies with a CAS out.
 *   - nodes: a repl_sm, a log of writes (offset, size, write id) and the
 *     keyspace (key -> value) fed by it. fsync always: a crash keeps the log
 *     and its history, loses streams, sessions and client requests.
 *   - faults: crash + restart, pause (SIGSTOP: no processing, no timers; at
 *     resume everything queued is processed at the new time), cutting the
 *     primary from the coordinator, from its replicas, or both, cutting any
 *     link, healing.
 *   - operators: ask the primary now and then for a planned switchover to a
 *     random member (FAILOVER); the handoff travels on the primary's link to
 *     the target, which may be cut or slow like any other.
 *   - clients: write to nodes that accept writes (sometimes to any node),
 *     record which writes were acknowledged, by whom, in which epoch; read
 *     from nodes that claim a lease. Primaries, fenced ones too, also append
 *     deletes of their own (active expiry) that no client waits for.
 *
 * Checked (online, and once healed and quiet):
 *   1. every acknowledged write is on every member of the coordinator's ISR
 *      (at its offset) — when acked, when a member joins, whenever a member's
 *      log is cut — and, at the end, on the final primary and all its ISR;
 *   2. at most one node gets writes acknowledged per epoch;
 *   3. after healing, every node's log and keyspace equal the primary's;
 *   4. after healing, a new write gets acknowledged;
 *   5. a read served under a lease sees every write acknowledged before it. */

/* A simulator-only rule breaker (beside repl_sm's REPL_BREAK_*): the arbiter
 * ignores versions and markers, so two nodes can win one epoch. */
#define SIM_BREAK_ZK_NO_CAS (1u << 16)

#define N 3          /* nodes */
#define ZK N         /* the coordinator's endpoint */
#define NEP (N + 1)  /* endpoints */
#define NKEYS 8

#define SESSION_TIMEOUT_MS 150
#define PING_EVERY_MS 50
#define ZK_SILENCE_MS 100 /* 2/3 of the session timeout, as ZooKeeper's client */
#define QUIET_MS 5000 /* after healing: time allowed to converge */
#define HEARTBEAT_MS 20 /* idle streams: an empty chunk this often (repl_timeout >= 60) */
#define TRACE_LINES 4096
#define TRACE_LINE_MAX 200

/* ---- model types ------------------------------------------------------------ */

typedef struct entry {
    uint64_t off;
    int size;
    int wid;
} entry;

typedef struct wlog {
    entry *v;
    int n, cap;
} wlog;

enum { W_PENDING, W_ACKED, W_FAILED, W_INTERNAL /* an expiry's delete: no client */ };

typedef struct wrec {
    int key, size, state, node;
    uint64_t end, epoch;
} wrec;

typedef enum {
    M_SYNC, M_CHUNK, M_ACK, M_REFUSE, M_HANDOFF,        /* node <-> node */
    M_CONNECT, M_PING, M_CAS, M_READ,                   /* node -> coordinator */
    M_SESSION, M_PONG, M_CAS_RESULT, M_DATA, M_EXPIRED, /* coordinator -> node */
} mtype;

static const char *const mtype_names[] = {"sync", "chunk", "ack", "refuse", "handoff", "connect", "ping",
                                          "cas", "read", "session", "pong", "cas-result",
                                          "data", "expired"};

typedef struct msg {
    struct msg *next;
    int64_t at;
    mtype type;
    int from, to;
    uint64_t epoch, offset, len, seq;
    bool full, with_marker, replace_marker, marker_present;
    int result, marker_holder;
    uint64_t marker_epoch;
    int64_t sess, sent_ms, version;
    repl_history hist;
    repl_config cfg;
    entry *ents;
    int nents;
} msg;

typedef struct mqueue {
    msg *head, *tail;
} mqueue;

typedef struct node {
    bool up, paused;
    repl_sm sm;
    repl_history durable; /* the history persisted with the log */
    wlog log;
    int kv[NKEYS];
    mqueue inbox;
    const msg *cur; /* the chunk being processed: APPLY reads it */
    bool resync_pending;
    int64_t resync_at;
    /* its coordinator client */
    int64_t sess;
    bool zk_connected, zk_broken;
    uint64_t cas_out[8]; /* epochs of the CASes awaiting an answer */
    int ncas;
    int64_t last_ping_ms, last_reply_ms;
    /* its outgoing streams, as primary */
    bool out_active[N];
    uint64_t out_next[N];
    int64_t out_heartbeat_ms[N];
} node;

typedef struct zsess {
    int64_t id;
    int node;
    bool alive;
    int64_t last_heard;
} zsess;

#define MAX_SESSIONS 1024

typedef struct coordsim {
    repl_config cfg;
    bool marker;
    int marker_holder;
    uint64_t marker_epoch;
    int64_t marker_sess;
    zsess sess[MAX_SESSIONS];
    int nsess;
} coordsim;

typedef struct sim {
    uint64_t rng;
    uint64_t seed;
    int64_t now;
    repl_params params;
    uint64_t backlog; /* 0: the primary can stream from anywhere */
    node nodes[N];
    coordsim zk;
    mqueue link[NEP][NEP];
    bool cut[NEP][NEP];
    bool zk_down; /* quorum lost: nobody reaches the coordinator, no session expires */
    int64_t last_at[NEP][NEP];
    wrec *w;
    int nw, capw;
    int *epoch_acker; /* epoch -> node + 1 */
    int nepochs;
    int probe; /* the write proving progress after healing, -1 none */
    bool violated;
    char why[512];
    bool tracing;
    /* statistics */
    long acked, failed, refused, reads, elections, truncations, snapshots, steps, switchovers;
    long takeovers; /* switchovers completed: a target became primary by its takeover CAS */
} sim;

static sim g_sim;
static long g_fault_steps = 500; /* REPL_SIM_STEPS */
static int g_fault_pct = 3;      /* REPL_SIM_FAULT_PCT: chance of a fault per step */
static char g_trace[TRACE_LINES][TRACE_LINE_MAX];
static long g_trace_n;

/* ---- PRNG and trace -------------------------------------------------------------- */

static uint64_t next_rand(sim *s)
{
    uint64_t z = (s->rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int rnd(sim *s, int n)
{
    return (int)(next_rand(s) % (uint64_t)n);
}

static void trace(sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void trace(sim *s, const char *fmt, ...)
{
    if (!s->tracing) return;
    char *line = g_trace[g_trace_n++ % TRACE_LINES];
    int k = snprintf(line, TRACE_LINE_MAX, "%6lld ", (long long)s->now);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + k, (size_t)(TRACE_LINE_MAX - k), fmt, ap);
    va_end(ap);
}

static void violation(sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void violation(sim *s, const char *fmt, ...)
{
    if (s->violated) return;
    s->violated = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->why, sizeof s->why, fmt, ap);
    va_end(ap);
    trace(s, "VIOLATION: %s", s->why);
}

static void print_trace(long max_lines)
{
    long first = g_trace_n > TRACE_LINES ? g_trace_n - TRACE_LINES : 0;
    if (g_trace_n - first > max_lines) first = g_trace_n - max_lines;
    for (long i = first; i < g_trace_n; i++) printf("  %s\n", g_trace[i % TRACE_LINES]);
}

/* ---- logs and writes ----------------------------------------------------------------- */

static uint64_t log_end(const node *d)
{
    return d->log.n ? d->log.v[d->log.n - 1].off + (uint64_t)d->log.v[d->log.n - 1].size : 0;
}

static void log_push(wlog *l, entry e)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = realloc(l->v, (size_t)l->cap * sizeof *l->v);
        if (l->v == NULL) abort();
    }
    l->v[l->n++] = e;
}

/* Index of the entry starting at off, or -1. */
static int log_find(const node *d, uint64_t off)
{
    int lo = 0, hi = d->log.n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (d->log.v[mid].off == off) return mid;
        if (d->log.v[mid].off < off) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

/* Is off a boundary between entries (or the start or end)? */
static bool log_boundary(const node *d, uint64_t off)
{
    return off == 0 || off == log_end(d) || log_find(d, off) >= 0;
}

static bool log_has(const sim *s, const node *d, int wid)
{
    const wrec *w = &s->w[wid];
    int i = log_find(d, w->end - (uint64_t)w->size);
    return i >= 0 && d->log.v[i].wid == wid;
}

static void kv_rebuild(const sim *s, node *d)
{
    for (int k = 0; k < NKEYS; k++) d->kv[k] = -1;
    for (int i = 0; i < d->log.n; i++) d->kv[s->w[d->log.v[i].wid].key] = d->log.v[i].wid;
}

static int new_write(sim *s, int node_id, int size)
{
    if (s->nw == s->capw) {
        s->capw = s->capw ? s->capw * 2 : 256;
        s->w = realloc(s->w, (size_t)s->capw * sizeof *s->w);
        if (s->w == NULL) abort();
    }
    wrec *w = &s->w[s->nw];
    memset(w, 0, sizeof *w);
    w->key = rnd(s, NKEYS);
    w->size = size;
    w->node = node_id;
    w->state = W_PENDING;
    return s->nw++;
}

/* Invariant 1, online: every acknowledged write is on node n (an ISR member). */
static void check_member_holds_acked(sim *s, int n, const char *when)
{
    for (int i = 0; i < s->nw && !s->violated; i++)
        if (s->w[i].state == W_ACKED && !log_has(s, &s->nodes[n], i))
            violation(s, "ISR member n%d lacks acknowledged write %d (acked by n%d in epoch %llu) %s",
                      n, i, s->w[i].node, (unsigned long long)s->w[i].epoch, when);
}

static void check_if_isr_member(sim *s, int n, const char *when)
{
    if (repl_set_has(s->zk.cfg.isr, n)) check_member_holds_acked(s, n, when);
}

/* ---- network ---------------------------------------------------------------------------- */

static msg *msg_new(mtype t, int from, int to)
{
    msg *m = calloc(1, sizeof *m);
    if (m == NULL) abort();
    m->type = t;
    m->from = from;
    m->to = to;
    return m;
}

static void msg_free(msg *m)
{
    free(m->ents);
    free(m);
}

static void q_push(mqueue *q, msg *m)
{
    m->next = NULL;
    if (q->tail) q->tail->next = m;
    else q->head = m;
    q->tail = m;
}

static msg *q_pop(mqueue *q)
{
    msg *m = q->head;
    if (m == NULL) return NULL;
    q->head = m->next;
    if (q->head == NULL) q->tail = NULL;
    return m;
}

static void q_clear(mqueue *q)
{
    msg *m;
    while ((m = q_pop(q)) != NULL) msg_free(m);
}

/* A message lost on a coordinator link breaks that ZooKeeper connection. */
static void mark_zk_broken(sim *s, int a, int b)
{
    if (a == ZK && b < N) s->nodes[b].zk_broken = true;
    if (b == ZK && a < N) s->nodes[a].zk_broken = true;
}

static int64_t link_delay(sim *s)
{
    return rnd(s, 100) < 4 ? 10 + rnd(s, 30) : 1 + rnd(s, 6);
}

static void net_send(sim *s, msg *m)
{
    bool zk_link = m->from == ZK || m->to == ZK;
    if (s->cut[m->from][m->to] || (zk_link && s->zk_down)) {
        trace(s, "net: dropped %s %d->%d", mtype_names[m->type], m->from, m->to);
        mark_zk_broken(s, m->from, m->to);
        msg_free(m);
        return;
    }
    int64_t at = s->now + link_delay(s);
    if (at < s->last_at[m->from][m->to]) at = s->last_at[m->from][m->to]; /* FIFO */
    s->last_at[m->from][m->to] = at;
    m->at = at;
    q_push(&s->link[m->from][m->to], m);
}

static void set_cut(sim *s, int a, int b, bool cut)
{
    if (a == b || s->cut[a][b] == cut) return;
    s->cut[a][b] = s->cut[b][a] = cut;
    trace(s, "net: %s %d<->%d", cut ? "cut" : "heal", a, b);
    if (!cut) return;
    if (s->link[a][b].head || s->link[b][a].head) mark_zk_broken(s, a, b);
    q_clear(&s->link[a][b]);
    q_clear(&s->link[b][a]);
}

/* ---- the coordinator (ZooKeeper model) --------------------------------------------------- */

static zsess *zk_find(sim *s, int64_t id)
{
    for (int i = 0; i < s->zk.nsess; i++)
        if (s->zk.sess[i].id == id) return &s->zk.sess[i];
    return NULL;
}

static void zk_reply(sim *s, int to, msg *m)
{
    m->from = ZK;
    m->to = to;
    net_send(s, m);
}

static msg *zk_data(sim *s, int to, int64_t sess)
{
    msg *m = msg_new(M_DATA, ZK, to);
    m->sess = sess;
    m->cfg = s->zk.cfg;
    m->marker_present = s->zk.marker;
    m->marker_holder = s->zk.marker_holder;
    m->marker_epoch = s->zk.marker_epoch;
    return m;
}

/* Watches: every live session hears the latest config and marker. */
static void zk_notify(sim *s)
{
    for (int i = 0; i < s->zk.nsess; i++)
        if (s->zk.sess[i].alive)
            zk_reply(s, s->zk.sess[i].node, zk_data(s, s->zk.sess[i].node, s->zk.sess[i].id));
}

static void zk_expire(sim *s)
{
    if (s->zk_down) return;
    for (int i = 0; i < s->zk.nsess; i++) {
        zsess *z = &s->zk.sess[i];
        if (!z->alive || s->now - z->last_heard <= SESSION_TIMEOUT_MS) continue;
        z->alive = false;
        trace(s, "zk: session %lld of n%d expired", (long long)z->id, z->node);
        if (s->zk.marker && s->zk.marker_sess == z->id) {
            s->zk.marker = false;
            trace(s, "zk: primary marker of n%d (epoch %llu) deleted", s->zk.marker_holder,
                  (unsigned long long)s->zk.marker_epoch);
            zk_notify(s);
        }
    }
}

static void zk_apply_cas(sim *s, const msg *m, msg *r)
{
    bool broken = s->params.test_break & SIM_BREAK_ZK_NO_CAS;
    /* a takeover's multi deletes the marker first: it must exist then */
    bool marker_conflict = m->replace_marker ? !s->zk.marker : s->zk.marker;
    if (!broken && (m->version != s->zk.cfg.version || (m->with_marker && marker_conflict))) {
        r->result = REPL_CAS_FAILED;
        return;
    }
    repl_set added = m->cfg.isr & ~s->zk.cfg.isr;
    s->zk.cfg = m->cfg;
    s->zk.cfg.version = m->version + 1;
    if (m->with_marker) {
        s->zk.marker = true;
        s->zk.marker_holder = m->from;
        s->zk.marker_epoch = m->cfg.epoch;
        s->zk.marker_sess = m->sess;
    }
    r->result = REPL_CAS_OK;
    r->version = s->zk.cfg.version;
    trace(s, "zk: config v%lld epoch %llu primary n%d isr 0x%x%s", (long long)s->zk.cfg.version,
          (unsigned long long)s->zk.cfg.epoch, s->zk.cfg.primary, (unsigned)s->zk.cfg.isr,
          m->replace_marker ? " + marker replaced" : m->with_marker ? " + marker" : "");
    for (int n = 0; n < N; n++)
        if (repl_set_has(added, n)) check_member_holds_acked(s, n, "when it joined the ISR");
    zk_notify(s);
}

static void zk_open_session(sim *s, const msg *m)
{
    if (s->zk.nsess == MAX_SESSIONS) abort();
    zsess *z = &s->zk.sess[s->zk.nsess++];
    z->id = s->zk.nsess; /* ids start at 1 */
    z->node = m->from;
    z->alive = true;
    z->last_heard = s->now;
    msg *r = msg_new(M_SESSION, ZK, m->from);
    r->sess = z->id;
    r->sent_ms = m->sent_ms;
    zk_reply(s, m->from, r);
}

/* Requests of one session are handled in arrival order (the link is FIFO). */
static void zk_handle(sim *s, msg *m)
{
    int from = m->from;
    if (m->type == M_CONNECT) {
        zk_open_session(s, m);
        return;
    }
    zsess *z = zk_find(s, m->sess);
    if (z == NULL || !z->alive) {
        msg *r = msg_new(m->type == M_CAS ? M_CAS_RESULT : M_EXPIRED, ZK, from);
        r->sess = m->sess;
        r->result = REPL_CAS_FAILED;
        r->epoch = m->epoch;
        zk_reply(s, from, r);
        return;
    }
    z->last_heard = s->now;
    if (m->type == M_PING) {
        msg *r = msg_new(M_PONG, ZK, from);
        r->sess = m->sess;
        r->sent_ms = m->sent_ms;
        zk_reply(s, from, r);
    } else if (m->type == M_READ) {
        msg *r = zk_data(s, from, m->sess);
        r->seq = m->seq;
        zk_reply(s, from, r);
    } else if (m->type == M_CAS) {
        msg *r = msg_new(M_CAS_RESULT, ZK, from);
        r->sess = m->sess;
        r->epoch = m->epoch;
        zk_apply_cas(s, m, r);
        zk_reply(s, from, r);
    }
}

/* ---- feeding a node's state machine ------------------------------------------------------ */

static void exec_action(sim *s, int n, const repl_action *a);

static void trace_step(sim *s, int n, const repl_event *ev, const repl_action *acts, int k)
{
    if (!s->tracing || (ev->type == REPL_EV_TICK && k == 0)) return;
    if (ev->type == REPL_EV_SESSION && ev->u.session.state == REPL_SESS_CONNECTED && k == 0)
        return; /* heartbeats */
    char buf[TRACE_LINE_MAX];
    int len = 0;
    for (int i = 0; i < k && len < (int)sizeof buf - 40; i++) {
        const repl_action *a = &acts[i];
        if (a->type == REPL_ACT_LOG) continue;
        len += snprintf(buf + len, sizeof buf - (size_t)len, " %s", repl_action_name(a->type));
        if (a->peer != REPL_NONE) len += snprintf(buf + len, sizeof buf - (size_t)len, ":n%d", a->peer);
        if (a->type == REPL_ACT_ACK_WRITES || a->type == REPL_ACT_TRUNCATE ||
            a->type == REPL_ACT_SEND_ACK || a->type == REPL_ACT_START_STREAM ||
            a->type == REPL_ACT_APPLY)
            len += snprintf(buf + len, sizeof buf - (size_t)len, "@%llu%s",
                            (unsigned long long)a->offset, a->full ? "F" : "");
        if (a->type == REPL_ACT_CAS_CONFIG)
            len += snprintf(buf + len, sizeof buf - (size_t)len, "(e%llu,p%d,isr%x,v%lld)",
                            (unsigned long long)a->u.cas.config.epoch, a->u.cas.config.primary,
                            (unsigned)a->u.cas.config.isr, (long long)a->u.cas.expected_version);
    }
    buf[len] = '\0';
    trace(s, "n%d %-9s <- %s ->%s", n, repl_role_name(s->nodes[n].sm.role),
          repl_event_name(ev->type), buf);
    for (int i = 0; i < k; i++)
        if (acts[i].type == REPL_ACT_LOG) trace(s, "n%d   log: %s", n, acts[i].u.msg);
}

static void feed(sim *s, int n, const repl_event *ev)
{
    node *d = &s->nodes[n];
    repl_action acts[REPL_MAX_ACTIONS];
    repl_role before = d->sm.role;
    repl_cas_kind cas_before = d->sm.cas.kind;
    int k = repl_step(&d->sm, ev, s->now, acts, REPL_MAX_ACTIONS);
    trace_step(s, n, ev, acts, k);
    if (d->sm.role == REPL_PRIMARY && before != REPL_PRIMARY && before != REPL_FENCED) {
        s->elections++;
        if (cas_before == REPL_CAS_TAKEOVER) s->takeovers++;
    }
    for (int i = 0; i < k && d->up; i++) exec_action(s, n, &acts[i]);
    d->durable = d->sm.log; /* fsync always: the history is persisted with the log */
    if (d->sm.log.end != log_end(d))
        violation(s, "n%d: state machine log end %llu != stored log end %llu", n,
                  (unsigned long long)d->sm.log.end, (unsigned long long)log_end(d));
}

static void feed_session(sim *s, int n, repl_session_state st, int64_t sent_ms)
{
    repl_event ev = {.type = REPL_EV_SESSION};
    ev.u.session.state = st;
    ev.u.session.sent_ms = sent_ms;
    feed(s, n, &ev);
}

static void feed_cas_result(sim *s, int n, repl_cas_result r, int64_t version, uint64_t epoch)
{
    repl_event ev = {.type = REPL_EV_CAS_RESULT};
    ev.u.cas.result = r;
    ev.u.cas.version = version;
    ev.u.cas.epoch = epoch;
    feed(s, n, &ev);
}

/* The client answers every CAS still out when its connection or session dies. */
static void fail_cas_out(sim *s, int n, repl_cas_result r)
{
    node *d = &s->nodes[n];
    while (d->ncas > 0 && d->up) feed_cas_result(s, n, r, 0, d->cas_out[--d->ncas]);
}

static void cas_answered(node *d, uint64_t epoch)
{
    for (int i = 0; i < d->ncas; i++)
        if (d->cas_out[i] == epoch) {
            d->cas_out[i] = d->cas_out[--d->ncas];
            return;
        }
}

/* ---- node actions ------------------------------------------------------------------------ */

static void zk_send(sim *s, int n, msg *m)
{
    m->from = n;
    m->to = ZK;
    m->sess = s->nodes[n].sess;
    net_send(s, m);
}

static void send_chunk(sim *s, int n, int peer, uint64_t from, bool full)
{
    node *d = &s->nodes[n];
    msg *m = msg_new(M_CHUNK, n, peer);
    m->epoch = d->sm.cfg.epoch;
    m->hist = d->sm.log;
    m->full = full;
    m->offset = full ? 0 : from;
    m->len = log_end(d) - m->offset;
    if (!log_boundary(d, m->offset))
        violation(s, "n%d streams from %llu, inside an entry", n, (unsigned long long)m->offset);
    int first = d->log.n;
    while (first > 0 && d->log.v[first - 1].off >= m->offset) first--;
    m->nents = d->log.n - first;
    if (m->nents) {
        m->ents = malloc((size_t)m->nents * sizeof *m->ents);
        if (m->ents == NULL) abort();
        memcpy(m->ents, d->log.v + first, (size_t)m->nents * sizeof *m->ents);
    }
    net_send(s, m);
}

static void pump_streams(sim *s, int n)
{
    node *d = &s->nodes[n];
    for (int p = 0; p < N; p++) {
        if (!d->out_active[p] || d->out_next[p] >= log_end(d)) continue;
        send_chunk(s, n, p, d->out_next[p], false);
        d->out_next[p] = log_end(d);
    }
}

/* As the adapter: an idle stream carries an empty chunk now and then, which
 * the replica acks (the primary's proof that it lives). */
static void heartbeat_streams(sim *s, int n)
{
    node *d = &s->nodes[n];
    for (int p = 0; p < N; p++) {
        if (!d->out_active[p] || s->now - d->out_heartbeat_ms[p] < HEARTBEAT_MS) continue;
        d->out_heartbeat_ms[p] = s->now;
        if (d->out_next[p] == log_end(d)) send_chunk(s, n, p, d->out_next[p], false);
    }
}

static void ack_writes(sim *s, int n, uint64_t upto, uint64_t epoch)
{
    for (int i = 0; i < s->nw; i++) {
        wrec *w = &s->w[i];
        if (w->state != W_PENDING || w->node != n || w->end > upto) continue;
        w->state = W_ACKED;
        w->epoch = epoch;
        s->acked++;
        if (epoch >= (uint64_t)s->nepochs) {
            int grow = (int)epoch * 2 + 16;
            s->epoch_acker = realloc(s->epoch_acker, (size_t)grow * sizeof *s->epoch_acker);
            if (s->epoch_acker == NULL) abort();
            memset(s->epoch_acker + s->nepochs, 0, (size_t)(grow - s->nepochs) * sizeof(int));
            s->nepochs = grow;
        }
        int *who = &s->epoch_acker[epoch];
        if (*who != 0 && *who != n + 1)
            violation(s, "two nodes got writes acknowledged in epoch %llu: n%d and n%d",
                      (unsigned long long)epoch, *who - 1, n);
        *who = n + 1;
        for (int m = 0; m < N && !s->violated; m++)
            if (repl_set_has(s->zk.cfg.isr, m) && !log_has(s, &s->nodes[m], i))
                violation(s, "write %d acked by n%d in epoch %llu but ISR member n%d lacks it", i,
                          n, (unsigned long long)epoch, m);
    }
}

static void fail_pending(sim *s, int n)
{
    for (int i = 0; i < s->nw; i++)
        if (s->w[i].state == W_PENDING && s->w[i].node == n) {
            s->w[i].state = W_FAILED;
            s->failed++;
        }
}

static void do_truncate(sim *s, int n, uint64_t to)
{
    node *d = &s->nodes[n];
    if (!log_boundary(d, to) || to > log_end(d)) {
        violation(s, "n%d truncates to %llu, not an entry boundary", n, (unsigned long long)to);
        return;
    }
    while (d->log.n > 0 && d->log.v[d->log.n - 1].off >= to) d->log.n--;
    kv_rebuild(s, d);
    s->truncations++;
    check_if_isr_member(s, n, "after truncating its log");
}

static void apply_snapshot(sim *s, int n, const msg *m)
{
    node *d = &s->nodes[n];
    d->log.n = 0;
    for (int i = 0; i < m->nents; i++) log_push(&d->log, m->ents[i]);
    kv_rebuild(s, d);
    d->resync_pending = true;
    d->resync_at = s->now + rnd(s, 20);
    s->snapshots++;
    check_if_isr_member(s, n, "after loading a snapshot");
}

static void do_apply(sim *s, int n, const repl_action *a)
{
    node *d = &s->nodes[n];
    const msg *m = d->cur;
    if (m == NULL || m->type != M_CHUNK) {
        violation(s, "n%d: APPLY outside a chunk", n);
        return;
    }
    if (a->full) {
        apply_snapshot(s, n, m);
        return;
    }
    uint64_t end = a->offset + a->len;
    if (a->offset != log_end(d)) {
        violation(s, "n%d applies at %llu but its log ends at %llu", n,
                  (unsigned long long)a->offset, (unsigned long long)log_end(d));
        return;
    }
    for (int i = 0; i < m->nents; i++)
        if (m->ents[i].off >= a->offset && m->ents[i].off < end) {
            log_push(&d->log, m->ents[i]);
            d->kv[s->w[m->ents[i].wid].key] = m->ents[i].wid;
        }
    if (log_end(d) != end)
        violation(s, "n%d: chunk bytes [%llu,%llu) do not end on an entry", n,
                  (unsigned long long)a->offset, (unsigned long long)end);
}

static void send_to_peer(sim *s, int n, mtype t, const repl_action *a)
{
    if (a->peer < 0 || a->peer >= N || a->peer == n) return;
    msg *m = msg_new(t, n, a->peer);
    m->epoch = a->epoch;
    m->offset = a->offset;
    m->full = a->full;
    if (t == M_SYNC) m->hist = a->u.hist;
    net_send(s, m);
}

static void send_cas(sim *s, int n, const repl_action *a)
{
    node *d = &s->nodes[n];
    msg *m = msg_new(M_CAS, n, ZK);
    m->cfg = a->u.cas.config;
    m->version = a->u.cas.expected_version;
    m->with_marker = a->u.cas.with_marker;
    m->replace_marker = a->u.cas.replace_marker;
    m->epoch = a->epoch;
    if (d->ncas == 8) abort();
    d->cas_out[d->ncas++] = a->epoch;
    zk_send(s, n, m);
}

static void exec_action(sim *s, int n, const repl_action *a)
{
    node *d = &s->nodes[n];
    switch (a->type) {
    case REPL_ACT_CAS_CONFIG: send_cas(s, n, a); break;
    case REPL_ACT_READ_CONFIG: {
        msg *m = msg_new(M_READ, n, ZK);
        m->seq = a->seq;
        zk_send(s, n, m);
        break;
    }
    case REPL_ACT_START_STREAM:
        if (a->peer < 0 || a->peer >= N) break;
        d->out_active[a->peer] = true;
        send_chunk(s, n, a->peer, a->offset, a->full);
        d->out_next[a->peer] = log_end(d);
        break;
    case REPL_ACT_STOP_STREAM:
        if (a->peer >= 0 && a->peer < N) d->out_active[a->peer] = false;
        break;
    case REPL_ACT_ACK_WRITES: ack_writes(s, n, a->offset, a->epoch); break;
    case REPL_ACT_REFUSE_WRITES:
        if (a->reason != REPL_REFUSE_NOREPLICAS && a->reason != REPL_REFUSE_SWITCHING)
            fail_pending(s, n);
        break;
    case REPL_ACT_SEND_HANDOFF: send_to_peer(s, n, M_HANDOFF, a); break;
    case REPL_ACT_BECOME_REPLICA: send_to_peer(s, n, M_SYNC, a); break;
    case REPL_ACT_TRUNCATE: do_truncate(s, n, a->offset); break;
    case REPL_ACT_APPLY: do_apply(s, n, a); break;
    case REPL_ACT_SEND_ACK: send_to_peer(s, n, M_ACK, a); break;
    case REPL_ACT_REFUSE_STREAM: send_to_peer(s, n, M_REFUSE, a); break;
    case REPL_ACT_ACCEPT_WRITES:
    case REPL_ACT_STOP_READS:
    case REPL_ACT_SERVE_READS:
    case REPL_ACT_LOG: break;
    }
}

/* ---- node message handling ------------------------------------------------------------------ */

/* A read's answer or a watch: the config, then the marker. */
static void deliver_data(sim *s, int n, const msg *m)
{
    repl_event ev = {.type = REPL_EV_CONFIG};
    ev.u.config.cfg = m->cfg;
    ev.u.config.read_seq = m->seq;
    feed(s, n, &ev);
    if (!s->nodes[n].up) return;
    repl_event mk = {.type = REPL_EV_MARKER};
    mk.u.marker.present = m->marker_present;
    mk.u.marker.holder = m->marker_holder;
    mk.u.marker.epoch = m->marker_epoch;
    feed(s, n, &mk);
}

static void on_zk_msg(sim *s, int n, const msg *m)
{
    node *d = &s->nodes[n];
    if (m->type == M_SESSION) {
        if (d->sess != 0) return; /* a duplicate connect: that session just expires */
        d->sess = m->sess;
        d->zk_connected = true;
        d->last_reply_ms = s->now;
        feed_session(s, n, REPL_SESS_CONNECTED, m->sent_ms);
        return;
    }
    if (m->sess != d->sess || d->sess == 0) return; /* for an older session */
    d->last_reply_ms = s->now;
    switch (m->type) {
    case M_PONG:
        d->zk_connected = true;
        feed_session(s, n, REPL_SESS_CONNECTED, m->sent_ms);
        break;
    case M_EXPIRED:
        d->sess = 0;
        d->zk_connected = false;
        feed_session(s, n, REPL_SESS_EXPIRED, 0);
        fail_cas_out(s, n, REPL_CAS_FAILED);
        break;
    case M_CAS_RESULT:
        cas_answered(d, m->epoch);
        feed_cas_result(s, n, (repl_cas_result)m->result, m->version, m->epoch);
        break;
    case M_DATA: deliver_data(s, n, m); break;
    default: break;
    }
}

static void on_peer_msg(sim *s, int n, const msg *m)
{
    node *d = &s->nodes[n];
    repl_event ev;
    memset(&ev, 0, sizeof ev);
    switch (m->type) {
    case M_SYNC:
        ev.type = REPL_EV_PEER_SYNC;
        ev.u.sync.peer = m->from;
        ev.u.sync.epoch = m->epoch;
        ev.u.sync.hist = &m->hist;
        ev.u.sync.full = m->full;
        break;
    case M_ACK:
        ev.type = REPL_EV_PEER_ACK;
        ev.u.ack.peer = m->from;
        ev.u.ack.epoch = m->epoch;
        ev.u.ack.offset = m->offset;
        break;
    case M_REFUSE:
        ev.type = REPL_EV_PEER_REFUSED;
        ev.u.refused.peer = m->from;
        ev.u.refused.epoch = m->epoch;
        break;
    case M_HANDOFF:
        ev.type = REPL_EV_HANDOFF;
        ev.u.handoff.from = m->from;
        ev.u.handoff.epoch = m->epoch;
        ev.u.handoff.end = m->offset;
        break;
    case M_CHUNK:
        ev.type = REPL_EV_STREAM;
        ev.u.stream.from = m->from;
        ev.u.stream.epoch = m->epoch;
        ev.u.stream.hist = &m->hist;
        ev.u.stream.offset = m->offset;
        ev.u.stream.len = m->len;
        ev.u.stream.full = m->full;
        break;
    default: return;
    }
    d->cur = m;
    feed(s, n, &ev);
    d->cur = NULL;
}

/* The node's ZooKeeper client: detect a dead connection, ping, reconnect. */
static void zk_client_tick(sim *s, int n)
{
    node *d = &s->nodes[n];
    bool silent = s->now - d->last_reply_ms > ZK_SILENCE_MS;
    if ((d->zk_broken || silent) && d->zk_connected) {
        d->zk_connected = false;
        feed_session(s, n, REPL_SESS_DISCONNECTED, 0);
        fail_cas_out(s, n, REPL_CAS_UNKNOWN);
    }
    d->zk_broken = false;
    if (s->now - d->last_ping_ms < PING_EVERY_MS) return;
    d->last_ping_ms = s->now;
    msg *m = msg_new(d->sess ? M_PING : M_CONNECT, n, ZK);
    m->sent_ms = s->now;
    zk_send(s, n, m);
}

static void node_step(sim *s, int n)
{
    node *d = &s->nodes[n];
    if (!d->up || d->paused) return;
    uint64_t end = log_end(d);
    repl_set_backlog(&d->sm, s->backlog && end > s->backlog ? end - s->backlog : 0);
    msg *m;
    while (d->up && (m = q_pop(&d->inbox)) != NULL) {
        if (m->from == ZK) on_zk_msg(s, n, m);
        else on_peer_msg(s, n, m);
        msg_free(m);
    }
    if (d->resync_pending && s->now >= d->resync_at) {
        d->resync_pending = false;
        repl_event ev = {.type = REPL_EV_RESYNC_DONE};
        ev.u.resync.end = log_end(d);
        feed(s, n, &ev);
    }
    zk_client_tick(s, n);
    repl_event tick = {.type = REPL_EV_TICK};
    feed(s, n, &tick);
    if (d->up && (d->sm.role == REPL_PRIMARY || d->sm.role == REPL_FENCED)) heartbeat_streams(s, n);
}

/* ---- faults ---------------------------------------------------------------------------------- */

static void node_start(sim *s, int n)
{
    node *d = &s->nodes[n];
    d->up = true;
    d->paused = false;
    repl_params p = s->params;
    p.self = n;
    repl_init(&d->sm, &p, &d->durable);
    kv_rebuild(s, d);
    d->sess = 0;
    d->zk_connected = d->zk_broken = d->resync_pending = false;
    d->ncas = 0;
    d->last_ping_ms = s->now - PING_EVERY_MS; /* connect at the first tick */
    d->last_reply_ms = s->now;
    memset(d->out_active, 0, sizeof d->out_active);
    trace(s, "fault: n%d starts (log end %llu)", n, (unsigned long long)log_end(d));
}

static void node_crash(sim *s, int n)
{
    node *d = &s->nodes[n];
    d->up = false;
    d->paused = false;
    fail_pending(s, n);
    q_clear(&d->inbox);
    for (int e = 0; e < NEP; e++) { /* its connections are reset */
        q_clear(&s->link[e][n]);
        s->last_at[e][n] = 0;
    }
    trace(s, "fault: n%d crashes (role %s)", n, repl_role_name(d->sm.role));
}

static int pick_node(sim *s, bool up, bool paused)
{
    int start = rnd(s, N);
    for (int i = 0; i < N; i++) {
        int n = (start + i) % N;
        if (s->nodes[n].up == up && (!up || s->nodes[n].paused == paused)) return n;
    }
    return -1;
}

/* The node clients and operators would call the primary: the coordinator's. */
static int zk_primary(sim *s)
{
    int p = s->zk.cfg.primary;
    return p == REPL_NONE ? rnd(s, N) : p;
}

static void isolate(sim *s, int p, bool from_zk, bool from_nodes)
{
    if (from_zk) set_cut(s, p, ZK, true);
    if (from_nodes)
        for (int n = 0; n < N; n++) set_cut(s, p, n, true);
}

/* Quorum loss: every client loses the ensemble; sessions do not expire in
 * the meantime, and the new leader re-arms every timeout (as ZooKeeper does). */
static void zk_outage(sim *s, bool down)
{
    if (s->zk_down == down) return;
    s->zk_down = down;
    trace(s, "fault: coordinator %s", down ? "loses its quorum" : "is back");
    for (int n = 0; n < N; n++) {
        if (down) s->nodes[n].zk_broken = true;
        q_clear(&s->link[n][ZK]);
        q_clear(&s->link[ZK][n]);
    }
    for (int i = 0; !down && i < s->zk.nsess; i++) s->zk.sess[i].last_heard = s->now;
}

static void heal_all(sim *s)
{
    zk_outage(s, false);
    for (int a = 0; a < NEP; a++)
        for (int b = a + 1; b < NEP; b++) set_cut(s, a, b, false);
}

static void inject_fault(sim *s)
{
    int n;
    switch (rnd(s, 12)) {
    case 0:
        if ((n = pick_node(s, true, false)) >= 0) node_crash(s, n);
        break;
    case 1:
        if ((n = pick_node(s, false, false)) >= 0) node_start(s, n);
        break;
    case 2:
        if ((n = pick_node(s, true, false)) >= 0) {
            s->nodes[n].paused = true;
            trace(s, "fault: n%d paused", n);
        }
        break;
    case 3:
        if ((n = pick_node(s, true, true)) >= 0) {
            s->nodes[n].paused = false;
            trace(s, "fault: n%d resumed", n);
        }
        break;
    case 4: isolate(s, zk_primary(s), true, false); break;
    case 5: isolate(s, zk_primary(s), false, true); break;
    case 6: isolate(s, zk_primary(s), true, true); break;
    case 7: set_cut(s, rnd(s, NEP), rnd(s, NEP), true); break;
    case 8: set_cut(s, rnd(s, NEP), rnd(s, NEP), false); break;
    case 9: zk_outage(s, true); break;
    default: heal_all(s); break;
    }
}

static void heal_everything(sim *s)
{
    trace(s, "heal: every node up, every link healed");
    heal_all(s);
    for (int n = 0; n < N; n++) {
        if (!s->nodes[n].up) node_start(s, n);
        s->nodes[n].paused = false;
    }
}

/* ---- clients ------------------------------------------------------------------------------------ */

/* Mostly to a node that accepts writes (a stale primary too), sometimes to any. */
static int pick_write_target(sim *s)
{
    int start = rnd(s, N);
    if (rnd(s, 10) == 0) return start;
    for (int i = 0; i < N; i++) {
        int n = (start + i) % N;
        node *d = &s->nodes[n];
        if (d->up && !d->paused && repl_write_gate(&d->sm, s->now) == REPL_WRITE_OK) return n;
    }
    return start;
}

/* Append one entry to n's log as its primary and stream it. */
static int local_append(sim *s, int n, int state)
{
    node *d = &s->nodes[n];
    int wid = new_write(s, n, 1 + rnd(s, 3));
    s->w[wid].state = state;
    entry e = {log_end(d), s->w[wid].size, wid};
    log_push(&d->log, e);
    d->kv[s->w[wid].key] = wid;
    s->w[wid].end = log_end(d);
    trace(s, "%s %d (key %d) to n%d at [%llu,%llu)", state == W_INTERNAL ? "expiry:" : "client: write",
          wid, s->w[wid].key, n, (unsigned long long)e.off, (unsigned long long)log_end(d));
    repl_event ev = {.type = REPL_EV_APPENDED};
    ev.u.appended.end = log_end(d);
    feed(s, n, &ev);
    if (d->up) pump_streams(s, n);
    return wid;
}

/* Active expiry on a primary (fenced or not) deletes keys with no client
 * waiting: its own segment grows, never acknowledged. */
static void expire_some_key(sim *s)
{
    int n = rnd(s, N);
    node *d = &s->nodes[n];
    if (d->up && !d->paused && (d->sm.role == REPL_PRIMARY || d->sm.role == REPL_FENCED))
        local_append(s, n, W_INTERNAL);
}

static int client_write(sim *s)
{
    int n = pick_write_target(s);
    node *d = &s->nodes[n];
    if (!d->up || d->paused) return -1;
    if (repl_write_gate(&d->sm, s->now) != REPL_WRITE_OK) {
        s->refused++;
        return -1;
    }
    return local_append(s, n, W_PENDING);
}

/* An operator asks whichever node believes it is primary to hand over to a
 * random member (sometimes itself or one outside the ISR: refused), and
 * sometimes to abort the switchover under way. */
static void operator_switchover(sim *s)
{
    int n = rnd(s, 5) ? zk_primary(s) : rnd(s, N);
    node *d = &s->nodes[n];
    if (!d->up || d->paused) return;
    repl_event ev = {.type = REPL_EV_SWITCHOVER};
    ev.u.switchover.target = rnd(s, 4) == 0 ? REPL_NONE : rnd(s, N);
    ev.u.switchover.timeout_ms = 20 + rnd(s, 200);
    if (ev.u.switchover.target != REPL_NONE &&
        repl_switchover_refusal(&d->sm, ev.u.switchover.target) == NULL)
        s->switchovers++;
    trace(s, "operator: FAILOVER on n%d to n%d", n, ev.u.switchover.target);
    feed(s, n, &ev);
}

/* Invariant 5: a lease read sees every write acknowledged so far. */
static void client_read(sim *s)
{
    int n = rnd(s, N);
    node *d = &s->nodes[n];
    if (!d->up || d->paused || !repl_read_ok(&d->sm, s->now)) return;
    s->reads++;
    for (int i = 0; i < s->nw && !s->violated; i++)
        if (s->w[i].state == W_ACKED && !log_has(s, d, i))
            violation(s, "stale read: n%d served a lease read without write %d (acked by n%d, epoch %llu)",
                      n, i, s->w[i].node, (unsigned long long)s->w[i].epoch);
}

/* ---- a schedule ---------------------------------------------------------------------------------- */

static void sim_free(sim *s)
{
    for (int a = 0; a < NEP; a++)
        for (int b = 0; b < NEP; b++) q_clear(&s->link[a][b]);
    for (int n = 0; n < N; n++) {
        q_clear(&s->nodes[n].inbox);
        free(s->nodes[n].log.v);
    }
    free(s->w);
    free(s->epoch_acker);
}

static void sim_reset(sim *s, uint64_t seed, unsigned brk, bool tracing)
{
    memset(s, 0, sizeof *s);
    s->seed = seed;
    s->rng = seed * 0x2545F4914F6CDD1DULL + 1;
    s->tracing = tracing;
    s->probe = -1;
    g_trace_n = 0;
    repl_params *p = &s->params;
    p->session_timeout_ms = SESSION_TIMEOUT_MS;
    p->lease_margin_ms = 10;
    p->repl_timeout_ms = 60 + rnd(s, 60);
    p->resync_ms = 60;
    p->retry_ms = 100;
    p->min_sync_replicas = rnd(s, 2);
    p->catchup_max_lag = rnd(s, 2) ? 8 : 0;
    p->can_truncate = rnd(s, 2);
    p->test_break = brk;
    s->backlog = rnd(s, 2) ? 6 : 0;
    s->zk.cfg.version = 0; /* bootstrap: no primary, everyone in sync (all empty) */
    s->zk.cfg.primary = REPL_NONE;
    s->zk.cfg.isr = s->zk.cfg.members = (1u << N) - 1;
    trace(s, "seed %llu: min_sync %d, catchup_lag %llu, truncate %d, backlog %llu, repl_timeout %lld",
          (unsigned long long)seed, p->min_sync_replicas, (unsigned long long)p->catchup_max_lag,
          p->can_truncate, (unsigned long long)s->backlog, (long long)p->repl_timeout_ms);
    for (int n = 0; n < N; n++) node_start(s, n);
}

static void sim_step(sim *s, bool faults, bool writes)
{
    s->now += 1 + rnd(s, 5);
    s->steps++;
    int first = rnd(s, NEP * NEP);
    for (int i = 0; i < NEP * NEP; i++) {
        int from = (first + i) / NEP % NEP, to = (first + i) % NEP;
        mqueue *q = &s->link[from][to];
        while (q->head && q->head->at <= s->now) {
            msg *m = q_pop(q);
            if (to == ZK) zk_handle(s, m);
            if (to == ZK || !s->nodes[to].up) msg_free(m);
            else q_push(&s->nodes[to].inbox, m);
        }
    }
    zk_expire(s);
    int order = rnd(s, N);
    for (int i = 0; i < N; i++) node_step(s, (order + i) % N);
    if (faults && rnd(s, 100) < g_fault_pct) inject_fault(s);
    if (writes && rnd(s, 100) < 30) client_write(s);
    if (writes && rnd(s, 100) < 2) expire_some_key(s);
    if (faults && rnd(s, 1000) < 5) operator_switchover(s);
    if (rnd(s, 100) < 10) client_read(s);
}

static bool converged(sim *s)
{
    int p = s->zk.cfg.primary;
    if (p == REPL_NONE || s->nodes[p].sm.role != REPL_PRIMARY) return false;
    if (s->probe < 0 || s->w[s->probe].state != W_ACKED) return false;
    if (s->zk.cfg.isr != s->zk.cfg.members) return false;
    const node *pd = &s->nodes[p];
    for (int n = 0; n < N; n++) {
        const node *d = &s->nodes[n];
        if (d->log.n != pd->log.n || d->sm.role != (n == p ? REPL_PRIMARY : REPL_REPLICA))
            return false;
        if (memcmp(d->log.v, pd->log.v, (size_t)d->log.n * sizeof *d->log.v) != 0) return false;
    }
    return true;
}

/* After healing: no faults, no load, one probe write that must be acknowledged. */
static void quiet_phase(sim *s)
{
    int64_t deadline = s->now + QUIET_MS;
    while (s->now < deadline && !s->violated) {
        sim_step(s, false, false);
        if (s->probe < 0 || s->w[s->probe].state == W_FAILED) s->probe = client_write(s);
        if (converged(s)) return;
    }
    if (s->violated) return;
    if (s->probe < 0 || s->w[s->probe].state != W_ACKED)
        violation(s, "no progress: no write acknowledged within %d ms after healing", QUIET_MS);
    else
        violation(s, "no convergence within %d ms after healing (isr 0x%x, primary n%d)", QUIET_MS,
                  (unsigned)s->zk.cfg.isr, s->zk.cfg.primary);
}

static void final_checks(sim *s)
{
    int p = s->zk.cfg.primary;
    check_member_holds_acked(s, p, "at the end (final primary)");
    for (int n = 0; n < N; n++) {
        check_if_isr_member(s, n, "at the end");
        int kv[NKEYS];
        memcpy(kv, s->nodes[n].kv, sizeof kv);
        kv_rebuild(s, &s->nodes[n]);
        if (memcmp(kv, s->nodes[n].kv, sizeof kv) != 0)
            violation(s, "n%d: keyspace differs from the replay of its log", n);
        if (memcmp(s->nodes[n].kv, s->nodes[p].kv, sizeof kv) != 0)
            violation(s, "n%d: keyspace differs from the primary n%d's", n, p);
    }
}

/* Runs one schedule; returns true when every invariant held. */
static bool run_schedule(uint64_t seed, unsigned brk, bool tracing)
{
    sim *s = &g_sim;
    sim_reset(s, seed, brk, tracing);
    for (long i = 0; i < g_fault_steps && !s->violated; i++) sim_step(s, true, true);
    if (!s->violated) {
        heal_everything(s);
        quiet_phase(s);
    }
    if (!s->violated) final_checks(s);
    return !s->violated;
}

static void report_violation(uint64_t seed, unsigned brk)
{
    char why[512];
    memcpy(why, g_sim.why, sizeof why);
    sim_free(&g_sim);
    run_schedule(seed, brk, true); /* deterministic: the same run, traced */
    printf("seed %llu (break 0x%x) violated: %s\n", (unsigned long long)seed, brk, why);
    printf("last events (replay: REPL_SIM_SEED=%llu%s):\n", (unsigned long long)seed,
           brk ? " REPL_SIM_BREAK=<mask>" : "");
    print_trace(400);
    sim_free(&g_sim);
}

/* ---- tests ------------------------------------------------------------------------------------------ */

static long env_long(const char *name, long dflt)
{
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 0) : dflt;
}

typedef struct totals {
    long acked, failed, refused, reads, elections, truncations, snapshots, steps, switchovers;
    long takeovers;
} totals;

static void add_totals(totals *t, const sim *s)
{
    t->acked += s->acked;
    t->failed += s->failed;
    t->refused += s->refused;
    t->reads += s->reads;
    t->elections += s->elections;
    t->truncations += s->truncations;
    t->snapshots += s->snapshots;
    t->steps += s->steps;
    t->switchovers += s->switchovers;
    t->takeovers += s->takeovers;
}

static void test_random_schedules(void)
{
    long seeds = env_long("REPL_SIM_SEEDS", 3000);
    long first = env_long("REPL_SIM_FIRST", 1);
    totals t = {0};
    int bad = 0;
    for (long i = 0; i < seeds && bad < 3; i++) {
        uint64_t seed = (uint64_t)(first + i);
        bool ok = run_schedule(seed, 0, false);
        add_totals(&t, &g_sim);
        if (!ok) {
            bad++;
            report_violation(seed, 0);
        } else {
            sim_free(&g_sim);
        }
    }
    CHECK_EQ_INT(bad, 0);
    printf("%ld schedules (%ld steps): %ld writes acked, %ld failed, %ld refused, %ld lease reads, "
           "%ld elections (%ld switchovers started, %ld completed), %ld truncations, "
           "%ld snapshots\n",
           seeds, t.steps, t.acked, t.failed, t.refused, t.reads, t.elections, t.switchovers,
           t.takeovers, t.truncations, t.snapshots);
}

/* Each broken rule must be caught by the checker within a bounded number of
 * schedules: proof that the invariants above can fail. */
static void expect_detected(unsigned brk, const char *name, long max_seeds)
{
    for (long seed = 1; seed <= max_seeds; seed++) {
        bool ok = run_schedule((uint64_t)seed, brk, false);
        char why[512];
        memcpy(why, g_sim.why, sizeof why);
        sim_free(&g_sim);
        if (!ok) {
            printf("break %-15s detected at seed %ld: %s\n", name, seed, why);
            return;
        }
    }
    printf("break %-15s NOT detected in %ld schedules\n", name, max_seeds);
    CHECK(!"a broken rule went unnoticed");
}

static void test_checker_catches_ack_before_isr(void)
{
    expect_detected(REPL_BREAK_ACK_LOCAL, "ack-local", 200);
}

static void test_checker_catches_shrink_without_cas(void)
{
    expect_detected(REPL_BREAK_SHRINK_NO_CAS, "shrink-no-cas", 200);
}

static void test_checker_catches_reads_without_lease(void)
{
    expect_detected(REPL_BREAK_NO_LEASE, "no-lease", 200);
}

static void test_checker_catches_candidate_outside_isr(void)
{
    expect_detected(REPL_BREAK_ANY_CANDIDATE, "any-candidate", 200);
}

static void test_checker_catches_grow_without_waiting(void)
{
    expect_detected(REPL_BREAK_GROW_EARLY, "grow-early", 400);
}

static void test_checker_catches_two_primaries_in_one_epoch(void)
{
    expect_detected(SIM_BREAK_ZK_NO_CAS, "zk-no-cas", 400);
}

/* The per-epoch check of invariant 2 itself: no schedule reaches it even with
 * a broken arbiter (invariant 1 or progress fails first), so feed it two
 * acknowledgements in one epoch from two nodes directly. */
static void test_checker_catches_two_ackers_in_one_epoch(void)
{
    sim *s = &g_sim;
    sim_reset(s, 1, 0, false);
    s->zk.cfg.isr = 0; /* only invariant 2 is under test here */
    int a = new_write(s, 0, 1), b = new_write(s, 1, 1);
    s->w[a].end = s->w[b].end = 1;
    ack_writes(s, 0, 1, 7);
    CHECK(!s->violated);
    ack_writes(s, 1, 1, 7);
    CHECK(s->violated && strstr(s->why, "two nodes got writes acknowledged in epoch 7") != NULL);
    sim_free(s);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Without faults a switchover completes: the target becomes primary, every
 * acknowledged write survives, writes are acknowledged again soon after, and
 * no write waits longer than the handoff's few round trips. */
static void test_switchover_without_faults(void)
{
    long done = 0;
    int64_t took[200];
    for (uint64_t seed = 1; seed <= 200; seed++) {
        sim *s = &g_sim;
        sim_reset(s, seed, 0, seed == (uint64_t)env_long("REPL_SIM_SO_TRACE", 0));
        for (int i = 0; i < 300 && !s->violated; i++) sim_step(s, false, true);
        int p = s->zk.cfg.primary;
        if (p == REPL_NONE || s->nodes[p].sm.role != REPL_PRIMARY) {
            sim_free(s);
            continue;
        }
        int target = (p + 1 + rnd(s, N - 1)) % N;
        if (repl_switchover_refusal(&s->nodes[p].sm, target) != NULL) {
            sim_free(s);
            continue;
        }
        repl_event ev = {.type = REPL_EV_SWITCHOVER};
        ev.u.switchover.target = target;
        ev.u.switchover.timeout_ms = 1000;
        feed(s, p, &ev);
        int64_t t0 = s->now;
        while (s->now - t0 < 2000 && !s->violated &&
               !(s->zk.cfg.primary == target && s->nodes[target].sm.role == REPL_PRIMARY &&
                 repl_write_gate(&s->nodes[target].sm, s->now) == REPL_WRITE_OK))
            sim_step(s, false, true);
        if (s->zk.cfg.primary != target) {
            sim_free(s);
            CHECK(!"switchover did not complete without faults");
            return;
        }
        took[done++] = s->now - t0;
        if (s->tracing) print_trace(300);
        if (s->now - t0 > 300) printf("seed %llu: switchover took %lld ms\n", (unsigned long long)seed, (long long)(s->now - t0));
        heal_everything(s);
        quiet_phase(s);
        if (!s->violated) final_checks(s);
        if (s->violated) printf("seed %llu: %s\n", (unsigned long long)seed, s->why);
        CHECK(!s->violated);
        sim_free(s);
    }
    qsort(took, (size_t)done, sizeof took[0], cmp_i64);
    if (done > 0)
        printf("%ld switchovers without faults: median %lld, p90 %lld, max %lld simulated ms\n",
               done, (long long)took[done / 2], (long long)took[done * 9 / 10],
               (long long)took[done - 1]);
    CHECK(done >= 100);
}

/* Same seed, same run: the simulator is deterministic (so seeds replay). */
static void test_deterministic(void)
{
    run_schedule(42, 0, false);
    long a = g_sim.acked, st = g_sim.steps;
    int64_t now = g_sim.now;
    sim_free(&g_sim);
    run_schedule(42, 0, false);
    CHECK_EQ_INT(g_sim.acked, a);
    CHECK_EQ_INT(g_sim.steps, st);
    CHECK_EQ_INT(g_sim.now, now);
    sim_free(&g_sim);
}

int main(void)
{
    g_fault_steps = env_long("REPL_SIM_STEPS", g_fault_steps);
    g_fault_pct = (int)env_long("REPL_SIM_FAULT_PCT", g_fault_pct);
    long one = env_long("REPL_SIM_SEED", -1);
    if (one >= 0) { /* replay one schedule with its trace */
        unsigned brk = (unsigned)env_long("REPL_SIM_BREAK", 0);
        bool ok = run_schedule((uint64_t)one, brk, true);
        print_trace(env_long("REPL_SIM_TRACE_LINES", TRACE_LINES));
        printf("seed %ld: %s%s\n", one, ok ? "ok" : "VIOLATION: ", ok ? "" : g_sim.why);
        sim_free(&g_sim);
        return ok ? 0 : 1;
    }
    RUN(test_deterministic);
    RUN(test_random_schedules);
    RUN(test_switchover_without_faults);
    RUN(test_checker_catches_ack_before_isr);
    RUN(test_checker_catches_shrink_without_cas);
    RUN(test_checker_catches_reads_without_lease);
    RUN(test_checker_catches_candidate_outside_isr);
    RUN(test_checker_catches_grow_without_waiting);
    RUN(test_checker_catches_two_primaries_in_one_epoch);
    RUN(test_checker_catches_two_ackers_in_one_epoch);
    return TEST_REPORT();
}
