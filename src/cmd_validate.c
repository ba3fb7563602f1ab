/* cmd_validate.c — check the configuration and report every problem. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "curl_api.h"
#include "mhd_api.h"
#include "log.h"

struct validate_opts {
	bool print;
	bool keys;
};

static const struct opt validate_opts[] = {
	OPT_FLAG_AT(0, "print", struct validate_opts, print,
		    "print the effective configuration as JSON instead,\n"
		    "every default filled in, secrets and header values\n"
		    "masked, FLIPPER_* overrides listed in\n"
		    "\"from_environment\"; \"configuration OK\" goes to\n"
		    "standard error"),
	OPT_FLAG_AT(0, "keys", struct validate_opts, keys,
		    "list every key flipper knows instead, one per line,\n"
		    "tab-separated: path, type, default, notes (original,\n"
		    "unused, secret), help; no configuration is read"),
	OPT_TABLE_END,
};

static int run_validate(struct globals *g, void *opts, int argc, char **argv)
{
	const struct validate_opts *o = opts;
	(void)argc, (void)argv;
	if (o->keys) {
		struct buf b = BUF_INIT;
		config_keys_list(&b);
		fwrite(b.data, 1, b.len, stdout);
		buf_release(&b);
		return EXIT_OK;
	}
	struct diags d;
	diags_init(&d, g->config_path);
	struct config *c = config_load(g->config_path, CONFIG_VALIDATE, &d);
	diags_print(&d, 0, NULL);
	diags_release(&d);
	if (!c)
		return EXIT_USAGE;
	log_set_service(c->service_name);
	/* A valid file on a host where no round could reach the network. */
	curl_api_check(LOG_WARN);
	/* ... or where monitor could not serve the endpoint it asks for. */
	char *why = NULL;
	if (c->server_enabled && mhd_api_load(&why) < 0)
		log_kv(LOG_WARN, NULL, "server.enabled, but monitor cannot serve the HTTP endpoint "
		       "here: it will not start", "error", why, NULL);
	free(why);
	if (o->print) {
		struct buf b = BUF_INIT;
		config_print_json(c, &b);
		puts(b.data);
		buf_release(&b);
		/* Standard output is the JSON alone: validate --print | jq. */
		fputs("configuration OK\n", stderr);
	} else {
		printf("configuration OK\n");
	}
	config_free(c);
	return EXIT_OK;
}

const struct command cmd_validate = {
	.name = "validate",
	.summary = "check the configuration",
	.description =
		"Read the configuration, check every key and report every problem as\n"
		"FILE:LINE:COL: KEY.PATH: message. Prints \"configuration OK\" and exits 0\n"
		"when it is valid (warnings are shown too), otherwise exits 2. Unknown\n"
		"keys are errors, with a \"did you mean\"; FLIPPER_* environment overrides\n"
		"apply as for a run. Keys the original flipper had but flipper does not\n"
		"use get a warning here only, not on every run.\n"
		"Nothing is contacted. It also warns when no usable libcurl can be loaded:\n"
		"the configuration is fine, but no round could reach the network.\n",
	.opts = validate_opts,
	.opts_size = sizeof(struct validate_opts),
	.run = run_validate,
};
