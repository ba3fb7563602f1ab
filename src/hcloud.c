/*
 * hcloud.c — HTTP side of the Hetzner Cloud client: one reused libcurl
 * easy handle (keep-alive to the API), bearer auth, pagination, assign and
 * action polling, and the retry policy.
 *
 * Retry policy (api.md §5.3 and the lead's decision): branch on
 * error.code, not the HTTP status. Transient codes (hc_code_retryable),
 * 502/504 answers without an API error body and transport failures are
 * retried with jittered exponential backoff until the caller's deadline;
 * everything else fails at once. Bodies are parsed only after the whole
 * response arrived within its cap.
 */
#include "hcloud.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "curl_api.h"
#include "log.h"
#include "util.h"

#ifndef FLIPPER_VERSION
#define FLIPPER_VERSION "0.0.0"
#endif

#define HC_DEFAULT_TIMEOUT_MS     10000
#define HC_DEFAULT_RETRY_BASE_MS  500
#define HC_DEFAULT_RETRY_CAP_MS   8000
#define HC_DEFAULT_POLL_MS        500
/* Not worth starting a request (or a retry) with less time than this. */
#define HC_MIN_ATTEMPT_MS         250
/* The budget refills one request per second (api.md §6). */
#define HC_RATE_LIMIT_WAIT_MS     1000
#define HC_MAX_HEADER_VALUE       128
#define HC_MAX_TOKEN              4096
#define HC_BODY_SNIPPET           120

struct response {
	struct buf body;
	bool too_large;
	long status;
	char correlation_id[HC_MAX_HEADER_VALUE + 1];
	int64_t rl_limit;            /* -1: header absent */
	int64_t rl_remaining;
	int64_t rl_reset;
};

struct hcloud_client {
	CURL *curl;
	char *endpoint;
	char *group;
	char *token;                 /* kept only to scrub echoed text */
	struct curl_slist *get_headers;
	struct curl_slist *post_headers;
	int64_t timeout_ms;
	int64_t retry_base_ms;
	int64_t retry_cap_ms;
	int64_t poll_ms;
	uint64_t rng;
	char errbuf[CURL_ERROR_SIZE];
	struct hcloud_stats stats;
	size_t stats_cap;
};

/* One API call as the retry loop sees it. */
struct call {
	const char *method;          /* "GET" or "POST" */
	const char *kind;            /* counter label */
	const char *path;            /* "/servers", shown in errors */
	const char *query;           /* NULL or "a=b&c=d" */
	const char *body;            /* POST body (JSON) or NULL */
	size_t cap;                  /* response body cap */
	int64_t deadline;            /* mono_ms() */
};

/* ---- small helpers -------------------------------------------------------- */

static uint64_t rng_next(struct hcloud_client *c)
{
	/* xorshift64*: jitter only needs to decorrelate clients. */
	uint64_t x = c->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	c->rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/*
 * A run of the token this long is treated as the token: remote text is cut
 * to a length before it reaches us, and a cut can leave only the token's
 * first characters standing (a proxy page echoing "Authorization: Bearer
 * ...", cut at 120 bytes).
 */
#define HC_TOKEN_FRAGMENT 8

/* Replace the token in *s, whole or cut short, by "[redacted]". */
static void scrub(const struct hcloud_client *c, char **s)
{
	size_t tlen = c->token ? strlen(c->token) : 0;
	size_t need = tlen < HC_TOKEN_FRAGMENT ? tlen : HC_TOKEN_FRAGMENT;
	if (!*s || tlen == 0)
		return;
	const char *p = *s, *from = *s;
	struct buf b;
	bool hit = false;
	buf_init(&b, 0);
	while ((p = strchr(p, c->token[0]))) {
		size_t n = 0;
		while (n < tlen && p[n] == c->token[n])
			n++;
		if (n < need) {
			p++;
			continue;
		}
		hit = true;
		buf_add(&b, from, (size_t)(p - from));
		buf_addstr(&b, "[redacted]");
		p += n;
		from = p;
	}
	if (!hit) {
		buf_release(&b);
		return;
	}
	buf_addstr(&b, from);
	free(*s);
	*s = buf_detach(&b);
}

static void scrub_error(const struct hcloud_client *c, struct hc_error *e)
{
	scrub(c, &e->code);
	scrub(c, &e->message);
	scrub(c, &e->correlation_id);
}

static void count_request(struct hcloud_client *c, const char *kind, int status)
{
	struct hcloud_stats *s = &c->stats;
	for (size_t i = 0; i < s->n_requests; i++) {
		if (s->requests[i].status == status &&
		    strcmp(s->requests[i].kind, kind) == 0) {
			s->requests[i].count++;
			return;
		}
	}
	s->requests = xgrow(s->requests, &c->stats_cap, s->n_requests + 1,
			    sizeof *s->requests);
	s->requests[s->n_requests++] = (struct hc_request_count){ kind, status, 1 };
}

/* Printable ASCII, no spaces: nothing that could break a header line. */
static bool token_ok(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > HC_MAX_TOKEN)
		return false;
	for (const unsigned char *p = (const unsigned char *)t; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			return false;
	return true;
}

static bool endpoint_ok(const char *e)
{
	if (strncasecmp(e, "http://", 7) != 0 && strncasecmp(e, "https://", 8) != 0)
		return false;
	for (const unsigned char *p = (const unsigned char *)e; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			return false;
	return true;
}

/* ---- curl callbacks ------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
	struct response *r = ud;
	size_t len = size * n;
	if (buf_add(&r->body, data, len) < 0) {
		r->too_large = true;
		return 0;            /* aborts the transfer: CURLE_WRITE_ERROR */
	}
	return len;
}

static void header_value(char *dst, size_t dstlen, const char *v, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k + 1 < dstlen; i++) {
		unsigned char ch = (unsigned char)v[i];
		if (ch > 0x20 && ch < 0x7f)
			dst[k++] = (char)ch;
	}
	dst[k] = '\0';
}

static void header_int(int64_t *out, const char *v, size_t n)
{
	char tmp[32];
	int64_t x;
	header_value(tmp, sizeof tmp, v, n);
	if (parse_int64(tmp, &x) == 0 && x >= 0)
		*out = x;
}

static void response_reset_headers(struct response *r)
{
	r->correlation_id[0] = '\0';
	r->rl_limit = r->rl_remaining = r->rl_reset = -1;
}

/* Header names are case-insensitive (HTTP/2 sends them lower case). */
static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
	struct response *r = ud;
	size_t len = size * n;
	const char *colon = memchr(data, ':', len);

	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		response_reset_headers(r);   /* a new response (e.g. after 100) */
		return len;
	}
	if (!colon)
		return len;
	size_t nlen = (size_t)(colon - data);
	const char *v = colon + 1;
	size_t vlen = len - nlen - 1;
	while (vlen && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' ||
			v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
#define IS(name) (nlen == sizeof(name) - 1 && strncasecmp(data, name, nlen) == 0)
	if (IS("X-Correlation-Id"))
		header_value(r->correlation_id, sizeof r->correlation_id, v, vlen);
	else if (IS("RateLimit-Limit"))
		header_int(&r->rl_limit, v, vlen);
	else if (IS("RateLimit-Remaining"))
		header_int(&r->rl_remaining, v, vlen);
	else if (IS("RateLimit-Reset"))
		header_int(&r->rl_reset, v, vlen);
#undef IS
	return len;
}

/* ---- client --------------------------------------------------------------- */

static void headers_free(struct curl_slist *l)
{
	/* The Authorization line holds the token: wipe it before freeing. */
	for (struct curl_slist *p = l; p; p = p->next)
		explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(l);
}

static struct curl_slist *headers_build(const char *token, bool json_body)
{
	struct curl_slist *l = NULL, *t;
	size_t n = strlen("Authorization: Bearer ") + strlen(token) + 1;
	char *auth = xmalloc(n);

	snprintf(auth, n, "Authorization: Bearer %s", token);
	const char *lines[] = { auth, "Accept: application/json",
				json_body ? "Content-Type: application/json" : NULL };
	for (size_t i = 0; i < ARRAY_SIZE(lines) && lines[i]; i++) {
		if (!(t = curl_slist_append(l, lines[i]))) {
			headers_free(l);
			l = NULL;
			break;
		}
		l = t;
	}
	explicit_bzero(auth, n);
	free(auth);
	return l;
}

struct hcloud_client *hcloud_client_new(const struct hcloud_options *o,
					struct hc_error *err)
{
	struct hcloud_client *c;
	char *ua;

	if (!o->endpoint || !endpoint_ok(o->endpoint)) {
		hc_error_set(err, "invalid_argument",
			     "hetzner endpoint \"%s\" is not an http(s) URL",
			     o->endpoint ? o->endpoint : "");
		return NULL;
	}
	if (!o->token || !token_ok(o->token)) {
		hc_error_set(err, "invalid_argument", "%s",
			     !o->token || !*o->token ? "no Hetzner API token" :
			     "the Hetzner API token contains spaces or control characters");
		return NULL;
	}
	char *why = NULL;
	if (curl_api_load(&why) < 0) {
		hc_error_set(err, CURL_API_UNAVAILABLE, "%s", why);
		free(why);
		return NULL;
	}
	c = xcalloc(1, sizeof *c);
	c->endpoint = xstrdup(o->endpoint);
	for (size_t n = strlen(c->endpoint); n > 0 && c->endpoint[n - 1] == '/'; n--)
		c->endpoint[n - 1] = '\0';
	c->group = o->group ? xstrdup(o->group) : NULL;
	c->token = xstrdup(o->token);
	c->timeout_ms = o->request_timeout_ms > 0 ? o->request_timeout_ms : HC_DEFAULT_TIMEOUT_MS;
	c->retry_base_ms = o->retry_base_ms > 0 ? o->retry_base_ms : HC_DEFAULT_RETRY_BASE_MS;
	c->retry_cap_ms = o->retry_cap_ms > 0 ? o->retry_cap_ms : HC_DEFAULT_RETRY_CAP_MS;
	if (c->retry_cap_ms < c->retry_base_ms)
		c->retry_cap_ms = c->retry_base_ms;
	c->poll_ms = o->poll_interval_ms > 0 ? o->poll_interval_ms : HC_DEFAULT_POLL_MS;
	c->rng = ((uint64_t)now_ms() << 16) ^ ((uint64_t)getpid() << 40) ^
		 (uint64_t)(uintptr_t)c;
	if (!c->rng)
		c->rng = 0x9E3779B97F4A7C15ULL;
	c->stats.ratelimit_limit = c->stats.ratelimit_remaining =
		c->stats.ratelimit_reset = -1;

	c->get_headers = headers_build(o->token, false);
	c->post_headers = headers_build(o->token, true);
	if (!(c->curl = curl_easy_init()) || !c->get_headers || !c->post_headers) {
		hc_error_set(err, CURL_API_UNAVAILABLE, "cannot set up a libcurl handle");
		hcloud_client_free(c);
		return NULL;
	}
	ua = o->user_agent ? xstrdup(o->user_agent) : xstrdup("flipper/" FLIPPER_VERSION);
	CURL *h = c->curl;
	/*
	 * These fail only for options a libcurl lacks, and curl_api_load()
	 * refuses any older than the newest of them (7.85.0).
	 */
	(void)curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	(void)curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	(void)curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	(void)curl_easy_setopt(h, CURLOPT_USERAGENT, ua);   /* curl copies it */
	(void)curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
	(void)curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	(void)curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	(void)curl_easy_setopt(h, CURLOPT_VERBOSE, 0L);
	free(ua);
	return c;
}

void hcloud_client_free(struct hcloud_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	headers_free(c->get_headers);
	headers_free(c->post_headers);
	if (c->token) {
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
	}
	free(c->endpoint);
	free(c->group);
	free(c->stats.requests);
	free(c);
}

const struct hcloud_stats *hcloud_client_stats(const struct hcloud_client *c)
{
	return &c->stats;
}

/* ---- one request ---------------------------------------------------------- */

static bool curl_retryable(CURLcode rc)
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

/* The first bytes of a non-API body, to show what answered instead. */
static char *body_snippet(const struct buf *b)
{
	size_t n = b->len < HC_BODY_SNIPPET ? b->len : HC_BODY_SNIPPET;
	while (n > 0 && n < b->len && ((unsigned char)b->data[n] & 0xc0) == 0x80)
		n--;
	return n ? xstrndup(b->data, n) : xstrdup("");
}

/* An HTTP answer outside 2xx: the API's error body, or judge by status. */
static void http_failure(const struct response *r, struct hc_error *err)
{
	if (hc_parse_error(r->body.data, r->body.len, err) == 0) {
		err->retryable = hc_code_retryable(err->code);
		return;
	}
	/* api.md §5.3: gateways answer 502/504 without a JSON body. */
	err->retryable = r->status == 502 || r->status == 504;
	if (r->status >= 300 && r->status < 400) {
		hc_error_set(err, "http_error", "unexpected redirect (not followed)");
		return;
	}
	char *snip = body_snippet(&r->body);
	if (*snip)
		hc_error_set(err, "http_error", "unexpected answer without an API error: %s%s",
			     snip, r->body.len > strlen(snip) ? "..." : "");
	else
		hc_error_set(err, "http_error", "unexpected answer without an API error");
	free(snip);
}

static void log_request(const struct hcloud_client *c, const struct call *k,
			const char *url_path, long status, int64_t ms)
{
	char st[24], dur[24];
	if (!log_enabled(LOG_DEBUG))
		return;
	snprintf(st, sizeof st, "%ld", status);
	snprintf(dur, sizeof dur, "%" PRId64, ms);
	log_kv(LOG_DEBUG, c->group, "hcloud request", "method", k->method,
	       "path", url_path, "status", status ? st : "none",
	       "duration_ms", dur, NULL);
}

/*
 * One attempt. 0: a 2xx answer is in r. -1: err says what went wrong and
 * whether it is worth retrying; r->body is released.
 */
static int perform(struct hcloud_client *c, const struct call *k,
		   struct response *r, struct hc_error *err)
{
	CURL *h = c->curl;
	int64_t left = k->deadline - mono_ms();
	char *url_path, *url;
	CURLcode rc;

	hc_error_release(err);
	err->method = xstrdup(k->method);
	err->path = xstrdup(k->path);
	if (left <= 0) {
		hc_error_set(err, "deadline_exceeded", "the deadline passed before the request");
		err->deadline = true;
		return -1;
	}

	url_path = k->query ? xasprintf("%s?%s", k->path, k->query) : xstrdup(k->path);
	url = xasprintf("%s%s", c->endpoint, url_path);
	buf_init(&r->body, k->cap);
	r->too_large = false;
	r->status = 0;
	response_reset_headers(r);
	c->errbuf[0] = '\0';

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)k->cap);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
			 (long)(left < c->timeout_ms ? left : c->timeout_ms));
	if (k->body) {
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->post_headers);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(k->body));
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, k->body);
	} else {
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->get_headers);
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	}

	int64_t t0 = mono_ms();
	rc = curl_easy_perform(h);
	int64_t dur = mono_ms() - t0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	/* The handle must not keep pointers into this call's memory. */
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(h, CURLOPT_URL, NULL);
	free(url);

	count_request(c, k->kind, rc == CURLE_OK ? (int)r->status : 0);
	if (r->rl_limit >= 0)
		c->stats.ratelimit_limit = r->rl_limit;
	if (r->rl_remaining >= 0)
		c->stats.ratelimit_remaining = r->rl_remaining;
	if (r->rl_reset >= 0)
		c->stats.ratelimit_reset = r->rl_reset;
	log_request(c, k, url_path, rc == CURLE_OK ? r->status : 0, dur);
	free(url_path);

	err->http_status = (int)r->status;
	if (r->correlation_id[0])
		err->correlation_id = xstrdup(r->correlation_id);

	if (r->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
		hc_error_set(err, "response_too_large",
			     "response body exceeds the %zu byte limit", k->cap);
	} else if (rc != CURLE_OK) {
		err->http_status = 0;
		hc_error_set(err, "transport", "%s",
			     c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
		err->retryable = curl_retryable(rc);
	} else if (r->status >= 200 && r->status < 300) {
		hc_error_release(err);
		return 0;
	} else {
		http_failure(r, err);
	}
	scrub_error(c, err);
	buf_release(&r->body);
	return -1;
}

/* Full jitter within [base/2, min(cap, base * 2^retry)]. */
static int64_t backoff_ms(struct hcloud_client *c, int retry, const struct hc_error *err)
{
	int64_t hi = c->retry_base_ms, lo = c->retry_base_ms / 2;
	for (int i = 0; i < retry && hi < c->retry_cap_ms; i++)
		hi *= 2;
	if (hi > c->retry_cap_ms)
		hi = c->retry_cap_ms;
	if (lo > hi)
		lo = hi;
	int64_t d = lo + (int64_t)(rng_next(c) % (uint64_t)(hi - lo + 1));
	if (str_eq(err->code, "rate_limit_exceeded") && d < HC_RATE_LIMIT_WAIT_MS)
		d = HC_RATE_LIMIT_WAIT_MS;
	return d;
}

/*
 * perform() until a 2xx answer, a permanent failure, or the deadline. On
 * success the caller owns r->body.
 */
static int request(struct hcloud_client *c, const struct call *k,
		   struct response *r, struct hc_error *err)
{
	for (int attempt = 1;; attempt++) {
		if (perform(c, k, r, err) == 0)
			return 0;
		err->attempts = attempt;
		if (!err->retryable || err->deadline)
			return -1;
		int64_t left = k->deadline - mono_ms() - HC_MIN_ATTEMPT_MS;
		if (left <= 0) {
			err->deadline = true;
			return -1;
		}
		int64_t delay = backoff_ms(c, attempt - 1, err);
		if (delay > left)
			delay = left;
		if (log_enabled(LOG_INFO)) {
			char *msg = hc_error_format(err);
			char ms[24];
			snprintf(ms, sizeof ms, "%" PRId64, delay);
			log_kv(LOG_INFO, c->group, "hcloud request failed, retrying",
			       "error", msg, "delay_ms", ms, NULL);
			free(msg);
		}
		c->stats.retries++;
		sleep_ms(delay);
	}
}

/* Attach the request context of a well-answered call to a parse error. */
static void annotate(struct hc_error *err, const struct call *k,
		     const struct response *r)
{
	free(err->method);
	free(err->path);
	free(err->correlation_id);
	err->method = xstrdup(k->method);
	err->path = xstrdup(k->path);
	err->correlation_id = r->correlation_id[0] ? xstrdup(r->correlation_id) : NULL;
	err->http_status = (int)r->status;
	err->retryable = false;
	if (err->attempts < 1)
		err->attempts = 1;
}

/* ---- listing -------------------------------------------------------------- */

static char *list_query(struct hcloud_client *c, const char *selector, int64_t page)
{
	char *q;
	if (selector && *selector) {
		char *esc = curl_easy_escape(c->curl, selector, 0);
		if (!esc)
			abort();     /* only on allocation failure */
		q = xasprintf("label_selector=%s&sort=id:asc&page=%" PRId64 "&per_page=%d",
			      esc, page, HC_PER_PAGE);
		curl_free(esc);
	} else {
		q = xasprintf("sort=id:asc&page=%" PRId64 "&per_page=%d", page, HC_PER_PAGE);
	}
	return q;
}

/*
 * Pagination guard: next_page must move forward and the walk must end,
 * whatever the API says (a loop would otherwise never finish).
 */
static int next_page_ok(int64_t page, int64_t next, int64_t pages, struct hc_error *err)
{
	if (next == 0)
		return 0;
	if (next <= page) {
		hc_error_set(err, "invalid_response",
			     "meta.pagination.next_page %" PRId64 " does not follow page %" PRId64,
			     next, page);
		return -1;
	}
	if (pages >= HC_MAX_PAGES) {
		hc_error_set(err, "invalid_response", "more than %d pages", HC_MAX_PAGES);
		return -1;
	}
	return 0;
}

/*
 * What differs between listing servers and listing floating IPs: the
 * endpoint, the item type and its parser. list_all() does the rest once.
 */
struct list_kind {
	const char *kind;            /* request counter label */
	const char *path;
	size_t size;                 /* sizeof one item */
	int (*parse)(const char *body, size_t len, void **out, size_t *n,
		     int64_t *next, struct hc_error *err);
	void (*release)(void *item);
	int (*cmp)(const void *a, const void *b);   /* by id */
	int64_t (*id)(const void *item);
};

static int parse_servers(const char *body, size_t len, void **out, size_t *n,
			 int64_t *next, struct hc_error *err)
{
	struct hc_server *v = NULL;
	int rc = hc_parse_servers(body, len, &v, n, next, err);
	*out = v;
	return rc;
}

static int parse_fips(const char *body, size_t len, void **out, size_t *n,
		      int64_t *next, struct hc_error *err)
{
	struct hc_fip *v = NULL;
	int rc = hc_parse_floating_ips(body, len, &v, n, next, err);
	*out = v;
	return rc;
}

static void release_server(void *p) { hc_server_release(p); }
static void release_fip(void *p) { hc_fip_release(p); }
static int64_t server_id(const void *p) { return ((const struct hc_server *)p)->id; }
static int64_t fip_id(const void *p) { return ((const struct hc_fip *)p)->id; }

static int cmp_server(const void *a, const void *b)
{
	int64_t x = server_id(a), y = server_id(b);
	return (x > y) - (x < y);
}

static int cmp_fip(const void *a, const void *b)
{
	int64_t x = fip_id(a), y = fip_id(b);
	return (x > y) - (x < y);
}

static const struct list_kind servers_kind = {
	"servers", "/servers", sizeof(struct hc_server), parse_servers, release_server,
	cmp_server, server_id,
};
static const struct list_kind fips_kind = {
	"floating_ips", "/floating_ips", sizeof(struct hc_fip), parse_fips, release_fip,
	cmp_fip, fip_id,
};

static void free_items(const struct list_kind *lk, char *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		lk->release(v + i * lk->size);
	free(v);
}

/* Every page of a listing, sorted by id, each id once; all or nothing. */
static int list_all(struct hcloud_client *c, const struct list_kind *lk, const char *selector,
		    int64_t deadline, void **out, size_t *n, struct hc_error *err)
{
	char *all = NULL;
	size_t n_all = 0, cap = 0, n_page;
	int64_t page = 1, next, pages = 0;

	*out = NULL;
	*n = 0;
	for (;;) {
		struct response r;
		void *page_items = NULL;
		char *q = list_query(c, selector, page);
		struct call k = { "GET", lk->kind, lk->path, q, NULL, HC_MAX_BODY_LIST, deadline };
		int rc = request(c, &k, &r, err);
		free(q);
		if (rc < 0)
			goto bad;
		pages++;
		rc = lk->parse(r.body.data, r.body.len, &page_items, &n_page, &next, err);
		if (rc == 0)
			rc = next_page_ok(page, next, pages, err);
		if (rc < 0) {
			annotate(err, &k, &r);
			if (page_items)
				free_items(lk, page_items, n_page);
			buf_release(&r.body);
			goto bad;
		}
		buf_release(&r.body);
		all = xgrow(all, &cap, n_all + n_page, lk->size);
		if (n_page)
			memcpy(all + n_all * lk->size, page_items, n_page * lk->size);
		n_all += n_page;
		free(page_items);
		if (next == 0)
			break;
		page = next;
	}
	/* Items can shift between pages while we walk: keep each id once. */
	if (n_all)
		qsort(all, n_all, lk->size, lk->cmp);
	size_t w = 0;
	for (size_t i = 0; i < n_all; i++) {
		char *item = all + i * lk->size;
		if (w > 0 && lk->id(all + (w - 1) * lk->size) == lk->id(item))
			lk->release(item);
		else if (w++ != i)
			memcpy(all + (w - 1) * lk->size, item, lk->size);
	}
	*out = all;
	*n = w;
	return 0;
bad:
	free_items(lk, all, n_all);
	return -1;
}

int hcloud_list_servers(struct hcloud_client *c, const char *selector,
			int64_t deadline, struct hc_server **out, size_t *n,
			struct hc_error *err)
{
	void *v;
	int rc = list_all(c, &servers_kind, selector, deadline, &v, n, err);
	*out = v;
	return rc;
}

int hcloud_list_floating_ips(struct hcloud_client *c, const char *selector,
			     int64_t deadline, struct hc_fip **out, size_t *n,
			     struct hc_error *err)
{
	void *v;
	int rc = list_all(c, &fips_kind, selector, deadline, &v, n, err);
	*out = v;
	return rc;
}

int hcloud_get_floating_ip(struct hcloud_client *c, int64_t id,
			   int64_t deadline, struct hc_fip *out,
			   struct hc_error *err)
{
	struct response r;
	char path[64];

	memset(out, 0, sizeof *out);
	snprintf(path, sizeof path, "/floating_ips/%" PRId64, id);
	struct call k = { "GET", "floating_ips", path, NULL, NULL,
			  HC_MAX_BODY_OBJECT, deadline };
	if (request(c, &k, &r, err) < 0)
		return -1;
	int rc = hc_parse_floating_ip(r.body.data, r.body.len, out, err);
	if (rc < 0)
		annotate(err, &k, &r);
	buf_release(&r.body);
	return rc;
}

/* ---- assign ---------------------------------------------------------------- */

/* Poll GET /actions/{id} until it leaves "running" or the deadline comes. */
static int wait_action(struct hcloud_client *c, struct hc_action *a,
		       const char *action_path, int64_t deadline, struct hc_error *err)
{
	char path[64];
	snprintf(path, sizeof path, "/actions/%" PRId64, a->id);

	while (a->status == HC_ACTION_RUNNING) {
		struct response r;
		int64_t left = deadline - mono_ms() - HC_MIN_ATTEMPT_MS;
		if (left <= 0) {
			hc_error_release(err);
			err->method = xstrdup("POST");
			err->path = xstrdup(action_path);
			hc_error_set(err, "deadline_exceeded",
				     "action %" PRId64 " still running at the deadline", a->id);
			err->deadline = true;
			err->retryable = true;
			return -1;
		}
		sleep_ms(left < c->poll_ms ? left : c->poll_ms);
		struct call k = { "GET", "actions", path, NULL, NULL,
				  HC_MAX_BODY_OBJECT, deadline };
		if (request(c, &k, &r, err) < 0)
			return -1;
		hc_action_release(a);
		int rc = hc_parse_action(r.body.data, r.body.len, a, err);
		if (rc < 0)
			annotate(err, &k, &r);
		buf_release(&r.body);
		if (rc < 0)
			return -1;
	}
	if (a->status == HC_ACTION_SUCCESS)
		return 0;
	hc_error_release(err);
	err->method = xstrdup("POST");
	err->path = xstrdup(action_path);
	hc_error_set(err, a->error_code, "%s (action %" PRId64 ")",
		     a->error_message, a->id);
	scrub_error(c, err);
	err->attempts = 1;
	return -1;
}

/* POST /floating_ips/{id}/actions/{verb} and wait for the action. */
static int fip_action(struct hcloud_client *c, int64_t fip, const char *verb,
		      const char *body, int64_t deadline, struct hc_error *err)
{
	struct hc_action a = { 0 };
	struct response r;
	char path[96];

	snprintf(path, sizeof path, "/floating_ips/%" PRId64 "/actions/%s", fip, verb);
	struct call k = { "POST", verb, path, NULL, body, HC_MAX_BODY_OBJECT, deadline };
	if (request(c, &k, &r, err) < 0)
		return -1;
	int rc = hc_parse_action(r.body.data, r.body.len, &a, err);
	if (rc < 0)
		annotate(err, &k, &r);
	buf_release(&r.body);
	if (rc == 0)
		rc = wait_action(c, &a, path, deadline, err);
	hc_action_release(&a);
	return rc;
}

/*
 * 422 floating_ip_assigned (api.md §4.1): "already assigned". Look at the
 * IP: on the target already (an earlier attempt of ours may have done it)
 * is success; on the server the plan moves it from, the API will not move
 * it directly, so unassign it and assign again, once; unassigned
 * meanwhile, assign again; on a third server, somebody else moved it:
 * leave it to the next round, which plans on what the API says then.
 * err holds the 422 on entry.
 */
static int check_assigned(struct hcloud_client *c, int64_t fip, int64_t server, int64_t from,
			  const char *body, int64_t deadline, struct hc_error *err)
{
	struct hc_error gerr = HC_ERROR_INIT;
	struct hc_fip f;
	char a[24], b[24];

	if (hcloud_get_floating_ip(c, fip, deadline, &f, &gerr) < 0) {
		hc_error_release(err);
		*err = gerr;
		return -1;
	}
	int64_t on = f.server;
	hc_fip_release(&f);
	snprintf(a, sizeof a, "%" PRId64, fip);
	snprintf(b, sizeof b, "%" PRId64, server);
	if (on == server) {
		log_kv(LOG_INFO, c->group, "floating IP already assigned to the target",
		       "floating_ip", a, "server", b, NULL);
		hc_error_release(err);
		return 0;
	}
	if (on && from != HC_FROM_ANY && on != from) {
		hc_error_set(err, "floating_ip_assigned",
			     "floating IP %" PRId64 " is on server %" PRId64 ", not on %" PRId64
			     " as planned: somebody else moved it; left alone", fip, on, from);
		err->retryable = false;
		return -1;
	}
	hc_error_release(err);
	if (on) {
		char o[24];
		snprintf(o, sizeof o, "%" PRId64, on);
		log_kv(LOG_WARN, c->group, "the API will not move the floating IP directly; "
		       "unassigning it, then assigning it again", "floating_ip", a,
		       "from", o, "to", b, NULL);
		if (fip_action(c, fip, "unassign", "{}", deadline, err) < 0)
			return -1;
	}
	if (fip_action(c, fip, "assign", body, deadline, err) == 0)
		return 0;
	if (str_eq(err->code, "floating_ip_assigned")) {
		/* Somebody else moved it in between: leave it to the next round. */
		hc_error_set(err, "floating_ip_assigned",
			     "floating IP %" PRId64 " was assigned again by someone else while "
			     "flipper moved it to server %" PRId64, fip, server);
		err->retryable = false;
	}
	return -1;
}

int hcloud_assign(struct hcloud_client *c, int64_t fip, int64_t server, int64_t from,
		  int64_t deadline, struct hc_error *err)
{
	char body[48];

	if (fip <= 0 || server <= 0) {
		hc_error_set(err, "invalid_argument",
			     "cannot assign floating IP %" PRId64 " to server %" PRId64,
			     fip, server);
		return -1;
	}
	snprintf(body, sizeof body, "{\"server\":%" PRId64 "}", server);
	if (fip_action(c, fip, "assign", body, deadline, err) == 0)
		return 0;
	if (!str_eq(err->code, "floating_ip_assigned"))
		return -1;
	return check_assigned(c, fip, server, from, body, deadline, err);
}
