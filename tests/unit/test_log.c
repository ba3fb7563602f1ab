/*
 * The logger: typed context values (numbers are JSON numbers), timestamps
 * with milliseconds, the service field, and the one rule for repeating
 * states (told when they change, then at most once a minute).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "test.h"

/* What one call wrote to stderr. */
static char *captured(void (*emit)(void))
{
	char path[] = "/tmp/flipper-test-log-XXXXXX";
	int fd = mkstemp(path);
	int saved = dup(STDERR_FILENO);
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	emit();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	char *text = NULL;
	size_t len = 0;
	if (read_file(path, 1 << 16, &text, &len) < 0)
		text = xstrdup("");
	close(fd);
	unlink(path);
	return text;
}

static void emit_typed(void)
{
	log_kv(LOG_WARN, "web", "notification not delivered", "kind", "plan_outcome",
	       LOG_I64("attempts", 3), LOG_I64("big", 5000000001LL), LOG_BOOL("held", 1),
	       "skipped", (const char *)NULL, "error", "HTTP \"503\"", NULL);
}

TEST(json_numbers_are_numbers)
{
	unsetenv("JOURNAL_STREAM");
	log_setup(LOG_DEBUG, LOG_FORMAT_JSON);
	log_set_service("flipper-eu");
	char *t = captured(emit_typed);
	CHECK(strstr(t, "\"attempts\":3,") != NULL);
	CHECK(strstr(t, "\"big\":5000000001,") != NULL);
	CHECK(strstr(t, "\"held\":true,") != NULL);
	CHECK(strstr(t, "skipped") == NULL);
	CHECK(strstr(t, "\"error\":\"HTTP \\\"503\\\"\"}") != NULL);
	CHECK(strstr(t, "\"msg\":\"notification not delivered\",\"service\":\"flipper-eu\","
			"\"group\":\"web\"") != NULL);
	/* "ts":"2024-05-01T12:00:03.250Z": milliseconds, UTC. */
	const char *ts = strstr(t, "\"ts\":\"");
	CHECK(ts == t + 1);
	if (ts) {
		CHECK(strlen(ts) > 30);
		CHECK(ts[6 + 19] == '.' && ts[6 + 23] == 'Z' && ts[6 + 24] == '"');
	}
	free(t);
	log_set_service(NULL);
}

TEST(text_shows_the_same)
{
	log_setup(LOG_DEBUG, LOG_FORMAT_TEXT);
	char *t = captured(emit_typed);
	CHECK(strstr(t, " warn  [web] notification not delivered service=flipper kind=plan_outcome "
			"attempts=3 big=5000000001 held=true error=\"HTTP \\\"503\\\"\"\n") != NULL);
	CHECK(t[23] == 'Z' && t[19] == '.');
	free(t);
}

TEST(a_repeating_state_is_told_when_it_changes_then_once_a_minute)
{
	struct log_repeats *r = log_repeats_new();
	int64_t t0 = 1000000;
	CHECK_EQ_INT(log_repeats_check(r, "check web 1 http 4", "503", t0), 0);
	for (int i = 1; i <= 29; i++)
		CHECK_EQ_INT(log_repeats_check(r, "check web 1 http 4", "503", t0 + 2000 * i), -1);
	/* Another key is its own. */
	CHECK_EQ_INT(log_repeats_check(r, "check web 2 http 4", "503", t0 + 1000), 0);
	/* A minute later: told again, with what was held back. */
	CHECK_EQ_INT(log_repeats_check(r, "check web 1 http 4", "503", t0 + LOG_REPEAT_MS), 29);
	CHECK_EQ_INT(log_repeats_check(r, "check web 1 http 4", "503", t0 + LOG_REPEAT_MS + 1), -1);
	/* A new state is news at once, and counts afresh. */
	CHECK_EQ_INT(log_repeats_check(r, "check web 1 http 4", "refused", t0 + LOG_REPEAT_MS + 2), 0);
	CHECK_EQ_INT(log_repeats_check(r, "check web 1 http 4", "refused", t0 + LOG_REPEAT_MS + 3), -1);
	/* Well again: the next failure is news, even the same one. */
	log_repeats_clear(r, "check web 1 http 4");
	CHECK_EQ_INT(log_repeats_check(r, "check web 1 http 4", "refused", t0 + LOG_REPEAT_MS + 4), 0);
	/* A clock that went back does not silence a key for ever. */
	CHECK_EQ_INT(log_repeats_check(r, "check web 1 http 4", "refused", t0), 0);
	log_repeats_clear(r, "never seen");
	log_repeats_free(r);
}

TEST(many_keys)
{
	struct log_repeats *r = log_repeats_new();
	char key[32];
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof key, "k%d", i);
		CHECK_EQ_INT(log_repeats_check(r, key, "s", 0), 0);
	}
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof key, "k%d", i);
		if (log_repeats_check(r, key, "s", 1) != -1)
			CHECK(!"a key was lost when the table grew");
	}
	log_repeats_free(r);
}

int main(void)
{
	RUN(json_numbers_are_numbers);
	RUN(text_shows_the_same);
	RUN(a_repeating_state_is_told_when_it_changes_then_once_a_minute);
	RUN(many_keys);
	log_release();
	return test_report();
}
