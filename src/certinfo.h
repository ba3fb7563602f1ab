/*
 * certinfo.h — what libcurl's CURLINFO_CERTINFO says about a server
 * certificate, read without trusting it: its expiry date and a
 * fingerprint that tells certificates apart.
 *
 * libcurl writes each certificate as "Label:value" lines, and the words
 * depend on its TLS backend. OpenSSL prints the dates with
 * ASN1_TIME_print ("Expire date:Nov  6 12:00:00 2027 GMT", the day padded
 * with a space); GnuTLS and the other backends go through libcurl's own
 * ASN.1 reader ("Expire Date:2027-11-06 12:00:00 GMT"). Both are read
 * here, strictly: every field in range, nothing left over. A fraction of
 * a second (legal in an ASN.1 GeneralizedTime) is accepted and dropped.
 *
 * Pure: no I/O, no clock, no libcurl. Nothing here owns what it is given.
 */
#ifndef FLIPPER_CERTINFO_H
#define FLIPPER_CERTINFO_H

#include <stddef.h>
#include <stdint.h>

/* What one certificate says; the caller owns it. */
struct cert_facts {
	int64_t not_after;           /* unix seconds */
	/* A hash of the certificate itself (its PEM's base64, white space
	 * left out), as hex: the same certificate gives the same text on
	 * every server that serves it. "" when libcurl gave no PEM. */
	char fingerprint[17];
};

/* certinfo.c */
/*
 * A certificate date in either spelling (see above) as unix seconds.
 * The zone must be GMT (or UTC): RFC 5280 dates are in UTC, and an
 * offset would mean a certificate outside it. 0 ok, -1 not a date.
 */
int cert_date_parse(const char *s, int64_t *unix_s);
/*
 * One certificate's "Label:value" fields, as libcurl lists them: finds
 * the expiry date (label "Expire date", any case) and hashes the PEM
 * ("Cert"). 0 ok; -1 when there is no expiry field or it is not a date
 * (*bad then points at the value, or NULL when there was none).
 */
int cert_facts_read(const char *const *fields, size_t n, struct cert_facts *out,
		    const char **bad);

#endif
