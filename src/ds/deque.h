/* deque.h — a growable circular array of hstr*: the list value (O(1) ends and index). */
#ifndef HALO_DEQUE_H
#define HALO_DEQUE_H

#include "hstr.h"
#include <stdbool.h>
#include <stddef.h>

/* The deque owns every element it holds: deque_free and the drop/remove
 * functions that do not return the element free it with hstr_free. Element
 * i (0 = head) lives at slots[(head + i) & (cap - 1)]; cap is a power of two
 * or 0 before the first push. */
typedef struct deque {
    hstr **slots;
    size_t cap;
    size_t head;
    size_t len;
} deque;

deque *deque_new(void);
/* Frees the elements and the deque itself. NULL is a no-op. */
void deque_free(deque *d);
/* Deep copy (elements duplicated). */
deque *deque_dup(const deque *d);

static inline size_t deque_len(const deque *d) { return d->len; }
/* Element i; the caller guarantees 0 <= i < len. */
static inline hstr *deque_get(const deque *d, size_t i)
{
    return d->slots[(d->head + i) & (d->cap - 1)];
}
/* Replace element i; the old element is freed. Ownership of s passes in. */
void deque_set(deque *d, size_t i, hstr *s);

/* Ownership of s passes to the deque. */
void deque_push_head(deque *d, hstr *s);
void deque_push_tail(deque *d, hstr *s);
/* Remove and return the head / tail element (caller owns it); NULL if empty. */
hstr *deque_pop_head(deque *d);
hstr *deque_pop_tail(deque *d);

/* Insert s so that it becomes element i (0 <= i <= len); moves the shorter side. */
void deque_insert(deque *d, size_t i, hstr *s);
/* Remove element i and return it (caller owns it); moves the shorter side. */
hstr *deque_remove(deque *d, size_t i);
/* Free the first / last n elements (n clamped to len). */
void deque_drop_head(deque *d, size_t n);
void deque_drop_tail(deque *d, size_t n);
/* Remove (and free) up to limit elements (0 = no limit) equal to p[0..len),
 * scanning from the head or from the tail, in one O(len) pass. Returns the
 * number removed. */
size_t deque_remove_equal(deque *d, const char *p, size_t len, size_t limit, bool from_tail);

/* Iterates count elements starting at index start, forwards or backwards:
 *   deque_iter it; deque_iter_init(&it, d, start, count, false);
 *   for (hstr *s; (s = deque_iter_next(&it)); ) ...
 * The deque must not change while iterating. */
typedef struct deque_iter {
    const deque *d;
    size_t pos, left;
    bool reverse;
} deque_iter;

void deque_iter_init(deque_iter *it, const deque *d, size_t start, size_t count, bool reverse);
hstr *deque_iter_next(deque_iter *it);

/* Approximate heap bytes: the slot array plus element allocations (sampled
 * for long deques, so this is O(1) in len). */
size_t deque_mem(const deque *d);

static inline bool hstr_eq(const hstr *s, const char *p, size_t len)
{
    return s->len == len && (len == 0 || memcmp(s->data, p, len) == 0);
}

#endif
