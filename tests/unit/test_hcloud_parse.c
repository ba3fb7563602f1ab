/*
 * test_hcloud_parse.c — the pure Hetzner parsers on the project's fixtures
 * (tests/fixtures/hetzner, relative to the repo root where tests run)
 * and on hand-written edge cases, plus a small deterministic mutation run
 * that must neither crash nor leak (run it under SANITIZE=address).
 */
#include <errno.h>
#include <stdlib.h>

#include "hcloud.h"
#include "test.h"
#include "util.h"

#define FIXTURES "tests/fixtures/hetzner/"

static char *fixture(const char *name, size_t *len)
{
	char *path = xasprintf(FIXTURES "%s", name);
	char *text = NULL;
	if (read_file(path, 1 << 20, &text, len) < 0) {
		TEST_FAIL_("cannot read %s: %s (run from the repo root)", path, strerror(errno));
		text = NULL;
		*len = 0;
	}
	free(path);
	return text;
}

/* Parse servers from a literal; returns rc, keeps the message in msg. */
static int servers_from(const char *json, struct hc_server **v, size_t *n,
			char **msg)
{
	struct hc_error err = HC_ERROR_INIT;
	int64_t next;
	int rc = hc_parse_servers(json, strlen(json), v, n, &next, &err);
	*msg = err.message ? xstrdup(err.message) : NULL;
	hc_error_release(&err);
	return rc;
}

static int fips_from(const char *json, struct hc_fip **v, size_t *n, char **msg)
{
	struct hc_error err = HC_ERROR_INIT;
	int64_t next;
	int rc = hc_parse_floating_ips(json, strlen(json), v, n, &next, &err);
	*msg = err.message ? xstrdup(err.message) : NULL;
	hc_error_release(&err);
	return rc;
}

#define META "\"meta\":{\"pagination\":{\"page\":1,\"next_page\":null}}"
#define LOC "\"location\":{\"name\":\"fsn1\",\"network_zone\":\"eu-central\"}"

/* One server object with the given extra members, wrapped in a page. */
static char *server_page(const char *members)
{
	return xasprintf("{\"servers\":[{\"id\":1,\"name\":\"s\",\"status\":\"running\","
			 LOC "%s%s}]," META "}", *members ? "," : "", members);
}

static char *fip_page(const char *members)
{
	return xasprintf("{\"floating_ips\":[{\"id\":1,\"name\":\"f\",\"ip\":\"203.0.113.1\","
			 "\"type\":\"ipv4\",\"server\":null,\"home_location\":"
			 "{\"name\":\"fsn1\",\"network_zone\":\"eu-central\"}%s%s}]," META "}",
			 *members ? "," : "", members);
}

TEST(fixture_servers)
{
	size_t len, n = 0;
	char *body = fixture("servers_page1.json", &len);
	struct hc_server *v = NULL;
	struct hc_error err = HC_ERROR_INIT;
	int64_t next = -1;

	if (!body)
		return;
	CHECK_EQ_INT(hc_parse_servers(body, len, &v, &n, &next, &err), 0);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(next, 0);
	if (n == 2) {
		CHECK(v[0].id == INT64_C(5190004417));
		CHECK_EQ_STR(v[0].name, "edge-hel1-1");
		CHECK_EQ_STR(v[0].status, "running");
		CHECK_EQ_STR(v[0].location, "hel1");
		CHECK_EQ_STR(v[0].network_zone, "eu-central");
		CHECK_EQ_STR(v[0].ipv4, "198.51.100.140");
		CHECK_EQ_STR(v[0].ipv6, "2001:db8:7a10:3b00::1");
		CHECK(!v[0].has_index);
		CHECK_EQ_INT(v[0].n_labels, 2);
		CHECK_EQ_STR(v[0].labels[0].key, "pool");
		CHECK_EQ_STR(v[0].labels[0].value, "edge");
		CHECK(v[1].id == INT64_C(5190004481));
		CHECK_EQ_STR(v[1].location, "fsn1");
		CHECK_EQ_STR(v[1].ipv4, "192.0.2.15");
		CHECK_EQ_STR(v[1].ipv6, "2001:db8:7a10:3c00::1");
	}
	hc_servers_free(v, n);
	hc_error_release(&err);
	free(body);
}

TEST(fixture_floating_ips)
{
	size_t len, n = 0;
	char *body = fixture("floating_ips_page1.json", &len);
	struct hc_fip *v = NULL;
	struct hc_error err = HC_ERROR_INIT;
	int64_t next = -1;

	if (body) {
		CHECK_EQ_INT(hc_parse_floating_ips(body, len, &v, &n, &next, &err), 0);
		CHECK_EQ_INT(n, 2);
		CHECK_EQ_INT(next, 2);
		if (n == 2) {
			CHECK_EQ_INT(v[0].id, 73000012);
			CHECK_EQ_STR(v[0].name, "front-v4");
			CHECK_EQ_STR(v[0].ip, "203.0.113.200");
			CHECK_EQ_STR(v[0].type, "ipv4");
			CHECK_EQ_STR(v[0].location, "hel1");
			CHECK_EQ_STR(v[0].network_zone, "eu-central");
			CHECK(v[0].server == INT64_C(5190004417));
			CHECK_EQ_INT(v[1].id, 73000013);
			CHECK_EQ_STR(v[1].ip, "2001:db8:5e5e:900::/64");
			CHECK_EQ_STR(v[1].type, "ipv6");
			CHECK_EQ_STR(v[1].location, "fsn1");
			CHECK_EQ_INT(v[1].server, 0);
		}
		hc_fips_free(v, n);
		free(body);
	}

	body = fixture("floating_ips_page2.json", &len);
	if (body) {
		CHECK_EQ_INT(hc_parse_floating_ips(body, len, &v, &n, &next, &err), 0);
		CHECK_EQ_INT(n, 1);
		CHECK_EQ_INT(next, 0);
		if (n == 1) {
			CHECK_EQ_INT(v[0].id, 73000019);
			CHECK_EQ_STR(v[0].ip, "192.0.2.61");
			CHECK_EQ_INT(v[0].server, 0);
		}
		hc_fips_free(v, n);
		free(body);
	}
	hc_error_release(&err);
}

TEST(fixture_actions)
{
	struct hc_error err = HC_ERROR_INIT;
	struct hc_action a;
	size_t len;
	char *body;

	if ((body = fixture("action_running.json", &len))) {
		CHECK_EQ_INT(hc_parse_action(body, len, &a, &err), 0);
		CHECK(a.id == INT64_C(3150098876));
		CHECK_EQ_STR(a.command, "assign_floating_ip");
		CHECK_EQ_INT(a.status, HC_ACTION_RUNNING);
		CHECK(a.error_code == NULL);
		hc_action_release(&a);
		free(body);
	}

	if ((body = fixture("action_success.json", &len))) {
		CHECK_EQ_INT(hc_parse_action(body, len, &a, &err), 0);
		CHECK_EQ_INT(a.status, HC_ACTION_SUCCESS);
		hc_action_release(&a);
		free(body);
	}

	if ((body = fixture("action_error.json", &len))) {
		CHECK_EQ_INT(hc_parse_action(body, len, &a, &err), 0);
		CHECK_EQ_INT(a.status, HC_ACTION_ERROR);
		CHECK_EQ_STR(a.error_code, "action_failed");
		CHECK_EQ_STR(a.error_message, "assigning the floating IP failed");
		hc_action_release(&a);
		/* An action is not an error body. */
		CHECK_EQ_INT(hc_parse_error(body, len, &err), -1);
		CHECK(err.code == NULL);
		free(body);
	}
	hc_error_release(&err);
}

TEST(fixture_errors)
{
	static const char *const files[][3] = {
		{ "error_locked.json", "locked",
		  "cannot perform operation because floating_ip is locked" },
		{ "error_rate_limit.json", "rate_limit_exceeded",
		  "limit of 3600 requests per hour reached" },
		{ "error_unauthorized.json", "unauthorized", "unable to authenticate" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		struct hc_error err = HC_ERROR_INIT;
		size_t len;
		char *body = fixture(files[i][0], &len);
		if (!body)
			continue;
		CHECK_EQ_INT(hc_parse_error(body, len, &err), 0);
		CHECK_EQ_STR(err.code, files[i][1]);
		CHECK_EQ_STR(err.message, files[i][2]);
		hc_error_release(&err);
		free(body);
	}
	CHECK(hc_code_retryable("locked"));
	CHECK(hc_code_retryable("rate_limit_exceeded"));
	CHECK(hc_code_retryable("conflict"));
	CHECK(hc_code_retryable("bad_gateway"));
	CHECK(hc_code_retryable("timeout"));
	CHECK(!hc_code_retryable("unauthorized"));
	CHECK(!hc_code_retryable("forbidden"));
	CHECK(!hc_code_retryable("not_found"));
	CHECK(!hc_code_retryable("invalid_input"));
	CHECK(!hc_code_retryable("json_error"));
	CHECK(!hc_code_retryable("protected"));
	CHECK(!hc_code_retryable("token_readonly"));
	CHECK(!hc_code_retryable("floating_ip_assigned"));
	CHECK(!hc_code_retryable(NULL));
}

TEST(error_details_and_garbage)
{
	struct hc_error err = HC_ERROR_INIT;
	const char *inv = "{\"error\":{\"code\":\"invalid_input\",\"message\":"
			  "\"invalid input in field 'server'\",\"details\":{\"fields\":"
			  "[{\"name\":\"server\",\"messages\":[\"Missing data for required field.\"]}]}}}";
	CHECK_EQ_INT(hc_parse_error(inv, strlen(inv), &err), 0);
	CHECK_EQ_STR(err.code, "invalid_input");
	CHECK_EQ_STR(err.message, "invalid input in field 'server' "
		     "(server: Missing data for required field.)");
	hc_error_release(&err);

	static const char *const bad[] = {
		"", "null", "{}", "[]", "<html>502 Bad Gateway</html>",
		"{\"error\":null}", "{\"error\":{\"code\":5}}", "{\"error\":{\"code\":\"\"}}",
		"{\"error\":\"locked\"}", "{\"error\":{\"message\":\"x\"}}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		CHECK_EQ_INT(hc_parse_error(bad[i], strlen(bad[i]), &err), -1);
		CHECK(err.code == NULL && err.message == NULL);
	}
	/* Control characters never reach logs; messages are capped. */
	const char *nl = "{\"error\":{\"code\":\"x\",\"message\":\"a\\nb\\u001bc\"}}";
	CHECK_EQ_INT(hc_parse_error(nl, strlen(nl), &err), 0);
	CHECK_EQ_STR(err.message, "a b c");
	hc_error_release(&err);

	struct buf big = BUF_INIT;
	buf_addstr(&big, "{\"error\":{\"code\":\"x\",\"message\":\"");
	for (int i = 0; i < 5000; i++)
		buf_addch(&big, 'm');
	buf_addstr(&big, "\"}}");
	CHECK_EQ_INT(hc_parse_error(big.data, big.len, &err), 0);
	CHECK(err.message && strlen(err.message) == 1024 + 3);
	hc_error_release(&err);
	buf_release(&big);
}

TEST(error_format)
{
	struct hc_error e = HC_ERROR_INIT;
	e.method = xstrdup("GET");
	e.path = xstrdup("/servers");
	hc_error_set(&e, "unauthorized", "unable to authenticate");
	e.http_status = 401;
	e.correlation_id = xstrdup("4c9f1d2a7b3e5a60");
	char *s = hc_error_format(&e);
	CHECK_EQ_STR(s, "GET /servers: unauthorized: unable to authenticate "
		     "(HTTP 401, correlation id 4c9f1d2a7b3e5a60)");
	free(s);
	e.attempts = 7;
	e.deadline = true;
	s = hc_error_format(&e);
	CHECK_EQ_STR(s, "GET /servers: unauthorized: unable to authenticate "
		     "(HTTP 401, correlation id 4c9f1d2a7b3e5a60, 7 attempts, deadline reached)");
	free(s);
	hc_error_release(&e);
	CHECK(e.method == NULL && e.code == NULL && e.attempts == 0);

	hc_error_set(&e, "transport", "Connection refused");
	s = hc_error_format(&e);
	CHECK_EQ_STR(s, "transport: Connection refused");
	free(s);
	hc_error_release(&e);
	s = hc_error_format(&e);
	CHECK_EQ_STR(s, "unknown error");
	free(s);
}

TEST(ipv6_host)
{
	char out[64];
	CHECK_EQ_INT(hc_ipv6_host("2001:db8:c012:8f2e::/64", out, sizeof out), 0);
	CHECK_EQ_STR(out, "2001:db8:c012:8f2e::1");
	CHECK_EQ_INT(hc_ipv6_host("2001:db8::/64", out, sizeof out), 0);
	CHECK_EQ_STR(out, "2001:db8::1");
	/* A host part in the input is replaced, not appended to. */
	CHECK_EQ_INT(hc_ipv6_host("2001:db8:1:2:aaaa:bbbb:cccc:dddd/64", out, sizeof out), 0);
	CHECK_EQ_STR(out, "2001:db8:1:2::1");
	CHECK_EQ_INT(hc_ipv6_host("2a01:4f8:1c1c:4a3d:0:0:0:0/64", out, sizeof out), 0);
	CHECK_EQ_STR(out, "2a01:4f8:1c1c:4a3d::1");
	static const char *const bad[] = {
		"2001:db8::/56", "2001:db8::", "2001:db8::/64x", "2001:db8::/064",
		"/64", "", "203.0.113.1/64", "zzzz::/64", "2001:db8::/",
		"2001:db8:0000:0000:0000:0000:0000:0000:0000/64",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK_EQ_INT(hc_ipv6_host(bad[i], out, sizeof out), -1);
	CHECK_EQ_INT(hc_ipv6_host("2001:db8::/64", out, 8), -1);
}

TEST(int64_ids)
{
	struct hc_server *v;
	size_t n;
	char *msg;
	const char *big = "{\"servers\":[{\"id\":9007199254740991,\"name\":\"s\","
			  "\"status\":\"running\"," LOC "},{\"id\":5000000001,\"name\":\"t\","
			  "\"status\":\"off\"," LOC "}]," META "}";
	CHECK_EQ_INT(servers_from(big, &v, &n, &msg), 0);
	CHECK_EQ_INT(n, 2);
	if (n == 2) {
		CHECK(v[0].id == INT64_C(9007199254740991));
		CHECK(v[1].id == INT64_C(5000000001));
	}
	hc_servers_free(v, n);
	free(msg);

	static const char *const ids[][2] = {
		{ "1.5", "servers[0].id: expected an integer" },
		{ "\"7\"", "servers[0].id: expected an integer" },
		{ "true", "servers[0].id: expected an integer" },
		{ "9007199254740993", "servers[0].id: expected an integer" },
		{ "1e300", "servers[0].id: expected an integer" },
		{ "-4", "servers[0].id: expected a positive integer" },
		{ "0", "servers[0].id: expected a positive integer" },
		{ "null", "servers[0].id: missing" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(ids); i++) {
		char *body = xasprintf("{\"servers\":[{\"id\":%s,\"name\":\"s\","
				       "\"status\":\"running\"," LOC "}]," META "}", ids[i][0]);
		CHECK_EQ_INT(servers_from(body, &v, &n, &msg), -1);
		CHECK(v == NULL && n == 0);
		CHECK_EQ_STR(msg, ids[i][1]);
		free(msg);
		free(body);
	}
}

TEST(error_names_item_index)
{
	struct buf b;
	struct hc_server *v;
	size_t n;
	char *msg;
	buf_init(&b, 0);
	buf_addstr(&b, "{\"servers\":[");
	for (int i = 0; i < 5; i++)
		buf_printf(&b, "%s{\"id\":%s,\"name\":\"s%d\",\"status\":\"running\"," LOC "}",
			   i ? "," : "", i == 3 ? "\"x\"" : "10", i);
	buf_addstr(&b, "]," META "}");
	CHECK_EQ_INT(servers_from(b.data, &v, &n, &msg), -1);
	CHECK_EQ_STR(msg, "servers[3].id: expected an integer");
	free(msg);
	buf_release(&b);
}

TEST(server_shapes)
{
	struct hc_server *v;
	size_t n;
	char *msg, *body;

	/* Legacy shape: no top-level location, datacenter.location instead. */
	body = xasprintf("{\"servers\":[{\"id\":3,\"name\":\"old\",\"status\":\"running\","
			 "\"datacenter\":{\"name\":\"nbg1-dc3\",\"location\":{\"name\":\"nbg1\","
			 "\"network_zone\":\"eu-central\"}}}]," META "}");
	CHECK_EQ_INT(servers_from(body, &v, &n, &msg), 0);
	if (n == 1) {
		CHECK_EQ_STR(v[0].location, "nbg1");
		CHECK_EQ_STR(v[0].network_zone, "eu-central");
		CHECK(v[0].ipv4 == NULL && v[0].ipv6 == NULL);
	}
	hc_servers_free(v, n);
	free(msg);
	free(body);

	/* location wins over datacenter when both are present. */
	body = xasprintf("{\"servers\":[{\"id\":3,\"name\":\"x\",\"status\":\"running\","
			 "\"location\":{\"name\":\"ash\",\"network_zone\":\"us-east\"},"
			 "\"datacenter\":{\"location\":{\"name\":\"nbg1\",\"network_zone\":"
			 "\"eu-central\"}}}]," META "}");
	CHECK_EQ_INT(servers_from(body, &v, &n, &msg), 0);
	if (n == 1)
		CHECK_EQ_STR(v[0].location, "ash");
	hc_servers_free(v, n);
	free(msg);
	free(body);

	body = xasprintf("{\"servers\":[{\"id\":3,\"name\":\"x\",\"status\":\"running\"}]," META "}");
	CHECK_EQ_INT(servers_from(body, &v, &n, &msg), -1);
	CHECK_EQ_STR(msg, "servers[0].location: missing (and no datacenter.location)");
	free(msg);
	free(body);

	body = server_page("\"public_net\":{\"ipv4\":null,\"ipv6\":null,\"floating_ips\":[]}");
	CHECK_EQ_INT(servers_from(body, &v, &n, &msg), 0);
	if (n == 1)
		CHECK(v[0].ipv4 == NULL && v[0].ipv6 == NULL);
	hc_servers_free(v, n);
	free(msg);
	free(body);

	body = server_page("\"public_net\":{\"ipv4\":null,\"ipv6\":{\"ip\":\"2001:db8:5::/64\"}}");
	CHECK_EQ_INT(servers_from(body, &v, &n, &msg), 0);
	if (n == 1) {
		CHECK(v[0].ipv4 == NULL);
		CHECK_EQ_STR(v[0].ipv6, "2001:db8:5::1");
	}
	hc_servers_free(v, n);
	free(msg);
	free(body);

	/* Unknown fields of any type are ignored. */
	body = server_page("\"future\":{\"a\":[1,2,{\"b\":null}]},\"locked\":\"maybe\","
			   "\"public_net\":{\"ipv4\":{\"ip\":\"203.0.113.9\",\"extra\":1}}");
	CHECK_EQ_INT(servers_from(body, &v, &n, &msg), 0);
	if (n == 1)
		CHECK_EQ_STR(v[0].ipv4, "203.0.113.9");
	hc_servers_free(v, n);
	free(msg);
	free(body);

	static const char *const bad[][2] = {
		{ "\"public_net\":[]", "servers[0].public_net: expected an object" },
		{ "\"public_net\":{\"ipv4\":\"203.0.113.9\"}",
		  "servers[0].public_net.ipv4: expected an object" },
		{ "\"public_net\":{\"ipv4\":{\"ip\":7}}",
		  "servers[0].public_net.ipv4.ip: expected a string" },
		{ "\"public_net\":{\"ipv4\":{\"ip\":\"2001:db8::1\"}}",
		  "servers[0].public_net.ipv4.ip: expected an IPv4 address" },
		{ "\"public_net\":{\"ipv6\":{\"ip\":\"2001:db8::/48\"}}",
		  "servers[0].public_net.ipv6.ip: expected an IPv6 /64 network" },
		{ "\"public_net\":{\"ipv6\":{}}", "servers[0].public_net.ipv6.ip: missing" },
		{ "\"labels\":[]", "servers[0].labels: expected an object" },
		{ "\"labels\":{\"resource_index\":3}",
		  "servers[0].labels.resource_index: expected a string" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		body = server_page(bad[i][0]);
		CHECK_EQ_INT(servers_from(body, &v, &n, &msg), -1);
		CHECK_EQ_STR(msg, bad[i][1]);
		free(msg);
		free(body);
	}
	body = xasprintf("{\"servers\":[{\"id\":1,\"name\":5,\"status\":\"running\"," LOC "}]," META "}");
	CHECK_EQ_INT(servers_from(body, &v, &n, &msg), -1);
	CHECK_EQ_STR(msg, "servers[0].name: expected a string");
	free(msg);
	free(body);
	body = xasprintf("{\"servers\":[{\"id\":1,\"name\":\"a\",\"status\":\"running\","
			 "\"location\":{\"name\":\"fsn1\"}}]," META "}");
	CHECK_EQ_INT(servers_from(body, &v, &n, &msg), -1);
	CHECK_EQ_STR(msg, "servers[0].location.network_zone: missing");
	free(msg);
	free(body);
}

TEST(resource_index_label)
{
	static const struct { const char *value; bool has; int64_t idx; } cases[] = {
		{ "0", true, 0 }, { "7", true, 7 }, { "-3", true, -3 },
		{ "5000000001", true, INT64_C(5000000001) },
		{ "abc", false, 0 }, { " 1", false, 0 }, { "1 ", false, 0 },
		{ "+1", false, 0 }, { "1.0", false, 0 }, { "", false, 0 }, { "-", false, 0 },
		{ "0x10", false, 0 }, { "99999999999999999999", false, 0 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct hc_fip *v;
		size_t n;
		char *msg;
		char *members = xasprintf("\"labels\":{\"role\":\"x\",\"resource_index\":\"%s\"}",
					  cases[i].value);
		char *body = fip_page(members);
		CHECK_EQ_INT(fips_from(body, &v, &n, &msg), 0);
		if (n == 1) {
			if (v[0].has_index != cases[i].has)
				TEST_FAIL_("resource_index \"%s\": has_index %d", cases[i].value,
					   v[0].has_index);
			if (cases[i].has)
				CHECK(v[0].resource_index == cases[i].idx);
			CHECK_EQ_INT(v[0].n_labels, 2);
		}
		hc_fips_free(v, n);
		free(msg);
		free(body);
		free(members);
	}
	/* No label at all. */
	struct hc_fip *v;
	size_t n;
	char *msg, *body = fip_page("\"labels\":{}");
	CHECK_EQ_INT(fips_from(body, &v, &n, &msg), 0);
	if (n == 1)
		CHECK(!v[0].has_index && v[0].n_labels == 0);
	hc_fips_free(v, n);
	free(msg);
	free(body);
}

TEST(fip_shapes)
{
	struct hc_fip *v;
	size_t n;
	char *msg, *body;

	/* Assigned, ids above 2^32, no labels, more pages to come. */
	body = xasprintf("{\"floating_ips\":[{\"id\":3000000001,\"name\":\"f\",\"ip\":"
			 "\"2001:db8:1::/64\",\"type\":\"ipv6\",\"server\":5000000002,"
			 "\"home_location\":{\"name\":\"hel1\",\"network_zone\":\"eu-central\"}}],"
			 "\"meta\":{\"pagination\":{\"next_page\":3}}}");
	struct hc_error err = HC_ERROR_INIT;
	int64_t next;
	CHECK_EQ_INT(hc_parse_floating_ips(body, strlen(body), &v, &n, &next, &err), 0);
	CHECK_EQ_INT(next, 3);
	if (n == 1) {
		CHECK(v[0].id == INT64_C(3000000001));
		CHECK(v[0].server == INT64_C(5000000002));
		CHECK_EQ_STR(v[0].location, "hel1");
		CHECK(v[0].labels == NULL && v[0].n_labels == 0);
	}
	hc_fips_free(v, n);
	free(body);

	static const char *const bad[][2] = {
		{ "{\"floating_ips\":[{\"id\":1,\"name\":\"f\",\"ip\":\"1.2.3.4\",\"type\":\"ipv5\","
		  "\"home_location\":{\"name\":\"a\",\"network_zone\":\"b\"}}]," META "}",
		  "floating_ips[0].type: expected \"ipv4\" or \"ipv6\"" },
		{ "{\"floating_ips\":[{\"id\":1,\"name\":\"f\",\"ip\":\"1.2.3.4\",\"type\":\"ipv4\","
		  "\"server\":\"12\",\"home_location\":{\"name\":\"a\",\"network_zone\":\"b\"}}]," META "}",
		  "floating_ips[0].server: expected an integer or null" },
		{ "{\"floating_ips\":[{\"id\":1,\"name\":\"f\",\"ip\":\"1.2.3.4\",\"type\":\"ipv4\"}]," META "}",
		  "floating_ips[0].home_location: missing" },
		{ "{\"floating_ips\":[{\"id\":1,\"name\":\"f\",\"type\":\"ipv4\"}]," META "}",
		  "floating_ips[0].ip: missing" },
		{ "{\"floating_ips\":[7]," META "}", "floating_ips[0]: expected an object" },
		{ "{\"floating_ips\":{}," META "}", "floating_ips: expected an array" },
		{ "{\"servers\":[]," META "}", "floating_ips: missing" },
		{ "{\"floating_ips\":[]}", "meta: missing" },
		{ "{\"floating_ips\":[],\"meta\":{}}", "meta.pagination: missing" },
		{ "{\"floating_ips\":[],\"meta\":{\"pagination\":{\"next_page\":\"2\"}}}",
		  "meta.pagination.next_page: expected a positive integer or null" },
		{ "{\"floating_ips\":[],\"meta\":{\"pagination\":{\"next_page\":0}}}",
		  "meta.pagination.next_page: expected a positive integer or null" },
		{ "[1,2]", "response is not a JSON object" },
		{ "{\"floating_ips\":[", "response is not valid JSON" },
		{ "", "response is not valid JSON" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		CHECK_EQ_INT(fips_from(bad[i][0], &v, &n, &msg), -1);
		CHECK(v == NULL && n == 0);
		CHECK_EQ_STR(msg, bad[i][1]);
		free(msg);
	}

	/* Absent server means unassigned; missing meta.next_page means last page. */
	body = xasprintf("{\"floating_ips\":[{\"id\":1,\"name\":\"f\",\"ip\":\"1.2.3.4\","
			 "\"type\":\"ipv4\",\"home_location\":{\"name\":\"a\",\"network_zone\":\"b\"}}],"
			 "\"meta\":{\"pagination\":{\"page\":1}}}");
	next = 9;
	CHECK_EQ_INT(hc_parse_floating_ips(body, strlen(body), &v, &n, &next, &err), 0);
	CHECK_EQ_INT(next, 0);
	if (n == 1)
		CHECK_EQ_INT(v[0].server, 0);
	hc_fips_free(v, n);
	free(body);

	/* GET /floating_ips/{id}. */
	struct hc_fip f;
	const char *one = "{\"floating_ip\":{\"id\":41234570,\"name\":\"vip\",\"ip\":"
			  "\"198.51.100.23\",\"type\":\"ipv4\",\"server\":128452389,"
			  "\"home_location\":{\"name\":\"nbg1\",\"network_zone\":\"eu-central\"}}}";
	CHECK_EQ_INT(hc_parse_floating_ip(one, strlen(one), &f, &err), 0);
	CHECK_EQ_INT(f.id, 41234570);
	CHECK_EQ_INT(f.server, 128452389);
	hc_fip_release(&f);
	CHECK_EQ_INT(hc_parse_floating_ip("{}", 2, &f, &err), -1);
	CHECK_EQ_STR(err.message, "floating_ip: missing");
	CHECK_EQ_STR(err.code, "invalid_response");
	hc_error_release(&err);
}

TEST(action_shapes)
{
	struct hc_error err = HC_ERROR_INIT;
	struct hc_action a;
	const char *noerr = "{\"action\":{\"id\":9000000001,\"status\":\"error\",\"error\":null}}";
	CHECK_EQ_INT(hc_parse_action(noerr, strlen(noerr), &a, &err), 0);
	CHECK(a.id == INT64_C(9000000001));
	CHECK_EQ_INT(a.status, HC_ACTION_ERROR);
	CHECK_EQ_STR(a.error_code, "unknown");
	CHECK_EQ_STR(a.error_message, "unknown error");
	CHECK(a.command == NULL);
	hc_action_release(&a);

	static const char *const bad[][2] = {
		{ "{\"action\":{\"id\":1,\"status\":\"done\"}}",
		  "action.status: expected running, success or error" },
		{ "{\"action\":{\"id\":1}}", "action.status: missing" },
		{ "{\"action\":{\"status\":\"running\"}}", "action.id: missing" },
		{ "{\"action\":[]}", "action: expected an object" },
		{ "{\"actions\":[]}", "action: missing" },
		{ "{\"action\":{\"id\":1,\"status\":\"error\",\"error\":{\"code\":4}}}",
		  "action.error.code: expected a string" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		CHECK_EQ_INT(hc_parse_action(bad[i][0], strlen(bad[i][0]), &a, &err), -1);
		CHECK_EQ_STR(err.message, bad[i][1]);
		CHECK(a.command == NULL && a.error_code == NULL);
		hc_error_release(&err);
	}
}

TEST(size_caps)
{
	struct hc_error err = HC_ERROR_INIT;
	struct hc_server *v;
	size_t n;
	int64_t next;
	/* The length check comes before any byte is read. */
	CHECK_EQ_INT(hc_parse_servers("{}", (size_t)HC_MAX_BODY_LIST + 1, &v, &n, &next, &err), -1);
	CHECK_EQ_STR(err.code, "response_too_large");
	hc_error_release(&err);

	struct buf b = BUF_INIT;
	buf_addstr(&b, "{\"servers\":[");
	for (int i = 0; i <= HC_MAX_PAGE_ITEMS; i++)
		buf_addstr(&b, i ? ",{}" : "{}");
	buf_addstr(&b, "]," META "}");
	CHECK_EQ_INT(hc_parse_servers(b.data, b.len, &v, &n, &next, &err), -1);
	CHECK_EQ_STR(err.message, "servers: too many items in one page");
	hc_error_release(&err);
	buf_release(&b);

	/* Deep nesting in an ignored field is refused by cJSON, not a crash. */
	buf_init(&b, 0);
	buf_addstr(&b, "{\"x\":");
	for (int i = 0; i < 5000; i++)
		buf_addch(&b, '[');
	CHECK_EQ_INT(hc_parse_servers(b.data, b.len, &v, &n, &next, &err), -1);
	hc_error_release(&err);
	buf_release(&b);
}

/*
 * Mutate the fixtures byte by byte with a fixed seed and parse the
 * result with every parser: checks only that nothing crashes or leaks.
 */
TEST(mutations_do_not_crash)
{
	static const char *const files[] = {
		"servers_page1.json", "floating_ips_page1.json", "floating_ips_page2.json",
		"action_running.json", "action_error.json", "error_locked.json",
	};
	static const char junk[] = "{}[]\",:0123456789.-eE nultrfasx\\/";
	uint64_t x = 0x243F6A8885A308D3ULL;
	int parsed = 0;
	for (size_t f = 0; f < ARRAY_SIZE(files); f++) {
		size_t len;
		char *orig = fixture(files[f], &len);
		if (!orig)
			continue;
		char *m = xmalloc(len + 1);
		for (int round = 0; round < 300; round++) {
			memcpy(m, orig, len);
			size_t mlen = len;
			int edits = 1 + round % 4;
			for (int e = 0; e < edits; e++) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				size_t pos = (size_t)(x % mlen);
				switch ((x >> 32) % 3) {
				case 0:
					m[pos] = junk[(x >> 40) % (sizeof junk - 1)];
					break;
				case 1:
					mlen = pos + 1;       /* truncate */
					break;
				default:
					m[pos] = (char)(x >> 48);
				}
			}
			struct hc_error err = HC_ERROR_INIT;
			struct hc_server *sv;
			struct hc_fip *fv, one;
			struct hc_action a;
			size_t n;
			int64_t next;
			if (hc_parse_servers(m, mlen, &sv, &n, &next, &err) == 0) {
				hc_servers_free(sv, n);
				parsed++;
			}
			hc_error_release(&err);
			if (hc_parse_floating_ips(m, mlen, &fv, &n, &next, &err) == 0) {
				hc_fips_free(fv, n);
				parsed++;
			}
			hc_error_release(&err);
			if (hc_parse_floating_ip(m, mlen, &one, &err) == 0)
				hc_fip_release(&one);
			hc_error_release(&err);
			if (hc_parse_action(m, mlen, &a, &err) == 0) {
				hc_action_release(&a);
				parsed++;
			}
			hc_error_release(&err);
			hc_parse_error(m, mlen, &err);
			hc_error_release(&err);
		}
		free(m);
		free(orig);
	}
	/* Some mutations must survive parsing, or the run tested nothing. */
	CHECK(parsed > 0);
}

int main(void)
{
	RUN(fixture_servers);
	RUN(fixture_floating_ips);
	RUN(fixture_actions);
	RUN(fixture_errors);
	RUN(error_details_and_garbage);
	RUN(error_format);
	RUN(ipv6_host);
	RUN(int64_ids);
	RUN(error_names_item_index);
	RUN(server_shapes);
	RUN(resource_index_label);
	RUN(fip_shapes);
	RUN(action_shapes);
	RUN(size_caps);
	RUN(mutations_do_not_crash);
	return test_report();
}
