/* t_set.c — set commands (SADD family, SPOP/SRANDMEMBER, set algebra, SSCAN); the value is a dict of members. */
#include "cmd.h"
#include "scan.h"
#include "types.h"
#include "../common/limits.h"
#include "../common/mem.h"
#include "../common/util.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define KEY(i) c->argv[i].ptr, c->argv[i].len
#define ARG(i) c->argv[i].ptr, c->argv[i].len

/* One member, owned by its set. */
typedef struct smember {
    dict_node node;
    uint32_t len;
    char data[];
} smember;

#define SMEMBER_HDR offsetof(smember, data)
_Static_assert(offsetof(smember, node) == 0, "dict_node must be at offset 0");
/* Arguments are bounded by proto-max-bulk-len (at most 2 * HALO_MAX_STRING_LEN). */
_Static_assert(HALO_MAX_STRING_LEN * 2 <= UINT32_MAX, "member lengths must fit uint32_t");

/* AOF rewrite emits at most this many members per SADD. */
#define SET_REWRITE_BATCH 64

static const char *smember_key(const dict_node *n, size_t *len)
{
    const smember *m = (const smember *)n;
    *len = m->len;
    return m->data;
}

static const dict_type set_dict_type = {.key = smember_key};

/* ---- the value object ---- */

static dict *set_new(void)
{
    dict *s = hmalloc(sizeof(*s));
    dict_init(s, &set_dict_type);
    return s;
}

/* Add a copy of p[0..len); true when it was not a member yet. */
static bool set_add(dict *s, const char *p, size_t len)
{
    if (dict_find(s, p, len)) return false;
    smember *m = hmalloc(SMEMBER_HDR + len);
    m->node.next = NULL;
    m->len = (uint32_t)len;
    if (len) memcpy(m->data, p, len);
    dict_add(s, &m->node);
    return true;
}

static bool set_has(dict *s, const char *p, size_t len) { return s && dict_find(s, p, len); }

static bool set_remove(dict *s, const char *p, size_t len)
{
    dict_node *n = dict_unlink(s, p, len);
    hfree(n);
    return n != NULL;
}

static void free_node(dict_node *n, void *priv)
{
    (void)priv;
    hfree(n);
}

static void set_free(void *obj)
{
    dict *s = obj;
    dict_clear(s, free_node, NULL);
    hfree(s);
}

static void *set_dup(const void *obj)
{
    dict *src = (dict *)obj; /* an unsafe iterator does not modify the dict */
    dict *s = set_new();
    dict_iter it;
    dict_iter_init(&it, src, false);
    for (dict_node *n; (n = dict_iter_next(&it));) {
        const smember *m = (const smember *)n;
        set_add(s, m->data, m->len);
    }
    dict_iter_done(&it);
    return s;
}

static size_t set_len(const void *obj) { return dict_size(obj); }

/* SADD key m1 .. m64, repeated until every member is written. */
static void set_rewrite(const void *obj, const char *key, size_t klen, buf *out)
{
    dict *s = (dict *)obj;
    size_t left = dict_size(s), in_batch = 0;
    dict_iter it;
    dict_iter_init(&it, s, false);
    for (dict_node *n; (n = dict_iter_next(&it)); left--) {
        const smember *m = (const smember *)n;
        if (in_batch == 0) {
            in_batch = left < SET_REWRITE_BATCH ? left : SET_REWRITE_BATCH;
            buf_append_mbulk_len(out, '*', 2 + (int64_t)in_batch);
            buf_append_bulk(out, "SADD", 4);
            buf_append_bulk(out, key, klen);
        }
        buf_append_bulk(out, m->data, m->len);
        in_batch--;
    }
    dict_iter_done(&it);
}

/* Members are sampled 64 at most, as MEMORY USAGE samples in Redis. */
static size_t set_mem(const void *obj)
{
    dict *s = (dict *)obj; /* dict_nodes_mem only reads it */
    return sizeof(*s) + dict_mem(s) + dict_nodes_mem(s, 64);
}

static void set_each(const void *obj, kv_elem_fn fn, void *priv)
{
    dict_iter it;
    dict_iter_init(&it, (dict *)obj, false);
    for (dict_node *n; (n = dict_iter_next(&it));) {
        const smember *m = (const smember *)n;
        if (!fn(m->data, m->len, priv)) break;
    }
    dict_iter_done(&it);
}

const kv_type_ops tset_ops = {set_free, set_dup, set_len, set_rewrite, set_mem, set_each};

/* ---- command helpers ---- */

/* The set at argv[i] in *out (NULL when absent). Replies WRONGTYPE and
 * returns false when the key holds another type. */
static bool lookup_set(kv_client *c, int i, bool write, dict **out)
{
    kv_entry *e;
    bool ok = arg_key_typed(c, i, write, KV_SET, &e);
    *out = e ? entry_obj(e) : NULL;
    return ok;
}

/* The set at argv[i], created empty when absent; NULL after WRONGTYPE.
 * Call only once members will be added, so no empty set is left. */
static dict *set_for_write(kv_client *c, int i)
{
    dict *s;
    if (!lookup_set(c, i, true, &s)) return NULL;
    if (s == NULL) {
        s = set_new();
        db_add_object(&c->srv->db, KEY(i), KV_SET, s);
    }
    return s;
}

static void touched(kv_client *c, int i)
{
    db_signal_modified(&c->srv->db, KEY(i));
    c->srv->dirty++;
}

/* After members were removed: an empty set is deleted, a sparse one shrunk. */
static void after_remove(kv_client *c, int i, dict *s)
{
    if (dict_size(s) == 0) db_delete(&c->srv->db, KEY(i));
    else dict_maybe_shrink(s);
}

static void reply_member(kv_client *c, const dict_node *n)
{
    const smember *m = (const smember *)n;
    reply_bulk(c, m->data, m->len);
}

/* Every member of s (may be NULL) as a set reply (RESP3 '~'). */
static void reply_members(kv_client *c, dict *s)
{
    reply_set(c, s ? (int64_t)dict_size(s) : 0);
    if (s == NULL) return;
    dict_iter it;
    dict_iter_init(&it, s, false);
    for (dict_node *n; (n = dict_iter_next(&it));) reply_member(c, n);
    dict_iter_done(&it);
}

/* ---- SADD, SREM, membership ---- */

static void sadd_cmd(kv_client *c)
{
    dict *s = set_for_write(c, 1);
    if (s == NULL) return;
    int64_t added = 0;
    for (int i = 2; i < c->argc; i++) added += set_add(s, ARG(i));
    if (added) touched(c, 1);
    reply_int(c, added);
}

static void srem_cmd(kv_client *c)
{
    dict *s;
    if (!lookup_set(c, 1, true, &s)) return;
    int64_t removed = 0;
    for (int i = 2; s && i < c->argc && dict_size(s); i++) removed += set_remove(s, ARG(i));
    if (removed) {
        after_remove(c, 1, s);
        touched(c, 1);
    }
    reply_int(c, removed);
}

static void smembers_cmd(kv_client *c)
{
    dict *s;
    if (lookup_set(c, 1, false, &s)) reply_members(c, s);
}

static void sismember_cmd(kv_client *c)
{
    dict *s;
    if (lookup_set(c, 1, false, &s)) reply_int(c, set_has(s, ARG(2)));
}

static void smismember_cmd(kv_client *c)
{
    dict *s;
    if (!lookup_set(c, 1, false, &s)) return;
    reply_array(c, c->argc - 2);
    for (int i = 2; i < c->argc; i++) reply_int(c, set_has(s, ARG(i)));
}

static void scard_cmd(kv_client *c)
{
    dict *s;
    if (lookup_set(c, 1, false, &s)) reply_int(c, s ? (int64_t)dict_size(s) : 0);
}

/* ---- SPOP ---- */

/* SPOP key count with count >= the set's size: the whole set, as DEL. */
static void spop_all(kv_client *c, dict *s)
{
    reply_members(c, s);
    db_delete(&c->srv->db, KEY(1));
    touched(c, 1);
    resp_arg argv[2] = {{"DEL", 3}, c->argv[1]};
    prop_replace(c, 2, argv);
}

/* Popped members are propagated as one SREM of exactly those members, so
 * replicas and the AOF do not depend on chance. */
static void spop_some(kv_client *c, dict *s, size_t count)
{
    dict_node **pick = dict_random_distinct(s, count);
    resp_arg *argv = hmalloc((count + 2) * sizeof(*argv));
    argv[0] = (resp_arg){"SREM", 4};
    argv[1] = c->argv[1];
    reply_set(c, (int64_t)count);
    for (size_t i = 0; i < count; i++) {
        smember *m = (smember *)pick[i];
        dict_unlink(s, m->data, m->len);
        reply_member(c, &m->node);
        argv[i + 2] = (resp_arg){m->data, m->len};
    }
    prop_replace(c, (int)count + 2, argv);
    for (size_t i = 0; i < count; i++) hfree(pick[i]);
    hfree(argv);
    hfree(pick);
    after_remove(c, 1, s);
    touched(c, 1);
}

static void spop_count(kv_client *c)
{
    int64_t count;
    if (!arg_i64_min(c, 2, 0, &count, "ERR value is out of range, must be positive")) return;
    dict *s;
    if (!lookup_set(c, 1, true, &s)) return;
    if (s == NULL || count == 0) reply_set(c, 0);
    else if ((uint64_t)count >= dict_size(s)) spop_all(c, s);
    else spop_some(c, s, (size_t)count);
}

static void spop_cmd(kv_client *c)
{
    if (c->argc > 3) {
        reply_syntax_error(c);
        return;
    }
    if (c->argc == 3) {
        spop_count(c);
        return;
    }
    dict *s;
    if (!lookup_set(c, 1, true, &s)) return;
    smember *m = s ? (smember *)dict_random(s) : NULL;
    if (m == NULL) {
        reply_null(c);
        return;
    }
    dict_unlink(s, m->data, m->len);
    reply_bulk(c, m->data, m->len);
    resp_arg argv[3] = {{"SREM", 4}, c->argv[1], {m->data, m->len}};
    prop_replace(c, 3, argv);
    hfree(m);
    after_remove(c, 1, s);
    touched(c, 1);
}

/* ---- SRANDMEMBER ---- */

static void srandmember_count(kv_client *c, dict *s, int64_t count)
{
    size_t size = dict_size(s);
    if (count < 0) { /* repetitions allowed */
        reply_array(c, -count);
        for (int64_t i = 0; i < -count && !client_reply_dead(c); i++) reply_member(c, dict_random(s));
        return;
    }
    if ((uint64_t)count >= size) {
        reply_array(c, (int64_t)size);
        dict_iter it;
        dict_iter_init(&it, s, false);
        for (dict_node *n; (n = dict_iter_next(&it));) reply_member(c, n);
        dict_iter_done(&it);
        return;
    }
    dict_node **pick = dict_random_distinct(s, (size_t)count);
    reply_array(c, count);
    for (int64_t i = 0; i < count; i++) reply_member(c, pick[i]);
    hfree(pick);
}

static void srandmember_cmd(kv_client *c)
{
    dict *s;
    if (c->argc > 3) {
        reply_syntax_error(c);
        return;
    }
    if (c->argc == 2) {
        if (!lookup_set(c, 1, false, &s)) return;
        dict_node *n = s ? dict_random(s) : NULL;
        if (n) reply_member(c, n);
        else reply_null(c);
        return;
    }
    int64_t count;
    if (!arg_i64_bounded(c, 2, -INT64_MAX, INT64_MAX, &count)) return;
    if (!lookup_set(c, 1, false, &s)) return;
    if (s == NULL || count == 0) reply_array(c, 0);
    else srandmember_count(c, s, count);
}

/* ---- SMOVE ---- */

static void smove_cmd(kv_client *c)
{
    /* As Redis: a missing source answers 0 before the types are checked. */
    if (db_lookup_write(&c->srv->db, KEY(1)) == NULL) {
        reply_int(c, 0);
        return;
    }
    dict *src, *dst;
    if (!lookup_set(c, 1, true, &src) || !lookup_set(c, 2, true, &dst)) return;
    if (src == dst) {
        reply_int(c, set_has(src, ARG(3)));
        return;
    }
    if (!set_remove(src, ARG(3))) {
        reply_int(c, 0);
        return;
    }
    after_remove(c, 1, src);
    touched(c, 1);
    if (set_add(set_for_write(c, 2), ARG(3))) touched(c, 2);
    reply_int(c, 1);
}

/* ---- set algebra ---- */

/* Where the members of a set operation's result go: replied one by one,
 * added to a new set (which also removes duplicates), or only counted. */
typedef struct set_sink {
    kv_client *c;  /* reply each member, when dst is NULL */
    dict *dst;     /* add each member here */
    int64_t n;     /* members emitted */
    int64_t limit; /* stop after this many (SINTERCARD LIMIT); 0 = no limit */
} set_sink;

/* Emit one member; false once the limit is reached. */
static bool sink_put(set_sink *k, const smember *m)
{
    if (k->dst) {
        if (!set_add(k->dst, m->data, m->len)) return true;
    } else if (k->c) {
        reply_bulk(k->c, m->data, m->len);
    }
    k->n++;
    return k->limit == 0 || k->n < k->limit;
}

static int by_size(const void *a, const void *b)
{
    size_t x = dict_size(*(dict *const *)a), y = dict_size(*(dict *const *)b);
    return x < y ? -1 : x > y;
}

/* Members of the smallest set found in all the others. A safe iterator,
 * because a key named twice makes the iterated set also one looked into. */
static void sinter_into(dict **sets, int n, set_sink *k)
{
    for (int i = 0; i < n; i++)
        if (sets[i] == NULL) return;
    qsort(sets, (size_t)n, sizeof(*sets), by_size);
    dict_iter it;
    dict_iter_init(&it, sets[0], true);
    for (dict_node *node; (node = dict_iter_next(&it));) {
        const smember *m = (const smember *)node;
        int j = 1;
        while (j < n && dict_find(sets[j], m->data, m->len)) j++;
        if (j == n && !sink_put(k, m)) break;
    }
    dict_iter_done(&it);
}

/* Members of the first set found in none of the others. */
static void sdiff_into(dict **sets, int n, set_sink *k)
{
    if (sets[0] == NULL) return;
    dict_iter it;
    dict_iter_init(&it, sets[0], true);
    for (dict_node *node; (node = dict_iter_next(&it));) {
        const smember *m = (const smember *)node;
        int j = 1;
        while (j < n && !set_has(sets[j], m->data, m->len)) j++;
        if (j == n) sink_put(k, m);
    }
    dict_iter_done(&it);
}

/* Every member of every set; k->dst removes the duplicates. */
static void sunion_into(dict **sets, int n, set_sink *k)
{
    for (int i = 0; i < n; i++) {
        if (sets[i] == NULL) continue;
        dict_iter it;
        dict_iter_init(&it, sets[i], false);
        for (dict_node *node; (node = dict_iter_next(&it));) sink_put(k, (const smember *)node);
        dict_iter_done(&it);
    }
}

enum set_op { SOP_INTER, SOP_UNION, SOP_DIFF };

static void run_op(enum set_op op, dict **sets, int n, set_sink *k)
{
    if (op == SOP_INTER) sinter_into(sets, n, k);
    else if (op == SOP_DIFF) sdiff_into(sets, n, k);
    else sunion_into(sets, n, k);
}

/* The sets named by argv[first..first+n) in sets[] (NULL for a missing key).
 * Replies WRONGTYPE and returns false if any key holds another type. */
static bool gather_sets(kv_client *c, int first, int n, bool write, dict **sets)
{
    for (int i = 0; i < n; i++)
        if (!lookup_set(c, first + i, write, &sets[i])) return false;
    return true;
}

/* STORE forms: argv[1] is replaced whatever its type; ownership of res
 * passes to the keyspace (or it is freed when empty, deleting argv[1]). */
static void store_result(kv_client *c, dict *res)
{
    kv_db *db = &c->srv->db;
    int64_t n = (int64_t)dict_size(res);
    db_lookup_write(db, KEY(1)); /* an expired destination counts as absent */
    bool existed = db_delete(db, KEY(1));
    if (n) db_add_object(db, KEY(1), KV_SET, res);
    else set_free(res);
    if (n || existed) touched(c, 1);
    reply_int(c, n);
}

/* SINTER/SUNION/SDIFF (sources from argv[1]) and their STORE forms
 * (destination argv[1], sources from argv[2]). */
static void setop_generic(kv_client *c, enum set_op op, bool store)
{
    int first = store ? 2 : 1, n = c->argc - first;
    dict **sets = hmalloc((size_t)n * sizeof(*sets));
    if (!gather_sets(c, first, n, store, sets)) goto free_sets;
    if (store || op == SOP_UNION) {
        set_sink k = {.dst = set_new()};
        run_op(op, sets, n, &k);
        if (store) {
            store_result(c, k.dst);
        } else {
            reply_members(c, k.dst);
            set_free(k.dst);
        }
    } else {
        set_sink k = {.c = c};
        void *slot = reply_deferred_len(c);
        run_op(op, sets, n, &k);
        reply_set_deferred_set(c, slot, k.n);
    }
free_sets:
    hfree(sets);
}

static void sinter_cmd(kv_client *c) { setop_generic(c, SOP_INTER, false); }
static void sunion_cmd(kv_client *c) { setop_generic(c, SOP_UNION, false); }
static void sdiff_cmd(kv_client *c) { setop_generic(c, SOP_DIFF, false); }
static void sinterstore_cmd(kv_client *c) { setop_generic(c, SOP_INTER, true); }
static void sunionstore_cmd(kv_client *c) { setop_generic(c, SOP_UNION, true); }
static void sdiffstore_cmd(kv_client *c) { setop_generic(c, SOP_DIFF, true); }

/* SINTERCARD numkeys key [key ...] [LIMIT limit] */
static void sintercard_cmd(kv_client *c)
{
    int64_t numkeys, limit = 0;
    if (!arg_i64_min(c, 1, 1, &numkeys, "ERR numkeys should be greater than 0")) return;
    if (numkeys > c->argc - 2) {
        reply_error(c, "ERR Number of keys can't be greater than number of args");
        return;
    }
    for (int i = 2 + (int)numkeys; i < c->argc; i += 2) {
        if (!arg_is(c, i, "limit") || i + 1 >= c->argc) {
            reply_syntax_error(c);
            return;
        }
        if (!arg_i64_min(c, i + 1, 0, &limit, "ERR LIMIT can't be negative")) return;
    }
    dict **sets = hmalloc((size_t)numkeys * sizeof(*sets));
    if (gather_sets(c, 2, (int)numkeys, false, sets)) {
        set_sink k = {.limit = limit};
        sinter_into(sets, (int)numkeys, &k);
        reply_int(c, k.n);
    }
    hfree(sets);
}

/* ---- SSCAN ---- */

static void sscan_cmd(kv_client *c)
{
    static const scan_spec spec = {.emit = reply_member, .width = 1};
    uint64_t cursor;
    dict *s;
    /* As Redis: the cursor, then the key, then the options. */
    if (scan_arg_cursor(c, 2, &cursor) && lookup_set(c, 1, false, &s)) scan_value(c, s, cursor, &spec);
}

kv_cmd kv_cmds_set[] = {
    {"sadd", sadd_cmd, -3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, "set", "Adds one or more members to a set. Creates the key if it doesn't exist.", "1.0.0"},
    {"srem", srem_cmd, -3, CMD_WRITE | CMD_FAST, 1, 1, 1, "set", "Removes one or more members from a set. Deletes the set if the last member was removed.", "1.0.0"},
    {"smembers", smembers_cmd, 2, CMD_READONLY, 1, 1, 1, "set", "Returns all members of a set.", "1.0.0"},
    {"sismember", sismember_cmd, 3, CMD_READONLY | CMD_FAST, 1, 1, 1, "set", "Determines whether a member belongs to a set.", "1.0.0"},
    {"smismember", smismember_cmd, -3, CMD_READONLY | CMD_FAST, 1, 1, 1, "set", "Determines whether multiple members belong to a set.", "6.2.0"},
    {"scard", scard_cmd, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, "set", "Returns the number of members in a set.", "1.0.0"},
    {"spop", spop_cmd, -2, CMD_WRITE | CMD_FAST, 1, 1, 1, "set", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", "1.0.0"},
    {"srandmember", srandmember_cmd, -2, CMD_READONLY, 1, 1, 1, "set", "Get one or multiple random members from a set", "1.0.0"},
    {"smove", smove_cmd, 4, CMD_WRITE | CMD_FAST, 1, 2, 1, "set", "Moves a member from one set to another.", "1.0.0"},
    {"sinter", sinter_cmd, -2, CMD_READONLY, 1, -1, 1, "set", "Returns the intersect of multiple sets.", "1.0.0"},
    {"sintercard", sintercard_cmd, -3, CMD_READONLY | CMD_MOVABLE_KEYS, 0, 0, 0, "set", "Returns the number of members of the intersect of multiple sets.", "7.0.0"},
    {"sunion", sunion_cmd, -2, CMD_READONLY, 1, -1, 1, "set", "Returns the union of multiple sets.", "1.0.0"},
    {"sdiff", sdiff_cmd, -2, CMD_READONLY, 1, -1, 1, "set", "Returns the difference of multiple sets.", "1.0.0"},
    {"sinterstore", sinterstore_cmd, -3, CMD_WRITE | CMD_DENYOOM, 1, -1, 1, "set", "Stores the intersect of multiple sets in a key.", "1.0.0"},
    {"sunionstore", sunionstore_cmd, -3, CMD_WRITE | CMD_DENYOOM, 1, -1, 1, "set", "Stores the union of multiple sets in a key.", "1.0.0"},
    {"sdiffstore", sdiffstore_cmd, -3, CMD_WRITE | CMD_DENYOOM, 1, -1, 1, "set", "Stores the difference of multiple sets in a key.", "1.0.0"},
    {"sscan", sscan_cmd, -3, CMD_READONLY, 1, 1, 1, "set", "Iterates over members of a set.", "2.0.0"},
    {NULL},
};
