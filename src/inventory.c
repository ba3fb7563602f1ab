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

static int cmp_i64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

static int cmp_server(const void *a, const void *b)
{
	return cmp_i64(((const struct store_server *)a)->s.id, ((const struct store_server *)b)->s.id);
}

static void notify_changes(struct engine *e, struct group *g,
			   const struct store_server *old_s, size_t n_old_s,
			   const struct hc_fip *old_f, size_t n_old_f)
{
	struct msg_item *os = xcalloc(n_old_s + 1, sizeof *os);
	struct msg_item *ns = xcalloc(g->n_servers + 1, sizeof *ns);
	struct msg_item *of = xcalloc(n_old_f + 1, sizeof *of);
	struct msg_item *nf = xcalloc(g->n_fips + 1, sizeof *nf);
	for (size_t i = 0; i < n_old_s; i++)
		os[i] = (struct msg_item){ old_s[i].s.id, old_s[i].s.name };
	for (size_t i = 0; i < g->n_servers; i++)
		ns[i] = (struct msg_item){ g->servers[i].s.id, g->servers[i].s.name };
	for (size_t i = 0; i < n_old_f; i++)
		of[i] = (struct msg_item){ old_f[i].id, old_f[i].name };
	for (size_t i = 0; i < g->n_fips; i++)
		nf[i] = (struct msg_item){ g->fips[i].id, g->fips[i].name };

	struct buf b = BUF_INIT;
	if (msg_resources_changed(&b, g->cfg, os, n_old_s, ns, g->n_servers,
				  of, n_old_f, nf, g->n_fips)) {
		log_kv(LOG_INFO, g->cfg->id, "resources changed", NULL);
		engine_post(e, g, "resources_changed", &b);
	}
	buf_release(&b);
	free(os);
	free(ns);
	free(of);
	free(nf);
}

bool inventory_due(const struct group *g, int64_t mono_now)
{
	if (!g->have_inventory || g->listing_failed || g->e->o.dry_run)
		return true;
	return mono_now - g->inventory_at >= g->cfg->poll_interval_ms;
}

void inventory_take(struct group *g, struct hc_result *r)
{
	const struct group_config *cfg = g->cfg;
	size_t ns = r->n_servers, nf = r->n_fips;

	/* Carry each known server's health over; new servers start unknown. */
	struct store_server *merged = xcalloc(ns + 1, sizeof *merged);
	for (size_t i = 0; i < ns; i++) {
		merged[i].s = r->servers[i];
		memset(&r->servers[i], 0, sizeof r->servers[i]);
		struct store_server *old = group_server(g, merged[i].s.id);
		merged[i].health = old ? old->health : HEALTH_UNKNOWN;
		merged[i].health_since = old ? old->health_since : 0;
	}
	qsort(merged, ns, sizeof *merged, cmp_server);

	if (g->have_inventory)
		inventory_outside_moves(g, r->fips, nf);
	struct store_server *old_s = g->servers;
	size_t n_old_s = g->n_servers;
	struct hc_fip *old_f = g->fips;
	size_t n_old_f = g->n_fips;
	bool had = g->have_inventory && g->meta.inventory_at != 0;
	g->servers = merged;
	g->n_servers = ns;
	g->fips = r->fips;
	g->n_fips = nf;
	r->fips = NULL;
	r->n_fips = 0;
	if (had)
		notify_changes(g->e, g, old_s, n_old_s, old_f, n_old_f);
	store_servers_free(old_s, n_old_s);
	hc_fips_free(old_f, n_old_f);
	g->meta.inventory_at = now_ms();
	g->inventory_at = mono_ms();
	g->have_inventory = true;
	g->listing_failed = false;
	g->save_inventory = g->save_meta = true;
	log_kv(LOG_DEBUG, cfg->id, "inventory refreshed", LOG_I64("servers", ns),
	       LOG_I64("floating_ips", nf), NULL);
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
 * cancels their checks); those that already existed stay as they are.
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
