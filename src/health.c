/*
 * health.c — health counters (HAProxy rise/fall), server status as the
 * worst of its targets.
 */
#include <limits.h>

#include "health.h"

static int saturating_inc(int v)
{
	if (v < 0)
		return 1;
	return v == INT_MAX ? v : v + 1;
}

enum health health_update(struct health_counters *c, bool success, int rise,
			  int fall)
{
	if (rise < 1)
		rise = 1;
	if (fall < 1)
		fall = 1;

	if (success) {
		c->rise_count = saturating_inc(c->rise_count);
		c->fall_count = 0;
		if (c->rise_count >= rise)
			c->state = HEALTH_HEALTHY;
	} else {
		c->fall_count = saturating_inc(c->fall_count);
		c->rise_count = 0;
		if (c->fall_count >= fall)
			c->state = HEALTH_UNHEALTHY;
	}
	return c->state;
}

/* Higher is worse; an out-of-range value (a corrupt store) counts as unknown. */
static int health_rank(enum health h)
{
	switch (h) {
	case HEALTH_HEALTHY:
		return 0;
	case HEALTH_UNHEALTHY:
		return 2;
	case HEALTH_UNKNOWN:
	case HEALTH_UNCHECKABLE:
	default:
		return 1;
	}
}

enum health health_worse(enum health a, enum health b)
{
	static const enum health by_rank[] = {
		HEALTH_HEALTHY, HEALTH_UNKNOWN, HEALTH_UNHEALTHY,
	};
	int ra = health_rank(a), rb = health_rank(b);

	return by_rank[ra > rb ? ra : rb];
}

enum health health_server_status(const struct health_counters *targets,
				 size_t n)
{
	enum health worst;

	if (n == 0)
		return HEALTH_UNKNOWN;
	worst = HEALTH_HEALTHY;
	for (size_t i = 0; i < n; i++)
		worst = health_worse(worst, targets[i].state);
	return worst;
}
