/* repl_hold.c — the write gate, and replies held until every in-sync member holds what preceded them. */
#include "repl_int.h"
#include "../common/log.h"
#include "../kv/cmd.h"
#include "../kv/net.h"

#include <string.h>

/* A reply to a read or a write leaves a primary only once the group's
 * commit point covers the log's end at the time it was ready: the write
 * itself, and for a read every write it may have observed (no client sees a
 * value the group could still lose). Replies to anything else (PING, INFO,
 * refusals) need no commit and are never held, so a primary whose tail
 * cannot commit still answers. A held client stops reading commands, so its
 * output never outgrows one batch. Replicas and links are never held. */
bool repl_may_flush(kv_client *c)
{
    repl_node *rn = c->srv->repl;
    if (rn == NULL || !rn->sm_ready) return true;
    if (c->flags & CLIENT_CLOSE_ASAP) return true; /* client_flush closes it, sending nothing */
    if (c->flags & CLIENT_REPL_HELD) return false;
    if (!(c->flags & CLIENT_REPL_GATED)) return true;
    if (rn->sm.role != REPL_PRIMARY && rn->sm.role != REPL_FENCED) {
        /* Deposed between running the command and sending its reply: the
         * group may not keep that write, so its success is never sent. */
        rn->failed_held++;
        client_close_async(c);
        return false;
    }
    if (rn->sm.commit >= rn->log_end) {
        c->flags &= ~CLIENT_REPL_GATED;
        return true;
    }
    c->repl_wait = rn->log_end;
    c->flags |= CLIENT_REPL_HELD;
    c->next_held = rn->held;
    rn->held = c;
    return false;
}

/* ACK_WRITES: runs inside the state machine's step, so the released clients
 * are resumed later (hold_run_released) — they may run commands. */
void hold_release(repl_node *rn, uint64_t offset)
{
    kv_client **pp = &rn->held;
    while (*pp) {
        kv_client *c = *pp;
        if (c->repl_wait <= offset) {
            *pp = c->next_held;
            c->next_held = rn->released;
            rn->released = c;
        } else {
            pp = &c->next_held;
        }
    }
}

void hold_run_released(repl_node *rn)
{
    while (rn->released) {
        kv_client *c = rn->released;
        rn->released = c->next_held;
        c->next_held = NULL;
        /* Its output is committed: send it now, before commands it still
         * has queued add replies that wait for a later commit point. */
        c->flags &= ~(CLIENT_REPL_HELD | CLIENT_REPL_GATED);
        client_wake(c);
    }
}

/* The outcome of held writes is unknown to their clients (as after a
 * timeout): the connection is closed rather than a success sent that the
 * group may not keep. */
void hold_fail_all(repl_node *rn)
{
    kv_client *lists[2] = {rn->held, rn->released};
    rn->held = rn->released = NULL;
    for (int i = 0; i < 2; i++) {
        kv_client *c = lists[i];
        while (c) {
            kv_client *next = c->next_held;
            c->next_held = NULL;
            c->flags &= ~CLIENT_REPL_HELD;
            rn->failed_held++;
            client_close_async(c);
            c = next;
        }
    }
}

static void unlink_from(kv_client **head, kv_client *c)
{
    for (kv_client **pp = head; *pp; pp = &(*pp)->next_held)
        if (*pp == c) {
            *pp = c->next_held;
            c->next_held = NULL;
            return;
        }
}

void repl_client_gone(kv_client *c)
{
    repl_node *rn = c->srv->repl;
    if (rn == NULL) return;
    if (c->flags & CLIENT_REPL_HELD) {
        unlink_from(&rn->held, c);
        unlink_from(&rn->released, c);
    }
    if (c->flags & CLIENT_REPL_PAUSED) pause_forget(rn, c);
    for (int i = 0; i < rn->nmembers; i++)
        if (rn->down[i].c == c) down_forget(rn, i);
    if (rn->up == c) {
        rn->up = NULL;
        up_close(rn);
    }
}

/* ---- the gate -------------------------------------------------------------------------- */

static bool queued_writes(const kv_client *c)
{
    for (int i = 0; i < c->mcount; i++)
        if (c->mstate[i].cmd->flags & CMD_WRITE) return true;
    return false;
}

static void reply_not_primary(kv_client *c, bool write)
{
    if (write) {
        reply_error(c, "READONLY You can't write against a read only replica.");
        return;
    }
    reply_error(c, "READONLY You can't read from a replica without READONLY (it may be stale); "
                   "ask SENTINEL get-master-addr-by-name for the primary");
}

static void reply_write_refusal(kv_client *c, repl_refusal r)
{
    switch (r) {
    case REPL_WRITE_OK: break;
    case REPL_REFUSE_SWITCHING: /* paused, never refused; kept for the switch's completeness */
        reply_error(c, "TRYAGAIN A planned switchover is under way.");
        break;
    case REPL_REFUSE_NOREPLICAS: reply_error(c, "NOREPLICAS Not enough good replicas to write."); break;
    case REPL_REFUSE_FENCED:
        reply_error(c, "READONLY This primary lost contact with ZooKeeper; writes are refused "
                       "until it is back (or a new primary is elected).");
        break;
    case REPL_REFUSE_NOT_PRIMARY: reply_not_primary(c, true); break;
    }
}

int repl_gate(kv_client *c, const kv_cmd *cmd)
{
    repl_node *rn = c->srv->repl;
    if (rn == NULL || (c->flags & CLIENT_FAKE)) return 0;
    bool write = (cmd->flags & CMD_WRITE) || (strcmp(cmd->name, "exec") == 0 && queued_writes(c));
    bool read = !write && (cmd->flags & CMD_READONLY);
    if (!write && !read) return 0;
    int64_t now = now_ms();
    repl_refusal r = rn->sm_ready ? repl_write_gate(&rn->sm, now) : REPL_REFUSE_NOT_PRIMARY;
    if (r == REPL_REFUSE_SWITCHING) { /* reads wait too: the lease goes with the role */
        pause_client(rn, c);
        return 1;
    }
    if (write && r == REPL_WRITE_OK) {
        c->flags |= CLIENT_REPL_GATED;
        return 0;
    }
    if (write) {
        reply_write_refusal(c, r);
        return -1;
    }
    bool primary = rn->sm_ready && (rn->sm.role == REPL_PRIMARY || rn->sm.role == REPL_FENCED);
    if (!primary) {
        if (c->flags & CLIENT_READONLY) return 0;
        reply_not_primary(c, false);
        return -1;
    }
    if (repl_read_ok(&rn->sm, now)) {
        c->flags |= CLIENT_REPL_GATED;
        return 0;
    }
    reply_error(c, "READONLY This primary's lease lapsed (no ZooKeeper contact); reads are refused "
                   "until it is back.");
    return -1;
}
