/* dict.h — intrusive chained hash table with incremental rehashing and a scan cursor. */
#ifndef HALO_DICT_H
#define HALO_DICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A node is embedded at offset 0 of the caller's entry struct. The caller owns
 * every node: the dict only links them, so one allocation holds key and value. */
typedef struct dict_node {
    struct dict_node *next;
} dict_node;

typedef struct dict_type {
    /* Return the key bytes of a node and store their length in *len. */
    const char *(*key)(const dict_node *n, size_t *len);
    bool nocase; /* compare and hash keys case-insensitively (command names) */
} dict_type;

typedef struct dict {
    const dict_type *type;
    dict_node **table[2];
    size_t size[2]; /* buckets, a power of two or 0 */
    size_t used[2];
    long rehash_idx;  /* next bucket of table[0] to move, -1 when not rehashing */
    int pause_rehash; /* > 0 while a safe iterator is open */
} dict;

typedef struct dict_iter {
    dict *d;
    int table;
    long index;
    dict_node *node, *next;
    bool safe;
} dict_iter;

/* Seed for every dict's SipHash; set once at start-up from random bytes. */
void dict_set_seed(const uint8_t seed[16]);
uint64_t dict_hash(const void *key, size_t len);

void dict_init(dict *d, const dict_type *type);
/* Unlink all nodes, calling free_node on each (may be NULL), and free tables. */
void dict_clear(dict *d, void (*free_node)(dict_node *n, void *priv), void *priv);
static inline size_t dict_size(const dict *d) { return d->used[0] + d->used[1]; }
/* Bucket count (for INFO and memory estimates). */
static inline size_t dict_buckets(const dict *d) { return d->size[0] + d->size[1]; }

dict_node *dict_find(dict *d, const char *key, size_t len);
/* Link a node whose key is not present yet (the caller checked). */
void dict_add(dict *d, dict_node *n);
/* Unlink and return the node with this key, or NULL. The caller frees it. */
dict_node *dict_unlink(dict *d, const char *key, size_t len);
/* Pointer to the link that points at the node with this key, or NULL. The
 * caller may store a reallocated copy of the node through it immediately
 * (realloc keeps ->next), before any other dict call. */
dict_node **dict_find_link(dict *d, const char *key, size_t len);

/* A uniformly chosen bucket, then a node of its chain; NULL when empty. */
dict_node *dict_random(dict *d);
/* count distinct nodes chosen at random, 0 < count < dict_size(d), in a new
 * array (hmalloc) the caller frees; HRANDFIELD, SRANDMEMBER, SPOP and
 * ZRANDMEMBER with a positive count. */
dict_node **dict_random_distinct(dict *d, size_t count);
/* Up to n nodes from a random spot, for eviction and expiry sampling. The
 * same node may appear more than once when the table is sparse. */
size_t dict_sample(dict *d, dict_node **out, size_t n);

/* Reverse-binary cursor scan, as Redis's dictScan: every node present for the
 * whole scan is reported at least once across resizes. Returns next cursor,
 * 0 when done. fn must not modify the dict. */
uint64_t dict_scan(dict *d, uint64_t cursor, void (*fn)(dict_node *n, void *priv), void *priv);

/* Iterators. A safe iterator pauses rehashing and allows unlinking the node
 * just returned; an unsafe one forbids any modification while open. */
void dict_iter_init(dict_iter *it, dict *d, bool safe);
dict_node *dict_iter_next(dict_iter *it);
void dict_iter_done(dict_iter *it);

/* Do up to n bucket moves of an ongoing rehash; returns true if more remain. */
bool dict_rehash(dict *d, int n);
/* Shrink the table if it is mostly empty (called from the periodic cron). */
void dict_maybe_shrink(dict *d);
/* Approximate bytes used by the bucket arrays. */
size_t dict_mem(const dict *d);
/* Approximate bytes of the nodes (allocated with hmalloc): exact up to
 * `samples` nodes; above, the first `samples` in bucket order (a hash-random
 * sample) scaled up, as MEMORY USAGE samples in Redis. */
size_t dict_nodes_mem(dict *d, size_t samples);

#endif
