/* test_health.c — health counters and server status. */
#include <limits.h>

#include "health.h"
#include "test.h"

TEST(starts_unknown)
{
	struct health_counters c = HEALTH_COUNTERS_INIT;
	struct health_counters z = { 0 };

	CHECK_EQ_INT(c.state, HEALTH_UNKNOWN);
	CHECK_EQ_INT(c.rise_count, 0);
	CHECK_EQ_INT(c.fall_count, 0);
	/* A zeroed struct is the same starting point. */
	CHECK_EQ_INT(z.state, HEALTH_UNKNOWN);
}

TEST(rise_fall_one)
{
	struct health_counters c = HEALTH_COUNTERS_INIT;

	CHECK_EQ_INT(health_update(&c, true, 1, 1), HEALTH_HEALTHY);
	CHECK_EQ_INT(c.rise_count, 1);
	CHECK_EQ_INT(c.fall_count, 0);
	CHECK_EQ_INT(health_update(&c, false, 1, 1), HEALTH_UNHEALTHY);
	CHECK_EQ_INT(c.rise_count, 0);
	CHECK_EQ_INT(c.fall_count, 1);
	CHECK_EQ_INT(health_update(&c, true, 1, 1), HEALTH_HEALTHY);

	c = (struct health_counters)HEALTH_COUNTERS_INIT;
	CHECK_EQ_INT(health_update(&c, false, 1, 1), HEALTH_UNHEALTHY);
}

TEST(unknown_keeps_state_below_thresholds)
{
	struct health_counters c = HEALTH_COUNTERS_INIT;

	/* rise 3: two successes are not enough to leave unknown. */
	CHECK_EQ_INT(health_update(&c, true, 3, 2), HEALTH_UNKNOWN);
	CHECK_EQ_INT(health_update(&c, true, 3, 2), HEALTH_UNKNOWN);
	CHECK_EQ_INT(c.rise_count, 2);
	/* One failure resets the rise count, still unknown (fall 2). */
	CHECK_EQ_INT(health_update(&c, false, 3, 2), HEALTH_UNKNOWN);
	CHECK_EQ_INT(c.rise_count, 0);
	CHECK_EQ_INT(c.fall_count, 1);
	CHECK_EQ_INT(health_update(&c, false, 3, 2), HEALTH_UNHEALTHY);
	CHECK_EQ_INT(c.fall_count, 2);
}

TEST(rise_threshold_above_one)
{
	struct health_counters c = HEALTH_COUNTERS_INIT;

	CHECK_EQ_INT(health_update(&c, false, 3, 1), HEALTH_UNHEALTHY);
	CHECK_EQ_INT(health_update(&c, true, 3, 1), HEALTH_UNHEALTHY);
	CHECK_EQ_INT(health_update(&c, true, 3, 1), HEALTH_UNHEALTHY);
	/* An interruption starts the count again. */
	CHECK_EQ_INT(health_update(&c, false, 3, 1), HEALTH_UNHEALTHY);
	CHECK_EQ_INT(health_update(&c, true, 3, 1), HEALTH_UNHEALTHY);
	CHECK_EQ_INT(health_update(&c, true, 3, 1), HEALTH_UNHEALTHY);
	CHECK_EQ_INT(health_update(&c, true, 3, 1), HEALTH_HEALTHY);
	CHECK_EQ_INT(c.rise_count, 3);
	/* Further successes keep it healthy and keep counting. */
	CHECK_EQ_INT(health_update(&c, true, 3, 1), HEALTH_HEALTHY);
	CHECK_EQ_INT(c.rise_count, 4);
}

TEST(fall_threshold_above_one)
{
	struct health_counters c = HEALTH_COUNTERS_INIT;

	CHECK_EQ_INT(health_update(&c, true, 1, 3), HEALTH_HEALTHY);
	CHECK_EQ_INT(health_update(&c, false, 1, 3), HEALTH_HEALTHY);
	CHECK_EQ_INT(health_update(&c, false, 1, 3), HEALTH_HEALTHY);
	CHECK_EQ_INT(c.fall_count, 2);
	CHECK_EQ_INT(health_update(&c, false, 1, 3), HEALTH_UNHEALTHY);
	CHECK_EQ_INT(c.fall_count, 3);
	CHECK_EQ_INT(c.rise_count, 0);
	/* One success (rise 1) brings it back. */
	CHECK_EQ_INT(health_update(&c, true, 1, 3), HEALTH_HEALTHY);
	CHECK_EQ_INT(c.fall_count, 0);
}

TEST(flapping_with_both_thresholds)
{
	struct health_counters c = HEALTH_COUNTERS_INIT;
	int i;

	for (i = 0; i < 2; i++)
		health_update(&c, true, 2, 2);
	CHECK_EQ_INT(c.state, HEALTH_HEALTHY);
	/* Alternating results never reach either threshold. */
	for (i = 0; i < 10; i++) {
		CHECK_EQ_INT(health_update(&c, i % 2 == 0 ? false : true, 2, 2),
			     HEALTH_HEALTHY);
	}
}

TEST(thresholds_below_one_count_as_one)
{
	struct health_counters c = HEALTH_COUNTERS_INIT;

	CHECK_EQ_INT(health_update(&c, true, 0, 0), HEALTH_HEALTHY);
	CHECK_EQ_INT(health_update(&c, false, -5, -5), HEALTH_UNHEALTHY);
}

TEST(counters_saturate)
{
	struct health_counters c = { INT_MAX, 0, HEALTH_HEALTHY };

	CHECK_EQ_INT(health_update(&c, true, 1, 1), HEALTH_HEALTHY);
	CHECK_EQ_INT(c.rise_count, INT_MAX);
	c = (struct health_counters){ 0, INT_MAX, HEALTH_UNHEALTHY };
	CHECK_EQ_INT(health_update(&c, false, 1, 1), HEALTH_UNHEALTHY);
	CHECK_EQ_INT(c.fall_count, INT_MAX);
	/* A negative count (a corrupt store) restarts at one. */
	c = (struct health_counters){ -7, 0, HEALTH_UNKNOWN };
	CHECK_EQ_INT(health_update(&c, true, 2, 1), HEALTH_UNKNOWN);
	CHECK_EQ_INT(c.rise_count, 1);
}

TEST(worse)
{
	CHECK_EQ_INT(health_worse(HEALTH_HEALTHY, HEALTH_HEALTHY), HEALTH_HEALTHY);
	CHECK_EQ_INT(health_worse(HEALTH_HEALTHY, HEALTH_UNKNOWN), HEALTH_UNKNOWN);
	CHECK_EQ_INT(health_worse(HEALTH_UNKNOWN, HEALTH_HEALTHY), HEALTH_UNKNOWN);
	CHECK_EQ_INT(health_worse(HEALTH_UNKNOWN, HEALTH_UNHEALTHY), HEALTH_UNHEALTHY);
	CHECK_EQ_INT(health_worse(HEALTH_UNHEALTHY, HEALTH_HEALTHY), HEALTH_UNHEALTHY);
	CHECK_EQ_INT(health_worse(HEALTH_UNHEALTHY, HEALTH_UNKNOWN), HEALTH_UNHEALTHY);
	/* An out-of-range value counts as unknown. */
	CHECK_EQ_INT(health_worse((enum health)42, HEALTH_HEALTHY), HEALTH_UNKNOWN);
}

TEST(server_status_worst_of_targets)
{
	struct health_counters t[3] = {
		{ 1, 0, HEALTH_HEALTHY },
		{ 1, 0, HEALTH_HEALTHY },
		{ 1, 0, HEALTH_HEALTHY },
	};

	CHECK_EQ_INT(health_server_status(t, 3), HEALTH_HEALTHY);
	t[1].state = HEALTH_UNKNOWN;
	CHECK_EQ_INT(health_server_status(t, 3), HEALTH_UNKNOWN);
	t[2].state = HEALTH_UNHEALTHY;
	CHECK_EQ_INT(health_server_status(t, 3), HEALTH_UNHEALTHY);
	t[1].state = HEALTH_HEALTHY;
	CHECK_EQ_INT(health_server_status(t, 3), HEALTH_UNHEALTHY);
	CHECK_EQ_INT(health_server_status(t, 1), HEALTH_HEALTHY);
	/* No target at all: nothing observed. */
	CHECK_EQ_INT(health_server_status(NULL, 0), HEALTH_UNKNOWN);
}

int main(void)
{
	RUN(starts_unknown);
	RUN(rise_fall_one);
	RUN(unknown_keeps_state_below_thresholds);
	RUN(rise_threshold_above_one);
	RUN(fall_threshold_above_one);
	RUN(flapping_with_both_thresholds);
	RUN(thresholds_below_one_count_as_one);
	RUN(counters_saturate);
	RUN(worse);
	RUN(server_status_worst_of_targets);
	return test_report();
}
