/* health.c — active-check rise/fall, outlier ejection with back-off, panic rule, retry budget. */
#include "health.h"

#include <limits.h>
#include <stdint.h>

/* Streak counters saturate here, so an endpoint checked every second for
 * decades never overflows (any threshold a config may hold is far below). */
#define STREAK_MAX (INT_MAX / 2)

static int saturating_inc(int v)
{
    return v < STREAK_MAX ? v + 1 : v;
}

/* ---- active checks ---------------------------------------------------------
 *
 * State machine (one per endpoint, advanced only by hc_record):
 *
 *   HEALTHY    invariant: failures < fall, successes == 0 or failures == 0.
 *              ok   -> successes++, failures = 0; stays HEALTHY.
 *              fail -> failures++, successes = 0; when failures reaches
 *                      fall: UNHEALTHY (hc_record returns true).
 *   UNHEALTHY  invariant: successes < rise.
 *              fail -> failures++, successes = 0; stays UNHEALTHY.
 *              ok   -> successes++, failures = 0; when successes reaches
 *                      rise: HEALTHY (hc_record returns true).
 *
 * So the state flips exactly when the last `fall` results were all failures
 * (while healthy) or the last `rise` all successes (while unhealthy): one
 * lost probe never takes an endpoint out and one lucky probe never brings a
 * dead one back. Streaks are not reset on a flip; the opposite result resets
 * them. rise and fall below 1 count as 1. */

void hc_init(hc_state *s, bool start_healthy)
{
    s->healthy = start_healthy;
    s->successes = 0;
    s->failures = 0;
}

static int at_least_one(int v)
{
    return v < 1 ? 1 : v;
}

bool hc_record(hc_state *s, const gw_health_cfg *cfg, bool ok)
{
    if (ok) {
        s->successes = saturating_inc(s->successes);
        s->failures = 0;
        if (s->healthy || s->successes < at_least_one(cfg->rise)) return false;
        s->healthy = true;
        return true;
    }
    s->failures = saturating_inc(s->failures);
    s->successes = 0;
    if (!s->healthy || s->failures < at_least_one(cfg->fall)) return false;
    s->healthy = false;
    return true;
}

/* The configured ranges, or 200-399 when none are (the config's default). */
bool hc_status_ok(const gw_health_cfg *cfg, int status)
{
    int n = cfg->nexpect;
    if (n <= 0) return status >= 200 && status <= 399;
    if (n > (int)(sizeof(cfg->expect) / sizeof(cfg->expect[0])))
        n = (int)(sizeof(cfg->expect) / sizeof(cfg->expect[0]));
    for (int i = 0; i < n; i++)
        if (status >= cfg->expect[i].lo && status <= cfg->expect[i].hi) return true;
    return false;
}

/* ---- passive outlier detection ---------------------------------------------
 *
 * State machine (one per endpoint, advanced by outlier_record; time is the
 * caller's monotonic now_ms):
 *
 *   IN        (ejected_until_ms == 0, or in the past)
 *             OUT_OK      -> both streaks = 0.
 *             OUT_5XX     -> consecutive_5xx++, consecutive_failures = 0 (the
 *                            endpoint answered, so it is reachable).
 *             OUT_FAILURE -> both streaks++ (connect error, timeout or reset:
 *                            the client sees a 502/504, at least as bad as a 5xx).
 *             A streak at its threshold (threshold 0 = that detector off) ->
 *             EJECTED, if the cap allows: ejections++, streaks = 0,
 *             ejected_until_ms = now + min(base * 2^(ejections-1), max).
 *             If the cap forbids it the streak is kept, so the next bad
 *             result tries again once another endpoint has returned.
 *   EJECTED   (now_ms < ejected_until_ms)
 *             Results are ignored: they come from requests sent before the
 *             ejection or from panic-mode traffic, and must neither extend
 *             this ejection nor count toward the next.
 *             now_ms >= ejected_until_ms -> IN (the endpoint returns;
 *             outlier_is_ejected already says false, the next outlier_record
 *             clears ejected_until_ms to 0).
 *
 * The cap: an ejection happens only if ejected_now + 1 <= total *
 * max_ejection_percent / 100 (rounded down). It is never exceeded, so with a
 * small cluster and a small percentage (2 endpoints at 40%: 0.8 -> 0) no
 * endpoint is ever ejected: the share is a promise, and the panic rule and
 * active checks still cover a dead endpoint there.
 *
 * `ejections` never decays (the header has no field to remember how long an
 * endpoint has been back); max_ejection_ms bounds the cost of that. */

/* Whole endpoints that may be ejected at once. */
static int64_t ejection_cap(const gw_outlier_cfg *cfg, int total)
{
    int pct = cfg->max_ejection_percent;
    if (pct < 0) pct = 0;
    if (pct > 100) pct = 100;
    if (total < 0) total = 0;
    return (int64_t)total * pct / 100;
}

/* base * 2^(ejections-1), capped at max (and at least 1 ms), without overflow. */
static int64_t ejection_ms(const gw_outlier_cfg *cfg, int ejections)
{
    int64_t base = cfg->base_ejection_ms > 0 ? cfg->base_ejection_ms : 1;
    int64_t max = cfg->max_ejection_ms > base ? cfg->max_ejection_ms : base;
    int64_t d = base;
    for (int i = 1; i < ejections && d < max; i++) d = d > max / 2 ? max : d * 2;
    return d < max ? d : max;
}

static bool streak_tripped(const outlier_state *s, const gw_outlier_cfg *cfg)
{
    return (cfg->consecutive_5xx > 0 && s->consecutive_5xx >= cfg->consecutive_5xx) ||
           (cfg->consecutive_failures > 0 && s->consecutive_failures >= cfg->consecutive_failures);
}

static void count_result(outlier_state *s, int result)
{
    if (result == OUT_5XX) {
        s->consecutive_5xx = saturating_inc(s->consecutive_5xx);
        s->consecutive_failures = 0;
    } else if (result == OUT_FAILURE) {
        s->consecutive_5xx = saturating_inc(s->consecutive_5xx);
        s->consecutive_failures = saturating_inc(s->consecutive_failures);
    } else {
        s->consecutive_5xx = 0;
        s->consecutive_failures = 0;
    }
}

bool outlier_record(outlier_state *s, const gw_outlier_cfg *cfg, int result, int64_t now_ms,
                    int ejected_now, int total)
{
    if (outlier_is_ejected(s, now_ms)) return false;
    s->ejected_until_ms = 0;
    count_result(s, result);
    if (!streak_tripped(s, cfg)) return false;
    if ((int64_t)ejected_now + 1 > ejection_cap(cfg, total)) return false;
    s->ejections = saturating_inc(s->ejections);
    s->consecutive_5xx = 0;
    s->consecutive_failures = 0;
    int64_t d = ejection_ms(cfg, s->ejections);
    s->ejected_until_ms = now_ms > INT64_MAX - d ? INT64_MAX : now_ms + d;
    return true;
}

bool outlier_is_ejected(const outlier_state *s, int64_t now_ms)
{
    return s->ejected_until_ms != 0 && now_ms < s->ejected_until_ms;
}

/* ---- panic rule ------------------------------------------------------------ */

/* Panic when usable/n < threshold_percent/100, compared in integers.
 * threshold 0 disables panic mode (Envoy's convention). */
bool health_eligible(const bool *usable, int n, int threshold_percent, bool *eligible)
{
    if (n <= 0) return false;
    int nusable = 0;
    for (int i = 0; i < n; i++) nusable += usable[i] ? 1 : 0;
    bool panic = (int64_t)nusable * 100 < (int64_t)threshold_percent * n;
    for (int i = 0; i < n; i++) eligible[i] = panic || usable[i];
    return panic;
}

/* ---- retry budget ----------------------------------------------------------
 *
 * Two sources of permission, spent in this order:
 *  1. the floor: budget_min_per_s retries per one-second window; a window
 *     starts at the first retry_budget_take at or after the previous window's
 *     end, and unused floor is lost with its window;
 *  2. the bucket: each request deposits budget_percent/100 of a retry, a
 *     retry withdraws 1, and at most RETRY_BUDGET_MAX_TOKENS are banked, so a
 *     quiet hour does not buy a retry storm.
 * Over any run with R requests spanning T ms, at most
 * R * budget_percent / 100 + budget_min_per_s * (T / 1000 + 1) retries are
 * allowed. Tokens are kept as exact multiples of 1/100 (rounded back to
 * hundredths after each step) so 5 deposits of 20% make exactly one retry.
 * budget_percent 0 leaves only the floor. last_ms is the time of the last
 * take, for status pages. */
#define RETRY_BUDGET_MAX_TOKENS 10

static int64_t to_hundredths(double tokens)
{
    return (int64_t)(tokens * 100.0 + 0.5);
}

void retry_budget_init(retry_budget *b)
{
    b->tokens = 0;
    b->last_ms = 0;
    b->min_tokens_this_second = 0;
    b->second_start_ms = INT64_MIN; /* no window yet */
}

void retry_budget_on_request(retry_budget *b, const gw_retry_cfg *cfg)
{
    int64_t pct = cfg->budget_percent > 0 ? cfg->budget_percent : 0;
    int64_t h = to_hundredths(b->tokens) + pct;
    if (h > RETRY_BUDGET_MAX_TOKENS * 100) h = RETRY_BUDGET_MAX_TOKENS * 100;
    b->tokens = (double)h / 100.0;
}

static void roll_second(retry_budget *b, const gw_retry_cfg *cfg, int64_t now_ms)
{
    bool first = b->second_start_ms == INT64_MIN;
    if (!first && now_ms - b->second_start_ms < 1000) return; /* also when time went back */
    b->second_start_ms = now_ms;
    b->min_tokens_this_second = cfg->budget_min_per_s > 0 ? cfg->budget_min_per_s : 0;
}

bool retry_budget_take(retry_budget *b, const gw_retry_cfg *cfg, int64_t now_ms)
{
    roll_second(b, cfg, now_ms);
    b->last_ms = now_ms;
    if (b->min_tokens_this_second >= 1) {
        b->min_tokens_this_second -= 1;
        return true;
    }
    int64_t h = to_hundredths(b->tokens);
    if (h < 100) return false;
    b->tokens = (double)(h - 100) / 100.0;
    return true;
}
