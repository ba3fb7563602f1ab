/* cmd_round.c — reconcile, plan and monitor: the commands that run the engine. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "log.h"
#include "engine.h"
#include "store.h"

/* The options of reconcile, plan and monitor; each takes the ones it lists. */
struct round_opts {
	bool once, json, detailed, no_checks;
	const char *for_text;
	struct opt_list groups;
	int64_t for_ms;            /* --for, parsed */
};

#define GROUP_OPT OPT_LIST_AT(0, "group", "ID", struct round_opts, groups, \
			      "only this group (repeatable)", NULL)

static const struct opt reconcile_opts[] = {
	OPT_FLAG_AT(0, "once", struct round_opts, once, "one pass per group (the default)"),
	OPT_VALUE_AT(0, "for", "DURATION", struct round_opts, for_text,
		     "keep running for DURATION (e.g. 55s), as monitor\n"
		     "does. No apply starts after DURATION; one in flight\n"
		     "finishes. Gives a once-a-minute CronJob a check\n"
		     "cadence of seconds. The exit status is each group's\n"
		     "last pass; SIGTERM or SIGINT: exit 0.", NULL),
	GROUP_OPT,
	OPT_TABLE_END,
};

static const struct opt plan_opts[] = {
	OPT_FLAG_AT(0, "json", struct round_opts, json, "print the plan as JSON"),
	OPT_FLAG_AT(0, "detailed-exitcode", struct round_opts, detailed,
		    "exit 3 when the plan has changes, 0 when it has none"),
	OPT_FLAG_AT(0, "no-checks", struct round_opts, no_checks,
		    "plan from the health stored in the state file"),
	GROUP_OPT,
	OPT_TABLE_END,
};

static const struct opt monitor_opts[] = {
	GROUP_OPT,
	OPT_TABLE_END,
};

/* The configuration's logging, where the command line does not say otherwise. */
static void setup_logging(const struct globals *g, const struct config *c)
{
	enum log_level lv = LOG_INFO;
	enum log_format fm = LOG_FORMAT_JSON;
	log_level_parse(g->log_level ? g->log_level : c->log_level, &lv);
	log_format_parse(g->log_format ? g->log_format : c->log_format, &fm);
	log_setup(lv, fm);
	log_set_service(c->service_name);
}

/* Load the configuration, set up logging, pick the state path. */
static struct config *setup(struct globals *g, const char *cmd, const struct round_opts *a,
			    char **state_path, int *rc)
{
	struct diags d;
	diags_init(&d, g->config_path);
	struct config *c = config_load(g->config_path, CONFIG_RUN, &d);
	diags_print(&d, 0, "nothing was contacted");
	diags_release(&d);
	*rc = EXIT_USAGE;
	if (!c)
		return NULL;

	setup_logging(g, c);

	for (size_t i = 0; i < a->groups.n; i++) {
		if (!config_group(c, a->groups.v[i])) {
			struct buf known = BUF_INIT;
			for (size_t k = 0; k < c->n_groups; k++)
				buf_printf(&known, " %s", c->groups[k].id);
			usage_error(cmd, "unknown group '%s' (configured:%s)", a->groups.v[i],
				    known.len ? known.data : "");
			buf_release(&known);
			config_free(c);
			return NULL;
		}
	}

	*state_path = cli_state_path(g, c->state_path);
	*rc = EXIT_OK;
	return c;
}

/*
 * Look at the state path before the lock file is created beside it, so
 * someone else's file gets nothing new next to it either; *path becomes
 * the resolved one. 0, or -1 (logged).
 */
static int resolve_state(char **path)
{
	char *given = *path, *err = NULL;
	bool followed = false;
	if (store_resolve(given, true, path, &followed, &err) < 0) {
		log_kv(LOG_ERROR, NULL, "state unusable", "error", err, NULL);
		free(err);
		*path = given;
		return -1;
	}
	if (followed)
		log_kv(LOG_INFO, NULL, "the state path is a symbolic link; using the file it points to",
		       "state", given, "resolved", *path, NULL);
	free(given);
	return 0;
}

/* What a reload compares the new configuration with. */
struct reload_ctx {
	struct globals *g;
	const struct round_opts *a;
	const char *state_path;      /* resolved, as the state was opened */
};

static void *refuse(struct config *c, const char *why, const char *detail)
{
	log_kv(LOG_ERROR, NULL, "configuration reload refused; the running configuration stays",
	       "reason", why, "detail", detail, NULL);
	config_free(c);
	return NULL;
}

/*
 * SIGHUP under monitor and --for: the configuration read and validated
 * again. What the running process cannot change is refused with the
 * reason, and the running configuration stays: another state file
 * (state.path: the lock and every row are the old file's) and another
 * HTTP endpoint (server.*: its socket is bound).
 */
static struct config *reload_config(void *arg, const struct config *cur)
{
	struct reload_ctx *r = arg;
	struct diags d;
	diags_init(&d, r->g->config_path);
	struct config *c = config_load(r->g->config_path, CONFIG_RUN, &d);
	for (size_t i = 0; i < d.n; i++) {
		char *text = diag_format(&d, &d.list[i]);
		log_kv(d.list[i].severity == DIAG_ERROR ? LOG_ERROR : LOG_WARN, NULL,
		       d.list[i].severity == DIAG_ERROR ? "configuration error" : "configuration warning",
		       "diagnostic", text, NULL);
		free(text);
	}
	char *errors = xasprintf("%zu error%s in %s", d.errors, d.errors == 1 ? "" : "s",
				 r->g->config_path);
	diags_release(&d);
	if (!c) {
		refuse(NULL, "the configuration does not validate", errors);
		free(errors);
		return NULL;
	}
	free(errors);
	for (size_t i = 0; i < r->a->groups.n; i++)
		if (!config_group(c, r->a->groups.v[i]))
			return refuse(c, "a group named by --group is no longer configured",
				      r->a->groups.v[i]);
	char *given = cli_state_path(r->g, c->state_path), *resolved = NULL, *err = NULL;
	bool followed = false;
	int rs = store_resolve(given, false, &resolved, &followed, &err);
	bool moved = rs < 0 || !str_eq(resolved, r->state_path);
	free(err);
	free(resolved);
	if (moved) {
		char *detail = xasprintf("%s (running on %s)", given, r->state_path);
		refuse(c, "state.path changed: another state file needs a restart", detail);
		free(detail);
		free(given);
		return NULL;
	}
	free(given);
	if (c->server_enabled != cur->server_enabled ||
	    (c->server_enabled && (!str_eq(c->server_host, cur->server_host) ||
				   c->server_port != cur->server_port))) {
		char *detail = xasprintf("server.enabled %s, %s port %d", c->server_enabled ? "true" :
					 "false", c->server_host ? c->server_host : "?", c->server_port);
		refuse(c, "server.* changed: the HTTP endpoint needs a restart", detail);
		free(detail);
		return NULL;
	}
	setup_logging(r->g, c);
	return c;
}

static int run_rounds(struct globals *g, const char *cmd, struct round_opts *a, bool forever)
{
	char *state_path = NULL;
	int rc;
	struct config *c = setup(g, cmd, a, &state_path, &rc);
	if (!c)
		return rc;

	int lock_fd = -1;
	struct store_info info = { 0 };
	struct store *s = NULL;
	char *err = NULL;
	if (resolve_state(&state_path) < 0) {
		rc = EXIT_RUNTIME;
		goto out;
	}
	int lr = store_lock(state_path, &lock_fd);
	if (lr == 1) {
		log_kv(LOG_WARN, NULL, "another flipper holds the state lock; nothing done",
		       "state", state_path, NULL);
		rc = EXIT_LOCKED;
		goto out;
	}
	if (lr < 0) {
		log_kv(LOG_ERROR, NULL, "cannot take the state lock", "state", state_path,
		       "error", strerror(errno), NULL);
		rc = EXIT_RUNTIME;
		goto out;
	}

	struct engine_options eo = {
		.mode = forever ? ENGINE_FOREVER : a->for_ms > 0 ? ENGINE_FOR : ENGINE_ONCE,
		.for_ms = a->for_ms, .groups = a->groups.v, .n_groups = a->groups.n,
	};
	struct reload_ctx rctx = { g, a, state_path };
	if (eo.mode != ENGINE_ONCE) {
		eo.reload = reload_config;
		eo.reload_arg = &rctx;
	}
	/* The common timer run: nothing is due, so nothing else is read. */
	if (eo.mode == ENGINE_ONCE) {
		char *record = store_peek_meta(state_path, ENGINE_NEXT_DUE_KEY);
		bool quiet = engine_nothing_due(c, &eo, record);
		free(record);
		if (quiet) {
			log_kv(LOG_DEBUG, NULL, "nothing due", NULL);
			rc = EXIT_OK;
			goto out;
		}
	}

	s = store_open(state_path, &info, &err);
	if (!s) {
		log_kv(LOG_ERROR, NULL, "state unusable", "error", err, NULL);
		free(err);
		rc = EXIT_RUNTIME;
		goto out;
	}
	if (info.moved_aside)
		log_kv(LOG_ERROR, NULL, "the state file was not a usable flipper database: moved aside, starting afresh",
		       "moved_to", info.moved_aside, "reason", info.moved_reason, NULL);

	/* libcurl is loaded when the engine first needs the network (src/curl_api.c). */
	struct engine *e = engine_new(c, s, &eo);
	if (info.moved_aside)
		engine_note_state_reset(e, info.moved_aside, info.moved_reason);
	struct engine_result res;
	engine_result_init(&res);
	engine_run(e, &res);
	rc = res.failed ? EXIT_RUNTIME : EXIT_OK;
	engine_result_release(&res);
	engine_free(e);
	/* A long run leaves the database file complete on its own. */
	if (eo.mode != ENGINE_ONCE && store_checkpoint_truncate(s) < 0)
		log_kv(LOG_WARN, NULL, "cannot fold the WAL into the state file", "error",
		       store_errmsg(s), NULL);
out:
	store_close(s);
	store_info_release(&info);
	store_unlock(lock_fd);
	config_free(c);
	free(state_path);
	return rc;
}

static int run_reconcile(struct globals *g, void *opts, int argc, char **argv)
{
	struct round_opts *a = opts;
	const char *why;
	(void)argc, (void)argv;
	if (a->for_text && (duration_parse(a->for_text, &a->for_ms, &why) < 0 || a->for_ms <= 0))
		return usage_error("reconcile", "--for wants a positive duration such as 55s (got '%s')",
				   a->for_text);
	if (a->once && a->for_text)
		return usage_error("reconcile", "--once and --for exclude each other");
	return run_rounds(g, "reconcile", a, false);
}

static int run_monitor(struct globals *g, void *opts, int argc, char **argv)
{
	(void)argc, (void)argv;
	return run_rounds(g, "monitor", opts, true);
}

static int run_plan(struct globals *g, void *opts, int argc, char **argv)
{
	struct round_opts *a = opts;
	char *state_path = NULL;
	int rc;
	(void)argc, (void)argv;
	struct config *c = setup(g, "plan", a, &state_path, &rc);
	if (!c)
		return rc;
	char *err = NULL;
	struct store *s = store_open_readonly(state_path, &err);
	if (!s && err) {
		log_kv(LOG_ERROR, NULL, "state unusable", "error", err, NULL);
		free(err);
		config_free(c);
		free(state_path);
		return EXIT_RUNTIME;
	}
	struct engine_options eo = {
		.mode = ENGINE_ONCE, .dry_run = true, .no_checks = a->no_checks,
		.groups = a->groups.v, .n_groups = a->groups.n,
	};
	struct engine *e = engine_new(c, s, &eo);
	struct engine_result res;
	engine_result_init(&res);
	engine_run(e, &res);
	struct buf *out = a->json ? &res.report_json : &res.report_human;
	if (out->len)
		fwrite(out->data, 1, out->len, stdout);
	if (a->json)
		fputc('\n', stdout);
	rc = res.failed ? EXIT_RUNTIME : (a->detailed && res.changes) ? EXIT_CHANGES : EXIT_OK;
	engine_result_release(&res);
	engine_free(e);
	store_close(s);
	config_free(c);
	free(state_path);
	return rc;
}

const struct command cmd_reconcile = {
	.name = "reconcile",
	.summary = "one pass per group (default), or keep running for DURATION",
	.description =
		"One pass for every group (or the --group ones): refresh the inventory when\n"
		"it is older than poll_interval, run the checks that are due, update the\n"
		"health counters, plan, apply the plan through the Hetzner Cloud API, notify,\n"
		"send the heartbeat, save the state, and exit.\n",
	.epilogue =
		"Exit: 0 every group's (last) pass succeeded, 1 runtime failure, 2 usage or\n"
		"configuration error, 75 another flipper holds the state lock.\n",
	.opts = reconcile_opts,
	.opts_size = sizeof(struct round_opts),
	.run = run_reconcile,
};

const struct command cmd_plan = {
	.name = "plan",
	.summary = "dry run: print the diff, change nothing",
	.description =
		"Dry run. Refresh the inventory (read-only API calls), run every check once\n"
		"in memory, and print the plan: which floating IPs would move where, and why.\n"
		"Writes nothing: no state, no API change, no notification, no heartbeat.\n",
	.opts = plan_opts,
	.opts_size = sizeof(struct round_opts),
	.run = run_plan,
};

const struct command cmd_monitor = {
	.name = "monitor",
	.summary = "run forever; SIGTERM/SIGINT: saved, exit 0",
	.description =
		"Run forever, for people who prefer a daemon to a timer: every check target\n"
		"on its own schedule, every group planning as soon as a server's health\n"
		"changes. On SIGTERM or SIGINT an apply in flight finishes, checks in flight\n"
		"are dropped uncounted, the state is saved, and flipper exits 0. The state\n"
		"lock is held throughout.\n",
	.opts = monitor_opts,
	.opts_size = sizeof(struct round_opts),
	.run = run_monitor,
};
