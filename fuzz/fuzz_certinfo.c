/*
 * fuzz_certinfo.c — certificate facts from libcurl's CERTINFO text
 * (certinfo.c): the server's certificate is outside input.
 *
 * The input is one certificate's fields, split at NUL bytes, as
 * cert_facts_read() gets them; the whole input (up to the first NUL) is
 * also read as a date.
 *
 * Checked properties (a violation aborts):
 *   - an accepted date, written back in both spellings libcurl uses,
 *     reads as the same second;
 *   - facts that were read carry a date that reads back the same way, and
 *     a fingerprint of 16 hex digits or none.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "certinfo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(int64_t t, const char *from)
{
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t tt = (time_t)t;
	struct tm tm;
	char iso[64], ossl[64];
	int64_t a = -1, b = -1;

	if (!gmtime_r(&tt, &tm))
		abort();
	snprintf(iso, sizeof iso, "%04d-%02d-%02d %02d:%02d:%02d GMT", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	snprintf(ossl, sizeof ossl, "%s %2d %02d:%02d:%02d %04d GMT", months[tm.tm_mon],
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_year + 1900);
	/* A leap second or the last second of 9999 may write as a date
	 * outside the range; only a date inside it must read back. */
	if (tm.tm_year + 1900 > 9999)
		return;
	if (cert_date_parse(iso, &a) < 0 || a != t || cert_date_parse(ossl, &b) < 0 || b != t) {
		fprintf(stderr, "fuzz_certinfo: \"%s\" read as %lld, written as \"%s\" (%lld) "
			"and \"%s\" (%lld)\n", from, (long long)t, iso, (long long)a, ossl,
			(long long)b);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	const char **fields;
	size_t n = 0;
	int64_t t;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (cert_date_parse(s, &t) == 0)
		round_trip(t, s);

	fields = malloc((size + 1) * sizeof *fields);
	if (!fields) {
		free(s);
		return 0;
	}
	for (size_t i = 0; i <= size; i++)
		if (i == 0 || s[i - 1] == '\0')
			fields[n++] = s + i;
	struct cert_facts c;
	const char *bad = NULL;
	if (cert_facts_read(fields, n, &c, &bad) == 0) {
		size_t len = strlen(c.fingerprint);
		if (bad || (len != 0 && len != 16) || strspn(c.fingerprint, "0123456789abcdef") != len)
			abort();
		round_trip(c.not_after, "fields");
	} else if (bad && (bad < s || bad > s + size)) {
		abort();
	}
	free(fields);
	free(s);
	return 0;
}
