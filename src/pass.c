/*
 * pass.c — a group's pass (SPEC section 9) as a small state machine:
 *
 *   IDLE ──► LISTING ──► (CHECKING) ──► plan ──► APPLYING ──► IDLE
 *            when the     one-shot:      apply.c   re-read the
 *            inventory    wait for the             IPs, apply
 *            is due       group's checks
 *
 * A pass starts when something asks for one (a server's health changed,
 * the first start), or every pass_interval() when nothing does: that
 * lists the inventory when it is due, retries a plan that failed, and
 * shows that the group is alive (the heartbeat counts on it). Each pass
 * ends in pass_conclude(), which records whether it succeeded.
 */
#include <stdlib.h>
#include <string.h>

#include "group.h"
#include "log.h"
#include "rules.h"

static void pass_plan(struct group *g);

int64_t pass_interval(const struct group_config *cfg)
{
	int64_t every = cfg->poll_interval_ms > 0 ? cfg->poll_interval_ms : 0;
	for (size_t i = 0; i < cfg->n_checks; i++)
		if (cfg->checks[i].interval_ms > 0 &&
		    (!every || cfg->checks[i].interval_ms < every))
			every = cfg->checks[i].interval_ms;
	/*
	 * Not faster than once a second: a plan the API refuses is retried
	 * at this pace, and the API allows one request a second on average.
	 */
	return every < 1000 ? 1000 : every;
}

static void conclude(struct group *g, bool ok)
{
	struct engine *e = g->e;
	int64_t mono = mono_ms();
	g->state = PASS_IDLE;
	g->passed = true;
	g->pass_ok = ok;
	g->pass_at = mono;
	if (!e->o.dry_run) {
		g->meta.last_round_at = now_ms() - (mono - g->pass_started);
		g->meta.last_round_ms = mono - g->pass_started;
		/* The planner settings of this pass: status reads no configuration. */
		g->meta.failback_delay_ms = g->cfg->failback_delay_ms;
		g->meta.planner = g->cfg->planner;
		g->save_meta = true;
	}
	engine_pass_concluded(g);
	if (e->o.mode == ENGINE_ONCE || e->stopping)
		return;
	int64_t next = g->pass_wanted ? mono : mono + pass_interval(g->cfg);
	/* A failback withheld by probation: pass again when it may go. */
	int64_t due = group_failback_due(g), wall = now_ms();
	if (due && mono + (due - wall) < next)
		next = mono + (due > wall ? due - wall : 0);
	if (!loop_timer_armed(&g->pass_timer) || g->pass_timer.due > next)
		loop_timer_arm(e->loop, &g->pass_timer, next);
}

void pass_request(struct group *g)
{
	struct engine *e = g->e;
	g->pass_wanted = true;
	if (g->state != PASS_IDLE || e->stopping || !e->loop)
		return;
	if (e->o.mode == ENGINE_ONCE && g->begun)
		return;              /* one pass, which sees every change */
	int64_t now = mono_ms();
	if (!loop_timer_armed(&g->pass_timer) || g->pass_timer.due > now)
		loop_timer_arm(e->loop, &g->pass_timer, now);
}

static void listed(void *arg, struct hc_result *r)
{
	struct group *g = arg;
	struct engine *e = g->e;
	g->op = NULL;
	if (r->rc < 0) {
		char *msg = hc_error_format(&r->err);
		log_kv(LOG_ERROR, g->cfg->id, g->have_inventory ?
		       "inventory refresh failed; keeping the previous inventory and not planning" :
		       "inventory refresh failed", "error", msg, NULL);
		free(msg);
		g->listing_failed = g->pass_listing_failed = true;
		/* One-shot: the checks of the kept inventory still count. */
		if (e->o.mode == ENGINE_ONCE && g->checks_in_flight) {
			g->state = PASS_CHECKING;
			return;
		}
		pass_plan(g);
		return;
	}
	inventory_take(g, r);
	if (!g->meta.watching_since && !e->o.dry_run) {
		g->meta.watching_since = now_ms();
		struct buf b = BUF_INIT;
		msg_started_watching(&b, g->cfg, g->n_servers, g->n_fips);
		engine_post(e, g, "started_watching", &b);
		buf_release(&b);
	}
	inventory_rebuild_targets(g);
	engine_judge_health(g);
	if (e->o.mode == ENGINE_ONCE && g->checks_in_flight) {
		g->state = PASS_CHECKING;
		return;
	}
	pass_plan(g);
}

static void pass_begin(struct group *g)
{
	struct engine *e = g->e;
	if (g->state != PASS_IDLE || e->stopping)
		return;
	g->pass_wanted = false;
	g->begun = true;
	g->pass_started = mono_ms();
	if (inventory_due(g, g->pass_started)) {
		struct hcloud_client *api = group_client(g);
		if (!api) {
			conclude(g, false);
			return;
		}
		g->state = PASS_LISTING;
		g->op = hcloud_list(api, HC_LIST_SERVERS | HC_LIST_FIPS, g->cfg->server_selector,
				    g->cfg->fip_selector, g->pass_started + g->cfg->poll_timeout_ms,
				    listed, g);
		return;
	}
	if (e->o.mode == ENGINE_ONCE && g->checks_in_flight) {
		g->state = PASS_CHECKING;
		return;
	}
	pass_plan(g);
}

void pass_fire(struct loop_timer *t)
{
	pass_begin(container_of(t, struct group, pass_timer));
}

void pass_checks_done(struct group *g)
{
	if (g->state == PASS_CHECKING)
		pass_plan(g);
}

static void reread(void *arg, struct hc_result *r)
{
	struct group *g = arg;
	g->op = NULL;
	if (r->rc < 0) {
		char *msg = hc_error_format(&r->err);
		log_kv(LOG_ERROR, g->cfg->id, "cannot re-read the floating IPs before applying; "
		       "not applying", "error", msg, NULL);
		free(msg);
		conclude(g, false);
		return;
	}
	apply_run(g, r);
}

void pass_applied(struct group *g, bool ok)
{
	conclude(g, ok);
}

static void pass_plan(struct group *g)
{
	struct engine *e = g->e;
	g->state = PASS_IDLE;
	if (e->o.mode == ENGINE_ONCE)
		engine_judge_health(g);
	/* Health that is not stored is not planned on: it would be lost. */
	if (engine_flush(e) < 0) {
		log_kv(LOG_ERROR, g->cfg->id, "cannot save the health; not planning",
		       "error", store_write_error(e->store), NULL);
		conclude(g, false);
		return;
	}
	if (g->pass_listing_failed) {
		/* Never plan on an inventory the API could not confirm. */
		g->pass_listing_failed = false;
		conclude(g, false);
		return;
	}
	if (g->runner_failed) {
		/* Results that say nothing about the backends: plan on none of them. */
		g->runner_failed = false;
		conclude(g, false);
		return;
	}
	if (!apply_decide(g)) {
		conclude(g, true);
		return;
	}
	/* --for: no apply starts after the end. */
	struct hcloud_client *api = group_client(g);
	if (e->stopping || !api) {
		conclude(g, !!api);
		return;
	}
	g->state = PASS_APPLYING;
	g->op = hcloud_list(api, HC_LIST_FIPS | HC_LIST_FOR_APPLY, NULL, g->cfg->fip_selector,
			    mono_ms() + g->cfg->plan_apply_timeout_ms, reread, g);
}

void pass_abandon(struct group *g)
{
	if (g->op) {
		hcloud_op_cancel(g->op);
		g->op = NULL;
	}
	if (g->state == PASS_LISTING || g->state == PASS_CHECKING)
		g->state = PASS_IDLE;
}
