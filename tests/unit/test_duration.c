/* Durations: Go's syntax, milliseconds, errors that ask for a unit. */
#include "config.h"
#include "test.h"

static int64_t ms_of(const char *s)
{
	int64_t ms = -12345;
	const char *err;
	if (duration_parse(s, &ms, &err) < 0)
		return -99999;
	return ms;
}

static const char *err_of(const char *s)
{
	int64_t ms;
	const char *err = NULL;
	if (duration_parse(s, &ms, &err) == 0)
		return "(accepted)";
	return err;
}

TEST(go_examples)
{
	CHECK_EQ_INT(ms_of("300ms"), 300);
	CHECK_EQ_INT(ms_of("2s"), 2000);
	CHECK_EQ_INT(ms_of("1m30s"), 90000);
	CHECK_EQ_INT(ms_of("1h"), 3600000);
	CHECK_EQ_INT(ms_of("1.5h"), 5400000);
	CHECK_EQ_INT(ms_of("2h45m"), 9900000);
	CHECK_EQ_INT(ms_of("1.5s"), 1500);
	CHECK_EQ_INT(ms_of(".5s"), 500);
	CHECK_EQ_INT(ms_of("1500us"), 1);
	CHECK_EQ_INT(ms_of("1500\xc2\xb5s"), 1);
	CHECK_EQ_INT(ms_of("999999ns"), 0);
	CHECK_EQ_INT(ms_of("0"), 0);
	CHECK_EQ_INT(ms_of("-1s"), -1000);
	CHECK_EQ_INT(ms_of("+5s"), 5000);
	CHECK_EQ_INT(ms_of("1h1m1s1ms"), 3661001);
}

TEST(bare_numbers_ask_for_a_unit)
{
	const char *e = err_of("5");
	CHECK(strstr(e, "missing unit") != NULL);
	CHECK(strstr(err_of("1.5"), "missing unit") != NULL);
}

TEST(rejects_garbage)
{
	CHECK(strcmp(err_of(""), "(accepted)") != 0);
	CHECK(strcmp(err_of("s"), "(accepted)") != 0);
	CHECK(strcmp(err_of("5x"), "(accepted)") != 0);
	CHECK(strcmp(err_of("5 s"), "(accepted)") != 0);
	CHECK(strcmp(err_of("."), "(accepted)") != 0);
	CHECK(strcmp(err_of("-"), "(accepted)") != 0);
	CHECK(strcmp(err_of("1s2"), "(accepted)") != 0);
	CHECK(strstr(err_of("9999999999999h"), "range") != NULL);
	CHECK(strstr(err_of("99999999999999999999ns"), "range") != NULL);
}

TEST(format_round_trips)
{
	char b[48];
	duration_format(90000, b);
	CHECK_EQ_STR(b, "1m30s");
	duration_format(1500, b);
	CHECK_EQ_STR(b, "1.5s");
	duration_format(3600000, b);
	CHECK_EQ_STR(b, "1h0m0s");
	duration_format(250, b);
	CHECK_EQ_STR(b, "250ms");
	duration_format(0, b);
	CHECK_EQ_STR(b, "0s");
	int64_t samples[] = { 1, 999, 1000, 1001, 59999, 61000, 3599999, 86400000, 123456789 };
	for (size_t i = 0; i < ARRAY_SIZE(samples); i++) {
		duration_format(samples[i], b);
		CHECK_EQ_INT(ms_of(b), samples[i]);
	}
}

int main(void)
{
	RUN(go_examples);
	RUN(bare_numbers_ask_for_a_unit);
	RUN(rejects_garbage);
	RUN(format_round_trips);
	return test_report();
}
