/* cmd_validate.c — check the configuration and report every problem. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "log.h"

const char cmd_validate_usage[] =
	"usage: flipper [-c FILE] validate [--print | --keys]\n"
	"\n"
	"Read the configuration, check every key and report every problem as\n"
	"FILE:LINE:COL: KEY.PATH: message. Prints \"configuration OK\" and exits 0\n"
	"when it is valid (warnings are shown too), otherwise exits 2.\n"
	"Nothing is contacted.\n"
	"\n"
	"  --print   also print the effective configuration as JSON, with every\n"
	"            default filled in and secrets masked\n"
	"  --keys    list every key flipper knows instead, one per line, tab-separated:\n"
	"            path, type, default, notes (original, unused, secret), help;\n"
	"            no configuration is read\n";

void config_report_diags(const struct diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		char *line = diag_format(d, &d->list[i]);
		fprintf(stderr, "%s: %s\n", d->list[i].severity == DIAG_ERROR ? "error" : "warning", line);
		free(line);
	}
}

int cmd_validate(struct globals *g, int argc, char **argv)
{
	bool print = false, keys = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--print") == 0)
			print = true;
		else if (strcmp(argv[i], "--keys") == 0)
			keys = true;
		else {
			fprintf(stderr, "flipper validate: unexpected argument '%s'\n%s", argv[i],
				cmd_validate_usage);
			return EXIT_USAGE;
		}
	}
	if (keys) {
		struct buf b = BUF_INIT;
		config_keys_list(&b);
		fwrite(b.data, 1, b.len, stdout);
		buf_release(&b);
		return 0;
	}
	struct diags d;
	diags_init(&d, g->config_path);
	struct config *c = config_load(g->config_path, &d);
	config_report_diags(&d);
	if (!c) {
		fprintf(stderr, "%s: %zu error%s\n", g->config_path, d.errors, d.errors == 1 ? "" : "s");
		diags_release(&d);
		return EXIT_USAGE;
	}
	if (print) {
		struct buf b = BUF_INIT;
		config_print_json(c, &b);
		puts(b.data);
		buf_release(&b);
	}
	printf("configuration OK\n");
	diags_release(&d);
	config_free(c);
	return 0;
}
