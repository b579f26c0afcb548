/* db.h — the keyspace: keys to typed values, with expiry, LRU clock and change signals. */
#ifndef HALO_KV_DB_H
#define HALO_KV_DB_H

#include "../ds/dict.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum kv_type { KV_STRING = 0, KV_LIST = 1, KV_SET = 2, KV_ZSET = 3, KV_HASH = 4 };

/* One key. String values live inline after the key (one allocation per
 * string key); other types keep a pointer to their object before the key.
 * meta: bits 0-3 type, bit 4 has-expire, bits 8-31 LRU clock (seconds). */
typedef struct kv_entry {
    dict_node node;
    uint32_t keylen;
    uint32_t meta;
    uint32_t vlen; /* string value length; unused for other types */
    char data[];   /* string: key, value. other: void *obj (unaligned), key */
} kv_entry;

#define KV_META_TYPE_MASK 0xFu
#define KV_META_EXPIRE 0x10u
#define KV_LRU_BITS 24
#define KV_LRU_MAX ((1u << KV_LRU_BITS) - 1)

static inline int entry_type(const kv_entry *e) { return (int)(e->meta & KV_META_TYPE_MASK); }
static inline bool entry_has_expire(const kv_entry *e) { return e->meta & KV_META_EXPIRE; }
static inline const char *entry_key(const kv_entry *e)
{
    return entry_type(e) == KV_STRING ? e->data : e->data + sizeof(void *);
}
static inline char *entry_str(kv_entry *e) { return e->data + e->keylen; }
static inline void *entry_obj(const kv_entry *e)
{
    void *p;
    memcpy(&p, e->data, sizeof(p));
    return p;
}
static inline void entry_set_obj(kv_entry *e, void *obj) { memcpy(e->data, &obj, sizeof(obj)); }
static inline uint32_t entry_lru(const kv_entry *e) { return e->meta >> 8; }

typedef struct kv_db kv_db;

/* Called for every key a write touches (WATCH invalidation, blocked-client
 * wake-up). Installed by the server. */
typedef void (*kv_db_modified_fn)(kv_db *db, const char *key, size_t len, void *priv);
/* Called when a key is deleted because it expired (lazily or actively), so
 * the deletion can be propagated to the AOF and replicas as a DEL. */
typedef void (*kv_db_expired_fn)(kv_db *db, const char *key, size_t len, void *priv);

struct kv_db {
    dict keys;
    dict expires; /* key -> absolute unix ms, only for keys with a TTL */
    kv_db_modified_fn on_modified;
    kv_db_expired_fn on_expired;
    void *priv;
    /* Never delete a key because its TTL passed: set on replicas (the
     * primary's DEL comes through the stream) and while AOF loading. */
    bool no_expire;
    /* With no_expire: lookups still treat a key whose TTL passed as absent,
     * without deleting it (a replica serving reads, as Redis >= 3.2). The
     * replication adapter clears it while applying the primary's stream, and
     * loading clears it, so those commands see keys as they are. */
    bool hide_expired;
    int64_t now_ms;   /* frozen "now" for one command, so a command sees one time */
    uint64_t hits, misses, expired, evicted;
};

void db_init(kv_db *db);
void db_free(kv_db *db);
void db_flush(kv_db *db);
static inline size_t db_size(const kv_db *db) { return dict_size(&db->keys); }
static inline size_t db_volatile(const kv_db *db) { return dict_size(&db->expires); }

/* LRU clock used by the approximate LRU policies (seconds, 24 bits). */
uint32_t db_lru_clock(void);
/* Refresh the cached clock behind db_lru_clock (unix ms). */
void db_tick(int64_t now_ms);

/* Lookups expire the key if its time has come (db_expire_if_needed). _read
 * counts hits/misses and refreshes the LRU stamp; _write does neither. NULL
 * when absent or logically expired. */
kv_entry *db_lookup_read(kv_db *db, const char *key, size_t len);
kv_entry *db_lookup_write(kv_db *db, const char *key, size_t len);
/* db_lookup_write (write) or db_lookup_read, then a type check: NULL when
 * absent, or NULL with *wrong set when the key holds another type. */
kv_entry *db_lookup_typed(kv_db *db, const char *key, size_t len, bool write, int type,
                          bool *wrong);
/* Raw lookup: no expiry, no stats (persistence, digests). */
kv_entry *db_find(kv_db *db, const char *key, size_t len);

/* Set key to a string value, replacing any value of any type. Keeps the TTL
 * only when keep_ttl. Returns the (possibly moved) entry. */
kv_entry *db_set_string(kv_db *db, const char *key, size_t klen, const char *val, size_t vlen,
                        bool keep_ttl);
/* Replace the value of e, an existing string entry, keeping its TTL, without
 * looking the key up again (INCR & co). Returns the (possibly moved) entry. */
kv_entry *db_update_string(kv_db *db, kv_entry *e, const char *val, size_t vlen);
/* Resize an existing string entry's value to vlen bytes (contents of the
 * common prefix kept, new bytes zeroed); growth reserves slack for APPEND. */
kv_entry *db_resize_string(kv_db *db, kv_entry *e, size_t vlen);
/* Add a key that is absent (or hidden by hide_expired: it is replaced) with
 * an object value; ownership of obj passes to the db. */
kv_entry *db_add_object(kv_db *db, const char *key, size_t klen, int type, void *obj);
/* Delete key (any type); true if it existed. Frees the value. */
bool db_delete(kv_db *db, const char *key, size_t klen);
/* Delete without freeing the value; returns the object (non-string only) or NULL. */
void *db_detach_object(kv_db *db, kv_entry *e);

/* Expiry, absolute unix milliseconds. -1 when the key has no TTL. */
int64_t db_get_expire(kv_db *db, const kv_entry *e);
void db_set_expire(kv_db *db, kv_entry *e, int64_t when_ms);
bool db_persist(kv_db *db, kv_entry *e);
/* Whether a lookup must treat e as absent now: its TTL has passed, and this
 * node either expires keys itself or hides them (hide_expired). Always false
 * under no_expire alone. Never deletes: for walks over the dict (KEYS). */
bool db_is_expired(kv_db *db, const kv_entry *e);
/* True if db_is_expired(e); the key is then also deleted (e freed, the
 * on_expired and on_modified callbacks run) unless no_expire, where it stays
 * for the primary's DEL. Callers retrying on true must bound their loop. */
bool db_expire_if_needed(kv_db *db, kv_entry *e);
/* One active-expiry step: sample volatile keys and delete the expired ones,
 * for at most budget_us. Returns keys deleted. */
size_t db_active_expire(kv_db *db, int64_t budget_us);

/* Tell watchers and blocked clients that key changed. */
void db_signal_modified(kv_db *db, const char *key, size_t len);

/* Free an object of the given type (non-string). Implemented per type. */
void kv_object_free(int type, void *obj);
/* Deep copy of an object (COPY command). */
void *kv_object_dup(int type, const void *obj);
/* Element count of an object (for INFO/SCAN TYPE/eviction), 1 for strings. */
size_t kv_object_len(int type, const void *obj);

/* Type names as TYPE replies them. */
const char *kv_type_name(int type);

#endif
