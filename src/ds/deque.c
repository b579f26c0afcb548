/* deque.c — the circular array behind list values: amortised O(1) at both ends, O(1) index. */
#include "deque.h"
#include "../common/log.h"

#include <stdlib.h>

/* Always-on: an index past the end would corrupt a value; crash with context. */
#define DEQUE_CHECK(cond)                                                              \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            log_error("deque invariant failed: %s (%s:%d)", #cond, __FILE__, __LINE__); \
            abort();                                                                   \
        }                                                                              \
    } while (0)

#define DEQUE_MIN_CAP 8
/* Above this many slots, the array halves once it is less than a quarter full,
 * so a list that was long once does not keep its peak memory. */
#define DEQUE_SHRINK_MIN_CAP 64
/* deque_mem sums at most this many elements and extrapolates the rest. */
#define DEQUE_MEM_SAMPLES 32

static inline size_t slot_of(const deque *d, size_t i) { return (d->head + i) & (d->cap - 1); }

deque *deque_new(void) { return hcalloc(1, sizeof(deque)); }

void deque_free(deque *d)
{
    if (d == NULL) return;
    for (size_t i = 0; i < d->len; i++) hstr_free(deque_get(d, i));
    hfree(d->slots);
    hfree(d);
}

/* Move the elements to a new array of newcap slots (>= len), head at 0. */
static void resize(deque *d, size_t newcap)
{
    hstr **slots = hmalloc(newcap * sizeof(*slots));
    for (size_t i = 0; i < d->len; i++) slots[i] = deque_get(d, i);
    hfree(d->slots);
    d->slots = slots;
    d->cap = newcap;
    d->head = 0;
}

static void grow_if_full(deque *d)
{
    if (d->len == d->cap) resize(d, d->cap ? d->cap * 2 : DEQUE_MIN_CAP);
}

static void shrink_if_sparse(deque *d)
{
    if (d->len == 0 && d->cap > DEQUE_MIN_CAP) {
        hfree(d->slots);
        d->slots = NULL;
        d->cap = d->head = 0;
    } else if (d->cap > DEQUE_SHRINK_MIN_CAP && d->len < d->cap / 4) {
        resize(d, d->cap / 2);
    }
}

deque *deque_dup(const deque *d)
{
    deque *n = deque_new();
    if (d->len == 0) return n;
    size_t cap = DEQUE_MIN_CAP;
    while (cap < d->len) cap *= 2;
    n->slots = hmalloc(cap * sizeof(*n->slots));
    n->cap = cap;
    for (size_t i = 0; i < d->len; i++) {
        const hstr *s = deque_get(d, i);
        n->slots[i] = hstr_new(s->data, s->len);
    }
    n->len = d->len;
    return n;
}

void deque_set(deque *d, size_t i, hstr *s)
{
    size_t k = slot_of(d, i);
    hstr_free(d->slots[k]);
    d->slots[k] = s;
}

void deque_push_head(deque *d, hstr *s)
{
    grow_if_full(d);
    d->head = (d->head - 1) & (d->cap - 1);
    d->slots[d->head] = s;
    d->len++;
}

void deque_push_tail(deque *d, hstr *s)
{
    grow_if_full(d);
    d->slots[slot_of(d, d->len)] = s;
    d->len++;
}

hstr *deque_pop_head(deque *d)
{
    if (d->len == 0) return NULL;
    hstr *s = d->slots[d->head];
    d->head = (d->head + 1) & (d->cap - 1);
    d->len--;
    shrink_if_sparse(d);
    return s;
}

hstr *deque_pop_tail(deque *d)
{
    if (d->len == 0) return NULL;
    hstr *s = deque_get(d, d->len - 1);
    d->len--;
    shrink_if_sparse(d);
    return s;
}

void deque_insert(deque *d, size_t i, hstr *s)
{
    DEQUE_CHECK(i <= d->len);
    grow_if_full(d);
    if (i < d->len / 2) {
        /* Open a slot before the head and move elements 0..i-1 one left. */
        d->head = (d->head - 1) & (d->cap - 1);
        for (size_t k = 0; k < i; k++) d->slots[slot_of(d, k)] = d->slots[slot_of(d, k + 1)];
    } else {
        for (size_t k = d->len; k > i; k--) d->slots[slot_of(d, k)] = d->slots[slot_of(d, k - 1)];
    }
    d->slots[slot_of(d, i)] = s;
    d->len++;
}

hstr *deque_remove(deque *d, size_t i)
{
    DEQUE_CHECK(i < d->len);
    hstr *s = deque_get(d, i);
    if (i < d->len / 2) {
        for (size_t k = i; k > 0; k--) d->slots[slot_of(d, k)] = d->slots[slot_of(d, k - 1)];
        d->head = (d->head + 1) & (d->cap - 1);
    } else {
        for (size_t k = i; k + 1 < d->len; k++) d->slots[slot_of(d, k)] = d->slots[slot_of(d, k + 1)];
    }
    d->len--;
    shrink_if_sparse(d);
    return s;
}

void deque_drop_head(deque *d, size_t n)
{
    if (n > d->len) n = d->len;
    for (size_t i = 0; i < n; i++) hstr_free(deque_get(d, i));
    if (n) d->head = (d->head + n) & (d->cap - 1);
    d->len -= n;
    shrink_if_sparse(d);
}

void deque_drop_tail(deque *d, size_t n)
{
    if (n > d->len) n = d->len;
    for (size_t i = d->len - n; i < d->len; i++) hstr_free(deque_get(d, i));
    d->len -= n;
    shrink_if_sparse(d);
}

/* Compact towards the tail: kept elements slide to the highest indices, and
 * the head then advances past the removed count. */
static size_t remove_equal_from_tail(deque *d, const char *p, size_t len, size_t limit)
{
    size_t removed = 0, w = d->len;
    for (size_t r = d->len; r > 0; r--) {
        hstr *s = deque_get(d, r - 1);
        if ((limit == 0 || removed < limit) && hstr_eq(s, p, len)) {
            hstr_free(s);
            removed++;
        } else {
            d->slots[slot_of(d, --w)] = s;
        }
    }
    if (removed) d->head = (d->head + removed) & (d->cap - 1);
    return removed;
}

static size_t remove_equal_from_head(deque *d, const char *p, size_t len, size_t limit)
{
    size_t removed = 0, w = 0;
    for (size_t r = 0; r < d->len; r++) {
        hstr *s = deque_get(d, r);
        if ((limit == 0 || removed < limit) && hstr_eq(s, p, len)) {
            hstr_free(s);
            removed++;
        } else {
            d->slots[slot_of(d, w++)] = s;
        }
    }
    return removed;
}

size_t deque_remove_equal(deque *d, const char *p, size_t len, size_t limit, bool from_tail)
{
    size_t removed = from_tail ? remove_equal_from_tail(d, p, len, limit)
                               : remove_equal_from_head(d, p, len, limit);
    d->len -= removed;
    shrink_if_sparse(d);
    return removed;
}

void deque_iter_init(deque_iter *it, const deque *d, size_t start, size_t count, bool reverse)
{
    it->d = d;
    it->pos = start;
    it->left = count;
    it->reverse = reverse;
}

hstr *deque_iter_next(deque_iter *it)
{
    if (it->left == 0) return NULL;
    hstr *s = deque_get(it->d, it->pos);
    it->left--;
    if (it->left) it->pos = it->reverse ? it->pos - 1 : it->pos + 1;
    return s;
}

size_t deque_mem(const deque *d)
{
    size_t bytes = sizeof(*d) + d->cap * sizeof(*d->slots);
    if (d->len == 0) return bytes;
    size_t n = d->len < DEQUE_MEM_SAMPLES ? d->len : DEQUE_MEM_SAMPLES;
    size_t step = d->len / n, sum = 0;
    for (size_t i = 0; i < n; i++) sum += sizeof(hstr) + deque_get(d, i * step)->len + 1;
    return bytes + sum / n * d->len;
}
