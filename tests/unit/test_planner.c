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

static const struct plan_action *action_for(const struct plan *p, int64_t f)
{
	for (size_t i = 0; i < p->n_actions; i++)
		if (p->actions[i].fip == f)
			return &p->actions[i];
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

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PLAN(p, s, f) plan_compute((s), ARRAY_SIZE(s), (f), ARRAY_SIZE(f), (p))

TEST(enum_names)
{
	enum health h;
	CHECK_EQ_STR(health_name(HEALTH_HEALTHY), "healthy");
	CHECK_EQ_STR(health_name(HEALTH_UNHEALTHY), "unhealthy");
	CHECK_EQ_STR(health_name(HEALTH_UNKNOWN), "unknown");
	CHECK(health_parse("healthy", &h) == 0 && h == HEALTH_HEALTHY);
	CHECK(health_parse("unhealthy", &h) == 0 && h == HEALTH_UNHEALTHY);
	CHECK(health_parse("unknown", &h) == 0 && h == HEALTH_UNKNOWN);
	CHECK(health_parse("sick", &h) == -1);
	CHECK(health_parse("Healthy", &h) == -1);
	CHECK(health_parse("", &h) == -1);
	CHECK(health_parse(NULL, &h) == -1);
	CHECK_EQ_STR(plan_reason_name(REASON_UNASSIGNED), "unassigned");
	CHECK_EQ_STR(plan_reason_name(REASON_TARGET_UNHEALTHY), "target_unhealthy");
	CHECK_EQ_STR(plan_reason_name(REASON_CANONICAL), "canonical");
	CHECK_EQ_STR(plan_reason_name(REASON_REBALANCE), "rebalance");
	CHECK_EQ_STR(plan_skip_name(SKIP_FOREIGN_TARGET), "foreign_target");
	CHECK_EQ_STR(plan_skip_name(SKIP_NO_CANDIDATE), "no_candidate");
	CHECK_EQ_STR(health_name((enum health)42), "invalid");
}

TEST(empty_inputs)
{
	struct plan p;
	plan_compute(NULL, 0, NULL, 0, &p);
	CHECK_EQ_INT(p.n_actions, 0);
	CHECK_EQ_INT(p.n_skipped, 0);
	CHECK(!p.fail_open);
	plan_release(&p);

	/* No servers at all: every IP is unassignable, nothing moves. */
	struct plan_fip f[] = { fip(1, "fsn1", EU, NONE, 0) };
	plan_compute(NULL, 0, f, 1, &p);
	CHECK_EQ_INT(p.n_actions, 0);
	CHECK(p.n_skipped == 1 && p.skipped[0].reason == SKIP_NO_CANDIDATE);
	CHECK(!p.fail_open);
	CHECK_EQ_INT(p.n_candidates, 0);
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
		fip(13, "fsn1", EU, 2, 4),   /* lb-n -> lb-d id 6 */
	};
	struct plan p;
	PLAN(&p, s, f);
	const struct plan_action *a = action_for(&p, 10);
	CHECK(a && a->from == 1 && a->to == 3 && a->reason == REASON_CANONICAL);
	a = action_for(&p, 11);
	CHECK(a && a->to == 3 && a->reason == REASON_UNASSIGNED);
	/* Not the fsn1 server with index 0: its own location, spread. */
	a = action_for(&p, 12);
	CHECK(a && (a->to == 4 || a->to == 5));
	CHECK(a && a->reason == REASON_UNASSIGNED);
	a = action_for(&p, 13);
	CHECK(a && a->to == 6 && a->reason == REASON_CANONICAL);
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
	/* Spread: 10 -> lb-a, 11 stays on lb-b. Had none matched none, both
	 * would have gone to lb-a as canonical. */
	CHECK_EQ_INT(p.n_actions, 1);
	const struct plan_action *a = action_for(&p, 10);
	CHECK(a && a->to == 1 && a->reason == REASON_REBALANCE);
	CHECK(action_for(&p, 11) == NULL);
	for (size_t i = 0; i < p.n_actions; i++)
		CHECK(p.actions[i].reason != REASON_CANONICAL);
	plan_release(&p);

	/* Index on one side only: no match either. */
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
	CHECK(target_of(&p, f2, 2, 10) != target_of(&p, f2, 2, 11));
	plan_release(&p);
}

/* Least-loaded wins; canonical assignments count; ties by candidate order. */
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
}

TEST(fail_open_when_all_unhealthy)
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
	};
	struct plan p;
	PLAN(&p, s, f);
	CHECK(p.fail_open);
	CHECK_EQ_INT(p.n_candidates, 3);
	/* 10 stays on a; 11 -> b; 12 -> c. Nobody is "target_unhealthy". */
	CHECK(action_for(&p, 10) == NULL);
	const struct plan_action *a = action_for(&p, 11);
	CHECK(a && a->to == 2 && a->reason == REASON_REBALANCE);
	a = action_for(&p, 12);
	CHECK(a && a->to == 3 && a->reason == REASON_UNASSIGNED);
	plan_release(&p);

	/* One healthy server ends fail-open. */
	s[2].status = H;
	PLAN(&p, s, f);
	CHECK(!p.fail_open);
	CHECK_EQ_INT(p.n_candidates, 1);
	for (size_t i = 0; i < p.n_actions; i++)
		CHECK_EQ_INT(p.actions[i].to, 3);
	CHECK_EQ_INT(p.n_actions, 3);
	plan_release(&p);
}

TEST(unknown_not_candidate_while_others_healthy)
{
	struct plan_server s[] = {
		srv(1, "a", "fsn1", EU, NONE, K),
		srv(2, "b", "fsn1", EU, NONE, H),
	};
	struct plan_fip f[] = {
		fip(10, "fsn1", EU, NONE, 1),
		fip(11, "fsn1", EU, NONE, 0),
	};
	struct plan p;
	PLAN(&p, s, f);
	CHECK(!p.fail_open);
	CHECK_EQ_INT(p.n_candidates, 1);
	const struct plan_action *a = action_for(&p, 10);
	CHECK(a && a->from == 1 && a->to == 2 && a->reason == REASON_TARGET_UNHEALTHY);
	a = action_for(&p, 11);
	CHECK(a && a->to == 2 && a->reason == REASON_UNASSIGNED);
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
	};
	struct plan_fip f[] = {
		fip(10, "fsn1", EU, NONE, 0),  /* unassigned */
		fip(11, "fsn1", EU, NONE, 3),  /* target_unhealthy */
		fip(12, "fsn1", EU, 0, 2),     /* canonical */
		fip(13, "fsn1", EU, NONE, 4),  /* rebalance or stays */
		fip(14, "fsn1", EU, NONE, 4),
		fip(15, "fsn1", EU, 0, 0),     /* unassigned beats canonical */
		fip(16, "fsn1", EU, 0, 3),     /* target_unhealthy beats canonical */
	};
	struct plan p;
	PLAN(&p, s, f);
	const struct plan_action *a;
	a = action_for(&p, 10);
	CHECK(a && a->from == 0 && a->reason == REASON_UNASSIGNED);
	a = action_for(&p, 11);
	CHECK(a && a->from == 3 && a->reason == REASON_TARGET_UNHEALTHY);
	a = action_for(&p, 12);
	CHECK(a && a->from == 2 && a->to == 1 && a->reason == REASON_CANONICAL);
	a = action_for(&p, 15);
	CHECK(a && a->to == 1 && a->reason == REASON_UNASSIGNED);
	a = action_for(&p, 16);
	CHECK(a && a->to == 1 && a->reason == REASON_TARGET_UNHEALTHY);
	/* a holds 3 canonical IPs; 10 -> b, 11 -> d, 13 -> b, 14 -> d stays. */
	CHECK_EQ_INT(target_of(&p, f, 7, 10), 2);
	CHECK_EQ_INT(target_of(&p, f, 7, 11), 4);
	a = action_for(&p, 13);
	CHECK(a && a->from == 4 && a->to == 2 && a->reason == REASON_REBALANCE);
	CHECK(action_for(&p, 14) == NULL);
	/* Actions come in floating-IP id order. */
	for (size_t i = 1; i < p.n_actions; i++)
		CHECK(p.actions[i - 1].fip < p.actions[i].fip);
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
};

/*
 * Random but adversarial: few names and indexes (many ties), some
 * locations without servers, now and then a location in the wrong zone,
 * IPs pointing at members, non-members and nothing.
 */
static void world_random(struct world *w, size_t max_s, size_t max_f)
{
	w->ns = rnd(max_s + 1);
	w->nf = rnd(max_f + 1);
	w->s = calloc(w->ns + 1, sizeof *w->s);
	w->f = calloc(w->nf + 1, sizeof *w->f);
	size_t nloc = 1 + rnd(ARRAY_SIZE(locs));
	int health_mode = (int)rnd(4);   /* 0: all unhealthy, else mixed */
	for (size_t i = 0; i < w->ns; i++) {
		size_t l = rnd(nloc);
		enum health st = health_mode == 0 ? (rnd(2) ? U : K)
			: (enum health)rnd(3);
		w->s[i] = srv((int64_t)(i * 3 + 100 + rnd(3)), names[rnd(ARRAY_SIZE(names))],
			      locs[l], rnd(40) ? zones[l] : zones[(l + 3) % 5],
			      rnd(2) ? (int64_t)rnd(4) : NONE, st);
	}
	for (size_t i = 0; i < w->nf; i++) {
		size_t l = rnd(ARRAY_SIZE(locs));
		int64_t target = 0;
		size_t t = rnd(10);
		if (t >= 2 && w->ns)
			target = w->s[rnd(w->ns)].id;
		else if (t == 1)
			target = 5000 + (int64_t)rnd(10);
		w->f[i] = fip((int64_t)(i * 2 + 1 + rnd(2)), locs[l], zones[l],
			      rnd(2) ? (int64_t)rnd(5) : NONE, target);
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

static bool plan_equal(const struct plan *a, const struct plan *b)
{
	if (a->n_actions != b->n_actions || a->n_skipped != b->n_skipped ||
	    a->fail_open != b->fail_open || a->n_candidates != b->n_candidates)
		return false;
	for (size_t i = 0; i < a->n_actions; i++)
		if (a->actions[i].fip != b->actions[i].fip ||
		    a->actions[i].from != b->actions[i].from ||
		    a->actions[i].to != b->actions[i].to ||
		    a->actions[i].reason != b->actions[i].reason)
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
	for (int round = 0; round < 20; round++) {
		struct world w;
		world_random(&w, 60, 120);
		struct plan first;
		plan_compute(w.s, w.ns, w.f, w.nf, &first);
		for (int k = 0; k < 25; k++) {
			shuffle(&w);
			struct plan p;
			plan_compute(w.s, w.ns, w.f, w.nf, &p);
			CHECK(plan_equal(&first, &p));
			plan_release(&p);
		}
		plan_release(&first);
		world_free(&w);
	}
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
	PLAN(&p, s, f);
	CHECK(p.n_actions <= 3);
	struct plan_server s2[] = { s[3], s[1], s[2], s[0] };
	struct plan_fip f2[] = { f[2], f[0], f[1] };
	PLAN(&q, s2, f2);
	CHECK(plan_equal(&p, &q));
	plan_release(&p);
	plan_release(&q);
}

/* The reference: SPEC section 5 read literally, O(n^2), no cleverness. */

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

static void ref_plan(const struct world *w, struct plan *out)
{
	memset(out, 0, sizeof *out);
	out->actions = calloc(w->nf + 1, sizeof *out->actions);
	out->skipped = calloc(w->nf + 1, sizeof *out->skipped);

	size_t healthy = 0;
	for (size_t i = 0; i < w->ns; i++)
		healthy += w->s[i].status == H;
	out->fail_open = w->ns > 0 && healthy == 0;

	const struct plan_server **c = calloc(w->ns + 1, sizeof *c);
	size_t nc = 0;
	for (size_t i = 0; i < w->ns; i++)
		if (out->fail_open || w->s[i].status == H)
			c[nc++] = &w->s[i];
	for (size_t i = 1; i < nc; i++)            /* insertion sort */
		for (size_t j = i; j > 0 && ref_before(c[j], c[j - 1]); j--) {
			const struct plan_server *t = c[j];
			c[j] = c[j - 1];
			c[j - 1] = t;
		}
	out->n_candidates = nc;
	size_t *count = calloc(nc + 1, sizeof *count);

	const struct plan_fip **f = calloc(w->nf + 1, sizeof *f);
	for (size_t i = 0; i < w->nf; i++)
		f[i] = &w->f[i];
	for (size_t i = 1; i < w->nf; i++)
		for (size_t j = i; j > 0 && f[j]->id < f[j - 1]->id; j--) {
			const struct plan_fip *t = f[j];
			f[j] = f[j - 1];
			f[j - 1] = t;
		}

	long *to = calloc(w->nf + 1, sizeof *to);      /* candidate index, -1 none */
	bool *managed = calloc(w->nf + 1, sizeof *managed);
	bool *canon = calloc(w->nf + 1, sizeof *canon);
	for (size_t i = 0; i < w->nf; i++) {
		to[i] = -1;
		bool member = false, zone_ok = false;
		for (size_t k = 0; k < w->ns; k++)
			member |= w->s[k].id == f[i]->server;
		for (size_t k = 0; k < nc; k++)
			zone_ok |= ref_cmp_str(c[k]->network_zone, f[i]->network_zone) == 0;
		if (f[i]->server != 0 && !member)
			out->skipped[out->n_skipped++] =
				(struct plan_skip){ f[i]->id, f[i]->server, SKIP_FOREIGN_TARGET };
		else if (!zone_ok)
			out->skipped[out->n_skipped++] =
				(struct plan_skip){ f[i]->id, f[i]->server, SKIP_NO_CANDIDATE };
		else
			managed[i] = true;
	}
	for (size_t i = 0; i < w->nf; i++) {
		if (!managed[i] || !f[i]->has_index)
			continue;
		for (size_t k = 0; k < nc; k++) {
			if (ref_cmp_str(c[k]->network_zone, f[i]->network_zone) == 0 &&
			    ref_cmp_str(c[k]->location, f[i]->location) == 0 &&
			    c[k]->has_index && c[k]->resource_index == f[i]->resource_index) {
				to[i] = (long)k;
				canon[i] = true;
				count[k]++;
				break;
			}
		}
	}
	for (size_t i = 0; i < w->nf; i++) {
		if (!managed[i] || to[i] >= 0)
			continue;
		long best = -1;
		for (int pass = 0; pass < 2 && best < 0; pass++) {
			for (size_t k = 0; k < nc; k++) {
				if (ref_cmp_str(c[k]->network_zone, f[i]->network_zone) != 0)
					continue;
				if (pass == 0 && ref_cmp_str(c[k]->location, f[i]->location) != 0)
					continue;
				if (best < 0 || count[k] < count[best])
					best = (long)k;
			}
		}
		to[i] = best;
		count[best]++;
	}
	for (size_t i = 0; i < w->nf; i++) {
		if (!managed[i] || c[to[i]]->id == f[i]->server)
			continue;
		bool was_cand = false;
		for (size_t k = 0; k < nc; k++)
			was_cand |= c[k]->id == f[i]->server;
		enum plan_reason r = f[i]->server == 0 ? REASON_UNASSIGNED
			: !was_cand ? REASON_TARGET_UNHEALTHY
			: canon[i] ? REASON_CANONICAL : REASON_REBALANCE;
		out->actions[out->n_actions++] =
			(struct plan_action){ f[i]->id, f[i]->server, c[to[i]]->id, r };
	}
	free(c);
	free(count);
	free(f);
	free(to);
	free(managed);
	free(canon);
}

/* Unique ids, as the API guarantees: the reference has no tie-breakers. */
static void world_unique_ids(struct world *w)
{
	for (size_t i = 0; i < w->ns; i++)
		w->s[i].id = (int64_t)i + 100;
	for (size_t i = 0; i < w->nf; i++)
		w->f[i].id = (int64_t)(w->nf - i);
}

TEST(cross_check_reference)
{
	size_t sizes[][2] = { { 3, 5 }, { 8, 20 }, { 30, 60 }, { 120, 300 } };
	size_t moves = 0, skips = 0, opens = 0;
	for (size_t z = 0; z < ARRAY_SIZE(sizes); z++) {
		for (int round = 0; round < 300; round++) {
			struct world w;
			world_random(&w, sizes[z][0], sizes[z][1]);
			world_unique_ids(&w);
			struct plan got, want;
			plan_compute(w.s, w.ns, w.f, w.nf, &got);
			ref_plan(&w, &want);
			if (!plan_equal(&got, &want)) {
				CHECK(plan_equal(&got, &want));
				fprintf(stderr, "  size %zu round %d: %zu servers, %zu IPs; got %zu actions, want %zu\n",
					z, round, w.ns, w.nf, got.n_actions, want.n_actions);
				z = ARRAY_SIZE(sizes);
				round = 1000;
			}
			moves += got.n_actions;
			skips += got.n_skipped;
			opens += got.fail_open;
			plan_release(&got);
			plan_release(&want);
			world_free(&w);
		}
	}
	/* The generator must exercise every branch, or the check is hollow. */
	CHECK(moves > 1000);
	CHECK(skips > 100);
	CHECK(opens > 10);
}

/* Per-reason coverage of the random worlds, so the cross-check means something. */
TEST(cross_check_covers_reasons)
{
	size_t seen[4] = { 0 }, seen_skip[2] = { 0 };
	for (int round = 0; round < 200; round++) {
		struct world w;
		world_random(&w, 40, 80);
		world_unique_ids(&w);
		struct plan p;
		plan_compute(w.s, w.ns, w.f, w.nf, &p);
		for (size_t i = 0; i < p.n_actions; i++)
			seen[p.actions[i].reason]++;
		for (size_t i = 0; i < p.n_skipped; i++)
			seen_skip[p.skipped[i].reason]++;
		plan_release(&p);
		world_free(&w);
	}
	for (size_t i = 0; i < 4; i++)
		CHECK(seen[i] > 10);
	CHECK(seen_skip[0] > 10);
	CHECK(seen_skip[1] > 10);
}

int main(void)
{
	RUN(enum_names);
	RUN(empty_inputs);
	RUN(same_location_preference);
	RUN(canonical_match);
	RUN(canonical_beats_spread);
	RUN(none_never_matches_none);
	RUN(spread_least_loaded_ties_first);
	RUN(fail_open_when_all_unhealthy);
	RUN(unknown_not_candidate_while_others_healthy);
	RUN(foreign_target_left_alone);
	RUN(no_candidate_in_zone_left_alone);
	RUN(fallback_pool_is_own_zone);
	RUN(assignments_in_place_dropped);
	RUN(reasons);
	RUN(same_plan_in_any_order);
	RUN(duplicate_ids_do_not_crash);
	RUN(cross_check_reference);
	RUN(cross_check_covers_reasons);
	return test_report();
}
