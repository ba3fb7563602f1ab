/*
 * fuzz_hcloud.c — the Hetzner Cloud API response parsers (hcloud_parse.c).
 *
 * The first byte picks the parser, the rest is the response body:
 *   0 hc_parse_servers   1 hc_parse_floating_ips   2 hc_parse_floating_ip
 *   3 hc_parse_action    4 hc_parse_error          5 hc_ipv6_host
 * (modulo 6). Every error is formatted as an operator would see it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hcloud.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* HC_MAX_MESSAGE (private to hcloud_parse.c) and "...": generous. */
#define HC_MAX_TEXT (16u << 10)

/* hcloud.h: remote text is stored capped and with control characters replaced. */
static void check_sanitized(const char *s)
{
	if (!s)
		return;
	if (strlen(s) > HC_MAX_TEXT)
		abort();
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			abort();
}

static void format_error(struct hc_error *err)
{
	check_sanitized(err->code);
	check_sanitized(err->message);
	free(hc_error_format(err));
	(void)hc_code_retryable(err->code);
	hc_error_release(err);
}

static void servers(const char *body, size_t len)
{
	struct hc_error err = HC_ERROR_INIT;
	struct hc_server *v = NULL;
	size_t n = 0;
	int64_t next = 0;

	err.method = xstrdup("GET");
	err.path = xstrdup("/servers");
	if (hc_parse_servers(body, len, &v, &n, &next, &err) == 0)
		hc_servers_free(v, n);
	format_error(&err);
}

static void floating_ips(const char *body, size_t len)
{
	struct hc_error err = HC_ERROR_INIT;
	struct hc_fip *v = NULL;
	size_t n = 0;
	int64_t next = 0;

	if (hc_parse_floating_ips(body, len, &v, &n, &next, &err) == 0)
		hc_fips_free(v, n);
	format_error(&err);
}

static void floating_ip(const char *body, size_t len)
{
	struct hc_error err = HC_ERROR_INIT;
	struct hc_fip f;

	memset(&f, 0, sizeof f);
	if (hc_parse_floating_ip(body, len, &f, &err) == 0)
		hc_fip_release(&f);
	format_error(&err);
}

static void action(const char *body, size_t len)
{
	struct hc_error err = HC_ERROR_INIT;
	struct hc_action a;

	memset(&a, 0, sizeof a);
	if (hc_parse_action(body, len, &a, &err) == 0)
		hc_action_release(&a);
	format_error(&err);
}

static void api_error(const char *body, size_t len)
{
	struct hc_error err = HC_ERROR_INIT;

	err.method = xstrdup("POST");
	err.path = xstrdup("/floating_ips/1/actions/assign");
	err.http_status = 422;
	err.attempts = 1;
	(void)hc_parse_error(body, len, &err);
	format_error(&err);
}

static void ipv6_host(const char *body, size_t len)
{
	char *network = xstrndup(body, len);
	char out[46];

	(void)hc_ipv6_host(network, out, sizeof out);
	free(network);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static void (*const parsers[])(const char *, size_t) = {
		servers, floating_ips, floating_ip, action, api_error, ipv6_host,
	};

	if (size == 0)
		return 0;
	/* An exact-size copy, so reading past the body is an ASan error. */
	size_t len = size - 1;
	char *body = malloc(len ? len : 1);
	if (!body)
		return 0;
	memcpy(body, data + 1, len);
	parsers[data[0] % ARRAY_SIZE(parsers)](body, len);
	free(body);
	return 0;
}
