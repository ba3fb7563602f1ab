/*
 * hcloud-driver.c — drive the Hetzner client from the command line, for
 * the black-box tests (tests/blackbox/test_hcloud_client.py).
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

static int run(struct hcloud_client *c, int argc, char **argv, struct hc_error *err)
{
	int64_t deadline = mono_ms() + env_ms("HCLOUD_DEADLINE_MS", 20000);

	if (strcmp(argv[1], "servers") == 0 && argc == 3) {
		struct hc_server *v;
		size_t n;
		if (hcloud_list_servers(c, argv[2], deadline, &v, &n, err) < 0)
			return 1;
		for (size_t i = 0; i < n; i++)
			print_server(&v[i]);
		hc_servers_free(v, n);
		return 0;
	}
	if (strcmp(argv[1], "fips") == 0 && argc == 3) {
		struct hc_fip *v;
		size_t n;
		if (hcloud_list_floating_ips(c, argv[2], deadline, &v, &n, err) < 0)
			return 1;
		for (size_t i = 0; i < n; i++)
			print_fip(&v[i]);
		hc_fips_free(v, n);
		return 0;
	}
	if (strcmp(argv[1], "assign") == 0 && (argc == 5 || argc == 6)) {
		int64_t fip, server, timeout, from = HC_FROM_ANY;
		if (parse_int64(argv[2], &fip) < 0 || parse_int64(argv[3], &server) < 0 ||
		    parse_int64(argv[4], &timeout) < 0 ||
		    (argc == 6 && parse_int64(argv[5], &from) < 0))
			return usage();
		if (hcloud_assign(c, fip, server, from, mono_ms() + timeout, err) < 0)
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

	struct hcloud_options o = {
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
		rc = run(c, argc, argv, &err);
		print_stats(hcloud_client_stats(c));
		hcloud_client_free(c);
	}
	if (rc == 1) {
		char *msg = hc_error_format(&err);
		fprintf(stderr, "hcloud-driver: %s\n", msg);
		free(msg);
	}
	hc_error_release(&err);
	curl_api_release();
	return rc;
}
