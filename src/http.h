/*
 * http.h — the one way flipper sets up an HTTP transfer (checks, the
 * Hetzner API, webhooks, the heartbeat), and the one classification of
 * how a transfer failed, used for retry decisions, check error keys and
 * metrics labels.
 */
#ifndef FLIPPER_HTTP_H
#define FLIPPER_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "curl_api.h"

#ifndef FLIPPER_VERSION
#define FLIPPER_VERSION "0.0.0"
#endif

#define HTTP_USER_AGENT "flipper/" FLIPPER_VERSION

struct http_opts {
	const char *user_agent;      /* NULL: HTTP_USER_AGENT */
	int64_t timeout_ms;          /* whole transfer; also bounds connecting */
	char *errbuf;                /* CURL_ERROR_SIZE bytes, or NULL */
	/* Never use a proxy from the environment (checks must reach the
	 * backend itself). */
	bool no_proxy;
};

enum http_failure {
	HTTP_OK,
	HTTP_FAIL_SETUP,             /* the transfer could not be set up or run */
	HTTP_FAIL_CONNECT,           /* refused, unreachable, name not resolved */
	HTTP_FAIL_TIMEOUT,
	HTTP_FAIL_TLS,               /* handshake or certificate */
	HTTP_FAIL_TRANSPORT,         /* connection broke, odd reply */
	HTTP_FAIL_STATUS,            /* an answer, with an unwanted status */
	HTTP_FAIL_TOO_LARGE,         /* the body exceeded its cap */
};

/* http.c */
/*
 * Options every transfer shares: no signals, http and https only, no
 * redirects, the error buffer, the user agent, the timeout. Results of
 * options an old libcurl may lack are ignored on purpose; the first
 * other failure is returned.
 */
CURLcode http_setup(CURL *h, const struct http_opts *o);
/* How a transfer failed: result is libcurl's, status the HTTP status (0: none). */
enum http_failure http_classify(CURLcode result, bool status_ok);
const char *http_failure_name(enum http_failure f);
/* Worth another attempt (a request to the API): the failure may pass by itself. */
bool http_retryable(CURLcode result);
/* The transfer's error text: the error buffer without its line break, else libcurl's. */
const char *http_error_text(CURLcode result, char *errbuf);

#endif
