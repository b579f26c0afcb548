/* repl_link.c — replication links: the primary streams its log (or a snapshot) to replicas, replicas apply and ack. */
#include "repl_int.h"
#include "../common/err.h"
#include "../common/log.h"
#include "../common/mem.h"
#include "../common/util.h"
#include "../kv/cmd.h"
#include "../kv/net.h"
#include "../kv/subsys.h"
#include "../persist/aof.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- frames ---------------------------------------------------------------------------- */

/* Frames are RESP commands built in place: the header and the small
 * arguments (names, numbers, histories) in a stack buffer, a large payload
 * straight into the link's reply chain — no printf, no allocation; a chunk
 * and an ack are sent per loop iteration per replica. */
typedef struct frame {
    size_t n;
    char b[128 + REPL_HISTORY_TEXT_MAX + 2 * COORD_ID_MAX];
} frame;

static void fr_put(frame *f, const char *p, size_t len)
{
    memcpy(f->b + f->n, p, len);
    f->n += len;
}

static void fr_count(frame *f, char kind, uint64_t v)
{
    f->b[f->n++] = kind;
    f->n += u64_to_str(f->b + f->n, v);
    fr_put(f, "\r\n", 2);
}

static void fr_str(frame *f, const char *s, size_t len)
{
    fr_count(f, '$', len);
    fr_put(f, s, len);
    fr_put(f, "\r\n", 2);
}

static void fr_cstr(frame *f, const char *s)
{
    fr_str(f, s, strlen(s));
}

static void fr_u64(frame *f, uint64_t v)
{
    char d[24];
    fr_str(f, d, u64_to_str(d, v));
}

/* h's history with its end at `end` (a chunk's end, a snapshot's position). */
static void fr_hist(frame *f, const repl_history *h, uint64_t end)
{
    char t[REPL_HISTORY_TEXT_MAX];
    fr_str(f, t, repl_history_write(h, end, t));
}

static frame *fr_begin(frame *f, int argc, const char *name)
{
    f->n = 0;
    fr_count(f, '*', (uint64_t)argc);
    fr_cstr(f, name);
    return f;
}

static void fr_send(frame *f, kv_client *c)
{
    reply_raw(c, f->b, f->n);
}

/* The frame so far, then a last argument of len bytes from p. */
static void fr_send_with(frame *f, kv_client *c, const char *p, size_t len)
{
    fr_count(f, '$', len);
    fr_send(f, c);
    reply_raw(c, p, len);
    reply_raw(c, "\r\n", 2);
}

/* NAME <a> [<b>]: the epoch/offset frames. */
static void send_numbers(kv_client *c, const char *name, int n, uint64_t a, uint64_t b)
{
    frame f;
    fr_begin(&f, 1 + n, name);
    if (n > 0) fr_u64(&f, a);
    if (n > 1) fr_u64(&f, b);
    fr_send(&f, c);
}

static bool arg_u64(const kv_client *c, int i, uint64_t *out)
{
    int64_t v;
    if (!str_to_i64(c->argv[i].ptr, c->argv[i].len, &v) || v < 0) return false;
    *out = (uint64_t)v;
    return true;
}


/* ---- primary side ------------------------------------------------------------------------ */

static int down_peer_of(const repl_node *rn, const kv_client *c)
{
    for (int i = 0; i < rn->nmembers; i++)
        if (rn->down[i].c == c) return i;
    return REPL_NONE;
}

/* Forget what was sent; keep the connection and its last sync request. */
static void down_reset(repl_down *d)
{
    if (d->snap_fd >= 0) close(d->snap_fd);
    repl_down keep = *d;
    memset(d, 0, sizeof(*d));
    d->snap_fd = -1;
    d->c = keep.c;
    if (d->c) {
        d->asked = keep.asked;
        d->asked_full = keep.asked_full;
        d->asked_epoch = keep.asked_epoch;
        d->asked_hist = keep.asked_hist;
    }
}

static void feed_sync(repl_node *rn, int peer)
{
    repl_down *d = &rn->down[peer];
    repl_event ev = {.type = REPL_EV_PEER_SYNC};
    ev.u.sync.peer = peer;
    ev.u.sync.epoch = d->asked_epoch;
    ev.u.sync.hist = &d->asked_hist;
    ev.u.sync.full = d->asked_full;
    feed(rn, &ev);
}

/* Just elected: serve the replicas that asked while we were not primary. */
void down_resync_all(repl_node *rn)
{
    for (int i = 0; i < rn->nmembers; i++)
        if (rn->down[i].c && rn->down[i].asked && !rn->down[i].active) feed_sync(rn, i);
}

/* One HALO.CHUNK of bytes [off, off+len) of our log, stamped with our config
 * epoch and our history up to its end. */
static void send_chunk(repl_node *rn, repl_down *d, uint64_t off, const char *p, size_t len)
{
    frame f;
    fr_begin(&f, 5, "HALO.CHUNK");
    fr_u64(&f, rn->sm.cfg.epoch);
    fr_u64(&f, off);
    fr_hist(&f, &rn->sm.log, off + len);
    fr_send_with(&f, d->c, p, len);
}

/* An empty chunk: the replica acks its position, which tells the state
 * machine it is caught up even when nothing is written. */
static void send_empty_chunk(repl_node *rn, repl_down *d)
{
    send_chunk(rn, d, d->next, "", 0);
}

static void down_drop(repl_node *rn, int peer, const char *why)
{
    repl_down *d = &rn->down[peer];
    if (d->c) {
        log_notice("replication: closing the link to replica %s: %s", rn->members[peer], why);
        kv_client *c = d->c;
        d->c = NULL;
        c->flags &= ~CLIENT_REPL_LINK;
        client_close_async(c);
    }
    down_reset(d);
}

static void snap_start(repl_node *rn)
{
    if (rn->snap_running) return;
    repl_history pos = rn->sm.log;
    pos.end = rn->log_end;
    int rc = snap_fork(rn->srv, aof_dir_fd(rn->srv->aof), aof_dir(rn->srv->aof), &pos, &rn->snap);
    if (rc != 0) {
        log_warn("replication: cannot start a snapshot for a full resync: %s", halo_strerror(rc));
        return;
    }
    rn->snap_running = true;
    rn->snap_job_pos = pos;
    log_notice("replication: full resync: snapshot of %zu keys at offset %llu started (pid %d)",
               db_size(&rn->srv->db), (unsigned long long)pos.end, (int)rn->snap.pid);
}

void down_start(repl_node *rn, int peer, uint64_t offset, bool full)
{
    if (peer < 0 || peer >= rn->nmembers) return;
    repl_down *d = &rn->down[peer];
    if (d->c == NULL) return; /* no connection: the replica asks again */
    down_reset(d);
    d->active = true;
    if (full) {
        d->snap_wait = true;
        snap_start(rn);
        if (!rn->snap_running) down_drop(rn, peer, "no snapshot could be started");
        return;
    }
    if (offset < backlog_start(rn) || offset > rn->log_end) {
        down_drop(rn, peer, "its position is outside the backlog");
        return;
    }
    d->next = offset;
    log_info("replication: streaming to %s from offset %llu", rn->members[peer], (unsigned long long)offset);
    if (offset == rn->log_end) send_empty_chunk(rn, d);
}

/* The peer's connection is being freed: forget it and what we sent. */
void down_forget(repl_node *rn, int peer)
{
    rn->down[peer].c = NULL;
    down_reset(&rn->down[peer]);
}

void down_stop(repl_node *rn, int peer)
{
    if (peer < 0 || peer >= rn->nmembers) return;
    if (rn->down[peer].c) down_drop(rn, peer, "stream stopped");
}

void down_close_all(repl_node *rn)
{
    for (int i = 0; i < rn->nmembers; i++) down_drop(rn, i, "shutting down");
    if (rn->snap_running) snap_abort(&rn->snap);
    rn->snap_running = false;
}

/* The snapshot child ended: every link waiting for it starts sending it. */
void down_poll_snapshots(repl_node *rn)
{
    if (!rn->snap_running) return;
    int rc = snap_poll(&rn->snap);
    if (rc == 0) return;
    rn->snap_running = false;
    int fd = rc == 1 ? open(rn->snap.path, O_RDONLY | O_CLOEXEC) : -1;
    for (int i = 0; i < rn->nmembers; i++) {
        repl_down *d = &rn->down[i];
        if (!d->c || !d->snap_wait) continue;
        if (fd < 0) {
            down_drop(rn, i, "the snapshot failed");
            continue;
        }
        d->snap_wait = false;
        d->snap_sending = true;
        d->snap_fd = dup(fd);
        d->snap_size = rn->snap.size;
        d->snap_pos = rn->snap_job_pos;
    }
    if (rc == 1) {
        log_notice("replication: snapshot ready (%llu bytes at offset %llu)",
                   (unsigned long long)rn->snap.size, (unsigned long long)rn->snap_job_pos.end);
        unlink(rn->snap.path); /* the open descriptors keep it readable */
    }
    if (fd >= 0) close(fd);
}

static void send_snapshot_part(repl_node *rn, int peer)
{
    repl_down *d = &rn->down[peer];
    static char part[REPL_SNAP_FRAME];
    while (d->c && d->snap_sent < d->snap_size && d->c->reply_bytes < REPL_LINK_WINDOW) {
        size_t want = d->snap_size - d->snap_sent < sizeof(part) ? (size_t)(d->snap_size - d->snap_sent)
                                                                  : sizeof(part);
        ssize_t n = pread(d->snap_fd, part, want, (off_t)d->snap_sent);
        if (n <= 0) {
            down_drop(rn, peer, n < 0 ? strerror(errno) : "the snapshot file is short");
            return;
        }
        frame f;
        fr_send_with(fr_begin(&f, 2, "HALO.SNAP"), d->c, part, (size_t)n);
        d->snap_sent += (uint64_t)n;
    }
    if (!d->c || d->snap_sent < d->snap_size) return;
    frame f;
    fr_begin(&f, 3, "HALO.SNAPEND");
    fr_u64(&f, rn->sm.cfg.epoch);
    fr_hist(&f, &d->snap_pos, d->snap_pos.end);
    fr_send(&f, d->c);
    close(d->snap_fd);
    d->snap_fd = -1;
    d->snap_sending = false;
    d->next = d->snap_pos.end;
    if (d->next == rn->log_end) send_empty_chunk(rn, d);
    log_notice("replication: snapshot sent to %s; streaming from offset %llu", rn->members[peer],
               (unsigned long long)d->next);
}

static void send_chunks(repl_node *rn, int peer)
{
    repl_down *d = &rn->down[peer];
    while (d->c && d->next < rn->log_end && d->c->reply_bytes < REPL_LINK_WINDOW) {
        const char *p;
        size_t len;
        if (!backlog_piece(rn, d->next, &p, &len)) {
            down_drop(rn, peer, "it fell behind the backlog");
            return;
        }
        send_chunk(rn, d, d->next, p, len);
        d->next += len;
    }
}

/* A silent primary is indistinguishable from a cut link, and a silent
 * replica from a dead one: idle links carry a heartbeat every 100 ms. A
 * replica that holds our end gets an empty chunk, which it acks (the state
 * machine's liveness: repl_sm.h heard_ms); one still loading a snapshot gets
 * HALO.PING, which only keeps its link alive. */
static void send_heartbeat(repl_node *rn, repl_down *d, int64_t now)
{
    if (now - d->last_ping_ms < 100) return;
    d->last_ping_ms = now;
    bool streaming = !d->snap_wait && !d->snap_sending && d->next == rn->log_end;
    if (streaming) send_empty_chunk(rn, d);
    else send_numbers(d->c, "HALO.PING", 0, 0, 0);
}

void down_pump_all(repl_node *rn)
{
    bool streaming = rn->sm.role == REPL_PRIMARY || rn->sm.role == REPL_FENCED;
    int64_t now = now_ms();
    for (int i = 0; i < rn->nmembers; i++) {
        repl_down *d = &rn->down[i];
        if (!d->c || !d->active || !streaming) continue;
        if (d->snap_sending) send_snapshot_part(rn, i);
        else if (!d->snap_wait) send_chunks(rn, i);
        if (d->c) send_heartbeat(rn, d, now);
    }
}

void repl_cmd_sync(kv_client *c)
{
    repl_node *rn = c->srv->repl;
    if (rn == NULL || !rn->sm_ready) {
        reply_error(c, "ERR this node is not a member of a replica group");
        return;
    }
    int peer = member_index(rn, c->argv[1].ptr, c->argv[1].len);
    uint64_t epoch, full;
    repl_history hist;
    if (peer == REPL_NONE || peer == rn->self || !arg_u64(c, 2, &epoch) || !arg_u64(c, 3, &full) ||
        full > 1 || repl_history_parse(c->argv[4].ptr, c->argv[4].len, &hist) != 0) {
        reply_error(c, "ERR HALO.SYNC: unknown member or malformed position");
        return;
    }
    repl_down *d = &rn->down[peer];
    if (d->c != c) {
        if (d->c) down_drop(rn, peer, "the replica connected again");
        d->c = c;
        d->snap_fd = -1;
        c->flags |= CLIENT_REPL_LINK;
        log_notice("replication: replica %s (%s) asks for the stream from offset %llu%s",
                   rn->members[peer], c->addr, (unsigned long long)hist.end, full ? " (full)" : "");
    }
    d->asked = true;
    d->asked_full = full == 1;
    d->asked_epoch = epoch;
    d->asked_hist = hist;
    feed_sync(rn, peer);
}

void repl_cmd_ack(kv_client *c)
{
    repl_node *rn = c->srv->repl;
    int peer = rn ? down_peer_of(rn, c) : REPL_NONE;
    uint64_t epoch, off;
    if (peer == REPL_NONE || !arg_u64(c, 1, &epoch) || !arg_u64(c, 2, &off)) return;
    rn->down[peer].acked = off;
    rn->down[peer].last_ack_ms = now_ms();
    repl_event ev = {.type = REPL_EV_PEER_ACK};
    ev.u.ack.peer = peer;
    ev.u.ack.epoch = epoch;
    ev.u.ack.offset = off;
    feed(rn, &ev);
}

/* Sent once the peer acked our whole log, so it follows every chunk. */
void down_send_handoff(repl_node *rn, int peer, uint64_t epoch, uint64_t end)
{
    if (peer < 0 || peer >= rn->nmembers || rn->down[peer].c == NULL) {
        log_warn("replication: no link to %s for the handoff; the switchover will time out",
                 peer >= 0 && peer < rn->nmembers ? rn->members[peer] : "?");
        return;
    }
    send_numbers(rn->down[peer].c, "HALO.HANDOFF", 2, epoch, end);
}

/* A replica passes SENTINEL FAILOVER on to the primary it follows. */
void repl_cmd_failover_request(kv_client *c)
{
    repl_node *rn = c->srv->repl;
    int peer = rn ? down_peer_of(rn, c) : REPL_NONE;
    if (peer == REPL_NONE) return;
    log_notice("replication: %s asks for a switchover (SENTINEL FAILOVER)", rn->members[peer]);
    switch_start_any(rn, NULL);
}

void repl_cmd_refuse(kv_client *c)
{
    repl_node *rn = c->srv->repl;
    int peer = rn ? down_peer_of(rn, c) : REPL_NONE;
    uint64_t epoch;
    if (peer == REPL_NONE || !arg_u64(c, 1, &epoch)) return;
    log_notice("replication: replica %s refused our stream: it has seen epoch %llu",
               rn->members[peer], (unsigned long long)epoch);
    repl_event ev = {.type = REPL_EV_PEER_REFUSED};
    ev.u.refused.peer = peer;
    ev.u.refused.epoch = epoch;
    feed(rn, &ev);
}

/* ---- replica side ------------------------------------------------------------------------ */

static uint64_t g_up_gen; /* connection attempts; a late one for an older attempt is closed */

static void send_sync(repl_node *rn)
{
    const repl_action *a = &rn->up_sync;
    kv_server *srv = rn->srv;
    frame f;
    if (srv->cfg.requirepass && srv->cfg.requirepass[0]) {
        const char *pass = srv->cfg.requirepass;
        fr_send_with(fr_begin(&f, 2, "AUTH"), rn->up, pass, strlen(pass));
    }
    fr_begin(&f, 5, "HALO.SYNC");
    fr_cstr(&f, rn->self_id);
    fr_u64(&f, a->epoch);
    fr_cstr(&f, a->full ? "1" : "0");
    fr_hist(&f, &a->u.hist, a->u.hist.end);
    fr_send(&f, rn->up);
    rn->last_io_ms = now_ms();
}

static void on_up_connected(kv_client *c, int status, void *arg)
{
    uint64_t gen = (uint64_t)(uintptr_t)arg;
    kv_server *srv = c ? c->srv : NULL;
    repl_node *rn = srv ? srv->repl : NULL;
    if (c == NULL) return; /* failed: the state machine asks again */
    if (rn == NULL || gen != g_up_gen || rn->ust != UP_CONNECTING) {
        client_close_async(c);
        return;
    }
    (void)status;
    rn->ust = UP_CONNECTED;
    rn->up = c;
    c->flags |= CLIENT_REPL_UPSTREAM;
    log_notice("replication: connected to primary %s at %s", rn->members[rn->up_peer], c->addr);
    send_sync(rn);
}

static void up_connect(repl_node *rn)
{
    const char *addr = member_addr(rn, rn->up_peer);
    if (addr == NULL) return; /* known after the next node listing; the tick retries */
    g_up_gen++;
    rn->ust = UP_CONNECTING;
    rn->up_connect_ms = now_ms();
    if (net_connect(rn->srv, addr, on_up_connected, (void *)(uintptr_t)g_up_gen) != 0) {
        rn->ust = UP_NONE;
        log_warn("replication: cannot connect to %s at %s", rn->members[rn->up_peer], addr);
    }
}

void up_close(repl_node *rn)
{
    g_up_gen++;
    if (rn->up) {
        kv_client *c = rn->up;
        rn->up = NULL;
        c->flags &= ~CLIENT_REPL_UPSTREAM;
        client_close_async(c);
    }
    rn->ust = UP_NONE;
    rn->ack_pending = rn->refuse_pending = false;
    if (rn->snap_in_fd >= 0) {
        close(rn->snap_in_fd);
        unlink(rn->snap_in_path);
        rn->snap_in_fd = -1;
    }
}

void up_follow(repl_node *rn, const repl_action *a)
{
    rn->up_sync = *a;
    bool same = rn->up_peer == a->peer;
    if (same && rn->ust == UP_CONNECTED && now_ms() - rn->last_io_ms < rn->srv->cfg.repl_timeout_ms) {
        send_sync(rn);
        return;
    }
    if (same && rn->ust == UP_CONNECTING && now_ms() - rn->up_connect_ms < rn->srv->cfg.repl_timeout_ms)
        return;
    up_close(rn);
    rn->up_peer = a->peer;
    log_notice("replication: following %s (epoch %llu) from offset %llu%s", rn->members[a->peer],
               (unsigned long long)a->epoch, (unsigned long long)a->u.hist.end, a->full ? ", full resync" : "");
    up_connect(rn);
}

/* The tick: connect once the primary's address is known. */
void up_tick(repl_node *rn)
{
    if (rn->up_peer != REPL_NONE && rn->ust == UP_NONE && rn->sm.role == REPL_REPLICA &&
        rn->sm.following == rn->up_peer)
        up_connect(rn);
}

void up_send_ack(repl_node *rn, uint64_t epoch, uint64_t offset)
{
    rn->ack_pending = true;
    rn->ack_epoch = epoch;
    rn->ack_off = offset;
}

/* After the AOF flush: what we ack is in our log file. */
void up_flush_ack(repl_node *rn)
{
    if (!rn->ack_pending || rn->up == NULL) return;
    rn->ack_pending = false;
    send_numbers(rn->up, "HALO.ACK", 2, rn->ack_epoch, rn->ack_off);
}

bool up_send_failover_request(repl_node *rn)
{
    if (rn->up == NULL) return false;
    send_numbers(rn->up, "HALO.FAILOVER", 0, 0, 0);
    return true;
}

void up_send_refuse(repl_node *rn, uint64_t epoch)
{
    if (rn->up == NULL) return;
    send_numbers(rn->up, "HALO.REFUSE", 1, epoch, 0);
}

/* Run the primary's commands verbatim, then log the same bytes: offsets
 * stay equal on every member. An unknown command means the logs disagree
 * about what a byte is: crash rather than diverge. */
static void apply_bytes(repl_node *rn, const char *p, size_t len)
{
    kv_server *srv = rn->srv;
    if (rn->fake == NULL) {
        rn->fake = client_new_fake(srv);
        rn->cmd_multi = cmd_lookup("multi", 5);
        rn->cmd_exec = cmd_lookup("exec", 4);
    }
    resp_parser rp;
    resp_parser_init(&rp, srv->cfg.proto_max_bulk_len);
    size_t pos = 0;
    uint8_t was_loading = srv->loading;
    bool was_hiding = srv->db.hide_expired;
    srv->loading = 1;
    srv->db.hide_expired = false; /* the primary's commands see keys as they are */
    bool partial = false;
    while (pos < len) {
        size_t used = 0;
        int rc = resp_parse(&rp, p + pos, len - pos, &used);
        pos += used;
        partial = rc == RESP_NEED_MORE;
        if (rc == RESP_NEED_MORE && used > 0) continue;
        if (rc != RESP_COMMAND) {
            log_error("replication: the primary's stream is malformed at byte %zu of a chunk (%s)", pos,
                      rc == RESP_ERR ? rp.error : "incomplete command");
            abort();
        }
        const kv_cmd *cmd = cmd_lookup(rp.argv[0].ptr, rp.argv[0].len);
        if (cmd == NULL) {
            log_error("replication: unknown command '%.*s' in the primary's stream", (int)rp.argv[0].len,
                      rp.argv[0].ptr);
            abort();
        }
        if (cmd == rn->cmd_multi || cmd == rn->cmd_exec) continue;
        rn->fake->argc = (int)rp.argc;
        rn->fake->argv = rp.argv;
        cmd_call(rn->fake, cmd);
        rn->fake->argc = 0;
        rn->fake->argv = NULL;
        rn->applied_cmds++;
    }
    if (partial) {
        log_error("replication: a chunk from the primary ends inside a command");
        abort();
    }
    srv->loading = was_loading;
    srv->db.hide_expired = was_hiding;
    resp_parser_free(&rp);
    if (srv->aof) aof_feed(srv->aof, p, len);
    backlog_append(rn, p, len);
    block_serve_ready(srv);
}

static void load_snapshot(repl_node *rn)
{
    kv_server *srv = rn->srv;
    kv_db old = srv->db;
    db_init(&srv->db);
    srv->db.on_modified = old.on_modified;
    srv->db.on_expired = old.on_expired;
    srv->db.priv = old.priv;
    srv->db.no_expire = true;
    repl_history pos;
    int64_t start = mono_us();
    int rc = snap_load(srv, rn->snap_in_path, &pos);
    if (rc == 0) rc = aof_install_snapshot(srv->aof, rn->snap_in_path);
    if (rc != 0) {
        log_error("replication: the snapshot from the primary could not be loaded (%s); "
                  "keeping the old dataset and asking again", halo_strerror(rc));
        db_free(&srv->db);
        srv->db = old;
        unlink(rn->snap_in_path);
        up_close(rn);
        return;
    }
    srv->db.hide_expired = old.hide_expired;
    db_free(&old);
    watch_touch_all(srv);
    backlog_reset(rn, pos.end);
    rn->saved_hist = pos; /* the new BASE begins with this position */
    log_notice("replication: full resync done: %zu keys at offset %llu loaded in %.3f s",
               db_size(&srv->db), (unsigned long long)pos.end, (double)(mono_us() - start) / 1e6);
    repl_event ev = {.type = REPL_EV_RESYNC_DONE};
    ev.u.resync.end = pos.end;
    defer_event(rn, &ev);
}

void up_apply(repl_node *rn, const repl_action *a)
{
    if (a->full) {
        load_snapshot(rn);
        return;
    }
    if (rn->chunk_ptr == NULL || a->offset < rn->chunk_off ||
        a->offset + a->len > rn->chunk_off + rn->chunk_len || a->offset != rn->log_end) {
        log_error("replication: APPLY [%llu,+%llu) outside the current chunk or not at our end %llu",
                  (unsigned long long)a->offset, (unsigned long long)a->len,
                  (unsigned long long)rn->log_end);
        abort();
    }
    apply_bytes(rn, rn->chunk_ptr + (a->offset - rn->chunk_off), (size_t)a->len);
}

/* The frames run the primary's commands, which bump srv->dirty: the frame
 * itself must not be propagated as if it were a write of ours. */
static repl_node *upstream_of(kv_client *c)
{
    prop_suppress(c);
    repl_node *rn = c->srv->repl;
    if (rn == NULL || rn->up != c) return NULL;
    rn->last_io_ms = now_ms();
    return rn;
}

void repl_cmd_ping(kv_client *c)
{
    upstream_of(c);
}

void repl_cmd_handoff(kv_client *c)
{
    repl_node *rn = upstream_of(c);
    uint64_t epoch, end;
    if (rn == NULL || !arg_u64(c, 1, &epoch) || !arg_u64(c, 2, &end)) return;
    repl_event ev = {.type = REPL_EV_HANDOFF};
    ev.u.handoff.from = rn->up_peer;
    ev.u.handoff.epoch = epoch;
    ev.u.handoff.end = end;
    feed(rn, &ev);
}

void repl_cmd_chunk(kv_client *c)
{
    repl_node *rn = upstream_of(c);
    uint64_t epoch, off;
    repl_history hist;
    if (rn == NULL || !arg_u64(c, 1, &epoch) || !arg_u64(c, 2, &off) ||
        repl_history_parse(c->argv[3].ptr, c->argv[3].len, &hist) != 0 ||
        hist.end != off + c->argv[4].len) {
        if (rn) log_warn("replication: malformed HALO.CHUNK from the primary; reconnecting");
        if (rn) up_close(rn);
        return;
    }
    rn->chunk_ptr = c->argv[4].ptr;
    rn->chunk_off = off;
    rn->chunk_len = c->argv[4].len;
    repl_event ev = {.type = REPL_EV_STREAM};
    ev.u.stream.from = rn->up_peer;
    ev.u.stream.epoch = epoch;
    ev.u.stream.hist = &hist;
    ev.u.stream.offset = off;
    ev.u.stream.len = c->argv[4].len;
    feed(rn, &ev);
    rn->chunk_ptr = NULL;
}

void repl_cmd_snap(kv_client *c)
{
    repl_node *rn = upstream_of(c);
    if (rn == NULL) return;
    if (rn->snap_in_fd < 0) {
        snprintf(rn->snap_in_path, sizeof(rn->snap_in_path), "%s/temp-fullsync-recv-%d.aof",
                 aof_dir(c->srv->aof), (int)getpid());
        rn->snap_in_fd = open(rn->snap_in_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        rn->snap_in_bytes = 0;
        if (rn->snap_in_fd < 0) {
            log_warn("replication: cannot create %s: %s", rn->snap_in_path, strerror(errno));
            up_close(rn);
            return;
        }
    }
    const char *p = c->argv[1].ptr;
    size_t len = c->argv[1].len;
    while (len > 0) {
        ssize_t n = write(rn->snap_in_fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            log_warn("replication: writing %s: %s", rn->snap_in_path, strerror(errno));
            up_close(rn);
            return;
        }
        p += n;
        len -= (size_t)n;
    }
    rn->snap_in_bytes += c->argv[1].len;
}

void repl_cmd_snapend(kv_client *c)
{
    repl_node *rn = upstream_of(c);
    uint64_t epoch;
    repl_history hist;
    if (rn == NULL) return;
    if (rn->snap_in_fd < 0 || !arg_u64(c, 1, &epoch) ||
        repl_history_parse(c->argv[2].ptr, c->argv[2].len, &hist) != 0 || fsync(rn->snap_in_fd) != 0) {
        log_warn("replication: bad snapshot end from the primary; reconnecting");
        up_close(rn);
        return;
    }
    close(rn->snap_in_fd);
    rn->snap_in_fd = -1;
    log_notice("replication: received a snapshot of %llu bytes at offset %llu",
               (unsigned long long)rn->snap_in_bytes, (unsigned long long)hist.end);
    repl_event ev = {.type = REPL_EV_STREAM};
    ev.u.stream.from = rn->up_peer;
    ev.u.stream.epoch = epoch;
    ev.u.stream.hist = &hist;
    ev.u.stream.offset = 0;
    ev.u.stream.len = hist.end;
    ev.u.stream.full = true;
    feed(rn, &ev);
    if (rn->snap_in_path[0] && access(rn->snap_in_path, F_OK) == 0 && rn->snap_in_fd < 0)
        unlink(rn->snap_in_path); /* not taken (refused or stale): drop it */
}
