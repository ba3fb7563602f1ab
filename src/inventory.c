/*
 * inventory.c — a group's servers and floating IPs: listing them from the
 * API when the cache is stale, merging the listing with what is known
 * (health carried over), telling people what changed, and deriving the
 * check targets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group.h"
#include "log.h"
#include "rules.h"

static int cmp_i64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

static int cmp_server(const void *a, const void *b)
{
	return cmp_i64(((const struct store_server *)a)->s.id, ((const struct store_server *)b)->s.id);
}

/*
 * Servers as "Resources changed" counts them: the listed ones and those
 * that vanished from one listing only. A server is told removed when two
 * listings lacked it (or it was forgotten), and one that comes back after
 * a single bad listing was never gone.
 */
static struct msg_item *reported_servers(const struct store_server *v, size_t n,
					 const struct store_server *gone, size_t n_gone,
					 size_t *out)
{
	struct msg_item *r = xcalloc(n + n_gone + 1, sizeof *r);
	size_t k = 0, i = 0, j = 0;
	/* Both are sorted by id: merge them. */
	while (i < n || j < n_gone) {
		if (j < n_gone && gone[j].absent_listings >= 2) {
			j++;
			continue;
		}
		if (j >= n_gone || (i < n && v[i].s.id < gone[j].s.id)) {
			r[k++] = (struct msg_item){ v[i].s.id, v[i].s.name };
			i++;
		} else {
			r[k++] = (struct msg_item){ gone[j].s.id, gone[j].s.name };
			j++;
		}
	}
	*out = k;
	return r;
}

/* os: the servers reported before the listing (names borrowed, still alive). */
static void notify_changes(struct engine *e, struct group *g, const struct msg_item *os,
			   size_t n_os, const struct hc_fip *old_f, size_t n_old_f)
{
	size_t n_ns;
	struct msg_item *ns = reported_servers(g->servers, g->n_servers, g->vanished,
					       g->n_vanished, &n_ns);
	struct msg_item *of = xcalloc(n_old_f + 1, sizeof *of);
	struct msg_item *nf = xcalloc(g->n_fips + 1, sizeof *nf);
	for (size_t i = 0; i < n_old_f; i++)
		of[i] = (struct msg_item){ old_f[i].id, old_f[i].name };
	for (size_t i = 0; i < g->n_fips; i++)
		nf[i] = (struct msg_item){ g->fips[i].id, g->fips[i].name };

	struct buf b = BUF_INIT;
	if (msg_resources_changed(&b, g->cfg, os, n_os, ns, n_ns, of, n_old_f, nf, g->n_fips)) {
		log_kv(LOG_INFO, g->cfg->id, "resources changed", NULL);
		engine_post(e, g, "resources_changed", &b);
	}
	buf_release(&b);
	free(ns);
	free(of);
	free(nf);
}

bool inventory_due(const struct group *g, int64_t mono_now)
{
	if (!g->have_inventory || g->listing_failed || g->e->o.dry_run)
		return true;
	/* An apply left behind, or a re-read that lacked an IP: look again now. */
	if (g->n_left || g->pass.confirm_listing)
		return true;
	return mono_now - g->inventory_at >= g->cfg->poll_interval_ms;
}

/* How many of the known servers (sorted by id) the listing (sorted by id) lacks. */
static size_t lost_servers(const struct store_server *a, size_t na, const struct hc_server *b,
			   size_t nb)
{
	size_t lost = 0, j = 0;
	for (size_t i = 0; i < na; i++) {
		while (j < nb && b[j].id < a[i].s.id)
			j++;
		lost += j >= nb || b[j].id != a[i].s.id;
	}
	return lost;
}

static size_t lost_fips(const struct hc_fip *a, size_t na, const struct hc_fip *b, size_t nb)
{
	size_t lost = 0, j = 0;
	for (size_t i = 0; i < na; i++) {
		while (j < nb && b[j].id < a[i].id)
			j++;
		lost += j >= nb || b[j].id != a[i].id;
	}
	return lost;
}

bool inventory_needs_confirmation(struct group *g, const struct hc_result *r)
{
	if (!g->have_inventory)
		return false;
	size_t ls = lost_servers(g->servers, g->n_servers, r->servers, r->n_servers);
	size_t lf = lost_fips(g->fips, g->n_fips, r->fips, r->n_fips);
	bool sharp = listing_shrank_sharply(g->n_servers, g->n_servers - ls) ||
		     listing_shrank_sharply(g->n_fips, g->n_fips - lf);
	if (!sharp && !(g->pass.confirm_listing && (ls || lf)))
		return false;
	char a[48], b[48];
	snprintf(a, sizeof a, "%zu of %zu", ls, g->n_servers);
	snprintf(b, sizeof b, "%zu of %zu", lf, g->n_fips);
	log_kv(LOG_WARN, g->cfg->id, sharp ?
	       "the listing lacks much of the inventory; reading it again before believing it" :
	       "the listing lacks part of the inventory after a re-read lacked it; reading it "
	       "again before believing it", "servers_lacking", a, "floating_ips_lacking", b, NULL);
	return true;
}

void inventory_take(struct group *g, struct hc_result *r, bool confirmed)
{
	const struct group_config *cfg = g->cfg;
	size_t ns = r->n_servers, nf = r->n_fips;
	int64_t now = now_ms();
	int absent = confirmed ? 2 : 1;
	struct store_server *old_s = g->servers, *old_v = g->vanished;
	size_t n_old_s = g->n_servers, n_old_v = g->n_vanished, n_os = 0;
	/* Before anything moves: the names stay alive until the old arrays are freed. */
	struct msg_item *os = reported_servers(old_s, n_old_s, old_v, n_old_v, &n_os);

	/* Carry each known server's health over, a vanished one's too; new servers start unknown. */
	struct store_server *merged = xcalloc(ns + 1, sizeof *merged);
	for (size_t i = 0; i < ns; i++) {
		merged[i].s = r->servers[i];
		memset(&r->servers[i], 0, sizeof r->servers[i]);
		struct store_server *old = group_server(g, merged[i].s.id);
		if (!old && (old = group_vanished(g, merged[i].s.id)))
			log_kv(LOG_INFO, cfg->id, "server listed again; its counters were kept",
			       "server", merged[i].s.name, NULL);
		merged[i].health = old ? old->health : HEALTH_UNKNOWN;
		merged[i].health_since = old ? old->health_since : 0;
	}
	qsort(merged, ns, sizeof *merged, cmp_server);

	/* Servers the listing lacks: kept a while, counters and all (SPEC 9). */
	struct store_server *gone = xcalloc(n_old_s + n_old_v + 1, sizeof *gone);
	size_t n_gone = 0;
	for (size_t i = 0; i < n_old_s; i++) {
		if (ns && bsearch(&old_s[i], merged, ns, sizeof *merged, cmp_server))
			continue;
		gone[n_gone] = old_s[i];
		gone[n_gone].vanished_at = now;
		gone[n_gone].absent_listings = absent;
		gone[n_gone].gone = GONE_UNSURE;
		log_kv(LOG_WARN, cfg->id, confirmed ?
		       "server missing from two listings; its counters are kept for 10 minutes" :
		       "server missing from the listing; its counters are kept for 10 minutes",
		       "server", old_s[i].s.name, NULL);
		n_gone++;
		memset(&old_s[i].s, 0, sizeof old_s[i].s);   /* moved */
	}
	for (size_t i = 0; i < n_old_v; i++) {
		if (ns && bsearch(&old_v[i], merged, ns, sizeof *merged, cmp_server))
			continue;            /* back: merged above */
		if (!vanished_kept(old_v[i].vanished_at, now)) {
			log_kv(LOG_INFO, cfg->id, "server missing for 10 minutes; forgotten",
			       "server", old_v[i].s.name, NULL);
			continue;
		}
		gone[n_gone] = old_v[i];
		if (gone[n_gone].absent_listings < 1000)
			gone[n_gone].absent_listings += absent;
		memset(&old_v[i].s, 0, sizeof old_v[i].s);   /* moved */
		n_gone++;
	}
	if (n_gone)
		qsort(gone, n_gone, sizeof *gone, cmp_server);

	if (g->have_inventory)
		inventory_outside_moves(g, r->fips, nf);
	struct hc_fip *old_f = g->fips;
	size_t n_old_f = g->n_fips;
	bool had = g->have_inventory && g->meta.inventory_at != 0;
	g->servers = merged;
	g->n_servers = ns;
	g->vanished = gone;
	g->n_vanished = n_gone;
	g->fips = r->fips;
	g->n_fips = nf;
	r->fips = NULL;
	r->n_fips = 0;
	if (had)
		notify_changes(g->e, g, os, n_os, old_f, n_old_f);
	free(os);
	store_servers_free(old_s, n_old_s);
	store_servers_free(old_v, n_old_v);
	hc_fips_free(old_f, n_old_f);
	g->meta.inventory_at = now;
	g->inventory_at = mono_ms();
	g->have_inventory = true;
	g->listing_failed = false;
	g->pass.confirm_listing = false;
	g->save_inventory = g->save_meta = true;
	log_kv(LOG_DEBUG, cfg->id, "inventory refreshed", LOG_I64("servers", ns),
	       LOG_I64("floating_ips", nf), NULL);
}

/* ---- servers the listing lacks that an IP points at --------------------------------- */

int64_t inventory_next_lookup(struct group *g)
{
	for (size_t i = 0; i < g->n_fips; i++) {
		int64_t id = g->fips[i].server;
		if (!id || group_server(g, id))
			continue;
		struct store_server *v = group_vanished(g, id);
		if (!v || v->gone != GONE_UNSURE)
			continue;
		bool asked = false;
		for (size_t k = 0; k < g->n_looked_up && !asked; k++)
			asked = g->looked_up[k] == id;
		if (!asked)
			return id;
	}
	return 0;
}

void inventory_looked_up(struct group *g, int64_t id, const struct hc_result *r)
{
	g->looked_up = xgrow(g->looked_up, &g->cap_looked_up, g->n_looked_up + 1,
			     sizeof *g->looked_up);
	g->looked_up[g->n_looked_up++] = id;
	struct store_server *v = group_vanished(g, id);
	if (!v)
		return;
	if (r->rc == 0) {
		v->gone = GONE_ELSEWHERE;
		log_kv(LOG_WARN, g->cfg->id, "server left the group but exists: the floating IPs on "
		       "it are someone else's now and left alone", "server", v->s.name, NULL);
	} else if (r->err.http_status == 404) {
		v->gone = GONE_MISSING;
		log_kv(LOG_WARN, g->cfg->id, "server no longer exists (the API answers 404): the "
		       "floating IPs on it move", "server", v->s.name, NULL);
	} else {
		char *msg = hc_error_format(&r->err);
		log_kv(LOG_INFO, g->cfg->id, "cannot ask the API about a server the listing lacks; "
		       "the next listing decides", "server", v->s.name, "error", msg, NULL);
		free(msg);
		return;
	}
	g->save_inventory = true;
}

bool inventory_server_missing(struct group *g, int64_t id)
{
	const struct store_server *v = group_vanished(g, id);
	return v && vanished_missing(v->gone, v->absent_listings);
}

struct target_key {
	int64_t server_id;
	const char *check_id;
	int family;
};

static int cmp_target(const void *key, const void *elem)
{
	const struct target_key *k = key;
	const struct store_target *t = &(*(struct target *const *)elem)->st;
	int c = cmp_i64(k->server_id, t->server_id);
	if (c)
		return c;
	c = strcmp(k->check_id, t->check_id);
	if (c)
		return c;
	return k->family - t->family;
}

static int cmp_targets(const void *a, const void *b)
{
	const struct store_target *t = &(*(struct target *const *)a)->st;
	struct target_key k = { t->server_id, t->check_id, t->family };
	return cmp_target(&k, b);
}

/*
 * Targets of servers or checks that are gone are dropped (the engine
 * cancels their checks), those of vanished servers parked; those that
 * already existed, or were parked, stay as they are.
 */
void inventory_rebuild_targets(struct group *g)
{
	struct target **old = g->targets;
	size_t n_old = g->n_targets;
	struct target **v = NULL;
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
				struct target_key key = { s->id, c->id, fam };
				struct target **prev = n_old ?
					bsearch(&key, old, n_old, sizeof *old, cmp_target) : NULL;
				/* A server listed again: its counters come back with it. */
				for (size_t p = 0; !prev && p < g->n_parked; p++)
					if (!cmp_target(&key, &g->parked[p]))
						prev = &g->parked[p];
				struct target *t;
				if (prev) {
					t = *prev;
					t->kept = true;
				} else {
					t = xcalloc(1, sizeof *t);
					t->st.server_id = s->id;
					t->st.check_id = xstrdup(c->id);
					t->st.family = fam;
					t->g = g;
					t->dirty = true;
				}
				t->check = c;
				v = xgrow(v, &cap, n + 1, sizeof *v);
				v[n++] = t;
			}
		}
	}
	/* Searchable by the next rebuild, whatever the order of the checks. */
	if (n)
		qsort(v, n, sizeof *v, cmp_targets);
	g->targets = v;
	g->n_targets = n;
	engine_targets_changed(g, old, n_old);
}

/* ---- outside moves ---------------------------------------------------------- */

void inventory_asked(struct group *g, int64_t fip, int64_t server)
{
	for (size_t i = 0; i < g->n_asked; i++) {
		if (g->asked[i].fip == fip) {
			g->asked[i].server = server;
			return;
		}
	}
	g->asked = xgrow(g->asked, &g->cap_asked, g->n_asked + 1, sizeof *g->asked);
	g->asked[g->n_asked++] = (struct store_hold){ fip, server, 0 };
}

/* Did flipper ask fip to go to server? Forgets it either way: it showed. */
static bool was_asked(struct group *g, int64_t fip, int64_t server)
{
	for (size_t i = 0; i < g->n_asked; i++) {
		if (g->asked[i].fip != fip)
			continue;
		bool ours = g->asked[i].server == server;
		g->asked[i] = g->asked[--g->n_asked];
		return ours;
	}
	return false;
}

static void hold(struct group *g, int64_t fip, int64_t server, int64_t until)
{
	for (size_t i = 0; i < g->n_holds; i++) {
		if (g->holds[i].fip == fip) {
			g->holds[i] = (struct store_hold){ fip, server, until };
			g->save_holds = true;
			return;
		}
	}
	g->holds = xgrow(g->holds, &g->cap_holds, g->n_holds + 1, sizeof *g->holds);
	g->holds[g->n_holds++] = (struct store_hold){ fip, server, until };
	g->save_holds = true;
}

void inventory_outside_moves(struct group *g, const struct hc_fip *now, size_t n_now)
{
	int64_t hold_ms = g->cfg->poll_interval_ms > 0 ? g->cfg->poll_interval_ms : 60000;
	size_t i = 0, j = 0;
	while (i < g->n_fips && j < n_now) {
		const struct hc_fip *was = &g->fips[i], *is = &now[j];
		if (was->id < is->id) {
			i++;
			continue;
		}
		if (is->id < was->id) {
			j++;
			continue;
		}
		i++;
		j++;
		if (was->server == is->server || was_asked(g, is->id, is->server) || !is->server)
			continue;
		/* An IP unassigned meanwhile serves nobody: that is no move to respect. */
		struct store_server *to = group_server(g, is->server);
		struct msg_server ms = to ? group_msg_server(to) :
			(struct msg_server){ .id = is->server, .name = "a server outside the group" };
		char d[48];
		duration_format(hold_ms, d);
		log_kv(LOG_WARN, g->cfg->id, "floating IP moved outside flipper; left alone for a while",
		       "floating_ip", is->name, "to", ms.name, "hold", d, NULL);
		hold(g, is->id, is->server, now_ms() + hold_ms);
		struct buf b = BUF_INIT;
		msg_outside_move(&b, g->cfg, is->name ? is->name : "?", &ms, d);
		engine_post(g->e, g, "outside_move", &b);
		buf_release(&b);
	}
}
