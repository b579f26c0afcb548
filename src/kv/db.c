/* db.c — the keyspace: lookups with lazy expiry, string storage inline, TTLs, active expiry. */
#include "db.h"
#include "../common/mem.h"
#include "../common/util.h"

#include <stddef.h>
#include <string.h>
#include <time.h>

#define ENTRY_HDR offsetof(kv_entry, data)

/* Expires index node: the key bytes again (so entries may move on realloc). */
typedef struct expire_node {
    dict_node node;
    int64_t when_ms;
    uint32_t keylen;
    char key[];
} expire_node;

static const char *entry_key_cb(const dict_node *n, size_t *len)
{
    const kv_entry *e = (const kv_entry *)n;
    *len = e->keylen;
    return entry_key(e);
}

static const char *expire_key_cb(const dict_node *n, size_t *len)
{
    const expire_node *x = (const expire_node *)n;
    *len = x->keylen;
    return x->key;
}

static const dict_type keys_type = {.key = entry_key_cb};
static const dict_type expires_type = {.key = expire_key_cb};

/* Seconds clock for LRU stamps, refreshed by db_tick (every command and cron
 * tick) so a lookup never reads the system clock, as Redis's lruclock. */
static uint32_t g_lru_clock;

void db_tick(int64_t now_ms) { g_lru_clock = (uint32_t)((now_ms / 1000) & KV_LRU_MAX); }

uint32_t db_lru_clock(void)
{
    if (g_lru_clock == 0) db_tick(time_ms());
    return g_lru_clock;
}

static int64_t now_ms(kv_db *db) { return db->now_ms ? db->now_ms : time_ms(); }

void db_init(kv_db *db)
{
    memset(db, 0, sizeof(*db));
    dict_init(&db->keys, &keys_type);
    dict_init(&db->expires, &expires_type);
}

static void free_entry(dict_node *n, void *priv)
{
    (void)priv;
    kv_entry *e = (kv_entry *)n;
    if (entry_type(e) != KV_STRING) kv_object_free(entry_type(e), entry_obj(e));
    hfree(e);
}

static void free_plain(dict_node *n, void *priv)
{
    (void)priv;
    hfree(n);
}

void db_flush(kv_db *db)
{
    dict_clear(&db->keys, free_entry, NULL);
    dict_clear(&db->expires, free_plain, NULL);
}

void db_free(kv_db *db) { db_flush(db); }

static kv_entry *new_entry(const char *key, size_t klen, int type, size_t extra)
{
    kv_entry *e = hmalloc(ENTRY_HDR + klen + extra);
    e->node.next = NULL;
    e->keylen = (uint32_t)klen;
    e->meta = (uint32_t)type | (db_lru_clock() << 8);
    e->vlen = 0;
    return e;
}

kv_entry *db_find(kv_db *db, const char *key, size_t len)
{
    return (kv_entry *)dict_find(&db->keys, key, len);
}

int64_t db_get_expire(kv_db *db, const kv_entry *e)
{
    if (!entry_has_expire(e)) return -1;
    expire_node *x = (expire_node *)dict_find(&db->expires, entry_key(e), e->keylen);
    return x ? x->when_ms : -1;
}

static void remove_expire_node(kv_db *db, const char *key, size_t len)
{
    dict_node *n = dict_unlink(&db->expires, key, len);
    hfree(n);
}

bool db_delete(kv_db *db, const char *key, size_t klen)
{
    kv_entry *e = (kv_entry *)dict_unlink(&db->keys, key, klen);
    if (e == NULL) return false;
    if (entry_has_expire(e)) remove_expire_node(db, key, klen);
    free_entry(&e->node, NULL);
    return true;
}

void *db_detach_object(kv_db *db, kv_entry *e)
{
    void *obj = entry_type(e) == KV_STRING ? NULL : entry_obj(e);
    dict_unlink(&db->keys, entry_key(e), e->keylen);
    if (entry_has_expire(e)) remove_expire_node(db, entry_key(e), e->keylen);
    hfree(e);
    return obj;
}

bool db_is_expired(kv_db *db, const kv_entry *e)
{
    if (!entry_has_expire(e) || (db->no_expire && !db->hide_expired)) return false;
    int64_t when = db_get_expire(db, e);
    return when >= 0 && when <= now_ms(db);
}

bool db_expire_if_needed(kv_db *db, kv_entry *e)
{
    if (!db_is_expired(db, e)) return false;
    if (db->no_expire) return true; /* hidden only: the primary's DEL removes it */
    /* Copy the key: the entry is freed before the callbacks run. */
    char stack[256];
    size_t len = e->keylen;
    char *key = len <= sizeof(stack) ? stack : hmalloc(len);
    memcpy(key, entry_key(e), len);
    db_delete(db, key, len);
    db->expired++;
    if (db->on_expired) db->on_expired(db, key, len, db->priv);
    if (db->on_modified) db->on_modified(db, key, len, db->priv);
    if (key != stack) hfree(key);
    return true;
}

kv_entry *db_lookup_write(kv_db *db, const char *key, size_t len)
{
    kv_entry *e = db_find(db, key, len);
    if (e && db_expire_if_needed(db, e)) return NULL;
    return e;
}

kv_entry *db_lookup_read(kv_db *db, const char *key, size_t len)
{
    kv_entry *e = db_lookup_write(db, key, len);
    if (e == NULL) {
        db->misses++;
        return NULL;
    }
    db->hits++;
    e->meta = (e->meta & 0xFFu) | (db_lru_clock() << 8);
    return e;
}

kv_entry *db_lookup_typed(kv_db *db, const char *key, size_t len, bool write, int type,
                          bool *wrong)
{
    kv_entry *e = write ? db_lookup_write(db, key, len) : db_lookup_read(db, key, len);
    *wrong = e && entry_type(e) != type;
    return *wrong ? NULL : e;
}

/* Reallocate an entry in place in the dict (the link is re-pointed). */
static kv_entry *realloc_entry(kv_db *db, kv_entry *e, size_t size)
{
    if (hmem_usable(e) >= size) return e;
    dict_node **link = dict_find_link(&db->keys, entry_key(e), e->keylen);
    kv_entry *ne = hrealloc(e, size);
    *link = &ne->node;
    return ne;
}

kv_entry *db_set_string(kv_db *db, const char *key, size_t klen, const char *val, size_t vlen,
                        bool keep_ttl)
{
    kv_entry *e = db_find(db, key, klen);
    if (e == NULL) {
        e = new_entry(key, klen, KV_STRING, vlen);
        memcpy(e->data, key, klen);
        memcpy(e->data + klen, val, vlen);
        e->vlen = (uint32_t)vlen;
        dict_add(&db->keys, &e->node);
        return e;
    }
    if (!keep_ttl && entry_has_expire(e)) {
        remove_expire_node(db, key, klen);
        e->meta &= ~KV_META_EXPIRE;
    }
    if (entry_type(e) == KV_STRING) return db_update_string(db, e, val, vlen);
    /* Change of type: the object pointer slot becomes key space. */
    kv_object_free(entry_type(e), entry_obj(e));
    e = realloc_entry(db, e, ENTRY_HDR + klen + vlen);
    memmove(e->data, e->data + sizeof(void *), klen);
    e->meta = (e->meta & ~KV_META_TYPE_MASK) | KV_STRING;
    memcpy(e->data + klen, val, vlen);
    e->vlen = (uint32_t)vlen;
    e->meta = (e->meta & 0xFFu) | (db_lru_clock() << 8);
    return e;
}

kv_entry *db_update_string(kv_db *db, kv_entry *e, const char *val, size_t vlen)
{
    size_t klen = e->keylen, want = ENTRY_HDR + klen + vlen;
    /* Shrink a large allocation that would be mostly empty now. */
    if (hmem_usable(e) > 2 * want + 64) {
        dict_node **link = dict_find_link(&db->keys, entry_key(e), klen);
        e = hrealloc(e, want);
        *link = &e->node;
    } else {
        e = realloc_entry(db, e, want);
    }
    memcpy(e->data + klen, val, vlen);
    e->vlen = (uint32_t)vlen;
    e->meta = (e->meta & 0xFFu) | (db_lru_clock() << 8);
    return e;
}

kv_entry *db_resize_string(kv_db *db, kv_entry *e, size_t vlen)
{
    size_t want = ENTRY_HDR + e->keylen + vlen;
    if (hmem_usable(e) < want) {
        size_t grow = vlen < 1024 * 1024 ? vlen * 2 : vlen + 1024 * 1024;
        dict_node **link = dict_find_link(&db->keys, entry_key(e), e->keylen);
        e = hrealloc(e, ENTRY_HDR + e->keylen + grow);
        *link = &e->node;
    }
    if (vlen > e->vlen) memset(entry_str(e) + e->vlen, 0, vlen - e->vlen);
    e->vlen = (uint32_t)vlen;
    return e;
}

kv_entry *db_add_object(kv_db *db, const char *key, size_t klen, int type, void *obj)
{
    /* A lookup said absent, but a hidden key may still be in the dict: a
     * second node for the same key would corrupt it. Only a write while
     * hiding gets here, which the replication gate refuses; be safe anyway. */
    if (db->hide_expired) db_delete(db, key, klen);
    kv_entry *e = new_entry(key, klen, type, sizeof(void *));
    entry_set_obj(e, obj);
    memcpy(e->data + sizeof(void *), key, klen);
    dict_add(&db->keys, &e->node);
    return e;
}

void db_set_expire(kv_db *db, kv_entry *e, int64_t when_ms)
{
    if (entry_has_expire(e)) {
        expire_node *x = (expire_node *)dict_find(&db->expires, entry_key(e), e->keylen);
        if (x) {
            x->when_ms = when_ms;
            return;
        }
    }
    expire_node *x = hmalloc(sizeof(expire_node) + e->keylen);
    x->when_ms = when_ms;
    x->keylen = e->keylen;
    memcpy(x->key, entry_key(e), e->keylen);
    dict_add(&db->expires, &x->node);
    e->meta |= KV_META_EXPIRE;
}

bool db_persist(kv_db *db, kv_entry *e)
{
    if (!entry_has_expire(e)) return false;
    remove_expire_node(db, entry_key(e), e->keylen);
    e->meta &= ~KV_META_EXPIRE;
    return true;
}

size_t db_active_expire(kv_db *db, int64_t budget_us)
{
    if (db->no_expire) return 0;
    int64_t start = mono_us();
    size_t deleted = 0;
    for (;;) {
        size_t volatile_keys = dict_size(&db->expires);
        if (volatile_keys == 0) break;
        dict_node *sample[20];
        size_t n = dict_sample(&db->expires, sample, 20);
        /* dict_sample may repeat a node on a sparse table; deleting the first
         * copy frees it, so drop repeats. */
        size_t uniq = 0;
        for (size_t i = 0; i < n; i++) {
            size_t j = 0;
            while (j < uniq && sample[j] != sample[i]) j++;
            if (j == uniq) sample[uniq++] = sample[i];
        }
        n = uniq;
        size_t expired = 0;
        int64_t now = time_ms();
        for (size_t i = 0; i < n; i++) {
            expire_node *x = (expire_node *)sample[i];
            if (x->when_ms > now) continue;
            kv_entry *e = db_find(db, x->key, x->keylen);
            if (e && db_expire_if_needed(db, e)) expired++;
        }
        deleted += expired;
        /* As Redis: keep going while over a quarter of the sample was stale. */
        if (n == 0 || expired * 4 < n || mono_us() - start > budget_us) break;
    }
    return deleted;
}

void db_signal_modified(kv_db *db, const char *key, size_t len)
{
    if (db->on_modified) db->on_modified(db, key, len, db->priv);
}

const char *kv_type_name(int type)
{
    static const char *names[] = {"string", "list", "set", "zset", "hash"};
    return type >= 0 && type <= KV_HASH ? names[type] : "none";
}
