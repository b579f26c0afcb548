/* repl_sm.h — replication and failover of one kv node as a pure state machine: (state, event, now) -> actions. */
#ifndef HALO_REPL_SM_H
#define HALO_REPL_SM_H

#include <stdbool.h>
#include <stdint.h>

/* Implements docs/replication.md (PacificA / Kafka-ISR with ZooKeeper as the
 * arbiter); docs/replication-sm.md has the full transition table and the
 * safety argument. The machine does no I/O, reads no clock and allocates
 * nothing: the caller (the kv node's adapter, or tests/unit/test_repl_sim.c)
 * feeds events with the current time and carries out the actions.
 *
 * Roles (repl_sm.role) and the invariant each keeps:
 *
 *   INIT       no config observed yet.  Refuses writes; accepts a stream from
 *              any primary whose epoch is not fenced (then REPLICA).
 *   IDLE       config known, nobody to follow: the config names no primary, or
 *              names this node while it holds no primary role in memory (it
 *              restarted, or its session expired). Refuses writes. If it is in
 *              the ISR and the primary marker is gone, it proposes itself.
 *   REPLICA    follows `following`. Applies only streams whose epoch is not
 *              below the highest epoch seen, and only bytes that extend its
 *              log on the sender's history; acks what it applied.
 *   CANDIDATE  sent the election CAS {epoch+1, self, isr - old primary + self}
 *              with the marker created atomically. Accepts no stream (its log
 *              is frozen, so its start offset covers every write the old
 *              primary could have had acknowledged).
 *   PRIMARY    the config names it and the marker is its own. Acknowledges a
 *              write only when every member of the ISR (and, while an ISR CAS
 *              is in flight, of the proposed ISR too) acked past its end.
 *              Refuses writes once its session is lost; serves linearizable
 *              reads only within its lease.
 *   FENCED     a primary whose session contact is older than the session
 *              timeout. No writes, no reads, no acks. Same session back: PRIMARY
 *              again (no one can have been elected: its marker lived). Session
 *              expired: IDLE (it re-earns the role by CAS like anyone else).
 *
 * Transitions (the function doing each, in repl_sm.c):
 *   INIT|IDLE|REPLICA -> REPLICA    follow_config, adopt_sender
 *   IDLE|REPLICA      -> CANDIDATE  maybe_propose  (in ISR, marker gone, session up)
 *   CANDIDATE         -> PRIMARY    cas_succeeded  (CAS ok, or a config shows it won)
 *   CANDIDATE         -> IDLE/REPLICA cas_failed   (then follow_config)
 *   IDLE|REPLICA      -> PRIMARY    check_resume   (named by the config, holding the
 *                                                   marker its live session created:
 *                                                   an election taken for lost won)
 *   PRIMARY           -> FENCED     check_fence    (session contact too old)
 *   FENCED            -> PRIMARY    check_resume   (same session connected again)
 *   PRIMARY|FENCED    -> IDLE       step_down      (session expired, or a newer
 *                                                   config names another node)
 *   PRIMARY|FENCED    -> REPLICA    step_down + follow (newer config or stream)
 *   REPLICA           -> CANDIDATE  try_takeover   (planned switchover: the primary
 *                                                   we follow handed off to us)
 *
 * Planned switchover (REPL_EV_SWITCHOVER on the primary, docs/replication.md):
 * the primary pauses client reads and writes (repl_switching), waits until the
 * target and every ISR member hold its whole log (commit == end), then sends
 * the target a handoff (REPL_ACT_SEND_HANDOFF) and gives up its lease. The
 * target, if it holds exactly that log in that epoch, runs an election CAS
 * that also deletes the old primary's marker (REPL_CAS_TAKEOVER) and keeps the
 * ISR as it is. If nothing happened by the deadline, the old primary rewrites
 * the config (REPL_CAS_RECLAIM, a new version) before serving again, so a
 * takeover still in flight can no longer succeed.
 *
 * Threading: none. One repl_sm belongs to one caller; repl_step is not
 * reentrant for the same repl_sm. */

#define REPL_MAX_NODES 16  /* node ids are 0..15: members of one group (COORD_MAX_MEMBERS) */
#define REPL_MAX_HISTORY 8 /* segments kept in a history; older ones are dropped */
#define REPL_MAX_ACTIONS 64 /* repl_step never emits more than this many actions */
#define REPL_NONE (-1)      /* no node */

/* A set of node ids as a bit mask. */
typedef uint32_t repl_set;
_Static_assert(REPL_MAX_NODES <= 32, "repl_set holds the node ids");

static inline bool repl_set_has(repl_set s, int id)
{
    return id >= 0 && id < REPL_MAX_NODES && ((s >> id) & 1u);
}
static inline repl_set repl_set_add(repl_set s, int id)
{
    return id >= 0 && id < REPL_MAX_NODES ? s | (1u << id) : s;
}
static inline repl_set repl_set_del(repl_set s, int id)
{
    return id >= 0 && id < REPL_MAX_NODES ? s & ~(1u << id) : s;
}
static inline int repl_set_count(repl_set s)
{
    return __builtin_popcount(s);
}

/* The group configuration as stored by the coordinator. Node ids are indexes
 * into the adapter's member list (it maps them to the config's strings). */
typedef struct repl_config {
    uint64_t epoch;   /* bumped by every change */
    int64_t version;  /* the coordinator's CAS version of the config; -1: none seen */
    int primary;      /* REPL_NONE when no primary was ever elected */
    repl_set isr;     /* in-sync set, primary included */
    repl_set members;
} repl_config;

/* A log history, like Redis's replid/replid2 but as a chain: segment i holds
 * the bytes [seg[i].start, seg[i+1].start) (the last one up to `end`), written
 * by the primary elected at seg[i].epoch. An epoch is won by exactly one CAS,
 * so two logs holding the same segment agree on every byte before its end in
 * both, and the longest common prefix of two logs is computable from their
 * histories alone (repl_common_prefix). The adapter persists it with the log. */
typedef struct repl_segment {
    uint64_t epoch;
    uint64_t start;
} repl_segment;

typedef struct repl_history {
    repl_segment seg[REPL_MAX_HISTORY]; /* ascending by start and by epoch */
    int n;
    uint64_t end; /* end offset of the log: the next byte's offset */
} repl_history;

/* Length of the longest prefix two logs provably share (0 if no common segment). */
uint64_t repl_common_prefix(const repl_history *a, const repl_history *b);

/* Test-only rule breakers: each disables one rule so that the simulator can
 * prove its checker notices. Never set outside tests. */
enum {
    REPL_BREAK_ACK_LOCAL = 1u << 0,     /* ack writes without waiting for the ISR */
    REPL_BREAK_SHRINK_NO_CAS = 1u << 1, /* drop a lagging member locally, no CAS */
    REPL_BREAK_NO_LEASE = 1u << 2,      /* serve linearizable reads without a lease */
    REPL_BREAK_GROW_EARLY = 1u << 3,    /* stop counting a member the moment it is added */
    REPL_BREAK_ANY_CANDIDATE = 1u << 4, /* members outside the ISR may be elected */
};

typedef struct repl_params {
    int self;                   /* this node's id */
    int64_t session_timeout_ms; /* the coordinator session's timeout */
    int64_t lease_margin_ms;    /* clock-rate slack subtracted from the lease */
    int64_t repl_timeout_ms;    /* an ISR member this late to ack, or silent this long,
                                   is removed (the caller must make idle replicas ack
                                   more often than this: a heartbeat chunk) */
    int64_t resync_ms;          /* a replica with no stream this long asks again */
    int64_t retry_ms;           /* re-read the config this often while waiting on it */
    int min_sync_replicas;      /* fewest replicas the ISR keeps; below: NOREPLICAS */
    uint64_t catchup_max_lag;   /* a member this close to the end may rejoin the ISR */
    /* true: the store can cut its log back to an offset (TRUNCATE to the
     * common prefix). false (the kv node: applied commands cannot be undone):
     * a diverged replica asks for a full resync instead. */
    bool can_truncate;
    unsigned test_break; /* REPL_BREAK_* (tests only) */
} repl_params;

typedef enum {
    REPL_INIT,
    REPL_IDLE,
    REPL_REPLICA,
    REPL_CANDIDATE,
    REPL_PRIMARY,
    REPL_FENCED,
} repl_role;

typedef enum {
    REPL_SESS_NONE, /* never connected */
    REPL_SESS_CONNECTED,
    REPL_SESS_DISCONNECTED,
    REPL_SESS_EXPIRED,
} repl_session_state;

typedef enum {
    REPL_CAS_OK,      /* applied; the event carries the new version */
    REPL_CAS_FAILED,  /* certainly not applied: version mismatch, marker exists, session expired */
    REPL_CAS_UNKNOWN, /* connection lost with the request out: maybe applied */
} repl_cas_result;

/* Why writes are refused (repl_write_gate, REPL_ACT_REFUSE_WRITES). */
typedef enum {
    REPL_WRITE_OK,
    REPL_REFUSE_NOT_PRIMARY, /* a replica or a node without a role: -READONLY */
    REPL_REFUSE_FENCED,      /* a primary without a live session */
    REPL_REFUSE_NOREPLICAS,  /* -NOREPLICAS Not enough good replicas to write. */
    REPL_REFUSE_SWITCHING,   /* a planned switchover is under way: clients wait */
} repl_refusal;

typedef enum {
    REPL_EV_TICK,         /* time passed (call every few ms and after a pause) */
    REPL_EV_CONFIG,       /* a config read or watch delivered u.config */
    REPL_EV_MARKER,       /* the primary marker's state (read or watch) */
    REPL_EV_CAS_RESULT,   /* the outcome of the last REPL_ACT_CAS_CONFIG */
    REPL_EV_SESSION,      /* coordinator session state, and each proof of contact */
    REPL_EV_APPENDED,     /* primary: the local log now ends at u.appended.end */
    REPL_EV_PEER_SYNC,    /* primary: a replica asks for the stream (its history) */
    REPL_EV_PEER_ACK,     /* primary: a replica acknowledged an offset */
    REPL_EV_PEER_REFUSED, /* primary: a replica refused our stream (its epoch) */
    REPL_EV_STREAM,       /* replica: a chunk (or a full snapshot) arrived */
    REPL_EV_RESYNC_DONE,  /* replica: the snapshot of an APPLY(full) is loaded */
    REPL_EV_SWITCHOVER,   /* primary: hand the role to u.switchover.target (an
                             operator's FAILOVER; check repl_switchover_refusal
                             first); target REPL_NONE: abort the one under way */
    REPL_EV_HANDOFF,      /* replica: the primary it follows hands over (SEND_HANDOFF) */
} repl_event_type;

typedef struct repl_event {
    repl_event_type type;
    union {
        struct {
            repl_config cfg;
            /* the seq of the REPL_ACT_READ_CONFIG this answers; 0 from a watch */
            uint64_t read_seq;
        } config;
        struct {
            bool present;
            int holder;     /* the marker's node */
            uint64_t epoch; /* the epoch it was created in */
        } marker;
        struct {
            repl_cas_result result;
            int64_t version; /* REPL_CAS_OK: the config's new version */
            uint64_t epoch;  /* the epoch of the proposal answered (the action's epoch):
                                a late answer to an older CAS must not settle this one */
        } cas;
        struct {
            repl_session_state state;
            /* CONNECTED: when the request was SENT whose answer proves the
             * session alive (the lease basis); send one every timeout/3. */
            int64_t sent_ms;
        } session;
        struct {
            /* after the primary's own fsync under appendfsync always; only a
             * PRIMARY or FENCED node appends (anything else aborts) */
            uint64_t end;
        } appended;
        struct {
            int peer;
            uint64_t epoch;            /* the highest epoch the peer has seen */
            const repl_history *hist;  /* the peer's log; valid during the call */
            bool full;                 /* the peer asks for a snapshot */
        } sync;
        struct {
            int peer;
            uint64_t epoch; /* the epoch of the chunk acknowledged */
            uint64_t offset;
        } ack;
        struct {
            int peer;
            uint64_t epoch; /* the highest epoch the peer has seen */
        } refused;
        struct {
            int from;
            uint64_t epoch;           /* the sender's config epoch */
            const repl_history *hist; /* the sender's log; hist->end == offset + len */
            uint64_t offset, len;     /* bytes [offset, offset+len); full: offset 0 */
            bool full;                /* a snapshot of the sender's whole log */
        } stream;
        struct {
            uint64_t end;
        } resync;
        struct {
            int target;
            int64_t timeout_ms; /* give up (and serve again) after this long */
        } switchover;
        struct {
            int from;
            uint64_t epoch; /* the sender's config epoch */
            uint64_t end;   /* its log end: every byte of it committed */
        } handoff;
    } u;
} repl_event;

typedef enum {
    REPL_ACT_CAS_CONFIG,     /* u.cas: write config if version == expected; with_marker:
                                in the SAME transaction create the ephemeral primary
                                marker {self, config.epoch} (a ZooKeeper multi) */
    REPL_ACT_READ_CONFIG,    /* read config and marker (after every earlier request of
                                the session: ZooKeeper sync first); deliver CONFIG with
                                read_seq = seq, then MARKER */
    REPL_ACT_START_STREAM,   /* peer: stream from offset (full: a snapshot, then on) */
    REPL_ACT_STOP_STREAM,    /* peer */
    REPL_ACT_ACK_WRITES,     /* reply to client writes ending at or before offset */
    REPL_ACT_REFUSE_WRITES,  /* reason; unless NOREPLICAS or SWITCHING (those still
                                commit), fail the pending writes too */
    REPL_ACT_ACCEPT_WRITES,  /* writes accepted again */
    REPL_ACT_BECOME_REPLICA, /* ask peer (epoch) for its stream from u.hist (full: snapshot) */
    REPL_ACT_TRUNCATE,       /* cut the local log back to offset (diverged tail) */
    REPL_ACT_APPLY,          /* apply bytes [offset, offset+len) of the current chunk;
                                full: replace the whole dataset with the snapshot
                                atomically, then deliver REPL_EV_RESYNC_DONE */
    REPL_ACT_SEND_ACK,       /* tell peer (the primary) we hold up to offset, epoch */
    REPL_ACT_REFUSE_STREAM,  /* tell peer its stream is refused: our epoch */
    REPL_ACT_STOP_READS,     /* lease lost: linearizable reads no longer served */
    REPL_ACT_SERVE_READS,
    REPL_ACT_LOG,            /* u.msg for the operator's log, at level (log.h LOG_*) */
    REPL_ACT_SEND_HANDOFF,   /* tell peer to take over: our config epoch, our log end
                                (offset); sent on the stream's link, after its bytes */
} repl_action_type;

#define REPL_LOG_MSG_MAX 120

typedef struct repl_action {
    repl_action_type type;
    int peer;
    uint64_t epoch;
    uint64_t offset;
    uint64_t len;
    bool full;
    uint64_t seq; /* REPL_ACT_READ_CONFIG: echoed in the CONFIG event */
    int reason;   /* repl_refusal, or the log level of REPL_ACT_LOG */
    union {
        struct {
            repl_config config;
            int64_t expected_version;
            bool with_marker;
            bool replace_marker; /* with_marker: delete the current marker in the same
                                    transaction (a takeover the primary asked for) */
        } cas;
        repl_history hist;
        char msg[REPL_LOG_MSG_MAX];
    } u;
} repl_action;

/* What the primary knows of one peer. */
typedef struct repl_peer {
    bool has_ack;         /* acked is valid in this primaryship */
    uint64_t acked;       /* the peer holds our log up to here */
    int64_t caught_up_ms; /* it held everything appended before this time */
    int64_t heard_ms;     /* its last ack (the adapter's idle links carry empty
                             chunks that replicas ack: a heartbeat) */
    bool mark_set;        /* pending probe: held mark_off => caught up at mark_ms */
    uint64_t mark_off;
    int64_t mark_ms;
    bool streaming;
} repl_peer;

typedef enum {
    REPL_CAS_NONE,
    REPL_CAS_ELECT,
    REPL_CAS_SHRINK,
    REPL_CAS_GROW,
    REPL_CAS_TAKEOVER, /* election handed to us by the primary (replaces its marker) */
    REPL_CAS_RECLAIM,  /* a primary whose handoff went unanswered bumps the config */
} repl_cas_kind;

typedef struct repl_sm {
    repl_params p;
    repl_role role;
    repl_config cfg;       /* latest config observed (or written by our CAS) */
    uint64_t lead_epoch;   /* highest epoch seen in a config or a stream */
    int lead_primary;      /* the primary of lead_epoch */
    struct {
        bool known, present;
        int holder;
        uint64_t epoch;
    } marker;
    uint64_t my_marker_epoch; /* epoch of the marker our session created (0: none) */
    struct {
        repl_session_state state;
        int64_t last_ok_ms; /* send time of the last request answered in this session */
    } sess;
    repl_history log;
    uint64_t backlog_start; /* the primary can stream from here on (repl_set_backlog) */

    /* replica */
    int following;
    int64_t last_stream_ms; /* last chunk applied in order (or last request) */
    bool awaiting_stream;   /* asked for the stream after a gap; ignore gaps until then */
    bool diverged;          /* !can_truncate: log off the primary's history, snapshot asked */
    bool loading;           /* a snapshot is being loaded: no acks until RESYNC_DONE */
    uint64_t ack_epoch;     /* epoch of the latest chunk applied: acks carry it */

    /* primary */
    uint64_t promo_epoch; /* the epoch that elected us: our history segment */
    uint64_t commit;      /* writes up to here were acknowledged to clients */
    repl_peer peers[REPL_MAX_NODES];
    struct {
        repl_cas_kind kind; /* NONE: no CAS in flight */
        bool unknown;       /* its result was lost; a config will tell */
        uint64_t settle_seq;  /* a read this recent or later settles an unknown CAS */
        repl_config proposal; /* .version: the expected version */
    } cas;

    /* planned switchover, primary side */
    struct {
        bool active;  /* clients paused until it ends */
        bool sent;    /* SEND_HANDOFF out: lease given up until RECLAIM succeeds */
        int target;
        int64_t deadline_ms;
    } ho;
    /* replica side: a handoff naming a config epoch we have not read yet */
    struct {
        bool pending;
        int from;
        uint64_t epoch, end;
    } ho_req;

    /* edges already reported, so that actions fire on changes only */
    repl_refusal gate;
    bool reads;
    int64_t next_read_ms;
    uint64_t read_seq; /* of the last REPL_ACT_READ_CONFIG */

    /* during repl_step only */
    int64_t now;
    repl_action *out;
    int nout, cap;
} repl_sm;

/* restored: the persisted log position (NULL: an empty log). p is copied. */
void repl_init(repl_sm *sm, const repl_params *p, const repl_history *restored);

/* Advance by one event at now_ms (never decreasing). Writes the actions into
 * out[0..cap) (cap >= REPL_MAX_ACTIONS) and returns how many; carry them out
 * in order. Pointers inside ev are only read during the call. */
int repl_step(repl_sm *sm, const repl_event *ev, int64_t now_ms, repl_action *out, int cap);

/* May a client write be appended now? REPL_WRITE_OK or the reason to refuse. */
repl_refusal repl_write_gate(const repl_sm *sm, int64_t now_ms);
/* May a linearizable read be served now (primary within its lease)? */
bool repl_read_ok(const repl_sm *sm, int64_t now_ms);
/* Why a switchover to target cannot start now (NULL: it can). */
const char *repl_switchover_refusal(const repl_sm *sm, int target);
/* The in-sync replica closest to our end (lowest id on ties), or REPL_NONE. */
int repl_switchover_pick(const repl_sm *sm);
/* A switchover is under way: client reads and writes wait (neither run nor refused). */
bool repl_switching(const repl_sm *sm);
/* The primary keeps bytes from start on for partial resyncs (its backlog). */
void repl_set_backlog(repl_sm *sm, uint64_t start);

const char *repl_role_name(repl_role r);
const char *repl_event_name(repl_event_type t);
const char *repl_action_name(repl_action_type t);
const char *repl_refusal_name(repl_refusal r);

#endif
