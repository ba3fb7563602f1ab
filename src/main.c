/* main.c — the command table, option parsing, help, version and exit. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "curl_api.h"
#include "mhd_api.h"
#include "log.h"

const struct opt cli_global_opts[] = {
	OPT_VALUE_AT('c', "config", "FILE", struct globals, config_path,
		     "the configuration (.yaml/.yml, .toml or .json)\n"
		     "default $FLIPPER_CONFIG, else ./flipper.yaml", OPT_COMPLETE_FILES),
	OPT_VALUE_AT(0, "state", "FILE", struct globals, state_path,
		     "the state database\n"
		     "default $FLIPPER_STATE, else state.path, else\n"
		     "$STATE_DIRECTORY/flipper.db, else ./flipper.db", OPT_COMPLETE_FILES),
	OPT_VALUE_AT(0, "log-level", "L", struct globals, log_level,
		     "debug|info|warn|error (overrides the config)", "debug info warn error"),
	OPT_VALUE_AT(0, "log-format", "F", struct globals, log_format,
		     "json|text (overrides the config)", "json text"),
	OPT_TABLE_END,
};

/* Only before a command. */
struct top_opts {
	bool version;
};

static const struct opt top_opts[] = {
	OPT_FLAG_AT('v', "version", struct top_opts, version, "print the version and exit"),
	OPT_TABLE_END,
};

static const char top_description[] =
	"Keeps Hetzner Cloud floating IPs pointed at healthy servers. Each run\n"
	"does one round: health checks, plan, apply, notify, save state, exit.\n";

static const char top_epilogue[] =
	"Exit codes:\n"
	"  0   round completed (with or without changes applied)\n"
	"  1   runtime failure: API error, a plan action failed, state unusable\n"
	"  2   usage or configuration error (nothing was contacted)\n"
	"  3   plan --detailed-exitcode only: the plan has changes\n"
	"  75  another flipper holds the state lock: nothing done\n"
	"\n"
	"Environment: FLIPPER_CONFIG, FLIPPER_STATE, STATE_DIRECTORY, HCLOUD_TOKEN,\n"
	"HCLOUD_ENDPOINT. See flipper(1) and README.md.\n";

static const char global_note[] =
	"Global options (-c FILE, --state FILE, --log-level L, --log-format F) go\n"
	"before or after the command; see 'flipper help'.\n";

/* ---- version, help, completion --------------------------------------------- */

struct no_opts {
	char unused;
};

static const struct opt no_opts[] = { OPT_TABLE_END };

static int run_version(struct globals *g, void *opts, int argc, char **argv)
{
	(void)g, (void)opts, (void)argc, (void)argv;
	printf("flipper %s\n", FLIPPER_VERSION);
	if (curl_api_check(LOG_ERROR) < 0)
		return EXIT_RUNTIME;
	printf("libcurl %s (%s)\n", curl_api_version(), curl_api_soname());
	/* Optional: only monitor's HTTP endpoint (server.enabled) needs it. */
	char *why = NULL;
	if (mhd_api_load(&why) == 0)
		printf("libmicrohttpd %s (%s)\n", mhd_api_version(), mhd_api_soname());
	else
		printf("libmicrohttpd not available (only server.enabled needs it; install %s)\n",
		       MHD_API_PACKAGE);
	free(why);
	return EXIT_OK;
}

static const struct command cmd_version = {
	.name = "version",
	.summary = "print the version and the libcurl it uses",
	.description =
		"Print flipper's version, then the libcurl it would use for the network\n"
		"(version and file). When no usable libcurl can be loaded, say why and exit\n"
		"1: a deployment's smoke test catches a host where no round could reach the\n"
		"network. Then the libmicrohttpd that monitor's HTTP endpoint (server.*)\n"
		"would use, or that there is none (optional: not an error). 'flipper\n"
		"--version' prints the first line only.\n",
	.opts = no_opts,
	.opts_size = sizeof(struct no_opts),
	.run = run_version,
};

static int run_help(struct globals *g, void *opts, int argc, char **argv);

static const struct command cmd_help = {
	.name = "help",
	.operands = "[COMMAND]",
	.operand_complete = CLI_COMPLETE_COMMANDS,
	.summary = "this text, or a command's",
	.description = "Print the usage, or COMMAND's (the same as 'flipper COMMAND --help').\n",
	.opts = no_opts,
	.opts_size = sizeof(struct no_opts),
	.run = run_help,
};

static int run_completion(struct globals *g, void *opts, int argc, char **argv)
{
	(void)g, (void)opts;
	if (argc == 0)
		return usage_error("completion", "which shell? bash, zsh or fish");
	if (argc > 1)
		return usage_error("completion", "one shell at a time (also got '%s')", argv[1]);
	struct buf b = BUF_INIT;
	if (completion_script(argv[0], &b) < 0) {
		buf_release(&b);
		return usage_error("completion", "unknown shell '%s' (bash, zsh or fish)", argv[0]);
	}
	fwrite(b.data, 1, b.len, stdout);
	buf_release(&b);
	return EXIT_OK;
}

static const struct command cmd_completion = {
	.name = "completion",
	.operands = "SHELL",
	.operand_complete = "bash zsh fish",
	.summary = "print the completion script for bash, zsh or fish",
	.description =
		"Print the shell completion script for SHELL (bash, zsh or fish), made\n"
		"from the same tables as the help, so it knows every command and option.\n"
		"'make install' installs all three; to try one in the current shell:\n"
		"\n"
		"  source <(flipper completion bash)\n"
		"  source <(flipper completion zsh)\n"
		"  flipper completion fish | source\n",
	.opts = no_opts,
	.opts_size = sizeof(struct no_opts),
	.run = run_completion,
};

const struct command *const cli_commands[] = {
	&cmd_reconcile, &cmd_plan, &cmd_monitor, &cmd_status, &cmd_state, &cmd_simulate,
	&cmd_validate, &cmd_version, &cmd_help, &cmd_completion,
};
const size_t cli_n_commands = ARRAY_SIZE(cli_commands);

const char *cli_command_word(const struct command *c)
{
	const char *space = strrchr(c->name, ' ');
	return space ? space + 1 : c->name;
}

static const struct command *find_subcommand(const struct command *c, const char *word)
{
	for (const struct command *const *sub = c->subcommands; sub && *sub; sub++)
		if (strcmp(cli_command_word(*sub), word) == 0)
			return *sub;
	return NULL;
}

/* The command called name: "status", or a subcommand's path "state backup". */
static const struct command *find_command(const char *name)
{
	size_t first = strcspn(name, " ");
	for (size_t i = 0; i < cli_n_commands; i++) {
		const struct command *c = cli_commands[i];
		if (strlen(c->name) != first || strncmp(c->name, name, first) != 0)
			continue;
		return name[first] ? find_subcommand(c, name + first + 1) : c;
	}
	return NULL;
}

/* "reconcile [--once] [--for DURATION] [--group ID]...", without "flipper ". */
static void command_synopsis(const struct command *c, struct buf *out)
{
	buf_addstr(out, c->name);
	if (c->operands)
		buf_printf(out, " %s", c->operands);
	opt_synopsis(c->opts, out);
}

static void usage_line(const struct command *c, struct buf *out)
{
	buf_addstr(out, "usage: flipper");
	if (c) {
		buf_addch(out, ' ');
		command_synopsis(c, out);
	} else {
		opt_synopsis(cli_global_opts, out);
		buf_addstr(out, " COMMAND [ARGS]");
	}
	buf_addch(out, '\n');
}

/* "  status [--json]...    summary" */
static void summary_line(const struct command *c, struct buf *out)
{
	size_t start = out->len;
	buf_addstr(out, "  ");
	command_synopsis(c, out);
	size_t width = out->len - start;
	if (width + 1 > 21) {
		buf_addch(out, '\n');
		width = 0;
	}
	buf_printf(out, "%*s%s\n", (int)(21 - width), "", c->summary);
}

static void top_help(struct buf *out)
{
	usage_line(NULL, out);
	buf_printf(out, "\n%s\nCommands:\n", top_description);
	for (size_t i = 0; i < cli_n_commands; i++) {
		const struct command *c = cli_commands[i];
		if (!c->subcommands)
			summary_line(c, out);
		for (const struct command *const *sub = c->subcommands; sub && *sub; sub++)
			summary_line(*sub, out);
	}
	buf_addstr(out, "\nGlobal options, before or after the command:\n");
	opt_help(cli_global_opts, out);
	opt_help(top_opts, out);
	buf_addstr(out, "  -h, --help         this text; COMMAND --help: the command's\n");
	buf_printf(out, "\n%s", top_epilogue);
}

static void command_help(const struct command *c, struct buf *out)
{
	usage_line(c, out);
	buf_printf(out, "\n%s", c->description);
	if (c->subcommands) {
		buf_addstr(out, "\nSubcommands:\n");
		for (const struct command *const *sub = c->subcommands; *sub; sub++)
			summary_line(*sub, out);
	}
	buf_addstr(out, "\nOptions:\n");
	opt_help(c->opts, out);
	buf_addstr(out, "  -h, --help         show this help\n");
	if (c->epilogue)
		buf_printf(out, "\n%s", c->epilogue);
	buf_printf(out, "\n%s", global_note);
}

static int run_help(struct globals *g, void *opts, int argc, char **argv)
{
	(void)g, (void)opts;
	struct buf b = BUF_INIT;
	const struct command *c = argc ? find_command(argv[0]) : NULL;
	if (argc && !c)
		return usage_error("help", "unknown command '%s'", argv[0]);
	int words = 1;
	/* `help state backup`, as `state backup --help`. */
	if (argc > 1 && c->subcommands) {
		const struct command *sub = find_subcommand(c, argv[1]);
		if (!sub)
			return usage_error("help", "unknown command '%s %s'", argv[0], argv[1]);
		c = sub;
		words = 2;
	}
	if (argc > words)
		return usage_error("help", "one command at a time (also got '%s')", argv[words]);
	if (c) {
		command_help(c, &b);
	} else {
		top_help(&b);
	}
	fwrite(b.data, 1, b.len, stdout);
	buf_release(&b);
	return EXIT_OK;
}

/* ---- the pieces every command shares ----------------------------------------- */

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

char *cli_state_path_peek(struct globals *g, const char *cmd, int *rc)
{
	char *from_config = NULL;
	*rc = 0;
	if (!g->state_path && (g->config_explicit || access(g->config_path, R_OK) == 0)) {
		struct diags d;
		diags_init(&d, g->config_path);
		if (config_peek_state_path(g->config_path, &from_config, &d) < 0) {
			char *note = xasprintf("%s needs its state.path, or --state FILE", cmd);
			diags_print(&d, 0, note);
			free(note);
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

int usage_error(const char *cmd, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	buf_printf(&b, "flipper%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	buf_addch(&b, '\n');
	usage_line(cmd ? find_command(cmd) : NULL, &b);
	if (cmd)
		buf_printf(&b, "Try 'flipper %s --help'.\n", cmd);
	else
		buf_addstr(&b, "Try 'flipper help'.\n");
	fwrite(b.data, 1, b.len, stderr);
	buf_release(&b);
	return EXIT_USAGE;
}

/*
 * As git's run_builtin(): output that never reached its file is a failure,
 * not a success with a short file. A reader that went away (EPIPE, as in
 * `flipper status | head -1`) chose to stop reading: no complaint.
 */
static int check_stdout(int rc)
{
	int err = 0;
	if (fflush(stdout) != 0)
		err = errno;
	else if (ferror(stdout))
		err = EIO;
	else if (fclose(stdout) != 0)
		err = errno;
	if (!err || err == EPIPE)
		return rc;
	log_kv(LOG_ERROR, NULL, "write failure on standard output", "error", strerror(err), NULL);
	return EXIT_RUNTIME;
}

static void release_lists(const struct opt *opts, void *values)
{
	for (const struct opt *o = opts; o->type != OPT_END; o++)
		if (o->type == OPT_LIST)
			opt_list_release((struct opt_list *)(void *)((char *)values + o->offset));
}

/* Resolve what the options left open; 0, or a usage error's exit code. */
static int settle_globals(struct globals *g, const char *cmd)
{
	enum log_level l = LOG_INFO;
	enum log_format f = LOG_FORMAT_TEXT;

	if (g->log_level && log_level_parse(g->log_level, &l) < 0)
		return usage_error(cmd, "--log-level wants debug, info, warn or error (got '%s')",
				   g->log_level);
	if (g->log_format && log_format_parse(g->log_format, &f) < 0)
		return usage_error(cmd, "--log-format wants json or text (got '%s')", g->log_format);
	/* Until a configuration says otherwise, log as the options say. */
	log_setup(l, f);
	/* The test clock outside the test suite is refused, never used quietly. */
	char *clock_err;
	if (test_clock_setup(&clock_err) < 0) {
		log_kv(LOG_ERROR, NULL, clock_err, NULL);
		free(clock_err);
		return EXIT_USAGE;
	}

	if (g->config_path) {
		g->config_explicit = true;
	} else {
		g->config_path = getenv("FLIPPER_CONFIG");
		if (g->config_path && *g->config_path)
			g->config_explicit = true;
		else
			g->config_path = "flipper.yaml";
	}
	if (!g->state_path) {
		const char *s = getenv("FLIPPER_STATE");
		if (s && *s)
			g->state_path = s;
	}
	return 0;
}

static int run_command(const struct command *c, struct globals *g, int argc, char **argv, int at)
{
	void *values = xcalloc(1, c->opts_size);
	const struct opt_set sets[] = { { c->opts, values }, { cli_global_opts, g } };
	char **operands = NULL, *err = NULL;
	size_t n_operands = 0;
	int next, rc;
	struct buf b = BUF_INIT;
	const struct command *sub = NULL;

	/* A command of subcommands parses up to the subcommand's word. */
	switch (opt_parse(argc, argv, at, sets, ARRAY_SIZE(sets), c->subcommands != NULL, &next,
			  &operands, &n_operands, &err)) {
	case OPT_ERROR:
		rc = usage_error(c->name, "%s", err);
		break;
	case OPT_HELP:
		command_help(c, &b);
		fwrite(b.data, 1, b.len, stdout);
		rc = EXIT_OK;
		break;
	case OPT_OK:
	default:
		if (c->subcommands && next >= argc) {
			buf_addstr(&b, "which one?");
			for (const struct command *const *s = c->subcommands; *s; s++)
				buf_printf(&b, " %s", cli_command_word(*s));
			rc = usage_error(c->name, "%s", b.data);
		} else if (c->subcommands && !(sub = find_subcommand(c, argv[next]))) {
			rc = usage_error(c->name, "unknown subcommand '%s'", argv[next]);
		} else if (sub) {
			rc = run_command(sub, g, argc, argv, next + 1);
		} else if (!c->operands && n_operands) {
			rc = usage_error(c->name, "unexpected argument '%s'", operands[0]);
		} else if (!(rc = settle_globals(g, c->name))) {
			rc = c->run(g, values, (int)n_operands, operands);
		}
		break;
	}
	buf_release(&b);
	free(err);
	free(operands);
	release_lists(c->opts, values);
	free(values);
	return rc;
}

int main(int argc, char **argv)
{
	struct globals g = { 0 };
	struct top_opts top = { 0 };
	const struct opt_set sets[] = { { cli_global_opts, &g }, { top_opts, &top } };
	char **operands = NULL, *err = NULL;
	size_t n_operands = 0;
	struct buf b = BUF_INIT;
	int next, rc;

	switch (opt_parse(argc, argv, 1, sets, ARRAY_SIZE(sets), true, &next, &operands,
			  &n_operands, &err)) {
	case OPT_ERROR:
		rc = usage_error(NULL, "%s", err);
		break;
	case OPT_HELP:
		top_help(&b);
		fwrite(b.data, 1, b.len, stdout);
		rc = EXIT_OK;
		break;
	case OPT_OK:
	default:
		if (top.version) {
			printf("flipper %s\n", FLIPPER_VERSION);
			rc = EXIT_OK;
		} else if (next >= argc) {
			top_help(&b);
			fwrite(b.data, 1, b.len, stderr);
			rc = EXIT_USAGE;
		} else if (!find_command(argv[next])) {
			rc = usage_error(NULL, "unknown command '%s'", argv[next]);
		} else {
			rc = run_command(find_command(argv[next]), &g, argc, argv, next + 1);
		}
		break;
	}
	buf_release(&b);
	free(err);
	free(operands);
	curl_api_release();
	log_release();
	return check_stdout(rc);
}
