/* schedule.c — per-target due times, fast_interval, clamped wall times. */
#include "schedule.h"

int64_t schedule_tolerance(int64_t interval_ms)
{
	if (interval_ms <= 0)
		return 0;
	int64_t t = interval_ms / 10;
	return t < SCHEDULE_TOLERANCE_MAX_MS ? t : SCHEDULE_TOLERANCE_MAX_MS;
}

bool schedule_in_transition(const struct health_counters *c)
{
	return (c->fall_count > 0 && c->state != HEALTH_UNHEALTHY) ||
	       (c->rise_count > 0 && c->state != HEALTH_HEALTHY);
}

int64_t schedule_interval(const struct health_counters *c, int64_t interval_ms, int64_t fast_ms)
{
	if (fast_ms > 0 && schedule_in_transition(c))
		return fast_ms;
	return interval_ms;
}

int64_t schedule_next(int64_t start, int64_t end, int64_t interval_ms)
{
	int64_t next;
	if (interval_ms < 0)
		interval_ms = 0;
	if (__builtin_add_overflow(start, interval_ms, &next))
		next = INT64_MAX;
	return next > end ? next : end;
}

int64_t schedule_clamp_wall(int64_t stored, int64_t wall_now)
{
	return stored > wall_now ? wall_now : stored;
}

int64_t schedule_due_from_wall(int64_t last_run, int64_t interval_ms, int64_t wall_now,
			       int64_t mono_now)
{
	if (last_run <= 0 || interval_ms <= 0)
		return mono_now;
	int64_t ran = schedule_clamp_wall(last_run, wall_now);
	int64_t wait = interval_ms - schedule_tolerance(interval_ms);
	int64_t elapsed = wall_now - ran;
	if (elapsed >= wait)
		return mono_now;
	return mono_now + (wait - elapsed);
}
