/* cmd_validate.c — placeholder. */
#include <stdio.h>
#include "cli.h"

const char cmd_validate_usage[] = "usage: flipper validate [--print]\n";

int cmd_validate(struct globals *g, int argc, char **argv)
{
	(void)g; (void)argc; (void)argv;
	fprintf(stderr, "flipper: 'validate' is not implemented yet\n");
	return EXIT_USAGE;
}
