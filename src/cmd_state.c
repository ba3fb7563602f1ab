/* cmd_state.c — `state backup`: the state file's own maintenance. */
#include <stdbool.h>
#include <stdlib.h>

#include "cli.h"
#include "log.h"
#include "store.h"

struct backup_opts {
	bool force;
};

static const struct opt backup_opts[] = {
	OPT_FLAG_AT('f', "force", struct backup_opts, force, "replace FILE if it exists"),
	OPT_TABLE_END,
};

static int run_backup(struct globals *g, void *opts, int argc, char **argv)
{
	const struct backup_opts *o = opts;
	if (argc == 0)
		return usage_error("state backup", "missing FILE");
	if (argc > 1)
		return usage_error("state backup", "one FILE at a time (also got '%s')", argv[1]);
	int rc;
	char *path = cli_state_path_peek(g, "state backup", &rc);
	if (!path)
		return rc;
	char *err = NULL;
	if (store_backup(path, argv[0], o->force, &err) < 0) {
		log_kv(LOG_ERROR, NULL, "no backup written", "state", path, "error", err, NULL);
		rc = EXIT_RUNTIME;
	} else {
		log_kv(LOG_INFO, NULL, "state backed up", "state", path, "backup", argv[0], NULL);
		rc = EXIT_OK;
	}
	free(err);
	free(path);
	return rc;
}

static const struct command cmd_state_backup = {
	.name = "state backup",
	.operands = "FILE",
	.operand_complete = OPT_COMPLETE_FILES,
	.summary = "copy the state into FILE, safely while flipper runs",
	.description =
		"Copy the state database into FILE with SQLite's online backup API. The copy\n"
		"is one consistent snapshot, also while another flipper holds the state lock\n"
		"and writes (the backup reads; it takes no lock and holds no one up). FILE is\n"
		"a complete database on its own (no -wal file beside it), checked before it\n"
		"is put in place, mode 0600. An existing FILE is not replaced without --force.\n"
		"\n"
		"To restore: stop flipper (the timer or monitor); copy FILE over the state\n"
		"path; remove the state's -wal and -shm files; start flipper again.\n",
	.epilogue = "Exit: 0 backup written, 1 nothing written (the log says why), 2 usage error.\n",
	.opts = backup_opts,
	.opts_size = sizeof(struct backup_opts),
	.run = run_backup,
};

struct no_opts {
	char unused;
};

static const struct opt no_opts[] = { OPT_TABLE_END };

static const struct command *const state_subcommands[] = { &cmd_state_backup, NULL };

const struct command cmd_state = {
	.name = "state",
	.operands = "SUBCOMMAND",
	.summary = "the state file's maintenance",
	.description = "Look after the state database itself. Contacts nothing.\n",
	.opts = no_opts,
	.opts_size = sizeof(struct no_opts),
	.subcommands = state_subcommands,
};
