/* t_hash.c — hash commands (HSET family, counters, HSCAN, HRANDFIELD); the value is a dict of fields. */
#include "cmd.h"
#include "scan.h"
#include "types.h"
#include "../common/limits.h"
#include "../common/mem.h"
#include "../common/util.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#define KEY(i) c->argv[i].ptr, c->argv[i].len
#define ARG(i) c->argv[i].ptr, c->argv[i].len

/* One field: its name then its value, in one allocation owned by the hash. */
typedef struct hfield {
    dict_node node;
    uint32_t flen, vlen;
    char data[];
} hfield;

#define HFIELD_HDR offsetof(hfield, data)
_Static_assert(offsetof(hfield, node) == 0, "dict_node must be at offset 0");
/* Arguments are bounded by proto-max-bulk-len (at most 2 * HALO_MAX_STRING_LEN). */
_Static_assert(HALO_MAX_STRING_LEN * 2 <= UINT32_MAX, "field lengths must fit uint32_t");

/* AOF rewrite emits at most this many field-value pairs per HSET. */
#define HASH_REWRITE_BATCH 64
/* HINCRBYFLOAT's formatted result, as Redis's MAX_LONG_DOUBLE_CHARS. */
#define HASH_LDOUBLE_CHARS (5 * 1024)

static inline const char *hf_val(const hfield *f) { return f->data + f->flen; }

static const char *hfield_key(const dict_node *n, size_t *len)
{
    const hfield *f = (const hfield *)n;
    *len = f->flen;
    return f->data;
}

static const dict_type hash_dict_type = {.key = hfield_key};

/* ---- the value object ---- */

static dict *hash_new(void)
{
    dict *h = hmalloc(sizeof(*h));
    dict_init(h, &hash_dict_type);
    return h;
}

static hfield *hfield_new(const char *f, size_t flen, const char *v, size_t vlen)
{
    hfield *n = hmalloc(HFIELD_HDR + flen + vlen);
    n->node.next = NULL;
    n->flen = (uint32_t)flen;
    n->vlen = (uint32_t)vlen;
    memcpy(n->data, f, flen);
    if (vlen) memcpy(n->data + flen, v, vlen);
    return n;
}

static hfield *hash_get(dict *h, const char *f, size_t flen)
{
    return h ? (hfield *)dict_find(h, f, flen) : NULL;
}

/* Set field to value, reallocating the field's node when the size changes
 * enough (the link is re-pointed at once, as dict_find_link allows).
 * Returns true when the field is new. */
static bool hash_set(dict *h, const char *f, size_t flen, const char *v, size_t vlen)
{
    dict_node **link = dict_find_link(h, f, flen);
    if (link == NULL) {
        dict_add(h, &hfield_new(f, flen, v, vlen)->node);
        return true;
    }
    hfield *n = (hfield *)*link;
    size_t want = HFIELD_HDR + flen + vlen, have = hmem_usable(n);
    if (have < want || have > 2 * want + 64) {
        n = hrealloc(n, want);
        *link = &n->node;
    }
    if (vlen) memcpy(n->data + flen, v, vlen);
    n->vlen = (uint32_t)vlen;
    return false;
}

static bool hash_del(dict *h, const char *f, size_t flen)
{
    dict_node *n = dict_unlink(h, f, flen);
    hfree(n);
    return n != NULL;
}

static void free_node(dict_node *n, void *priv)
{
    (void)priv;
    hfree(n);
}

static void hash_free(void *obj)
{
    dict *h = obj;
    dict_clear(h, free_node, NULL);
    hfree(h);
}

static void *hash_dup(const void *obj)
{
    dict *src = (dict *)obj; /* an unsafe iterator does not modify the dict */
    dict *h = hash_new();
    dict_iter it;
    dict_iter_init(&it, src, false);
    for (dict_node *n; (n = dict_iter_next(&it));) {
        const hfield *f = (const hfield *)n;
        dict_add(h, &hfield_new(f->data, f->flen, hf_val(f), f->vlen)->node);
    }
    dict_iter_done(&it);
    return h;
}

static size_t hash_len(const void *obj) { return dict_size(obj); }

/* HSET key f1 v1 .. f64 v64, repeated until every field is written. */
static void hash_rewrite(const void *obj, const char *key, size_t klen, buf *out)
{
    dict *h = (dict *)obj;
    size_t left = dict_size(h), in_batch = 0;
    dict_iter it;
    dict_iter_init(&it, h, false);
    for (dict_node *n; (n = dict_iter_next(&it)); left--) {
        const hfield *f = (const hfield *)n;
        if (in_batch == 0) {
            in_batch = left < HASH_REWRITE_BATCH ? left : HASH_REWRITE_BATCH;
            buf_append_mbulk_len(out, '*', 2 + 2 * (int64_t)in_batch);
            buf_append_bulk(out, "HSET", 4);
            buf_append_bulk(out, key, klen);
        }
        buf_append_bulk(out, f->data, f->flen);
        buf_append_bulk(out, hf_val(f), f->vlen);
        in_batch--;
    }
    dict_iter_done(&it);
}

/* Fields are sampled 64 at most, as MEMORY USAGE samples in Redis. */
static size_t hash_mem(const void *obj)
{
    dict *h = (dict *)obj; /* dict_nodes_mem only reads it */
    return sizeof(*h) + dict_mem(h) + dict_nodes_mem(h, 64);
}

static void hash_each(const void *obj, kv_elem_fn fn, void *priv)
{
    dict_iter it;
    dict_iter_init(&it, (dict *)obj, false);
    for (dict_node *n; (n = dict_iter_next(&it));) {
        const hfield *f = (const hfield *)n;
        if (!fn(f->data, f->flen, priv) || !fn(hf_val(f), f->vlen, priv)) break;
    }
    dict_iter_done(&it);
}

const kv_type_ops thash_ops = {hash_free, hash_dup, hash_len, hash_rewrite, hash_mem, hash_each};

/* ---- command helpers ---- */

/* The hash at argv[i] in *out (NULL when absent). Replies WRONGTYPE and
 * returns false when the key holds another type. */
static bool lookup_hash(kv_client *c, int i, bool write, dict **out)
{
    kv_entry *e;
    bool ok = arg_key_typed(c, i, write, KV_HASH, &e);
    *out = e ? entry_obj(e) : NULL;
    return ok;
}

/* The hash at argv[1], created empty when absent; NULL after WRONGTYPE.
 * Call only once the command can no longer fail, so no empty hash is left. */
static dict *hash_for_write(kv_client *c)
{
    dict *h;
    if (!lookup_hash(c, 1, true, &h)) return NULL;
    if (h == NULL) {
        h = hash_new();
        db_add_object(&c->srv->db, KEY(1), KV_HASH, h);
    }
    return h;
}

static void touched(kv_client *c)
{
    db_signal_modified(&c->srv->db, KEY(1));
    c->srv->dirty++;
}

/* After fields were removed: an empty hash is deleted, a sparse one shrunk. */
static void after_delete(kv_client *c, dict *h)
{
    if (dict_size(h) == 0) db_delete(&c->srv->db, KEY(1));
    else dict_maybe_shrink(h);
}

/* ---- HSET family ---- */

static void hset_generic(kv_client *c, bool ok_reply)
{
    if (c->argc % 2 != 0) {
        reply_errorf(c, "ERR wrong number of arguments for '%s' command", c->cmd->name);
        return;
    }
    dict *h = hash_for_write(c);
    if (h == NULL) return;
    int64_t added = 0;
    for (int i = 2; i < c->argc; i += 2) added += hash_set(h, ARG(i), ARG(i + 1));
    touched(c);
    if (ok_reply) reply_ok(c);
    else reply_int(c, added);
}

static void hset_cmd(kv_client *c) { hset_generic(c, false); }
static void hmset_cmd(kv_client *c) { hset_generic(c, true); }

static void hsetnx_cmd(kv_client *c)
{
    dict *h;
    if (!lookup_hash(c, 1, true, &h)) return;
    if (hash_get(h, ARG(2))) {
        reply_int(c, 0);
        return;
    }
    h = hash_for_write(c);
    hash_set(h, ARG(2), ARG(3));
    touched(c);
    reply_int(c, 1);
}

static void hget_cmd(kv_client *c)
{
    dict *h;
    if (!lookup_hash(c, 1, false, &h)) return;
    hfield *f = hash_get(h, ARG(2));
    if (f) reply_bulk(c, hf_val(f), f->vlen);
    else reply_null(c);
}

static void hmget_cmd(kv_client *c)
{
    dict *h;
    if (!lookup_hash(c, 1, false, &h)) return;
    reply_array(c, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        hfield *f = hash_get(h, ARG(i));
        if (f) reply_bulk(c, hf_val(f), f->vlen);
        else reply_null(c);
    }
}

static void hdel_cmd(kv_client *c)
{
    dict *h;
    if (!lookup_hash(c, 1, true, &h)) return;
    int64_t deleted = 0;
    for (int i = 2; h && i < c->argc && dict_size(h); i++) deleted += hash_del(h, ARG(i));
    if (deleted) {
        after_delete(c, h);
        touched(c);
    }
    reply_int(c, deleted);
}

static void hlen_cmd(kv_client *c)
{
    dict *h;
    if (lookup_hash(c, 1, false, &h)) reply_int(c, h ? (int64_t)dict_size(h) : 0);
}

static void hstrlen_cmd(kv_client *c)
{
    dict *h;
    if (!lookup_hash(c, 1, false, &h)) return;
    hfield *f = hash_get(h, ARG(2));
    reply_int(c, f ? f->vlen : 0);
}

static void hexists_cmd(kv_client *c)
{
    dict *h;
    if (lookup_hash(c, 1, false, &h)) reply_int(c, hash_get(h, ARG(2)) ? 1 : 0);
}

enum { HGET_KEYS = 1, HGET_VALS = 2 };

/* HKEYS, HVALS (arrays) and HGETALL (a map in RESP3). */
static void hgetall_generic(kv_client *c, int what)
{
    dict *h;
    if (!lookup_hash(c, 1, false, &h)) return;
    int64_t n = h ? (int64_t)dict_size(h) : 0;
    if (what == (HGET_KEYS | HGET_VALS)) reply_map(c, n);
    else reply_array(c, n);
    if (h == NULL) return;
    dict_iter it;
    dict_iter_init(&it, h, false);
    for (dict_node *node; (node = dict_iter_next(&it));) {
        const hfield *f = (const hfield *)node;
        if (what & HGET_KEYS) reply_bulk(c, f->data, f->flen);
        if (what & HGET_VALS) reply_bulk(c, hf_val(f), f->vlen);
    }
    dict_iter_done(&it);
}

static void hkeys_cmd(kv_client *c) { hgetall_generic(c, HGET_KEYS); }
static void hvals_cmd(kv_client *c) { hgetall_generic(c, HGET_VALS); }
static void hgetall_cmd(kv_client *c) { hgetall_generic(c, HGET_KEYS | HGET_VALS); }

/* ---- counters ---- */

static void hincrby_cmd(kv_client *c)
{
    int64_t by, v = 0;
    dict *h;
    if (!arg_i64(c, 3, &by) || !lookup_hash(c, 1, true, &h)) return;
    hfield *f = hash_get(h, ARG(2));
    if (f && !str_to_i64(hf_val(f), f->vlen, &v)) {
        reply_error(c, "ERR hash value is not an integer");
        return;
    }
    if ((by < 0 && v < 0 && by < INT64_MIN - v) || (by > 0 && v > 0 && by > INT64_MAX - v)) {
        reply_error(c, "ERR increment or decrement would overflow");
        return;
    }
    v += by;
    char tmp[24];
    int n = i64_to_str(tmp, sizeof(tmp), v);
    hash_set(hash_for_write(c), ARG(2), tmp, (size_t)n);
    touched(c);
    reply_int(c, v);
}

/* Propagated as HSET key field result: replaying the increment on a replica
 * could round differently. */
static void hincrbyfloat_cmd(kv_client *c)
{
    long double v = 0, by;
    if (!str_to_ldouble(ARG(3), &by)) {
        reply_not_float(c);
        return;
    }
    if (isnan(by) || isinf(by)) {
        reply_error(c, "ERR value is NaN or Infinity");
        return;
    }
    dict *h;
    if (!lookup_hash(c, 1, true, &h)) return;
    hfield *f = hash_get(h, ARG(2));
    if (f && !str_to_ldouble(hf_val(f), f->vlen, &v)) {
        reply_error(c, "ERR hash value is not a float");
        return;
    }
    v += by;
    char tmp[HASH_LDOUBLE_CHARS];
    int n = isnan(v) || isinf(v) ? -1 : ldouble_to_str(tmp, sizeof(tmp), v);
    if (n < 0) {
        reply_error(c, "ERR increment would produce NaN or Infinity");
        return;
    }
    hash_set(hash_for_write(c), ARG(2), tmp, (size_t)n);
    touched(c);
    reply_bulk(c, tmp, (size_t)n);
    resp_arg argv[4] = {{"HSET", 4}, c->argv[1], c->argv[2], {tmp, (size_t)n}};
    prop_replace(c, 4, argv);
}

/* ---- HSCAN ---- */

static void scan_emit_field(kv_client *c, const dict_node *n)
{
    const hfield *f = (const hfield *)n;
    reply_bulk(c, f->data, f->flen);
    reply_bulk(c, hf_val(f), f->vlen);
}

static void hscan_cmd(kv_client *c)
{
    static const scan_spec spec = {.emit = scan_emit_field, .width = 2};
    uint64_t cursor;
    dict *h;
    /* As Redis: the cursor, then the key, then the options. */
    if (scan_arg_cursor(c, 2, &cursor) && lookup_hash(c, 1, false, &h)) scan_value(c, h, cursor, &spec);
}

/* ---- HRANDFIELD ---- */

/* One element of a HRANDFIELD reply: RESP3 pairs are nested arrays. */
static void reply_field(kv_client *c, const hfield *f, bool withvalues)
{
    if (withvalues && c->resp == 3) reply_array(c, 2);
    reply_bulk(c, f->data, f->flen);
    if (withvalues) reply_bulk(c, hf_val(f), f->vlen);
}

static void reply_field_count(kv_client *c, int64_t n, bool withvalues)
{
    reply_array(c, withvalues && c->resp == 2 ? 2 * n : n);
}

static void hrandfield_count(kv_client *c, dict *h, int64_t count, bool withvalues)
{
    size_t size = dict_size(h);
    if (count < 0) { /* repetitions allowed */
        reply_field_count(c, -count, withvalues);
        for (int64_t i = 0; i < -count && !client_reply_dead(c); i++)
            reply_field(c, (const hfield *)dict_random(h), withvalues);
        return;
    }
    if ((uint64_t)count >= size) {
        reply_field_count(c, (int64_t)size, withvalues);
        dict_iter it;
        dict_iter_init(&it, h, false);
        for (dict_node *n; (n = dict_iter_next(&it));) reply_field(c, (const hfield *)n, withvalues);
        dict_iter_done(&it);
        return;
    }
    dict_node **pick = dict_random_distinct(h, (size_t)count);
    reply_field_count(c, count, withvalues);
    for (int64_t i = 0; i < count; i++) reply_field(c, (const hfield *)pick[i], withvalues);
    hfree(pick);
}

static void hrandfield_cmd(kv_client *c)
{
    dict *h;
    if (c->argc == 2) {
        if (!lookup_hash(c, 1, false, &h)) return;
        const hfield *f = h ? (const hfield *)dict_random(h) : NULL;
        if (f) reply_bulk(c, f->data, f->flen);
        else reply_null(c);
        return;
    }
    int64_t count;
    if (!arg_i64_bounded(c, 2, -INT64_MAX, INT64_MAX, &count)) return;
    bool withvalues = c->argc == 4 && arg_is(c, 3, "withvalues");
    if (c->argc > 4 || (c->argc == 4 && !withvalues)) {
        reply_syntax_error(c);
        return;
    }
    /* The reply's length, twice the count in RESP2, must fit in a long. */
    if (withvalues && (count < -INT64_MAX / 2 || count > INT64_MAX / 2)) {
        reply_error(c, "ERR value is out of range");
        return;
    }
    if (!lookup_hash(c, 1, false, &h)) return;
    if (h == NULL || count == 0) reply_array(c, 0);
    else hrandfield_count(c, h, count, withvalues);
}

kv_cmd kv_cmds_hash[] = {
    {"hset", hset_cmd, -4, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, "hash", "Creates or modifies the value of a field in a hash.", "2.0.0"},
    {"hsetnx", hsetnx_cmd, 4, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, "hash", "Sets the value of a field in a hash only when the field doesn't exist.", "2.0.0"},
    {"hmset", hmset_cmd, -4, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, "hash", "Sets the values of multiple fields.", "2.0.0"},
    {"hget", hget_cmd, 3, CMD_READONLY | CMD_FAST, 1, 1, 1, "hash", "Returns the value of a field in a hash.", "2.0.0"},
    {"hmget", hmget_cmd, -3, CMD_READONLY | CMD_FAST, 1, 1, 1, "hash", "Returns the values of all fields in a hash.", "2.0.0"},
    {"hdel", hdel_cmd, -3, CMD_WRITE | CMD_FAST, 1, 1, 1, "hash", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", "2.0.0"},
    {"hlen", hlen_cmd, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, "hash", "Returns the number of fields in a hash.", "2.0.0"},
    {"hstrlen", hstrlen_cmd, 3, CMD_READONLY | CMD_FAST, 1, 1, 1, "hash", "Returns the length of the value of a field.", "3.2.0"},
    {"hexists", hexists_cmd, 3, CMD_READONLY | CMD_FAST, 1, 1, 1, "hash", "Determines whether a field exists in a hash.", "2.0.0"},
    {"hkeys", hkeys_cmd, 2, CMD_READONLY, 1, 1, 1, "hash", "Returns all fields in a hash.", "2.0.0"},
    {"hvals", hvals_cmd, 2, CMD_READONLY, 1, 1, 1, "hash", "Returns all values in a hash.", "2.0.0"},
    {"hgetall", hgetall_cmd, 2, CMD_READONLY, 1, 1, 1, "hash", "Returns all fields and values in a hash.", "2.0.0"},
    {"hincrby", hincrby_cmd, 4, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, "hash", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", "2.0.0"},
    {"hincrbyfloat", hincrbyfloat_cmd, 4, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, "hash", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", "2.6.0"},
    {"hscan", hscan_cmd, -3, CMD_READONLY, 1, 1, 1, "hash", "Iterates over fields and values of a hash.", "2.8.0"},
    {"hrandfield", hrandfield_cmd, -2, CMD_READONLY, 1, 1, 1, "hash", "Returns one or more random fields from a hash.", "6.2.0"},
    {NULL},
};
