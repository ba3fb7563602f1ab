/*
 * bench_checks.c — drive check_round_run() by hand: for the black-box
 * tests of the check runner and for the "1,000 targets in one round"
 * benchmark.
 *
 *   bench_checks [options] FILE       targets from FILE ('-': stdin)
 *   bench_checks [options] --many N --base-addr 127.0.1.1 --port P
 *
 * FILE has one target per line (blank lines and '#' comments skipped):
 *
 *   ADDR PORT TYPE HOST PATH TIMEOUT_MS [CA_FILE]
 *
 * TYPE is http or https; HOST or CA_FILE '-' means none. The family
 * follows ADDR (a ':' makes it IPv6).
 *
 * Options (they apply to every target):
 *   --rounds K          run the round K times (default 1)
 *   --method M          request method (default GET)
 *   --header 'N: V'     extra request header (repeatable)
 *   --expect LIST       accepted statuses, e.g. "200,204,301-302"
 *   --default-ca-file F the system CA bundle ("" none; default libcurl's)
 *   --default-ca-path D the system CA directory ("" none; default libcurl's)
 *   --many N            N targets instead of FILE, with:
 *     --base-addr A     first IPv4 address (default 127.0.1.1)
 *     --addrs M         spread the N targets over M addresses (default N)
 *     --port P --type T --host H --path P --timeout-ms T --ca-file F
 *
 * Output: one JSON object per target and round on stdout
 *   {"round":1,"index":0,"address":"127.0.1.1","port":8080,"family":4,
 *    "host":"a.test","ok":true,"http_status":200,"error":null,
 *    "duration_ms":201}
 * and one summary per round on stderr
 *   {"round":1,"targets":1000,"ok":1000,"failed":0,"wall_ms":231}
 * Exit 0 when every round ran (whatever the targets said), 1 when
 * check_round_run() failed, 2 on bad usage.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "check.h"
#include "config.h"
#include "util.h"

struct spec {
	char *address;
	int family;
	struct check_config check;
};

struct opts {
	long rounds;
	const char *method;
	struct header *headers;
	size_t n_headers, cap_headers;
	struct status_range *expect;
	size_t n_expect;
	const char *expect_text;
	const char *default_ca_file;
	const char *default_ca_path;
	long many;
	const char *base_addr;
	long addrs;
	long port;
	const char *type;
	const char *host;
	const char *path;
	long timeout_ms;
	const char *ca_file;
	const char *file;
};

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_checks [--rounds K] [--method M] [--header 'N: V']...\n"
		"                    [--expect LIST] [--default-ca-file F]\n"
		"                    [--default-ca-path D] FILE\n"
		"       bench_checks [...] --many N [--base-addr A] [--addrs M] --port P\n"
		"                    [--type http|https] [--host H] [--path P]\n"
		"                    [--timeout-ms T] [--ca-file F]\n");
}

static int bad(const char *fmt, ...) PRINTF_LIKE(1, 2);

static int bad(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench_checks: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

static int spec_fill(struct spec *s, const struct opts *o, const char *addr,
		     long port, const char *type, const char *host,
		     const char *path, long timeout_ms, const char *ca_file)
{
	struct check_config *c = &s->check;

	memset(s, 0, sizeof(*s));
	s->address = xstrdup(addr);
	s->family = strchr(addr, ':') ? 6 : 4;
	if (strcmp(type, "http") == 0)
		c->type = CHECK_HTTP;
	else if (strcmp(type, "https") == 0)
		c->type = CHECK_HTTPS;
	else
		return bad("unknown type \"%s\"", type);
	c->id = xstrdup("bench");
	c->port = (int)port;
	c->host = host && strcmp(host, "-") != 0 ? xstrdup(host) : NULL;
	c->path = xstrdup(path);
	c->timeout_ms = timeout_ms;
	c->interval_ms = 60000;
	c->rise = c->fall = 1;
	c->method = xstrdup(o->method);
	c->ca_file = ca_file && strcmp(ca_file, "-") != 0 ? xstrdup(ca_file) : NULL;
	c->expect = xcalloc(o->n_expect, sizeof(*c->expect));
	memcpy(c->expect, o->expect, o->n_expect * sizeof(*c->expect));
	c->n_expect = o->n_expect;
	c->headers = xcalloc(o->n_headers ? o->n_headers : 1, sizeof(*c->headers));
	for (size_t i = 0; i < o->n_headers; i++) {
		c->headers[i].name = xstrdup(o->headers[i].name);
		c->headers[i].value = xstrdup(o->headers[i].value);
	}
	c->n_headers = o->n_headers;
	return 0;
}

static void spec_release(struct spec *s)
{
	struct check_config *c = &s->check;

	free(s->address);
	free(c->id);
	free(c->host);
	free(c->path);
	free(c->method);
	free(c->ca_file);
	free(c->expect);
	for (size_t i = 0; i < c->n_headers; i++) {
		free(c->headers[i].name);
		free(c->headers[i].value);
	}
	free(c->headers);
}

/* Split line into at most max whitespace-separated fields, in place. */
static size_t split_fields(char *line, char **f, size_t max)
{
	size_t n = 0;
	char *save = NULL;

	for (char *tok = strtok_r(line, " \t\r\n", &save); tok && n < max;
	     tok = strtok_r(NULL, " \t\r\n", &save))
		f[n++] = tok;
	return n;
}

static int load_file(const struct opts *o, struct spec **out, size_t *n_out)
{
	FILE *fp = strcmp(o->file, "-") == 0 ? stdin : fopen(o->file, "r");
	struct spec *specs = NULL;
	size_t n = 0, cap = 0;
	char line[4096];
	int lineno = 0, ret = 0;

	if (!fp)
		return bad("cannot open \"%s\"", o->file);
	while (fgets(line, sizeof(line), fp)) {
		char *f[8];
		size_t nf;
		long port, timeout;

		lineno++;
		nf = split_fields(line, f, ARRAY_SIZE(f));
		if (nf == 0 || f[0][0] == '#')
			continue;
		if (nf < 6 || nf > 7 ||
		    parse_long_range(f[1], 1, 65535, &port) < 0 ||
		    parse_long_range(f[5], 1, 86400000, &timeout) < 0) {
			fprintf(stderr, "bench_checks: %s:%d: want ADDR PORT TYPE "
				"HOST PATH TIMEOUT_MS [CA_FILE]\n", o->file, lineno);
			ret = -1;
			break;
		}
		specs = xgrow(specs, &cap, n + 1, sizeof(*specs));
		if (spec_fill(&specs[n], o, f[0], port, f[2], f[3], f[4], timeout,
			      nf == 7 ? f[6] : NULL) < 0) {
			spec_release(&specs[n]);
			ret = -1;
			break;
		}
		n++;
	}
	if (fp != stdin)
		fclose(fp);
	*out = specs;
	*n_out = n;
	return ret;
}

static int make_many(const struct opts *o, struct spec **out, size_t *n_out)
{
	struct in_addr base;
	struct spec *specs;
	uint32_t b;
	long addrs = o->addrs > 0 ? o->addrs : o->many;

	*out = NULL;
	*n_out = 0;
	if (inet_pton(AF_INET, o->base_addr, &base) != 1)
		return bad("--base-addr \"%s\" is not an IPv4 address", o->base_addr);
	if (o->port <= 0)
		return bad("%s", "--many needs --port");
	b = ntohl(base.s_addr);
	specs = xcalloc((size_t)o->many, sizeof(*specs));
	for (long i = 0; i < o->many; i++) {
		struct in_addr a;
		char text[INET_ADDRSTRLEN];

		a.s_addr = htonl(b + (uint32_t)(i % addrs));
		inet_ntop(AF_INET, &a, text, sizeof(text));
		if (spec_fill(&specs[i], o, text, o->port, o->type, o->host,
			      o->path, o->timeout_ms, o->ca_file) < 0) {
			for (long j = 0; j <= i; j++)
				spec_release(&specs[j]);
			free(specs);
			return -1;
		}
	}
	*out = specs;
	*n_out = (size_t)o->many;
	return 0;
}

static int add_header(struct opts *o, const char *arg)
{
	const char *colon = strchr(arg, ':');
	struct header *h;
	const char *v;

	if (!colon || colon == arg)
		return bad("--header \"%s\": want 'Name: value'", arg);
	v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	o->headers = xgrow(o->headers, &o->cap_headers, o->n_headers + 1,
			   sizeof(*o->headers));
	h = &o->headers[o->n_headers++];
	h->name = xstrndup(arg, (size_t)(colon - arg));
	h->value = xstrdup(v);
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		const char *err = NULL;
		int r = 0;

		if (a[0] != '-' || strcmp(a, "-") == 0) {
			if (o->file)
				return bad("more than one FILE: \"%s\"", a);
			o->file = a;
			continue;
		}
		if (!v)
			return bad("%s needs a value", a);
		i++;
		if (strcmp(a, "--rounds") == 0)
			r = parse_long_range(v, 1, 1000000, &o->rounds);
		else if (strcmp(a, "--method") == 0)
			o->method = v;
		else if (strcmp(a, "--header") == 0)
			r = add_header(o, v);
		else if (strcmp(a, "--expect") == 0) {
			free(o->expect);
			o->expect = NULL;
			r = status_ranges_parse(v, &o->expect, &o->n_expect, &err);
			if (r < 0)
				return bad("--expect: %s", err ? err : "invalid");
			o->expect_text = v;
		} else if (strcmp(a, "--default-ca-file") == 0)
			o->default_ca_file = v;
		else if (strcmp(a, "--default-ca-path") == 0)
			o->default_ca_path = v;
		else if (strcmp(a, "--many") == 0)
			r = parse_long_range(v, 1, 1000000, &o->many);
		else if (strcmp(a, "--base-addr") == 0)
			o->base_addr = v;
		else if (strcmp(a, "--addrs") == 0)
			r = parse_long_range(v, 1, 1000000, &o->addrs);
		else if (strcmp(a, "--port") == 0)
			r = parse_long_range(v, 1, 65535, &o->port);
		else if (strcmp(a, "--type") == 0)
			o->type = v;
		else if (strcmp(a, "--host") == 0)
			o->host = v;
		else if (strcmp(a, "--path") == 0)
			o->path = v;
		else if (strcmp(a, "--timeout-ms") == 0)
			r = parse_long_range(v, 1, 86400000, &o->timeout_ms);
		else if (strcmp(a, "--ca-file") == 0)
			o->ca_file = v;
		else
			return bad("unknown option \"%s\"", a);
		if (r < 0)
			return bad("bad value for %s", a);
	}
	if (!o->file == !o->many)
		return bad("%s", "give either FILE or --many N");
	return 0;
}

static void print_result(long round, size_t i, const struct check_target *t)
{
	struct buf b;

	buf_init(&b, 0);
	buf_printf(&b, "{\"round\":%ld,\"index\":%zu,\"address\":", round, i);
	buf_add_json_string(&b, t->address);
	buf_printf(&b, ",\"port\":%d,\"family\":%d,\"host\":", t->check->port,
		   t->family);
	if (t->check->host)
		buf_add_json_string(&b, t->check->host);
	else
		buf_addstr(&b, "null");
	buf_printf(&b, ",\"ok\":%s,\"http_status\":%ld,\"error\":",
		   t->ok ? "true" : "false", t->http_status);
	if (t->error)
		buf_add_json_string(&b, t->error);
	else
		buf_addstr(&b, "null");
	buf_printf(&b, ",\"duration_ms\":%lld}\n", (long long)t->duration_ms);
	fwrite(b.data, 1, b.len, stdout);
	buf_release(&b);
}

static int run(const struct opts *o, struct spec *specs, size_t n)
{
	struct check_target *t = xcalloc(n ? n : 1, sizeof(*t));
	int status = 0;

	for (size_t i = 0; i < n; i++) {
		t[i].check = &specs[i].check;
		t[i].server_name = specs[i].address;
		t[i].server_id = (int64_t)i + 1;
		t[i].family = specs[i].family;
		t[i].address = specs[i].address;
	}
	for (long r = 1; r <= o->rounds; r++) {
		int64_t start = mono_ms();
		int rc = check_round_run(t, n);
		int64_t wall = mono_ms() - start;
		size_t ok = 0;

		for (size_t i = 0; i < n; i++) {
			print_result(r, i, &t[i]);
			ok += t[i].ok;
		}
		fflush(stdout);
		fprintf(stderr, "{\"round\":%ld,\"targets\":%zu,\"ok\":%zu,"
			"\"failed\":%zu,\"wall_ms\":%lld%s}\n", r, n, ok, n - ok,
			(long long)wall, rc < 0 ? ",\"round_error\":true" : "");
		if (rc < 0)
			status = 1;
	}
	for (size_t i = 0; i < n; i++)
		check_target_release(&t[i]);
	free(t);
	return status;
}

int main(int argc, char **argv)
{
	struct opts o = {
		.rounds = 1, .method = "GET", .base_addr = "127.0.1.1",
		.type = "http", .path = "/", .timeout_ms = 10000,
	};
	struct spec *specs = NULL;
	size_t n = 0;
	int status = 2;
	const char *err = NULL;

	if (parse_args(argc, argv, &o) < 0) {
		usage();
		goto out;
	}
	if (!o.expect &&
	    status_ranges_parse("200-299", &o.expect, &o.n_expect, &err) < 0) {
		fprintf(stderr, "bench_checks: default expect: %s\n", err);
		goto out;
	}
	check_set_default_trust(o.default_ca_file, o.default_ca_path);
	if ((o.many ? make_many(&o, &specs, &n) : load_file(&o, &specs, &n)) < 0)
		goto out;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "bench_checks: curl_global_init failed\n");
		status = 1;
		goto out;
	}
	status = run(&o, specs, n);
	curl_global_cleanup();
out:
	for (size_t i = 0; i < n; i++)
		spec_release(&specs[i]);
	free(specs);
	for (size_t i = 0; i < o.n_headers; i++) {
		free(o.headers[i].name);
		free(o.headers[i].value);
	}
	free(o.headers);
	free(o.expect);
	return status;
}
