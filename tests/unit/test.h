/* test.h — a minimal unit-test harness: CHECK macros, a run list, "N passed, N failed". */
#ifndef HALO_TEST_H
#define HALO_TEST_H

#include <stdio.h>
#include <string.h>

static int t_failed_checks;
static int t_passed, t_failed;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);     \
            t_failed_checks++;                                                           \
        }                                                                                \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                               \
    do {                                                                                 \
        long long _a = (long long)(a), _b = (long long)(b);                              \
        if (_a != _b) {                                                                  \
            fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a,  \
                    _a, _b);                                                             \
            t_failed_checks++;                                                           \
        }                                                                                \
    } while (0)

#define CHECK_MEM(p, len, lit) CHECK((len) == sizeof(lit) - 1 && memcmp((p), (lit), (len)) == 0)

#define RUN(fn)                                                                          \
    do {                                                                                 \
        int _before = t_failed_checks;                                                   \
        fn();                                                                            \
        if (t_failed_checks == _before) t_passed++;                                      \
        else {                                                                           \
            t_failed++;                                                                  \
            fprintf(stderr, "FAIL %s\n", #fn);                                           \
        }                                                                                \
    } while (0)

#define TEST_REPORT()                                                                    \
    (printf("%d passed, %d failed\n", t_passed, t_failed), t_failed ? 1 : 0)

#endif
