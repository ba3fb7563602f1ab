/*
 * test.h — a unit-test harness small enough to read in a minute.
 *
 *   TEST(name) { CHECK(cond); CHECK_EQ_INT(a, b); CHECK_EQ_STR(a, b); }
 *   int main(void) { RUN(name); ...; return test_report(); }
 *
 * A failed CHECK prints file:line and the expression, marks the current
 * test failed and goes on, so one run shows every broken assertion.
 * SKIP(fmt, ...) ends a test that needs what this machine lacks (an external
 * corpus): one line, counted as skipped; under FLIPPER_CI=1 (.ci/run) it
 * is a failure, so CI runs everything.
 * test_report() prints "N passed, N failed, N skipped" and returns the
 * exit status.
 */
#ifndef FLIPPER_TEST_H
#define FLIPPER_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_passed, test_failed, test_skipped, test_cur_failed, test_cur_skipped;
static const char *test_cur_name;

#define TEST(name) static void name(void)

#define RUN(name) do {                                              \
		test_cur_name = #name;                              \
		test_cur_failed = test_cur_skipped = 0;             \
		name();                                             \
		if (test_cur_failed) test_failed++;                 \
		else if (test_cur_skipped) test_skipped++;          \
		else test_passed++;                                 \
	} while (0)

#define TEST_FAIL_(fmt, ...) do {                                   \
		fprintf(stderr, "%s:%d: %s: " fmt "\n", __FILE__,   \
			__LINE__, test_cur_name, __VA_ARGS__);      \
		test_cur_failed = 1;                                \
	} while (0)

#define CHECK(cond) do {                                            \
		if (!(cond)) TEST_FAIL_("check failed: %s", #cond); \
	} while (0)

#define CHECK_EQ_INT(a, b) do {                                     \
		long long a_ = (long long)(a), b_ = (long long)(b); \
		if (a_ != b_) TEST_FAIL_("%s == %lld, expected %s == %lld", \
					 #a, a_, #b, b_);           \
	} while (0)

#define CHECK_EQ_STR(a, b) do {                                     \
		const char *a_ = (a), *b_ = (b);                    \
		if (!a_ || !b_ || strcmp(a_, b_) != 0)              \
			TEST_FAIL_("%s == \"%s\", expected \"%s\"", #a, \
				   a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
	} while (0)

#define SKIP(...) do {                                              \
		const char *ci_ = getenv("FLIPPER_CI");             \
		if (ci_ && strcmp(ci_, "1") == 0) {                 \
			fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, test_cur_name); \
			fprintf(stderr, __VA_ARGS__);               \
			fputs(" (FLIPPER_CI=1: nothing may be skipped)\n", stderr); \
			test_cur_failed = 1;                        \
		} else {                                            \
			printf("%s: %s: skipped: ", __BASE_FILE__, test_cur_name); \
			printf(__VA_ARGS__);                        \
			putchar('\n');                              \
			test_cur_skipped = 1;                       \
		}                                                   \
		return;                                             \
	} while (0)

static inline int test_report(void)
{
	printf("%s: %d passed, %d failed, %d skipped\n", __BASE_FILE__, test_passed,
	       test_failed, test_skipped);
	return test_failed ? 1 : 0;
}

#endif
