/*
 * round.c — one round of flipper over every selected group.
 *
 * The phases run across all groups so that every due check of every group
 * shares one libcurl multi handle:
 *
 *   load      state rows of each group into memory
 *   inventory list servers and floating IPs when the cache is stale
 *   checks    run every due target at once
 *   health    counters, server status, transitions
 *   save      one transaction per group (with its notifications)
 *   plan      compute; defer, refuse, log, or re-read the IPs and apply
 *   finish    heartbeat, deliver the outbox, metrics
 */
#include "round.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hcloud.h"
#include "health.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "planner.h"
#include "report.h"

/* Webhook delivery per round: all of it in a one-shot run; in a loop, the
 * idle time before the next round, but at least a moment. */
#define DELIVERY_BUDGET_MS 15000
#define DELIVERY_MIN_MS 250

struct gstate {
	const struct group_config *cfg;
	struct hcloud_client *api;
	/* Loaded each round; freed at its end. */
	struct store_group meta;
	struct store_server *servers;
	size_t n_servers;
	struct hc_fip *fips;
	size_t n_fips;
	struct store_target *targets;
	size_t n_targets;
	enum health *old_health;     /* per server, before this round */
	bool have_inventory;
	bool inventory_refreshed;
	bool failed;
	bool refresh_failed;         /* the inventory could not be read */
	bool save_failed;            /* this round's health could not be stored */
	bool deferred;
	char *defer_reason;
	struct plan plan;
	struct plan_server *pservers;
	struct plan_fip *pfips;
	int64_t *pending_due;        /* per plan.pending: when its probation ends */
	size_t applied, apply_failed;
	/* Kept across rounds: API request counts already added to the state. */
	struct hc_request_count *persisted;
	size_t n_persisted;
};

struct engine {
	const struct config *cfg;
	struct store *store;
	struct engine_options o;
	struct gstate *g;
	size_t n_g;
	char *reset_moved;
	char *reset_why;
	int64_t outbox_depth;
};

/* ---- small helpers ------------------------------------------------------ */

static void md_text(struct buf *b, const char *s)
{
	/* Names and API text in chat: no control characters, no markup. */
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			buf_addch(b, ' ');
		else if (strchr("*_`[]|<>~", *p)) {
			buf_addch(b, '\\');
			buf_addch(b, (char)*p);
		} else
			buf_addch(b, (char)*p);
	}
}

static void md_code(struct buf *b, const char *s)
{
	buf_addch(b, '`');
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++)
		buf_addch(b, *p == '`' || *p < 0x20 || *p == 0x7f ? '\'' : (char)*p);
	buf_addch(b, '`');
}

static struct store_server *server_by_id(struct gstate *g, int64_t id)
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

static const struct hc_fip *fip_by_id(const struct gstate *g, int64_t id)
{
	for (size_t i = 0; i < g->n_fips; i++)
		if (g->fips[i].id == id)
			return &g->fips[i];
	return NULL;
}

static void server_link(struct buf *b, const struct gstate *g, const struct store_server *s)
{
	if (!s) {
		buf_addstr(b, "(none)");
		return;
	}
	if (g->cfg->project_id) {
		buf_addstr(b, "[");
		md_text(b, s->s.name);
		buf_printf(b, "](https://console.hetzner.com/projects/%s/servers/%lld/overview)",
			   g->cfg->project_id, (long long)s->s.id);
	} else {
		buf_addstr(b, "**");
		md_text(b, s->s.name);
		buf_addstr(b, "**");
	}
}

static void header(struct buf *b, const struct gstate *g, const char *emoji, const char *title)
{
	buf_printf(b, "%s **%s** — group **", emoji, title);
	md_text(b, g->cfg->display_name);
	buf_addstr(b, "** (");
	md_code(b, g->cfg->id);
	buf_addstr(b, ")");
	if (g->cfg->project_id)
		buf_printf(b, " · [console](https://console.hetzner.com/projects/%s/servers)",
			   g->cfg->project_id);
	buf_addch(b, '\n');
}

static void post(struct engine *e, struct gstate *g, const char *kind, struct buf *text)
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
		struct gstate *g = &e->g[e->n_g++];
		g->cfg = &c->groups[i];
	}
	return e;
}

static void gstate_round_release(struct gstate *g)
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
	free(g->pending_due);
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
		gstate_round_release(&e->g[i]);
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

static struct hcloud_client *client_for(struct gstate *g)
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

static int load_group(struct engine *e, struct gstate *g)
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

/* ---- inventory ------------------------------------------------------------ */

static int cmp_i64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

static int cmp_server(const void *a, const void *b)
{
	return cmp_i64(((const struct store_server *)a)->s.id, ((const struct store_server *)b)->s.id);
}

static void describe_changes(struct buf *b, const char *what, const int64_t *old_ids, size_t n_old,
			     const int64_t *new_ids, size_t n_new, const char **old_names,
			     const char **new_names, size_t *count)
{
	/* Both id lists are sorted. */
	size_t i = 0, j = 0;
	while (i < n_old || j < n_new) {
		if (j >= n_new || (i < n_old && old_ids[i] < new_ids[j])) {
			buf_printf(b, "- removed %s ", what);
			md_text(b, old_names[i]);
			buf_printf(b, " (%lld)\n", (long long)old_ids[i]);
			(*count)++;
			i++;
		} else if (i >= n_old || new_ids[j] < old_ids[i]) {
			buf_printf(b, "- added %s ", what);
			md_text(b, new_names[j]);
			buf_printf(b, " (%lld)\n", (long long)new_ids[j]);
			(*count)++;
			j++;
		} else {
			i++;
			j++;
		}
	}
}

static void notify_inventory_changes(struct engine *e, struct gstate *g,
				     const struct store_server *old_s, size_t n_old_s,
				     const struct hc_fip *old_f, size_t n_old_f)
{
	size_t count = 0;
	struct buf b;
	buf_init(&b, 0);
	header(&b, g, ":arrows_counterclockwise:", "Resources changed");

	int64_t *oi = xcalloc(n_old_s + 1, sizeof *oi), *ni = xcalloc(g->n_servers + 1, sizeof *ni);
	const char **on = xcalloc(n_old_s + 1, sizeof *on), **nn = xcalloc(g->n_servers + 1, sizeof *nn);
	for (size_t i = 0; i < n_old_s; i++) {
		oi[i] = old_s[i].s.id;
		on[i] = old_s[i].s.name;
	}
	for (size_t i = 0; i < g->n_servers; i++) {
		ni[i] = g->servers[i].s.id;
		nn[i] = g->servers[i].s.name;
	}
	describe_changes(&b, "server", oi, n_old_s, ni, g->n_servers, on, nn, &count);
	free(oi);
	free(ni);
	free(on);
	free(nn);

	oi = xcalloc(n_old_f + 1, sizeof *oi);
	ni = xcalloc(g->n_fips + 1, sizeof *ni);
	on = xcalloc(n_old_f + 1, sizeof *on);
	nn = xcalloc(g->n_fips + 1, sizeof *nn);
	for (size_t i = 0; i < n_old_f; i++) {
		oi[i] = old_f[i].id;
		on[i] = old_f[i].name;
	}
	for (size_t i = 0; i < g->n_fips; i++) {
		ni[i] = g->fips[i].id;
		nn[i] = g->fips[i].name;
	}
	describe_changes(&b, "floating IP", oi, n_old_f, ni, g->n_fips, on, nn, &count);
	free(oi);
	free(ni);
	free(on);
	free(nn);

	if (count) {
		log_kv(LOG_INFO, g->cfg->id, "resources changed", NULL);
		post(e, g, "resources_changed", &b);
	}
	buf_release(&b);
}

static void refresh_inventory(struct engine *e, struct gstate *g, int64_t now)
{
	const struct group_config *cfg = g->cfg;
	bool stale = !g->have_inventory || e->o.dry_run || now < g->meta.inventory_at ||
		     now - g->meta.inventory_at >= cfg->poll_interval_ms;
	if (!stale)
		return;
	struct hcloud_client *api = client_for(g);
	if (!api) {
		g->failed = true;
		return;
	}
	struct hc_server *sv = NULL;
	struct hc_fip *fv = NULL;
	size_t ns = 0, nf = 0;
	struct hc_error err = HC_ERROR_INIT;
	int64_t deadline = mono_ms() + cfg->poll_timeout_ms;
	if (hcloud_list_servers(api, cfg->server_selector, deadline, &sv, &ns, &err) < 0 ||
	    hcloud_list_floating_ips(api, cfg->fip_selector, deadline, &fv, &nf, &err) < 0) {
		char *msg = hc_error_format(&err);
		log_kv(LOG_ERROR, cfg->id, g->have_inventory ?
		       "inventory refresh failed; keeping the previous inventory and not planning" :
		       "inventory refresh failed", "error", msg, NULL);
		free(msg);
		hc_error_release(&err);
		hc_servers_free(sv, ns);
		g->failed = g->refresh_failed = true;
		return;
	}
	hc_error_release(&err);

	/* Carry each known server's health over; new servers start unknown. */
	struct store_server *merged = xcalloc(ns + 1, sizeof *merged);
	for (size_t i = 0; i < ns; i++) {
		merged[i].s = sv[i];
		memset(&sv[i], 0, sizeof sv[i]);
		struct store_server *old = server_by_id(g, merged[i].s.id);
		merged[i].health = old ? old->health : HEALTH_UNKNOWN;
		merged[i].health_since = old ? old->health_since : 0;
	}
	free(sv);
	qsort(merged, ns, sizeof *merged, cmp_server);

	struct store_server *old_s = g->servers;
	size_t n_old_s = g->n_servers;
	struct hc_fip *old_f = g->fips;
	size_t n_old_f = g->n_fips;
	bool had = g->have_inventory && g->meta.inventory_at != 0;
	g->servers = merged;
	g->n_servers = ns;
	g->fips = fv;
	g->n_fips = nf;
	if (had)
		notify_inventory_changes(e, g, old_s, n_old_s, old_f, n_old_f);
	store_servers_free(old_s, n_old_s);
	hc_fips_free(old_f, n_old_f);
	g->meta.inventory_at = now;
	g->have_inventory = true;
	g->inventory_refreshed = true;
	char a[32], b[32];
	snprintf(a, sizeof a, "%zu", ns);
	snprintf(b, sizeof b, "%zu", nf);
	log_kv(LOG_DEBUG, cfg->id, "inventory refreshed", "servers", a, "floating_ips", b, NULL);
}

/* ---- targets and checks ----------------------------------------------------- */

struct target_key {
	int64_t server_id;
	const char *check_id;
	int family;
};

static int cmp_target(const void *key, const void *elem)
{
	const struct target_key *k = key;
	const struct store_target *t = elem;
	int c = cmp_i64(k->server_id, t->server_id);
	if (c)
		return c;
	c = strcmp(k->check_id, t->check_id);
	if (c)
		return c;
	return k->family - t->family;
}

/*
 * Rebuild the target list from the inventory and the configured checks,
 * keeping the counters of targets that already existed. Targets of
 * servers or checks that are gone are dropped.
 */
static void rebuild_targets(struct gstate *g)
{
	struct store_target *old = g->targets;
	size_t n_old = g->n_targets;
	struct store_target *v = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < g->n_servers; i++) {
		const struct hc_server *s = &g->servers[i].s;
		for (size_t k = 0; k < g->cfg->n_checks; k++) {
			const struct check_config *c = &g->cfg->checks[k];
			for (int fam = 4; fam <= 6; fam += 2) {
				if ((fam == 4 && c->ip_version == IPV_6) ||
				    (fam == 6 && c->ip_version == IPV_4))
					continue;
				if (!(fam == 4 ? s->ipv4 : s->ipv6))
					continue;
				v = xgrow(v, &cap, n + 1, sizeof *v);
				struct store_target *t = &v[n++];
				memset(t, 0, sizeof *t);
				struct target_key key = { s->id, c->id, fam };
				struct store_target *prev = n_old ?
					bsearch(&key, old, n_old, sizeof *old, cmp_target) : NULL;
				if (prev) {
					/* The old array stays searchable: copy the key. */
					*t = *prev;
					t->check_id = xstrdup(prev->check_id);
					prev->last_error = NULL;
				} else {
					t->server_id = s->id;
					t->check_id = xstrdup(c->id);
					t->family = fam;
				}
			}
		}
	}
	store_targets_free(old, n_old);
	g->targets = v;
	g->n_targets = n;
}

static const struct check_config *check_by_id(const struct group_config *cfg, const char *id)
{
	for (size_t i = 0; i < cfg->n_checks; i++)
		if (strcmp(cfg->checks[i].id, id) == 0)
			return &cfg->checks[i];
	return NULL;
}

struct run_ref {
	struct gstate *g;
	size_t target;
};

static void run_checks(struct engine *e, int64_t now)
{
	struct check_target *ct = NULL;
	struct run_ref *refs = NULL;
	size_t n = 0, cap = 0, cap2 = 0;

	for (size_t gi = 0; gi < e->n_g; gi++) {
		struct gstate *g = &e->g[gi];
		if (!g->have_inventory)
			continue;
		for (size_t i = 0; i < g->n_targets; i++) {
			struct store_target *t = &g->targets[i];
			const struct check_config *c = check_by_id(g->cfg, t->check_id);
			if (!c)
				continue;
			if (!e->o.dry_run && !check_is_due(t->last_run, c->interval_ms, now))
				continue;
			struct store_server *s = server_by_id(g, t->server_id);
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
		struct gstate *g = refs[i].g;
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

static void describe_failures(struct buf *b, const struct gstate *g, int64_t server_id)
{
	for (size_t i = 0; i < g->n_targets; i++) {
		const struct store_target *t = &g->targets[i];
		if (t->server_id != server_id || !t->last_error)
			continue;
		const struct check_config *c = check_by_id(g->cfg, t->check_id);
		buf_addstr(b, "- check ");
		md_text(b, c ? c->display_name : t->check_id);
		buf_printf(b, " (%s): ", t->family == 4 ? "IPv4" : "IPv6");
		md_code(b, t->last_error);
		buf_printf(b, " — %d failure%s in a row\n", t->c.fall_count,
			   t->c.fall_count == 1 ? "" : "s");
	}
}

static void update_health(struct engine *e, struct gstate *g, int64_t now)
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
		if (h == HEALTH_UNHEALTHY) {
			header(&b, g, ":red_circle:", "Server unhealthy");
			buf_addstr(&b, "Server ");
			server_link(&b, g, s);
			buf_printf(&b, " (%s) is **unhealthy** (was %s).\n", s->s.location ? s->s.location : "?",
				   health_name(was));
			describe_failures(&b, g, s->s.id);
			post(e, g, "server_unhealthy", &b);
		} else if (h == HEALTH_HEALTHY && was == HEALTH_UNHEALTHY) {
			header(&b, g, ":large_green_circle:", "Server healthy again");
			buf_addstr(&b, "Server ");
			server_link(&b, g, s);
			buf_printf(&b, " (%s) is **healthy** again.\n", s->s.location ? s->s.location : "?");
			post(e, g, "server_healthy", &b);
		}
		buf_release(&b);
	}
}

/* ---- save ------------------------------------------------------------------ */

static int save_group(struct engine *e, struct gstate *g)
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

/* ---- plan -------------------------------------------------------------------- */

/*
 * Probation is judged against the wall clock, since health_since is
 * stored between runs; the planner itself has no clock.
 */
static void compute_plan(struct gstate *g)
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
	plan_compute(&g->cfg->planner, g->pservers, g->n_servers, g->pfips, g->n_fips, &g->plan);
	g->pending_due = xcalloc(g->plan.n_pending + 1, sizeof *g->pending_due);
	store_pending_due(&g->plan, g->servers, g->n_servers, g->cfg->failback_delay_ms, now,
			  g->pending_due);
}

static void check_deferral(struct gstate *g)
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

static void describe_plan(struct buf *b, struct gstate *g)
{
	for (size_t i = 0; i < g->plan.n_actions; i++) {
		const struct plan_action *a = &g->plan.actions[i];
		const struct hc_fip *f = fip_by_id(g, a->fip);
		struct store_server *from = a->from ? server_by_id(g, a->from) : NULL;
		struct store_server *to = server_by_id(g, a->to);
		buf_addstr(b, "- ");
		md_text(b, f && f->name ? f->name : "?");
		buf_addstr(b, " ");
		md_code(b, f && f->ip ? f->ip : "?");
		buf_addstr(b, ": ");
		if (from) {
			server_link(b, g, from);
			buf_printf(b, " (%s)", health_name(from->health));
		} else if (a->from) {
			buf_printf(b, "server %lld", (long long)a->from);
		} else {
			buf_addstr(b, "unassigned");
		}
		buf_addstr(b, " → ");
		server_link(b, g, to);
		buf_printf(b, " (%s), reason: %s\n", to ? health_name(to->health) : "?",
			   plan_reason_name(a->reason));
	}
}

static void log_plan(struct gstate *g, const char *msg)
{
	for (size_t i = 0; i < g->plan.n_actions; i++) {
		const struct plan_action *a = &g->plan.actions[i];
		const struct hc_fip *f = fip_by_id(g, a->fip);
		struct store_server *from = a->from ? server_by_id(g, a->from) : NULL;
		struct store_server *to = server_by_id(g, a->to);
		log_kv(LOG_INFO, g->cfg->id, msg, "floating_ip", f ? f->name : "?",
		       "ip", f ? f->ip : NULL, "from", from ? from->s.name : a->from ? "(foreign)" : "(unassigned)",
		       "to", to ? to->s.name : "?", "reason", plan_reason_name(a->reason), NULL);
	}
}

/* Frozen, fail-open or a location without a healthy server: tell people once. */
static void check_alerts(struct engine *e, struct gstate *g)
{
	struct buf key, text, locs;
	buf_init(&key, 0);
	buf_init(&text, 0);
	buf_init(&locs, 0);
	bool any_unhealthy = false;
	for (size_t i = 0; i < g->n_servers; i++)
		any_unhealthy |= g->servers[i].health == HEALTH_UNHEALTHY;
	/* All unknown (a new state) is not an outage; unhealthy ones are. */
	if (g->n_servers && (g->plan.frozen || g->plan.fail_open) && any_unhealthy) {
		buf_addstr(&key, g->plan.frozen ? "frozen" : "fail-open");
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
		if (key.len && g->plan.frozen) {
			header(&text, g, ":snowflake:", "Frozen");
			buf_addstr(&text, "No server in this group is healthy: no floating IP is moved "
				   "until one is (when\\_none\\_healthy: freeze). A checker that lost "
				   "its network sees this too; otherwise the servers need attention.\n");
			log_kv(LOG_ERROR, g->cfg->id, "no server is healthy: frozen, nothing moves", NULL);
			post(e, g, "frozen", &text);
		} else if (key.len && g->plan.fail_open) {
			header(&text, g, ":rotating_light:", "Fail-open");
			buf_addstr(&text, "No server in this group is healthy: every server is treated as "
				   "healthy so floating IPs stay assigned.\n");
			log_kv(LOG_ERROR, g->cfg->id, "no server is healthy: failing open", NULL);
			post(e, g, "fail_open", &text);
		} else if (key.len) {
			header(&text, g, ":warning:", "Location without a healthy server");
			buf_addstr(&text, "No healthy server in: ");
			md_text(&text, locs.data);
			buf_addstr(&text, ". Floating IPs there move to another location of their network zone.\n");
			log_kv(LOG_WARN, g->cfg->id, "location without a healthy server", "locations", locs.data, NULL);
			post(e, g, "no_healthy_location", &text);
		}
		free(g->meta.alert);
		g->meta.alert = key.len ? xstrdup(key.data) : NULL;
	}
	buf_release(&key);
	buf_release(&text);
	buf_release(&locs);
}

/* Re-read the floating IPs from the API; never act on a stale cache. */
static int reread_fips(struct gstate *g, int64_t deadline)
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
static void save_fips(struct engine *e, struct gstate *g)
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

static void forget_failed_plan(struct gstate *g)
{
	free(g->meta.failed_plan);
	free(g->meta.failed_errors);
	g->meta.failed_plan = g->meta.failed_errors = NULL;
	g->meta.failed_attempts = g->meta.failed_since = g->meta.failed_told_at = 0;
}

/* Nothing pending: a plan that comes back later is news again. */
static void forget_pending_plans(struct gstate *g)
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

static void apply_plan(struct engine *e, struct gstate *g, struct round_result *res)
{
	const struct group_config *cfg = g->cfg;
	int64_t deadline = mono_ms() + cfg->plan_apply_timeout_ms;

	if (!client_for(g) || reread_fips(g, deadline) < 0) {
		g->failed = true;
		return;
	}
	save_fips(e, g);
	compute_plan(g);
	if (!g->plan.n_actions) {
		log_kv(LOG_INFO, cfg->id, "the floating IPs are already where the plan wants them", NULL);
		forget_pending_plans(g);
		return;
	}
	if (cfg->max_actions_per_round && g->plan.n_actions > (size_t)cfg->max_actions_per_round) {
		struct buf b;
		buf_init(&b, 0);
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
			header(&b, g, ":no_entry:", "Plan refused");
			buf_printf(&b, "The plan has %zu actions, more than max\\_actions\\_per\\_round (%d). "
				   "Nothing was applied.\n", g->plan.n_actions, cfg->max_actions_per_round);
			describe_plan(&b, g);
			post(e, g, "plan_refused", &b);
			free(g->meta.refused_plan);
			g->meta.refused_plan = buf_detach(&key);
		}
		buf_release(&key);
		buf_release(&b);
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
		header(&b, g, ":twisted_rightwards_arrows:", "Executing plan");
		describe_plan(&b, g);
		/* Stored before anything moves, so the record exists whatever happens. */
		if (e->store) {
			store_begin(e->store);
			post(e, g, "plan_executing", &b);
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
		const struct hc_fip *f = fip_by_id(g, a->fip);
		struct store_server *to = server_by_id(g, a->to);
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
			buf_addstr(&outcome, "- ");
			md_text(&outcome, fname);
			buf_addstr(&outcome, " → ");
			md_text(&outcome, to ? to->s.name : "?");
			buf_addstr(&outcome, ": ");
			md_code(&outcome, msg);
			buf_addch(&outcome, '\n');
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
			header(&b, g, ":x:", remind ? "Plan still failing" : "Plan failed");
			if (again)
				buf_printf(&b, "Attempt %lld, failing since %s.\n",
					   (long long)g->meta.failed_attempts, since);
			if (remind)
				describe_plan(&b, g);
			buf_printf(&b, "%zu of %zu actions failed:\n", g->apply_failed, g->plan.n_actions);
			buf_add(&b, outcome.data, outcome.len);
			if (!remind)
				buf_addstr(&b, "flipper retries it every round and tells again when what "
					   "fails changes, or in an hour.\n");
		} else {
			char n[32];
			snprintf(n, sizeof n, "%lld", (long long)g->meta.failed_attempts);
			log_kv(LOG_INFO, cfg->id, "the plan failed again the same way; not notified",
			       "attempts", n, "failing_since", since, NULL);
		}
	} else {
		header(&b, g, ":white_check_mark:", "Plan applied");
		buf_printf(&b, "All %zu action%s succeeded", g->applied, g->applied == 1 ? "" : "s");
		if (again)
			buf_printf(&b, ", after %lld failed attempt%s since %s",
				   (long long)g->meta.failed_attempts,
				   g->meta.failed_attempts == 1 ? "" : "s", since);
		buf_addstr(&b, ".\n");
		forget_failed_plan(g);
	}
	buf_release(&key);
	buf_release(&failures);
	if (e->store) {
		store_begin(e->store);
		if (tell)
			post(e, g, "plan_outcome", &b);
		if (store_fips_save(e->store, cfg->id, g->fips, g->n_fips) < 0)
			log_kv(LOG_ERROR, cfg->id, "cannot save the floating IPs", "error",
			       store_errmsg(e->store), NULL);
		store_commit(e->store);
	}
	buf_release(&b);
	buf_release(&outcome);
}

static void plan_group(struct engine *e, struct gstate *g, struct round_result *res)
{
	const struct group_config *cfg = g->cfg;
	compute_plan(g);
	check_deferral(g);
	if (e->o.dry_run) {
		res->changes += g->plan.n_actions;
		return;
	}
	check_alerts(e, g);
	for (size_t i = 0; i < g->plan.n_skipped; i++) {
		const struct plan_skip *sk = &g->plan.skipped[i];
		const struct hc_fip *f = fip_by_id(g, sk->fip);
		log_kv(LOG_DEBUG, cfg->id, "floating IP left alone", "floating_ip", f ? f->name : "?",
		       "reason", plan_skip_name(sk->reason), NULL);
	}
	for (size_t i = 0; i < g->plan.n_pending; i++) {
		const struct plan_action *a = &g->plan.pending[i];
		const struct hc_fip *f = fip_by_id(g, a->fip);
		struct store_server *to = server_by_id(g, a->to);
		char due[32] = "?";
		if (g->pending_due[i])
			format_time_utc(g->pending_due[i], due);
		log_kv(LOG_INFO, cfg->id, "failback waits for the end of a probation",
		       "floating_ip", f ? f->name : "?", "to", to ? to->s.name : "?",
		       "reason", plan_reason_name(a->withheld), "due_at", due, NULL);
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
			struct buf b;
			buf_init(&b, 0);
			header(&b, g, ":eyes:", "Readonly plan (not applied)");
			describe_plan(&b, g);
			post(e, g, "readonly_plan", &b);
			buf_release(&b);
			free(g->meta.readonly_plan);
			g->meta.readonly_plan = buf_detach(&key);
		}
		buf_release(&key);
		return;
	}
	apply_plan(e, g, res);
}

static void add_report(struct engine *e, struct round_result *res)
{
	struct report_group *rg = xcalloc(e->n_g + 1, sizeof *rg);
	size_t n = 0;
	for (size_t i = 0; i < e->n_g; i++) {
		struct gstate *g = &e->g[i];
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
			.pending_due = g->pending_due,
		};
	}
	report_human(rg, n, &res->report_human);
	report_json(rg, n, &res->report_json);
	free(rg);
}

/* ---- the round ----------------------------------------------------------------- */

static void started_watching(struct engine *e, struct gstate *g, int64_t now)
{
	if (g->meta.watching_since)
		return;
	g->meta.watching_since = now;
	struct buf b;
	buf_init(&b, 0);
	header(&b, g, ":wave:", "flipper started watching");
	buf_printf(&b, "Watching %zu server%s and %zu floating IP%s with %zu check%s.\n",
		   g->n_servers, g->n_servers == 1 ? "" : "s", g->n_fips, g->n_fips == 1 ? "" : "s",
		   g->cfg->n_checks, g->cfg->n_checks == 1 ? "" : "s");
	post(e, g, "started_watching", &b);
	buf_release(&b);
}

static void notify_reset(struct engine *e)
{
	if (!e->reset_moved || e->o.dry_run || !e->store)
		return;
	struct buf b;
	buf_init(&b, 0);
	buf_addstr(&b, ":warning: **State reset** — the state file was not a usable flipper database (");
	md_text(&b, e->reset_why);
	buf_addstr(&b, "). It was moved aside to ");
	md_code(&b, e->reset_moved);
	buf_addstr(&b, " and a fresh state was started: health counters begin again.\n");
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
static int save_round(struct engine *e, struct gstate *g, int64_t now)
{
	if (store_begin(e->store) < 0)
		goto unsaved;
	started_watching(e, g, now);
	update_health(e, g, now);
	g->meta.last_round_at = now;
	g->meta.failback_delay_ms = g->cfg->failback_delay_ms;
	g->meta.planner = g->cfg->planner;
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
		struct gstate *g = &e->g[gi];
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
		/* A failback waiting for a probation: plan again when it ends. */
		for (size_t i = 0; g->pending_due && i < g->plan.n_pending; i++)
			if (g->pending_due[i] && g->pending_due[i] < next)
				next = g->pending_due[i];
		for (size_t i = 0; i < g->n_targets; i++) {
			const struct check_config *c = check_by_id(g->cfg, g->targets[i].check_id);
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

/* Add this round's API requests to the counters kept in the state. */
static void persist_api_counts(struct engine *e)
{
	store_begin(e->store);
	for (size_t gi = 0; gi < e->n_g; gi++) {
		struct gstate *g = &e->g[gi];
		if (!g->api)
			continue;
		const struct hcloud_stats *st = hcloud_client_stats(g->api);
		for (size_t i = 0; i < st->n_requests; i++) {
			const struct hc_request_count *rc = &st->requests[i];
			struct hc_request_count *p = NULL;
			for (size_t k = 0; k < g->n_persisted; k++)
				if (g->persisted[k].status == rc->status && !strcmp(g->persisted[k].kind, rc->kind))
					p = &g->persisted[k];
			if (!p) {
				g->persisted = xrealloc(g->persisted, (g->n_persisted + 1) * sizeof *g->persisted);
				p = &g->persisted[g->n_persisted++];
				*p = (struct hc_request_count){ .kind = rc->kind, .status = rc->status };
			}
			if (rc->count <= p->count)
				continue;
			struct buf l;
			char status[16];
			buf_init(&l, 0);
			snprintf(status, sizeof status, "%d", rc->status);
			metrics_label(&l, "group", g->cfg->id);
			metrics_label(&l, "endpoint", rc->kind);
			metrics_label(&l, "status", status);
			store_counter_add(e->store, "flipper_api_requests_total", l.data,
					  (int64_t)(rc->count - p->count));
			buf_release(&l);
			p->count = rc->count;
		}
	}
	store_commit(e->store);
}

struct counter_ctx {
	struct metrics *m;
};

static void emit_counter(void *arg, const char *name, const char *labels, int64_t value)
{
	struct counter_ctx *c = arg;
	metrics_sample_raw(c->m, name, labels, (double)value);
}

static void write_metrics(struct engine *e, int64_t now, int64_t took)
{
	struct metrics *m = metrics_new();
	metrics_family(m, "flipper_server_health", "gauge",
		       "Health of each server as flipper sees it (1 for its current status).");
	metrics_family(m, "flipper_check_duration_seconds", "gauge",
		       "Duration of the last run of each check target.");
	metrics_family(m, "flipper_check_last_success_timestamp_seconds", "gauge",
		       "When each check target last succeeded (0: never).");
	metrics_family(m, "flipper_floating_ip_assigned", "gauge",
		       "Which server each floating IP points at (server=\"\" when unassigned).");
	metrics_family(m, "flipper_actions_total", "counter",
		       "Floating IP assignments flipper applied, by result.");
	metrics_family(m, "flipper_api_requests_total", "counter",
		       "Hetzner Cloud API requests, by endpoint and HTTP status (0: no answer).");
	metrics_family(m, "flipper_api_ratelimit_remaining", "gauge",
		       "RateLimit-Remaining of the last API answer.");
	metrics_family(m, "flipper_notifications_queued", "gauge",
		       "Notifications waiting in the outbox.");
	metrics_family(m, "flipper_last_round_timestamp_seconds", "gauge",
		       "When the last round started.");
	metrics_family(m, "flipper_last_round_duration_seconds", "gauge",
		       "How long the last round took.");

	static const enum health states[] = { HEALTH_HEALTHY, HEALTH_UNHEALTHY, HEALTH_UNKNOWN,
					      HEALTH_UNCHECKABLE };
	for (size_t gi = 0; gi < e->n_g; gi++) {
		struct gstate *g = &e->g[gi];
		const char *gid = g->cfg->id;
		for (size_t i = 0; i < g->n_servers; i++) {
			const struct store_server *s = &g->servers[i];
			for (size_t k = 0; k < ARRAY_SIZE(states); k++)
				metrics_sample(m, "flipper_server_health", s->health == states[k] ? 1 : 0,
					       "group", gid, "server", s->s.name, "location", s->s.location,
					       "status", health_name(states[k]), NULL);
		}
		for (size_t i = 0; i < g->n_targets; i++) {
			const struct store_target *t = &g->targets[i];
			struct store_server *s = server_by_id(g, t->server_id);
			const char *fam = t->family == 4 ? "ipv4" : "ipv6";
			metrics_sample(m, "flipper_check_duration_seconds", (double)t->duration_ms / 1000.0,
				       "group", gid, "server", s ? s->s.name : "?", "check", t->check_id,
				       "family", fam, NULL);
			metrics_sample(m, "flipper_check_last_success_timestamp_seconds",
				       (double)(t->last_ok / 1000), "group", gid, "server", s ? s->s.name : "?",
				       "check", t->check_id, "family", fam, NULL);
		}
		for (size_t i = 0; i < g->n_fips; i++) {
			const struct hc_fip *f = &g->fips[i];
			struct store_server *s = f->server ? server_by_id(g, f->server) : NULL;
			char other[32] = "";
			if (f->server && !s)
				snprintf(other, sizeof other, "%lld", (long long)f->server);
			metrics_sample(m, "flipper_floating_ip_assigned", 1, "group", gid,
				       "floating_ip", f->name, "ip", f->ip,
				       "server", s ? s->s.name : other, NULL);
		}
		if (g->api) {
			const struct hcloud_stats *st = hcloud_client_stats(g->api);
			if (st->ratelimit_remaining >= 0)
				metrics_sample(m, "flipper_api_ratelimit_remaining",
					       (double)st->ratelimit_remaining, "group", gid, NULL);
		}
	}
	struct counter_ctx cc = { m };
	store_counters_each(e->store, emit_counter, &cc);
	metrics_sample(m, "flipper_notifications_queued", (double)(e->outbox_depth < 0 ? 0 : e->outbox_depth), NULL);
	metrics_sample(m, "flipper_last_round_timestamp_seconds", (double)now / 1000.0, NULL);
	metrics_sample(m, "flipper_last_round_duration_seconds", (double)took / 1000.0, NULL);
	char *err = NULL;
	if (metrics_write_file(m, e->cfg->metrics_textfile, &err) < 0) {
		log_kv(LOG_WARN, NULL, "metrics not written", "error", err, NULL);
		free(err);
	}
	metrics_free(m);
}

void engine_round(struct engine *e, struct round_result *res)
{
	int64_t now = now_ms();
	int64_t t0 = mono_ms();

	if (e->store)
		store_write_error_clear(e->store);
	notify_reset(e);

	for (size_t i = 0; i < e->n_g; i++) {
		struct gstate *g = &e->g[i];
		if (load_group(e, g) < 0) {
			g->failed = true;
			continue;
		}
		refresh_inventory(e, g, now);
		if (g->have_inventory)
			rebuild_targets(g);
	}
	if (!e->o.no_checks)
		run_checks(e, now);

	for (size_t i = 0; i < e->n_g; i++) {
		struct gstate *g = &e->g[i];
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
				compute_plan(g);
			continue;
		}
		plan_group(e, g, res);
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
		struct gstate *g = &e->g[i];
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
		persist_api_counts(e);
		if (e->cfg->metrics_textfile)
			write_metrics(e, now, took);
		if (store_write_error(e->store)) {
			log_kv(LOG_ERROR, NULL, "the state file cannot be written: counters, "
			       "notifications and the inventory of this round may be lost",
			       "error", store_write_error(e->store), NULL);
			res->failed = true;
		}
	}
	for (size_t i = 0; i < e->n_g; i++)
		gstate_round_release(&e->g[i]);
}
