/*
 * hcloud-driver.c — drive the Hetzner client from the command line, for
 * the black-box tests (tests/blackbox/test_hcloud_client.py): start one
 * operation on an event loop of its own and turn the loop until it ends.
 *
 *   hcloud-driver servers SELECTOR
 *   hcloud-driver fips SELECTOR
 *   hcloud-driver assign FIP SERVER TIMEOUT_MS [FROM]   (FROM: where the plan found it)
 *
 * Results go to stdout as JSON lines, one object per server or floating
 * IP ({"assigned": ...} for assign), then always one {"stats": ...} line.
 * On failure the formatted error goes to stderr and the exit status is 1
 * (2 for usage errors).
 *
 * Environment: HCLOUD_ENDPOINT, HCLOUD_TOKEN (required); test knobs:
 * HCLOUD_DEADLINE_MS (listing deadline, default 20000),
 * HCLOUD_REQUEST_TIMEOUT_MS, HCLOUD_RETRY_BASE_MS, HCLOUD_RETRY_CAP_MS,
 * HCLOUD_POLL_MS, HCLOUD_LOG_LEVEL (debug|info|warn|error).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curl_api.h"
#include "hcloud.h"
#include "log.h"
#include "loop.h"
#include "util.h"

static int64_t env_ms(const char *name, int64_t dflt)
{
	const char *s = getenv(name);
	int64_t v;
	if (!s || !*s)
		return dflt;
	if (parse_int64(s, &v) < 0 || v < 0) {
		fprintf(stderr, "hcloud-driver: %s: not a number of milliseconds\n", name);
		exit(2);
	}
	return v;
}

static void json_str_or_null(struct buf *b, const char *s)
{
	if (s)
		buf_add_json_string(b, s);
	else
		buf_addstr(b, "null");
}

static void json_labels(struct buf *b, const struct hc_label *l, size_t n)
{
	buf_addch(b, '{');
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_addch(b, ',');
		buf_add_json_string(b, l[i].key);
		buf_addch(b, ':');
		buf_add_json_string(b, l[i].value);
	}
	buf_addch(b, '}');
}

static void json_index(struct buf *b, bool has, int64_t v)
{
	if (has)
		buf_printf(b, "%" PRId64, v);
	else
		buf_addstr(b, "null");
}

static void print_server(const struct hc_server *s)
{
	struct buf b;
	buf_init(&b, 0);
	buf_printf(&b, "{\"id\":%" PRId64 ",\"name\":", s->id);
	buf_add_json_string(&b, s->name);
	buf_addstr(&b, ",\"status\":");
	buf_add_json_string(&b, s->status);
	buf_addstr(&b, ",\"location\":");
	buf_add_json_string(&b, s->location);
	buf_addstr(&b, ",\"network_zone\":");
	buf_add_json_string(&b, s->network_zone);
	buf_addstr(&b, ",\"ipv4\":");
	json_str_or_null(&b, s->ipv4);
	buf_addstr(&b, ",\"ipv6\":");
	json_str_or_null(&b, s->ipv6);
	buf_addstr(&b, ",\"resource_index\":");
	json_index(&b, s->has_index, s->resource_index);
	buf_addstr(&b, ",\"labels\":");
	json_labels(&b, s->labels, s->n_labels);
	buf_addstr(&b, "}\n");
	fputs(b.data, stdout);
	buf_release(&b);
}

static void print_fip(const struct hc_fip *f)
{
	struct buf b;
	buf_init(&b, 0);
	buf_printf(&b, "{\"id\":%" PRId64 ",\"name\":", f->id);
	buf_add_json_string(&b, f->name);
	buf_addstr(&b, ",\"ip\":");
	buf_add_json_string(&b, f->ip);
	buf_addstr(&b, ",\"type\":");
	buf_add_json_string(&b, f->type);
	buf_addstr(&b, ",\"location\":");
	buf_add_json_string(&b, f->location);
	buf_addstr(&b, ",\"network_zone\":");
	buf_add_json_string(&b, f->network_zone);
	buf_addstr(&b, ",\"server\":");
	if (f->server)
		buf_printf(&b, "%" PRId64, f->server);
	else
		buf_addstr(&b, "null");
	buf_addstr(&b, ",\"resource_index\":");
	json_index(&b, f->has_index, f->resource_index);
	buf_addstr(&b, ",\"labels\":");
	json_labels(&b, f->labels, f->n_labels);
	buf_addstr(&b, "}\n");
	fputs(b.data, stdout);
	buf_release(&b);
}

static void print_stats(const struct hcloud_stats *s)
{
	struct buf b;
	buf_init(&b, 0);
	buf_addstr(&b, "{\"stats\":{\"requests\":[");
	for (size_t i = 0; i < s->n_requests; i++)
		buf_printf(&b, "%s{\"kind\":\"%s\",\"status\":%d,\"count\":%" PRIu64 "}",
			   i ? "," : "", s->requests[i].kind, s->requests[i].status,
			   s->requests[i].count);
	buf_printf(&b, "],\"retries\":%" PRIu64 ",\"ratelimit_limit\":%" PRId64
		   ",\"ratelimit_remaining\":%" PRId64 ",\"ratelimit_reset\":%" PRId64 "}}\n",
		   s->retries, s->ratelimit_limit, s->ratelimit_remaining,
		   s->ratelimit_reset);
	fputs(b.data, stdout);
	buf_release(&b);
}

static int usage(void)
{
	fputs("usage: hcloud-driver servers SELECTOR | fips SELECTOR |"
	      " assign FIP SERVER TIMEOUT_MS [FROM]\n", stderr);
	return 2;
}

/* The operation's result, when it came. */
struct wait {
	bool done;
	struct hc_result r;
};

static void on_done(void *arg, struct hc_result *r)
{
	struct wait *w = arg;
	w->r = *r;
	memset(r, 0, sizeof *r);
	w->done = true;
}

/* Turn the loop until the operation ended. */
static int finish(struct loop *l, struct wait *w, struct hc_error *err)
{
	while (!w->done)
		loop_turn(l, -1);
	if (w->r.rc < 0) {
		*err = w->r.err;
		memset(&w->r.err, 0, sizeof w->r.err);
		return -1;
	}
	return 0;
}

static int run(struct hcloud_client *c, struct loop *l, int argc, char **argv,
	       struct hc_error *err)
{
	int64_t deadline = mono_ms() + env_ms("HCLOUD_DEADLINE_MS", 20000);
	struct wait w = { 0 };
	int rc;

	if (strcmp(argv[1], "servers") == 0 && argc == 3) {
		hcloud_list(c, HC_LIST_SERVERS, argv[2], NULL, deadline, on_done, &w);
		if ((rc = finish(l, &w, err)) == 0)
			for (size_t i = 0; i < w.r.n_servers; i++)
				print_server(&w.r.servers[i]);
		hc_result_release(&w.r);
		return rc < 0 ? 1 : 0;
	}
	if (strcmp(argv[1], "fips") == 0 && argc == 3) {
		hcloud_list(c, HC_LIST_FIPS, NULL, argv[2], deadline, on_done, &w);
		if ((rc = finish(l, &w, err)) == 0)
			for (size_t i = 0; i < w.r.n_fips; i++)
				print_fip(&w.r.fips[i]);
		hc_result_release(&w.r);
		return rc < 0 ? 1 : 0;
	}
	if (strcmp(argv[1], "assign") == 0 && (argc == 5 || argc == 6)) {
		int64_t fip, server, timeout, from = HC_FROM_ANY;
		if (parse_int64(argv[2], &fip) < 0 || parse_int64(argv[3], &server) < 0 ||
		    parse_int64(argv[4], &timeout) < 0 ||
		    (argc == 6 && parse_int64(argv[5], &from) < 0))
			return usage();
		hcloud_assign(c, fip, server, from, mono_ms() + timeout, on_done, &w);
		rc = finish(l, &w, err);
		hc_result_release(&w.r);
		if (rc < 0)
			return 1;
		printf("{\"assigned\":true,\"floating_ip\":%" PRId64 ",\"server\":%" PRId64 "}\n",
		       fip, server);
		return 0;
	}
	return usage();
}

int main(int argc, char **argv)
{
	struct hc_error err = HC_ERROR_INIT;
	enum log_level level = LOG_WARN;
	const char *lvl = getenv("HCLOUD_LOG_LEVEL");
	int rc;

	if (argc < 2)
		return usage();
	if (lvl && log_level_parse(lvl, &level) < 0)
		return usage();
	log_setup(level, LOG_FORMAT_TEXT);
	char *why = NULL;
	struct loop *l = loop_new(&why);
	if (!l) {
		fprintf(stderr, "hcloud-driver: cannot start the event loop: %s\n", why);
		free(why);
		return 1;
	}

	struct hcloud_options o = {
		.loop = l,
		.endpoint = getenv("HCLOUD_ENDPOINT"),
		.token = getenv("HCLOUD_TOKEN"),
		.group = "driver",
		.request_timeout_ms = env_ms("HCLOUD_REQUEST_TIMEOUT_MS", 0),
		.retry_base_ms = env_ms("HCLOUD_RETRY_BASE_MS", 0),
		.retry_cap_ms = env_ms("HCLOUD_RETRY_CAP_MS", 0),
		.poll_interval_ms = env_ms("HCLOUD_POLL_MS", 0),
	};
	struct hcloud_client *c = hcloud_client_new(&o, &err);
	if (!c) {
		rc = 1;
	} else {
		rc = run(c, l, argc, argv, &err);
		print_stats(hcloud_client_stats(c));
		hcloud_client_free(c);
	}
	if (rc == 1) {
		char *msg = hc_error_format(&err);
		fprintf(stderr, "hcloud-driver: %s\n", msg);
		free(msg);
	}
	hc_error_release(&err);
	loop_free(l);
	curl_api_release();
	return rc;
}
