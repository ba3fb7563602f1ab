/*
 * cmd_status.c — what the state file knows, without any network I/O:
 * servers and their health (per check target), floating IPs and where
 * they point, the outbox. --snapshot GROUP prints the planner's input in
 * the simulate format, ready to edit and feed to `flipper simulate`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "json.h"
#include "log.h"
#include "planner.h"
#include "snapshot.h"
#include "store.h"

struct status_opts {
	bool json;
	const char *snapshot;
	struct opt_list groups;
};

static const struct opt status_opts[] = {
	OPT_FLAG_AT(0, "json", struct status_opts, json, "print it as JSON"),
	OPT_VALUE_AT(0, "snapshot", "GROUP", struct status_opts, snapshot,
		     "print GROUP's planner input as a snapshot\n"
		     "for `flipper simulate` (edit a status, then simulate)", NULL),
	OPT_LIST_AT(0, "group", "ID", struct status_opts, groups, "only this group (repeatable)", NULL),
	OPT_TABLE_END,
};

struct group_view {
	char *id;
	struct store_group meta;
	struct store_server *servers;
	size_t n_servers;
	struct hc_fip *fips;
	size_t n_fips;
	struct store_target *targets;
	size_t n_targets;
	struct store_pass pass;
	struct store_hold *holds;
	size_t n_holds;
	bool configured;             /* a group of the configuration (or none was read) */
};

static void view_release(struct group_view *v)
{
	free(v->id);
	store_group_release(&v->meta);
	store_servers_free(v->servers, v->n_servers);
	hc_fips_free(v->fips, v->n_fips);
	store_targets_free(v->targets, v->n_targets);
	store_pass_release(&v->pass);
	free(v->holds);
}

static int view_load(struct store *s, const char *id, struct group_view *v)
{
	memset(v, 0, sizeof *v);
	v->id = xstrdup(id);
	if (store_group_load(s, id, &v->meta) < 0 ||
	    store_servers_load(s, id, &v->servers, &v->n_servers) < 0 ||
	    store_fips_load(s, id, &v->fips, &v->n_fips) < 0 ||
	    store_targets_load(s, id, &v->targets, &v->n_targets) < 0 ||
	    store_pass_load(s, id, &v->pass) < 0 ||
	    store_holds_load(s, id, &v->holds, &v->n_holds) < 0)
		return -1;
	return 0;
}

/* What the planner makes of the stored state now: for the moves that wait. */
struct view_plan {
	struct plan_server *ps;
	struct plan_fip *pf;
	struct plan plan;
	int64_t *due;                /* per pending move */
};

static void view_plan_init(struct view_plan *vp, const struct group_view *v, int64_t now)
{
	vp->ps = xcalloc(v->n_servers + 1, sizeof *vp->ps);
	vp->pf = xcalloc(v->n_fips + 1, sizeof *vp->pf);
	store_plan_inputs(v->servers, v->n_servers, v->fips, v->n_fips,
			  v->meta.failback_delay_ms, now, vp->ps, vp->pf);
	plan_compute(&v->meta.planner, vp->ps, v->n_servers, vp->pf, v->n_fips, &vp->plan);
	vp->due = xcalloc(vp->plan.n_pending + 1, sizeof *vp->due);
	store_pending_due(&vp->plan, v->servers, v->n_servers, v->meta.failback_delay_ms,
			  now, vp->due);
}

static void view_plan_release(struct view_plan *vp)
{
	plan_release(&vp->plan);
	free(vp->ps);
	free(vp->pf);
	free(vp->due);
}

static const char *fip_name(const struct group_view *v, int64_t id)
{
	for (size_t i = 0; i < v->n_fips; i++)
		if (v->fips[i].id == id)
			return v->fips[i].name;
	return NULL;
}

static void ago(struct buf *b, int64_t then, int64_t now)
{
	if (!then) {
		buf_addstr(b, "never");
		return;
	}
	char d[48];
	int64_t diff = now - then;
	duration_format(diff < 0 ? 0 : diff / 1000 * 1000, d);
	buf_printf(b, "%s ago", d);
}

static const char *server_name(const struct group_view *v, int64_t id)
{
	for (size_t i = 0; i < v->n_servers; i++)
		if (v->servers[i].s.id == id)
			return v->servers[i].s.name;
	return NULL;
}

/* The group's verdict: what status's exit code and first line say. */
enum verdict { V_OK, V_FAILING, V_NEVER, V_UNCONFIGURED };

static enum verdict judge(const struct group_view *v)
{
	if (!v->configured)
		return V_UNCONFIGURED;
	if (!v->pass.last_pass_at)
		return V_NEVER;
	if (v->pass.fail_since || !v->pass.last_pass_ok)
		return V_FAILING;
	return V_OK;
}

static const char *const verdict_names[] = { "ok", "failing", "never_passed", "not_configured" };

static void print_human(const struct group_view *v, int64_t now, struct buf *b)
{
	buf_printf(b, "group %s — ", v->id);
	switch (judge(v)) {
	case V_OK:
		buf_addstr(b, "ok, last pass ");
		ago(b, v->pass.last_pass_at, now);
		break;
	case V_FAILING:
		buf_printf(b, "FAILING in the %s phase since ",
			   v->pass.fail_phase ? v->pass.fail_phase : "?");
		ago(b, v->pass.fail_since ? v->pass.fail_since : v->pass.last_pass_at, now);
		buf_addstr(b, ", last pass ");
		ago(b, v->pass.last_pass_at, now);
		buf_addstr(b, ", last success ");
		ago(b, v->pass.last_ok_at, now);
		break;
	case V_NEVER:
		buf_addstr(b, "NO PASS RECORDED: it has not run with this state file yet");
		break;
	case V_UNCONFIGURED:
		buf_addstr(b, "not in the configuration (what the state file still knows), last pass ");
		ago(b, v->pass.last_pass_at, now);
		break;
	}
	buf_addch(b, '\n');
	if (v->pass.fail_since) {
		buf_addstr(b, "  last error: ");
		log_escape(b, v->pass.fail_error ? v->pass.fail_error : "?");
		buf_addch(b, '\n');
	}
	buf_addstr(b, "  inventory ");
	ago(b, v->meta.inventory_at, now);
	if (v->meta.last_round_at)
		buf_printf(b, ", last pass took %lld ms", (long long)v->meta.last_round_ms);
	buf_addch(b, '\n');
	if (v->meta.alert)
		buf_printf(b, "  alert: %s\n", v->meta.alert);
	if (v->meta.failed_plan) {
		buf_printf(b, "  plan failing: %lld attempt%s, first ", (long long)v->meta.failed_attempts,
			   v->meta.failed_attempts == 1 ? "" : "s");
		ago(b, v->meta.failed_since, now);
		buf_printf(b, " (%s)\n", v->meta.failed_errors ? v->meta.failed_errors : "?");
	}
	buf_printf(b, "  servers (%zu):\n", v->n_servers);
	for (size_t i = 0; i < v->n_servers; i++) {
		const struct store_server *s = &v->servers[i];
		struct buf line = BUF_INIT;
		log_escape(&line, s->s.name ? s->s.name : "?");
		buf_printf(b, "    %-20s %-6s %-9s since ", line.data,
			   s->s.location ? s->s.location : "?", health_name(s->health));
		buf_release(&line);
		ago(b, s->health_since, now);
		int64_t until = store_probation_until(s, v->meta.failback_delay_ms, now);
		if (until) {
			char at[32];
			format_time_utc(until, at);
			buf_printf(b, ", probation until %s", at);
		}
		buf_addch(b, '\n');
		for (size_t k = 0; k < v->n_targets; k++) {
			const struct store_target *t = &v->targets[k];
			if (t->server_id != s->s.id)
				continue;
			buf_printf(b, "      %-12s %s  %-9s rise %d fall %d  ran ", t->check_id,
				   t->family == 4 ? "ipv4" : "ipv6", health_name(t->c.state),
				   t->c.rise_count, t->c.fall_count);
			ago(b, t->last_run, now);
			if (t->last_error) {
				buf_addstr(b, "  error \"");
				log_escape(b, t->last_error);
				buf_addch(b, '"');
			}
			buf_addch(b, '\n');
		}
	}
	buf_printf(b, "  floating IPs (%zu):\n", v->n_fips);
	for (size_t i = 0; i < v->n_fips; i++) {
		const struct hc_fip *f = &v->fips[i];
		const char *to = f->server ? server_name(v, f->server) : "(unassigned)";
		char other[48];
		if (!to) {
			snprintf(other, sizeof other, "server %lld (not in group)", (long long)f->server);
			to = other;
		}
		buf_printf(b, "    %-20s %-24s %-6s -> %s\n", f->name ? f->name : "?", f->ip ? f->ip : "?",
			   f->location ? f->location : "?", to);
	}
	for (size_t i = 0; i < v->n_holds; i++) {
		const char *name = fip_name(v, v->holds[i].fip);
		char until[32];
		format_time_utc(v->holds[i].until, until);
		buf_printf(b, "  held: %s was moved outside flipper; left alone until %s\n",
			   name ? name : "?", until);
	}
	struct view_plan vp;
	view_plan_init(&vp, v, now);
	if (vp.plan.n_pending)
		buf_printf(b, "  failbacks waiting for a probation to end (%zu):\n", vp.plan.n_pending);
	for (size_t i = 0; i < vp.plan.n_pending; i++) {
		const struct plan_action *a = &vp.plan.pending[i];
		const char *name = fip_name(v, a->fip), *from = server_name(v, a->from);
		const char *to = server_name(v, a->to);
		char at[32] = "?";
		if (vp.due[i])
			format_time_utc(vp.due[i], at);
		buf_printf(b, "    %-20s %s -> %s  %s at %s\n", name ? name : "?", from ? from : "?",
			   to ? to : "?", plan_reason_name(a->withheld), at);
	}
	view_plan_release(&vp);
}

static void print_json(struct jw *jw, const struct group_view *v, int64_t now)
{
	jw_object_begin(jw, NULL);
	jw_string(jw, "id", v->id);
	jw_string(jw, "status", verdict_names[judge(v)]);
	jw_bool(jw, "configured", v->configured);
	jw_int(jw, "inventory_at", v->meta.inventory_at);
	jw_int(jw, "last_round_at", v->meta.last_round_at);
	jw_int(jw, "last_round_ms", v->meta.last_round_ms);
	jw_string(jw, "alert", v->meta.alert);
	jw_object_begin(jw, "pass");
	jw_int(jw, "last_at", v->pass.last_pass_at);
	jw_bool(jw, "ok", v->pass.last_pass_ok);
	jw_int(jw, "last_ok_at", v->pass.last_ok_at);
	if (v->pass.fail_since) {
		jw_object_begin(jw, "failing");
		jw_string(jw, "phase", v->pass.fail_phase);
		jw_string(jw, "error", v->pass.fail_error);
		jw_int(jw, "since", v->pass.fail_since);
		jw_end(jw);
	} else {
		jw_null(jw, "failing");
	}
	jw_end(jw);
	jw_array_begin(jw, "held");
	for (size_t i = 0; i < v->n_holds; i++) {
		jw_object_begin(jw, NULL);
		jw_int(jw, "floating_ip", v->holds[i].fip);
		jw_int(jw, "server", v->holds[i].server);
		jw_int(jw, "until", v->holds[i].until);
		jw_end(jw);
	}
	jw_end(jw);
	if (v->meta.failed_plan) {
		jw_object_begin(jw, "failing_plan");
		jw_int(jw, "attempts", v->meta.failed_attempts);
		jw_int(jw, "since", v->meta.failed_since);
		jw_string(jw, "errors", v->meta.failed_errors);
		jw_end(jw);
	} else {
		jw_null(jw, "failing_plan");
	}
	jw_array_begin(jw, "servers");
	for (size_t i = 0; i < v->n_servers; i++) {
		const struct store_server *s = &v->servers[i];
		jw_object_begin(jw, NULL);
		jw_int(jw, "id", s->s.id);
		jw_string(jw, "name", s->s.name);
		jw_string(jw, "location", s->s.location);
		jw_string(jw, "network_zone", s->s.network_zone);
		jw_string(jw, "ipv4", s->s.ipv4);
		jw_string(jw, "ipv6", s->s.ipv6);
		if (s->s.has_index)
			jw_int(jw, "resource_index", s->s.resource_index);
		else
			jw_null(jw, "resource_index");
		jw_string(jw, "status", health_name(s->health));
		jw_int(jw, "since", s->health_since);
		int64_t until = store_probation_until(s, v->meta.failback_delay_ms, now);
		if (until)
			jw_int(jw, "probation_until", until);
		else
			jw_null(jw, "probation_until");
		jw_array_begin(jw, "targets");
		for (size_t k = 0; k < v->n_targets; k++) {
			const struct store_target *t = &v->targets[k];
			if (t->server_id != s->s.id)
				continue;
			jw_object_begin(jw, NULL);
			jw_string(jw, "check", t->check_id);
			jw_string(jw, "family", t->family == 4 ? "ipv4" : "ipv6");
			jw_string(jw, "state", health_name(t->c.state));
			jw_int(jw, "rise", t->c.rise_count);
			jw_int(jw, "fall", t->c.fall_count);
			jw_int(jw, "last_run", t->last_run);
			jw_int(jw, "last_ok", t->last_ok);
			jw_int(jw, "duration_ms", t->duration_ms);
			jw_string(jw, "error", t->last_error);
			jw_end(jw);
		}
		jw_end(jw);
		jw_end(jw);
	}
	jw_end(jw);
	jw_array_begin(jw, "floating_ips");
	for (size_t i = 0; i < v->n_fips; i++) {
		const struct hc_fip *f = &v->fips[i];
		jw_object_begin(jw, NULL);
		jw_int(jw, "id", f->id);
		jw_string(jw, "name", f->name);
		jw_string(jw, "ip", f->ip);
		jw_string(jw, "location", f->location);
		jw_string(jw, "network_zone", f->network_zone);
		if (f->server)
			jw_int(jw, "server", f->server);
		else
			jw_null(jw, "server");
		jw_end(jw);
	}
	jw_end(jw);
	struct view_plan vp;
	view_plan_init(&vp, v, now);
	jw_array_begin(jw, "pending");
	for (size_t i = 0; i < vp.plan.n_pending; i++) {
		const struct plan_action *a = &vp.plan.pending[i];
		jw_object_begin(jw, NULL);
		jw_int(jw, "floating_ip", a->fip);
		jw_string(jw, "floating_ip_name", fip_name(v, a->fip));
		jw_int(jw, "from", a->from);
		jw_string(jw, "from_name", server_name(v, a->from));
		jw_int(jw, "to", a->to);
		jw_string(jw, "to_name", server_name(v, a->to));
		jw_string(jw, "pending_reason", plan_reason_name(a->withheld));
		if (vp.due[i])
			jw_int(jw, "due_at", vp.due[i]);
		else
			jw_null(jw, "due_at");
		jw_end(jw);
	}
	view_plan_release(&vp);
	jw_end(jw);
	jw_end(jw);
}

static void print_snapshot(const struct group_view *v, int64_t now, struct buf *b)
{
	struct plan_server *ps = xcalloc(v->n_servers + 1, sizeof *ps);
	struct plan_fip *pf = xcalloc(v->n_fips + 1, sizeof *pf);
	store_plan_inputs(v->servers, v->n_servers, v->fips, v->n_fips,
			  v->meta.failback_delay_ms, now, ps, pf);
	snapshot_write(v->id, &v->meta.planner, ps, v->n_servers, pf, v->n_fips, b);
	free(ps);
	free(pf);
}

/* Where the state path came from, for the message when it is missing. */
static const char *path_origin(const struct globals *g, const char *from_config)
{
	if (g->state_path)
		return "--state or $FLIPPER_STATE";
	if (from_config)
		return "state.path of the configuration";
	const char *dir = getenv("STATE_DIRECTORY");
	if (dir && *dir)
		return "$STATE_DIRECTORY";
	return "the default, ./flipper.db";
}

static void add_candidate(char ***v, size_t *n, const char *path)
{
	char *abs = realpath(path, NULL);
	struct stat st;
	if (!abs)
		return;
	if (stat(abs, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
		free(abs);
		return;
	}
	for (size_t i = 0; i < *n; i++) {
		if (strcmp((*v)[i], abs) == 0) {
			free(abs);
			return;
		}
	}
	*v = xrealloc(*v, (*n + 1) * sizeof **v);
	(*v)[(*n)++] = abs;
}

/*
 * No state file where status looked: say where that was and why, and
 * list the state files that exist where flipper's other ways of running
 * keep them (the systemd unit's, the container's, the current
 * directory's), each with the --state that reads it.
 */
static void report_missing(const struct globals *g, const char *path, const char *from_config)
{
	char **cand = NULL;
	size_t n = 0;
	add_candidate(&cand, &n, "/var/lib/flipper/flipper.db");
	const char *dir = getenv("STATE_DIRECTORY");
	for (const char *p = dir; p && *p;) {
		size_t len = strcspn(p, ":");
		char *f = xasprintf("%.*s/flipper.db", (int)len, p);
		add_candidate(&cand, &n, f);
		free(f);
		p += len + (p[len] == ':');
	}
	if (from_config)
		add_candidate(&cand, &n, from_config);
	add_candidate(&cand, &n, "flipper.db");
	char *self = realpath(path, NULL);
	log_kv(LOG_ERROR, NULL, "no state file here: no pass has run with this state path",
	       "state", path, "from", path_origin(g, from_config), NULL);
	size_t shown = 0;
	for (size_t i = 0; i < n; i++) {
		if (self && strcmp(self, cand[i]) == 0)
			continue;
		if (!shown++)
			fputs("state files that exist:\n", stderr);
		fprintf(stderr, "  %s\n    flipper --state %s status\n", cand[i], cand[i]);
	}
	if (!shown)
		fputs("no state file exists in /var/lib/flipper, $STATE_DIRECTORY or the current "
		      "directory either; has flipper run on this machine?\n", stderr);
	for (size_t i = 0; i < n; i++)
		free(cand[i]);
	free(cand);
	free(self);
}

static bool listed(char **ids, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(ids[i], id) == 0)
			return true;
	return false;
}

static void ids_free(char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

/*
 * What the configuration says, read the forgiving way (no token, no
 * ${VAR}s of the service needed): state.path and the group ids. 0, or -1
 * when it cannot be read (said once; status goes on with the state's
 * groups). *have_groups: the group list is the configuration's.
 */
static int peek_config(struct globals *g, char **state_path, char ***ids, size_t *n,
		       bool *have_groups)
{
	*state_path = NULL;
	*ids = NULL;
	*n = 0;
	*have_groups = false;
	if (!g->config_explicit && access(g->config_path, F_OK) != 0)
		return 0;        /* no configuration here: the state's groups */
	struct diags d;
	diags_init(&d, g->config_path);
	int rc = 0;
	if (!g->state_path && config_peek_state_path(g->config_path, state_path, &d) < 0)
		rc = -1;
	if (rc == 0 && config_peek_groups(g->config_path, ids, n, &d) < 0)
		rc = -1;
	if (rc < 0) {
		diags_print(&d, 3, "status lists the groups the state file knows");
		ids_free(*ids, *n);
		*ids = NULL;
		*n = 0;
	} else {
		*have_groups = true;
	}
	diags_release(&d);
	return rc;
}

static int run_status(struct globals *g, void *opts, int argc, char **argv)
{
	const struct status_opts *o = opts;
	const bool json = o->json;
	const char *snapshot = o->snapshot;
	(void)argc, (void)argv;
	int rc = EXIT_OK;
	char *from_config = NULL, **cfg_ids = NULL, **ids = NULL, *err = NULL;
	size_t n_cfg = 0, n_ids = 0;
	bool have_cfg = false;
	struct store *s = NULL;
	peek_config(g, &from_config, &cfg_ids, &n_cfg, &have_cfg);

	/* The state path exactly as reconcile and monitor resolve it. */
	char *given = cli_state_path(g, from_config), *path = NULL;
	bool followed = false;
	if (store_resolve(given, false, &path, &followed, &err) < 0) {
		log_kv(LOG_ERROR, NULL, "state unusable", "error", err, NULL);
		free(err);
		rc = EXIT_RUNTIME;
		goto out;
	}
	s = store_open_readonly(path, &err);
	if (!s) {
		if (err)
			log_kv(LOG_ERROR, NULL, "state unusable", "state", path, "error", err, NULL);
		else
			report_missing(g, path, from_config);
		free(err);
		rc = EXIT_RUNTIME;
		goto out;
	}

	bool failing = false;
	struct buf out = BUF_INIT;
	struct jw jw;
	jw_init(&jw, &out, false);
	if (store_group_ids(s, &ids, &n_ids) < 0) {
		log_kv(LOG_ERROR, NULL, "cannot read the state", "error", store_errmsg(s), NULL);
		rc = EXIT_RUNTIME;
		goto done;
	}
	for (size_t k = 0; k < o->groups.n; k++) {
		const char *want = o->groups.v[k];
		if (!listed(cfg_ids, n_cfg, want) && !listed(ids, n_ids, want)) {
			rc = usage_error("status", "no group '%s' in the configuration or the state",
					 want);
			goto done;
		}
	}
	int64_t now = now_ms();
	if (snapshot) {
		struct group_view v;
		if (!listed(ids, n_ids, snapshot)) {
			rc = usage_error("status", "the state has no group '%s'", snapshot);
			goto done;
		}
		if (view_load(s, snapshot, &v) < 0) {
			log_kv(LOG_ERROR, NULL, "cannot read the state", "error", store_errmsg(s), NULL);
			rc = EXIT_RUNTIME;
		} else {
			print_snapshot(&v, now, &out);
		}
		view_release(&v);
		goto done;
	}
	/*
	 * Every configured group, in the configuration's order, whether or
	 * not the state knows it yet (a group whose API has never answered
	 * is the one an operator looks for); then what the state still
	 * knows of groups no longer configured.
	 */
	char **all = xcalloc(n_cfg + n_ids + 1, sizeof *all);
	size_t n_all = 0;
	for (size_t i = 0; i < n_cfg; i++)
		if (!listed(all, n_all, cfg_ids[i]))
			all[n_all++] = cfg_ids[i];
	for (size_t i = 0; i < n_ids; i++)
		if (!listed(all, n_all, ids[i]))
			all[n_all++] = ids[i];
	if (json) {
		jw_object_begin(&jw, NULL);
		jw_string(&jw, "state", path);
		jw_array_begin(&jw, "groups");
	} else {
		buf_printf(&out, "state: %s\n", path);
	}
	for (size_t i = 0; i < n_all; i++) {
		if (o->groups.n && !listed(o->groups.v, o->groups.n, all[i]))
			continue;
		struct group_view v;
		if (view_load(s, all[i], &v) < 0) {
			log_kv(LOG_ERROR, NULL, "cannot read the state", "error", store_errmsg(s), NULL);
			view_release(&v);
			rc = EXIT_RUNTIME;
			free(all);
			goto done;
		}
		v.configured = !have_cfg || listed(cfg_ids, n_cfg, all[i]);
		if (json)
			print_json(&jw, &v, now);
		else
			print_human(&v, now, &out);
		enum verdict vd = judge(&v);
		if (vd == V_FAILING || vd == V_NEVER)
			failing = true;
		view_release(&v);
	}
	free(all);
	if (failing)
		rc = EXIT_RUNTIME;
	int64_t depth = store_outbox_depth(s);
	if (json) {
		jw_end(&jw);
		jw_int(&jw, "outbox_depth", depth);
		jw_end(&jw);
	} else {
		buf_printf(&out, "outbox: %lld notification%s queued\n", (long long)depth,
			   depth == 1 ? "" : "s");
	}
done:
	if (out.len)
		fwrite(out.data, 1, out.len, stdout);
	if (json && !snapshot && (rc == EXIT_OK || failing))
		fputc('\n', stdout);
	buf_release(&out);
out:
	ids_free(ids, n_ids);
	ids_free(cfg_ids, n_cfg);
	store_close(s);
	free(from_config);
	free(given);
	free(path);
	return rc;
}

const struct command cmd_status = {
	.name = "status",
	.summary = "what the state file knows, without network I/O",
	.description =
		"Show what the state file knows: each group's last pass and, while it fails,\n"
		"where and since when; its servers with their health and check targets, its\n"
		"floating IPs and where they point (and those left alone because they were\n"
		"moved outside flipper), the failbacks waiting for a probation\n"
		"(failback_delay) and when they will happen, and the notification outbox.\n"
		"Reads the state file only; contacts nothing.\n",
	.epilogue =
		"Exit: 0 every configured group's last pass succeeded; 1 a group is failing,\n"
		"has no pass recorded, or there is no state file; 2 usage error.\n"
		"The state file is --state, $FLIPPER_STATE, state.path of the configuration,\n"
		"$STATE_DIRECTORY/flipper.db, or ./flipper.db, in that order, as for\n"
		"reconcile; status names the file it read. The configuration (only its\n"
		"state.path and group ids) tells which groups to list; where it cannot be\n"
		"read, status says so and lists the groups the state file knows.\n",
	.opts = status_opts,
	.opts_size = sizeof(struct status_opts),
	.run = run_status,
};
