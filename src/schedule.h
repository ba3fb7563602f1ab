/*
 * schedule.h — when each check target runs next (SPEC section 9). Pure:
 * times are passed in, nothing is read or kept.
 *
 * Inside a process every schedule is on the monotonic clock: a target's
 * next check starts at max(last start + interval, completion), so at most
 * one check per target is ever in flight, and a slow target delays
 * nobody but itself. Across invocations only wall-clock times survive (the
 * state file); they are clamped when read, so a clock step in either
 * direction costs at most one interval.
 *
 * The interval is the check's fast_interval (HAProxy's fastinter) while
 * the target is in transition: after a failure until fall is reached or
 * it recovers, and while it rises towards rise.
 */
#ifndef FLIPPER_SCHEDULE_H
#define FLIPPER_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

#include "health.h"

/*
 * A one-shot run started by a timer at the interval finds a check due a
 * little early; it runs anyway if it is within this tolerance: a tenth of
 * the interval, at most SCHEDULE_TOLERANCE_MAX_MS.
 */
#define SCHEDULE_TOLERANCE_MAX_MS 1000

/* schedule.c */
int64_t schedule_tolerance(int64_t interval_ms);
/* Counting towards a state change it has not reached yet. */
bool schedule_in_transition(const struct health_counters *c);
/* The interval to use after this result; fast_ms <= 0 means interval_ms. */
int64_t schedule_interval(const struct health_counters *c, int64_t interval_ms, int64_t fast_ms);
/* The next start of a check that started at start and ended at end. */
int64_t schedule_next(int64_t start, int64_t end, int64_t interval_ms);
/*
 * A wall-clock time read back from the state: one in the future (the
 * clock stepped back since it was written) is taken as now.
 */
int64_t schedule_clamp_wall(int64_t stored, int64_t wall_now);
/*
 * The monotonic time a target that last ran at last_run (wall clock, 0:
 * never) is due, given the clocks now. A one-shot run started by a timer
 * at the interval must not skip it because it started a little early, so
 * the wait is shortened by schedule_tolerance(). Never later than one
 * interval from now, never earlier than now.
 */
int64_t schedule_due_from_wall(int64_t last_run, int64_t interval_ms, int64_t wall_now,
			       int64_t mono_now);

#endif
