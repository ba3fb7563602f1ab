/*
 * apply.c — a group's plan: computing it, deciding whether to apply it
 * (deferred, refused, readonly), alerts about it, and applying it through
 * the API with the memory of plans that keep failing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"

void group_compute_plan(struct group *g)
{
	plan_release(&g->plan);
	free(g->pservers);
	free(g->pfips);
	g->pservers = xcalloc(g->n_servers + 1, sizeof *g->pservers);
	g->pfips = xcalloc(g->n_fips + 1, sizeof *g->pfips);
	for (size_t i = 0; i < g->n_servers; i++) {
		const struct store_server *s = &g->servers[i];
		g->pservers[i] = (struct plan_server){
			.id = s->s.id, .name = s->s.name, .location = s->s.location,
			.network_zone = s->s.network_zone, .has_index = s->s.has_index,
			.resource_index = s->s.resource_index, .status = s->health,
		};
	}
	for (size_t i = 0; i < g->n_fips; i++) {
		const struct hc_fip *f = &g->fips[i];
		g->pfips[i] = (struct plan_fip){
			.id = f->id, .name = f->name, .ip = f->ip, .location = f->location,
			.network_zone = f->network_zone, .has_index = f->has_index,
			.resource_index = f->resource_index, .server = f->server,
		};
	}
	plan_compute(g->pservers, g->n_servers, g->pfips, g->n_fips, &g->plan);
}

static void check_deferral(struct group *g)
{
	free(g->defer_reason);
	g->defer_reason = NULL;
	g->deferred = false;
	if (g->cfg->plan_apply_with_unknown_status)
		return;
	size_t unknown = 0;
	const char *first = NULL;
	for (size_t i = 0; i < g->n_servers; i++) {
		if (g->servers[i].health == HEALTH_UNKNOWN) {
			if (!unknown)
				first = g->servers[i].s.name;
			unknown++;
		}
	}
	if (unknown) {
		g->deferred = true;
		g->defer_reason = unknown == 1 ?
			xasprintf("server %s has unknown status", first) :
			xasprintf("%zu servers have unknown status (%s, ...)", unknown, first);
	}
}

static void plan_key(const struct plan *p, struct buf *b)
{
	for (size_t i = 0; i < p->n_actions; i++)
		buf_printf(b, "%lld:%lld>%lld;", (long long)p->actions[i].fip,
			   (long long)p->actions[i].from, (long long)p->actions[i].to);
}

/* The plan's moves as messages name them; the caller frees the array. */
static struct msg_move *plan_moves(struct group *g)
{
	struct msg_move *m = xcalloc(g->plan.n_actions + 1, sizeof *m);
	for (size_t i = 0; i < g->plan.n_actions; i++) {
		const struct plan_action *a = &g->plan.actions[i];
		const struct hc_fip *f = group_fip(g, a->fip);
		struct store_server *from = a->from ? group_server(g, a->from) : NULL;
		struct store_server *to = group_server(g, a->to);
		m[i] = (struct msg_move){
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
		const struct plan_action *a = &g->plan.actions[i];
		const struct hc_fip *f = group_fip(g, a->fip);
		struct store_server *from = a->from ? group_server(g, a->from) : NULL;
		struct store_server *to = group_server(g, a->to);
		log_kv(LOG_INFO, g->cfg->id, msg, "floating_ip", f ? f->name : "?",
		       "ip", f ? f->ip : NULL, "from", from ? from->s.name : a->from ? "(foreign)" : "(unassigned)",
		       "to", to ? to->s.name : "?", "reason", plan_reason_name(a->reason), NULL);
	}
}

/* Fail-open or a location without a healthy server: tell people once. */
static void check_alerts(struct engine *e, struct group *g)
{
	struct buf key, text, locs;
	buf_init(&key, 0);
	buf_init(&text, 0);
	buf_init(&locs, 0);
	bool any_unhealthy = false;
	for (size_t i = 0; i < g->n_servers; i++)
		any_unhealthy |= g->servers[i].health == HEALTH_UNHEALTHY;
	/* All unknown (a new state) is not an outage; unhealthy ones are. */
	if (g->n_servers && g->plan.fail_open && any_unhealthy) {
		buf_addstr(&key, "fail-open");
	} else {
		for (size_t i = 0; i < g->n_servers; i++) {
			const char *loc = g->servers[i].s.location ? g->servers[i].s.location : "?";
			bool healthy = false, seen_before = false;
			for (size_t j = 0; j < g->n_servers; j++) {
				const char *l2 = g->servers[j].s.location ? g->servers[j].s.location : "?";
				if (strcmp(l2, loc) != 0)
					continue;
				if (j < i)
					seen_before = true;
				if (g->servers[j].health == HEALTH_HEALTHY)
					healthy = true;
			}
			if (!healthy && !seen_before && g->servers[i].health == HEALTH_UNHEALTHY) {
				buf_printf(&key, "%sno-healthy:%s", key.len ? "," : "", loc);
				buf_printf(&locs, "%s%s", locs.len ? ", " : "", loc);
			}
		}
	}
	const char *prev = g->meta.alert ? g->meta.alert : "";
	if (strcmp(prev, key.len ? key.data : "") != 0) {
		if (key.len && g->plan.fail_open) {
			msg_fail_open(&text, g->cfg);
			log_kv(LOG_ERROR, g->cfg->id, "no server is healthy: failing open", NULL);
			engine_post(e, g, "fail_open", &text);
		} else if (key.len) {
			msg_no_healthy_location(&text, g->cfg, locs.data);
			log_kv(LOG_WARN, g->cfg->id, "location without a healthy server", "locations", locs.data, NULL);
			engine_post(e, g, "no_healthy_location", &text);
		}
		free(g->meta.alert);
		g->meta.alert = key.len ? xstrdup(key.data) : NULL;
	}
	buf_release(&key);
	buf_release(&text);
	buf_release(&locs);
}

/* Re-read the floating IPs from the API; never act on a stale cache. */
static int reread_fips(struct group *g, int64_t deadline)
{
	struct hc_fip *fv = NULL;
	size_t nf = 0;
	struct hc_error err = HC_ERROR_INIT;
	if (hcloud_list_floating_ips(g->api, g->cfg->fip_selector, deadline, &fv, &nf, &err) < 0) {
		char *msg = hc_error_format(&err);
		log_kv(LOG_ERROR, g->cfg->id, "cannot re-read the floating IPs before applying; not applying",
		       "error", msg, NULL);
		free(msg);
		hc_error_release(&err);
		return -1;
	}
	hc_error_release(&err);
	hc_fips_free(g->fips, g->n_fips);
	g->fips = fv;
	g->n_fips = nf;
	return 0;
}

/*
 * Keep what the re-read found, whatever the plan does next: when someone
 * else already moved an IP, the cache must learn it, or every round until
 * the next poll re-plans the same stale move and re-reads again.
 */
static void save_fips(struct engine *e, struct group *g)
{
	if (!e->store || store_begin(e->store) < 0)
		return;
	if (store_fips_save(e->store, g->cfg->id, g->fips, g->n_fips) < 0) {
		log_kv(LOG_ERROR, g->cfg->id, "cannot save the floating IPs", "error",
		       store_errmsg(e->store), NULL);
		store_rollback(e->store);
		return;
	}
	store_commit(e->store);
}

static void count_action(struct engine *e, const char *group, const char *result)
{
	if (!e->store)
		return;
	struct buf l;
	buf_init(&l, 0);
	metrics_label(&l, "group", group);
	metrics_label(&l, "result", result);
	store_counter_add(e->store, "flipper_actions_total", l.data, 1);
	buf_release(&l);
}

/*
 * A plan the API keeps refusing (a token without write access, a server
 * in maintenance) is retried every round, but told once: again only when
 * what fails changes, and as a reminder this often.
 */
#define FAILED_PLAN_REMIND_MS (60 * 60 * 1000)

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

static void apply_plan(struct engine *e, struct group *g, struct round_result *res)
{
	const struct group_config *cfg = g->cfg;
	int64_t deadline = mono_ms() + cfg->plan_apply_timeout_ms;

	if (!group_client(g) || reread_fips(g, deadline) < 0) {
		g->failed = true;
		return;
	}
	save_fips(e, g);
	group_compute_plan(g);
	if (!g->plan.n_actions) {
		log_kv(LOG_INFO, cfg->id, "the floating IPs are already where the plan wants them", NULL);
		forget_pending_plans(g);
		return;
	}
	struct msg_move *moves = plan_moves(g);
	if (cfg->max_actions_per_round && g->plan.n_actions > (size_t)cfg->max_actions_per_round) {
		char n[32], m[32];
		snprintf(n, sizeof n, "%zu", g->plan.n_actions);
		snprintf(m, sizeof m, "%d", cfg->max_actions_per_round);
		log_kv(LOG_ERROR, cfg->id, "plan refused: more actions than max_actions_per_round",
		       "actions", n, "max_actions_per_round", m, NULL);
		/* Tell people once per distinct refused plan, not every round. */
		struct buf key;
		buf_init(&key, 0);
		plan_key(&g->plan, &key);
		if (!str_eq(key.data, g->meta.refused_plan)) {
			struct buf b;
			buf_init(&b, 0);
			msg_plan_refused(&b, cfg, moves, g->plan.n_actions, cfg->max_actions_per_round);
			engine_post(e, g, "plan_refused", &b);
			buf_release(&b);
			free(g->meta.refused_plan);
			g->meta.refused_plan = buf_detach(&key);
		}
		buf_release(&key);
		free(moves);
		return;
	}
	free(g->meta.refused_plan);
	g->meta.refused_plan = NULL;

	struct buf key;
	buf_init(&key, 0);
	plan_key(&g->plan, &key);
	bool again = str_eq(key.data, g->meta.failed_plan);
	struct buf b;
	buf_init(&b, 0);
	if (!again) {
		forget_failed_plan(g);
		msg_plan_executing(&b, cfg, moves, g->plan.n_actions);
		/* Stored before anything moves, so the record exists whatever happens. */
		if (e->store) {
			store_begin(e->store);
			engine_post(e, g, "plan_executing", &b);
			store_commit(e->store);
		}
		buf_reset(&b);
	} else {
		char n[32];
		snprintf(n, sizeof n, "%lld", (long long)g->meta.failed_attempts + 1);
		log_kv(LOG_INFO, cfg->id, "retrying a plan that failed before", "attempt", n, NULL);
	}
	log_plan(g, "applying");

	struct buf outcome, failures;
	buf_init(&outcome, 0);
	buf_init(&failures, 0);
	for (size_t i = 0; i < g->plan.n_actions; i++) {
		const struct plan_action *a = &g->plan.actions[i];
		struct hc_error err = HC_ERROR_INIT;
		const struct hc_fip *f = group_fip(g, a->fip);
		struct store_server *to = group_server(g, a->to);
		const char *fname = f && f->name ? f->name : "?";
		if (hcloud_assign(g->api, a->fip, a->to, a->from, deadline, &err) == 0) {
			g->applied++;
			res->changes++;
			for (size_t k = 0; k < g->n_fips; k++)
				if (g->fips[k].id == a->fip)
					g->fips[k].server = a->to;
			log_kv(LOG_INFO, cfg->id, "floating IP assigned", "floating_ip", fname,
			       "to", to ? to->s.name : "?", NULL);
			count_action(e, cfg->id, "success");
		} else {
			char *msg = hc_error_format(&err);
			g->apply_failed++;
			log_kv(LOG_ERROR, cfg->id, "assigning the floating IP failed", "floating_ip", fname,
			       "to", to ? to->s.name : "?", "error", msg, NULL);
			msg_action_failed(&outcome, fname, to ? to->s.name : "?", msg);
			free(msg);
			failure_key(&failures, a, &err);
			count_action(e, cfg->id, "failure");
		}
		hc_error_release(&err);
	}
	int64_t now = now_ms();
	char since[32];
	format_time_utc(again ? g->meta.failed_since : now, since);
	bool tell = true;
	if (g->apply_failed) {
		g->failed = true;
		bool same = again && str_eq(failures.data, g->meta.failed_errors);
		bool remind = same && now - g->meta.failed_told_at >= FAILED_PLAN_REMIND_MS;
		tell = !same || remind;
		if (!again) {
			g->meta.failed_plan = buf_detach(&key);
			g->meta.failed_since = now;
		}
		g->meta.failed_attempts++;
		free(g->meta.failed_errors);
		g->meta.failed_errors = buf_detach(&failures);
		if (tell) {
			g->meta.failed_told_at = now;
			msg_plan_failed(&b, cfg, remind, g->meta.failed_attempts, since, moves,
					g->plan.n_actions, g->apply_failed, outcome.data);
		} else {
			char n[32];
			snprintf(n, sizeof n, "%lld", (long long)g->meta.failed_attempts);
			log_kv(LOG_INFO, cfg->id, "the plan failed again the same way; not notified",
			       "attempts", n, "failing_since", since, NULL);
		}
	} else {
		msg_plan_applied(&b, cfg, g->applied, again ? g->meta.failed_attempts : 0, since);
		forget_failed_plan(g);
	}
	buf_release(&key);
	buf_release(&failures);
	if (e->store) {
		store_begin(e->store);
		if (tell)
			engine_post(e, g, "plan_outcome", &b);
		if (store_fips_save(e->store, cfg->id, g->fips, g->n_fips) < 0)
			log_kv(LOG_ERROR, cfg->id, "cannot save the floating IPs", "error",
			       store_errmsg(e->store), NULL);
		store_commit(e->store);
	}
	buf_release(&b);
	buf_release(&outcome);
	free(moves);
}

void group_plan(struct engine *e, struct group *g, struct round_result *res)
{
	const struct group_config *cfg = g->cfg;
	group_compute_plan(g);
	check_deferral(g);
	if (e->o.dry_run) {
		res->changes += g->plan.n_actions;
		return;
	}
	check_alerts(e, g);
	for (size_t i = 0; i < g->plan.n_skipped; i++) {
		const struct plan_skip *sk = &g->plan.skipped[i];
		const struct hc_fip *f = group_fip(g, sk->fip);
		log_kv(LOG_DEBUG, cfg->id, "floating IP left alone", "floating_ip", f ? f->name : "?",
		       "reason", plan_skip_name(sk->reason), NULL);
	}
	if (!g->plan.n_actions) {
		forget_pending_plans(g);
		return;
	}
	if (g->deferred) {
		log_kv(LOG_INFO, cfg->id, "plan deferred", "reason", g->defer_reason, NULL);
		return;
	}
	if (cfg->readonly) {
		struct buf key;
		buf_init(&key, 0);
		plan_key(&g->plan, &key);
		log_plan(g, "readonly: would apply");
		if (!str_eq(key.data, g->meta.readonly_plan)) {
			struct msg_move *moves = plan_moves(g);
			struct buf b;
			buf_init(&b, 0);
			msg_readonly_plan(&b, cfg, moves, g->plan.n_actions);
			engine_post(e, g, "readonly_plan", &b);
			buf_release(&b);
			free(moves);
			free(g->meta.readonly_plan);
			g->meta.readonly_plan = buf_detach(&key);
		}
		buf_release(&key);
		return;
	}
	apply_plan(e, g, res);
}
