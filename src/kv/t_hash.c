/* t_hash.c — hash commands (HSET family, counters, HSCAN, HRANDFIELD); the value is a dict of fields. */
#include "cmd.h"
#include "types.h"
#include "../common/limits.h"
#include "../common/mem.h"
#include "../common/util.h"

#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
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

/* Exact below 64 fields; above, the first 64 in bucket order (a hash-random
 * sample) scaled up, as MEMORY USAGE samples in Redis. */
static size_t hash_mem(const void *obj)
{
    dict *h = (dict *)obj;
    size_t size = dict_size(h), seen = 0, bytes = 0;
    dict_iter it;
    dict_iter_init(&it, h, false);
    for (dict_node *n; seen < 64 && (n = dict_iter_next(&it)); seen++) bytes += hmem_usable(n);
    dict_iter_done(&it);
    if (seen) bytes = (size_t)((double)bytes / (double)seen * (double)size);
    return sizeof(*h) + dict_mem(h) + bytes;
}

const kv_type_ops thash_ops = {hash_free, hash_dup, hash_len, hash_rewrite, hash_mem};

/* ---- command helpers ---- */

/* The hash at argv[i] in *out (NULL when absent). Replies WRONGTYPE and
 * returns false when the key holds another type. */
static bool lookup_hash(kv_client *c, int i, bool write, dict **out)
{
    kv_db *db = &c->srv->db;
    kv_entry *e = write ? db_lookup_write(db, KEY(i)) : db_lookup_read(db, KEY(i));
    *out = NULL;
    if (e == NULL) return true;
    if (entry_type(e) != KV_HASH) {
        reply_wrongtype(c);
        return false;
    }
    *out = entry_obj(e);
    return true;
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

/* True when nothing more this command writes can reach the client, so a
 * long reply loop (HRANDFIELD -huge) may stop early. */
static bool reply_dead(kv_client *c)
{
    return client_closing(c) || (c->flags & (CLIENT_NO_REPLY | CLIENT_FAKE));
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

/* Parse a SCAN cursor as Redis does (strtoul: optional sign, decimal,
 * a negative value wraps); false on anything else or overflow. */
static bool parse_cursor(const char *s, size_t len, uint64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (len && (s[0] == '-' || s[0] == '+')) neg = s[i++] == '-';
    if (i == len) return false;
    uint64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = neg ? 0 - v : v;
    return true;
}

typedef struct scan_opts {
    int64_t count;
    const char *pat; /* NULL: every element */
    size_t plen;
} scan_opts;

/* MATCH and COUNT from argv[first..]; replies and returns false on error. */
static bool parse_scan_opts(kv_client *c, int first, scan_opts *o)
{
    o->count = 10;
    o->pat = NULL;
    o->plen = 0;
    for (int i = first; i < c->argc; i += 2) {
        if (i + 1 >= c->argc) {
            reply_syntax_error(c);
            return false;
        }
        if (arg_is(c, i, "count")) {
            if (!arg_i64(c, i + 1, &o->count)) return false;
            if (o->count < 1) {
                reply_syntax_error(c);
                return false;
            }
            if (o->count > HALO_MAX_SCAN_COUNT) o->count = HALO_MAX_SCAN_COUNT;
        } else if (arg_is(c, i, "match")) {
            bool all = c->argv[i + 1].len == 1 && c->argv[i + 1].ptr[0] == '*';
            o->pat = all ? NULL : c->argv[i + 1].ptr;
            o->plen = c->argv[i + 1].len;
        } else {
            reply_syntax_error(c);
            return false;
        }
    }
    return true;
}

typedef struct node_vec {
    dict_node **v;
    size_t n, cap;
} node_vec;

static void collect_node(dict_node *n, void *priv)
{
    node_vec *nv = priv;
    if (nv->n == nv->cap) {
        nv->cap = nv->cap ? nv->cap * 2 : 16;
        nv->v = hrealloc(nv->v, nv->cap * sizeof(*nv->v));
    }
    nv->v[nv->n++] = n;
}

/* Reply [next-cursor, [field, value, ...]] for one bounded step: at most
 * 10 * COUNT buckets are visited, so one call's work is bounded by COUNT. */
static void hscan_reply(kv_client *c, dict *h, uint64_t cursor, const scan_opts *o)
{
    node_vec nv = {0};
    int64_t buckets = o->count * 10;
    do {
        cursor = dict_scan(h, cursor, collect_node, &nv);
    } while (cursor && buckets-- && nv.n < (size_t)o->count);
    char num[24];
    int len = snprintf(num, sizeof(num), "%" PRIu64, cursor);
    reply_array(c, 2);
    reply_bulk(c, num, (size_t)len);
    void *slot = reply_deferred_len(c);
    int64_t out = 0;
    for (size_t i = 0; i < nv.n; i++) {
        const hfield *f = (const hfield *)nv.v[i];
        if (o->pat && !glob_match(o->pat, o->plen, f->data, f->flen, false)) continue;
        reply_bulk(c, f->data, f->flen);
        reply_bulk(c, hf_val(f), f->vlen);
        out += 2;
    }
    reply_set_deferred_array(c, slot, out);
    hfree(nv.v);
}

static void hscan_cmd(kv_client *c)
{
    uint64_t cursor;
    if (!parse_cursor(ARG(2), &cursor)) {
        reply_error(c, "ERR invalid cursor");
        return;
    }
    /* As Redis: the key is checked before the options. */
    dict *h;
    if (!lookup_hash(c, 1, false, &h)) return;
    scan_opts o;
    if (h == NULL) {
        reply_array(c, 2);
        reply_bulk(c, "0", 1);
        reply_array(c, 0);
        return;
    }
    if (parse_scan_opts(c, 3, &o)) hscan_reply(c, h, cursor, &o);
}

/* ---- HRANDFIELD ---- */

static size_t ptr_slot(const void *p, size_t mask)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x & mask;
}

/* count distinct nodes of d chosen at random (0 < count < dict_size(d)), in
 * a new array the caller frees. A large share is a partial shuffle of all
 * nodes; a small one is rejection sampling, which then needs at most about
 * 1.5 draws per node. */
static dict_node **random_distinct(dict *d, size_t count)
{
    size_t size = dict_size(d);
    if (count * 3 > size) {
        node_vec all = {hmalloc(size * sizeof(dict_node *)), 0, size};
        dict_iter it;
        dict_iter_init(&it, d, false);
        for (dict_node *n; (n = dict_iter_next(&it));) all.v[all.n++] = n;
        dict_iter_done(&it);
        for (size_t i = 0; i < count; i++) {
            size_t j = i + (size_t)(rand_u64() % (all.n - i));
            dict_node *t = all.v[i];
            all.v[i] = all.v[j];
            all.v[j] = t;
        }
        return all.v;
    }
    size_t cap = 8;
    while (cap < count * 2) cap <<= 1;
    dict_node **seen = hcalloc(cap, sizeof(*seen)), **out = hmalloc(count * sizeof(*out));
    for (size_t got = 0; got < count;) {
        dict_node *n = dict_random(d);
        size_t k = ptr_slot(n, cap - 1);
        while (seen[k] && seen[k] != n) k = (k + 1) & (cap - 1);
        if (seen[k]) continue;
        seen[k] = out[got++] = n;
    }
    hfree(seen);
    return out;
}

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
        for (int64_t i = 0; i < -count && !reply_dead(c); i++)
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
    dict_node **pick = random_distinct(h, (size_t)count);
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
    if (!arg_i64(c, 2, &count)) return;
    if (count == INT64_MIN) {
        reply_error(c, "ERR value is out of range, value must between -9223372036854775807 and "
                       "9223372036854775807");
        return;
    }
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
