/*
 * cli.h — exit codes, global options and the command table's entries.
 *
 * Each command is one struct command: its options (an opt.h table), its
 * help text and its run function. main.c parses the command line from
 * those tables, so `COMMAND --help`, `flipper help` and the shell
 * completions (`flipper completion SHELL`) are all generated from them.
 * A command returns an exit code; only main() exits.
 */
#ifndef FLIPPER_CLI_H
#define FLIPPER_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "opt.h"

enum exit_code {
	EXIT_OK = 0,          /* round completed */
	EXIT_RUNTIME = 1,     /* API error, failed action, unusable state */
	EXIT_USAGE = 2,       /* usage or configuration error */
	EXIT_CHANGES = 3,     /* plan --detailed-exitcode: the plan has changes */
	EXIT_LOCKED = 75,     /* another flipper holds the state lock */
};

struct globals {
	const char *config_path;     /* resolved: -c, $FLIPPER_CONFIG, ./flipper.yaml */
	bool config_explicit;        /* given with -c or $FLIPPER_CONFIG */
	const char *state_path;      /* --state or $FLIPPER_STATE; NULL: see config */
	const char *log_level;       /* --log-level, overrides the config */
	const char *log_format;
};

struct command {
	const char *name;
	/* The operands in the synopsis ("SNAPSHOT.json"); NULL: none allowed. */
	const char *operands;
	/* What completes an operand: OPT_COMPLETE_FILES, CLI_COMPLETE_COMMANDS,
	 * a word list, or NULL. */
	const char *operand_complete;
	const char *summary;         /* one line in `flipper help` */
	const char *description;     /* `COMMAND --help`, before the options */
	const char *epilogue;        /* after the options; may be NULL */
	const struct opt *opts;      /* OPT_TABLE_END last */
	size_t opts_size;            /* the struct the table's offsets point into */
	/* opts: that struct, filled in; argv: the operands only. */
	int (*run)(struct globals *g, void *opts, int argc, char **argv);
	/*
	 * A command made of subcommands (`state backup`): their table, NULL
	 * last, and no run of its own. A subcommand's name is its whole path
	 * ("state backup"), so its help and usage errors need nothing more.
	 */
	const struct command *const *subcommands;
};

#define CLI_COMPLETE_COMMANDS "@commands"

/*
 * The state file: --state or $FLIPPER_STATE, else state.path of the
 * configuration (may be NULL), else $STATE_DIRECTORY/flipper.db, else
 * ./flipper.db. Newly allocated.
 */
char *cli_state_path(const struct globals *g, const char *config_state_path);

/*
 * The same for a command that contacts nothing (status, state backup): of
 * the configuration only state.path is read, so it works where the token
 * or the ${VAR}s of the service are not set (an operator's shell). NULL
 * with *rc set when the configuration cannot be read.
 */
char *cli_state_path_peek(struct globals *g, const char *cmd, int *rc);

/* The word that calls c: "backup" for "state backup". */
const char *cli_command_word(const struct command *c);

/*
 * The one shape of a usage error, for the parser and for the commands'
 * own checks of values and operands:
 *
 *   flipper status: unknown option '--x'
 *   usage: flipper status [--json] [--snapshot GROUP] [--group ID]...
 *   Try 'flipper status --help'.
 *
 * cmd NULL is the top level. Returns EXIT_USAGE.
 */
int usage_error(const char *cmd, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* main.c */
extern const struct command *const cli_commands[];
extern const size_t cli_n_commands;
extern const struct opt cli_global_opts[];

/* completion.c: the script for shell ("bash", "zsh", "fish"); -1 unknown. */
int completion_script(const char *shell, struct buf *out);

/* cmd_simulate.c */
extern const struct command cmd_simulate;
/* cmd_validate.c */
extern const struct command cmd_validate;
/* cmd_round.c */
extern const struct command cmd_reconcile;
extern const struct command cmd_plan;
extern const struct command cmd_monitor;
/* cmd_status.c */
extern const struct command cmd_status;
/* cmd_state.c */
extern const struct command cmd_state;

#endif
