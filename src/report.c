/* report.c — a plan as JSON and as a diff for people. */
#include "report.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"

/* Finding the servers and IPs an action names, by id. */

static int cmp_server_ptr(const void *pa, const void *pb)
{
	const struct plan_server *a = *(const struct plan_server *const *)pa;
	const struct plan_server *b = *(const struct plan_server *const *)pb;
	return (a->id > b->id) - (a->id < b->id);
}

static int cmp_fip_ptr(const void *pa, const void *pb)
{
	const struct plan_fip *a = *(const struct plan_fip *const *)pa;
	const struct plan_fip *b = *(const struct plan_fip *const *)pb;
	return (a->id > b->id) - (a->id < b->id);
}

struct lookup {
	const struct plan_server **servers;
	size_t n_servers;
	const struct plan_fip **fips;
	size_t n_fips;
};

static void lookup_init(struct lookup *l, const struct report_group *g)
{
	l->n_servers = g->n_servers;
	l->servers = xmalloc(g->n_servers * sizeof *l->servers);
	for (size_t i = 0; i < g->n_servers; i++)
		l->servers[i] = &g->servers[i];
	qsort(l->servers, l->n_servers, sizeof *l->servers, cmp_server_ptr);
	l->n_fips = g->n_fips;
	l->fips = xmalloc(g->n_fips * sizeof *l->fips);
	for (size_t i = 0; i < g->n_fips; i++)
		l->fips[i] = &g->fips[i];
	qsort(l->fips, l->n_fips, sizeof *l->fips, cmp_fip_ptr);
}

static void lookup_release(struct lookup *l)
{
	free(l->servers);
	free(l->fips);
}

static const struct plan_server *find_server(const struct lookup *l, int64_t id)
{
	struct plan_server key = { .id = id };
	const struct plan_server *k = &key;
	const struct plan_server **hit;
	if (id == 0 || l->n_servers == 0)
		return NULL;
	hit = bsearch(&k, l->servers, l->n_servers, sizeof *l->servers, cmp_server_ptr);
	return hit ? *hit : NULL;
}

static const struct plan_fip *find_fip(const struct lookup *l, int64_t id)
{
	struct plan_fip key = { .id = id };
	const struct plan_fip *k = &key;
	const struct plan_fip **hit;
	if (l->n_fips == 0)
		return NULL;
	hit = bsearch(&k, l->fips, l->n_fips, sizeof *l->fips, cmp_fip_ptr);
	return hit ? *hit : NULL;
}

size_t report_count_actions(const struct report_group *g, size_t n)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		if (g[i].plan)
			total += g[i].plan->n_actions;
	return total;
}

/* JSON */

static void json_id(struct jw *jw, const char *key, int64_t id)
{
	if (id)
		jw_int(jw, key, id);
	else
		jw_null(jw, key);
}

static void json_fip_fields(struct jw *jw, const struct lookup *l, int64_t id)
{
	const struct plan_fip *f = find_fip(l, id);
	jw_int(jw, "floating_ip", id);
	jw_string(jw, "floating_ip_name", f ? f->name : NULL);
	jw_string(jw, "ip", f ? f->ip : NULL);
}

static void json_server_fields(struct jw *jw, const struct lookup *l, const char *key,
			       int64_t id)
{
	const struct plan_server *s = find_server(l, id);
	char name[16], status[16];
	snprintf(name, sizeof name, "%s_name", key);
	snprintf(status, sizeof status, "%s_status", key);
	json_id(jw, key, id);
	jw_string(jw, name, s ? s->name : NULL);
	jw_string(jw, status, s ? health_name(s->status) : NULL);
}

static void json_group(const struct report_group *g, struct jw *jw)
{
	const struct plan *p = g->plan;
	struct lookup l;

	lookup_init(&l, g);
	jw_object_begin(jw, NULL);
	jw_string(jw, "id", g->id);
	jw_string(jw, "display_name", g->display_name);
	jw_bool(jw, "readonly", g->readonly);
	jw_bool(jw, "deferred", g->deferred);
	jw_string(jw, "defer_reason", g->defer_reason);
	jw_string(jw, "error", g->error);
	jw_bool(jw, "fail_open", p && p->fail_open);
	jw_bool(jw, "frozen", p && p->frozen);
	jw_int(jw, "candidates", p ? (int64_t)p->n_candidates : 0);
	jw_array_begin(jw, "actions");
	/* Moves and pending moves, merged in floating-IP id order. */
	for (size_t i = 0, k = 0; p && i + k < p->n_actions + p->n_pending;) {
		bool pend = i == p->n_actions ||
			(k < p->n_pending && p->pending[k].fip < p->actions[i].fip);
		const struct plan_action *a = pend ? &p->pending[k] : &p->actions[i];
		jw_object_begin(jw, NULL);
		json_fip_fields(jw, &l, a->fip);
		json_server_fields(jw, &l, "from", a->from);
		json_server_fields(jw, &l, "to", a->to);
		jw_string(jw, "reason", plan_reason_name(a->reason));
		if (pend) {
			jw_string(jw, "pending_reason", plan_reason_name(a->withheld));
			json_id(jw, "due_at", g->pending_due ? g->pending_due[k] : 0);
			k++;
		} else {
			i++;
		}
		jw_end(jw);
	}
	jw_end(jw);
	jw_array_begin(jw, "skipped");
	for (size_t i = 0; p && i < p->n_skipped; i++) {
		const struct plan_skip *k = &p->skipped[i];
		const struct plan_server *s = find_server(&l, k->server);
		jw_object_begin(jw, NULL);
		json_fip_fields(jw, &l, k->fip);
		json_id(jw, "server", k->server);
		jw_string(jw, "server_name", s ? s->name : NULL);
		jw_string(jw, "reason", plan_skip_name(k->reason));
		jw_end(jw);
	}
	jw_end(jw);
	jw_end(jw);
	lookup_release(&l);
}

void report_json(const struct report_group *g, size_t n, struct buf *out)
{
	struct jw jw;
	jw_init(&jw, out, false);
	jw_object_begin(&jw, NULL);
	jw_array_begin(&jw, "groups");
	for (size_t i = 0; i < n; i++)
		json_group(&g[i], &jw);
	jw_end(&jw);
	jw_end(&jw);
	buf_addch(out, '\n');
}

/* Human */

/* Untrusted text made safe for a terminal, as a new string. */
static char *sane(const char *s)
{
	struct buf b = BUF_INIT;
	log_escape(&b, s ? s : "");
	return buf_detach(&b);
}

/* Columns a string takes on a terminal: UTF-8 continuation bytes take none. */
static size_t width(const char *s)
{
	size_t w = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p & 0xc0) != 0x80)
			w++;
	return w;
}

static void pad(struct buf *out, const char *s, size_t w)
{
	buf_addstr(out, s);
	for (size_t k = width(s); k < w; k++)
		buf_addch(out, ' ');
}

static char *fip_label(const struct plan_fip *f, int64_t id)
{
	if (f && f->name && *f->name)
		return sane(f->name);
	return xasprintf("#%" PRId64, id);
}

static char *fip_address(const struct plan_fip *f)
{
	return sane(f && f->ip && *f->ip ? f->ip : "-");
}

static char *server_label(const struct lookup *l, int64_t id)
{
	const struct plan_server *s = find_server(l, id);
	if (id == 0)
		return xstrdup("unassigned");
	if (!s)
		return xasprintf("server %" PRId64, id);
	char *name = s->name && *s->name ? sane(s->name) : xasprintf("#%" PRId64, id);
	bool probation = s->probation && s->status == HEALTH_HEALTHY;
	char *label = xasprintf("%s (%s%s)", name, health_name(s->status),
				probation ? ", probation" : "");
	free(name);
	return label;
}

/* One row of the diff, cells escaped, before alignment. */
struct row {
	char *cell[4];               /* ip name, address, from, to */
	char *reason;
};

enum section { MOVES, REBALANCE, PENDING, N_SECTIONS };

static void row_fill(struct row *r, const struct lookup *l, const struct plan_action *a,
		     int64_t due)
{
	const struct plan_fip *f = find_fip(l, a->fip);
	r->cell[0] = fip_label(f, a->fip);
	r->cell[1] = fip_address(f);
	r->cell[2] = server_label(l, a->from);
	r->cell[3] = server_label(l, a->to);
	if (a->reason != REASON_PENDING) {
		r->reason = xstrdup(plan_reason_name(a->reason));
	} else if (due) {
		char at[32];
		format_time_utc(due, at);
		r->reason = xasprintf("%s at %s", plan_reason_name(a->withheld), at);
	} else {
		r->reason = xasprintf("%s when the probation ends",
				      plan_reason_name(a->withheld));
	}
}

/*
 * The moves, then the rebalance moves and the moves waiting for a
 * probation under their headings; one set of columns for all of them.
 */
static void human_actions(const struct report_group *g, const struct lookup *l,
			  struct buf *out)
{
	static const char *const headings[N_SECTIONS] = {
		[REBALANCE] = "rebalance (evening out, rebalance: true):",
		[PENDING] = "waiting for a probation to end (failback_delay):",
	};
	const struct plan *p = g->plan;
	size_t n = p->n_actions + p->n_pending;
	struct row *rows = xcalloc(n + 1, sizeof *rows);
	enum section *sec = xcalloc(n + 1, sizeof *sec);
	size_t w[4] = { 0 };

	for (size_t i = 0; i < n; i++) {
		bool pend = i >= p->n_actions;
		size_t k = pend ? i - p->n_actions : i;
		const struct plan_action *a = pend ? &p->pending[k] : &p->actions[k];
		sec[i] = pend ? PENDING : a->reason == REASON_REBALANCE ? REBALANCE : MOVES;
		row_fill(&rows[i], l, a, pend && g->pending_due ? g->pending_due[k] : 0);
		for (size_t c = 0; c < 4; c++) {
			size_t cw = width(rows[i].cell[c]);
			if (cw > w[c])
				w[c] = cw;
		}
	}
	for (enum section s = MOVES; s < N_SECTIONS; s++) {
		bool heading = false;
		for (size_t i = 0; i < n; i++) {
			if (sec[i] != s)
				continue;
			if (headings[s] && !heading) {
				buf_printf(out, "  %s\n", headings[s]);
				heading = true;
			}
			buf_addstr(out, headings[s] ? "    " : "  ");
			pad(out, rows[i].cell[0], w[0] + 2);
			pad(out, rows[i].cell[1], w[1] + 2);
			pad(out, rows[i].cell[2], w[2]);
			buf_addstr(out, " -> ");
			pad(out, rows[i].cell[3], w[3] + 2);
			buf_addstr(out, rows[i].reason);
			buf_addch(out, '\n');
		}
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t c = 0; c < 4; c++)
			free(rows[i].cell[c]);
		free(rows[i].reason);
	}
	free(rows);
	free(sec);
}

static void human_skipped(const struct report_group *g, const struct lookup *l,
			  struct buf *out)
{
	const struct plan *p = g->plan;

	for (size_t i = 0; i < p->n_skipped; i++) {
		const struct plan_skip *k = &p->skipped[i];
		const struct plan_fip *f = find_fip(l, k->fip);
		char *name = fip_label(f, k->fip);
		buf_printf(out, "  left alone: %s", name);
		free(name);
		if (f && f->ip && *f->ip) {
			char *addr = sane(f->ip);
			buf_printf(out, " %s", addr);
			free(addr);
		}
		if (k->reason == SKIP_FOREIGN_TARGET) {
			buf_printf(out, ": points at server %" PRId64 ", outside this group\n",
				   k->server);
		} else {
			char *zone = sane(f ? f->network_zone : NULL);
			char *on = server_label(l, k->server);
			buf_printf(out, ": %s%s, no candidate server in network zone %s\n",
				   k->server ? "on " : "", on, zone);
			free(on);
			free(zone);
		}
	}
}

static void human_group(const struct report_group *g, struct buf *out)
{
	const struct plan *p = g->plan;
	char *id = sane(g->id);
	struct lookup l;

	buf_printf(out, "group %s", id);
	free(id);
	if (g->display_name && *g->display_name && !str_eq(g->display_name, g->id)) {
		char *dn = sane(g->display_name);
		buf_printf(out, " (%s)", dn);
		free(dn);
	}
	if (g->readonly)
		buf_addstr(out, " [readonly: shown, never applied]");
	if (g->deferred) {
		char *why = g->defer_reason ? sane(g->defer_reason) : NULL;
		buf_printf(out, " [deferred%s%s: not applied this round]",
			   why ? ": " : "", why ? why : "");
		free(why);
	}
	buf_addch(out, '\n');
	if (!p) {
		char *err = sane(g->error ? g->error : "no plan");
		buf_printf(out, "  no plan: %s\n", err);
		free(err);
		return;
	}

	lookup_init(&l, g);
	if (!p->n_actions)
		buf_addstr(out, "  no changes\n");
	if (p->n_actions || p->n_pending)
		human_actions(g, &l, out);
	human_skipped(g, &l, out);
	if (p->fail_open)
		buf_printf(out, "  warning: no server is healthy; all %zu servers are candidates (fail-open)\n",
			   p->n_candidates);
	if (p->frozen)
		buf_addstr(out, "  frozen: no server is healthy; no floating IP moves until one is "
			   "(when_none_healthy: freeze)\n");
	lookup_release(&l);
}

static const char *plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

void report_human(const struct report_group *g, size_t n, struct buf *out)
{
	size_t moves = 0, groups = 0, readonly = 0, deferred = 0, failed = 0;
	size_t pending = 0, frozen = 0;

	for (size_t i = 0; i < n; i++) {
		human_group(&g[i], out);
		if (!g[i].plan) {
			failed++;
			continue;
		}
		pending += g[i].plan->n_pending;
		frozen += g[i].plan->frozen;
		if (g[i].plan->n_actions == 0)
			continue;
		moves += g[i].plan->n_actions;
		groups++;
		readonly += g[i].readonly;
		deferred += g[i].deferred && !g[i].readonly;
	}
	if (n)
		buf_addch(out, '\n');
	if (moves == 0)
		buf_addstr(out, "no changes");
	else
		buf_printf(out, "%zu floating %s to move in %zu %s", moves,
			   plural(moves, "IP", "IPs"), groups, plural(groups, "group", "groups"));
	if (readonly)
		buf_printf(out, "; %zu readonly %s not applied", readonly,
			   plural(readonly, "group", "groups"));
	if (deferred)
		buf_printf(out, "; %zu deferred %s not applied", deferred,
			   plural(deferred, "group", "groups"));
	if (pending)
		buf_printf(out, "; %zu %s waiting for a probation to end", pending,
			   plural(pending, "move", "moves"));
	if (frozen)
		buf_printf(out, "; %zu %s frozen", frozen, plural(frozen, "group", "groups"));
	if (failed)
		buf_printf(out, "; %zu %s without a plan", failed,
			   plural(failed, "group", "groups"));
	buf_addch(out, '\n');
}
