/* multi.c — transactions: the MULTI queue, EXEC with atomic propagation, and WATCH. */
#include "cmd.h"
#include "subsys.h"
#include "../common/mem.h"
#include "../common/util.h"

#include <limits.h>
#include <stddef.h>
#include <string.h>

/* ---- WATCH state ----
 *
 * Every (client, key) pair is one watch_link, linked twice: into the watched
 * key's list of watchers (server side, so a write finds its watchers in O(1))
 * and into the client's dict (so WATCH dedups and UNWATCH finds its links). A
 * watch_key exists exactly while its list is non-empty; c->watched exists
 * exactly while the client watches something. */

typedef struct watch_link watch_link;

/* A key at least one client watches. */
typedef struct watch_key {
    dict_node node;   /* in kv_watch.keys; must stay first */
    watch_link *head; /* watchers, linked by kprev/knext */
    size_t len;
    char key[];
} watch_key;

struct watch_link {
    dict_node node;   /* in kv_client_watch.links, keyed by wk's key; must stay first */
    watch_link *kprev, *knext;
    kv_client *c;
    watch_key *wk;
    /* The key was logically expired when WATCHed: its later deletion by expiry
     * changes nothing the client saw (Redis 7.0 does the same). */
    bool expired;
};

struct kv_client_watch {
    dict links;
};

struct kv_watch {
    dict keys;
};

static const char *watch_key_name(const dict_node *n, size_t *len)
{
    const watch_key *wk = (const watch_key *)n;
    *len = wk->len;
    return wk->key;
}

static const char *watch_link_name(const dict_node *n, size_t *len)
{
    const watch_link *l = (const watch_link *)n;
    *len = l->wk->len;
    return l->wk->key;
}

static const dict_type watch_key_type = {.key = watch_key_name};
static const dict_type watch_link_type = {.key = watch_link_name};

void watch_init(kv_server *srv)
{
    srv->watch = hmalloc(sizeof(*srv->watch));
    dict_init(&srv->watch->keys, &watch_key_type);
}

static void free_watch_key(dict_node *n, void *priv)
{
    (void)priv;
    hfree(n);
}

/* Called after every client is gone: no link points at the keys any more. */
void watch_free(kv_server *srv)
{
    if (srv->watch == NULL) return;
    dict_clear(&srv->watch->keys, free_watch_key, NULL);
    hfree(srv->watch);
    srv->watch = NULL;
}

/* Logically expired: present with a TTL that has passed, deleted or not yet. */
static bool key_is_expired(kv_db *db, const char *key, size_t len)
{
    kv_entry *e = db_find(db, key, len);
    if (e == NULL || !entry_has_expire(e)) return false;
    int64_t when = db_get_expire(db, e);
    int64_t now = db->now_ms ? db->now_ms : time_ms();
    return when >= 0 && when <= now;
}

static void watch_add(kv_client *c, const char *key, size_t len)
{
    kv_server *srv = c->srv;
    if (c->watched == NULL) {
        c->watched = hmalloc(sizeof(*c->watched));
        dict_init(&c->watched->links, &watch_link_type);
    }
    if (dict_find(&c->watched->links, key, len)) return;
    watch_key *wk = (watch_key *)dict_find(&srv->watch->keys, key, len);
    if (wk == NULL) {
        wk = hmalloc(sizeof(*wk) + len);
        wk->head = NULL;
        wk->len = len;
        memcpy(wk->key, key, len);
        dict_add(&srv->watch->keys, &wk->node);
    }
    watch_link *l = hmalloc(sizeof(*l));
    l->c = c;
    l->wk = wk;
    l->expired = key_is_expired(&srv->db, key, len);
    l->kprev = NULL;
    l->knext = wk->head;
    if (wk->head) wk->head->kprev = l;
    wk->head = l;
    dict_add(&c->watched->links, &l->node);
}

/* Unlink l from its key's watcher list (freeing the key when it was the last
 * watcher) and free it. The caller has removed it from the client's dict. */
static void free_watch_link(dict_node *n, void *priv)
{
    kv_server *srv = priv;
    watch_link *l = (watch_link *)n;
    watch_key *wk = l->wk;
    if (l->kprev) l->kprev->knext = l->knext;
    else wk->head = l->knext;
    if (l->knext) l->knext->kprev = l->kprev;
    if (wk->head == NULL) {
        dict_unlink(&srv->watch->keys, wk->key, wk->len);
        hfree(wk);
    }
    hfree(l);
}

void watch_unwatch_all(kv_client *c)
{
    if (c->watched == NULL) return;
    dict_clear(&c->watched->links, free_watch_link, c->srv);
    hfree(c->watched);
    c->watched = NULL;
}

/* A write touched key: its watchers' EXEC must fail. A dirty client's other
 * watches can no longer matter, so they are dropped at once (as Redis). */
void watch_touch_key(kv_server *srv, const char *key, size_t len)
{
    if (srv->watch == NULL || dict_size(&srv->watch->keys) == 0) return;
    watch_key *wk = (watch_key *)dict_find(&srv->watch->keys, key, len);
    if (wk == NULL) return;
    /* Unwatching l->c removes only l from this list (one link per client and
     * key), so next stays valid; wk itself may be freed with the last link. */
    watch_link *next;
    for (watch_link *l = wk->head; l; l = next) {
        next = l->knext;
        if (l->expired && db_find(&srv->db, key, len) == NULL) {
            l->expired = false; /* the stale key was deleted: nothing changed */
            continue;
        }
        l->c->flags |= CLIENT_DIRTY_CAS;
        watch_unwatch_all(l->c);
    }
}

/* FLUSHDB/FLUSHALL: every watcher is dirty. Called after the flush, so it
 * cannot tell which watched keys existed; failing an EXEC needlessly is safe
 * for optimistic locking, letting one through would not be. */
void watch_touch_all(kv_server *srv)
{
    if (srv->watch == NULL) return;
    dict_iter it;
    dict_iter_init(&it, &srv->watch->keys, false);
    for (dict_node *n; (n = dict_iter_next(&it));)
        for (watch_link *l = ((watch_key *)n)->head; l; l = l->knext) l->c->flags |= CLIENT_DIRTY_CAS;
    dict_iter_done(&it);
}

/* Whether a watched key expired since WATCH, even if not deleted yet. */
static bool watch_expired_since(kv_client *c)
{
    if (c->watched == NULL) return false;
    bool found = false;
    dict_iter it;
    dict_iter_init(&it, &c->watched->links, false);
    for (dict_node *n; !found && (n = dict_iter_next(&it));) {
        watch_link *l = (watch_link *)n;
        found = !l->expired && key_is_expired(&c->srv->db, l->wk->key, l->wk->len);
    }
    dict_iter_done(&it);
    return found;
}

/* ---- the MULTI queue ----
 *
 * c->mstate points at cmds[] of an mqueue, so the running byte total
 * travels with the array (the client struct has no field for it). Each queued
 * command is one allocation: its resp_arg array, then the argument bytes. */

typedef struct mqueue {
    size_t bytes; /* queued memory, counted against client-query-buffer-limit */
    multi_cmd cmds[];
} mqueue;

static mqueue *queue_of(kv_client *c)
{
    if (c->mstate == NULL) return NULL;
    return (mqueue *)(void *)((char *)c->mstate - offsetof(mqueue, cmds));
}

static void queue_free(mqueue *q, int count)
{
    if (q == NULL) return;
    for (int i = 0; i < count; i++) hfree(q->cmds[i].argv);
    hfree(q);
}

static void queue_clear(kv_client *c)
{
    queue_free(queue_of(c), c->mcount);
    c->mstate = NULL;
    c->mcount = c->mcap = 0;
}

/* Room for one more command; false when the array cannot grow further. */
static bool queue_reserve(kv_client *c)
{
    if (c->mcount < c->mcap) return true;
    if (c->mcap > INT_MAX / 2) return false;
    int cap = c->mcap ? c->mcap * 2 : 8;
    mqueue *q = queue_of(c);
    size_t bytes = q ? q->bytes : 0;
    q = hrealloc(q, sizeof(*q) + (size_t)cap * sizeof(multi_cmd));
    q->bytes = bytes;
    c->mstate = q->cmds;
    c->mcap = cap;
    return true;
}

static size_t queued_size(const kv_client *c)
{
    size_t n = sizeof(multi_cmd) + (size_t)c->argc * sizeof(resp_arg);
    for (int i = 0; i < c->argc; i++) n += c->argv[i].len;
    return n;
}

static void queue_copy_argv(kv_client *c, multi_cmd *mc, const kv_cmd *cmd)
{
    mc->cmd = cmd;
    mc->argc = c->argc;
    mc->argv = resp_argv_dup(c->argv, (size_t)c->argc, 0);
}

void multi_queue(kv_client *c, const struct kv_cmd *cmd)
{
    /* An aborted transaction keeps no memory; the client still sees QUEUED. */
    if (c->flags & (CLIENT_DIRTY_CAS | CLIENT_DIRTY_EXEC)) {
        reply_raw(c, "+QUEUED\r\n", 9);
        return;
    }
    size_t size = queued_size(c);
    mqueue *q = queue_of(c);
    size_t held = q ? q->bytes : 0;
    int64_t limit = c->srv->cfg.client_query_buffer_limit;
    if ((limit > 0 && held + size > (uint64_t)limit) || !queue_reserve(c)) {
        queue_clear(c);
        reply_error(c, "ERR Transaction queue exceeds client-query-buffer-limit"); /* sets DIRTY_EXEC */
        return;
    }
    q = queue_of(c);
    queue_copy_argv(c, &c->mstate[c->mcount++], cmd);
    q->bytes += size;
    reply_raw(c, "+QUEUED\r\n", 9);
}

/* Leave the transaction: drop the queue, the flags and every WATCH. */
void multi_discard(kv_client *c)
{
    queue_clear(c);
    c->flags &= ~(CLIENT_MULTI | CLIENT_DIRTY_CAS | CLIENT_DIRTY_EXEC);
    watch_unwatch_all(c);
}

/* An error that, unlike a rejected command, does not abort the open
 * transaction (nested MULTI, WATCH inside MULTI), as Redis. */
static void reply_error_keep_multi(kv_client *c, const char *msg)
{
    uint32_t dirty = c->flags & CLIENT_DIRTY_EXEC;
    reply_error(c, msg);
    c->flags = (c->flags & ~CLIENT_DIRTY_EXEC) | dirty;
}

/* ---- EXEC ---- */

static const char prop_multi[] = "*1\r\n$5\r\nMULTI\r\n";
static const char prop_exec[] = "*1\r\n$4\r\nEXEC\r\n";

/* What the queued commands propagated (from start on) becomes one MULTI/EXEC
 * block, so the AOF and replicas apply it all or nothing. */
static void prop_wrap(kv_server *srv, size_t start)
{
    buf *b = &srv->prop;
    if (b->len <= start) return;
    size_t n = sizeof(prop_multi) - 1;
    buf_reserve(b, n);
    memmove(b->data + start + n, b->data + start, b->len - start);
    memcpy(b->data + start, prop_multi, n);
    b->len += n;
    buf_append(b, prop_exec, sizeof(prop_exec) - 1);
}

/* Run the queued commands, replying an array of their replies. The queue is
 * taken off the client first, so nothing a command does can free it under us. */
static void exec_run(kv_client *c)
{
    kv_server *srv = c->srv;
    mqueue *q = queue_of(c);
    int count = c->mcount;
    c->mstate = NULL;
    c->mcount = c->mcap = 0;
    int argc = c->argc;
    resp_arg *argv = c->argv;
    const kv_cmd *self = c->cmd;
    size_t prop_start = srv->prop.len;
    /* CLIENT_MULTI stays set: blocking commands check it and do not block. */
    c->flags |= CLIENT_IN_EXEC;
    reply_array(c, count);
    for (int i = 0; i < count; i++) {
        c->argc = q->cmds[i].argc;
        c->argv = q->cmds[i].argv;
        cmd_call(c, q->cmds[i].cmd);
    }
    c->argc = argc;
    c->argv = argv;
    c->cmd = self;
    c->flags &= ~CLIENT_IN_EXEC;
    queue_free(q, count);
    multi_discard(c);
    prop_wrap(srv, prop_start);
}

static void exec_cmd(kv_client *c)
{
    if (!(c->flags & CLIENT_MULTI)) {
        reply_error(c, "ERR EXEC without MULTI");
        return;
    }
    if (watch_expired_since(c)) c->flags |= CLIENT_DIRTY_CAS;
    if (c->flags & CLIENT_DIRTY_EXEC) {
        reply_error(c, "EXECABORT Transaction discarded because of previous errors.");
        multi_discard(c);
    } else if (c->flags & CLIENT_DIRTY_CAS) {
        reply_null_array(c);
        multi_discard(c);
    } else {
        watch_unwatch_all(c); /* no later write can matter now */
        exec_run(c);
    }
    /* The queued commands propagated themselves; EXEC's own argv never is. */
    prop_suppress(c);
}

static void multi_cmd_proc(kv_client *c)
{
    if (c->flags & CLIENT_MULTI) {
        reply_error_keep_multi(c, "ERR MULTI calls can not be nested");
        return;
    }
    c->flags |= CLIENT_MULTI;
    reply_ok(c);
}

static void discard_cmd(kv_client *c)
{
    if (!(c->flags & CLIENT_MULTI)) {
        reply_error(c, "ERR DISCARD without MULTI");
        return;
    }
    multi_discard(c);
    reply_ok(c);
}

static void watch_cmd(kv_client *c)
{
    if (c->flags & CLIENT_MULTI) {
        reply_error_keep_multi(c, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    /* Already dirty: EXEC fails whatever else is watched. */
    if (!(c->flags & CLIENT_DIRTY_CAS))
        for (int i = 1; i < c->argc; i++) watch_add(c, c->argv[i].ptr, c->argv[i].len);
    reply_ok(c);
}

static void unwatch_cmd(kv_client *c)
{
    watch_unwatch_all(c);
    c->flags &= ~CLIENT_DIRTY_CAS;
    reply_ok(c);
}

#define TX_FLAGS (CMD_NOSCRIPT | CMD_LOADING | CMD_STALE)

kv_cmd kv_cmds_multi[] = {
    {"multi", multi_cmd_proc, 1, TX_FLAGS | CMD_FAST, 0, 0, 0, "transactions", "Starts a transaction.", "1.2.0"},
    {"exec", exec_cmd, 1, TX_FLAGS, 0, 0, 0, "transactions", "Executes all commands in a transaction.", "1.2.0"},
    {"discard", discard_cmd, 1, TX_FLAGS | CMD_FAST, 0, 0, 0, "transactions", "Discards a transaction.", "2.0.0"},
    {"watch", watch_cmd, -2, TX_FLAGS | CMD_FAST, 1, -1, 1, "transactions", "Monitors changes to keys to determine the execution of a transaction.", "2.2.0"},
    {"unwatch", unwatch_cmd, 1, TX_FLAGS | CMD_FAST, 0, 0, 0, "transactions", "Forgets about watched keys of a transaction.", "2.2.0"},
    {NULL},
};
