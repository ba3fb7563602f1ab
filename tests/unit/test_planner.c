/* test_planner.c — every rule of SPEC section 5, and a cross-check. */
#include <stdlib.h>
#include <string.h>

#include "planner.h"
#include "test.h"

#define NONE INT64_MIN

static struct plan_server srv(int64_t id, const char *name, const char *loc,
			      const char *zone, int64_t idx, enum health st)
{
	return (struct plan_server){
		.id = id, .name = name, .location = loc, .network_zone = zone,
		.has_index = idx != NONE, .resource_index = idx == NONE ? 0 : idx,
		.status = st,
	};
}

static struct plan_fip fip(int64_t id, const char *loc, const char *zone,
			   int64_t idx, int64_t server)
{
	return (struct plan_fip){
		.id = id, .name = "vip", .ip = "192.0.2.1", .location = loc,
		.network_zone = zone, .has_index = idx != NONE,
		.resource_index = idx == NONE ? 0 : idx, .server = server,
	};
}

#define EU "eu-central"
#define US "us-east"
#define H HEALTH_HEALTHY
#define U HEALTH_UNHEALTHY
#define K HEALTH_UNKNOWN
#define X HEALTH_UNCHECKABLE

static const struct plan_options SPREAD = { .when_none_healthy = PLAN_SPREAD };
static const struct plan_options REBALANCE = { .rebalance = true };

static const struct plan_action *action_for(const struct plan *p, int64_t f)
{
	for (size_t i = 0; i < p->n_actions; i++)
		if (p->actions[i].fip == f)
			return &p->actions[i];
	return NULL;
}

static const struct plan_action *pending_for(const struct plan *p, int64_t f)
{
	for (size_t i = 0; i < p->n_pending; i++)
		if (p->pending[i].fip == f)
			return &p->pending[i];
	return NULL;
}

static const struct plan_skip *skip_for(const struct plan *p, int64_t f)
{
	for (size_t i = 0; i < p->n_skipped; i++)
		if (p->skipped[i].fip == f)
			return &p->skipped[i];
	return NULL;
}

/* Where the IP ends up: the action's target, else where it already is. */
static int64_t target_of(const struct plan *p, const struct plan_fip *fips,
			 size_t n, int64_t f)
{
	const struct plan_action *a = action_for(p, f);
	if (a)
		return a->to;
	for (size_t i = 0; i < n; i++)
		if (fips[i].id == f)
			return fips[i].server;
	return -1;
}

/* Carry the plan out: every action's IP now points at its target. */
static void apply(struct plan_fip *f, size_t n, const struct plan *p)
{
	for (size_t i = 0; i < p->n_actions; i++)
		for (size_t k = 0; k < n; k++)
			if (f[k].id == p->actions[i].fip)
				f[k].server = p->actions[i].to;
}

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PLAN(p, s, f) plan_compute(NULL, (s), ARRAY_SIZE(s), (f), ARRAY_SIZE(f), (p))
#define PLAN_WITH(p, o, s, f) plan_compute((o), (s), ARRAY_SIZE(s), (f), ARRAY_SIZE(f), (p))

TEST(enum_names)
{
	enum health h;
	enum plan_none_healthy w;
	CHECK_EQ_STR(health_name(HEALTH_HEALTHY), "healthy");
	CHECK_EQ_STR(health_name(HEALTH_UNHEALTHY), "unhealthy");
	CHECK_EQ_STR(health_name(HEALTH_UNKNOWN), "unknown");
	CHECK_EQ_STR(health_name(HEALTH_UNCHECKABLE), "uncheckable");
	CHECK(health_parse("healthy", &h) == 0 && h == HEALTH_HEALTHY);
	CHECK(health_parse("unhealthy", &h) == 0 && h == HEALTH_UNHEALTHY);
	CHECK(health_parse("unknown", &h) == 0 && h == HEALTH_UNKNOWN);
	CHECK(health_parse("uncheckable", &h) == 0 && h == HEALTH_UNCHECKABLE);
	CHECK(health_parse("sick", &h) == -1);
	CHECK(health_parse("Healthy", &h) == -1);
	CHECK(health_parse("", &h) == -1);
	CHECK(health_parse(NULL, &h) == -1);
	CHECK_EQ_STR(plan_reason_name(REASON_UNASSIGNED), "unassigned");
	CHECK_EQ_STR(plan_reason_name(REASON_TARGET_UNHEALTHY), "target_unhealthy");
	CHECK_EQ_STR(plan_reason_name(REASON_TARGET_MISSING), "target_missing");
	CHECK_EQ_STR(plan_reason_name(REASON_TARGET_NOT_CANDIDATE), "target_not_candidate");
	CHECK_EQ_STR(plan_reason_name(REASON_RETURN_HOME), "return_home");
	CHECK_EQ_STR(plan_reason_name(REASON_CANONICAL), "canonical");
	CHECK_EQ_STR(plan_reason_name(REASON_REBALANCE), "rebalance");
	CHECK_EQ_STR(plan_reason_name(REASON_PENDING), "pending");
	CHECK_EQ_STR(plan_reason_name((enum plan_reason)99), "invalid");
	CHECK_EQ_STR(plan_skip_name(SKIP_FOREIGN_TARGET), "foreign_target");
	CHECK_EQ_STR(plan_skip_name(SKIP_NO_CANDIDATE), "no_candidate");
	CHECK_EQ_STR(health_name((enum health)42), "invalid");
	CHECK_EQ_STR(plan_none_healthy_name(PLAN_FREEZE), "freeze");
	CHECK_EQ_STR(plan_none_healthy_name(PLAN_SPREAD), "spread");
	CHECK(plan_none_healthy_parse("freeze", &w) == 0 && w == PLAN_FREEZE);
	CHECK(plan_none_healthy_parse("spread", &w) == 0 && w == PLAN_SPREAD);
	CHECK(plan_none_healthy_parse("fail-open", &w) == -1);
	CHECK(plan_none_healthy_parse(NULL, &w) == -1);
}

TEST(empty_inputs)
{
	struct plan p;
	plan_compute(NULL, NULL, 0, NULL, 0, &p);
	CHECK_EQ_INT(p.n_actions, 0);
	CHECK_EQ_INT(p.n_skipped, 0);
	CHECK(!p.fail_open && !p.frozen);
	plan_release(&p);

	/* No servers at all: every IP is unassignable, nothing moves. */
	struct plan_fip f[] = { fip(1, "fsn1", EU, NONE, 0) };
	plan_compute(NULL, NULL, 0, f, 1, &p);
	CHECK_EQ_INT(p.n_actions, 0);
	CHECK(p.n_skipped == 1 && p.skipped[0].reason == SKIP_NO_CANDIDATE);
	CHECK(!p.fail_open && !p.frozen);
	CHECK_EQ_INT(p.n_candidates, 0);
	plan_release(&p);
}

/* The first case: healthy IPs stay, whoever holds how many. */
TEST(healthy_ips_never_move_without_reason)
{
	struct plan_server s[] = {
		srv(10, "lb-0", "fsn1", EU, NONE, H),
		srv(11, "lb-1", "fsn1", EU, NONE, H),
		srv(12, "lb-2", "fsn1", EU, NONE, H),
		srv(13, "lb-3", "fsn1", EU, NONE, H),
	};
	struct plan_fip f[] = {
		fip(1, "fsn1", EU, NONE, 11),
		fip(2, "fsn1", EU, NONE, 12),
		fip(3, "fsn1", EU, NONE, 13),
	};
	struct plan p;
	PLAN(&p, s, f);
	CHECK_EQ_INT(p.n_actions, 0);
	CHECK_EQ_INT(p.n_pending, 0);
	plan_release(&p);
	/* Even spread already: rebalance has nothing to do either. */
	PLAN_WITH(&p, &REBALANCE, s, f);
	CHECK_EQ_INT(p.n_actions, 0);
	plan_release(&p);

	/* Three on one server, none on the others: still nothing moves. */
	f[0].server = f[1].server = f[2].server = 13;
	PLAN(&p, s, f);
	CHECK_EQ_INT(p.n_actions, 0);
	plan_release(&p);
}

/* An IP goes to its own location even when another has fewer IPs. */
TEST(same_location_preference)
{
	struct plan_server s[] = {
		srv(1, "a-fsn", "fsn1", EU, NONE, H),
		srv(2, "b-nbg", "nbg1", EU, NONE, H),
	};
	struct plan_fip f[] = {
		fip(10, "nbg1", EU, NONE, 0),
		fip(11, "nbg1", EU, NONE, 0),
		fip(12, "nbg1", EU, NONE, 0),
	};
	struct plan p;
	PLAN(&p, s, f);
	CHECK_EQ_INT(p.n_actions, 3);
	for (size_t i = 0; i < p.n_actions; i++)
		CHECK_EQ_INT(p.actions[i].to, 2);
	plan_release(&p);
}

TEST(canonical_match)
{
	struct plan_server s[] = {
		srv(1, "lb-a", "fsn1", EU, 0, H),
		srv(2, "lb-c", "fsn1", EU, 1, H),
		srv(3, "lb-b", "fsn1", EU, 1, H),   /* same index, earlier name */
		srv(4, "lb-n", "nbg1", EU, NONE, H),
		srv(5, "lb-m", "nbg1", EU, 7, H),
		srv(6, "lb-d", "fsn1", EU, 2, H),
		srv(7, "lb-d", "fsn1", EU, 2, H),   /* same name: lower id wins */
	};
	struct plan_fip f[] = {
		fip(10, "fsn1", EU, 1, 1),   /* lb-a -> lb-b, canonical */
		fip(11, "fsn1", EU, 1, 0),   /* unassigned -> lb-b (load ignored) */
		fip(12, "nbg1", EU, 0, 0),   /* index 0 lives in fsn1 only */
		fip(13, "fsn1", EU, 2, 4),   /* lb-n (nbg1) -> lb-d id 6 */
	};
	struct plan p;
	PLAN(&p, s, f);
	const struct plan_action *a = action_for(&p, 10);
	CHECK(a && a->from == 1 && a->to == 3 && a->reason == REASON_CANONICAL);
	a = action_for(&p, 11);
	CHECK(a && a->to == 3 && a->reason == REASON_UNASSIGNED);
	/* Not the fsn1 server with index 0: its own location, first in order. */
	a = action_for(&p, 12);
	CHECK(a && a->to == 5 && a->reason == REASON_UNASSIGNED);
	/* Away from home and home has its server: returning home is the reason. */
	a = action_for(&p, 13);
	CHECK(a && a->to == 6 && a->reason == REASON_RETURN_HOME);
	plan_release(&p);
}

/* An IP already on its canonical server stays, even when it is crowded. */
TEST(canonical_beats_spread)
{
	struct plan_server s[] = {
		srv(1, "lb-1", "fsn1", EU, 1, H),
		srv(2, "lb-2", "fsn1", EU, 2, H),
	};
	struct plan_fip f[] = {
		fip(10, "fsn1", EU, 1, 1),
		fip(11, "fsn1", EU, 1, 1),
		fip(12, "fsn1", EU, 1, 1),
	};
	struct plan p;
	PLAN(&p, s, f);
	CHECK_EQ_INT(p.n_actions, 0);
	plan_release(&p);
	/* Canonical IPs are not the rebalance's to move. */
	PLAN_WITH(&p, &REBALANCE, s, f);
	CHECK_EQ_INT(p.n_actions, 0);
	plan_release(&p);
}

/* A missing resource_index never matches another missing one. */
TEST(none_never_matches_none)
{
	struct plan_server s[] = {
		srv(1, "lb-a", "fsn1", EU, NONE, H),
		srv(2, "lb-b", "fsn1", EU, NONE, H),
	};
	struct plan_fip f[] = {
		fip(10, "fsn1", EU, NONE, 2),
		fip(11, "fsn1", EU, NONE, 2),
	};
	struct plan p;
	PLAN(&p, s, f);
	/* Both stay. Had none matched none, both would go to lb-a. */
	CHECK_EQ_INT(p.n_actions, 0);
	plan_release(&p);
	/* With rebalance, one moves: the highest id. */
	PLAN_WITH(&p, &REBALANCE, s, f);
	CHECK_EQ_INT(p.n_actions, 1);
	const struct plan_action *a = action_for(&p, 11);
	CHECK(a && a->from == 2 && a->to == 1 && a->reason == REASON_REBALANCE);
	plan_release(&p);

	/* Index on one side only: no match either; spread in candidate order. */
	struct plan_server s2[] = {
		srv(1, "lb-a", "fsn1", EU, NONE, H),
		srv(2, "lb-b", "fsn1", EU, 0, H),
	};
	struct plan_fip f2[] = {
		fip(10, "fsn1", EU, 5, 0),
		fip(11, "fsn1", EU, 5, 0),
	};
	PLAN(&p, s2, f2);
	CHECK_EQ_INT(p.n_actions, 2);
	CHECK_EQ_INT(target_of(&p, f2, 2, 10), 2);
	CHECK_EQ_INT(target_of(&p, f2, 2, 11), 1);
	for (size_t i = 0; i < p.n_actions; i++)
		CHECK(p.actions[i].reason == REASON_UNASSIGNED);
	plan_release(&p);
}

/* Least-loaded wins; canonical and staying IPs count; ties by candidate order. */
TEST(spread_least_loaded_ties_first)
{
	struct plan_server s[] = {
		srv(3, "c", "fsn1", EU, NONE, H),
		srv(1, "a", "fsn1", EU, NONE, H),
		srv(2, "b", "fsn1", EU, NONE, H),
	};
	struct plan_fip f[] = {
		fip(15, "fsn1", EU, NONE, 0),
		fip(11, "fsn1", EU, NONE, 0),
		fip(12, "fsn1", EU, NONE, 0),
		fip(13, "fsn1", EU, NONE, 0),
		fip(14, "fsn1", EU, NONE, 0),
	};
	struct plan p;
	PLAN(&p, s, f);
	CHECK_EQ_INT(p.n_actions, 5);
	CHECK_EQ_INT(target_of(&p, f, 5, 11), 1);
	CHECK_EQ_INT(target_of(&p, f, 5, 12), 2);
	CHECK_EQ_INT(target_of(&p, f, 5, 13), 3);
	CHECK_EQ_INT(target_of(&p, f, 5, 14), 1);
	CHECK_EQ_INT(target_of(&p, f, 5, 15), 2);
	plan_release(&p);

	/* The canonical pass loads "z" (index 0) first; the spread then
	 * fills "a" and "m", then "z" again: index-bearing "z" sorts first
	 * (none last), although its name is last. */
	struct plan_server s2[] = {
		srv(1, "a", "fsn1", EU, NONE, H),
		srv(2, "m", "fsn1", EU, NONE, H),
		srv(3, "z", "fsn1", EU, 0, H),
	};
	struct plan_fip f2[] = {
		fip(20, "fsn1", EU, NONE, 0),
		fip(21, "fsn1", EU, NONE, 0),
		fip(22, "fsn1", EU, NONE, 0),
		fip(29, "fsn1", EU, 0, 0),
	};
	PLAN(&p, s2, f2);
	CHECK_EQ_INT(target_of(&p, f2, 4, 29), 3);
	CHECK_EQ_INT(target_of(&p, f2, 4, 20), 1);
	CHECK_EQ_INT(target_of(&p, f2, 4, 21), 2);
	CHECK_EQ_INT(target_of(&p, f2, 4, 22), 3);
	plan_release(&p);

	/* Loads coming from the zone fallback count in the location pool. */
	struct plan_server s3[] = {
		srv(1, "a", "fsn1", EU, NONE, H),
		srv(2, "b", "fsn1", EU, NONE, H),
	};
	struct plan_fip f3[] = {
		fip(30, "hel1", EU, NONE, 0),  /* no hel1 server: zone -> a */
		fip(31, "fsn1", EU, NONE, 0),  /* a has 1, b has 0 -> b */
		fip(32, "fsn1", EU, NONE, 0),  /* tie -> a */
	};
	PLAN(&p, s3, f3);
	CHECK_EQ_INT(target_of(&p, f3, 3, 30), 1);
	CHECK_EQ_INT(target_of(&p, f3, 3, 31), 2);
	CHECK_EQ_INT(target_of(&p, f3, 3, 32), 1);
	plan_release(&p);

	/* Staying IPs count: b and c keep theirs, so the unassigned one and
	 * the one leaving the unhealthy d both go to a, then to b. */
	struct plan_server s4[] = {
		srv(1, "a", "fsn1", EU, NONE, H),
		srv(2, "b", "fsn1", EU, NONE, H),
		srv(3, "c", "fsn1", EU, NONE, H),
		srv(4, "d", "fsn1", EU, NONE, U),
	};
	struct plan_fip f4[] = {
		fip(40, "fsn1", EU, NONE, 3),
		fip(41, "fsn1", EU, NONE, 3),
		fip(42, "fsn1", EU, NONE, 2),
		fip(43, "fsn1", EU, NONE, 0),
		fip(44, "fsn1", EU, NONE, 4),
		fip(45, "fsn1", EU, NONE, 4),
	};
	PLAN(&p, s4, f4);
	CHECK_EQ_INT(p.n_actions, 3);
	const struct plan_action *a = action_for(&p, 43);
	CHECK(a && a->to == 1 && a->reason == REASON_UNASSIGNED);
	a = action_for(&p, 44);
	CHECK(a && a->to == 1 && a->reason == REASON_TARGET_UNHEALTHY);
	a = action_for(&p, 45);
	CHECK(a && a->to == 2 && a->reason == REASON_TARGET_UNHEALTHY);
	plan_release(&p);
}

TEST(freeze_when_nothing_is_healthy)
{
	struct plan_server s[] = {
		srv(1, "a", "fsn1", EU, NONE, U),
		srv(2, "b", "fsn1", EU, NONE, U),
		srv(3, "c", "fsn1", EU, NONE, K),
	};
	struct plan_fip f[] = {
		fip(10, "fsn1", EU, NONE, 1),
		fip(11, "fsn1", EU, NONE, 1),
		fip(12, "fsn1", EU, NONE, 0),
		fip(13, "fsn1", EU, NONE, 999),
		fip(14, "ash", US, NONE, 0),
	};
	struct plan p;
	PLAN(&p, s, f);
	CHECK(p.frozen && !p.fail_open);
	CHECK_EQ_INT(p.n_candidates, 0);
	CHECK_EQ_INT(p.n_actions, 0);
	CHECK_EQ_INT(p.n_pending, 0);
	/* One "frozen", not a no-candidate line per IP; foreign IPs still said. */
	CHECK_EQ_INT(p.n_skipped, 1);
	const struct plan_skip *k = skip_for(&p, 13);
	CHECK(k && k->reason == SKIP_FOREIGN_TARGET);
	plan_release(&p);

	/* spread: the original's fail-open; IPs stay, the new one spreads. */
	PLAN_WITH(&p, &SPREAD, s, f);
	CHECK(p.fail_open && !p.frozen);
	CHECK_EQ_INT(p.n_candidates, 3);
	CHECK_EQ_INT(p.n_actions, 1);
	const struct plan_action *a = action_for(&p, 12);
	CHECK(a && a->to == 2 && a->reason == REASON_UNASSIGNED);
	k = skip_for(&p, 13);
	CHECK(k && k->reason == SKIP_FOREIGN_TARGET);
	k = skip_for(&p, 14);
	CHECK(k && k->reason == SKIP_NO_CANDIDATE);
	plan_release(&p);

	/* One healthy server ends the freeze: everything leaving the
	 * unhealthy ones goes there. */
	s[2].status = H;
	PLAN(&p, s, f);
	CHECK(!p.fail_open && !p.frozen);
	CHECK_EQ_INT(p.n_candidates, 1);
	CHECK_EQ_INT(p.n_actions, 3);
	for (size_t i = 0; i < p.n_actions; i++)
		CHECK_EQ_INT(p.actions[i].to, 3);
	a = action_for(&p, 10);
	CHECK(a && a->reason == REASON_TARGET_UNHEALTHY);
	plan_release(&p);
}

/* A checker that lost its network sees everything fail, then recover. */
TEST(freeze_then_recovery_moves_nothing)
{
	struct plan_server s[] = {
		srv(1, "a", "fsn1", EU, NONE, H),
		srv(2, "b", "fsn1", EU, 0, H),
		srv(3, "c", "nbg1", EU, NONE, H),
		srv(4, "d", "nbg1", EU, NONE, H),
	};
	struct plan_fip f[] = {
		fip(10, "fsn1", EU, NONE, 1),
		fip(11, "fsn1", EU, 0, 2),
		fip(12, "nbg1", EU, NONE, 3),
		fip(13, "nbg1", EU, NONE, 4),
		fip(14, "nbg1", EU, NONE, 4),
	};
	struct plan p;
	PLAN(&p, s, f);
	CHECK_EQ_INT(p.n_actions, 0);
	plan_release(&p);
	for (size_t i = 0; i < ARRAY_SIZE(s); i++)
		s[i].status = U;
	PLAN(&p, s, f);
	CHECK(p.frozen);
	CHECK_EQ_INT(p.n_actions, 0);
	plan_release(&p);
	/* Back, some still unknown: nothing moves, with or without rebalance. */
	for (size_t i = 0; i < ARRAY_SIZE(s); i++)
		s[i].status = i == 2 ? K : H;
	PLAN(&p, s, f);
	CHECK(!p.frozen);
	CHECK_EQ_INT(p.n_actions, 0);
	plan_release(&p);
	s[2].status = H;
	PLAN_WITH(&p, &REBALANCE, s, f);
	CHECK_EQ_INT(p.n_actions, 0);
	plan_release(&p);
}

TEST(unknown_and_uncheckable_keep_but_receive_none)
{
	struct plan_server s[] = {
		srv(1, "a", "fsn1", EU, NONE, K),
		srv(2, "b", "fsn1", EU, NONE, X),
		srv(3, "c", "fsn1", EU, NONE, H),
		srv(4, "d", "fsn1", EU, 0, K),
	};
	struct plan_fip f[] = {
		fip(10, "fsn1", EU, NONE, 1),
		fip(11, "fsn1", EU, NONE, 2),
		fip(12, "fsn1", EU, NONE, 0),
		fip(13, "fsn1", EU, NONE, 0),
		fip(14, "fsn1", EU, 0, 0),       /* its canonical server is unknown */
	};
	struct plan p;
	PLAN(&p, s, f);
	CHECK(!p.frozen);
	CHECK_EQ_INT(p.n_candidates, 1);
	CHECK(action_for(&p, 10) == NULL);
	CHECK(action_for(&p, 11) == NULL);
	CHECK_EQ_INT(p.n_actions, 3);
	for (size_t i = 0; i < p.n_actions; i++)
		CHECK(p.actions[i].to == 3 && p.actions[i].reason == REASON_UNASSIGNED);
	plan_release(&p);
}

TEST(target_missing_only_when_confirmed)
{
	struct plan_server s[] = {
		srv(1, "a", "fsn1", EU, NONE, H),
		srv(2, "b", "fsn1", EU, NONE, H),
	};
	struct plan_fip f[] = {
		fip(10, "fsn1", EU, NONE, 77),
		fip(11, "fsn1", EU, NONE, 2),
		fip(12, "fsn1", EU, NONE, 78),
		fip(13, "fsn1", EU, NONE, 2),
	};
	f[0].server_missing = true;
	f[3].server_missing = true;      /* a member: the flag is wrong, ignored */
	struct plan p;
	PLAN(&p, s, f);
	CHECK_EQ_INT(p.n_actions, 1);
	const struct plan_action *a = action_for(&p, 10);
	CHECK(a && a->from == 77 && a->to == 1 && a->reason == REASON_TARGET_MISSING);
	const struct plan_skip *k = skip_for(&p, 12);
	CHECK(k && k->reason == SKIP_FOREIGN_TARGET && k->server == 78);
	CHECK_EQ_INT(p.n_skipped, 1);
	plan_release(&p);
}

TEST(target_not_candidate_across_zones)
{
	struct plan_server s[] = {
		srv(1, "a", "fsn1", EU, NONE, H),
		srv(2, "u", "ash", US, NONE, H),
		srv(3, "k", "ash", US, NONE, K),
	};
	struct plan_fip f[] = {
		fip(10, "fsn1", EU, NONE, 2),    /* held in the wrong zone */
		fip(11, "ash", US, NONE, 2),
		fip(12, "fsn1", EU, NONE, 3),    /* unknown and in the wrong zone */
	};
	struct plan p;
	PLAN(&p, s, f);
	CHECK_EQ_INT(p.n_actions, 2);
	const struct plan_action *a = action_for(&p, 10);
	CHECK(a && a->to == 1 && a->reason == REASON_TARGET_NOT_CANDIDATE);
	a = action_for(&p, 12);
	CHECK(a && a->to == 1 && a->reason == REASON_TARGET_NOT_CANDIDATE);
	plan_release(&p);
}

TEST(return_home_and_zone_fallback_stay)
{
	struct plan_server s[] = {
		srv(1, "f", "fsn1", EU, NONE, H),
		srv(2, "n", "nbg1", EU, NONE, H),
		srv(3, "k", "nbg1", EU, NONE, K),
	};
	struct plan_fip f[] = {
		fip(10, "fsn1", EU, NONE, 2),    /* home has a candidate: back */
		fip(11, "hel1", EU, NONE, 2),    /* home has none: stays in the zone */
		fip(12, "fsn1", EU, NONE, 3),    /* away on an unknown server: back */
		fip(13, "hel1", EU, NONE, 3),    /* away on an unknown server, no home */
	};
	struct plan p;
	PLAN(&p, s, f);
	CHECK_EQ_INT(p.n_actions, 2);
	const struct plan_action *a = action_for(&p, 10);
	CHECK(a && a->to == 1 && a->reason == REASON_RETURN_HOME);
	a = action_for(&p, 12);
	CHECK(a && a->to == 1 && a->reason == REASON_RETURN_HOME);
	plan_release(&p);

	/* Home without a healthy server: nobody goes back. */
	s[0].status = U;
	PLAN(&p, s, f);
	CHECK_EQ_INT(p.n_actions, 0);
	plan_release(&p);
}

TEST(foreign_target_left_alone)
{
	struct plan_server s[] = {
		srv(1, "a", "fsn1", EU, NONE, H),
		srv(2, "b", "fsn1", EU, NONE, H),
	};
	struct plan_fip f[] = {
		fip(10, "fsn1", EU, NONE, 999),
		fip(11, "fsn1", EU, NONE, 0),
		fip(12, "fsn1", EU, 0, 998),
	};
	struct plan p;
	PLAN(&p, s, f);
	CHECK(action_for(&p, 10) == NULL);
	CHECK(action_for(&p, 12) == NULL);
	CHECK_EQ_INT(p.n_skipped, 2);
	const struct plan_skip *k = skip_for(&p, 10);
	CHECK(k && k->reason == SKIP_FOREIGN_TARGET && k->server == 999);
	k = skip_for(&p, 12);
	CHECK(k && k->reason == SKIP_FOREIGN_TARGET && k->server == 998);
	/* The foreign IPs do not load anybody: 11 goes to the first. */
	const struct plan_action *a = action_for(&p, 11);
	CHECK(a && a->to == 1);
	CHECK(p.n_skipped == 2 && p.skipped[0].fip == 10 && p.skipped[1].fip == 12);
	plan_release(&p);
}

TEST(no_candidate_in_zone_left_alone)
{
	struct plan_server s[] = {
		srv(1, "a", "fsn1", EU, NONE, H),
		srv(2, "u", "ash", US, NONE, U),   /* not a candidate */
	};
	struct plan_fip f[] = {
		fip(10, "ash", US, NONE, 2),       /* on an unhealthy server, but no US candidate */
		fip(11, "hil", US, NONE, 0),
		fip(12, "fsn1", EU, NONE, 2),
	};
	struct plan p;
	PLAN(&p, s, f);
	CHECK(action_for(&p, 10) == NULL);
	CHECK(action_for(&p, 11) == NULL);
	const struct plan_skip *k = skip_for(&p, 10);
	CHECK(k && k->reason == SKIP_NO_CANDIDATE && k->server == 2);
	k = skip_for(&p, 11);
	CHECK(k && k->reason == SKIP_NO_CANDIDATE && k->server == 0);
	const struct plan_action *a = action_for(&p, 12);
	CHECK(a && a->to == 1 && a->reason == REASON_TARGET_UNHEALTHY);
	CHECK_EQ_INT(p.n_skipped, 2);
	plan_release(&p);
}

/* Fallback: the IP's network zone, never another zone. */
TEST(fallback_pool_is_own_zone)
{
	struct plan_server s[] = {
		srv(1, "aaa", "ash", US, NONE, H),      /* sorts first, wrong zone */
		srv(2, "fsn", "fsn1", EU, NONE, H),
		srv(3, "nbg", "nbg1", EU, NONE, H),
		/* Inconsistent input: a location that claims another zone. */
		srv(4, "odd", "hel1", US, NONE, H),
	};
	struct plan_fip f[] = {
		fip(10, "hel1", EU, NONE, 0),
		fip(11, "hel1", EU, NONE, 0),
		fip(12, "hel1", EU, NONE, 0),
		fip(13, "hel1", EU, NONE, 0),
	};
	struct plan p;
	PLAN(&p, s, f);
	CHECK_EQ_INT(p.n_actions, 4);
	/* Spread over the eu-central pool in candidate order. */
	CHECK_EQ_INT(target_of(&p, f, 4, 10), 2);
	CHECK_EQ_INT(target_of(&p, f, 4, 11), 3);
	CHECK_EQ_INT(target_of(&p, f, 4, 12), 2);
	CHECK_EQ_INT(target_of(&p, f, 4, 13), 3);
	plan_release(&p);

	/* The zone pool is only the fallback: a hel1 EU server wins. */
	struct plan_server s2[] = {
		srv(1, "fsn", "fsn1", EU, NONE, H),
		srv(2, "hel", "hel1", EU, NONE, H),
	};
	struct plan_fip f2[] = {
		fip(10, "hel1", EU, NONE, 0),
		fip(11, "hel1", EU, NONE, 0),
	};
	PLAN(&p, s2, f2);
	CHECK_EQ_INT(target_of(&p, f2, 2, 10), 2);
	CHECK_EQ_INT(target_of(&p, f2, 2, 11), 2);
	plan_release(&p);
}

TEST(assignments_in_place_dropped)
{
	struct plan_server s[] = {
		srv(1, "a", "fsn1", EU, 0, H),
		srv(2, "b", "fsn1", EU, NONE, H),
	};
	struct plan_fip f[] = {
		fip(10, "fsn1", EU, 0, 1),
		fip(11, "fsn1", EU, NONE, 2),
	};
	struct plan p;
	PLAN(&p, s, f);
	CHECK_EQ_INT(p.n_actions, 0);
	CHECK_EQ_INT(p.n_skipped, 0);
	plan_release(&p);
}

TEST(reasons)
{
	struct plan_server s[] = {
		srv(1, "a", "fsn1", EU, 0, H),
		srv(2, "b", "fsn1", EU, NONE, H),
		srv(3, "c", "fsn1", EU, NONE, U),
		srv(4, "d", "fsn1", EU, NONE, H),
		srv(5, "e", "nbg1", EU, NONE, H),
	};
	struct plan_fip f[] = {
		fip(10, "fsn1", EU, NONE, 0),  /* unassigned */
		fip(11, "fsn1", EU, NONE, 3),  /* target_unhealthy */
		fip(12, "fsn1", EU, 0, 2),     /* canonical */
		fip(13, "fsn1", EU, NONE, 4),  /* stays */
		fip(14, "fsn1", EU, NONE, 4),  /* stays */
		fip(15, "fsn1", EU, 0, 0),     /* unassigned beats canonical */
		fip(16, "fsn1", EU, 0, 3),     /* target_unhealthy beats canonical */
		fip(17, "fsn1", EU, 0, 5),     /* return_home beats canonical */
		fip(18, "fsn1", EU, NONE, 66), /* target_missing */
	};
	f[8].server_missing = true;
	struct plan p;
	PLAN(&p, s, f);
	const struct plan_action *a;
	a = action_for(&p, 10);
	CHECK(a && a->from == 0 && a->to == 2 && a->reason == REASON_UNASSIGNED);
	a = action_for(&p, 11);
	CHECK(a && a->from == 3 && a->to == 2 && a->reason == REASON_TARGET_UNHEALTHY);
	a = action_for(&p, 12);
	CHECK(a && a->from == 2 && a->to == 1 && a->reason == REASON_CANONICAL);
	CHECK(action_for(&p, 13) == NULL && action_for(&p, 14) == NULL);
	a = action_for(&p, 15);
	CHECK(a && a->to == 1 && a->reason == REASON_UNASSIGNED);
	a = action_for(&p, 16);
	CHECK(a && a->to == 1 && a->reason == REASON_TARGET_UNHEALTHY);
	a = action_for(&p, 17);
	CHECK(a && a->from == 5 && a->to == 1 && a->reason == REASON_RETURN_HOME);
	/* a holds 4 canonical IPs, b 2 and d 2: the tie goes to b. */
	a = action_for(&p, 18);
	CHECK(a && a->from == 66 && a->to == 2 && a->reason == REASON_TARGET_MISSING);
	CHECK_EQ_INT(p.n_actions, 7);
	/* Actions come in floating-IP id order. */
	for (size_t i = 1; i < p.n_actions; i++)
		CHECK(p.actions[i - 1].fip < p.actions[i].fip);
	plan_release(&p);
}

TEST(probation_withholds_failback_only)
{
	struct plan_server s[] = {
		srv(1, "lb-1", "fsn1", EU, 0, H),       /* back, in probation */
		srv(2, "lb-2", "fsn1", EU, 1, H),
		srv(3, "lb-3", "nbg1", EU, NONE, H),
		srv(4, "lb-4", "fsn1", EU, NONE, U),
	};
	s[0].probation = true;
	struct plan_fip f[] = {
		fip(10, "fsn1", EU, 0, 2),   /* canonical to lb-1: waits */
		fip(11, "fsn1", EU, 0, 0),   /* unassigned: lb-1 takes it */
		fip(12, "fsn1", EU, 0, 4),   /* leaving an unhealthy server: lb-1 */
		fip(13, "fsn1", EU, 1, 2),   /* already canonical */
	};
	struct plan p;
	PLAN(&p, s, f);
	CHECK_EQ_INT(p.n_actions, 2);
	CHECK(action_for(&p, 10) == NULL);
	const struct plan_action *a = pending_for(&p, 10);
	CHECK(a && a->from == 2 && a->to == 1 && a->reason == REASON_PENDING &&
	      a->withheld == REASON_CANONICAL);
	a = action_for(&p, 11);
	CHECK(a && a->to == 1 && a->reason == REASON_UNASSIGNED);
	a = action_for(&p, 12);
	CHECK(a && a->to == 1 && a->reason == REASON_TARGET_UNHEALTHY);
	CHECK_EQ_INT(p.n_pending, 1);
	plan_release(&p);

	/* The delay has passed: the canonical move is made. */
	s[0].probation = false;
	PLAN(&p, s, f);
	a = action_for(&p, 10);
	CHECK(a && a->to == 1 && a->reason == REASON_CANONICAL);
	CHECK_EQ_INT(p.n_pending, 0);
	plan_release(&p);

	/* Probation means nothing on a server that is not healthy. */
	s[3].probation = true;
	PLAN(&p, s, f);
	CHECK_EQ_INT(p.n_pending, 0);
	plan_release(&p);
}

TEST(probation_withholds_return_home)
{
	struct plan_server s[] = {
		srv(1, "f1", "fsn1", EU, NONE, H),      /* home's only server, in probation */
		srv(2, "n", "nbg1", EU, NONE, H),
	};
	s[0].probation = true;
	struct plan_fip f[] = {
		fip(20, "fsn1", EU, NONE, 2),    /* waits */
		fip(21, "fsn1", EU, NONE, 0),    /* unassigned: goes home now */
		fip(22, "nbg1", EU, NONE, 2),
	};
	struct plan p;
	PLAN(&p, s, f);
	CHECK_EQ_INT(p.n_actions, 1);
	const struct plan_action *a = action_for(&p, 21);
	CHECK(a && a->to == 1 && a->reason == REASON_UNASSIGNED);
	a = pending_for(&p, 20);
	CHECK(a && a->from == 2 && a->to == 1 && a->withheld == REASON_RETURN_HOME);
	CHECK_EQ_INT(p.n_pending, 1);
	plan_release(&p);

	/* A settled server at home takes the return; probation one the new IP. */
	struct plan_server s2[] = {
		srv(1, "f1", "fsn1", EU, NONE, H),
		srv(2, "f2", "fsn1", EU, NONE, H),
		srv(3, "n", "nbg1", EU, NONE, H),
	};
	s2[0].probation = true;
	struct plan_fip f2[] = {
		fip(30, "fsn1", EU, NONE, 3),
		fip(31, "fsn1", EU, NONE, 0),
	};
	PLAN(&p, s2, f2);
	a = action_for(&p, 30);
	CHECK(a && a->to == 2 && a->reason == REASON_RETURN_HOME);
	a = action_for(&p, 31);
	CHECK(a && a->to == 1 && a->reason == REASON_UNASSIGNED);
	CHECK_EQ_INT(p.n_pending, 0);
	plan_release(&p);
}

TEST(rebalance_fewest_moves_highest_id_first)
{
	struct plan_server s[] = {
		srv(1, "a", "fsn1", EU, NONE, H),
		srv(2, "b", "fsn1", EU, NONE, H),
		srv(3, "c", "fsn1", EU, NONE, H),
		srv(4, "d", "fsn1", EU, NONE, H),
		srv(5, "n", "nbg1", EU, NONE, H),
	};
	struct plan_fip f[] = {
		fip(1, "fsn1", EU, NONE, 1), fip(2, "fsn1", EU, NONE, 1),
		fip(3, "fsn1", EU, NONE, 1), fip(4, "fsn1", EU, NONE, 1),
		fip(5, "fsn1", EU, NONE, 1), fip(6, "fsn1", EU, NONE, 1),
		fip(7, "fsn1", EU, NONE, 2),
		fip(8, "hel1", EU, NONE, 1),     /* away from a home without servers */
		fip(9, "nbg1", EU, NONE, 5),
	};
	struct plan p;
	PLAN(&p, s, f);
	CHECK_EQ_INT(p.n_actions, 0);
	plan_release(&p);

	/* a 6, b 1, c 0, d 0: a must give 4, no fewer will do. */
	PLAN_WITH(&p, &REBALANCE, s, f);
	CHECK_EQ_INT(p.n_actions, 4);
	CHECK_EQ_INT(target_of(&p, f, ARRAY_SIZE(f), 6), 3);
	CHECK_EQ_INT(target_of(&p, f, ARRAY_SIZE(f), 5), 4);
	CHECK_EQ_INT(target_of(&p, f, ARRAY_SIZE(f), 4), 2);
	CHECK_EQ_INT(target_of(&p, f, ARRAY_SIZE(f), 3), 3);
	for (size_t i = 0; i < p.n_actions; i++)
		CHECK(p.actions[i].from == 1 && p.actions[i].reason == REASON_REBALANCE);
	CHECK(action_for(&p, 8) == NULL && action_for(&p, 9) == NULL);
	apply(f, ARRAY_SIZE(f), &p);
	plan_release(&p);
	PLAN_WITH(&p, &REBALANCE, s, f);
	CHECK_EQ_INT(p.n_actions, 0);
	plan_release(&p);
}

TEST(rebalance_leaves_probation_servers_out)
{
	struct plan_server s[] = {
		srv(1, "a", "fsn1", EU, NONE, H),
		srv(2, "b", "fsn1", EU, NONE, H),
		srv(3, "p", "fsn1", EU, NONE, H),
	};
	s[2].probation = true;
	struct plan_fip f[] = {
		fip(1, "fsn1", EU, NONE, 1), fip(2, "fsn1", EU, NONE, 1),
		fip(3, "fsn1", EU, NONE, 1), fip(4, "fsn1", EU, NONE, 1),
	};
	struct plan p;
	PLAN_WITH(&p, &REBALANCE, s, f);
	/* a and b even out now; p's share waits for the end of its probation. */
	CHECK_EQ_INT(p.n_actions, 2);
	const struct plan_action *a = action_for(&p, 4);
	CHECK(a && a->to == 2 && a->reason == REASON_REBALANCE);
	a = action_for(&p, 3);
	CHECK(a && a->to == 2 && a->reason == REASON_REBALANCE);
	CHECK_EQ_INT(p.n_pending, 1);
	a = pending_for(&p, 2);
	CHECK(a && a->from == 1 && a->to == 3 && a->withheld == REASON_REBALANCE);
	apply(f, ARRAY_SIZE(f), &p);
	plan_release(&p);

	/* Probation over: exactly the move that was pending. */
	s[2].probation = false;
	PLAN_WITH(&p, &REBALANCE, s, f);
	CHECK_EQ_INT(p.n_actions, 1);
	a = action_for(&p, 2);
	CHECK(a && a->from == 1 && a->to == 3 && a->reason == REASON_REBALANCE);
	CHECK_EQ_INT(p.n_pending, 0);
	plan_release(&p);
}

/*
 * SPEC section 8's moves: 100 servers and 100 IPs without labels.
 * One server fails: its IP alone moves; it recovers: nothing moves
 * (rebalance: its share, one IP); a server joins: nothing moves.
 */
TEST(hundred_servers_move_only_what_must)
{
	enum { N = 100 };
	struct plan_server s[N + 1];
	struct plan_fip f[N];
	char names[N + 1][16];
	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof names[i], "lb-%03d", i);
		s[i] = srv(1000 + i, names[i], "fsn1", EU, NONE, H);
		f[i] = fip(1 + i, "fsn1", EU, NONE, 1000 + i);
	}
	struct plan p;
	plan_compute(NULL, s, N, f, N, &p);
	CHECK_EQ_INT(p.n_actions, 0);
	plan_release(&p);

	s[37].status = U;
	plan_compute(NULL, s, N, f, N, &p);
	CHECK_EQ_INT(p.n_actions, 1);
	CHECK(p.n_actions == 1 && p.actions[0].fip == 38 &&
	      p.actions[0].reason == REASON_TARGET_UNHEALTHY && p.actions[0].to == 1000);
	apply(f, N, &p);
	plan_release(&p);

	s[37].status = H;
	plan_compute(NULL, s, N, f, N, &p);
	CHECK_EQ_INT(p.n_actions, 0);
	plan_release(&p);
	struct plan_options o = { .rebalance = true };
	plan_compute(&o, s, N, f, N, &p);
	CHECK(p.n_actions == 1 && p.actions[0].fip == 38 && p.actions[0].to == 1037 &&
	      p.actions[0].reason == REASON_REBALANCE);
	plan_release(&p);

	/* A newcomer whose name sorts first. */
	snprintf(names[N], sizeof names[N], "aaa");
	s[N] = srv(999, names[N], "fsn1", EU, NONE, H);
	plan_compute(NULL, s, N + 1, f, N, &p);
	CHECK_EQ_INT(p.n_actions, 0);
	plan_release(&p);
}

/* A deterministic generator: xorshift64*. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static size_t rnd(size_t n)
{
	return n ? (size_t)(rng() % n) : 0;
}

static const char *const locs[] = { "fsn1", "nbg1", "hel1", "ash", "hil" };
static const char *const zones[] = { EU, EU, EU, US, US };
static const char *const names[] = { "lb-1", "lb-2", "lb-3", "web", "a", "zz" };

struct world {
	struct plan_server *s;
	size_t ns;
	struct plan_fip *f;
	size_t nf;
	struct plan_options o;
};

/*
 * Random but adversarial: few names and indexes (many ties), some
 * locations without servers, now and then a location in the wrong zone,
 * every status, servers in probation, IPs pointing at members,
 * non-members (some confirmed missing) and nothing, every option.
 */
static void world_random(struct world *w, size_t max_s, size_t max_f)
{
	static const enum health statuses[] = { H, H, H, U, K, X };
	w->ns = rnd(max_s + 1);
	w->nf = rnd(max_f + 1);
	w->s = calloc(w->ns + 1, sizeof *w->s);
	w->f = calloc(w->nf + 1, sizeof *w->f);
	w->o.when_none_healthy = rnd(2) ? PLAN_SPREAD : PLAN_FREEZE;
	w->o.rebalance = rnd(2);
	size_t nloc = 1 + rnd(ARRAY_SIZE(locs));
	int health_mode = (int)rnd(5);   /* 0: nothing healthy, else mixed */
	int probation_mode = (int)rnd(3);
	bool crowd = rnd(3) == 0;
	for (size_t i = 0; i < w->ns; i++) {
		size_t l = rnd(nloc);
		enum health st = health_mode == 0 ? statuses[3 + rnd(3)]
			: statuses[rnd(ARRAY_SIZE(statuses))];
		w->s[i] = srv((int64_t)(i * 3 + 100 + rnd(3)), names[rnd(ARRAY_SIZE(names))],
			      locs[l], rnd(40) ? zones[l] : zones[(l + 3) % 5],
			      rnd(2) ? (int64_t)rnd(4) : NONE, st);
		w->s[i].probation = probation_mode && rnd(3 - (size_t)probation_mode) == 0;
	}
	for (size_t i = 0; i < w->nf; i++) {
		size_t l = rnd(ARRAY_SIZE(locs));
		int64_t target = 0;
		size_t t = rnd(10);
		if (t >= 2 && w->ns)     /* crowded: a few servers hold most */
			target = w->s[crowd ? rnd(w->ns < 3 ? w->ns : 3) : rnd(w->ns)].id;
		else if (t == 1)
			target = 5000 + (int64_t)rnd(10);
		w->f[i] = fip((int64_t)(i * 2 + 1 + rnd(2)), locs[l], zones[l],
			      rnd(2) ? (int64_t)rnd(5) : NONE, target);
		w->f[i].server_missing = rnd(2);
	}
}

static void world_free(struct world *w)
{
	free(w->s);
	free(w->f);
}

static void shuffle(struct world *w)
{
	for (size_t i = w->ns; i > 1; i--) {
		size_t j = rnd(i);
		struct plan_server t = w->s[i - 1];
		w->s[i - 1] = w->s[j];
		w->s[j] = t;
	}
	for (size_t i = w->nf; i > 1; i--) {
		size_t j = rnd(i);
		struct plan_fip t = w->f[i - 1];
		w->f[i - 1] = w->f[j];
		w->f[j] = t;
	}
}

static bool actions_equal(const struct plan_action *a, const struct plan_action *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].fip != b[i].fip || a[i].from != b[i].from || a[i].to != b[i].to ||
		    a[i].reason != b[i].reason ||
		    (a[i].reason == REASON_PENDING && a[i].withheld != b[i].withheld))
			return false;
	return true;
}

static bool plan_equal(const struct plan *a, const struct plan *b)
{
	if (a->n_actions != b->n_actions || a->n_pending != b->n_pending ||
	    a->n_skipped != b->n_skipped || a->fail_open != b->fail_open ||
	    a->frozen != b->frozen || a->n_candidates != b->n_candidates)
		return false;
	if (!actions_equal(a->actions, b->actions, a->n_actions) ||
	    !actions_equal(a->pending, b->pending, a->n_pending))
		return false;
	for (size_t i = 0; i < a->n_skipped; i++)
		if (a->skipped[i].fip != b->skipped[i].fip ||
		    a->skipped[i].server != b->skipped[i].server ||
		    a->skipped[i].reason != b->skipped[i].reason)
			return false;
	return true;
}

TEST(same_plan_in_any_order)
{
	for (int round = 0; round < 40; round++) {
		struct world w;
		world_random(&w, 60, 120);
		struct plan first;
		plan_compute(&w.o, w.s, w.ns, w.f, w.nf, &first);
		for (int k = 0; k < 25; k++) {
			shuffle(&w);
			struct plan p;
			plan_compute(&w.o, w.s, w.ns, w.f, w.nf, &p);
			CHECK(plan_equal(&first, &p));
			plan_release(&p);
		}
		plan_release(&first);
		world_free(&w);
	}
}

/* Unique ids, as the API guarantees; IPs keep pointing at the same servers. */
static void world_unique_ids(struct world *w)
{
	for (size_t i = 0; i < w->nf; i++) {
		for (size_t k = 0; k < w->ns; k++) {
			if (w->f[i].server == w->s[k].id) {
				w->f[i].server = -(int64_t)k - 1;
				break;
			}
		}
	}
	for (size_t i = 0; i < w->ns; i++)
		w->s[i].id = (int64_t)i + 100;
	for (size_t i = 0; i < w->nf; i++) {
		w->f[i].id = (int64_t)(w->nf - i);
		if (w->f[i].server < 0)
			w->f[i].server = -w->f[i].server - 1 + 100;
	}
}

/* Carry a plan out and plan again: there is nothing left to do. */
TEST(applied_plan_plans_nothing)
{
	size_t moved = 0, worlds = 0;
	for (int round = 0; round < 600; round++) {
		struct world w;
		world_random(&w, 40, 100);
		world_unique_ids(&w);
		struct plan p, q;
		plan_compute(&w.o, w.s, w.ns, w.f, w.nf, &p);
		apply(w.f, w.nf, &p);
		plan_compute(&w.o, w.s, w.ns, w.f, w.nf, &q);
		if (q.n_actions) {
			CHECK_EQ_INT(q.n_actions, 0);
			fprintf(stderr, "  round %d: %zu servers, %zu IPs, rebalance %d: %s %" PRId64
				" -> %" PRId64 "\n", round, w.ns, w.nf, w.o.rebalance,
				plan_reason_name(q.actions[0].reason), q.actions[0].from,
				q.actions[0].to);
			round = 1000;
		}
		/* What was pending is still pending, and nothing else. */
		CHECK(q.n_pending == p.n_pending &&
		      actions_equal(p.pending, q.pending, p.n_pending));
		moved += p.n_actions;
		worlds += p.n_actions > 0;
		plan_release(&p);
		plan_release(&q);
		world_free(&w);
	}
	CHECK(moved > 1000 && worlds > 300);
}

/* Duplicate ids are the caller's mistake; they must not crash. */
TEST(duplicate_ids_do_not_crash)
{
	struct plan_server s[] = {
		srv(1, "a", "fsn1", EU, 0, H),
		srv(1, "a", "fsn1", EU, 0, U),
		srv(2, "b", "fsn1", EU, NONE, H),
		srv(2, "c", "nbg1", EU, 1, K),
	};
	struct plan_fip f[] = {
		fip(10, "fsn1", EU, 0, 1),
		fip(10, "fsn1", EU, NONE, 2),
		fip(10, "nbg1", EU, 1, 0),
	};
	struct plan p, q;
	PLAN_WITH(&p, &REBALANCE, s, f);
	CHECK(p.n_actions <= 3);
	struct plan_server s2[] = { s[3], s[1], s[2], s[0] };
	struct plan_fip f2[] = { f[2], f[0], f[1] };
	PLAN_WITH(&q, &REBALANCE, s2, f2);
	CHECK(plan_equal(&p, &q));
	plan_release(&p);
	plan_release(&q);
}

/*
 * The reference: SPEC section 5 read literally, O(n^2), no pools, no
 * heaps, no cleverness. Unique ids only (world_unique_ids).
 */

static int ref_cmp_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

static bool ref_before(const struct plan_server *a, const struct plan_server *b)
{
	int c = ref_cmp_str(a->location, b->location);
	if (c)
		return c < 0;
	if (a->has_index != b->has_index)
		return a->has_index;
	if (a->has_index && a->resource_index != b->resource_index)
		return a->resource_index < b->resource_index;
	c = ref_cmp_str(a->name, b->name);
	if (c)
		return c < 0;
	return a->id < b->id;
}

static bool same_place(const struct plan_server *s, const struct plan_fip *f, bool loc_too)
{
	return ref_cmp_str(s->network_zone, f->network_zone) == 0 &&
	       (!loc_too || ref_cmp_str(s->location, f->location) == 0);
}

struct ref {
	const struct world *w;
	const struct plan_server **c;      /* candidates, in order */
	size_t nc;
	bool *prob;
	size_t *count;
	const struct plan_fip **f;         /* by id */
	long *to;                          /* candidate, -1: stays off the candidates */
	int *must, *how;                   /* how: 0 open, 1 canonical, 2 stays, 3 spread */
	bool *pend, *rebal;
	int *pend_why;
	long *pend_to;
	size_t **mv;                       /* per candidate: movable IPs (fip positions) */
	size_t *n_mv;
};

/* The least-loaded candidate where the IP may go (first in order on ties). */
static long ref_least(const struct ref *r, const struct plan_fip *f, bool home, bool settled)
{
	long best = -1;
	for (size_t k = 0; k < r->nc; k++) {
		if (!same_place(r->c[k], f, home) || (settled && r->prob[k]))
			continue;
		if (best < 0 || r->count[k] < r->count[best])
			best = (long)k;
	}
	return best;
}

static void ref_stay(struct ref *r, size_t i, long curc)
{
	r->how[i] = 2;
	r->to[i] = curc;
	if (curc >= 0)
		r->count[curc]++;
}

/* One greedy run over the location of candidate k0. */
static void ref_rebalance(struct ref *r, size_t k0, bool preview)
{
	for (;;) {
		long src = -1, dst = -1;
		for (size_t k = 0; k < r->nc; k++) {
			if (ref_cmp_str(r->c[k]->location, r->c[k0]->location) ||
			    ref_cmp_str(r->c[k]->network_zone, r->c[k0]->network_zone) ||
			    (!preview && r->prob[k]))
				continue;
			if (src < 0 || r->n_mv[k] > r->n_mv[src])
				src = (long)k;
			if (dst < 0 || r->n_mv[k] < r->n_mv[dst])
				dst = (long)k;
		}
		if (src < 0 || r->n_mv[src] < r->n_mv[dst] + 2)
			return;
		size_t top = 0;
		for (size_t m = 1; m < r->n_mv[src]; m++)
			if (r->mv[src][m] > r->mv[src][top])
				top = m;
		size_t i = r->mv[src][top];
		r->mv[src][top] = r->mv[src][--r->n_mv[src]];
		r->mv[dst][r->n_mv[dst]++] = i;
		if (!preview) {
			r->to[i] = dst;
			r->rebal[i] = true;
			r->count[src]--;
			r->count[dst]++;
		} else if (r->prob[dst]) {
			r->pend[i] = true;
			r->pend_why[i] = REASON_REBALANCE;
			r->pend_to[i] = dst;
		}
	}
}

static void ref_plan(const struct world *w, struct plan *out)
{
	const struct plan_options *o = &w->o;
	struct ref r = { .w = w };
	size_t nf = w->nf;
	memset(out, 0, sizeof *out);
	out->actions = calloc(nf + 1, sizeof *out->actions);
	out->pending = calloc(nf + 1, sizeof *out->pending);
	out->skipped = calloc(nf + 1, sizeof *out->skipped);

	size_t healthy = 0;
	for (size_t i = 0; i < w->ns; i++)
		healthy += w->s[i].status == H;
	bool none = w->ns > 0 && healthy == 0;
	out->frozen = none && o->when_none_healthy == PLAN_FREEZE;
	out->fail_open = none && o->when_none_healthy == PLAN_SPREAD;

	r.c = calloc(w->ns + 1, sizeof *r.c);
	for (size_t i = 0; i < w->ns; i++)
		if (out->fail_open || (!out->frozen && w->s[i].status == H))
			r.c[r.nc++] = &w->s[i];
	for (size_t i = 1; i < r.nc; i++)            /* insertion sort */
		for (size_t j = i; j > 0 && ref_before(r.c[j], r.c[j - 1]); j--) {
			const struct plan_server *t = r.c[j];
			r.c[j] = r.c[j - 1];
			r.c[j - 1] = t;
		}
	out->n_candidates = r.nc;
	r.prob = calloc(r.nc + 1, sizeof *r.prob);
	r.count = calloc(r.nc + 1, sizeof *r.count);
	r.mv = calloc(r.nc + 1, sizeof *r.mv);
	r.n_mv = calloc(r.nc + 1, sizeof *r.n_mv);
	for (size_t k = 0; k < r.nc; k++) {
		r.prob[k] = r.c[k]->probation && r.c[k]->status == H;
		r.mv[k] = calloc(nf + 1, sizeof **r.mv);
	}

	r.f = calloc(nf + 1, sizeof *r.f);
	for (size_t i = 0; i < nf; i++)
		r.f[i] = &w->f[i];
	for (size_t i = 1; i < nf; i++)
		for (size_t j = i; j > 0 && r.f[j]->id < r.f[j - 1]->id; j--) {
			const struct plan_fip *t = r.f[j];
			r.f[j] = r.f[j - 1];
			r.f[j - 1] = t;
		}
	r.to = calloc(nf + 1, sizeof *r.to);
	r.must = calloc(nf + 1, sizeof *r.must);
	r.how = calloc(nf + 1, sizeof *r.how);
	r.pend = calloc(nf + 1, sizeof *r.pend);
	r.rebal = calloc(nf + 1, sizeof *r.rebal);
	r.pend_why = calloc(nf + 1, sizeof *r.pend_why);
	r.pend_to = calloc(nf + 1, sizeof *r.pend_to);
	bool *managed = calloc(nf + 1, sizeof *managed);
	bool *home = calloc(nf + 1, sizeof *home);
	long *curc = calloc(nf + 1, sizeof *curc);

	for (size_t i = 0; i < nf; i++) {
		const struct plan_fip *f = r.f[i];
		const struct plan_server *cur = NULL;
		bool zone_ok = false;
		for (size_t k = 0; k < w->ns; k++)
			if (w->s[k].id == f->server)
				cur = &w->s[k];
		curc[i] = -1;
		for (size_t k = 0; k < r.nc; k++) {
			zone_ok |= same_place(r.c[k], f, false);
			home[i] |= same_place(r.c[k], f, true);
			if (cur && r.c[k] == cur)
				curc[i] = (long)k;
		}
		if (f->server != 0 && !cur && !f->server_missing)
			out->skipped[out->n_skipped++] =
				(struct plan_skip){ f->id, f->server, SKIP_FOREIGN_TARGET };
		else if (out->frozen)
			continue;
		else if (!zone_ok)
			out->skipped[out->n_skipped++] =
				(struct plan_skip){ f->id, f->server, SKIP_NO_CANDIDATE };
		else
			managed[i] = true;
		if (!managed[i])
			continue;
		if (f->server == 0)
			r.must[i] = REASON_UNASSIGNED;
		else if (!cur)
			r.must[i] = REASON_TARGET_MISSING;
		else if (curc[i] < 0 && cur->status != H && cur->status != K && cur->status != X)
			r.must[i] = REASON_TARGET_UNHEALTHY;
		else if (ref_cmp_str(cur->network_zone, f->network_zone))
			r.must[i] = REASON_TARGET_NOT_CANDIDATE;
		else if (home[i] && ref_cmp_str(cur->location, f->location))
			r.must[i] = REASON_RETURN_HOME;
		else
			r.must[i] = -1;
	}

	/* Canonical pass. */
	for (size_t i = 0; i < nf; i++) {
		const struct plan_fip *f = r.f[i];
		if (!managed[i] || !f->has_index)
			continue;
		for (size_t k = 0; k < r.nc; k++) {
			if (!same_place(r.c[k], f, true) || !r.c[k]->has_index ||
			    r.c[k]->resource_index != f->resource_index)
				continue;
			bool urgent = r.must[i] >= 0 && r.must[i] != REASON_RETURN_HOME;
			if (curc[i] == (long)k || !r.prob[k] || urgent) {
				r.how[i] = 1;
				r.to[i] = (long)k;
				r.count[k]++;
			} else {
				r.pend[i] = true;
				r.pend_why[i] = REASON_CANONICAL;
				r.pend_to[i] = (long)k;
				ref_stay(&r, i, curc[i]);
			}
			break;
		}
	}
	/* Stay pass. */
	for (size_t i = 0; i < nf; i++) {
		if (!managed[i] || r.how[i])
			continue;
		if (r.must[i] < 0) {
			ref_stay(&r, i, curc[i]);
		} else if (r.must[i] == REASON_RETURN_HOME &&
			   ref_least(&r, r.f[i], true, true) < 0) {
			r.pend[i] = true;
			r.pend_why[i] = REASON_RETURN_HOME;
			ref_stay(&r, i, curc[i]);
		}
	}
	/* Spread pass. */
	for (size_t i = 0; i < nf; i++) {
		if (!managed[i] || r.how[i])
			continue;
		long k = ref_least(&r, r.f[i], home[i], r.must[i] == REASON_RETURN_HOME);
		r.how[i] = 3;
		r.to[i] = k;
		r.count[k]++;
	}
	/* Rebalance, location by location. */
	if (o->rebalance) {
		for (size_t i = 0; i < nf; i++) {
			if (managed[i] && r.to[i] >= 0 && home[i] && r.how[i] != 1 && !r.pend[i] &&
			    same_place(r.c[r.to[i]], r.f[i], true))
				r.mv[r.to[i]][r.n_mv[r.to[i]]++] = i;
		}
		for (size_t k = 0; k < r.nc; k++) {
			bool first = true, any_prob = false;
			for (size_t m = 0; m < r.nc; m++) {
				if (ref_cmp_str(r.c[m]->location, r.c[k]->location) ||
				    ref_cmp_str(r.c[m]->network_zone, r.c[k]->network_zone))
					continue;
				if (m < k)
					first = false;
				any_prob |= r.prob[m];
			}
			if (!first)
				continue;
			ref_rebalance(&r, k, false);
			if (any_prob)
				ref_rebalance(&r, k, true);
		}
	}
	/* Where the withheld returns home will go. */
	for (size_t i = 0; i < nf; i++) {
		if (!r.pend[i] || r.pend_why[i] != REASON_RETURN_HOME)
			continue;
		r.pend_to[i] = ref_least(&r, r.f[i], true, false);
		r.count[r.pend_to[i]]++;
	}

	for (size_t i = 0; i < nf; i++) {
		const struct plan_fip *f = r.f[i];
		if (!managed[i])
			continue;
		int64_t dest = r.to[i] >= 0 ? r.c[r.to[i]]->id : f->server;
		if (r.pend[i])
			out->pending[out->n_pending++] = (struct plan_action){
				f->id, dest, r.c[r.pend_to[i]]->id, REASON_PENDING,
				(enum plan_reason)r.pend_why[i] };
		if (dest == f->server)
			continue;
		enum plan_reason why = r.must[i] >= 0 ? (enum plan_reason)r.must[i]
			: r.how[i] == 1 ? REASON_CANONICAL : REASON_REBALANCE;
		out->actions[out->n_actions++] = (struct plan_action){
			f->id, f->server, dest, why, 0 };
	}

	for (size_t k = 0; k < r.nc; k++)
		free(r.mv[k]);
	free(r.mv);
	free(r.n_mv);
	free(r.c);
	free(r.prob);
	free(r.count);
	free(r.f);
	free(r.to);
	free(r.must);
	free(r.how);
	free(r.pend);
	free(r.rebal);
	free(r.pend_why);
	free(r.pend_to);
	free(managed);
	free(home);
	free(curc);
}

TEST(cross_check_reference)
{
	size_t sizes[][2] = { { 3, 5 }, { 8, 20 }, { 30, 60 }, { 120, 300 } };
	size_t moves = 0, skips = 0, opens = 0, frozen = 0, pending = 0;
	for (size_t z = 0; z < ARRAY_SIZE(sizes); z++) {
		for (int round = 0; round < 400; round++) {
			struct world w;
			world_random(&w, sizes[z][0], sizes[z][1]);
			world_unique_ids(&w);
			struct plan got, want;
			plan_compute(&w.o, w.s, w.ns, w.f, w.nf, &got);
			ref_plan(&w, &want);
			if (!plan_equal(&got, &want)) {
				CHECK(plan_equal(&got, &want));
				fprintf(stderr, "  size %zu round %d: %zu servers, %zu IPs; got %zu "
					"actions %zu pending, want %zu and %zu\n", z, round, w.ns,
					w.nf, got.n_actions, got.n_pending, want.n_actions,
					want.n_pending);
				z = ARRAY_SIZE(sizes);
				round = 1000;
			}
			moves += got.n_actions;
			pending += got.n_pending;
			skips += got.n_skipped;
			opens += got.fail_open;
			frozen += got.frozen;
			plan_release(&got);
			plan_release(&want);
			world_free(&w);
		}
	}
	/* The generator must exercise every branch, or the check is hollow. */
	CHECK(moves > 1000);
	CHECK(pending > 100);
	CHECK(skips > 100);
	CHECK(opens > 10);
	CHECK(frozen > 10);
}

/* Per-reason coverage of the random worlds, so the cross-check means something. */
TEST(cross_check_covers_reasons)
{
	size_t seen[REASON_PENDING + 1] = { 0 }, withheld[REASON_PENDING + 1] = { 0 };
	size_t seen_skip[2] = { 0 };
	for (int round = 0; round < 400; round++) {
		struct world w;
		world_random(&w, 60, 200);
		world_unique_ids(&w);
		struct plan p;
		plan_compute(&w.o, w.s, w.ns, w.f, w.nf, &p);
		for (size_t i = 0; i < p.n_actions; i++)
			seen[p.actions[i].reason]++;
		for (size_t i = 0; i < p.n_pending; i++)
			withheld[p.pending[i].withheld]++;
		for (size_t i = 0; i < p.n_skipped; i++)
			seen_skip[p.skipped[i].reason]++;
		plan_release(&p);
		world_free(&w);
	}
	for (int r = REASON_UNASSIGNED; r <= REASON_REBALANCE; r++) {
		if (seen[r] <= 10)
			fprintf(stderr, "  reason %s seen %zu times\n", plan_reason_name(r), seen[r]);
		CHECK(seen[r] > 10);
	}
	CHECK_EQ_INT(seen[REASON_PENDING], 0);
	CHECK(withheld[REASON_CANONICAL] > 10);
	CHECK(withheld[REASON_RETURN_HOME] > 10);
	CHECK(withheld[REASON_REBALANCE] > 10);
	CHECK(seen_skip[0] > 10);
	CHECK(seen_skip[1] > 10);
}

int main(void)
{
	RUN(enum_names);
	RUN(empty_inputs);
	RUN(healthy_ips_never_move_without_reason);
	RUN(same_location_preference);
	RUN(canonical_match);
	RUN(canonical_beats_spread);
	RUN(none_never_matches_none);
	RUN(spread_least_loaded_ties_first);
	RUN(freeze_when_nothing_is_healthy);
	RUN(freeze_then_recovery_moves_nothing);
	RUN(unknown_and_uncheckable_keep_but_receive_none);
	RUN(target_missing_only_when_confirmed);
	RUN(target_not_candidate_across_zones);
	RUN(return_home_and_zone_fallback_stay);
	RUN(foreign_target_left_alone);
	RUN(no_candidate_in_zone_left_alone);
	RUN(fallback_pool_is_own_zone);
	RUN(assignments_in_place_dropped);
	RUN(reasons);
	RUN(probation_withholds_failback_only);
	RUN(probation_withholds_return_home);
	RUN(rebalance_fewest_moves_highest_id_first);
	RUN(rebalance_leaves_probation_servers_out);
	RUN(hundred_servers_move_only_what_must);
	RUN(same_plan_in_any_order);
	RUN(applied_plan_plans_nothing);
	RUN(duplicate_ids_do_not_crash);
	RUN(cross_check_reference);
	RUN(cross_check_covers_reasons);
	return test_report();
}
