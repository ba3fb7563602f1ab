/* rules.c — tell once, failing-plan reminders, deferral, heartbeat. */
#include "rules.h"

#include <stdlib.h>
#include <string.h>

#include "health.h"
#include "util.h"

bool tell_once(char **memory, const char *key)
{
	const char *k = key && *key ? key : NULL;
	const char *m = *memory && **memory ? *memory : NULL;
	if (str_eq(k, m))
		return false;
	free(*memory);
	*memory = k ? xstrdup(k) : NULL;
	return true;
}

enum plan_note failed_plan_note(bool again, const char *old_errors, const char *errors,
				int64_t told_at, int64_t now)
{
	if (!again || !str_eq(old_errors, errors))
		return PLAN_NOTE_TELL;
	if (told_at > now)
		told_at = now;           /* the clock stepped back */
	return now - told_at >= FAILED_PLAN_REMIND_MS ? PLAN_NOTE_REMIND : PLAN_NOTE_SILENT;
}

static const struct plan_server *find_server(const struct plan_server *s, size_t n, int64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (s[i].id == id)
			return &s[i];
	return NULL;
}

static int cmp_action_fip(const void *key, const void *elem)
{
	int64_t k = *(const int64_t *)key, f = ((const struct plan_action *)elem)->fip;
	return (k > f) - (k < f);
}

static int64_t current_target(const struct plan_fip *f, size_t n, int64_t fip)
{
	for (size_t i = 0; i < n; i++)
		if (f[i].id == fip)
			return f[i].server;
	return 0;
}

size_t defer_moves(const struct plan *a, const struct plan *b,
		   const struct plan_server *servers, size_t n_servers,
		   const struct plan_fip *fips, size_t n_fips, bool *deferred)
{
	size_t n = 0;
	for (size_t i = 0; i < a->n_actions; i++) {
		const struct plan_action *x = &a->actions[i];
		deferred[i] = false;
		/* Towards a server not known to be healthy (no server is, and
		 * the plan spreads over all): nothing is known yet, wait. */
		const struct plan_server *dst = find_server(servers, n_servers, x->to);
		if (!dst || dst->status != HEALTH_HEALTHY) {
			deferred[i] = true;
			n++;
			continue;
		}
		if (x->from) {
			const struct plan_server *src = find_server(servers, n_servers, x->from);
			if (!src || src->status == HEALTH_UNHEALTHY)
				continue;        /* leaving a dead or vanished server */
		}
		/* Both plans list actions in floating-IP id order. */
		const struct plan_action *y = b->n_actions ?
			bsearch(&x->fip, b->actions, b->n_actions, sizeof *b->actions,
				cmp_action_fip) : NULL;
		int64_t to_b = y ? y->to : current_target(fips, n_fips, x->fip);
		if (to_b != x->to) {
			deferred[i] = true;
			n++;
		}
	}
	return n;
}

int64_t defer_bound_ms(const int64_t *interval, const int64_t *timeout, const int *rise, size_t n)
{
	int64_t longest = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t r = rise[i] < 1 ? 1 : rise[i], t;
		if (__builtin_mul_overflow(r, interval[i], &t) ||
		    __builtin_add_overflow(t, timeout[i], &t))
			return INT64_MAX;
		if (t > longest)
			longest = t;
	}
	return longest;
}

bool heartbeat_due(int64_t last_ok, int64_t interval_ms, int64_t now)
{
	/* As with checks: a timer firing at the interval must not skip a beat. */
	int64_t slack = interval_ms / 10 > 1000 ? 1000 : interval_ms / 10;
	if (!last_ok || last_ok > now)
		return true;             /* never, or the clock stepped back */
	return now - last_ok >= interval_ms - slack;
}

bool heartbeat_allowed(const int64_t *window, const int64_t *pass_age, const bool *pass_ok,
		       size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (pass_age[i] < 0 || !pass_ok[i] || pass_age[i] > window[i])
			return false;
	return true;
}
