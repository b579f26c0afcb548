/* test_db.c — the keyspace: inline strings, objects, TTLs, expiry, hiding on replicas. */
#include "test.h"
#include "common/util.h"
#include "kv/db.h"

#include <stdio.h>

static int expired_calls;

static void on_expired(kv_db *db, const char *key, size_t len, void *priv)
{
    (void)db, (void)key, (void)len, (void)priv;
    expired_calls++;
}

static void test_strings(void)
{
    kv_db db;
    db_init(&db);
    kv_entry *e = db_set_string(&db, "k", 1, "hello", 5, false);
    CHECK_EQ_INT(e->vlen, 5);
    CHECK(memcmp(entry_str(e), "hello", 5) == 0);
    CHECK(db_lookup_read(&db, "k", 1) == e);
    CHECK_EQ_INT(db.hits, 1);
    CHECK(db_lookup_read(&db, "x", 1) == NULL);
    CHECK_EQ_INT(db.misses, 1);
    /* grow well past the allocation, then shrink: the entry moves, lookups follow */
    char big[5000];
    memset(big, 'b', sizeof(big));
    e = db_set_string(&db, "k", 1, big, sizeof(big), false);
    CHECK(db_find(&db, "k", 1) == e);
    CHECK_EQ_INT(e->vlen, 5000);
    e = db_set_string(&db, "k", 1, "s", 1, false);
    CHECK(db_find(&db, "k", 1) == e && e->vlen == 1);
    e = db_resize_string(&db, e, 3);
    CHECK(db_find(&db, "k", 1) == e);
    CHECK(entry_str(e)[0] == 's' && entry_str(e)[1] == 0 && entry_str(e)[2] == 0);
    /* many keys force rehashing; all stay reachable */
    for (int i = 0; i < 5000; i++) {
        char key[16];
        int n = snprintf(key, sizeof(key), "key%d", i);
        db_set_string(&db, key, (size_t)n, key, (size_t)n, false);
    }
    for (int i = 0; i < 5000; i++) {
        char key[16];
        int n = snprintf(key, sizeof(key), "key%d", i);
        kv_entry *x = db_find(&db, key, (size_t)n);
        CHECK(x && x->vlen == (uint32_t)n && memcmp(entry_str(x), key, (size_t)n) == 0);
    }
    CHECK_EQ_INT(db_size(&db), 5001);
    CHECK(db_delete(&db, "k", 1));
    CHECK(!db_delete(&db, "k", 1));
    db_free(&db);
}

static void test_expiry(void)
{
    kv_db db;
    db_init(&db);
    db.on_expired = on_expired;
    expired_calls = 0;
    kv_entry *e = db_set_string(&db, "a", 1, "1", 1, false);
    CHECK_EQ_INT(db_get_expire(&db, e), -1);
    db_set_expire(&db, e, time_ms() + 100000);
    CHECK(db_get_expire(&db, e) > 0);
    /* keep_ttl keeps it, a plain set drops it */
    e = db_set_string(&db, "a", 1, "2", 1, true);
    CHECK(db_get_expire(&db, e) > 0);
    e = db_set_string(&db, "a", 1, "3", 1, false);
    CHECK_EQ_INT(db_get_expire(&db, e), -1);
    CHECK_EQ_INT(db_volatile(&db), 0);
    /* past expiry: lazy deletion on lookup, callback fired */
    db_set_expire(&db, e, time_ms() - 1);
    CHECK(db_lookup_read(&db, "a", 1) == NULL);
    CHECK_EQ_INT(expired_calls, 1);
    CHECK_EQ_INT(db_size(&db), 0);
    /* active expiry removes keys nobody touches */
    for (int i = 0; i < 1000; i++) {
        char key[16];
        int n = snprintf(key, sizeof(key), "v%d", i);
        kv_entry *x = db_set_string(&db, key, (size_t)n, "x", 1, false);
        db_set_expire(&db, x, time_ms() - 1);
    }
    size_t total = 0;
    for (int round = 0; round < 1000 && db_size(&db) > 0; round++) total += db_active_expire(&db, 100000);
    CHECK_EQ_INT(total, 1000);
    CHECK_EQ_INT(db_size(&db), 0);
    CHECK_EQ_INT(db_volatile(&db), 0);
    /* replicas and the loader do not expire */
    e = db_set_string(&db, "r", 1, "1", 1, false);
    db_set_expire(&db, e, time_ms() - 1);
    db.no_expire = true;
    CHECK(db_lookup_read(&db, "r", 1) != NULL);
    db.no_expire = false;
    CHECK(db_persist(&db, db_find(&db, "r", 1)));
    CHECK(db_lookup_read(&db, "r", 1) != NULL);
    db_free(&db);
}

/* Counts on_modified calls (a hidden key must not signal anything). */
static int modified_calls;

static void on_modified(kv_db *db, const char *key, size_t len, void *priv)
{
    (void)db, (void)key, (void)len, (void)priv;
    modified_calls++;
}

/* A replica (no_expire + hide_expired): a key past its TTL is absent to
 * every lookup but stays in the dict, with no callbacks, until a DEL; with
 * hide_expired cleared (the primary's stream, loading) it is seen as is. */
static void test_hide_expired(void)
{
    kv_db db;
    db_init(&db);
    db.on_expired = on_expired;
    db.on_modified = on_modified;
    expired_calls = modified_calls = 0;
    kv_entry *past = db_set_string(&db, "past", 4, "1", 1, false);
    db_set_expire(&db, past, time_ms() - 1);
    kv_entry *future = db_set_string(&db, "future", 6, "2", 1, false);
    db_set_expire(&db, future, time_ms() + 100000);
    db_set_string(&db, "plain", 5, "3", 1, false);
    db.no_expire = db.hide_expired = true;

    CHECK(db_is_expired(&db, past));
    CHECK(!db_is_expired(&db, future) && !db_is_expired(&db, db_find(&db, "plain", 5)));
    CHECK(db_lookup_read(&db, "past", 4) == NULL);
    CHECK_EQ_INT(db.misses, 1);
    CHECK(db_lookup_write(&db, "past", 4) == NULL);
    bool wrong = true;
    CHECK(db_lookup_typed(&db, "past", 4, false, KV_STRING, &wrong) == NULL && !wrong);
    CHECK(db_expire_if_needed(&db, past));
    CHECK(db_lookup_read(&db, "future", 6) == future && db_lookup_read(&db, "plain", 5) != NULL);
    CHECK_EQ_INT(db_active_expire(&db, 100000), 0);
    /* still there, nothing signalled, nothing counted as expired */
    CHECK(db_find(&db, "past", 4) == past);
    CHECK_EQ_INT(db_size(&db), 3);
    CHECK_EQ_INT(expired_calls + modified_calls, 0);
    CHECK_EQ_INT(db.expired, 0);

    /* the primary's stream sees the real key */
    db.hide_expired = false;
    CHECK(!db_is_expired(&db, past));
    CHECK(db_lookup_write(&db, "past", 4) == past);
    CHECK(db_lookup_read(&db, "past", 4) == past);
    db.hide_expired = true;

    /* a write while hiding replaces the hidden key instead of duplicating it */
    db_add_object(&db, "past", 4, KV_LIST, NULL); /* freeing a NULL object is a no-op */
    CHECK_EQ_INT(db_size(&db), 3);
    CHECK(entry_type(db_lookup_read(&db, "past", 4)) == KV_LIST);
    CHECK_EQ_INT(db_volatile(&db), 1);
    CHECK(db_delete(&db, "past", 4));
    CHECK(db_find(&db, "past", 4) == NULL);

    /* hide_expired without no_expire is a primary: the lookup deletes */
    db.no_expire = false;
    kv_entry *e = db_set_string(&db, "p2", 2, "x", 1, false);
    db_set_expire(&db, e, time_ms() - 1);
    CHECK(db_lookup_read(&db, "p2", 2) == NULL);
    CHECK(db_find(&db, "p2", 2) == NULL);
    CHECK_EQ_INT(expired_calls, 1);
    CHECK_EQ_INT(db.expired, 1);
    db_free(&db);
}

int main(void)
{
    uint8_t seed[16] = {7};
    dict_set_seed(seed);
    RUN(test_strings);
    RUN(test_expiry);
    RUN(test_hide_expired);
    return TEST_REPORT();
}
