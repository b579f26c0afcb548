/* test_repl_sm.c — the replication state machine's transitions, one scenario at a time, in simulated time. */
#include "test.h"
#include "repl/repl_sm.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ---- harness -------------------------------------------------------------- */

static repl_action A[REPL_MAX_ACTIONS];
static int NA;

static void step(repl_sm *sm, const repl_event *ev, int64_t now)
{
    NA = repl_step(sm, ev, now, A, REPL_MAX_ACTIONS);
}

static int count(repl_action_type t)
{
    int k = 0;
    for (int i = 0; i < NA; i++) k += A[i].type == t;
    return k;
}

static const repl_action *find(repl_action_type t)
{
    for (int i = 0; i < NA; i++)
        if (A[i].type == t) return &A[i];
    return NULL;
}

static const repl_action *find_peer(repl_action_type t, int peer)
{
    for (int i = 0; i < NA; i++)
        if (A[i].type == t && A[i].peer == peer) return &A[i];
    return NULL;
}

static repl_params params(int self)
{
    repl_params p = {0};
    p.self = self;
    p.session_timeout_ms = 1000;
    p.lease_margin_ms = 100;
    p.repl_timeout_ms = 500;
    p.resync_ms = 300;
    p.retry_ms = 200;
    p.can_truncate = true;
    return p;
}

static repl_config cfgof(uint64_t epoch, int64_t version, int primary, repl_set isr,
                         repl_set members)
{
    repl_config c = {.epoch = epoch, .version = version, .primary = primary, .isr = isr,
                     .members = members};
    return c;
}

static repl_history mkhist(uint64_t end, int n, const uint64_t *pairs)
{
    repl_history h = {.n = n, .end = end};
    for (int i = 0; i < n; i++) {
        h.seg[i].epoch = pairs[2 * i];
        h.seg[i].start = pairs[2 * i + 1];
    }
    return h;
}
/* HIST(end, epoch0, start0, epoch1, start1, ...) */
#define HIST(end, ...)                                                                     \
    mkhist(end, (int)(sizeof((uint64_t[]){__VA_ARGS__}) / sizeof(uint64_t) / 2),          \
           (uint64_t[]){__VA_ARGS__})
static const repl_history EMPTY = {0};

static void tick(repl_sm *sm, int64_t now)
{
    repl_event ev = {.type = REPL_EV_TICK};
    step(sm, &ev, now);
}

static void config(repl_sm *sm, repl_config c, uint64_t read_seq, int64_t now)
{
    repl_event ev = {.type = REPL_EV_CONFIG};
    ev.u.config.cfg = c;
    ev.u.config.read_seq = read_seq;
    step(sm, &ev, now);
}

static void marker(repl_sm *sm, bool present, int holder, uint64_t epoch, int64_t now)
{
    repl_event ev = {.type = REPL_EV_MARKER};
    ev.u.marker.present = present;
    ev.u.marker.holder = holder;
    ev.u.marker.epoch = epoch;
    step(sm, &ev, now);
}

static void session(repl_sm *sm, repl_session_state st, int64_t sent, int64_t now)
{
    repl_event ev = {.type = REPL_EV_SESSION};
    ev.u.session.state = st;
    ev.u.session.sent_ms = sent;
    step(sm, &ev, now);
}

static void cas(repl_sm *sm, repl_cas_result r, int64_t version, uint64_t epoch, int64_t now)
{
    repl_event ev = {.type = REPL_EV_CAS_RESULT};
    ev.u.cas.result = r;
    ev.u.cas.version = version;
    ev.u.cas.epoch = epoch;
    step(sm, &ev, now);
}

static void appended(repl_sm *sm, uint64_t end, int64_t now)
{
    repl_event ev = {.type = REPL_EV_APPENDED};
    ev.u.appended.end = end;
    step(sm, &ev, now);
}

static void ack(repl_sm *sm, int peer, uint64_t epoch, uint64_t off, int64_t now)
{
    repl_event ev = {.type = REPL_EV_PEER_ACK};
    ev.u.ack.peer = peer;
    ev.u.ack.epoch = epoch;
    ev.u.ack.offset = off;
    step(sm, &ev, now);
}

static void sync_req(repl_sm *sm, int peer, uint64_t epoch, repl_history h, bool full,
                     int64_t now)
{
    repl_event ev = {.type = REPL_EV_PEER_SYNC};
    ev.u.sync.peer = peer;
    ev.u.sync.epoch = epoch;
    ev.u.sync.hist = &h;
    ev.u.sync.full = full;
    step(sm, &ev, now);
}

static void refused(repl_sm *sm, int peer, uint64_t epoch, int64_t now)
{
    repl_event ev = {.type = REPL_EV_PEER_REFUSED};
    ev.u.refused.peer = peer;
    ev.u.refused.epoch = epoch;
    step(sm, &ev, now);
}

/* A chunk [off, hist.end) from `from`, or a snapshot of hist.end bytes. */
static void stream(repl_sm *sm, int from, uint64_t epoch, repl_history h, uint64_t off,
                   bool full, int64_t now)
{
    repl_event ev = {.type = REPL_EV_STREAM};
    ev.u.stream.from = from;
    ev.u.stream.epoch = epoch;
    ev.u.stream.hist = &h;
    ev.u.stream.offset = off;
    ev.u.stream.len = h.end - off;
    ev.u.stream.full = full;
    step(sm, &ev, now);
}

static void resync_done(repl_sm *sm, uint64_t end, int64_t now)
{
    repl_event ev = {.type = REPL_EV_RESYNC_DONE};
    ev.u.resync.end = end;
    step(sm, &ev, now);
}

/* Node `self` elected at epoch 1 (config version 1) from the bootstrap config. */
static void make_primary_p(repl_sm *sm, repl_params p, repl_set isr, repl_set members)
{
    repl_init(sm, &p, NULL);
    session(sm, REPL_SESS_CONNECTED, 0, 0);
    config(sm, cfgof(0, 0, REPL_NONE, isr, members), 1, 0);
    marker(sm, false, REPL_NONE, 0, 0);
    cas(sm, REPL_CAS_OK, 1, 1, 0);
}

static void make_primary(repl_sm *sm, int self, repl_set isr, repl_set members)
{
    make_primary_p(sm, params(self), isr, members);
}

/* Node `self` replica of primary 0 at epoch 1 (version 1), in isr. */
static void make_replica_p(repl_sm *sm, repl_params p, repl_set isr)
{
    repl_init(sm, &p, NULL);
    session(sm, REPL_SESS_CONNECTED, 0, 0);
    config(sm, cfgof(1, 1, 0, isr, 7), 1, 0);
    marker(sm, true, 0, 1, 0);
}

static void make_replica(repl_sm *sm, int self, repl_set isr)
{
    make_replica_p(sm, params(self), isr);
}

/* ---- histories ---------------------------------------------------------------- */

static void test_common_prefix(void)
{
    repl_history a = HIST(60, 1, 0), b = HIST(80, 1, 0, 2, 50);
    CHECK_EQ_INT(repl_common_prefix(&EMPTY, &b), 0);
    CHECK_EQ_INT(repl_common_prefix(&a, &EMPTY), 0);
    CHECK_EQ_INT(repl_common_prefix(&a, &b), 50); /* a's tail past 50 is not b's */
    CHECK_EQ_INT(repl_common_prefix(&b, &a), 50);
    repl_history c = HIST(40, 1, 0);
    CHECK_EQ_INT(repl_common_prefix(&c, &b), 40); /* c is a prefix of b */
    repl_history d = HIST(120, 1, 0, 3, 100), e = HIST(150, 1, 0, 4, 120);
    CHECK_EQ_INT(repl_common_prefix(&d, &e), 100); /* siblings: both extend epoch 1 */
    repl_history f = HIST(30, 2, 0), g = HIST(30, 5, 0);
    CHECK_EQ_INT(repl_common_prefix(&f, &g), 0);
    repl_history trimmed = HIST(250, 5, 100, 7, 200), full = HIST(300, 3, 0, 5, 100, 7, 200);
    CHECK_EQ_INT(repl_common_prefix(&trimmed, &full), 250);
    repl_history empty_tip = HIST(50, 1, 0, 3, 50);
    CHECK_EQ_INT(repl_common_prefix(&empty_tip, &a), 50);
    CHECK_EQ_INT(repl_common_prefix(&b, &b), 80);
}

/* Each new primaryship opens a segment; at REPL_MAX_HISTORY the oldest goes. */
static void test_history_trimmed(void)
{
    repl_sm sm;
    make_primary(&sm, 0, 1, 1);
    int64_t t = 0;
    for (int round = 0; round < REPL_MAX_HISTORY + 3; round++) {
        appended(&sm, sm.log.end + 10, t);
        session(&sm, REPL_SESS_EXPIRED, 0, ++t);
        CHECK_EQ_INT(sm.role, REPL_IDLE);
        t++;
        session(&sm, REPL_SESS_CONNECTED, t - 1, t);
        config(&sm, cfgof(sm.cfg.epoch, sm.cfg.version, 0, 1, 1), sm.read_seq, ++t);
        marker(&sm, false, REPL_NONE, 0, ++t);
        const repl_action *c = find(REPL_ACT_CAS_CONFIG);
        CHECK(c != NULL && c->u.cas.with_marker);
        if (c == NULL) return;
        cas(&sm, REPL_CAS_OK, c->u.cas.expected_version + 1, c->epoch, ++t);
        CHECK_EQ_INT(sm.role, REPL_PRIMARY);
    }
    CHECK_EQ_INT(sm.log.n, REPL_MAX_HISTORY);
    CHECK_EQ_INT(sm.log.seg[REPL_MAX_HISTORY - 1].epoch, sm.cfg.epoch);
    CHECK_EQ_INT(sm.log.seg[REPL_MAX_HISTORY - 1].start, sm.log.end);
    for (int i = 1; i < sm.log.n; i++) CHECK(sm.log.seg[i].start > sm.log.seg[i - 1].start);
    CHECK(sm.log.seg[0].epoch > 1); /* the first segments were dropped */
}

/* ---- elections -------------------------------------------------------------------- */

static void test_bootstrap_election(void)
{
    repl_sm sm;
    repl_params p = params(1);
    repl_init(&sm, &p, NULL);
    CHECK_EQ_INT(sm.role, REPL_INIT);
    CHECK_EQ_INT(repl_write_gate(&sm, 0), REPL_REFUSE_NOT_PRIMARY);
    session(&sm, REPL_SESS_CONNECTED, 0, 0);
    CHECK(find(REPL_ACT_READ_CONFIG) != NULL);
    config(&sm, cfgof(0, 0, REPL_NONE, 7, 7), 1, 1);
    CHECK_EQ_INT(sm.role, REPL_IDLE);
    CHECK(find(REPL_ACT_CAS_CONFIG) == NULL); /* the marker is not known yet */
    marker(&sm, false, REPL_NONE, 0, 2);
    const repl_action *c = find(REPL_ACT_CAS_CONFIG);
    CHECK(c != NULL);
    if (c == NULL) return;
    CHECK(c->u.cas.with_marker);
    CHECK_EQ_INT(c->u.cas.expected_version, 0);
    CHECK_EQ_INT(c->u.cas.config.epoch, 1);
    CHECK_EQ_INT(c->u.cas.config.primary, 1);
    CHECK_EQ_INT(c->u.cas.config.isr, 7);
    CHECK_EQ_INT(sm.role, REPL_CANDIDATE);
    cas(&sm, REPL_CAS_OK, 1, 1, 3);
    CHECK_EQ_INT(sm.role, REPL_PRIMARY);
    CHECK(find(REPL_ACT_ACCEPT_WRITES) != NULL && find(REPL_ACT_SERVE_READS) != NULL);
    CHECK_EQ_INT(sm.log.n, 1);
    CHECK_EQ_INT(sm.log.seg[0].epoch, 1);
    CHECK_EQ_INT(sm.log.seg[0].start, 0);
    CHECK_EQ_INT(repl_write_gate(&sm, 4), REPL_WRITE_OK);
    CHECK(repl_read_ok(&sm, 4));
}

static void test_failover_candidate(void)
{
    repl_sm sm;
    make_replica(&sm, 1, 7);
    CHECK_EQ_INT(sm.role, REPL_REPLICA);
    stream(&sm, 0, 1, HIST(30, 1, 0), 0, false, 10);
    CHECK(find(REPL_ACT_APPLY) != NULL);
    marker(&sm, false, REPL_NONE, 0, 20);
    const repl_action *c = find(REPL_ACT_CAS_CONFIG);
    CHECK(c != NULL);
    if (c == NULL) return;
    CHECK(c->u.cas.with_marker);
    CHECK_EQ_INT(c->u.cas.expected_version, 1);
    CHECK_EQ_INT(c->u.cas.config.epoch, 2);
    CHECK_EQ_INT(c->u.cas.config.primary, 1);
    CHECK_EQ_INT(c->u.cas.config.isr, 6); /* old isr minus the old primary */
    CHECK_EQ_INT(sm.role, REPL_CANDIDATE);
    /* Frozen: the old primary's stream is refused during the election. */
    stream(&sm, 0, 1, HIST(40, 1, 0), 30, false, 21);
    CHECK(find(REPL_ACT_REFUSE_STREAM) != NULL && find(REPL_ACT_APPLY) == NULL);
    CHECK_EQ_INT(sm.log.end, 30);
    cas(&sm, REPL_CAS_OK, 2, 2, 22);
    CHECK_EQ_INT(sm.role, REPL_PRIMARY);
    CHECK_EQ_INT(sm.log.n, 2);
    CHECK_EQ_INT(sm.log.seg[1].epoch, 2);
    CHECK_EQ_INT(sm.log.seg[1].start, 30);
    CHECK_EQ_INT(sm.commit, 30);
}

static void test_failover_loser_follows_winner(void)
{
    repl_sm sm;
    make_replica(&sm, 2, 7);
    marker(&sm, false, REPL_NONE, 0, 20);
    CHECK_EQ_INT(sm.role, REPL_CANDIDATE);
    cas(&sm, REPL_CAS_FAILED, 0, 2, 21);
    CHECK_EQ_INT(sm.role, REPL_IDLE);
    CHECK(find(REPL_ACT_READ_CONFIG) != NULL);
    CHECK(!sm.marker.known);
    config(&sm, cfgof(2, 2, 1, 6, 7), sm.read_seq, 22);
    CHECK_EQ_INT(sm.role, REPL_REPLICA);
    const repl_action *b = find(REPL_ACT_BECOME_REPLICA);
    CHECK(b != NULL && b->peer == 1 && b->epoch == 2 && !b->full);
    CHECK_EQ_INT(count(REPL_ACT_CAS_CONFIG), 0);
}

static void test_only_isr_members_with_a_session_propose(void)
{
    repl_sm sm;
    make_replica(&sm, 2, 3); /* isr {0,1} */
    marker(&sm, false, REPL_NONE, 0, 20);
    CHECK(find(REPL_ACT_CAS_CONFIG) == NULL);
    CHECK_EQ_INT(sm.role, REPL_REPLICA);
    make_replica(&sm, 1, 7);
    session(&sm, REPL_SESS_DISCONNECTED, 0, 10);
    marker(&sm, false, REPL_NONE, 0, 20);
    CHECK(find(REPL_ACT_CAS_CONFIG) == NULL);
    session(&sm, REPL_SESS_CONNECTED, 30, 40);
    CHECK(find(REPL_ACT_CAS_CONFIG) != NULL);
}

/* A restarted node named by the config waits for its old session's marker. */
static void test_restarted_primary_waits_for_old_marker(void)
{
    repl_sm sm;
    repl_params p = params(0);
    repl_history h = HIST(40, 1, 0, 4, 30);
    repl_init(&sm, &p, &h);
    CHECK_EQ_INT(sm.lead_epoch, 4);
    session(&sm, REPL_SESS_CONNECTED, 0, 0);
    config(&sm, cfgof(4, 5, 0, 3, 3), 1, 1);
    marker(&sm, true, 0, 4, 2); /* held by the previous incarnation's session */
    CHECK_EQ_INT(sm.role, REPL_IDLE);
    CHECK(find(REPL_ACT_CAS_CONFIG) == NULL);
    CHECK_EQ_INT(repl_write_gate(&sm, 3), REPL_REFUSE_NOT_PRIMARY);
    /* An old stream (epoch 3) is refused even after the restart. */
    stream(&sm, 1, 3, HIST(50, 1, 0, 3, 20), 40, false, 4);
    CHECK(find(REPL_ACT_REFUSE_STREAM) != NULL);
    marker(&sm, false, REPL_NONE, 0, 5);
    const repl_action *c = find(REPL_ACT_CAS_CONFIG);
    CHECK(c != NULL && c->u.cas.config.epoch == 5 && c->u.cas.config.primary == 0);
}

/* An election whose result was lost is settled by what the coordinator shows. */
static void test_unknown_election_settled_by_config(void)
{
    repl_sm sm;
    make_replica(&sm, 1, 7);
    marker(&sm, false, REPL_NONE, 0, 20);
    cas(&sm, REPL_CAS_UNKNOWN, 0, 2, 21);
    CHECK_EQ_INT(sm.role, REPL_CANDIDATE);
    CHECK(find(REPL_ACT_READ_CONFIG) != NULL);
    config(&sm, cfgof(2, 2, 1, 6, 7), 0, 22); /* a watch: it was applied */
    CHECK_EQ_INT(sm.role, REPL_PRIMARY);
    CHECK_EQ_INT(sm.cfg.version, 2);
}

/* The safety net: an election taken for lost shows up as applied. */
static void test_election_applied_after_all(void)
{
    repl_sm sm;
    make_replica(&sm, 1, 7);
    marker(&sm, false, REPL_NONE, 0, 20);
    cas(&sm, REPL_CAS_FAILED, 0, 2, 21);
    CHECK_EQ_INT(sm.role, REPL_IDLE);
    config(&sm, cfgof(2, 2, 1, 6, 7), sm.read_seq, 22);
    CHECK_EQ_INT(sm.role, REPL_IDLE); /* named, but whose marker is it? */
    marker(&sm, true, 1, 2, 23);
    CHECK_EQ_INT(sm.role, REPL_PRIMARY);
}

/* ---- the primary: acks and the in-sync set --------------------------------------- */

static void test_ack_needs_every_isr_member(void)
{
    repl_sm sm;
    make_primary(&sm, 0, 7, 7);
    appended(&sm, 10, 10);
    CHECK(find(REPL_ACT_ACK_WRITES) == NULL);
    ack(&sm, 1, 1, 10, 11);
    CHECK(find(REPL_ACT_ACK_WRITES) == NULL);
    ack(&sm, 2, 1, 5, 12);
    const repl_action *a = find(REPL_ACT_ACK_WRITES);
    CHECK(a != NULL && a->offset == 5 && a->epoch == 1);
    ack(&sm, 2, 1, 10, 13);
    a = find(REPL_ACT_ACK_WRITES);
    CHECK(a != NULL && a->offset == 10);
    ack(&sm, 2, 1, 10, 14);
    CHECK(find(REPL_ACT_ACK_WRITES) == NULL); /* once */
}

static void test_stale_acks_ignored(void)
{
    repl_sm sm;
    make_primary(&sm, 0, 3, 3);
    appended(&sm, 10, 10);
    ack(&sm, 1, 0, 10, 11); /* an epoch before this primaryship */
    CHECK(find(REPL_ACT_ACK_WRITES) == NULL);
    ack(&sm, 1, 1, 99, 12); /* past our end */
    CHECK(find(REPL_ACT_ACK_WRITES) == NULL && find(REPL_ACT_LOG) != NULL);
    ack(&sm, 5, 1, 10, 13); /* not a member */
    CHECK(find(REPL_ACT_ACK_WRITES) == NULL);
}

static void test_shrink_by_cas_before_acking(void)
{
    repl_sm sm;
    make_primary(&sm, 0, 7, 7);
    appended(&sm, 10, 0);
    ack(&sm, 1, 1, 10, 10);
    tick(&sm, 400);
    CHECK(find(REPL_ACT_CAS_CONFIG) == NULL);
    ack(&sm, 1, 1, 10, 450); /* member 1's heartbeat */
    tick(&sm, 600); /* member 2 silent for more than repl_timeout */
    const repl_action *c = find(REPL_ACT_CAS_CONFIG);
    CHECK(c != NULL);
    if (c == NULL) return;
    CHECK(!c->u.cas.with_marker);
    CHECK_EQ_INT(c->u.cas.config.isr, 3);
    CHECK_EQ_INT(c->u.cas.config.epoch, 2);
    CHECK_EQ_INT(c->u.cas.expected_version, 1);
    CHECK(find(REPL_ACT_ACK_WRITES) == NULL); /* not before the CAS */
    tick(&sm, 700);
    CHECK(find(REPL_ACT_ACK_WRITES) == NULL && find(REPL_ACT_CAS_CONFIG) == NULL);
    cas(&sm, REPL_CAS_OK, 2, 2, 710);
    const repl_action *a = find(REPL_ACT_ACK_WRITES);
    CHECK(a != NULL && a->offset == 10 && a->epoch == 2);
    CHECK_EQ_INT(sm.cfg.isr, 3);
    CHECK_EQ_INT(sm.cfg.version, 2);
}

static void test_min_sync_replicas(void)
{
    repl_sm sm;
    repl_params p = params(0);
    p.min_sync_replicas = 1;
    make_primary_p(&sm, p, 7, 7);
    appended(&sm, 10, 0);
    tick(&sm, 600); /* both silent: removing both would leave 0 < 1 */
    CHECK(find(REPL_ACT_CAS_CONFIG) == NULL);
    const repl_action *r = find(REPL_ACT_REFUSE_WRITES);
    CHECK(r != NULL && r->reason == REPL_REFUSE_NOREPLICAS);
    CHECK_EQ_INT(repl_write_gate(&sm, 600), REPL_REFUSE_NOREPLICAS);
    ack(&sm, 1, 1, 10, 610); /* one back: the other may now go */
    CHECK(find(REPL_ACT_ACCEPT_WRITES) != NULL);
    const repl_action *c = find(REPL_ACT_CAS_CONFIG);
    CHECK(c != NULL && c->u.cas.config.isr == 3);
    /* ISR below the minimum from the start: refuse. */
    make_primary_p(&sm, p, 1, 7);
    CHECK_EQ_INT(repl_write_gate(&sm, 1), REPL_REFUSE_NOREPLICAS);
}

/* A member progressing within repl_timeout stays, however far behind the
 * end it is at any instant; one that stops acking goes. */
static void test_lag_measured_in_time(void)
{
    repl_sm sm;
    make_primary(&sm, 0, 3, 3);
    uint64_t end = 0;
    int64_t t;
    for (t = 0; t < 5000; t += 100) {
        session(&sm, REPL_SESS_CONNECTED, t, t); /* heartbeats keep the session */
        appended(&sm, end + 10, t);
        CHECK(find(REPL_ACT_CAS_CONFIG) == NULL);
        ack(&sm, 1, 1, end, t + 50); /* always one write behind */
        CHECK(find(REPL_ACT_CAS_CONFIG) == NULL);
        end += 10;
    }
    for (; t < 5700; t += 100) {
        session(&sm, REPL_SESS_CONNECTED, t, t);
        appended(&sm, end + 10, t);
        end += 10;
    }
    CHECK(sm.cas.kind == REPL_CAS_SHRINK && sm.cas.proposal.isr == 1);
}

static void test_grow_waits_for_the_new_member(void)
{
    repl_sm sm;
    make_primary(&sm, 0, 3, 7);
    appended(&sm, 10, 0);
    ack(&sm, 1, 1, 10, 1);
    CHECK(find(REPL_ACT_ACK_WRITES) != NULL);
    ack(&sm, 2, 1, 5, 2); /* behind the acknowledged writes: not yet */
    CHECK(find(REPL_ACT_CAS_CONFIG) == NULL);
    ack(&sm, 2, 1, 10, 3);
    const repl_action *c = find(REPL_ACT_CAS_CONFIG);
    CHECK(c != NULL && c->u.cas.config.isr == 7 && c->u.cas.config.epoch == 2);
    appended(&sm, 20, 4);
    ack(&sm, 1, 1, 20, 5);
    CHECK(find(REPL_ACT_ACK_WRITES) == NULL); /* 2 counts from the CAS on */
    cas(&sm, REPL_CAS_OK, 2, 2, 6);
    CHECK(find(REPL_ACT_ACK_WRITES) == NULL);
    ack(&sm, 2, 2, 20, 7);
    const repl_action *a = find(REPL_ACT_ACK_WRITES);
    CHECK(a != NULL && a->offset == 20);
    /* A definite failure drops the new member from the ack set again. */
    make_primary(&sm, 0, 3, 7);
    appended(&sm, 10, 0);
    ack(&sm, 1, 1, 10, 1);
    ack(&sm, 2, 1, 10, 2);
    appended(&sm, 20, 3);
    ack(&sm, 1, 1, 20, 4);
    CHECK(find(REPL_ACT_ACK_WRITES) == NULL);
    cas(&sm, REPL_CAS_FAILED, 0, 2, 5);
    CHECK(find(REPL_ACT_ACK_WRITES) != NULL && find(REPL_ACT_READ_CONFIG) != NULL);
}

/* The answer to an older CAS (settled by a watch already) must not settle
 * the one in flight: found by the simulator. */
static void test_late_cas_result_ignored(void)
{
    repl_sm sm;
    make_primary(&sm, 0, 7, 7);
    appended(&sm, 10, 0);
    ack(&sm, 1, 1, 10, 10);
    ack(&sm, 1, 1, 10, 450); /* member 1's heartbeat */
    tick(&sm, 600);
    CHECK(find(REPL_ACT_CAS_CONFIG) != NULL); /* shrink: epoch 2 */
    config(&sm, cfgof(2, 2, 0, 3, 7), 0, 610); /* the watch shows it first */
    CHECK_EQ_INT(sm.cfg.isr, 3);
    ack(&sm, 2, 1, 10, 620); /* member 2 back and caught up: grow, epoch 3 */
    const repl_action *c = find(REPL_ACT_CAS_CONFIG);
    CHECK(c != NULL && c->epoch == 3);
    cas(&sm, REPL_CAS_OK, 2, 2, 621); /* the late answer to the shrink */
    CHECK_EQ_INT(sm.cas.kind, REPL_CAS_GROW);
    appended(&sm, 20, 622);
    ack(&sm, 1, 2, 20, 623);
    CHECK(find(REPL_ACT_ACK_WRITES) == NULL); /* still waits for member 2 */
}

/* A member that dies while nothing is written is not behind, but silent:
 * it is removed all the same, or (min-sync-replicas) writes are refused at
 * once instead of being taken and held. */
static void test_silent_member_lags_without_writes(void)
{
    repl_sm sm;
    make_primary(&sm, 0, 7, 7);
    ack(&sm, 1, 1, 0, 10);
    ack(&sm, 2, 1, 0, 10);
    for (int64_t t = 100; t <= 500; t += 100) {
        ack(&sm, 1, 1, 0, t); /* heartbeats from member 1 only */
        CHECK(find(REPL_ACT_CAS_CONFIG) == NULL);
    }
    ack(&sm, 1, 1, 0, 600);
    const repl_action *c = find(REPL_ACT_CAS_CONFIG);
    CHECK(c != NULL && c->u.cas.config.isr == 3);

    repl_params p = params(0);
    p.min_sync_replicas = 2;
    make_primary_p(&sm, p, 7, 7);
    ack(&sm, 1, 1, 0, 10);
    ack(&sm, 2, 1, 0, 10);
    CHECK_EQ_INT(repl_write_gate(&sm, 400), REPL_WRITE_OK);
    ack(&sm, 1, 1, 0, 400);
    CHECK_EQ_INT(repl_write_gate(&sm, 600), REPL_REFUSE_NOREPLICAS);
    /* back: heard again, writes accepted */
    ack(&sm, 2, 1, 0, 650);
    CHECK_EQ_INT(repl_write_gate(&sm, 650), REPL_WRITE_OK);
}

/* After a lost result, only a read sent afterwards may say "not applied". */
static void test_unknown_cas_settled_only_by_a_later_read(void)
{
    repl_sm sm;
    make_primary(&sm, 0, 3, 7);
    appended(&sm, 10, 0);
    ack(&sm, 1, 1, 10, 1);
    ack(&sm, 2, 1, 10, 2);
    CHECK(find(REPL_ACT_CAS_CONFIG) != NULL); /* grow */
    uint64_t before = sm.read_seq;
    cas(&sm, REPL_CAS_UNKNOWN, 0, 2, 3);
    const repl_action *r = find(REPL_ACT_READ_CONFIG);
    CHECK(r != NULL && r->seq == before + 1);
    config(&sm, cfgof(1, 1, 0, 3, 7), before, 4); /* an older read */
    CHECK(sm.cas.kind == REPL_CAS_GROW && sm.cas.unknown);
    config(&sm, cfgof(1, 1, 0, 3, 7), 0, 5); /* a watch */
    CHECK(sm.cas.kind == REPL_CAS_GROW);
    config(&sm, cfgof(1, 1, 0, 3, 7), before + 1, 6);
    CHECK(!sm.cas.unknown); /* settled: not applied; so it is proposed afresh */
    const repl_action *c = find(REPL_ACT_CAS_CONFIG);
    CHECK(c != NULL && c->u.cas.expected_version == 1 && c->u.cas.config.isr == 7);
    CHECK_EQ_INT(sm.cfg.isr, 3);
}

/* ---- sessions, lease, fencing ---------------------------------------------------- */

static void test_lease_and_fencing(void)
{
    repl_sm sm;
    make_primary(&sm, 0, 3, 3);
    sm.peers[1].streaming = true;
    CHECK(repl_read_ok(&sm, 899));
    CHECK(!repl_read_ok(&sm, 900)); /* last contact 0 + 1000 - margin 100 */
    session(&sm, REPL_SESS_DISCONNECTED, 0, 100);
    tick(&sm, 950);
    CHECK(find(REPL_ACT_STOP_READS) != NULL && find(REPL_ACT_REFUSE_WRITES) == NULL);
    CHECK_EQ_INT(repl_write_gate(&sm, 999), REPL_WRITE_OK);
    CHECK_EQ_INT(repl_write_gate(&sm, 1000), REPL_REFUSE_FENCED);
    tick(&sm, 1000);
    CHECK_EQ_INT(sm.role, REPL_FENCED);
    const repl_action *r = find(REPL_ACT_REFUSE_WRITES);
    CHECK(r != NULL && r->reason == REPL_REFUSE_FENCED);
    session(&sm, REPL_SESS_CONNECTED, 1100, 1105); /* the same session */
    CHECK_EQ_INT(sm.role, REPL_PRIMARY);
    CHECK(find(REPL_ACT_ACCEPT_WRITES) != NULL && find(REPL_ACT_SERVE_READS) != NULL);
    CHECK(repl_read_ok(&sm, 1999) && !repl_read_ok(&sm, 2000));
    session(&sm, REPL_SESS_EXPIRED, 0, 1200);
    CHECK_EQ_INT(sm.role, REPL_IDLE);
    CHECK(find_peer(REPL_ACT_STOP_STREAM, 1) != NULL);
    r = find(REPL_ACT_REFUSE_WRITES);
    CHECK(r != NULL && r->reason == REPL_REFUSE_NOT_PRIMARY);
    CHECK(find(REPL_ACT_STOP_READS) != NULL);
}

static void test_fenced_primary_acks_nothing(void)
{
    repl_sm sm;
    make_primary(&sm, 0, 3, 3);
    appended(&sm, 10, 10);
    tick(&sm, 1000);
    CHECK_EQ_INT(sm.role, REPL_FENCED);
    ack(&sm, 1, 1, 10, 1001);
    CHECK(find(REPL_ACT_ACK_WRITES) == NULL);
    appended(&sm, 12, 1002); /* an expiry's delete: its own segment still */
    CHECK_EQ_INT(sm.log.end, 12);
    ack(&sm, 1, 1, 12, 1003);
    CHECK(find(REPL_ACT_ACK_WRITES) == NULL);
}

static void test_deposed_primary_rejoins(void)
{
    repl_sm sm;
    make_primary(&sm, 0, 7, 7);
    appended(&sm, 30, 1);
    sync_req(&sm, 1, 1, HIST(30, 1, 0), false, 2);
    CHECK(find_peer(REPL_ACT_START_STREAM, 1) != NULL);
    config(&sm, cfgof(3, 3, 1, 6, 7), 0, 3);
    CHECK_EQ_INT(sm.role, REPL_REPLICA);
    CHECK(find_peer(REPL_ACT_STOP_STREAM, 1) != NULL);
    const repl_action *r = find(REPL_ACT_REFUSE_WRITES);
    CHECK(r != NULL && r->reason == REPL_REFUSE_NOT_PRIMARY);
    const repl_action *b = find(REPL_ACT_BECOME_REPLICA);
    CHECK(b != NULL && b->peer == 1 && b->offset == 30);
    CHECK(b != NULL && b->u.hist.n == 1 && b->u.hist.end == 30);
}

static void test_primary_yields_to_a_newer_stream(void)
{
    repl_sm sm;
    make_primary(&sm, 0, 7, 7);
    appended(&sm, 30, 1);
    stream(&sm, 1, 1, HIST(30, 1, 0), 0, false, 2); /* same epoch: refused */
    CHECK(find(REPL_ACT_REFUSE_STREAM) != NULL);
    CHECK_EQ_INT(sm.role, REPL_PRIMARY);
    stream(&sm, 1, 3, HIST(40, 1, 0, 3, 20), 20, false, 3);
    CHECK_EQ_INT(sm.role, REPL_REPLICA);
    const repl_action *t = find(REPL_ACT_TRUNCATE);
    CHECK(t != NULL && t->offset == 20);
    CHECK(find(REPL_ACT_READ_CONFIG) != NULL);
    CHECK_EQ_INT(sm.log.end, 40);
}

static void test_primary_refused_by_a_higher_epoch(void)
{
    repl_sm sm;
    make_primary(&sm, 0, 3, 3);
    sync_req(&sm, 1, 1, EMPTY, false, 1);
    refused(&sm, 1, 1, 2); /* refused a chunk from before our own change: no news */
    CHECK_EQ_INT(NA, 0);
    refused(&sm, 1, 4, 3);
    CHECK(find_peer(REPL_ACT_STOP_STREAM, 1) != NULL && find(REPL_ACT_READ_CONFIG) != NULL);
}

/* ---- the replica side of the stream ------------------------------------------------ */

static void test_replica_refuses_lower_epochs(void)
{
    repl_sm sm;
    make_replica(&sm, 1, 7);
    config(&sm, cfgof(5, 4, 2, 6, 7), 0, 1);
    stream(&sm, 0, 1, HIST(10, 1, 0), 0, false, 2);
    const repl_action *r = find(REPL_ACT_REFUSE_STREAM);
    CHECK(r != NULL && r->peer == 0 && r->epoch == 5);
    CHECK(find(REPL_ACT_APPLY) == NULL && find(REPL_ACT_SEND_ACK) == NULL);
    stream(&sm, 0, 5, HIST(10, 5, 0), 0, false, 3); /* epoch 5 is node 2's */
    CHECK(find(REPL_ACT_REFUSE_STREAM) != NULL);
}

static void test_replica_applies_and_acks(void)
{
    repl_sm sm;
    make_replica(&sm, 1, 7);
    stream(&sm, 0, 1, HIST(10, 1, 0), 0, false, 1);
    const repl_action *a = find(REPL_ACT_APPLY);
    CHECK(a != NULL && a->offset == 0 && a->len == 10 && !a->full);
    const repl_action *k = find(REPL_ACT_SEND_ACK);
    CHECK(k != NULL && k->peer == 0 && k->offset == 10 && k->epoch == 1);
    stream(&sm, 0, 1, HIST(20, 1, 0), 5, false, 2); /* overlaps what we hold */
    a = find(REPL_ACT_APPLY);
    CHECK(a != NULL && a->offset == 10 && a->len == 10);
    stream(&sm, 0, 1, HIST(15, 1, 0), 10, false, 3); /* an old chunk */
    CHECK(find(REPL_ACT_APPLY) == NULL && find(REPL_ACT_TRUNCATE) == NULL);
    CHECK_EQ_INT(sm.log.end, 20);
}

static void test_diverged_tail_truncated(void)
{
    repl_sm sm;
    repl_params p = params(2);
    repl_history h = HIST(60, 1, 0); /* holds 10 bytes the new primary lacks */
    repl_init(&sm, &p, &h);
    session(&sm, REPL_SESS_CONNECTED, 0, 0);
    config(&sm, cfgof(2, 2, 1, 6, 7), 1, 0);
    marker(&sm, true, 1, 2, 0);
    stream(&sm, 1, 2, HIST(50, 1, 0, 2, 50), 50, false, 1); /* no new byte yet */
    const repl_action *t = find(REPL_ACT_TRUNCATE);
    CHECK(t != NULL && t->offset == 50);
    const repl_action *k = find(REPL_ACT_SEND_ACK);
    CHECK(k != NULL && k->offset == 50);
    stream(&sm, 1, 2, HIST(70, 1, 0, 2, 50), 50, false, 2);
    const repl_action *a = find(REPL_ACT_APPLY);
    CHECK(a != NULL && a->offset == 50 && a->len == 20);
    CHECK_EQ_INT(sm.log.n, 2);
    CHECK_EQ_INT(sm.log.end, 70);
}

static void test_diverged_without_truncate_resyncs_fully(void)
{
    repl_sm sm;
    repl_params p = params(2);
    p.can_truncate = false;
    repl_history h = HIST(60, 1, 0);
    repl_init(&sm, &p, &h);
    session(&sm, REPL_SESS_CONNECTED, 0, 0);
    config(&sm, cfgof(2, 2, 1, 6, 7), 1, 0);
    marker(&sm, true, 1, 2, 0);
    stream(&sm, 1, 2, HIST(70, 1, 0, 2, 50), 50, false, 1);
    CHECK(find(REPL_ACT_TRUNCATE) == NULL && find(REPL_ACT_APPLY) == NULL);
    const repl_action *b = find(REPL_ACT_BECOME_REPLICA);
    CHECK(b != NULL && b->full);
    CHECK_EQ_INT(sm.log.end, 60); /* kept until the snapshot replaces it */
    stream(&sm, 1, 2, HIST(75, 1, 0, 2, 50), 70, false, 2);
    CHECK(find(REPL_ACT_APPLY) == NULL && find(REPL_ACT_SEND_ACK) == NULL);
    stream(&sm, 1, 2, HIST(75, 1, 0, 2, 50), 0, true, 3);
    const repl_action *a = find(REPL_ACT_APPLY);
    CHECK(a != NULL && a->full && a->len == 75);
    CHECK(find(REPL_ACT_SEND_ACK) == NULL); /* not while loading */
    CHECK(sm.loading);
    marker(&sm, false, REPL_NONE, 0, 4); /* no election while loading */
    CHECK(find(REPL_ACT_CAS_CONFIG) == NULL);
    stream(&sm, 1, 2, HIST(80, 1, 0, 2, 50), 75, false, 5); /* queued behind it */
    CHECK(find(REPL_ACT_APPLY) != NULL && find(REPL_ACT_SEND_ACK) == NULL);
    resync_done(&sm, 80, 6);
    const repl_action *k = find(REPL_ACT_SEND_ACK);
    CHECK(k != NULL && k->offset == 80);
    CHECK(find(REPL_ACT_CAS_CONFIG) != NULL); /* now it may stand */
}

static void test_gap_requests_the_stream_once(void)
{
    repl_sm sm;
    make_replica(&sm, 1, 7);
    stream(&sm, 0, 1, HIST(10, 1, 0), 0, false, 1);
    stream(&sm, 0, 1, HIST(30, 1, 0), 20, false, 2);
    const repl_action *b = find(REPL_ACT_BECOME_REPLICA);
    CHECK(b != NULL && b->offset == 10 && !b->full);
    stream(&sm, 0, 1, HIST(40, 1, 0), 30, false, 3);
    CHECK(find(REPL_ACT_BECOME_REPLICA) == NULL);
    tick(&sm, 2 + 300);
    CHECK(find(REPL_ACT_BECOME_REPLICA) != NULL); /* resync_ms without the stream */
    stream(&sm, 0, 1, HIST(40, 1, 0), 10, false, 310);
    CHECK(find(REPL_ACT_APPLY) != NULL);
}

static void test_primary_sync_decisions(void)
{
    repl_sm sm;
    make_primary(&sm, 0, 7, 7);
    appended(&sm, 50, 1);
    session(&sm, REPL_SESS_EXPIRED, 0, 2); /* re-elected at epoch 2 at offset 50 */
    session(&sm, REPL_SESS_CONNECTED, 3, 3);
    config(&sm, cfgof(1, 1, 0, 7, 7), sm.read_seq, 4);
    marker(&sm, false, REPL_NONE, 0, 5);
    cas(&sm, REPL_CAS_OK, 2, 2, 6);
    appended(&sm, 80, 7);
    CHECK_EQ_INT(sm.log.n, 2);
    sync_req(&sm, 1, 1, HIST(40, 1, 0), false, 8); /* on our history */
    const repl_action *s = find(REPL_ACT_START_STREAM);
    CHECK(s != NULL && s->peer == 1 && s->offset == 40 && !s->full && s->epoch == 2);
    sync_req(&sm, 2, 1, HIST(60, 1, 0), false, 9); /* 10 bytes off our history */
    s = find(REPL_ACT_START_STREAM);
    CHECK(s != NULL && s->offset == 50 && !s->full);
    repl_set_backlog(&sm, 45);
    sync_req(&sm, 1, 1, HIST(40, 1, 0), false, 10);
    s = find(REPL_ACT_START_STREAM);
    CHECK(s != NULL && s->full && s->offset == 0);
    repl_set_backlog(&sm, 0);
    sync_req(&sm, 1, 1, HIST(40, 1, 0), true, 11);
    s = find(REPL_ACT_START_STREAM);
    CHECK(s != NULL && s->full);
    sync_req(&sm, 3, 1, HIST(40, 1, 0), false, 12); /* not a member */
    CHECK(find(REPL_ACT_START_STREAM) == NULL);
}

/* ---- input checking, names ------------------------------------------------------------ */

static void test_malformed_input(void)
{
    repl_sm sm;
    make_replica(&sm, 1, 7);
    repl_history bad = HIST(30, 2, 0, 1, 10); /* epochs descending */
    stream(&sm, 0, 1, bad, 0, false, 1);
    CHECK(find(REPL_ACT_REFUSE_STREAM) != NULL && find(REPL_ACT_APPLY) == NULL);
    repl_history past = HIST(30, 1, 40); /* a start past the end */
    stream(&sm, 0, 1, past, 0, false, 2);
    CHECK(find(REPL_ACT_REFUSE_STREAM) != NULL);
    repl_event wrap = {.type = REPL_EV_STREAM}; /* offset + len wraps around */
    repl_history w = HIST(5, 1, 0);
    wrap.u.stream.from = 0;
    wrap.u.stream.epoch = 1;
    wrap.u.stream.hist = &w;
    wrap.u.stream.offset = UINT64_MAX - 4;
    wrap.u.stream.len = 10;
    step(&sm, &wrap, 3);
    CHECK(find(REPL_ACT_REFUSE_STREAM) != NULL);
    stream(&sm, 0, 1, EMPTY, 0, false, 3); /* a primary always has a segment */
    CHECK(find(REPL_ACT_REFUSE_STREAM) != NULL);
    repl_history h = HIST(30, 1, 0);
    h.n = REPL_MAX_HISTORY + 1;
    stream(&sm, 0, 1, h, 0, false, 4);
    CHECK(find(REPL_ACT_REFUSE_STREAM) != NULL);
    config(&sm, cfgof(9, 9, 2, 4, 3), 0, 5); /* isr outside members */
    CHECK(find(REPL_ACT_LOG) != NULL);
    CHECK_EQ_INT(sm.cfg.version, 1);
    config(&sm, cfgof(9, 9, 2, 3, 7), 0, 6); /* a primary outside the isr */
    CHECK_EQ_INT(sm.cfg.version, 1);
    config(&sm, cfgof(0, 0, REPL_NONE, 7, 7), 0, 7); /* older than ours */
    CHECK_EQ_INT(sm.cfg.version, 1);
    CHECK_EQ_INT(sm.role, REPL_REPLICA);
}

/* ---- planned switchover ------------------------------------------------------- */

static void switchover(repl_sm *sm, int target, int64_t timeout_ms, int64_t now)
{
    repl_event ev = {.type = REPL_EV_SWITCHOVER};
    ev.u.switchover.target = target;
    ev.u.switchover.timeout_ms = timeout_ms;
    step(sm, &ev, now);
}

static void handoff(repl_sm *sm, int from, uint64_t epoch, uint64_t end, int64_t now)
{
    repl_event ev = {.type = REPL_EV_HANDOFF};
    ev.u.handoff.from = from;
    ev.u.handoff.epoch = epoch;
    ev.u.handoff.end = end;
    step(sm, &ev, now);
}

/* The primary pauses clients, waits for the commit point to reach its end,
 * then hands over and gives up its lease; the pending write still commits. */
static void test_switchover_primary_hands_over(void)
{
    repl_sm sm;
    make_primary(&sm, 0, 7, 7);
    appended(&sm, 10, 10);
    ack(&sm, 1, 1, 10, 11);
    ack(&sm, 2, 1, 10, 11);
    appended(&sm, 20, 12); /* a write still pending */
    CHECK(repl_switchover_refusal(&sm, 0) != NULL);
    CHECK(repl_switchover_refusal(&sm, 5) != NULL);
    CHECK(repl_switchover_refusal(&sm, 1) == NULL);
    CHECK_EQ_INT(repl_switchover_pick(&sm), 1);
    switchover(&sm, 1, 300, 20);
    const repl_action *r = find(REPL_ACT_REFUSE_WRITES);
    CHECK(r != NULL && r->reason == REPL_REFUSE_SWITCHING);
    CHECK(repl_switching(&sm) && repl_read_ok(&sm, 20)); /* lease kept until the handoff */
    CHECK(find(REPL_ACT_SEND_HANDOFF) == NULL);
    CHECK(repl_switchover_refusal(&sm, 2) != NULL); /* one at a time */
    ack(&sm, 1, 1, 20, 21);
    CHECK(find(REPL_ACT_SEND_HANDOFF) == NULL); /* member 2 has not got it yet */
    ack(&sm, 2, 1, 20, 22);
    const repl_action *a = find(REPL_ACT_ACK_WRITES);
    CHECK(a != NULL && a->offset == 20);
    const repl_action *h = find(REPL_ACT_SEND_HANDOFF);
    CHECK(h != NULL && h->peer == 1 && h->epoch == 1 && h->offset == 20);
    CHECK(!repl_read_ok(&sm, 22));
    tick(&sm, 100);
    CHECK(find(REPL_ACT_SEND_HANDOFF) == NULL && find(REPL_ACT_CAS_CONFIG) == NULL);
    /* the target's takeover lands: the new config deposes us */
    config(&sm, cfgof(2, 2, 1, 7, 7), 0, 120);
    CHECK(sm.role == REPL_REPLICA && sm.following == 1 && !repl_switching(&sm));
    r = find(REPL_ACT_REFUSE_WRITES);
    CHECK(r != NULL && r->reason == REPL_REFUSE_NOT_PRIMARY);
    const repl_action *b = find(REPL_ACT_BECOME_REPLICA);
    CHECK(b != NULL && b->offset == 20);
}

/* The target takes over only from the primary it follows, in the same
 * epoch, holding exactly its log; its CAS replaces the marker, keeps the ISR. */
static void test_switchover_target_takes_over(void)
{
    repl_sm sm;
    make_replica(&sm, 1, 7);
    stream(&sm, 0, 1, HIST(10, 1, 0), 0, false, 1);
    handoff(&sm, 2, 1, 10, 2); /* not the one we follow */
    CHECK(find(REPL_ACT_CAS_CONFIG) == NULL && sm.role == REPL_REPLICA);
    handoff(&sm, 0, 1, 12, 3); /* a log we do not hold */
    CHECK(find(REPL_ACT_CAS_CONFIG) == NULL && sm.role == REPL_REPLICA);
    handoff(&sm, 0, 1, 10, 4);
    const repl_action *c = find(REPL_ACT_CAS_CONFIG);
    CHECK(c != NULL && sm.role == REPL_CANDIDATE);
    if (c == NULL) return;
    CHECK(c->u.cas.with_marker && c->u.cas.replace_marker);
    CHECK_EQ_INT(c->u.cas.config.epoch, 2);
    CHECK_EQ_INT(c->u.cas.config.primary, 1);
    CHECK_EQ_INT(c->u.cas.config.isr, 7);
    CHECK_EQ_INT(c->u.cas.expected_version, 1);
    stream(&sm, 0, 1, HIST(12, 1, 0), 10, false, 5); /* frozen: refused */
    CHECK(find(REPL_ACT_APPLY) == NULL && find(REPL_ACT_REFUSE_STREAM) != NULL);
    cas(&sm, REPL_CAS_OK, 2, 2, 6);
    CHECK(sm.role == REPL_PRIMARY && sm.log.end == 10);
    CHECK(find(REPL_ACT_ACCEPT_WRITES) != NULL);
}

/* A handoff naming a config epoch the replica has not read yet waits for it. */
static void test_switchover_target_reads_newer_config_first(void)
{
    repl_sm sm;
    make_replica(&sm, 1, 7);
    stream(&sm, 0, 1, HIST(10, 1, 0), 0, false, 1);
    handoff(&sm, 0, 2, 10, 2);
    CHECK(find(REPL_ACT_READ_CONFIG) != NULL && find(REPL_ACT_CAS_CONFIG) == NULL);
    config(&sm, cfgof(2, 2, 0, 7, 7), sm.read_seq, 3);
    const repl_action *c = find(REPL_ACT_CAS_CONFIG);
    CHECK(c != NULL && c->u.cas.replace_marker && c->u.cas.expected_version == 2);
}

/* Unanswered: the primary rewrites the config before serving again; if the
 * target won meanwhile, that CAS fails and the new config deposes it. */
static void test_switchover_unanswered_is_reclaimed(void)
{
    repl_sm sm;
    make_primary(&sm, 0, 7, 7);
    switchover(&sm, 2, 300, 10);
    CHECK(find(REPL_ACT_SEND_HANDOFF) == NULL); /* no ack from 2 yet */
    ack(&sm, 1, 1, 0, 11);
    ack(&sm, 2, 1, 0, 11);
    CHECK(find_peer(REPL_ACT_SEND_HANDOFF, 2) != NULL);
    tick(&sm, 200);
    CHECK(find(REPL_ACT_CAS_CONFIG) == NULL);
    tick(&sm, 320);
    const repl_action *c = find(REPL_ACT_CAS_CONFIG);
    CHECK(c != NULL && !c->u.cas.with_marker && c->u.cas.config.epoch == 2 &&
          c->u.cas.config.primary == 0 && c->u.cas.expected_version == 1);
    CHECK(repl_switching(&sm));
    cas(&sm, REPL_CAS_OK, 2, 2, 330);
    CHECK(!repl_switching(&sm) && sm.role == REPL_PRIMARY && repl_read_ok(&sm, 330));
    CHECK(find(REPL_ACT_ACCEPT_WRITES) != NULL);

    switchover(&sm, 1, 300, 400); /* both hold our (empty) log already */
    CHECK(find_peer(REPL_ACT_SEND_HANDOFF, 1) != NULL);
    tick(&sm, 800);
    CHECK(find(REPL_ACT_CAS_CONFIG) != NULL);
    cas(&sm, REPL_CAS_FAILED, 0, 3, 810); /* the takeover won */
    CHECK(repl_switching(&sm) && find(REPL_ACT_READ_CONFIG) != NULL);
    config(&sm, cfgof(3, 3, 1, 7, 7), sm.read_seq, 820);
    CHECK(sm.role == REPL_REPLICA && !repl_switching(&sm));
}

/* Before the handoff went out: cancelled by timeout or ABORT, no CAS needed. */
static void test_switchover_cancelled_before_handoff(void)
{
    repl_sm sm;
    make_primary(&sm, 0, 7, 7);
    switchover(&sm, 1, 100, 10);
    CHECK(repl_switching(&sm));
    switchover(&sm, REPL_NONE, 0, 20);
    CHECK(!repl_switching(&sm) && find(REPL_ACT_ACCEPT_WRITES) != NULL);
    switchover(&sm, 1, 100, 30);
    tick(&sm, 131);
    CHECK(!repl_switching(&sm) && find(REPL_ACT_CAS_CONFIG) == NULL);
    CHECK(find(REPL_ACT_ACCEPT_WRITES) != NULL);
}

static void test_names(void)
{
    CHECK(strcmp(repl_role_name(REPL_FENCED), "fenced") == 0);
    CHECK(strcmp(repl_role_name((repl_role)99), "?") == 0);
    CHECK(strcmp(repl_event_name(REPL_EV_RESYNC_DONE), "resync-done") == 0);
    CHECK(strcmp(repl_event_name((repl_event_type)99), "?") == 0);
    CHECK(strcmp(repl_action_name(REPL_ACT_LOG), "log") == 0);
    CHECK(strcmp(repl_action_name((repl_action_type)99), "?") == 0);
    CHECK(strcmp(repl_refusal_name(REPL_REFUSE_NOREPLICAS), "noreplicas") == 0);
    CHECK(strcmp(repl_refusal_name((repl_refusal)99), "?") == 0);
    for (int i = REPL_EV_TICK; i <= REPL_EV_RESYNC_DONE; i++)
        CHECK(strcmp(repl_event_name((repl_event_type)i), "?") != 0);
    for (int i = REPL_ACT_CAS_CONFIG; i <= REPL_ACT_LOG; i++)
        CHECK(strcmp(repl_action_name((repl_action_type)i), "?") != 0);
}

int main(void)
{
    RUN(test_common_prefix);
    RUN(test_history_trimmed);
    RUN(test_bootstrap_election);
    RUN(test_failover_candidate);
    RUN(test_failover_loser_follows_winner);
    RUN(test_only_isr_members_with_a_session_propose);
    RUN(test_restarted_primary_waits_for_old_marker);
    RUN(test_unknown_election_settled_by_config);
    RUN(test_election_applied_after_all);
    RUN(test_ack_needs_every_isr_member);
    RUN(test_stale_acks_ignored);
    RUN(test_shrink_by_cas_before_acking);
    RUN(test_min_sync_replicas);
    RUN(test_lag_measured_in_time);
    RUN(test_grow_waits_for_the_new_member);
    RUN(test_late_cas_result_ignored);
    RUN(test_silent_member_lags_without_writes);
    RUN(test_unknown_cas_settled_only_by_a_later_read);
    RUN(test_lease_and_fencing);
    RUN(test_fenced_primary_acks_nothing);
    RUN(test_deposed_primary_rejoins);
    RUN(test_primary_yields_to_a_newer_stream);
    RUN(test_primary_refused_by_a_higher_epoch);
    RUN(test_replica_refuses_lower_epochs);
    RUN(test_replica_applies_and_acks);
    RUN(test_diverged_tail_truncated);
    RUN(test_diverged_without_truncate_resyncs_fully);
    RUN(test_gap_requests_the_stream_once);
    RUN(test_primary_sync_decisions);
    RUN(test_malformed_input);
    RUN(test_switchover_primary_hands_over);
    RUN(test_switchover_target_takes_over);
    RUN(test_switchover_target_reads_newer_config_first);
    RUN(test_switchover_unanswered_is_reclaimed);
    RUN(test_switchover_cancelled_before_handoff);
    RUN(test_names);
    return TEST_REPORT();
}
