/* test_dict.c — the intrusive dict: add/find/unlink across incremental rehash, scan guarantees. */
#include "test.h"
#include "ds/dict.h"
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct item {
    dict_node node;
    int seen;
    size_t len;
    char key[24];
} item;

static const char *item_key(const dict_node *n, size_t *len)
{
    const item *it = (const item *)n;
    *len = it->len;
    return it->key;
}

static const dict_type type = {.key = item_key};

static item *mk(int i)
{
    item *it = hcalloc(1, sizeof(*it));
    it->len = (size_t)snprintf(it->key, sizeof(it->key), "key:%d", i);
    return it;
}

static void free_item(dict_node *n, void *priv)
{
    (void)priv;
    hfree(n);
}

static void test_add_find_unlink(void)
{
    dict d;
    dict_init(&d, &type);
    enum { N = 20000 };
    for (int i = 0; i < N; i++) dict_add(&d, &mk(i)->node);
    CHECK_EQ_INT(dict_size(&d), N);
    for (int i = 0; i < N; i++) {
        char k[24];
        int l = snprintf(k, sizeof(k), "key:%d", i);
        CHECK(dict_find(&d, k, (size_t)l) != NULL);
    }
    CHECK(dict_find(&d, "nope", 4) == NULL);
    for (int i = 0; i < N; i += 2) {
        char k[24];
        int l = snprintf(k, sizeof(k), "key:%d", i);
        dict_node *n = dict_unlink(&d, k, (size_t)l);
        CHECK(n != NULL);
        hfree(n);
    }
    CHECK_EQ_INT(dict_size(&d), N / 2);
    while (dict_rehash(&d, 100)) {
    }
    dict_maybe_shrink(&d);
    for (int i = 1; i < N; i += 2) {
        char k[24];
        int l = snprintf(k, sizeof(k), "key:%d", i);
        CHECK(dict_find(&d, k, (size_t)l) != NULL);
    }
    dict_clear(&d, free_item, NULL);
    CHECK_EQ_INT(dict_size(&d), 0);
}

static void mark(dict_node *n, void *priv)
{
    (void)priv;
    ((item *)n)->seen++;
}

/* SCAN reports every element present throughout, even while the table grows. */
static void test_scan_during_growth(void)
{
    dict d;
    dict_init(&d, &type);
    enum { N = 1000 };
    item *items[N];
    for (int i = 0; i < N; i++) {
        items[i] = mk(i);
        dict_add(&d, &items[i]->node);
    }
    uint64_t cursor = 0;
    int steps = 0, extra = N;
    do {
        cursor = dict_scan(&d, cursor, mark, NULL);
        if (steps++ % 3 == 0 && extra < 3 * N) dict_add(&d, &mk(extra++)->node);
    } while (cursor != 0);
    for (int i = 0; i < N; i++) CHECK(items[i]->seen >= 1);
    dict_clear(&d, free_item, NULL);
}

static void test_random_and_sample(void)
{
    dict d;
    dict_init(&d, &type);
    CHECK(dict_random(&d) == NULL);
    for (int i = 0; i < 100; i++) dict_add(&d, &mk(i)->node);
    for (int i = 0; i < 1000; i++) CHECK(dict_random(&d) != NULL);
    dict_node *out[16];
    size_t n = dict_sample(&d, out, 16);
    CHECK(n > 0 && n <= 16);
    dict_clear(&d, free_item, NULL);
}

static void test_safe_iter_delete(void)
{
    dict d;
    dict_init(&d, &type);
    for (int i = 0; i < 500; i++) dict_add(&d, &mk(i)->node);
    dict_iter it;
    dict_iter_init(&it, &d, true);
    dict_node *n;
    int count = 0;
    while ((n = dict_iter_next(&it))) {
        item *x = (item *)n;
        dict_node *u = dict_unlink(&d, x->key, x->len);
        CHECK(u == n);
        hfree(u);
        count++;
    }
    dict_iter_done(&it);
    CHECK_EQ_INT(count, 500);
    CHECK_EQ_INT(dict_size(&d), 0);
    dict_clear(&d, NULL, NULL);
}

static const dict_type nocase_type = {.key = item_key, .nocase = true};

static void test_nocase(void)
{
    dict d;
    dict_init(&d, &nocase_type);
    item *it = hcalloc(1, sizeof(*it));
    it->len = 3;
    memcpy(it->key, "get", 3);
    dict_add(&d, &it->node);
    CHECK(dict_find(&d, "GET", 3) == &it->node);
    CHECK(dict_find(&d, "gEt", 3) == &it->node);
    dict_clear(&d, free_item, NULL);
}

int main(void)
{
    uint8_t seed[16] = {1, 2, 3};
    dict_set_seed(seed);
    RUN(test_add_find_unlink);
    RUN(test_scan_during_growth);
    RUN(test_random_and_sample);
    RUN(test_safe_iter_delete);
    RUN(test_nocase);
    return TEST_REPORT();
}
