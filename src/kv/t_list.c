/* t_list.c — list commands (LPUSH .. LMPOP) and the blocking ones served through block.c. */
#include "cmd.h"
#include "subsys.h"
#include "types.h"
#include "../common/util.h"
#include "../ds/deque.h"

#include <string.h>

#define KEY(i) c->argv[i].ptr, c->argv[i].len

enum { HEAD, TAIL };

/* How a pop or move is propagated: as the running command's replacement, or,
 * when block.c serves a blocked client outside any command, appended. */
enum prop_mode { PROP_REPLACE, PROP_APPEND };

static void propagate(kv_client *c, enum prop_mode mode, int argc, const resp_arg *argv)
{
    if (mode == PROP_REPLACE) prop_replace(c, argc, argv);
    else prop_append(c->srv, argc, argv);
}

/* The list at key; NULL when absent or (with *wrong set) of another type. */
static deque *list_at(kv_client *c, const char *key, size_t klen, bool write, bool *wrong)
{
    kv_entry *e = db_lookup_typed(&c->srv->db, key, klen, write, KV_LIST, wrong);
    return e ? entry_obj(e) : NULL;
}

/* The list at argv[i] in *out (NULL when absent). Replies WRONGTYPE and
 * returns false when the key holds another type. */
static bool list_arg(kv_client *c, int i, bool write, deque **out)
{
    kv_entry *e;
    bool ok = arg_key_typed(c, i, write, KV_LIST, &e);
    *out = e ? entry_obj(e) : NULL;
    return ok;
}

/* After a write to key: delete it if the write emptied it (a list is never
 * stored empty), wake watchers and blocked clients, count the write. */
static void touched(kv_client *c, const char *key, size_t klen, const deque *d)
{
    if (d && deque_len(d) == 0) db_delete(&c->srv->db, key, klen);
    db_signal_modified(&c->srv->db, key, klen);
    c->srv->dirty++;
}

static deque *list_create(kv_client *c, const char *key, size_t klen)
{
    deque *d = deque_new();
    db_add_object(&c->srv->db, key, klen, KV_LIST, d);
    return d;
}

static hstr *pop_end(deque *d, int where) { return where == HEAD ? deque_pop_head(d) : deque_pop_tail(d); }

static void push_end(deque *d, int where, hstr *s)
{
    if (where == HEAD) deque_push_head(d, s);
    else deque_push_tail(d, s);
}

/* LEFT / RIGHT as HEAD / TAIL; false (syntax error replied) otherwise. */
static bool arg_where(kv_client *c, int i, int *where)
{
    if (arg_is(c, i, "left")) *where = HEAD;
    else if (arg_is(c, i, "right")) *where = TAIL;
    else {
        reply_syntax_error(c);
        return false;
    }
    return true;
}

/* ---- push / pop ---- */

static void push_generic(kv_client *c, int where, bool only_existing)
{
    deque *d;
    if (!list_arg(c, 1, true, &d)) return;
    if (d == NULL) {
        if (only_existing) {
            reply_int(c, 0);
            return;
        }
        d = list_create(c, KEY(1));
    }
    for (int i = 2; i < c->argc; i++) push_end(d, where, hstr_new(KEY(i)));
    touched(c, KEY(1), d);
    reply_int(c, (int64_t)deque_len(d));
}

static void lpush_cmd(kv_client *c) { push_generic(c, HEAD, false); }
static void rpush_cmd(kv_client *c) { push_generic(c, TAIL, false); }
static void lpushx_cmd(kv_client *c) { push_generic(c, HEAD, true); }
static void rpushx_cmd(kv_client *c) { push_generic(c, TAIL, true); }

/* Pop min(count, len) elements and reply them as an array; returns how many. */
static size_t reply_popped(kv_client *c, deque *d, int where, int64_t count)
{
    size_t n = (uint64_t)count < deque_len(d) ? (size_t)count : deque_len(d);
    reply_array(c, (int64_t)n);
    for (size_t i = 0; i < n; i++) {
        hstr *s = pop_end(d, where);
        reply_bulk(c, s->data, s->len);
        hstr_free(s);
    }
    return n;
}

/* Pop up to count elements of the list at key and reply [key, [elements]]
 * (LMPOP, BLMPOP); propagated as LPOP/RPOP key n. */
static void pop_range_with_key(kv_client *c, const char *key, size_t klen, deque *d, int where,
                               int64_t count, enum prop_mode mode)
{
    reply_array(c, 2);
    reply_bulk(c, key, klen);
    size_t n = reply_popped(c, d, where, count);
    char num[24];
    int nl = i64_to_str(num, sizeof(num), (int64_t)n);
    resp_arg argv[3] = {{where == HEAD ? "LPOP" : "RPOP", 4}, {key, klen}, {num, (size_t)nl}};
    propagate(c, mode, 3, argv);
    touched(c, key, klen, d);
}

/* LPOP/RPOP key [count]: a bulk without count, an array with it. */
static void pop_generic(kv_client *c, int where)
{
    if (c->argc > 3) {
        reply_errorf(c, "ERR wrong number of arguments for '%s' command", where == HEAD ? "lpop" : "rpop");
        return;
    }
    bool has_count = c->argc == 3;
    int64_t count = 1;
    if (has_count && !arg_i64_min(c, 2, 0, &count, "ERR value is out of range, must be positive")) return;
    deque *d;
    if (!list_arg(c, 1, true, &d)) return;
    if (d == NULL) {
        if (has_count) reply_null_array(c);
        else reply_null(c);
    } else if (has_count) {
        if (reply_popped(c, d, where, count) > 0) touched(c, KEY(1), d);
    } else {
        hstr *s = pop_end(d, where);
        reply_bulk(c, s->data, s->len);
        hstr_free(s);
        touched(c, KEY(1), d);
    }
}

static void lpop_cmd(kv_client *c) { pop_generic(c, HEAD); }
static void rpop_cmd(kv_client *c) { pop_generic(c, TAIL); }

/* ---- reading and editing in place ---- */

static void llen_cmd(kv_client *c)
{
    deque *d;
    if (list_arg(c, 1, false, &d)) reply_int(c, d ? (int64_t)deque_len(d) : 0);
}

/* Index i (negative from the tail) as a position in [0, len), or -1. */
static int64_t resolve_index(const deque *d, int64_t i)
{
    int64_t len = (int64_t)deque_len(d);
    if (i < 0) i += len;
    return i >= 0 && i < len ? i : -1;
}

static void lindex_cmd(kv_client *c)
{
    deque *d;
    int64_t i;
    if (!list_arg(c, 1, false, &d)) return;
    if (d == NULL) reply_null(c);
    else if (arg_i64(c, 2, &i)) {
        i = resolve_index(d, i);
        if (i < 0) reply_null(c);
        else reply_bulk(c, deque_get(d, (size_t)i)->data, deque_get(d, (size_t)i)->len);
    }
}

static void lset_cmd(kv_client *c)
{
    deque *d;
    int64_t i;
    if (!list_arg(c, 1, true, &d)) return;
    if (d == NULL) reply_error(c, "ERR no such key");
    else if (arg_i64(c, 2, &i)) {
        i = resolve_index(d, i);
        if (i < 0) {
            reply_error(c, "ERR index out of range");
            return;
        }
        deque_set(d, (size_t)i, hstr_new(KEY(3)));
        touched(c, KEY(1), d);
        reply_ok(c);
    }
}

/* Clamp [start, end] (negative from the tail) to the list as Redis does;
 * false when the range is empty. */
static bool clamp_range(int64_t len, int64_t *start, int64_t *end)
{
    if (*start < 0) *start += len;
    if (*end < 0) *end += len;
    if (*start < 0) *start = 0;
    if (*start > *end || *start >= len) return false;
    if (*end >= len) *end = len - 1;
    return true;
}

static void lrange_cmd(kv_client *c)
{
    int64_t start, end;
    if (!arg_i64(c, 2, &start) || !arg_i64(c, 3, &end)) return;
    deque *d;
    if (!list_arg(c, 1, false, &d)) return;
    if (d == NULL || !clamp_range((int64_t)deque_len(d), &start, &end)) {
        reply_array(c, 0);
        return;
    }
    size_t n = (size_t)(end - start + 1);
    reply_array(c, (int64_t)n);
    deque_iter it;
    deque_iter_init(&it, d, (size_t)start, n, false);
    for (hstr *s; (s = deque_iter_next(&it));) reply_bulk(c, s->data, s->len);
}

static void ltrim_cmd(kv_client *c)
{
    int64_t start, end;
    if (!arg_i64(c, 2, &start) || !arg_i64(c, 3, &end)) return;
    deque *d;
    if (!list_arg(c, 1, true, &d)) return;
    if (d == NULL) {
        reply_ok(c);
        return;
    }
    int64_t len = (int64_t)deque_len(d);
    size_t drop_head = (size_t)len, drop_tail = 0;
    if (clamp_range(len, &start, &end)) {
        drop_head = (size_t)start;
        drop_tail = (size_t)(len - end - 1);
    }
    deque_drop_head(d, drop_head);
    deque_drop_tail(d, drop_tail);
    if (drop_head + drop_tail > 0) {
        touched(c, KEY(1), d);
    } else {
        /* As Redis: WATCH sees the key as touched even when nothing went. */
        db_signal_modified(&c->srv->db, KEY(1));
    }
    reply_ok(c);
}

static void lrem_cmd(kv_client *c)
{
    int64_t count;
    if (!arg_i64(c, 2, &count)) return;
    deque *d;
    if (!list_arg(c, 1, true, &d)) return;
    if (d == NULL) {
        reply_int(c, 0);
        return;
    }
    /* count < 0 removes from the tail; 0 - (uint64_t)count is |count| even for INT64_MIN. */
    uint64_t limit = count < 0 ? (uint64_t)0 - (uint64_t)count : (uint64_t)count;
    if (limit > deque_len(d)) limit = deque_len(d);
    size_t removed = deque_remove_equal(d, KEY(3), (size_t)limit, count < 0);
    if (removed) touched(c, KEY(1), d);
    reply_int(c, (int64_t)removed);
}

static void linsert_cmd(kv_client *c)
{
    bool after;
    if (arg_is(c, 2, "after")) after = true;
    else if (arg_is(c, 2, "before")) after = false;
    else {
        reply_syntax_error(c);
        return;
    }
    deque *d;
    if (!list_arg(c, 1, true, &d)) return;
    if (d == NULL) {
        reply_int(c, 0);
        return;
    }
    for (size_t i = 0; i < deque_len(d); i++) {
        if (hstr_eq(deque_get(d, i), KEY(3))) {
            deque_insert(d, after ? i + 1 : i, hstr_new(KEY(4)));
            touched(c, KEY(1), d);
            reply_int(c, (int64_t)deque_len(d));
            return;
        }
    }
    reply_int(c, -1);
}

/* LPOS options; count -1 = not given (reply a single position). */
typedef struct lpos_opts {
    int64_t rank, count, maxlen;
} lpos_opts;

static bool parse_lpos(kv_client *c, lpos_opts *o)
{
    o->rank = 1;
    o->count = -1;
    o->maxlen = 0;
    for (int j = 3; j < c->argc; j++) {
        bool more = j + 1 < c->argc;
        if (arg_is(c, j, "rank") && more) {
            if (!arg_i64(c, ++j, &o->rank)) return false;
            if (o->rank == 0) {
                reply_error(c, "ERR RANK can't be zero: use 1 to start from the first match, 2 from "
                               "the second ... or use negative to start from the end of the list");
                return false;
            }
        } else if (arg_is(c, j, "count") && more) {
            if (!arg_i64_min(c, ++j, 0, &o->count, "ERR COUNT can't be negative")) return false;
        } else if (arg_is(c, j, "maxlen") && more) {
            if (!arg_i64_min(c, ++j, 0, &o->maxlen, "ERR MAXLEN can't be negative")) return false;
        } else {
            reply_syntax_error(c);
            return false;
        }
    }
    return true;
}

static void lpos_cmd(kv_client *c)
{
    lpos_opts o;
    if (!parse_lpos(c, &o)) return;
    deque *d;
    if (!list_arg(c, 1, false, &d)) return;
    if (d == NULL) {
        if (o.count == -1) reply_null(c);
        else reply_array(c, 0);
        return;
    }
    bool from_tail = o.rank < 0;
    /* Redis 7.0 negates the rank in a long, so RANK -2^63 behaves as -1. */
    uint64_t skip = from_tail ? (o.rank == INT64_MIN ? 0 : (uint64_t)(-o.rank) - 1) : (uint64_t)o.rank - 1;
    size_t len = deque_len(d);
    size_t limit = o.maxlen > 0 && (uint64_t)o.maxlen < len ? (size_t)o.maxlen : len;
    void *slot = o.count == -1 ? NULL : reply_deferred_len(c);
    int64_t found = 0;
    uint64_t matches = 0;
    for (size_t step = 0; step < limit; step++) {
        size_t i = from_tail ? len - 1 - step : step;
        if (!hstr_eq(deque_get(d, i), KEY(2)) || matches++ < skip) continue;
        reply_int(c, (int64_t)i);
        if (slot == NULL) return; /* no COUNT: the first match is the answer */
        if (++found == o.count) break;
    }
    if (slot) reply_set_deferred_array(c, slot, found);
    else reply_null(c);
}

/* ---- moving between lists ---- */

/* LMOVE's core, src being a non-empty list: checks dst's type (WRONGTYPE
 * replied, false returned), moves one element, replies with it. */
static bool move_element(kv_client *c, deque *src, const char *skey, size_t sklen,
                         const char *dkey, size_t dklen, int from, int to)
{
    bool wrong;
    deque *dst = list_at(c, dkey, dklen, true, &wrong);
    if (wrong) {
        reply_wrongtype(c);
        return false;
    }
    hstr *s = pop_end(src, from);
    reply_bulk(c, s->data, s->len);
    if (dst == NULL) dst = list_create(c, dkey, dklen);
    push_end(dst, to, s);
    /* dst first: when src == dst the list is not empty again yet. */
    touched(c, dkey, dklen, dst);
    db_signal_modified(&c->srv->db, skey, sklen);
    if (deque_len(src) == 0) db_delete(&c->srv->db, skey, sklen);
    return true;
}

static void lmove_generic(kv_client *c, int from, int to)
{
    deque *src;
    if (!list_arg(c, 1, true, &src)) return;
    if (src == NULL) reply_null(c);
    else move_element(c, src, KEY(1), KEY(2), from, to);
}

static void lmove_cmd(kv_client *c)
{
    int from, to;
    if (arg_where(c, 3, &from) && arg_where(c, 4, &to)) lmove_generic(c, from, to);
}

static void rpoplpush_cmd(kv_client *c) { lmove_generic(c, TAIL, HEAD); }

/* LMPOP / BLMPOP arguments after the numkeys at argv[nk]. */
typedef struct mpop_args {
    int first_key, nkeys, where;
    int64_t count;
} mpop_args;

static bool parse_mpop(kv_client *c, int nk, mpop_args *a)
{
    int64_t numkeys;
    if (!arg_i64_min(c, nk, 1, &numkeys, "ERR numkeys should be greater than 0")) return false;
    if (numkeys >= c->argc - nk - 1) { /* no room for the keys and LEFT|RIGHT */
        reply_syntax_error(c);
        return false;
    }
    a->first_key = nk + 1;
    a->nkeys = (int)numkeys;
    int w = nk + 1 + a->nkeys;
    if (!arg_where(c, w, &a->where)) return false;
    a->count = -1;
    for (int j = w + 1; j < c->argc; j++) {
        if (a->count == -1 && arg_is(c, j, "count") && j + 1 < c->argc) {
            if (!arg_i64_min(c, ++j, 1, &a->count, "ERR count should be greater than 0")) return false;
        } else {
            reply_syntax_error(c);
            return false;
        }
    }
    if (a->count == -1) a->count = 1;
    return true;
}

/* Pop from the first non-empty list of a's keys; false (nothing replied) if
 * all are empty. A WRONGTYPE key met first is replied and counts as done. */
static bool mpop_try(kv_client *c, const mpop_args *a)
{
    for (int i = a->first_key; i < a->first_key + a->nkeys; i++) {
        deque *d;
        if (!list_arg(c, i, true, &d)) return true;
        if (d) {
            pop_range_with_key(c, KEY(i), d, a->where, a->count, PROP_REPLACE);
            return true;
        }
    }
    return false;
}

static void lmpop_cmd(kv_client *c)
{
    mpop_args a;
    if (parse_mpop(c, 1, &a) && !mpop_try(c, &a)) reply_null_array(c);
}

/* ---- blocking ---- */

static int where_of_cmd(kv_client *c) { return arg_is(c, 0, "blpop") ? HEAD : TAIL; }

/* BLPOP/BRPOP from key: reply [key, element]. */
static void bpop_one(kv_client *c, const char *key, size_t klen, deque *d, int where,
                     enum prop_mode mode)
{
    hstr *s = pop_end(d, where);
    reply_array(c, 2);
    reply_bulk(c, key, klen);
    reply_bulk(c, s->data, s->len);
    hstr_free(s);
    resp_arg argv[2] = {{where == HEAD ? "LPOP" : "RPOP", 4}, {key, klen}};
    propagate(c, mode, 2, argv);
    touched(c, key, klen, d);
}

/* BLMOVE's / BRPOPLPUSH's directions from its argv. */
static void bmove_dirs(kv_client *c, int *from, int *to)
{
    if (arg_is(c, 0, "brpoplpush")) {
        *from = TAIL;
        *to = HEAD;
    } else {
        *from = arg_is(c, 3, "left") ? HEAD : TAIL;
        *to = arg_is(c, 4, "left") ? HEAD : TAIL;
    }
}

static void bmove_propagate(kv_client *c, enum prop_mode mode)
{
    if (arg_is(c, 0, "brpoplpush")) {
        resp_arg argv[3] = {{"RPOPLPUSH", 9}, c->argv[1], c->argv[2]};
        propagate(c, mode, 3, argv);
    } else {
        resp_arg argv[5] = {{"LMOVE", 5}, c->argv[1], c->argv[2], c->argv[3], c->argv[4]};
        propagate(c, mode, 5, argv);
    }
}

/* block.c's serve callback for every blocking list command: c->argv is the
 * blocking command, key has just been written to. */
static bool serve_list(kv_client *c, const char *key, size_t klen)
{
    bool wrong;
    deque *d = list_at(c, key, klen, true, &wrong);
    if (d == NULL) return false;
    if (arg_is(c, 0, "blpop") || arg_is(c, 0, "brpop")) {
        bpop_one(c, key, klen, d, where_of_cmd(c), PROP_APPEND);
    } else if (arg_is(c, 0, "blmove") || arg_is(c, 0, "brpoplpush")) {
        int from, to;
        bmove_dirs(c, &from, &to);
        /* A WRONGTYPE destination is this client's answer too, as in Redis. */
        if (move_element(c, d, key, klen, KEY(2), from, to)) bmove_propagate(c, PROP_APPEND);
    } else if (arg_is(c, 0, "blmpop")) {
        mpop_args a;
        if (!parse_mpop(c, 2, &a)) return true; /* validated when it blocked */
        pop_range_with_key(c, key, klen, d, a.where, a.count, PROP_APPEND);
    } else {
        return false;
    }
    return true;
}

static void bpop_generic(kv_client *c)
{
    int64_t timeout;
    if (!arg_timeout_ms(c, c->argc - 1, &timeout)) return;
    for (int i = 1; i < c->argc - 1; i++) {
        deque *d;
        if (!list_arg(c, i, true, &d)) return;
        if (d) {
            bpop_one(c, KEY(i), d, where_of_cmd(c), PROP_REPLACE);
            return;
        }
    }
    if (client_cannot_block(c)) reply_null_array(c);
    else block_for_keys(c, &c->argv[1], c->argc - 2, timeout, serve_list);
}

static void blpop_cmd(kv_client *c) { bpop_generic(c); }
static void brpop_cmd(kv_client *c) { bpop_generic(c); }

static void bmove_generic(kv_client *c, int timeout_arg)
{
    int64_t timeout;
    if (!arg_timeout_ms(c, timeout_arg, &timeout)) return;
    deque *src;
    if (!list_arg(c, 1, true, &src)) return;
    int from, to;
    bmove_dirs(c, &from, &to);
    if (src) {
        if (move_element(c, src, KEY(1), KEY(2), from, to)) bmove_propagate(c, PROP_REPLACE);
    } else if (client_cannot_block(c)) {
        reply_null(c); /* Redis answers a null bulk here, not a null array */
    } else {
        block_for_keys(c, &c->argv[1], 1, timeout, serve_list);
    }
}

static void blmove_cmd(kv_client *c)
{
    int from, to;
    if (arg_where(c, 3, &from) && arg_where(c, 4, &to)) bmove_generic(c, 5);
}

static void brpoplpush_cmd(kv_client *c) { bmove_generic(c, 3); }

static void blmpop_cmd(kv_client *c)
{
    int64_t timeout;
    mpop_args a;
    if (!arg_timeout_ms(c, 1, &timeout) || !parse_mpop(c, 2, &a) || mpop_try(c, &a)) return;
    if (client_cannot_block(c)) reply_null_array(c);
    else block_for_keys(c, &c->argv[a.first_key], a.nkeys, timeout, serve_list);
}

/* ---- value operations ---- */

static void list_free(void *obj) { deque_free(obj); }
static void *list_dup(const void *obj) { return deque_dup(obj); }
static size_t list_len(const void *obj) { return deque_len(obj); }
static size_t list_mem(const void *obj) { return deque_mem(obj); }

#define REWRITE_BATCH 64

static void list_rewrite(const void *obj, const char *key, size_t klen, buf *out)
{
    const deque *d = obj;
    size_t len = deque_len(d);
    for (size_t i = 0; i < len; i += REWRITE_BATCH) {
        size_t n = len - i < REWRITE_BATCH ? len - i : REWRITE_BATCH;
        buf_append_mbulk_len(out, '*', (int64_t)n + 2);
        buf_append_bulk(out, "RPUSH", 5);
        buf_append_bulk(out, key, klen);
        deque_iter it;
        deque_iter_init(&it, d, i, n, false);
        for (hstr *s; (s = deque_iter_next(&it));) buf_append_bulk(out, s->data, s->len);
    }
}

static void list_each(const void *obj, kv_elem_fn fn, void *priv)
{
    const deque *d = obj;
    deque_iter it;
    deque_iter_init(&it, d, 0, deque_len(d), false);
    for (hstr *s; (s = deque_iter_next(&it));)
        if (!fn(s->data, s->len, priv)) break;
}

const kv_type_ops tlist_ops = {list_free, list_dup, list_len, list_rewrite, list_mem, list_each};

kv_cmd kv_cmds_list[] = {
    {"lpush", lpush_cmd, -3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, "list", "Prepends one or more elements to a list. Creates the key if it doesn't exist.", "1.0.0"},
    {"rpush", rpush_cmd, -3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, "list", "Appends one or more elements to a list. Creates the key if it doesn't exist.", "1.0.0"},
    {"lpushx", lpushx_cmd, -3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, "list", "Prepends one or more elements to a list only when the list exists.", "2.2.0"},
    {"rpushx", rpushx_cmd, -3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, "list", "Appends an element to a list only when the list exists.", "2.2.0"},
    {"lpop", lpop_cmd, -2, CMD_WRITE | CMD_FAST, 1, 1, 1, "list", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", "1.0.0"},
    {"rpop", rpop_cmd, -2, CMD_WRITE | CMD_FAST, 1, 1, 1, "list", "Returns and removes the last elements of the list. Deletes the list if the last element was popped.", "1.0.0"},
    {"llen", llen_cmd, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, "list", "Returns the length of a list.", "1.0.0"},
    {"lindex", lindex_cmd, 3, CMD_READONLY, 1, 1, 1, "list", "Returns an element from a list by its index.", "1.0.0"},
    {"lset", lset_cmd, 4, CMD_WRITE | CMD_DENYOOM, 1, 1, 1, "list", "Sets the value of an element in a list by its index.", "1.0.0"},
    {"lrange", lrange_cmd, 4, CMD_READONLY, 1, 1, 1, "list", "Returns a range of elements from a list.", "1.0.0"},
    {"ltrim", ltrim_cmd, 4, CMD_WRITE, 1, 1, 1, "list", "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", "1.0.0"},
    {"lrem", lrem_cmd, 4, CMD_WRITE, 1, 1, 1, "list", "Removes elements from a list. Deletes the list if the last element was removed.", "1.0.0"},
    {"linsert", linsert_cmd, 5, CMD_WRITE | CMD_DENYOOM, 1, 1, 1, "list", "Inserts an element before or after another element in a list.", "2.2.0"},
    {"lpos", lpos_cmd, -3, CMD_READONLY, 1, 1, 1, "list", "Returns the index of matching elements in a list.", "6.0.6"},
    {"lmove", lmove_cmd, 5, CMD_WRITE | CMD_DENYOOM, 1, 2, 1, "list", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.", "6.2.0"},
    {"rpoplpush", rpoplpush_cmd, 3, CMD_WRITE | CMD_DENYOOM, 1, 2, 1, "list", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.", "1.2.0"},
    {"lmpop", lmpop_cmd, -4, CMD_WRITE | CMD_MOVABLE_KEYS, 0, 0, 0, "list", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.", "7.0.0"},
    {"blpop", blpop_cmd, -3, CMD_WRITE | CMD_BLOCKING, 1, -2, 1, "list", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "2.0.0"},
    {"brpop", brpop_cmd, -3, CMD_WRITE | CMD_BLOCKING, 1, -2, 1, "list", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "2.0.0"},
    {"blmove", blmove_cmd, 6, CMD_WRITE | CMD_DENYOOM | CMD_BLOCKING, 1, 2, 1, "list", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.", "6.2.0"},
    {"brpoplpush", brpoplpush_cmd, 4, CMD_WRITE | CMD_DENYOOM | CMD_BLOCKING, 1, 2, 1, "list", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.", "2.2.0"},
    {"blmpop", blmpop_cmd, -5, CMD_WRITE | CMD_BLOCKING | CMD_MOVABLE_KEYS, 0, 0, 0, "list", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "7.0.0"},
    {NULL},
};
