/*
 * metrics_export.c — the engine's data as Prometheus text: the textfile
 * written after passes, and the API request counters kept in the
 * state so they survive across invocations.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group.h"
#include "log.h"
#include "metrics.h"

void metrics_persist_group_api_counts(struct engine *e, struct group *g)
{
	if (!g->api || engine_write(e) < 0)
		return;
	{
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
			struct buf l = BUF_INIT;
			char status[16];
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
}

void metrics_persist_api_counts(struct engine *e)
{
	for (size_t gi = 0; gi < e->n_g; gi++)
		metrics_persist_group_api_counts(e, e->g[gi]);
	engine_flush(e);
}

const char *const pass_phases[] = { "inventory", "checks", "plan", "apply", "state", NULL };

/* The labels of a group's failure counter, in the one order they are stored. */
static char *failure_labels(const char *group, const char *phase)
{
	struct buf l = BUF_INIT;
	metrics_label(&l, "group", group);
	metrics_label(&l, "phase", phase);
	return buf_detach(&l);
}

void metrics_count_failure(struct group *g, const char *phase)
{
	struct engine *e = g->e;
	if (engine_write(e) < 0)
		return;
	char *l = failure_labels(g->cfg->id, phase);
	store_counter_add(e->store, "flipper_group_failures_total", l, 1);
	free(l);
}

void metrics_init_counters(struct engine *e, struct group *g)
{
	if (engine_write(e) < 0)
		return;
	/* Every phase from the start, so rate() sees the first failure. */
	for (size_t i = 0; pass_phases[i]; i++) {
		char *l = failure_labels(g->cfg->id, pass_phases[i]);
		store_counter_add(e->store, "flipper_group_failures_total", l, 0);
		free(l);
	}
}

struct counter_ctx {
	struct metrics *m;
};

static void emit_counter(void *arg, const char *name, const char *labels, int64_t value)
{
	struct counter_ctx *c = arg;
	metrics_sample_raw(c->m, name, labels, (double)value);
}

/*
 * One sample per server and check: targets are sorted by server, check
 * and family, so the last target of a run writes the earliest expiry
 * of its address families.
 */
static void cert_expiry_sample(struct metrics *m, struct group *g, size_t i)
{
	const struct store_target *t = &g->targets[i]->st;
	const struct store_target *next = i + 1 < g->n_targets ? &g->targets[i + 1]->st : NULL;
	if (next && next->server_id == t->server_id && !strcmp(next->check_id, t->check_id))
		return;
	int64_t earliest = 0;
	for (size_t k = i + 1; k-- > 0;) {
		const struct store_target *o = &g->targets[k]->st;
		if (o->server_id != t->server_id || strcmp(o->check_id, t->check_id))
			break;
		if (o->cert_not_after && (!earliest || o->cert_not_after < earliest))
			earliest = o->cert_not_after;
	}
	if (!earliest)
		return;
	struct store_server *s = group_server(g, t->server_id);
	metrics_sample(m, "flipper_tls_certificate_expiry_timestamp_seconds", (double)earliest,
		       "group", g->cfg->id, "server", s ? s->s.name : "?", "check", t->check_id,
		       NULL);
}

static struct metrics *collect(struct engine *e)
{
	struct metrics *m = metrics_new();
	metrics_family(m, "flipper_group_up", "gauge",
		       "1 when the group's last pass succeeded (inventory confirmed, plan made, "
		       "apply concluded), 0 when it failed or none has ended yet.");
	metrics_family(m, "flipper_group_last_success_timestamp_seconds", "gauge",
		       "When the group's last successful pass ended (0: never). Alert on its age.");
	metrics_family(m, "flipper_group_failures_total", "counter",
		       "Failed passes of each group, by the phase that failed.");
	metrics_family(m, "flipper_group_failing_since_timestamp_seconds", "gauge",
		       "While a group fails: since when, and in which phase.");
	metrics_family(m, "flipper_server_health", "gauge",
		       "Health of each server as flipper sees it (1 for its current status).");
	metrics_family(m, "flipper_check_duration_seconds", "gauge",
		       "Duration of the last run of each check target.");
	metrics_family(m, "flipper_check_last_success_timestamp_seconds", "gauge",
		       "When each check target last succeeded (0: never).");
	metrics_family(m, "flipper_tls_certificate_expiry_timestamp_seconds", "gauge",
		       "When the server certificate an https check last saw expires (the "
		       "earliest of its address families; checks with the expiry watch on).");
	metrics_family(m, "flipper_floating_ip_assigned", "gauge",
		       "Which server each floating IP points at (server=\"\" when unassigned).");
	metrics_family(m, "flipper_actions_total", "counter",
		       "Floating IP assignments flipper applied, by result.");
	metrics_family(m, "flipper_api_requests_total", "counter",
		       "Hetzner Cloud API requests, by endpoint and HTTP status (0: no answer).");
	metrics_family(m, "flipper_api_ratelimit_remaining", "gauge",
		       "RateLimit-Remaining of the last API answer.");
	metrics_family(m, "flipper_api_budget_remaining", "gauge",
		       "Requests the group's API token may still send now (its token bucket: "
		       "3600 an hour, refilling one a second).");
	metrics_family(m, "flipper_notifications_queued", "gauge",
		       "Notifications waiting in the outbox.");
	metrics_family(m, "flipper_last_round_timestamp_seconds", "gauge",
		       "The oldest of the groups' last successful passes (0 while a group has "
		       "none): its age is how long some group has not worked.");
	metrics_family(m, "flipper_last_round_duration_seconds", "gauge",
		       "How long the latest pass took, whatever its outcome.");

	static const enum health states[] = { HEALTH_HEALTHY, HEALTH_UNHEALTHY, HEALTH_UNKNOWN,
					      HEALTH_UNCHECKABLE };
	int64_t ended = 0, took = 0, oldest_ok = INT64_MAX;
	for (size_t gi = 0; gi < e->n_g; gi++) {
		struct group *g = e->g[gi];
		const char *gid = g->cfg->id;
		bool up = g->pass.last_pass_at && g->pass.last_pass_ok && !g->broken;
		metrics_sample(m, "flipper_group_up", up ? 1 : 0, "group", gid, NULL);
		metrics_sample(m, "flipper_group_last_success_timestamp_seconds",
			       (double)g->pass.last_ok_at / 1000.0, "group", gid, NULL);
		if (g->pass.last_ok_at < oldest_ok)
			oldest_ok = g->pass.last_ok_at;
		if (g->pass.fail_since)
			metrics_sample(m, "flipper_group_failing_since_timestamp_seconds",
				       (double)g->pass.fail_since / 1000.0, "group", gid,
				       "phase", g->pass.fail_phase, NULL);
		if (g->pass.last_pass_at > ended) {
			ended = g->pass.last_pass_at;
			took = g->meta.last_round_ms;
		}
		for (size_t i = 0; i < g->n_servers; i++) {
			const struct store_server *s = &g->servers[i];
			for (size_t k = 0; k < ARRAY_SIZE(states); k++)
				metrics_sample(m, "flipper_server_health", s->health == states[k] ? 1 : 0,
					       "group", gid, "server", s->s.name, "location", s->s.location,
					       "status", health_name(states[k]), NULL);
		}
		for (size_t i = 0; i < g->n_targets; i++) {
			const struct store_target *t = &g->targets[i]->st;
			struct store_server *s = group_server(g, t->server_id);
			const char *fam = t->family == 4 ? "ipv4" : "ipv6";
			metrics_sample(m, "flipper_check_duration_seconds", (double)t->duration_ms / 1000.0,
				       "group", gid, "server", s ? s->s.name : "?", "check", t->check_id,
				       "family", fam, NULL);
			metrics_sample(m, "flipper_check_last_success_timestamp_seconds",
				       (double)(t->last_ok / 1000), "group", gid, "server", s ? s->s.name : "?",
				       "check", t->check_id, "family", fam, NULL);
			cert_expiry_sample(m, g, i);
		}
		for (size_t i = 0; i < g->n_fips; i++) {
			const struct hc_fip *f = &g->fips[i];
			struct store_server *s = f->server ? group_server(g, f->server) : NULL;
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
			metrics_sample(m, "flipper_api_budget_remaining", (double)st->budget_left,
				       "group", gid, NULL);
		}
	}
	struct counter_ctx cc = { m };
	if (e->store)
		store_counters_each(e->store, emit_counter, &cc);
	metrics_sample(m, "flipper_notifications_queued", (double)(e->outbox_depth < 0 ? 0 : e->outbox_depth), NULL);
	metrics_sample(m, "flipper_last_round_timestamp_seconds",
		       e->n_g ? (double)oldest_ok / 1000.0 : 0, NULL);
	metrics_sample(m, "flipper_last_round_duration_seconds", (double)took / 1000.0, NULL);
	return m;
}

void metrics_export(struct engine *e)
{
	struct metrics *m = collect(e);
	char *err = NULL;
	if (metrics_write_file(m, e->cfg->metrics_textfile, &err) < 0) {
		log_kv(LOG_WARN, NULL, "metrics not written", "error", err, NULL);
		free(err);
	}
	metrics_free(m);
}

void metrics_text(struct engine *e, struct buf *out)
{
	struct metrics *m = collect(e);
	metrics_render(m, out);
	metrics_free(m);
}
