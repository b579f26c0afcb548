/* lb.h — load-balancing policies as pure state machines (no I/O, no clock). */
#ifndef HALO_GW_LB_H
#define HALO_GW_LB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gw_lb gw_lb;

/* Build a balancer for n endpoints with these weights (1..1000). policy is an
 * enum gw_lb_policy. One instance per worker thread per cluster: pick() is
 * not thread-safe, by design (no lock on the request path). */
gw_lb *lb_new(int policy, const int *weights, int n);
/* The same with a stable identity per endpoint (e.g. its address string), so
 * hash policies move only ~1/n of keys when the list changes; keys NULL means
 * index keys, as lb_new. Both return NULL for an unknown policy or when n is
 * outside 0..LB_MAX_ENDPOINTS. */
#define LB_MAX_ENDPOINTS 4096
gw_lb *lb_new_keyed(int policy, const int *weights, const char *const *keys, int n);
void lb_free(gw_lb *lb);

/* What the caller knows at pick time. eligible[i]: endpoint i may receive
 * traffic (healthy, not ejected — or everything, in panic mode). active[i]:
 * requests in flight to i from this worker (least_request). hash: request
 * hash for ring_hash/maglev. rnd: a fresh random 64-bit value. */
typedef struct lb_input {
    const bool *eligible;
    const uint32_t *active;
    uint64_t hash;
    uint64_t rnd;
    int exclude;  /* an endpoint to avoid (retry to a different one), -1 = none */
} lb_input;

/* Index of the chosen endpoint, or -1 when none is eligible. exclude is
 * avoided whenever another endpoint is eligible; if it is the only eligible
 * one it is returned. Weighted round
 * robin is smooth (nginx's algorithm); least_request picks the less loaded of
 * two weighted random choices; random is weighted; ring_hash (ketama-style,
 * 100 points per weight unit, capped) and maglev (table size 65537) map the
 * hash to the same endpoint while the set is stable and move only about 1/n
 * of keys when one endpoint joins or leaves, skipping ineligible endpoints by
 * walking the ring / table. */
int lb_pick(gw_lb *lb, const lb_input *in);

/* 64-bit hash of bytes for hash-based policies (stable across processes). */
uint64_t lb_hash(const void *p, size_t len);

#endif
