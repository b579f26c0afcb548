/* client.h — one client connection: query buffer, parsed command, reply chain, and the reply API. */
#ifndef HALO_KV_CLIENT_H
#define HALO_KV_CLIENT_H

#include "../proto/resp.h"
#include "server.h"
#include <stdarg.h>
#include <uv.h>

struct kv_cmd;

enum {
    CLIENT_CLOSE_AFTER_REPLY = 1u << 0, /* QUIT, protocol error: close once flushed */
    CLIENT_CLOSE_ASAP = 1u << 1,        /* output limit, KILL: close without flushing */
    CLIENT_MULTI = 1u << 2,             /* inside MULTI */
    CLIENT_DIRTY_CAS = 1u << 3,         /* a WATCHed key changed: EXEC fails */
    CLIENT_DIRTY_EXEC = 1u << 4,        /* an error while queueing: EXEC aborts */
    CLIENT_BLOCKED = 1u << 5,           /* waiting in BLPOP & co */
    CLIENT_AUTHED = 1u << 6,
    CLIENT_PENDING_WRITE = 1u << 7,     /* on the server's pending_write list */
    CLIENT_WRITING = 1u << 8,           /* a uv_write is in flight */
    CLIENT_CLOSING = 1u << 9,           /* uv_close called */
    CLIENT_FAKE = 1u << 10,             /* AOF loader: no socket, replies dropped */
    CLIENT_EXECUTING = 1u << 11,        /* inside a command; freeing is deferred */
    CLIENT_IN_EXEC = 1u << 12,          /* running EXEC's queued commands */
    CLIENT_NO_REPLY = 1u << 13,
    CLIENT_REPL_LINK = 1u << 14,     /* a replica's connection to us: we stream our log to it */
    CLIENT_REPL_UPSTREAM = 1u << 15, /* our connection to the primary we follow */
    CLIENT_REPL_HELD = 1u << 16,     /* replies wait for the group's commit point */
    CLIENT_READONLY = 1u << 17,      /* READONLY: may read from a replica */
    CLIENT_REPL_GATED = 1u << 18,    /* ran a read or write since its output last left: the
                                        output waits for the commit point (repl_hold.c) */
    CLIENT_REPL_PAUSED = 1u << 19,   /* its read or write waits out a planned switchover
                                        (repl_switch.c); its input is not read meanwhile */
};

/* Reply chunk: replies are appended to the tail; the writer sends from the head. */
typedef struct reply_block {
    struct reply_block *next;
    size_t size, used;
    char buf[];
} reply_block;

typedef struct multi_cmd {
    const struct kv_cmd *cmd;
    int argc;
    resp_arg *argv; /* one allocation with the bytes after the array */
} multi_cmd;

struct kv_client {
    uint64_t id;
    kv_server *srv;
    uv_tcp_t tcp;
    uv_write_t wreq;
    uint32_t flags;
    int resp;                    /* protocol version: 2 or 3 */
    char addr[64], laddr[64];    /* "ip:port" of peer and of our socket */
    char *name;                  /* CLIENT SETNAME, NULL if unset */
    int64_t ctime_ms;            /* wall clock at connect */
    int64_t last_interaction_ms; /* loop clock (uv_now, monotonic) of the last read */
    /* input */
    char *qbuf;
    size_t qlen, qcap, qpos;     /* bytes held, capacity, parse position */
    resp_parser parser;
    int argc;
    resp_arg *argv;              /* valid during one command */
    const struct kv_cmd *cmd, *last_cmd;
    /* output */
    reply_block *reply_head, *reply_tail;
    size_t reply_bytes;          /* unsent bytes in the chain */
    size_t head_sent;            /* bytes of reply_head already written */
    size_t writing_bytes;        /* bytes handed to the in-flight uv_write */
    uv_buf_t wbufs[64];
    /* transactions */
    multi_cmd *mstate;
    int mcount, mcap;
    /* subsystems */
    struct kv_client_watch *watched;  /* WATCHed keys (watch.c) */
    struct kv_client_pubsub *pubsub;  /* subscriptions (pubsub.c) */
    struct kv_client_block *bstate;   /* blocking state (block.c) */
    /* links */
    kv_client *prev, *next;
    kv_client *next_pending;
    kv_client *next_held;        /* replication: held or released list */
    uint64_t repl_wait;          /* replication: log offset the held replies wait for */
    kv_client *next_paused;      /* replication: paused list (CLIENT_REPL_PAUSED) */
    resp_arg *paused_argv;       /* the paused command (resp_argv_dup), or NULL */
    int paused_argc;
};

/* ---- replies: append to the client's output; flushed after the loop's poll ---- */
void reply_raw(kv_client *c, const void *p, size_t len);
void reply_ok(kv_client *c);
void reply_status(kv_client *c, const char *s);
/* "-<msg>\r\n"; msg begins with the error code ("ERR ...", "WRONGTYPE ..."). */
void reply_error(kv_client *c, const char *msg);
void reply_errorf(kv_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void reply_bulk(kv_client *c, const char *p, size_t len);
void reply_cstr(kv_client *c, const char *s); /* bulk of a C string */
void reply_int(kv_client *c, int64_t v);
void reply_double(kv_client *c, double v);   /* RESP3 double, RESP2 bulk */
void reply_null(kv_client *c);               /* $-1 / _ */
void reply_null_array(kv_client *c);         /* *-1 / _ */
void reply_array(kv_client *c, int64_t n);
void reply_map(kv_client *c, int64_t n);     /* RESP3 %n, RESP2 *2n */
void reply_set(kv_client *c, int64_t n);     /* RESP3 ~n, RESP2 *n */
void reply_push(kv_client *c, int64_t n);    /* RESP3 >n, RESP2 *n */
void reply_bool(kv_client *c, bool v);       /* RESP3 #t/#f, RESP2 :1/:0 */
void reply_verbatim(kv_client *c, const char *p, size_t len, const char *ext); /* INFO */
/* Arrays whose length is known only after the elements: reserve a slot,
 * append elements, then fill it in. */
void *reply_deferred_len(kv_client *c);
void reply_set_deferred_array(kv_client *c, void *slot, int64_t n);
void reply_set_deferred_map(kv_client *c, void *slot, int64_t n);
void reply_set_deferred_set(kv_client *c, void *slot, int64_t n);

/* Common errors, worded as Redis words them (clients match on them). */
void reply_wrongtype(kv_client *c);
void reply_syntax_error(kv_client *c);
void reply_not_integer(kv_client *c);
void reply_not_float(kv_client *c);

/* Argument helpers: parse argv[i] or reply the Redis error and return false. */
bool arg_i64(kv_client *c, int i, int64_t *out);
bool arg_i64_range(kv_client *c, int i, int64_t min, int64_t max, int64_t *out, const char *what);
/* An integer >= min; anything else replies err ("ERR ..."), as Redis's
 * getRangeLongFromObjectOrReply with a message (numkeys, counts, LIMIT). */
bool arg_i64_min(kv_client *c, int i, int64_t min, int64_t *out, const char *err);
/* An integer in [min, max]: "not an integer" or "ERR value is out of range,
 * value must between <min> and <max>", as getRangeLongFromObjectOrReply
 * without a message (the *RANDMEMBER counts). */
bool arg_i64_bounded(kv_client *c, int i, int64_t min, int64_t max, int64_t *out);
bool arg_double(kv_client *c, int i, double *out);
/* A blocking command's timeout: seconds as a float, to whole milliseconds
 * rounded up (a tiny timeout must not become "forever"); 0 = forever. */
bool arg_timeout_ms(kv_client *c, int i, int64_t *ms);
bool arg_is(kv_client *c, int i, const char *word); /* case-insensitive */
/* The key argv[i] if it holds type (in *out; NULL when absent). Replies
 * WRONGTYPE and returns false when it holds another type. */
bool arg_key_typed(kv_client *c, int i, bool write, int type, kv_entry **out);

/* Whether the client is being closed (callers stop producing output). */
static inline bool client_closing(const kv_client *c)
{
    return c->flags & (CLIENT_CLOSE_ASAP | CLIENT_CLOSING);
}

/* Whether nothing more written now can reach anyone (closing, CLIENT REPLY
 * OFF, the AOF loader), so a long reply loop may stop early. */
static inline bool client_reply_dead(const kv_client *c)
{
    return client_closing(c) || (c->flags & (CLIENT_NO_REPLY | CLIENT_FAKE));
}

/* Whether a blocking command must answer at once as if it timed out: inside
 * MULTI/EXEC, or replayed by the AOF loader. */
static inline bool client_cannot_block(const kv_client *c)
{
    return c->flags & (CLIENT_MULTI | CLIENT_IN_EXEC | CLIENT_FAKE);
}

/* Lifecycle (net.c). */
kv_client *client_new_fake(kv_server *srv);
void client_free_fake(kv_client *c);
void client_close_async(kv_client *c);
/* Send c's output now and resume reading its commands (its held replies
 * were released). */
void client_wake(kv_client *c);
/* Connect to "ip:port" (or "[v6]:port") as a client of ours: cb gets the
 * connected client (its replies are what we send; what the peer sends is
 * dispatched as commands), or NULL and a libuv error. 0 or -HALO_EINVAL. */
typedef void (*net_connect_cb)(kv_client *c, int status, void *arg);
int net_connect(kv_server *srv, const char *addr, net_connect_cb cb, void *arg);
/* Executes whatever complete commands its query buffer holds (after unblock). */
void client_process_input(kv_client *c);
size_t client_obuf_bytes(const kv_client *c);
/* "id=.. addr=.. name=.. age=.. idle=.. flags=.. cmd=.." line for CLIENT LIST. */
void client_info_line(kv_client *c, buf *out);

#endif
