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

/* ---- trusting the API ------------------------------------------------------ */

bool listing_shrank_sharply(size_t known, size_t listed)
{
	if (!known || listed >= known)
		return false;
	return listed == 0 || listed < known - listed;   /* lost more than half */
}

bool vanished_kept(int64_t vanished_at, int64_t now)
{
	if (vanished_at > now)
		vanished_at = now;       /* the clock stepped back */
	return now - vanished_at < VANISHED_KEEP_MS;
}

bool vanished_missing(enum server_gone gone, int absent_listings)
{
	if (gone == GONE_MISSING)
		return true;
	if (gone == GONE_ELSEWHERE)
		return false;
	return absent_listings >= 2;
}

size_t reread_merge(struct hc_fip *cached, size_t n_cached, const struct hc_fip *reread,
		    size_t n_reread, size_t *added)
{
	size_t i = 0, j = 0, lacking = 0;
	*added = 0;
	while (i < n_cached || j < n_reread) {
		if (j >= n_reread || (i < n_cached && cached[i].id < reread[j].id)) {
			lacking++;
			i++;
		} else if (i >= n_cached || reread[j].id < cached[i].id) {
			(*added)++;      /* new to flipper: the next listing brings it in */
			j++;
		} else {
			cached[i++].server = reread[j++].server;
		}
	}
	return lacking;
}

bool none_healthy_known(const enum health *h, size_t n)
{
	bool unhealthy = false;
	for (size_t i = 0; i < n; i++) {
		if (h[i] == HEALTH_HEALTHY || h[i] == HEALTH_UNKNOWN)
			return false;
		unhealthy |= h[i] == HEALTH_UNHEALTHY;
	}
	return unhealthy;
}

/* ---- the correlated-failure hold --------------------------------------------- */

bool corr_failing_anew(const struct corr_target *t)
{
	return t->fall_count > 0 && t->fall_count <= (t->fall < 1 ? 1 : t->fall);
}

/* Every target of family fam failing anew, on two servers or more, while the other family works. */
static bool family_lost(const struct corr_target *t, size_t n, int fam)
{
	size_t servers = 0;
	bool other_ok = false;
	int64_t last = 0;
	for (size_t i = 0; i < n; i++) {
		if (t[i].family != fam) {
			other_ok |= t[i].fall_count == 0;
			continue;
		}
		if (!corr_failing_anew(&t[i]))
			return false;
		if (!servers || t[i].server != last)
			servers++;
		last = t[i].server;
	}
	return servers >= 2 && other_ok;
}

enum corr_verdict corr_judge(const struct corr_target *t, size_t n)
{
	size_t servers = 0, failing = 0;
	for (size_t i = 0; i < n;) {
		size_t end = i;
		bool fails = false;
		while (end < n && t[end].server == t[i].server)
			fails |= corr_failing_anew(&t[end++]);
		servers++;
		failing += fails;
		i = end;
	}
	if (servers >= 2 && failing * 2 > servers)
		return CORR_CORRELATED;
	if (family_lost(t, n, 4) || family_lost(t, n, 6))
		return CORR_CORRELATED;
	/*
	 * In monitor the results of one check round arrive one by one: a
	 * quarter of the servers failing anew may be the first half of a
	 * blind checker. Fewer, in a larger group, are ordinary failures and
	 * fail over at once.
	 */
	return failing >= 2 && failing * 4 > servers ? CORR_SUSPECT : CORR_NONE;
}

bool corr_hold(enum corr_verdict v, int64_t *since, int64_t *hold_until, int64_t now,
	       int64_t interval)
{
	if (v == CORR_NONE) {
		*since = *hold_until = 0;
		return false;
	}
	if (!*since || *since > now)
		*since = now;                    /* or the clock stepped back */
	*hold_until = now + interval;
	return true;
}

enum thaw freeze_step(bool frozen, bool all_checked, int64_t *frozen_since, int64_t *thaw_since,
		      int64_t now, int64_t bound)
{
	if (frozen) {
		if (!*frozen_since || *frozen_since > now)
			*frozen_since = now;
		*thaw_since = 0;
		return THAW_FROZEN;
	}
	if (!*frozen_since) {
		*thaw_since = 0;
		return THAW_NONE;
	}
	enum thaw t = THAW_WAIT;
	if (!*thaw_since || *thaw_since > now) {
		*thaw_since = now;       /* or the clock stepped back */
		t = THAW_BEGUN;
	}
	if (all_checked || now - *thaw_since >= bound) {
		*frozen_since = *thaw_since = 0;
		return THAW_OVER;
	}
	return t;
}

/* ---- an apply a dead flipper left ---------------------------------------------- */

const char *step_end_name(enum step_end e)
{
	static const char *const names[] = {
		[STEP_END_APPLIED] = "applied", [STEP_END_NOT_APPLIED] = "not applied",
		[STEP_END_RUNNING] = "still running at the API", [STEP_END_FAILED] = "failed",
		[STEP_END_SUPERSEDED] = "superseded",
	};
	return (size_t)e < ARRAY_SIZE(names) ? names[e] : "?";
}

const char *apply_end_name(enum apply_end e)
{
	static const char *const names[] = {
		[APPLY_END_APPLIED] = "applied", [APPLY_END_PARTLY] = "partly applied",
		[APPLY_END_NOT_APPLIED] = "not applied", [APPLY_END_SUPERSEDED] = "superseded",
	};
	return (size_t)e < ARRAY_SIZE(names) ? names[e] : "?";
}

enum step_end step_conclude(const struct store_apply_step *s, int action, bool exists,
			    int64_t now_on)
{
	if (s->outcome == STEP_APPLIED)
		return STEP_END_APPLIED;
	if (s->outcome == STEP_FAILED)
		return STEP_END_FAILED;
	if (!exists)
		return STEP_END_SUPERSEDED;
	/* The listing may be older than the action's end: either says applied. */
	if (now_on == s->to || action == HC_ACTION_SUCCESS)
		return STEP_END_APPLIED;
	if (now_on != s->from)
		return STEP_END_SUPERSEDED;
	if (action == HC_ACTION_ERROR)
		return STEP_END_FAILED;
	if (action == HC_ACTION_RUNNING)
		return STEP_END_RUNNING;
	return STEP_END_NOT_APPLIED;
}

enum apply_end apply_conclude(const enum step_end *e, size_t n)
{
	size_t applied = 0, superseded = 0;
	for (size_t i = 0; i < n; i++) {
		applied += e[i] == STEP_END_APPLIED;
		superseded += e[i] == STEP_END_SUPERSEDED;
	}
	if (n && applied == n)
		return APPLY_END_APPLIED;
	if (applied)
		return APPLY_END_PARTLY;
	return superseded ? APPLY_END_SUPERSEDED : APPLY_END_NOT_APPLIED;
}

/* ---- the outbox against clock steps ---------------------------------------------- */

int64_t outbox_clamp_next(int64_t next_attempt, int64_t now, int64_t max_backoff)
{
	return next_attempt - now > max_backoff ? now + max_backoff : next_attempt;
}

int64_t outbox_clamp_created(int64_t created_at, int64_t now)
{
	return created_at > now ? now : created_at;
}

int outbox_max_attempts(int64_t first, int64_t max, int64_t keep_ms)
{
	int64_t total = 0, delay = first < 1 ? 1 : first;
	int n = 0;
	while (total < keep_ms && n < 1000000) {
		total += delay > max ? max : delay;
		if (delay < max)
			delay *= 2;
		n++;
	}
	return n;
}
