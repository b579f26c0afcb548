/* subsys.h — what the dispatcher and the network layer call in the subsystems
 * (transactions, WATCH, blocking, pub/sub, eviction, INFO). */
#ifndef HALO_KV_SUBSYS_H
#define HALO_KV_SUBSYS_H

#include "client.h"

/* multi.c: MULTI/EXEC queue and WATCH. */
void multi_queue(kv_client *c, const struct kv_cmd *cmd);
void multi_discard(kv_client *c);
void watch_init(kv_server *srv);
void watch_free(kv_server *srv);
void watch_touch_key(kv_server *srv, const char *key, size_t len);
void watch_touch_all(kv_server *srv); /* FLUSHDB/FLUSHALL */
void watch_unwatch_all(kv_client *c);

/* block.c: the blocking mechanism behind BLPOP, BRPOP, BLMOVE, BRPOPLPUSH,
 * BLMPOP (t_list.c) and BZPOPMIN/BZPOPMAX/BZMPOP (t_zset.c).
 *
 * A serve callback tries to serve blocked client c from key, which just
 * received data: if it can, it replies, propagates what it did with
 * prop_append (e.g. as LPOP / LMOVE / ZPOPMIN, never as the blocking
 * command), bumps srv->dirty, and returns true; it returns false without
 * replying when the key cannot serve c (empty, or holding another type, as
 * when clients of several blocking commands wait on one key). While it runs, c->argc and
 * c->argv are the original blocking command's arguments (block_for_keys
 * keeps a copy). */
typedef bool (*block_serve_fn)(kv_client *c, const char *key, size_t klen);
/* Block c on keys until a serve succeeds or timeout_ms passes (0 = forever);
 * on timeout the reply is a null array. Inside MULTI the caller must not
 * block: it replies the null array itself. */
void block_for_keys(kv_client *c, const resp_arg *keys, int nkeys, int64_t timeout_ms,
                    block_serve_fn serve);
void block_init(kv_server *srv);
void block_free(kv_server *srv);
void block_signal_key(kv_server *srv, const char *key, size_t len);
/* Serve clients whose keys received data; run after every command. */
void block_serve_ready(kv_server *srv);
void block_client_free(kv_client *c);
/* Unblock with a null reply (CLIENT UNBLOCK / timeout). */
void block_unblock_client(kv_client *c, bool with_error);
size_t block_count(kv_server *srv);

/* pubsub.c */
void pubsub_init(kv_server *srv);
void pubsub_free(kv_server *srv);
size_t pubsub_client_subs(const kv_client *c);
void pubsub_client_free(kv_client *c);
size_t pubsub_channels(kv_server *srv);
size_t pubsub_patterns(kv_server *srv);

/* evict.c: frees keys by the maxmemory policy; 0 when under the limit after. */
int evict_perform(kv_server *srv);
size_t kv_used_memory(kv_server *srv);

/* debug.c: the order-independent 128-bit keyspace digest DEBUG DIGEST reports
 * (the same on every node holding the same data). */
void debug_db_digest(kv_db *db, uint64_t out[2]);

/* info.c: the INFO text for the named sections ("default", "all", ...). */
void info_render(kv_server *srv, kv_client *c, int argc, const resp_arg *sections, buf *out);

#endif
