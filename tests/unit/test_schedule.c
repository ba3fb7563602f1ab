/* test_schedule.c — per-target schedules, fast_interval, clamped wall times. */
#include "schedule.h"
#include "test.h"

TEST(next_start_is_the_later_of_interval_and_completion)
{
	/* A quick answer waits for the interval... */
	CHECK_EQ_INT(schedule_next(1000, 1200, 2000), 3000);
	/* ...a slow one starts again as soon as it ended: never two in flight. */
	CHECK_EQ_INT(schedule_next(1000, 5000, 2000), 5000);
	CHECK_EQ_INT(schedule_next(1000, 3000, 2000), 3000);
	CHECK_EQ_INT(schedule_next(INT64_MAX - 5, INT64_MAX - 5, 100), INT64_MAX);
}

TEST(transition_is_between_first_failure_and_fall_and_while_rising)
{
	struct health_counters c = HEALTH_COUNTERS_INIT;
	CHECK(!schedule_in_transition(&c));               /* nothing known yet */
	health_update(&c, true, 3, 3);
	CHECK(schedule_in_transition(&c));                /* rising from unknown */
	health_update(&c, true, 3, 3);
	health_update(&c, true, 3, 3);
	CHECK_EQ_INT(c.state, HEALTH_HEALTHY);
	CHECK(!schedule_in_transition(&c));               /* settled */
	health_update(&c, false, 3, 3);
	CHECK(schedule_in_transition(&c));                /* first failure */
	health_update(&c, false, 3, 3);
	CHECK(schedule_in_transition(&c));
	health_update(&c, false, 3, 3);
	CHECK_EQ_INT(c.state, HEALTH_UNHEALTHY);
	CHECK(!schedule_in_transition(&c));               /* fall reached */
	health_update(&c, false, 3, 3);
	CHECK(!schedule_in_transition(&c));               /* still down */
	health_update(&c, true, 3, 3);
	CHECK(schedule_in_transition(&c));                /* rising again */
	/* Recovered before fall: the transition is over. */
	c = (struct health_counters){ 0, 0, HEALTH_HEALTHY };
	health_update(&c, false, 1, 3);
	CHECK(schedule_in_transition(&c));
	health_update(&c, true, 1, 3);
	CHECK(!schedule_in_transition(&c));
}

TEST(fast_interval_only_in_transition)
{
	struct health_counters settled = { 5, 0, HEALTH_HEALTHY };
	struct health_counters failing = { 0, 1, HEALTH_HEALTHY };
	CHECK_EQ_INT(schedule_interval(&settled, 2000, 500), 2000);
	CHECK_EQ_INT(schedule_interval(&failing, 2000, 500), 500);
	CHECK_EQ_INT(schedule_interval(&failing, 2000, 0), 2000);   /* 0: the interval */
}

TEST(stored_times_ahead_of_now_are_now)
{
	CHECK_EQ_INT(schedule_clamp_wall(5000, 4000), 4000);
	CHECK_EQ_INT(schedule_clamp_wall(3000, 4000), 3000);
}

TEST(due_from_the_wall_clock_costs_at_most_one_interval)
{
	int64_t mono = 1000000, wall = 1700000000000LL, iv = 10000;
	int64_t tol = schedule_tolerance(iv);
	/* Never ran: due now. */
	CHECK_EQ_INT(schedule_due_from_wall(0, iv, wall, mono), mono);
	/* Ran 4 s ago: due in 6 s, less the timer tolerance. */
	CHECK_EQ_INT(schedule_due_from_wall(wall - 4000, iv, wall, mono), mono + 6000 - tol);
	/* A timer firing at the interval, a little early, still finds it due. */
	CHECK_EQ_INT(schedule_due_from_wall(wall - iv + tol, iv, wall, mono), mono);
	/* The clock stepped back 10 minutes: one interval, not ten minutes. */
	CHECK_EQ_INT(schedule_due_from_wall(wall + 600000, iv, wall, mono), mono + iv - tol);
	/* ...or forward: due now, not never. */
	CHECK_EQ_INT(schedule_due_from_wall(wall - 600000, iv, wall, mono), mono);
}

TEST(tolerance_is_a_tenth_of_the_interval_at_most_a_second)
{
	CHECK_EQ_INT(schedule_tolerance(60000), 1000);
	CHECK_EQ_INT(schedule_tolerance(10000), 1000);
	CHECK_EQ_INT(schedule_tolerance(2000), 200);
	CHECK_EQ_INT(schedule_tolerance(5), 0);
	CHECK_EQ_INT(schedule_tolerance(0), 0);
	CHECK_EQ_INT(schedule_tolerance(-1), 0);
	/* 2 s: a timer firing 2 s after a run that started 150 ms late still runs it. */
	int64_t mono = 5000, wall = 1700000000000LL;
	CHECK_EQ_INT(schedule_due_from_wall(wall - 2000 + 150, 2000, wall, mono), mono);
	CHECK_EQ_INT(schedule_due_from_wall(wall - 1799, 2000, wall, mono), mono + 1);
	/* Degenerate intervals: always due. */
	CHECK_EQ_INT(schedule_due_from_wall(wall, 0, wall, mono), mono);
	CHECK_EQ_INT(schedule_due_from_wall(wall, -1, wall, mono), mono);
}

int main(void)
{
	RUN(next_start_is_the_later_of_interval_and_completion);
	RUN(transition_is_between_first_failure_and_fall_and_while_rising);
	RUN(fast_interval_only_in_transition);
	RUN(stored_times_ahead_of_now_are_now);
	RUN(due_from_the_wall_clock_costs_at_most_one_interval);
	RUN(tolerance_is_a_tenth_of_the_interval_at_most_a_second);
	return test_report();
}
