/* test_gw_health.c — rise/fall, outlier back-off, panic rule, retry budget, in simulated time. */
#include "test.h"
#include "gw/gw_config.h"
#include "gw/health.h"

#include <stdint.h>
#include <stdio.h>

/* Deterministic PRNG (splitmix64): the same sequences every run. */
static uint64_t rng_state = 7;
static uint64_t next_rand(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int rnd(int n)
{
    return (int)(next_rand() % (uint64_t)n);
}

/* ---- active checks ------------------------------------------------------ */

static void test_hc_basic(void)
{
    gw_health_cfg cfg = {.rise = 2, .fall = 3};
    hc_state s;
    hc_init(&s, true);
    CHECK(s.healthy);
    CHECK(!hc_record(&s, &cfg, false));
    CHECK(!hc_record(&s, &cfg, false));
    CHECK(!hc_record(&s, &cfg, true)); /* breaks the failure streak */
    CHECK(!hc_record(&s, &cfg, false));
    CHECK(!hc_record(&s, &cfg, false));
    CHECK(hc_record(&s, &cfg, false)); /* third in a row */
    CHECK(!s.healthy);
    CHECK(!hc_record(&s, &cfg, false));
    CHECK(!hc_record(&s, &cfg, true));
    CHECK(hc_record(&s, &cfg, true));
    CHECK(s.healthy);
    hc_init(&s, false);
    CHECK(!s.healthy);
    CHECK(!hc_record(&s, &cfg, true));
    CHECK(hc_record(&s, &cfg, true));
}

/* Against an independent formulation: while healthy the state flips when the
 * last `fall` results (since the start) were all failures; while unhealthy
 * when the last `rise` were all successes. */
static bool last_all(const bool *hist, int len, int k, bool value)
{
    if (len < k) return false;
    for (int i = len - k; i < len; i++)
        if (hist[i] != value) return false;
    return true;
}

static void test_hc_random(void)
{
    enum { LEN = 200 };
    bool hist[LEN];
    for (int trial = 0; trial < 3000; trial++) {
        gw_health_cfg cfg = {.rise = rnd(6), .fall = rnd(6)};
        int rise = cfg.rise < 1 ? 1 : cfg.rise, fall = cfg.fall < 1 ? 1 : cfg.fall;
        bool healthy = rnd(2), bias = rnd(2);
        hc_state s;
        hc_init(&s, healthy);
        for (int i = 0; i < LEN; i++) {
            hist[i] = rnd(10) < (bias ? 7 : 3);
            bool flip = healthy ? last_all(hist, i + 1, fall, false)
                                : last_all(hist, i + 1, rise, true);
            CHECK_EQ_INT(hc_record(&s, &cfg, hist[i]), flip);
            healthy ^= flip;
            CHECK_EQ_INT(s.healthy, healthy);
            CHECK(s.successes == 0 || s.failures == 0);
        }
    }
}

static void test_hc_status(void)
{
    gw_health_cfg cfg = {0};
    CHECK(hc_status_ok(&cfg, 200));
    CHECK(hc_status_ok(&cfg, 399));
    CHECK(!hc_status_ok(&cfg, 199));
    CHECK(!hc_status_ok(&cfg, 400));
    CHECK(!hc_status_ok(&cfg, 503));
    cfg.expect[0] = (gw_status_range){204, 204};
    cfg.expect[1] = (gw_status_range){500, 599};
    cfg.nexpect = 2;
    CHECK(hc_status_ok(&cfg, 204));
    CHECK(hc_status_ok(&cfg, 503));
    CHECK(!hc_status_ok(&cfg, 200));
    cfg.nexpect = 1000; /* a corrupt count reads no further than the array */
    CHECK(hc_status_ok(&cfg, 204));
}

/* ---- outlier ejection --------------------------------------------------- */

static gw_outlier_cfg default_outlier(void)
{
    gw_outlier_cfg c = {.consecutive_5xx = 5, .consecutive_failures = 5,
                        .base_ejection_ms = 10000, .max_ejection_ms = 300000,
                        .max_ejection_percent = 50};
    return c;
}

/* Each repeat ejection doubles, up to the cap; results while ejected are ignored. */
static void test_outlier_backoff(void)
{
    gw_outlier_cfg cfg = default_outlier();
    const int64_t want_s[8] = {10, 20, 40, 80, 160, 300, 300, 300};
    outlier_state s = {0};
    int64_t now = 1000;
    for (int round = 0; round < 8; round++) {
        for (int i = 0; i < 4; i++) CHECK(!outlier_record(&s, &cfg, OUT_5XX, now, 0, 2));
        CHECK(outlier_record(&s, &cfg, OUT_5XX, now, 0, 2));
        CHECK_EQ_INT(s.ejections, round + 1);
        CHECK_EQ_INT(s.ejected_until_ms - now, want_s[round] * 1000);
        int64_t until = s.ejected_until_ms;
        for (int i = 0; i < 20; i++) CHECK(!outlier_record(&s, &cfg, OUT_FAILURE, now + i, 0, 2));
        CHECK_EQ_INT(s.ejected_until_ms, until);
        CHECK(outlier_is_ejected(&s, until - 1));
        CHECK(!outlier_is_ejected(&s, until));
        now = until;
        CHECK(!outlier_record(&s, &cfg, OUT_OK, now, 0, 2));
        CHECK_EQ_INT(s.ejected_until_ms, 0);
    }
}

static void test_outlier_streaks(void)
{
    gw_outlier_cfg cfg = default_outlier();
    outlier_state s = {0};
    for (int i = 0; i < 4; i++) outlier_record(&s, &cfg, OUT_5XX, 0, 0, 10);
    CHECK(!outlier_record(&s, &cfg, OUT_OK, 0, 0, 10)); /* OK resets both */
    CHECK_EQ_INT(s.consecutive_5xx, 0);
    for (int i = 0; i < 4; i++) CHECK(!outlier_record(&s, &cfg, OUT_5XX, 0, 0, 10));
    CHECK(outlier_record(&s, &cfg, OUT_FAILURE, 0, 0, 10)); /* a failure is a 5xx too */
    /* Detector off: 5xx never eject, failures still do. */
    cfg.consecutive_5xx = 0;
    s = (outlier_state){0};
    for (int i = 0; i < 100; i++) CHECK(!outlier_record(&s, &cfg, OUT_5XX, 0, 0, 10));
    for (int i = 0; i < 4; i++) CHECK(!outlier_record(&s, &cfg, OUT_FAILURE, 0, 0, 10));
    CHECK(outlier_record(&s, &cfg, OUT_FAILURE, 0, 0, 10));
}

static void test_outlier_cap(void)
{
    gw_outlier_cfg cfg = default_outlier();
    outlier_state s = {0};
    cfg.max_ejection_percent = 40; /* 2 * 40% rounds down to 0: never eject */
    for (int i = 0; i < 50; i++) CHECK(!outlier_record(&s, &cfg, OUT_FAILURE, i, 0, 2));
    cfg.max_ejection_percent = 50; /* 1 of 2 may go, once the other is back */
    CHECK(!outlier_record(&s, &cfg, OUT_FAILURE, 60, 1, 2));
    CHECK(outlier_record(&s, &cfg, OUT_FAILURE, 61, 0, 2)); /* the kept streak trips at once */
}

/* What the model expects of one endpoint. */
typedef struct model_ep {
    int c5, cf, ejections;
} model_ep;

static int64_t model_duration(const gw_outlier_cfg *c, int ejections)
{
    int64_t d = c->base_ejection_ms;
    for (int i = 1; i < ejections; i++) d = d * 2 > c->max_ejection_ms ? c->max_ejection_ms : d * 2;
    return d < c->max_ejection_ms ? d : c->max_ejection_ms;
}

static int ejected_count(const outlier_state *s, int n, int64_t now)
{
    int k = 0;
    for (int i = 0; i < n; i++) k += outlier_is_ejected(&s[i], now);
    return k;
}

static void model_count(model_ep *m, int result)
{
    if (result == OUT_OK) m->c5 = m->cf = 0;
    else if (result == OUT_5XX) m->c5++, m->cf = 0;
    else m->c5++, m->cf++;
}

/* One random cluster run: n endpoints, random results and clock steps. */
static void outlier_run(void)
{
    enum { MAXN = 16 };
    int n = 1 + rnd(MAXN);
    gw_outlier_cfg cfg = {.consecutive_5xx = rnd(6), .consecutive_failures = rnd(6),
                          .base_ejection_ms = 1 + rnd(1000), .max_ejection_percent = rnd(101)};
    cfg.max_ejection_ms = cfg.base_ejection_ms * (1 + rnd(40));
    int cap = n * cfg.max_ejection_percent / 100;
    outlier_state s[MAXN] = {0};
    model_ep m[MAXN] = {0};
    int64_t now = rnd(100000);
    for (int step = 0; step < 400; step++) {
        now += rnd(4) == 0 ? rnd(3000) : 0;
        int e = rnd(n), result = rnd(10) < 3 ? OUT_OK : rnd(2) ? OUT_5XX : OUT_FAILURE;
        int ejected_now = ejected_count(s, n, now);
        bool was_ejected = outlier_is_ejected(&s[e], now);
        if (!was_ejected) model_count(&m[e], result);
        bool tripped = (cfg.consecutive_5xx > 0 && m[e].c5 >= cfg.consecutive_5xx) ||
                       (cfg.consecutive_failures > 0 && m[e].cf >= cfg.consecutive_failures);
        bool want = !was_ejected && tripped && ejected_now < cap;
        bool got = outlier_record(&s[e], &cfg, result, now, ejected_now, n);
        CHECK_EQ_INT(got, want);
        if (got) {
            m[e].ejections++;
            m[e].c5 = m[e].cf = 0;
            CHECK_EQ_INT(s[e].ejections, m[e].ejections);
            CHECK_EQ_INT(s[e].ejected_until_ms - now, model_duration(&cfg, m[e].ejections));
        }
        if (!was_ejected && result == OUT_OK)
            CHECK(s[e].consecutive_5xx == 0 && s[e].consecutive_failures == 0);
        CHECK(ejected_count(s, n, now) <= cap);
    }
}

static void test_outlier_random(void)
{
    for (int trial = 0; trial < 3000; trial++) outlier_run();
}

/* Saturation: huge back-off counts and times do not overflow. */
static void test_outlier_no_overflow(void)
{
    gw_outlier_cfg cfg = default_outlier();
    cfg.max_ejection_ms = INT64_MAX / 4;
    outlier_state s = {.ejections = 1000};
    for (int i = 0; i < 4; i++) outlier_record(&s, &cfg, OUT_5XX, 0, 0, 2);
    CHECK(outlier_record(&s, &cfg, OUT_5XX, 0, 0, 2));
    CHECK_EQ_INT(s.ejected_until_ms, INT64_MAX / 4);
}

/* ---- panic rule --------------------------------------------------------- */

static void test_panic(void)
{
    bool usable[10], el[10];
    for (int i = 0; i < 10; i++) usable[i] = i < 5;
    CHECK(!health_eligible(usable, 10, 50, el)); /* exactly 50%: not below */
    for (int i = 0; i < 10; i++) CHECK_EQ_INT(el[i], usable[i]);
    usable[4] = false;
    CHECK(health_eligible(usable, 10, 50, el));
    for (int i = 0; i < 10; i++) CHECK(el[i]);
    for (int i = 0; i < 10; i++) usable[i] = false;
    CHECK(!health_eligible(usable, 10, 0, el)); /* threshold 0: panic off */
    for (int i = 0; i < 10; i++) CHECK(!el[i]);
    CHECK(health_eligible(usable, 10, 1, el));
    CHECK(!health_eligible(usable, 0, 50, el));
}

/* ---- retry budget ------------------------------------------------------- */

static void test_budget_basic(void)
{
    gw_retry_cfg cfg = {.budget_percent = 20, .budget_min_per_s = 3};
    retry_budget b;
    retry_budget_init(&b);
    /* No traffic: the floor alone, 3 per second. */
    for (int sec = 0; sec < 3; sec++) {
        for (int i = 0; i < 3; i++) CHECK(retry_budget_take(&b, &cfg, sec * 1000 + i));
        CHECK(!retry_budget_take(&b, &cfg, sec * 1000 + 999));
    }
    /* 5 requests at 20% buy exactly one retry, floating point or not. */
    for (int i = 0; i < 4; i++) retry_budget_on_request(&b, &cfg);
    CHECK(!retry_budget_take(&b, &cfg, 2999));
    retry_budget_on_request(&b, &cfg);
    CHECK(retry_budget_take(&b, &cfg, 2999));
    CHECK(!retry_budget_take(&b, &cfg, 2999));
    /* A long quiet spell banks at most 10 retries. */
    for (int i = 0; i < 100000; i++) retry_budget_on_request(&b, &cfg);
    int allowed = 0;
    while (retry_budget_take(&b, &cfg, 2999) && allowed < 1000) allowed++;
    CHECK_EQ_INT(allowed, 10);
}

/* Random traffic: never more than percent * requests + min_per_s per second
 * started, and a retry is refused only when the model has nothing left. */
static void budget_run(void)
{
    gw_retry_cfg cfg = {.budget_percent = rnd(101), .budget_min_per_s = rnd(6)};
    retry_budget b;
    retry_budget_init(&b);
    int64_t start = rnd(1000000), now = start, requests = 0, allowed = 0;
    int64_t model_h = 0, model_floor = 0, model_window = INT64_MIN;
    int req_share = 1 + rnd(9);
    for (int step = 0; step < 2000; step++) {
        now += rnd(20);
        if (rnd(10) < req_share) {
            retry_budget_on_request(&b, &cfg);
            requests++;
            model_h = model_h + cfg.budget_percent > 1000 ? 1000 : model_h + cfg.budget_percent;
            continue;
        }
        if (model_window == INT64_MIN || now - model_window >= 1000)
            model_window = now, model_floor = cfg.budget_min_per_s;
        bool can = model_floor > 0 || model_h >= 100;
        bool got = retry_budget_take(&b, &cfg, now);
        CHECK_EQ_INT(got, can);
        if (got && model_floor > 0) model_floor--;
        else if (got) model_h -= 100;
        allowed += got;
        int64_t bound = requests * cfg.budget_percent / 100 +
                        cfg.budget_min_per_s * ((now - start) / 1000 + 1);
        CHECK(allowed <= bound);
    }
}

static void test_budget_random(void)
{
    for (int trial = 0; trial < 2000; trial++) budget_run();
}

int main(void)
{
    RUN(test_hc_basic);
    RUN(test_hc_random);
    RUN(test_hc_status);
    RUN(test_outlier_backoff);
    RUN(test_outlier_streaks);
    RUN(test_outlier_cap);
    RUN(test_outlier_random);
    RUN(test_outlier_no_overflow);
    RUN(test_panic);
    RUN(test_budget_basic);
    RUN(test_budget_random);
    return TEST_REPORT();
}
