/* t_zset.c — sorted-set commands: ZADD family, ranges by rank/score/lex, pops (blocking too), set algebra, ZSCAN. */
#include "cmd.h"
#include "scan.h"
#include "subsys.h"
#include "types.h"
#include "../ds/zskiplist.h"
#include "../common/limits.h"
#include "../common/mem.h"
#include "../common/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The value of a KV_ZSET key is a zskiplist (src/ds/zskiplist.h): one
 * allocation per member, linked both in score order and in a member dict.
 * An empty sorted set is never stored: whatever removes the last member
 * deletes the key. */

#define KEY(i) c->argv[i].ptr, c->argv[i].len

/* Members come from arguments, bounded by proto-max-bulk-len (at most
 * 2 * HALO_MAX_STRING_LEN), so they fit the node's 32-bit length. */
_Static_assert(HALO_MAX_STRING_LEN * 2 <= UINT32_MAX, "member lengths must fit uint32_t");

/* AOF rewrite emits at most this many score-member pairs per ZADD. */
#define ZSET_REWRITE_BATCH 64

/* ---- lookups and bookkeeping ---- */

static zskiplist *zset_at(kv_client *c, const char *key, size_t klen, bool write, bool *wrong)
{
    kv_entry *e = db_lookup_typed(&c->srv->db, key, klen, write, KV_ZSET, wrong);
    return e ? entry_obj(e) : NULL;
}

/* The sorted set at argv[i] in *out (NULL when absent). Replies WRONGTYPE
 * and returns false when the key holds another type. */
static bool zset_arg(kv_client *c, int i, bool write, zskiplist **out)
{
    kv_entry *e;
    bool ok = arg_key_typed(c, i, write, KV_ZSET, &e);
    *out = e ? entry_obj(e) : NULL;
    return ok;
}

static void touched(kv_client *c, const char *key, size_t klen, uint64_t changes)
{
    db_signal_modified(&c->srv->db, key, klen);
    c->srv->dirty += changes;
}

/* After removals: an emptied set takes its key with it. */
static void drop_if_empty(kv_client *c, const char *key, size_t klen, zskiplist *z)
{
    if (zsl_len(z) == 0) db_delete(&c->srv->db, key, klen);
    else dict_maybe_shrink(&z->members);
}

/* Stored scores are never -0: Redis stores small sets in a listpack, which
 * keeps -0 as the integer 0, so ZADD z -0 m; ZSCORE z m replies "0". Only
 * computed replies (ZUNION & co) show "-0", as Redis's do. Setting the
 * score in place is safe: -0 and 0 compare equal, the order is unchanged. */
static void canonical_zeros(zskiplist *z)
{
    for (zsl_node *x = zsl_first(z); x; x = zsl_next(x))
        if (x->score == 0) x->score = 0.0;
}

/* Replace whatever dst holds with z (ownership passes), or delete dst when z
 * is empty; reply the new cardinality, as every *STORE command does. */
static void store_result(kv_client *c, int dst, zskiplist *z)
{
    kv_db *db = &c->srv->db;
    size_t n = zsl_len(z);
    canonical_zeros(z);
    bool existed = db_lookup_write(db, KEY(dst)) != NULL;
    if (existed) db_delete(db, KEY(dst));
    if (n) db_add_object(db, KEY(dst), KV_ZSET, z);
    else zsl_free(z);
    if (n || existed) touched(c, KEY(dst), 1);
    reply_int(c, (int64_t)n);
}

static void reply_member(kv_client *c, const zsl_node *x) { reply_bulk(c, zsl_member(x), x->mlen); }

/* One element of a reply: the member, and its score when asked; RESP3 nests
 * each pair in an array (as Redis 7 does), RESP2 keeps them flat. */
static void reply_element(kv_client *c, const zsl_node *x, bool withscores)
{
    if (withscores && c->resp == 3) reply_array(c, 2);
    reply_member(c, x);
    if (withscores) reply_double(c, x->score);
}

/* Array header for n elements as reply_element writes them. */
static int64_t elements_len(kv_client *c, int64_t n, bool withscores)
{
    return withscores && c->resp == 2 ? n * 2 : n;
}

/* ---- argument parsing ---- */

/* strtod over the whole argument, as Redis parses range ends: leading
 * spaces and "inf" are accepted, NaN is not; an empty string is 0. */
static bool parse_strtod(const char *p, size_t len, double *out)
{
    char stack[128];
    char *s = len < sizeof(stack) ? stack : hmalloc(len + 1);
    if (len) memcpy(s, p, len);
    s[len] = '\0';
    char *end;
    *out = strtod(s, &end);
    bool ok = *end == '\0' && !isnan(*out);
    if (s != stack) hfree(s);
    return ok;
}

/* "1.5", "(1.5", "-inf", "+inf": one end of a score interval. */
static bool parse_score_bound(const resp_arg *a, double *v, bool *ex)
{
    *ex = a->len > 0 && a->ptr[0] == '(';
    return *ex ? parse_strtod(a->ptr + 1, a->len - 1, v) : parse_strtod(a->ptr, a->len, v);
}

/* Parse [min, max] from argv; replies the Redis error on failure. */
static bool arg_score_range(kv_client *c, int min, int max, zsl_range *r)
{
    if (parse_score_bound(&c->argv[min], &r->min, &r->minex) &&
        parse_score_bound(&c->argv[max], &r->max, &r->maxex))
        return true;
    reply_error(c, "ERR min or max is not a float");
    return false;
}

/* "-", "+", "[value" or "(value": one end of a lex interval (borrows argv). */
static bool parse_lex_bound(const resp_arg *a, zsl_lex_bound *b)
{
    if (a->len == 0) return false;
    *b = (zsl_lex_bound){a->ptr + 1, a->len - 1, 0, true};
    switch (a->ptr[0]) {
    case '+': b->inf = 1; return a->len == 1;
    case '-': b->inf = -1; return a->len == 1;
    case '(': return true;
    case '[': b->ex = false; return true;
    default: return false;
    }
}

static bool arg_lex_range(kv_client *c, int min, int max, zsl_lex_range *r)
{
    if (parse_lex_bound(&c->argv[min], &r->min) && parse_lex_bound(&c->argv[max], &r->max))
        return true;
    reply_error(c, "ERR min or max not valid string range item");
    return false;
}

/* ---- ZADD / ZINCRBY ---- */

enum { ZADD_NX = 1, ZADD_XX = 2, ZADD_GT = 4, ZADD_LT = 8, ZADD_CH = 16, ZADD_INCR = 32 };
enum zadd_out { ZADD_ADDED, ZADD_UPDATED, ZADD_SAME, ZADD_NOP, ZADD_NAN };

/* Redis's zsetAdd: add or update one member under the flags; *score is the
 * input and, when processed, the member's resulting score. */
static enum zadd_out zadd_one(zskiplist *z, unsigned flags, double *score, const char *m, size_t len)
{
    zsl_node *x = zsl_find(z, m, len);
    if (x == NULL) {
        if (flags & ZADD_XX) return ZADD_NOP;
        zsl_insert(z, *score, m, len);
        return ZADD_ADDED;
    }
    if (flags & ZADD_NX) return ZADD_NOP;
    double s = *score;
    if (flags & ZADD_INCR) {
        s += x->score;
        if (isnan(s)) return ZADD_NAN;
    }
    if (((flags & ZADD_LT) && s >= x->score) || ((flags & ZADD_GT) && s <= x->score)) return ZADD_NOP;
    *score = s;
    if (s == x->score) return ZADD_SAME;
    zsl_update_score(z, x, s);
    return ZADD_UPDATED;
}

/* Options from argv[2] on; returns the index of the first score. */
static int zadd_flags(kv_client *c, unsigned *flags)
{
    static const struct { const char *name; unsigned flag; } opts[] = {
        {"nx", ZADD_NX}, {"xx", ZADD_XX}, {"gt", ZADD_GT}, {"lt", ZADD_LT}, {"ch", ZADD_CH},
        {"incr", ZADD_INCR}};
    int i = 2;
    for (; i < c->argc; i++) {
        size_t k = 0;
        while (k < sizeof(opts) / sizeof(opts[0]) && !arg_is(c, i, opts[k].name)) k++;
        if (k == sizeof(opts) / sizeof(opts[0])) break;
        *flags |= opts[k].flag;
    }
    return i;
}

static bool zadd_check_flags(kv_client *c, unsigned flags, int pairs)
{
    if ((flags & ZADD_NX) && (flags & ZADD_XX)) {
        reply_error(c, "ERR XX and NX options at the same time are not compatible");
        return false;
    }
    if (((flags & (ZADD_GT | ZADD_LT)) && (flags & ZADD_NX)) || ((flags & ZADD_GT) && (flags & ZADD_LT))) {
        reply_error(c, "ERR GT, LT, and/or NX options at the same time are not compatible");
        return false;
    }
    if ((flags & ZADD_INCR) && pairs > 1) {
        reply_error(c, "ERR INCR option supports a single increment-element pair");
        return false;
    }
    return true;
}

typedef struct zadd_result {
    int64_t added, updated;
    bool processed; /* the last pair was applied (INCR replies its score) */
    bool nan;       /* INCR produced NaN: nothing was changed */
} zadd_result;

static void zadd_reply(kv_client *c, unsigned flags, const zadd_result *res, double score)
{
    if (res->nan) reply_error(c, "ERR resulting score is not a number (NaN)");
    else if (!(flags & ZADD_INCR)) reply_int(c, res->added + ((flags & ZADD_CH) ? res->updated : 0));
    else if (res->processed) reply_double(c, score);
    else reply_null(c);
}

/* The scores of the pairs from argv[first] on, all validated before
 * anything changes; NULL after replying the error. Caller frees. */
static double *zadd_scores(kv_client *c, int first, int pairs)
{
    double *scores = hmalloc((size_t)pairs * sizeof(double));
    for (int p = 0; p < pairs; p++) {
        if (!arg_double(c, first + 2 * p, &scores[p])) {
            hfree(scores);
            return NULL;
        }
        if (scores[p] == 0) scores[p] = 0.0; /* -0 is stored, and so replied, as 0 */
    }
    return scores;
}

static void zadd_apply(kv_client *c, zskiplist *z, unsigned flags, int first, int pairs, double *scores,
                       zadd_result *res)
{
    for (int p = 0; p < pairs; p++) {
        enum zadd_out r = zadd_one(z, flags, &scores[p], KEY(first + 2 * p + 1));
        res->nan = r == ZADD_NAN; /* only with INCR, a single pair */
        res->added += r == ZADD_ADDED;
        res->updated += r == ZADD_UPDATED;
        res->processed = r != ZADD_NOP && r != ZADD_NAN;
    }
}

/* ZADD and ZINCRBY (flags = ZADD_INCR). Propagated as given: with INCR the
 * result only depends on the state, so replicas compute the same score. */
static void zadd_generic(kv_client *c, unsigned flags)
{
    int first = zadd_flags(c, &flags), elements = c->argc - first;
    if (elements == 0 || elements % 2) {
        reply_syntax_error(c);
        return;
    }
    int pairs = elements / 2;
    double *scores;
    zskiplist *z;
    if (!zadd_check_flags(c, flags, pairs) || (scores = zadd_scores(c, first, pairs)) == NULL) return;
    zadd_result res = {0};
    if (!zset_arg(c, 1, true, &z)) goto out;
    bool created = z == NULL && !(flags & ZADD_XX); /* XX never creates the key */
    if (created) z = zsl_new();
    if (z) zadd_apply(c, z, flags, first, pairs, scores, &res);
    zadd_reply(c, flags, &res, scores[0]);
    if (created && zsl_len(z)) db_add_object(&c->srv->db, KEY(1), KV_ZSET, z);
    else if (created) zsl_free(z);
    if (res.added + res.updated) touched(c, KEY(1), (uint64_t)(res.added + res.updated));
out:
    hfree(scores);
}

static void zadd_cmd(kv_client *c) { zadd_generic(c, 0); }
static void zincrby_cmd(kv_client *c) { zadd_generic(c, ZADD_INCR); }

/* ---- single-member commands ---- */

static void zrem_cmd(kv_client *c)
{
    zskiplist *z;
    if (!zset_arg(c, 1, true, &z)) return;
    int64_t deleted = 0;
    for (int i = 2; z && i < c->argc && zsl_len(z); i++) deleted += zsl_delete(z, KEY(i));
    if (deleted) {
        drop_if_empty(c, KEY(1), z);
        touched(c, KEY(1), (uint64_t)deleted);
    }
    reply_int(c, deleted);
}

static void zcard_cmd(kv_client *c)
{
    zskiplist *z;
    if (zset_arg(c, 1, false, &z)) reply_int(c, z ? (int64_t)zsl_len(z) : 0);
}

static void zscore_cmd(kv_client *c)
{
    zskiplist *z;
    if (!zset_arg(c, 1, false, &z)) return;
    zsl_node *x = z ? zsl_find(z, KEY(2)) : NULL;
    if (x) reply_double(c, x->score);
    else reply_null(c);
}

static void zmscore_cmd(kv_client *c)
{
    zskiplist *z;
    if (!zset_arg(c, 1, false, &z)) return;
    reply_array(c, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        zsl_node *x = z ? zsl_find(z, KEY(i)) : NULL;
        if (x) reply_double(c, x->score);
        else reply_null(c);
    }
}

static void zrank_generic(kv_client *c, bool rev)
{
    zskiplist *z;
    if (!zset_arg(c, 1, false, &z)) return;
    zsl_node *x = z ? zsl_find(z, KEY(2)) : NULL;
    if (x == NULL) {
        reply_null(c);
        return;
    }
    size_t rank = zsl_rank(z, x);
    reply_int(c, (int64_t)(rev ? zsl_len(z) - rank : rank - 1));
}

static void zrank_cmd(kv_client *c) { zrank_generic(c, false); }
static void zrevrank_cmd(kv_client *c) { zrank_generic(c, true); }

/* Nodes from first to last inclusive (both in z, in order), by rank. */
static int64_t count_between(const zskiplist *z, const zsl_node *first, const zsl_node *last)
{
    if (first == NULL || last == NULL) return 0;
    return (int64_t)zsl_rank(z, last) - (int64_t)zsl_rank(z, first) + 1;
}

static void zcount_cmd(kv_client *c)
{
    zsl_range r;
    zskiplist *z;
    if (!arg_score_range(c, 2, 3, &r) || !zset_arg(c, 1, false, &z)) return;
    reply_int(c, z ? count_between(z, zsl_first_in_range(z, &r), zsl_last_in_range(z, &r)) : 0);
}

static void zlexcount_cmd(kv_client *c)
{
    zsl_lex_range r;
    zskiplist *z;
    if (!arg_lex_range(c, 2, 3, &r) || !zset_arg(c, 1, false, &z)) return;
    reply_int(c, z ? count_between(z, zsl_first_in_lex(z, &r), zsl_last_in_lex(z, &r)) : 0);
}

/* ---- ZRANGE family ---- */

/* Where a range's elements go: the client, or a new set for ZRANGESTORE. */
typedef struct zsink {
    kv_client *c;
    zskiplist *dst;
    bool withscores;
    void *slot; /* deferred array length when the count is not known up front */
    int64_t n;
} zsink;

static void sink_begin(zsink *s, int64_t known)
{
    if (s->dst) return;
    if (known >= 0) reply_array(s->c, elements_len(s->c, known, s->withscores));
    else s->slot = reply_deferred_len(s->c);
}

static void sink_emit(zsink *s, const zsl_node *x)
{
    s->n++;
    if (s->dst) zsl_insert(s->dst, x->score, zsl_member(x), x->mlen);
    else reply_element(s->c, x, s->withscores);
}

static void sink_end(zsink *s)
{
    if (s->dst == NULL && s->slot)
        reply_set_deferred_array(s->c, s->slot, elements_len(s->c, s->n, s->withscores));
}

enum zrange_type { ZR_AUTO, ZR_RANK, ZR_SCORE, ZR_LEX };
enum zrange_dir { ZD_AUTO, ZD_FWD, ZD_REV };

typedef struct zrange_opts {
    int key, min, max;     /* argv indexes; min/max already swapped for REV by score/lex */
    enum zrange_type type;
    bool rev, withscores;
    int64_t offset, limit; /* LIMIT; limit -1 = none */
    int64_t start, end;    /* by rank */
    zsl_range score;
    zsl_lex_range lex;
} zrange_opts;

/* Redis's index rules: negative counts from the end, clamped to the set;
 * false when the range is empty, else 0-based inclusive *start..*end. */
static bool rank_range(int64_t len, int64_t *start, int64_t *end)
{
    if (*start < 0) *start += len;
    if (*end < 0) *end += len;
    if (*start < 0) *start = 0;
    if (*start > *end || *start >= len) return false;
    if (*end >= len) *end = len - 1;
    return true;
}

static void range_by_rank(zsink *s, zskiplist *z, const zrange_opts *o)
{
    int64_t len = (int64_t)zsl_len(z), start = o->start, end = o->end;
    if (!rank_range(len, &start, &end)) {
        sink_begin(s, 0);
        return;
    }
    int64_t n = end - start + 1;
    sink_begin(s, n);
    zsl_node *x = zsl_by_rank(z, (size_t)(o->rev ? len - start : start + 1));
    for (; n-- > 0 && x; x = o->rev ? zsl_prev(x) : zsl_next(x)) sink_emit(s, x);
}

/* The node `offset` places after x in the walking direction, or NULL. */
static zsl_node *skip_nodes(const zskiplist *z, zsl_node *x, int64_t offset, bool rev)
{
    if (x == NULL || offset == 0) return x;
    /* Redis walks `while (ln && offset--)`: a negative offset skips everything. */
    if (offset < 0) return NULL;
    int64_t rank = (int64_t)zsl_rank(z, x) + (rev ? -offset : offset);
    return rank < 1 ? NULL : zsl_by_rank(z, (size_t)rank);
}

/* BYSCORE and BYLEX share the walk: first node, skip offset, emit while in range. */
static void range_by_bound(zsink *s, zskiplist *z, const zrange_opts *o)
{
    sink_begin(s, -1);
    bool lex = o->type == ZR_LEX;
    zsl_node *x = NULL;
    bool past_end = o->offset > 0 && o->offset >= (int64_t)zsl_len(z);
    if (past_end) x = NULL;
    else if (lex) x = o->rev ? zsl_last_in_lex(z, &o->lex) : zsl_first_in_lex(z, &o->lex);
    else x = o->rev ? zsl_last_in_range(z, &o->score) : zsl_first_in_range(z, &o->score);
    x = skip_nodes(z, x, o->offset, o->rev);
    for (int64_t left = o->limit; x && left != 0; left--) {
        bool in;
        if (lex) in = o->rev ? zsl_lex_gte_min(x, &o->lex) : zsl_lex_lte_max(x, &o->lex);
        else in = o->rev ? zsl_score_gte_min(x->score, &o->score) : zsl_score_lte_max(x->score, &o->score);
        if (!in) break;
        sink_emit(s, x);
        x = o->rev ? zsl_prev(x) : zsl_next(x);
    }
    sink_end(s);
}

/* Options after <key> <min> <max>, as Redis's zrangeGenericCommand parses
 * them; the fixed-form commands (ZRANGEBYSCORE...) preset type/dir. */
static bool zrange_parse_opts(kv_client *c, bool store, zrange_opts *o, enum zrange_dir *dir)
{
    for (int j = o->key + 3; j < c->argc; j++) {
        int left = c->argc - j - 1;
        if (!store && arg_is(c, j, "withscores")) {
            o->withscores = true;
        } else if (arg_is(c, j, "limit") && left >= 2) {
            if (!arg_i64(c, j + 1, &o->offset) || !arg_i64(c, j + 2, &o->limit)) return false;
            j += 2;
        } else if (*dir == ZD_AUTO && arg_is(c, j, "rev")) {
            *dir = ZD_REV;
        } else if (o->type == ZR_AUTO && arg_is(c, j, "bylex")) {
            o->type = ZR_LEX;
        } else if (o->type == ZR_AUTO && arg_is(c, j, "byscore")) {
            o->type = ZR_SCORE;
        } else {
            reply_syntax_error(c);
            return false;
        }
    }
    return true;
}

static bool zrange_parse(kv_client *c, int key, bool store, zrange_opts *o, enum zrange_dir dir)
{
    o->key = key;
    o->min = key + 1;
    o->max = key + 2;
    o->offset = 0;
    o->limit = -1;
    if (!zrange_parse_opts(c, store, o, &dir)) return false;
    o->rev = dir == ZD_REV;
    if (o->type == ZR_AUTO) o->type = ZR_RANK;
    if (o->limit != -1 && o->type == ZR_RANK) {
        reply_error(c, "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
        return false;
    }
    if (o->withscores && o->type == ZR_LEX) {
        reply_error(c, "ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return false;
    }
    if (o->rev && o->type != ZR_RANK) { /* the range is given as max, min */
        o->min = key + 2;
        o->max = key + 1;
    }
    switch (o->type) {
    case ZR_SCORE: return arg_score_range(c, o->min, o->max, &o->score);
    case ZR_LEX: return arg_lex_range(c, o->min, o->max, &o->lex);
    default: return arg_i64(c, o->min, &o->start) && arg_i64(c, o->max, &o->end);
    }
}

/* ZRANGE and its fixed forms; with store, ZRANGESTORE dst src ... */
static void zrange_generic(kv_client *c, int key, bool store, enum zrange_type type, enum zrange_dir dir)
{
    zrange_opts o = {.type = type};
    zskiplist *z;
    if (!zrange_parse(c, key, store, &o, dir) || !zset_arg(c, key, false, &z)) return;
    zsink s = {.c = c, .dst = store ? zsl_new() : NULL, .withscores = o.withscores};
    if (z == NULL) sink_begin(&s, 0);
    else if (o.type == ZR_RANK) range_by_rank(&s, z, &o);
    else range_by_bound(&s, z, &o);
    if (store) store_result(c, 1, s.dst);
}

static void zrange_cmd(kv_client *c) { zrange_generic(c, 1, false, ZR_AUTO, ZD_AUTO); }
static void zrangestore_cmd(kv_client *c) { zrange_generic(c, 2, true, ZR_AUTO, ZD_AUTO); }
static void zrevrange_cmd(kv_client *c) { zrange_generic(c, 1, false, ZR_RANK, ZD_REV); }
static void zrangebyscore_cmd(kv_client *c) { zrange_generic(c, 1, false, ZR_SCORE, ZD_FWD); }
static void zrevrangebyscore_cmd(kv_client *c) { zrange_generic(c, 1, false, ZR_SCORE, ZD_REV); }
static void zrangebylex_cmd(kv_client *c) { zrange_generic(c, 1, false, ZR_LEX, ZD_FWD); }
static void zrevrangebylex_cmd(kv_client *c) { zrange_generic(c, 1, false, ZR_LEX, ZD_REV); }

/* ---- ZREMRANGEBY* ---- */

static void zremrange_generic(kv_client *c, enum zrange_type type)
{
    zrange_opts o = {.type = type};
    bool ok = type == ZR_SCORE ? arg_score_range(c, 2, 3, &o.score)
              : type == ZR_LEX ? arg_lex_range(c, 2, 3, &o.lex)
                               : arg_i64(c, 2, &o.start) && arg_i64(c, 3, &o.end);
    zskiplist *z;
    if (!ok || !zset_arg(c, 1, true, &z)) return;
    size_t deleted = 0;
    if (z && type == ZR_SCORE) {
        deleted = zsl_delete_range_by_score(z, &o.score);
    } else if (z && type == ZR_LEX) {
        deleted = zsl_delete_range_by_lex(z, &o.lex);
    } else if (z && rank_range((int64_t)zsl_len(z), &o.start, &o.end)) {
        deleted = zsl_delete_range_by_rank(z, (size_t)o.start + 1, (size_t)o.end + 1);
    }
    if (deleted) {
        drop_if_empty(c, KEY(1), z);
        touched(c, KEY(1), deleted);
    }
    reply_int(c, (int64_t)deleted);
}

static void zremrangebyscore_cmd(kv_client *c) { zremrange_generic(c, ZR_SCORE); }
static void zremrangebylex_cmd(kv_client *c) { zremrange_generic(c, ZR_LEX); }
static void zremrangebyrank_cmd(kv_client *c) { zremrange_generic(c, ZR_RANK); }

/* ---- pops ---- */

/* Pop up to count (>= 1) elements from the min or max end of the set at key
 * and reply them (nested [member, score] pairs or flat); the caller wrote
 * the array header for the returned count. Deletes an emptied key. */
static void pop_reply(kv_client *c, const char *key, size_t klen, zskiplist *z, bool max, int64_t n,
                      bool nested)
{
    for (int64_t i = 0; i < n; i++) {
        zsl_node *x = max ? zsl_last(z) : zsl_first(z);
        if (nested) reply_array(c, 2);
        reply_member(c, x);
        reply_double(c, x->score);
        zsl_delete_node(z, x);
    }
    drop_if_empty(c, key, klen, z);
    touched(c, key, klen, (uint64_t)n);
}

static int64_t pop_count(const zskiplist *z, int64_t count)
{
    return count < (int64_t)zsl_len(z) ? count : (int64_t)zsl_len(z);
}

/* ZPOPMIN/ZPOPMAX key [count]; propagated as given (deterministic). */
static void zpop_generic(kv_client *c, bool max)
{
    if (c->argc > 3) {
        reply_syntax_error(c);
        return;
    }
    int64_t count = 1;
    if (c->argc == 3 && !arg_i64_min(c, 2, 0, &count, "ERR value is out of range, must be positive")) return;
    zskiplist *z;
    if (!zset_arg(c, 1, true, &z)) return;
    if (z == NULL || count == 0) {
        reply_array(c, 0);
        return;
    }
    /* RESP3 nests pairs only when a count was given. */
    bool nested = c->resp == 3 && c->argc == 3;
    int64_t n = pop_count(z, count);
    reply_array(c, nested ? n : n * 2);
    pop_reply(c, KEY(1), z, max, n, nested);
}

static void zpopmin_cmd(kv_client *c) { zpop_generic(c, false); }
static void zpopmax_cmd(kv_client *c) { zpop_generic(c, true); }

/* Replicas and the AOF see what a pop did as ZPOPMIN/ZPOPMAX key count. */
static void propagate_pop(kv_client *c, const char *key, size_t klen, bool max, int64_t count, bool append)
{
    char tmp[24];
    int n = i64_to_str(tmp, sizeof(tmp), count);
    resp_arg argv[3] = {{max ? "ZPOPMAX" : "ZPOPMIN", 7}, {key, klen}, {tmp, (size_t)n}};
    if (append) prop_append(c->srv, 3, argv);
    else prop_replace(c, 3, argv);
}

typedef struct zmpop_args {
    int first_key, nkeys;
    bool max;
    int64_t count;
} zmpop_args;

/* numkeys key [key ...] MIN|MAX [COUNT count] from argv[idx]. */
static bool zmpop_parse(kv_client *c, int idx, zmpop_args *a)
{
    int64_t nkeys;
    if (!arg_i64_min(c, idx, 1, &nkeys, "ERR numkeys should be greater than 0")) return false;
    if (nkeys > c->argc - idx - 2) {
        reply_syntax_error(c);
        return false;
    }
    a->first_key = idx + 1;
    a->nkeys = (int)nkeys;
    int where = idx + 1 + a->nkeys;
    a->max = arg_is(c, where, "max");
    if (!a->max && !arg_is(c, where, "min")) {
        reply_syntax_error(c);
        return false;
    }
    a->count = -1;
    for (int j = where + 1; j < c->argc; j++) {
        if (a->count != -1 || !arg_is(c, j, "count") || j + 1 >= c->argc) {
            reply_syntax_error(c);
            return false;
        }
        if (!arg_i64_min(c, ++j, 1, &a->count, "ERR count should be greater than 0")) return false;
    }
    if (a->count == -1) a->count = 1;
    return true;
}

/* The first key of keys[0..n) holding a sorted set, -1 when none does, -2
 * (after replying WRONGTYPE) when an earlier existing key is another type. */
static int first_zset_key(kv_client *c, int first, int n, zskiplist **out)
{
    for (int i = first; i < first + n; i++) {
        if (!zset_arg(c, i, true, out)) return -2;
        if (*out) return i;
    }
    return -1;
}

/* [key, [[member, score], ...]] as ZMPOP/BZMPOP reply. */
static void mpop_reply(kv_client *c, const char *key, size_t klen, zskiplist *z, const zmpop_args *a)
{
    int64_t n = pop_count(z, a->count);
    reply_array(c, 2);
    reply_bulk(c, key, klen);
    reply_array(c, n);
    pop_reply(c, key, klen, z, a->max, n, true);
}

/* Try to serve ZMPOP/BZMPOP now; false when no key has elements (and no
 * error was replied). */
static bool zmpop_try(kv_client *c, const zmpop_args *a, bool *replied)
{
    zskiplist *z;
    int i = first_zset_key(c, a->first_key, a->nkeys, &z);
    *replied = i != -1;
    if (i < 0) return false;
    mpop_reply(c, KEY(i), z, a);
    propagate_pop(c, KEY(i), a->max, a->count, false);
    return true;
}

static void zmpop_cmd(kv_client *c)
{
    zmpop_args a;
    bool replied;
    if (zmpop_parse(c, 1, &a) && !zmpop_try(c, &a, &replied) && !replied) reply_null_array(c);
}

/* BZPOPMIN/BZPOPMAX reply: [key, member, score]. */
static void bzpop_reply(kv_client *c, const char *key, size_t klen, zskiplist *z, bool max)
{
    reply_array(c, 3);
    reply_bulk(c, key, klen);
    pop_reply(c, key, klen, z, max, 1, false);
}

/* block.c's serve callback for BZPOPMIN/BZPOPMAX/BZMPOP: c->argv is the
 * blocking command (validated when it blocked); key has just been written. */
static bool serve_zset(kv_client *c, const char *key, size_t klen)
{
    bool wrong;
    zskiplist *z = zset_at(c, key, klen, true, &wrong);
    if (z == NULL || zsl_len(z) == 0) return false;
    if (arg_is(c, 0, "bzmpop")) {
        zmpop_args a;
        if (!zmpop_parse(c, 2, &a)) return true; /* cannot happen: parsed before blocking */
        mpop_reply(c, key, klen, z, &a);
        propagate_pop(c, key, klen, a.max, a.count, true);
        return true;
    }
    bool max = arg_is(c, 0, "bzpopmax");
    bzpop_reply(c, key, klen, z, max);
    propagate_pop(c, key, klen, max, 1, true);
    return true;
}

static void bzpop_generic(kv_client *c, bool max)
{
    int64_t timeout;
    if (!arg_timeout_ms(c, c->argc - 1, &timeout)) return;
    zskiplist *z;
    int i = first_zset_key(c, 1, c->argc - 2, &z);
    if (i == -2) return;
    if (i >= 0) {
        bzpop_reply(c, KEY(i), z, max);
        propagate_pop(c, KEY(i), max, 1, false);
    } else if (client_cannot_block(c)) {
        reply_null_array(c);
    } else {
        block_for_keys(c, &c->argv[1], c->argc - 2, timeout, serve_zset);
    }
}

static void bzpopmin_cmd(kv_client *c) { bzpop_generic(c, false); }
static void bzpopmax_cmd(kv_client *c) { bzpop_generic(c, true); }

/* BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]: Redis checks
 * numkeys, MIN|MAX and COUNT before the timeout. */
static void bzmpop_cmd(kv_client *c)
{
    zmpop_args a;
    int64_t timeout;
    bool replied;
    if (!zmpop_parse(c, 2, &a) || !arg_timeout_ms(c, 1, &timeout)) return;
    if (zmpop_try(c, &a, &replied) || replied) return;
    if (client_cannot_block(c)) reply_null_array(c);
    else block_for_keys(c, &c->argv[a.first_key], a.nkeys, timeout, serve_zset);
}

/* ---- ZRANDMEMBER ---- */

static zsl_node *random_node(const zskiplist *z)
{
    return zsl_by_rank(z, 1 + (size_t)(rand_u64() % zsl_len(z)));
}

/* count distinct random members, 0 < count < the set's size. */
static void reply_distinct(kv_client *c, zskiplist *z, int64_t count, bool withscores)
{
    dict_node **pick = dict_random_distinct(&z->members, (size_t)count);
    reply_array(c, elements_len(c, count, withscores));
    for (int64_t i = 0; i < count; i++) reply_element(c, (const zsl_node *)pick[i], withscores);
    hfree(pick);
}

static void randmember_count(kv_client *c, zskiplist *z, int64_t count, bool withscores)
{
    int64_t size = (int64_t)zsl_len(z);
    if (count < 0) { /* repetitions allowed, any order */
        reply_array(c, elements_len(c, -count, withscores));
        for (int64_t i = 0; i < -count && !client_reply_dead(c); i++) reply_element(c, random_node(z), withscores);
    } else if (count >= size) {
        reply_array(c, elements_len(c, size, withscores));
        for (zsl_node *x = zsl_first(z); x; x = zsl_next(x)) reply_element(c, x, withscores);
    } else {
        reply_distinct(c, z, count, withscores);
    }
}

static void zrandmember_cmd(kv_client *c)
{
    zskiplist *z;
    if (c->argc == 2) {
        if (!zset_arg(c, 1, false, &z)) return;
        if (z) reply_member(c, random_node(z));
        else reply_null(c);
        return;
    }
    int64_t count;
    if (!arg_i64_bounded(c, 2, -INT64_MAX, INT64_MAX, &count)) return;
    if (c->argc > 4 || (c->argc == 4 && !arg_is(c, 3, "withscores"))) {
        reply_syntax_error(c);
        return;
    }
    bool withscores = c->argc == 4;
    if (withscores && (count < -INT64_MAX / 2 || count > INT64_MAX / 2)) {
        reply_error(c, "ERR value is out of range");
        return;
    }
    if (!zset_arg(c, 1, false, &z)) return;
    if (z == NULL || count == 0) reply_array(c, 0);
    else randmember_count(c, z, count, withscores);
}

/* ---- ZSCAN ---- */

/* The member and its score, a bulk string even in RESP3, as Redis. */
static void scan_emit_member(kv_client *c, const dict_node *n)
{
    const zsl_node *x = (const zsl_node *)n;
    char tmp[32];
    int len = double_to_str(tmp, sizeof(tmp), x->score);
    reply_member(c, x);
    reply_bulk(c, tmp, (size_t)len);
}

static void zscan_cmd(kv_client *c)
{
    static const scan_spec spec = {.emit = scan_emit_member, .width = 2};
    uint64_t cursor;
    zskiplist *z;
    /* As Redis: the cursor, then the key, then the options. */
    if (scan_arg_cursor(c, 2, &cursor) && zset_arg(c, 1, false, &z))
        scan_value(c, z ? &z->members : NULL, cursor, &spec);
}

/* ---- ZUNION / ZINTER / ZDIFF (and *STORE, ZINTERCARD) ---- */

/* One input. Plain sets count as sorted sets whose scores are all 1. A set
 * value is a dict of members (t_set.c); it is read only through dict.h (its
 * dict_type's key() names each node), never through t_set.c's node layout. */
typedef struct zsrc {
    int type; /* KV_ZSET, KV_SET, or -1 for a missing key */
    void *obj;
    size_t len;
    double weight;
    int pos; /* argument order, keeps the size sort stable */
} zsrc;

enum zop { ZOP_UNION, ZOP_INTER, ZOP_DIFF };
enum zagg { AGG_SUM, AGG_MIN, AGG_MAX };

static bool src_find(const zsrc *s, const char *m, size_t len, double *score)
{
    if (s->type == KV_ZSET) {
        zsl_node *x = zsl_find(s->obj, m, len);
        if (x) *score = x->score;
        return x != NULL;
    }
    *score = 1.0;
    return s->type == KV_SET && dict_find(s->obj, m, len) != NULL;
}

typedef void (*src_fn)(const char *m, size_t len, double score, void *priv);

static void src_foreach(const zsrc *s, src_fn fn, void *priv)
{
    if (s->type == KV_ZSET) {
        for (zsl_node *x = zsl_first(s->obj); x; x = zsl_next(x)) fn(zsl_member(x), x->mlen, x->score, priv);
    } else if (s->type == KV_SET) {
        dict *d = s->obj;
        dict_iter it;
        dict_iter_init(&it, d, true); /* safe: lookups in the same set must not rehash it */
        for (dict_node *n; (n = dict_iter_next(&it));) {
            size_t len;
            const char *m = d->type->key(n, &len);
            fn(m, len, 1.0, priv);
        }
        dict_iter_done(&it);
    }
}

/* As Redis: SUM of +inf and -inf is 0, and a NaN product (0 * inf) is 0. */
static void aggregate(double *target, double v, enum zagg agg)
{
    if (agg == AGG_SUM) *target += v;
    else if (agg == AGG_MIN) *target = v < *target ? v : *target;
    else *target = v > *target ? v : *target;
    if (isnan(*target)) *target = 0.0;
}

typedef struct zalg {
    zsrc *src;
    int n;
    enum zop op;
    enum zagg agg;
    zskiplist *dst;
    const zsrc *cur; /* the input being walked */
    int64_t limit;   /* ZINTERCARD: stop at this many, 0 = no limit */
} zalg;

static void union_one(const char *m, size_t len, double score, void *priv)
{
    zalg *a = priv;
    double v = a->cur->weight * score;
    if (isnan(v)) v = 0.0;
    zsl_node *x = zsl_find(a->dst, m, len);
    if (x == NULL) {
        zsl_insert(a->dst, v, m, len);
        return;
    }
    double t = x->score;
    aggregate(&t, v, a->agg);
    zsl_update_score(a->dst, x, t); /* even when equal: 0 may become -0, as in Redis */
}

static void inter_one(const char *m, size_t len, double score, void *priv)
{
    zalg *a = priv;
    if (a->limit && (int64_t)zsl_len(a->dst) >= a->limit) return;
    double t = a->src[0].weight * score, v;
    if (isnan(t)) t = 0.0;
    for (int j = 1; j < a->n; j++) {
        if (!src_find(&a->src[j], m, len, &v)) return;
        aggregate(&t, v * a->src[j].weight, a->agg);
    }
    zsl_insert(a->dst, t, m, len);
}

static void diff_one(const char *m, size_t len, double score, void *priv)
{
    zalg *a = priv;
    double v;
    for (int j = 1; j < a->n; j++)
        if (src_find(&a->src[j], m, len, &v)) return;
    zsl_insert(a->dst, score, m, len);
}

static int by_size(const void *pa, const void *pb)
{
    const zsrc *a = pa, *b = pb;
    if (a->len != b->len) return a->len < b->len ? -1 : 1;
    return a->pos - b->pos;
}

/* Compute the operation into a->dst. Union and intersection walk the inputs
 * smallest first, as Redis does (so float sums add in the same order). */
static void zalg_run(zalg *a)
{
    if (a->op != ZOP_DIFF) qsort(a->src, (size_t)a->n, sizeof(zsrc), by_size);
    if (a->op == ZOP_UNION) {
        for (int i = 0; i < a->n; i++) {
            a->cur = &a->src[i];
            src_foreach(a->cur, union_one, a);
        }
    } else if (a->src[0].len > 0) {
        a->cur = &a->src[0];
        src_foreach(a->cur, a->op == ZOP_INTER ? inter_one : diff_one, a);
    }
}

/* Look up the numkeys inputs at argv[first..]; WRONGTYPE for anything but
 * a set or sorted set. */
static zsrc *zalg_inputs(kv_client *c, int first, int n)
{
    zsrc *src = hcalloc((size_t)n, sizeof(zsrc));
    for (int i = 0; i < n; i++) {
        kv_entry *e = db_lookup_read(&c->srv->db, KEY(first + i));
        src[i] = (zsrc){.type = -1, .weight = 1.0, .pos = i};
        if (e == NULL) continue;
        if (entry_type(e) != KV_ZSET && entry_type(e) != KV_SET) {
            reply_wrongtype(c);
            hfree(src);
            return NULL;
        }
        src[i].type = entry_type(e);
        src[i].obj = entry_obj(e);
        src[i].len = kv_object_len(src[i].type, src[i].obj);
    }
    return src;
}

enum { ZALG_STORE = 1, ZALG_CARD = 2 };

/* WEIGHTS, AGGREGATE, WITHSCORES, LIMIT after the keys, as each form allows. */
static bool zalg_opts(kv_client *c, int j, zalg *a, unsigned mode, bool *withscores)
{
    bool full = a->op != ZOP_DIFF && !(mode & ZALG_CARD);
    while (j < c->argc) {
        int left = c->argc - j;
        if (full && left >= a->n + 1 && arg_is(c, j, "weights")) {
            for (int i = 0; i < a->n; i++) {
                if (!str_to_double(KEY(j + 1 + i), &a->src[i].weight)) {
                    reply_error(c, "ERR weight value is not a float");
                    return false;
                }
            }
            j += a->n + 1;
        } else if (full && left >= 2 && arg_is(c, j, "aggregate")) {
            if (arg_is(c, j + 1, "sum")) a->agg = AGG_SUM;
            else if (arg_is(c, j + 1, "min")) a->agg = AGG_MIN;
            else if (arg_is(c, j + 1, "max")) a->agg = AGG_MAX;
            else {
                reply_syntax_error(c);
                return false;
            }
            j += 2;
        } else if (mode == 0 && arg_is(c, j, "withscores")) {
            *withscores = true;
            j++;
        } else if ((mode & ZALG_CARD) && left >= 2 && arg_is(c, j, "limit")) {
            if (!arg_i64_min(c, j + 1, 0, &a->limit, "ERR LIMIT can't be negative")) return false;
            j += 2;
        } else {
            reply_syntax_error(c);
            return false;
        }
    }
    return true;
}

static void zalg_reply(kv_client *c, zskiplist *z, bool withscores)
{
    reply_array(c, elements_len(c, (int64_t)zsl_len(z), withscores));
    for (zsl_node *x = zsl_first(z); x; x = zsl_next(x)) reply_element(c, x, withscores);
}

/* numkeys at argv[idx]; with ZALG_STORE the destination is argv[1]. */
static void zalg_generic(kv_client *c, int idx, enum zop op, unsigned mode)
{
    int64_t n;
    if (!arg_i64(c, idx, &n)) return;
    if (n < 1) {
        const char *name = c->cmd ? c->cmd->name : "";
        reply_errorf(c, "ERR at least 1 input key is needed for '%s' command", name);
        return;
    }
    if (n > c->argc - idx - 1) {
        reply_syntax_error(c);
        return;
    }
    zalg a = {.n = (int)n, .op = op, .agg = AGG_SUM};
    bool withscores = false;
    if ((a.src = zalg_inputs(c, idx + 1, a.n)) == NULL) return;
    if (!zalg_opts(c, idx + 1 + a.n, &a, mode, &withscores)) goto out;
    a.dst = zsl_new();
    zalg_run(&a);
    if (mode & ZALG_STORE) {
        store_result(c, 1, a.dst);
        goto out;
    }
    if (mode & ZALG_CARD) reply_int(c, (int64_t)zsl_len(a.dst));
    else zalg_reply(c, a.dst, withscores);
    zsl_free(a.dst);
out:
    hfree(a.src);
}

static void zunionstore_cmd(kv_client *c) { zalg_generic(c, 2, ZOP_UNION, ZALG_STORE); }
static void zinterstore_cmd(kv_client *c) { zalg_generic(c, 2, ZOP_INTER, ZALG_STORE); }
static void zdiffstore_cmd(kv_client *c) { zalg_generic(c, 2, ZOP_DIFF, ZALG_STORE); }
static void zunion_cmd(kv_client *c) { zalg_generic(c, 1, ZOP_UNION, 0); }
static void zinter_cmd(kv_client *c) { zalg_generic(c, 1, ZOP_INTER, 0); }
static void zdiff_cmd(kv_client *c) { zalg_generic(c, 1, ZOP_DIFF, 0); }
static void zintercard_cmd(kv_client *c) { zalg_generic(c, 1, ZOP_INTER, ZALG_CARD); }

/* ---- value operations ---- */

static void zset_free(void *obj) { zsl_free(obj); }
static void *zset_dup(const void *obj) { return zsl_dup(obj); }
static size_t zset_len(const void *obj) { return zsl_len(obj); }
static size_t zset_mem(const void *obj) { return zsl_mem(obj); }

/* ZADD key s1 m1 .. s64 m64, repeated; scores print so they parse back to
 * the same double (double_to_str: exact integers or %.17g, inf/-inf). */
static void zset_rewrite(const void *obj, const char *key, size_t klen, buf *out)
{
    const zskiplist *z = obj;
    size_t left = zsl_len(z), in_batch = 0;
    for (const zsl_node *x = zsl_first(z); x; x = zsl_next(x), left--) {
        if (in_batch == 0) {
            in_batch = left < ZSET_REWRITE_BATCH ? left : ZSET_REWRITE_BATCH;
            buf_append_mbulk_len(out, '*', 2 + 2 * (int64_t)in_batch);
            buf_append_bulk(out, "ZADD", 4);
            buf_append_bulk(out, key, klen);
        }
        char tmp[40];
        int n = double_to_str(tmp, sizeof(tmp), x->score);
        buf_append_bulk(out, tmp, (size_t)n);
        buf_append_bulk(out, zsl_member(x), x->mlen);
        in_batch--;
    }
}

static void zset_each(const void *obj, kv_elem_fn fn, void *priv)
{
    for (const zsl_node *x = zsl_first(obj); x; x = zsl_next(x)) {
        char tmp[40];
        int n = double_to_str(tmp, sizeof(tmp), x->score);
        if (!fn(zsl_member(x), x->mlen, priv) || !fn(tmp, (size_t)n, priv)) break;
    }
}

const kv_type_ops tzset_ops = {zset_free, zset_dup, zset_len, zset_rewrite, zset_mem, zset_each};

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define M CMD_DENYOOM
#define MK CMD_MOVABLE_KEYS

kv_cmd kv_cmds_zset[] = {
    {"zadd", zadd_cmd, -4, W | M | F, 1, 1, 1, "sorted-set", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", "1.2.0"},
    {"zincrby", zincrby_cmd, 4, W | M | F, 1, 1, 1, "sorted-set", "Increments the score of a member in a sorted set.", "1.2.0"},
    {"zrem", zrem_cmd, -3, W | F, 1, 1, 1, "sorted-set", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", "1.2.0"},
    {"zcard", zcard_cmd, 2, R | F, 1, 1, 1, "sorted-set", "Returns the number of members in a sorted set.", "1.2.0"},
    {"zcount", zcount_cmd, 4, R | F, 1, 1, 1, "sorted-set", "Returns the count of members in a sorted set that have scores within a range.", "2.0.0"},
    {"zlexcount", zlexcount_cmd, 4, R | F, 1, 1, 1, "sorted-set", "Returns the number of members in a sorted set within a lexicographical range.", "2.8.9"},
    {"zscore", zscore_cmd, 3, R | F, 1, 1, 1, "sorted-set", "Returns the score of a member in a sorted set.", "1.2.0"},
    {"zmscore", zmscore_cmd, -3, R | F, 1, 1, 1, "sorted-set", "Returns the score of one or more members in a sorted set.", "6.2.0"},
    {"zrank", zrank_cmd, 3, R | F, 1, 1, 1, "sorted-set", "Returns the index of a member in a sorted set ordered by ascending scores.", "2.0.0"},
    {"zrevrank", zrevrank_cmd, 3, R | F, 1, 1, 1, "sorted-set", "Returns the index of a member in a sorted set ordered by descending scores.", "2.0.0"},
    {"zrange", zrange_cmd, -4, R, 1, 1, 1, "sorted-set", "Returns members in a sorted set within a range of indexes.", "1.2.0"},
    {"zrangestore", zrangestore_cmd, -5, W | M, 1, 2, 1, "sorted-set", "Stores a range of members from sorted set in a key.", "6.2.0"},
    {"zrevrange", zrevrange_cmd, -4, R, 1, 1, 1, "sorted-set", "Returns members in a sorted set within a range of indexes in reverse order.", "1.2.0"},
    {"zrangebyscore", zrangebyscore_cmd, -4, R, 1, 1, 1, "sorted-set", "Returns members in a sorted set within a range of scores.", "1.0.5"},
    {"zrevrangebyscore", zrevrangebyscore_cmd, -4, R, 1, 1, 1, "sorted-set", "Returns members in a sorted set within a range of scores in reverse order.", "2.2.0"},
    {"zrangebylex", zrangebylex_cmd, -4, R, 1, 1, 1, "sorted-set", "Returns members in a sorted set within a lexicographical range.", "2.8.9"},
    {"zrevrangebylex", zrevrangebylex_cmd, -4, R, 1, 1, 1, "sorted-set", "Returns members in a sorted set within a lexicographical range in reverse order.", "2.8.9"},
    {"zremrangebyscore", zremrangebyscore_cmd, 4, W, 1, 1, 1, "sorted-set", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.", "1.2.0"},
    {"zremrangebyrank", zremrangebyrank_cmd, 4, W, 1, 1, 1, "sorted-set", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.", "2.0.0"},
    {"zremrangebylex", zremrangebylex_cmd, 4, W, 1, 1, 1, "sorted-set", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.", "2.8.9"},
    {"zpopmin", zpopmin_cmd, -2, W | F, 1, 1, 1, "sorted-set", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", "5.0.0"},
    {"zpopmax", zpopmax_cmd, -2, W | F, 1, 1, 1, "sorted-set", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", "5.0.0"},
    {"bzpopmin", bzpopmin_cmd, -3, W | CMD_NOSCRIPT | CMD_BLOCKING | F, 1, -2, 1, "sorted-set", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise.", "5.0.0"},
    {"bzpopmax", bzpopmax_cmd, -3, W | CMD_NOSCRIPT | CMD_BLOCKING | F, 1, -2, 1, "sorted-set", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.", "5.0.0"},
    {"zmpop", zmpop_cmd, -4, W | MK, 0, 0, 0, "sorted-set", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them.", "7.0.0"},
    {"bzmpop", bzmpop_cmd, -5, W | CMD_BLOCKING | MK, 0, 0, 0, "sorted-set", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise.", "7.0.0"},
    {"zrandmember", zrandmember_cmd, -2, R, 1, 1, 1, "sorted-set", "Returns one or more random members from a sorted set.", "6.2.0"},
    {"zscan", zscan_cmd, -3, R, 1, 1, 1, "sorted-set", "Iterates over members and scores of a sorted set.", "2.8.0"},
    {"zunionstore", zunionstore_cmd, -4, W | M | MK, 1, 1, 1, "sorted-set", "Stores the union of multiple sorted sets in a key.", "2.0.0"},
    {"zinterstore", zinterstore_cmd, -4, W | M | MK, 1, 1, 1, "sorted-set", "Stores the intersect of multiple sorted sets in a key.", "2.0.0"},
    {"zdiffstore", zdiffstore_cmd, -4, W | M | MK, 1, 1, 1, "sorted-set", "Stores the difference of multiple sorted sets in a key.", "6.2.0"},
    {"zunion", zunion_cmd, -3, R | MK, 0, 0, 0, "sorted-set", "Returns the union of multiple sorted sets.", "6.2.0"},
    {"zinter", zinter_cmd, -3, R | MK, 0, 0, 0, "sorted-set", "Returns the intersect of multiple sorted sets.", "6.2.0"},
    {"zdiff", zdiff_cmd, -3, R | MK, 0, 0, 0, "sorted-set", "Returns the difference between multiple sorted sets.", "6.2.0"},
    {"zintercard", zintercard_cmd, -3, R | MK, 0, 0, 0, "sorted-set", "Returns the number of members of the intersect of multiple sorted sets.", "7.0.0"},
    {NULL},
};

#undef W
#undef R
#undef F
#undef M
#undef MK
