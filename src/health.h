/*
 * health.h — health counters with HAProxy semantics, server status and
 * the "is this check due" rule (SPEC sections 3.4 and 3.5). Pure: no I/O,
 * no clock, no allocation. Times are passed in by the caller, in
 * milliseconds of one clock (the round uses now_ms(), the wall clock,
 * because the times are stored between runs).
 */
#ifndef FLIPPER_HEALTH_H
#define FLIPPER_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "planner.h"

/*
 * The counters of one check target (server, check, address family).
 * Invariant: at most one of rise_count and fall_count is non-zero; both
 * are >= 0 and saturate at INT_MAX instead of overflowing. A zeroed
 * struct is the starting point: no history, HEALTH_UNKNOWN.
 */
struct health_counters {
	int rise_count;              /* consecutive successes */
	int fall_count;              /* consecutive failures */
	enum health state;
};

#define HEALTH_COUNTERS_INIT { 0, 0, HEALTH_UNKNOWN }

/* health.c */
/*
 * Count one result. Success: rise_count + 1, fall_count = 0; failure:
 * fall_count + 1, rise_count = 0. The state becomes healthy when
 * rise_count >= rise, unhealthy when fall_count >= fall, and otherwise
 * stays what it was. Thresholds below 1 count as 1. Returns the new state.
 */
enum health health_update(struct health_counters *c, bool success, int rise,
			  int fall);
/* The worse of two: unhealthy > unknown > healthy. */
enum health health_worse(enum health a, enum health b);
/*
 * A server's status: the worst state of its targets. A server with no
 * target at all (every check skipped because it lacks the address
 * family) is HEALTH_UNKNOWN: nothing was observed, so nothing is
 * claimed. A group that has no checks is a different case, decided by
 * the caller (SPEC: its servers are healthy).
 */
enum health health_server_status(const struct health_counters *targets,
				 size_t n);

/*
 * Due logic. last_run_ms is when the target last ran (the start of that
 * round), 0 if it never ran. A target is due when it never ran, when
 * interval_ms has elapsed minus a tolerance, or when the clock went
 * backwards (now < last run: waiting for the old time could take hours).
 * The tolerance is min(interval / 10, 1 s), so a timer that fires every
 * interval never skips a round because the previous round started a few
 * milliseconds late. An interval <= 0 is always due.
 */
#define CHECK_DUE_TOLERANCE_MAX_MS 1000
int64_t check_due_tolerance(int64_t interval_ms);
/* The earliest time the target is due; 0 when it is due at once. */
int64_t check_due_at(int64_t last_run_ms, int64_t interval_ms);
bool check_is_due(int64_t last_run_ms, int64_t interval_ms, int64_t now_ms);

#endif
