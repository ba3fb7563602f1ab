/* main.c — global options, command dispatch, help and version. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"

static const char usage_text[] =
	"usage: flipper [-c FILE] [--state FILE] [--log-level L] [--log-format F] COMMAND [ARGS]\n"
	"\n"
	"Keeps Hetzner Cloud floating IPs pointed at healthy servers. Each run\n"
	"does one round: health checks, plan, apply, notify, save state, exit.\n"
	"\n"
	"Commands:\n"
	"  reconcile [--once] [--for DURATION] [--group ID]...\n"
	"                     one round (default), or rounds for DURATION\n"
	"  plan [--json] [--detailed-exitcode] [--no-checks] [--group ID]...\n"
	"                     dry run: print the diff, change nothing\n"
	"  monitor [--group ID]...\n"
	"                     rounds forever; SIGTERM/SIGINT finish the round, exit 0\n"
	"  status [--json] [--snapshot GROUP] [--group ID]...\n"
	"                     what the state file knows, without network I/O\n"
	"  simulate SNAPSHOT.json [--json]\n"
	"                     the planner alone, offline, on a snapshot\n"
	"  validate [--print] check the configuration\n"
	"  version            print the version\n"
	"  help [COMMAND]     this text, or a command's\n"
	"\n"
	"Global options:\n"
	"  -c, --config FILE  configuration (.yaml/.yml, .toml or .json);\n"
	"                     default $FLIPPER_CONFIG, else ./flipper.yaml\n"
	"  --state FILE       state database; default $FLIPPER_STATE, else\n"
	"                     state.path, else $STATE_DIRECTORY/flipper.db,\n"
	"                     else ./flipper.db\n"
	"  --log-level L      debug|info|warn|error (overrides the config)\n"
	"  --log-format F     json|text (overrides the config)\n"
	"\n"
	"Exit codes:\n"
	"  0   round completed (with or without changes applied)\n"
	"  1   runtime failure: API error, a plan action failed, state unusable\n"
	"  2   usage or configuration error (nothing was contacted)\n"
	"  3   plan --detailed-exitcode only: the plan has changes\n"
	"  75  another flipper holds the state lock: nothing done\n"
	"\n"
	"Environment: FLIPPER_CONFIG, FLIPPER_STATE, STATE_DIRECTORY, HCLOUD_TOKEN,\n"
	"HCLOUD_ENDPOINT. See flipper(1) and README.md.\n";

struct command {
	const char *name;
	int (*run)(struct globals *g, int argc, char **argv);
	const char *usage;
};

static const struct command commands[] = {
	{ "reconcile", cmd_reconcile, cmd_reconcile_usage },
	{ "plan", cmd_plan, cmd_plan_usage },
	{ "monitor", cmd_monitor, cmd_monitor_usage },
	{ "status", cmd_status, cmd_status_usage },
	{ "simulate", cmd_simulate, cmd_simulate_usage },
	{ "validate", cmd_validate, cmd_validate_usage },
};

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

char *cli_state_path(const struct globals *g, const char *config_state_path)
{
	if (g->state_path)
		return xstrdup(g->state_path);
	if (config_state_path)
		return xstrdup(config_state_path);
	/* systemd may list several directories, colon-separated. */
	const char *dir = getenv("STATE_DIRECTORY");
	if (dir && *dir)
		return xasprintf("%.*s/flipper.db", (int)strcspn(dir, ":"), dir);
	return xstrdup("flipper.db");
}

bool cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return true;
	}
	return false;
}

static int usage_error(const char *fmt, ...) PRINTF_LIKE(1, 2);

static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "flipper: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\nTry 'flipper help'.\n");
	va_end(ap);
	return EXIT_USAGE;
}

/* Take "--opt VALUE" or "--opt=VALUE" at argv[*i]. */
static int take_value(int argc, char **argv, int *i, const char *name, const char **out)
{
	size_t n = strlen(name);
	const char *a = argv[*i];
	if (strncmp(a, name, n) == 0 && a[n] == '=') {
		*out = a + n + 1;
		return 1;
	}
	if (strcmp(a, name) != 0)
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*out = argv[++*i];
	return 1;
}

int main(int argc, char **argv)
{
	struct globals g = { 0 };
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		int r;
		if (a[0] != '-')
			break;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage_text, stdout);
			return 0;
		}
		if (strcmp(a, "--version") == 0) {
			printf("flipper %s\n", FLIPPER_VERSION);
			return 0;
		}
		if ((r = take_value(argc, argv, &i, "-c", &g.config_path)) ||
		    (r = take_value(argc, argv, &i, "--config", &g.config_path))) {
			if (r < 0)
				return usage_error("option '%s' needs a file", a);
			g.config_explicit = true;
			continue;
		}
		if ((r = take_value(argc, argv, &i, "--state", &g.state_path))) {
			if (r < 0)
				return usage_error("option '%s' needs a file", a);
			continue;
		}
		if ((r = take_value(argc, argv, &i, "--log-level", &g.log_level))) {
			enum log_level l;
			if (r < 0 || log_level_parse(g.log_level, &l) < 0)
				return usage_error("--log-level wants debug, info, warn or error (got '%s')",
						   r < 0 ? "" : g.log_level);
			continue;
		}
		if ((r = take_value(argc, argv, &i, "--log-format", &g.log_format))) {
			enum log_format f;
			if (r < 0 || log_format_parse(g.log_format, &f) < 0)
				return usage_error("--log-format wants json or text (got '%s')",
						   r < 0 ? "" : g.log_format);
			continue;
		}
		return usage_error("unknown option '%s'", a);
	}

	if (!g.config_path) {
		g.config_path = getenv("FLIPPER_CONFIG");
		if (g.config_path && *g.config_path)
			g.config_explicit = true;
		else
			g.config_path = "flipper.yaml";
	}
	if (!g.state_path) {
		const char *s = getenv("FLIPPER_STATE");
		if (s && *s)
			g.state_path = s;
	}
	/* Until a configuration says otherwise, log as the options say. */
	{
		enum log_level l = LOG_INFO;
		enum log_format f = LOG_FORMAT_TEXT;
		if (g.log_level)
			log_level_parse(g.log_level, &l);
		if (g.log_format)
			log_format_parse(g.log_format, &f);
		log_setup(l, f);
	}
	/* The test clock outside the test suite is refused, never used quietly. */
	char *clock_err;
	if (test_clock_setup(&clock_err) < 0) {
		log_kv(LOG_ERROR, NULL, clock_err, NULL);
		free(clock_err);
		return EXIT_USAGE;
	}

	if (i >= argc) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}

	const char *name = argv[i];
	if (strcmp(name, "help") == 0) {
		if (i + 1 < argc) {
			const struct command *c = find_command(argv[i + 1]);
			if (!c)
				return usage_error("unknown command '%s'", argv[i + 1]);
			fputs(c->usage, stdout);
			return 0;
		}
		fputs(usage_text, stdout);
		return 0;
	}
	if (strcmp(name, "version") == 0) {
		printf("flipper %s\n", FLIPPER_VERSION);
		return 0;
	}
	const struct command *c = find_command(name);
	if (!c)
		return usage_error("unknown command '%s'", name);
	if (cli_wants_help(argc - i, argv + i)) {
		fputs(c->usage, stdout);
		return 0;
	}
	return c->run(&g, argc - i, argv + i);
}
