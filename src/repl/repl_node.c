/* repl_node.c — the kv node's replication adapter: drives repl_sm with ZooKeeper, links and the log. */
#include "repl_node.h"
#include "repl_int.h"
#include "../common/err.h"
#include "../common/log.h"
#include "../common/mem.h"
#include "../common/util.h"
#include "../kv/cmd.h"
#include "../kv/net.h"
#include "../kv/subsys.h"
#include "../persist/aof.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the log's in-memory tail (backlog) ----------------------------------------------- */

/* Blocks hold whole events: a chunk cut at a block's end never splits a
 * command, so a replica always applies whole commands. */
#define BACKLOG_BLOCK 65536

void backlog_append(repl_node *rn, const char *p, size_t len)
{
    repl_blk *b = rn->bl_tail;
    if (b == NULL || b->len + len > b->cap) {
        size_t cap = len > BACKLOG_BLOCK ? len : BACKLOG_BLOCK;
        repl_blk *nb = hmalloc(sizeof(*nb) + cap);
        nb->next = NULL;
        nb->off = rn->log_end;
        nb->len = 0;
        nb->cap = cap;
        if (b) b->next = nb;
        else rn->bl_head = nb;
        rn->bl_tail = b = nb;
    }
    memcpy(b->data + b->len, p, len);
    b->len += len;
    rn->bl_bytes += len;
    rn->log_end += len;
    while (rn->bl_head != rn->bl_tail && rn->bl_bytes - rn->bl_head->len >= (uint64_t)rn->srv->cfg.repl_backlog_size) {
        repl_blk *old = rn->bl_head;
        rn->bl_head = old->next;
        rn->bl_bytes -= old->len;
        hfree(old);
    }
    repl_set_backlog(&rn->sm, backlog_start(rn));
}

uint64_t backlog_start(const repl_node *rn)
{
    return rn->bl_head ? rn->bl_head->off : rn->log_end;
}

/* Forget everything (a snapshot replaced the log): the backlog restarts at end. */
void backlog_reset(repl_node *rn, uint64_t end)
{
    while (rn->bl_head) {
        repl_blk *b = rn->bl_head;
        rn->bl_head = b->next;
        hfree(b);
    }
    rn->bl_tail = NULL;
    rn->bl_bytes = 0;
    rn->log_end = end;
    repl_set_backlog(&rn->sm, end);
}

/* The bytes from off to the end of the block holding off; false if off is
 * no longer (or not yet) in the backlog. */
bool backlog_piece(const repl_node *rn, uint64_t off, const char **p, size_t *len)
{
    /* Replicas in step ask for the last block: look there before walking. */
    repl_blk *t = rn->bl_tail;
    repl_blk *from = t && off >= t->off ? t : rn->bl_head;
    for (repl_blk *b = from; b; b = b->next) {
        if (off >= b->off && off < b->off + b->len) {
            *p = b->data + (off - b->off);
            *len = (size_t)(b->off + b->len - off);
            return true;
        }
    }
    return false;
}

/* ---- histories on the wire ------------------------------------------------------------ */

size_t repl_history_write(const repl_history *h, uint64_t end, char *out)
{
    size_t n = u64_to_str(out, end);
    out[n++] = ':';
    for (int i = 0; i < h->n && i < REPL_MAX_HISTORY; i++) {
        if (i) out[n++] = ',';
        n += u64_to_str(out + n, h->seg[i].epoch);
        out[n++] = '@';
        n += u64_to_str(out + n, h->seg[i].start);
    }
    out[n] = '\0';
    return n;
}

void repl_history_format(const repl_history *h, buf *out)
{
    char t[REPL_HISTORY_TEXT_MAX];
    buf_append(out, t, repl_history_write(h, h->end, t));
}

static bool parse_u64(const char **s, const char *end, uint64_t *out)
{
    const char *p = *s;
    uint64_t v = 0;
    if (p >= end || *p < '0' || *p > '9') return false;
    while (p < end && *p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
        p++;
    }
    *s = p;
    *out = v;
    return true;
}

int repl_history_parse(const char *s, size_t len, repl_history *out)
{
    const char *p = s, *end = s + len;
    memset(out, 0, sizeof(*out));
    if (!parse_u64(&p, end, &out->end) || p >= end || *p++ != ':') return -HALO_EPROTO;
    while (p < end) {
        if (out->n == REPL_MAX_HISTORY) return -HALO_EPROTO;
        if (out->n > 0 && *p++ != ',') return -HALO_EPROTO;
        repl_segment *sg = &out->seg[out->n];
        if (!parse_u64(&p, end, &sg->epoch) || p >= end || *p++ != '@' ||
            !parse_u64(&p, end, &sg->start))
            return -HALO_EPROTO;
        if (sg->start > out->end) return -HALO_EPROTO;
        if (out->n > 0 && (sg->start < out->seg[out->n - 1].start ||
                           sg->epoch <= out->seg[out->n - 1].epoch))
            return -HALO_EPROTO;
        out->n++;
    }
    return 0;
}

static int id_index(const coord_id *ids, int n, const char *id, size_t len);
static int parse_members(const char *list, coord_id ids[REPL_MAX_NODES], int *n, buf *err);

/* ---- ids and configs ------------------------------------------------------------------ */

int member_index(const repl_node *rn, const char *id, size_t len)
{
    return id_index(rn->members, rn->nmembers, id, len);
}

/* The coordinator's document as the state machine's config. false when it
 * names members this node does not know (the membership changed under us). */
bool to_repl_config(const repl_node *rn, const coord_config *cc, int32_t version, repl_config *out)
{
    memset(out, 0, sizeof(*out));
    out->epoch = cc->epoch;
    out->version = version;
    out->primary = REPL_NONE;
    if (cc->primary[0]) {
        out->primary = member_index(rn, cc->primary, strlen(cc->primary));
        if (out->primary == REPL_NONE) return false;
    }
    for (unsigned i = 0; i < cc->n_isr; i++) {
        int id = member_index(rn, cc->isr[i], strlen(cc->isr[i]));
        if (id == REPL_NONE) return false;
        out->isr = repl_set_add(out->isr, id);
    }
    for (unsigned i = 0; i < cc->n_members; i++) {
        int id = member_index(rn, cc->members[i], strlen(cc->members[i]));
        if (id == REPL_NONE) return false;
        out->members = repl_set_add(out->members, id);
    }
    return true;
}

void to_coord_config(const repl_node *rn, const repl_config *rc, coord_config *out)
{
    memset(out, 0, sizeof(*out));
    out->epoch = rc->epoch;
    if (rc->primary != REPL_NONE) snprintf(out->primary, sizeof(out->primary), "%s", rn->members[rc->primary]);
    for (int i = 0; i < rn->nmembers; i++) {
        if (repl_set_has(rc->isr, i)) snprintf(out->isr[out->n_isr++], sizeof(coord_id), "%s", rn->members[i]);
        if (repl_set_has(rc->members, i))
            snprintf(out->members[out->n_members++], sizeof(coord_id), "%s", rn->members[i]);
    }
}

/* ---- driving the state machine ----------------------------------------------------------- */

int64_t now_ms(void)
{
    return mono_us() / 1000;
}

/* Events raised while actions run (a snapshot loaded) wait here: repl_step
 * is not reentrant. */
void defer_event(repl_node *rn, const repl_event *ev)
{
    if (rn->ndeferred == (int)(sizeof(rn->deferred) / sizeof(rn->deferred[0]))) {
        log_warn("replication: deferred event queue full; dropping %s", repl_event_name(ev->type));
        return;
    }
    rn->deferred[rn->ndeferred++] = *ev;
}

static void persist_history_if_changed(repl_node *rn)
{
    const repl_history *h = &rn->sm.log;
    if (h->n == rn->saved_hist.n &&
        memcmp(h->seg, rn->saved_hist.seg, (size_t)h->n * sizeof(h->seg[0])) == 0)
        return;
    rn->saved_hist = *h;
    rn->saved_hist.end = rn->log_end;
    if (rn->srv->aof) aof_feed_pos(rn->srv->aof, &rn->saved_hist);
}

void feed(repl_node *rn, const repl_event *ev)
{
    if (rn->stepping) {
        defer_event(rn, ev);
        return;
    }
    rn->stepping = true;
    /* CONFIG SET repl-timeout applies from the next event on. */
    rn->sm.p.repl_timeout_ms = rn->srv->cfg.repl_timeout_ms;
    rn->sm.p.resync_ms = rn->srv->cfg.repl_timeout_ms * 2;
    repl_role before = rn->sm.role;
    int n = repl_step(&rn->sm, ev, now_ms(), rn->actions, REPL_MAX_ACTIONS);
    for (int i = 0; i < n; i++) exec_action(rn, &rn->actions[i]);
    persist_history_if_changed(rn);
    rn->stepping = false;
    if (before != REPL_PRIMARY && before != REPL_FENCED && rn->sm.role == REPL_PRIMARY)
        down_resync_all(rn);
    while (rn->ndeferred > 0) {
        repl_event next = rn->deferred[0];
        rn->ndeferred--;
        memmove(rn->deferred, rn->deferred + 1, (size_t)rn->ndeferred * sizeof(rn->deferred[0]));
        feed(rn, &next);
    }
}

static void apply_role_side_effects(repl_node *rn)
{
    /* A switching primary changes nothing on its own: the target's log must
     * end where ours does when it takes over. */
    bool primary = rn->sm.role == REPL_PRIMARY && !repl_switching(&rn->sm);
    rn->srv->db.no_expire = !primary;
    /* replicas: reads hide TTL-passed keys until the primary's DEL arrives */
    rn->srv->db.hide_expired = rn->sm.role != REPL_PRIMARY;
}

void exec_action(repl_node *rn, const repl_action *a)
{
    switch (a->type) {
    case REPL_ACT_CAS_CONFIG: coord_send_cas(rn, a); break;
    case REPL_ACT_READ_CONFIG: coord_send_read(rn, a->seq); break;
    case REPL_ACT_START_STREAM: down_start(rn, a->peer, a->offset, a->full); break;
    case REPL_ACT_STOP_STREAM: down_stop(rn, a->peer); break;
    case REPL_ACT_ACK_WRITES: hold_release(rn, a->offset); break;
    case REPL_ACT_REFUSE_WRITES:
        log_notice("replication: refusing writes (%s)", repl_refusal_name((repl_refusal)a->reason));
        if (a->reason != REPL_REFUSE_NOREPLICAS && a->reason != REPL_REFUSE_SWITCHING)
            hold_fail_all(rn);
        break;
    case REPL_ACT_ACCEPT_WRITES: log_notice("replication: accepting writes as primary of epoch %llu",
                                            (unsigned long long)rn->sm.cfg.epoch); break;
    case REPL_ACT_BECOME_REPLICA: up_follow(rn, a); break;
    case REPL_ACT_TRUNCATE: /* can_truncate is false for the kv store */ abort();
    case REPL_ACT_APPLY: up_apply(rn, a); break;
    case REPL_ACT_SEND_ACK: up_send_ack(rn, a->epoch, a->offset); break;
    case REPL_ACT_REFUSE_STREAM: up_send_refuse(rn, a->epoch); break;
    case REPL_ACT_STOP_READS:
    case REPL_ACT_SERVE_READS: break; /* repl_read_ok is asked per read */
    case REPL_ACT_LOG: log_msg(a->reason, "replication: %s", a->u.msg); break;
    case REPL_ACT_SEND_HANDOFF: down_send_handoff(rn, a->peer, a->epoch, a->offset); break;
    }
    apply_role_side_effects(rn);
}

static void on_tick(uv_timer_t *t)
{
    repl_node *rn = t->data;
    if (rn->closing) return;
    coord_poll_session(rn);
    if (!rn->sm_ready) return;
    repl_event ev = {.type = REPL_EV_TICK};
    feed(rn, &ev);
    down_poll_snapshots(rn);
    up_tick(rn);
    coord_refresh_nodes(rn);
}

/* Called once the config is known: the member list fixes the node ids. */
void sm_start(repl_node *rn, const repl_history *restored)
{
    kv_config *cfg = &rn->srv->cfg;
    repl_params p = {
        .self = rn->self,
        .session_timeout_ms = rn->session_timeout_ms,
        .lease_margin_ms = rn->session_timeout_ms / 10 + 20,
        .repl_timeout_ms = cfg->repl_timeout_ms,
        .resync_ms = cfg->repl_timeout_ms * 2,
        .retry_ms = 200,
        .min_sync_replicas = cfg->min_sync_replicas,
        .catchup_max_lag = 1024 * 1024,
        .can_truncate = false,
    };
    repl_init(&rn->sm, &p, restored);
    rn->saved_hist = rn->sm.log;
    repl_set_backlog(&rn->sm, backlog_start(rn));
    rn->sm_ready = true;
    apply_role_side_effects(rn);
}

/* ---- hooks from the kv node -------------------------------------------------------------- */

bool repl_is_primary(const kv_server *srv)
{
    return srv->repl == NULL || srv->repl->sm.role == REPL_PRIMARY;
}

void repl_feed(kv_server *srv, const char *p, size_t len)
{
    repl_node *rn = srv->repl;
    if (rn == NULL) return;
    backlog_append(rn, p, len);
}

bool repl_after_flush(kv_server *srv)
{
    repl_node *rn = srv->repl;
    if (rn == NULL || !rn->sm_ready) return false;
    uint64_t before = rn->log_end;
    if ((rn->sm.role == REPL_PRIMARY || rn->sm.role == REPL_FENCED) && rn->sm.log.end < rn->log_end) {
        repl_event ev = {.type = REPL_EV_APPENDED};
        ev.u.appended.end = rn->log_end;
        feed(rn, &ev);
    }
    down_pump_all(rn);
    up_flush_ack(rn);
    hold_run_released(rn);
    pause_run_resumed(rn);
    return rn->log_end != before;
}

/* ---- start and stop ------------------------------------------------------------------------ */

int repl_config_check(const kv_config *cfg, buf *err)
{
    if (cfg->repl_zk == NULL || cfg->repl_zk[0] == '\0') return 0;
    if (!cfg->appendonly) {
        buf_printf(err, "replicated mode (repl-zk) requires appendonly yes: a member's log must "
                        "survive its restart, or an in-sync member could come back empty and be elected");
        return -HALO_ECONFIG;
    }
    if (!coord_id_valid(cfg->repl_node_id, strlen(cfg->repl_node_id))) {
        buf_printf(err, "repl-node-id must be set to [A-Za-z0-9_.-]{1,64} in replicated mode");
        return -HALO_ECONFIG;
    }
    if (!coord_id_valid(cfg->repl_group, strlen(cfg->repl_group)) ||
        !coord_id_valid(cfg->repl_cluster, strlen(cfg->repl_cluster))) {
        buf_printf(err, "repl-group and repl-cluster must be [A-Za-z0-9_.-]{1,64}");
        return -HALO_ECONFIG;
    }
    if (cfg->repl_announce[0] && !coord_addr_valid(cfg->repl_announce, strlen(cfg->repl_announce))) {
        buf_printf(err, "repl-announce must be ip:port, got '%s'", cfg->repl_announce);
        return -HALO_ECONFIG;
    }
    coord_id ids[REPL_MAX_NODES];
    int n;
    int rc = parse_members(cfg->repl_members, ids, &n, err);
    if (rc == 0 && id_index(ids, n, cfg->repl_node_id, strlen(cfg->repl_node_id)) == REPL_NONE) {
        buf_printf(err, "repl-node-id %s is not one of repl-members %s", cfg->repl_node_id,
                   cfg->repl_members);
        rc = -HALO_ECONFIG;
    }
    return rc;
}

static int id_index(const coord_id *ids, int n, const char *id, size_t len)
{
    for (int i = 0; i < n; i++)
        if (strlen(ids[i]) == len && memcmp(ids[i], id, len) == 0) return i;
    return REPL_NONE;
}

/* "n1,n2,n3" into ids[0..*n). The members' order fixes the state machine's
 * node ids, so every member must be given the same list. */
static int parse_members(const char *list, coord_id ids[REPL_MAX_NODES], int *n, buf *err)
{
    *n = 0;
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        if (!coord_id_valid(p, len)) {
            buf_printf(err, "repl-members: '%.*s' is not a valid node id", (int)len, p);
            return -HALO_ECONFIG;
        }
        if (*n == REPL_MAX_NODES) {
            buf_printf(err, "repl-members: at most %d members", REPL_MAX_NODES);
            return -HALO_ECONFIG;
        }
        if (id_index(ids, *n, p, len) != REPL_NONE) {
            buf_printf(err, "repl-members: '%.*s' appears twice", (int)len, p);
            return -HALO_ECONFIG;
        }
        snprintf(ids[(*n)++], sizeof(coord_id), "%.*s", (int)len, p);
        p += len;
        if (*p == ',') p++;
    }
    if (*n == 0) {
        buf_printf(err, "repl-members must list the group's node ids, e.g. n1,n2,n3");
        return -HALO_ECONFIG;
    }
    return 0;
}

static void announce_addr(kv_server *srv, char *out, size_t cap)
{
    if (srv->cfg.repl_announce[0]) {
        snprintf(out, cap, "%s", srv->cfg.repl_announce);
        return;
    }
    char first[64] = "127.0.0.1";
    const char *b = srv->cfg.bind;
    while (*b == ' ' || *b == '-') b++;
    size_t len = strcspn(b, " ");
    if (len > 0 && len < sizeof(first)) snprintf(first, sizeof(first), "%.*s", (int)len, b);
    if (strchr(first, ':')) snprintf(out, cap, "[%s]:%d", first, srv->cfg.port);
    else snprintf(out, cap, "%s:%d", first, srv->cfg.port);
}

int repl_node_start(kv_server *srv)
{
    if (srv->cfg.repl_zk == NULL || srv->cfg.repl_zk[0] == '\0') return 0;
    repl_node *rn = hcalloc(1, sizeof(*rn));
    rn->srv = srv;
    rn->self = REPL_NONE;
    rn->up_peer = REPL_NONE;
    rn->snap_in_fd = -1;
    for (int i = 0; i < REPL_MAX_NODES; i++) rn->down[i].snap_fd = -1;
    buf err;
    buf_init(&err);
    if (parse_members(srv->cfg.repl_members, rn->members, &rn->nmembers, &err) != 0) {
        log_error("%.*s", (int)err.len, err.data);
        buf_free(&err);
        hfree(rn);
        return -HALO_ECONFIG;
    }
    buf_free(&err);
    snprintf(rn->self_id, sizeof(rn->self_id), "%s", srv->cfg.repl_node_id);
    rn->self = member_index(rn, rn->self_id, strlen(rn->self_id)); /* checked by config_validate */
    announce_addr(srv, rn->addr_self, sizeof(rn->addr_self));
    /* The restored position: the log the AOF holds. */
    repl_history pos;
    if (!aof_loaded_pos(srv->aof, &pos)) pos.n = 0;
    rn->log_end = pos.end;
    rn->restored = pos;
    aof_set_pos_source(srv->aof, pos_source, rn);
    rn->session_timeout_ms = srv->cfg.repl_session_timeout_ms;
    int rc = coord_start(rn);
    if (rc != 0) {
        aof_set_pos_source(srv->aof, NULL, NULL);
        hfree(rn);
        return rc;
    }
    srv->repl = rn;
    uv_timer_init(srv->loop, &rn->tick);
    rn->tick.data = rn;
    uv_timer_start(&rn->tick, on_tick, 10, 10);
    log_notice("replicated mode: node %s of group %s (members %s), ZooKeeper %s, announcing %s, "
               "log position %llu", rn->self_id, srv->cfg.repl_group, srv->cfg.repl_members,
               srv->cfg.repl_zk, rn->addr_self, (unsigned long long)rn->log_end);
    return 0;
}

static void release_part(void *arg)
{
    repl_node *rn = arg;
    if (--rn->close_pending > 0) return;
    backlog_reset(rn, 0);
    if (rn->fake) client_free_fake(rn->fake);
    hfree(rn);
}

static void on_tick_closed(uv_handle_t *h)
{
    release_part(h->data);
}

void repl_node_stop(kv_server *srv)
{
    repl_node *rn = srv->repl;
    if (rn == NULL) return;
    hold_fail_all(rn);
    pause_drop_all(rn);
    down_close_all(rn);
    up_close(rn);
    rn->closing = true;
    aof_set_pos_source(srv->aof, NULL, NULL);
    srv->repl = NULL;
    rn->close_pending = 2;
    uv_timer_stop(&rn->tick);
    uv_close((uv_handle_t *)&rn->tick, on_tick_closed);
    coord_stop(rn, release_part);
}

void pos_source(void *arg, repl_history *out)
{
    repl_node *rn = arg;
    *out = rn->sm_ready ? rn->sm.log : rn->restored;
    out->end = rn->log_end;
}
