/* coord.h — the coordinator: arbiter session, versioned group configs, ephemeral markers. */
#ifndef HALO_COORD_H
#define HALO_COORD_H

#include "common/err.h"
#include "coord/coord_json.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

/* The arbiter of replica groups behind a small interface: one ZooKeeper
 * backend today (coord_zk_open), room for an in-memory one for deterministic
 * tests and an etcd one later. No ZooKeeper type appears here.
 *
 * Layout (under /halo/<cluster>/, see docs/coordinator.md):
 *   nodes/<id>            ephemeral   coord_node_info    coord_register_node, coord_list_nodes
 *   groups/<gid>/config   persistent  coord_config       coord_create_config, _get_, _cas_, _watch_
 *   groups/<gid>/primary  ephemeral   coord_primary_info coord_create_primary, _release_, _watch_,
 *                                                        coord_elect (with the config, atomically)
 *
 * Threading: a coord belongs to ONE libuv loop and every function must be
 * called from that loop's thread. Every callback (operation results, watch
 * events, session changes) runs on that loop, never inside the call that
 * started the operation.
 *
 * Operations: each returns 0 when started, and then calls its callback exactly
 * once, later — with an error if the coord is closed first (-HALO_ECLOSED).
 * A negative return means it did not start and the callback will not be
 * called. Arguments are copied: the caller's strings and structs may be freed
 * as soon as the call returns. */

/* The message of any code (the coordinator's codes are in err.h's map). */
static inline const char *coord_strerror(int err) { return halo_strerror(err); }

typedef struct coord coord;
typedef struct coord_watch coord_watch;

/* Session states, as the owner sees them.
 *   CONNECTING   → CONNECTED: first contact (also after coord_reconnect)
 *   CONNECTED    → DISCONNECTED: lost the server; the client is trying the
 *                  others, and the session and its ephemerals live on until
 *                  the server expires it (session timeout without contact)
 *   DISCONNECTED → CONNECTED: back within the session; watches still hold
 *   any          → EXPIRED: a server said the session is gone: its ephemeral
 *                  znodes are deleted (another node may now hold the primary
 *                  marker). Final for this session: the owner calls
 *                  coord_reconnect (a new session) or coord_close.
 * Caution: EXPIRED can only be learned from a server; cut off from all of
 * them, a client stays DISCONNECTED forever. The lease (below) is what tells
 * the owner when its session may have expired without it knowing. */
typedef enum {
    COORD_CONNECTING,
    COORD_CONNECTED,
    COORD_DISCONNECTED,
    COORD_EXPIRED,
    COORD_CLOSED,
} coord_state;

static inline const char *coord_state_name(coord_state s)
{
    static const char *const names[] = {"connecting", "connected", "disconnected", "expired",
                                        "closed"};
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

typedef struct coord_session_info {
    coord_state state;
    int64_t session_id; /* 0 before the first connection */
    int timeout_ms;     /* negotiated session timeout (the asked one until connected) */
    /* Lease basis: the monotonic time (mono_us() of common/util.h) at which a
     * request was SENT whose answer then came back from a server in this
     * session. The server renewed the session on receiving it, so the session
     * cannot expire before last_contact_us + timeout_ms*1000 (the server's
     * clock rate aside: keep a margin). 0 when there is none in this session.
     * The adapter sends a cheap request every timeout/4 while connected. */
    int64_t last_contact_us;
} coord_session_info;

/* Called on every state change, on the loop. c is valid during the call; the
 * owner may call coord_reconnect or coord_close from it. */
typedef void (*coord_session_cb)(coord *c, coord_state state, void *arg);

typedef struct coord_options {
    const char *servers;    /* "host:port,host:port,..." — copied */
    const char *cluster;    /* names /halo/<cluster>: [A-Za-z0-9_.-]{1,64} — copied */
    int session_timeout_ms; /* asked; the servers clamp it to [2, 20] ticks */
    /* How long an operation waits for a connection (and retries after a lost
     * one) before failing with -HALO_ECONNLOSS; 0 means twice the session
     * timeout. Watches never time out: they are re-armed until unwatched. */
    int op_timeout_ms;
    coord_session_cb on_session; /* may be NULL */
    void *arg;
} coord_options;

/* The result of an operation or a watch event. Everything it points to is
 * owned by the coord and valid only during the callback: copy what you keep. */
typedef struct coord_result {
    int err;                              /* 0 or a negative HALO_E* code */
    const char *errmsg;                   /* never NULL: "" on success, else a readable reason */
    int32_t version;                      /* the znode's version, -1 if none (see each operation) */
    const coord_config *config;           /* get/watch config: the document, else NULL */
    const coord_primary_info *primary;    /* watch primary: the holder, NULL when gone */
    const struct coord_node_entry *nodes; /* list nodes: n_nodes entries sorted by id */
    size_t n_nodes;
} coord_result;

typedef struct coord_node_entry {
    coord_id id;
    coord_node_info info;
} coord_node_entry;

/* A registered node list holds at most this many entries (-HALO_ETOOBIG). */
#define COORD_MAX_NODES 1024

typedef void (*coord_cb)(coord *c, const coord_result *r, void *arg);

/* Backends implement these; the wrappers below dispatch. Each takes the same
 * arguments as its wrapper and honours the contracts documented there. */
typedef struct coord_ops {
    void (*session)(coord *c, coord_session_info *out);
    int (*reconnect)(coord *c);
    void (*close)(coord *c, void (*done)(void *arg), void *arg);
    int (*register_node)(coord *c, const char *id, const coord_node_info *info, coord_cb cb,
                         void *arg);
    int (*list_nodes)(coord *c, coord_cb cb, void *arg);
    int (*get_config)(coord *c, const char *gid, coord_cb cb, void *arg);
    int (*create_config)(coord *c, const char *gid, const coord_config *cfg, coord_cb cb,
                         void *arg);
    int (*cas_config)(coord *c, const char *gid, const coord_config *cfg, int32_t expected,
                      coord_cb cb, void *arg);
    int (*create_primary)(coord *c, const char *gid, const coord_primary_info *p, coord_cb cb,
                          void *arg);
    int (*release_primary)(coord *c, const char *gid, coord_cb cb, void *arg);
    int (*elect)(coord *c, const char *gid, const coord_config *cfg, int32_t expected,
                 const coord_primary_info *p, bool replace, coord_cb cb, void *arg);
    int (*watch_config)(coord *c, const char *gid, coord_cb cb, void *arg, coord_watch **out);
    int (*watch_primary)(coord *c, const char *gid, coord_cb cb, void *arg, coord_watch **out);
    void (*unwatch)(coord *c, coord_watch *w);
} coord_ops;

/* Every backend's handle starts with this. */
struct coord {
    const coord_ops *ops;
};

/* ---- backends ------------------------------------------------------------- */

/* Starts connecting to ZooKeeper; *out is usable at once (operations wait for
 * the connection, up to op_timeout_ms). Returns 0, or -HALO_EINVAL (bad
 * options), -HALO_EIO (the client could not start). The first session event
 * comes later, on the loop. */
int coord_zk_open(uv_loop_t *loop, const coord_options *o, coord **out);

/* ---- sessions ------------------------------------------------------------- */

static inline void coord_session(coord *c, coord_session_info *out)
{
    c->ops->session(c, out);
}

/* After EXPIRED: drop the dead session and start a new one (CONNECTING, then
 * CONNECTED). Watches carry over and are re-armed. Ephemerals do NOT: the
 * owner registers its node again and re-earns the primary role by CAS.
 * Operations still parked (waiting for a connection) fail with
 * -HALO_EEXPIRED; ones already sent get their answer. Returns 0 or
 * -HALO_EIO. Also allowed while connected: that session is abandoned and
 * closed, which deletes its ephemerals. */
static inline int coord_reconnect(coord *c)
{
    return c->ops->reconnect(c);
}

/* Closes the session (the servers delete its ephemerals at once) and frees
 * the coord. Operations still waiting for an answer get it (for up to 1 s),
 * the others complete with -HALO_ECLOSED; subscriptions end silently (do not
 * coord_unwatch them afterwards); then done(arg) runs on the loop (done may
 * be NULL) and c is gone. Closing does not block the loop; the coord's libuv
 * handles keep the loop alive until then. Call once; use nothing of c after. */
static inline void coord_close(coord *c, void (*done)(void *arg), void *arg)
{
    c->ops->close(c, done, arg);
}

/* ---- nodes ---------------------------------------------------------------- */

/* Creates the ephemeral nodes/<id> with info. Succeeds if this session holds
 * it already (its data is then replaced). -HALO_EEXISTS: another session
 * holds the id — a duplicate id, or this node's previous incarnation whose
 * session has not expired yet (retry after the session timeout). */
static inline int coord_register_node(coord *c, const char *id, const coord_node_info *info,
                                      coord_cb cb, void *arg)
{
    return c->ops->register_node(c, id, info, cb, arg);
}

/* Lists the registered nodes: r->nodes/r->n_nodes (entries whose id or
 * document is invalid are skipped with a log line). -HALO_ETOOBIG beyond
 * COORD_MAX_NODES. An empty cluster gives 0 nodes, not an error. */
static inline int coord_list_nodes(coord *c, coord_cb cb, void *arg)
{
    return c->ops->list_nodes(c, cb, arg);
}

/* ---- group configuration -------------------------------------------------- */

/* Reads groups/<gid>/config: r->config and r->version. The read reflects
 * every write committed before the call, other sessions' too (a ZooKeeper
 * sync goes first). -HALO_ENOTFOUND if absent; -HALO_ECORRUPT if its document
 * does not parse (r->version is set, so an operator tool can still overwrite
 * it by CAS). */
static inline int coord_get_config(coord *c, const char *gid, coord_cb cb, void *arg)
{
    return c->ops->get_config(c, gid, cb, arg);
}

/* Bootstrap: creates groups/<gid>/config with cfg if absent (r->version 0).
 * -HALO_EEXISTS: it exists already — someone else bootstrapped; read it.
 * -HALO_EINVAL (returned at once): cfg breaks coord_config_validate. */
static inline int coord_create_config(coord *c, const char *gid, const coord_config *cfg,
                                      coord_cb cb, void *arg)
{
    return c->ops->create_config(c, gid, cfg, cb, arg);
}

/* Compare-and-set: writes cfg only if the config's version is still
 * `expected`; r->version is then the new version. -HALO_EBADVERSION: it
 * changed since (re-read, re-decide). -HALO_ENOTFOUND: no config.
 * -HALO_ECONNLOSS: unknown whether it was applied (re-read). After a lost
 * connection the adapter re-sends and, on a conflict, reads back: if the
 * config now holds exactly cfg at version expected+1, the write was ours. */
static inline int coord_cas_config(coord *c, const char *gid, const coord_config *cfg,
                                   int32_t expected, coord_cb cb, void *arg)
{
    return c->ops->cas_config(c, gid, cfg, expected, cb, arg);
}

/* ---- primary marker ----------------------------------------------------- */

/* Creates the ephemeral groups/<gid>/primary with p, owned by this session.
 * Succeeds if this session holds it already. -HALO_EEXISTS: another session
 * holds it (the old primary is still alive, or its session has not expired). */
static inline int coord_create_primary(coord *c, const char *gid, const coord_primary_info *p,
                                       coord_cb cb, void *arg)
{
    return c->ops->create_primary(c, gid, p, cb, arg);
}

/* Deletes the primary marker if this session holds it (planned switchover).
 * -HALO_ENOTFOUND: no marker; -HALO_ELOCKED: another session holds it. */
static inline int coord_release_primary(coord *c, const char *gid, coord_cb cb, void *arg)
{
    return c->ops->release_primary(c, gid, cb, arg);
}

/* Election in one transaction: writes cfg if the config's version is still
 * `expected` (as coord_cas_config) AND creates this session's ephemeral
 * primary marker p — both or neither. r->version is the config's new version.
 * -HALO_EBADVERSION: the config changed; -HALO_EEXISTS: a primary marker
 * exists (its holder's session lives on); -HALO_ENOTFOUND: no config.
 * -HALO_ECONNLOSS: unknown (re-read). After a lost connection a conflict is
 * resolved by reading the config back, as for CAS. */
static inline int coord_elect(coord *c, const char *gid, const coord_config *cfg, int32_t expected,
                              const coord_primary_info *p, coord_cb cb, void *arg)
{
    return c->ops->elect(c, gid, cfg, expected, p, false, cb, arg);
}

/* Planned switchover: as coord_elect, but the current primary marker —
 * whoever's session holds it — is deleted in the same transaction, so the
 * live primary that asked for this is replaced without waiting for its
 * session to end. -HALO_ENOTFOUND also when there is no marker (its holder's
 * session ended: an ordinary election follows). The config's version is the
 * guard: the caller read it after the handoff. */
static inline int coord_take_over(coord *c, const char *gid, const coord_config *cfg,
                                  int32_t expected, const coord_primary_info *p, coord_cb cb,
                                  void *arg)
{
    return c->ops->elect(c, gid, cfg, expected, p, true, cb, arg);
}

/* ---- watches -------------------------------------------------------------- */

/* Subscribes to groups/<gid>/config. cb runs once with the current state as
 * soon as it is read, then after every change: err 0 with r->config and
 * r->version; -HALO_ENOTFOUND when absent; -HALO_ECORRUPT when unparseable.
 * Intermediate versions may be skipped (several changes between two reads
 * are seen as one) but the LATEST state is always delivered: every delivery
 * comes from a read that re-armed the watch, and the config is re-read after
 * every reconnection. The same state is never delivered twice in a row.
 * *out is the subscription, valid until coord_unwatch. */
static inline int coord_watch_config(coord *c, const char *gid, coord_cb cb, void *arg,
                                     coord_watch **out)
{
    return c->ops->watch_config(c, gid, cb, arg, out);
}

/* Subscribes to groups/<gid>/primary, as coord_watch_config: err 0 with
 * r->primary (present), or -HALO_ENOTFOUND (gone: no primary marker — its
 * holder's session ended). */
static inline int coord_watch_primary(coord *c, const char *gid, coord_cb cb, void *arg,
                                      coord_watch **out)
{
    return c->ops->watch_primary(c, gid, cb, arg, out);
}

/* Ends a subscription: no callback for it runs after this returns. May be
 * called from the subscription's own callback. */
static inline void coord_unwatch(coord *c, coord_watch *w)
{
    c->ops->unwatch(c, w);
}

#endif
