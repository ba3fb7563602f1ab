/*
 * engine.c — one round of flipper over every selected group.
 *
 * The phases run across all groups so that every due check of every group
 * shares one libcurl multi handle:
 *
 *   load      state rows of each group into memory
 *   inventory list servers and floating IPs when the cache is stale (inventory.c)
 *   checks    run every due target at once
 *   health    counters, server status, transitions
 *   save      one transaction per group (with its notifications)
 *   plan      compute; defer, refuse, log, or re-read the IPs and apply (apply.c)
 *   finish    heartbeat, deliver the outbox, metrics (metrics_export.c)
 */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "group.h"
#include "health.h"
#include "log.h"
#include "notify.h"
#include "report.h"

/* Webhook delivery per round: all of it in a one-shot run; in a loop, the
 * idle time before the next round, but at least a moment. */
#define DELIVERY_BUDGET_MS 15000
#define DELIVERY_MIN_MS 250

/* ---- lookups and small helpers ------------------------------------------- */

struct store_server *group_server(struct group *g, int64_t id)
{
	size_t lo = 0, hi = g->n_servers;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (g->servers[mid].s.id == id)
			return &g->servers[mid];
		if (g->servers[mid].s.id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct hc_fip *group_fip(const struct group *g, int64_t id)
{
	for (size_t i = 0; i < g->n_fips; i++)
		if (g->fips[i].id == id)
			return &g->fips[i];
	return NULL;
}

struct msg_server group_msg_server(const struct store_server *s)
{
	return (struct msg_server){ s->s.id, s->s.name, s->s.location };
}

void engine_post(struct engine *e, struct group *g, const char *kind, struct buf *text)
{
	if (e->o.dry_run || !e->store)
		return;
	notify_post(e->cfg, e->store, g ? g->cfg->id : NULL, kind, text->data, now_ms());
	buf_release(text);
}

/* ---- engine ------------------------------------------------------------- */

static bool selected(const struct engine_options *o, const char *id)
{
	if (!o->n_groups)
		return true;
	for (size_t i = 0; i < o->n_groups; i++)
		if (strcmp(o->groups[i], id) == 0)
			return true;
	return false;
}

struct engine *engine_new(const struct config *c, struct store *s,
			  const struct engine_options *o)
{
	struct engine *e = xcalloc(1, sizeof *e);
	e->cfg = c;
	e->store = s;
	e->o = *o;
	e->g = xcalloc(c->n_groups, sizeof *e->g);
	for (size_t i = 0; i < c->n_groups; i++) {
		if (!selected(o, c->groups[i].id))
			continue;
		struct group *g = &e->g[e->n_g++];
		g->cfg = &c->groups[i];
	}
	return e;
}

static void group_round_release(struct group *g)
{
	store_group_release(&g->meta);
	store_servers_free(g->servers, g->n_servers);
	hc_fips_free(g->fips, g->n_fips);
	store_targets_free(g->targets, g->n_targets);
	free(g->old_health);
	free(g->defer_reason);
	plan_release(&g->plan);
	free(g->pservers);
	free(g->pfips);
	struct hcloud_client *api = g->api;
	const struct group_config *cfg = g->cfg;
	struct hc_request_count *persisted = g->persisted;
	size_t n_persisted = g->n_persisted;
	memset(g, 0, sizeof *g);
	g->api = api;
	g->cfg = cfg;
	g->persisted = persisted;
	g->n_persisted = n_persisted;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n_g; i++) {
		group_round_release(&e->g[i]);
		hcloud_client_free(e->g[i].api);
		free(e->g[i].persisted);
	}
	free(e->g);
	free(e->reset_moved);
	free(e->reset_why);
	free(e);
}

void engine_note_state_reset(struct engine *e, const char *moved_to, const char *why)
{
	free(e->reset_moved);
	free(e->reset_why);
	e->reset_moved = xstrdup(moved_to ? moved_to : "");
	e->reset_why = xstrdup(why ? why : "");
}

void round_result_init(struct round_result *r)
{
	memset(r, 0, sizeof *r);
	buf_init(&r->report_human, 0);
	buf_init(&r->report_json, 0);
}

void round_result_release(struct round_result *r)
{
	buf_release(&r->report_human);
	buf_release(&r->report_json);
}

/*
 * One API request gets a third of poll_timeout, between 1 s and 10 s: a
 * request that hangs (a stuck API node, a keep-alive connection that died
 * silently) then leaves time to retry before the deadline.
 */
static int64_t request_timeout_ms(int64_t poll_timeout_ms)
{
	int64_t t = poll_timeout_ms / 3;
	if (t > 10000)
		t = 10000;
	if (t < 1000)
		t = 1000;
	return t;
}

struct hcloud_client *group_client(struct group *g)
{
	if (g->api)
		return g->api;
	struct hcloud_options o = {
		.endpoint = g->cfg->endpoint,
		.token = g->cfg->api_token,
		.group = g->cfg->id,
		.request_timeout_ms = request_timeout_ms(g->cfg->poll_timeout_ms),
	};
	struct hc_error err = HC_ERROR_INIT;
	g->api = hcloud_client_new(&o, &err);
	if (!g->api) {
		char *msg = hc_error_format(&err);
		log_kv(LOG_ERROR, g->cfg->id, "cannot set up the API client", "error", msg, NULL);
		free(msg);
	}
	hc_error_release(&err);
	return g->api;
}

/* ---- load ---------------------------------------------------------------- */

static int load_group(struct engine *e, struct group *g)
{
	if (!e->store)
		return 0;
	const char *id = g->cfg->id;
	if (store_group_load(e->store, id, &g->meta) < 0 ||
	    store_servers_load(e->store, id, &g->servers, &g->n_servers) < 0 ||
	    store_fips_load(e->store, id, &g->fips, &g->n_fips) < 0 ||
	    store_targets_load(e->store, id, &g->targets, &g->n_targets) < 0) {
		log_kv(LOG_ERROR, id, "cannot read the state", "error", store_errmsg(e->store), NULL);
		return -1;
	}
	g->have_inventory = g->meta.inventory_at != 0;
	return 0;
}

/* ---- targets and checks ----------------------------------------------------- */

const struct check_config *group_check(const struct group_config *cfg, const char *id)
{
	for (size_t i = 0; i < cfg->n_checks; i++)
		if (strcmp(cfg->checks[i].id, id) == 0)
			return &cfg->checks[i];
	return NULL;
}

struct run_ref {
	struct group *g;
	size_t target;
};

static void run_checks(struct engine *e, int64_t now)
{
	struct check_target *ct = NULL;
	struct run_ref *refs = NULL;
	size_t n = 0, cap = 0, cap2 = 0;

	for (size_t gi = 0; gi < e->n_g; gi++) {
		struct group *g = &e->g[gi];
		if (!g->have_inventory)
			continue;
		for (size_t i = 0; i < g->n_targets; i++) {
			struct store_target *t = &g->targets[i];
			const struct check_config *c = group_check(g->cfg, t->check_id);
			if (!c)
				continue;
			if (!e->o.dry_run && !check_is_due(t->last_run, c->interval_ms, now))
				continue;
			struct store_server *s = group_server(g, t->server_id);
			if (!s)
				continue;
			ct = xgrow(ct, &cap, n + 1, sizeof *ct);
			refs = xgrow(refs, &cap2, n + 1, sizeof *refs);
			memset(&ct[n], 0, sizeof ct[n]);
			ct[n].check = c;
			ct[n].server_name = s->s.name;
			ct[n].server_id = s->s.id;
			ct[n].family = t->family;
			ct[n].address = t->family == 4 ? s->s.ipv4 : s->s.ipv6;
			refs[n].g = g;
			refs[n].target = i;
			n++;
		}
	}
	if (!n) {
		free(ct);
		free(refs);
		return;
	}
	int64_t t0 = mono_ms();
	int rc = check_round_run(ct, n);
	char cnt[32], ms[32];
	snprintf(cnt, sizeof cnt, "%zu", n);
	snprintf(ms, sizeof ms, "%lld", (long long)(mono_ms() - t0));
	log_kv(LOG_DEBUG, NULL, "checks ran", "targets", cnt, "duration_ms", ms, NULL);
	if (rc < 0) {
		/* The runner broke down: those results say nothing about backends. */
		log_kv(LOG_ERROR, NULL, "the check round could not run", "error",
		       ct[0].error ? ct[0].error : "unknown", NULL);
		for (size_t i = 0; i < n; i++)
			check_target_release(&ct[i]);
		for (size_t gi = 0; gi < e->n_g; gi++)
			e->g[gi].failed = true;
		free(ct);
		free(refs);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct group *g = refs[i].g;
		struct store_target *t = &g->targets[refs[i].target];
		const struct check_config *c = ct[i].check;
		enum health before = t->c.state;
		health_update(&t->c, ct[i].ok, c->rise, c->fall);
		t->last_run = now;
		t->duration_ms = ct[i].duration_ms;
		free(t->last_error);
		t->last_error = NULL;
		if (ct[i].ok) {
			t->last_ok = now;
		} else {
			t->last_error = xstrdup(ct[i].error ? ct[i].error : "failed");
			log_kv(LOG_INFO, g->cfg->id, "check failed", "server", ct[i].server_name,
			       "check", c->id, "family", t->family == 4 ? "ipv4" : "ipv6",
			       "address", ct[i].address, "error", t->last_error, NULL);
		}
		if (before != t->c.state)
			log_kv(LOG_DEBUG, g->cfg->id, "target state changed", "server", ct[i].server_name,
			       "check", c->id, "from", health_name(before), "to", health_name(t->c.state), NULL);
		check_target_release(&ct[i]);
	}
	free(ct);
	free(refs);
}

/* ---- health ---------------------------------------------------------------- */

/* The failing targets of a server, as the "unhealthy" message lists them. */
static struct msg_failure *server_failures(const struct group *g, int64_t server_id, size_t *n)
{
	struct msg_failure *f = xcalloc(g->n_targets + 1, sizeof *f);
	*n = 0;
	for (size_t i = 0; i < g->n_targets; i++) {
		const struct store_target *t = &g->targets[i];
		if (t->server_id != server_id || !t->last_error)
			continue;
		const struct check_config *c = group_check(g->cfg, t->check_id);
		f[(*n)++] = (struct msg_failure){ c ? c->display_name : t->check_id, t->family,
						 t->last_error, t->c.fall_count };
	}
	return f;
}

static void update_health(struct engine *e, struct group *g, int64_t now)
{
	g->old_health = xcalloc(g->n_servers + 1, sizeof *g->old_health);
	size_t ti = 0;
	for (size_t i = 0; i < g->n_servers; i++) {
		struct store_server *s = &g->servers[i];
		g->old_health[i] = s->health;
		enum health h;
		if (g->cfg->n_checks == 0) {
			h = HEALTH_HEALTHY;
		} else {
			/* Targets are ordered by server id, like the servers. */
			while (ti < g->n_targets && g->targets[ti].server_id < s->s.id)
				ti++;
			size_t start = ti;
			struct health_counters *hc = NULL;
			size_t cnt = 0;
			while (ti < g->n_targets && g->targets[ti].server_id == s->s.id)
				ti++;
			cnt = ti - start;
			/* Every check skipped for want of an address: unknown forever,
			 * which defers the group's plans. Say so when it is seen. */
			if (!cnt && g->inventory_refreshed)
				log_kv(LOG_WARN, g->cfg->id, "server has no address any check can use "
				       "(see ip_version): its health stays unknown", "server", s->s.name,
				       "ipv4", s->s.ipv4 ? s->s.ipv4 : "none",
				       "ipv6", s->s.ipv6 ? s->s.ipv6 : "none", NULL);
			hc = xcalloc(cnt + 1, sizeof *hc);
			for (size_t k = 0; k < cnt; k++)
				hc[k] = g->targets[start + k].c;
			h = health_server_status(hc, cnt);
			free(hc);
		}
		if (h == s->health)
			continue;
		enum health was = s->health;
		s->health = h;
		s->health_since = now;
		log_kv(h == HEALTH_UNHEALTHY ? LOG_WARN : LOG_INFO, g->cfg->id, "server health changed",
		       "server", s->s.name, "from", health_name(was), "to", health_name(h), NULL);
		struct buf b;
		buf_init(&b, 0);
		struct msg_server ms = group_msg_server(s);
		if (h == HEALTH_UNHEALTHY) {
			size_t nf;
			struct msg_failure *f = server_failures(g, s->s.id, &nf);
			msg_server_unhealthy(&b, g->cfg, &ms, health_name(was), f, nf);
			free(f);
			engine_post(e, g, "server_unhealthy", &b);
		} else if (h == HEALTH_HEALTHY && was == HEALTH_UNHEALTHY) {
			msg_server_healthy_again(&b, g->cfg, &ms);
			engine_post(e, g, "server_healthy", &b);
		}
		buf_release(&b);
	}
}

/* ---- save ------------------------------------------------------------------ */

static int save_group(struct engine *e, struct group *g)
{
	const char *id = g->cfg->id;
	if (store_group_save(e->store, id, &g->meta) < 0 ||
	    store_servers_save(e->store, id, g->servers, g->n_servers) < 0 ||
	    store_fips_save(e->store, id, g->fips, g->n_fips) < 0 ||
	    store_targets_save(e->store, id, g->targets, g->n_targets) < 0) {
		log_kv(LOG_ERROR, id, "cannot save the state", "error", store_errmsg(e->store), NULL);
		return -1;
	}
	return 0;
}

static void add_report(struct engine *e, struct round_result *res)
{
	struct report_group *rg = xcalloc(e->n_g + 1, sizeof *rg);
	size_t n = 0;
	for (size_t i = 0; i < e->n_g; i++) {
		struct group *g = &e->g[i];
		if (!g->have_inventory || g->failed) {
			rg[n++] = (struct report_group){
				.id = g->cfg->id, .display_name = g->cfg->display_name,
				.readonly = g->cfg->readonly,
				.error = "the inventory could not be read from the API (see the log)",
			};
			continue;
		}
		rg[n++] = (struct report_group){
			.id = g->cfg->id, .display_name = g->cfg->display_name,
			.readonly = g->cfg->readonly, .deferred = g->deferred,
			.defer_reason = g->defer_reason,
			.servers = g->pservers, .n_servers = g->n_servers,
			.fips = g->pfips, .n_fips = g->n_fips, .plan = &g->plan,
		};
	}
	report_human(rg, n, &res->report_human);
	report_json(rg, n, &res->report_json);
	free(rg);
}

/* ---- the round ----------------------------------------------------------------- */

static void started_watching(struct engine *e, struct group *g, int64_t now)
{
	if (g->meta.watching_since)
		return;
	g->meta.watching_since = now;
	struct buf b;
	buf_init(&b, 0);
	msg_started_watching(&b, g->cfg, g->n_servers, g->n_fips);
	engine_post(e, g, "started_watching", &b);
	buf_release(&b);
}

static void notify_reset(struct engine *e)
{
	if (!e->reset_moved || e->o.dry_run || !e->store)
		return;
	struct buf b;
	buf_init(&b, 0);
	msg_state_reset(&b, e->reset_why, e->reset_moved);
	store_begin(e->store);
	notify_post(e->cfg, e->store, NULL, "state_reset", b.data, now_ms());
	store_commit(e->store);
	buf_release(&b);
	free(e->reset_moved);
	e->reset_moved = NULL;
}

/*
 * Judge the group's health and store it with the round's group rows, in
 * one transaction. -1 when that could not be stored: counters that are
 * not stored never reach fall, so the round must not plan on them.
 */
static int save_round(struct engine *e, struct group *g, int64_t now)
{
	if (store_begin(e->store) < 0)
		goto unsaved;
	started_watching(e, g, now);
	update_health(e, g, now);
	g->meta.last_round_at = now;
	if (save_group(e, g) < 0) {
		store_rollback(e->store);
		return -1;
	}
	if (store_commit(e->store) == 0)
		return 0;
unsaved:
	log_kv(LOG_ERROR, g->cfg->id, "cannot save the round's health; not planning",
	       "error", store_write_error(e->store), NULL);
	return -1;
}

static int64_t next_due(struct engine *e, int64_t now)
{
	int64_t next = 0;
	for (size_t gi = 0; gi < e->n_g; gi++) {
		struct group *g = &e->g[gi];
		int64_t inv = g->meta.inventory_at + g->cfg->poll_interval_ms;
		/*
		 * An unreadable inventory is retried within a second. A plan that
		 * failed to apply is retried at the check cadence: at once would
		 * spend the API's hourly budget on an error that repeats.
		 */
		if (!g->have_inventory || g->refresh_failed)
			inv = now + 1000;
		if (!next || inv < next)
			next = inv;
		for (size_t i = 0; i < g->n_targets; i++) {
			const struct check_config *c = group_check(g->cfg, g->targets[i].check_id);
			if (!c)
				continue;
			int64_t at = check_due_at(g->targets[i].last_run, c->interval_ms);
			if (!at)
				at = now;
			if (at < next)
				next = at;
		}
	}
	return next ? next : now + 1000;
}

void engine_round(struct engine *e, struct round_result *res)
{
	int64_t now = now_ms();
	int64_t t0 = mono_ms();

	if (!e->server_note_done && e->cfg->server_section_present && !e->o.dry_run) {
		log_kv(LOG_INFO, NULL, "server.* settings belong to the original daemon's web UI and are not used", NULL);
		e->server_note_done = true;
	}
	if (e->store)
		store_write_error_clear(e->store);
	notify_reset(e);

	for (size_t i = 0; i < e->n_g; i++) {
		struct group *g = &e->g[i];
		if (load_group(e, g) < 0) {
			g->failed = true;
			continue;
		}
		inventory_refresh(e, g, now);
		if (g->have_inventory)
			inventory_rebuild_targets(g);
	}
	if (!e->o.no_checks)
		run_checks(e, now);

	for (size_t i = 0; i < e->n_g; i++) {
		struct group *g = &e->g[i];
		if (!g->have_inventory)
			continue;
		/* The inventory or the check round could not be trusted. */
		bool failed_early = g->failed;
		if (e->store && !e->o.dry_run) {
			if (save_round(e, g, now) < 0) {
				g->failed = g->save_failed = true;
				continue;
			}
		} else {
			update_health(e, g, now);
		}
		if (failed_early) {
			/* Never plan on an inventory the API could not confirm. */
			if (e->o.dry_run)
				group_compute_plan(g);
			continue;
		}
		group_plan(e, g, res);
	}

	if (e->o.dry_run) {
		add_report(e, res);
	} else if (e->store) {
		bool all_ok = true;
		for (size_t i = 0; i < e->n_g; i++)
			if (e->g[i].failed)
				all_ok = false;
		/* A flipper that cannot keep its state is not healthy either. */
		if (all_ok && !store_write_error(e->store))
			heartbeat_maybe_send(e->cfg, e->store, now_ms());
		int64_t budget = DELIVERY_BUDGET_MS;
		if (e->o.looping) {
			int64_t idle = next_due(e, now) - now_ms();
			budget = idle < DELIVERY_MIN_MS ? DELIVERY_MIN_MS :
				 idle > DELIVERY_BUDGET_MS ? DELIVERY_BUDGET_MS : idle;
		}
		store_begin(e->store);
		int64_t depth = notify_deliver(e->cfg, e->store, now_ms(), budget);
		store_commit(e->store);
		e->outbox_depth = depth;
	}

	int64_t took = mono_ms() - t0;
	for (size_t i = 0; i < e->n_g; i++) {
		struct group *g = &e->g[i];
		if (g->failed)
			res->failed = true;
		/* Not over a rolled-back save: the meta would claim what was not stored. */
		if (e->store && !e->o.dry_run && g->have_inventory && !g->save_failed) {
			g->meta.last_round_ms = took;
			store_begin(e->store);
			store_group_save(e->store, g->cfg->id, &g->meta);
			store_commit(e->store);
		}
	}
	res->next_due = next_due(e, now);
	if (!e->o.dry_run && e->store) {
		metrics_persist_api_counts(e);
		if (e->cfg->metrics_textfile)
			metrics_export(e, now, took);
		if (store_write_error(e->store)) {
			log_kv(LOG_ERROR, NULL, "the state file cannot be written: counters, "
			       "notifications and the inventory of this round may be lost",
			       "error", store_write_error(e->store), NULL);
			res->failed = true;
		}
	}
	for (size_t i = 0; i < e->n_g; i++)
		group_round_release(&e->g[i]);
}
