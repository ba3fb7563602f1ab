/*
 * cmd_status.c — what the state file knows, without any network I/O:
 * servers and their health (per check target), floating IPs and where
 * they point, the outbox. --snapshot GROUP prints the planner's input in
 * the simulate format, ready to edit and feed to `flipper simulate`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "json.h"
#include "log.h"
#include "planner.h"
#include "snapshot.h"
#include "store.h"

const char cmd_status_usage[] =
	"usage: flipper [-c FILE] [--state FILE] status [--json] [--snapshot GROUP] [--group ID]...\n"
	"\n"
	"Show what the state file knows: each group's servers with their health and\n"
	"check targets, its floating IPs and where they point, and the notification\n"
	"outbox. Reads the state file only; contacts nothing.\n"
	"\n"
	"  --json             print it as JSON\n"
	"  --snapshot GROUP   print GROUP's planner input in the format of\n"
	"                     `flipper simulate` (edit a status, then simulate)\n"
	"  --group ID         only this group (repeatable)\n"
	"\n"
	"The state file is --state, $FLIPPER_STATE, state.path of the configuration,\n"
	"$STATE_DIRECTORY/flipper.db, or ./flipper.db, in that order.\n";

struct group_view {
	char *id;
	struct store_group meta;
	struct store_server *servers;
	size_t n_servers;
	struct hc_fip *fips;
	size_t n_fips;
	struct store_target *targets;
	size_t n_targets;
};

static void view_release(struct group_view *v)
{
	free(v->id);
	store_group_release(&v->meta);
	store_servers_free(v->servers, v->n_servers);
	hc_fips_free(v->fips, v->n_fips);
	store_targets_free(v->targets, v->n_targets);
}

static int view_load(struct store *s, const char *id, struct group_view *v)
{
	memset(v, 0, sizeof *v);
	v->id = xstrdup(id);
	if (store_group_load(s, id, &v->meta) < 0 ||
	    store_servers_load(s, id, &v->servers, &v->n_servers) < 0 ||
	    store_fips_load(s, id, &v->fips, &v->n_fips) < 0 ||
	    store_targets_load(s, id, &v->targets, &v->n_targets) < 0)
		return -1;
	return 0;
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

static void print_human(const struct group_view *v, int64_t now, struct buf *b)
{
	buf_printf(b, "group %s — inventory ", v->id);
	ago(b, v->meta.inventory_at, now);
	buf_addstr(b, ", last round ");
	ago(b, v->meta.last_round_at, now);
	if (v->meta.last_round_at)
		buf_printf(b, " (took %lld ms)", (long long)v->meta.last_round_ms);
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
}

static void print_json(struct jw *jw, const struct group_view *v)
{
	jw_object_begin(jw, NULL);
	jw_string(jw, "id", v->id);
	jw_int(jw, "inventory_at", v->meta.inventory_at);
	jw_int(jw, "last_round_at", v->meta.last_round_at);
	jw_int(jw, "last_round_ms", v->meta.last_round_ms);
	jw_string(jw, "alert", v->meta.alert);
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
	jw_end(jw);
}

static void print_snapshot(const struct group_view *v, struct buf *b)
{
	struct plan_server *ps = xcalloc(v->n_servers, sizeof *ps);
	struct plan_fip *pf = xcalloc(v->n_fips, sizeof *pf);
	for (size_t i = 0; i < v->n_servers; i++) {
		const struct store_server *s = &v->servers[i];
		ps[i] = (struct plan_server){ s->s.id, s->s.name, s->s.location, s->s.network_zone,
					      s->s.has_index, s->s.resource_index, s->health };
	}
	for (size_t i = 0; i < v->n_fips; i++) {
		const struct hc_fip *f = &v->fips[i];
		pf[i] = (struct plan_fip){ f->id, f->name, f->ip, f->location, f->network_zone,
					   f->has_index, f->resource_index, f->server };
	}
	snapshot_write(v->id, ps, v->n_servers, pf, v->n_fips, b);
	free(ps);
	free(pf);
}

/*
 * The state path. Only state.path is read from the configuration: status
 * contacts nothing, so it must work where the token or ${VAR}s of the
 * service are not set (an operator's shell).
 */
static char *resolve_state(struct globals *g, int *rc)
{
	char *from_config = NULL;
	*rc = 0;
	if (!g->state_path && (g->config_explicit || access(g->config_path, R_OK) == 0)) {
		struct diags d;
		diags_init(&d, g->config_path);
		if (config_peek_state_path(g->config_path, &from_config, &d) < 0) {
			config_report_diags(&d);
			fprintf(stderr, "flipper status: cannot find state.path in %s; "
				"pass --state FILE\n", g->config_path);
			diags_release(&d);
			*rc = EXIT_USAGE;
			return NULL;
		}
		diags_release(&d);
	}
	char *path = cli_state_path(g, from_config);
	free(from_config);
	return path;
}

int cmd_status(struct globals *g, int argc, char **argv)
{
	bool json = false;
	const char *snapshot = NULL;
	char **only = xcalloc((size_t)argc + 1, sizeof *only);
	size_t n_only = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--snapshot") == 0 && i + 1 < argc) {
			snapshot = argv[++i];
		} else if (strcmp(argv[i], "--group") == 0 && i + 1 < argc) {
			only[n_only++] = argv[++i];
		} else {
			fprintf(stderr, "flipper status: unexpected argument '%s'\n\n%s", argv[i], cmd_status_usage);
			free(only);
			return EXIT_USAGE;
		}
	}
	int rc;
	char *path = resolve_state(g, &rc);
	if (!path) {
		free(only);
		return rc;
	}
	char *err = NULL;
	struct store *s = store_open_readonly(path, &err);
	if (!s) {
		fprintf(stderr, "flipper status: %s\n", err ? err : "no state file yet (no round has run)");
		rc = EXIT_RUNTIME;
		free(err);
		free(path);
		free(only);
		return rc;
	}

	char **ids = NULL;
	size_t n_ids = 0;
	struct buf out = BUF_INIT;
	struct jw jw;
	jw_init(&jw, &out, false);
	rc = EXIT_OK_;
	if (store_group_ids(s, &ids, &n_ids) < 0) {
		fprintf(stderr, "flipper status: cannot read the state: %s\n", store_errmsg(s));
		rc = EXIT_RUNTIME;
		goto done;
	}
	int64_t now = now_ms();
	if (snapshot) {
		struct group_view v;
		bool found = false;
		for (size_t i = 0; i < n_ids; i++)
			found |= strcmp(ids[i], snapshot) == 0;
		if (!found) {
			fprintf(stderr, "flipper status: the state has no group '%s'\n", snapshot);
			rc = EXIT_USAGE;
			goto done;
		}
		if (view_load(s, snapshot, &v) < 0) {
			fprintf(stderr, "flipper status: cannot read the state: %s\n", store_errmsg(s));
			rc = EXIT_RUNTIME;
		} else {
			print_snapshot(&v, &out);
		}
		view_release(&v);
		goto done;
	}
	if (json) {
		jw_object_begin(&jw, NULL);
		jw_array_begin(&jw, "groups");
	}
	for (size_t i = 0; i < n_ids; i++) {
		bool want = n_only == 0;
		for (size_t k = 0; k < n_only; k++)
			want |= strcmp(only[k], ids[i]) == 0;
		if (!want)
			continue;
		struct group_view v;
		if (view_load(s, ids[i], &v) < 0) {
			fprintf(stderr, "flipper status: cannot read the state: %s\n", store_errmsg(s));
			view_release(&v);
			rc = EXIT_RUNTIME;
			goto done;
		}
		if (json) {
			print_json(&jw, &v);
		} else {
			print_human(&v, now, &out);
		}
		view_release(&v);
	}
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
	if (json && !snapshot && rc == EXIT_OK_)
		fputc('\n', stdout);
	buf_release(&out);
	for (size_t i = 0; i < n_ids; i++)
		free(ids[i]);
	free(ids);
	store_close(s);
	free(path);
	free(only);
	return rc;
}
