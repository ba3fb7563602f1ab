/*
 * hcloud.c — HTTP side of the Hetzner Cloud client, on the event loop:
 * bearer auth, pagination, assign and action polling, the retry policy,
 * and the request budget of each token.
 *
 * Every operation (a listing, an assignment) is a small state machine
 * made of calls; a call is one API request with its retries. Nothing
 * here waits: requests run on the loop's multi handle, backoff and
 * action polling are loop timers, and each operation ends in one call of
 * its callback. Connections to the API are kept alive by the multi
 * handle's connection cache.
 *
 * Retry policy (api.md §5.3 and the lead's decision): branch on
 * error.code, not the HTTP status. Transient codes (hc_code_retryable),
 * 502/504 answers without an API error body and transport failures are
 * retried with jittered exponential backoff until the caller's deadline;
 * everything else fails at once. Bodies are parsed only after the whole
 * response arrived within its cap.
 *
 * Budget (api.md §6): 3,600 requests an hour per token, refilling one a
 * second. Every client with the same token draws on one token bucket;
 * below a reserve, listings wait so that the requests of an apply
 * (assignments, their action polls) always find a token.
 */
#include "hcloud.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "curl_api.h"
#include "http.h"
#include "log.h"
#include "loop.h"
#include "util.h"

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
#define HC_BUDGET_CAPACITY        3600
#define HC_BUDGET_REFILL_MS       1000
/* Below this many requests left, listings wait and an apply goes first. */
#define HC_BUDGET_RESERVE         60

struct response {
	struct buf body;
	bool too_large;
	long status;
	char correlation_id[HC_MAX_HEADER_VALUE + 1];
	int64_t rl_limit;            /* -1: header absent */
	int64_t rl_remaining;
	int64_t rl_reset;
};

struct hc_call;

/* The request budget of one token, shared by every client that uses it. */
struct hc_budget {
	struct hc_budget *next;
	char *token;
	size_t refs;
	struct loop *loop;
	double left;                 /* requests that may go now */
	int64_t stamp;               /* mono_ms() left was computed at */
	struct hc_call *wait_head, *wait_tail;   /* calls waiting, oldest first */
	size_t applying;             /* operations of an apply in flight */
	struct loop_timer timer;     /* the next request's worth of refill */
};

static struct hc_budget *budgets;

struct hcloud_client {
	struct loop *loop;
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
	struct hcloud_stats stats;
	size_t stats_cap;
	struct hc_budget *budget;
	struct hc_op *ops;           /* in flight, for hcloud_client_free() */
};

/* One API request and its retries. */
struct hc_call {
	struct hcloud_client *c;
	struct hc_op *op;
	void (*done)(struct hc_call *k, int rc);   /* 0: 2xx in r.body; -1: err */
	const char *method;          /* "GET" or "POST" */
	const char *kind;            /* counter label */
	char *path;                  /* "/servers", shown in errors */
	char *query;                 /* NULL or "a=b&c=d" */
	char *body;                  /* POST body (JSON) or NULL */
	size_t cap;                  /* response body cap */
	int64_t deadline;            /* mono_ms() */
	bool mutation;               /* part of an apply: served first when the budget is low */
	struct response r;
	struct hc_error err;
	int attempt;
	char *url;
	char *url_path;
	int64_t t0;
	struct loop_xfer xfer;
	struct loop_timer retry;
	bool waiting;                /* for the budget */
	struct hc_call *wnext;
	char errbuf[CURL_ERROR_SIZE];
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
	struct buf b = BUF_INIT;
	bool hit = false;
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

/* ---- requests ------------------------------------------------------------- */

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

/* ---- listing helpers -------------------------------------------------------- */

/* RFC 3986 percent-encoding: everything but the unreserved characters. */
static void url_escape(struct buf *b, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || strchr("-._~", *p))
			buf_addch(b, (char)*p);
		else
			buf_printf(b, "%%%02X", *p);
	}
}

static char *list_query(const char *selector, int64_t page)
{
	char *q;
	if (selector && *selector) {
		struct buf esc = BUF_INIT;
		url_escape(&esc, selector);
		q = xasprintf("label_selector=%s&sort=id:asc&page=%" PRId64 "&per_page=%d",
			      esc.data, page, HC_PER_PAGE);
		buf_release(&esc);
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

/* ---- operations in flight ---------------------------------------------------- */

enum assign_step { STEP_ASSIGN, STEP_LOOK, STEP_UNASSIGN, STEP_REASSIGN };

/* One listing of one kind: every page, in order. */
struct listing {
	const struct list_kind *lk;
	char *selector;
	char *items;
	size_t n, cap;
	int64_t page, pages;
	struct hc_call *call;
	bool done;
};

struct hc_op {
	struct hcloud_client *c;
	struct hc_op *prev, *next;   /* the client's operations in flight */
	hc_done_fn done;
	void *arg;
	int64_t deadline;
	bool mutation;
	struct hc_result r;
	struct loop_timer timer;     /* action polls; a result ready at once */
	bool finished;
	/* listing */
	struct listing lists[2];
	size_t n_lists;
	/* assignment */
	int64_t fip, server, from;
	enum assign_step step;
	struct hc_call *call;
	struct hc_action action;
	char action_path[96];        /* the POST that made the action, for errors */
	char body[48];
	void (*on_action)(void *arg, int64_t action_id);
	void *on_action_arg;
};

/* ---- the budget of a token ------------------------------------------------- */

static void call_attempt(struct hc_call *k);
static void call_attempt_taken(struct hc_call *k);

static void budget_refill(struct hc_budget *b)
{
	int64_t now = mono_ms();
	b->left += (double)(now - b->stamp) / HC_BUDGET_REFILL_MS;
	if (b->left > HC_BUDGET_CAPACITY)
		b->left = HC_BUDGET_CAPACITY;
	b->stamp = now;
}

/* May k go now? While an apply runs, listings leave it a reserve. */
static double budget_need(const struct hc_budget *b, const struct hc_call *k)
{
	return k->mutation || !b->applying ? 1.0 : 1.0 + HC_BUDGET_RESERVE;
}

static bool budget_allows(const struct hc_budget *b, const struct hc_call *k)
{
	return b->left >= budget_need(b, k);
}

static void budget_wait_remove(struct hc_budget *b, struct hc_call *k)
{
	struct hc_call **pp = &b->wait_head, *prev = NULL;
	while (*pp && *pp != k) {
		prev = *pp;
		pp = &(*pp)->wnext;
	}
	if (*pp) {
		*pp = k->wnext;
		if (b->wait_tail == k)
			b->wait_tail = prev;
	}
	k->wnext = NULL;
	k->waiting = false;
}

static void budget_arm(struct hc_budget *b)
{
	if (!b->wait_head || !b->loop) {
		if (b->loop)
			loop_timer_disarm(b->loop, &b->timer);
		return;
	}
	/* When the first waiting call could go, or the first one's deadline came. */
	double need = 1.0 + HC_BUDGET_RESERVE;
	int64_t now = mono_ms(), first_deadline = INT64_MAX;
	for (struct hc_call *k = b->wait_head; k; k = k->wnext) {
		if (budget_need(b, k) < need)
			need = budget_need(b, k);
		if (k->deadline < first_deadline)
			first_deadline = k->deadline;
	}
	double missing = need - b->left;
	int64_t at = now + (missing <= 0 ? 0 : (int64_t)(missing * HC_BUDGET_REFILL_MS) + 1);
	loop_timer_arm(b->loop, &b->timer, at < first_deadline ? at : first_deadline);
}

/* Let waiting calls go, mutations first, in the order they came. */
static void budget_fire(struct loop_timer *t)
{
	struct hc_budget *b = container_of(t, struct hc_budget, timer);
	/*
	 * One call at a time, then look again from the start: a call that
	 * fails at once may end its operation, and with it other waiting calls.
	 */
	for (;;) {
		budget_refill(b);
		int64_t now = mono_ms();
		struct hc_call *pick = NULL;
		for (struct hc_call *k = b->wait_head; k && !pick; k = k->wnext)
			if (k->deadline <= now || (k->mutation && budget_allows(b, k)))
				pick = k;
		for (struct hc_call *k = b->wait_head; k && !pick; k = k->wnext)
			if (budget_allows(b, k))
				pick = k;
		if (!pick)
			break;
		budget_wait_remove(b, pick);
		if (pick->deadline > now)
			b->left -= 1;
		call_attempt_taken(pick);
	}
	budget_arm(b);
}

/* Take one request's worth; false: k waits and is attempted again later. */
static bool budget_take(struct hc_budget *b, struct hc_call *k)
{
	budget_refill(b);
	/* Nobody overtakes a call of its kind that already waits. */
	bool queued = false;
	for (struct hc_call *w = b->wait_head; w; w = w->wnext)
		queued |= w->mutation || !k->mutation;
	if (!queued && budget_allows(b, k)) {
		b->left -= 1;
		return true;
	}
	k->waiting = true;
	k->wnext = NULL;
	if (b->wait_tail)
		b->wait_tail->wnext = k;
	else
		b->wait_head = k;
	b->wait_tail = k;
	budget_arm(b);
	return false;
}

/* The API knows better: other users of the token, or another process. */
static void budget_observe(struct hc_budget *b, int64_t remaining, long status)
{
	budget_refill(b);
	if (remaining >= 0 && remaining < b->left)
		b->left = (double)remaining;
	if (status == 429 && b->left > 0)
		b->left = 0;
}

static struct hc_budget *budget_get(const char *token, struct loop *l)
{
	for (struct hc_budget *b = budgets; b; b = b->next) {
		if (strcmp(b->token, token) == 0) {
			b->refs++;
			if (!b->loop)
				b->loop = l;
			return b;
		}
	}
	struct hc_budget *b = xcalloc(1, sizeof *b);
	b->token = xstrdup(token);
	b->refs = 1;
	b->loop = l;
	b->left = HC_BUDGET_CAPACITY;
	b->stamp = mono_ms();
	b->timer.fire = budget_fire;
	b->next = budgets;
	budgets = b;
	return b;
}

static void budget_put(struct hc_budget *b)
{
	if (!b || --b->refs > 0)
		return;
	for (struct hc_budget **pp = &budgets; *pp; pp = &(*pp)->next) {
		if (*pp == b) {
			*pp = b->next;
			break;
		}
	}
	if (b->loop)
		loop_timer_disarm(b->loop, &b->timer);
	explicit_bzero(b->token, strlen(b->token));
	free(b->token);
	free(b);
}

/* ---- client --------------------------------------------------------------- */

struct hcloud_client *hcloud_client_new(const struct hcloud_options *o,
					struct hc_error *err)
{
	struct hcloud_client *c;

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
	if (!o->loop) {
		hc_error_set(err, "invalid_argument", "no event loop to run on");
		return NULL;
	}
	c = xcalloc(1, sizeof *c);
	c->loop = o->loop;
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
	if (!c->get_headers || !c->post_headers) {
		hc_error_set(err, "invalid_argument", "cannot build the request headers");
		hcloud_client_free(c);
		return NULL;
	}
	c->budget = budget_get(o->token, o->loop);
	return c;
}

const struct hcloud_stats *hcloud_client_stats(const struct hcloud_client *c)
{
	struct hcloud_stats *s = (struct hcloud_stats *)&c->stats;
	budget_refill(c->budget);
	s->budget_left = (int64_t)c->budget->left;
	return s;
}

/* ---- one call --------------------------------------------------------------- */

static void log_request(const struct hc_call *k, long status, int64_t ms)
{
	if (!log_enabled(LOG_DEBUG))
		return;
	/* status 0: no HTTP answer. */
	log_kv(LOG_DEBUG, k->c->group, "hcloud request", "method", k->method,
	       "path", k->url_path, LOG_I64("status", status), LOG_I64("duration_ms", ms), NULL);
}

static struct hc_call *call_new(struct hc_op *op, const char *method, const char *kind,
				char *path, char *query, const char *body, size_t cap,
				void (*done)(struct hc_call *k, int rc));
static void call_free(struct hc_call *k);

static void call_finish(struct hc_call *k, int rc)
{
	k->done(k, rc);
}

static void call_deadline(struct hc_call *k, const char *what)
{
	hc_error_release(&k->err);
	k->err.method = xstrdup(k->method);
	k->err.path = xstrdup(k->path);
	hc_error_set(&k->err, "deadline_exceeded", "%s", what);
	k->err.deadline = true;
	k->err.attempts = k->attempt;
	call_finish(k, -1);
}

static void call_retry_fire(struct loop_timer *t)
{
	call_attempt(container_of(t, struct hc_call, retry));
}

/* A failed attempt: try again after a backoff, or give up. */
static void call_failed(struct hc_call *k)
{
	struct hcloud_client *c = k->c;
	k->err.attempts = k->attempt;
	if (!k->err.retryable || k->err.deadline) {
		call_finish(k, -1);
		return;
	}
	int64_t left = k->deadline - mono_ms() - HC_MIN_ATTEMPT_MS;
	if (left <= 0) {
		k->err.deadline = true;
		call_finish(k, -1);
		return;
	}
	int64_t delay = backoff_ms(c, k->attempt - 1, &k->err);
	if (delay > left)
		delay = left;
	if (log_enabled(LOG_INFO)) {
		char *msg = hc_error_format(&k->err);
		log_kv(LOG_INFO, c->group, "hcloud request failed, retrying",
		       "error", msg, LOG_I64("delay_ms", delay), NULL);
		free(msg);
	}
	c->stats.retries++;
	loop_timer_arm(c->loop, &k->retry, mono_ms() + delay);
}

static void call_xfer_done(struct loop_xfer *x, CURLcode rc)
{
	struct hc_call *k = container_of(x, struct hc_call, xfer);
	struct hcloud_client *c = k->c;
	struct response *r = &k->r;
	int64_t dur = mono_ms() - k->t0;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r->status);
	count_request(c, k->kind, rc == CURLE_OK ? (int)r->status : 0);
	if (r->rl_limit >= 0)
		c->stats.ratelimit_limit = r->rl_limit;
	if (r->rl_remaining >= 0)
		c->stats.ratelimit_remaining = r->rl_remaining;
	if (r->rl_reset >= 0)
		c->stats.ratelimit_reset = r->rl_reset;
	budget_observe(c->budget, r->rl_remaining, rc == CURLE_OK ? r->status : 0);
	log_request(k, rc == CURLE_OK ? r->status : 0, dur);

	struct hc_error *err = &k->err;
	err->http_status = (int)r->status;
	if (r->correlation_id[0])
		err->correlation_id = xstrdup(r->correlation_id);
	if (r->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
		hc_error_set(err, "response_too_large",
			     "response body exceeds the %zu byte limit", k->cap);
	} else if (rc != CURLE_OK) {
		err->http_status = 0;
		hc_error_set(err, "transport", "%s", http_error_text(rc, k->errbuf));
		err->retryable = http_retryable(rc);
	} else if (r->status >= 200 && r->status < 300) {
		hc_error_release(err);
		call_finish(k, 0);
		return;
	} else {
		http_failure(r, err);
	}
	scrub_error(c, err);
	buf_release(&r->body);
	call_failed(k);
}

static void call_attempt(struct hc_call *k)
{
	struct hcloud_client *c = k->c;
	int64_t left = k->deadline - mono_ms();

	if (left <= 0) {
		call_deadline(k, "the deadline passed before the request");
		return;
	}
	if (!budget_take(c->budget, k))
		return;              /* budget_fire() lets it go */
	call_attempt_taken(k);
}

/* One attempt of k, its request paid for. */
static void call_attempt_taken(struct hc_call *k)
{
	struct hcloud_client *c = k->c;
	int64_t left = k->deadline - mono_ms();

	if (left <= 0) {
		call_deadline(k, "the deadline passed before the request");
		return;
	}
	k->attempt++;
	hc_error_release(&k->err);
	k->err.method = xstrdup(k->method);
	k->err.path = xstrdup(k->path);
	buf_release(&k->r.body);
	buf_init(&k->r.body, k->cap);
	k->r.too_large = false;
	k->r.status = 0;
	response_reset_headers(&k->r);

	CURL *h = k->xfer.easy;
	if (!h) {
		h = k->xfer.easy = curl_easy_init();
		struct http_opts ho = { .timeout_ms = 0, .errbuf = k->errbuf };
		if (!h || http_setup(h, &ho) != CURLE_OK) {
			hc_error_set(&k->err, "transport", "cannot set up a request (libcurl)");
			k->err.attempts = k->attempt;
			call_finish(k, -1);
			return;
		}
		(void)curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
		(void)curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
		(void)curl_easy_setopt(h, CURLOPT_WRITEDATA, &k->r);
		(void)curl_easy_setopt(h, CURLOPT_HEADERDATA, &k->r);
		(void)curl_easy_setopt(h, CURLOPT_URL, k->url);
		(void)curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)k->cap);
		if (k->body) {
			(void)curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->post_headers);
			(void)curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(k->body));
			(void)curl_easy_setopt(h, CURLOPT_POSTFIELDS, k->body);
		} else {
			(void)curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->get_headers);
			(void)curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
		}
	}
	k->errbuf[0] = '\0';
	/* One request gets its share of the deadline, never more than is left. */
	(void)curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
			       (long)(left < c->timeout_ms ? left : c->timeout_ms));
	k->t0 = mono_ms();
	if (loop_start(c->loop, &k->xfer, false) < 0) {
		hc_error_set(&k->err, "transport", "the event loop refused the request");
		k->err.retryable = true;
		call_failed(k);
	}
}

static struct hc_call *call_new(struct hc_op *op, const char *method, const char *kind,
				char *path, char *query, const char *body, size_t cap,
				void (*done)(struct hc_call *k, int rc))
{
	struct hc_call *k = xcalloc(1, sizeof *k);
	k->op = op;
	k->c = op->c;
	k->method = method;
	k->kind = kind;
	k->path = path;
	k->query = query;
	k->body = body ? xstrdup(body) : NULL;
	k->cap = cap;
	k->deadline = op->deadline;
	k->mutation = op->mutation;
	k->done = done;
	k->url_path = query ? xasprintf("%s?%s", path, query) : xstrdup(path);
	k->url = xasprintf("%s%s", op->c->endpoint, k->url_path);
	k->xfer.done = call_xfer_done;
	k->retry.fire = call_retry_fire;
	buf_init(&k->r.body, cap);
	return k;
}

static void call_free(struct hc_call *k)
{
	if (!k)
		return;
	struct hcloud_client *c = k->c;
	if (k->waiting)
		budget_wait_remove(c->budget, k);
	loop_timer_disarm(c->loop, &k->retry);
	if (k->xfer.easy) {
		loop_abort(c->loop, &k->xfer);
		curl_easy_cleanup(k->xfer.easy);
	}
	buf_release(&k->r.body);
	hc_error_release(&k->err);
	free(k->path);
	free(k->query);
	free(k->body);
	free(k->url);
	free(k->url_path);
	free(k);
}

/* Attach the request context of a well-answered call to a parse error. */
static void annotate(struct hc_error *err, const struct hc_call *k)
{
	free(err->method);
	free(err->path);
	free(err->correlation_id);
	err->method = xstrdup(k->method);
	err->path = xstrdup(k->path);
	err->correlation_id = k->r.correlation_id[0] ? xstrdup(k->r.correlation_id) : NULL;
	err->http_status = (int)k->r.status;
	err->retryable = false;
	if (err->attempts < 1)
		err->attempts = k->attempt > 0 ? k->attempt : 1;
}

/* ---- operations ---------------------------------------------------------------- */

static void op_release(struct hc_op *op)
{
	struct hcloud_client *c = op->c;
	loop_timer_disarm(c->loop, &op->timer);
	for (size_t i = 0; i < op->n_lists; i++) {
		struct listing *ls = &op->lists[i];
		call_free(ls->call);
		for (size_t k = 0; k < ls->n; k++)
			ls->lk->release(ls->items + k * ls->lk->size);
		free(ls->items);
		free(ls->selector);
	}
	call_free(op->call);
	hc_action_release(&op->action);
	hc_result_release(&op->r);
	if (op->mutation)
		c->budget->applying--;
	if (op->prev)
		op->prev->next = op->next;
	else
		c->ops = op->next;
	if (op->next)
		op->next->prev = op->prev;
	free(op);
}

/* Hand the result over; the operation is gone afterwards. */
static void op_finish(struct hc_op *op, int rc)
{
	struct hc_result r = op->r;
	hc_done_fn done = op->done;
	void *arg = op->arg;
	memset(&op->r, 0, sizeof op->r);
	r.rc = rc;
	if (rc == 0)
		hc_error_release(&r.err);
	op_release(op);
	done(arg, &r);
	hc_result_release(&r);
}

/* Fail with the error of call k (taken from it). */
static void op_fail_call(struct hc_op *op, struct hc_call *k)
{
	hc_error_release(&op->r.err);
	op->r.err = k->err;
	memset(&k->err, 0, sizeof k->err);
	op_finish(op, -1);
}

static void op_ready_fire(struct loop_timer *t)
{
	struct hc_op *op = container_of(t, struct hc_op, timer);
	op_finish(op, op->r.rc);
}

/* A result known at once still arrives from the loop, never from inside the call. */
static struct hc_op *op_fail_soon(struct hc_op *op)
{
	op->r.rc = -1;
	op->timer.fire = op_ready_fire;
	loop_timer_arm(op->c->loop, &op->timer, mono_ms());
	return op;
}

static struct hc_op *op_new(struct hcloud_client *c, int64_t deadline, bool mutation,
			    hc_done_fn done, void *arg)
{
	struct hc_op *op = xcalloc(1, sizeof *op);
	op->c = c;
	op->deadline = deadline;
	op->mutation = mutation;
	op->done = done;
	op->arg = arg;
	op->next = c->ops;
	if (c->ops)
		c->ops->prev = op;
	c->ops = op;
	if (mutation)
		c->budget->applying++;
	return op;
}

void hcloud_op_cancel(struct hc_op *op)
{
	if (op)
		op_release(op);
}

void hc_result_release(struct hc_result *r)
{
	hc_error_release(&r->err);
	hc_action_release(&r->action);
	hc_servers_free(r->servers, r->n_servers);
	hc_fips_free(r->fips, r->n_fips);
	memset(r, 0, sizeof *r);
}

void hcloud_client_free(struct hcloud_client *c)
{
	if (!c)
		return;
	while (c->ops)
		op_release(c->ops);
	headers_free(c->get_headers);
	headers_free(c->post_headers);
	if (c->token) {
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
	}
	budget_put(c->budget);
	free(c->endpoint);
	free(c->group);
	free(c->stats.requests);
	free(c);
}

/* ---- listing -------------------------------------------------------------- */

static void listing_page(struct hc_op *op, struct listing *ls);

/* Every page in: sort by id, keep each id once (items can shift between pages). */
static void listing_close(struct listing *ls)
{
	const struct list_kind *lk = ls->lk;
	if (ls->n)
		qsort(ls->items, ls->n, lk->size, lk->cmp);
	size_t w = 0;
	for (size_t i = 0; i < ls->n; i++) {
		char *item = ls->items + i * lk->size;
		if (w > 0 && lk->id(ls->items + (w - 1) * lk->size) == lk->id(item))
			lk->release(item);
		else if (w++ != i)
			memcpy(ls->items + (w - 1) * lk->size, item, lk->size);
	}
	ls->n = w;
	ls->done = true;
}

static void listing_done(struct hc_op *op)
{
	for (size_t i = 0; i < op->n_lists; i++)
		if (!op->lists[i].done)
			return;
	for (size_t i = 0; i < op->n_lists; i++) {
		struct listing *ls = &op->lists[i];
		if (ls->lk == &servers_kind) {
			op->r.servers = (struct hc_server *)(void *)ls->items;
			op->r.n_servers = ls->n;
		} else {
			op->r.fips = (struct hc_fip *)(void *)ls->items;
			op->r.n_fips = ls->n;
		}
		ls->items = NULL;
		ls->n = 0;
	}
	op_finish(op, 0);
}

static struct listing *listing_of(struct hc_op *op, struct hc_call *k)
{
	for (size_t i = 0; i < op->n_lists; i++)
		if (op->lists[i].call == k)
			return &op->lists[i];
	return NULL;
}

static void listing_answered(struct hc_call *k, int rc)
{
	struct hc_op *op = k->op;
	struct listing *ls = listing_of(op, k);
	if (rc < 0) {
		op_fail_call(op, k);
		return;
	}
	void *page_items = NULL;
	size_t n_page = 0;
	int64_t next = 0;
	ls->pages++;
	hc_error_release(&k->err);
	rc = ls->lk->parse(k->r.body.data, k->r.body.len, &page_items, &n_page, &next, &k->err);
	if (rc == 0)
		rc = next_page_ok(ls->page, next, ls->pages, &k->err);
	if (rc < 0) {
		annotate(&k->err, k);
		if (page_items)
			free_items(ls->lk, page_items, n_page);
		op_fail_call(op, k);
		return;
	}
	ls->items = xgrow(ls->items, &ls->cap, ls->n + n_page, ls->lk->size);
	if (n_page)
		memcpy(ls->items + ls->n * ls->lk->size, page_items, n_page * ls->lk->size);
	ls->n += n_page;
	free(page_items);
	call_free(k);
	ls->call = NULL;
	if (next) {
		ls->page = next;
		listing_page(op, ls);
		return;
	}
	listing_close(ls);
	for (size_t i = 0; i < op->n_lists; i++) {
		if (!op->lists[i].done) {
			listing_page(op, &op->lists[i]);
			return;
		}
	}
	listing_done(op);
}

static void listing_page(struct hc_op *op, struct listing *ls)
{
	ls->call = call_new(op, "GET", ls->lk->kind, xstrdup(ls->lk->path),
			    list_query(ls->selector, ls->page), NULL, HC_MAX_BODY_LIST,
			    listing_answered);
	call_attempt(ls->call);
}

struct hc_op *hcloud_list(struct hcloud_client *c, unsigned what, const char *server_selector,
			  const char *fip_selector, int64_t deadline, hc_done_fn done, void *arg)
{
	struct hc_op *op = op_new(c, deadline, (what & HC_LIST_FOR_APPLY) != 0, done, arg);
	if (what & HC_LIST_SERVERS)
		op->lists[op->n_lists++] = (struct listing){
			.lk = &servers_kind, .page = 1,
			.selector = server_selector ? xstrdup(server_selector) : NULL,
		};
	if (what & HC_LIST_FIPS)
		op->lists[op->n_lists++] = (struct listing){
			.lk = &fips_kind, .page = 1,
			.selector = fip_selector ? xstrdup(fip_selector) : NULL,
		};
	if (!op->n_lists) {
		hc_error_set(&op->r.err, "invalid_argument", "nothing to list");
		return op_fail_soon(op);
	}
	/*
	 * One kind after the other: a token the API refuses costs one
	 * request, not two, and a partial listing is never worth a second.
	 */
	listing_page(op, &op->lists[0]);
	return op;
}

/* ---- assign ---------------------------------------------------------------- */

static void assign_post(struct hc_op *op, const char *verb, const char *body);
static void assign_step_done(struct hc_op *op);

static void action_poll_fire(struct loop_timer *t);

/* The action of the step: poll it until it leaves "running". */
static void action_wait(struct hc_op *op)
{
	if (op->action.status == HC_ACTION_SUCCESS) {
		assign_step_done(op);
		return;
	}
	struct hc_error *err = &op->r.err;
	if (op->action.status == HC_ACTION_ERROR) {
		hc_error_release(err);
		err->method = xstrdup("POST");
		err->path = xstrdup(op->action_path);
		hc_error_set(err, op->action.error_code, "%s (action %" PRId64 ")",
			     op->action.error_message, op->action.id);
		scrub_error(op->c, err);
		err->attempts = 1;
		op_finish(op, -1);
		return;
	}
	int64_t left = op->deadline - mono_ms() - HC_MIN_ATTEMPT_MS;
	if (left <= 0) {
		hc_error_release(err);
		err->method = xstrdup("POST");
		err->path = xstrdup(op->action_path);
		hc_error_set(err, "deadline_exceeded",
			     "action %" PRId64 " still running at the deadline", op->action.id);
		err->deadline = true;
		err->retryable = true;
		op_finish(op, -1);
		return;
	}
	op->timer.fire = action_poll_fire;
	loop_timer_arm(op->c->loop, &op->timer,
		       mono_ms() + (left < op->c->poll_ms ? left : op->c->poll_ms));
}

/* A POST or a poll answered with an action. */
static void action_answered(struct hc_call *k, int rc)
{
	struct hc_op *op = k->op;
	op->call = NULL;
	if (rc < 0) {
		if (op->step != STEP_LOOK && str_eq(k->err.code, "floating_ip_assigned") &&
		    strcmp(k->method, "POST") == 0) {
			int is_first = op->step == STEP_ASSIGN;
			hc_error_release(&op->r.err);
			op->r.err = k->err;
			memset(&k->err, 0, sizeof k->err);
			call_free(k);
			if (is_first) {
				/* Already assigned: look at the IP (see below). */
				op->step = STEP_LOOK;
				char *path = xasprintf("/floating_ips/%" PRId64, op->fip);
				op->call = call_new(op, "GET", "floating_ips", path, NULL, NULL,
						    HC_MAX_BODY_OBJECT, action_answered);
				call_attempt(op->call);
				return;
			}
			/* Somebody else moved it in between: leave it to the next pass. */
			hc_error_set(&op->r.err, "floating_ip_assigned",
				     "floating IP %" PRId64 " was assigned again by someone else while "
				     "flipper moved it to server %" PRId64, op->fip, op->server);
			op->r.err.retryable = false;
			op_finish(op, -1);
			return;
		}
		hc_error_release(&op->r.err);
		op->r.err = k->err;
		memset(&k->err, 0, sizeof k->err);
		call_free(k);
		op_finish(op, -1);
		return;
	}
	if (op->step == STEP_LOOK) {
		struct hc_fip f;
		struct hc_error perr = HC_ERROR_INIT;
		memset(&f, 0, sizeof f);
		if (hc_parse_floating_ip(k->r.body.data, k->r.body.len, &f, &perr) < 0) {
			annotate(&perr, k);
			hc_error_release(&op->r.err);
			op->r.err = perr;
			call_free(k);
			op_finish(op, -1);
			return;
		}
		call_free(k);
		int64_t on = f.server;
		hc_fip_release(&f);
		if (on == op->server) {
			log_kv(LOG_INFO, op->c->group, "floating IP already assigned to the target",
			       LOG_I64("floating_ip", op->fip), LOG_I64("server", op->server), NULL);
			op_finish(op, 0);
			return;
		}
		if (on && op->from != HC_FROM_ANY && on != op->from) {
			hc_error_set(&op->r.err, "floating_ip_assigned",
				     "floating IP %" PRId64 " is on server %" PRId64 ", not on %" PRId64
				     " as planned: somebody else moved it; left alone",
				     op->fip, on, op->from);
			op->r.err.retryable = false;
			op_finish(op, -1);
			return;
		}
		hc_error_release(&op->r.err);
		if (on) {
			log_kv(LOG_WARN, op->c->group, "the API will not move the floating IP directly; "
			       "unassigning it, then assigning it again", LOG_I64("floating_ip", op->fip),
			       LOG_I64("from", on), LOG_I64("to", op->server), NULL);
			op->step = STEP_UNASSIGN;
			assign_post(op, "unassign", "{}");
		} else {
			op->step = STEP_REASSIGN;
			assign_post(op, "assign", op->body);
		}
		return;
	}
	hc_action_release(&op->action);
	struct hc_error perr = HC_ERROR_INIT;
	if (hc_parse_action(k->r.body.data, k->r.body.len, &op->action, &perr) < 0) {
		annotate(&perr, k);
		hc_error_release(&op->r.err);
		op->r.err = perr;
		call_free(k);
		op_finish(op, -1);
		return;
	}
	bool posted = strcmp(k->method, "POST") == 0;
	call_free(k);
	if (posted && op->on_action)
		op->on_action(op->on_action_arg, op->action.id);
	action_wait(op);
}

static void action_poll_fire(struct loop_timer *t)
{
	struct hc_op *op = container_of(t, struct hc_op, timer);
	char *path = xasprintf("/actions/%" PRId64, op->action.id);
	op->call = call_new(op, "GET", "actions", path, NULL, NULL, HC_MAX_BODY_OBJECT,
			    action_answered);
	call_attempt(op->call);
}

/* POST /floating_ips/{id}/actions/{verb}. */
static void assign_post(struct hc_op *op, const char *verb, const char *body)
{
	snprintf(op->action_path, sizeof op->action_path,
		 "/floating_ips/%" PRId64 "/actions/%s", op->fip, verb);
	op->call = call_new(op, "POST", verb, xstrdup(op->action_path), NULL, body,
			    HC_MAX_BODY_OBJECT, action_answered);
	call_attempt(op->call);
}

static void assign_step_done(struct hc_op *op)
{
	if (op->step == STEP_UNASSIGN) {
		op->step = STEP_REASSIGN;
		assign_post(op, "assign", op->body);
		return;
	}
	hc_error_release(&op->r.err);
	op_finish(op, 0);
}

/*
 * 422 floating_ip_assigned (api.md §4.1): "already assigned". Look at the
 * IP: on the target already (an earlier attempt of ours may have done it)
 * is success; on the server the plan moves it from, the API will not move
 * it directly, so unassign it and assign again, once; unassigned
 * meanwhile, assign again; on a third server, somebody else moved it:
 * leave it to the next pass, which plans on what the API says then.
 */
struct hc_op *hcloud_assign(struct hcloud_client *c, int64_t fip, int64_t server, int64_t from,
			    int64_t deadline, hc_done_fn done, void *arg)
{
	struct hc_op *op = op_new(c, deadline, true, done, arg);
	op->fip = fip;
	op->server = server;
	op->from = from;
	if (fip <= 0 || server <= 0) {
		hc_error_set(&op->r.err, "invalid_argument",
			     "cannot assign floating IP %" PRId64 " to server %" PRId64, fip, server);
		return op_fail_soon(op);
	}
	snprintf(op->body, sizeof op->body, "{\"server\":%" PRId64 "}", server);
	op->step = STEP_ASSIGN;
	assign_post(op, "assign", op->body);
	return op;
}

void hcloud_op_on_action(struct hc_op *op, void (*fn)(void *arg, int64_t action_id), void *arg)
{
	op->on_action = fn;
	op->on_action_arg = arg;
}

/* ---- one object ------------------------------------------------------------------ */

/* GET /servers/{id}: a 2xx answer is all it takes (op->call is freed with the op). */
static void server_answered(struct hc_call *k, int rc)
{
	struct hc_op *op = k->op;
	if (rc < 0) {
		op_fail_call(op, k);
		return;
	}
	op_finish(op, 0);
}

static void action_got(struct hc_call *k, int rc)
{
	struct hc_op *op = k->op;
	if (rc < 0) {
		op_fail_call(op, k);
		return;
	}
	struct hc_error perr = HC_ERROR_INIT;
	if (hc_parse_action(k->r.body.data, k->r.body.len, &op->r.action, &perr) < 0) {
		annotate(&perr, k);
		hc_error_release(&op->r.err);
		op->r.err = perr;
		op_finish(op, -1);
		return;
	}
	op_finish(op, 0);
}

static struct hc_op *get_one(struct hcloud_client *c, const char *kind, const char *what,
			     int64_t id, int64_t deadline, void (*answered)(struct hc_call *, int),
			     hc_done_fn done, void *arg)
{
	struct hc_op *op = op_new(c, deadline, false, done, arg);
	if (id <= 0) {
		hc_error_set(&op->r.err, "invalid_argument", "no such %s id %" PRId64, kind, id);
		return op_fail_soon(op);
	}
	op->call = call_new(op, "GET", kind, xasprintf("/%s/%" PRId64, what, id), NULL, NULL,
			    HC_MAX_BODY_OBJECT, answered);
	call_attempt(op->call);
	return op;
}

struct hc_op *hcloud_get_server(struct hcloud_client *c, int64_t id, int64_t deadline,
				hc_done_fn done, void *arg)
{
	return get_one(c, "servers", "servers", id, deadline, server_answered, done, arg);
}

struct hc_op *hcloud_get_action(struct hcloud_client *c, int64_t id, int64_t deadline,
				hc_done_fn done, void *arg)
{
	return get_one(c, "actions", "actions", id, deadline, action_got, done, arg);
}
