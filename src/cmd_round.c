/* cmd_round.c — placeholder for reconcile, plan and monitor. */
#include <stdio.h>
#include "cli.h"

const char cmd_reconcile_usage[] =
	"usage: flipper reconcile [--once] [--for DURATION] [--group ID]...\n";
const char cmd_plan_usage[] =
	"usage: flipper plan [--json] [--detailed-exitcode] [--no-checks] [--group ID]...\n";
const char cmd_monitor_usage[] = "usage: flipper monitor [--group ID]...\n";

static int not_yet(const char *what)
{
	fprintf(stderr, "flipper: '%s' is not implemented yet in this build (see issue: one real round)\n", what);
	return EXIT_USAGE;
}

int cmd_reconcile(struct globals *g, int argc, char **argv) { (void)g; (void)argc; (void)argv; return not_yet("reconcile"); }
int cmd_plan(struct globals *g, int argc, char **argv) { (void)g; (void)argc; (void)argv; return not_yet("plan"); }
int cmd_monitor(struct globals *g, int argc, char **argv) { (void)g; (void)argc; (void)argv; return not_yet("monitor"); }
