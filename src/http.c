/* http.c — shared easy-handle setup and failure classification. */
#include "http.h"

#include <limits.h>
#include <string.h>

CURLcode http_setup(CURL *h, const struct http_opts *o)
{
	CURLcode rc;
	long timeout = o->timeout_ms <= 0 ? 0 : o->timeout_ms > LONG_MAX ? LONG_MAX :
		       (long)o->timeout_ms;

#define SET(opt, val) do {                                      \
		if ((rc = curl_easy_setopt(h, opt, val)) != CURLE_OK) \
			return rc;                              \
	} while (0)
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_USERAGENT, o->user_agent ? o->user_agent : HTTP_USER_AGENT);
	if (o->errbuf) {
		o->errbuf[0] = '\0';
		SET(CURLOPT_ERRORBUFFER, o->errbuf);
	}
	SET(CURLOPT_TIMEOUT_MS, timeout);
	SET(CURLOPT_CONNECTTIMEOUT_MS, timeout);
	if (o->no_proxy)
		SET(CURLOPT_PROXY, "");
#undef SET
	return CURLE_OK;
}

enum http_failure http_classify(CURLcode result, bool status_ok)
{
	switch (result) {
	case CURLE_OK:
		return status_ok ? HTTP_OK : HTTP_FAIL_STATUS;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return HTTP_FAIL_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return HTTP_FAIL_TIMEOUT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return HTTP_FAIL_TLS;
	case CURLE_FILESIZE_EXCEEDED:
		return HTTP_FAIL_TOO_LARGE;
	case CURLE_FAILED_INIT:
	case CURLE_OUT_OF_MEMORY:
	case CURLE_UNKNOWN_OPTION:
	case CURLE_NOT_BUILT_IN:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return HTTP_FAIL_SETUP;
	default:
		return HTTP_FAIL_TRANSPORT;
	}
}

const char *http_failure_name(enum http_failure f)
{
	static const char *const names[] = {
		[HTTP_OK] = "ok",
		[HTTP_FAIL_SETUP] = "setup",
		[HTTP_FAIL_CONNECT] = "connect",
		[HTTP_FAIL_TIMEOUT] = "timeout",
		[HTTP_FAIL_TLS] = "tls",
		[HTTP_FAIL_TRANSPORT] = "transport",
		[HTTP_FAIL_STATUS] = "http_status",
		[HTTP_FAIL_TOO_LARGE] = "too_large",
	};
	return (size_t)f < sizeof names / sizeof names[0] ? names[f] : "invalid";
}

bool http_retryable(CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_PROXY:
		return true;
	default:
		return false;
	}
}

const char *http_error_text(CURLcode result, char *errbuf)
{
	if (errbuf && errbuf[0]) {
		size_t len = strlen(errbuf);
		while (len > 0 && (errbuf[len - 1] == '\n' || errbuf[len - 1] == '\r'))
			errbuf[--len] = '\0';
		return errbuf;
	}
	return curl_easy_strerror(result);
}
