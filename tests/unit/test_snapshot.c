/* test_snapshot.c — the snapshot reader and writer, good and bad input. */
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"
#include "test.h"

/* Parse s; return the diagnostics as one "\n"-joined string (caller frees). */
static char *parse(const char *text, struct snapshot *s, int *rc)
{
	struct diags d;
	diags_init(&d, "snap.json");
	*rc = snapshot_parse(text, strlen(text), s, &d);
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < d.n; i++) {
		char *line = diag_format(&d, &d.list[i]);
		buf_printf(&b, "%s%s", i ? "\n" : "", line);
		free(line);
	}
	if (*rc == 0 && d.errors)
		buf_addstr(&b, "\n(rc 0 with errors!)");
	diags_release(&d);
	return buf_detach(&b);
}

/* The parse fails and the messages contain want. */
#define CHECK_BAD(text, want) do {                                      \
		struct snapshot s_;                                     \
		int rc_;                                                \
		char *m_ = parse((text), &s_, &rc_);                    \
		CHECK_EQ_INT(rc_, -1);                                  \
		if (!strstr(m_, (want)))                                \
			TEST_FAIL_("messages \"%s\" lack \"%s\"", m_, (want)); \
		CHECK_EQ_INT(s_.n_servers, 0);                          \
		free(m_);                                               \
		snapshot_release(&s_);                                  \
	} while (0)

#define SRV "{\"id\": 11, \"name\": \"lb-1\", \"location\": \"fsn1\", " \
	"\"network_zone\": \"eu-central\", \"status\": \"healthy\"}"
#define FIP "{\"id\": 1, \"location\": \"fsn1\", \"network_zone\": \"eu-central\"}"

static const char spec_example[] =
	"{\"servers\": [{\"id\": 11, \"name\": \"lb-1\", \"location\": \"fsn1\", \"network_zone\": \"eu-central\",\n"
	"              \"resource_index\": 0, \"status\": \"healthy\"}],\n"
	" \"floating_ips\": [{\"id\": 1, \"name\": \"vip-1\", \"ip\": \"203.0.113.1\", \"location\": \"fsn1\",\n"
	"                   \"network_zone\": \"eu-central\", \"resource_index\": null, \"server\": 11}]}\n";

TEST(good_spec_example)
{
	struct snapshot s;
	int rc;
	char *m = parse(spec_example, &s, &rc);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_STR(m, "");
	CHECK(s.group == NULL);
	CHECK_EQ_INT(s.n_servers, 1);
	CHECK_EQ_INT(s.n_fips, 1);
	if (s.n_servers == 1 && s.n_fips == 1) {
		CHECK_EQ_INT(s.servers[0].id, 11);
		CHECK_EQ_STR(s.servers[0].name, "lb-1");
		CHECK_EQ_STR(s.servers[0].location, "fsn1");
		CHECK_EQ_STR(s.servers[0].network_zone, "eu-central");
		CHECK(s.servers[0].has_index);
		CHECK_EQ_INT(s.servers[0].resource_index, 0);
		CHECK_EQ_INT(s.servers[0].status, HEALTH_HEALTHY);
		CHECK_EQ_INT(s.fips[0].id, 1);
		CHECK_EQ_STR(s.fips[0].name, "vip-1");
		CHECK_EQ_STR(s.fips[0].ip, "203.0.113.1");
		CHECK(!s.fips[0].has_index);
		CHECK_EQ_INT(s.fips[0].server, 11);
	}
	free(m);
	snapshot_release(&s);
}

TEST(good_optional_fields)
{
	struct snapshot s;
	int rc;
	char *m = parse("{\"group\": \"web\", \"servers\": [" SRV ", "
			"{\"id\": 9007199254740991, \"name\": \"big\", \"location\": \"x\", "
			"\"network_zone\": \"y\", \"resource_index\": -3, \"status\": \"unknown\"}],"
			"\"floating_ips\": [" FIP ", {\"id\": 2, \"location\": \"a\", "
			"\"network_zone\": \"b\", \"server\": null, \"name\": null, \"ip\": null, "
			"\"resource_index\": 1e1}]}", &s, &rc);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_STR(m, "");
	CHECK_EQ_STR(s.group, "web");
	CHECK_EQ_INT(s.n_servers, 2);
	CHECK_EQ_INT(s.n_fips, 2);
	if (s.n_servers == 2 && s.n_fips == 2) {
		CHECK(!s.servers[0].has_index);
		CHECK_EQ_INT(s.servers[1].id, 9007199254740991LL);
		CHECK(s.servers[1].has_index);
		CHECK_EQ_INT(s.servers[1].resource_index, -3);
		CHECK_EQ_INT(s.servers[1].status, HEALTH_UNKNOWN);
		CHECK(s.fips[0].name == NULL && s.fips[0].ip == NULL);
		CHECK_EQ_INT(s.fips[0].server, 0);
		CHECK_EQ_INT(s.fips[1].server, 0);
		CHECK(s.fips[1].has_index);
		CHECK_EQ_INT(s.fips[1].resource_index, 10);
	}
	free(m);
	snapshot_release(&s);

	/* The planner's inputs beyond the inventory: options, probation,
	 * uncheckable, a confirmed missing server. */
	m = parse("{\"when_none_healthy\": \"spread\", \"rebalance\": true, \"servers\": ["
		  "{\"id\": 1, \"name\": \"a\", \"location\": \"l\", \"network_zone\": \"z\", "
		  "\"status\": \"healthy\", \"probation\": true}, "
		  "{\"id\": 2, \"name\": \"b\", \"location\": \"l\", \"network_zone\": \"z\", "
		  "\"status\": \"uncheckable\", \"probation\": false}], \"floating_ips\": ["
		  "{\"id\": 5, \"location\": \"l\", \"network_zone\": \"z\", \"server\": 9, "
		  "\"server_missing\": true}, " FIP "]}", &s, &rc);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_STR(m, "");
	CHECK_EQ_INT(s.opts.when_none_healthy, PLAN_SPREAD);
	CHECK(s.opts.rebalance);
	if (s.n_servers == 2 && s.n_fips == 2) {
		CHECK(s.servers[0].probation && !s.servers[1].probation);
		CHECK_EQ_INT(s.servers[1].status, HEALTH_UNCHECKABLE);
		CHECK(s.fips[0].server_missing && !s.fips[1].server_missing);
	}
	free(m);
	snapshot_release(&s);
	/* Absent options are the defaults. */
	m = parse("{\"servers\": [], \"floating_ips\": []}", &s, &rc);
	CHECK_EQ_INT(s.opts.when_none_healthy, PLAN_FREEZE);
	CHECK(!s.opts.rebalance);
	free(m);
	snapshot_release(&s);

	/* Empty arrays are a valid, if dull, group. */
	m = parse("{\"servers\": [], \"floating_ips\": []}", &s, &rc);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(s.n_servers + s.n_fips, 0);
	free(m);
	snapshot_release(&s);
}

TEST(unknown_keys_warn)
{
	struct snapshot s;
	int rc;
	char *m = parse("{\"servers\": [{\"id\": 11, \"name\": \"a\", \"location\": \"l\", "
			"\"network_zone\": \"z\", \"status\": \"healthy\", \"colour\": 1}],"
			"\"floating_ips\": [], \"extra\": true}", &s, &rc);
	CHECK_EQ_INT(rc, 0);
	CHECK(strstr(m, "snap.json: servers[0].colour: unknown key, ignored") != NULL);
	CHECK(strstr(m, "snap.json: extra: unknown key, ignored") != NULL);
	CHECK_EQ_INT(s.n_servers, 1);
	free(m);
	snapshot_release(&s);
}

TEST(bad_syntax)
{
	CHECK_BAD("", "snap.json:1:1: invalid JSON: unexpected end of input");
	CHECK_BAD("{\"servers\": [\n", "snap.json:1:14: invalid JSON: unexpected end of input");
	CHECK_BAD("{\"servers\": [],\n \"floating_ips\": [] x}",
		  "snap.json:2:21: invalid JSON: unexpected 'x'");
	CHECK_BAD("{\"servers\": []}\n\n  garbage", "snap.json:3:3: invalid JSON: unexpected 'g'");
	CHECK_BAD("{\"servers\": [1,],\n}", "snap.json:1:16: invalid JSON: unexpected ']'");
	CHECK_BAD("{\"a\": 1,}", "snap.json:1:9: invalid JSON: unexpected '}'");
	CHECK_BAD("{\n  servers: []}", "snap.json:2:3: invalid JSON: unexpected 's'");
	CHECK_BAD("{\"servers\": 'x'}", "snap.json:1:13: invalid JSON: unexpected '''");
	CHECK_BAD("[]", "snap.json: expected an object with \"servers\" and \"floating_ips\", got an array");
	CHECK_BAD("42", "got 42");

	/* A NUL byte would hide what follows it from the parser. */
	struct snapshot s;
	struct diags d;
	diags_init(&d, "snap.json");
	static const char nul[] = "{\"servers\": [],\n \"floating_ips\": []}\0junk";
	CHECK_EQ_INT(snapshot_parse(nul, sizeof nul - 1, &s, &d), -1);
	CHECK_EQ_INT(d.errors, 1);
	if (d.n == 1) {
		char *line = diag_format(&d, &d.list[0]);
		CHECK_EQ_STR(line, "snap.json:2:21: invalid JSON: NUL byte");
		free(line);
	}
	diags_release(&d);
	snapshot_release(&s);
}

TEST(bad_top_level)
{
	CHECK_BAD("{\"floating_ips\": []}", "snap.json: servers: missing (required)");
	CHECK_BAD("{\"servers\": []}", "snap.json: floating_ips: missing (required)");
	CHECK_BAD("{\"servers\": {}, \"floating_ips\": []}",
		  "snap.json: servers: expected an array, got an object");
	CHECK_BAD("{\"servers\": [], \"floating_ips\": \"x\"}",
		  "snap.json: floating_ips: expected an array, got a string \"x\"");
	CHECK_BAD("{\"servers\": [], \"servers\": [], \"floating_ips\": []}",
		  "snap.json: servers: duplicate key");
	CHECK_BAD("{\"group\": 5, \"servers\": [], \"floating_ips\": []}",
		  "snap.json: group: expected a string, got 5");
}

TEST(bad_options)
{
	CHECK_BAD("{\"when_none_healthy\": \"fail-open\", \"servers\": [], \"floating_ips\": []}",
		  "snap.json: when_none_healthy: unknown value \"fail-open\" (freeze or spread)");
	CHECK_BAD("{\"when_none_healthy\": 1, \"servers\": [], \"floating_ips\": []}",
		  "snap.json: when_none_healthy: expected a string, got 1");
	CHECK_BAD("{\"rebalance\": \"yes\", \"servers\": [], \"floating_ips\": []}",
		  "snap.json: rebalance: expected true or false, got a string \"yes\"");
	CHECK_BAD("{\"servers\": [], \"floating_ips\": [{\"id\": 1, \"location\": \"l\", "
		  "\"network_zone\": \"z\", \"server_missing\": \"true\"}]}",
		  "snap.json: floating_ips[0].server_missing: expected true or false");
}

TEST(bad_server_fields)
{
	CHECK_BAD("{\"servers\": [" SRV "," SRV "," SRV ", {\"id\": \"12\", \"name\": \"x\", "
		  "\"location\": \"l\", \"network_zone\": \"z\", \"status\": \"healthy\"}],"
		  "\"floating_ips\": []}",
		  "snap.json: servers[3].id: expected an integer, got a string \"12\"");
	CHECK_BAD("{\"servers\": [{\"id\": 1.5, \"name\": \"x\", \"location\": \"l\", "
		  "\"network_zone\": \"z\", \"status\": \"healthy\"}], \"floating_ips\": []}",
		  "servers[0].id: expected an integer, got 1.5");
	CHECK_BAD("{\"servers\": [{\"id\": 9007199254740993, \"name\": \"x\", \"location\": \"l\", "
		  "\"network_zone\": \"z\", \"status\": \"healthy\"}], \"floating_ips\": []}",
		  "servers[0].id: expected an integer of at most 2^53 - 1 in magnitude, got 9007199254740993");
	CHECK_BAD("{\"servers\": [{\"id\": 1e400, \"name\": \"x\", \"location\": \"l\", "
		  "\"network_zone\": \"z\", \"status\": \"healthy\"}], \"floating_ips\": []}",
		  "servers[0].id: expected an integer of at most 2^53 - 1 in magnitude, got 1e400");
	CHECK_BAD("{\"servers\": [{\"id\": 0, \"name\": \"x\", \"location\": \"l\", "
		  "\"network_zone\": \"z\", \"status\": \"healthy\"}], \"floating_ips\": []}",
		  "servers[0].id: expected a positive integer, got 0");
	CHECK_BAD("{\"servers\": [{\"id\": null, \"name\": \"x\", \"location\": \"l\", "
		  "\"network_zone\": \"z\", \"status\": \"healthy\"}], \"floating_ips\": []}",
		  "servers[0].id: expected an integer, got null");
	CHECK_BAD("{\"servers\": [{\"id\": 1, \"name\": \"x\", \"location\": \"l\", "
		  "\"network_zone\": \"z\", \"status\": \"sick\"}], \"floating_ips\": []}",
		  "snap.json: servers[0].status: unknown status \"sick\" (healthy, unhealthy, unknown or uncheckable)");
	CHECK_BAD("{\"servers\": [{\"id\": 1, \"name\": \"x\", \"location\": \"l\", "
		  "\"network_zone\": \"z\", \"status\": \"healthy\", \"probation\": 1}],"
		  "\"floating_ips\": []}",
		  "snap.json: servers[0].probation: expected true or false, got 1");
	CHECK_BAD("{\"servers\": [{\"id\": 1, \"name\": \"x\", \"location\": \"l\", "
		  "\"network_zone\": \"z\", \"status\": true}], \"floating_ips\": []}",
		  "servers[0].status: expected a string, got true");
	CHECK_BAD("{\"servers\": [{\"id\": 1, \"name\": \"x\", \"location\": \"l\", "
		  "\"network_zone\": \"z\", \"status\": \"healthy\", \"resource_index\": \"2\"}],"
		  "\"floating_ips\": []}",
		  "servers[0].resource_index: expected an integer or null, got a string \"2\"");
	CHECK_BAD("{\"servers\": [{\"id\": 1, \"name\": \"x\", \"location\": \"l\", "
		  "\"network_zone\": \"z\", \"status\": \"healthy\", \"resource_index\": 0.5}],"
		  "\"floating_ips\": []}",
		  "servers[0].resource_index: expected an integer, got 0.5");
	CHECK_BAD("{\"servers\": [{\"id\": 1, \"name\": \"x\", \"location\": \"l\", "
		  "\"network_zone\": \"z\", \"status\": \"healthy\", \"id\": 2}], \"floating_ips\": []}",
		  "servers[0].id: duplicate key");
	CHECK_BAD("{\"servers\": [{\"id\": 1, \"name\": \"\xff\", \"location\": \"l\", "
		  "\"network_zone\": \"z\", \"status\": \"healthy\"}], \"floating_ips\": []}",
		  "snap.json:1:33: invalid JSON: invalid UTF-8 (byte 0xff)");
	CHECK_BAD("{\"servers\": [{\"id\": \"\xff\xfe\", \"name\": \"x\", \"location\": \"l\", "
		  "\"network_zone\": \"z\", \"status\": \"healthy\"}], \"floating_ips\": []}",
		  "snap.json:1:22: invalid JSON: invalid UTF-8 (byte 0xff)");
	/* "\u0000" decodes to a NUL, which no C string could carry. */
	CHECK_BAD("{\"servers\": [{\"id\": 1, \"name\": \"a\\u0000b\", \"location\": \"l\", "
		  "\"network_zone\": \"z\", \"status\": \"healthy\"}], \"floating_ips\": []}",
		  "snap.json: servers[0].name: string contains a NUL character");
	/* Integers written as floats are integers; 11.5 is not. */
	CHECK_BAD("{\"servers\": [{\"id\": 11.5, \"name\": \"x\", \"location\": \"l\", "
		  "\"network_zone\": \"z\", \"status\": \"healthy\"}], \"floating_ips\": []}",
		  "servers[0].id: expected an integer, got 11.5");
	CHECK_BAD("{\"servers\": [7], \"floating_ips\": []}",
		  "servers[0]: expected an object, got 7");

	/* Every missing field is reported, not only the first. */
	const char *missing[] = { "id", "name", "location", "network_zone", "status" };
	struct snapshot s;
	int rc;
	char *m = parse("{\"servers\": [{}], \"floating_ips\": []}", &s, &rc);
	CHECK_EQ_INT(rc, -1);
	for (size_t i = 0; i < 5; i++) {
		char want[64];
		snprintf(want, sizeof want, "snap.json: servers[0].%s: missing (required)", missing[i]);
		if (!strstr(m, want))
			TEST_FAIL_("messages \"%s\" lack \"%s\"", m, want);
	}
	CHECK(strstr(m, "resource_index") == NULL);
	free(m);
	snapshot_release(&s);
}

TEST(bad_fip_fields)
{
	CHECK_BAD("{\"servers\": [], \"floating_ips\": [" FIP ", " FIP "]}",
		  "snap.json: floating_ips[1]: duplicate id 1 (also floating_ips[0])");
	CHECK_BAD("{\"servers\": [], \"floating_ips\": [{\"id\": 1}]}",
		  "floating_ips[0].location: missing (required)");
	CHECK_BAD("{\"servers\": [], \"floating_ips\": [{\"id\": 1}]}",
		  "floating_ips[0].network_zone: missing (required)");
	CHECK_BAD("{\"servers\": [], \"floating_ips\": [{\"id\": 1, \"location\": \"l\", "
		  "\"network_zone\": \"z\", \"server\": \"11\"}]}",
		  "floating_ips[0].server: expected a server id or null, got a string \"11\"");
	CHECK_BAD("{\"servers\": [], \"floating_ips\": [{\"id\": 1, \"location\": \"l\", "
		  "\"network_zone\": \"z\", \"server\": -4}]}",
		  "floating_ips[0].server: expected a positive integer, got -4");
	CHECK_BAD("{\"servers\": [], \"floating_ips\": [{\"id\": 1, \"location\": \"l\", "
		  "\"network_zone\": \"z\", \"name\": 3}]}",
		  "floating_ips[0].name: expected a string, got 3");
	CHECK_BAD("{\"servers\": [], \"floating_ips\": [{\"id\": 1, \"location\": \"l\", "
		  "\"network_zone\": \"z\", \"ip\": []}]}",
		  "floating_ips[0].ip: expected a string, got an array");
	CHECK_BAD("{\"servers\": [], \"floating_ips\": [{\"id\": 1, \"location\": \"l\", "
		  "\"network_zone\": \"z\", \"resource_index\": {}}]}",
		  "floating_ips[0].resource_index: expected an integer or null, got an object");

	/* Duplicates are reported in file order, naming the first holder. */
	struct snapshot s;
	int rc;
	char *m = parse("{\"servers\": [" SRV ", " SRV ", " SRV "], \"floating_ips\": []}",
			&s, &rc);
	CHECK_EQ_INT(rc, -1);
	CHECK_EQ_STR(m, "snap.json: servers[1]: duplicate id 11 (also servers[0])\n"
		     "snap.json: servers[2]: duplicate id 11 (also servers[0])");
	free(m);
	snapshot_release(&s);
}

TEST(long_values_are_cut_in_messages)
{
	char text[600];
	char big[300];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	snprintf(text, sizeof text, "{\"servers\": [{\"id\": 1, \"name\": \"x\", \"location\": \"l\", "
		 "\"network_zone\": \"z\", \"status\": \"%s\\u001b\"}], \"floating_ips\": []}", big);
	struct snapshot s;
	int rc;
	char *m = parse(text, &s, &rc);
	CHECK_EQ_INT(rc, -1);
	CHECK(strstr(m, "unknown status \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"...") != NULL);
	CHECK(strlen(m) < 200);
	free(m);
	snapshot_release(&s);

	/* The cut never splits a character: "x" then 19 two-byte "ä". */
	m = parse("{\"servers\": [{\"id\": 1, \"name\": \"x\", \"location\": \"l\", "
		  "\"network_zone\": \"z\", \"status\": \"x"
		  "\u00e4\u00e4\u00e4\u00e4\u00e4\u00e4\u00e4\u00e4\u00e4\u00e4"
		  "\u00e4\u00e4\u00e4\u00e4\u00e4\u00e4\u00e4\u00e4\u00e4\u00e4"
		  "\u00e4\u00e4\u00e4\u00e4\u00e4\u00e4\u00e4\u00e4\u00e4\u00e4\"}],"
		  "\"floating_ips\": []}", &s, &rc);
	CHECK(strstr(m, "\"x\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4"
		     "\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4"
		     "\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\"...") != NULL);
	free(m);
	snapshot_release(&s);

	/* Control characters in a quoted value are escaped. */
	m = parse("{\"servers\": [{\"id\": 1, \"name\": \"x\", \"location\": \"l\", "
		  "\"network_zone\": \"z\", \"status\": \"a\\u001bb\"}], \"floating_ips\": []}", &s, &rc);
	CHECK(strstr(m, "\"a\\x1bb\"") != NULL);
	CHECK(strchr(m, 0x1b) == NULL);
	free(m);
	snapshot_release(&s);
}

TEST(all_errors_collected)
{
	struct snapshot s;
	int rc;
	char *m = parse("{\"servers\": [{\"id\": \"a\", \"name\": \"x\", \"location\": \"l\", "
			"\"network_zone\": \"z\", \"status\": \"sick\"}],"
			"\"floating_ips\": [{\"id\": -1, \"location\": 5, \"network_zone\": \"z\"}]}",
			&s, &rc);
	CHECK_EQ_INT(rc, -1);
	CHECK(strstr(m, "servers[0].id") != NULL);
	CHECK(strstr(m, "servers[0].status") != NULL);
	CHECK(strstr(m, "floating_ips[0].id") != NULL);
	CHECK(strstr(m, "floating_ips[0].location") != NULL);
	free(m);
	snapshot_release(&s);
}

TEST(write_then_read)
{
	struct plan_server sv[] = {
		{ .id = 11, .name = "lb \"1\"\n", .location = "fsn1", .network_zone = "eu-central",
		  .has_index = true, .resource_index = 0, .status = HEALTH_HEALTHY,
		  .probation = true },
		{ .id = 9007199254740991LL, .name = "lb-2", .location = "nbg1",
		  .network_zone = "eu-central", .status = HEALTH_UNHEALTHY },
		{ .id = 13, .name = "lb-3", .location = "nbg1", .network_zone = "eu-central",
		  .has_index = true, .resource_index = -7, .status = HEALTH_UNCHECKABLE },
	};
	struct plan_fip fp[] = {
		{ .id = 1, .name = "vip-1", .ip = "203.0.113.1", .location = "fsn1",
		  .network_zone = "eu-central", .server = 77, .server_missing = true },
		{ .id = 2, .location = "nbg1", .network_zone = "eu-central",
		  .has_index = true, .resource_index = 4 },
	};
	struct buf b = BUF_INIT;
	struct plan_options o = { .when_none_healthy = PLAN_SPREAD, .rebalance = true };
	snapshot_write("web", &o, sv, 3, fp, 2, &b);

	struct snapshot s;
	int rc;
	char *m = parse(b.data, &s, &rc);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_STR(m, "");
	CHECK_EQ_STR(s.group, "web");
	CHECK_EQ_INT(s.opts.when_none_healthy, PLAN_SPREAD);
	CHECK(s.opts.rebalance);
	CHECK_EQ_INT(s.n_servers, 3);
	CHECK_EQ_INT(s.n_fips, 2);
	for (size_t i = 0; i < s.n_servers && i < 3; i++) {
		CHECK_EQ_INT(s.servers[i].id, sv[i].id);
		CHECK_EQ_STR(s.servers[i].name, sv[i].name);
		CHECK_EQ_STR(s.servers[i].location, sv[i].location);
		CHECK_EQ_STR(s.servers[i].network_zone, sv[i].network_zone);
		CHECK_EQ_INT(s.servers[i].has_index, sv[i].has_index);
		CHECK_EQ_INT(s.servers[i].resource_index, sv[i].resource_index);
		CHECK_EQ_INT(s.servers[i].status, sv[i].status);
		CHECK_EQ_INT(s.servers[i].probation, sv[i].probation);
	}
	for (size_t i = 0; i < s.n_fips && i < 2; i++) {
		CHECK_EQ_INT(s.fips[i].id, fp[i].id);
		CHECK(str_eq(s.fips[i].name, fp[i].name));
		CHECK(str_eq(s.fips[i].ip, fp[i].ip));
		CHECK_EQ_INT(s.fips[i].has_index, fp[i].has_index);
		CHECK_EQ_INT(s.fips[i].resource_index, fp[i].resource_index);
		CHECK_EQ_INT(s.fips[i].server, fp[i].server);
		CHECK_EQ_INT(s.fips[i].server_missing, fp[i].server_missing);
	}
	/* One entry per line, for people who edit it: group, two options,
	 * 3 servers, 2 floating IPs, and the lines that open and close the
	 * arrays. */
	size_t lines = 0;
	for (const char *p = b.data; *p; p++)
		lines += *p == '\n';
	CHECK_EQ_INT(lines, 12);
	if (lines != 12)
		fprintf(stderr, "%s", b.data);
	free(m);
	snapshot_release(&s);
	buf_release(&b);

	/* No group, no entries: still valid. */
	buf_init(&b, 0);
	snapshot_write(NULL, NULL, NULL, 0, NULL, 0, &b);
	CHECK_EQ_STR(b.data, "{\"servers\": [],\n \"floating_ips\": []}\n");
	m = parse(b.data, &s, &rc);
	CHECK_EQ_INT(rc, 0);
	free(m);
	snapshot_release(&s);
	buf_release(&b);
}

TEST(load_errors)
{
	struct snapshot s;
	struct diags d;
	diags_init(&d, "/nonexistent/snap.json");
	CHECK_EQ_INT(snapshot_load("/nonexistent/snap.json", &s, &d), -1);
	CHECK_EQ_INT(d.errors, 1);
	if (d.n == 1) {
		char *line = diag_format(&d, &d.list[0]);
		CHECK_EQ_STR(line, "/nonexistent/snap.json: cannot read: No such file or directory");
		free(line);
	}
	diags_release(&d);
	snapshot_release(&s);

	diags_init(&d, "/");
	CHECK_EQ_INT(snapshot_load("/", &s, &d), -1);
	CHECK_EQ_INT(d.errors, 1);
	diags_release(&d);
	snapshot_release(&s);
}

int main(void)
{
	RUN(good_spec_example);
	RUN(good_optional_fields);
	RUN(unknown_keys_warn);
	RUN(bad_syntax);
	RUN(bad_top_level);
	RUN(bad_options);
	RUN(bad_server_fields);
	RUN(bad_fip_fields);
	RUN(long_values_are_cut_in_messages);
	RUN(all_errors_collected);
	RUN(write_then_read);
	RUN(load_errors);
	return test_report();
}
