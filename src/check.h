/*
 * check.h — the health-check runner (SPEC section 3.4): one round of
 * HTTP/HTTPS checks, all targets at once on one libcurl multi handle.
 *
 * A check target is (server, check, address family). The runner connects
 * to the target's address but sends the check's host as Host header and
 * TLS SNI (and verifies the certificate against it), bounds the whole
 * request by the check's timeout, never follows redirects, keeps no body,
 * and opens a fresh connection for every target in every round.
 *
 * Ownership: the inputs of a struct check_target are borrowed and must
 * stay valid during check_round_run(). The outputs belong to the target:
 * error is allocated here; check_target_release() frees it.
 *
 * check_round_run() loads libcurl when it has targets to check
 * (curl_api.h); a round with nothing due never does.
 */
#ifndef FLIPPER_CHECK_H
#define FLIPPER_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* A body longer than this is not read further; the status decides. */
#define CHECK_BODY_MAX (64 * 1024)
/* A ca_file larger than this is refused. */
#define CHECK_CA_FILE_MAX (4 * 1024 * 1024)

struct check_target {
	/* Inputs, borrowed. */
	const struct check_config *check;
	const char *server_name;     /* for the caller's messages */
	int64_t server_id;
	int family;                  /* 4 or 6 */
	const char *address;         /* IPv4 text, or IPv6 without brackets */

	/* Outputs, set by check_round_run(). */
	bool ok;                     /* status in the check's expect ranges */
	long http_status;            /* 0: no response */
	char *error;                 /* owned; NULL when ok. curl's message,
				      * "HTTP 503", or a setup problem */
	int64_t duration_ms;         /* time the request took */
};

/* check.c */
/*
 * Run every target once, all at the same time, on one multi handle. Each
 * target's previous outputs are released first. Returns 0 when the round
 * ran (each target has its own result, ok or not); -1 when the round
 * could not run at all (libcurl failed to set up, or the multi loop broke
 * down): then every target not finished has ok false and error saying why,
 * and the caller should not count those as backend failures.
 *
 * Raises the open-files soft limit towards the hard limit when n targets
 * need more descriptors; if the hard limit is too low, only as many run
 * at once as it allows and the rest start as others finish, each with
 * its full timeout (a waiting target never times out while waiting).
 */
int check_round_run(struct check_target *t, size_t n);
/* Free a target's outputs and reset them; the inputs are untouched. */
void check_target_release(struct check_target *t);
/*
 * The system trust that a check keeps next to its ca_file, instead of
 * libcurl's defaults: a CA bundle file and a hashed CA directory (as
 * CURLOPT_CAINFO and CURLOPT_CAPATH). NULL keeps libcurl's default for
 * that part, "" means none. For tests and for systems whose trust lives
 * elsewhere; the strings are borrowed until the next call.
 */
void check_set_default_trust(const char *bundle, const char *dir);

#endif
