/* lb.c — balancing policies: smooth WRR, weighted random, P2C least request, ring hash, maglev. */
#include "lb.h"
#include "gw_config.h"
#include "../common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* lb_new_keyed: ring_hash and maglev place endpoints by key, so a key keeps
 * its place when others join or leave; with lb_new the keys are the indices
 * "0".."n-1", which shift when an endpoint in the middle is removed. The key
 * strings are only read during the call.
 * LB_MAX_ENDPOINTS (lb.h) bounds the O(n) scans on the pick path and keeps the
 * maglev table (MAGLEV_SIZE entries) at >= 16 entries per endpoint. */
#define LB_WEIGHT_MIN 1
#define LB_WEIGHT_MAX 1000
/* Ketama-style ring: points per weight unit, and a cap on the whole ring
 * (100k points * 16 bytes = 1.6 MB per balancer at most). */
#define RING_POINTS_PER_WEIGHT 100
#define RING_MAX_POINTS 100000
/* Maglev lookup table size: a prime well above 100 * typical endpoint counts
 * (the Maglev paper's M >> N for even spread). */
#define MAGLEV_SIZE 65537

_Static_assert(LB_MAX_ENDPOINTS <= INT16_MAX, "maglev table stores endpoints as int16_t");
_Static_assert(LB_MAX_ENDPOINTS < MAGLEV_SIZE, "every endpoint needs a maglev entry");

typedef struct ring_point {
    uint64_t hash;
    int32_t endpoint;
} ring_point;

struct gw_lb {
    int policy;
    int n;
    int *weight;          /* per endpoint, clamped to LB_WEIGHT_MIN..LB_WEIGHT_MAX */
    uint64_t total_weight;
    uint64_t *cum_weight; /* cum_weight[i] = weight[0] + .. + weight[i] (random picks) */
    int64_t *current;     /* round robin: nginx's current_weight per endpoint */
    ring_point *ring;     /* ring_hash: points sorted by hash */
    int nring;
    int16_t *maglev;      /* maglev: MAGLEV_SIZE endpoint indices */
};

/* ---- hashing ------------------------------------------------------------ */

/* XXH64 (Yann Collet's xxHash, 64-bit variant): fast on long cookies, good
 * avalanche, and the same value on every process and host (fixed seed,
 * explicit little-endian loads). */
#define XXP1 0x9E3779B185EBCA87ULL
#define XXP2 0xC2B2AE3D27D4EB4FULL
#define XXP3 0x165667B19E3779F9ULL
#define XXP4 0x85EBCA77C2B2AE63ULL
#define XXP5 0x27D4EB2F165667C5ULL

static uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t xxh_round(uint64_t acc, uint64_t input)
{
    acc += input * XXP2;
    return rotl64(acc, 31) * XXP1;
}

static uint64_t xxh_merge(uint64_t h, uint64_t v)
{
    h ^= xxh_round(0, v);
    return h * XXP1 + XXP4;
}

/* The 32-byte stripes of inputs of 32 bytes or more; advances *pp. */
static uint64_t xxh_stripes(const uint8_t **pp, const uint8_t *end, uint64_t seed)
{
    const uint8_t *p = *pp;
    uint64_t v1 = seed + XXP1 + XXP2, v2 = seed + XXP2, v3 = seed, v4 = seed - XXP1;
    do {
        v1 = xxh_round(v1, load_le64(p));
        v2 = xxh_round(v2, load_le64(p + 8));
        v3 = xxh_round(v3, load_le64(p + 16));
        v4 = xxh_round(v4, load_le64(p + 24));
        p += 32;
    } while (end - p >= 32);
    *pp = p;
    uint64_t h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
    h = xxh_merge(h, v1);
    h = xxh_merge(h, v2);
    h = xxh_merge(h, v3);
    return xxh_merge(h, v4);
}

static uint64_t xxh64(const void *in, size_t len, uint64_t seed)
{
    const uint8_t *p = in, *end = p + len;
    uint64_t h = len >= 32 ? xxh_stripes(&p, end, seed) : seed + XXP5;
    h += (uint64_t)len;
    for (; end - p >= 8; p += 8) h = rotl64(h ^ xxh_round(0, load_le64(p)), 27) * XXP1 + XXP4;
    if (end - p >= 4) {
        h = rotl64(h ^ (uint64_t)load_le32(p) * XXP1, 23) * XXP2 + XXP3;
        p += 4;
    }
    for (; p < end; p++) h = rotl64(h ^ *p * XXP5, 11) * XXP1;
    h ^= h >> 33;
    h *= XXP2;
    h ^= h >> 29;
    h *= XXP3;
    return h ^ (h >> 32);
}

uint64_t lb_hash(const void *p, size_t len)
{
    return xxh64(p, len, 0);
}

/* splitmix64's finaliser: derives further independent-looking random values
 * from the caller's one rnd (second P2C choice, fallback draws). */
static uint64_t mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* ---- what may be picked ------------------------------------------------- */

static bool is_eligible(const lb_input *in, int i)
{
    return in->eligible == NULL || in->eligible[i];
}

/* Usable for a first choice: eligible and not the endpoint to avoid. */
static bool usable(const lb_input *in, int i, int exclude)
{
    return i != exclude && is_eligible(in, i);
}

static bool any_usable(const gw_lb *lb, const lb_input *in, int exclude)
{
    for (int i = 0; i < lb->n; i++)
        if (usable(in, i, exclude)) return true;
    return false;
}

/* ---- smooth weighted round robin ---------------------------------------- */

/* nginx's ngx_http_upstream_get_peer: every usable endpoint's current weight
 * grows by its weight, the largest is picked and pays back the total. Over
 * any window of total-weight picks with a stable set, endpoint i is picked
 * exactly weight[i] times, interleaved (5:1:1 gives a a b a c a a). */
static int pick_wrr(gw_lb *lb, const lb_input *in, int exclude)
{
    int best = -1;
    int64_t total = 0;
    for (int i = 0; i < lb->n; i++) {
        if (!usable(in, i, exclude)) continue;
        lb->current[i] += lb->weight[i];
        total += lb->weight[i];
        if (best < 0 || lb->current[i] > lb->current[best]) best = i;
    }
    if (best >= 0) lb->current[best] -= total;
    return best;
}

/* ---- weighted random and least request ---------------------------------- */

/* Endpoint whose weight interval contains t (0 <= t < total_weight). */
static int weight_index(const gw_lb *lb, uint64_t t)
{
    int lo = 0, hi = lb->n - 1;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (lb->cum_weight[mid] > t) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

/* Weighted draw among usable endpoints only: O(n). */
static int pick_random_slow(const gw_lb *lb, const lb_input *in, int exclude, uint64_t r)
{
    uint64_t sum = 0;
    for (int i = 0; i < lb->n; i++)
        if (usable(in, i, exclude)) sum += (uint64_t)lb->weight[i];
    if (sum == 0) return -1;
    uint64_t t = r % sum;
    for (int i = 0; i < lb->n; i++) {
        if (!usable(in, i, exclude)) continue;
        if (t < (uint64_t)lb->weight[i]) return i;
        t -= (uint64_t)lb->weight[i];
    }
    return -1; /* not reached: t < sum */
}

/* Draw over all endpoints in O(log n); if that lands on an unusable one, draw
 * again among the usable ones with a fresh value. The result is exactly
 * weight-proportional over the usable set: P(i) = w_i/W + (1 - W_u/W) * w_i/W_u
 * = w_i/W_u. */
static int pick_random(const gw_lb *lb, const lb_input *in, int exclude, uint64_t r)
{
    int i = weight_index(lb, r % lb->total_weight);
    if (usable(in, i, exclude)) return i;
    return pick_random_slow(lb, in, exclude, mix64(r));
}

static uint32_t active_of(const lb_input *in, int i)
{
    return in->active ? in->active[i] : 0;
}

/* Power of two choices (Mitzenmacher): two weighted random candidates, the
 * one with fewer requests in flight wins, the first drawn on a tie. Both
 * draws already follow the weights, so with nothing in flight (light
 * traffic) the shares are the weights; preferring the heavier on a tie, as
 * this once did, gave weights 1:3 a 1:15 split. Raw counts, not counts per
 * weight: a heavier (faster) endpoint finishes sooner, which already keeps
 * its count low; dividing by the weight as well overloaded it (1.31x its
 * share against 1.01x in test_gw_lb's closed loop). It avoids the herd that
 * "global least" causes when many workers see the same counts, at the cost
 * of one extra draw. */
static int pick_least_request(const gw_lb *lb, const lb_input *in, int exclude)
{
    int a = pick_random(lb, in, exclude, in->rnd);
    if (a < 0) return -1;
    int b = pick_random(lb, in, exclude, mix64(in->rnd ^ 0x5851F42D4C957F2DULL));
    return active_of(in, b) < active_of(in, a) ? b : a;
}

/* ---- ring hash ---------------------------------------------------------- */

static int cmp_point(const void *x, const void *y)
{
    const ring_point *a = x, *b = y;
    if (a->hash != b->hash) return a->hash < b->hash ? -1 : 1;
    return (a->endpoint > b->endpoint) - (a->endpoint < b->endpoint);
}

/* Points for endpoint i: RING_POINTS_PER_WEIGHT per weight unit, scaled down
 * proportionally when the ring would exceed RING_MAX_POINTS; at least one. */
static int ring_points_of(const gw_lb *lb, int i)
{
    uint64_t want = (uint64_t)RING_POINTS_PER_WEIGHT * lb->total_weight;
    if (want <= RING_MAX_POINTS) return RING_POINTS_PER_WEIGHT * lb->weight[i];
    uint64_t p = (uint64_t)RING_MAX_POINTS * (uint64_t)lb->weight[i] / lb->total_weight;
    return p > 0 ? (int)p : 1;
}

/* Point j of an endpoint sits at xxh64(key, seed j): it depends only on the
 * key, so the endpoint's arcs are the same in every configuration. */
static void ring_build(gw_lb *lb, const char *const *keys)
{
    int total = 0;
    for (int i = 0; i < lb->n; i++) total += ring_points_of(lb, i);
    lb->ring = hmalloc(sizeof(ring_point) * (size_t)(total > 0 ? total : 1));
    lb->nring = 0;
    for (int i = 0; i < lb->n; i++) {
        int npoints = ring_points_of(lb, i);
        size_t klen = strlen(keys[i]);
        for (int j = 0; j < npoints; j++) {
            lb->ring[lb->nring].hash = xxh64(keys[i], klen, (uint64_t)j);
            lb->ring[lb->nring].endpoint = i;
            lb->nring++;
        }
    }
    qsort(lb->ring, (size_t)lb->nring, sizeof(ring_point), cmp_point);
}

/* First point at or after h, wrapping to the start of the ring. */
static int ring_find(const gw_lb *lb, uint64_t h)
{
    int lo = 0, hi = lb->nring;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (lb->ring[mid].hash < h) lo = mid + 1;
        else hi = mid;
    }
    return lo == lb->nring ? 0 : lo;
}

/* The owner of h's arc; if it may not be used, the next usable endpoint met
 * clockwise — so only the keys of an unusable endpoint move, and they spread
 * over the others in proportion to their arcs. */
static int pick_ring(const gw_lb *lb, const lb_input *in, int exclude)
{
    int at = ring_find(lb, in->hash);
    int e = lb->ring[at].endpoint;
    if (usable(in, e, exclude)) return e;
    if (!any_usable(lb, in, exclude)) return -1;
    for (int k = 1; k < lb->nring; k++) {
        e = lb->ring[(at + k) % lb->nring].endpoint;
        if (usable(in, e, exclude)) return e;
    }
    return -1; /* not reached: every endpoint owns at least one point */
}

/* ---- maglev ------------------------------------------------------------- */

/* One endpoint's walk through the table (Maglev paper, section 3.4): its
 * preference list is offset, offset+skip, offset+2*skip, ... mod M, a
 * permutation of the table because M is prime and 0 < skip < M. */
typedef struct maglev_fill {
    int endpoint;
    uint64_t order;   /* fill order: by key hash, so config order does not matter */
    uint32_t pos;     /* next table slot to try */
    uint32_t skip;
    int64_t target;   /* weighted turns: fills when turn * weight >= target */
} maglev_fill;

static int cmp_fill(const void *x, const void *y)
{
    const maglev_fill *a = x, *b = y;
    if (a->order != b->order) return a->order < b->order ? -1 : 1;
    return (a->endpoint > b->endpoint) - (a->endpoint < b->endpoint);
}

/* Takes the next free slot on f's preference list. */
static void maglev_claim(gw_lb *lb, maglev_fill *f)
{
    while (lb->maglev[f->pos] >= 0) {
        f->pos += f->skip;
        if (f->pos >= MAGLEV_SIZE) f->pos -= MAGLEV_SIZE;
    }
    lb->maglev[f->pos] = (int16_t)f->endpoint;
}

/* Weighted population (Envoy's scheme): in turn t an endpoint claims a slot
 * when t * weight >= its target, then its target grows by the largest
 * weight, so the heaviest claims every turn and one of a third of that
 * weight every third turn. Every endpoint claims one in turn 1. */
static void maglev_populate(gw_lb *lb, maglev_fill *fill, int maxw)
{
    int filled = 0;
    for (int64_t turn = 1; filled < MAGLEV_SIZE; turn++) {
        for (int k = 0; k < lb->n && filled < MAGLEV_SIZE; k++) {
            maglev_fill *f = &fill[k];
            if (turn * lb->weight[f->endpoint] < f->target) continue;
            f->target += maxw;
            maglev_claim(lb, f);
            filled++;
        }
    }
}

static void maglev_build(gw_lb *lb, const char *const *keys)
{
    lb->maglev = hmalloc(sizeof(int16_t) * MAGLEV_SIZE);
    for (int s = 0; s < MAGLEV_SIZE; s++) lb->maglev[s] = -1;
    if (lb->n == 0) return;
    maglev_fill *fill = hcalloc((size_t)lb->n, sizeof(maglev_fill));
    int maxw = 0;
    for (int i = 0; i < lb->n; i++) {
        size_t klen = strlen(keys[i]);
        uint64_t h1 = xxh64(keys[i], klen, 0), h2 = xxh64(keys[i], klen, 0x6D61676C6576ULL);
        fill[i].endpoint = i;
        fill[i].order = h1;
        fill[i].pos = (uint32_t)(h1 % MAGLEV_SIZE);
        fill[i].skip = (uint32_t)(h2 % (MAGLEV_SIZE - 1)) + 1;
        if (lb->weight[i] > maxw) maxw = lb->weight[i];
    }
    qsort(fill, (size_t)lb->n, sizeof(maglev_fill), cmp_fill);
    maglev_populate(lb, fill, maxw);
    hfree(fill);
}

/* The table's owner of h; if it may not be used, the next slot (linearly)
 * whose owner may — only keys of unusable endpoints move. */
static int pick_maglev(const gw_lb *lb, const lb_input *in, int exclude)
{
    uint32_t at = (uint32_t)(in->hash % MAGLEV_SIZE);
    int e = lb->maglev[at];
    if (usable(in, e, exclude)) return e;
    if (!any_usable(lb, in, exclude)) return -1;
    for (uint32_t k = 1; k < MAGLEV_SIZE; k++) {
        e = lb->maglev[(at + k) % MAGLEV_SIZE];
        if (usable(in, e, exclude)) return e;
    }
    return -1; /* not reached: every endpoint owns at least one slot */
}

/* ---- construction and dispatch ------------------------------------------ */

static int clamp_weight(int w)
{
    return w < LB_WEIGHT_MIN ? LB_WEIGHT_MIN : w > LB_WEIGHT_MAX ? LB_WEIGHT_MAX : w;
}

static void set_weights(gw_lb *lb, const int *weights)
{
    lb->weight = hmalloc(sizeof(int) * (size_t)(lb->n > 0 ? lb->n : 1));
    lb->cum_weight = hmalloc(sizeof(uint64_t) * (size_t)(lb->n > 0 ? lb->n : 1));
    lb->total_weight = 0;
    for (int i = 0; i < lb->n; i++) {
        lb->weight[i] = clamp_weight(weights ? weights[i] : 1);
        lb->total_weight += (uint64_t)lb->weight[i];
        lb->cum_weight[i] = lb->total_weight;
    }
}

static bool policy_known(int policy)
{
    return policy == LB_ROUND_ROBIN || policy == LB_LEAST_REQUEST || policy == LB_RANDOM ||
           policy == LB_RING_HASH || policy == LB_MAGLEV;
}

gw_lb *lb_new_keyed(int policy, const int *weights, const char *const *keys, int n)
{
    if (!policy_known(policy) || n < 0 || n > LB_MAX_ENDPOINTS) return NULL;
    bool hashed = policy == LB_RING_HASH || policy == LB_MAGLEV;
    if (hashed && !keys) return lb_new(policy, weights, n);
    gw_lb *lb = hcalloc(1, sizeof(gw_lb));
    lb->policy = policy;
    lb->n = n;
    set_weights(lb, weights);
    if (policy == LB_ROUND_ROBIN) lb->current = hcalloc((size_t)(n > 0 ? n : 1), sizeof(int64_t));
    if (policy == LB_RING_HASH) ring_build(lb, keys);
    if (policy == LB_MAGLEV) maglev_build(lb, keys);
    return lb;
}

/* Index keys "0".."n-1" for callers without stable endpoint names. */
gw_lb *lb_new(int policy, const int *weights, int n)
{
    if (!policy_known(policy) || n < 0 || n > LB_MAX_ENDPOINTS) return NULL;
    if (policy != LB_RING_HASH && policy != LB_MAGLEV)
        return lb_new_keyed(policy, weights, NULL, n);
    char (*names)[12] = hmalloc(sizeof(*names) * (size_t)(n > 0 ? n : 1));
    const char **keys = hmalloc(sizeof(char *) * (size_t)(n > 0 ? n : 1));
    for (int i = 0; i < n; i++) {
        snprintf(names[i], sizeof(names[i]), "%d", i);
        keys[i] = names[i];
    }
    gw_lb *lb = lb_new_keyed(policy, weights, keys, n);
    hfree(keys);
    hfree(names);
    return lb;
}

void lb_free(gw_lb *lb)
{
    if (!lb) return;
    hfree(lb->weight);
    hfree(lb->cum_weight);
    hfree(lb->current);
    hfree(lb->ring);
    hfree(lb->maglev);
    hfree(lb);
}

static int pick_policy(gw_lb *lb, const lb_input *in, int exclude)
{
    switch (lb->policy) {
    case LB_ROUND_ROBIN: return pick_wrr(lb, in, exclude);
    case LB_LEAST_REQUEST: return pick_least_request(lb, in, exclude);
    case LB_RANDOM: return pick_random(lb, in, exclude, in->rnd);
    case LB_RING_HASH: return pick_ring(lb, in, exclude);
    case LB_MAGLEV: return pick_maglev(lb, in, exclude);
    }
    return -1;
}

/* exclude is a preference: when it is the only eligible endpoint it is
 * returned (a retry to the same endpoint beats none; the caller compares
 * with exclude if it would rather not). */
int lb_pick(gw_lb *lb, const lb_input *in)
{
    if (!lb || !in || lb->n == 0) return -1;
    int exclude = in->exclude >= 0 && in->exclude < lb->n ? in->exclude : -1;
    int e = pick_policy(lb, in, exclude);
    if (e < 0 && exclude >= 0 && is_eligible(in, exclude)) e = exclude;
    return e;
}
