/* repl_int.h — private to the replication adapter (repl_node.c, repl_coord.c, repl_link.c, repl_hold.c, repl_info.c). */
#ifndef HALO_REPL_INT_H
#define HALO_REPL_INT_H

#include "repl_node.h"
#include "../coord/coord.h"
#include "../persist/snapshot.h"

#include <uv.h>

/* A block of the backlog: whole events, bytes [off, off+len) of the log. */
typedef struct repl_blk {
    struct repl_blk *next;
    uint64_t off;
    size_t len, cap;
    char data[];
} repl_blk;

/* Primary side: what we send to one replica over its connection (a kv
 * client that sent HALO.SYNC). */
typedef struct repl_down {
    kv_client *c;       /* NULL: no connection from this peer */
    bool active;        /* START_STREAM given, not stopped */
    bool snap_wait;     /* waiting for the snapshot child */
    bool snap_sending;  /* sending the snapshot file */
    uint64_t next;      /* next log offset to send */
    int snap_fd;        /* the snapshot file being sent, -1 */
    uint64_t snap_sent, snap_size;
    repl_history snap_pos; /* the snapshot's position: the stream goes on from its end */
    uint64_t acked;     /* last offset the peer acknowledged (INFO) */
    int64_t last_ack_ms;
    int64_t last_ping_ms;
    /* its last HALO.SYNC, asked again when we become primary (a sync that
     * arrived before our election was ignored by the state machine) */
    bool asked;
    bool asked_full;
    uint64_t asked_epoch;
    repl_history asked_hist;
} repl_down;

/* Replica side: our connection to the primary we follow. */
typedef enum { UP_NONE, UP_CONNECTING, UP_CONNECTED } up_state;

/* Links are capped by unsent bytes: beyond this the primary waits (chunks)
 * and a lagging replica's snapshot is paced. */
#define REPL_LINK_WINDOW (4u * 1024 * 1024)
/* Size of one HALO.SNAP frame. */
#define REPL_SNAP_FRAME (256u * 1024)

struct repl_node {
    kv_server *srv;
    repl_sm sm;
    bool sm_ready;      /* the config was read once: ids known, sm initialised */
    bool stepping;      /* inside feed: events raised now are deferred */
    bool closing;       /* repl_node_stop ran: callbacks only release what they hold */
    int close_pending;  /* handles (timer, coordinator) still closing */
    uv_timer_t tick;    /* drives TICK, session polling, snapshots, reconnects */
    repl_action actions[REPL_MAX_ACTIONS];
    repl_event deferred[8];
    int ndeferred;
    repl_history restored;  /* the log position found at start-up */
    repl_history saved_hist;/* the history last written to the AOF (HALOPOS) */

    /* ids: the state machine's node ids are indexes into members */
    coord_id self_id;
    int self;
    coord_id members[REPL_MAX_NODES];
    int nmembers;
    char addr_self[COORD_ADDR_MAX + 1];
    char addrs[REPL_MAX_NODES][COORD_ADDR_MAX + 1]; /* registered addresses, "" unknown */
    bool alive[REPL_MAX_NODES];                     /* registered (ephemeral node present) */
    int64_t nodes_read_ms;
    bool nodes_reading;

    /* coordinator */
    coord *co;
    coord_watch *w_cfg, *w_prim;
    int session_timeout_ms;
    coord_state cstate;
    int64_t last_contact_fed_us;
    bool registered, registering, bootstrapped, bootstrapping;
    int64_t register_retry_ms;
    coord_config ccfg;  /* latest config document seen */
    bool have_ccfg;
    bool marker_known, marker_present;
    int marker_holder;
    uint64_t marker_epoch;

    /* the log */
    uint64_t log_end;   /* bytes appended (primary) or applied (replica) */
    repl_blk *bl_head, *bl_tail;
    uint64_t bl_bytes;

    /* primary side */
    repl_down down[REPL_MAX_NODES];
    snap_job snap;      /* the snapshot child, if snap_running */
    bool snap_running;
    repl_history snap_job_pos;

    /* replica side */
    up_state ust;
    int up_peer;
    kv_client *up;      /* connection to up_peer, once connected */
    int64_t up_connect_ms;
    kv_client *fake;    /* runs the primary's commands */
    const struct kv_cmd *cmd_multi, *cmd_exec; /* skipped in the stream (it is atomic already) */
    repl_action up_sync; /* the BECOME_REPLICA to send once connected */
    bool ack_pending;
    uint64_t ack_epoch, ack_off;
    bool refuse_pending;
    uint64_t refuse_epoch;
    int snap_in_fd;     /* the snapshot being received, -1 */
    char snap_in_path[512];
    uint64_t snap_in_bytes;
    const char *chunk_ptr; /* the chunk being stepped (APPLY reads it) */
    uint64_t chunk_off;
    uint64_t chunk_len;
    int64_t last_io_ms;  /* last frame from the primary */
    uint64_t applied_cmds;

    /* held replies */
    kv_client *held;     /* clients waiting for the commit point, via next_held */
    kv_client *released; /* released, to be resumed in after_io */
    uint64_t commit;     /* ACK_WRITES so far */
    uint64_t failed_held;

    /* planned switchover: clients whose read or write waits for its outcome */
    kv_client *paused, *paused_tail;
};

/* repl_node.c */
int64_t now_ms(void);
void feed(repl_node *rn, const repl_event *ev);
void defer_event(repl_node *rn, const repl_event *ev);
void exec_action(repl_node *rn, const repl_action *a);
void sm_start(repl_node *rn, const repl_history *restored);
int member_index(const repl_node *rn, const char *id, size_t len);
bool to_repl_config(const repl_node *rn, const coord_config *cc, int32_t version, repl_config *out);
void to_coord_config(const repl_node *rn, const repl_config *rc, coord_config *out);
void pos_source(void *arg, repl_history *out);
void backlog_append(repl_node *rn, const char *p, size_t len);
uint64_t backlog_start(const repl_node *rn);
void backlog_reset(repl_node *rn, uint64_t end);
bool backlog_piece(const repl_node *rn, uint64_t off, const char **p, size_t *len);

/* repl_coord.c */
int coord_start(repl_node *rn);
void coord_stop(repl_node *rn, void (*done)(void *arg));
void coord_poll_session(repl_node *rn);
void coord_send_cas(repl_node *rn, const repl_action *a);
void coord_send_read(repl_node *rn, uint64_t seq);
void coord_refresh_nodes(repl_node *rn);
/* "ip:port" of member id, or NULL when unknown. */
const char *member_addr(const repl_node *rn, int id);

/* repl_link.c */
void down_start(repl_node *rn, int peer, uint64_t offset, bool full);
void down_stop(repl_node *rn, int peer);
void down_forget(repl_node *rn, int peer);
void down_resync_all(repl_node *rn);
void down_pump_all(repl_node *rn);
void down_poll_snapshots(repl_node *rn);
void down_close_all(repl_node *rn);
void up_follow(repl_node *rn, const repl_action *a);
void up_apply(repl_node *rn, const repl_action *a);
void up_send_ack(repl_node *rn, uint64_t epoch, uint64_t offset);
void up_send_refuse(repl_node *rn, uint64_t epoch);
bool up_send_failover_request(repl_node *rn);
void down_send_handoff(repl_node *rn, int peer, uint64_t epoch, uint64_t end);
void up_flush_ack(repl_node *rn);
void up_close(repl_node *rn);
void up_tick(repl_node *rn);

/* repl_switch.c */
void pause_client(repl_node *rn, kv_client *c);
void pause_forget(repl_node *rn, kv_client *c);
void pause_drop_all(repl_node *rn);
void pause_run_resumed(repl_node *rn);
const char *switch_state(const repl_node *rn);
void switch_start_any(repl_node *rn, kv_client *c);

/* repl_hold.c */
void hold_release(repl_node *rn, uint64_t offset);
void hold_fail_all(repl_node *rn);
void hold_run_released(repl_node *rn);

#endif
