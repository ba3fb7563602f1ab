/*
 * fuzz_snapshot.c — the snapshot reader (snapshot.c), and on what it
 * accepts the planner (planner.c) and both plan reports (report.c).
 *
 * Two properties are checked as well, because a wrong plan is worse than
 * a crash:
 *   - snapshot_write() output parses back to the same planner inputs;
 *   - the planner is order-independent (planner.h): the inputs reversed
 *     give the same plan.
 * A violation aborts, so libFuzzer keeps the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node.h"
#include "planner.h"
#include "report.h"
#include "snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void violated(const char *what)
{
	fprintf(stderr, "fuzz_snapshot: %s\n", what);
	abort();
}

static bool same_server(const struct plan_server *a, const struct plan_server *b)
{
	return a->id == b->id && str_eq(a->name, b->name) &&
	       str_eq(a->location, b->location) &&
	       str_eq(a->network_zone, b->network_zone) &&
	       a->has_index == b->has_index &&
	       (!a->has_index || a->resource_index == b->resource_index) &&
	       a->status == b->status && a->probation == b->probation;
}

static bool same_fip(const struct plan_fip *a, const struct plan_fip *b)
{
	return a->id == b->id && str_eq(a->name, b->name) && str_eq(a->ip, b->ip) &&
	       str_eq(a->location, b->location) &&
	       str_eq(a->network_zone, b->network_zone) &&
	       a->has_index == b->has_index &&
	       (!a->has_index || a->resource_index == b->resource_index) &&
	       a->server == b->server && a->server_missing == b->server_missing;
}

static void check_round_trip(const struct snapshot *s)
{
	struct buf out;
	struct diags d;
	struct snapshot back;

	buf_init(&out, 0);
	snapshot_write(s->group, &s->opts, s->servers, s->n_servers, s->fips, s->n_fips, &out);
	diags_init(&d, "written");
	if (snapshot_parse(out.data, out.len, &back, &d) < 0)
		violated("snapshot_write output does not parse back");
	if (!str_eq(s->group, back.group) || back.n_servers != s->n_servers ||
	    back.n_fips != s->n_fips ||
	    back.opts.when_none_healthy != s->opts.when_none_healthy ||
	    back.opts.rebalance != s->opts.rebalance)
		violated("snapshot_write round trip changed the shape");
	for (size_t i = 0; i < s->n_servers; i++)
		if (!same_server(&s->servers[i], &back.servers[i]))
			violated("snapshot_write round trip changed a server");
	for (size_t i = 0; i < s->n_fips; i++)
		if (!same_fip(&s->fips[i], &back.fips[i]))
			violated("snapshot_write round trip changed a floating IP");
	snapshot_release(&back);
	diags_release(&d);
	buf_release(&out);
}

static void check_order_independent(const struct snapshot *s, const struct plan *p)
{
	struct plan_server *rs = calloc(s->n_servers + 1, sizeof *rs);
	struct plan_fip *rf = calloc(s->n_fips + 1, sizeof *rf);
	struct plan q;

	if (!rs || !rf)
		abort();
	for (size_t i = 0; i < s->n_servers; i++)
		rs[i] = s->servers[s->n_servers - 1 - i];
	for (size_t i = 0; i < s->n_fips; i++)
		rf[i] = s->fips[s->n_fips - 1 - i];
	plan_compute(&s->opts, rs, s->n_servers, rf, s->n_fips, &q);
	if (q.n_actions != p->n_actions || q.n_pending != p->n_pending ||
	    q.n_skipped != p->n_skipped || q.fail_open != p->fail_open ||
	    q.frozen != p->frozen || q.n_candidates != p->n_candidates)
		violated("reversed inputs gave a different plan");
	for (size_t i = 0; i < p->n_actions + p->n_pending; i++) {
		bool pend = i >= p->n_actions;
		size_t k = pend ? i - p->n_actions : i;
		const struct plan_action *a = pend ? &p->pending[k] : &p->actions[k];
		const struct plan_action *b = pend ? &q.pending[k] : &q.actions[k];
		if (a->fip != b->fip || a->from != b->from || a->to != b->to ||
		    a->reason != b->reason || a->withheld != b->withheld)
			violated("reversed inputs gave a different action");
	}
	for (size_t i = 0; i < p->n_skipped; i++) {
		const struct plan_skip *a = &p->skipped[i], *b = &q.skipped[i];
		if (a->fip != b->fip || a->server != b->server || a->reason != b->reason)
			violated("reversed inputs skipped differently");
	}
	plan_release(&q);
	free(rs);
	free(rf);
}

static void check_applied_plans_nothing(const struct snapshot *s, const struct plan *p)
{
	struct plan_fip *f = calloc(s->n_fips + 1, sizeof *f);
	struct plan q;

	if (!f)
		abort();
	memcpy(f, s->fips, s->n_fips * sizeof *f);
	for (size_t i = 0; i < p->n_actions; i++)
		for (size_t k = 0; k < s->n_fips; k++)
			if (f[k].id == p->actions[i].fip)
				f[k].server = p->actions[i].to;
	plan_compute(&s->opts, s->servers, s->n_servers, f, s->n_fips, &q);
	if (q.n_actions)
		violated("the applied plan still has actions");
	plan_release(&q);
	free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* snapshot_parse() wants text[len] == '\0', as read_file() leaves it. */
	char *text = malloc(size + 1);
	struct diags d;
	struct snapshot s;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	diags_init(&d, "fuzz-snapshot.json");
	int rc = snapshot_parse(text, size, &s, &d);
	for (size_t i = 0; i < d.n; i++)
		free(diag_format(&d, &d.list[i]));
	if (rc == 0) {
		struct plan plan;
		struct buf out;

		check_round_trip(&s);
		plan_compute(&s.opts, s.servers, s.n_servers, s.fips, s.n_fips, &plan);
		check_order_independent(&s, &plan);
		/* Carried out, the plan leaves nothing to do. */
		check_applied_plans_nothing(&s, &plan);

		/* A second group without a plan, as when its inventory failed. */
		struct report_group rg[2] = { {
			.id = s.group ? s.group : "snapshot",
			.display_name = s.group,
			.readonly = size & 1,
			.deferred = size & 2,
			.defer_reason = size & 2 ? "a server's status is unknown" : NULL,
			.servers = s.servers,
			.n_servers = s.n_servers,
			.fips = s.fips,
			.n_fips = s.n_fips,
			.plan = &plan,
		}, {
			.id = "other",
			.error = "listing servers: transport: timed out",
		} };
		buf_init(&out, 0);
		report_json(rg, 2, &out);
		buf_reset(&out);
		report_human(rg, 2, &out);
		if (report_count_actions(rg, 2) != plan.n_actions)
			violated("report_count_actions disagrees with the plan");
		buf_release(&out);
		plan_release(&plan);
	}
	snapshot_release(&s);
	diags_release(&d);
	free(text);
	return 0;
}
