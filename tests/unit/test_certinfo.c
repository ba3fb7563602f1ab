/* test_certinfo.c — certificate dates in both of libcurl's spellings, and facts. */
#include "certinfo.h"
#include "test.h"

/* date -u -d '2027-11-26 12:00:00' +%s */
#define NOV26 1827230400LL

static int64_t date(const char *s)
{
	int64_t v = -12345;
	return cert_date_parse(s, &v) == 0 ? v : -1;
}

TEST(openssl_spelling)
{
	/* As libcurl 7.88 with OpenSSL 3 printed a test certificate. */
	CHECK_EQ_INT(date("Nov 26 12:00:00 2027 GMT"), NOV26);
	CHECK_EQ_INT(date("Dec 26 14:21:34 2026 GMT"), 1798294894LL);
	/* A day below 10 is padded with a space. */
	CHECK_EQ_INT(date("Nov  6 12:00:00 2027 GMT"), NOV26 - 20 * 86400);
	CHECK_EQ_INT(date("Jan  1 00:00:00 1970 GMT"), 0);
	/* A GeneralizedTime's fraction of a second is dropped. */
	CHECK_EQ_INT(date("Nov 26 12:00:00.250 2027 GMT"), NOV26);
}

TEST(gnutls_spelling)
{
	/* As libcurl-gnutls 7.88 printed the same certificate. */
	CHECK_EQ_INT(date("2027-11-26 12:00:00 GMT"), NOV26);
	CHECK_EQ_INT(date("2026-12-26 14:21:34 GMT"), 1798294894LL);
	CHECK_EQ_INT(date("2027-11-26 12:00:00 UTC"), NOV26);
	CHECK_EQ_INT(date("2027-11-26 12:00:00.5 GMT"), NOV26);
	CHECK_EQ_INT(date("2050-01-01 00:00:00 GMT"), 2524608000LL);
	CHECK_EQ_INT(date("9999-12-31 23:59:59 GMT"), 253402300799LL);
}

TEST(calendar_is_checked)
{
	CHECK_EQ_INT(date("2028-02-29 00:00:00 GMT"), 1835395200LL);   /* leap year */
	CHECK_EQ_INT(date("2027-02-29 00:00:00 GMT"), -1);
	CHECK_EQ_INT(date("2100-02-29 00:00:00 GMT"), -1);              /* not a leap year */
	CHECK_EQ_INT(date("2000-02-29 00:00:00 GMT"), 951782400LL);     /* is one */
	CHECK_EQ_INT(date("2027-04-31 00:00:00 GMT"), -1);
	CHECK_EQ_INT(date("2027-13-01 00:00:00 GMT"), -1);
	CHECK_EQ_INT(date("2027-00-01 00:00:00 GMT"), -1);
	CHECK_EQ_INT(date("2027-01-00 00:00:00 GMT"), -1);
	CHECK_EQ_INT(date("2027-01-01 24:00:00 GMT"), -1);
	CHECK_EQ_INT(date("2027-01-01 00:60:00 GMT"), -1);
	CHECK_EQ_INT(date("2016-12-31 23:59:60 GMT"), 1483228800LL);    /* a leap second */
	CHECK_EQ_INT(date("2027-01-01 00:00:61 GMT"), -1);
	CHECK_EQ_INT(date("Feb 30 00:00:00 2027 GMT"), -1);
}

TEST(anything_else_is_refused)
{
	static const char *const bad[] = {
		"", "GMT", "2027-11-26", "2027-11-26 12:00:00", "2027-11-26 12:00:00 CET",
		"2027-11-26 12:00:00 +0100", "2027-11-26 12:00:00 GMT ", " 2027-11-26 12:00:00 GMT",
		"2027-11-26T12:00:00Z", "27-11-26 12:00:00 GMT", "2027-1-26 12:00:00 GMT",
		"2027-11-26 12:00 GMT", "2027-11-26 12:00:00. GMT", "2027-11-26 1:00:00 GMT",
		"nov 26 12:00:00 2027 GMT", "Nov 06 12:00:00 2027 GMT", "Nov 26 12:00:00 27 GMT",
		"Nov 26 12:00:00 2027", "Nov  26 12:00:00 2027 GMT", "Nov 26  12:00:00 2027 GMT",
		"Nov  0 12:00:00 2027 GMT", "Xyz 26 12:00:00 2027 GMT", "Nov 26 12:00:00 20270 GMT",
		"0999-01-01 00:00:00 GMT", "2027-11-26 12:00:00 GMT\n",
		"2027-11-26 12:00:00 GMTX", "Nov 26 12:00:00 2027 GMT\0ignored",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int64_t v = 0;
		int rc = cert_date_parse(bad[i], &v);
		/* The embedded NUL ends the string: that one is a date. */
		if (i == sizeof bad / sizeof bad[0] - 1) {
			CHECK_EQ_INT(rc, 0);
			continue;
		}
		if (rc != -1)
			TEST_FAIL_("\"%s\" was taken as %lld", bad[i], (long long)v);
	}
	int64_t v;
	CHECK_EQ_INT(cert_date_parse(NULL, &v), -1);
}

TEST(facts_from_openssl_fields)
{
	const char *f[] = {
		"Subject:O = flipper tests, CN = check.example.test",
		"Start date:Nov 26 14:21:34 2026 GMT",
		"Expire date:Nov 26 12:00:00 2027 GMT",
		"Cert:-----BEGIN CERTIFICATE-----\nMIIB\nAbC=\n-----END CERTIFICATE-----\n",
	};
	struct cert_facts c;
	const char *bad = "x";
	CHECK_EQ_INT(cert_facts_read(f, 4, &c, &bad), 0);
	CHECK(bad == NULL);
	CHECK_EQ_INT(c.not_after, NOV26);
	CHECK_EQ_INT(strlen(c.fingerprint), 16);

	/* The same certificate from GnuTLS: other labels, other line breaks. */
	const char *g[] = {
		"Start Date:2026-11-26 14:21:34 GMT",
		"Expire Date:2027-11-26 12:00:00 GMT",
		"Cert:-----BEGIN CERTIFICATE-----\r\nMIIBAbC=\r\n-----END CERTIFICATE-----",
	};
	struct cert_facts d;
	CHECK_EQ_INT(cert_facts_read(g, 3, &d, &bad), 0);
	CHECK_EQ_INT(d.not_after, NOV26);
	CHECK_EQ_STR(d.fingerprint, c.fingerprint);

	/* Another certificate, another fingerprint. */
	const char *h[] = { "Expire date:Nov 26 12:00:00 2027 GMT",
			    "Cert:-----BEGIN CERTIFICATE-----\nMIIB\nAbD=\n-----END CERTIFICATE-----\n" };
	CHECK_EQ_INT(cert_facts_read(h, 2, &d, &bad), 0);
	CHECK(strcmp(d.fingerprint, c.fingerprint) != 0);
}

TEST(facts_need_a_readable_expiry)
{
	struct cert_facts c;
	const char *bad = NULL;
	const char *none[] = { "Subject:CN = x", "Cert:AAAA" };
	CHECK_EQ_INT(cert_facts_read(none, 2, &c, &bad), -1);
	CHECK(bad == NULL);
	const char *garbled[] = { "Expire date:soon" };
	CHECK_EQ_INT(cert_facts_read(garbled, 1, &c, &bad), -1);
	CHECK_EQ_STR(bad, "soon");
	/* A label is a whole word before the colon. */
	const char *prefix[] = { "Expire dates:Nov 26 12:00:00 2027 GMT", "Expire date" };
	CHECK_EQ_INT(cert_facts_read(prefix, 2, &c, &bad), -1);
	/* No PEM: a date, no fingerprint. */
	const char *bare[] = { "expire DATE:2027-11-26 12:00:00 GMT" };
	CHECK_EQ_INT(cert_facts_read(bare, 1, &c, &bad), 0);
	CHECK_EQ_INT(c.not_after, NOV26);
	CHECK_EQ_STR(c.fingerprint, "");
	CHECK_EQ_INT(cert_facts_read(NULL, 0, &c, &bad), -1);
}

int main(void)
{
	RUN(openssl_spelling);
	RUN(gnutls_spelling);
	RUN(calendar_is_checked);
	RUN(anything_else_is_refused);
	RUN(facts_from_openssl_fields);
	RUN(facts_need_a_readable_expiry);
	return test_report();
}
