/* repl_sm.c — the replication and failover state machine: elections, ISR upkeep, fencing, stream acceptance. */
#include "repl_sm.h"
#include "../common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Always-on: a broken invariant here means the caller and the machine disagree
 * about the log; crash with context (a restart plus failover beats corrupt data). */
#define REPL_CHECK(cond)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            log_error("repl invariant failed: %s (%s:%d)", #cond, __FILE__, __LINE__);     \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

typedef unsigned long long ull; /* for printing offsets and epochs */

static int self_id(const repl_sm *sm)
{
    return sm->p.self;
}

static bool valid_node(int id)
{
    return id >= 0 && id < REPL_MAX_NODES;
}

static bool is_peer(const repl_sm *sm, int id)
{
    return valid_node(id) && id != self_id(sm) && repl_set_has(sm->cfg.members, id);
}

/* ---- actions ------------------------------------------------------------- */

static repl_action *emit(repl_sm *sm, repl_action_type type)
{
    REPL_CHECK(sm->out != NULL && sm->nout < sm->cap);
    repl_action *a = &sm->out[sm->nout++];
    memset(a, 0, sizeof *a);
    a->type = type;
    a->peer = REPL_NONE;
    return a;
}

static void say(repl_sm *sm, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(repl_sm *sm, int level, const char *fmt, ...)
{
    repl_action *a = emit(sm, REPL_ACT_LOG);
    a->reason = level;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->u.msg, sizeof a->u.msg, fmt, ap);
    va_end(ap);
}

static void read_config_now(repl_sm *sm)
{
    repl_action *a = emit(sm, REPL_ACT_READ_CONFIG);
    a->seq = ++sm->read_seq;
    sm->next_read_ms = sm->now + sm->p.retry_ms;
}

/* ---- histories ------------------------------------------------------------ */

static uint64_t seg_end(const repl_history *h, int i)
{
    return i + 1 < h->n ? h->seg[i + 1].start : h->end;
}

static bool seg_eq(const repl_segment *a, const repl_segment *b)
{
    return a->epoch == b->epoch && a->start == b->start;
}

/* The latest segment both hold proves their bytes equal up to its end in the
 * shorter of the two (every earlier byte came from the same primaries); past
 * it they differ, or one of them has no more bytes. */
uint64_t repl_common_prefix(const repl_history *a, const repl_history *b)
{
    for (int i = a->n - 1; i >= 0; i--)
        for (int j = b->n - 1; j >= 0; j--)
            if (seg_eq(&a->seg[i], &b->seg[j])) {
                uint64_t ea = seg_end(a, i), eb = seg_end(b, j);
                return ea < eb ? ea : eb;
            }
    return 0;
}

/* Input from the network is checked before use: epochs and starts strictly
 * ascending, every start within the log. */
static bool hist_valid(const repl_history *h)
{
    if (h == NULL || h->n < 0 || h->n > REPL_MAX_HISTORY) return false;
    for (int i = 0; i < h->n; i++) {
        if (h->seg[i].start > h->end) return false;
        if (i > 0 && (h->seg[i].start <= h->seg[i - 1].start ||
                      h->seg[i].epoch <= h->seg[i - 1].epoch))
            return false;
    }
    return true;
}

/* Index of the segment holding byte x, or -1. */
static int seg_at(const repl_history *h, uint64_t x)
{
    for (int i = h->n - 1; i >= 0; i--)
        if (h->seg[i].start <= x) return x < seg_end(h, i) ? i : -1;
    return -1;
}

/* Cut back to `to`: segments starting at or after it hold no byte any more. */
static void hist_truncate(repl_history *h, uint64_t to)
{
    while (h->n > 0 && h->seg[h->n - 1].start >= to) h->n--;
    h->end = to;
}

/* Open a segment at the end for the primary elected at epoch. An empty tip
 * names no byte and is replaced; the oldest segment goes when full. */
static void hist_push(repl_history *h, uint64_t epoch)
{
    if (h->n > 0 && h->seg[h->n - 1].start == h->end) h->n--;
    if (h->n == REPL_MAX_HISTORY) {
        memmove(h->seg, h->seg + 1, (REPL_MAX_HISTORY - 1) * sizeof h->seg[0]);
        h->n--;
    }
    h->seg[h->n].epoch = epoch;
    h->seg[h->n].start = h->end;
    h->n++;
}

/* Our bytes [0,end) now equal src's: take its history up to there. */
static void hist_adopt(repl_history *h, const repl_history *src, uint64_t end)
{
    h->n = 0;
    for (int i = 0; i < src->n && src->seg[i].start < end; i++) h->seg[h->n++] = src->seg[i];
    h->end = end;
}

/* ---- time-dependent predicates (also behind the public queries) ----------- */

static bool session_lost_at(const repl_sm *sm, int64_t now)
{
    return sm->sess.state == REPL_SESS_EXPIRED || sm->sess.state == REPL_SESS_NONE ||
           now >= sm->sess.last_ok_ms + sm->p.session_timeout_ms;
}

/* Behind for longer than the timeout, or silent that long: a member that
 * died while nothing was written is not "behind", yet the next write must
 * not wait for it (it is removed, or writes are refused with NOREPLICAS). */
static bool lagging_at(const repl_sm *sm, int id, int64_t now)
{
    const repl_peer *p = &sm->peers[id];
    if (now - p->heard_ms > sm->p.repl_timeout_ms) return true;
    bool behind = !p->has_ack || p->acked < sm->log.end;
    return behind && now - p->caught_up_ms > sm->p.repl_timeout_ms;
}

/* Asked for every client write (repl_write_gate): visits only the ISR's bits. */
static repl_set laggers_at(const repl_sm *sm, int64_t now)
{
    repl_set lag = 0;
    for (repl_set isr = repl_set_del(sm->cfg.isr, self_id(sm)); isr; isr &= isr - 1) {
        int id = __builtin_ctz(isr);
        if (lagging_at(sm, id, now)) lag = repl_set_add(lag, id);
    }
    return lag;
}

static int isr_replicas(const repl_sm *sm)
{
    return repl_set_count(repl_set_del(sm->cfg.isr, self_id(sm)));
}

/* Whose acks a write needs: the ISR, and while an ISR change is in flight the
 * proposed ISR too — whichever way the CAS ends, every member of the ISR in
 * force holds every acknowledged write. */
static repl_set ack_set(const repl_sm *sm)
{
    repl_set s = sm->cfg.isr;
    bool isr_cas = sm->cas.kind == REPL_CAS_SHRINK || sm->cas.kind == REPL_CAS_GROW;
    if (isr_cas && !(sm->p.test_break & REPL_BREAK_GROW_EARLY)) s |= sm->cas.proposal.isr;
    return repl_set_del(s, self_id(sm));
}

repl_refusal repl_write_gate(const repl_sm *sm, int64_t now_ms)
{
    if (sm->role == REPL_FENCED) return REPL_REFUSE_FENCED;
    if (sm->role != REPL_PRIMARY) return REPL_REFUSE_NOT_PRIMARY;
    if (session_lost_at(sm, now_ms)) return REPL_REFUSE_FENCED;
    if (sm->ho.active) return REPL_REFUSE_SWITCHING;
    int replicas = isr_replicas(sm);
    if (replicas < sm->p.min_sync_replicas) return REPL_REFUSE_NOREPLICAS;
    /* Laggers that may not be removed (min-sync-replicas) block every ack. */
    int lag = repl_set_count(laggers_at(sm, now_ms));
    if (lag > 0 && replicas - lag < sm->p.min_sync_replicas) return REPL_REFUSE_NOREPLICAS;
    return REPL_WRITE_OK;
}

/* The lease: nobody can be elected before our session expires on the server,
 * which is no sooner than the send time of its last answered request plus the
 * session timeout. */
bool repl_read_ok(const repl_sm *sm, int64_t now_ms)
{
    if (sm->p.test_break & REPL_BREAK_NO_LEASE)
        return sm->role == REPL_PRIMARY || sm->role == REPL_FENCED;
    if (sm->role != REPL_PRIMARY || sm->sess.state == REPL_SESS_EXPIRED ||
        sm->sess.state == REPL_SESS_NONE || sm->ho.sent)
        return false;
    return now_ms < sm->sess.last_ok_ms + sm->p.session_timeout_ms - sm->p.lease_margin_ms;
}

void repl_set_backlog(repl_sm *sm, uint64_t start)
{
    sm->backlog_start = start;
}

/* ---- roles ---------------------------------------------------------------- */

static void learn_lead(repl_sm *sm, uint64_t epoch, int primary)
{
    if (epoch > sm->lead_epoch || (epoch == sm->lead_epoch && sm->lead_primary == REPL_NONE)) {
        sm->lead_epoch = epoch;
        sm->lead_primary = primary;
    }
}

/* Every peer gets a fresh repl-timeout from now (election, resumption). */
static void reset_peer_clocks(repl_sm *sm)
{
    for (int id = 0; id < REPL_MAX_NODES; id++) {
        sm->peers[id].caught_up_ms = sm->now;
        sm->peers[id].heard_ms = sm->now;
        sm->peers[id].mark_set = false;
    }
}

static void enter_idle(repl_sm *sm)
{
    sm->role = REPL_IDLE;
    sm->following = REPL_NONE;
}

/* PRIMARY|FENCED -> IDLE: stop streaming; the caller follows whoever is next. */
static void step_down(repl_sm *sm, const char *why)
{
    for (int id = 0; id < REPL_MAX_NODES; id++) {
        if (!sm->peers[id].streaming) continue;
        repl_action *a = emit(sm, REPL_ACT_STOP_STREAM);
        a->peer = id;
    }
    memset(sm->peers, 0, sizeof sm->peers);
    if (sm->cas.kind == REPL_CAS_SHRINK || sm->cas.kind == REPL_CAS_GROW ||
        sm->cas.kind == REPL_CAS_RECLAIM)
        sm->cas.kind = REPL_CAS_NONE;
    memset(&sm->ho, 0, sizeof sm->ho);
    enter_idle(sm);
    say(sm, LOG_WARNING, "no longer primary: %s", why);
}

/* Ask `following` for its stream from our end (full: for a snapshot). */
static void request_stream(repl_sm *sm, bool full)
{
    repl_action *a = emit(sm, REPL_ACT_BECOME_REPLICA);
    a->peer = sm->following;
    a->epoch = sm->lead_epoch;
    a->offset = sm->log.end;
    a->full = full;
    a->u.hist = sm->log;
    sm->last_stream_ms = sm->now;
    sm->awaiting_stream = true;
}

static void start_following(repl_sm *sm, int primary)
{
    sm->role = REPL_REPLICA;
    sm->following = primary;
    sm->diverged = false;
    say(sm, LOG_NOTICE, "following %d in epoch %llu from offset %llu", primary,
        (ull)sm->lead_epoch, (ull)sm->log.end);
    request_stream(sm, false);
}

/* CANDIDATE -> PRIMARY: our segment starts at our (frozen) end. */
static void become_primary(repl_sm *sm)
{
    sm->role = REPL_PRIMARY;
    sm->promo_epoch = sm->cfg.epoch;
    hist_push(&sm->log, sm->cfg.epoch);
    /* Everything before our start may have been acknowledged by an earlier
     * primary: a member rejoins the ISR only once it holds all of it. */
    sm->commit = sm->log.end;
    sm->following = REPL_NONE;
    sm->diverged = sm->awaiting_stream = false;
    memset(sm->peers, 0, sizeof sm->peers);
    reset_peer_clocks(sm);
    sm->marker.known = sm->marker.present = true;
    sm->marker.holder = self_id(sm);
    sm->marker.epoch = sm->cfg.epoch;
    say(sm, LOG_NOTICE, "elected primary of epoch %llu at offset %llu", (ull)sm->cfg.epoch,
        (ull)sm->log.end);
}

/* Act on the latest config (after any CAS it resolved). */
static void follow_config(repl_sm *sm)
{
    const repl_config *c = &sm->cfg;
    int me = self_id(sm);
    if (sm->role == REPL_CANDIDATE) return; /* its CAS decides */
    /* A stream already showed a newer primary; the config will catch up. */
    if (sm->lead_epoch > c->epoch && sm->role == REPL_REPLICA &&
        sm->following == sm->lead_primary)
        return;
    if (c->primary == me) {
        /* Named but not primary in memory (restart, expired session): the
         * role is re-earned by CAS once the marker is gone. */
        if (sm->role == REPL_INIT || sm->role == REPL_REPLICA) enter_idle(sm);
        return;
    }
    if (sm->role == REPL_PRIMARY || sm->role == REPL_FENCED)
        step_down(sm, "a newer config names another primary");
    if (c->primary == REPL_NONE || !repl_set_has(c->members, me)) {
        enter_idle(sm);
        return;
    }
    if (sm->role == REPL_REPLICA && sm->following == c->primary) return;
    start_following(sm, c->primary);
}

/* ---- compare-and-set ------------------------------------------------------ */

static const char *cas_kind_name(repl_cas_kind k)
{
    switch (k) {
    case REPL_CAS_ELECT: return "election";
    case REPL_CAS_SHRINK: return "ISR shrink";
    case REPL_CAS_GROW: return "ISR grow";
    case REPL_CAS_TAKEOVER: return "takeover";
    case REPL_CAS_RECLAIM: return "reclaim";
    default: return "none";
    }
}

static void send_cas(repl_sm *sm, repl_cas_kind kind, const repl_config *prop)
{
    sm->cas.kind = kind;
    sm->cas.unknown = false;
    sm->cas.proposal = *prop;
    sm->cas.proposal.version = sm->cfg.version; /* the expected version */
    repl_action *a = emit(sm, REPL_ACT_CAS_CONFIG);
    a->epoch = prop->epoch;
    a->u.cas.config = sm->cas.proposal;
    a->u.cas.expected_version = sm->cfg.version;
    bool elect = kind == REPL_CAS_ELECT || kind == REPL_CAS_TAKEOVER;
    a->u.cas.with_marker = elect;
    a->u.cas.replace_marker = kind == REPL_CAS_TAKEOVER;
    if (elect) sm->my_marker_epoch = prop->epoch;
}

static void cas_succeeded(repl_sm *sm, int64_t version)
{
    repl_cas_kind kind = sm->cas.kind;
    sm->cas.kind = REPL_CAS_NONE;
    sm->cas.unknown = false;
    sm->cfg = sm->cas.proposal;
    sm->cfg.version = version;
    learn_lead(sm, sm->cfg.epoch, sm->cfg.primary);
    if (kind == REPL_CAS_ELECT || kind == REPL_CAS_TAKEOVER) {
        if (sm->role == REPL_CANDIDATE) become_primary(sm);
        return;
    }
    if (kind == REPL_CAS_RECLAIM) {
        say(sm, LOG_WARNING, "switchover to %d abandoned: primary again in epoch %llu",
            sm->ho.target, (ull)sm->cfg.epoch);
        memset(&sm->ho, 0, sizeof sm->ho);
        return;
    }
    say(sm, LOG_NOTICE, "in-sync set is now 0x%x in epoch %llu", (unsigned)sm->cfg.isr,
        (ull)sm->cfg.epoch);
}

/* my_marker_epoch stays: should the election have been applied after all,
 * the marker it created tells (check_resume). */
static void cas_failed(repl_sm *sm, const char *why)
{
    repl_cas_kind kind = sm->cas.kind;
    sm->cas.kind = REPL_CAS_NONE;
    sm->cas.unknown = false;
    bool elect = kind == REPL_CAS_ELECT || kind == REPL_CAS_TAKEOVER;
    if (elect && sm->role == REPL_CANDIDATE) enter_idle(sm);
    sm->marker.known = false; /* learn who holds the role now */
    say(sm, LOG_NOTICE, "%s CAS lost: %s", cas_kind_name(kind), why);
    read_config_now(sm);
}

static bool same_config(const repl_config *a, const repl_config *b)
{
    return a->epoch == b->epoch && a->primary == b->primary && a->isr == b->isr &&
           a->members == b->members;
}

/* A config newer than the expected version tells whether our CAS won. One at
 * the expected version says it was never applied only if it answers a read
 * sent after the result was lost (the coordinator handles a session's
 * requests in order); an older read or a watch says nothing. */
static void resolve_cas(repl_sm *sm, const repl_config *c, uint64_t read_seq)
{
    if (sm->cas.kind == REPL_CAS_NONE) return;
    if (c->version > sm->cas.proposal.version) {
        if (same_config(c, &sm->cas.proposal)) cas_succeeded(sm, c->version);
        else cas_failed(sm, "the config changed");
    } else if (sm->cas.unknown && c->version == sm->cas.proposal.version &&
               read_seq != 0 && read_seq >= sm->cas.settle_seq) {
        cas_failed(sm, "not applied");
    }
}

/* Results of CASes a config already settled are ignored: the answer to an
 * older proposal must not settle the one in flight. */
static void on_cas_result(repl_sm *sm, repl_cas_result r, int64_t version, uint64_t epoch)
{
    if (sm->cas.kind == REPL_CAS_NONE || epoch != sm->cas.proposal.epoch) return;
    if (r == REPL_CAS_OK) {
        if (version > sm->cfg.version) cas_succeeded(sm, version);
    } else if (r == REPL_CAS_UNKNOWN) {
        sm->cas.unknown = true;
        read_config_now(sm);
        sm->cas.settle_seq = sm->read_seq;
    } else {
        cas_failed(sm, "version mismatch, marker held or session gone");
    }
}

/* ---- coordinator events ---------------------------------------------------- */

static bool config_valid(const repl_config *c)
{
    if (c->members == 0 || (c->isr & ~c->members) != 0) return false;
    return c->primary == REPL_NONE || repl_set_has(c->isr, c->primary);
}

static void resume_handoff_request(repl_sm *sm);

static void on_config(repl_sm *sm, const repl_config *c, uint64_t read_seq)
{
    if (c->version < sm->cfg.version) return; /* older than what we know */
    if (!config_valid(c)) {
        say(sm, LOG_WARNING, "ignoring an invalid config (version %lld)", (long long)c->version);
        return;
    }
    resolve_cas(sm, c, read_seq);
    if (c->version > sm->cfg.version || sm->cfg.version < 0) sm->cfg = *c;
    learn_lead(sm, sm->cfg.epoch, sm->cfg.primary);
    follow_config(sm);
    resume_handoff_request(sm);
}

static void on_marker(repl_sm *sm, bool present, int holder, uint64_t epoch)
{
    sm->marker.known = true;
    sm->marker.present = present;
    sm->marker.holder = present ? holder : REPL_NONE;
    sm->marker.epoch = present ? epoch : 0;
}

static void on_session(repl_sm *sm, repl_session_state state, int64_t sent_ms)
{
    repl_session_state was = sm->sess.state;
    if (state == REPL_SESS_CONNECTED) {
        if (was == REPL_SESS_NONE || was == REPL_SESS_EXPIRED) sm->sess.last_ok_ms = sent_ms;
        if (sent_ms > sm->sess.last_ok_ms) sm->sess.last_ok_ms = sent_ms;
        sm->sess.state = REPL_SESS_CONNECTED;
        if (was != REPL_SESS_CONNECTED) read_config_now(sm); /* catch up on what we missed */
    } else if (state == REPL_SESS_DISCONNECTED) {
        if (was == REPL_SESS_CONNECTED) sm->sess.state = REPL_SESS_DISCONNECTED;
    } else if (state == REPL_SESS_EXPIRED) {
        sm->sess.state = REPL_SESS_EXPIRED;
        sm->my_marker_epoch = 0; /* our ephemerals are gone */
        sm->marker.known = false;
        if (sm->role == REPL_PRIMARY || sm->role == REPL_FENCED)
            step_down(sm, "coordinator session expired");
        if (sm->role == REPL_CANDIDATE) cas_failed(sm, "session expired");
    }
}

/* ---- primary --------------------------------------------------------------- */

/* Only the primary's own segment grows locally. A fenced primary may still
 * append (expiry or eviction deletes need no client): nothing of it is
 * acknowledged while fenced, and a successor's history truncates it. A
 * replica appending would corrupt its copy: crash. */
static void on_appended(repl_sm *sm, uint64_t end)
{
    REPL_CHECK((sm->role == REPL_PRIMARY || sm->role == REPL_FENCED) && end >= sm->log.end);
    uint64_t old = sm->log.end;
    sm->log.end = end;
    for (int id = 0; id < REPL_MAX_NODES; id++) {
        repl_peer *p = &sm->peers[id];
        if (p->has_ack && p->acked >= old) p->caught_up_ms = sm->now; /* held all before now */
        if (!p->mark_set) {
            p->mark_set = true;
            p->mark_off = end;
            p->mark_ms = sm->now;
        }
    }
}

/* caught_up_ms trails the truth by at most one ack round: an ack at or past
 * the mark proves the peer held everything appended before the mark's time. */
static void on_peer_ack(repl_sm *sm, int peer, uint64_t epoch, uint64_t offset)
{
    if (sm->role != REPL_PRIMARY || !is_peer(sm, peer)) return;
    if (epoch < sm->promo_epoch || epoch > sm->cfg.epoch) return; /* not this primaryship */
    if (offset > sm->log.end) {
        say(sm, LOG_WARNING, "peer %d acked %llu past our end %llu", peer, (ull)offset,
            (ull)sm->log.end);
        return;
    }
    repl_peer *p = &sm->peers[peer];
    p->has_ack = true;
    p->acked = offset;
    p->heard_ms = sm->now;
    if (offset >= sm->log.end) {
        p->caught_up_ms = sm->now;
        p->mark_set = false;
        return;
    }
    if (p->mark_set && offset >= p->mark_off && p->mark_ms > p->caught_up_ms)
        p->caught_up_ms = p->mark_ms;
    if (!p->mark_set || offset >= p->mark_off) {
        p->mark_set = true;
        p->mark_off = sm->log.end;
        p->mark_ms = sm->now;
    }
}

/* A replica asks for our stream: from the end of the prefix we share (it
 * drops what lies past it), or a snapshot when our backlog no longer reaches
 * back there or it asks for one. */
static void on_peer_sync(repl_sm *sm, int peer, uint64_t epoch, const repl_history *h,
                         bool full)
{
    if (sm->role != REPL_PRIMARY || !is_peer(sm, peer) || !hist_valid(h)) return;
    if (epoch > sm->cfg.epoch) read_config_now(sm);
    uint64_t t = repl_common_prefix(&sm->log, h);
    full = full || t < sm->backlog_start;
    repl_peer *p = &sm->peers[peer];
    if (p->has_ack && p->acked > t) p->acked = t;
    p->streaming = true;
    repl_action *a = emit(sm, REPL_ACT_START_STREAM);
    a->peer = peer;
    a->epoch = sm->cfg.epoch;
    a->offset = full ? 0 : t;
    a->full = full;
}

/* A refusal with a higher epoch means a newer config exists: read it (it
 * deposes us). A lower one refused a chunk sent before our own ISR change:
 * the replica re-syncs at the next gap. */
static void on_peer_refused(repl_sm *sm, int peer, uint64_t epoch)
{
    if ((sm->role != REPL_PRIMARY && sm->role != REPL_FENCED) || !is_peer(sm, peer)) return;
    if (epoch <= sm->cfg.epoch) return;
    if (sm->peers[peer].streaming) {
        sm->peers[peer].streaming = false;
        repl_action *a = emit(sm, REPL_ACT_STOP_STREAM);
        a->peer = peer;
    }
    say(sm, LOG_WARNING, "peer %d refused our stream: it has seen epoch %llu", peer, (ull)epoch);
    read_config_now(sm);
}

static void advance_commit(repl_sm *sm)
{
    uint64_t c = sm->log.end;
    if (!(sm->p.test_break & REPL_BREAK_ACK_LOCAL)) {
        repl_set need = ack_set(sm);
        for (int id = 0; id < REPL_MAX_NODES; id++) {
            if (!repl_set_has(need, id)) continue;
            if (!sm->peers[id].has_ack) return;
            if (sm->peers[id].acked < c) c = sm->peers[id].acked;
        }
    }
    if (c <= sm->commit) return;
    sm->commit = c;
    repl_action *a = emit(sm, REPL_ACT_ACK_WRITES);
    a->offset = c;
    a->epoch = sm->cfg.epoch;
}

/* Remove the laggers by CAS before acknowledging anything without them —
 * unless that leaves fewer than min-sync-replicas (then NOREPLICAS). */
static void maybe_shrink(repl_sm *sm, repl_set lag)
{
    if (isr_replicas(sm) - repl_set_count(lag) < sm->p.min_sync_replicas) return;
    repl_config prop = sm->cfg;
    prop.epoch++;
    prop.isr &= ~lag;
    if (sm->p.test_break & REPL_BREAK_SHRINK_NO_CAS) {
        sm->cfg.isr = prop.isr;
        return;
    }
    say(sm, LOG_WARNING, "removing lagging members 0x%x from the in-sync set", (unsigned)lag);
    send_cas(sm, REPL_CAS_SHRINK, &prop);
}

/* A member may rejoin once it holds every acknowledged write (acked >=
 * commit) and is near the end; from the CAS on, writes wait for it too. */
static bool rejoin_ready(const repl_sm *sm, int id)
{
    const repl_peer *p = &sm->peers[id];
    return p->has_ack && p->acked >= sm->commit && sm->now - p->heard_ms <= sm->p.repl_timeout_ms &&
           sm->log.end - p->acked <= sm->p.catchup_max_lag;
}

static void maybe_grow(repl_sm *sm)
{
    repl_set out = sm->cfg.members & ~sm->cfg.isr;
    for (int id = 0; id < REPL_MAX_NODES; id++) {
        if (!repl_set_has(out, id) || id == self_id(sm) || !rejoin_ready(sm, id)) continue;
        repl_config prop = sm->cfg;
        prop.epoch++;
        prop.isr = repl_set_add(prop.isr, id);
        say(sm, LOG_NOTICE, "member %d caught up: adding it to the in-sync set", id);
        send_cas(sm, REPL_CAS_GROW, &prop);
        return;
    }
}

static void maybe_change_isr(repl_sm *sm)
{
    if (sm->cas.kind != REPL_CAS_NONE || sm->sess.state != REPL_SESS_CONNECTED) return;
    if (sm->ho.sent) return; /* the target's takeover expects this config version */
    repl_set lag = laggers_at(sm, sm->now);
    if (lag) maybe_shrink(sm, lag);
    else maybe_grow(sm);
}

/* PRIMARY -> FENCED: past the session timeout without contact, the session
 * may have expired and someone else may be elected. */
static void check_fence(repl_sm *sm)
{
    if (sm->role != REPL_PRIMARY || !session_lost_at(sm, sm->now)) return;
    sm->role = REPL_FENCED;
    say(sm, LOG_WARNING, "fenced: no coordinator contact for %lld ms; writes refused",
        (long long)(sm->now - sm->sess.last_ok_ms));
}

/* The marker our live session created by an election CAS. */
static bool marker_mine(const repl_sm *sm)
{
    return sm->marker.known && sm->marker.present && sm->marker.holder == self_id(sm) &&
           sm->my_marker_epoch != 0 && sm->marker.epoch == sm->my_marker_epoch;
}

/* FENCED -> PRIMARY: the same session answered again, so our marker lived
 * throughout and nobody can have been elected.
 * IDLE|REPLICA -> PRIMARY: the config names us and the marker is the one our
 * session created: our election was applied although its result was lost.
 * Nobody else can be elected while that marker lives; our segment starts at
 * our end now, which holds everything acknowledged so far. */
static void check_resume(repl_sm *sm)
{
    if (sm->sess.state != REPL_SESS_CONNECTED || session_lost_at(sm, sm->now)) return;
    if (sm->cfg.primary != self_id(sm) || sm->lead_epoch > sm->cfg.epoch) return; /* newer news */
    if (sm->role == REPL_FENCED) {
        sm->role = REPL_PRIMARY;
        reset_peer_clocks(sm);
        say(sm, LOG_NOTICE, "coordinator session back: primary again in epoch %llu",
            (ull)sm->cfg.epoch);
        return;
    }
    bool settled = sm->role == REPL_IDLE || sm->role == REPL_REPLICA;
    if (settled && sm->cas.kind == REPL_CAS_NONE && !sm->loading && marker_mine(sm) &&
        sm->cfg.epoch == sm->my_marker_epoch) {
        say(sm, LOG_NOTICE, "our election of epoch %llu was applied after all", (ull)sm->cfg.epoch);
        become_primary(sm);
    }
}

/* ---- elections ---------------------------------------------------------------- */

static bool may_propose(const repl_sm *sm)
{
    int me = self_id(sm);
    if (sm->role != REPL_IDLE && sm->role != REPL_REPLICA) return false;
    if (sm->cas.kind != REPL_CAS_NONE || sm->sess.state != REPL_SESS_CONNECTED) return false;
    if (sm->cfg.version < 0 || !sm->marker.known || sm->marker.present) return false;
    if (sm->loading || !repl_set_has(sm->cfg.members, me)) return false;
    return repl_set_has(sm->cfg.isr, me) || (sm->p.test_break & REPL_BREAK_ANY_CANDIDATE);
}

/* IDLE|REPLICA -> CANDIDATE: every ISR member holds every acknowledged write,
 * so any of them may take over; the CAS (with the marker) picks one. */
static void maybe_propose(repl_sm *sm)
{
    if (!may_propose(sm)) return;
    repl_config prop = sm->cfg;
    prop.epoch = sm->cfg.epoch + 1;
    prop.primary = self_id(sm);
    prop.isr = repl_set_add(repl_set_del(sm->cfg.isr, sm->cfg.primary), self_id(sm));
    say(sm, LOG_NOTICE, "primary marker gone: proposing self for epoch %llu at offset %llu",
        (ull)prop.epoch, (ull)sm->log.end);
    send_cas(sm, REPL_CAS_ELECT, &prop);
    sm->role = REPL_CANDIDATE;
}

/* ---- planned switchover ------------------------------------------------------- */

int repl_switchover_pick(const repl_sm *sm)
{
    int best = REPL_NONE;
    uint64_t best_acked = 0;
    repl_set isr = repl_set_del(sm->cfg.isr, self_id(sm));
    for (int id = 0; id < REPL_MAX_NODES; id++) {
        if (!repl_set_has(isr, id)) continue;
        uint64_t acked = sm->peers[id].has_ack ? sm->peers[id].acked : 0;
        if (best == REPL_NONE || acked > best_acked) {
            best = id;
            best_acked = acked;
        }
    }
    return best;
}

const char *repl_switchover_refusal(const repl_sm *sm, int target)
{
    if (sm->role != REPL_PRIMARY) return "this node is not a serving primary";
    if (sm->ho.active) return "a switchover is already under way";
    if (target == REPL_NONE) return "there is no in-sync replica to hand over to";
    if (target == self_id(sm)) return "the target is this node";
    if (!is_peer(sm, target)) return "the target is not a member of the group";
    if (!repl_set_has(sm->cfg.isr, target)) return "the target is not in the in-sync set";
    if (sm->sess.state != REPL_SESS_CONNECTED) return "the ZooKeeper session is not connected";
    return NULL;
}

bool repl_switching(const repl_sm *sm)
{
    return sm->ho.active;
}

/* Before the handoff went out nobody else can act on it: just serve again.
 * After, the target may be mid-CAS: reclaim first (drive_switchover). */
static void abort_switchover(repl_sm *sm, const char *why)
{
    if (!sm->ho.active) return;
    if (sm->ho.sent) {
        sm->ho.deadline_ms = sm->now;
        return;
    }
    say(sm, LOG_WARNING, "switchover to %d cancelled: %s; serving again", sm->ho.target, why);
    memset(&sm->ho, 0, sizeof sm->ho);
}

static void on_switchover(repl_sm *sm, int target, int64_t timeout_ms)
{
    if (target == REPL_NONE) {
        abort_switchover(sm, "aborted by the operator");
        return;
    }
    const char *why = repl_switchover_refusal(sm, target);
    if (why != NULL) {
        say(sm, LOG_WARNING, "switchover to %d refused: %s", target, why);
        return;
    }
    memset(&sm->ho, 0, sizeof sm->ho);
    sm->ho.active = true;
    sm->ho.target = target;
    sm->ho.deadline_ms = sm->now + timeout_ms;
    say(sm, LOG_NOTICE, "switchover to %d: clients paused until it holds our log (offset %llu)",
        target, (ull)sm->log.end);
}

/* The target and every ISR member hold our whole log and no ISR change is in
 * flight: hand over. From now on we serve nothing until the outcome is known. */
static void send_handoff(repl_sm *sm)
{
    repl_action *a = emit(sm, REPL_ACT_SEND_HANDOFF);
    a->peer = sm->ho.target;
    a->epoch = sm->cfg.epoch;
    a->offset = sm->log.end;
    sm->ho.sent = true;
    if (sm->ho.deadline_ms < sm->now + sm->p.retry_ms) sm->ho.deadline_ms = sm->now + sm->p.retry_ms;
    say(sm, LOG_NOTICE, "switchover: %d holds our log up to %llu; handing over in epoch %llu",
        sm->ho.target, (ull)sm->log.end, (ull)sm->cfg.epoch);
}

/* The handoff went unanswered: a new config version makes any takeover CAS
 * still in flight fail; if the takeover won instead, this CAS fails and the
 * new config deposes us. */
static void reclaim(repl_sm *sm)
{
    repl_config prop = sm->cfg;
    prop.epoch++;
    say(sm, LOG_WARNING, "switchover to %d unanswered: reclaiming the role in epoch %llu",
        sm->ho.target, (ull)prop.epoch);
    send_cas(sm, REPL_CAS_RECLAIM, &prop);
}

static void drive_switchover(repl_sm *sm)
{
    if (!sm->ho.active) return;
    bool coord_idle = sm->cas.kind == REPL_CAS_NONE && sm->sess.state == REPL_SESS_CONNECTED;
    if (sm->ho.sent) {
        if (sm->now >= sm->ho.deadline_ms && coord_idle) reclaim(sm);
        return;
    }
    if (!repl_set_has(sm->cfg.isr, sm->ho.target)) {
        abort_switchover(sm, "the target left the in-sync set");
        return;
    }
    if (sm->now >= sm->ho.deadline_ms) {
        abort_switchover(sm, "the target did not catch up in time");
        return;
    }
    const repl_peer *t = &sm->peers[sm->ho.target];
    bool held = sm->commit >= sm->log.end && t->has_ack && t->acked >= sm->log.end;
    if (held && coord_idle) send_handoff(sm);
}

static const char *takeover_refusal(const repl_sm *sm, int from, uint64_t epoch, uint64_t end)
{
    if (sm->role != REPL_REPLICA || sm->following != from) return "we do not follow it";
    if (sm->cfg.primary != from || sm->cfg.epoch != epoch || sm->lead_epoch > epoch)
        return "our config is not the one it handed over in";
    if (sm->log.end != end) return "our log does not end where its log ends";
    if (sm->loading || sm->diverged) return "we are resyncing";
    if (!repl_set_has(sm->cfg.isr, self_id(sm))) return "we are not in the in-sync set";
    if (sm->cas.kind != REPL_CAS_NONE || sm->sess.state != REPL_SESS_CONNECTED)
        return "the coordinator is busy or unreachable";
    return NULL;
}

/* REPLICA -> CANDIDATE by the primary's handoff: we hold its whole log, in
 * which every write it acknowledged lies, so we may take over while its
 * marker still lives; the CAS replaces the marker and keeps the ISR (the old
 * primary included: it holds the same log). */
static void try_takeover(repl_sm *sm, int from, uint64_t epoch, uint64_t end)
{
    const char *why = takeover_refusal(sm, from, epoch, end);
    if (why != NULL) {
        say(sm, LOG_WARNING, "not taking over from %d: %s", from, why);
        return;
    }
    repl_config prop = sm->cfg;
    prop.epoch = sm->cfg.epoch + 1;
    prop.primary = self_id(sm);
    say(sm, LOG_NOTICE, "planned switchover: taking over from %d for epoch %llu at offset %llu",
        from, (ull)prop.epoch, (ull)end);
    send_cas(sm, REPL_CAS_TAKEOVER, &prop);
    sm->role = REPL_CANDIDATE;
}

static void on_handoff(repl_sm *sm, int from, uint64_t epoch, uint64_t end)
{
    if (!valid_node(from)) return;
    if (epoch > sm->cfg.epoch) { /* the primary's config is newer than ours: read it first */
        sm->ho_req.pending = true;
        sm->ho_req.from = from;
        sm->ho_req.epoch = epoch;
        sm->ho_req.end = end;
        read_config_now(sm);
        return;
    }
    try_takeover(sm, from, epoch, end);
}

static void resume_handoff_request(repl_sm *sm)
{
    if (!sm->ho_req.pending || sm->cfg.epoch < sm->ho_req.epoch) return;
    sm->ho_req.pending = false;
    try_takeover(sm, sm->ho_req.from, sm->ho_req.epoch, sm->ho_req.end);
}

/* ---- replica ------------------------------------------------------------------ */

static void refuse_stream(repl_sm *sm, int from)
{
    if (!valid_node(from)) return;
    repl_action *a = emit(sm, REPL_ACT_REFUSE_STREAM);
    a->peer = from;
    a->epoch = sm->lead_epoch;
}

/* Fencing: nothing from below the highest epoch seen, nor from a second node
 * claiming it; a candidate's log stays frozen; a primary yields only to a
 * newer epoch. */
static bool stream_ok(const repl_sm *sm, const repl_event *ev)
{
    int from = ev->u.stream.from;
    uint64_t epoch = ev->u.stream.epoch;
    const repl_history *h = ev->u.stream.hist;
    if (!valid_node(from) || from == self_id(sm) || !hist_valid(h) || h->n == 0) return false;
    if (ev->u.stream.offset > h->end || h->end - ev->u.stream.offset != ev->u.stream.len)
        return false;
    if (ev->u.stream.full && ev->u.stream.offset != 0) return false;
    bool fenced = epoch < sm->lead_epoch ||
                  (epoch == sm->lead_epoch && sm->lead_primary != REPL_NONE &&
                   sm->lead_primary != from);
    if (fenced) return false;
    if (sm->role == REPL_CANDIDATE) return false;
    if (sm->role == REPL_PRIMARY || sm->role == REPL_FENCED) return epoch > sm->cfg.epoch;
    return true;
}

/* The stream is legitimate: make its sender the one we follow. */
static void adopt_sender(repl_sm *sm, int from, uint64_t epoch)
{
    if (epoch > sm->lead_epoch && epoch > sm->cfg.epoch) read_config_now(sm);
    learn_lead(sm, epoch, from);
    if (sm->role == REPL_REPLICA && sm->following == from) return;
    if (sm->role == REPL_PRIMARY || sm->role == REPL_FENCED)
        step_down(sm, "a primary of a newer epoch streams to us");
    sm->role = REPL_REPLICA;
    sm->following = from;
    sm->diverged = false;
    sm->awaiting_stream = false;
    say(sm, LOG_NOTICE, "following %d (its stream, epoch %llu)", from, (ull)epoch);
}

static void send_ack(repl_sm *sm, uint64_t epoch)
{
    if (epoch > sm->ack_epoch) sm->ack_epoch = epoch;
    if (sm->loading) return; /* RESYNC_DONE acks */
    repl_action *a = emit(sm, REPL_ACT_SEND_ACK);
    a->peer = sm->following;
    a->epoch = sm->ack_epoch;
    a->offset = sm->log.end;
}

/* We hold bytes past t. Were they only sent earlier by the same primary (the
 * chunk ends at t, and our byte at t lies in the sender's current segment)? */
static bool holds_more_of_same(const repl_sm *sm, const repl_history *h, uint64_t t)
{
    if (t != h->end) return false;
    int i = seg_at(&sm->log, t);
    return i >= 0 && seg_eq(&sm->log.seg[i], &h->seg[h->n - 1]);
}

/* Our log left the sender's history at t: the tail was never acknowledged
 * (the sender, not fenced, holds every acknowledged write). Returns whether
 * the chunk can still be used. */
static bool diverge(repl_sm *sm, uint64_t t)
{
    if (sm->p.can_truncate) {
        say(sm, LOG_WARNING, "log left the primary's history at %llu: dropping %llu bytes",
            (ull)t, (ull)(sm->log.end - t));
        repl_action *a = emit(sm, REPL_ACT_TRUNCATE);
        a->offset = t;
        hist_truncate(&sm->log, t);
        return true;
    }
    say(sm, LOG_WARNING, "log left the primary's history at %llu: full resync", (ull)t);
    sm->diverged = true;
    request_stream(sm, true);
    return false;
}

static void take_chunk(repl_sm *sm, const repl_event *ev)
{
    const repl_history *h = ev->u.stream.hist;
    uint64_t end = h->end;
    if (sm->diverged) return; /* waiting for the snapshot */
    uint64_t t = repl_common_prefix(&sm->log, h);
    if (t < sm->log.end) {
        if (holds_more_of_same(sm, h, t)) return; /* an old chunk */
        if (!diverge(sm, t)) return;
    }
    if (ev->u.stream.offset > sm->log.end) { /* a gap: chunks were lost */
        if (!sm->awaiting_stream) request_stream(sm, false);
        return;
    }
    if (end > sm->log.end) {
        repl_action *a = emit(sm, REPL_ACT_APPLY);
        a->offset = sm->log.end;
        a->len = end - sm->log.end;
        hist_adopt(&sm->log, h, end);
    }
    sm->last_stream_ms = sm->now;
    sm->awaiting_stream = false;
    send_ack(sm, ev->u.stream.epoch);
}

/* The adapter swaps the dataset atomically at RESYNC_DONE: until then this
 * node still holds its old log, which may be needed for an election. */
static void take_snapshot(repl_sm *sm, const repl_event *ev)
{
    const repl_history *h = ev->u.stream.hist;
    uint64_t t = repl_common_prefix(&sm->log, h);
    if (t < sm->log.end && holds_more_of_same(sm, h, t)) return; /* an old snapshot */
    repl_action *a = emit(sm, REPL_ACT_APPLY);
    a->full = true;
    a->offset = 0;
    a->len = h->end;
    hist_adopt(&sm->log, h, h->end);
    sm->diverged = sm->awaiting_stream = false;
    sm->loading = true;
    sm->last_stream_ms = sm->now;
    say(sm, LOG_NOTICE, "full resync from %d: %llu bytes", ev->u.stream.from, (ull)h->end);
    send_ack(sm, ev->u.stream.epoch);
}

static void on_stream(repl_sm *sm, const repl_event *ev)
{
    if (!stream_ok(sm, ev)) {
        refuse_stream(sm, ev->u.stream.from);
        return;
    }
    adopt_sender(sm, ev->u.stream.from, ev->u.stream.epoch);
    if (ev->u.stream.full) take_snapshot(sm, ev);
    else take_chunk(sm, ev);
}

static void on_resync_done(repl_sm *sm, uint64_t end)
{
    (void)end; /* the snapshot's end; chunks queued behind it may have moved ours */
    if (!sm->loading) return;
    sm->loading = false;
    if (sm->role == REPL_REPLICA) send_ack(sm, sm->ack_epoch);
}

/* ---- timers --------------------------------------------------------------------- */

static bool waiting_on_coordinator(const repl_sm *sm)
{
    if (sm->sess.state != REPL_SESS_CONNECTED) return false;
    return sm->role == REPL_INIT || sm->role == REPL_IDLE || sm->role == REPL_CANDIDATE ||
           sm->cas.unknown || !sm->marker.known;
}

static void on_tick(repl_sm *sm)
{
    if (sm->role == REPL_REPLICA && !sm->loading &&
        sm->now - sm->last_stream_ms >= sm->p.resync_ms)
        request_stream(sm, sm->diverged);
    if (waiting_on_coordinator(sm) && sm->now >= sm->next_read_ms) read_config_now(sm);
    if (sm->role != REPL_PRIMARY) return;
    for (int id = 0; id < REPL_MAX_NODES; id++) { /* idle: whoever holds the end is caught up */
        repl_peer *p = &sm->peers[id];
        if (p->has_ack && p->acked >= sm->log.end) {
            p->caught_up_ms = sm->now;
            p->mark_set = false;
        }
    }
}

/* ---- the step ---------------------------------------------------------------------- */

/* Derived actions after any event: fencing first (so a primary that was
 * paused never acknowledges before noticing), then acks and ISR upkeep, then
 * elections, then the write and read edges. */
static void reconcile(repl_sm *sm)
{
    check_fence(sm);
    check_resume(sm);
    if (sm->role == REPL_PRIMARY) {
        advance_commit(sm);
        drive_switchover(sm);
        maybe_change_isr(sm);
    }
    maybe_propose(sm);
    repl_refusal g = repl_write_gate(sm, sm->now);
    if (g != sm->gate) {
        repl_action *a = emit(sm, g == REPL_WRITE_OK ? REPL_ACT_ACCEPT_WRITES : REPL_ACT_REFUSE_WRITES);
        a->reason = g;
        sm->gate = g;
    }
    bool r = repl_read_ok(sm, sm->now);
    if (r != sm->reads) {
        emit(sm, r ? REPL_ACT_SERVE_READS : REPL_ACT_STOP_READS);
        sm->reads = r;
    }
}

static void dispatch(repl_sm *sm, const repl_event *ev)
{
    switch (ev->type) {
    case REPL_EV_TICK: on_tick(sm); break;
    case REPL_EV_CONFIG: on_config(sm, &ev->u.config.cfg, ev->u.config.read_seq); break;
    case REPL_EV_MARKER:
        on_marker(sm, ev->u.marker.present, ev->u.marker.holder, ev->u.marker.epoch);
        break;
    case REPL_EV_CAS_RESULT:
        on_cas_result(sm, ev->u.cas.result, ev->u.cas.version, ev->u.cas.epoch);
        break;
    case REPL_EV_SESSION: on_session(sm, ev->u.session.state, ev->u.session.sent_ms); break;
    case REPL_EV_APPENDED: on_appended(sm, ev->u.appended.end); break;
    case REPL_EV_PEER_SYNC:
        on_peer_sync(sm, ev->u.sync.peer, ev->u.sync.epoch, ev->u.sync.hist, ev->u.sync.full);
        break;
    case REPL_EV_PEER_ACK:
        on_peer_ack(sm, ev->u.ack.peer, ev->u.ack.epoch, ev->u.ack.offset);
        break;
    case REPL_EV_PEER_REFUSED: on_peer_refused(sm, ev->u.refused.peer, ev->u.refused.epoch); break;
    case REPL_EV_STREAM: on_stream(sm, ev); break;
    case REPL_EV_RESYNC_DONE: on_resync_done(sm, ev->u.resync.end); break;
    case REPL_EV_SWITCHOVER:
        on_switchover(sm, ev->u.switchover.target, ev->u.switchover.timeout_ms);
        break;
    case REPL_EV_HANDOFF:
        on_handoff(sm, ev->u.handoff.from, ev->u.handoff.epoch, ev->u.handoff.end);
        break;
    }
}

int repl_step(repl_sm *sm, const repl_event *ev, int64_t now_ms, repl_action *out, int cap)
{
    REPL_CHECK(out != NULL && cap >= REPL_MAX_ACTIONS);
    if (now_ms > sm->now) sm->now = now_ms;
    sm->out = out;
    sm->nout = 0;
    sm->cap = cap;
    dispatch(sm, ev);
    reconcile(sm);
    int n = sm->nout;
    sm->out = NULL;
    sm->nout = sm->cap = 0;
    return n;
}

void repl_init(repl_sm *sm, const repl_params *p, const repl_history *restored)
{
    memset(sm, 0, sizeof *sm);
    sm->p = *p;
    sm->role = REPL_INIT;
    sm->cfg.version = -1;
    sm->cfg.primary = REPL_NONE;
    sm->lead_primary = REPL_NONE;
    sm->marker.holder = REPL_NONE;
    sm->following = REPL_NONE;
    sm->gate = REPL_REFUSE_NOT_PRIMARY;
    if (restored != NULL) {
        REPL_CHECK(hist_valid(restored));
        sm->log = *restored;
        /* We accepted data of the tip's epoch once: older streams stay fenced. */
        if (restored->n > 0) sm->lead_epoch = restored->seg[restored->n - 1].epoch;
    }
}

/* ---- names ------------------------------------------------------------------------- */

const char *repl_role_name(repl_role r)
{
    static const char *const names[] = {"init", "idle", "replica", "candidate", "primary",
                                        "fenced"};
    return (unsigned)r < sizeof names / sizeof names[0] ? names[r] : "?";
}

const char *repl_event_name(repl_event_type t)
{
    static const char *const names[] = {"tick",      "config",       "marker", "cas-result",
                                        "session",   "appended",     "peer-sync", "peer-ack",
                                        "peer-refused", "stream",    "resync-done",
                                        "switchover", "handoff"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

const char *repl_action_name(repl_action_type t)
{
    static const char *const names[] = {
        "cas-config",  "read-config",  "start-stream", "stop-stream",  "ack-writes",
        "refuse-writes", "accept-writes", "become-replica", "truncate", "apply",
        "send-ack",    "refuse-stream", "stop-reads",  "serve-reads",  "log",
        "send-handoff"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

const char *repl_refusal_name(repl_refusal r)
{
    static const char *const names[] = {"ok", "not-primary", "fenced", "noreplicas",
                                        "switching"};
    return (unsigned)r < sizeof names / sizeof names[0] ? names[r] : "?";
}
