/*
 * cmd_simulate.c — `flipper simulate SNAPSHOT.json [--json]`: the planner
 * alone, offline, on a snapshot (SPEC section 6). No configuration, no
 * state, no network.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "node.h"
#include "planner.h"
#include "report.h"
#include "snapshot.h"
#include "util.h"

struct simulate_opts {
	bool json;
};

static const struct opt simulate_opts[] = {
	OPT_FLAG_AT(0, "json", struct simulate_opts, json, "print the plan as JSON"),
	OPT_TABLE_END,
};

/* Enough to see the pattern; a file with 10,000 broken entries says so. */
#define MAX_SHOWN_DIAGS 20

static int run_simulate(struct globals *g, void *opts, int argc, char **argv)
{
	const bool json = ((const struct simulate_opts *)opts)->json;

	(void)g;
	if (argc == 0)
		return usage_error("simulate", "missing SNAPSHOT.json");
	if (argc > 1)
		return usage_error("simulate", "one snapshot at a time (also got '%s')", argv[1]);
	const char *path = argv[0];

	struct diags d;
	struct snapshot s;
	diags_init(&d, strcmp(path, "-") == 0 ? "<stdin>" : path);
	int rc = snapshot_load(path, &s, &d);
	diags_print(&d, MAX_SHOWN_DIAGS, NULL);
	if (rc < 0) {
		diags_release(&d);
		snapshot_release(&s);
		return EXIT_USAGE;
	}
	diags_release(&d);

	struct plan plan;
	plan_compute(&s.opts, s.servers, s.n_servers, s.fips, s.n_fips, &plan);
	struct report_group rg = {
		.id = s.group ? s.group : "snapshot",
		.servers = s.servers,
		.n_servers = s.n_servers,
		.fips = s.fips,
		.n_fips = s.n_fips,
		.plan = &plan,
	};
	struct buf out = BUF_INIT;
	if (json)
		report_json(&rg, 1, &out);
	else
		report_human(&rg, 1, &out);
	/* main() checks that it reached the file. */
	fwrite(out.data, 1, out.len, stdout);
	buf_release(&out);
	plan_release(&plan);
	snapshot_release(&s);
	return EXIT_OK;
}

const struct command cmd_simulate = {
	.name = "simulate",
	.operands = "SNAPSHOT.json",
	.operand_complete = OPT_COMPLETE_FILES,
	.summary = "the planner alone, offline, on a snapshot",
	.description =
		"Run the planner alone, offline, on a snapshot: no configuration, no\n"
		"state file, no network. Prints the plan as a diff, or as JSON with\n"
		"--json. SNAPSHOT.json may be - to read standard input.\n",
	.epilogue =
		"A snapshot holds one group's servers and floating IPs:\n"
		"\n"
		"  {\"group\": \"web\", \"when_none_healthy\": \"freeze\", \"rebalance\": false,\n"
		"   \"servers\": [\n"
		"    {\"id\": 11, \"name\": \"lb-1\", \"location\": \"fsn1\", \"network_zone\": \"eu-central\",\n"
		"     \"resource_index\": 0, \"status\": \"healthy\", \"probation\": true},\n"
		"    {\"id\": 12, \"name\": \"lb-2\", \"location\": \"fsn1\", \"network_zone\": \"eu-central\",\n"
		"     \"resource_index\": 1, \"status\": \"unhealthy\"}],\n"
		"   \"floating_ips\": [\n"
		"    {\"id\": 1, \"name\": \"vip-1\", \"ip\": \"203.0.113.1\", \"location\": \"fsn1\",\n"
		"     \"network_zone\": \"eu-central\", \"resource_index\": 1, \"server\": 12}]}\n"
		"\n"
		"Servers need id, name, location, network_zone and status (healthy,\n"
		"unhealthy, unknown or uncheckable); \"probation\": true marks a server\n"
		"healthy for less than failback_delay. Floating IPs need id, location and\n"
		"network_zone; name, ip and server (the current target; null or absent:\n"
		"unassigned) are optional, and \"server_missing\": true says the server it\n"
		"points at no longer exists (otherwise a server outside the snapshot is\n"
		"someone else's and the IP is left alone). resource_index is optional\n"
		"everywhere (null: none), and so are \"group\" (default: snapshot) and the\n"
		"options when_none_healthy (freeze or spread) and rebalance (default:\n"
		"freeze, false).\n"
		"\n"
		"'flipper status --snapshot GROUP' prints a group in this format from the\n"
		"state file: change one status to \"unhealthy\" and simulate to see what\n"
		"would move if that server failed. Unlike a real round, simulate never\n"
		"defers a plan because a server is unknown, and it has no clock: a move\n"
		"waiting for a probation is shown without its due time.\n"
		"\n"
		"Exit status: 0 the plan was printed; 1 it could not be written; 2 bad\n"
		"snapshot or usage.\n",
	.opts = simulate_opts,
	.opts_size = sizeof(struct simulate_opts),
	.run = run_simulate,
};
