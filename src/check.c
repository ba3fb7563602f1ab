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
 * The mapping has an empty host and port to match ("::ADDR:"), so it
 * holds for every hop of a redirect too, whatever host it names: the
 * original dialled every hop at the target, and a check must never reach
 * another server through DNS. Its port is empty as well, so a hop keeps
 * the port its URL says (http://host/ → https://host/ dials ADDR:443).
 * libcurl verifies each hop's certificate against the host of that hop.
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

#include "certinfo.h"
#include "check.h"
#include "curl_api.h"
#include "http.h"
#include "loop.h"
#include "util.h"

#define CHECK_USER_AGENT "flipper-check/" FLIPPER_VERSION
/* What a check's timeout is when the configuration gave none (SPEC). */
#define DEFAULT_TIMEOUT_MS 10000

/* The extra trust of one check (its ca_file), prepared once per process. */
struct trust {
	const struct check_config *check;
	char *pem;                   /* bundle + ca_file, when it is a blob */
	size_t len;
	char *error;                 /* ca_file unusable: why */
};

struct checker {
	struct loop *loop;
	struct trust *trust;
	size_t n_trust, cap_trust;
	bool have_default;
	char *bundle;                /* libcurl's default CAINFO, if any */
	char *dir;                   /* libcurl's default CAPATH, if any */
};

struct check_probe {
	struct checker *ck;
	const struct check_target *t;
	check_done_fn done;
	void *arg;
	struct loop_xfer xfer;
	struct loop_timer failed;    /* setup failed: report from the loop */
	struct check_result r;
	struct curl_slist *headers;
	struct curl_slist *connect_to;
	char *url;
	size_t body_len;
	bool body_capped;            /* stopped reading at CHECK_BODY_MAX */
	char errbuf[CURL_ERROR_SIZE];
};

static const char *trust_bundle_override, *trust_dir_override;

void check_set_default_trust(const char *bundle, const char *dir)
{
	trust_bundle_override = bundle;
	trust_dir_override = dir;
}

void check_result_release(struct check_result *r)
{
	free(r->error);
	free(r->cert_host);
	free(r->cert_problem);
	memset(r, 0, sizeof *r);
}

bool check_watches_expiry(const struct check_config *c)
{
	return c->type == CHECK_HTTPS && (c->tls_expiry_warning_ms > 0 || c->tls_expiry_error_ms > 0);
}

static void probe_fail(struct check_probe *p, const char *fmt, ...)
	PRINTF_LIKE(2, 3);

static void probe_fail(struct check_probe *p, const char *fmt, ...)
{
	va_list ap;

	p->r.ok = false;
	free(p->r.error);
	va_start(ap, fmt);
	p->r.error = xvasprintf(fmt, ap);
	va_end(ap);
}

static size_t discard_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct check_probe *p = arg;
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
static void checker_default_trust(struct checker *r)
{
	if (r->have_default)
		return;
	r->have_default = true;
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

static void trust_load(const struct checker *r, struct trust *tr)
{
	const char *ca_file = tr->check->ca_file;
	char *extra = NULL, *base = NULL;
	size_t extra_len = 0, base_len = 0;
	struct buf b = BUF_INIT;

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

static const struct trust *checker_trust(struct checker *r,
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

static int probe_headers(struct check_probe *p)
{
	const struct check_config *c = p->t->check;
	struct curl_slist *l;

	for (size_t i = 0; i < c->n_headers; i++) {
		const struct header *h = &c->headers[i];
		const char *v = h->value ? h->value : "";
		char *line;

		if (!h->name || !is_token(h->name)) {
			probe_fail(p, "header \"%s\": invalid name",
				    h->name ? h->name : "");
			return -1;
		}
		if (strpbrk(v, "\r\n")) {
			probe_fail(p, "header \"%s\": value has a line break",
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
			probe_fail(p, "out of memory building headers");
			return -1;
		}
		p->headers = l;
	}
	return 0;
}

/* URL and connect-to mapping. 0 ok, -1 with the target's error set. */
static int probe_address(struct check_probe *p)
{
	const struct check_target *t = p->t;
	const struct check_config *c = t->check;
	const char *scheme = c->type == CHECK_HTTPS ? "https" : "http";
	const char *path = c->path && *c->path ? c->path : "/";
	int port = c->port > 0 ? c->port : c->type == CHECK_HTTPS ? 443 : 80;
	unsigned char bin[sizeof(struct in6_addr)];
	char *addr;

	if (t->family != 4 && t->family != 6) {
		probe_fail(p, "address family %d: want 4 or 6", t->family);
		return -1;
	}
	if (!t->address || inet_pton(t->family == 6 ? AF_INET6 : AF_INET,
				     t->address, bin) != 1) {
		probe_fail(p, "address \"%s\" is not an IPv%d address",
			    t->address ? t->address : "", t->family);
		return -1;
	}
	addr = t->family == 6 ? xasprintf("[%s]", t->address)
			      : xstrdup(t->address);

	if (c->host && *c->host) {
		bool v6 = is_ipv6_literal(c->host);

		if (!v6 && !is_plain_host(c->host)) {
			probe_fail(p, "host \"%s\": not a valid host name",
				    c->host);
			free(addr);
			return -1;
		}
		p->url = xasprintf("%s://%s%s%s:%d%s", scheme, v6 ? "[" : "",
				   c->host, v6 ? "]" : "", port, path);
	} else {
		p->url = xasprintf("%s://%s:%d%s", scheme, addr, port, path);
	}
	if ((c->host && *c->host) || c->follow_redirects > 0) {
		/* See the top of this file. */
		char *map = xasprintf("::%s:", addr);
		p->connect_to = curl_slist_append(NULL, map);
		free(map);
		if (!p->connect_to) {
			probe_fail(p, "out of memory building the address map");
			free(addr);
			return -1;
		}
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
static int probe_trust(struct checker *r, struct check_probe *p)
{
	const struct check_config *c = p->t->check;
	const struct trust *tr;
	struct curl_blob blob;
	CURL *e = p->xfer.easy;
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
	tr = checker_trust(r, c);
	if (tr->error) {
		probe_fail(p, "%s", tr->error);
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
	blob.flags = CURL_BLOB_NOCOPY;  /* the checker outlives its handles */
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
	probe_fail(p, "%s: %s", what, curl_easy_strerror(rc));
	return -1;
}

/* Make the easy handle. 0 ok; -1 with the target's error set. */
static int probe_setup(struct checker *r, struct check_probe *p)
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
		probe_fail(p, "method \"%s\": not a valid method", method);
		return -1;
	}
	if (probe_address(p) < 0 || probe_headers(p) < 0)
		return -1;
	e = p->xfer.easy = curl_easy_init();
	if (!e) {
		probe_fail(p, "curl_easy_init failed");
		return -1;
	}
	struct http_opts ho = {
		.user_agent = CHECK_USER_AGENT, .timeout_ms = timeout, .errbuf = p->errbuf,
		/* A check must reach the backend itself, never a proxy from
		 * the environment. */
		.no_proxy = true,
	};
	if ((rc = http_setup(e, &ho)) != CURLE_OK) {
		what = "http_setup";
		goto bad;
	}
	SET(CURLOPT_URL, p->url);
	if (p->connect_to)
		SET(CURLOPT_CONNECT_TO, p->connect_to);
	SET(CURLOPT_IPRESOLVE, p->t->family == 6 ? (long)CURL_IPRESOLVE_V6
						 : (long)CURL_IPRESOLVE_V4);
	/* Every check proves the backend accepts a new connection. */
	SET(CURLOPT_FRESH_CONNECT, 1L);
	SET(CURLOPT_FORBID_REUSE, 1L);
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SET(CURLOPT_WRITEFUNCTION, discard_body);
	SET(CURLOPT_WRITEDATA, p);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->follow_redirects > 0) {
		/* http_setup() keeps every hop to http and https. */
		SET(CURLOPT_FOLLOWLOCATION, 1L);
		SET(CURLOPT_MAXREDIRS, (long)c->follow_redirects);
	}
	/* libcurl then prints every certificate of the chain as text, on
	 * each connection: only for the checks that read it. */
	if (check_watches_expiry(c))
		SET(CURLOPT_CERTINFO, 1L);
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
	probe_fail(p, "%s: %s", what, curl_easy_strerror(rc));
	return -1;
}

#undef SET


/* ---- running ---------------------------------------------------------- */

static void probe_release(struct check_probe *p)
{
	if (p->xfer.easy) {
		loop_abort(p->ck->loop, &p->xfer);
		curl_easy_cleanup(p->xfer.easy);
		p->xfer.easy = NULL;
	}
	loop_timer_disarm(p->ck->loop, &p->failed);
	curl_slist_free_all(p->headers);
	curl_slist_free_all(p->connect_to);
	free(p->url);
	check_result_release(&p->r);
	free(p);
}

/* Hand the result over and forget the probe. */
static void probe_report(struct check_probe *p)
{
	struct check_result r = p->r;
	check_done_fn done = p->done;
	void *arg = p->arg;
	memset(&p->r, 0, sizeof p->r);
	probe_release(p);
	done(arg, &r);
	check_result_release(&r);
}

/*
 * Where the transfer ended: its scheme and host. Without a redirect they
 * are the check's own; after one, libcurl's effective URL says, read
 * with libcurl's own URL parser. 0, or -1 when that cannot be read.
 */
static int probe_last_hop(struct check_probe *p, bool *https, char **host)
{
	CURL *e = p->xfer.easy;
	const struct check_config *c = p->t->check;
	long redirects = 0;
	char *url = NULL, *scheme = NULL, *h = NULL;
	int rc = -1;

	curl_easy_getinfo(e, CURLINFO_REDIRECT_COUNT, &redirects);
	if (redirects == 0) {
		*https = c->type == CHECK_HTTPS;
		*host = xstrdup(c->host && *c->host ? c->host : p->t->address);
		return 0;
	}
	CURLU *u = curl_url();
	if (u && curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK && url &&
	    curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK) {
		*https = strcasecmp(scheme, "https") == 0;
		*host = xstrdup(h);
		rc = 0;
	}
	curl_free(scheme);
	curl_free(h);
	curl_url_cleanup(u);
	return rc;
}

/* The expiry watch: what the last hop's certificate says. */
static void probe_read_cert(struct check_probe *p)
{
	struct curl_certinfo *ci = NULL;
	struct cert_facts facts;
	const char **fields = NULL;
	const char *bad = NULL;
	size_t n = 0;
	bool https = false;
	char *host = NULL;

	if (probe_last_hop(p, &https, &host) < 0) {
		p->r.cert_problem = xstrdup("the redirect's URL could not be read back");
		return;
	}
	if (!https) {
		free(host);          /* the last hop was plain http: no certificate */
		return;
	}
	if (curl_easy_getinfo(p->xfer.easy, CURLINFO_CERTINFO, &ci) != CURLE_OK || !ci ||
	    ci->num_of_certs < 1) {
		p->r.cert_problem = xstrdup("libcurl gave no certificate (CURLINFO_CERTINFO): "
					    "its TLS backend may not support it");
		free(host);
		return;
	}
	/* The first certificate is the server's own, as the original read it. */
	for (const struct curl_slist *f = ci->certinfo[0]; f; f = f->next)
		n++;
	fields = xcalloc(n ? n : 1, sizeof *fields);
	n = 0;
	for (const struct curl_slist *f = ci->certinfo[0]; f; f = f->next)
		fields[n++] = f->data;
	if (cert_facts_read(fields, n, &facts, &bad) == 0) {
		p->r.cert_not_after = facts.not_after;
		memcpy(p->r.cert_fingerprint, facts.fingerprint, sizeof facts.fingerprint);
		p->r.cert_host = host;
		host = NULL;
	} else if (bad) {
		p->r.cert_problem = xasprintf("the certificate's expiry date \"%.64s\" is in no "
					      "known format", bad);
	} else {
		p->r.cert_problem = xstrdup("libcurl's certificate text has no expiry date");
	}
	free(fields);
	free(host);
}

static void probe_judge(struct check_probe *p, CURLcode result)
{
	long status = 0;
	curl_off_t us = 0;
	CURL *e = p->xfer.easy;

	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &us);
	p->r.http_status = status;
	p->r.duration_ms = (int64_t)(us / 1000);

	if (result == CURLE_FAILED_INIT && !status) {
		/* The loop broke down: that says nothing about the backend. */
		p->r.not_run = true;
		p->r.failure = HTTP_FAIL_SETUP;
		probe_fail(p, "not run to the end: the check runner broke down");
		return;
	}
	if (result == CURLE_OK ||
	    (result == CURLE_WRITE_ERROR && p->body_capped)) {
		/* Any answer counts, as in the original: a certificate about
		 * to expire is news even from a backend answering 503. */
		if (check_watches_expiry(p->t->check))
			probe_read_cert(p);
		if (status >= 100 && status <= 999 &&
		    check_expects(p->t->check, (int)status)) {
			p->r.ok = true;
			p->r.failure = HTTP_OK;
			return;
		}
		p->r.failure = HTTP_FAIL_STATUS;
		probe_fail(p, "HTTP %ld", status);
		return;
	}
	if (result == CURLE_TOO_MANY_REDIRECTS) {
		/* The answers are the problem, not the transport. */
		p->r.failure = HTTP_FAIL_STATUS;
		probe_fail(p, "more than %d redirect%s (follow_redirects): the last answer "
			   "was HTTP %ld", p->t->check->follow_redirects,
			   p->t->check->follow_redirects == 1 ? "" : "s", status);
		return;
	}
	p->r.failure = http_classify(result, false);
	probe_fail(p, "%s", http_error_text(result, p->errbuf));
}

static void probe_done(struct loop_xfer *x, CURLcode result)
{
	struct check_probe *p = container_of(x, struct check_probe, xfer);
	probe_judge(p, result);
	probe_report(p);
}

static void probe_setup_failed(struct loop_timer *t)
{
	probe_report(container_of(t, struct check_probe, failed));
}

struct checker *checker_new(struct loop *l)
{
	struct checker *ck = xcalloc(1, sizeof *ck);
	ck->loop = l;
	return ck;
}

void checker_free(struct checker *ck)
{
	if (!ck)
		return;
	for (size_t i = 0; i < ck->n_trust; i++) {
		free(ck->trust[i].pem);
		free(ck->trust[i].error);
	}
	free(ck->trust);
	free(ck->bundle);
	free(ck->dir);
	free(ck);
}

struct check_probe *check_start(struct checker *ck, const struct check_target *t,
				check_done_fn done, void *arg)
{
	struct check_probe *p = xcalloc(1, sizeof *p);
	p->ck = ck;
	p->t = t;
	p->done = done;
	p->arg = arg;
	p->xfer.done = probe_done;
	p->failed.fire = probe_setup_failed;
	p->r.failure = HTTP_FAIL_SETUP;
	checker_default_trust(ck);
	int rc;
	if (!t->check) {
		probe_fail(p, "no check configured");
		rc = -1;
	} else {
		rc = probe_setup(ck, p);
	}
	if (rc == 0 && loop_start(ck->loop, &p->xfer, true) < 0) {
		probe_fail(p, "not run: the check runner refused the transfer");
		p->r.not_run = true;
		rc = -1;
	}
	if (rc < 0) {
		/* A check that cannot even start failed (its configuration is
		 * wrong); its result arrives from the loop like any other. */
		if (p->xfer.easy) {
			curl_easy_cleanup(p->xfer.easy);
			p->xfer.easy = NULL;
		}
		loop_timer_arm(ck->loop, &p->failed, mono_ms());
	}
	return p;
}

void check_cancel(struct check_probe *p)
{
	if (p)
		probe_release(p);
}

/* ---- one round, for the benchmark and its black-box tests ----------------- */

struct round {
	size_t left;
	bool broken;
};

struct round_slot {
	struct check_target *t;
	struct round *r;
};

static void round_done(void *arg, struct check_result *r)
{
	struct round_slot *s = arg;
	struct check_target *t = s->t;
	t->ok = r->ok;
	t->http_status = r->http_status;
	t->duration_ms = r->duration_ms;
	t->cert_not_after = r->cert_not_after;
	t->error = r->error;
	r->error = NULL;
	s->r->broken |= r->not_run;
	s->r->left--;
}

int check_round_run(struct check_target *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		check_target_release(&t[i]);
	if (n == 0)
		return 0;
	char *why = NULL;
	struct loop *l = loop_new(&why);
	if (!l) {
		for (size_t i = 0; i < n; i++)
			t[i].error = xasprintf("not run: %s", why);
		free(why);
		return -1;
	}
	loop_reserve(l, n);
	struct checker *ck = checker_new(l);
	struct round_slot *slots = xcalloc(n, sizeof *slots);
	struct round r = { n, false };
	for (size_t i = 0; i < n; i++) {
		slots[i] = (struct round_slot){ &t[i], &r };
		check_start(ck, &t[i], round_done, &slots[i]);
	}
	while (r.left)
		if (loop_turn(l, -1) < 0)
			r.broken = true;
	checker_free(ck);
	loop_free(l);
	free(slots);
	return r.broken ? -1 : 0;
}

void check_target_release(struct check_target *t)
{
	free(t->error);
	t->error = NULL;
	t->ok = false;
	t->http_status = 0;
	t->duration_ms = 0;
	t->cert_not_after = 0;
}
