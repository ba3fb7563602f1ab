/* certinfo.c — certificate facts from libcurl's CERTINFO text (see certinfo.h). */
#include "certinfo.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Exactly n digits at *p, advancing it. */
static bool digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!is_digit((*p)[i]))
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool expect(const char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (no timegm: no TZ). */
static int64_t days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* "HH:MM:SS" and an optional fraction of a second, dropped. */
static bool clock_time(const char **p, int *h, int *mi, int *s)
{
	if (!digits(p, 2, h) || !expect(p, ':') || !digits(p, 2, mi) || !expect(p, ':') ||
	    !digits(p, 2, s))
		return false;
	if (**p == '.') {
		(*p)++;
		if (!is_digit(**p))
			return false;
		while (is_digit(**p))
			(*p)++;
	}
	return true;
}

static bool zone_utc(const char *p)
{
	return strcmp(p, " GMT") == 0 || strcmp(p, " UTC") == 0;
}

/* "Nov  6 12:00:00 2027 GMT": OpenSSL's ASN1_TIME_print. */
static bool parse_openssl(const char *p, int *y, int *m, int *d, int *h, int *mi, int *s)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	*m = 0;
	for (int i = 0; i < 12; i++)
		if (strncmp(p, months + 3 * i, 3) == 0)
			*m = i + 1;
	if (!*m)
		return false;
	p += 3;
	if (!expect(&p, ' '))
		return false;
	if (*p == ' ') {
		p++;
		if (!digits(&p, 1, d) || *d == 0)
			return false;
	} else if (!digits(&p, 2, d) || *d < 10) {
		return false;        /* a day below 10 is padded with a space */
	}
	return expect(&p, ' ') && clock_time(&p, h, mi, s) && expect(&p, ' ') &&
	       digits(&p, 4, y) && zone_utc(p);
}

/* "2027-11-06 12:00:00 GMT": libcurl's own ASN.1 reader. */
static bool parse_iso(const char *p, int *y, int *m, int *d, int *h, int *mi, int *s)
{
	return digits(&p, 4, y) && expect(&p, '-') && digits(&p, 2, m) && expect(&p, '-') &&
	       digits(&p, 2, d) && expect(&p, ' ') && clock_time(&p, h, mi, s) && zone_utc(p);
}

int cert_date_parse(const char *s, int64_t *unix_s)
{
	int y, m, d, h, mi, sec;
	if (!s)
		return -1;
	if (!parse_iso(s, &y, &m, &d, &h, &mi, &sec) &&
	    !parse_openssl(s, &y, &m, &d, &h, &mi, &sec))
		return -1;
	/* 60: a leap second, which ASN.1 times may carry. */
	if (y < 1000 || m < 1 || m > 12 || d < 1 || d > month_days(y, m) || h > 23 || mi > 59 ||
	    sec > 60)
		return -1;
	*unix_s = days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60 + sec;
	return 0;
}

/* The value of "Label:value" when the label is want (any case), else NULL. */
static const char *field_value(const char *field, const char *want)
{
	size_t n = strlen(want);
	if (!field || strncasecmp(field, want, n) != 0 || field[n] != ':')
		return NULL;
	return field + n + 1;
}

int cert_facts_read(const char *const *fields, size_t n, struct cert_facts *out,
		    const char **bad)
{
	const char *expiry = NULL, *pem = NULL;
	*bad = NULL;
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < n; i++) {
		const char *v;
		if (!expiry && (v = field_value(fields[i], "Expire date")))
			expiry = v;
		else if (!pem && (v = field_value(fields[i], "Cert")))
			pem = v;
	}
	if (!expiry)
		return -1;
	if (cert_date_parse(expiry, &out->not_after) < 0) {
		*bad = expiry;
		return -1;
	}
	if (pem && *pem) {
		/* FNV-1a: stable, and the same for every spelling of the PEM's
		 * line breaks. */
		uint64_t h = 0xcbf29ce484222325ULL;
		for (const unsigned char *p = (const unsigned char *)pem; *p; p++) {
			if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
				continue;
			h ^= *p;
			h *= 0x100000001b3ULL;
		}
		snprintf(out->fingerprint, sizeof out->fingerprint, "%016llx",
			 (unsigned long long)h);
	}
	return 0;
}
