/*
 * cmd_simulate.c — `flipper simulate SNAPSHOT.json [--json]`: the planner
 * alone, offline, on a snapshot (SPEC section 6). No configuration, no
 * state, no network.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "node.h"
#include "planner.h"
#include "report.h"
#include "snapshot.h"
#include "util.h"

const char cmd_simulate_usage[] =
	"usage: flipper simulate SNAPSHOT.json [--json]\n"
	"\n"
	"Run the planner alone, offline, on a snapshot: no configuration, no\n"
	"state file, no network. Prints the plan as a diff, or as JSON with\n"
	"--json. SNAPSHOT.json may be - to read standard input.\n"
	"\n"
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
	"Exit status: 0 the plan was printed; 2 bad snapshot or usage.\n";

/* Enough to see the pattern; a file with 10,000 broken entries says so. */
#define MAX_SHOWN_DIAGS 20

static int usage(const char *fmt, ...) PRINTF_LIKE(1, 2);

static int usage(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("flipper simulate: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nusage: flipper simulate SNAPSHOT.json [--json]\n", stderr);
	return EXIT_USAGE;
}

static void print_diags(const struct diags *d)
{
	size_t shown = 0;
	for (size_t i = 0; i < d->n; i++) {
		if (shown == MAX_SHOWN_DIAGS) {
			fprintf(stderr, "%s: %zu more problems not shown\n", d->file,
				d->n - shown);
			return;
		}
		char *line = diag_format(d, &d->list[i]);
		fprintf(stderr, "%s\n", line);
		free(line);
		shown++;
	}
}

static int write_out(const struct buf *b)
{
	if (fwrite(b->data, 1, b->len, stdout) != b->len || fflush(stdout) != 0) {
		fprintf(stderr, "flipper simulate: writing the plan: %s\n", strerror(errno));
		return EXIT_RUNTIME;
	}
	return 0;
}

int cmd_simulate(struct globals *g, int argc, char **argv)
{
	const char *path = NULL;
	bool json = false, opts = true;

	(void)g;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (opts && strcmp(a, "--") == 0) {
			opts = false;
		} else if (opts && strcmp(a, "--json") == 0) {
			json = true;
		} else if (opts && a[0] == '-' && a[1] != '\0') {
			return usage("unknown option '%s'", a);
		} else if (path) {
			return usage("one snapshot at a time (also got '%s')", a);
		} else {
			path = a;
		}
	}
	if (!path)
		return usage("missing SNAPSHOT.json");

	struct diags d;
	struct snapshot s;
	diags_init(&d, strcmp(path, "-") == 0 ? "<stdin>" : path);
	int rc = snapshot_load(path, &s, &d);
	print_diags(&d);
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
	struct buf out;
	buf_init(&out, 0);
	if (json)
		report_json(&rg, 1, &out);
	else
		report_human(&rg, 1, &out);
	rc = write_out(&out);
	buf_release(&out);
	plan_release(&plan);
	snapshot_release(&s);
	return rc;
}
