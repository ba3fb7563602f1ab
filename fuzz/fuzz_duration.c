/*
 * fuzz_duration.c — Go-style durations (duration.c) and HTTP status
 * lists (status_ranges_parse in config.c), both as written in a config.
 *
 * Checked properties (a violation aborts):
 *   - whatever duration_parse() accepts, duration_format() spells in a
 *     way duration_parse() reads back to the same milliseconds;
 *   - the same holds for any millisecond count Go's int64 nanoseconds
 *     can hold (the first 8 bytes, folded into that range);
 *   - accepted status ranges lie in 100-599 with lo <= hi.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* INT64_MAX nanoseconds, in whole milliseconds. */
#define MAX_MS (INT64_MAX / 1000000)

static void round_trip(int64_t ms, const char *from)
{
	char text[48];
	int64_t back = 0;
	const char *err = NULL;

	duration_format(ms, text);
	if (duration_parse(text, &back, &err) < 0 || back != ms) {
		fprintf(stderr, "fuzz_duration: %lld ms (from \"%s\") formats as \"%s\", "
			"which parses as %lld (%s)\n", (long long)ms, from, text,
			(long long)back, err ? err : "ok");
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	const char *err = NULL;
	int64_t ms;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	if (duration_parse(s, &ms, &err) == 0)
		round_trip(ms, s);

	if (size >= 8) {
		uint64_t u;
		memcpy(&u, data, sizeof u);
		/* Fold into [-MAX_MS, MAX_MS]. */
		int64_t v = (int64_t)(u % (2 * (uint64_t)MAX_MS + 1)) - MAX_MS;
		round_trip(v, "raw bytes");
	}

	struct status_range *r = NULL;
	size_t n = 0;
	if (status_ranges_parse(s, &r, &n, &err) == 0) {
		if (n == 0)
			abort();
		for (size_t i = 0; i < n; i++)
			if (r[i].lo < 100 || r[i].hi > 599 || r[i].lo > r[i].hi)
				abort();
	}
	free(r);
	free(s);
	return 0;
}
