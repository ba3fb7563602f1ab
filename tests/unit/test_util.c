/* Bounded buffers, escaping of untrusted text, URL redaction, numbers, the test clock. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "test.h"

TEST(buf_respects_its_cap)
{
	struct buf b;
	buf_init(&b, 8);
	CHECK_EQ_INT(buf_addstr(&b, "12345"), 0);
	CHECK_EQ_INT(buf_addstr(&b, "6789"), -1);
	CHECK(b.overflow);
	CHECK_EQ_INT(b.len, 8);
	CHECK_EQ_STR(b.data, "12345678");
	buf_release(&b);
}

/* git's strbuf invariant: data is a string from the start, never NULL. */
TEST(buf_data_is_never_null)
{
	struct buf b = BUF_INIT;
	CHECK(b.data != NULL);
	CHECK_EQ_STR(b.data, "");
	CHECK_EQ_INT(b.len, 0);
	buf_reset(&b);
	buf_truncate(&b, 0);
	CHECK_EQ_STR(b.data, "");
	char *empty = buf_detach(&b);       /* owned even when nothing was added */
	CHECK_EQ_STR(empty, "");
	free(empty);
	CHECK_EQ_STR(b.data, "");
	buf_add(&b, "", 0);
	CHECK_EQ_STR(b.data, "");
	buf_release(&b);                    /* nothing allocated: nothing freed */
	CHECK_EQ_STR(b.data, "");

	buf_addstr(&b, "hello");
	buf_truncate(&b, 4);
	CHECK_EQ_STR(b.data, "hell");
	buf_truncate(&b, 10);               /* longer than it is: no change */
	CHECK_EQ_INT(b.len, 4);
	buf_release(&b);
	CHECK_EQ_STR(b.data, "");           /* released, and usable again */
	buf_addch(&b, 'x');
	CHECK_EQ_STR(b.data, "x");
	buf_release(&b);

	/* A capped buffer that refused everything still holds a string. */
	struct buf c;
	buf_init(&c, 2);
	CHECK_EQ_INT(buf_addstr(&c, "abc"), -1);
	CHECK_EQ_STR(c.data, "ab");
	CHECK_EQ_INT(buf_addstr(&c, "d"), -1);
	CHECK(c.overflow);                  /* sticky: one check at the end does */
	buf_release(&c);
	CHECK_EQ_INT(c.max, 2);             /* the cap survives a release */
}

/* One encoder for the JSON and TOML readers: each length at its edges. */
TEST(code_points_encode_as_utf8)
{
	static const struct { uint32_t cp; const char *want; } cases[] = {
		{ 0x41, "A" }, { 0x7f, "\x7f" }, { 0x80, "\xc2\x80" }, { 0xe9, "\xc3\xa9" },
		{ 0x7ff, "\xdf\xbf" }, { 0x800, "\xe0\xa0\x80" }, { 0x20ac, "\xe2\x82\xac" },
		{ 0xffff, "\xef\xbf\xbf" }, { 0x10000, "\xf0\x90\x80\x80" },
		{ 0x1f600, "\xf0\x9f\x98\x80" }, { 0x10ffff, "\xf4\x8f\xbf\xbf" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct buf b = BUF_INIT;
		buf_add_utf8(&b, cases[i].cp);
		CHECK_EQ_STR(b.data, cases[i].want);
		buf_release(&b);
	}
}

TEST(json_strings_are_escaped)
{
	struct buf b = BUF_INIT;
	buf_add_json_string(&b, "a\"b\\c\nd\x01\x7f");
	CHECK_EQ_STR(b.data, "\"a\\\"b\\\\c\\nd\\u0001\\u007f\"");
	buf_release(&b);
}

TEST(untrusted_text_is_escaped_for_logs)
{
	struct buf b = BUF_INIT;
	log_escape(&b, "evil\nlevel=error msg=\"x\"\x1b[31m");
	CHECK_EQ_STR(b.data, "evil\\nlevel=error msg=\\\"x\\\"\\x1b[31m");
	CHECK(strchr(b.data, '\n') == NULL);
	buf_release(&b);
}

TEST(urls_are_redacted)
{
	char *r = log_redact_url("https://chat.example.com/hooks/abcdef123?x=1");
	CHECK_EQ_STR(r, "https://chat.example.com/…");
	free(r);
	r = log_redact_url("https://user:pass@host.example:8443/secret");
	CHECK_EQ_STR(r, "https://host.example:8443/…");
	CHECK(strstr(r, "pass") == NULL);
	free(r);
	r = log_redact_url("not a url");
	CHECK(strstr(r, "not a url") == NULL);
	free(r);
}

TEST(numbers_are_strict)
{
	int64_t v;
	long l;
	CHECK(parse_int64("9007199254740993", &v) == 0 && v == 9007199254740993LL);
	CHECK(parse_int64("-5", &v) == 0 && v == -5);
	CHECK(parse_int64("5x", &v) < 0);
	CHECK(parse_int64("", &v) < 0);
	CHECK(parse_int64(" 5", &v) < 0);
	CHECK(parse_int64("+5", &v) < 0);
	CHECK(parse_int64("99999999999999999999", &v) < 0);
	CHECK(parse_long_range("70000", 1, 65535, &l) < 0);
	CHECK(parse_long_range("443", 1, 65535, &l) == 0 && l == 443);
}

TEST(log_levels_and_formats_parse)
{
	enum log_level l;
	enum log_format f;
	CHECK(log_level_parse("warn", &l) == 0 && l == LOG_WARN);
	CHECK(log_level_parse("warning", &l) == 0 && l == LOG_WARN);
	CHECK(log_level_parse("loud", &l) < 0);
	CHECK(log_format_parse("json", &f) == 0 && f == LOG_FORMAT_JSON);
	CHECK(log_format_parse("xml", &f) < 0);
}

static int64_t real_ms(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Replace the clock file at once (rename), as the pytest helper does. */
static void write_clock(const char *path, const char *text)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
	CHECK(rename(tmp, path) == 0);
}

/* Is now_ms() the real wall clock plus wall, mono_ms() the real monotonic plus mono? */
static bool clock_shows(int64_t wall, int64_t mono)
{
	int64_t w0 = real_ms(CLOCK_REALTIME), m0 = real_ms(CLOCK_MONOTONIC);
	int64_t w = now_ms(), m = mono_ms();
	int64_t w1 = real_ms(CLOCK_REALTIME), m1 = real_ms(CLOCK_MONOTONIC);
	return w0 + wall <= w && w <= w1 + wall && m0 + mono <= m && m <= m1 + mono;
}

/* The change is seen within a few ms; give a loaded machine 10 s. */
static bool clock_comes_to(int64_t wall, int64_t mono)
{
	for (int i = 0; i < 10000; i++) {
		if (clock_shows(wall, mono))
			return true;
		usleep(1000);
	}
	return false;
}

TEST(test_clock_shifts_and_follows_its_file)
{
	char dir[] = "/tmp/flipper-clock-XXXXXX";
	char path[4096], *err = NULL;
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/clock", dir);
	write_clock(path, "600000 -5000\n");

	/* Refused without the test-mode variable: the clocks stay real. */
	setenv("FLIPPER_TEST_CLOCK_FILE", path, 1);
	unsetenv("FLIPPER_TEST_MODE");
	CHECK_EQ_INT(test_clock_setup(&err), -1);
	CHECK(err && strstr(err, "FLIPPER_TEST_MODE=1"));
	free(err);
	CHECK(clock_shows(0, 0));
	setenv("FLIPPER_TEST_MODE", "yes", 1);
	CHECK_EQ_INT(test_clock_setup(&err), -1);
	free(err);

	setenv("FLIPPER_TEST_MODE", "1", 1);
	CHECK_EQ_INT(test_clock_setup(&err), 0);
	CHECK(err == NULL);
	CHECK(clock_shows(600000, -5000));

	/* Stepped back ten minutes while running; the monotonic clock apart. */
	write_clock(path, "-600000 -5000\n");
	CHECK(clock_comes_to(-600000, -5000));
	write_clock(path, "-600000 3600000");
	CHECK(clock_comes_to(-600000, 3600000));
	/* A file caught half-written keeps the last good offsets. */
	write_clock(path, "12");
	usleep(20000);
	CHECK(clock_shows(-600000, 3600000));
	write_clock(path, "0 0\n");
	CHECK(clock_comes_to(0, 0));

	/* Bad contents at the start are an error naming the file. */
	static const char *const bad[] = { "", "1", "1 2 3", "x 1", "1 y", "1,2" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		write_clock(path, bad[i]);
		CHECK_EQ_INT(test_clock_setup(&err), -1);
		CHECK(err && strstr(err, path));
		free(err);
	}
	unlink(path);
	CHECK_EQ_INT(test_clock_setup(&err), -1);
	CHECK(err && strstr(err, "No such file"));
	free(err);

	unsetenv("FLIPPER_TEST_CLOCK_FILE");
	unsetenv("FLIPPER_TEST_MODE");
	CHECK_EQ_INT(test_clock_setup(&err), 0);
	CHECK(clock_shows(0, 0));
	rmdir(dir);
}

int main(void)
{
	RUN(buf_respects_its_cap);
	RUN(buf_data_is_never_null);
	RUN(json_strings_are_escaped);
	RUN(untrusted_text_is_escaped_for_logs);
	RUN(urls_are_redacted);
	RUN(code_points_encode_as_utf8);
	RUN(numbers_are_strict);
	RUN(log_levels_and_formats_parse);
	RUN(test_clock_shifts_and_follows_its_file);
	return test_report();
}
