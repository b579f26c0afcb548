/* t_repl.c — the replication commands: ROLE, READONLY/READWRITE, SENTINEL discovery and the HALO.* link frames. */
#include "cmd.h"
#include "../repl/repl_node.h"

static void readonly_cmd(kv_client *c)
{
    c->flags |= CLIENT_READONLY;
    reply_ok(c);
}

static void readwrite_cmd(kv_client *c)
{
    c->flags &= ~CLIENT_READONLY;
    reply_ok(c);
}

/* The HALO.* frames run only on replication connections (repl_link.c checks
 * which); NOSCRIPT|NO_MULTI keeps them out of transactions. They reply
 * nothing: the link's output is the stream. */
#define LINK_FLAGS (CMD_NOSCRIPT | CMD_NO_MULTI | CMD_LOADING | CMD_STALE)

kv_cmd kv_cmds_repl[] = {
    {"role", repl_cmd_role, 1, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST, 0, 0, 0, "server", "Returns the replication role.", "2.8.12"},
    {"readonly", readonly_cmd, 1, CMD_LOADING | CMD_STALE | CMD_FAST, 0, 0, 0, "cluster", "Enables read-only queries for a connection to a replica.", "3.0.0"},
    {"readwrite", readwrite_cmd, 1, CMD_LOADING | CMD_STALE | CMD_FAST, 0, 0, 0, "cluster", "Enables read-write queries for a connection to a replica.", "3.0.0"},
    {"sentinel", repl_cmd_sentinel, -2, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0, "sentinel", "Sentinel-compatible discovery of the group's primary and replicas.", "2.8.4"},
    {"halo.sync", repl_cmd_sync, 5, LINK_FLAGS, 0, 0, 0, "server", "Replication: a replica asks for the stream from its position.", "0.1.0"},
    {"halo.ack", repl_cmd_ack, 3, LINK_FLAGS, 0, 0, 0, "server", "Replication: a replica acknowledges an offset.", "0.1.0"},
    {"halo.refuse", repl_cmd_refuse, 2, LINK_FLAGS, 0, 0, 0, "server", "Replication: a replica refuses a fenced stream.", "0.1.0"},
    {"halo.chunk", repl_cmd_chunk, 5, LINK_FLAGS, 0, 0, 0, "server", "Replication: bytes of the primary's log.", "0.1.0"},
    {"halo.snap", repl_cmd_snap, 2, LINK_FLAGS, 0, 0, 0, "server", "Replication: part of a full-resync snapshot.", "0.1.0"},
    {"halo.snapend", repl_cmd_snapend, 3, LINK_FLAGS, 0, 0, 0, "server", "Replication: the end of a snapshot and its position.", "0.1.0"},
    {"failover", repl_cmd_failover, -1, CMD_ADMIN | CMD_NOSCRIPT | CMD_STALE, 0, 0, 0, "server", "Hands the primary role to an in-sync replica (planned switchover).", "6.2.0"},
    {"halo.handoff", repl_cmd_handoff, 3, LINK_FLAGS, 0, 0, 0, "server", "Replication: the primary hands its role to this replica.", "0.1.0"},
    {"halo.failover", repl_cmd_failover_request, 1, LINK_FLAGS, 0, 0, 0, "server", "Replication: a replica passes SENTINEL FAILOVER on.", "0.1.0"},
    {"halo.ping", repl_cmd_ping, 1, LINK_FLAGS, 0, 0, 0, "server", "Replication: the primary's heartbeat on an idle link.", "0.1.0"},
    {NULL},
};
