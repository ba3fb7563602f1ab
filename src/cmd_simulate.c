/* cmd_simulate.c — placeholder. */
#include <stdio.h>
#include "cli.h"

const char cmd_simulate_usage[] = "usage: flipper simulate SNAPSHOT.json [--json]\n";

int cmd_simulate(struct globals *g, int argc, char **argv)
{
	(void)g; (void)argc; (void)argv;
	fprintf(stderr, "flipper: simulate is not implemented yet\n");
	return EXIT_USAGE;
}
