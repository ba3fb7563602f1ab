/*
 * cli.h — exit codes, global options and the command entry points.
 * Each command parses its own arguments (argv[0] is the command name) and
 * returns an exit code; only main() exits.
 */
#ifndef FLIPPER_CLI_H
#define FLIPPER_CLI_H

#include <stdbool.h>

enum exit_code {
	EXIT_OK_ = 0,         /* round completed */
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

/*
 * The state file: --state or $FLIPPER_STATE, else state.path of the
 * configuration (may be NULL), else $STATE_DIRECTORY/flipper.db, else
 * ./flipper.db. Newly allocated.
 */
char *cli_state_path(const struct globals *g, const char *config_state_path);

/* Is argv[i] "-h" or "--help"? Commands print their usage and return 0. */
bool cli_wants_help(int argc, char **argv);

/* cmd_simulate.c */
int cmd_simulate(struct globals *g, int argc, char **argv);
extern const char cmd_simulate_usage[];
/* cmd_validate.c */
int cmd_validate(struct globals *g, int argc, char **argv);
extern const char cmd_validate_usage[];
/* cmd_round.c */
int cmd_reconcile(struct globals *g, int argc, char **argv);
int cmd_plan(struct globals *g, int argc, char **argv);
int cmd_monitor(struct globals *g, int argc, char **argv);
extern const char cmd_reconcile_usage[];
extern const char cmd_plan_usage[];
extern const char cmd_monitor_usage[];
/* cmd_status.c */
int cmd_status(struct globals *g, int argc, char **argv);
extern const char cmd_status_usage[];

#endif
