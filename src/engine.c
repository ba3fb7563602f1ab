/*
 * engine.c — the loop that runs flipper: check targets on their own
 * schedules, results counted as they arrive, health judged and stored,
 * groups asked to pass, state saved in batches, the heartbeat, the
 * outbox, and stopping.
 *
 * Writes go into one transaction per loop turn, opened on first use and
 * committed at the end of the turn when something must be durable at
 * once (a server's health changed, a notification was queued), or by the
 * save timer at most once a second when only counters changed. A pass
 * flushes before it plans, so it never acts on health that is not stored.
 */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "group.h"
#include "health.h"
#include "json.h"
#include "log.h"
#include "notify.h"
#include "report.h"
#include "rules.h"
#include "schedule.h"
#include "server.h"

/* What is queued at the end of a one-shot run gets this long to go out. */
#define DELIVERY_BUDGET_MS 15000
/* Counters are saved at most this often (a status change saves at once). */
#define SAVE_EVERY_MS 1000
/* What is left to deliver when a loop stops gets this long. */
#define STOP_DELIVERY_MS 2000

static void schedule_save(struct engine *e);
static void start_check(struct target *t);

/* ---- lookups ------------------------------------------------------------- */

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

struct store_server *group_vanished(struct group *g, int64_t id)
{
	for (size_t i = 0; i < g->n_vanished; i++)
		if (g->vanished[i].s.id == id)
			return &g->vanished[i];
	return NULL;
}

const struct hc_fip *group_fip(const struct group *g, int64_t id)
{
	size_t lo = 0, hi = g->n_fips;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (g->fips[mid].id == id)
			return &g->fips[mid];
		if (g->fips[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

struct msg_server group_msg_server(const struct store_server *s)
{
	return (struct msg_server){ s->s.id, s->s.name, s->s.location };
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
		.loop = g->e->loop,
		.endpoint = g->cfg->endpoint,
		.token = g->token ? g->token : g->cfg->api_token,
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

void group_client_drop(struct group *g)
{
	if (!g->api)
		return;
	metrics_persist_group_api_counts(g->e, g);
	hcloud_client_free(g->api);
	g->api = NULL;
	free(g->persisted);
	g->persisted = NULL;
	g->n_persisted = 0;
}

/* ---- writing ------------------------------------------------------------- */

int engine_write(struct engine *e)
{
	if (!e->store || e->o.dry_run)
		return -1;
	if (e->tx_open)
		return 0;
	if (store_begin(e->store) < 0) {
		e->failed = true;
		return -1;
	}
	e->tx_open = true;
	return 0;
}

void engine_post(struct engine *e, struct group *g, const char *kind, struct buf *text)
{
	if (engine_write(e) < 0)
		return;
	notify_post(e->cfg, e->store, g ? g->cfg->id : NULL, kind, text->data, now_ms());
	e->save_urgent = true;
	/* Sent from the loop once it is stored (one-shot: at the end). */
	if (e->o.mode != ENGINE_ONCE && !loop_timer_armed(&e->deliver_timer))
		loop_timer_arm(e->loop, &e->deliver_timer, mono_ms());
}

/* This group's dirty rows, inside the open transaction. */
static int flush_group(struct engine *e, struct group *g)
{
	const char *id = g->cfg->id;
	struct store *s = e->store;
	if (g->save_meta || g->save_inventory) {
		if (store_group_save(s, id, &g->meta) < 0 || store_pass_save(s, id, &g->pass) < 0)
			return -1;
	}
	if (g->save_holds && store_holds_save(s, id, g->holds, g->n_holds) < 0)
		return -1;
	if (g->save_steps) {
		if (store_apply_save(s, id, g->steps, g->n_steps) < 0)
			return -1;
		/* A run that finds an apply left behind must not skip it as "nothing due". */
		if (g->n_steps && store_meta_set(s, ENGINE_NEXT_DUE_KEY, "0 0 0") < 0)
			return -1;
	}
	if (g->save_inventory) {
		if (store_servers_save(s, id, g->servers, g->n_servers, g->vanished,
				       g->n_vanished) < 0 ||
		    store_fips_save(s, id, g->fips, g->n_fips) < 0 ||
		    store_targets_clear(s, id) < 0)
			return -1;
		for (size_t i = 0; i < g->n_targets; i++)
			g->targets[i]->dirty = true;
		for (size_t i = 0; i < g->n_parked; i++)
			if (store_target_put(s, id, &g->parked[i]->st) < 0)
				return -1;
	} else {
		if (g->save_fips && store_fips_save(s, id, g->fips, g->n_fips) < 0)
			return -1;
		for (size_t i = 0; i < g->n_health_changed; i++) {
			const struct store_server *v = group_server(g, g->health_changed[i]);
			if (v && store_server_health_put(s, id, v) < 0)
				return -1;
		}
	}
	for (size_t i = 0; i < g->n_targets; i++) {
		struct target *t = g->targets[i];
		if (t->dirty && store_target_put(s, id, &t->st) < 0)
			return -1;
	}
	for (size_t i = 0; i < g->n_targets; i++)
		g->targets[i]->dirty = false;
	g->save_meta = g->save_inventory = g->save_fips = g->save_holds = g->save_steps = false;
	g->n_health_changed = 0;
	return 0;
}

static bool group_dirty(const struct group *g)
{
	if (g->save_meta || g->save_inventory || g->save_fips || g->save_holds ||
	    g->save_steps || g->n_health_changed)
		return true;
	for (size_t i = 0; i < g->n_targets; i++)
		if (g->targets[i]->dirty)
			return true;
	return false;
}

int engine_flush(struct engine *e)
{
	if (!e->store || e->o.dry_run)
		return 0;
	loop_timer_disarm(e->loop, &e->save_timer);
	e->save_urgent = false;
	e->saved_at = mono_ms();
	bool any = e->tx_open;
	for (size_t i = 0; i < e->n_g && !any; i++)
		any = group_dirty(e->g[i]);
	if (!any)
		return e->failed ? -1 : 0;
	if (engine_write(e) < 0)
		goto failed;
	for (size_t i = 0; i < e->n_g; i++) {
		if (flush_group(e, e->g[i]) < 0) {
			log_kv(LOG_ERROR, e->g[i]->cfg->id, "cannot save the state", "error",
			       store_errmsg(e->store), NULL);
			store_rollback(e->store);
			e->tx_open = false;
			e->failed = true;
			return -1;
		}
	}
	e->tx_open = false;
	if (store_commit(e->store) == 0)
		return e->failed ? -1 : 0;
failed:
	if (!e->failed)
		log_kv(LOG_ERROR, NULL, "the state file cannot be written: counters, "
		       "notifications and the inventory may be lost", "error",
		       store_write_error(e->store), NULL);
	e->failed = true;
	return -1;
}

static void save_fire(struct loop_timer *t)
{
	engine_flush(container_of(t, struct engine, save_timer));
}

static void schedule_save(struct engine *e)
{
	if (e->o.dry_run || !e->store || loop_timer_armed(&e->save_timer))
		return;
	int64_t at = e->saved_at + SAVE_EVERY_MS, now = mono_ms();
	loop_timer_arm(e->loop, &e->save_timer, at > now ? at : now);
}

/* ---- health ---------------------------------------------------------------- */

/* The targets of one server: a range of the sorted list. */
static size_t server_targets(const struct group *g, int64_t id, size_t *first)
{
	size_t lo = 0, hi = g->n_targets;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (g->targets[mid]->st.server_id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t end = lo;
	while (end < g->n_targets && g->targets[end]->st.server_id == id)
		end++;
	*first = lo;
	return end - lo;
}

static void tell_health(struct group *g, struct store_server *s, enum health was)
{
	struct engine *e = g->e;
	struct buf b = BUF_INIT;
	struct msg_server ms = group_msg_server(s);
	if (s->health == HEALTH_UNHEALTHY) {
		size_t first, n = server_targets(g, s->s.id, &first), nf = 0;
		struct msg_failure *f = xcalloc(n + 1, sizeof *f);
		for (size_t i = first; i < first + n; i++) {
			const struct target *t = g->targets[i];
			if (t->st.last_error)
				f[nf++] = (struct msg_failure){ t->check->display_name, t->st.family,
								t->st.last_error, t->st.c.fall_count };
		}
		msg_server_unhealthy(&b, g->cfg, &ms, health_name(was), f, nf);
		free(f);
		engine_post(e, g, "server_unhealthy", &b);
	} else if (s->health == HEALTH_HEALTHY && was == HEALTH_UNHEALTHY) {
		msg_server_healthy_again(&b, g->cfg, &ms);
		engine_post(e, g, "server_healthy", &b);
	} else if (s->health == HEALTH_UNCHECKABLE) {
		msg_server_uncheckable(&b, g->cfg, &ms, s->s.ipv4 != NULL, s->s.ipv6 != NULL);
		engine_post(e, g, "server_uncheckable", &b);
	}
	buf_release(&b);
}

/* Judge one server from its targets; a change is told, stored and planned on. */
static void judge_server(struct group *g, struct store_server *s)
{
	enum health h;
	size_t first, n = server_targets(g, s->s.id, &first);
	if (g->cfg->n_checks == 0) {
		h = HEALTH_HEALTHY;
	} else if (n == 0) {
		/* No configured check has an address for it (see ip_version). */
		h = HEALTH_UNCHECKABLE;
	} else {
		h = HEALTH_HEALTHY;
		for (size_t i = first; i < first + n; i++)
			h = health_worse(h, g->targets[i]->st.c.state);
	}
	if (h == s->health)
		return;
	enum health was = s->health;
	s->health = h;
	s->health_since = now_ms();
	if (h == HEALTH_UNCHECKABLE)
		log_kv(LOG_WARN, g->cfg->id, "server has no address any check can use (see "
		       "ip_version): it keeps the floating IPs it holds and receives none",
		       "server", s->s.name, "ipv4", s->s.ipv4 ? s->s.ipv4 : "none",
		       "ipv6", s->s.ipv6 ? s->s.ipv6 : "none", NULL);
	else
		log_kv(h == HEALTH_UNHEALTHY ? LOG_WARN : LOG_INFO, g->cfg->id, "server health changed",
		       "server", s->s.name, "from", health_name(was), "to", health_name(h), NULL);
	if (!g->e->o.dry_run) {
		g->health_changed = xgrow(g->health_changed, &g->cap_health_changed,
					  g->n_health_changed + 1, sizeof *g->health_changed);
		g->health_changed[g->n_health_changed++] = s->s.id;
		tell_health(g, s, was);
		g->e->save_urgent = true;
	}
	pass_request(g);
}

void engine_judge_health(struct group *g)
{
	for (size_t i = 0; i < g->n_servers; i++)
		judge_server(g, &g->servers[i]);
}

bool engine_thaw_checked(const struct group *g)
{
	for (size_t i = 0; i < g->n_targets; i++) {
		const struct target *t = g->targets[i];
		int rise = t->check && t->check->rise > 1 ? t->check->rise : 1;
		if (t->results - t->thaw_mark < (uint64_t)rise)
			return false;
	}
	return true;
}

void engine_thaw_mark(struct group *g)
{
	for (size_t i = 0; i < g->n_targets; i++)
		g->targets[i]->thaw_mark = g->targets[i]->results;
}

/* ---- checks ---------------------------------------------------------------- */

static int64_t target_interval(const struct target *t)
{
	return schedule_interval(&t->st.c, t->check->interval_ms, t->check->fast_interval_ms);
}

static void target_fire(struct loop_timer *lt)
{
	start_check(container_of(lt, struct target, timer));
}

static void check_done(void *arg, struct check_result *r)
{
	struct target *t = arg;
	struct group *g = t->g;
	struct engine *e = g->e;
	const struct check_config *c = t->check;
	int64_t end = mono_ms();

	t->probe = NULL;
	g->checks_in_flight--;
	if (r->not_run) {
		/* The runner broke down: that says nothing about the backend. */
		log_kv(LOG_ERROR, g->cfg->id, "a check could not run", "error", r->error, NULL);
		g->runner_failed = true;
	} else {
		enum health before = t->st.c.state;
		health_update(&t->st.c, r->ok, c->rise, c->fall);
		t->st.last_run = t->started_wall;
		t->results++;
		t->st.duration_ms = r->duration_ms;
		free(t->st.last_error);
		t->st.last_error = NULL;
		/* A backend that stays dead is logged when its failure changes,
		 * then once a minute, not on every check. */
		char *key = xasprintf("check %s %lld %s %d", g->cfg->id, (long long)t->st.server_id,
				      c->id, t->st.family);
		if (r->ok) {
			t->st.last_ok = t->started_wall;
			log_repeat_clear(key);
		} else {
			t->st.last_error = r->error ? r->error : xstrdup("failed");
			r->error = NULL;
			char *state = xasprintf("%s %s", http_failure_name(r->failure), t->st.last_error);
			long held = log_repeat(key, state);
			if (held >= 0)
				log_kv(LOG_INFO, g->cfg->id, "check failed", "server", t->in.server_name,
				       "check", c->id, "family", t->st.family == 4 ? "ipv4" : "ipv6",
				       "address", t->address, "failure", http_failure_name(r->failure),
				       "error", t->st.last_error,
				       LOG_I64("fall", t->st.c.fall_count), LOG_I64("repeated", held),
				       NULL);
			free(state);
		}
		free(key);
		t->dirty = true;
		cert_watch(t, r);
		schedule_save(e);
		/* Leaving a freeze: the last server's rise checks are in. */
		if (g->pass.thaw_since && t->results - t->thaw_mark == (uint64_t)(c->rise < 1 ? 1 : c->rise) &&
		    e->o.mode != ENGINE_ONCE && engine_thaw_checked(g))
			pass_request(g);
		if (before != t->st.c.state) {
			log_kv(LOG_DEBUG, g->cfg->id, "target state changed", "server", t->in.server_name,
			       "check", c->id, "from", health_name(before),
			       "to", health_name(t->st.c.state), NULL);
			/* One-shot: the pass judges once every check answered, so
			 * a message names every check that failed. */
			struct store_server *s = group_server(g, t->st.server_id);
			if (s && e->o.mode != ENGINE_ONCE)
				judge_server(g, s);
		}
	}
	if (e->o.mode != ENGINE_ONCE && !e->stopping)
		loop_timer_arm(e->loop, &t->timer,
			       schedule_next(t->started, end, target_interval(t)));
	if (g->checks_in_flight == 0)
		pass_checks_done(g);
}

static void start_check(struct target *t)
{
	struct group *g = t->g;
	struct engine *e = g->e;
	if (e->stopping || e->o.no_checks || t->probe)
		return;
	const struct store_server *s = group_server(g, t->st.server_id);
	const char *addr = s ? (t->st.family == 4 ? s->s.ipv4 : s->s.ipv6) : NULL;
	if (!addr)
		return;
	snprintf(t->address, sizeof t->address, "%s", addr);
	snprintf(t->server_name, sizeof t->server_name, "%s", s->s.name ? s->s.name : "?");
	t->in = (struct check_target){
		.check = t->check, .server_name = t->server_name, .server_id = s->s.id,
		.family = t->st.family, .address = t->address,
	};
	t->started = mono_ms();
	t->started_wall = now_ms();
	t->ran = true;
	g->checks_in_flight++;
	t->probe = check_start(e->checker, &t->in, check_done, t);
}

/* A target's first start in this invocation, from what the state says. */
static void schedule_first(struct target *t)
{
	struct engine *e = t->g->e;
	if (e->o.no_checks || t->ran)
		return;              /* one-shot: a target runs once */
	int64_t now = mono_ms();
	int64_t due = e->o.dry_run ? now :
		schedule_due_from_wall(t->st.last_run, target_interval(t), now_ms(), now);
	if (e->o.mode == ENGINE_ONCE) {
		if (due <= now)
			start_check(t);
		return;
	}
	loop_timer_arm(e->loop, &t->timer, due);
}

static void target_free(struct engine *e, struct target *t)
{
	if (t->probe) {
		check_cancel(t->probe);
		t->probe = NULL;
		t->g->checks_in_flight--;
	}
	loop_timer_disarm(e->loop, &t->timer);
	free(t->st.check_id);
	free(t->st.last_error);
	free(t);
}

/* A vanished server's target: not checked, its counters kept (and saved). */
static void target_park(struct engine *e, struct group *g, struct target *t)
{
	if (t->probe) {
		check_cancel(t->probe);
		t->probe = NULL;
		g->checks_in_flight--;
	}
	loop_timer_disarm(e->loop, &t->timer);
	g->parked = xrealloc(g->parked, (g->n_parked + 1) * sizeof *g->parked);
	g->parked[g->n_parked++] = t;
}

void engine_targets_changed(struct group *g, struct target **old, size_t n_old)
{
	struct engine *e = g->e;
	/* Parked targets back in the list, or of servers no longer kept, go first. */
	size_t w = 0;
	for (size_t i = 0; i < g->n_parked; i++) {
		struct target *t = g->parked[i];
		if (t->kept)
			t->kept = false;
		else if (group_vanished(g, t->st.server_id))
			g->parked[w++] = t;
		else
			target_free(e, t);
	}
	g->n_parked = w;
	for (size_t i = 0; i < n_old; i++) {
		if (old[i]->kept)
			old[i]->kept = false;
		else if (group_vanished(g, old[i]->st.server_id))
			target_park(e, g, old[i]);
		else
			target_free(e, old[i]);
	}
	free(old);
	/* Room for every target's check at once, if the system allows. */
	size_t all = 0;
	for (size_t i = 0; i < e->n_g; i++)
		all += e->g[i]->n_targets;
	loop_reserve(e->loop, all);
	for (size_t i = 0; i < g->n_targets; i++) {
		struct target *t = g->targets[i];
		t->g = g;
		t->timer.fire = target_fire;
		if (!t->probe && !loop_timer_armed(&t->timer))
			schedule_first(t);
	}
	g->save_inventory = true;
	schedule_save(e);
}

/* ---- loading ------------------------------------------------------------------ */

static bool selected(const struct engine_options *o, const char *id)
{
	if (!o->n_groups)
		return true;
	for (size_t i = 0; i < o->n_groups; i++)
		if (strcmp(o->groups[i], id) == 0)
			return true;
	return false;
}

/*
 * The group's rows, with every stored wall-clock time that lies ahead of
 * now (the clock stepped back since) taken as now and written back, so a
 * step costs at most one interval, in this run and the next.
 */
static int load_group(struct engine *e, struct group *g)
{
	if (!e->store)
		return 0;
	const char *id = g->cfg->id;
	struct store_target *st = NULL;
	size_t n = 0;
	int found = store_group_load(e->store, id, &g->meta);
	if (found < 0 || store_pass_load(e->store, id, &g->pass) < 0 ||
	    store_servers_load(e->store, id, &g->servers, &g->n_servers) < 0 ||
	    store_vanished_load(e->store, id, &g->vanished, &g->n_vanished) < 0 ||
	    store_apply_load(e->store, id, &g->left, &g->n_left) < 0 ||
	    store_fips_load(e->store, id, &g->fips, &g->n_fips) < 0 ||
	    store_holds_load(e->store, id, &g->holds, &g->n_holds) < 0 ||
	    store_targets_load(e->store, id, &st, &n) < 0) {
		log_kv(LOG_ERROR, id, "cannot read the state", "error", store_errmsg(e->store), NULL);
		store_targets_free(st, n);
		return -1;
	}
	int64_t wall = now_ms(), mono = mono_ms();
	g->cap_holds = g->n_holds;
	/* A hold that ends later than it could have been given: the clock stepped back. */
	int64_t hold_ms = g->cfg->poll_interval_ms > 0 ? g->cfg->poll_interval_ms : 60000;
	for (size_t i = 0; i < g->n_holds; i++) {
		if (g->holds[i].until > wall + hold_ms) {
			g->holds[i].until = wall + hold_ms;
			g->save_holds = true;
		}
	}
	int64_t *times[] = { &g->meta.inventory_at, &g->meta.failed_told_at, &g->meta.failed_since,
			     &g->pass.deferred_since, &g->pass.fail_since, &g->pass.last_pass_at,
			     &g->pass.corr_since, &g->pass.frozen_since, &g->pass.thaw_since };
	for (size_t i = 0; i < ARRAY_SIZE(times); i++) {
		if (*times[i] > wall) {
			*times[i] = wall;
			g->save_meta = true;
		}
	}
	g->save_meta |= found == 1;
	g->have_inventory = g->meta.inventory_at != 0;
	g->inventory_at = mono - (wall - g->meta.inventory_at);
	for (size_t i = 0; i < g->n_servers; i++) {
		if (g->servers[i].health_since > wall) {
			g->servers[i].health_since = wall;
			g->save_inventory = true;
		}
	}
	for (size_t i = 0; i < g->n_vanished; i++) {
		if (g->vanished[i].vanished_at > wall) {
			g->vanished[i].vanished_at = wall;
			g->save_inventory = true;
		}
	}
	/* Stored before the first request of an apply that never recorded its end. */
	g->left_action = xcalloc(g->n_left + 1, sizeof *g->left_action);
	g->left_asked = xcalloc(g->n_left + 1, sizeof *g->left_asked);
	for (size_t i = 0; i < g->n_left; i++)
		g->left_action[i] = -1;
	g->targets = xcalloc(n + 1, sizeof *g->targets);
	for (size_t i = 0; i < n; i++) {
		struct target *t = xcalloc(1, sizeof *t);
		t->st = st[i];
		t->g = g;
		if (t->st.last_run > wall) {
			t->st.last_run = wall;
			t->dirty = true;
		}
		if (group_vanished(g, t->st.server_id)) {
			g->parked = xrealloc(g->parked, (g->n_parked + 1) * sizeof *g->parked);
			g->parked[g->n_parked++] = t;
		} else {
			g->targets[g->n_targets++] = t;
		}
	}
	free(st);
	return 0;
}

struct engine *engine_new(const struct config *c, struct store *s,
			  const struct engine_options *o)
{
	struct engine *e = xcalloc(1, sizeof *e);
	e->cfg = c;
	e->store = s;
	e->o = *o;
	e->g = xcalloc(c->n_groups + 1, sizeof *e->g);
	for (size_t i = 0; i < c->n_groups; i++) {
		if (!selected(o, c->groups[i].id))
			continue;
		struct group *g = xcalloc(1, sizeof *g);
		g->cfg = &c->groups[i];
		g->e = e;
		e->g[e->n_g++] = g;
	}
	return e;
}

static void group_release(struct engine *e, struct group *g)
{
	pass_abandon(g);
	apply_release(g);
	for (size_t i = 0; i < g->n_targets; i++)
		target_free(e, g->targets[i]);
	free(g->targets);
	for (size_t i = 0; i < g->n_parked; i++)
		target_free(e, g->parked[i]);
	free(g->parked);
	store_servers_free(g->vanished, g->n_vanished);
	free(g->looked_up);
	store_apply_free(g->steps, g->n_steps);
	store_apply_free(g->left, g->n_left);
	free(g->left_action);
	free(g->left_asked);
	if (e->loop)
		loop_timer_disarm(e->loop, &g->pass_timer);
	store_group_release(&g->meta);
	store_pass_release(&g->pass);
	store_servers_free(g->servers, g->n_servers);
	hc_fips_free(g->fips, g->n_fips);
	free(g->health_changed);
	free(g->listing_error);
	free(g->listing_key);
	free(g->holds);
	free(g->asked);
	free(g->logged_defer);
	hcloud_client_free(g->api);
	if (g->token) {
		explicit_bzero(g->token, strlen(g->token));
		free(g->token);
	}
	free(g->persisted);
	free(g);
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n_g; i++)
		group_release(e, e->g[i]);
	free(e->g);
	checker_free(e->checker);
	notifier_free(e->notifier);
	server_free(e->server);
	loop_free(e->loop);
	config_free(e->reload_next);
	config_free(e->owned_cfg);
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

void engine_result_init(struct engine_result *r)
{
	memset(r, 0, sizeof *r);
	buf_init(&r->report_human, 0);
	buf_init(&r->report_json, 0);
}

void engine_result_release(struct engine_result *r)
{
	buf_release(&r->report_human);
	buf_release(&r->report_json);
}

/* ---- heartbeat and outbox ------------------------------------------------------ */

static void beat_done(void *arg, bool ok)
{
	struct engine *e = arg;
	if (ok)
		e->beat_last_ok = now_ms();
}

/* The heartbeat, when it is due and every selected group passed lately. */
static void heartbeat_consider(struct engine *e)
{
	const struct config *c = e->cfg;
	if (!c->heartbeat_enabled || !c->heartbeat_url || !e->notifier)
		return;
	/* A flipper that cannot keep its state is not healthy either. */
	if (e->failed || store_write_error(e->store) || heartbeat_busy(e->notifier))
		return;
	int64_t now = now_ms(), mono = mono_ms();
	if (!heartbeat_due(e->beat_last_ok, c->heartbeat_interval_ms, now))
		return;
	int64_t *age = xcalloc(e->n_g + 1, sizeof *age), *window = xcalloc(e->n_g + 1, sizeof *window);
	bool *ok = xcalloc(e->n_g + 1, sizeof *ok);
	for (size_t i = 0; i < e->n_g; i++) {
		/* One-shot: this run's own pass, however long ago it ended. */
		age[i] = !e->g[i]->passed ? -1 : e->o.mode == ENGINE_ONCE ? 0 : mono - e->g[i]->pass_at;
		ok[i] = e->g[i]->pass_ok;
		int64_t every = 2 * pass_interval(e->g[i]->cfg);
		window[i] = every > c->heartbeat_interval_ms ? every : c->heartbeat_interval_ms;
	}
	bool allowed = heartbeat_allowed(window, age, ok, e->n_g);
	free(age);
	free(window);
	free(ok);
	if (allowed && engine_flush(e) == 0)
		heartbeat_start(e->notifier, beat_done, e);
}

static void deliver_fire(struct loop_timer *t)
{
	struct engine *e = container_of(t, struct engine, deliver_timer);
	if (e->notifier && !e->stopping)
		e->outbox_depth = notifier_kick(e->notifier);
}

static int writer_begin(void *arg)
{
	return engine_write(arg);
}

static int writer_commit(void *arg)
{
	return engine_flush(arg);
}

/* Send what is queued (and the heartbeat) for at most budget_ms. */
static void drain_outbox(struct engine *e, int64_t budget_ms)
{
	if (!e->notifier)
		return;
	int64_t end = mono_ms() + budget_ms;
	e->outbox_depth = notifier_kick(e->notifier);
	while ((notifier_busy(e->notifier) || heartbeat_busy(e->notifier)) && mono_ms() < end)
		loop_turn(e->loop, end - mono_ms());
	/* What did not go out stays queued for the next run. */
	notifier_stop(e->notifier);
	if (e->store)
		e->outbox_depth = store_outbox_depth(e->store);
}

static void notify_reset(struct engine *e)
{
	if (!e->reset_moved || e->o.dry_run || !e->store)
		return;
	struct buf b = BUF_INIT;
	msg_state_reset(&b, e->reset_why, e->reset_moved);
	engine_post(e, NULL, "state_reset", &b);
	buf_release(&b);
	free(e->reset_moved);
	e->reset_moved = NULL;
}

#define METRICS_EVERY_MS 1000

void engine_pass_concluded(struct group *g)
{
	struct engine *e = g->e;
	if (e->o.mode == ENGINE_ONCE)
		return;              /* the heartbeat and the outbox come at the end */
	heartbeat_consider(e);
	/* The API counters go to the state for the textfile and for GET /metrics. */
	if ((e->cfg->metrics_textfile || e->server) && !e->o.dry_run && e->store &&
	    mono_ms() - e->metrics_at >= METRICS_EVERY_MS) {
		e->metrics_at = mono_ms();
		engine_flush(e);
		metrics_persist_api_counts(e);
		if (e->cfg->metrics_textfile)
			metrics_export(e);
	}
	if (e->o.mode != ENGINE_ONCE && !loop_timer_armed(&e->deliver_timer))
		loop_timer_arm(e->loop, &e->deliver_timer, mono_ms());
}

/* ---- the one-shot shortcut ------------------------------------------------------ */

/* What the configuration and the selection amount to, as one number. */
static uint64_t fingerprint(const struct config *c, const struct engine_options *o)
{
	struct buf b = BUF_INIT;
	config_print_json(c, &b);
	for (size_t i = 0; i < o->n_groups; i++) {
		buf_addch(&b, '\n');
		buf_addstr(&b, o->groups[i]);
	}
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < b.len; i++) {
		h ^= (unsigned char)b.data[i];
		h *= 0x100000001b3ULL;
	}
	buf_release(&b);
	return h;
}

bool engine_nothing_due(const struct config *c, const struct engine_options *o,
			const char *record)
{
	long long due = 0, written = 0;
	unsigned long long fp = 0;
	if (!record || sscanf(record, "%lld %lld %llx", &due, &written, &fp) != 3)
		return false;
	/* A record from the future: the clock stepped back; do the run. */
	int64_t now = now_ms();
	return now >= written && now < due && fp == fingerprint(c, o);
}

static void earliest(int64_t *next, int64_t at)
{
	if (at < *next)
		*next = at;
}

/* When the next one-shot run has something to do, on the wall clock. */
static int64_t next_due_wall(struct engine *e)
{
	int64_t now = now_ms(), mono = mono_ms();
	int64_t next = INT64_MAX;
	for (size_t gi = 0; gi < e->n_g; gi++) {
		struct group *g = e->g[gi];
		if (!g->have_inventory || g->listing_failed || (g->passed && !g->pass_ok) ||
		    g->meta.failed_plan || g->cfg->poll_interval_ms <= 0 || g->n_left ||
		    g->n_steps || g->pass.confirm_listing)
			return now;
		/* Moves held for a correlated failure, or waiting to leave a freeze. */
		if (g->pass.corr_hold_until)
			earliest(&next, g->pass.corr_hold_until);
		if (g->pass.thaw_since)
			earliest(&next, g->pass.thaw_since + group_defer_bound(g->cfg));
		earliest(&next, g->meta.inventory_at + g->cfg->poll_interval_ms);
		if (g->pass.deferred_since)
			earliest(&next, g->pass.deferred_since + group_defer_bound(g->cfg));
		/* A failback waiting for a probation: plan again when it ends. */
		if (group_failback_due(g))
			earliest(&next, group_failback_due(g));
		for (size_t i = 0; i < g->n_holds; i++)
			earliest(&next, g->holds[i].until);
		for (size_t i = 0; i < g->n_targets; i++) {
			const struct target *t = g->targets[i];
			int64_t due = schedule_due_from_wall(t->st.last_run, target_interval(t), now, mono);
			earliest(&next, now + (due - mono));
		}
	}
	int64_t out = store_outbox_next_attempt(e->store);
	if (out > 0)
		earliest(&next, outbox_clamp_next(out, now, NOTIFY_BACKOFF_MAX_MS));
	if (e->cfg->heartbeat_enabled) {
		int64_t slack = e->cfg->heartbeat_interval_ms / 10 > 1000 ? 1000 :
				e->cfg->heartbeat_interval_ms / 10;
		earliest(&next, e->beat_last_ok ? e->beat_last_ok + e->cfg->heartbeat_interval_ms - slack
						: now);
	}
	return next;
}

static void record_next_due(struct engine *e)
{
	if (e->o.dry_run || !e->store || e->failed)
		return;
	char v[96];
	snprintf(v, sizeof v, "%lld %lld %llx", (long long)next_due_wall(e), (long long)now_ms(),
		 (unsigned long long)fingerprint(e->cfg, &e->o));
	if (store_begin(e->store) < 0)
		return;
	store_meta_set(e->store, ENGINE_NEXT_DUE_KEY, v);
	store_commit(e->store);
}

/* ---- reloading (SIGHUP) ------------------------------------------------------------- */

static const struct check_config *find_check(const struct group_config *gc, const char *id)
{
	for (size_t i = 0; i < gc->n_checks; i++)
		if (str_eq(gc->checks[i].id, id))
			return &gc->checks[i];
	return NULL;
}

/* What the API client was made from: a change makes a new client. */
static bool same_api(const struct group_config *a, const struct group_config *b)
{
	return str_eq(a->endpoint, b->endpoint) && str_eq(a->api_token, b->api_token) &&
	       str_eq(a->token_source, b->token_source) &&
	       str_eq(a->api_token_file, b->api_token_file) &&
	       a->poll_timeout_ms == b->poll_timeout_ms;
}

/* Carry a running group over to its new configuration gc. */
static size_t group_retarget(struct engine *e, struct group *g, const struct group_config *gc)
{
	size_t reset = 0;
	if (!same_api(g->cfg, gc)) {
		group_client_drop(g);
		if (g->token) {
			explicit_bzero(g->token, strlen(g->token));
			free(g->token);
			g->token = NULL;
		}
		g->auth_failures = 0;
		g->auth_retry_at = 0;
	}
	/* Other servers or IPs: list again before the next plan. */
	if (!same_api(g->cfg, gc) || !str_eq(g->cfg->server_selector, gc->server_selector) ||
	    !str_eq(g->cfg->fip_selector, gc->fip_selector))
		g->listing_failed = true;
	/*
	 * A target keeps its counters when its check still does the same;
	 * one whose check changed or went starts afresh or goes. A check in
	 * flight ran under the old definition: dropped, uncounted, and run
	 * again at once.
	 */
	size_t kept = 0;
	for (size_t i = 0; i < g->n_targets; i++) {
		struct target *t = g->targets[i];
		const struct check_config *nc = find_check(gc, t->st.check_id);
		if (!nc || !config_check_same(t->check, nc)) {
			reset += nc != NULL;
			target_free(e, t);
			continue;
		}
		bool was_running = t->probe != NULL;
		if (t->probe) {
			check_cancel(t->probe);
			t->probe = NULL;
			g->checks_in_flight--;
		}
		t->check = nc;
		/* Its next start under the new interval. */
		int64_t now = mono_ms(), every = target_interval(t);
		loop_timer_arm(e->loop, &t->timer, was_running ? now : t->ran ? t->started + every :
			       schedule_due_from_wall(t->st.last_run, every, now_ms(), now));
		g->targets[kept++] = t;
	}
	g->n_targets = kept;
	/* The parked targets of vanished servers likewise: counters kept while their check is the same. */
	size_t parked = 0;
	for (size_t i = 0; i < g->n_parked; i++) {
		struct target *t = g->parked[i];
		const struct check_config *nc = find_check(gc, t->st.check_id);
		if (!nc || !config_check_same(t->check, nc)) {
			target_free(e, t);
			continue;
		}
		t->check = nc;
		g->parked[parked++] = t;
	}
	g->n_parked = parked;
	g->cfg = gc;
	if (g->have_inventory) {
		inventory_rebuild_targets(g);
		engine_judge_health(g);
	}
	return reset;
}

/* A group of the new configuration that was not running: as at the start. */
static struct group *group_add(struct engine *e, const struct group_config *gc)
{
	struct group *g = xcalloc(1, sizeof *g);
	g->cfg = gc;
	g->e = e;
	g->pass_timer.fire = pass_fire;
	if (load_group(e, g) < 0) {
		g->passed = true;
		g->broken = true;
		return g;
	}
	metrics_init_counters(e, g);
	if (g->have_inventory) {
		inventory_rebuild_targets(g);
		g->save_inventory = false;
		engine_judge_health(g);
	}
	return g;
}

static bool applying(const struct engine *e)
{
	for (size_t i = 0; i < e->n_g; i++)
		if (e->g[i]->state == PASS_APPLYING)
			return true;
	return false;
}

/*
 * Put the configuration a reload read in place: groups kept (their
 * counters, inventory and failure record with them), added or removed,
 * notification targets and the heartbeat from the new one. Called when
 * no apply is in flight, so every apply ends under the configuration it
 * started with.
 */
static void reload_finish(struct engine *e)
{
	struct config *c = e->reload_next;
	e->reload_next = NULL;
	engine_flush(e);
	struct group **next = xcalloc(c->n_groups + 1, sizeof *next);
	bool *taken = xcalloc(e->n_g + 1, sizeof *taken);
	size_t n = 0, added = 0, removed = 0, reset = 0;
	for (size_t i = 0; i < c->n_groups; i++) {
		const struct group_config *gc = &c->groups[i];
		if (!selected(&e->o, gc->id))
			continue;
		struct group *g = NULL;
		for (size_t k = 0; k < e->n_g && !g; k++) {
			if (!taken[k] && str_eq(e->g[k]->cfg->id, gc->id)) {
				g = e->g[k];
				taken[k] = true;
			}
		}
		if (g) {
			/* A listing in flight asked for the old selectors: ask again. */
			pass_abandon(g);
			reset += group_retarget(e, g, gc);
		} else {
			g = group_add(e, gc);
			added++;
		}
		next[n++] = g;
	}
	for (size_t k = 0; k < e->n_g; k++) {
		if (taken[k])
			continue;
		/* Its checks stop now; what the state knows of it stays (status shows it). */
		log_kv(LOG_INFO, e->g[k]->cfg->id, "group removed by the reload; its checks stop", NULL);
		group_release(e, e->g[k]);
		removed++;
	}
	free(taken);
	free(e->g);
	e->g = next;
	e->n_g = n;
	if (e->notifier)
		notifier_set_config(e->notifier, c);
	config_free(e->owned_cfg);
	e->owned_cfg = c;
	e->cfg = c;
	for (size_t i = 0; i < e->n_g; i++)
		if (!e->g[i]->broken)
			pass_request(e->g[i]);
	engine_flush(e);
	log_kv(LOG_INFO, NULL, "configuration reloaded", "config", c->path,
	       LOG_I64("groups", n), LOG_I64("added", added), LOG_I64("removed", removed),
	       LOG_I64("targets_reset", reset), NULL);
}

/* SIGHUP: read the configuration now; put it in place once no apply is in flight. */
static void reload_begin(struct engine *e)
{
	log_kv(LOG_INFO, NULL, "SIGHUP: reading the configuration again", NULL);
	struct config *c = e->o.reload(e->o.reload_arg, e->cfg);
	if (!c)
		return;              /* refused and said why; the old one stays */
	if (e->reload_next)
		config_free(e->reload_next);
	e->reload_next = c;
	if (applying(e))
		log_kv(LOG_INFO, NULL, "the new configuration takes over when the apply in "
		       "flight ends", NULL);
}

/* ---- running ---------------------------------------------------------------------- */

static void add_report(struct engine *e, struct engine_result *res)
{
	struct report_group *rg = xcalloc(e->n_g + 1, sizeof *rg);
	size_t n = 0;
	for (size_t i = 0; i < e->n_g; i++) {
		struct group *g = e->g[i];
		if (!g->have_inventory || !g->pass_ok || !g->pservers) {
			rg[n++] = (struct report_group){
				.id = g->cfg->id, .display_name = g->cfg->display_name,
				.readonly = g->cfg->readonly,
				.error = "the inventory could not be read from the API (see the log)",
			};
			continue;
		}
		rg[n++] = (struct report_group){
			.id = g->cfg->id, .display_name = g->cfg->display_name,
			.readonly = g->cfg->readonly, .deferred = g->n_deferred > 0,
			.defer_reason = g->defer_reason,
			.servers = g->pservers, .n_servers = g->n_servers,
			.fips = g->pfips, .n_fips = g->n_fips, .plan = &g->plan,
			.pending_due = g->pending_due,
		};
	}
	report_human(rg, n, &res->report_human);
	report_json(rg, n, &res->report_json);
	free(rg);
}

/* ---- the HTTP endpoint (server.*) ----------------------------------------------------- */

/*
 * How long after its last pass a group still counts as working: two of
 * its idle passes, and room for one pass that lists and applies at
 * length (poll_timeout and plan_apply_timeout).
 */
static int64_t health_window(const struct group_config *cfg)
{
	return 2 * pass_interval(cfg) + cfg->poll_timeout_ms + cfg->plan_apply_timeout_ms;
}

/* GET /v1/health: every group's last pass succeeded, and lately. */
static bool engine_health(void *arg, struct buf *out)
{
	struct engine *e = arg;
	int64_t mono = mono_ms();
	const char *state_error = e->failed ? "the state file cannot be written" :
				  store_write_error(e->store);
	bool healthy = !state_error && !e->stopping;
	const char **reasons = xcalloc(e->n_g + 1, sizeof *reasons);
	for (size_t i = 0; i < e->n_g; i++) {
		const struct group *g = e->g[i];
		if (g->broken)
			reasons[i] = "its state cannot be read";
		else if (!g->passed)
			reasons[i] = "no pass has ended yet";
		else if (!g->pass_ok)
			reasons[i] = "its last pass failed";
		else if (mono - g->pass_at > health_window(g->cfg))
			reasons[i] = "no pass has ended lately";
		healthy &= !reasons[i];
	}
	struct jw jw;
	jw_init(&jw, out, false);
	jw_object_begin(&jw, NULL);
	jw_string(&jw, "status", healthy ? "ok" : "failing");
	jw_string(&jw, "state_error", state_error);
	jw_bool(&jw, "stopping", e->stopping);
	jw_array_begin(&jw, "groups");
	for (size_t i = 0; i < e->n_g; i++) {
		const struct group *g = e->g[i];
		const char *reason = reasons[i];
		jw_object_begin(&jw, NULL);
		jw_string(&jw, "id", g->cfg->id);
		jw_bool(&jw, "ok", !reason);
		jw_string(&jw, "reason", reason);
		if (g->passed)
			jw_int(&jw, "last_pass_ms_ago", mono - g->pass_at);
		else
			jw_null(&jw, "last_pass_ms_ago");
		jw_int(&jw, "last_success_at", g->pass.last_ok_at);
		if (g->pass.fail_since) {
			jw_object_begin(&jw, "failing");
			jw_string(&jw, "phase", g->pass.fail_phase);
			jw_string(&jw, "error", g->pass.fail_error);
			jw_int(&jw, "since", g->pass.fail_since);
			jw_end(&jw);
		} else {
			jw_null(&jw, "failing");
		}
		jw_end(&jw);
	}
	jw_end(&jw);
	jw_end(&jw);
	buf_addch(out, '\n');
	free(reasons);
	return healthy;
}

static void engine_metrics_text(void *arg, struct buf *out)
{
	metrics_text(arg, out);
}

/* monitor with server.enabled: listen, or say why not (the run ends: exit 1). */
static int serve(struct engine *e)
{
	const struct config *c = e->cfg;
	if (!c->server_enabled || e->o.dry_run)
		return 0;
	if (e->o.mode != ENGINE_FOREVER) {
		log_kv(LOG_INFO, NULL, "server.enabled: only monitor serves the HTTP endpoint", NULL);
		return 0;
	}
	struct server_hooks h = { engine_health, engine_metrics_text, e };
	char *why = NULL;
	e->server = server_start(e->loop, c->server_host, c->server_port, &h, &why);
	if (!e->server) {
		log_kv(LOG_ERROR, NULL, "cannot serve the HTTP endpoint of server.*", "error", why,
		       NULL);
		free(why);
		return -1;
	}
	log_kv(LOG_INFO, NULL, "HTTP endpoint listening", "host", c->server_host,
	       LOG_I64("port", server_port(e->server)), NULL);
	return 0;
}

/*
 * After a stop: answers in progress get until server.shutdown_timeout
 * after the signal; then whatever is still open is closed.
 */
static void unserve(struct engine *e)
{
	if (!e->server)
		return;
	server_quiesce(e->server);
	int64_t until = e->stop_began + e->cfg->server_shutdown_timeout_ms;
	while (!server_idle(e->server) && mono_ms() < until)
		loop_turn(e->loop, until - mono_ms());
	if (!server_idle(e->server))
		log_kv(LOG_INFO, NULL, "server.shutdown_timeout: closing the HTTP connections still open",
		       NULL);
	server_free(e->server);
	e->server = NULL;
	log_kv(LOG_INFO, NULL, "HTTP endpoint stopped", NULL);
}

/* Stop starting things: checks in flight are dropped, uncounted. */
static void begin_stop(struct engine *e)
{
	if (e->stopping)
		return;
	e->stopping = true;
	e->stop_began = mono_ms();
	/* No new HTTP connection; those open are answered. */
	server_quiesce(e->server);
	for (size_t gi = 0; gi < e->n_g; gi++) {
		struct group *g = e->g[gi];
		for (size_t i = 0; i < g->n_targets; i++) {
			struct target *t = g->targets[i];
			loop_timer_disarm(e->loop, &t->timer);
			if (t->probe) {
				check_cancel(t->probe);
				t->probe = NULL;
				g->checks_in_flight--;
			}
		}
		loop_timer_disarm(e->loop, &g->pass_timer);
		if (g->state == PASS_LISTING || g->state == PASS_ASKING ||
		    g->state == PASS_CHECKING)
			pass_abandon(g);
	}
}

static bool busy(const struct engine *e)
{
	for (size_t i = 0; i < e->n_g; i++)
		if (e->g[i]->state != PASS_IDLE)
			return true;
	return false;
}

static bool once_done(const struct engine *e)
{
	for (size_t i = 0; i < e->n_g; i++)
		if (!e->g[i]->passed || e->g[i]->checks_in_flight)
			return false;
	return true;
}

void engine_run(struct engine *e, struct engine_result *res)
{
	char *why = NULL;
	e->loop = loop_new(&why);
	if (!e->loop) {
		log_kv(LOG_ERROR, NULL, "cannot run: the network is out of reach", "error", why, NULL);
		free(why);
		res->failed = true;
		return;
	}
	e->checker = checker_new(e->loop);
	if (e->store && !e->o.dry_run) {
		struct notify_writer w = { writer_begin, writer_commit, e };
		e->notifier = notifier_new(e->cfg, e->store, e->loop, &w, e->o.mode == ENGINE_ONCE);
	}
	e->save_timer.fire = save_fire;
	e->deliver_timer.fire = deliver_fire;
	e->started = mono_ms();
	e->started_wall = now_ms();
	e->end = e->o.mode == ENGINE_FOR ? e->started + e->o.for_ms : INT64_MAX;
	if (!e->o.dry_run) {
		loop_catch_signals(e->loop);
		if (e->o.reload && e->o.mode != ENGINE_ONCE)
			loop_catch_reload(e->loop);
	}
	if (serve(e) < 0) {
		res->failed = true;
		return;
	}
	if (e->store && !e->o.dry_run) {
		store_write_error_clear(e->store);
		char *v = store_meta_get(e->store, "heartbeat_last_ok");
		int64_t last = 0;
		if (v)
			parse_int64(v, &last);
		free(v);
		e->beat_last_ok = last;
	}
	notify_reset(e);

	for (size_t i = 0; i < e->n_g; i++) {
		struct group *g = e->g[i];
		g->pass_timer.fire = pass_fire;
		if (load_group(e, g) < 0) {
			g->passed = true;
			g->pass_ok = false;
			g->broken = true;
			continue;
		}
		metrics_init_counters(e, g);
	}
	for (size_t i = 0; i < e->n_g; i++) {
		struct group *g = e->g[i];
		if (g->broken)
			continue;
		/* Align the stored targets with the configured checks. */
		if (g->have_inventory) {
			inventory_rebuild_targets(g);
			g->save_inventory = false;
			engine_judge_health(g);
		}
		pass_request(g);
	}

	bool signalled = false;
	for (;;) {
		if (e->o.mode == ENGINE_ONCE && once_done(e))
			break;
		if (e->stopping && !busy(e))
			break;
		loop_turn(e->loop, -1);
		if (e->save_urgent)
			engine_flush(e);
		if (e->o.reload && loop_reload_requested() && !e->stopping)
			reload_begin(e);
		if (e->reload_next && !applying(e) && !e->stopping)
			reload_finish(e);
		if (loop_stop_requested() && !e->stopping) {
			signalled = true;
			log_kv(LOG_INFO, NULL, "stopping on signal", NULL);
			begin_stop(e);
		}
		if (mono_ms() >= e->end && !e->stopping)
			begin_stop(e);
	}
	begin_stop(e);

	if (e->o.mode == ENGINE_ONCE)
		heartbeat_consider(e);
	drain_outbox(e, e->o.mode == ENGINE_ONCE && !signalled ? DELIVERY_BUDGET_MS : STOP_DELIVERY_MS);
	if (e->o.dry_run) {
		add_report(e, res);
	} else if (e->store) {
		engine_flush(e);
		metrics_persist_api_counts(e);
		if (e->cfg->metrics_textfile)
			metrics_export(e);
		record_next_due(e);
		if (store_write_error(e->store))
			e->failed = true;
	}
	unserve(e);
	res->stopped = signalled;
	for (size_t i = 0; i < e->n_g; i++) {
		res->changes += e->g[i]->changes;
		if (e->g[i]->passed && !e->g[i]->pass_ok)
			res->failed = true;
	}
	if (e->failed)
		res->failed = true;
	/*
	 * A signal is how monitor and --for are meant to end (systemd stop, a
	 * CronJob's deadline): the state is consistent, so that is a clean
	 * exit, whatever an earlier pass met. A single pass keeps its verdict.
	 */
	if (signalled && e->o.mode != ENGINE_ONCE)
		res->failed = false;
}
