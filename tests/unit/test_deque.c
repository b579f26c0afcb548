/* test_deque.c — the list value's circular array: ends, index, insert/remove, compaction, against a model. */
#include "test.h"
#include "ds/deque.h"
#include "common/mem.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>

static hstr *mk(int v)
{
    char tmp[16];
    int n = snprintf(tmp, sizeof(tmp), "%d", v);
    return hstr_new(tmp, (size_t)n);
}

static int val(const hstr *s) { return atoi(s->data); }

/* Element-wise comparison with a plain array model. */
static int same(const deque *d, const int *model, size_t n)
{
    if (deque_len(d) != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (val(deque_get(d, i)) != model[i]) return 0;
    return 1;
}

static void test_push_pop_ends(void)
{
    deque *d = deque_new();
    CHECK(deque_pop_head(d) == NULL);
    CHECK(deque_pop_tail(d) == NULL);
    for (int i = 0; i < 100; i++) deque_push_tail(d, mk(i));
    for (int i = 1; i <= 100; i++) deque_push_head(d, mk(-i));
    CHECK_EQ_INT(deque_len(d), 200);
    CHECK_EQ_INT(val(deque_get(d, 0)), -100);
    CHECK_EQ_INT(val(deque_get(d, 199)), 99);
    for (int i = 100; i >= 1; i--) {
        hstr *s = deque_pop_head(d);
        CHECK_EQ_INT(val(s), -i);
        hstr_free(s);
    }
    for (int i = 99; i >= 0; i--) {
        hstr *s = deque_pop_tail(d);
        CHECK_EQ_INT(val(s), i);
        hstr_free(s);
    }
    CHECK_EQ_INT(deque_len(d), 0);
    deque_free(d);
}

static void test_wraparound_index_set(void)
{
    deque *d = deque_new();
    /* Rotate so the live range straddles the array's end. */
    for (int i = 0; i < 6; i++) deque_push_tail(d, mk(i));
    for (int round = 0; round < 20; round++) {
        hstr *s = deque_pop_head(d);
        deque_push_tail(d, s);
    }
    int model[6] = {2, 3, 4, 5, 0, 1};
    CHECK(same(d, model, 6));
    deque_set(d, 5, mk(42));
    CHECK_EQ_INT(val(deque_get(d, 5)), 42);
    deque_free(d);
}

static void test_insert_remove_model(void)
{
    deque *d = deque_new();
    int model[600];
    size_t n = 0;
    srand(7);
    for (int step = 0; step < 4000; step++) {
        int op = rand() % 3;
        if (op < 2 && n < 600) {
            size_t i = (size_t)rand() % (n + 1);
            memmove(model + i + 1, model + i, (n - i) * sizeof(int));
            model[i] = step;
            n++;
            deque_insert(d, i, mk(step));
        } else if (n > 0) {
            size_t i = (size_t)rand() % n;
            hstr *s = deque_remove(d, i);
            CHECK_EQ_INT(val(s), model[i]);
            hstr_free(s);
            memmove(model + i, model + i + 1, (n - i - 1) * sizeof(int));
            n--;
        }
        if (!same(d, model, n)) {
            CHECK(0);
            break;
        }
    }
    deque_free(d);
}

static void test_drop_head_tail(void)
{
    deque *d = deque_new();
    for (int i = 0; i < 10; i++) deque_push_tail(d, mk(i));
    deque_drop_head(d, 3);
    deque_drop_tail(d, 2);
    int model[] = {3, 4, 5, 6, 7};
    CHECK(same(d, model, 5));
    deque_drop_tail(d, 99);
    CHECK_EQ_INT(deque_len(d), 0);
    deque_push_head(d, mk(1));
    CHECK_EQ_INT(val(deque_get(d, 0)), 1);
    deque_free(d);
}

static void fill_pattern(deque *d)
{
    /* 1 0 1 0 ... with 1 at even indices, 10 elements, on a rotated array. */
    for (int i = 0; i < 5; i++) deque_push_tail(d, mk(9));
    for (int i = 0; i < 10; i++) deque_push_tail(d, mk(i % 2 == 0 ? 1 : 0));
    deque_drop_head(d, 5);
}

static void test_remove_equal(void)
{
    deque *d = deque_new();
    fill_pattern(d);
    CHECK_EQ_INT(deque_remove_equal(d, "1", 1, 2, false), 2);
    int m1[] = {0, 0, 1, 0, 1, 0, 1, 0};
    CHECK(same(d, m1, 8));
    CHECK_EQ_INT(deque_remove_equal(d, "1", 1, 2, true), 2);
    int m2[] = {0, 0, 1, 0, 0, 0};
    CHECK(same(d, m2, 6));
    CHECK_EQ_INT(deque_remove_equal(d, "0", 1, 0, true), 5);
    int m3[] = {1};
    CHECK(same(d, m3, 1));
    CHECK_EQ_INT(deque_remove_equal(d, "x", 1, 0, false), 0);
    deque_free(d);
}

static void test_iter_dup_mem(void)
{
    deque *d = deque_new();
    for (int i = 0; i < 1000; i++) deque_push_head(d, mk(999 - i));
    deque_iter it;
    deque_iter_init(&it, d, 10, 5, false);
    int want = 10, got = 0;
    for (hstr *s; (s = deque_iter_next(&it));) {
        CHECK_EQ_INT(val(s), want++);
        got++;
    }
    CHECK_EQ_INT(got, 5);
    deque_iter_init(&it, d, 999, 1000, true);
    want = 999;
    for (hstr *s; (s = deque_iter_next(&it));) CHECK_EQ_INT(val(s), want--);
    CHECK_EQ_INT(want, -1);
    deque_iter_init(&it, d, 0, 0, true);
    CHECK(deque_iter_next(&it) == NULL);

    deque *c = deque_dup(d);
    CHECK_EQ_INT(deque_len(c), 1000);
    for (size_t i = 0; i < 1000; i++) CHECK(deque_get(c, i) != deque_get(d, i));
    CHECK_EQ_INT(val(deque_get(c, 500)), 500);
    CHECK(deque_mem(c) > 1000 * sizeof(hstr));
    deque_free(c);
    deque_free(d);
}

static void test_shrinks_after_drain(void)
{
    deque *d = deque_new();
    for (int i = 0; i < 10000; i++) deque_push_tail(d, mk(i));
    size_t peak = d->cap;
    for (int i = 0; i < 9990; i++) hstr_free(deque_pop_head(d));
    CHECK(d->cap < peak / 8);
    CHECK_EQ_INT(val(deque_get(d, 0)), 9990);
    deque_drop_head(d, 10);
    CHECK_EQ_INT(deque_len(d), 0);
    deque_free(d);
}

static void test_binary_elements(void)
{
    deque *d = deque_new();
    deque_push_tail(d, hstr_new("a\0b", 3));
    deque_push_tail(d, hstr_new("", 0));
    deque_push_tail(d, hstr_new("a\0c", 3));
    CHECK_EQ_INT(deque_remove_equal(d, "a\0b", 3, 0, false), 1);
    CHECK_EQ_INT(deque_remove_equal(d, "", 0, 0, false), 1);
    CHECK_EQ_INT(deque_len(d), 1);
    CHECK(hstr_eq(deque_get(d, 0), "a\0c", 3));
    deque_free(d);
}

int main(void)
{
    size_t before = hmem_used();
    RUN(test_push_pop_ends);
    RUN(test_wraparound_index_set);
    RUN(test_insert_remove_model);
    RUN(test_drop_head_tail);
    RUN(test_remove_equal);
    RUN(test_iter_dup_mem);
    RUN(test_shrinks_after_drain);
    RUN(test_binary_elements);
    if (hmem_used() != before) {
        fprintf(stderr, "leak: %zu bytes\n", hmem_used() - before);
        t_failed++;
    }
    return TEST_REPORT();
}
