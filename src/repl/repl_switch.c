/* repl_switch.c — planned switchover: FAILOVER / SENTINEL FAILOVER, and the clients paused while the role moves. */
#include "repl_int.h"
#include "../common/log.h"
#include "../common/mem.h"
#include "../common/util.h"
#include "../kv/cmd.h"
#include "../kv/net.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The state machine decides (repl_sm.h, "Planned switchover"); this file
 * gives it its commands and keeps the clients waiting meanwhile. A read or
 * write arriving during a switchover is neither run nor refused: repl_gate
 * pauses its client (a copy of the command, input no longer read). When the
 * switchover ends the commands run in arrival order — on a node still
 * primary they succeed, on one that handed over they get -READONLY, and a
 * Sentinel-aware client asks for the new primary. */

/* ---- paused clients ------------------------------------------------------------------------ */

void pause_client(repl_node *rn, kv_client *c)
{
    c->paused_argv = resp_argv_dup(c->argv, (size_t)c->argc, 0);
    c->paused_argc = c->argc;
    c->flags |= CLIENT_REPL_PAUSED;
    c->next_paused = NULL;
    if (rn->paused_tail) rn->paused_tail->next_paused = c;
    else rn->paused = c;
    rn->paused_tail = c;
}

static void unpause(kv_client *c)
{
    hfree(c->paused_argv);
    c->paused_argv = NULL;
    c->paused_argc = 0;
    c->next_paused = NULL;
    c->flags &= ~CLIENT_REPL_PAUSED;
}

void pause_forget(repl_node *rn, kv_client *c)
{
    kv_client *prev = NULL;
    for (kv_client *p = rn->paused; p; prev = p, p = p->next_paused) {
        if (p != c) continue;
        if (prev) prev->next_paused = c->next_paused;
        else rn->paused = c->next_paused;
        if (rn->paused_tail == c) rn->paused_tail = prev;
        break;
    }
    unpause(c);
}

void pause_drop_all(repl_node *rn)
{
    while (rn->paused) pause_forget(rn, rn->paused);
}

/* Runs the paused command, then whatever the client pipelined behind it. */
static void resume(kv_client *c)
{
    resp_arg *argv = c->paused_argv;
    int argc = c->paused_argc;
    c->paused_argv = NULL;
    c->flags &= ~CLIENT_REPL_PAUSED;
    c->argc = argc;
    c->argv = argv;
    cmd_dispatch(c); /* may pause it again: a new switchover began */
    c->argc = 0;
    c->argv = NULL;
    hfree(argv);
    client_process_input(c);
}

/* after_io: once no switchover is under way, the paused clients go on. */
void pause_run_resumed(repl_node *rn)
{
    if (rn->paused == NULL || (rn->sm_ready && repl_switching(&rn->sm))) return;
    kv_client *c = rn->paused;
    rn->paused = rn->paused_tail = NULL;
    while (c) {
        kv_client *next = c->next_paused;
        c->next_paused = NULL;
        if (!client_closing(c)) resume(c);
        else unpause(c);
        c = next;
    }
}

/* INFO's master_failover_state, in Redis's words. */
const char *switch_state(const repl_node *rn)
{
    if (!rn->sm_ready || !repl_switching(&rn->sm)) return "no-failover";
    return rn->sm.ho.sent ? "failover-in-progress" : "waiting-for-sync";
}

/* ---- starting one --------------------------------------------------------------------------- */

static void start(repl_node *rn, int target, int64_t timeout_ms)
{
    /* Writes run earlier in this batch are in the log but not yet reported
     * (repl_after_flush does that after the AOF flush): report them now, so
     * the handoff waits for them. Nothing is acknowledged early: replicas
     * ack bytes only after they were streamed, which follows the flush. */
    if (rn->sm.log.end < rn->log_end) {
        repl_event app = {.type = REPL_EV_APPENDED};
        app.u.appended.end = rn->log_end;
        feed(rn, &app);
    }
    log_notice("replication: switchover to %s requested (timeout %lld ms)", rn->members[target],
               (long long)timeout_ms);
    repl_event ev = {.type = REPL_EV_SWITCHOVER};
    ev.u.switchover.target = target;
    ev.u.switchover.timeout_ms = timeout_ms;
    feed(rn, &ev);
}

static int64_t default_timeout(const repl_node *rn)
{
    return rn->srv->cfg.repl_timeout_ms; /* as long as any in-sync member may lag */
}

/* SENTINEL FAILOVER (c, which gets the reply) or a replica's HALO.FAILOVER
 * (c NULL): the primary hands over to its most caught-up in-sync replica; a
 * replica passes the request on to the primary it follows. */
void switch_start_any(repl_node *rn, kv_client *c)
{
    if (!rn->sm_ready || rn->sm.role != REPL_PRIMARY) {
        bool passed = rn->sm_ready && rn->sm.role == REPL_REPLICA && up_send_failover_request(rn);
        if (c && passed) reply_ok(c);
        else if (c) reply_error(c, "NOGOODSLAVE No primary to fail over from: this node follows none");
        return;
    }
    int target = repl_switchover_pick(&rn->sm);
    const char *why = repl_switchover_refusal(&rn->sm, target);
    if (why != NULL) {
        log_warn("replication: SENTINEL FAILOVER refused: %s", why);
        if (c && repl_switching(&rn->sm)) reply_error(c, "INPROG Failover already in progress");
        else if (c) reply_errorf(c, "NOGOODSLAVE No suitable replica to promote: %s", why);
        return;
    }
    start(rn, target, default_timeout(rn));
    if (c) reply_ok(c);
}

/* ---- FAILOVER [TO host port] [TIMEOUT ms] | FAILOVER ABORT ----------------------------------- */

typedef struct failover_args {
    bool abort, to, timeout_set;
    char addr[COORD_ADDR_MAX + 3];
    int64_t timeout_ms;
} failover_args;

static bool word(const resp_arg *a, const char *w)
{
    return a->len == strlen(w) && strncasecmp(a->ptr, w, a->len) == 0;
}

/* "ip:port" as members register it ("[ip6]:port" for IPv6). */
static void format_target(failover_args *fa, const resp_arg *host, const resp_arg *port)
{
    bool v6 = memchr(host->ptr, ':', host->len) != NULL;
    int hl = host->len > 64 ? 64 : (int)host->len, pl = port->len > 8 ? 8 : (int)port->len;
    snprintf(fa->addr, sizeof(fa->addr), v6 ? "[%.*s]:%.*s" : "%.*s:%.*s", hl, host->ptr, pl,
             port->ptr);
}

static const char *parse_failover(const kv_client *c, failover_args *fa)
{
    memset(fa, 0, sizeof(*fa));
    for (int i = 1; i < c->argc; i++) {
        const resp_arg *a = &c->argv[i];
        if (word(a, "ABORT")) {
            fa->abort = true;
        } else if (word(a, "TO") && i + 2 < c->argc && !fa->to) {
            fa->to = true;
            format_target(fa, &c->argv[i + 1], &c->argv[i + 2]);
            i += 2;
        } else if (word(a, "TIMEOUT") && i + 1 < c->argc && !fa->timeout_set) {
            i++;
            if (!str_to_i64(c->argv[i].ptr, c->argv[i].len, &fa->timeout_ms) || fa->timeout_ms <= 0)
                return "ERR FAILOVER timeout must be a positive number of milliseconds";
            fa->timeout_set = true;
        } else if (word(a, "FORCE")) {
            return "ERR FAILOVER FORCE is not supported: halo hands the role only to a replica "
                   "that holds every acknowledged write";
        } else {
            return "ERR syntax error";
        }
    }
    if (fa->abort && (fa->to || fa->timeout_set))
        return "ERR FAILOVER ABORT takes no other arguments";
    return NULL;
}

static int member_by_addr(const repl_node *rn, const char *addr)
{
    for (int i = 0; i < rn->nmembers; i++) {
        const char *a = member_addr(rn, i);
        if (a && strcmp(a, addr) == 0) return i;
    }
    return REPL_NONE;
}

static void reply_not_primary(kv_client *c, repl_node *rn)
{
    const char *a = rn->sm_ready ? member_addr(rn, rn->sm.cfg.primary) : NULL;
    if (a) reply_errorf(c, "ERR FAILOVER is not valid when server is a replica: the primary is %s", a);
    else reply_error(c, "ERR FAILOVER is not valid when server is a replica.");
}

void repl_cmd_failover(kv_client *c)
{
    repl_node *rn = c->srv->repl;
    if (rn == NULL) {
        reply_error(c, "ERR FAILOVER needs replicated mode (repl-zk): this node is standalone");
        return;
    }
    failover_args fa;
    const char *err = parse_failover(c, &fa);
    if (err != NULL) {
        reply_error(c, err);
        return;
    }
    if (fa.abort) {
        if (!rn->sm_ready || !repl_switching(&rn->sm)) {
            reply_error(c, "ERR No failover in progress.");
            return;
        }
        repl_event ev = {.type = REPL_EV_SWITCHOVER};
        ev.u.switchover.target = REPL_NONE;
        feed(rn, &ev);
        reply_ok(c);
        return;
    }
    if (!rn->sm_ready || rn->sm.role != REPL_PRIMARY) {
        reply_not_primary(c, rn);
        return;
    }
    int target = fa.to ? member_by_addr(rn, fa.addr) : repl_switchover_pick(&rn->sm);
    if (fa.to && (target == REPL_NONE || target == rn->self)) {
        reply_error(c, "ERR FAILOVER target HOST and PORT is not a replica.");
        return;
    }
    const char *why = repl_switchover_refusal(&rn->sm, target);
    if (why != NULL) {
        reply_errorf(c, "ERR FAILOVER refused: %s", why);
        return;
    }
    start(rn, target, fa.timeout_set ? fa.timeout_ms : default_timeout(rn));
    reply_ok(c);
}
