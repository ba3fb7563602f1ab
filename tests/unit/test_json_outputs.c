/*
 * The log line and the webhook payload, byte for byte. The expected
 * strings were checked against the code before the JSON writer
 * (json_writer.c) replaced the hand-placed punctuation: these outputs are
 * read by log pipelines and chat servers, so they must not drift.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "notify.h"
#include "store.h"
#include "test.h"

/* Run fn with stderr captured; the text it wrote, timestamps masked. */
static char *captured(void (*fn)(void))
{
	char path[] = "/tmp/flipper-test-log-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return xstrdup("");
	fflush(stderr);
	int saved = dup(2);
	dup2(fd, 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	char *text = NULL;
	size_t len = 0;
	if (read_file(path, 1 << 20, &text, &len) < 0)
		text = xstrdup("");
	close(fd);
	unlink(path);
	/* 2026-11-24T12:00:00.250Z -> TS */
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < len; i++) {
		if (i + 24 <= len && text[i + 4] == '-' && text[i + 10] == 'T' && text[i + 19] == '.' &&
		    text[i + 23] == 'Z') {
			buf_addstr(&b, "TS");
			i += 23;
		} else {
			buf_addch(&b, text[i]);
		}
	}
	free(text);
	return buf_detach(&b);
}

static void some_lines(void)
{
	log_kv(LOG_WARN, "web\n", "plan \"refused\"", LOG_I64("actions", 3), "skipped", NULL,
	       "error", "a\\b\x01\x7f", NULL);
	log_kv(LOG_INFO, NULL, "no group", NULL);
	log_msg(LOG_ERROR, "g", "formatted %d", 42);
	log_kv(LOG_DEBUG, NULL, "not shown", NULL);
}

TEST(json_log_lines)
{
	log_setup(LOG_INFO, LOG_FORMAT_JSON);
	char *got = captured(some_lines);
	CHECK_EQ_STR(got,
		     "{\"ts\":\"TS\",\"level\":\"warn\",\"msg\":\"plan \\\"refused\\\"\","
		     "\"service\":\"flipper\",\"group\":\"web\\n\",\"actions\":3,"
		     "\"error\":\"a\\\\b\\u0001\\u007f\"}\n"
		     "{\"ts\":\"TS\",\"level\":\"info\",\"msg\":\"no group\",\"service\":\"flipper\"}\n"
		     "{\"ts\":\"TS\",\"level\":\"error\",\"msg\":\"formatted 42\",\"service\":\"flipper\","
		     "\"group\":\"g\"}\n");
	free(got);
	/* service.name, as the original put it on every line. */
	log_set_service("edge \"lb\"");
	got = captured(some_lines);
	CHECK(strstr(got, "\"msg\":\"no group\",\"service\":\"edge \\\"lb\\\"\"}\n") != NULL);
	free(got);
	log_set_service(NULL);
}

TEST(text_log_lines)
{
	log_setup(LOG_INFO, LOG_FORMAT_TEXT);
	char *got = captured(some_lines);
	CHECK_EQ_STR(got,
		     "TS warn  [web\\n] plan \\\"refused\\\" service=flipper actions=3 "
		     "error=\"a\\\\b\\x01\\x7f\"\n"
		     "TS info  no group service=flipper\n"
		     "TS error [g] formatted 42 service=flipper\n");
	free(got);
	log_set_service("edge lb");
	got = captured(some_lines);
	CHECK(strstr(got, "TS info  no group service=\"edge lb\"\n") != NULL);
	free(got);
	log_set_service(NULL);
}

/* What notify_post() queues for each target, read back from a real store. */
TEST(webhook_payloads)
{
	char dir[] = "/tmp/flipper-test-notify-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char *path = xasprintf("%s/state.db", dir);
	char *err = NULL;
	struct store_info info;
	struct store *s = store_open(path, &info, &err);
	CHECK(s != NULL);
	if (!s) {
		fprintf(stderr, "store_open: %s\n", err ? err : "?");
		free(err);
		free(path);
		return;
	}
	/* -Wwrite-strings: the target's strings are not const. */
	char u1[] = "https://a.test/hooks/1", u2[] = "https://a.test/hooks/2",
	     u3[] = "https://s.test/hooks/3", u4[] = "https://s.test/hooks/4",
	     ops[] = "ops", user[] = "flip \"per\"", icon[] = "https://i.test/x.png",
	     dolphin[] = ":dolphin:", alerts[] = "#alerts", light[] = ":rotating_light:";
	struct notify_target targets[] = {
		{ .type = NOTIFY_MATTERMOST, .url = u1 },
		{ .type = NOTIFY_MATTERMOST, .url = u2, .channel = ops, .username = user,
		  .icon_url = icon, .icon_emoji = dolphin },
		{ .type = NOTIFY_SLACK, .url = u3, .channel = alerts, .icon_emoji = light },
		{ .type = NOTIFY_SLACK, .url = u4 },
	};
	struct config c = { .notifications_enabled = true, .targets = targets, .n_targets = 4 };
	CHECK_EQ_INT(store_begin(s), 0);
	CHECK_EQ_INT(notify_post(&c, s, "web", "test",
				 "**Bold** [lb-1](https://x.test/1) a\\_b & <c>\n\t\x01", 1000), 0);
	CHECK_EQ_INT(notify_post(&c, s, "web", "test", "", 1000), 0);
	CHECK_EQ_INT(store_commit(s), 0);
	struct outbox_msg *v = NULL;
	size_t n = 0;
	CHECK_EQ_INT(store_outbox_load(s, &v, &n), 0);
	static const char *const want[] = {
		"{\"text\":\"**Bold** [lb-1](https://x.test/1) a\\\\_b & <c>\\n\\t\\u0001\"}",
		"{\"text\":\"**Bold** [lb-1](https://x.test/1) a\\\\_b & <c>\\n\\t\\u0001\","
		"\"channel\":\"ops\",\"username\":\"flip \\\"per\\\"\","
		"\"icon_url\":\"https://i.test/x.png\",\"icon_emoji\":\":dolphin:\"}",
		"{\"text\":\"*Bold* <https://x.test/1|lb-1> a_b &amp; &lt;c&gt;\\n\\t\\u0001\","
		"\"channel\":\"#alerts\",\"icon_emoji\":\":rotating_light:\"}",
		"{\"text\":\"*Bold* <https://x.test/1|lb-1> a_b &amp; &lt;c&gt;\\n\\t\\u0001\"}",
		"{\"text\":\"\"}",
		"{\"text\":\"\",\"channel\":\"ops\",\"username\":\"flip \\\"per\\\"\","
		"\"icon_url\":\"https://i.test/x.png\",\"icon_emoji\":\":dolphin:\"}",
		"{\"text\":\"\",\"channel\":\"#alerts\",\"icon_emoji\":\":rotating_light:\"}",
		"{\"text\":\"\"}",
	};
	CHECK_EQ_INT(n, ARRAY_SIZE(want));
	for (size_t i = 0; i < n && i < ARRAY_SIZE(want); i++)
		CHECK_EQ_STR(v[i].payload, want[i]);
	store_outbox_free(v, n);
	store_close(s);
	char *cmd = xasprintf("rm -rf '%s'", dir);
	CHECK_EQ_INT(system(cmd), 0);
	free(cmd);
	free(path);
}

int main(void)
{
	RUN(json_log_lines);
	RUN(text_log_lines);
	RUN(webhook_payloads);
	return test_report();
}
