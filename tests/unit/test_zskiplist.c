/* test_zskiplist.c — the sorted-set skiplist: invariants, ranks, ranges, deletions, against a sorted-array model. */
#include "test.h"
#include "ds/zskiplist.h"
#include "common/mem.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a sorted array model ---- */

#define MAXM 6

typedef struct mel {
    double score;
    char m[MAXM];
    size_t len;
} mel;

typedef struct model {
    mel *v;
    size_t n, cap;
} model;

static uint64_t g_rng = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

static int cmp_mel(const mel *a, double score, const char *m, size_t len)
{
    if (a->score < score) return -1;
    if (a->score > score) return 1;
    return zsl_cmp_member(a->m, a->len, m, len);
}

static long model_find(const model *md, const char *m, size_t len)
{
    for (size_t i = 0; i < md->n; i++)
        if (md->v[i].len == len && memcmp(md->v[i].m, m, len) == 0) return (long)i;
    return -1;
}

static void model_insert(model *md, double score, const char *m, size_t len)
{
    if (md->n == md->cap) {
        md->cap = md->cap ? md->cap * 2 : 64;
        md->v = realloc(md->v, md->cap * sizeof(mel));
    }
    size_t i = 0;
    while (i < md->n && cmp_mel(&md->v[i], score, m, len) < 0) i++;
    memmove(md->v + i + 1, md->v + i, (md->n - i) * sizeof(mel));
    md->v[i].score = score;
    memcpy(md->v[i].m, m, len);
    md->v[i].len = len;
    md->n++;
}

static void model_remove_at(model *md, size_t i)
{
    memmove(md->v + i, md->v + i + 1, (md->n - i - 1) * sizeof(mel));
    md->n--;
}

/* ---- structure checks ---- */

/* Every level's spans add up to the level-0 distances, backward links and
 * the tail are right, and the dict holds exactly the list's nodes. */
static bool invariants_hold(zskiplist *zsl)
{
    size_t n = 0;
    zsl_node *prev = NULL;
    for (zsl_node *x = zsl_first(zsl); x; x = zsl_next(x), n++) {
        if (x->backward != prev) return false;
        if (zsl_find(zsl, zsl_member(x), x->mlen) != x) return false;
        if (prev && !(prev->score < x->score ||
                      (prev->score == x->score &&
                       zsl_cmp_member(zsl_member(prev), prev->mlen, zsl_member(x), x->mlen) < 0)))
            return false;
        prev = x;
    }
    if (n != zsl->length || prev != zsl->tail || dict_size(&zsl->members) != n) return false;
    for (int i = 0; i < zsl->level; i++) {
        size_t rank = 0;
        zsl_node *x = zsl->header;
        while (x->level[i].forward) {
            rank += x->level[i].span;
            x = x->level[i].forward;
            if (zsl_rank(zsl, x) != rank || i >= x->nlevel) return false;
        }
    }
    for (int i = zsl->level; i < ZSL_MAXLEVEL; i++)
        if (zsl->header->level[i].forward != NULL) return false;
    return true;
}

static bool same_as_model(const zskiplist *zsl, const model *md)
{
    if (zsl_len(zsl) != md->n) return false;
    size_t i = 0;
    for (zsl_node *x = zsl_first(zsl); x; x = zsl_next(x), i++) {
        const mel *e = &md->v[i];
        if (x->score != e->score || signbit(x->score) != signbit(e->score)) return false;
        if (zsl_cmp_member(zsl_member(x), x->mlen, e->m, e->len) != 0) return false;
    }
    return i == md->n;
}

/* ---- random inputs: few distinct values so ties and prefixes are common ---- */

static size_t rand_member(char *out)
{
    static const char alpha[] = {'a', 'b', 'c', '\0', (char)0xff};
    size_t len = rnd() % 4;
    for (size_t i = 0; i < len; i++) out[i] = alpha[rnd() % sizeof(alpha)];
    return len;
}

static double rand_score(void)
{
    static const double pool[] = {-INFINITY, -2.5, -1, -0.0, 0, 0.5, 1, 1, 2, 3.25, 1e300, INFINITY};
    return pool[rnd() % (sizeof(pool) / sizeof(pool[0]))];
}

static zsl_range rand_range(void)
{
    zsl_range r = {rand_score(), rand_score(), rnd() % 2 == 0, rnd() % 2 == 0};
    return r;
}

static bool model_in_range(const mel *e, const zsl_range *r)
{
    return zsl_score_gte_min(e->score, r) && zsl_score_lte_max(e->score, r);
}

static zsl_lex_bound rand_bound(char *buf)
{
    zsl_lex_bound b = {buf, rand_member(buf), 0, rnd() % 2 == 0};
    int k = (int)(rnd() % 8);
    if (k == 0) b.inf = -1;
    if (k == 1) b.inf = 1;
    if (b.inf) b.ex = true;
    return b;
}

/* Model of a lex bound comparison, independent of the code under test. */
static int model_cmp_bound(const mel *e, const zsl_lex_bound *b)
{
    if (b->inf < 0) return 1;
    if (b->inf > 0) return -1;
    size_t min = e->len < b->len ? e->len : b->len;
    int c = memcmp(e->m, b->p, min);
    if (c) return c < 0 ? -1 : 1;
    return e->len < b->len ? -1 : e->len > b->len ? 1 : 0;
}

static bool model_in_lex(const mel *e, const zsl_lex_range *r)
{
    int lo = model_cmp_bound(e, &r->min), hi = model_cmp_bound(e, &r->max);
    return (r->min.ex ? lo > 0 : lo >= 0) && (r->max.ex ? hi < 0 : hi <= 0);
}

/* ---- tests ---- */

static void test_basic(void)
{
    zskiplist *zsl = zsl_new();
    CHECK(zsl_first(zsl) == NULL && zsl_last(zsl) == NULL);
    CHECK(zsl_by_rank(zsl, 1) == NULL);
    zsl_node *b = zsl_insert(zsl, 2, "b", 1);
    zsl_node *a = zsl_insert(zsl, 1, "a", 1);
    zsl_node *c = zsl_insert(zsl, 2, "c", 1);
    zsl_node *ab = zsl_insert(zsl, 2, "ab", 2);
    CHECK(zsl_first(zsl) == a && zsl_last(zsl) == c);
    CHECK_EQ_INT(zsl_rank(zsl, a), 1);
    CHECK_EQ_INT(zsl_rank(zsl, ab), 2); /* "ab" < "b": bytes first */
    CHECK_EQ_INT(zsl_rank(zsl, b), 3);
    CHECK_EQ_INT(zsl_rank(zsl, c), 4);
    CHECK(zsl_by_rank(zsl, 2) == ab && zsl_by_rank(zsl, 5) == NULL && zsl_by_rank(zsl, 0) == NULL);
    CHECK(zsl_find(zsl, "b", 1) == b && zsl_find(zsl, "x", 1) == NULL);
    zsl_update_score(zsl, a, 10);
    CHECK(zsl_last(zsl) == a && zsl_find(zsl, "a", 1) == a && a->score == 10);
    zsl_update_score(zsl, c, 2.5); /* stays in place: fast path */
    CHECK_EQ_INT(zsl_rank(zsl, c), 3);
    CHECK(zsl_delete(zsl, "ab", 2) && !zsl_delete(zsl, "ab", 2));
    CHECK_EQ_INT(zsl_len(zsl), 3);
    CHECK(invariants_hold(zsl));
    zsl_node *z = zsl_insert(zsl, -0.0, "z", 1);
    CHECK(signbit(z->score) && zsl_rank(zsl, z) == 1); /* kept as given, sorts as 0 */
    zsl_free(zsl);
}

static void test_binary_members(void)
{
    zskiplist *zsl = zsl_new();
    zsl_insert(zsl, 0, "a\0b", 3);
    zsl_insert(zsl, 0, "a", 1);
    zsl_insert(zsl, 0, "", 0);
    zsl_insert(zsl, 0, "\xff", 1);
    CHECK_EQ_INT(zsl_len(zsl), 4);
    CHECK(zsl_first(zsl)->mlen == 0);
    CHECK(zsl_by_rank(zsl, 2)->mlen == 1);
    CHECK(zsl_by_rank(zsl, 3)->mlen == 3);
    CHECK(memcmp(zsl_member(zsl_last(zsl)), "\xff", 1) == 0);
    CHECK(zsl_find(zsl, "a\0b", 3) == zsl_by_rank(zsl, 3));
    zsl_free(zsl);
}

static void test_ranges_fixed(void)
{
    zskiplist *zsl = zsl_new();
    for (int i = 1; i <= 10; i++) {
        char m[4];
        int n = snprintf(m, sizeof(m), "m%d", i);
        zsl_insert(zsl, i, m, (size_t)n);
    }
    zsl_range r = {3, 7, true, false};
    CHECK(zsl_first_in_range(zsl, &r)->score == 4);
    CHECK(zsl_last_in_range(zsl, &r)->score == 7);
    r = (zsl_range){-INFINITY, INFINITY, false, false};
    CHECK(zsl_first_in_range(zsl, &r)->score == 1 && zsl_last_in_range(zsl, &r)->score == 10);
    r = (zsl_range){5, 5, false, true};
    CHECK(zsl_range_empty(&r) && zsl_first_in_range(zsl, &r) == NULL);
    r = (zsl_range){11, 20, false, false};
    CHECK(zsl_first_in_range(zsl, &r) == NULL && zsl_last_in_range(zsl, &r) == NULL);
    r = (zsl_range){2, 4, false, false};
    CHECK_EQ_INT(zsl_delete_range_by_score(zsl, &r), 3);
    CHECK_EQ_INT(zsl_delete_range_by_rank(zsl, 1, 2), 2); /* 1, 5 */
    CHECK_EQ_INT(zsl_first(zsl)->score, 6);
    CHECK(invariants_hold(zsl));
    zsl_free(zsl);
}

static void test_lex_fixed(void)
{
    zskiplist *zsl = zsl_new();
    const char *ms[] = {"a", "b", "c", "d", "e"};
    for (int i = 0; i < 5; i++) zsl_insert(zsl, 0, ms[i], 1);
    zsl_lex_range r = {{"b", 1, 0, false}, {"d", 1, 0, true}};
    CHECK(memcmp(zsl_member(zsl_first_in_lex(zsl, &r)), "b", 1) == 0);
    CHECK(memcmp(zsl_member(zsl_last_in_lex(zsl, &r)), "c", 1) == 0);
    r = (zsl_lex_range){{NULL, 0, -1, true}, {NULL, 0, 1, true}};
    CHECK(zsl_first_in_lex(zsl, &r) == zsl_first(zsl) && zsl_last_in_lex(zsl, &r) == zsl_last(zsl));
    r = (zsl_lex_range){{NULL, 0, 1, true}, {NULL, 0, 1, true}};
    CHECK(zsl_lex_empty(&r) && zsl_first_in_lex(zsl, &r) == NULL);
    r = (zsl_lex_range){{NULL, 0, -1, true}, {NULL, 0, -1, true}};
    CHECK(zsl_lex_empty(&r));
    r = (zsl_lex_range){{"c", 1, 0, true}, {"c", 1, 0, false}};
    CHECK(zsl_lex_empty(&r));
    r = (zsl_lex_range){{"bb", 2, 0, false}, {NULL, 0, 1, true}};
    CHECK_EQ_INT(zsl_delete_range_by_lex(zsl, &r), 3);
    CHECK_EQ_INT(zsl_len(zsl), 2);
    CHECK(invariants_hold(zsl));
    zsl_free(zsl);
}

/* Random inserts, deletes, score updates and rank lookups against the model. */
static void test_random_ops(void)
{
    zskiplist *zsl = zsl_new();
    model md = {0};
    int bad = 0;
    for (int op = 0; op < 20000 && bad == 0; op++) {
        char m[MAXM];
        size_t len = rand_member(m);
        long at = model_find(&md, m, len);
        zsl_node *x = zsl_find(zsl, m, len);
        if ((at >= 0) != (x != NULL)) bad++;
        int kind = (int)(rnd() % 5);
        if (kind <= 1 && at < 0) {
            double s = rand_score();
            zsl_insert(zsl, s, m, len);
            model_insert(&md, s, m, len);
        } else if (kind == 2 && at >= 0) {
            zsl_delete_node(zsl, x);
            model_remove_at(&md, (size_t)at);
        } else if (kind == 3 && at >= 0) {
            double s = rand_score();
            zsl_update_score(zsl, x, s);
            model_remove_at(&md, (size_t)at);
            model_insert(&md, s, m, len);
            if (zsl_find(zsl, m, len) != x) bad++;
        } else if (at >= 0) {
            if (zsl_rank(zsl, x) != (size_t)at + 1) bad++;
            if (zsl_by_rank(zsl, (size_t)at + 1) != x) bad++;
        }
        if (!same_as_model(zsl, &md)) bad++;
        if (op % 97 == 0 && !invariants_hold(zsl)) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(invariants_hold(zsl));
    zsl_free(zsl);
    free(md.v);
}

/* Fill a list and its model with up to n random members. */
static void fill(zskiplist *zsl, model *md, int n, bool same_score)
{
    for (int i = 0; i < n; i++) {
        char m[MAXM];
        size_t len = rand_member(m);
        if (model_find(md, m, len) >= 0) continue;
        double s = same_score ? 0 : rand_score();
        zsl_insert(zsl, s, m, len);
        model_insert(md, s, m, len);
    }
}

static void test_random_score_ranges(void)
{
    int bad = 0;
    for (int round = 0; round < 400; round++) {
        zskiplist *zsl = zsl_new();
        model md = {0};
        fill(zsl, &md, (int)(rnd() % 60), false);
        for (int q = 0; q < 20; q++) {
            zsl_range r = rand_range();
            long first = -1, last = -1;
            for (size_t i = 0; i < md.n; i++)
                if (model_in_range(&md.v[i], &r)) {
                    if (first < 0) first = (long)i;
                    last = (long)i;
                }
            zsl_node *f = zsl_first_in_range(zsl, &r), *l = zsl_last_in_range(zsl, &r);
            if ((first < 0) != (f == NULL) || (last < 0) != (l == NULL)) bad++;
            if (f && zsl_rank(zsl, f) != (size_t)first + 1) bad++;
            if (l && zsl_rank(zsl, l) != (size_t)last + 1) bad++;
        }
        zsl_range r = rand_range();
        size_t want = 0;
        for (size_t i = md.n; i-- > 0;)
            if (model_in_range(&md.v[i], &r)) {
                model_remove_at(&md, i);
                want++;
            }
        if (zsl_delete_range_by_score(zsl, &r) != want) bad++;
        if (!same_as_model(zsl, &md) || !invariants_hold(zsl)) bad++;
        zsl_free(zsl);
        free(md.v);
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_random_lex_ranges(void)
{
    int bad = 0;
    for (int round = 0; round < 400; round++) {
        zskiplist *zsl = zsl_new();
        model md = {0};
        fill(zsl, &md, (int)(rnd() % 60), true);
        for (int q = 0; q < 20; q++) {
            char b1[MAXM], b2[MAXM];
            zsl_lex_range r = {rand_bound(b1), rand_bound(b2)};
            long first = -1, last = -1;
            for (size_t i = 0; i < md.n; i++)
                if (model_in_lex(&md.v[i], &r)) {
                    if (first < 0) first = (long)i;
                    last = (long)i;
                }
            zsl_node *f = zsl_first_in_lex(zsl, &r), *l = zsl_last_in_lex(zsl, &r);
            if ((first < 0) != (f == NULL) || (last < 0) != (l == NULL)) bad++;
            if (f && zsl_rank(zsl, f) != (size_t)first + 1) bad++;
            if (l && zsl_rank(zsl, l) != (size_t)last + 1) bad++;
        }
        char b1[MAXM], b2[MAXM];
        zsl_lex_range r = {rand_bound(b1), rand_bound(b2)};
        size_t want = 0;
        for (size_t i = md.n; i-- > 0;)
            if (model_in_lex(&md.v[i], &r)) {
                model_remove_at(&md, i);
                want++;
            }
        if (zsl_delete_range_by_lex(zsl, &r) != want) bad++;
        if (!same_as_model(zsl, &md) || !invariants_hold(zsl)) bad++;
        zsl_free(zsl);
        free(md.v);
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_random_rank_delete(void)
{
    int bad = 0;
    for (int round = 0; round < 400; round++) {
        zskiplist *zsl = zsl_new();
        model md = {0};
        fill(zsl, &md, 1 + (int)(rnd() % 80), false);
        if (md.n == 0) {
            zsl_free(zsl);
            continue;
        }
        size_t a = 1 + rnd() % md.n, b = 1 + rnd() % md.n;
        size_t start = a < b ? a : b, end = a < b ? b : a;
        for (size_t i = end; i >= start; i--) model_remove_at(&md, i - 1);
        if (zsl_delete_range_by_rank(zsl, start, end) != end - start + 1) bad++;
        if (!same_as_model(zsl, &md) || !invariants_hold(zsl)) bad++;
        zsl_free(zsl);
        free(md.v);
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_large_dup_mem(void)
{
    zskiplist *zsl = zsl_new();
    for (int i = 0; i < 5000; i++) {
        char m[16];
        int n = snprintf(m, sizeof(m), "member:%d", i);
        zsl_insert(zsl, (double)(i % 100), m, (size_t)n);
    }
    CHECK(invariants_hold(zsl));
    CHECK(zsl->level > 1 && zsl->level <= ZSL_MAXLEVEL);
    zskiplist *copy = zsl_dup(zsl);
    CHECK_EQ_INT(zsl_len(copy), 5000);
    zsl_node *x = zsl_first(zsl), *y = zsl_first(copy);
    int diff = 0;
    for (; x && y; x = zsl_next(x), y = zsl_next(y))
        if (x->score != y->score || zsl_cmp_member(zsl_member(x), x->mlen, zsl_member(y), y->mlen)) diff++;
    CHECK(diff == 0 && x == NULL && y == NULL);
    CHECK(zsl_mem(zsl) > 5000 * sizeof(zsl_node));
    CHECK_EQ_INT(zsl_delete_range_by_rank(copy, 1, 5000), 5000);
    CHECK(zsl_first(copy) == NULL && zsl_last(copy) == NULL && copy->level == 1);
    CHECK(invariants_hold(copy));
    zsl_free(copy);
    zsl_free(zsl);
}

int main(void)
{
    size_t before = hmem_used();
    RUN(test_basic);
    RUN(test_binary_members);
    RUN(test_ranges_fixed);
    RUN(test_lex_fixed);
    RUN(test_random_ops);
    RUN(test_random_score_ranges);
    RUN(test_random_lex_ranges);
    RUN(test_random_rank_delete);
    RUN(test_large_dup_mem);
    if (hmem_used() != before) {
        fprintf(stderr, "leak: %zu bytes\n", hmem_used() - before);
        t_failed++;
    }
    return TEST_REPORT();
}
