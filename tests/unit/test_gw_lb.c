/* test_gw_lb.c — balancing policies: WRR, eligibility, P2C, hashing, remap and spread measured. */
#include "test.h"
#include "gw/gw_config.h"
#include "gw/lb.h"

#include <stdint.h>
#include <stdio.h>

/* Declared in lb.c until lb.h carries it. */
gw_lb *lb_new_keyed(int policy, const int *weights, const char *const *keys, int n);

#define NPOLICIES 5
static const int policies[NPOLICIES] = {LB_ROUND_ROBIN, LB_LEAST_REQUEST, LB_RANDOM,
                                        LB_RING_HASH, LB_MAGLEV};
static const char *const policy_names[NPOLICIES] = {"round_robin", "least_request", "random",
                                                    "ring_hash", "maglev"};

/* Deterministic PRNG (splitmix64) so every run measures the same thing. */
static uint64_t rng_state = 42;
static uint64_t next_rand(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint64_t key_hash(int k)
{
    char tmp[32];
    int len = snprintf(tmp, sizeof(tmp), "user-%d", k);
    return lb_hash(tmp, (size_t)len);
}

static lb_input input(const bool *eligible, const uint32_t *active, int exclude)
{
    lb_input in = {eligible, active, next_rand(), next_rand(), exclude};
    return in;
}

/* Reference values from libxxhash 0.8.1 (XXH64, seed 0). */
static void test_hash_vectors(void)
{
    CHECK(lb_hash("", 0) == 0xef46db3751d8e999ULL);
    CHECK(lb_hash("a", 1) == 0xd24ec4f1a98c6e5bULL);
    CHECK(lb_hash("abc", 3) == 0x44bc2cf5ad770999ULL);
    CHECK(lb_hash("10.0.0.1:8080", 13) == 0xcb972177068eb685ULL);
    const char *fox = "The quick brown fox jumps over the lazy dog";
    CHECK(lb_hash(fox, strlen(fox)) == 0x0b242d361fda71bcULL);
    uint8_t bytes[100];
    for (int i = 0; i < 100; i++) bytes[i] = (uint8_t)i;
    CHECK(lb_hash(bytes, sizeof(bytes)) == 0x6ac1e58032166597ULL);
}

static void test_bad_construction(void)
{
    int w[2] = {1, 1};
    CHECK(lb_new(LB_ROUND_ROBIN, w, -1) == NULL);
    CHECK(lb_new(99, w, 2) == NULL);
    CHECK(lb_new(LB_MAGLEV, w, 5000) == NULL);
    lb_free(NULL);
    /* Out-of-range weights are clamped to 1..1000, not trusted. */
    int bad[3] = {0, -7, 5000};
    gw_lb *lb = lb_new(LB_ROUND_ROBIN, bad, 3);
    int count[3] = {0};
    for (int i = 0; i < 1002; i++) count[lb_pick(lb, &(lb_input){NULL, NULL, 0, 0, -1})]++;
    CHECK_EQ_INT(count[0], 1);
    CHECK_EQ_INT(count[1], 1);
    CHECK_EQ_INT(count[2], 1000);
    lb_free(lb);
}

/* nginx's documented sequence for weights 5:1:1 is a a b a c a a. */
static void test_wrr_sequence(void)
{
    int w[3] = {5, 1, 1};
    const int want[7] = {0, 0, 1, 0, 2, 0, 0};
    gw_lb *lb = lb_new(LB_ROUND_ROBIN, w, 3);
    for (int cycle = 0; cycle < 10; cycle++)
        for (int i = 0; i < 7; i++)
            CHECK_EQ_INT(lb_pick(lb, &(lb_input){NULL, NULL, 0, 0, -1}), want[i]);
    lb_free(lb);
}

static void test_wrr_smooth_equal(void)
{
    int w[3] = {1, 1, 1}, count[3] = {0}, prev = -1;
    gw_lb *lb = lb_new(LB_ROUND_ROBIN, w, 3);
    for (int i = 0; i < 300; i++) {
        int e = lb_pick(lb, &(lb_input){NULL, NULL, 0, 0, -1});
        CHECK(e != prev);
        count[e]++;
        prev = e;
    }
    for (int i = 0; i < 3; i++) CHECK_EQ_INT(count[i], 100);
    lb_free(lb);
}

/* Over every whole cycle of total-weight picks each endpoint gets exactly its
 * weight, for random weight vectors. */
static void test_wrr_exact_cycles(void)
{
    for (int trial = 0; trial < 200; trial++) {
        int n = 1 + (int)(next_rand() % 8), w[8], total = 0;
        for (int i = 0; i < n; i++) total += w[i] = 1 + (int)(next_rand() % 20);
        gw_lb *lb = lb_new(LB_ROUND_ROBIN, w, n);
        for (int cycle = 0; cycle < 3; cycle++) {
            int count[8] = {0};
            for (int k = 0; k < total; k++) count[lb_pick(lb, &(lb_input){NULL, NULL, 0, 0, -1})]++;
            for (int i = 0; i < n; i++) CHECK_EQ_INT(count[i], w[i]);
        }
        lb_free(lb);
    }
}

static void test_wrr_eligible(void)
{
    int w[4] = {3, 2, 1, 4}, count[4] = {0};
    bool el[4] = {true, true, true, true};
    gw_lb *lb = lb_new(LB_ROUND_ROBIN, w, 4);
    for (int i = 0; i < 17; i++) lb_pick(lb, &(lb_input){el, NULL, 0, 0, -1});
    el[3] = false; /* taken out mid-cycle: the rest keep their proportions */
    for (int i = 0; i < 600; i++) count[lb_pick(lb, &(lb_input){el, NULL, 0, 0, -1})]++;
    CHECK_EQ_INT(count[3], 0);
    CHECK(count[0] >= 299 && count[0] <= 301);
    CHECK(count[1] >= 199 && count[1] <= 201);
    CHECK(count[2] >= 99 && count[2] <= 101);
    lb_free(lb);
}

static void test_nothing_eligible(void)
{
    int w[4] = {1, 2, 3, 4};
    bool none[4] = {false, false, false, false};
    for (int p = 0; p < NPOLICIES; p++) {
        gw_lb *lb = lb_new(policies[p], w, 4);
        for (int k = 0; k < 100; k++) {
            lb_input in = input(none, NULL, k % 5 - 1);
            CHECK_EQ_INT(lb_pick(lb, &in), -1);
        }
        lb_free(lb);
        gw_lb *empty = lb_new(policies[p], NULL, 0);
        CHECK(empty != NULL);
        lb_input in = input(NULL, NULL, -1);
        CHECK_EQ_INT(lb_pick(empty, &in), -1);
        lb_free(empty);
    }
}

/* exclude is never returned while another endpoint is eligible, and is
 * returned when it is the only one; ineligible endpoints never are. */
static void test_exclude_and_eligible(void)
{
    int w[6] = {1, 5, 2, 1, 9, 3};
    uint32_t active[6] = {0};
    for (int p = 0; p < NPOLICIES; p++) {
        gw_lb *lb = lb_new(policies[p], w, 6);
        for (int k = 0; k < 5000; k++) {
            bool el[6];
            int neligible = 0, only = -1;
            for (int i = 0; i < 6; i++) {
                el[i] = next_rand() % 3 != 0;
                active[i] = (uint32_t)(next_rand() % 4);
                if (el[i]) neligible++, only = i;
            }
            int exclude = (int)(next_rand() % 7) - 1;
            lb_input in = input(el, active, exclude);
            int e = lb_pick(lb, &in);
            if (neligible == 0) {
                CHECK_EQ_INT(e, -1);
                continue;
            }
            CHECK(e >= 0 && e < 6 && el[e]);
            if (neligible == 1 && exclude == only) CHECK_EQ_INT(e, exclude);
            else CHECK(e != exclude);
        }
        lb_free(lb);
    }
}

static void test_random_weighted(void)
{
    int w[4] = {1, 2, 3, 4}, count[4] = {0};
    bool el[4] = {true, false, true, true};
    gw_lb *lb = lb_new(LB_RANDOM, w, 4);
    const int N = 80000;
    for (int k = 0; k < N; k++) {
        lb_input in = input(el, NULL, -1);
        count[lb_pick(lb, &in)]++;
    }
    CHECK_EQ_INT(count[1], 0);
    /* Shares among the eligible: 1/8, 3/8, 4/8 (within 1.5 points). */
    CHECK(count[0] > N * 0.11 && count[0] < N * 0.14);
    CHECK(count[2] > N * 0.36 && count[2] < N * 0.39);
    CHECK(count[3] > N * 0.485 && count[3] < N * 0.515);
    lb_free(lb);
}

static double pick_share(gw_lb *lb, const uint32_t *active, int target, int n_picks)
{
    int hits = 0;
    for (int k = 0; k < n_picks; k++) {
        lb_input in = input(NULL, active, -1);
        hits += lb_pick(lb, &in) == target;
    }
    return (double)hits / n_picks;
}

static void test_least_request(void)
{
    int w4[4] = {1, 1, 1, 1};
    gw_lb *lb = lb_new(LB_LEAST_REQUEST, w4, 4);
    /* The busy one wins only when both draws land on it: 1/16. */
    uint32_t busy0[4] = {50, 0, 0, 0};
    double s = pick_share(lb, busy0, 0, 40000);
    CHECK(s > 0.05 && s < 0.075);
    /* The idle one wins whenever it is drawn: 1 - (3/4)^2 = 7/16. */
    uint32_t idle0[4] = {0, 10, 10, 10};
    s = pick_share(lb, idle0, 0, 40000);
    CHECK(s > 0.41 && s < 0.465);
    lb_free(lb);
    /* A tie goes to the first draw: the weight share, 3/4 for weights 1:3
     * (it went to the heavier once: 15/16). */
    int w2[2] = {1, 3};
    uint32_t tie[2] = {2, 2};
    lb = lb_new(LB_LEAST_REQUEST, w2, 2);
    s = pick_share(lb, tie, 1, 40000);
    CHECK(s > 0.735 && s < 0.765);
    /* The heavier with more in flight wins only when drawn twice: 9/16. */
    uint32_t busier[2] = {1, 3};
    s = pick_share(lb, busier, 1, 40000);
    CHECK(s > 0.545 && s < 0.58);
    lb_free(lb);
}

/* With nothing in flight (light, sequential traffic) every pick is a tie, and
 * the shares must be the weights. Preferring the heavier on a tie once gave
 * weights 3:1 a 378:22 split over 400 sequential requests (15:1). */
static void test_least_request_weights_when_idle(void)
{
    int w[2] = {3, 1};
    uint32_t idle[2] = {0, 0};
    gw_lb *lb = lb_new(LB_LEAST_REQUEST, w, 2);
    double s = pick_share(lb, idle, 0, 40000);
    CHECK(s > 0.735 && s < 0.765);
    int w3[3] = {1, 2, 5}, count[3] = {0};
    gw_lb *lb3 = lb_new(LB_LEAST_REQUEST, w3, 3);
    const int N = 80000;
    for (int k = 0; k < N; k++) {
        lb_input in = input(NULL, NULL, -1); /* no counts at all: the same */
        count[lb_pick(lb3, &in)]++;
    }
    CHECK(count[0] > N * 0.11 && count[0] < N * 0.14);
    CHECK(count[1] > N * 0.235 && count[1] < N * 0.265);
    CHECK(count[2] > N * 0.61 && count[2] < N * 0.64);
    lb_free(lb3);
    lb_free(lb);
}

static void endpoint_keys(char names[][24], const char **keys, int first, int n)
{
    for (int i = 0; i < n; i++) {
        snprintf(names[i], sizeof(names[i]), "10.0.0.%d:8080", first + i);
        keys[i] = names[i];
    }
}

/* The same hash maps to the same endpoint in every instance built from the
 * same configuration (another worker, another process). */
static void test_hash_stable(void)
{
    char names[10][24];
    const char *keys[10];
    endpoint_keys(names, keys, 1, 10);
    for (int p = 3; p < NPOLICIES; p++) {
        gw_lb *a = lb_new_keyed(policies[p], NULL, keys, 10);
        gw_lb *b = lb_new_keyed(policies[p], NULL, keys, 10);
        for (int k = 0; k < 10000; k++) {
            lb_input in = {NULL, NULL, key_hash(k), next_rand(), -1};
            int ea = lb_pick(a, &in);
            CHECK_EQ_INT(lb_pick(b, &in), ea);
            CHECK_EQ_INT(lb_pick(a, &in), ea);
        }
        lb_free(a);
        lb_free(b);
    }
}

/* Marking an endpoint ineligible moves exactly its keys and no others. */
static void test_hash_ineligible_moves_only_its_keys(void)
{
    char names[10][24];
    const char *keys[10];
    endpoint_keys(names, keys, 1, 10);
    bool el[10];
    for (int i = 0; i < 10; i++) el[i] = i != 3;
    for (int p = 3; p < NPOLICIES; p++) {
        gw_lb *lb = lb_new_keyed(policies[p], NULL, keys, 10);
        for (int k = 0; k < 20000; k++) {
            lb_input all = {NULL, NULL, key_hash(k), 0, -1};
            lb_input some = {el, NULL, key_hash(k), 0, -1};
            int before = lb_pick(lb, &all), after = lb_pick(lb, &some);
            if (before == 3) CHECK(after != 3 && after >= 0);
            else CHECK_EQ_INT(after, before);
        }
        lb_free(lb);
    }
}

#define REMAP_KEYS 100000

static bool present(const char **keys, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (strcmp(keys[i], key) == 0) return true;
    return false;
}

/* Fraction of REMAP_KEYS hashes whose endpoint (by key) differs between a
 * balancer over keys a[] and one over keys b[]; *between gets the fraction
 * that moved between endpoints present in both (movement beyond the minimum). */
static double moved_fraction(int policy, const char **a, int na, const char **b, int nb,
                             double *between)
{
    gw_lb *la = lb_new_keyed(policy, NULL, a, na), *lb = lb_new_keyed(policy, NULL, b, nb);
    int moved = 0, extra = 0;
    for (int k = 0; k < REMAP_KEYS; k++) {
        lb_input in = {NULL, NULL, key_hash(k), 0, -1};
        const char *from = a[lb_pick(la, &in)], *to = b[lb_pick(lb, &in)];
        if (strcmp(from, to) == 0) continue;
        moved++;
        extra += present(b, nb, from) && present(a, na, to);
    }
    lb_free(la);
    lb_free(lb);
    *between = (double)extra / REMAP_KEYS;
    return (double)moved / REMAP_KEYS;
}

/* Rebuilding with one endpoint of 10 removed (the 5th) or an 11th added. */
static void test_remap_measurement(void)
{
    char names[11][24];
    const char *all[11], *removed[9];
    endpoint_keys(names, all, 1, 11);
    for (int i = 0, j = 0; i < 10; i++)
        if (i != 4) removed[j++] = all[i];
    printf("remap of %d keys (ideal: remove 1 of 10 = 0.1000, add 1 to 10 = 0.0909)\n",
           REMAP_KEYS);
    for (int p = 3; p < NPOLICIES; p++) {
        double rm_extra, add_extra;
        double rm = moved_fraction(policies[p], all, 10, removed, 9, &rm_extra);
        double add = moved_fraction(policies[p], all, 10, all, 11, &add_extra);
        printf("  %-10s remove: %.4f (%.4f beyond minimum)  add: %.4f (%.4f beyond minimum)\n",
               policy_names[p], rm, rm_extra, add, add_extra);
        CHECK(rm >= 0.09 && rm < 0.15);
        CHECK(add >= 0.08 && add < 0.15);
        /* With index keys (lb_new) removing the 5th renames 6..10: far worse. */
        double rm_idx = 0;
        gw_lb *la = lb_new(policies[p], NULL, 10), *lb9 = lb_new(policies[p], NULL, 9);
        for (int k = 0; k < REMAP_KEYS; k++) {
            lb_input in = {NULL, NULL, key_hash(k), 0, -1};
            int e9 = lb_pick(lb9, &in);
            rm_idx += lb_pick(la, &in) != (e9 >= 4 ? e9 + 1 : e9);
        }
        printf("  %-10s remove with index keys (lb_new): %.4f\n", policy_names[p],
               rm_idx / REMAP_KEYS);
        lb_free(la);
        lb_free(lb9);
    }
}

/* Closed-loop least_request: 64 requests in flight; each step one finishes,
 * chosen with probability proportional to its endpoint's weight (weights as
 * relative capacity), and a new one is picked. */
static void spread_least_request(gw_lb *lb, const int *w, int n, long *count, int picks)
{
    enum { INFLIGHT = 64 };
    uint32_t active[16] = {0};
    int slot[INFLIGHT];
    for (int s = 0; s < INFLIGHT; s++) {
        lb_input in = input(NULL, active, -1);
        slot[s] = lb_pick(lb, &in);
        active[slot[s]]++;
    }
    for (int k = 0; k < picks; k++) {
        int total = 0;
        for (int s = 0; s < INFLIGHT; s++) total += w[slot[s]];
        int t = (int)(next_rand() % (uint64_t)total), s = 0;
        while (t >= w[slot[s]]) t -= w[slot[s++]];
        active[slot[s]]--;
        lb_input in = input(NULL, active, -1);
        slot[s] = lb_pick(lb, &in);
        active[slot[s]]++;
        count[slot[s]]++;
    }
    (void)n;
}

/* max over endpoints of (picks / weight-proportional expectation). */
static double spread(int policy, const int *w, int n)
{
    enum { PICKS = 100000 };
    char names[16][24];
    const char *keys[16];
    endpoint_keys(names, keys, 1, n);
    gw_lb *lb = lb_new_keyed(policy, w, keys, n);
    long count[16] = {0}, wsum = 0;
    if (policy == LB_LEAST_REQUEST) spread_least_request(lb, w, n, count, PICKS);
    for (int k = 0; policy != LB_LEAST_REQUEST && k < PICKS; k++) {
        lb_input in = {NULL, NULL, key_hash(k), next_rand(), -1};
        count[lb_pick(lb, &in)]++;
    }
    for (int i = 0; i < n; i++) wsum += w[i];
    double worst = 0;
    for (int i = 0; i < n; i++) {
        double r = (double)count[i] / ((double)PICKS * w[i] / (double)wsum);
        if (r > worst) worst = r;
    }
    lb_free(lb);
    return worst;
}

static void test_spread_measurement(void)
{
    int equal[10], unequal[10];
    for (int i = 0; i < 10; i++) equal[i] = 1, unequal[i] = i + 1;
    const double bound[NPOLICIES] = {1.0001, 1.6, 1.05, 1.4, 1.05};
    printf("load spread, 10 endpoints, 100000 picks: max(picks / weight share)\n");
    for (int p = 0; p < NPOLICIES; p++) {
        double se = spread(policies[p], equal, 10), su = spread(policies[p], unequal, 10);
        printf("  %-13s weights 1x10: %.3f  weights 1..10: %.3f\n", policy_names[p], se, su);
        CHECK(se < bound[p]);
        CHECK(su < bound[p]);
    }
}

int main(void)
{
    RUN(test_hash_vectors);
    RUN(test_bad_construction);
    RUN(test_wrr_sequence);
    RUN(test_wrr_smooth_equal);
    RUN(test_wrr_exact_cycles);
    RUN(test_wrr_eligible);
    RUN(test_nothing_eligible);
    RUN(test_exclude_and_eligible);
    RUN(test_random_weighted);
    RUN(test_least_request);
    RUN(test_least_request_weights_when_idle);
    RUN(test_hash_stable);
    RUN(test_hash_ineligible_moves_only_its_keys);
    RUN(test_remap_measurement);
    RUN(test_spread_measurement);
    return TEST_REPORT();
}
