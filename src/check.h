/*
 * check.h — health checks (SPEC section 3.4): one HTTP/HTTPS transfer per
 * check of a target, on the process's event loop.
 *
 * A check target is (server, check, address family). A check connects to
 * the target's address but sends the check's host as Host header and TLS
 * SNI (and verifies the certificate against it), is bounded as a whole by
 * the check's timeout, keeps no body, and opens a fresh connection every
 * time. It follows at most follow_redirects redirects (none by default),
 * each hop dialled at the same address whatever host the redirect names,
 * and verified against the host it names.
 *
 * With the expiry watch on (https, tls_expiry_warning or tls_expiry_error
 * not 0s) a check also reads the server certificate of its last hop.
 *
 * A struct checker belongs to one loop and keeps what every check of the
 * process shares: the system trust and each check's ca_file, read once.
 *
 * Ownership: the inputs of a struct check_target are borrowed and must
 * stay valid until the check's callback ran or it was cancelled. The
 * outputs of check_round_run() belong to the target; check_target_release()
 * frees them.
 *
 * libcurl is loaded by loop_new() (curl_api.h): a run with nothing due
 * never makes a loop, so never loads it.
 */
#ifndef FLIPPER_CHECK_H
#define FLIPPER_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "http.h"

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
	int64_t cert_not_after;      /* as struct check_result */
};

/* The outcome of one check. */
struct check_result {
	bool ok;                     /* status in the check's expect ranges */
	/* The check runner broke down: this says nothing about the backend
	 * and must not be counted. */
	bool not_run;
	long http_status;            /* 0: no response */
	enum http_failure failure;
	char *error;                 /* owned; NULL when ok */
	int64_t duration_ms;
	/*
	 * The expiry watch: the server certificate of the last hop, when
	 * the transfer got an answer over https. cert_not_after 0: none.
	 */
	int64_t cert_not_after;      /* unix seconds */
	char cert_fingerprint[17];   /* certinfo.h; "" when unknown */
	char *cert_host;             /* owned: the host it was served for */
	/* Owned: an answer came over https, but libcurl's certificate text
	 * did not say when it expires (why, for a log line). */
	char *cert_problem;
};

struct loop;
struct checker;
struct check_probe;

/*
 * Called once per started check, from the loop. r and its error are the
 * callee's to read; it may take r->error (setting it NULL) to keep it.
 */
typedef void (*check_done_fn)(void *arg, struct check_result *r);

/* check.c */
/* Does a check of c read the server certificate's expiry (see above)? */
bool check_watches_expiry(const struct check_config *c);
struct checker *checker_new(struct loop *l);
/* Every check must have ended or been cancelled. */
void checker_free(struct checker *ck);
/*
 * Start one check of t. Its result comes through done, from the loop,
 * even when the check could not be set up (then it failed, with the
 * reason as its error). The probe is the caller's only to cancel.
 */
struct check_probe *check_start(struct checker *ck, const struct check_target *t,
				check_done_fn done, void *arg);
/* Drop a check in flight: no callback, nothing counted. */
void check_cancel(struct check_probe *p);
void check_result_release(struct check_result *r);

/*
 * Run every target once, all at the same time, on a loop of its own (the
 * benchmark and its black-box tests use this). Each target's previous
 * outputs are released first. Returns 0 when the round ran (each target
 * has its own result, ok or not); -1 when the runner broke down: then
 * targets not finished have ok false and an error saying why.
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
