/* test_rules.c — tell once, failing-plan reminders, deferral, heartbeat. */
#include <stdlib.h>

#include "rules.h"
#include "test.h"

TEST(tell_once_per_distinct_key)
{
	char *m = NULL;
	CHECK(!tell_once(&m, NULL));          /* nothing, and nothing told before */
	CHECK(tell_once(&m, "a"));
	CHECK_EQ_STR(m, "a");
	CHECK(!tell_once(&m, "a"));
	CHECK(tell_once(&m, "b"));
	CHECK(tell_once(&m, ""));             /* gone: forgotten, so "b" is news again */
	CHECK(m == NULL);
	CHECK(tell_once(&m, "b"));
	free(m);
}

TEST(failed_plan_told_again_only_when_it_changes_or_hourly)
{
	int64_t t = 1700000000000LL, hour = FAILED_PLAN_REMIND_MS;
	CHECK_EQ_INT(failed_plan_note(false, NULL, "x", 0, t), PLAN_NOTE_TELL);
	CHECK_EQ_INT(failed_plan_note(true, "x", "x", t, t + 60000), PLAN_NOTE_SILENT);
	CHECK_EQ_INT(failed_plan_note(true, "x", "y", t, t + 60000), PLAN_NOTE_TELL);
	CHECK_EQ_INT(failed_plan_note(true, "x", "x", t, t + hour), PLAN_NOTE_REMIND);
	/* A clock that stepped back is no reason to remind, nor to stay silent forever. */
	CHECK_EQ_INT(failed_plan_note(true, "x", "x", t + 600000, t), PLAN_NOTE_SILENT);
}

static struct plan plan_of(struct plan_action *a, size_t n)
{
	struct plan p = { 0 };
	p.actions = a;
	p.n_actions = n;
	return p;
}

TEST(moves_wait_only_when_unknown_servers_could_change_them)
{
	struct plan_server s[] = {
		{ .id = 1, .name = "dead", .status = HEALTH_UNHEALTHY },
		{ .id = 2, .name = "ok", .status = HEALTH_HEALTHY },
		{ .id = 3, .name = "new", .status = HEALTH_UNKNOWN },
		{ .id = 4, .name = "noaddr", .status = HEALTH_UNCHECKABLE },
	};
	struct plan_fip f[] = {
		{ .id = 10, .server = 1 },   /* on the dead server */
		{ .id = 11, .server = 3 },   /* on the unknown one */
		{ .id = 12, .server = 0 },   /* unassigned */
		{ .id = 13, .server = 4 },   /* on the uncheckable one */
	};
	/* Plan a (unknown not a candidate): everything to "ok". */
	struct plan_action aa[] = {
		{ .fip = 10, .from = 1, .to = 2, .reason = REASON_TARGET_UNHEALTHY },
		{ .fip = 11, .from = 3, .to = 2, .reason = REASON_TARGET_UNHEALTHY },
		{ .fip = 12, .from = 0, .to = 2, .reason = REASON_UNASSIGNED },
		{ .fip = 13, .from = 4, .to = 2, .reason = REASON_TARGET_UNHEALTHY },
	};
	/* Plan b (unknown healthy): 10 would go to "new", 11 stays, 12 to "new", 13 to "ok". */
	struct plan_action ba[] = {
		{ .fip = 10, .from = 1, .to = 3, .reason = REASON_TARGET_UNHEALTHY },
		{ .fip = 12, .from = 0, .to = 3, .reason = REASON_UNASSIGNED },
		{ .fip = 13, .from = 4, .to = 2, .reason = REASON_TARGET_UNHEALTHY },
	};
	struct plan a = plan_of(aa, 4), b = plan_of(ba, 3);
	bool d[4];
	CHECK_EQ_INT(defer_moves(&a, &b, s, 4, f, 4, d), 2);
	CHECK(!d[0]);   /* away from a dead server to a healthy one: never waits */
	CHECK(d[1]);    /* off an unknown server that may well be fine */
	CHECK(d[2]);    /* its destination may change */
	CHECK(!d[3]);   /* the same either way: the uncheckable never blocks */
}

TEST(moves_towards_a_server_not_known_healthy_wait)
{
	struct plan_server s[] = {
		{ .id = 1, .status = HEALTH_UNKNOWN },
		{ .id = 2, .status = HEALTH_UNKNOWN },
	};
	struct plan_fip f[] = { { .id = 10, .server = 0 } };
	struct plan_action aa[] = { { .fip = 10, .from = 0, .to = 1, .reason = REASON_UNASSIGNED } };
	struct plan a = plan_of(aa, 1), b = plan_of(aa, 1);
	bool d[1];
	CHECK_EQ_INT(defer_moves(&a, &b, s, 2, f, 1, d), 1);
	CHECK(d[0]);
}

TEST(the_wait_is_bounded_by_the_slowest_check)
{
	int64_t iv[] = { 2000, 10000 }, to[] = { 4000, 1000 };
	int rise[] = { 3, 1 };
	CHECK_EQ_INT(defer_bound_ms(iv, to, rise, 2), 11000);   /* max(3*2+4, 1*10+1) s */
	rise[1] = 2;
	CHECK_EQ_INT(defer_bound_ms(iv, to, rise, 2), 21000);
	CHECK_EQ_INT(defer_bound_ms(iv, to, rise, 0), 0);
}

TEST(heartbeat_needs_every_group_to_have_passed_lately)
{
	int64_t now = 1700000000000LL;
	CHECK(heartbeat_due(0, 60000, now));
	CHECK(!heartbeat_due(now - 30000, 60000, now));
	CHECK(heartbeat_due(now - 59500, 60000, now));    /* a timer a little early */
	CHECK(heartbeat_due(now + 600000, 60000, now));   /* the clock stepped back */
	int64_t age[] = { 100, 5000 }, window[] = { 60000, 60000 };
	bool ok[] = { true, true };
	CHECK(heartbeat_allowed(window, age, ok, 2));
	ok[1] = false;
	CHECK(!heartbeat_allowed(window, age, ok, 2));    /* one group failing */
	ok[1] = true;
	age[1] = 70000;
	CHECK(!heartbeat_allowed(window, age, ok, 2));    /* one group stuck */
	window[1] = 120000;
	CHECK(heartbeat_allowed(window, age, ok, 2));     /* ...or one that passes seldom */
	age[1] = -1;
	CHECK(!heartbeat_allowed(window, age, ok, 2));    /* one group never passed */
}

int main(void)
{
	RUN(tell_once_per_distinct_key);
	RUN(failed_plan_told_again_only_when_it_changes_or_hourly);
	RUN(moves_wait_only_when_unknown_servers_could_change_them);
	RUN(moves_towards_a_server_not_known_healthy_wait);
	RUN(the_wait_is_bounded_by_the_slowest_check);
	RUN(heartbeat_needs_every_group_to_have_passed_lately);
	return test_report();
}
