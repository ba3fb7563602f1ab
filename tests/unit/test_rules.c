/* test_rules.c — tell once, failing-plan reminders, deferral, heartbeat. */
#include <stdlib.h>

#include "rules.h"
#include "util.h"
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


/* ---- trusting the API ---- */

TEST(a_listing_that_lost_more_than_half_is_read_again)
{
	CHECK(listing_shrank_sharply(4, 0));
	CHECK(listing_shrank_sharply(1, 0));      /* to zero */
	CHECK(listing_shrank_sharply(4, 1));      /* lost 3 of 4 */
	CHECK(listing_shrank_sharply(3, 1));      /* lost 2 of 3 */
	CHECK(!listing_shrank_sharply(4, 2));     /* lost half: believed */
	CHECK(!listing_shrank_sharply(4, 3));
	CHECK(!listing_shrank_sharply(4, 4));
	CHECK(!listing_shrank_sharply(4, 9));     /* grew */
	CHECK(!listing_shrank_sharply(0, 0));     /* nothing was known */
}

TEST(a_vanished_server_keeps_its_counters_ten_minutes)
{
	int64_t t = 1700000000000LL;
	CHECK(vanished_kept(t, t));
	CHECK(vanished_kept(t, t + VANISHED_KEEP_MS - 1));
	CHECK(!vanished_kept(t, t + VANISHED_KEEP_MS));
	/* Stamped while the clock was ahead: kept, not forever, from now. */
	CHECK(vanished_kept(t + 86400000LL, t));
}

TEST(a_vanished_server_is_missing_only_when_the_api_says_so_or_two_listings_agree)
{
	CHECK(!vanished_missing(GONE_UNSURE, 1));
	CHECK(vanished_missing(GONE_UNSURE, 2));
	CHECK(vanished_missing(GONE_MISSING, 1));       /* GET /servers/{id}: 404 */
	CHECK(!vanished_missing(GONE_ELSEWHERE, 5));    /* exists, outside the group */
}

TEST(the_reread_updates_targets_and_never_adds_or_drops)
{
	struct hc_fip cached[] = { { .id = 1, .server = 10 }, { .id = 2, .server = 10 },
				   { .id = 4, .server = 11 } };
	struct hc_fip moved[] = { { .id = 1, .server = 12 }, { .id = 2, .server = 10 },
				  { .id = 3, .server = 10 }, { .id = 4, .server = 0 } };
	size_t added;
	CHECK_EQ_INT(reread_merge(cached, 3, moved, 4, &added), 0);
	CHECK_EQ_INT(added, 1);
	CHECK_EQ_INT(cached[0].server, 12);
	CHECK_EQ_INT(cached[1].server, 10);
	CHECK_EQ_INT(cached[2].id, 4);           /* id 3 was not added */
	CHECK_EQ_INT(cached[2].server, 0);

	struct hc_fip c2[] = { { .id = 1, .server = 10 }, { .id = 2, .server = 11 } };
	struct hc_fip partial[] = { { .id = 2, .server = 12 } };
	CHECK_EQ_INT(reread_merge(c2, 2, partial, 1, &added), 1);
	CHECK_EQ_INT(added, 0);
	CHECK_EQ_INT(c2[0].server, 10);           /* kept as it was */
	CHECK_EQ_INT(c2[1].server, 12);
	CHECK_EQ_INT(reread_merge(c2, 2, NULL, 0, &added), 2);   /* an empty re-read */
	CHECK_EQ_INT(c2[1].server, 12);
}

TEST(no_server_is_called_unhealthy_when_it_is_merely_unknown)
{
	enum health dead[] = { HEALTH_UNHEALTHY, HEALTH_UNHEALTHY };
	enum health some_unknown[] = { HEALTH_UNHEALTHY, HEALTH_UNKNOWN };
	enum health all_unknown[] = { HEALTH_UNKNOWN, HEALTH_UNKNOWN };
	enum health one_ok[] = { HEALTH_UNHEALTHY, HEALTH_HEALTHY };
	enum health with_uncheckable[] = { HEALTH_UNHEALTHY, HEALTH_UNCHECKABLE };
	CHECK(none_healthy_known(dead, 2));
	CHECK(!none_healthy_known(some_unknown, 2));
	CHECK(!none_healthy_known(all_unknown, 2));
	CHECK(!none_healthy_known(one_ok, 2));
	CHECK(none_healthy_known(with_uncheckable, 2));
	CHECK(!none_healthy_known(NULL, 0));
}

/* ---- the correlated-failure hold ---- */

TEST(failures_of_most_servers_at_once_are_correlated)
{
	/* 4 servers, one target each, fall 2: lb-0 failing twice, lb-1 once. */
	struct corr_target t[] = {
		{ 1, 4, 2, 2 }, { 2, 4, 1, 2 }, { 3, 4, 0, 2 }, { 4, 4, 0, 2 },
	};
	CHECK_EQ_INT(corr_judge(t, 4), CORR_SUSPECT);
	t[2].fall_count = 1;
	CHECK_EQ_INT(corr_judge(t, 4), CORR_CORRELATED);   /* 3 of 4 */
	/* Failures older than fall checks did not begin "at once". */
	t[0].fall_count = t[1].fall_count = 3;
	CHECK_EQ_INT(corr_judge(t, 4), CORR_NONE);
	/* Two of a hundred are two failures, not a blind checker: no delay. */
	struct corr_target many[100];
	for (size_t i = 0; i < ARRAY_SIZE(many); i++)
		many[i] = (struct corr_target){ (int64_t)i + 1, 4, i < 2, 2 };
	CHECK_EQ_INT(corr_judge(many, 100), CORR_NONE);
	for (size_t i = 2; i < 25; i++)
		many[i].fall_count = 1;
	CHECK_EQ_INT(corr_judge(many, 100), CORR_NONE);         /* 25 of 100: a quarter, not more */
	many[25].fall_count = 1;
	CHECK_EQ_INT(corr_judge(many, 100), CORR_SUSPECT);      /* 26 of 100 */
	/* One server failing is just a failure. */
	struct corr_target one[] = { { 1, 4, 1, 1 }, { 2, 4, 0, 1 } };
	CHECK_EQ_INT(corr_judge(one, 2), CORR_NONE);
	/* Two of two. */
	one[1].fall_count = 1;
	CHECK_EQ_INT(corr_judge(one, 2), CORR_CORRELATED);
	/* A server with two targets counts once. */
	struct corr_target two[] = {
		{ 1, 4, 1, 3 }, { 1, 6, 1, 3 }, { 2, 4, 0, 3 }, { 2, 6, 0, 3 },
		{ 3, 4, 0, 3 }, { 3, 6, 0, 3 },
	};
	CHECK_EQ_INT(corr_judge(two, 6), CORR_NONE);
	/* fall below 1 counts as 1. */
	struct corr_target z[] = { { 1, 4, 1, 0 }, { 2, 4, 1, 0 } };
	CHECK_EQ_INT(corr_judge(z, 2), CORR_CORRELATED);
}

TEST(a_whole_address_family_failing_while_the_other_works_is_correlated)
{
	struct corr_target t[] = {
		{ 1, 4, 0, 2 }, { 1, 6, 1, 2 }, { 2, 4, 0, 2 }, { 2, 6, 2, 2 },
		{ 3, 4, 0, 2 }, { 3, 6, 1, 2 }, { 4, 4, 0, 2 }, { 4, 6, 1, 2 },
		{ 5, 4, 0, 2 }, { 5, 6, 0, 2 },
	};
	/* 4 of 5 servers failing: correlated either way. */
	CHECK_EQ_INT(corr_judge(t, 10), CORR_CORRELATED);
	/* Not every IPv6 target fails: two of five servers is a suspicion. */
	t[5].fall_count = t[7].fall_count = 0;
	CHECK_EQ_INT(corr_judge(t, 10), CORR_SUSPECT);
	/* IPv6 lost on both servers that have it, IPv4 works. */
	struct corr_target f[] = {
		{ 1, 4, 0, 2 }, { 1, 6, 1, 2 }, { 2, 4, 0, 2 }, { 2, 6, 1, 2 },
		{ 3, 4, 0, 2 }, { 4, 4, 0, 2 }, { 5, 4, 0, 2 },
	};
	CHECK_EQ_INT(corr_judge(f, 7), CORR_CORRELATED);
	/* ... but not when one of them failed long before. */
	f[1].fall_count = 9;
	CHECK_EQ_INT(corr_judge(f, 7), CORR_NONE);
}

TEST(new_failures_of_several_servers_hold_moves_an_interval_at_a_time)
{
	int64_t since = 0, until = 0, t = 1000000, iv = 1000;
	CHECK(!corr_hold(CORR_NONE, &since, &until, t, iv));
	CHECK(corr_hold(CORR_SUSPECT, &since, &until, t, iv));
	CHECK_EQ_INT(since, t);
	CHECK_EQ_INT(until, t + iv);
	CHECK(corr_hold(CORR_CORRELATED, &since, &until, t + iv, iv));
	CHECK_EQ_INT(until, t + 2 * iv);
	CHECK_EQ_INT(since, t);                 /* the same correlated failure */
	CHECK(!corr_hold(CORR_NONE, &since, &until, t + 3 * iv, iv));
	CHECK_EQ_INT(since, 0);
	CHECK_EQ_INT(until, 0);
	/* A record stamped while the clock was ahead begins now. */
	since = t + 86400000LL;
	until = t + 86400000LL;
	CHECK(corr_hold(CORR_SUSPECT, &since, &until, t, iv));
	CHECK_EQ_INT(since, t);
	CHECK_EQ_INT(until, t + iv);
}

TEST(leaving_a_freeze_waits_for_every_server_or_the_bound)
{
	int64_t frozen = 0, thaw = 0, t = 5000000, bound = 3000;
	CHECK_EQ_INT(freeze_step(false, false, &frozen, &thaw, t, bound), THAW_NONE);
	CHECK_EQ_INT(freeze_step(true, false, &frozen, &thaw, t, bound), THAW_FROZEN);
	CHECK_EQ_INT(frozen, t);
	CHECK_EQ_INT(freeze_step(true, false, &frozen, &thaw, t + 100, bound), THAW_FROZEN);
	CHECK_EQ_INT(frozen, t);
	/* One server is back: wait for the others. */
	CHECK_EQ_INT(freeze_step(false, false, &frozen, &thaw, t + 1000, bound), THAW_BEGUN);
	CHECK_EQ_INT(thaw, t + 1000);
	CHECK_EQ_INT(freeze_step(false, false, &frozen, &thaw, t + 2000, bound), THAW_WAIT);
	/* Frozen again meanwhile: the wait starts over later. */
	CHECK_EQ_INT(freeze_step(true, false, &frozen, &thaw, t + 2500, bound), THAW_FROZEN);
	CHECK_EQ_INT(thaw, 0);
	CHECK_EQ_INT(freeze_step(false, false, &frozen, &thaw, t + 3000, bound), THAW_BEGUN);
	/* Every server had its rise checks: plan once, and the freeze is over. */
	CHECK_EQ_INT(freeze_step(false, true, &frozen, &thaw, t + 3100, bound), THAW_OVER);
	CHECK_EQ_INT(frozen, 0);
	CHECK_EQ_INT(freeze_step(false, false, &frozen, &thaw, t + 3200, bound), THAW_NONE);
	/* Every server's checks ran together with the first one's recovery
	 * (a one-shot run, rise 1): over at once. */
	frozen = t;
	CHECK_EQ_INT(freeze_step(false, true, &frozen, &thaw, t + 4000, bound), THAW_OVER);
	CHECK_EQ_INT(frozen, 0);
	CHECK_EQ_INT(thaw, 0);
	/* Or the bound passed. */
	frozen = t;
	CHECK_EQ_INT(freeze_step(false, false, &frozen, &thaw, t + 10000, bound), THAW_BEGUN);
	CHECK_EQ_INT(freeze_step(false, false, &frozen, &thaw, t + 10000 + bound, bound), THAW_OVER);
	/* A wait stamped while the clock was ahead begins now. */
	frozen = t;
	thaw = t + 86400000LL;
	CHECK_EQ_INT(freeze_step(false, false, &frozen, &thaw, t, bound), THAW_BEGUN);
	CHECK_EQ_INT(thaw, t);
}

/* ---- an apply a dead flipper left ---- */

TEST(an_interrupted_action_is_judged_by_the_record_the_action_and_the_ip)
{
	struct store_apply_step s = { .fip = 1, .from = 10, .to = 20 };
	CHECK_EQ_INT(step_conclude(&s, -1, true, 20), STEP_END_APPLIED);
	CHECK_EQ_INT(step_conclude(&s, -1, true, 10), STEP_END_NOT_APPLIED);
	CHECK_EQ_INT(step_conclude(&s, HC_ACTION_SUCCESS, true, 10), STEP_END_APPLIED);
	CHECK_EQ_INT(step_conclude(&s, HC_ACTION_RUNNING, true, 10), STEP_END_RUNNING);
	CHECK_EQ_INT(step_conclude(&s, HC_ACTION_ERROR, true, 10), STEP_END_FAILED);
	CHECK_EQ_INT(step_conclude(&s, -1, true, 30), STEP_END_SUPERSEDED);
	CHECK_EQ_INT(step_conclude(&s, -1, true, 0), STEP_END_SUPERSEDED);   /* unassigned since */
	CHECK_EQ_INT(step_conclude(&s, -1, false, 0), STEP_END_SUPERSEDED);  /* the IP is gone */
	s.outcome = STEP_APPLIED;
	CHECK_EQ_INT(step_conclude(&s, -1, true, 10), STEP_END_APPLIED);     /* moved back since */
	s.outcome = STEP_FAILED;
	CHECK_EQ_INT(step_conclude(&s, -1, true, 10), STEP_END_FAILED);
	struct store_apply_step u = { .fip = 1, .from = 0, .to = 20 };
	CHECK_EQ_INT(step_conclude(&u, -1, true, 0), STEP_END_NOT_APPLIED);

	enum step_end all[] = { STEP_END_APPLIED, STEP_END_APPLIED };
	enum step_end part[] = { STEP_END_APPLIED, STEP_END_NOT_APPLIED };
	enum step_end none[] = { STEP_END_RUNNING, STEP_END_FAILED };
	enum step_end other[] = { STEP_END_NOT_APPLIED, STEP_END_SUPERSEDED };
	CHECK_EQ_INT(apply_conclude(all, 2), APPLY_END_APPLIED);
	CHECK_EQ_INT(apply_conclude(part, 2), APPLY_END_PARTLY);
	CHECK_EQ_INT(apply_conclude(none, 2), APPLY_END_NOT_APPLIED);
	CHECK_EQ_INT(apply_conclude(other, 2), APPLY_END_SUPERSEDED);
	CHECK_EQ_STR(apply_end_name(APPLY_END_PARTLY), "partly applied");
	CHECK_EQ_STR(step_end_name(STEP_END_RUNNING), "still running at the API");
}

/* ---- the outbox against clock steps ---- */

TEST(outbox_times_are_clamped_and_messages_expire_by_attempts)
{
	int64_t now = 1700000000000LL, max = 30 * 60 * 1000;
	/* Stamped a day ahead: waits at most the longest backoff. */
	CHECK_EQ_INT(outbox_clamp_next(now + 86400000LL, now, max), now + max);
	CHECK_EQ_INT(outbox_clamp_next(now + 1000, now, max), now + 1000);
	CHECK_EQ_INT(outbox_clamp_next(now - 1000, now, max), now - 1000);
	CHECK_EQ_INT(outbox_clamp_created(now + 86400000LL, now), now);
	CHECK_EQ_INT(outbox_clamp_created(now - 5, now), now - 5);
	/* 15 s doubling to 30 min over 48 h: 7 attempts reach 32 min, 95 more at 30 min. */
	CHECK_EQ_INT(outbox_max_attempts(15000, max, 48LL * 3600 * 1000), 102);
	CHECK_EQ_INT(outbox_max_attempts(1000, 1000, 10000), 10);
}

int main(void)
{
	RUN(tell_once_per_distinct_key);
	RUN(failed_plan_told_again_only_when_it_changes_or_hourly);
	RUN(moves_wait_only_when_unknown_servers_could_change_them);
	RUN(moves_towards_a_server_not_known_healthy_wait);
	RUN(the_wait_is_bounded_by_the_slowest_check);
	RUN(heartbeat_needs_every_group_to_have_passed_lately);
	RUN(a_listing_that_lost_more_than_half_is_read_again);
	RUN(a_vanished_server_keeps_its_counters_ten_minutes);
	RUN(a_vanished_server_is_missing_only_when_the_api_says_so_or_two_listings_agree);
	RUN(the_reread_updates_targets_and_never_adds_or_drops);
	RUN(no_server_is_called_unhealthy_when_it_is_merely_unknown);
	RUN(failures_of_most_servers_at_once_are_correlated);
	RUN(a_whole_address_family_failing_while_the_other_works_is_correlated);
	RUN(new_failures_of_several_servers_hold_moves_an_interval_at_a_time);
	RUN(leaving_a_freeze_waits_for_every_server_or_the_bound);
	RUN(an_interrupted_action_is_judged_by_the_record_the_action_and_the_ip);
	RUN(outbox_times_are_clamped_and_messages_expire_by_attempts);
	return test_report();
}
