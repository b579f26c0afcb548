/* repl_info.c — what the group looks like from outside: ROLE, INFO replication, SENTINEL discovery, metrics. */
#include "repl_int.h"
#include "../common/util.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* "ip:port" of a member (NULL: unknown) split into host and port. */
static bool split_addr(const char *addr, char *host, size_t cap, int *port)
{
    return addr != NULL && split_hostport(addr, strlen(addr), host, cap, port);
}

static int primary_id(const repl_node *rn)
{
    if (!rn->have_ccfg || rn->ccfg.primary[0] == '\0') return REPL_NONE;
    return member_index(rn, rn->ccfg.primary, strlen(rn->ccfg.primary));
}

/* The primary the coordinator names, and whether its marker is alive (a
 * primary whose marker is gone is dead or cut off: clients must not use it). */
static bool primary_alive(const repl_node *rn, int id)
{
    return id != REPL_NONE && rn->marker_known && rn->marker_present && rn->marker_holder == id;
}

static bool is_primary_role(const repl_node *rn)
{
    return rn->sm_ready && (rn->sm.role == REPL_PRIMARY || rn->sm.role == REPL_FENCED);
}

static const char *halo_role(const repl_node *rn)
{
    if (!rn->sm_ready) return "init";
    switch (rn->sm.role) {
    case REPL_INIT: return "init";
    case REPL_IDLE: return "idle";
    case REPL_REPLICA: return "replica";
    case REPL_CANDIDATE: return "candidate";
    case REPL_PRIMARY: return "primary";
    case REPL_FENCED: return "fenced";
    }
    return "unknown";
}

/* ---- ROLE ------------------------------------------------------------------------------ */

static void role_primary(kv_client *c, repl_node *rn)
{
    reply_array(c, 3);
    reply_cstr(c, "master");
    reply_int(c, (int64_t)rn->log_end);
    int n = 0;
    for (int i = 0; i < rn->nmembers; i++) n += rn->down[i].c != NULL;
    reply_array(c, n);
    for (int i = 0; i < rn->nmembers; i++) {
        if (rn->down[i].c == NULL) continue;
        char host[80] = "?", port[16] = "0";
        int p;
        const char *a = member_addr(rn, i);
        if (a && split_addr(a, host, sizeof(host), &p)) snprintf(port, sizeof(port), "%d", p);
        char off[24];
        snprintf(off, sizeof(off), "%llu", (unsigned long long)rn->down[i].acked);
        reply_array(c, 3);
        reply_cstr(c, host);
        reply_cstr(c, port);
        reply_cstr(c, off);
    }
}

void repl_cmd_role(kv_client *c)
{
    repl_node *rn = c->srv->repl;
    if (rn == NULL || is_primary_role(rn)) {
        if (rn) {
            role_primary(c, rn);
            return;
        }
        reply_array(c, 3);
        reply_cstr(c, "master");
        reply_int(c, 0);
        reply_array(c, 0);
        return;
    }
    char host[80] = "", state[16] = "connect";
    int port = 0;
    int p = rn->sm.role == REPL_REPLICA ? rn->sm.following : primary_id(rn);
    const char *a = member_addr(rn, p);
    if (a) split_addr(a, host, sizeof(host), &port);
    if (rn->ust == UP_CONNECTING) snprintf(state, sizeof(state), "connecting");
    else if (rn->ust == UP_CONNECTED) snprintf(state, sizeof(state), rn->sm.loading || rn->snap_in_fd >= 0 ? "sync" : "connected");
    reply_array(c, 5);
    reply_cstr(c, "slave");
    reply_cstr(c, host);
    reply_int(c, port);
    reply_cstr(c, state);
    reply_int(c, (int64_t)rn->log_end);
}

/* ---- INFO replication ----------------------------------------------------------------------- */

static void info_halo_fields(repl_node *rn, buf *o)
{
    buf_printf(o, "halo_role:%s\r\nhalo_node_id:%s\r\nhalo_group:%s\r\nhalo_epoch:%llu\r\n", halo_role(rn),
               rn->self_id, rn->srv->cfg.repl_group, (unsigned long long)rn->sm.cfg.epoch);
    buf_printf(o, "halo_isr:");
    int n = 0;
    for (int i = 0; i < rn->nmembers; i++)
        if (repl_set_has(rn->sm.cfg.isr, i)) buf_printf(o, "%s%s", n++ ? "," : "", rn->members[i]);
    coord_session_info si = {0};
    if (rn->co) coord_session(rn->co, &si);
    int64_t now = now_ms();
    buf_printf(o, "\r\nhalo_isr_size:%d\r\nhalo_min_sync_replicas:%d\r\nhalo_commit_offset:%llu\r\n"
                  "halo_writes:%s\r\nhalo_lease_ok:%d\r\nhalo_zk_session:%s\r\n"
                  "halo_held_replies_failed:%llu\r\n",
               n, rn->srv->cfg.min_sync_replicas, (unsigned long long)rn->sm.commit,
               rn->sm_ready ? repl_refusal_name(repl_write_gate(&rn->sm, now)) : "not_primary",
               rn->sm_ready && repl_read_ok(&rn->sm, now) ? 1 : 0, coord_state_name(si.state),
               (unsigned long long)rn->failed_held);
}

static void info_backlog(repl_node *rn, buf *o)
{
    buf_printf(o, "master_repl_offset:%llu\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:1\r\n"
                  "repl_backlog_size:%lld\r\nrepl_backlog_first_byte_offset:%llu\r\nrepl_backlog_histlen:%llu\r\n",
               (unsigned long long)rn->log_end, (long long)rn->srv->cfg.repl_backlog_size,
               (unsigned long long)backlog_start(rn) + 1, (unsigned long long)rn->bl_bytes);
}

static void info_primary(repl_node *rn, buf *o)
{
    int n = 0;
    for (int i = 0; i < rn->nmembers; i++) n += rn->down[i].c != NULL;
    buf_printf(o, "role:master\r\nconnected_slaves:%d\r\n", n);
    int k = 0;
    int64_t now = now_ms();
    for (int i = 0; i < rn->nmembers; i++) {
        repl_down *d = &rn->down[i];
        if (d->c == NULL) continue;
        char host[80] = "?";
        int port = 0;
        const char *a = member_addr(rn, i);
        if (a) split_addr(a, host, sizeof(host), &port);
        buf_printf(o, "slave%d:ip=%s,port=%d,state=%s,offset=%llu,lag=%lld,halo_id=%s,in_sync=%d\r\n", k++,
                   host, port, d->snap_wait || d->snap_sending ? "wait_bgsave" : "online",
                   (unsigned long long)d->acked, (long long)(d->last_ack_ms ? (now - d->last_ack_ms) / 1000 : -1),
                   rn->members[i], repl_set_has(rn->sm.cfg.isr, i) ? 1 : 0);
    }
    buf_printf(o, "master_failover_state:%s\r\n", switch_state(rn));
}

static void info_replica(repl_node *rn, buf *o)
{
    char host[80] = "";
    int port = 0;
    int p = rn->sm.role == REPL_REPLICA ? rn->sm.following : primary_id(rn);
    const char *a = member_addr(rn, p);
    if (a) split_addr(a, host, sizeof(host), &port);
    int64_t now = now_ms();
    buf_printf(o, "role:slave\r\nmaster_host:%s\r\nmaster_port:%d\r\nmaster_link_status:%s\r\n"
                  "master_last_io_seconds_ago:%lld\r\nmaster_sync_in_progress:%d\r\n"
                  "slave_read_repl_offset:%llu\r\nslave_repl_offset:%llu\r\nslave_priority:100\r\n"
                  "slave_read_only:1\r\nreplica_announced:1\r\nconnected_slaves:0\r\n"
                  "master_failover_state:%s\r\n",
               host, port, rn->ust == UP_CONNECTED ? "up" : "down",
               (long long)(rn->last_io_ms ? (now - rn->last_io_ms) / 1000 : -1),
               rn->snap_in_fd >= 0 || rn->sm.loading ? 1 : 0, (unsigned long long)rn->log_end,
               (unsigned long long)rn->log_end, switch_state(rn));
}

void repl_info(kv_server *srv, buf *o)
{
    repl_node *rn = srv->repl;
    if (rn == NULL) {
        buf_printf(o, "role:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\n"
                      "master_replid:%s\r\nmaster_replid2:0000000000000000000000000000000000000000\r\n"
                      "master_repl_offset:0\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\n"
                      "repl_backlog_size:0\r\nrepl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n",
                   srv->run_id);
        return;
    }
    if (is_primary_role(rn)) info_primary(rn, o);
    else info_replica(rn, o);
    buf_printf(o, "master_replid:%s\r\nmaster_replid2:0000000000000000000000000000000000000000\r\n",
               srv->run_id);
    info_backlog(rn, o);
    info_halo_fields(rn, o);
}

void repl_metrics(kv_server *srv, buf *o)
{
    repl_node *rn = srv->repl;
    if (rn == NULL || !rn->sm_ready) return;
    static const char *const roles[] = {"init", "idle", "replica", "candidate", "primary", "fenced"};
    buf_printf(o, "# HELP halo_repl_role Replication role of this node (1 for the current role).\n"
                  "# TYPE halo_repl_role gauge\n");
    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
        buf_printf(o, "halo_repl_role{role=\"%s\"} %d\n", roles[i], strcmp(halo_role(rn), roles[i]) == 0);
    buf_printf(o, "# HELP halo_repl_epoch Epoch of the group configuration this node last saw.\n"
                  "# TYPE halo_repl_epoch gauge\nhalo_repl_epoch %llu\n",
               (unsigned long long)rn->sm.cfg.epoch);
    buf_printf(o, "# HELP halo_repl_isr_size Members of the in-sync set, primary included.\n"
                  "# TYPE halo_repl_isr_size gauge\nhalo_repl_isr_size %d\n",
               repl_set_count(rn->sm.cfg.isr));
    buf_printf(o, "# HELP halo_repl_offset_bytes End of this node's replication log.\n"
                  "# TYPE halo_repl_offset_bytes gauge\nhalo_repl_offset_bytes %llu\n",
               (unsigned long long)rn->log_end);
    buf_printf(o, "# HELP halo_repl_commit_offset_bytes Writes up to here were acknowledged (primary).\n"
                  "# TYPE halo_repl_commit_offset_bytes gauge\nhalo_repl_commit_offset_bytes %llu\n",
               (unsigned long long)rn->sm.commit);
    buf_printf(o, "# HELP halo_repl_replica_lag_bytes Bytes a replica has not acknowledged (primary).\n"
                  "# TYPE halo_repl_replica_lag_bytes gauge\n");
    for (int i = 0; i < rn->nmembers; i++)
        if (i != rn->self && is_primary_role(rn))
            buf_printf(o, "halo_repl_replica_lag_bytes{replica=\"%s\"} %llu\n", rn->members[i],
                       (unsigned long long)(rn->log_end - (rn->down[i].acked < rn->log_end ? rn->down[i].acked : rn->log_end)));
}

/* ---- SENTINEL ------------------------------------------------------------------------------- */

static void kv_pair(kv_client *c, const char *k, const char *v)
{
    reply_cstr(c, k);
    reply_cstr(c, v);
}

static void kv_pair_int(kv_client *c, const char *k, long long v)
{
    char tmp[24];
    snprintf(tmp, sizeof(tmp), "%lld", v);
    kv_pair(c, k, tmp);
}

/* One master's state as Sentinel reports it (redis-py's parse_sentinel_state
 * reads name, ip, port, flags, num-other-sentinels, ...). */
static void master_state(kv_client *c, repl_node *rn)
{
    int p = primary_id(rn);
    char host[80] = "", runid[2] = "";
    int port = 0;
    const char *a = member_addr(rn, p);
    if (a) split_addr(a, host, sizeof(host), &port);
    bool alive = primary_alive(rn, p) && a != NULL;
    int others = 0, replicas = 0;
    for (int i = 0; i < rn->nmembers; i++) {
        if (i != rn->self && rn->alive[i]) others++;
        if (i != p) replicas++;
    }
    reply_map(c, 14);
    kv_pair(c, "name", rn->srv->cfg.repl_group);
    kv_pair(c, "ip", host);
    kv_pair_int(c, "port", port);
    kv_pair(c, "runid", runid);
    kv_pair(c, "flags", alive ? "master" : "master,s_down,o_down");
    kv_pair_int(c, "link-pending-commands", 0);
    kv_pair_int(c, "last-ping-sent", 0);
    kv_pair_int(c, "down-after-milliseconds", rn->session_timeout_ms);
    kv_pair_int(c, "config-epoch", (long long)(rn->have_ccfg ? rn->ccfg.epoch : 0));
    kv_pair_int(c, "num-slaves", replicas);
    kv_pair_int(c, "num-other-sentinels", others);
    kv_pair_int(c, "quorum", 1);
    kv_pair_int(c, "failover-timeout", rn->session_timeout_ms * 2);
    kv_pair_int(c, "parallel-syncs", 1);
}

static void replica_state(kv_client *c, repl_node *rn, int id, int p)
{
    char host[80] = "", phost[80] = "", name[COORD_ADDR_MAX + 1];
    int port = 0, pport = 0;
    const char *a = member_addr(rn, id), *pa = member_addr(rn, p);
    if (a) split_addr(a, host, sizeof(host), &port);
    if (pa) split_addr(pa, phost, sizeof(phost), &pport);
    snprintf(name, sizeof(name), "%s", a ? a : rn->members[id]);
    bool up = id == rn->self || rn->alive[id];
    bool insync = repl_set_has(rn->sm.cfg.isr, id);
    reply_map(c, 11);
    kv_pair(c, "name", name);
    kv_pair(c, "ip", host);
    kv_pair_int(c, "port", port);
    kv_pair(c, "runid", rn->members[id]);
    kv_pair(c, "flags", up ? "slave" : "slave,s_down,disconnected");
    kv_pair(c, "master-link-status", up && insync ? "ok" : "err");
    kv_pair(c, "master-host", phost);
    kv_pair_int(c, "master-port", pport);
    kv_pair_int(c, "slave-priority", 100);
    kv_pair_int(c, "slave-repl-offset", (long long)(id == rn->self ? rn->log_end : rn->down[id].acked));
    kv_pair_int(c, "halo-in-sync", insync);
}

static void sentinel_peers(kv_client *c, repl_node *rn)
{
    int n = 0;
    for (int i = 0; i < rn->nmembers; i++) n += i != rn->self && rn->alive[i] && rn->addrs[i][0];
    reply_array(c, n);
    for (int i = 0; i < rn->nmembers; i++) {
        if (i == rn->self || !rn->alive[i] || !rn->addrs[i][0]) continue;
        char host[80] = "";
        int port = 0;
        split_addr(rn->addrs[i], host, sizeof(host), &port);
        reply_map(c, 5);
        kv_pair(c, "name", rn->members[i]);
        kv_pair(c, "ip", host);
        kv_pair_int(c, "port", port);
        kv_pair(c, "runid", rn->members[i]);
        kv_pair(c, "flags", "sentinel");
    }
}

static bool our_group(kv_client *c, repl_node *rn, int i)
{
    return c->argc > i && strlen(rn->srv->cfg.repl_group) == c->argv[i].len &&
           strncasecmp(rn->srv->cfg.repl_group, c->argv[i].ptr, c->argv[i].len) == 0;
}

void repl_cmd_sentinel(kv_client *c)
{
    repl_node *rn = c->srv->repl;
    if (rn == NULL) {
        reply_error(c, "ERR SENTINEL needs replicated mode (repl-zk): this node is standalone");
        return;
    }
    const char *sub = c->argv[1].ptr;
    size_t len = c->argv[1].len;
#define IS(w) (len == strlen(w) && strncasecmp(sub, w, len) == 0)
    if (IS("get-master-addr-by-name") && c->argc == 3) {
        int p = primary_id(rn);
        char host[80];
        int port;
        const char *a = member_addr(rn, p);
        if (!our_group(c, rn, 2) || a == NULL || !split_addr(a, host, sizeof(host), &port)) {
            reply_null_array(c);
            return;
        }
        char ps[16];
        snprintf(ps, sizeof(ps), "%d", port);
        reply_array(c, 2);
        reply_cstr(c, host);
        reply_cstr(c, ps);
    } else if (IS("masters") && c->argc == 2) {
        reply_array(c, 1);
        master_state(c, rn);
    } else if (IS("master") && c->argc == 3) {
        if (!our_group(c, rn, 2)) reply_error(c, "ERR No such master with that name");
        else master_state(c, rn);
    } else if ((IS("replicas") || IS("slaves")) && c->argc == 3) {
        if (!our_group(c, rn, 2)) {
            reply_error(c, "ERR No such master with that name");
            return;
        }
        int p = primary_id(rn), n = 0;
        for (int i = 0; i < rn->nmembers; i++) n += i != p;
        reply_array(c, n);
        for (int i = 0; i < rn->nmembers; i++)
            if (i != p) replica_state(c, rn, i, p);
    } else if (IS("sentinels") && c->argc == 3) {
        if (!our_group(c, rn, 2)) reply_error(c, "ERR No such master with that name");
        else sentinel_peers(c, rn);
    } else if (IS("failover") && c->argc == 3) {
        if (!our_group(c, rn, 2)) reply_error(c, "ERR No such master with that name");
        else switch_start_any(rn, c);
    } else if (IS("myid") && c->argc == 2) {
        reply_cstr(c, rn->self_id);
    } else {
        reply_errorf(c, "ERR Unknown sentinel subcommand or wrong number of arguments for '%.*s'",
                     (int)(len > 64 ? 64 : len), sub);
    }
#undef IS
}
