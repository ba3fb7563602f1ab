/*
 * bench_planner.c — time plan_compute() on a large group (SPEC section 8:
 * 10,000 servers x 10,000 floating IPs in well under 100 ms).
 *
 *   bench_planner [SERVERS [IPS [REPETITIONS]]]
 *
 * The world: 5 locations in 2 network zones (one location of each zone
 * has no server at all, so its IPs take the zone fallback), ~8%
 * unhealthy, ~1% unknown, ~1% uncheckable and ~5% in probation,
 * resource_index on half the servers and half the IPs, IPs unassigned,
 * on good, bad, foreign and vanished servers. Inputs are shuffled: the
 * planner sorts them itself. Planned twice: with the defaults, and with
 * rebalance: true (the most work). Prints the machine, each plan's shape
 * and min/median wall time per plan.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "planner.h"
#include "util.h"

static const char *const locations[] = { "fsn1", "nbg1", "hel1", "ash", "hil" };
static const char *const zones[] = { "eu-central", "eu-central", "eu-central",
				     "us-east", "us-east" };
/* Servers live in these; hel1 and hil get IPs but no servers. */
static const size_t server_locations[] = { 0, 1, 3 };

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static size_t rnd(size_t n)
{
	return (size_t)(rng() % n);
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static size_t arg(int argc, char **argv, int i, size_t def)
{
	long v;
	if (argc <= i)
		return def;
	if (parse_long_range(argv[i], 0, 10000000, &v) < 0) {
		fprintf(stderr, "bench_planner: '%s' is not a count\n", argv[i]);
		exit(2);
	}
	return (size_t)v;
}

static void print_machine(void)
{
	char line[256], model[256] = "unknown";
	FILE *f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof line, f)) {
		char *colon = strchr(line, ':');
		if (strncmp(line, "model name", 10) == 0 && colon) {
			snprintf(model, sizeof model, "%s", colon + 2);
			model[strcspn(model, "\n")] = '\0';
			break;
		}
	}
	if (f)
		fclose(f);
	printf("machine: %ld CPUs online, %s\n", sysconf(_SC_NPROCESSORS_ONLN), model);
}

int main(int argc, char **argv)
{
	size_t n_servers = arg(argc, argv, 1, 10000);
	size_t n_fips = arg(argc, argv, 2, 10000);
	size_t reps = arg(argc, argv, 3, 21);
	if (reps == 0)
		reps = 1;

	struct plan_server *s = xcalloc(n_servers, sizeof *s);
	struct plan_fip *f = xcalloc(n_fips, sizeof *f);
	char (*names)[32] = xcalloc(n_servers + n_fips, sizeof *names);

	for (size_t i = 0; i < n_servers; i++) {
		size_t l = server_locations[rnd(ARRAY_SIZE(server_locations))];
		size_t h = rnd(100);
		snprintf(names[i], sizeof names[i], "lb-%05zu", rnd(n_servers));
		s[i] = (struct plan_server){
			.id = (int64_t)(1000000 + i),
			.name = names[i],
			.location = locations[l],
			.network_zone = zones[l],
			.has_index = i % 2 == 0,
			.resource_index = (int64_t)(i / 2 % 500),
			.status = h < 8 ? HEALTH_UNHEALTHY : h < 9 ? HEALTH_UNKNOWN
				: h < 10 ? HEALTH_UNCHECKABLE : HEALTH_HEALTHY,
			.probation = h >= 95,
		};
	}
	for (size_t i = 0; i < n_fips; i++) {
		size_t l = rnd(ARRAY_SIZE(locations));
		size_t t = rnd(10);
		char *name = names[n_servers + i];
		snprintf(name, sizeof names[0], "vip-%zu", i);
		f[i] = (struct plan_fip){
			.id = (int64_t)(1 + i),
			.name = name,
			.ip = "203.0.113.1",
			.location = locations[l],
			.network_zone = zones[l],
			.has_index = i % 2 == 1,
			.resource_index = (int64_t)rnd(600),
			.server = t == 0 ? 0 : t == 1 ? 42 /* foreign or vanished */
				: n_servers ? s[rnd(n_servers)].id : 0,
			.server_missing = t == 1 && i % 2,
		};
	}
	/* Shuffle: the planner must not rely on the caller's order. */
	for (size_t i = n_servers; i > 1; i--) {
		size_t j = rnd(i);
		struct plan_server tmp = s[i - 1];
		s[i - 1] = s[j];
		s[j] = tmp;
	}
	for (size_t i = n_fips; i > 1; i--) {
		size_t j = rnd(i);
		struct plan_fip tmp = f[i - 1];
		f[i - 1] = f[j];
		f[j] = tmp;
	}

	print_machine();
	printf("input: %zu servers, %zu floating IPs, 5 locations, 2 network zones\n",
	       n_servers, n_fips);
	int64_t *ns = xcalloc(reps, sizeof *ns);
	struct plan p = { 0 };
	for (int rebalance = 0; rebalance <= 1; rebalance++) {
		struct plan_options o = { .rebalance = rebalance };
		for (size_t r = 0; r < reps; r++) {
			plan_release(&p);
			int64_t t0 = now_ns();
			plan_compute(&o, s, n_servers, f, n_fips, &p);
			ns[r] = now_ns() - t0;
		}
		qsort(ns, reps, sizeof *ns, cmp_i64);

		size_t by_reason[REASON_PENDING + 1] = { 0 }, by_skip[2] = { 0 };
		for (size_t i = 0; i < p.n_actions; i++)
			by_reason[p.actions[i].reason]++;
		for (size_t i = 0; i < p.n_skipped; i++)
			by_skip[p.skipped[i].reason]++;
		printf("rebalance: %s\n", rebalance ? "true" : "false");
		printf("  plan: %zu candidates, %zu actions (", p.n_candidates, p.n_actions);
		for (int r = REASON_UNASSIGNED; r < REASON_PENDING; r++)
			printf("%s%s %zu", r ? ", " : "", plan_reason_name(r), by_reason[r]);
		printf("), %zu pending, %zu skipped (foreign %zu, no candidate %zu)\n",
		       p.n_pending, p.n_skipped, by_skip[SKIP_FOREIGN_TARGET],
		       by_skip[SKIP_NO_CANDIDATE]);
		double min_ms = (double)ns[0] / 1e6, med_ms = (double)ns[reps / 2] / 1e6;
		printf("  plan_compute: %zu runs, min %.2f ms, median %.2f ms, max %.2f ms "
		       "(target: <= 100 ms) %s\n", reps, min_ms, med_ms,
		       (double)ns[reps - 1] / 1e6, med_ms <= 100.0 ? "OK" : "TOO SLOW");
	}

	plan_release(&p);
	free(ns);
	free(s);
	free(f);
	free(names);
	return 0;
}
