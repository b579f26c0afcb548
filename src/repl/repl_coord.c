/* repl_coord.c — the replication adapter's side of the coordinator: session, config, marker, node addresses. */
#include "repl_int.h"
#include "../common/err.h"
#include "../common/log.h"
#include "../common/mem.h"
#include "../common/util.h"

#include <stdio.h>
#include <string.h>

/* A CAS in flight: its answer names the proposal's epoch (repl_sm.h). */
typedef struct cas_ctx {
    repl_node *rn;
    uint64_t epoch;
} cas_ctx;

typedef struct read_ctx {
    repl_node *rn;
    uint64_t seq;
} read_ctx;

static const char *gid(const repl_node *rn)
{
    return rn->srv->cfg.repl_group;
}

const char *member_addr(const repl_node *rn, int id)
{
    if (id < 0 || id >= rn->nmembers) return NULL;
    if (id == rn->self) return rn->addr_self;
    return rn->addrs[id][0] ? rn->addrs[id] : NULL;
}

/* ---- the session ------------------------------------------------------------------------ */

static void register_self(repl_node *rn);

static void on_registered(coord *c, const coord_result *r, void *arg)
{
    (void)c;
    repl_node *rn = arg;
    rn->registering = false;
    if (rn->closing) return;
    if (r->err == 0) {
        rn->registered = true;
        log_notice("replication: registered as node %s at %s", rn->self_id, rn->addr_self);
        return;
    }
    /* EEXISTS: our previous incarnation's session has not expired yet. */
    log_notice("replication: cannot register node %s yet (%s); retrying", rn->self_id, r->errmsg);
    rn->register_retry_ms = now_ms() + 300;
}

static void register_self(repl_node *rn)
{
    if (rn->registered || rn->registering || rn->co == NULL) return;
    coord_node_info info;
    memset(&info, 0, sizeof(info));
    snprintf(info.addr, sizeof(info.addr), "%s", rn->addr_self);
    if (coord_register_node(rn->co, rn->self_id, &info, on_registered, rn) == 0) rn->registering = true;
}

static void on_session(coord *c, coord_state st, void *arg)
{
    repl_node *rn = arg;
    if (rn->closing) return;
    rn->cstate = st;
    log_notice("replication: ZooKeeper session %s", coord_state_name(st));
    if (!rn->sm_ready) {
        if (st == COORD_EXPIRED) coord_reconnect(c);
        return;
    }
    repl_event ev = {.type = REPL_EV_SESSION};
    if (st == COORD_DISCONNECTED) {
        ev.u.session.state = REPL_SESS_DISCONNECTED;
        feed(rn, &ev);
    } else if (st == COORD_EXPIRED) {
        ev.u.session.state = REPL_SESS_EXPIRED;
        feed(rn, &ev);
        rn->registered = false;
        rn->last_contact_fed_us = 0;
        coord_reconnect(c);
    }
}

/* Each answered request proves the session alive as of its send time: the
 * lease basis (repl_sm.h REPL_EV_SESSION). */
void coord_poll_session(repl_node *rn)
{
    if (rn->co == NULL) return;
    if (!rn->registered && now_ms() >= rn->register_retry_ms) register_self(rn);
    if (!rn->sm_ready) return;
    coord_session_info si;
    coord_session(rn->co, &si);
    if (si.state != COORD_CONNECTED || si.last_contact_us == 0) return;
    if (si.last_contact_us == rn->last_contact_fed_us) return;
    rn->last_contact_fed_us = si.last_contact_us;
    repl_event ev = {.type = REPL_EV_SESSION};
    ev.u.session.state = REPL_SESS_CONNECTED;
    ev.u.session.sent_ms = si.last_contact_us / 1000;
    feed(rn, &ev);
}

/* ---- config and marker -------------------------------------------------------------------- */

static void feed_marker(repl_node *rn)
{
    if (!rn->marker_known || !rn->sm_ready) return;
    repl_event ev = {.type = REPL_EV_MARKER};
    ev.u.marker.present = rn->marker_present;
    ev.u.marker.holder = rn->marker_holder;
    ev.u.marker.epoch = rn->marker_epoch;
    feed(rn, &ev);
}

static void feed_config(repl_node *rn, const coord_config *cc, int32_t version, uint64_t seq)
{
    repl_config rc;
    if (!to_repl_config(rn, cc, version, &rc)) {
        log_error("replication: group %s's config names members outside repl-members %s; "
                  "ignoring it", gid(rn), rn->srv->cfg.repl_members);
        return;
    }
    rn->ccfg = *cc;
    rn->have_ccfg = true;
    if (!rn->sm_ready) sm_start(rn, &rn->restored);
    repl_event ev = {.type = REPL_EV_CONFIG};
    ev.u.config.cfg = rc;
    ev.u.config.read_seq = seq;
    feed(rn, &ev);
}

static void bootstrap(repl_node *rn);

static void on_config(coord *c, const coord_result *r, void *arg)
{
    (void)c;
    repl_node *rn = arg;
    if (rn->closing) return;
    if (r->err == -HALO_ENOTFOUND) {
        bootstrap(rn);
        return;
    }
    if (r->err != 0) {
        if (r->err != -HALO_ECLOSED)
            log_warn("replication: group %s config unreadable: %s", gid(rn), r->errmsg);
        return;
    }
    feed_config(rn, r->config, r->version, 0);
}

static void on_bootstrapped(coord *c, const coord_result *r, void *arg)
{
    (void)c;
    repl_node *rn = arg;
    rn->bootstrapping = false;
    if (rn->closing) return;
    if (r->err == 0)
        log_notice("replication: created group %s's config: members %s, no primary yet", gid(rn),
                   rn->srv->cfg.repl_members);
    else if (r->err != -HALO_EEXISTS && r->err != -HALO_ECLOSED)
        log_warn("replication: cannot create group %s's config: %s", gid(rn), r->errmsg);
    /* Either way the watch delivers the config that now exists. */
}

/* The first member up creates the config: every member in the ISR (all
 * logs are empty and equal), no primary; the election follows. */
static void bootstrap(repl_node *rn)
{
    if (rn->bootstrapping) return;
    repl_config rc = {.epoch = 0, .version = -1, .primary = REPL_NONE};
    for (int i = 0; i < rn->nmembers; i++) {
        rc.isr = repl_set_add(rc.isr, i);
        rc.members = repl_set_add(rc.members, i);
    }
    coord_config cc;
    to_coord_config(rn, &rc, &cc);
    if (coord_create_config(rn->co, gid(rn), &cc, on_bootstrapped, rn) == 0) rn->bootstrapping = true;
}

static void on_primary(coord *c, const coord_result *r, void *arg)
{
    (void)c;
    repl_node *rn = arg;
    if (rn->closing || (r->err != 0 && r->err != -HALO_ENOTFOUND)) return;
    rn->marker_known = true;
    rn->marker_present = r->err == 0 && r->primary != NULL;
    rn->marker_holder = REPL_NONE;
    rn->marker_epoch = 0;
    if (rn->marker_present) {
        rn->marker_holder = member_index(rn, r->primary->node, strlen(r->primary->node));
        rn->marker_epoch = r->primary->epoch;
    }
    feed_marker(rn);
}

static void on_read(coord *c, const coord_result *r, void *arg)
{
    (void)c;
    read_ctx *ctx = arg;
    repl_node *rn = ctx->rn;
    uint64_t seq = ctx->seq;
    hfree(ctx);
    if (rn->closing || r->err != 0) return; /* the state machine asks again (retry_ms) */
    feed_config(rn, r->config, r->version, seq);
    feed_marker(rn);
}

void coord_send_read(repl_node *rn, uint64_t seq)
{
    read_ctx *ctx = hmalloc(sizeof(*ctx));
    ctx->rn = rn;
    ctx->seq = seq;
    if (coord_get_config(rn->co, gid(rn), on_read, ctx) != 0) hfree(ctx);
}

static repl_cas_result cas_result_of(int err)
{
    if (err == 0) return REPL_CAS_OK;
    if (err == -HALO_ECONNLOSS || err == -HALO_ECLOSED) return REPL_CAS_UNKNOWN;
    return REPL_CAS_FAILED; /* BADVERSION, EXISTS, NOTFOUND, EXPIRED */
}

static void on_cas(coord *c, const coord_result *r, void *arg)
{
    (void)c;
    cas_ctx *ctx = arg;
    repl_node *rn = ctx->rn;
    uint64_t epoch = ctx->epoch;
    hfree(ctx);
    if (rn->closing) return;
    if (r->err != 0)
        log_notice("replication: config change to epoch %llu not applied: %s",
                   (unsigned long long)epoch, r->errmsg);
    repl_event ev = {.type = REPL_EV_CAS_RESULT};
    ev.u.cas.result = cas_result_of(r->err);
    ev.u.cas.version = r->version;
    ev.u.cas.epoch = epoch;
    feed(rn, &ev);
}

void coord_send_cas(repl_node *rn, const repl_action *a)
{
    coord_config cc;
    to_coord_config(rn, &a->u.cas.config, &cc);
    cas_ctx *ctx = hmalloc(sizeof(*ctx));
    ctx->rn = rn;
    ctx->epoch = a->epoch;
    int32_t expected = (int32_t)a->u.cas.expected_version;
    int rc;
    if (a->u.cas.with_marker) {
        coord_primary_info p;
        memset(&p, 0, sizeof(p));
        snprintf(p.node, sizeof(p.node), "%s", rn->self_id);
        p.epoch = a->u.cas.config.epoch;
        rc = a->u.cas.replace_marker ? coord_take_over(rn->co, gid(rn), &cc, expected, &p, on_cas, ctx)
                                     : coord_elect(rn->co, gid(rn), &cc, expected, &p, on_cas, ctx);
    } else {
        rc = coord_cas_config(rn->co, gid(rn), &cc, expected, on_cas, ctx);
    }
    if (rc != 0) {
        hfree(ctx);
        repl_event ev = {.type = REPL_EV_CAS_RESULT};
        ev.u.cas.result = REPL_CAS_FAILED;
        ev.u.cas.epoch = a->epoch;
        defer_event(rn, &ev);
    }
}

/* ---- node addresses ------------------------------------------------------------------------ */

static void on_nodes(coord *c, const coord_result *r, void *arg)
{
    (void)c;
    repl_node *rn = arg;
    rn->nodes_reading = false;
    if (rn->closing || r->err != 0) return;
    for (int i = 0; i < rn->nmembers; i++) rn->alive[i] = false;
    for (size_t k = 0; k < r->n_nodes; k++) {
        int id = member_index(rn, r->nodes[k].id, strlen(r->nodes[k].id));
        if (id == REPL_NONE) continue;
        rn->alive[id] = true;
        snprintf(rn->addrs[id], sizeof(rn->addrs[id]), "%s", r->nodes[k].info.addr);
    }
}

/* Whether a member we talk to, or clients ask about, has no known address:
 * the primary we follow, a replica streaming from us, the config's primary. */
static bool address_missing(const repl_node *rn)
{
    if (rn->up_peer != REPL_NONE && member_addr(rn, rn->up_peer) == NULL) return true;
    for (int i = 0; i < rn->nmembers; i++)
        if (rn->down[i].c && member_addr(rn, i) == NULL) return true;
    return rn->sm_ready && rn->sm.cfg.primary != REPL_NONE && member_addr(rn, rn->sm.cfg.primary) == NULL;
}

/* Addresses change rarely (a node restarted elsewhere); once a second is
 * plenty, and a member we need but do not know yet is asked at once. */
void coord_refresh_nodes(repl_node *rn)
{
    int64_t now = now_ms();
    bool need = address_missing(rn);
    if (rn->nodes_reading || rn->co == NULL) return;
    if (!need && now - rn->nodes_read_ms < 1000) return;
    if (need && now - rn->nodes_read_ms < 100) return;
    rn->nodes_read_ms = now;
    if (coord_list_nodes(rn->co, on_nodes, rn) == 0) rn->nodes_reading = true;
}

/* ---- start and stop ------------------------------------------------------------------------ */

int coord_start(repl_node *rn)
{
    kv_config *cfg = &rn->srv->cfg;
    coord_options o = {.servers = cfg->repl_zk,
                       .cluster = cfg->repl_cluster,
                       .session_timeout_ms = rn->session_timeout_ms,
                       .on_session = on_session,
                       .arg = rn};
    int rc = coord_zk_open(rn->srv->loop, &o, &rn->co);
    if (rc != 0) {
        log_error("replication: cannot start the ZooKeeper client for %s: %s", cfg->repl_zk,
                  halo_strerror(rc));
        return rc;
    }
    register_self(rn);
    if (coord_watch_config(rn->co, gid(rn), on_config, rn, &rn->w_cfg) != 0 ||
        coord_watch_primary(rn->co, gid(rn), on_primary, rn, &rn->w_prim) != 0) {
        log_error("replication: cannot watch group %s", gid(rn));
        coord_close(rn->co, NULL, NULL);
        rn->co = NULL;
        return -HALO_EIO;
    }
    coord_refresh_nodes(rn);
    return 0;
}

/* done(rn) runs once the coordinator is gone: callbacks may use rn until then. */
void coord_stop(repl_node *rn, void (*done)(void *arg))
{
    if (rn->co == NULL) {
        done(rn);
        return;
    }
    coord_close(rn->co, done, rn); /* ends the watches; the session's ephemerals go now */
    rn->co = NULL;
}
