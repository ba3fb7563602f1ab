/*
 * check.c — one round of health checks on one libcurl multi handle.
 *
 * Every target becomes one easy handle (a "probe") that carries its own
 * URL, headers and error buffer; CURLOPT_PRIVATE leads back from a
 * finished transfer to its probe. All probes are added at once (or as
 * many as the open-files limit allows, the rest joining as others end),
 * the loop runs curl_multi_perform / curl_multi_poll until none is left,
 * and each finished transfer is removed and cleaned up as soon as
 * curl_multi_info_read reports it, so its socket is closed at once.
 *
 * Connecting to an address while speaking to a host: the URL names the
 * check's host (so Host header, SNI and certificate verification all use
 * it) and CURLOPT_CONNECT_TO sends the connection to the target address.
 * Without a host (plain http only), the URL names the address itself.
 *
 * Trust: ca_file adds to the default trust, it does not replace it, and
 * a round of many HTTPS checks must not parse the system bundle once per
 * connection. libcurl 7.88 with OpenSSL trusts a bundle file (CAINFO)
 * plus a hashed directory (CAPATH); Debian's build sets both, and a
 * directory disables libcurl's CA cache, so by default every connection
 * parses the whole bundle again (~20 ms and ~1.4 MB each). Hence:
 *
 *  - no ca_file: the bundle alone (CAPATH off). libcurl then keeps the
 *    parsed store in the multi handle: one parse per round.
 *  - ca_file, and libcurl has a CA directory: CAINFO = ca_file, CAPATH
 *    stays. The system trust comes from the directory (looked up lazily,
 *    only the issuer needed), the extra trust from the small ca_file.
 *  - ca_file, no CA directory: one PEM blob per check and round, the
 *    bundle followed by ca_file, given with CURLOPT_CAINFO_BLOB without
 *    copying. Correct but parsed per connection, as libcurl's default.
 *
 * CURLOPT_CAINFO = ca_file alone would replace the system trust, and
 * adding to the OpenSSL store from CURLOPT_SSL_CTX_FUNCTION would make
 * flipper link OpenSSL itself; neither is acceptable.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

#include "check.h"
#include "curl_api.h"
#include "util.h"

#ifndef FLIPPER_VERSION
#define FLIPPER_VERSION "0.0.0"
#endif

#define CHECK_USER_AGENT "flipper-check/" FLIPPER_VERSION
/* Descriptors kept free for everything else: state, logs, API calls. */
#define NOFILE_RESERVE 64
/* Longest single wait in curl_multi_poll; libcurl's own timers cut it. */
#define POLL_MAX_MS 1000
/* Slack on top of the longest timeout before the round gives up. */
#define ROUND_SLACK_MS 5000
/* What a check's timeout is when the configuration gave none (SPEC). */
#define DEFAULT_TIMEOUT_MS 10000

struct probe {
	struct check_target *t;
	CURL *easy;
	struct curl_slist *headers;
	struct curl_slist *connect_to;
	char *url;
	size_t body_len;
	bool body_capped;            /* stopped reading at CHECK_BODY_MAX */
	bool running;                /* in the multi handle, not finished */
	char errbuf[CURL_ERROR_SIZE];
};

/* The extra trust of one check (its ca_file), prepared once per round. */
struct trust {
	const struct check_config *check;
	char *pem;                   /* bundle + ca_file, when it is a blob */
	size_t len;
	char *error;                 /* ca_file unusable: why */
};

struct round {
	CURLM *multi;
	struct probe *probes;
	size_t n;
	struct trust *trust;
	size_t n_trust, cap_trust;
	size_t next;                 /* next probe to add */
	size_t active;               /* added and not finished */
	size_t max_active;           /* what the descriptor limit allows */
	bool broken;                 /* the multi handle failed us */
	char *bundle;                /* libcurl's default CAINFO, if any */
	char *dir;                   /* libcurl's default CAPATH, if any */
};

static const char *trust_bundle_override, *trust_dir_override;

void check_set_default_trust(const char *bundle, const char *dir)
{
	trust_bundle_override = bundle;
	trust_dir_override = dir;
}

void check_target_release(struct check_target *t)
{
	free(t->error);
	t->error = NULL;
	t->ok = false;
	t->http_status = 0;
	t->duration_ms = 0;
}

static void target_fail(struct check_target *t, const char *fmt, ...)
	PRINTF_LIKE(2, 3);

static void target_fail(struct check_target *t, const char *fmt, ...)
{
	va_list ap;

	t->ok = false;
	free(t->error);
	va_start(ap, fmt);
	t->error = xvasprintf(fmt, ap);
	va_end(ap);
}

static size_t discard_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct probe *p = arg;
	size_t len = size * nmemb;   /* size is 1 by contract */

	(void)data;
	if (len > CHECK_BODY_MAX - p->body_len) {
		/* Returning short makes libcurl stop with CURLE_WRITE_ERROR;
		 * probe_finish() judges such a transfer by its status. */
		p->body_capped = true;
		return 0;
	}
	p->body_len += len;
	return len;
}

/* ---- trust -------------------------------------------------------------- */

static char *curl_default_path(CURLINFO what)
{
	char *out = NULL;
	CURL *e = curl_easy_init();
	char *path = NULL;

	if (e && curl_easy_getinfo(e, what, &path) == CURLE_OK && path && *path)
		out = xstrdup(path);
	if (e)
		curl_easy_cleanup(e);
	return out;
}

/* The default trust: the override if set ("" meaning none), else libcurl's. */
static void round_default_trust(struct round *r)
{
	if (trust_bundle_override)
		r->bundle = *trust_bundle_override ?
			xstrdup(trust_bundle_override) : NULL;
	else
		r->bundle = curl_default_path(CURLINFO_CAINFO);
	if (trust_dir_override)
		r->dir = *trust_dir_override ? xstrdup(trust_dir_override) : NULL;
	else
		r->dir = curl_default_path(CURLINFO_CAPATH);
}

static void trust_load(const struct round *r, struct trust *tr)
{
	const char *ca_file = tr->check->ca_file;
	char *extra = NULL, *base = NULL;
	size_t extra_len = 0, base_len = 0;
	struct buf b;

	/* Read it even when libcurl will: a clear error beats curl's. */
	if (read_file(ca_file, CHECK_CA_FILE_MAX, &extra, &extra_len) < 0) {
		tr->error = xasprintf("ca_file \"%s\": %s", ca_file,
				      errno == EFBIG ? "file too large" :
				      strerror(errno));
		return;
	}
	if (r->dir) {
		free(extra);
		return;
	}
	/* A missing bundle only means there is no system trust to keep. */
	if (r->bundle &&
	    read_file(r->bundle, CHECK_CA_FILE_MAX, &base, &base_len) < 0) {
		base = NULL;
		base_len = 0;
	}
	buf_init(&b, 0);
	if (base) {
		buf_add(&b, base, base_len);
		buf_addch(&b, '\n');
	}
	buf_add(&b, extra, extra_len);
	tr->len = b.len;
	tr->pem = buf_detach(&b);
	free(base);
	free(extra);
}

static const struct trust *round_trust(struct round *r,
				       const struct check_config *c)
{
	struct trust *tr;

	for (size_t i = 0; i < r->n_trust; i++)
		if (r->trust[i].check == c)
			return &r->trust[i];
	r->trust = xgrow(r->trust, &r->cap_trust, r->n_trust + 1,
			 sizeof(*r->trust));
	tr = &r->trust[r->n_trust++];
	memset(tr, 0, sizeof(*tr));
	tr->check = c;
	trust_load(r, tr);
	return tr;
}

/* ---- building a probe ----------------------------------------------------- */

static bool is_ipv6_literal(const char *s)
{
	struct in6_addr a;

	return inet_pton(AF_INET6, s, &a) == 1;
}

/* A host name we can put in a URL as is: letters, digits, '-', '.', '_'. */
static bool is_plain_host(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.' &&
		    *s != '_')
			return false;
	return true;
}

/* RFC 9110 token characters, for header names. */
static bool is_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
			return false;
	return true;
}

static int probe_headers(struct probe *p)
{
	const struct check_config *c = p->t->check;
	struct curl_slist *l;

	for (size_t i = 0; i < c->n_headers; i++) {
		const struct header *h = &c->headers[i];
		const char *v = h->value ? h->value : "";
		char *line;

		if (!h->name || !is_token(h->name)) {
			target_fail(p->t, "header \"%s\": invalid name",
				    h->name ? h->name : "");
			return -1;
		}
		if (strpbrk(v, "\r\n")) {
			target_fail(p->t, "header \"%s\": value has a line break",
				    h->name);
			return -1;
		}
		/* "Name;" is libcurl's spelling of a header with no value;
		 * "Name:" would remove the header instead. */
		line = *v ? xasprintf("%s: %s", h->name, v)
			  : xasprintf("%s;", h->name);
		l = curl_slist_append(p->headers, line);
		free(line);
		if (!l) {
			target_fail(p->t, "out of memory building headers");
			return -1;
		}
		p->headers = l;
	}
	return 0;
}

/* URL and connect-to mapping. 0 ok, -1 with the target's error set. */
static int probe_address(struct probe *p)
{
	struct check_target *t = p->t;
	const struct check_config *c = t->check;
	const char *scheme = c->type == CHECK_HTTPS ? "https" : "http";
	const char *path = c->path && *c->path ? c->path : "/";
	int port = c->port > 0 ? c->port : c->type == CHECK_HTTPS ? 443 : 80;
	unsigned char bin[sizeof(struct in6_addr)];
	char *addr;

	if (t->family != 4 && t->family != 6) {
		target_fail(t, "address family %d: want 4 or 6", t->family);
		return -1;
	}
	if (!t->address || inet_pton(t->family == 6 ? AF_INET6 : AF_INET,
				     t->address, bin) != 1) {
		target_fail(t, "address \"%s\" is not an IPv%d address",
			    t->address ? t->address : "", t->family);
		return -1;
	}
	addr = t->family == 6 ? xasprintf("[%s]", t->address)
			      : xstrdup(t->address);

	if (c->host && *c->host) {
		bool v6 = is_ipv6_literal(c->host);
		struct curl_slist *l;
		char *map;

		if (!v6 && !is_plain_host(c->host)) {
			target_fail(t, "host \"%s\": not a valid host name",
				    c->host);
			free(addr);
			return -1;
		}
		p->url = xasprintf("%s://%s%s%s:%d%s", scheme, v6 ? "[" : "",
				   c->host, v6 ? "]" : "", port, path);
		/* Empty host and port: the mapping applies to this URL. */
		map = xasprintf("::%s:%d", addr, port);
		l = curl_slist_append(NULL, map);
		free(map);
		if (!l) {
			target_fail(t, "out of memory building the address map");
			free(addr);
			return -1;
		}
		p->connect_to = l;
	} else {
		p->url = xasprintf("%s://%s:%d%s", scheme, addr, port, path);
	}
	free(addr);
	return 0;
}

static bool method_has_body(const char *m)
{
	return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 ||
	       strcmp(m, "PATCH") == 0;
}

#define SET(opt, val) do {                                              \
		if ((rc = curl_easy_setopt(e, opt, val)) != CURLE_OK) { \
			what = #opt;                                    \
			goto bad;                                       \
		}                                                       \
	} while (0)

/* Trust for an HTTPS probe; see the top of this file. */
static int probe_trust(struct round *r, struct probe *p)
{
	const struct check_config *c = p->t->check;
	const struct trust *tr;
	struct curl_blob blob;
	CURL *e = p->easy;
	CURLcode rc;
	const char *what;

	if (c->type != CHECK_HTTPS)
		return 0;
	if (!c->ca_file || !*c->ca_file) {
		if (r->bundle) {
			SET(CURLOPT_CAINFO, r->bundle);
			SET(CURLOPT_CAPATH, NULL);
		} else {
			SET(CURLOPT_CAINFO, NULL);
			SET(CURLOPT_CAPATH, r->dir);
		}
		return 0;
	}
	tr = round_trust(r, c);
	if (tr->error) {
		target_fail(p->t, "%s", tr->error);
		return -1;
	}
	if (!tr->pem) {
		SET(CURLOPT_CAINFO, c->ca_file);
		SET(CURLOPT_CAPATH, r->dir);
		return 0;
	}
	SET(CURLOPT_CAPATH, NULL);
	blob.data = tr->pem;
	blob.len = tr->len;
	blob.flags = CURL_BLOB_NOCOPY;  /* the round outlives its handles */
	rc = curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
	if (rc == CURLE_NOT_BUILT_IN || rc == CURLE_UNKNOWN_OPTION) {
		/* A TLS backend without blobs: ca_file alone, the best left. */
		SET(CURLOPT_CAINFO, c->ca_file);
	} else if (rc != CURLE_OK) {
		what = "CURLOPT_CAINFO_BLOB";
		goto bad;
	}
	return 0;
bad:
	target_fail(p->t, "%s: %s", what, curl_easy_strerror(rc));
	return -1;
}

/* Make the easy handle. 0 ok; -1 with the target's error set. */
static int probe_setup(struct round *r, struct probe *p)
{
	const struct check_config *c = p->t->check;
	const char *method = c->method && *c->method ? c->method : "GET";
	long timeout = c->timeout_ms > 0 ?
		(c->timeout_ms > LONG_MAX ? LONG_MAX : (long)c->timeout_ms) :
		DEFAULT_TIMEOUT_MS;
	CURLcode rc;
	const char *what;
	CURL *e;

	if (!is_token(method)) {
		target_fail(p->t, "method \"%s\": not a valid method", method);
		return -1;
	}
	if (probe_address(p) < 0 || probe_headers(p) < 0)
		return -1;
	e = p->easy = curl_easy_init();
	if (!e) {
		target_fail(p->t, "curl_easy_init failed");
		return -1;
	}
	SET(CURLOPT_PRIVATE, p);
	SET(CURLOPT_ERRORBUFFER, p->errbuf);
	SET(CURLOPT_URL, p->url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	if (p->connect_to)
		SET(CURLOPT_CONNECT_TO, p->connect_to);
	SET(CURLOPT_IPRESOLVE, p->t->family == 6 ? (long)CURL_IPRESOLVE_V6
						 : (long)CURL_IPRESOLVE_V4);
	/* A check must reach the backend itself, never a proxy from the
	 * environment. */
	SET(CURLOPT_PROXY, "");
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_TIMEOUT_MS, timeout);
	SET(CURLOPT_CONNECTTIMEOUT_MS, timeout);
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	/* Every round proves the backend accepts a new connection. */
	SET(CURLOPT_FRESH_CONNECT, 1L);
	SET(CURLOPT_FORBID_REUSE, 1L);
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SET(CURLOPT_USERAGENT, CHECK_USER_AGENT);
	SET(CURLOPT_WRITEFUNCTION, discard_body);
	SET(CURLOPT_WRITEDATA, p);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (p->headers)
		SET(CURLOPT_HTTPHEADER, p->headers);
	if (strcasecmp(method, "HEAD") == 0) {
		SET(CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "GET") != 0) {
		SET(CURLOPT_CUSTOMREQUEST, method);
		/* An empty body with Content-Length: 0, which some servers
		 * demand of these methods. */
		if (method_has_body(method)) {
			SET(CURLOPT_POSTFIELDSIZE, 0L);
			SET(CURLOPT_POSTFIELDS, "");
		}
	}
	return probe_trust(r, p);
bad:
	target_fail(p->t, "%s: %s", what, curl_easy_strerror(rc));
	return -1;
}

#undef SET

/* ---- running ---------------------------------------------------------- */

static void probe_finish(struct probe *p, CURLcode result)
{
	struct check_target *t = p->t;
	long status = 0;
	curl_off_t us = 0;

	curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(p->easy, CURLINFO_TOTAL_TIME_T, &us);
	t->http_status = status;
	t->duration_ms = (int64_t)(us / 1000);

	if (result == CURLE_OK ||
	    (result == CURLE_WRITE_ERROR && p->body_capped)) {
		if (status >= 100 && status <= 999 &&
		    check_expects(t->check, (int)status)) {
			t->ok = true;
			return;
		}
		target_fail(t, "HTTP %ld", status);
		return;
	}
	if (p->errbuf[0]) {
		size_t len = strlen(p->errbuf);

		while (len > 0 && (p->errbuf[len - 1] == '\n' ||
				   p->errbuf[len - 1] == '\r'))
			p->errbuf[--len] = '\0';
		target_fail(t, "%s", p->errbuf);
	} else {
		target_fail(t, "%s", curl_easy_strerror(result));
	}
}

static void probe_cleanup(struct round *r, struct probe *p)
{
	if (p->easy) {
		if (p->running)
			curl_multi_remove_handle(r->multi, p->easy);
		curl_easy_cleanup(p->easy);
		p->easy = NULL;
	}
	p->running = false;
	curl_slist_free_all(p->headers);
	curl_slist_free_all(p->connect_to);
	p->headers = p->connect_to = NULL;
	free(p->url);
	p->url = NULL;
}

/*
 * Add waiting probes until max_active run at once. A probe's timeout
 * starts when it is added, so a probe that waits for a free descriptor
 * never times out while waiting.
 */
static void round_feed(struct round *r)
{
	while (r->active < r->max_active && r->next < r->n) {
		struct probe *p = &r->probes[r->next++];
		CURLMcode mc;

		if (!p->easy)
			continue;            /* setup failed: already reported */
		mc = curl_multi_add_handle(r->multi, p->easy);
		if (mc != CURLM_OK) {
			target_fail(p->t, "not run: %s", curl_multi_strerror(mc));
			probe_cleanup(r, p);
			r->broken = true;
			continue;
		}
		p->running = true;
		r->active++;
	}
}

static void round_drain(struct round *r)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(r->multi, &left))) {
		struct probe *p;
		void *priv = NULL;
		CURLcode result = m->data.result;
		CURL *e = m->easy_handle;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
		p = priv;
		if (!p || p->easy != e)
			continue;
		probe_finish(p, result);
		/* m is invalid from here on. */
		probe_cleanup(r, p);
		r->active--;
	}
	round_feed(r);
}

/*
 * Make room for n sockets at once: raise the soft open-files limit as far
 * as the hard limit allows. Returns how many transfers may run at once.
 */
static size_t raise_nofile(size_t n)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)n + NOFILE_RESERVE;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return n;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		struct rlimit want = rl;

		want.rlim_cur = need;
		if (rl.rlim_max != RLIM_INFINITY && want.rlim_cur > rl.rlim_max)
			want.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			rl = want;
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
		return n;
	/* Too low a hard limit: run in waves rather than fail with EMFILE. */
	if (rl.rlim_cur <= 2 * NOFILE_RESERVE)
		return NOFILE_RESERVE;
	return (size_t)(rl.rlim_cur - NOFILE_RESERVE);
}

static int round_setup_multi(struct round *r)
{
	r->multi = curl_multi_init();
	if (!r->multi)
		return -1;
	/* No idle connection is ever kept (FORBID_REUSE); the cache only
	 * needs room for the live ones, so none is closed to make room. */
	curl_multi_setopt(r->multi, CURLMOPT_MAXCONNECTS,
			  r->max_active < LONG_MAX ? (long)r->max_active : LONG_MAX);
	curl_multi_setopt(r->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
	return 0;
}

/* When the loop gives up: every transfer has its own timeout, so this
 * only guards against a loop that would otherwise never end. */
static int64_t round_deadline(const struct round *r)
{
	int64_t longest = 0, waves;
	size_t ready = 0;

	for (size_t i = 0; i < r->n; i++) {
		const struct probe *p = &r->probes[i];
		int64_t to;

		if (!p->easy)
			continue;
		to = p->t->check->timeout_ms > 0 ? p->t->check->timeout_ms
						 : DEFAULT_TIMEOUT_MS;
		ready++;
		if (to > longest)
			longest = to;
	}
	waves = (int64_t)((ready + r->max_active - 1) / r->max_active);
	if (__builtin_mul_overflow(longest, waves, &longest) ||
	    __builtin_add_overflow(longest, mono_ms() + ROUND_SLACK_MS, &longest))
		return INT64_MAX;
	return longest;
}

/* The multi loop. Returns the first multi error, or CURLM_OK. */
static CURLMcode round_loop(struct round *r, bool *overran)
{
	int64_t deadline = round_deadline(r);
	CURLMcode mc;
	int running = 0;

	*overran = false;
	round_feed(r);
	mc = curl_multi_perform(r->multi, &running);
	while (mc == CURLM_OK) {
		round_drain(r);
		if (r->active == 0)
			break;
		if (mono_ms() > deadline) {
			*overran = true;
			break;
		}
		mc = curl_multi_poll(r->multi, NULL, 0, POLL_MAX_MS, NULL);
		if (mc != CURLM_OK)
			break;
		mc = curl_multi_perform(r->multi, &running);
	}
	return mc;
}

static void round_release(struct round *r)
{
	for (size_t i = 0; i < r->n; i++)
		probe_cleanup(r, &r->probes[i]);
	free(r->probes);
	if (r->multi)
		curl_multi_cleanup(r->multi);
	for (size_t i = 0; i < r->n_trust; i++) {
		free(r->trust[i].pem);
		free(r->trust[i].error);
	}
	free(r->trust);
	free(r->bundle);
	free(r->dir);
}

int check_round_run(struct check_target *t, size_t n)
{
	struct round r = { 0 };
	CURLMcode mc;
	bool overran;

	for (size_t i = 0; i < n; i++)
		check_target_release(&t[i]);
	if (n == 0)
		return 0;

	char *why = NULL;
	if (curl_api_load(&why) < 0) {
		for (size_t i = 0; i < n; i++)
			target_fail(&t[i], "not run: %s: %s", CURL_API_UNAVAILABLE, why);
		free(why);
		return -1;
	}
	r.max_active = raise_nofile(n);
	if (round_setup_multi(&r) < 0) {
		for (size_t i = 0; i < n; i++)
			target_fail(&t[i], "not run: curl_multi_init failed");
		return -1;
	}
	round_default_trust(&r);
	r.probes = xcalloc(n, sizeof(*r.probes));
	r.n = n;
	for (size_t i = 0; i < n; i++) {
		struct probe *p = &r.probes[i];

		p->t = &t[i];
		if (!t[i].check)
			target_fail(&t[i], "no check configured");
		else if (probe_setup(&r, p) < 0)
			probe_cleanup(&r, p);
	}

	mc = round_loop(&r, &overran);
	if (mc != CURLM_OK || overran) {
		/* Keep the first error; whatever is unfinished shares it. */
		for (size_t i = 0; i < n; i++) {
			if (!r.probes[i].easy)
				continue;
			target_fail(&t[i], "not run to the end: %s",
				    overran ? "the round overran its deadline"
					    : curl_multi_strerror(mc));
		}
		r.broken = true;
	}
	round_release(&r);
	return r.broken ? -1 : 0;
}
