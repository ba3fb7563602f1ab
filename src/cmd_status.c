/* cmd_status.c — placeholder. */
#include <stdio.h>
#include "cli.h"

const char cmd_status_usage[] = "usage: flipper status [--json] [--snapshot GROUP] [--group ID]...\n";

int cmd_status(struct globals *g, int argc, char **argv)
{
	(void)g; (void)argc; (void)argv;
	fprintf(stderr, "flipper: 'status' is not implemented yet in this build\n");
	return EXIT_USAGE;
}
