/*
 * The JSON writer (json_writer.c), the JSON reader with positions
 * (json.c) and the exact-integer rule they share with the API parser.
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "json.h"
#include "planner.h"
#include "report.h"
#include "snapshot.h"
#include "test.h"

/* ---- writer ------------------------------------------------------------ */

TEST(writer_compact)
{
	struct buf b = BUF_INIT;
	struct jw jw;
	jw_init(&jw, &b, false);
	jw_object_begin(&jw, NULL);
	jw_string(&jw, "s", "a\"b\\c\n\x01");
	jw_string(&jw, "null string", NULL);
	jw_int(&jw, "min", INT64_MIN);
	jw_int(&jw, "max", INT64_MAX);
	jw_bool(&jw, "t", true);
	jw_bool(&jw, "f", false);
	jw_null(&jw, "n");
	jw_array_begin(&jw, "empty");
	jw_end(&jw);
	jw_object_begin(&jw, "nested \"key\"");
	jw_array_begin(&jw, "a");
	jw_int(&jw, NULL, 1);
	jw_string(&jw, NULL, "x");
	jw_object_begin(&jw, NULL);
	jw_end(&jw);
	jw_array_begin(&jw, NULL);
	jw_end(&jw);
	jw_null(&jw, NULL);
	jw_end(&jw);
	jw_end(&jw);
	jw_end(&jw);
	CHECK_EQ_INT(jw.depth, 0);
	CHECK_EQ_STR(b.data,
		     "{\"s\":\"a\\\"b\\\\c\\n\\u0001\",\"null string\":null,"
		     "\"min\":-9223372036854775808,\"max\":9223372036854775807,"
		     "\"t\":true,\"f\":false,\"n\":null,\"empty\":[],"
		     "\"nested \\\"key\\\"\":{\"a\":[1,\"x\",{},[],null]}}");
	buf_release(&b);
}

TEST(writer_layouts)
{
	struct buf b = BUF_INIT;
	struct jw jw;
	jw_init(&jw, &b, true);
	jw_object_begin(&jw, NULL);
	jw_layout(&jw, JW_HANG);
	jw_int(&jw, "a", 1);
	jw_array_begin(&jw, "l");
	jw_layout(&jw, JW_LINES);
	jw_object_begin(&jw, NULL);
	jw_int(&jw, "x", 1);
	jw_int(&jw, "y", 2);
	jw_end(&jw);
	jw_int(&jw, NULL, 3);
	jw_end(&jw);
	jw_array_begin(&jw, "e");
	jw_layout(&jw, JW_LINES);
	jw_end(&jw);
	jw_end(&jw);
	CHECK_EQ_STR(b.data, "{\"a\": 1,\n \"l\": [\n  {\"x\": 1, \"y\": 2},\n  3\n ],\n \"e\": []}");
	buf_release(&b);
}

/* Misuse is a bug the writer refuses to hide: it aborts. */
static void misuse_key_in_array(void)
{
	struct buf b = BUF_INIT;
	struct jw jw;
	jw_init(&jw, &b, false);
	jw_array_begin(&jw, NULL);
	jw_int(&jw, "k", 1);
}

static void misuse_no_key_in_object(void)
{
	struct buf b = BUF_INIT;
	struct jw jw;
	jw_init(&jw, &b, false);
	jw_object_begin(&jw, NULL);
	jw_int(&jw, NULL, 1);
}

static void misuse_end_without_begin(void)
{
	struct buf b = BUF_INIT;
	struct jw jw;
	jw_init(&jw, &b, false);
	jw_end(&jw);
}

static void misuse_too_deep(void)
{
	struct buf b = BUF_INIT;
	struct jw jw;
	jw_init(&jw, &b, false);
	for (int i = 0; i <= JW_MAX_DEPTH; i++)
		jw_array_begin(&jw, NULL);
}

static bool aborts(void (*fn)(void))
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		/* The message is expected; keep the test output clean. */
		if (!freopen("/dev/null", "w", stderr))
			_exit(3);
		fn();
		_exit(0);
	}
	int st = 0;
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return false;
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
}

TEST(writer_misuse_aborts)
{
	CHECK(aborts(misuse_key_in_array));
	CHECK(aborts(misuse_no_key_in_object));
	CHECK(aborts(misuse_end_without_begin));
	CHECK(aborts(misuse_too_deep));
}

/*
 * snapshot_write() and report_json() still place their punctuation by
 * hand (other work changes them); the writer must be able to take them
 * over byte for byte. These are those conversions, checked against the
 * real functions.
 */
/*
 * The JSON interfaces (SPEC section 6), written through the writer: what
 * tests and operators' scripts parse. Any change here is a change of the
 * interface and must be deliberate.
 */
static const struct plan_server servers[] = {
	{ .id = 11, .name = "lb \"1\"\n", .location = "fsn1", .network_zone = "eu-central",
	  .has_index = true, .resource_index = 0, .status = HEALTH_UNHEALTHY },
	{ .id = 12, .name = "lb-2", .location = "fsn1", .network_zone = "eu-central",
	  .status = HEALTH_HEALTHY, .probation = true },
	{ .id = 13, .name = "lb-3", .location = "nbg1", .network_zone = "eu-central",
	  .has_index = true, .resource_index = -7, .status = HEALTH_UNKNOWN },
	{ .id = 14, .name = "lb-4", .location = "fsn1", .network_zone = "eu-central",
	  .has_index = true, .resource_index = 4, .status = HEALTH_HEALTHY, .probation = true },
};
static const struct plan_fip fips[] = {
	{ .id = 1, .name = "vip-1", .ip = "203.0.113.1", .location = "fsn1",
	  .network_zone = "eu-central", .server = 11 },
	{ .id = 2, .location = "fsn1", .network_zone = "eu-central",
	  .has_index = true, .resource_index = 4, .server = 12 },
	{ .id = 3, .name = "vip-3", .location = "fsn1", .network_zone = "eu-central",
	  .server = 99 },
	{ .id = 4, .name = "vip-4", .location = "fsn1", .network_zone = "eu-central",
	  .server = 98, .server_missing = true },
};

static const char snapshot_full[] =
	"{\"group\": \"web \\\"x\\\"\",\n"
	" \"when_none_healthy\": \"spread\",\n"
	" \"rebalance\": true,\n"
	" \"servers\": [\n"
	"  {\"id\": 11, \"name\": \"lb \\\"1\\\"\\n\", \"location\": \"fsn1\", \"network_zone\": \"eu-central\", \"resource_index\": 0, \"status\": \"unhealthy\"},\n"
	"  {\"id\": 12, \"name\": \"lb-2\", \"location\": \"fsn1\", \"network_zone\": \"eu-central\", \"resource_index\": null, \"status\": \"healthy\", \"probation\": true},\n"
	"  {\"id\": 13, \"name\": \"lb-3\", \"location\": \"nbg1\", \"network_zone\": \"eu-central\", \"resource_index\": -7, \"status\": \"unknown\"},\n"
	"  {\"id\": 14, \"name\": \"lb-4\", \"location\": \"fsn1\", \"network_zone\": \"eu-central\", \"resource_index\": 4, \"status\": \"healthy\", \"probation\": true}\n"
	" ],\n"
	" \"floating_ips\": [\n"
	"  {\"id\": 1, \"name\": \"vip-1\", \"ip\": \"203.0.113.1\", \"location\": \"fsn1\", \"network_zone\": \"eu-central\", \"resource_index\": null, \"server\": 11},\n"
	"  {\"id\": 2, \"location\": \"fsn1\", \"network_zone\": \"eu-central\", \"resource_index\": 4, \"server\": 12},\n"
	"  {\"id\": 3, \"name\": \"vip-3\", \"location\": \"fsn1\", \"network_zone\": \"eu-central\", \"resource_index\": null, \"server\": 99},\n"
	"  {\"id\": 4, \"name\": \"vip-4\", \"location\": \"fsn1\", \"network_zone\": \"eu-central\", \"resource_index\": null, \"server\": 98, \"server_missing\": true}\n"
	" ]}\n";

static const char snapshot_no_group[] =
	"{\"when_none_healthy\": \"spread\",\n"
	" \"rebalance\": true,\n"
	" \"servers\": [\n"
	"  {\"id\": 11, \"name\": \"lb \\\"1\\\"\\n\", \"location\": \"fsn1\", \"network_zone\": \"eu-central\", \"resource_index\": 0, \"status\": \"unhealthy\"},\n"
	"  {\"id\": 12, \"name\": \"lb-2\", \"location\": \"fsn1\", \"network_zone\": \"eu-central\", \"resource_index\": null, \"status\": \"healthy\", \"probation\": true},\n"
	"  {\"id\": 13, \"name\": \"lb-3\", \"location\": \"nbg1\", \"network_zone\": \"eu-central\", \"resource_index\": -7, \"status\": \"unknown\"},\n"
	"  {\"id\": 14, \"name\": \"lb-4\", \"location\": \"fsn1\", \"network_zone\": \"eu-central\", \"resource_index\": 4, \"status\": \"healthy\", \"probation\": true}\n"
	" ],\n"
	" \"floating_ips\": [\n"
	"  {\"id\": 1, \"name\": \"vip-1\", \"ip\": \"203.0.113.1\", \"location\": \"fsn1\", \"network_zone\": \"eu-central\", \"resource_index\": null, \"server\": 11},\n"
	"  {\"id\": 2, \"location\": \"fsn1\", \"network_zone\": \"eu-central\", \"resource_index\": 4, \"server\": 12},\n"
	"  {\"id\": 3, \"name\": \"vip-3\", \"location\": \"fsn1\", \"network_zone\": \"eu-central\", \"resource_index\": null, \"server\": 99},\n"
	"  {\"id\": 4, \"name\": \"vip-4\", \"location\": \"fsn1\", \"network_zone\": \"eu-central\", \"resource_index\": null, \"server\": 98, \"server_missing\": true}\n"
	" ]}\n";

static const char snapshot_empty[] =
	"{\"group\": \"web \\\"x\\\"\",\n"
	" \"when_none_healthy\": \"spread\",\n"
	" \"rebalance\": true,\n"
	" \"servers\": [],\n"
	" \"floating_ips\": []}\n";

static const char snapshot_no_options[] =
	"{\"group\": \"web \\\"x\\\"\",\n"
	" \"servers\": [\n"
	"  {\"id\": 11, \"name\": \"lb \\\"1\\\"\\n\", \"location\": \"fsn1\", \"network_zone\": \"eu-central\", \"resource_index\": 0, \"status\": \"unhealthy\"},\n"
	"  {\"id\": 12, \"name\": \"lb-2\", \"location\": \"fsn1\", \"network_zone\": \"eu-central\", \"resource_index\": null, \"status\": \"healthy\", \"probation\": true},\n"
	"  {\"id\": 13, \"name\": \"lb-3\", \"location\": \"nbg1\", \"network_zone\": \"eu-central\", \"resource_index\": -7, \"status\": \"unknown\"},\n"
	"  {\"id\": 14, \"name\": \"lb-4\", \"location\": \"fsn1\", \"network_zone\": \"eu-central\", \"resource_index\": 4, \"status\": \"healthy\", \"probation\": true}\n"
	" ],\n"
	" \"floating_ips\": [\n"
	"  {\"id\": 1, \"name\": \"vip-1\", \"ip\": \"203.0.113.1\", \"location\": \"fsn1\", \"network_zone\": \"eu-central\", \"resource_index\": null, \"server\": 11},\n"
	"  {\"id\": 2, \"location\": \"fsn1\", \"network_zone\": \"eu-central\", \"resource_index\": 4, \"server\": 12},\n"
	"  {\"id\": 3, \"name\": \"vip-3\", \"location\": \"fsn1\", \"network_zone\": \"eu-central\", \"resource_index\": null, \"server\": 99},\n"
	"  {\"id\": 4, \"name\": \"vip-4\", \"location\": \"fsn1\", \"network_zone\": \"eu-central\", \"resource_index\": null, \"server\": 98, \"server_missing\": true}\n"
	" ]}\n";

TEST(snapshot_write_interface)
{
	struct plan_options o = { .when_none_healthy = PLAN_SPREAD, .rebalance = true };
	const char *const want[] = { snapshot_full, snapshot_no_group, snapshot_empty,
				     snapshot_no_options };
	for (int shape = 0; shape < 4; shape++) {
		struct buf got = BUF_INIT;
		const char *group = shape == 1 ? NULL : "web \"x\"";
		size_t ns = shape == 2 ? 0 : ARRAY_SIZE(servers);
		size_t nf = shape == 2 ? 0 : ARRAY_SIZE(fips);
		snapshot_write(group, shape == 3 ? NULL : &o, servers, ns, fips, nf, &got);
		CHECK_EQ_STR(got.data, want[shape]);
		/* And it reads back as it was written. */
		struct snapshot back;
		struct diags d;
		diags_init(&d, "t.json");
		CHECK(snapshot_parse(got.data, got.len, &back, &d) == 0);
		CHECK(back.n_servers == ns && back.n_fips == nf);
		for (size_t i = 0; i < back.n_servers; i++)
			CHECK(back.servers[i].probation == servers[i].probation &&
			      back.servers[i].status == servers[i].status);
		for (size_t i = 0; i < back.n_fips; i++)
			CHECK(back.fips[i].server_missing == fips[i].server_missing &&
			      back.fips[i].server == fips[i].server);
		snapshot_release(&back);
		diags_release(&d);
		buf_release(&got);
	}
}

static const char report_want[] =
	"{\"groups\":[{\"id\":\"web\",\"display_name\":\"Web \\\"1\\\"\",\"readonly\""
	":true,\"deferred\":true,\"defer_reason\":\"a server's status is unknown\",\""
	"error\":null,\"fail_open\":false,\"frozen\":false,\"candidates\":2,\"actions"
	"\":[{\"floating_ip\":1,\"floating_ip_name\":\"vip-1\",\"ip\":\"203.0.113.1\""
	",\"from\":11,\"from_name\":\"lb \\\"1\\\"\\n\",\"from_status\":\"unhealthy\""
	",\"to\":14,\"to_name\":\"lb-4\",\"to_status\":\"healthy\",\"reason\":\"targe"
	"t_unhealthy\"},{\"floating_ip\":2,\"floating_ip_name\":null,\"ip\":null,\"fr"
	"om\":12,\"from_name\":\"lb-2\",\"from_status\":\"healthy\",\"to\":14,\"to_na"
	"me\":\"lb-4\",\"to_status\":\"healthy\",\"reason\":\"pending\",\"pending_rea"
	"son\":\"canonical\",\"due_at\":1764158400000},{\"floating_ip\":4,\"floating_"
	"ip_name\":\"vip-4\",\"ip\":null,\"from\":98,\"from_name\":null,\"from_status"
	"\":null,\"to\":14,\"to_name\":\"lb-4\",\"to_status\":\"healthy\",\"reason\":"
	"\"target_missing\"}],\"skipped\":[{\"floating_ip\":3,\"floating_ip_name\":\""
	"vip-3\",\"ip\":null,\"server\":99,\"server_name\":null,\"reason\":\"foreign_"
	"target\"}]},{\"id\":\"other\",\"display_name\":null,\"readonly\":false,\"def"
	"erred\":false,\"defer_reason\":null,\"error\":\"listing servers: transport: "
	"timed out\",\"fail_open\":false,\"frozen\":false,\"candidates\":0,\"actions"
	"\":[],\"skipped\":[]},{\"id\":\"nodue\",\"display_name\":null,\"readonly\":f"
	"alse,\"deferred\":false,\"defer_reason\":null,\"error\":null,\"fail_open\":f"
	"alse,\"frozen\":false,\"candidates\":2,\"actions\":[{\"floating_ip\":1,\"flo"
	"ating_ip_name\":\"vip-1\",\"ip\":\"203.0.113.1\",\"from\":11,\"from_name\":"
	"\"lb \\\"1\\\"\\n\",\"from_status\":\"unhealthy\",\"to\":14,\"to_name\":\"lb"
	"-4\",\"to_status\":\"healthy\",\"reason\":\"target_unhealthy\"},{\"floating_"
	"ip\":2,\"floating_ip_name\":null,\"ip\":null,\"from\":12,\"from_name\":\"lb-"
	"2\",\"from_status\":\"healthy\",\"to\":14,\"to_name\":\"lb-4\",\"to_status\""
	":\"healthy\",\"reason\":\"pending\",\"pending_reason\":\"canonical\",\"due_a"
	"t\":null},{\"floating_ip\":4,\"floating_ip_name\":\"vip-4\",\"ip\":null,\"fr"
	"om\":98,\"from_name\":null,\"from_status\":null,\"to\":14,\"to_name\":\"lb-4"
	"\",\"to_status\":\"healthy\",\"reason\":\"target_missing\"}],\"skipped\":[{"
	"\"floating_ip\":3,\"floating_ip_name\":\"vip-3\",\"ip\":null,\"server\":99,"
	"\"server_name\":null,\"reason\":\"foreign_target\"}]}]}"
	"\n";

TEST(report_json_interface)
{
	struct plan plan;
	plan_compute(NULL, servers, ARRAY_SIZE(servers), fips, ARRAY_SIZE(fips), &plan);
	CHECK(plan.n_actions > 0 && plan.n_pending > 0 && plan.n_skipped > 0);
	int64_t due[8] = { 1764158400000, 0, 0, 0 };
	struct report_group rg[3] = { {
		.id = "web", .display_name = "Web \"1\"", .readonly = true, .deferred = true,
		.defer_reason = "a server's status is unknown", .servers = servers,
		.n_servers = ARRAY_SIZE(servers), .fips = fips, .n_fips = ARRAY_SIZE(fips),
		.plan = &plan, .pending_due = due,
	}, {
		.id = "other", .error = "listing servers: transport: timed out",
	}, {
		.id = "nodue", .servers = servers,
		.n_servers = ARRAY_SIZE(servers), .fips = fips, .n_fips = ARRAY_SIZE(fips),
		.plan = &plan,
	} };
	struct buf got = BUF_INIT;
	report_json(rg, 3, &got);
	CHECK_EQ_STR(got.data, report_want);
	buf_release(&got);
	plan_release(&plan);
}

/* ---- reader -------------------------------------------------------------- */

static struct diags rd;

static struct node *parse(const char *text)
{
	struct node *n = NULL;
	diags_release(&rd);
	diags_init(&rd, "t.json");
	json_parse(text, strlen(text), 0, &n, &rd);
	return n;
}

/* The one diagnostic of the last parse, formatted. */
static char *error_of(const char *text)
{
	struct node *n = parse(text);
	node_free(n);
	if (rd.n != 1)
		return xasprintf("%zu diagnostics", rd.n);
	return diag_format(&rd, &rd.list[0]);
}

#define CHECK_ERROR(text, want) do {                                  \
		char *got_ = error_of(text);                          \
		CHECK_EQ_STR(got_, want);                             \
		free(got_);                                           \
	} while (0)

TEST(reader_values_and_positions)
{
	struct node *n = parse("{\"a\": 1,\n \"b\": [true, false, null, -0, 2.5e1],\n"
			       "  \"\xc3\xa4\": {\"x\": \"y\"}, \"k\": \"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}");
	CHECK(n != NULL);
	if (!n)
		return;
	CHECK_EQ_INT(n->type, NODE_MAP);
	CHECK_EQ_INT(n->n, 4);
	const struct node *a = node_get(n, "a"), *b = node_get(n, "b");
	CHECK(a && a->type == NODE_INT && a->v.i == 1 && !a->plain);
	CHECK(a && a->key_line == 1 && a->key_col == 2 && a->line == 1 && a->col == 7);
	CHECK(b && b->type == NODE_SEQ && b->n == 5);
	if (b && b->n == 5) {
		CHECK(b->items[0]->type == NODE_BOOL && b->items[0]->v.b);
		CHECK(b->items[1]->type == NODE_BOOL && !b->items[1]->v.b);
		CHECK_EQ_INT(b->items[2]->type, NODE_NULL);
		CHECK(b->items[3]->type == NODE_INT && b->items[3]->v.i == 0);
		CHECK(b->items[4]->type == NODE_FLOAT && b->items[4]->v.f == 25.0);
		CHECK_EQ_STR(b->items[4]->text, "2.5e1");
		CHECK_EQ_INT(b->items[4]->line, 2);
		CHECK_EQ_INT(b->items[4]->col, 31);
	}
	/* Columns count characters: the key is two bytes, one column. */
	const struct node *u = node_get(n, "\xc3\xa4");
	CHECK(u && u->key_line == 3 && u->key_col == 3 && u->col == 8);
	const struct node *x = u ? node_get(u, "x") : NULL;
	CHECK(x && x->col == 14 && x->type == NODE_STRING);
	const struct node *k = node_get(n, "k");
	CHECK(k && k->text_len == 8 && memcmp(k->text, "\"\\/\b\f\n\r\t", 8) == 0);
	node_free(n);
}

TEST(reader_strings_decode)
{
	/* A surrogate pair is one character beyond the BMP. */
	struct node *n = parse("[\"\\ud83d\\ude00 \\u00e4\\u20AC\", \"a\\u0000b\", {\"k\\u0000\": 1}]");
	CHECK(n && n->n == 3);
	if (n && n->n == 3) {
		CHECK_EQ_STR(n->items[0]->text, "\xf0\x9f\x98\x80 \xc3\xa4\xe2\x82\xac");
		/* NUL inside: text_len and key_len carry the whole length. */
		CHECK_EQ_INT(n->items[1]->text_len, 3);
		CHECK(memcmp(n->items[1]->text, "a\0b", 3) == 0);
		CHECK_EQ_INT(n->items[2]->items[0]->key_len, 2);
		CHECK(node_get(n->items[2], "k") == NULL);
	}
	node_free(n);
	/* Raw UTF-8 passes as it is. */
	n = parse("\"\xe2\x82\xac\xf0\x9f\x98\x80\"");
	CHECK(n && n->text_len == 7);
	node_free(n);
}

TEST(reader_numbers)
{
	struct node *n = parse("[9223372036854775807, -9223372036854775808, 9223372036854775808, "
			       "1e400, 0.5, 11.0]");
	CHECK(n && n->n == 6);
	if (n && n->n == 6) {
		CHECK(n->items[0]->type == NODE_INT && n->items[0]->v.i == INT64_MAX);
		CHECK(n->items[1]->type == NODE_INT && n->items[1]->v.i == INT64_MIN);
		CHECK_EQ_INT(n->items[2]->type, NODE_FLOAT);   /* beyond int64 */
		CHECK(n->items[3]->type == NODE_FLOAT && n->items[3]->v.f > 1e308);
		int64_t v;
		CHECK_EQ_INT(json_node_int(n->items[2], &v), JSON_INT_TOO_BIG);
		CHECK_EQ_INT(json_node_int(n->items[3], &v), JSON_INT_TOO_BIG);
		CHECK_EQ_INT(json_node_int(n->items[4], &v), JSON_INT_FRACTION);
		CHECK(json_node_int(n->items[5], &v) == JSON_INT_OK && v == 11);
	}
	node_free(n);
}

TEST(exact_integers)
{
	int64_t v = 0;
	double inf = strtod("inf", NULL), nan = strtod("nan", NULL);
	CHECK(json_exact_int(9007199254740991.0, &v) == JSON_INT_OK && v == JSON_MAX_EXACT);
	CHECK(json_exact_int(-9007199254740991.0, &v) == JSON_INT_OK && v == -JSON_MAX_EXACT);
	CHECK_EQ_INT(json_exact_int(9007199254740992.0, &v), JSON_INT_TOO_BIG);
	CHECK_EQ_INT(json_exact_int(inf, &v), JSON_INT_TOO_BIG);
	CHECK_EQ_INT(json_exact_int(nan, &v), JSON_INT_TOO_BIG);
	CHECK_EQ_INT(json_exact_int(2.5, &v), JSON_INT_FRACTION);
	struct node *n = parse("[9007199254740991, 9007199254740992, -9007199254740992]");
	CHECK(n && n->n == 3);
	if (n && n->n == 3) {
		CHECK(json_node_int(n->items[0], &v) == JSON_INT_OK && v == JSON_MAX_EXACT);
		CHECK_EQ_INT(json_node_int(n->items[1], &v), JSON_INT_TOO_BIG);
		CHECK_EQ_INT(json_node_int(n->items[2], &v), JSON_INT_TOO_BIG);
	}
	node_free(n);
}

TEST(reader_errors_point_at_the_byte)
{
	CHECK_ERROR("", "t.json:1:1: invalid JSON: unexpected end of input");
	CHECK_ERROR("  \n ", "t.json:1:1: invalid JSON: unexpected end of input");
	CHECK_ERROR("{\"a\": 1,}", "t.json:1:9: invalid JSON: unexpected '}'");
	CHECK_ERROR("{\n  \"a\": 1,\n}", "t.json:3:1: invalid JSON: unexpected '}'");
	CHECK_ERROR("[1,]", "t.json:1:4: invalid JSON: unexpected ']'");
	CHECK_ERROR("[1 2]", "t.json:1:4: invalid JSON: unexpected '2'");
	CHECK_ERROR("{\"a\" 1}", "t.json:1:6: invalid JSON: unexpected '1'");
	CHECK_ERROR("{a: 1}", "t.json:1:2: invalid JSON: unexpected 'a'");
	CHECK_ERROR("{\"a\": 'x'}", "t.json:1:7: invalid JSON: unexpected '''");
	CHECK_ERROR("[01]", "t.json:1:3: invalid JSON: unexpected '1'");
	CHECK_ERROR("[1.]", "t.json:1:4: invalid JSON: unexpected ']'");
	CHECK_ERROR("[-]", "t.json:1:3: invalid JSON: unexpected ']'");
	CHECK_ERROR("[1e+]", "t.json:1:5: invalid JSON: unexpected ']'");
	CHECK_ERROR("[tru]", "t.json:1:2: invalid JSON: unexpected 't'");
	CHECK_ERROR("{} x", "t.json:1:4: invalid JSON: unexpected 'x'");
	CHECK_ERROR("{\"a\": [1,\n", "t.json:1:10: invalid JSON: unexpected end of input");
	CHECK_ERROR("\"abc", "t.json:1:5: invalid JSON: unexpected end of input");
	CHECK_ERROR("\xef\xbb\xbf{}", "t.json:1:1: invalid JSON: unexpected byte 0xef");
	CHECK_ERROR("[\"a\nb\"]",
		    "t.json:1:4: invalid JSON: control character 0x0a in a string (write it as \\u000a)");
	CHECK_ERROR("[\"\\q\"]", "t.json:1:3: invalid JSON: invalid escape '\\q'");
	CHECK_ERROR("[\"\\u12\"]", "t.json:1:3: invalid JSON: \\u needs four hex digits");
	CHECK_ERROR("[\"x\\ud800\"]", "t.json:1:4: invalid JSON: unpaired surrogate \\ud800");
	CHECK_ERROR("[\"\\ud800\\u0041\"]", "t.json:1:3: invalid JSON: unpaired surrogate \\ud800");
	CHECK_ERROR("[\"\\udc00\"]", "t.json:1:3: invalid JSON: unpaired surrogate \\udc00");
	CHECK_ERROR("[\"\xc3\"]", "t.json:1:3: invalid JSON: invalid UTF-8 (byte 0xc3)");
	CHECK_ERROR("[\"\xed\xa0\x80\"]", "t.json:1:3: invalid JSON: invalid UTF-8 (byte 0xed)");
	CHECK_ERROR("[\"\xc0\xaf\"]", "t.json:1:3: invalid JSON: invalid UTF-8 (byte 0xc0)");
	CHECK_ERROR("[\"\xc3\xa4\", \xc3\xa4]", "t.json:1:7: invalid JSON: unexpected byte 0xc3");

	/* A NUL byte would hide what follows from C-string tools. */
	struct node *n = NULL;
	diags_release(&rd);
	diags_init(&rd, "t.json");
	CHECK_EQ_INT(json_parse("{}\n \0x", 5, 0, &n, &rd), -1);
	CHECK(n == NULL && rd.n == 1);
	if (rd.n == 1) {
		char *line = diag_format(&rd, &rd.list[0]);
		CHECK_EQ_STR(line, "t.json:2:2: invalid JSON: NUL byte");
		free(line);
	}
}

TEST(reader_limits)
{
	struct buf b = BUF_INIT;
	for (int i = 0; i < JSON_MAX_DEPTH; i++)
		buf_addch(&b, '[');
	for (int i = 0; i < JSON_MAX_DEPTH; i++)
		buf_addch(&b, ']');
	struct node *n = parse(b.data);
	CHECK(n != NULL);
	node_free(n);
	buf_reset(&b);
	for (int i = 0; i <= JSON_MAX_DEPTH; i++)
		buf_addch(&b, '[');
	CHECK_ERROR(b.data, "t.json:1:129: invalid JSON: nesting deeper than 128 levels");
	buf_release(&b);

	n = NULL;
	diags_release(&rd);
	diags_init(&rd, "t.json");
	CHECK_EQ_INT(json_parse("[1, 2, 3]", 9, 3, &n, &rd), -1);
	CHECK(rd.n == 1 && strstr(rd.list[0].msg, "more than 3 values") && rd.list[0].col == 8);
	CHECK_EQ_INT(json_parse("[1, 2]", 6, 3, &n, &rd), 0);
	node_free(n);
}

/* The same mistake reads the same in a configuration and a snapshot. */
TEST(one_error_wording_for_configs_and_snapshots)
{
	static const char *const bad[] = {
		"{\n  \"servers\": [1,],\n}", "{\"a\": 1,}", "{\n  \"version\": 1 x}", "",
		"{\"a\": \"\xff\"}", "{\"a\": [\n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct diags dc, ds;
		struct snapshot s;
		diags_init(&dc, "f.json");
		diags_init(&ds, "f.json");
		struct config *c = config_parse("f.json", bad[i], strlen(bad[i]), json_read, CONFIG_RUN, &dc);
		CHECK(c == NULL);
		CHECK_EQ_INT(snapshot_parse(bad[i], strlen(bad[i]), &s, &ds), -1);
		CHECK(dc.n == 1 && ds.n == 1);
		if (dc.n == 1 && ds.n == 1) {
			char *a = diag_format(&dc, &dc.list[0]);
			char *b = diag_format(&ds, &ds.list[0]);
			CHECK_EQ_STR(a, b);
			CHECK(strstr(a, "invalid JSON: ") != NULL);
			free(a);
			free(b);
		}
		diags_release(&dc);
		diags_release(&ds);
	}
}

int main(void)
{
	RUN(writer_compact);
	RUN(writer_layouts);
	RUN(writer_misuse_aborts);
	RUN(snapshot_write_interface);
	RUN(report_json_interface);
	RUN(reader_values_and_positions);
	RUN(reader_strings_decode);
	RUN(reader_numbers);
	RUN(exact_integers);
	RUN(reader_errors_point_at_the_byte);
	RUN(reader_limits);
	RUN(one_error_wording_for_configs_and_snapshots);
	diags_release(&rd);
	return test_report();
}
