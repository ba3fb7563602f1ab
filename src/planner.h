/*
 * planner.h — the deterministic planner (SPEC section 5). Pure: no I/O,
 * no clock, no allocation visible to the caller except through struct
 * plan. The same servers and floating IPs, in any order, give the same
 * plan.
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
};

enum plan_reason {
	REASON_UNASSIGNED,           /* the IP pointed nowhere */
	REASON_TARGET_UNHEALTHY,     /* its server is not a candidate */
	REASON_CANONICAL,            /* resource_index match */
	REASON_REBALANCE,            /* even spread */
};

const char *plan_reason_name(enum plan_reason r);

struct plan_action {
	int64_t fip;
	int64_t from;                /* 0: unassigned */
	int64_t to;
	enum plan_reason reason;
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
	struct plan_action *actions; /* in floating-IP id order */
	size_t n_actions;
	struct plan_skip *skipped;   /* in floating-IP id order */
	size_t n_skipped;
	bool fail_open;              /* no server healthy: all were candidates */
	size_t n_candidates;
};

/* planner.c */
void plan_compute(const struct plan_server *servers, size_t n_servers,
		  const struct plan_fip *fips, size_t n_fips, struct plan *out);
void plan_release(struct plan *p);

#endif
