/*
 * apply.c — a group's plan: computing it, deciding whether to apply it
 * (deferred for servers of unknown health, refused, readonly), alerts
 * about it, and applying it through the API with the memory of plans
 * that keep failing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "rules.h"

int64_t group_defer_bound(const struct group_config *cfg)
{
	size_t n = cfg->n_checks;
	int64_t *iv = xcalloc(n + 1, sizeof *iv), *to = xcalloc(n + 1, sizeof *to);
	int *rise = xcalloc(n + 1, sizeof *rise);
	for (size_t i = 0; i < n; i++) {
		iv[i] = cfg->checks[i].interval_ms;
		to[i] = cfg->checks[i].timeout_ms;
		rise[i] = cfg->checks[i].rise;
	}
	int64_t bound = defer_bound_ms(iv, to, rise, n);
	free(iv);
	free(to);
	free(rise);
	return bound;
}

/*
 * Which of the plan's moves wait for servers of unknown health: compare
 * with the plan those servers would get if they were healthy.
 */
static void compute_deferral(struct group *g)
{
	free(g->deferred);
	free(g->defer_reason);
	g->defer_reason = NULL;
	g->deferred = xcalloc(g->plan.n_actions + 1, sizeof *g->deferred);
	g->n_deferred = 0;
	if (g->cfg->plan_apply_with_unknown_status || !g->plan.n_actions)
		return;
	size_t unknown = 0;
	const char *first = NULL;
	struct plan_server *hopeful = xcalloc(g->n_servers + 1, sizeof *hopeful);
	for (size_t i = 0; i < g->n_servers; i++) {
		hopeful[i] = g->pservers[i];
		if (hopeful[i].status == HEALTH_UNKNOWN) {
			hopeful[i].status = HEALTH_HEALTHY;
			if (!unknown++)
				first = g->servers[i].s.name;
		}
	}
	if (unknown) {
		struct plan b;
		plan_compute(&g->cfg->planner, hopeful, g->n_servers, g->pfips, g->n_fips, &b);
		g->n_deferred = defer_moves(&g->plan, &b, g->pservers, g->n_servers, g->pfips,
					    g->n_fips, g->deferred);
		plan_release(&b);
	}
	free(hopeful);
	if (g->n_deferred)
		g->defer_reason = unknown == 1 ?
			xasprintf("server %s has unknown status", first) :
			xasprintf("%zu servers have unknown status (%s, ...)", unknown, first);
}

static void compute_holds(struct group *g);

/*
 * Probation is judged against the wall clock, since health_since is
 * stored between runs; the planner itself has no clock. A failback
 * withheld by probation is planned again when it ends (pending_due).
 */
void group_compute_plan(struct group *g)
{
	int64_t now = now_ms();
	plan_release(&g->plan);
	free(g->pservers);
	free(g->pfips);
	free(g->pending_due);
	g->pservers = xcalloc(g->n_servers + 1, sizeof *g->pservers);
	g->pfips = xcalloc(g->n_fips + 1, sizeof *g->pfips);
	store_plan_inputs(g->servers, g->n_servers, g->fips, g->n_fips,
			  g->cfg->failback_delay_ms, now, g->pservers, g->pfips);
	/* An IP on a server the listing lacks moves only once that server is confirmed gone. */
	for (size_t i = 0; i < g->n_fips; i++)
		if (g->pfips[i].server && !group_server(g, g->pfips[i].server))
			g->pfips[i].server_missing = inventory_server_missing(g, g->pfips[i].server);
	plan_compute(&g->cfg->planner, g->pservers, g->n_servers, g->pfips, g->n_fips, &g->plan);
	g->pending_due = xcalloc(g->plan.n_pending + 1, sizeof *g->pending_due);
	store_pending_due(&g->plan, g->servers, g->n_servers, g->cfg->failback_delay_ms, now,
			  g->pending_due);
	compute_deferral(g);
	compute_holds(g);
}

/*
 * An IP somebody moved outside flipper stays where they put it until its
 * hold ends, unless that server is unhealthy or gone. A hold whose IP
 * moved on since is over.
 */
static void compute_holds(struct group *g)
{
	int64_t now = now_ms();
	free(g->held);
	g->held = xcalloc(g->plan.n_actions + 1, sizeof *g->held);
	size_t w = 0;
	for (size_t i = 0; i < g->n_holds; i++) {
		const struct store_hold *h = &g->holds[i];
		const struct hc_fip *f = group_fip(g, h->fip);
		if (h->until <= now || !f || f->server != h->server) {
			g->save_holds = true;
			continue;            /* over */
		}
		g->holds[w++] = *h;
		const struct store_server *s = group_server(g, h->server);
		if (!s || s->health == HEALTH_UNHEALTHY)
			continue;            /* it must go anyway */
		for (size_t k = 0; k < g->plan.n_actions; k++)
			if (g->plan.actions[k].fip == h->fip)
				g->held[k] = true;
	}
	g->n_holds = w;
}

int64_t group_failback_due(const struct group *g)
{
	int64_t due = 0;
	for (size_t i = 0; g->pending_due && i < g->plan.n_pending; i++)
		if (g->pending_due[i] && (!due || g->pending_due[i] < due))
			due = g->pending_due[i];
	return due;
}

/* The names of the servers whose health is unknown, for the alert. */
static char *unknown_names(const struct group *g)
{
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < g->n_servers; i++)
		if (g->servers[i].health == HEALTH_UNKNOWN)
			buf_printf(&b, "%s%s", b.len ? ", " : "", g->servers[i].s.name);
	if (!b.len) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b);
}

/*
 * Moves wait for unknown servers at most group_defer_bound() from the
 * first time one waited (kept across runs); then they go ahead, and an
 * alert names the servers, once.
 */
static void settle_deferral(struct group *g, bool tell)
{
	struct engine *e = g->e;
	int64_t now = now_ms();
	if (!g->n_deferred) {
		tell_once(&g->logged_defer, NULL);
		if (g->pass.deferred_since) {
			g->pass.deferred_since = 0;
			g->save_meta = true;
		}
		char *names = unknown_names(g);
		if (!names && tell_once(&g->pass.defer_alert, NULL))
			g->save_meta = true;
		free(names);
		return;
	}
	if (!g->pass.deferred_since || g->pass.deferred_since > now) {
		g->pass.deferred_since = now;
		g->save_meta = true;
	}
	int64_t waited = now - g->pass.deferred_since, bound = group_defer_bound(g->cfg);
	if (waited < bound || e->o.dry_run) {
		/* Logged when it starts or changes, not on every pass while it waits. */
		if (tell && tell_once(&g->logged_defer, g->defer_reason)) {
			log_kv(LOG_INFO, g->cfg->id, "plan deferred",
			       "reason", g->defer_reason, LOG_I64("moves", g->n_deferred), NULL);
		}
		return;
	}
	char *names = unknown_names(g);
	if (tell) {
		log_kv(LOG_WARN, g->cfg->id, "moves waited long enough for unknown servers; applying",
		       "servers", names, NULL);
		if (tell_once(&g->pass.defer_alert, names)) {
			struct buf b = BUF_INIT;
			msg_unknown_servers(&b, g->cfg, names ? names : "?", waited);
			engine_post(e, g, "unknown_servers", &b);
			buf_release(&b);
			g->save_meta = true;
		}
	}
	free(names);
	memset(g->deferred, 0, g->plan.n_actions * sizeof *g->deferred);
	g->n_deferred = 0;
}

/* Actions to apply: the plan's, but those that wait or are held. */
static bool applies(const struct group *g, size_t i)
{
	return !(g->deferred && g->deferred[i]) && !(g->held && g->held[i]);
}

static size_t n_applies(const struct group *g)
{
	size_t n = 0;
	for (size_t i = 0; i < g->plan.n_actions; i++)
		n += applies(g, i);
	return n;
}

static void plan_key(const struct group *g, struct buf *b)
{
	const struct plan *p = &g->plan;
	for (size_t i = 0; i < p->n_actions; i++)
		if (applies(g, i))
			buf_printf(b, "%lld:%lld>%lld;", (long long)p->actions[i].fip,
				   (long long)p->actions[i].from, (long long)p->actions[i].to);
}

/* The plan's moves as messages name them; the caller frees the array. */
static struct msg_move *plan_moves(struct group *g)
{
	struct msg_move *m = xcalloc(g->plan.n_actions + 1, sizeof *m);
	size_t n = 0;
	for (size_t i = 0; i < g->plan.n_actions; i++) {
		if (!applies(g, i))
			continue;
		const struct plan_action *a = &g->plan.actions[i];
		const struct hc_fip *f = group_fip(g, a->fip);
		struct store_server *from = a->from ? group_server(g, a->from) : NULL;
		struct store_server *to = group_server(g, a->to);
		m[n++] = (struct msg_move){
			.fip_name = f ? f->name : NULL, .ip = f ? f->ip : NULL,
			.from = from ? group_msg_server(from) : (struct msg_server){ .id = a->from },
			.from_health = from ? health_name(from->health) : NULL,
			.to = to ? group_msg_server(to) : (struct msg_server){ .id = a->to },
			.to_health = to ? health_name(to->health) : NULL,
			.reason = plan_reason_name(a->reason),
		};
	}
	return m;
}

static void log_plan(struct group *g, const char *msg)
{
	for (size_t i = 0; i < g->plan.n_actions; i++) {
		if (!applies(g, i))
			continue;
		const struct plan_action *a = &g->plan.actions[i];
		const struct hc_fip *f = group_fip(g, a->fip);
		struct store_server *from = a->from ? group_server(g, a->from) : NULL;
		struct store_server *to = group_server(g, a->to);
		log_kv(LOG_INFO, g->cfg->id, msg, "floating_ip", f ? f->name : "?",
		       "ip", f ? f->ip : NULL, "from", from ? from->s.name : a->from ? "(foreign)" : "(unassigned)",
		       "to", to ? to->s.name : "?", "reason", plan_reason_name(a->reason), NULL);
	}
}

/*
 * Frozen, fail-open or a location without a healthy server: tell people
 * once. Only servers known to be unhealthy make an outage: while some are
 * merely unknown (new, or just listed again), nothing is said.
 */
static void check_alerts(struct engine *e, struct group *g)
{
	struct buf key = BUF_INIT, text = BUF_INIT, locs = BUF_INIT;
	enum health *h = xcalloc(g->n_servers + 1, sizeof *h);
	for (size_t i = 0; i < g->n_servers; i++)
		h[i] = g->servers[i].health;
	if (g->n_servers && (g->plan.frozen || g->plan.fail_open)) {
		if (none_healthy_known(h, g->n_servers))
			buf_addstr(&key, g->plan.frozen ? "frozen" : "fail-open");
	} else {
		for (size_t i = 0; i < g->n_servers; i++) {
			const char *loc = g->servers[i].s.location ? g->servers[i].s.location : "?";
			bool seen_before = false;
			size_t n = 0;
			for (size_t j = 0; j < g->n_servers; j++) {
				const char *l2 = g->servers[j].s.location ? g->servers[j].s.location : "?";
				if (strcmp(l2, loc) != 0)
					continue;
				if (j < i)
					seen_before = true;
				h[n++] = g->servers[j].health;
			}
			if (!seen_before && none_healthy_known(h, n)) {
				buf_printf(&key, "%sno-healthy:%s", key.len ? "," : "", loc);
				buf_printf(&locs, "%s%s", locs.len ? ", " : "", loc);
			}
		}
	}
	free(h);
	if (tell_once(&g->meta.alert, key.data)) {
		g->save_meta = true;
		if (key.len && g->plan.frozen) {
			msg_frozen(&text, g->cfg);
			log_kv(LOG_ERROR, g->cfg->id, "no server is healthy: frozen, nothing moves", NULL);
			engine_post(e, g, "frozen", &text);
		} else if (key.len && g->plan.fail_open) {
			msg_fail_open(&text, g->cfg);
			log_kv(LOG_ERROR, g->cfg->id, "no server is healthy: failing open", NULL);
			engine_post(e, g, "fail_open", &text);
		} else if (key.len) {
			msg_no_healthy_location(&text, g->cfg, locs.data);
			log_kv(LOG_WARN, g->cfg->id, "location without a healthy server", "locations", locs.data, NULL);
			engine_post(e, g, "no_healthy_location", &text);
		}
	}
	buf_release(&key);
	buf_release(&text);
	buf_release(&locs);
}

/* ---- the correlated-failure hold and leaving a freeze (SPEC 9) ---------------------- */

/* The slowest check's interval: a hold lasts that long before flipper looks again. */
static int64_t slowest_interval(const struct group_config *cfg)
{
	int64_t interval = 0;
	for (size_t i = 0; i < cfg->n_checks; i++)
		if (cfg->checks[i].interval_ms > interval)
			interval = cfg->checks[i].interval_ms;
	return interval;
}

/* What the checks of the group say now: failures that began together? */
static enum corr_verdict correlated(const struct group *g, size_t *failing, size_t *servers,
				    int *family)
{
	struct corr_target *t = xcalloc(g->n_targets + 1, sizeof *t);
	for (size_t i = 0; i < g->n_targets; i++) {
		const struct target *x = g->targets[i];
		t[i] = (struct corr_target){ x->st.server_id, x->st.family, x->st.c.fall_count,
					     x->check ? x->check->fall : 1 };
	}
	enum corr_verdict v = corr_judge(t, g->n_targets);
	/* For the message: how many (new failures), or which family. */
	*failing = *servers = 0;
	*family = 0;
	for (size_t i = 0; i < g->n_targets;) {
		size_t end = i;
		bool fails = false;
		while (end < g->n_targets && t[end].server == t[i].server) {
			fails |= corr_failing_anew(&t[end]);
			end++;
		}
		(*servers)++;
		*failing += fails;
		i = end;
	}
	if (v == CORR_CORRELATED && *failing * 2 <= *servers)
		for (int fam = 4; fam <= 6 && !*family; fam += 2) {
			bool all = true, any = false;
			for (size_t i = 0; i < g->n_targets; i++)
				if (t[i].family == fam) {
					any = true;
					all &= t[i].fall_count > 0;
				}
			if (any && all)
				*family = fam;
		}
	free(t);
	return v;
}

/*
 * Hold every move while checks of many servers began failing together
 * (the checker's network, more likely than the servers), one interval at
 * a time; told once per correlated failure.
 */
static bool hold_correlated(struct group *g, bool moves)
{
	size_t failing, servers;
	int family;
	int64_t interval = slowest_interval(g->cfg), now = now_ms();
	enum corr_verdict v = correlated(g, &failing, &servers, &family);
	int64_t since = g->pass.corr_since, until = g->pass.corr_hold_until;
	bool first = !since || since > now;
	bool held = false;
	/* A hold begins only over moves; it ends whether or not there are any. */
	if (v == CORR_NONE || moves)
		held = corr_hold(v, &g->pass.corr_since, &g->pass.corr_hold_until, now, interval);
	if (since != g->pass.corr_since || until != g->pass.corr_hold_until)
		g->save_meta = true;
	if (!held)
		return false;
	char d[48];
	duration_format(interval, d);
	log_kv(first ? LOG_WARN : LOG_DEBUG, g->cfg->id, v == CORR_CORRELATED ?
	       "checks of many servers began failing together: every move is held" :
	       "checks of more than one server began failing together: every move is held",
	       LOG_I64("failing", failing), LOG_I64("servers", servers), "family", family == 4 ? "ipv4" : family == 6 ? "ipv6" : NULL,
	       "hold", d, NULL);
	if (first) {
		struct buf b = BUF_INIT;
		msg_correlated_failure(&b, g->cfg, failing, servers, family, interval);
		engine_post(g->e, g, "correlated_failure", &b);
		buf_release(&b);
	}
	return held;
}

/*
 * A group that was frozen plans again only once every server had its
 * rise checks, or rise x interval + timeout passed, so that IPs do not
 * pile onto whichever server recovered first. True: moves wait. Frozen
 * means every server known to be down: servers merely unknown (a new
 * state) are the deferral's business.
 */
static bool thawing(struct group *g)
{
	int64_t now = now_ms(), fs = g->pass.frozen_since, ts = g->pass.thaw_since;
	enum health *h = xcalloc(g->n_servers + 1, sizeof *h);
	for (size_t i = 0; i < g->n_servers; i++)
		h[i] = g->servers[i].health;
	bool frozen = g->plan.frozen && none_healthy_known(h, g->n_servers);
	free(h);
	/*
	 * Checks are counted from the pass that saw the first server healthy
	 * again: every other server gets its rise checks, as many chances to
	 * recover as the first one had. Counted from the freeze instead, a
	 * long outage would have given every server its checks already, and
	 * the wait would end at once. A one-shot run counts its own checks
	 * (from its start): they all ran together, the first server's
	 * recovering one among them.
	 */
	bool waiting = g->pass.thaw_since && g->pass.thaw_since <= now;
	bool checked = (waiting || g->e->o.mode == ENGINE_ONCE) && engine_thaw_checked(g);
	enum thaw t = freeze_step(frozen, checked, &g->pass.frozen_since, &g->pass.thaw_since,
				  now, group_defer_bound(g->cfg));
	if (t == THAW_FROZEN || t == THAW_BEGUN)
		engine_thaw_mark(g);
	if (fs != g->pass.frozen_since || ts != g->pass.thaw_since)
		g->save_meta = true;
	if (t == THAW_BEGUN)
		log_kv(LOG_INFO, g->cfg->id, "a server is healthy again after a freeze; moves wait "
		       "until every server had its rise checks", NULL);
	else if (t == THAW_OVER)
		log_kv(LOG_INFO, g->cfg->id, "leaving the freeze: planning once with every server's "
		       "health known", NULL);
	return t == THAW_BEGUN || t == THAW_WAIT;
}

static void count_action(struct engine *e, const char *group, const char *result)
{
	if (engine_write(e) < 0)
		return;
	struct buf l = BUF_INIT;
	metrics_label(&l, "group", group);
	metrics_label(&l, "result", result);
	store_counter_add(e->store, "flipper_actions_total", l.data, 1);
	buf_release(&l);
}

/*
 * A plan the API keeps refusing (a token without write access, a server
 * in maintenance) is retried every pass, but told once: again only when
 * what fails changes, and as an hourly reminder (failed_plan_note).
 */

static void forget_failed_plan(struct group *g)
{
	free(g->meta.failed_plan);
	free(g->meta.failed_errors);
	g->meta.failed_plan = g->meta.failed_errors = NULL;
	g->meta.failed_attempts = g->meta.failed_since = g->meta.failed_told_at = 0;
}

/* Nothing pending: a plan that comes back later is news again. */
static void forget_pending_plans(struct group *g)
{
	free(g->meta.readonly_plan);
	g->meta.readonly_plan = NULL;
	free(g->meta.refused_plan);
	g->meta.refused_plan = NULL;
	forget_failed_plan(g);
}

/*
 * What failed, stable across attempts: no messages, no correlation ids.
 * err->code went through hc_error_set (control characters out, length
 * capped, token scrubbed), so it is safe to store and print as it is.
 */
static void failure_key(struct buf *b, const struct plan_action *a, const struct hc_error *err)
{
	buf_printf(b, "%lld>%lld:", (long long)a->fip, (long long)a->to);
	if (err->code)
		buf_addstr(b, err->code);
	else if (err->http_status)
		buf_printf(b, "HTTP %d", err->http_status);
	else
		buf_addstr(b, err->deadline ? "timeout" : "transport");
	buf_addch(b, ';');
}

bool apply_decide(struct group *g)
{
	struct engine *e = g->e;
	const struct group_config *cfg = g->cfg;
	group_compute_plan(g);
	if (e->o.dry_run) {
		g->changes += g->plan.n_actions;
		return false;
	}
	check_alerts(e, g);
	for (size_t i = 0; i < g->plan.n_skipped; i++) {
		const struct plan_skip *sk = &g->plan.skipped[i];
		const struct hc_fip *f = group_fip(g, sk->fip);
		log_kv(LOG_DEBUG, cfg->id, "floating IP left alone", "floating_ip", f ? f->name : "?",
		       "reason", plan_skip_name(sk->reason), NULL);
	}
	for (size_t i = 0; i < g->plan.n_pending; i++) {
		const struct plan_action *a = &g->plan.pending[i];
		const struct hc_fip *f = group_fip(g, a->fip);
		struct store_server *to = group_server(g, a->to);
		char due[32] = "?";
		if (g->pending_due[i])
			format_time_utc(g->pending_due[i], due);
		log_kv(LOG_INFO, cfg->id, "failback waits for the end of a probation",
		       "floating_ip", f ? f->name : "?", "to", to ? to->s.name : "?",
		       "reason", plan_reason_name(a->withheld), "due_at", due, NULL);
	}
	settle_deferral(g, true);
	for (size_t i = 0; i < g->plan.n_actions; i++) {
		if (!g->held[i])
			continue;
		const struct hc_fip *f = group_fip(g, g->plan.actions[i].fip);
		log_kv(LOG_INFO, cfg->id, "floating IP left where it was moved outside flipper",
		       "floating_ip", f ? f->name : "?", NULL);
	}
	bool wait = thawing(g);
	if (hold_correlated(g, n_applies(g) > 0) || wait) {
		if (n_applies(g))
			log_plan(g, wait ? "held until the freeze is over" :
				 "held for a correlated failure");
		return false;
	}
	if (!g->plan.n_actions) {
		forget_pending_plans(g);
		return false;
	}
	if (!n_applies(g))
		return false;
	if (cfg->readonly) {
		struct buf key = BUF_INIT;
		plan_key(g, &key);
		log_plan(g, "readonly: would apply");
		if (tell_once(&g->meta.readonly_plan, key.data)) {
			struct msg_move *moves = plan_moves(g);
			struct buf b = BUF_INIT;
			msg_readonly_plan(&b, cfg, moves, n_applies(g));
			engine_post(e, g, "readonly_plan", &b);
			buf_release(&b);
			free(moves);
			g->save_meta = true;
		}
		buf_release(&key);
		return false;
	}
	return true;
}

/* Refused by max_actions_per_round: told once per distinct plan. */
static bool refused(struct group *g, const struct msg_move *moves)
{
	const struct group_config *cfg = g->cfg;
	size_t n = n_applies(g);
	if (!cfg->max_actions_per_round || n <= (size_t)cfg->max_actions_per_round) {
		if (tell_once(&g->meta.refused_plan, NULL))
			g->save_meta = true;
		return false;
	}
	log_kv(LOG_ERROR, cfg->id, "plan refused: more actions than max_actions_per_round",
	       LOG_I64("actions", n), LOG_I64("max_actions_per_round", cfg->max_actions_per_round),
	       NULL);
	struct buf key = BUF_INIT;
	plan_key(g, &key);
	if (tell_once(&g->meta.refused_plan, key.data)) {
		struct buf b = BUF_INIT;
		msg_plan_refused(&b, cfg, moves, n, cfg->max_actions_per_round);
		engine_post(g->e, g, "plan_refused", &b);
		buf_release(&b);
		g->save_meta = true;
	}
	buf_release(&key);
	return true;
}

/*
 * Applying: actions on distinct servers run at once; an action waits for
 * every earlier action of the plan that shares its source or target
 * server (Hetzner locks both). Each has plan_apply_timeout of its own.
 */
struct apply_action {
	struct apply *ap;
	size_t index;                /* in g->plan.actions */
	size_t step;                 /* in g->steps */
	struct hc_op *op;
	bool started, done, ok;
	struct hc_error err;
};

struct apply {
	struct group *g;
	struct apply_action *a;
	size_t n, left;
	bool again;                  /* the same plan failed before */
	char *key;
};

static bool shares_server(const struct plan_action *x, const struct plan_action *y)
{
	return x->to == y->to || x->to == y->from ||
	       (x->from && (x->from == y->to || x->from == y->from));
}

static void apply_finish(struct apply *ap);
static void apply_start_ready(struct apply *ap);

static void action_done(void *arg, struct hc_result *r)
{
	struct apply_action *x = arg;
	struct apply *ap = x->ap;
	struct group *g = ap->g;
	const struct plan_action *a = &g->plan.actions[x->index];
	const struct hc_fip *f = group_fip(g, a->fip);
	struct store_server *to = group_server(g, a->to);
	const char *fname = f && f->name ? f->name : "?";
	x->op = NULL;
	x->done = true;
	x->ok = r->rc == 0;
	ap->left--;
	if (x->step < g->n_steps) {
		g->steps[x->step].outcome = x->ok ? STEP_APPLIED : STEP_FAILED;
		g->save_steps = true;
		g->e->save_urgent = true;
	}
	if (x->ok) {
		g->applied++;
		g->changes++;
		for (size_t k = 0; k < g->n_fips; k++)
			if (g->fips[k].id == a->fip)
				g->fips[k].server = a->to;
		g->save_fips = true;
		log_kv(LOG_INFO, g->cfg->id, "floating IP assigned", "floating_ip", fname,
		       "to", to ? to->s.name : "?", NULL);
		count_action(g->e, g->cfg->id, "success");
	} else {
		x->err = r->err;
		memset(&r->err, 0, sizeof r->err);
		char *msg = hc_error_format(&x->err);
		g->apply_failed++;
		log_kv(LOG_ERROR, g->cfg->id, "assigning the floating IP failed", "floating_ip", fname,
		       "to", to ? to->s.name : "?", "error", msg, NULL);
		free(msg);
		count_action(g->e, g->cfg->id, "failure");
	}
	if (ap->left)
		apply_start_ready(ap);
	else
		apply_finish(ap);
}

/* The API named the action: recorded, so a flipper that dies leaves it behind. */
static void action_started(void *arg, int64_t action_id)
{
	struct apply_action *x = arg;
	struct group *g = x->ap->g;
	if (x->step >= g->n_steps)
		return;
	g->steps[x->step].action_id = action_id;
	g->save_steps = true;
	g->e->save_urgent = true;
}

/* Start every action whose earlier actions on the same servers are done. */
static void apply_start_ready(struct apply *ap)
{
	struct group *g = ap->g;
	for (size_t i = 0; i < ap->n; i++) {
		struct apply_action *x = &ap->a[i];
		if (x->started)
			continue;
		const struct plan_action *a = &g->plan.actions[x->index];
		bool ready = true;
		for (size_t j = 0; j < i && ready; j++)
			if (!ap->a[j].done && shares_server(a, &g->plan.actions[ap->a[j].index]))
				ready = false;
		if (!ready)
			continue;
		x->started = true;
		inventory_asked(g, a->fip, a->to);
		x->op = hcloud_assign(g->api, a->fip, a->to, a->from,
				      mono_ms() + g->cfg->plan_apply_timeout_ms, action_done, x);
		hcloud_op_on_action(x->op, action_started, x);
	}
}

static void apply_free(struct apply *ap)
{
	if (!ap)
		return;
	for (size_t i = 0; i < ap->n; i++) {
		hcloud_op_cancel(ap->a[i].op);
		hc_error_release(&ap->a[i].err);
	}
	free(ap->a);
	free(ap->key);
	free(ap);
}

static void apply_finish(struct apply *ap)
{
	struct group *g = ap->g;
	struct engine *e = g->e;
	const struct group_config *cfg = g->cfg;
	struct buf outcome = BUF_INIT, failures = BUF_INIT, b = BUF_INIT, summary = BUF_INIT;
	for (size_t i = 0; i < ap->n; i++) {
		const struct apply_action *x = &ap->a[i];
		if (x->ok)
			continue;
		const struct plan_action *a = &g->plan.actions[x->index];
		const struct hc_fip *f = group_fip(g, a->fip);
		struct store_server *to = group_server(g, a->to);
		char *msg = hc_error_format(&x->err);
		msg_action_failed(&outcome, f && f->name ? f->name : "?", to ? to->s.name : "?", msg);
		if (!summary.len)
			buf_printf(&summary, "%zu of %zu actions failed; %s: %s", g->apply_failed, ap->n,
				   f && f->name ? f->name : "?", msg);
		free(msg);
		failure_key(&failures, a, &x->err);
	}
	char *key = xstrdup(failures.data);
	struct msg_move *moves = plan_moves(g);
	size_t n = n_applies(g);
	int64_t now = now_ms();
	char since[32];
	format_time_utc(ap->again ? g->meta.failed_since : now, since);
	if (g->apply_failed) {
		enum plan_note note = failed_plan_note(ap->again, g->meta.failed_errors, failures.data,
						       g->meta.failed_told_at, now);
		if (!ap->again) {
			g->meta.failed_plan = ap->key;
			ap->key = NULL;
			g->meta.failed_since = now;
		}
		g->meta.failed_attempts++;
		free(g->meta.failed_errors);
		g->meta.failed_errors = buf_detach(&failures);
		if (note != PLAN_NOTE_SILENT) {
			g->meta.failed_told_at = now;
			msg_plan_failed(&b, cfg, note == PLAN_NOTE_REMIND, g->meta.failed_attempts, since,
					moves, n, g->apply_failed, outcome.data);
			engine_post(e, g, "plan_outcome", &b);
		} else {
			log_kv(LOG_INFO, cfg->id, "the plan failed again the same way; not notified",
			       LOG_I64("attempts", g->meta.failed_attempts), "failing_since", since, NULL);
		}
	} else {
		msg_plan_applied(&b, cfg, g->applied, ap->again ? g->meta.failed_attempts : 0, since);
		engine_post(e, g, "plan_outcome", &b);
		forget_failed_plan(g);
	}
	g->save_meta = g->save_fips = true;
	/* The outcome is told: the record of the apply in progress goes with it. */
	store_apply_free(g->steps, g->n_steps);
	g->steps = NULL;
	g->n_steps = 0;
	g->save_steps = true;
	bool failed = g->apply_failed != 0;
	buf_release(&b);
	buf_release(&failures);
	buf_release(&outcome);
	free(moves);
	g->apply = NULL;
	apply_free(ap);
	if (engine_flush(e) < 0 && !failed) {
		buf_reset(&summary);
		buf_addstr(&summary, "the state file cannot be written");
		failed = true;
	}
	pass_applied(g, failed ? summary.data : NULL, key);
	buf_release(&summary);
	free(key);
}

/*
 * The re-read lacks IPs the inventory has: an answer like that is not
 * believed, and nothing moves on it. The next pass comes at once and
 * lists the inventory, read twice if it lacks anything.
 */
static void hold_apply(struct group *g, const struct hc_result *reread, size_t lacking)
{
	struct buf names = BUF_INIT, b = BUF_INIT;
	for (size_t i = 0, j = 0; i < g->n_fips; i++) {
		while (j < reread->n_fips && reread->fips[j].id < g->fips[i].id)
			j++;
		if (j < reread->n_fips && reread->fips[j].id == g->fips[i].id)
			continue;
		buf_printf(&names, "%s%s", names.len ? ", " : "",
			   g->fips[i].name ? g->fips[i].name : "?");
	}
	log_kv(LOG_WARN, g->cfg->id, "the floating IPs re-read before applying lack some the "
	       "inventory has; nothing applied, the inventory is listed again (confirmed) first",
	       LOG_I64("lacking", lacking), LOG_I64("known", g->n_fips), "floating_ips",
	       names.data, NULL);
	msg_apply_held(&b, g->cfg, names.data, lacking, g->n_fips);
	engine_post(g->e, g, "apply_held", &b);
	g->pass.confirm_listing = true;
	g->save_meta = true;
	g->pass_wanted = true;
	char *why = xasprintf("the floating IPs re-read before applying lack %zu of the %zu known "
			      "(%s): nothing applied", lacking, g->n_fips, names.data);
	pass_applied(g, engine_flush(g->e) == 0 ? why : "the state file cannot be written",
		     "reread: floating IPs lacking");
	free(why);
	buf_release(&names);
	buf_release(&b);
}

void apply_run(struct group *g, struct hc_result *reread)
{
	struct engine *e = g->e;
	const struct group_config *cfg = g->cfg;

	/*
	 * Keep what the re-read found, whatever the plan does next: when
	 * someone else already moved an IP, the cache must learn it, or every
	 * pass until the next poll re-plans the same stale move.
	 */
	inventory_outside_moves(g, reread->fips, reread->n_fips);
	/* Targets only: a re-read never adds or drops an IP (SPEC 9). */
	size_t added, lacking = reread_merge(g->fips, g->n_fips, reread->fips, reread->n_fips,
					     &added);
	g->save_fips = true;
	if (lacking) {
		hold_apply(g, reread, lacking);
		return;
	}
	if (added) {
		log_kv(LOG_INFO, cfg->id, "the floating IPs re-read before applying include some the "
		       "inventory lacks; they are left alone until the inventory is listed, next",
		       LOG_I64("floating_ips", added), NULL);
		g->pass.confirm_listing = true;
		g->save_meta = true;
		g->pass_wanted = true;
	}
	group_compute_plan(g);
	settle_deferral(g, false);
	if (!n_applies(g)) {
		log_kv(LOG_INFO, cfg->id, "the floating IPs are already where the plan wants them", NULL);
		if (!g->plan.n_actions)
			forget_pending_plans(g);
		pass_applied(g, engine_flush(e) == 0 ? NULL : "the state file cannot be written", NULL);
		return;
	}
	struct msg_move *moves = plan_moves(g);
	size_t n = n_applies(g);
	if (refused(g, moves)) {
		free(moves);
		pass_applied(g, engine_flush(e) == 0 ? NULL : "the state file cannot be written", NULL);
		return;
	}

	struct apply *ap = xcalloc(1, sizeof *ap);
	struct buf key = BUF_INIT;
	plan_key(g, &key);
	ap->g = g;
	ap->key = buf_detach(&key);
	ap->again = str_eq(ap->key, g->meta.failed_plan);
	if (!ap->again) {
		forget_failed_plan(g);
		struct buf b = BUF_INIT;
		msg_plan_executing(&b, cfg, moves, n);
		engine_post(e, g, "plan_executing", &b);
		buf_release(&b);
	} else {
		log_kv(LOG_INFO, cfg->id, "retrying a plan that failed before",
		       LOG_I64("attempt", g->meta.failed_attempts + 1), NULL);
	}
	free(moves);
	g->applied = g->apply_failed = 0;
	ap->a = xcalloc(n + 1, sizeof *ap->a);
	store_apply_free(g->steps, g->n_steps);
	g->steps = xcalloc(n + 1, sizeof *g->steps);
	g->n_steps = 0;
	int64_t now = now_ms();
	for (size_t i = 0; i < g->plan.n_actions; i++) {
		if (!applies(g, i))
			continue;
		const struct plan_action *a = &g->plan.actions[i];
		const struct hc_fip *f = group_fip(g, a->fip);
		const struct store_server *from = a->from ? group_server(g, a->from) : NULL;
		const struct store_server *to = group_server(g, a->to);
		g->steps[g->n_steps] = (struct store_apply_step){
			.fip = a->fip, .fip_name = f && f->name ? xstrdup(f->name) : NULL,
			.from = a->from, .from_name = from && from->s.name ? xstrdup(from->s.name) : NULL,
			.to = a->to, .to_name = to && to->s.name ? xstrdup(to->s.name) : NULL,
			.started_at = now,
		};
		ap->a[ap->n++] = (struct apply_action){ .ap = ap, .index = i, .step = g->n_steps++ };
	}
	g->save_steps = true;
	/* Stored before anything moves, the plan and its steps: a flipper that
	 * dies now leaves them for the next pass to conclude. */
	engine_flush(e);
	log_plan(g, "applying");
	ap->left = ap->n;
	g->apply = ap;
	apply_start_ready(ap);
}

/* ---- an apply a dead flipper left ------------------------------------------------ */

int64_t apply_left_next(struct group *g, size_t *index)
{
	for (size_t i = 0; i < g->n_left; i++) {
		const struct store_apply_step *s = &g->left[i];
		const struct hc_fip *f = group_fip(g, s->fip);
		if (s->outcome != STEP_OPEN || !s->action_id || g->left_asked[i] ||
		    (f && f->server == s->to))
			continue;
		*index = i;
		return s->action_id;
	}
	*index = 0;
	return 0;
}

void apply_left_conclude(struct group *g)
{
	if (!g->n_left)
		return;
	enum step_end *e = xcalloc(g->n_left + 1, sizeof *e);
	struct msg_step *ms = xcalloc(g->n_left + 1, sizeof *ms);
	for (size_t i = 0; i < g->n_left; i++) {
		const struct store_apply_step *s = &g->left[i];
		const struct hc_fip *f = group_fip(g, s->fip);
		e[i] = step_conclude(s, g->left_action[i], f != NULL, f ? f->server : 0);
		ms[i] = (struct msg_step){ s->fip_name, s->from ? (s->from_name ? s->from_name : "?")
					   : NULL, s->to_name, step_end_name(e[i]) };
		log_kv(LOG_INFO, g->cfg->id, "an action of the interrupted apply", "floating_ip",
		       s->fip_name, "from", s->from ? s->from_name : "(unassigned)", "to", s->to_name,
		       "outcome", step_end_name(e[i]), NULL);
	}
	enum apply_end end = apply_conclude(e, g->n_left);
	char since[32];
	format_time_utc(g->left[0].started_at, since);
	log_kv(LOG_WARN, g->cfg->id, "flipper stopped while applying a plan; concluded",
	       "started", since, "outcome", apply_end_name(end), NULL);
	struct buf b = BUF_INIT;
	msg_apply_interrupted(&b, g->cfg, since, apply_end_name(end), ms, g->n_left);
	engine_post(g->e, g, "apply_interrupted", &b);
	buf_release(&b);
	free(e);
	free(ms);
	store_apply_free(g->left, g->n_left);
	free(g->left_action);
	free(g->left_asked);
	g->left = NULL;
	g->left_action = NULL;
	g->left_asked = NULL;
	g->n_left = 0;
	g->save_steps = true;          /* the rows go with the message */
}

void apply_release(struct group *g)
{
	apply_free(g->apply);
	g->apply = NULL;
	plan_release(&g->plan);
	free(g->pservers);
	free(g->pfips);
	free(g->deferred);
	free(g->held);
	free(g->defer_reason);
	free(g->pending_due);
	g->held = NULL;
	g->pending_due = NULL;
	g->pservers = NULL;
	g->pfips = NULL;
	g->deferred = NULL;
	g->defer_reason = NULL;
	g->n_deferred = 0;
}
