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
static void jw_index(struct jw *jw, bool has, int64_t v)
{
	if (has)
		jw_int(jw, "resource_index", v);
	else
		jw_null(jw, "resource_index");
}

static void snapshot_by_writer(const char *group, const struct plan_server *sv, size_t ns,
			       const struct plan_fip *fp, size_t nf, struct buf *out)
{
	struct jw jw;
	jw_init(&jw, out, true);
	jw_object_begin(&jw, NULL);
	jw_layout(&jw, JW_HANG);
	if (group)
		jw_string(&jw, "group", group);
	jw_array_begin(&jw, "servers");
	jw_layout(&jw, JW_LINES);
	for (size_t i = 0; i < ns; i++) {
		jw_object_begin(&jw, NULL);
		jw_int(&jw, "id", sv[i].id);
		jw_string(&jw, "name", sv[i].name);
		jw_string(&jw, "location", sv[i].location);
		jw_string(&jw, "network_zone", sv[i].network_zone);
		jw_index(&jw, sv[i].has_index, sv[i].resource_index);
		jw_string(&jw, "status", health_name(sv[i].status));
		jw_end(&jw);
	}
	jw_end(&jw);
	jw_array_begin(&jw, "floating_ips");
	jw_layout(&jw, JW_LINES);
	for (size_t i = 0; i < nf; i++) {
		jw_object_begin(&jw, NULL);
		jw_int(&jw, "id", fp[i].id);
		if (fp[i].name)
			jw_string(&jw, "name", fp[i].name);
		if (fp[i].ip)
			jw_string(&jw, "ip", fp[i].ip);
		jw_string(&jw, "location", fp[i].location);
		jw_string(&jw, "network_zone", fp[i].network_zone);
		jw_index(&jw, fp[i].has_index, fp[i].resource_index);
		if (fp[i].server)
			jw_int(&jw, "server", fp[i].server);
		else
			jw_null(&jw, "server");
		jw_end(&jw);
	}
	jw_end(&jw);
	jw_end(&jw);
	buf_addch(out, '\n');
}

static const struct plan_server servers[] = {
	{ .id = 11, .name = "lb \"1\"\n", .location = "fsn1", .network_zone = "eu-central",
	  .has_index = true, .resource_index = 0, .status = HEALTH_UNHEALTHY },
	{ .id = 12, .name = "lb-2", .location = "fsn1", .network_zone = "eu-central",
	  .status = HEALTH_HEALTHY },
	{ .id = 13, .name = "lb-3", .location = "nbg1", .network_zone = "eu-central",
	  .has_index = true, .resource_index = -7, .status = HEALTH_UNKNOWN },
};

static const struct plan_fip fips[] = {
	{ .id = 1, .name = "vip-1", .ip = "203.0.113.1", .location = "fsn1",
	  .network_zone = "eu-central", .server = 11 },
	{ .id = 2, .location = "nbg1", .network_zone = "eu-central",
	  .has_index = true, .resource_index = 4 },
	{ .id = 3, .name = "vip-3", .location = "fsn1", .network_zone = "eu-central",
	  .server = 99 },
};

TEST(writer_can_take_over_snapshot_write)
{
	for (int shape = 0; shape < 3; shape++) {
		struct buf want = BUF_INIT, got = BUF_INIT;
		const char *group = shape == 1 ? NULL : "web \"x\"";
		size_t ns = shape == 2 ? 0 : ARRAY_SIZE(servers);
		size_t nf = shape == 2 ? 0 : ARRAY_SIZE(fips);
		snapshot_write(group, servers, ns, fips, nf, &want);
		snapshot_by_writer(group, servers, ns, fips, nf, &got);
		CHECK_EQ_STR(got.data, want.data);
		buf_release(&want);
		buf_release(&got);
	}
}

static const struct plan_server *server_by_id(int64_t id)
{
	for (size_t i = 0; i < ARRAY_SIZE(servers); i++)
		if (servers[i].id == id)
			return &servers[i];
	return NULL;
}

static const struct plan_fip *fip_by_id(int64_t id)
{
	for (size_t i = 0; i < ARRAY_SIZE(fips); i++)
		if (fips[i].id == id)
			return &fips[i];
	return NULL;
}

static void jw_id(struct jw *jw, const char *key, int64_t id)
{
	if (id)
		jw_int(jw, key, id);
	else
		jw_null(jw, key);
}

static void jw_fip(struct jw *jw, int64_t id)
{
	const struct plan_fip *f = fip_by_id(id);
	jw_int(jw, "floating_ip", id);
	jw_string(jw, "floating_ip_name", f ? f->name : NULL);
	jw_string(jw, "ip", f ? f->ip : NULL);
}

static void jw_server(struct jw *jw, const char *key, int64_t id)
{
	const struct plan_server *s = server_by_id(id);
	char name[32], status[32];
	snprintf(name, sizeof name, "%s_name", key);
	snprintf(status, sizeof status, "%s_status", key);
	jw_id(jw, key, id);
	jw_string(jw, name, s ? s->name : NULL);
	jw_string(jw, status, s ? health_name(s->status) : NULL);
}

static void report_by_writer(const struct report_group *g, size_t n, struct buf *out)
{
	struct jw jw;
	jw_init(&jw, out, false);
	jw_object_begin(&jw, NULL);
	jw_array_begin(&jw, "groups");
	for (size_t i = 0; i < n; i++) {
		const struct plan *p = g[i].plan;
		jw_object_begin(&jw, NULL);
		jw_string(&jw, "id", g[i].id);
		jw_string(&jw, "display_name", g[i].display_name);
		jw_bool(&jw, "readonly", g[i].readonly);
		jw_bool(&jw, "deferred", g[i].deferred);
		jw_string(&jw, "defer_reason", g[i].defer_reason);
		jw_string(&jw, "error", g[i].error);
		jw_bool(&jw, "fail_open", p && p->fail_open);
		jw_int(&jw, "candidates", p ? (int64_t)p->n_candidates : 0);
		jw_array_begin(&jw, "actions");
		for (size_t k = 0; p && k < p->n_actions; k++) {
			jw_object_begin(&jw, NULL);
			jw_fip(&jw, p->actions[k].fip);
			jw_server(&jw, "from", p->actions[k].from);
			jw_server(&jw, "to", p->actions[k].to);
			jw_string(&jw, "reason", plan_reason_name(p->actions[k].reason));
			jw_end(&jw);
		}
		jw_end(&jw);
		jw_array_begin(&jw, "skipped");
		for (size_t k = 0; p && k < p->n_skipped; k++) {
			const struct plan_server *s = server_by_id(p->skipped[k].server);
			jw_object_begin(&jw, NULL);
			jw_fip(&jw, p->skipped[k].fip);
			jw_id(&jw, "server", p->skipped[k].server);
			jw_string(&jw, "server_name", s ? s->name : NULL);
			jw_string(&jw, "reason", plan_skip_name(p->skipped[k].reason));
			jw_end(&jw);
		}
		jw_end(&jw);
		jw_end(&jw);
	}
	jw_end(&jw);
	jw_end(&jw);
	buf_addch(out, '\n');
}

TEST(writer_can_take_over_report_json)
{
	struct plan plan;
	plan_compute(servers, ARRAY_SIZE(servers), fips, ARRAY_SIZE(fips), &plan);
	CHECK(plan.n_actions > 0 && plan.n_skipped > 0);
	struct report_group rg[2] = { {
		.id = "web", .display_name = "Web \"1\"", .readonly = true, .deferred = true,
		.defer_reason = "a server's status is unknown", .servers = servers,
		.n_servers = ARRAY_SIZE(servers), .fips = fips, .n_fips = ARRAY_SIZE(fips),
		.plan = &plan,
	}, {
		.id = "other", .error = "listing servers: transport: timed out",
	} };
	struct buf want = BUF_INIT, got = BUF_INIT;
	report_json(rg, 2, &want);
	report_by_writer(rg, 2, &got);
	CHECK_EQ_STR(got.data, want.data);
	buf_release(&want);
	buf_release(&got);
	plan_release(&plan);
}

int main(void)
{
	RUN(writer_compact);
	RUN(writer_layouts);
	RUN(writer_misuse_aborts);
	RUN(writer_can_take_over_snapshot_write);
	RUN(writer_can_take_over_report_json);
	return test_report();
}
