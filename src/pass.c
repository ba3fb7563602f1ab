/*
 * pass.c — a group's pass (SPEC section 9) as a small state machine:
 *
 *   IDLE ──► LISTING ──► (CHECKING) ──► plan ──► APPLYING ──► IDLE
 *            when the     one-shot:      apply.c   re-read the
 *            inventory    wait for the             IPs, apply
 *            is due       group's checks
 *
 * A pass starts when something asks for one (a server's health changed,
 * the first start), or every pass_interval() when nothing does: that
 * lists the inventory when it is due, retries a plan that failed, and
 * shows that the group is alive (the heartbeat counts on it). Each pass
 * ends in pass_conclude(), which records whether it succeeded.
 */
#include <stdlib.h>
#include <string.h>

#include "group.h"
#include "log.h"
#include "rules.h"

static void pass_plan(struct group *g);

int64_t pass_interval(const struct group_config *cfg)
{
	int64_t every = cfg->poll_interval_ms > 0 ? cfg->poll_interval_ms : 0;
	for (size_t i = 0; i < cfg->n_checks; i++)
		if (cfg->checks[i].interval_ms > 0 &&
		    (!every || cfg->checks[i].interval_ms < every))
			every = cfg->checks[i].interval_ms;
	/*
	 * Not faster than once a second: a plan the API refuses is retried
	 * at this pace, and the API allows one request a second on average.
	 */
	return every < 1000 ? 1000 : every;
}

/* What makes an API failure news: the request and the code, no correlation id. */
static char *hc_error_key(const struct hc_error *err)
{
	if (err->code)
		return xasprintf("%s %s: %s", err->method ? err->method : "?",
				 err->path ? err->path : "?", err->code);
	return xasprintf("%s %s: HTTP %d", err->method ? err->method : "?",
			 err->path ? err->path : "?", err->http_status);
}

/*
 * The group's failure record: kept while it fails, told once per
 * distinct failure, and once more when the group passes again. A
 * failing apply is told by its own messages (plan_outcome), so it is
 * recorded here but not told twice.
 */
static void record(struct group *g, const char *phase, const char *error, const char *key)
{
	struct engine *e = g->e;
	struct store_pass *p = &g->pass;
	int64_t now = now_ms();
	struct buf b = BUF_INIT;
	p->last_pass_at = now;
	p->last_pass_ok = !phase;
	if (phase)
		metrics_count_failure(g, phase);
	if (!phase) {
		p->last_ok_at = now;
		if (p->fail_since) {
			char since[32];
			format_time_utc(p->fail_since, since);
			log_kv(LOG_INFO, g->cfg->id, "the group passes again", "failing_since", since,
			       "phase", p->fail_phase, NULL);
			if (!str_eq(p->fail_phase, "apply")) {
				msg_group_recovered(&b, g->cfg, p->fail_phase, since);
				engine_post(e, g, "group_recovered", &b);
			}
		}
		free(p->fail_phase);
		free(p->fail_error);
		free(p->fail_key);
		p->fail_phase = p->fail_error = p->fail_key = NULL;
		p->fail_since = 0;
		buf_release(&b);
		return;
	}
	char *full = xasprintf("%s: %s", phase, key ? key : error);
	bool news = !str_eq(full, p->fail_key);
	if (!p->fail_since || p->fail_since > now)
		p->fail_since = now;
	free(p->fail_phase);
	free(p->fail_error);
	free(p->fail_key);
	p->fail_phase = xstrdup(phase);
	p->fail_error = xstrdup(error ? error : "");
	p->fail_key = full;
	if (news) {
		char since[32];
		format_time_utc(p->fail_since, since);
		log_kv(LOG_WARN, g->cfg->id, "the group is failing", "phase", phase,
		       "error", error, "since", since, NULL);
		if (strcmp(phase, "apply") != 0) {
			msg_group_failing(&b, g->cfg, phase, error, since);
			engine_post(e, g, "group_failing", &b);
		}
	}
	buf_release(&b);
}

/* The pass ended; phase NULL: it succeeded, else where it failed and why. */
static void conclude(struct group *g, const char *phase, const char *error, const char *key)
{
	struct engine *e = g->e;
	int64_t mono = mono_ms();
	bool ok = !phase;
	g->state = PASS_IDLE;
	g->passed = true;
	g->pass_ok = ok;
	g->pass_at = mono;
	if (!e->o.dry_run) {
		record(g, phase, error, key);
		g->meta.last_round_at = now_ms() - (mono - g->pass_started);
		g->meta.last_round_ms = mono - g->pass_started;
		/* The planner settings of this pass: status reads no configuration. */
		g->meta.failback_delay_ms = g->cfg->failback_delay_ms;
		g->meta.planner = g->cfg->planner;
		g->save_meta = true;
	}
	engine_pass_concluded(g);
	if (e->o.mode == ENGINE_ONCE || e->stopping)
		return;
	int64_t next = g->pass_wanted ? mono : mono + pass_interval(g->cfg);
	/*
	 * Pass again when a timer says so: a failback withheld by probation
	 * may go, or moves waiting for unknown servers have waited enough.
	 */
	int64_t wall = now_ms();
	int64_t dues[] = { group_failback_due(g),
			   g->n_deferred && g->pass.deferred_since ?
			   g->pass.deferred_since + group_defer_bound(g->cfg) : 0,
			   /* Moves held for a correlated failure, or waiting to leave a freeze. */
			   g->pass.corr_hold_until,
			   g->pass.thaw_since ? g->pass.thaw_since + group_defer_bound(g->cfg) : 0 };
	for (size_t i = 0; i < ARRAY_SIZE(dues); i++)
		if (dues[i] && mono + (dues[i] - wall) < next)
			next = mono + (dues[i] > wall ? dues[i] - wall : 0);
	if (!loop_timer_armed(&g->pass_timer) || g->pass_timer.due > next)
		loop_timer_arm(e->loop, &g->pass_timer, next);
}

void pass_request(struct group *g)
{
	struct engine *e = g->e;
	g->pass_wanted = true;
	if (g->state != PASS_IDLE || e->stopping || !e->loop)
		return;
	if (e->o.mode == ENGINE_ONCE && g->begun)
		return;              /* one pass, which sees every change */
	int64_t now = mono_ms();
	if (!loop_timer_armed(&g->pass_timer) || g->pass_timer.due > now)
		loop_timer_arm(e->loop, &g->pass_timer, now);
}

/* After the listing, or without one: the one-shot pass waits for its checks, then plans. */
static void pass_checks_or_plan(struct group *g)
{
	if (g->e->o.mode == ENGINE_ONCE && g->checks_in_flight) {
		g->state = PASS_CHECKING;
		return;
	}
	pass_plan(g);
}

static void ask_next(struct group *g);

static void server_looked_up(void *arg, struct hc_result *r)
{
	struct group *g = arg;
	g->op = NULL;
	inventory_looked_up(g, inventory_next_lookup(g), r);
	ask_next(g);
}

static void action_looked_up(void *arg, struct hc_result *r)
{
	struct group *g = arg;
	size_t i;
	g->op = NULL;
	apply_left_next(g, &i);
	g->left_asked[i] = true;
	if (r->rc == 0) {
		g->left_action[i] = (int)r->action.status;
	} else {
		char *msg = hc_error_format(&r->err);
		log_kv(LOG_INFO, g->cfg->id, "cannot ask the API about an action of an apply left "
		       "behind; judging by where the floating IP points", "error", msg, NULL);
		free(msg);
	}
	ask_next(g);
}

/*
 * What the listing leaves open, asked one request at a time: servers the
 * listing lacks that IPs point at (GET /servers/{id}), the actions of an
 * apply a dead flipper left (GET /actions/{id}). Then it is concluded,
 * and the pass goes on.
 */
static void ask_next(struct group *g)
{
	struct engine *e = g->e;
	struct hcloud_client *api = group_client(g);
	int64_t deadline = mono_ms() + g->cfg->poll_timeout_ms;
	int64_t id;
	size_t i;
	g->state = PASS_ASKING;
	if (api && !e->stopping && (id = inventory_next_lookup(g))) {
		g->op = hcloud_get_server(api, id, deadline, server_looked_up, g);
		return;
	}
	if (api && !e->stopping && !e->o.dry_run && (id = apply_left_next(g, &i))) {
		g->op = hcloud_get_action(api, id, deadline, action_looked_up, g);
		return;
	}
	if (!e->o.dry_run)
		apply_left_conclude(g);
	pass_checks_or_plan(g);
}

/* ---- a token the API refuses ------------------------------------------------ */

/*
 * Read the token again from its file; true when it changed (a rotated
 * Kubernetes Secret or systemd credential): the API client is made anew
 * with it and the backoff ends.
 */
static bool token_renewed(struct group *g)
{
	char *fresh = NULL, *why = NULL;
	int r = config_token_reread(g->cfg, &fresh, &why);
	const char *cur = g->token ? g->token : g->cfg->api_token;
	bool changed = r == 1 && !str_eq(fresh, cur);
	if (r < 0) {
		char *key = xasprintf("token %s", g->cfg->id);
		if (log_repeat(key, why) >= 0)
			log_kv(LOG_WARN, g->cfg->id, "cannot read the token again", "error", why, NULL);
		free(key);
	}
	if (changed) {
		log_kv(LOG_INFO, g->cfg->id, "the token changed where it came from; using the new one",
		       "source", g->cfg->token_source, NULL);
		if (g->token) {
			explicit_bzero(g->token, strlen(g->token));
			free(g->token);
		}
		g->token = fresh;
		fresh = NULL;
		group_client_drop(g);
		g->auth_failures = 0;
		g->auth_retry_at = 0;
	}
	if (fresh) {
		explicit_bzero(fresh, strlen(fresh));
		free(fresh);
	}
	free(why);
	return changed;
}

/*
 * The API answered 401 or 403: no retry can help until the token does.
 * Read it again (it may have been rotated); if it is the same, wait
 * before the next request, twice as long each time, up to poll_interval
 * (a pass, at least): a wrong token costs a few requests an hour, not
 * one a second. The failure is told once, by the group's failure record.
 */
static void auth_refused(struct group *g, const struct hc_error *err)
{
	if (g->e->o.mode == ENGINE_ONCE || token_renewed(g))
		return;
	int64_t cap = g->cfg->poll_interval_ms > pass_interval(g->cfg) ?
		      g->cfg->poll_interval_ms : pass_interval(g->cfg);
	int64_t delay = 1000;
	for (int i = 1; i < g->auth_failures + 1 && delay < cap; i++)
		delay *= 2;
	if (delay > cap)
		delay = cap;
	g->auth_failures++;
	g->auth_retry_at = mono_ms() + delay;
	char d[48];
	duration_format(delay, d);
	log_kv(LOG_WARN, g->cfg->id, "the API refuses the token; waiting before the next request",
	       LOG_I64("http_status", err->http_status), "code", err->code,
	       "token_source", g->cfg->token_source, "next_attempt_in", d,
	       LOG_I64("attempts", g->auth_failures), NULL);
}

static bool is_auth_error(const struct hc_error *err)
{
	return err->http_status == 401 || err->http_status == 403;
}

static void listed(void *arg, struct hc_result *r)
{
	struct group *g = arg;
	struct engine *e = g->e;
	g->op = NULL;
	if (r->rc < 0) {
		char *msg = hc_error_format(&r->err);
		char *key = hc_error_key(&r->err);
		char *what = xasprintf("listing %s", g->cfg->id);
		long held = log_repeat(what, key);
		if (held >= 0)
			log_kv(LOG_ERROR, g->cfg->id, g->have_inventory ?
			       "inventory refresh failed; keeping the previous inventory and not planning" :
			       "inventory refresh failed", "error", msg, LOG_I64("repeated", held), NULL);
		free(what);
		free(g->listing_error);
		free(g->listing_key);
		g->listing_error = msg;
		g->listing_key = key;
		g->listing_failed = g->pass_listing_failed = true;
		g->confirming = false;
		if (is_auth_error(&r->err))
			auth_refused(g, &r->err);
		/* One-shot: the checks of the kept inventory still count. */
		pass_checks_or_plan(g);
		return;
	}
	char *what = xasprintf("listing %s", g->cfg->id);
	log_repeat_clear(what);
	free(what);
	g->auth_failures = 0;
	g->auth_retry_at = 0;
	/* A listing that lost much is believed only when a second read agrees (SPEC 9). */
	struct hcloud_client *api = group_client(g);
	if (!g->confirming && api && inventory_needs_confirmation(g, r)) {
		g->confirming = true;
		g->op = hcloud_list(api, HC_LIST_SERVERS | HC_LIST_FIPS, g->cfg->server_selector,
				    g->cfg->fip_selector, mono_ms() + g->cfg->poll_timeout_ms,
				    listed, g);
		return;
	}
	bool confirmed = g->confirming;
	g->confirming = false;
	inventory_take(g, r, confirmed);
	if (!g->meta.watching_since && !e->o.dry_run) {
		g->meta.watching_since = now_ms();
		struct buf b = BUF_INIT;
		msg_started_watching(&b, g->cfg, g->n_servers, g->n_fips);
		engine_post(e, g, "started_watching", &b);
		buf_release(&b);
	}
	inventory_rebuild_targets(g);
	engine_judge_health(g);
	ask_next(g);
}

static void pass_begin(struct group *g)
{
	struct engine *e = g->e;
	if (g->state != PASS_IDLE || e->stopping)
		return;
	/* A reload waits for the applies in flight; it asks for a pass after. */
	if (e->reload_next) {
		g->pass_wanted = true;
		return;
	}
	int64_t now = mono_ms();
	/* A refused token: no request before the backoff ends, unless its
	 * file has a new one (looked at every second meanwhile). */
	if (g->auth_retry_at > now && !token_renewed(g)) {
		int64_t at = g->auth_retry_at < now + 1000 ? g->auth_retry_at : now + 1000;
		loop_timer_arm(e->loop, &g->pass_timer, at);
		return;
	}
	g->pass_wanted = false;
	g->begun = true;
	g->pass_started = now;
	g->n_looked_up = 0;
	if (inventory_due(g, g->pass_started)) {
		struct hcloud_client *api = group_client(g);
		if (!api) {
			conclude(g, "inventory", "cannot set up the API client (see the log)", NULL);
			return;
		}
		g->state = PASS_LISTING;
		g->op = hcloud_list(api, HC_LIST_SERVERS | HC_LIST_FIPS, g->cfg->server_selector,
				    g->cfg->fip_selector, g->pass_started + g->cfg->poll_timeout_ms,
				    listed, g);
		return;
	}
	pass_checks_or_plan(g);
}

void pass_fire(struct loop_timer *t)
{
	pass_begin(container_of(t, struct group, pass_timer));
}

void pass_checks_done(struct group *g)
{
	if (g->state == PASS_CHECKING)
		pass_plan(g);
}

static void reread(void *arg, struct hc_result *r)
{
	struct group *g = arg;
	g->op = NULL;
	if (r->rc < 0) {
		char *msg = hc_error_format(&r->err);
		char *key = hc_error_key(&r->err);
		log_kv(LOG_ERROR, g->cfg->id, "cannot re-read the floating IPs before applying; "
		       "not applying", "error", msg, NULL);
		if (is_auth_error(&r->err))
			auth_refused(g, &r->err);
		conclude(g, "apply", msg, key);
		free(msg);
		free(key);
		return;
	}
	apply_run(g, r);
}

void pass_applied(struct group *g, const char *error, const char *key)
{
	if (error)
		conclude(g, "apply", error, key);
	else
		conclude(g, NULL, NULL, NULL);
}

static void pass_plan(struct group *g)
{
	struct engine *e = g->e;
	g->state = PASS_IDLE;
	if (e->o.mode == ENGINE_ONCE)
		engine_judge_health(g);
	/* Health that is not stored is not planned on: it would be lost. */
	if (engine_flush(e) < 0) {
		log_kv(LOG_ERROR, g->cfg->id, "cannot save the health; not planning",
		       "error", store_write_error(e->store), NULL);
		conclude(g, "state", store_write_error(e->store) ? store_write_error(e->store) :
			 "the state file cannot be written", "the state file cannot be written");
		return;
	}
	if (g->pass_listing_failed) {
		/* Never plan on an inventory the API could not confirm. */
		g->pass_listing_failed = false;
		conclude(g, "inventory", g->listing_error, g->listing_key);
		return;
	}
	if (g->runner_failed) {
		/* Results that say nothing about the backends: plan on none of them. */
		g->runner_failed = false;
		conclude(g, "checks", "a check could not run (see the log)", NULL);
		return;
	}
	if (!apply_decide(g)) {
		conclude(g, NULL, NULL, NULL);
		return;
	}
	/* --for: no apply starts after the end. */
	struct hcloud_client *api = group_client(g);
	if (!api) {
		conclude(g, "apply", "cannot set up the API client (see the log)", NULL);
		return;
	}
	if (e->stopping) {
		conclude(g, NULL, NULL, NULL);
		return;
	}
	g->state = PASS_APPLYING;
	g->op = hcloud_list(api, HC_LIST_FIPS | HC_LIST_FOR_APPLY, NULL, g->cfg->fip_selector,
			    mono_ms() + g->cfg->plan_apply_timeout_ms, reread, g);
}

void pass_abandon(struct group *g)
{
	if (g->op) {
		hcloud_op_cancel(g->op);
		g->op = NULL;
	}
	if (g->state == PASS_LISTING || g->state == PASS_ASKING || g->state == PASS_CHECKING)
		g->state = PASS_IDLE;
	g->confirming = false;
}
