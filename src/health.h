/*
 * health.h — health counters with HAProxy semantics and server status
 * (SPEC section 3.5). Pure: no I/O, no clock, no allocation. When a check
 * is due is schedule.h's.
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

#endif
