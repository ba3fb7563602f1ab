/* cmd_round.c — reconcile, plan and monitor: the commands that run rounds. */
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "log.h"
#include "round.h"
#include "store.h"

const char cmd_reconcile_usage[] =
	"usage: flipper [-c FILE] [--state FILE] reconcile [--once] [--for DURATION] [--group ID]...\n"
	"\n"
	"Run one round for every group (or the --group ones): refresh the inventory\n"
	"when it is older than poll_interval, run the checks that are due, update the\n"
	"health counters, plan, apply the plan through the Hetzner Cloud API, notify,\n"
	"send the heartbeat, save the state, and exit.\n"
	"\n"
	"  --once            one round (the default)\n"
	"  --for DURATION    rounds back to back for DURATION (e.g. 55s), each starting\n"
	"                    when the next check falls due; stops before DURATION ends.\n"
	"                    Gives a once-a-minute CronJob a check cadence of seconds.\n"
	"                    SIGTERM or SIGINT end the run after the current round\n"
	"                    (exit 0).\n"
	"  --group ID        only this group (repeatable)\n"
	"\n"
	"Exit: 0 round(s) completed, 1 runtime failure, 2 usage/configuration error,\n"
	"75 another flipper holds the state lock.\n";

const char cmd_plan_usage[] =
	"usage: flipper [-c FILE] plan [--json] [--detailed-exitcode] [--no-checks] [--group ID]...\n"
	"\n"
	"Dry run. Refresh the inventory (read-only API calls), run one round of checks\n"
	"in memory, and print the plan: which floating IPs would move where, and why.\n"
	"Writes nothing: no state, no API change, no notification, no heartbeat.\n"
	"\n"
	"  --json               print the plan as JSON\n"
	"  --detailed-exitcode  exit 3 when the plan has changes, 0 when it has none\n"
	"  --no-checks          plan from the health stored in the state file\n"
	"  --group ID           only this group (repeatable)\n";

const char cmd_monitor_usage[] =
	"usage: flipper [-c FILE] [--state FILE] monitor [--group ID]...\n"
	"\n"
	"Run rounds forever, each starting when the next check falls due, for people\n"
	"who prefer a daemon to a timer. SIGTERM or SIGINT finish the current round,\n"
	"then flipper exits 0. The state lock is held throughout.\n";

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

/* Sleep up to ms, waking early when a stop is requested. */
static void nap(int64_t ms)
{
	int64_t end = mono_ms() + ms;
	while (!stop_requested) {
		int64_t left = end - mono_ms();
		if (left <= 0)
			break;
		sleep_ms(left > 100 ? 100 : left);
	}
}

struct run_args {
	bool json, detailed, no_checks, once;
	const char *for_text;
	int64_t for_ms;
	char **groups;
	size_t n_groups;
};

static int parse_args(const char *cmd, const char *usage, int argc, char **argv,
		      struct run_args *a, const char *allowed)
{
	const char *bad = NULL;
	memset(a, 0, sizeof *a);
	a->groups = xcalloc((size_t)argc + 1, sizeof *a->groups);
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		const char *val = NULL;
		bad = s;
		if (strcmp(s, "--group") == 0 || strncmp(s, "--group=", 8) == 0) {
			if (s[7] == '=')
				val = s + 8;
			else if (i + 1 < argc)
				val = argv[++i];
			if (!val || !*val)
				goto usage;
			a->groups[a->n_groups++] = (char *)val;
			continue;
		}
		if ((strcmp(s, "--for") == 0 || strncmp(s, "--for=", 6) == 0) && strstr(allowed, "for")) {
			if (s[5] == '=')
				val = s + 6;
			else if (i + 1 < argc)
				val = argv[++i];
			const char *why;
			if (!val || duration_parse(val, &a->for_ms, &why) < 0 || a->for_ms <= 0) {
				fprintf(stderr, "flipper %s: --for wants a positive duration such as 55s (got '%s')\n",
					cmd, val ? val : "");
				free(a->groups);
				return -1;
			}
			a->for_text = val;
			continue;
		}
		if (strcmp(s, "--once") == 0 && strstr(allowed, "once"))
			a->once = true;
		else if (strcmp(s, "--json") == 0 && strstr(allowed, "json"))
			a->json = true;
		else if (strcmp(s, "--detailed-exitcode") == 0 && strstr(allowed, "detailed"))
			a->detailed = true;
		else if (strcmp(s, "--no-checks") == 0 && strstr(allowed, "nochecks"))
			a->no_checks = true;
		else
			goto usage;
	}
	if (a->once && a->for_text) {
		fprintf(stderr, "flipper %s: --once and --for exclude each other\n", cmd);
		free(a->groups);
		return -1;
	}
	return 0;
usage:
	fprintf(stderr, "flipper %s: unexpected argument '%s'\n\n%s", cmd, bad ? bad : "", usage);
	free(a->groups);
	return -1;
}

/* Load the configuration, set up logging, pick the state path. */
static struct config *setup(struct globals *g, struct run_args *a, char **state_path)
{
	struct diags d;
	diags_init(&d, g->config_path);
	struct config *c = config_load(g->config_path, &d);
	config_report_diags(&d);
	if (!c) {
		fprintf(stderr, "%s: %zu error%s; nothing was contacted\n", g->config_path, d.errors,
			d.errors == 1 ? "" : "s");
		diags_release(&d);
		return NULL;
	}
	diags_release(&d);

	enum log_level lv = LOG_INFO;
	enum log_format fm = LOG_FORMAT_JSON;
	log_level_parse(g->log_level ? g->log_level : c->log_level, &lv);
	log_format_parse(g->log_format ? g->log_format : c->log_format, &fm);
	log_setup(lv, fm);

	for (size_t i = 0; i < a->n_groups; i++) {
		if (!config_group(c, a->groups[i])) {
			fprintf(stderr, "flipper: unknown group '%s' (configured:", a->groups[i]);
			for (size_t k = 0; k < c->n_groups; k++)
				fprintf(stderr, " %s", c->groups[k].id);
			fprintf(stderr, ")\n");
			config_free(c);
			return NULL;
		}
	}

	*state_path = cli_state_path(g, c->state_path);
	return c;
}

static int run_rounds(struct globals *g, struct run_args *a, bool forever)
{
	char *state_path = NULL;
	struct config *c = setup(g, a, &state_path);
	if (!c) {
		free(a->groups);
		return EXIT_USAGE;
	}

	int rc = EXIT_OK_;
	int lock_fd = -1;
	int lr = store_lock(state_path, &lock_fd);
	if (lr == 1) {
		log_kv(LOG_WARN, NULL, "another flipper holds the state lock; nothing done",
		       "state", state_path, NULL);
		config_free(c);
		free(state_path);
		free(a->groups);
		return EXIT_LOCKED;
	}
	if (lr < 0) {
		log_kv(LOG_ERROR, NULL, "cannot take the state lock", "state", state_path,
		       "error", strerror(errno), NULL);
		config_free(c);
		free(state_path);
		free(a->groups);
		return EXIT_RUNTIME;
	}

	struct store_info info;
	char *err = NULL;
	struct store *s = store_open(state_path, &info, &err);
	if (!s) {
		log_kv(LOG_ERROR, NULL, "state unusable", "error", err, NULL);
		free(err);
		store_unlock(lock_fd);
		config_free(c);
		free(state_path);
		free(a->groups);
		return EXIT_RUNTIME;
	}
	if (info.moved_aside)
		log_kv(LOG_ERROR, NULL, "the state file was not a usable flipper database: moved aside, starting afresh",
		       "moved_to", info.moved_aside, "reason", info.moved_reason, NULL);

	install_signals();
	/* libcurl initialises itself on first use (src/curl_lazy.c). */
	struct engine_options eo = {
		.groups = a->groups, .n_groups = a->n_groups, .looping = forever || a->for_ms > 0,
	};
	struct engine *e = engine_new(c, s, &eo);
	if (info.moved_aside)
		engine_note_state_reset(e, info.moved_aside, info.moved_reason);

	int64_t end = a->for_ms ? mono_ms() + a->for_ms : 0;
	for (;;) {
		struct round_result res;
		round_result_init(&res);
		int64_t t0 = mono_ms();
		engine_round(e, &res);
		int64_t took = mono_ms() - t0;
		if (res.failed)
			rc = EXIT_RUNTIME;
		int64_t next = res.next_due;
		round_result_release(&res);
		if (stop_requested || (!forever && !end))
			break;
		/*
		 * next is on the wall clock, nap() counts on the monotonic one,
		 * and each is cut to whole milliseconds on its own: without the
		 * extra millisecond a round could start just before its checks
		 * fall due, and run none.
		 */
		int64_t wait = next - now_ms() + 1;
		if (wait < 100)
			wait = 100;    /* never spin, even when something is overdue */
		if (end && mono_ms() + wait + took >= end)
			break;
		nap(wait);
		if (stop_requested)
			break;
	}
	if (stop_requested) {
		log_kv(LOG_INFO, NULL, "stopping on signal after the round", NULL);
		/*
		 * A signal is how monitor and --for are meant to end (systemd
		 * stop, a CronJob's deadline): the round in hand finished and
		 * the state is consistent, so that is a clean exit, whatever an
		 * earlier round met. A single round keeps its own verdict.
		 */
		if (forever || end)
			rc = EXIT_OK_;
	}

	engine_free(e);
	store_close(s);
	store_info_release(&info);
	store_unlock(lock_fd);
	curl_global_cleanup();
	config_free(c);
	free(state_path);
	free(a->groups);
	return rc;
}

int cmd_reconcile(struct globals *g, int argc, char **argv)
{
	struct run_args a;
	if (parse_args("reconcile", cmd_reconcile_usage, argc, argv, &a, "once,for") < 0)
		return EXIT_USAGE;
	return run_rounds(g, &a, false);
}

int cmd_monitor(struct globals *g, int argc, char **argv)
{
	struct run_args a;
	if (parse_args("monitor", cmd_monitor_usage, argc, argv, &a, "") < 0)
		return EXIT_USAGE;
	return run_rounds(g, &a, true);
}

int cmd_plan(struct globals *g, int argc, char **argv)
{
	struct run_args a;
	if (parse_args("plan", cmd_plan_usage, argc, argv, &a, "json,detailed,nochecks") < 0)
		return EXIT_USAGE;
	char *state_path = NULL;
	struct config *c = setup(g, &a, &state_path);
	if (!c) {
		free(a.groups);
		return EXIT_USAGE;
	}
	char *err = NULL;
	struct store *s = store_open_readonly(state_path, &err);
	if (!s && err) {
		log_kv(LOG_ERROR, NULL, "state unusable", "error", err, NULL);
		free(err);
		config_free(c);
		free(state_path);
		free(a.groups);
		return EXIT_RUNTIME;
	}
	struct engine_options eo = {
		.dry_run = true, .no_checks = a.no_checks, .groups = a.groups, .n_groups = a.n_groups,
	};
	struct engine *e = engine_new(c, s, &eo);
	struct round_result res;
	round_result_init(&res);
	engine_round(e, &res);
	struct buf *out = a.json ? &res.report_json : &res.report_human;
	if (out->len)
		fwrite(out->data, 1, out->len, stdout);
	if (a.json)
		fputc('\n', stdout);
	int rc = res.failed ? EXIT_RUNTIME : (a.detailed && res.changes) ? EXIT_CHANGES : EXIT_OK_;
	round_result_release(&res);
	engine_free(e);
	store_close(s);
	curl_global_cleanup();
	config_free(c);
	free(state_path);
	free(a.groups);
	return rc;
}
