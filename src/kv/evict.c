/* evict.c — maxmemory: frees keys by the policy, with Redis's approximated LRU / TTL candidate pool. */
#include "cmd.h"
#include "subsys.h"
#include "../common/err.h"
#include "../common/mem.h"
#include "../common/util.h"
#include "../persist/aof.h"

#include <string.h>

/* Candidates kept between samplings, as Redis's EVPOOL_SIZE. */
#define EVPOOL_SIZE 16
/* Work one call may do before it lets the command run: the rest is done by
 * the next write or the cron (Redis's eviction time limit, tenacity 10-ish). */
#define EVICT_BUDGET_US 1000
#define EVICT_CLOCK_EVERY 16 /* keys between two looks at the clock */
/* maxmemory-samples is bounded to this by config.c; the array uses it. */
#define EVICT_MAX_SAMPLES 64

/* A candidate: a heap copy of its key (the entry may be gone when it is
 * picked) and its score when sampled; a higher score is evicted sooner. */
typedef struct pool_slot {
    uint64_t score;
    char *key;
    size_t keylen;
} pool_slot;

/* The pool outlives one call, so good candidates found by earlier samples
 * compete with the next ones, as in Redis. Process-wide because a process
 * holds one keyspace; a per-thread keyspace would move it into kv_server. */
static struct {
    pool_slot slot[EVPOOL_SIZE]; /* slot[0..n) sorted by ascending score */
    int n;
    int policy; /* the policy the scores were computed for */
} g_pool;

size_t kv_used_memory(kv_server *srv)
{
    (void)srv;
    return hmem_used();
}

/* What is compared with maxmemory. As Redis's freeMemoryGetNotCountedMemory,
 * bytes waiting in the AOF's buffers are left out, or a large pipeline of
 * writes (all propagated before the one flush after the batch) would evict
 * the keys it writes. */
static size_t counted_memory(kv_server *srv)
{
    size_t used = kv_used_memory(srv);
    if (srv->aof) {
        aof_info info;
        aof_get_info(srv->aof, &info);
        used -= info.pending_bytes < used ? info.pending_bytes : used;
    }
    return used;
}

static bool policy_volatile(int policy)
{
    return policy == EVICT_VOLATILE_LRU || policy == EVICT_VOLATILE_RANDOM ||
           policy == EVICT_VOLATILE_TTL;
}

static bool policy_random(int policy)
{
    return policy == EVICT_ALLKEYS_RANDOM || policy == EVICT_VOLATILE_RANDOM;
}

/* LRU: seconds idle on the 24-bit clock (the subtraction wraps with it).
 * TTL: the sooner the expiry, the higher the score. */
static uint64_t score_of(kv_db *db, int policy, const kv_entry *e)
{
    if (policy == EVICT_VOLATILE_TTL) return UINT64_MAX - (uint64_t)db_get_expire(db, e);
    return (db_lru_clock() - entry_lru(e)) & KV_LRU_MAX;
}

static void pool_clear(void)
{
    for (int i = 0; i < g_pool.n; i++) hfree(g_pool.slot[i].key);
    g_pool.n = 0;
}

static bool pool_has(const char *key, size_t len)
{
    for (int i = 0; i < g_pool.n; i++) {
        const pool_slot *s = &g_pool.slot[i];
        if (s->keylen == len && memcmp(s->key, key, len) == 0) return true;
    }
    return false;
}

/* Insert keeping the order; when full, a candidate better than the worst
 * one pushes it out, a worse one is dropped. */
static void pool_insert(const char *key, size_t len, uint64_t score)
{
    if (pool_has(key, len)) return;
    if (g_pool.n == EVPOOL_SIZE) {
        if (score <= g_pool.slot[0].score) return;
        hfree(g_pool.slot[0].key);
        memmove(&g_pool.slot[0], &g_pool.slot[1], (EVPOOL_SIZE - 1) * sizeof(pool_slot));
        g_pool.n--;
    }
    int i = g_pool.n;
    while (i > 0 && g_pool.slot[i - 1].score > score) {
        g_pool.slot[i] = g_pool.slot[i - 1];
        i--;
    }
    g_pool.slot[i] = (pool_slot){score, hmemdup(key, len), len};
    g_pool.n++;
}

/* Sample d (the keys or the expires index) into the pool. */
static void pool_populate(kv_server *srv, dict *d)
{
    kv_db *db = &srv->db;
    dict_node *sample[EVICT_MAX_SAMPLES];
    size_t want = (size_t)srv->cfg.maxmemory_samples;
    if (want < 1) want = 1;
    if (want > EVICT_MAX_SAMPLES) want = EVICT_MAX_SAMPLES;
    size_t n = dict_sample(d, sample, want);
    /* A sparse table (just after mass eviction) can defeat the sampler's
     * bounded walk; one uniformly random node keeps eviction going. */
    if (n == 0 && (sample[0] = dict_random(d)) != NULL) n = 1;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *key = d->type->key(sample[i], &len);
        kv_entry *e = d == &db->keys ? (kv_entry *)sample[i] : db_find(db, key, len);
        if (e) pool_insert(key, len, score_of(db, srv->cfg.maxmemory_policy, e));
    }
}

/* Take the best candidate that still exists, qualifies and whose score has
 * not dropped since it was sampled (a key read since then is re-ranked, not
 * evicted). Ownership of *key passes to the caller. */
static bool pool_pop(kv_server *srv, char **key, size_t *len)
{
    kv_db *db = &srv->db;
    int policy = srv->cfg.maxmemory_policy;
    while (g_pool.n > 0) {
        pool_slot s = g_pool.slot[--g_pool.n];
        kv_entry *e = db_find(db, s.key, s.keylen);
        if (e && (!policy_volatile(policy) || entry_has_expire(e))) {
            uint64_t now = score_of(db, policy, e);
            if (now >= s.score) {
                *key = s.key;
                *len = s.keylen;
                return true;
            }
            pool_insert(s.key, s.keylen, now);
        }
        hfree(s.key);
    }
    return false;
}

/* The next key to evict by the policy; false when nothing qualifies. */
static bool pick_victim(kv_server *srv, char **key, size_t *len)
{
    kv_db *db = &srv->db;
    int policy = srv->cfg.maxmemory_policy;
    dict *d = policy_volatile(policy) ? &db->expires : &db->keys;
    if (policy_random(policy)) {
        dict_node *n = dict_random(d);
        if (n == NULL) return false;
        const char *k = d->type->key(n, len);
        *key = hmemdup(k, *len);
        return true;
    }
    if (g_pool.policy != policy) {
        pool_clear();
        g_pool.policy = policy;
    }
    while (dict_size(d) > 0) {
        pool_populate(srv, d);
        if (pool_pop(srv, key, len)) return true;
    }
    return false;
}

/* Delete one key as an eviction: statistics, propagation as DEL, watchers. */
static void evict_key(kv_server *srv, const char *key, size_t len)
{
    kv_db *db = &srv->db;
    db_delete(db, key, len);
    db->evicted++;
    resp_arg argv[2] = {{"DEL", 3}, {key, len}};
    prop_append(srv, 2, argv);
    db_signal_modified(db, key, len);
    srv->dirty++;
}

/* As Redis's performEvictions: free until under the limit. Running out of
 * the time budget while still over is not a failure (the command runs and
 * the next call continues, Redis's EVICT_RUNNING); only "nothing left to
 * evict" is. Replicas and the AOF loader never evict: the primary's DELs
 * arrive through the stream. */
int evict_perform(kv_server *srv)
{
    if (srv->cfg.maxmemory <= 0 || srv->loading || srv->db.no_expire) return 0;
    size_t limit = (size_t)srv->cfg.maxmemory;
    size_t used = counted_memory(srv);
    if (used <= limit) return 0;
    if (srv->cfg.maxmemory_policy == EVICT_NOEVICTION) return -HALO_ENOMEM;
    size_t need = used - limit, freed = 0, keys = 0;
    int64_t start = mono_us();
    while (freed < need) {
        char *key;
        size_t len;
        if (!pick_victim(srv, &key, &len)) return -HALO_ENOMEM;
        size_t before = hmem_used();
        evict_key(srv, key, len);
        size_t after = hmem_used();
        hfree(key);
        freed += before > after ? before - after : 0;
        if (++keys % EVICT_CLOCK_EVERY == 0 && mono_us() - start > EVICT_BUDGET_US) break;
    }
    return 0;
}
