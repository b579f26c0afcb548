/* health.h — endpoint health as pure state machines: active check rise/fall,
 * passive outlier ejection with growing back-off, and the panic rule. */
#ifndef HALO_GW_HEALTH_H
#define HALO_GW_HEALTH_H

#include "gw_config.h"
#include <stdbool.h>
#include <stdint.h>

/* Active checks. States: HEALTHY and UNHEALTHY; an endpoint starts healthy
 * (so traffic flows at start-up) unless configured otherwise.
 *   HEALTHY   --fall consecutive failures-->  UNHEALTHY
 *   UNHEALTHY --rise consecutive successes--> HEALTHY                       */
typedef struct hc_state {
    bool healthy;
    int successes, failures; /* current streaks */
} hc_state;

void hc_init(hc_state *s, bool start_healthy);
/* Record one check result; returns true when the state flipped. */
bool hc_record(hc_state *s, const gw_health_cfg *cfg, bool ok);
/* Whether an HTTP status counts as a successful check. */
bool hc_status_ok(const gw_health_cfg *cfg, int status);

/* Passive outlier detection for one endpoint. */
typedef struct outlier_state {
    int consecutive_5xx, consecutive_failures;
    int ejections;            /* times ejected so far: back-off = base * 2^(n-1), capped */
    int64_t ejected_until_ms; /* 0 = not ejected */
} outlier_state;

enum { OUT_OK, OUT_5XX, OUT_FAILURE }; /* what a request to the endpoint saw */

/* Record a result. ejected_now/total: endpoints of the cluster ejected at the
 * moment and in all, to honour max_ejection_percent. Returns true when this
 * call ejected the endpoint (caller logs and counts it). */
bool outlier_record(outlier_state *s, const gw_outlier_cfg *cfg, int result, int64_t now_ms,
                    int ejected_now, int total);
bool outlier_is_ejected(const outlier_state *s, int64_t now_ms);

/* Panic rule: given which endpoints are usable, fill eligible[] with the
 * usable ones, or with all of them when fewer than threshold_percent are
 * usable (better to try everything than to refuse everything). Returns true
 * in panic mode. */
bool health_eligible(const bool *usable, int n, int threshold_percent, bool *eligible);

/* Retry budget over all traffic of a cluster (a token bucket refilled by
 * requests, holding at most 10 banked retries): allows a retry while retries
 * stay under budget_percent of requests, with at least min_per_s allowed each
 * second. last_ms is the time of the last take. */
typedef struct retry_budget {
    double tokens;
    int64_t last_ms;
    double min_tokens_this_second;
    int64_t second_start_ms;
} retry_budget;

void retry_budget_init(retry_budget *b);
void retry_budget_on_request(retry_budget *b, const gw_retry_cfg *cfg);
bool retry_budget_take(retry_budget *b, const gw_retry_cfg *cfg, int64_t now_ms);

#endif
