/*
 * planner.h — the deterministic planner (SPEC section 5). Pure: no I/O,
 * no clock, no allocation visible to the caller except through struct
 * plan. The same servers and floating IPs, in any order, give the same
 * plan.
 *
 * Time enters only through the caller: a server in probation (healthy
 * for less than failback_delay) carries probation = true, and the caller
 * turns the plan's pending moves into due times.
 *
 * Inputs are borrowed: the planner keeps no pointer into them after
 * plan_compute() returns. struct plan owns its arrays; plan_release()
 * frees them.
 */
#ifndef FLIPPER_PLANNER_H
#define FLIPPER_PLANNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A server's health. Uncheckable: no configured check can reach it.
 * Unknown and uncheckable servers keep the IPs they hold and receive
 * none.
 */
enum health { HEALTH_UNKNOWN, HEALTH_HEALTHY, HEALTH_UNHEALTHY, HEALTH_UNCHECKABLE };

const char *health_name(enum health h);
int health_parse(const char *s, enum health *out);

struct plan_server {
	int64_t id;
	const char *name;
	const char *location;
	const char *network_zone;
	bool has_index;              /* resource_index label present and an integer */
	int64_t resource_index;
	enum health status;
	bool probation;              /* healthy for less than failback_delay */
};

struct plan_fip {
	int64_t id;
	const char *name;
	const char *ip;
	const char *location;        /* home location */
	const char *network_zone;
	bool has_index;
	int64_t resource_index;
	int64_t server;              /* current target; 0 = unassigned */
	/*
	 * server is not among the servers because it no longer exists (the
	 * caller confirmed it): the IP must move. Without it, a target
	 * outside the group is someone else's and left alone.
	 */
	bool server_missing;
};

/* What a group does when none of its servers is healthy. */
enum plan_none_healthy {
	PLAN_FREEZE,                 /* no actions (default) */
	PLAN_SPREAD,                 /* every server is a candidate (the original) */
};

extern const char *const plan_none_healthy_names[];  /* NULL-terminated */
const char *plan_none_healthy_name(enum plan_none_healthy w);
int plan_none_healthy_parse(const char *s, enum plan_none_healthy *out);

/* A zeroed struct is the default: freeze, no rebalance. */
struct plan_options {
	enum plan_none_healthy when_none_healthy;
	bool rebalance;              /* even out each location with the fewest moves */
};

/* Why an IP moves. The first that applies, in this order. */
enum plan_reason {
	REASON_UNASSIGNED,           /* it pointed nowhere */
	REASON_TARGET_MISSING,       /* its server no longer exists */
	REASON_TARGET_UNHEALTHY,     /* its server is unhealthy */
	REASON_TARGET_NOT_CANDIDATE, /* its server may not hold it (another network zone) */
	REASON_RETURN_HOME,          /* its home location has a candidate again */
	REASON_CANONICAL,            /* resource_index match */
	REASON_REBALANCE,            /* rebalance: true */
	REASON_PENDING,              /* withheld by probation: see plan_action.withheld */
};

const char *plan_reason_name(enum plan_reason r);

struct plan_action {
	int64_t fip;
	int64_t from;                /* 0: unassigned */
	int64_t to;
	enum plan_reason reason;
	/* REASON_PENDING only: the move it will be (canonical, return_home, rebalance). */
	enum plan_reason withheld;
};

enum plan_skip_reason {
	SKIP_FOREIGN_TARGET,         /* points at a server outside the group */
	SKIP_NO_CANDIDATE,           /* no candidate in its network zone */
};

const char *plan_skip_name(enum plan_skip_reason r);

struct plan_skip {
	int64_t fip;
	int64_t server;              /* current target, 0 if none */
	enum plan_skip_reason reason;
};

struct plan {
	struct plan_action *actions; /* to apply, in floating-IP id order */
	size_t n_actions;
	/*
	 * Moves withheld because their destination is in probation, in
	 * floating-IP id order: reason REASON_PENDING, to is that server. The
	 * IP stays where it is until the caller's clock ends the probation.
	 */
	struct plan_action *pending;
	size_t n_pending;
	struct plan_skip *skipped;   /* in floating-IP id order */
	size_t n_skipped;
	bool fail_open;              /* none healthy, spread: all servers were candidates */
	bool frozen;                 /* none healthy, freeze: no actions, no pending */
	size_t n_candidates;
};

/* planner.c */
/* opts NULL: the defaults. */
void plan_compute(const struct plan_options *opts,
		  const struct plan_server *servers, size_t n_servers,
		  const struct plan_fip *fips, size_t n_fips, struct plan *out);
void plan_release(struct plan *p);

#endif
