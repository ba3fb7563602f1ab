/*
 * duration.c — Go's time.ParseDuration syntax, in milliseconds.
 *
 * The original flipper read durations with Go's parser, so "1m30s",
 * "1.5h" and "300ms" must mean here what they meant there. Go counts
 * nanoseconds in an int64; we do the same while parsing (so the same
 * inputs overflow) and round down to milliseconds at the end.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config.h"

struct unit {
	const char *name;
	int64_t ns;
};

/* Longest names first so "ms" is not read as "m" followed by "s". */
static const struct unit units[] = {
	{ "ns", 1 },
	{ "us", 1000 },
	{ "\xc2\xb5s", 1000 },   /* U+00B5 micro sign */
	{ "\xce\xbcs", 1000 },   /* U+03BC Greek mu */
	{ "ms", 1000000 },
	{ "s", 1000000000LL },
	{ "m", 60 * 1000000000LL },
	{ "h", 3600 * 1000000000LL },
};

static const struct unit *match_unit(const char *s, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(units); i++)
		if (strlen(units[i].name) == len && memcmp(units[i].name, s, len) == 0)
			return &units[i];
	return NULL;
}

int duration_parse(const char *s, int64_t *ms, const char **err)
{
	const char *p = s;
	bool neg = false;
	uint64_t total = 0;   /* nanoseconds */

	if (!s || !*s) {
		*err = "empty duration";
		return -1;
	}
	if (*p == '-' || *p == '+') {
		neg = *p == '-';
		p++;
	}
	if (strcmp(p, "0") == 0) {
		*ms = 0;
		return 0;
	}
	if (!*p) {
		*err = "invalid duration";
		return -1;
	}
	while (*p) {
		uint64_t whole = 0, frac = 0, scale = 1;
		bool digits = false, overflow = false;

		if (!(*p == '.' || (*p >= '0' && *p <= '9'))) {
			*err = "invalid duration";
			return -1;
		}
		for (; *p >= '0' && *p <= '9'; p++) {
			digits = true;
			if (whole > (UINT64_C(1) << 63) / 10) {
				overflow = true;
				continue;
			}
			whole = whole * 10 + (uint64_t)(*p - '0');
			if (whole > (UINT64_C(1) << 63))
				overflow = true;
		}
		if (*p == '.') {
			p++;
			for (; *p >= '0' && *p <= '9'; p++) {
				digits = true;
				/* Extra precision beyond 1e18 cannot matter. */
				if (scale < UINT64_C(1000000000000000000)) {
					frac = frac * 10 + (uint64_t)(*p - '0');
					scale *= 10;
				}
			}
		}
		if (!digits) {
			*err = "invalid duration";
			return -1;
		}
		if (overflow) {
			*err = "duration out of range";
			return -1;
		}
		const char *u = p;
		while (*p && *p != '.' && !(*p >= '0' && *p <= '9'))
			p++;
		if (u == p) {
			*err = "missing unit in duration (use ns, us, ms, s, m or h, e.g. \"5s\")";
			return -1;
		}
		const struct unit *unit = match_unit(u, (size_t)(p - u));
		if (!unit) {
			*err = "unknown unit in duration (use ns, us, ms, s, m or h)";
			return -1;
		}
		uint64_t un = (uint64_t)unit->ns;
		if (whole > (UINT64_C(1) << 63) / un) {
			*err = "duration out of range";
			return -1;
		}
		uint64_t v = whole * un;
		if (frac) {
			/* frac/scale of a unit, without floating point. */
			long double part = (long double)frac * (long double)un / (long double)scale;
			v += (uint64_t)part;
		}
		total += v;
		if (total > (UINT64_C(1) << 63) - (neg ? 0 : 1)) {
			*err = "duration out of range";
			return -1;
		}
	}
	int64_t ns = neg ? -(int64_t)(total - 1) - 1 : (int64_t)total;
	*ms = ns / 1000000;
	return 0;
}

void duration_format(int64_t ms, char out[48])
{
	char tmp[32];
	size_t n = 0;
	bool neg = ms < 0;
	uint64_t v = neg ? (uint64_t)(-(ms + 1)) + 1 : (uint64_t)ms;

	if (v == 0) {
		snprintf(out, 48, "0s");
		return;
	}
	if (v < 1000) {
		snprintf(out, 48, "%s%llums", neg ? "-" : "", (unsigned long long)v);
		return;
	}
	uint64_t h = v / 3600000, m = v / 60000 % 60, s = v / 1000 % 60, f = v % 1000;
	if (h)
		n += (size_t)snprintf(tmp + n, sizeof tmp - n, "%lluh", (unsigned long long)h);
	if (h || m)
		n += (size_t)snprintf(tmp + n, sizeof tmp - n, "%llum", (unsigned long long)m);
	if (f) {
		char fr[8];
		snprintf(fr, sizeof fr, "%03llu", (unsigned long long)f);
		for (int i = 2; i > 0 && fr[i] == '0'; i--)
			fr[i] = '\0';
		snprintf(tmp + n, sizeof tmp - n, "%llu.%ss", (unsigned long long)s, fr);
	} else {
		snprintf(tmp + n, sizeof tmp - n, "%llus", (unsigned long long)s);
	}
	snprintf(out, 48, "%s%s", neg ? "-" : "", tmp);
}
