/* dict.c — intrusive chained hash table with incremental rehashing (after Redis dict.c). */
#include "dict.h"
#include "../common/mem.h"
#include "../common/util.h"

#include <string.h>
#include <strings.h>

static uint8_t g_seed[16];

void dict_set_seed(const uint8_t seed[16]) { memcpy(g_seed, seed, 16); }

uint64_t dict_hash(const void *key, size_t len) { return siphash13(key, len, g_seed); }

static uint64_t hash_key(const dict *d, const char *key, size_t len)
{
    return d->type->nocase ? siphash13_nocase(key, len, g_seed) : siphash13(key, len, g_seed);
}

static bool key_eq(const dict *d, const dict_node *n, const char *key, size_t len)
{
    size_t nlen;
    const char *nkey = d->type->key(n, &nlen);
    if (nlen != len) return false;
    if (d->type->nocase) return strncasecmp(nkey, key, len) == 0;
    return memcmp(nkey, key, len) == 0;
}

static uint64_t node_hash(const dict *d, const dict_node *n)
{
    size_t len;
    const char *key = d->type->key(n, &len);
    return hash_key(d, key, len);
}

void dict_init(dict *d, const dict_type *type)
{
    memset(d, 0, sizeof(*d));
    d->type = type;
    d->rehash_idx = -1;
}

static inline bool rehashing(const dict *d) { return d->rehash_idx != -1; }

void dict_clear(dict *d, void (*free_node)(dict_node *n, void *priv), void *priv)
{
    for (int t = 0; t < 2; t++) {
        for (size_t i = 0; i < d->size[t]; i++) {
            dict_node *n = d->table[t][i];
            while (n) {
                dict_node *next = n->next;
                if (free_node) free_node(n, priv);
                n = next;
            }
        }
        hfree(d->table[t]);
    }
    const dict_type *type = d->type;
    dict_init(d, type);
}

bool dict_rehash(dict *d, int n)
{
    int empty_visits = n * 10;
    if (!rehashing(d)) return false;
    while (n-- && d->used[0] != 0) {
        while (d->table[0][d->rehash_idx] == NULL) {
            d->rehash_idx++;
            if (--empty_visits == 0) return true;
        }
        dict_node *e = d->table[0][d->rehash_idx];
        while (e) {
            dict_node *next = e->next;
            size_t idx = node_hash(d, e) & (d->size[1] - 1);
            e->next = d->table[1][idx];
            d->table[1][idx] = e;
            d->used[0]--;
            d->used[1]++;
            e = next;
        }
        d->table[0][d->rehash_idx] = NULL;
        d->rehash_idx++;
    }
    if (d->used[0] == 0) {
        hfree(d->table[0]);
        d->table[0] = d->table[1];
        d->size[0] = d->size[1];
        d->used[0] = d->used[1];
        d->table[1] = NULL;
        d->size[1] = d->used[1] = 0;
        d->rehash_idx = -1;
        return false;
    }
    return true;
}

static void rehash_step(dict *d)
{
    if (d->pause_rehash == 0) dict_rehash(d, 1);
}

static void resize_to(dict *d, size_t want)
{
    size_t size = 4;
    while (size < want) size <<= 1;
    if (size == d->size[0]) return;
    dict_node **t = hcalloc(size, sizeof(*t));
    if (d->table[0] == NULL) {
        d->table[0] = t;
        d->size[0] = size;
        return;
    }
    d->table[1] = t;
    d->size[1] = size;
    d->used[1] = 0;
    d->rehash_idx = 0;
}

static void maybe_expand(dict *d)
{
    if (rehashing(d)) return;
    if (d->size[0] == 0) {
        resize_to(d, 4);
        return;
    }
    if (d->used[0] >= d->size[0]) resize_to(d, d->used[0] + 1);
}

void dict_maybe_shrink(dict *d)
{
    if (rehashing(d) || d->pause_rehash || d->size[0] <= 4) return;
    if (d->used[0] * 8 < d->size[0]) resize_to(d, d->used[0] < 4 ? 4 : d->used[0]);
}

/* Finds the link to the node with this key and the table holding it. */
static dict_node **find_link(dict *d, const char *key, size_t len, int *table)
{
    if (dict_size(d) == 0) return NULL;
    if (rehashing(d)) rehash_step(d);
    uint64_t h = hash_key(d, key, len);
    for (int t = 0; t < 2; t++) {
        if (d->size[t] == 0) continue;
        dict_node **link = &d->table[t][h & (d->size[t] - 1)];
        while (*link) {
            if (key_eq(d, *link, key, len)) {
                if (table) *table = t;
                return link;
            }
            link = &(*link)->next;
        }
        if (!rehashing(d)) break;
    }
    return NULL;
}

dict_node **dict_find_link(dict *d, const char *key, size_t len)
{
    return find_link(d, key, len, NULL);
}

dict_node *dict_find(dict *d, const char *key, size_t len)
{
    dict_node **link = find_link(d, key, len, NULL);
    return link ? *link : NULL;
}

void dict_add(dict *d, dict_node *n)
{
    if (rehashing(d)) rehash_step(d);
    maybe_expand(d);
    int t = rehashing(d) ? 1 : 0;
    size_t idx = node_hash(d, n) & (d->size[t] - 1);
    n->next = d->table[t][idx];
    d->table[t][idx] = n;
    d->used[t]++;
}

dict_node *dict_unlink(dict *d, const char *key, size_t len)
{
    int t = 0;
    dict_node **link = find_link(d, key, len, &t);
    if (link == NULL) return NULL;
    dict_node *n = *link;
    *link = n->next;
    d->used[t]--;
    n->next = NULL;
    return n;
}

dict_node *dict_random(dict *d)
{
    if (dict_size(d) == 0) return NULL;
    if (rehashing(d)) rehash_step(d);
    dict_node *he = NULL;
    for (int tries = 0; he == NULL; tries++) {
        if (rehashing(d)) {
            size_t s0 = d->size[0], span = s0 + d->size[1];
            size_t h = (size_t)d->rehash_idx + rand_u64() % (span - (size_t)d->rehash_idx);
            he = h >= s0 ? d->table[1][h - s0] : d->table[0][h];
        } else {
            he = d->table[0][rand_u64() & (d->size[0] - 1)];
        }
        (void)tries;
    }
    size_t len = 0;
    for (dict_node *n = he; n; n = n->next) len++;
    size_t pick = rand_u64() % len;
    while (pick--) he = he->next;
    return he;
}

/* Every node, then the first count places of a Fisher-Yates shuffle. */
static dict_node **shuffled_prefix(dict *d, size_t count)
{
    size_t size = dict_size(d), n = 0;
    dict_node **all = hmalloc(size * sizeof(*all));
    dict_iter it;
    dict_iter_init(&it, d, false);
    for (dict_node *x; (x = dict_iter_next(&it));) all[n++] = x;
    dict_iter_done(&it);
    for (size_t i = 0; i < count; i++) {
        size_t j = i + (size_t)(rand_u64() % (n - i));
        dict_node *t = all[i];
        all[i] = all[j];
        all[j] = t;
    }
    return all;
}

/* A slot of a power-of-two table for p: the address bits mixed (murmur3's
 * finalizer) so that aligned allocations spread over the slots. */
static size_t ptr_slot(const void *p, size_t mask)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x & mask;
}

/* dict_random draws, repeats dropped through an open-addressing set of the
 * node pointers seen (at most half full). */
static dict_node **rejection_sample(dict *d, size_t count)
{
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

/* A large share is a partial shuffle of all nodes; a small one (count at
 * most a third of the size) is rejection sampling, which then needs at most
 * about 1.5 draws per node. */
dict_node **dict_random_distinct(dict *d, size_t count)
{
    return count * 3 > dict_size(d) ? shuffled_prefix(d, count) : rejection_sample(d, count);
}

size_t dict_sample(dict *d, dict_node **out, size_t n)
{
    size_t got = 0, size = dict_size(d);
    if (size == 0 || n == 0) return 0;
    if (n > size) n = size;
    for (int i = 0; i < (int)n && rehashing(d); i++) rehash_step(d);
    int tables = rehashing(d) ? 2 : 1;
    size_t maxmask = d->size[0] - 1;
    if (tables > 1 && d->size[1] - 1 > maxmask) maxmask = d->size[1] - 1;
    size_t i = rand_u64() & maxmask;
    size_t empty = 0, steps = n * 10;
    while (got < n && steps--) {
        for (int t = 0; t < tables; t++) {
            if (tables == 2 && t == 0 && (long)i < d->rehash_idx) {
                if (i >= d->size[1]) i = (size_t)d->rehash_idx;
                else continue;
            }
            if (i >= d->size[t]) continue;
            dict_node *e = d->table[t][i];
            if (e == NULL) {
                if (++empty >= 5 && empty > n) {
                    i = rand_u64() & maxmask;
                    empty = 0;
                }
                continue;
            }
            empty = 0;
            for (; e && got < n; e = e->next) out[got++] = e;
        }
        i = (i + 1) & maxmask;
    }
    return got;
}

static uint64_t rev(uint64_t v)
{
    v = ((v >> 1) & 0x5555555555555555ULL) | ((v & 0x5555555555555555ULL) << 1);
    v = ((v >> 2) & 0x3333333333333333ULL) | ((v & 0x3333333333333333ULL) << 2);
    v = ((v >> 4) & 0x0F0F0F0F0F0F0F0FULL) | ((v & 0x0F0F0F0F0F0F0F0FULL) << 4);
    v = ((v >> 8) & 0x00FF00FF00FF00FFULL) | ((v & 0x00FF00FF00FF00FFULL) << 8);
    v = ((v >> 16) & 0x0000FFFF0000FFFFULL) | ((v & 0x0000FFFF0000FFFFULL) << 16);
    return (v >> 32) | (v << 32);
}

static void scan_bucket(dict_node *e, void (*fn)(dict_node *, void *), void *priv)
{
    while (e) {
        dict_node *next = e->next;
        fn(e, priv);
        e = next;
    }
}

uint64_t dict_scan(dict *d, uint64_t v, void (*fn)(dict_node *n, void *priv), void *priv)
{
    if (dict_size(d) == 0) return 0;
    d->pause_rehash++;
    if (!rehashing(d)) {
        uint64_t m0 = d->size[0] - 1;
        scan_bucket(d->table[0][v & m0], fn, priv);
        v |= ~m0;
        v = rev(v);
        v++;
        v = rev(v);
    } else {
        int small = d->size[0] <= d->size[1] ? 0 : 1, large = 1 - small;
        uint64_t m0 = d->size[small] - 1, m1 = d->size[large] - 1;
        scan_bucket(d->table[small][v & m0], fn, priv);
        do {
            scan_bucket(d->table[large][v & m1], fn, priv);
            v |= ~m1;
            v = rev(v);
            v++;
            v = rev(v);
        } while (v & (m0 ^ m1));
    }
    d->pause_rehash--;
    return v;
}

void dict_iter_init(dict_iter *it, dict *d, bool safe)
{
    memset(it, 0, sizeof(*it));
    it->d = d;
    it->index = -1;
    it->safe = safe;
    if (safe) d->pause_rehash++;
}

dict_node *dict_iter_next(dict_iter *it)
{
    dict *d = it->d;
    for (;;) {
        if (it->node == NULL) {
            it->index++;
            if (it->index >= (long)d->size[it->table]) {
                if (rehashing(d) && it->table == 0) {
                    it->table = 1;
                    it->index = 0;
                } else {
                    return NULL;
                }
            }
            if (it->index >= (long)d->size[it->table]) return NULL;
            it->node = d->table[it->table][it->index];
        } else {
            it->node = it->next;
        }
        if (it->node) {
            it->next = it->node->next;
            return it->node;
        }
    }
}

void dict_iter_done(dict_iter *it)
{
    if (it->safe) it->d->pause_rehash--;
    it->safe = false;
}

size_t dict_mem(const dict *d) { return (d->size[0] + d->size[1]) * sizeof(dict_node *); }

size_t dict_nodes_mem(dict *d, size_t samples)
{
    size_t seen = 0, bytes = 0;
    dict_iter it;
    dict_iter_init(&it, d, false);
    for (dict_node *n; seen < samples && (n = dict_iter_next(&it)); seen++) bytes += hmem_usable(n);
    dict_iter_done(&it);
    return seen ? (size_t)((double)bytes / (double)seen * (double)dict_size(d)) : 0;
}
