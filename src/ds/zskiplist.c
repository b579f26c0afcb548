/* zskiplist.c — the sorted-set skiplist with spans, its nodes doubling as member-dict entries (after Redis t_zset.c). */
#include "zskiplist.h"
#include "../common/log.h"
#include "../common/mem.h"
#include "../common/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(offsetof(zsl_node, dnode) == 0, "dict_node must be at offset 0");
_Static_assert(ZSL_MAXLEVEL <= UINT8_MAX, "nlevel is a uint8_t");

/* Always-on: a NaN score or a list/dict mismatch would corrupt the value;
 * crash with context (a restart plus failover beats serving wrong data). */
#define ZSL_CHECK(cond)                                                                 \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            log_error("zskiplist invariant failed: %s (%s:%d)", #cond, __FILE__, __LINE__); \
            abort();                                                                    \
        }                                                                               \
    } while (0)

static const char *member_key(const dict_node *n, size_t *len)
{
    const zsl_node *z = (const zsl_node *)n;
    *len = z->mlen;
    return zsl_member(z);
}

static const dict_type zsl_dict_type = {.key = member_key, .nocase = false};

static zsl_node *node_new(int nlevel, double score, const char *member, size_t len)
{
    size_t links = (size_t)nlevel * sizeof(struct zsl_level);
    zsl_node *n = hmalloc(sizeof(zsl_node) + links + len);
    n->dnode.next = NULL;
    n->score = score;
    n->backward = NULL;
    n->mlen = (uint32_t)len;
    n->nlevel = (uint8_t)nlevel;
    if (len) memcpy((char *)(n->level + nlevel), member, len);
    return n;
}

zskiplist *zsl_new(void)
{
    zskiplist *zsl = hmalloc(sizeof(*zsl));
    zsl->header = node_new(ZSL_MAXLEVEL, 0, NULL, 0);
    for (int i = 0; i < ZSL_MAXLEVEL; i++) {
        zsl->header->level[i].forward = NULL;
        zsl->header->level[i].span = 0;
    }
    zsl->tail = NULL;
    zsl->length = 0;
    zsl->level = 1;
    dict_init(&zsl->members, &zsl_dict_type);
    return zsl;
}

void zsl_free(zskiplist *zsl)
{
    if (zsl == NULL) return;
    /* The dict only links nodes: free them once, by walking level 0. */
    dict_clear(&zsl->members, NULL, NULL);
    zsl_node *n = zsl->header->level[0].forward;
    while (n) {
        zsl_node *next = n->level[0].forward;
        hfree(n);
        n = next;
    }
    hfree(zsl->header);
    hfree(zsl);
}

zskiplist *zsl_dup(const zskiplist *zsl)
{
    zskiplist *copy = zsl_new();
    for (zsl_node *n = zsl_first(zsl); n; n = zsl_next(n))
        zsl_insert(copy, n->score, zsl_member(n), n->mlen);
    return copy;
}

int zsl_cmp_member(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t min = alen < blen ? alen : blen;
    int cmp = min ? memcmp(a, b, min) : 0;
    if (cmp != 0) return cmp;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

/* True when node x sorts before (score, member). */
static inline bool before(const zsl_node *x, double score, const char *m, size_t len)
{
    return x->score < score ||
           (x->score == score && zsl_cmp_member(zsl_member(x), x->mlen, m, len) < 0);
}

/* Levels 1..32 with P(level > k) = 1/4^k. */
static int random_level(void)
{
    int level = 1;
    while (level < ZSL_MAXLEVEL && (rand_u64() & 0xFFFF) < (uint64_t)(ZSL_P * 0xFFFF)) level++;
    return level;
}

zsl_node *zsl_find(zskiplist *zsl, const char *member, size_t len)
{
    return (zsl_node *)dict_find(&zsl->members, member, len);
}

/* Link node n, whose score and member are set, at its place: update[i] is
 * the last node before it at level i and rank[i] that node's rank. */
static void link_node(zskiplist *zsl, zsl_node *n)
{
    zsl_node *update[ZSL_MAXLEVEL], *x = zsl->header;
    size_t rank[ZSL_MAXLEVEL];
    for (int i = zsl->level - 1; i >= 0; i--) {
        rank[i] = i == zsl->level - 1 ? 0 : rank[i + 1];
        while (x->level[i].forward && before(x->level[i].forward, n->score, zsl_member(n), n->mlen)) {
            rank[i] += x->level[i].span;
            x = x->level[i].forward;
        }
        update[i] = x;
    }
    int level = n->nlevel;
    if (level > zsl->level) {
        for (int i = zsl->level; i < level; i++) {
            rank[i] = 0;
            update[i] = zsl->header;
            update[i]->level[i].span = zsl->length;
        }
        zsl->level = level;
    }
    for (int i = 0; i < level; i++) {
        n->level[i].forward = update[i]->level[i].forward;
        update[i]->level[i].forward = n;
        /* update[i]'s old span is split around n. */
        n->level[i].span = update[i]->level[i].span - (rank[0] - rank[i]);
        update[i]->level[i].span = (rank[0] - rank[i]) + 1;
    }
    for (int i = level; i < zsl->level; i++) update[i]->level[i].span++;
    n->backward = update[0] == zsl->header ? NULL : update[0];
    if (n->level[0].forward) n->level[0].forward->backward = n;
    else zsl->tail = n;
    zsl->length++;
}

zsl_node *zsl_insert(zskiplist *zsl, double score, const char *member, size_t len)
{
    ZSL_CHECK(!isnan(score) && len <= UINT32_MAX);
    zsl_node *n = node_new(random_level(), score, member, len);
    link_node(zsl, n);
    dict_add(&zsl->members, &n->dnode);
    return n;
}

/* Fill update[] with the last node before n at each level. */
static void find_update(const zskiplist *zsl, const zsl_node *n, zsl_node **update)
{
    zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->level[i].forward && before(x->level[i].forward, n->score, zsl_member(n), n->mlen))
            x = x->level[i].forward;
        update[i] = x;
    }
}

/* Unlink x from the skiplist only (not the dict, not freed). */
static void unlink_node(zskiplist *zsl, zsl_node *x, zsl_node **update)
{
    for (int i = 0; i < zsl->level; i++) {
        if (update[i]->level[i].forward == x) {
            update[i]->level[i].span += x->level[i].span - 1;
            update[i]->level[i].forward = x->level[i].forward;
        } else {
            update[i]->level[i].span -= 1;
        }
    }
    if (x->level[0].forward) x->level[0].forward->backward = x->backward;
    else zsl->tail = x->backward;
    while (zsl->level > 1 && zsl->header->level[zsl->level - 1].forward == NULL) zsl->level--;
    zsl->length--;
}

static void unlink_and_free(zskiplist *zsl, zsl_node *x, zsl_node **update)
{
    unlink_node(zsl, x, update);
    dict_node *d = dict_unlink(&zsl->members, zsl_member(x), x->mlen);
    ZSL_CHECK(d == &x->dnode);
    hfree(x);
}

void zsl_delete_node(zskiplist *zsl, zsl_node *n)
{
    zsl_node *update[ZSL_MAXLEVEL];
    find_update(zsl, n, update);
    unlink_and_free(zsl, n, update);
}

bool zsl_delete(zskiplist *zsl, const char *member, size_t len)
{
    zsl_node *n = zsl_find(zsl, member, len);
    if (n == NULL) return false;
    zsl_delete_node(zsl, n);
    return true;
}

void zsl_update_score(zskiplist *zsl, zsl_node *n, double score)
{
    ZSL_CHECK(!isnan(score));
    /* Same place after the update: only the score changes (Redis's fast path). */
    if ((n->backward == NULL || n->backward->score < score) &&
        (n->level[0].forward == NULL || n->level[0].forward->score > score)) {
        n->score = score;
        return;
    }
    zsl_node *update[ZSL_MAXLEVEL];
    find_update(zsl, n, update);
    unlink_node(zsl, n, update);
    n->score = score;
    link_node(zsl, n);
}

size_t zsl_rank(const zskiplist *zsl, const zsl_node *n)
{
    size_t rank = 0;
    const zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->level[i].forward &&
               (x->level[i].forward == n || before(x->level[i].forward, n->score, zsl_member(n), n->mlen))) {
            rank += x->level[i].span;
            x = x->level[i].forward;
            if (x == n) return rank;
        }
    }
    return 0;
}

zsl_node *zsl_by_rank(const zskiplist *zsl, size_t rank)
{
    if (rank == 0 || rank > zsl->length) return NULL;
    size_t traversed = 0;
    zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->level[i].forward && traversed + x->level[i].span <= rank) {
            traversed += x->level[i].span;
            x = x->level[i].forward;
        }
        if (traversed == rank) return x;
    }
    return NULL;
}

/* ---- score ranges ---- */

bool zsl_range_empty(const zsl_range *r)
{
    return r->min > r->max || (r->min == r->max && (r->minex || r->maxex));
}

bool zsl_score_gte_min(double score, const zsl_range *r)
{
    return r->minex ? score > r->min : score >= r->min;
}

bool zsl_score_lte_max(double score, const zsl_range *r)
{
    return r->maxex ? score < r->max : score <= r->max;
}

/* Whether any node can be in the range, from the ends of the list. */
static bool range_may_hit(const zskiplist *zsl, const zsl_range *r)
{
    if (zsl_range_empty(r) || zsl->tail == NULL) return false;
    if (!zsl_score_gte_min(zsl->tail->score, r)) return false;
    return zsl_score_lte_max(zsl->header->level[0].forward->score, r);
}

zsl_node *zsl_first_in_range(const zskiplist *zsl, const zsl_range *r)
{
    if (!range_may_hit(zsl, r)) return NULL;
    zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--)
        while (x->level[i].forward && !zsl_score_gte_min(x->level[i].forward->score, r))
            x = x->level[i].forward;
    x = x->level[0].forward; /* not NULL: the tail is >= min */
    return zsl_score_lte_max(x->score, r) ? x : NULL;
}

zsl_node *zsl_last_in_range(const zskiplist *zsl, const zsl_range *r)
{
    if (!range_may_hit(zsl, r)) return NULL;
    zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--)
        while (x->level[i].forward && zsl_score_lte_max(x->level[i].forward->score, r))
            x = x->level[i].forward;
    /* not the header: the first node is <= max */
    return zsl_score_gte_min(x->score, r) ? x : NULL;
}

/* ---- lex ranges ---- */

/* Compare a member with a bound: -1, 0, 1 as the member sorts before, equal
 * to or after it. Infinite bounds are never equal to a member. */
static int cmp_bound(const char *m, size_t len, const zsl_lex_bound *b)
{
    if (b->inf) return -b->inf;
    return zsl_cmp_member(m, len, b->p, b->len);
}

bool zsl_lex_empty(const zsl_lex_range *r)
{
    const zsl_lex_bound *a = &r->min, *b = &r->max;
    int cmp;
    if (a->inf || b->inf) cmp = a->inf == b->inf ? 0 : (a->inf ? a->inf : -b->inf);
    else cmp = zsl_cmp_member(a->p, a->len, b->p, b->len);
    return cmp > 0 || (cmp == 0 && (a->ex || b->ex));
}

bool zsl_lex_gte_min(const zsl_node *n, const zsl_lex_range *r)
{
    int cmp = cmp_bound(zsl_member(n), n->mlen, &r->min);
    return r->min.ex ? cmp > 0 : cmp >= 0;
}

bool zsl_lex_lte_max(const zsl_node *n, const zsl_lex_range *r)
{
    int cmp = cmp_bound(zsl_member(n), n->mlen, &r->max);
    return r->max.ex ? cmp < 0 : cmp <= 0;
}

static bool lex_may_hit(const zskiplist *zsl, const zsl_lex_range *r)
{
    if (zsl_lex_empty(r) || zsl->tail == NULL) return false;
    if (!zsl_lex_gte_min(zsl->tail, r)) return false;
    return zsl_lex_lte_max(zsl->header->level[0].forward, r);
}

zsl_node *zsl_first_in_lex(const zskiplist *zsl, const zsl_lex_range *r)
{
    if (!lex_may_hit(zsl, r)) return NULL;
    zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--)
        while (x->level[i].forward && !zsl_lex_gte_min(x->level[i].forward, r))
            x = x->level[i].forward;
    x = x->level[0].forward;
    return x && zsl_lex_lte_max(x, r) ? x : NULL;
}

zsl_node *zsl_last_in_lex(const zskiplist *zsl, const zsl_lex_range *r)
{
    if (!lex_may_hit(zsl, r)) return NULL;
    zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--)
        while (x->level[i].forward && zsl_lex_lte_max(x->level[i].forward, r))
            x = x->level[i].forward;
    return x != zsl->header && zsl_lex_gte_min(x, r) ? x : NULL;
}

/* ---- range deletion ---- */

/* Delete nodes from x (whose predecessors are update[]) while keep(x) says
 * so; the same update[] stays valid because each deletion only re-links
 * those predecessors. */
typedef bool (*in_range_fn)(const zsl_node *x, const void *r);

static size_t delete_while(zskiplist *zsl, zsl_node **update, zsl_node *x, in_range_fn in, const void *r)
{
    size_t removed = 0;
    while (x && in(x, r)) {
        zsl_node *next = x->level[0].forward;
        unlink_and_free(zsl, x, update);
        removed++;
        x = next;
    }
    return removed;
}

static bool score_in_max(const zsl_node *x, const void *r) { return zsl_score_lte_max(x->score, r); }
static bool lex_in_max(const zsl_node *x, const void *r) { return zsl_lex_lte_max(x, r); }

size_t zsl_delete_range_by_score(zskiplist *zsl, const zsl_range *r)
{
    if (zsl_range_empty(r)) return 0;
    zsl_node *update[ZSL_MAXLEVEL], *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->level[i].forward && !zsl_score_gte_min(x->level[i].forward->score, r))
            x = x->level[i].forward;
        update[i] = x;
    }
    return delete_while(zsl, update, x->level[0].forward, score_in_max, r);
}

size_t zsl_delete_range_by_lex(zskiplist *zsl, const zsl_lex_range *r)
{
    if (zsl_lex_empty(r)) return 0;
    zsl_node *update[ZSL_MAXLEVEL], *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->level[i].forward && !zsl_lex_gte_min(x->level[i].forward, r))
            x = x->level[i].forward;
        update[i] = x;
    }
    return delete_while(zsl, update, x->level[0].forward, lex_in_max, r);
}

size_t zsl_delete_range_by_rank(zskiplist *zsl, size_t start, size_t end)
{
    if (start == 0 || start > end || end > zsl->length) return 0;
    zsl_node *update[ZSL_MAXLEVEL], *x = zsl->header;
    size_t traversed = 0;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->level[i].forward && traversed + x->level[i].span < start) {
            traversed += x->level[i].span;
            x = x->level[i].forward;
        }
        update[i] = x;
    }
    x = x->level[0].forward;
    size_t removed = 0;
    for (size_t rank = start; x && rank <= end; rank++) {
        zsl_node *next = x->level[0].forward;
        unlink_and_free(zsl, x, update);
        removed++;
        x = next;
    }
    return removed;
}

size_t zsl_mem(const zskiplist *zsl)
{
    size_t sampled = 0, bytes = 0;
    for (const zsl_node *n = zsl_first(zsl); n && sampled < 16; n = zsl_next(n), sampled++)
        bytes += hmem_usable((void *)n);
    size_t per = sampled ? bytes / sampled : 0;
    return sizeof(*zsl) + hmem_usable(zsl->header) + per * zsl->length + dict_mem(&zsl->members);
}
