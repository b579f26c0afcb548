/* repl_node.h — a kv node's membership in a replica group: coordinator, replication links, write gate. */
#ifndef HALO_REPL_NODE_H
#define HALO_REPL_NODE_H

#include "../kv/client.h"
#include "repl_sm.h"

#include <stdbool.h>
#include <stdint.h>

/* The adapter between the pure state machine (repl_sm.h) and the kv node:
 * it owns the ZooKeeper session (src/coord), the replication log's in-memory
 * backlog, the links to the other members, and the rule that a reply leaves
 * only once the group holds everything logged before it. docs/replication.md
 * is the contract; this file is the I/O.
 *
 * The log is the node's propagation stream (the bytes prop_flush hands to
 * the AOF), addressed by byte offset. A replica applies the primary's bytes
 * verbatim and logs them verbatim, so offsets agree on every member.
 *
 * Wire protocol, on the primary's client port (every frame a RESP command):
 *   replica -> primary  HALO.SYNC <node-id> <epoch> <full 0|1> <history>
 *                       HALO.ACK <epoch> <offset>     HALO.REFUSE <epoch>
 *                       HALO.FAILOVER  (SENTINEL FAILOVER sent to a replica)
 *   primary -> replica  HALO.CHUNK <epoch> <offset> <history> <bytes>
 *                       HALO.SNAP <bytes> ... HALO.SNAPEND <epoch> <history>
 *                       HALO.PING     HALO.HANDOFF <epoch> <end> (take over)
 * <history> is "end:e1@s1,e2@s2,..." (repl_history_format).
 *
 * Threading: everything runs on the kv loop. */

typedef struct repl_node repl_node;

/* Replicated mode is on when cfg.repl_zk is set. Starts the coordinator
 * session; the node refuses writes until it has a role. 0 or -HALO_E*. */
int repl_node_start(kv_server *srv);
/* Close links and the session (the primary marker goes at once). */
void repl_node_stop(kv_server *srv);
/* Configuration errors of the replicated-mode directives, for config_validate. */
int repl_config_check(const kv_config *cfg, buf *err);

/* prop_flush: the primary appended one event's propagation to its log. */
void repl_feed(kv_server *srv, const char *p, size_t len);
/* after_io, after the AOF was flushed: report the durable end, stream to
 * replicas, send acks, release held replies. Returns true when it produced
 * new log bytes (released clients ran commands): flush the AOF again. */
bool repl_after_flush(kv_server *srv);
/* May c's pending output be sent now? false: held until the group holds
 * everything logged so far (the client then stops reading commands). */
bool repl_may_flush(kv_client *c);
/* A client the adapter knows about (link, held) is being freed. */
void repl_client_gone(kv_client *c);
/* Before running cmd for c: 0 run it; -1 the refusal was replied (READONLY,
 * NOREPLICAS, lease); 1 paused: a planned switchover is under way, the
 * adapter kept a copy of the command and dispatches it again afterwards. */
int repl_gate(kv_client *c, const struct kv_cmd *cmd);

/* Whether this node may change its keyspace on its own (expire, evict). */
bool repl_is_primary(const kv_server *srv);

/* Command procs (t_repl.c registers them). */
void repl_cmd_sync(kv_client *c);
void repl_cmd_ack(kv_client *c);
void repl_cmd_refuse(kv_client *c);
void repl_cmd_chunk(kv_client *c);
void repl_cmd_snap(kv_client *c);
void repl_cmd_snapend(kv_client *c);
void repl_cmd_ping(kv_client *c);
void repl_cmd_handoff(kv_client *c);
void repl_cmd_failover_request(kv_client *c);
void repl_cmd_failover(kv_client *c);
void repl_cmd_role(kv_client *c);
void repl_cmd_sentinel(kv_client *c);
/* INFO replication's body (standalone nodes too). */
void repl_info(kv_server *srv, buf *out);
/* Metrics lines (Prometheus text) for role, epoch, ISR size, lag. */
void repl_metrics(kv_server *srv, buf *out);

/* "end:e1@s1,e2@s2": 0 or -HALO_EPROTO. */
#define REPL_HISTORY_TEXT_MAX (24 + REPL_MAX_HISTORY * 44)
/* Writes h's text with `end` as its end into out (REPL_HISTORY_TEXT_MAX
 * bytes, NUL-terminated); returns its length. */
size_t repl_history_write(const repl_history *h, uint64_t end, char *out);
int repl_history_parse(const char *s, size_t len, repl_history *out);
void repl_history_format(const repl_history *h, buf *out);

#endif
