/* block.c — clients blocked in BLPOP & co: per-key FIFO queues, ready keys, timeouts, resumption. */
#include "cmd.h"
#include "net.h"
#include "subsys.h"
#include "../common/log.h"
#include "../common/mem.h"
#include "../persist/aof.h"

#include <stdlib.h>
#include <string.h>

/* Life of a blocked client:
 *
 *   block_for_keys     -> BLOCKED: CLIENT_BLOCKED set, one waiter queued on
 *                         each distinct key, timer armed when timeout_ms > 0.
 *   block_signal_key   -> the key is put on the ready list (nothing else: it
 *                         runs for every modified key and must stay cheap).
 *   block_serve_ready  -> for each ready key, oldest waiter first, the serve
 *                         callback is tried; on success the client is
 *                         UNBLOCKED (queues and timer dropped, flag cleared)
 *                         and put on the resume list.
 *   timeout / CLIENT UNBLOCK -> null array (or error) reply, UNBLOCKED,
 *                         resume list.
 *   resume             -> client_process_input runs the client's pipelined
 *                         commands, after the serving loop so it never
 *                         recurses into itself; they may block it again.
 *   block_client_free  -> any state: dequeued, timer closed, state freed in
 *                         the timer's close callback. */

typedef struct block_key block_key;

/* One client's place in one key's queue. */
typedef struct block_waiter {
    struct block_waiter *prev, *next;
    block_key *bk;
    kv_client *c;
} block_waiter;

/* The clients blocked on one key, oldest first. Exists while a client waits on
 * the key or while it is on the ready list; whoever takes it off the ready
 * list frees it if no waiter is left. */
struct block_key {
    dict_node node;
    block_waiter *head, *tail;
    block_key *next_ready;
    bool ready;
    size_t klen;
    char key[];
};

/* Per client, allocated at its first block and kept until the client is freed:
 * the timer handle may only be freed in its close callback. */
struct kv_client_block {
    kv_client *c;           /* NULL once the client is gone (timer closing) */
    uv_timer_t timer;
    block_serve_fn serve;
    bool blocked;
    bool resume_pending;    /* on kv_block.resume */
    int argc;
    resp_arg *argv;         /* argv, waiters and argument bytes: one allocation */
    int nwaiters;
    block_waiter *waiters;
};

typedef struct kv_block {
    dict keys;                  /* key -> block_key */
    block_key *ready_head, *ready_tail; /* keys signalled since the last serve, FIFO */
    size_t nblocked;
    kv_client **resume;         /* unblocked clients whose input has yet to run */
    size_t nresume, resume_cap;
    bool serving;               /* block_serve_ready is on the stack */
} kv_block;

static const char *block_key_of(const dict_node *n, size_t *len)
{
    const block_key *bk = (const block_key *)n;
    *len = bk->klen;
    return bk->key;
}

static const dict_type block_dict_type = {.key = block_key_of};

void block_init(kv_server *srv)
{
    kv_block *b = hcalloc(1, sizeof(*b));
    dict_init(&b->keys, &block_dict_type);
    srv->block = b;
}

static void free_key_node(dict_node *n, void *priv)
{
    (void)priv;
    hfree(n);
}

void block_free(kv_server *srv)
{
    kv_block *b = srv->block;
    if (b == NULL) return;
    dict_clear(&b->keys, free_key_node, NULL);
    hfree(b->resume);
    hfree(b);
    srv->block = NULL;
}

size_t block_count(kv_server *srv) { return srv->block ? srv->block->nblocked : 0; }

/* ---- queues ---- */

static block_key *key_get(kv_block *b, const char *key, size_t len)
{
    block_key *bk = (block_key *)dict_find(&b->keys, key, len);
    if (bk) return bk;
    bk = hcalloc(1, sizeof(*bk) + len + 1);
    bk->klen = len;
    memcpy(bk->key, key, len);
    dict_add(&b->keys, &bk->node);
    return bk;
}

static void key_release_if_idle(kv_block *b, block_key *bk)
{
    if (bk->head || bk->ready) return;
    dict_unlink(&b->keys, bk->key, bk->klen);
    hfree(bk);
}

/* Queue w for c on key; false if c already waits on it (BLPOP k k). A
 * client's waiters are queued one after another, so a duplicate is at the tail. */
static bool waiter_link(kv_block *b, block_waiter *w, kv_client *c, const resp_arg *key)
{
    block_key *bk = key_get(b, key->ptr, key->len);
    if (bk->tail && bk->tail->c == c) return false;
    w->c = c;
    w->bk = bk;
    w->next = NULL;
    w->prev = bk->tail;
    if (bk->tail) bk->tail->next = w;
    else bk->head = w;
    bk->tail = w;
    return true;
}

static void waiter_unlink(kv_block *b, block_waiter *w)
{
    block_key *bk = w->bk;
    if (w->prev) w->prev->next = w->next;
    else bk->head = w->next;
    if (w->next) w->next->prev = w->prev;
    else bk->tail = w->prev;
    key_release_if_idle(b, bk);
}

/* ---- one client ---- */

static void on_timeout(uv_timer_t *t);

static struct kv_client_block *state_of(kv_client *c)
{
    if (c->bstate == NULL) {
        struct kv_client_block *bs = hcalloc(1, sizeof(*bs));
        bs->c = c;
        uv_timer_init(c->srv->loop, &bs->timer);
        bs->timer.data = bs;
        c->bstate = bs;
    }
    return c->bstate;
}

/* Copy c's argv into one allocation that also holds nkeys waiters. */
static void save_argv(struct kv_client_block *bs, kv_client *c, int nkeys)
{
    bs->argv = resp_argv_dup(c->argv, (size_t)c->argc, (size_t)nkeys * sizeof(block_waiter));
    bs->waiters = (block_waiter *)(bs->argv + c->argc);
    bs->argc = c->argc;
    bs->nwaiters = 0;
}

void block_for_keys(kv_client *c, const resp_arg *keys, int nkeys, int64_t timeout_ms,
                    block_serve_fn serve)
{
    if (c->flags & (CLIENT_FAKE | CLIENT_MULTI | CLIENT_IN_EXEC) || nkeys <= 0) {
        /* Callers handle these; a fake client has no loop to wait in. */
        reply_null_array(c);
        return;
    }
    kv_block *b = c->srv->block;
    struct kv_client_block *bs = state_of(c);
    if (bs->blocked) {
        log_error("client %llu blocked twice; ignoring the second block", (unsigned long long)c->id);
        reply_null_array(c);
        return;
    }
    save_argv(bs, c, nkeys);
    for (int i = 0; i < nkeys; i++)
        if (waiter_link(b, &bs->waiters[bs->nwaiters], c, &keys[i])) bs->nwaiters++;
    bs->serve = serve;
    bs->blocked = true;
    c->flags |= CLIENT_BLOCKED;
    b->nblocked++;
    if (timeout_ms > 0) {
        uv_update_time(c->srv->loop); /* the loop's cached time may be stale */
        uv_timer_start(&bs->timer, on_timeout, (uint64_t)timeout_ms, 0);
    }
}

/* Leave every queue, stop the timer, drop the saved argv. No reply. */
static void unblock(kv_client *c)
{
    struct kv_client_block *bs = c->bstate;
    if (bs == NULL || !bs->blocked) return;
    kv_block *b = c->srv->block;
    for (int i = 0; i < bs->nwaiters; i++) waiter_unlink(b, &bs->waiters[i]);
    uv_timer_stop(&bs->timer);
    hfree(bs->argv);
    bs->argv = NULL;
    bs->waiters = NULL;
    bs->argc = bs->nwaiters = 0;
    bs->serve = NULL;
    bs->blocked = false;
    c->flags &= ~CLIENT_BLOCKED;
    b->nblocked--;
}

/* Unblock c and queue it to run its pipelined input at the next resume. */
static void unblock_and_queue(kv_client *c)
{
    kv_block *b = c->srv->block;
    unblock(c);
    if (c->bstate->resume_pending) return;
    if (b->nresume == b->resume_cap) {
        b->resume_cap = b->resume_cap ? b->resume_cap * 2 : 16;
        b->resume = hrealloc(b->resume, b->resume_cap * sizeof(*b->resume));
    }
    b->resume[b->nresume++] = c;
    c->bstate->resume_pending = true;
}

static void on_timeout(uv_timer_t *t)
{
    struct kv_client_block *bs = t->data;
    kv_client *c = bs->c;
    if (c == NULL || !bs->blocked) return;
    kv_server *srv = c->srv;
    reply_null_array(c);
    unblock_and_queue(c);
    block_serve_ready(srv);
    /* Timers run before the poll phase; send now rather than after the next poll. */
    net_flush_all(srv);
}

void block_unblock_client(kv_client *c, bool with_error)
{
    if (c->bstate == NULL || !c->bstate->blocked) return;
    if (with_error) reply_error(c, "UNBLOCKED client unblocked via CLIENT UNBLOCK");
    else reply_null_array(c);
    /* Resumed when the running command ends (the dispatcher calls block_serve_ready). */
    unblock_and_queue(c);
}

static void on_state_closed(uv_handle_t *h) { hfree(h->data); }

void block_client_free(kv_client *c)
{
    struct kv_client_block *bs = c->bstate;
    if (bs == NULL) return;
    unblock(c);
    if (bs->resume_pending) {
        kv_block *b = c->srv->block;
        for (size_t i = 0; i < b->nresume; i++)
            if (b->resume[i] == c) b->resume[i] = NULL;
    }
    bs->c = NULL;
    c->bstate = NULL;
    uv_close((uv_handle_t *)&bs->timer, on_state_closed);
}

/* ---- serving ---- */

void block_signal_key(kv_server *srv, const char *key, size_t len)
{
    kv_block *b = srv->block;
    if (b == NULL || dict_size(&b->keys) == 0) return;
    block_key *bk = (block_key *)dict_find(&b->keys, key, len);
    if (bk == NULL || bk->ready) return;
    bk->ready = true;
    bk->next_ready = NULL;
    if (b->ready_tail) b->ready_tail->next_ready = bk;
    else b->ready_head = bk;
    b->ready_tail = bk;
}

/* Run c's serve callback with its blocking command's argv in place. */
static bool try_serve(kv_client *c, block_key *bk)
{
    struct kv_client_block *bs = c->bstate;
    int argc = c->argc;
    resp_arg *argv = c->argv;
    c->argc = bs->argc;
    c->argv = bs->argv;
    bool served = bs->serve(c, bk->key, bk->klen);
    c->argc = argc;
    c->argv = argv;
    return served;
}

/* Offer the key to its waiters, oldest first, while it exists. A waiter whose
 * callback declines (another type's command, e.g. BZPOPMIN on a list) keeps
 * its place and the next one is tried. bk stays allocated: it is ready. */
static void serve_key(kv_server *srv, block_key *bk)
{
    block_waiter *w = bk->head;
    while (w && db_find(&srv->db, bk->key, bk->klen)) {
        /* Serving c unlinks only c's waiters, so the next one stays valid. */
        block_waiter *next = w->next;
        kv_client *c = w->c;
        if (!client_closing(c) && try_serve(c, bk)) unblock_and_queue(c);
        w = next;
    }
}

static void serve_ready_keys(kv_server *srv, kv_block *b)
{
    while (b->ready_head) {
        block_key *bk = b->ready_head;
        b->ready_head = bk->next_ready;
        if (b->ready_head == NULL) b->ready_tail = NULL;
        serve_key(srv, bk);
        bk->ready = false;
        key_release_if_idle(b, bk);
    }
}

static void resume_clients(kv_block *b)
{
    /* Resumed commands may unblock more clients (CLIENT UNBLOCK): they are
     * appended and picked up by this same loop. */
    for (size_t i = 0; i < b->nresume; i++) {
        kv_client *c = b->resume[i];
        if (c == NULL) continue;
        b->resume[i] = NULL;
        if (c->bstate) c->bstate->resume_pending = false;
        client_process_input(c);
    }
    b->nresume = 0;
}

void block_serve_ready(kv_server *srv)
{
    kv_block *b = srv->block;
    if (b == NULL || b->serving || (b->ready_head == NULL && b->nresume == 0)) return;
    b->serving = true;
    while (b->ready_head || b->nresume) {
        serve_ready_keys(srv, b);
        prop_flush(srv);
        resume_clients(b);
    }
    b->serving = false;
}
