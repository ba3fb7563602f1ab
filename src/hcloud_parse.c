/*
 * hcloud_parse.c — Hetzner Cloud response bodies into owned structs.
 *
 * Pure: no I/O, no clock. Bodies come from the network (and from the
 * fuzzer), so every size is capped, every type is checked, and a wrong
 * type in a field we need is an error naming the field and the item
 * ("servers[3].id: expected an integer"). Fields we do not use are
 * ignored whatever they hold.
 */
#include "hcloud.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "json.h"
#include "util.h"

/* Remote text kept in an error: enough for any real message. */
#define HC_MAX_MESSAGE 1024

/* ---- releasing ---------------------------------------------------------- */

static void labels_free(struct hc_label *l, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(l[i].key);
		free(l[i].value);
	}
	free(l);
}

void hc_server_release(struct hc_server *s)
{
	free(s->name);
	free(s->status);
	free(s->location);
	free(s->network_zone);
	free(s->ipv4);
	free(s->ipv6);
	labels_free(s->labels, s->n_labels);
	memset(s, 0, sizeof *s);
}

void hc_servers_free(struct hc_server *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		hc_server_release(&v[i]);
	free(v);
}

void hc_fip_release(struct hc_fip *f)
{
	free(f->name);
	free(f->ip);
	free(f->type);
	free(f->location);
	free(f->network_zone);
	labels_free(f->labels, f->n_labels);
	memset(f, 0, sizeof *f);
}

void hc_fips_free(struct hc_fip *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		hc_fip_release(&v[i]);
	free(v);
}

void hc_action_release(struct hc_action *a)
{
	free(a->command);
	free(a->error_code);
	free(a->error_message);
	memset(a, 0, sizeof *a);
}

/* ---- errors --------------------------------------------------------------- */

void hc_error_release(struct hc_error *e)
{
	free(e->method);
	free(e->path);
	free(e->code);
	free(e->message);
	free(e->correlation_id);
	memset(e, 0, sizeof *e);
}

/*
 * Remote text ends up in logs, notifications and terminals: cap it and
 * replace control characters, cutting only at a UTF-8 character boundary.
 */
static char *sanitize(const char *s)
{
	size_t n = strlen(s);
	bool cut = false;
	if (n > HC_MAX_MESSAGE) {
		n = HC_MAX_MESSAGE;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
		cut = true;
	}
	char *out = xmalloc(n + (cut ? 4 : 1));
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		out[i] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
	}
	if (cut)
		memcpy(out + n, "...", 4);
	else
		out[n] = '\0';
	return out;
}

void hc_error_set(struct hc_error *e, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *raw = xvasprintf(fmt, ap);
	va_end(ap);
	free(e->code);
	free(e->message);
	e->code = code ? sanitize(code) : NULL;
	e->message = sanitize(raw);
	free(raw);
}

char *hc_error_format(const struct hc_error *e)
{
	struct buf b = BUF_INIT;
	const char *sep = " (";
	if (e->method && e->path)
		buf_printf(&b, "%s %s: ", e->method, e->path);
	if (e->code && *e->code)
		buf_printf(&b, "%s: ", e->code);
	buf_addstr(&b, e->message && *e->message ? e->message : "unknown error");
	if (e->http_status > 0) {
		buf_printf(&b, "%sHTTP %d", sep, e->http_status);
		sep = ", ";
	}
	if (e->correlation_id && *e->correlation_id) {
		buf_printf(&b, "%scorrelation id %s", sep, e->correlation_id);
		sep = ", ";
	}
	if (e->attempts > 1) {
		buf_printf(&b, "%s%d attempts", sep, e->attempts);
		sep = ", ";
	}
	if (e->deadline) {
		buf_printf(&b, "%sdeadline reached", sep);
		sep = ", ";
	}
	if (sep[0] == ',')
		buf_addch(&b, ')');
	return buf_detach(&b);
}

bool hc_code_retryable(const char *code)
{
	/*
	 * hcloud-go's set (api.md §5.3), plus locked: assign locks the server
	 * and the IP, so a second assign racing the first sees locked for a
	 * few seconds. unavailable/maintenance (503) are transient by
	 * definition; the caller's deadline bounds the wait.
	 */
	static const char *const retry[] = {
		"conflict", "rate_limit_exceeded", "bad_gateway", "timeout",
		"locked", "unavailable", "maintenance",
	};
	if (!code)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(retry); i++)
		if (strcmp(code, retry[i]) == 0)
			return true;
	return false;
}

/* ---- IPv6 ----------------------------------------------------------------- */

int hc_ipv6_host(const char *network, char *out, size_t outlen)
{
	char addr[INET6_ADDRSTRLEN];
	unsigned char bin[16];
	const char *slash = strchr(network, '/');

	if (!slash || strcmp(slash + 1, "64") != 0)
		return -1;
	size_t n = (size_t)(slash - network);
	if (n == 0 || n >= sizeof addr)
		return -1;
	memcpy(addr, network, n);
	addr[n] = '\0';
	if (inet_pton(AF_INET6, addr, bin) != 1)
		return -1;
	memset(bin + 8, 0, 8);
	bin[15] = 1;
	if (outlen > (size_t)INT32_MAX ||
	    !inet_ntop(AF_INET6, bin, out, (socklen_t)outlen))
		return -1;
	return 0;
}

/* ---- field access --------------------------------------------------------- */

/* Where we are in the document, for error messages: "servers[3]". */
struct ctx {
	const char *where;
	struct hc_error *err;
};

static int fail(const struct ctx *c, const char *field, const char *what)
{
	if (field && *field)
		hc_error_set(c->err, "invalid_response", "%s%s%s: %s",
			     c->where, *c->where ? "." : "", field, what);
	else
		hc_error_set(c->err, "invalid_response", "%s: %s",
			     *c->where ? c->where : "response", what);
	return -1;
}

/* "servers[3]" + "public_net" -> "servers[3].public_net" (newly allocated). */
static char *subpath(const struct ctx *c, const char *field)
{
	return xasprintf("%s%s%s", c->where, *c->where ? "." : "", field);
}

static bool is_absent(const cJSON *v)
{
	return v == NULL || cJSON_IsNull(v);
}

/* A JSON number that is an exact integer (json.h: JSON_MAX_EXACT). */
static int json_int64(const cJSON *v, int64_t *out)
{
	if (!cJSON_IsNumber(v) || json_exact_int(v->valuedouble, out) != JSON_INT_OK)
		return -1;
	return 0;
}

static int get_id(const struct ctx *c, const cJSON *obj, const char *field,
		  int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
	if (is_absent(v))
		return fail(c, field, "missing");
	if (json_int64(v, out) < 0)
		return fail(c, field, "expected an integer");
	if (*out <= 0)
		return fail(c, field, "expected a positive integer");
	return 0;
}

/* A string field; *out NULL when absent/null and !required. */
static int get_str(const struct ctx *c, const cJSON *obj, const char *field,
		   bool required, char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
	*out = NULL;
	if (is_absent(v))
		return required ? fail(c, field, "missing") : 0;
	if (!cJSON_IsString(v) || !v->valuestring)
		return fail(c, field, "expected a string");
	if (strlen(v->valuestring) > HC_MAX_FIELD)
		return fail(c, field, "string too long");
	*out = xstrdup(v->valuestring);
	return 0;
}

/* An optional object: NULL when absent/null, error if another type. */
static int get_obj(const struct ctx *c, const cJSON *obj, const char *field,
		   const cJSON **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
	*out = NULL;
	if (is_absent(v))
		return 0;
	if (!cJSON_IsObject(v))
		return fail(c, field, "expected an object");
	*out = v;
	return 0;
}

/* Digits with an optional sign, nothing else (no spaces, no "+"). */
static bool index_parse(const char *s, int64_t *out)
{
	const char *p = s;
	if (*p == '-')
		p++;
	if (!*p || strspn(p, "0123456789") != strlen(p))
		return false;
	return parse_int64(s, out) == 0;
}

static int get_labels(const struct ctx *c, const cJSON *obj,
		      struct hc_label **out, size_t *n, bool *has_index,
		      int64_t *index)
{
	const cJSON *labels, *it;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	*has_index = false;
	*index = 0;
	if (get_obj(c, obj, "labels", &labels) < 0)
		return -1;
	if (!labels)
		return 0;
	cJSON_ArrayForEach(it, labels) {
		if (!it->string)
			continue;
		if (!cJSON_IsString(it) || !it->valuestring) {
			char *f = xasprintf("labels.%.64s", it->string);
			fail(c, f, "expected a string");
			free(f);
			goto bad;
		}
		if (*n >= HC_MAX_LABELS) {
			fail(c, "labels", "too many labels");
			goto bad;
		}
		if (strlen(it->string) > HC_MAX_FIELD ||
		    strlen(it->valuestring) > HC_MAX_FIELD) {
			fail(c, "labels", "label too long");
			goto bad;
		}
		*out = xgrow(*out, &cap, *n + 1, sizeof **out);
		(*out)[*n].key = xstrdup(it->string);
		(*out)[*n].value = xstrdup(it->valuestring);
		(*n)++;
		if (strcmp(it->string, "resource_index") == 0)
			*has_index = index_parse(it->valuestring, index);
	}
	return 0;
bad:
	labels_free(*out, *n);
	*out = NULL;
	*n = 0;
	*has_index = false;
	return -1;
}

/* A Location object: name and network_zone (api.md §2.1). */
static int get_location(const struct ctx *c, const cJSON *loc,
			const char *field, char **name, char **zone)
{
	char *where = subpath(c, field);
	struct ctx sub = { where, c->err };
	int rc = -1;

	if (get_str(&sub, loc, "name", true, name) < 0)
		goto out;
	if (get_str(&sub, loc, "network_zone", true, zone) < 0) {
		free(*name);
		*name = NULL;
		goto out;
	}
	rc = 0;
out:
	free(where);
	return rc;
}

/* ---- documents ------------------------------------------------------------ */

static cJSON *parse_root(const char *body, size_t len, size_t max,
			 struct hc_error *err)
{
	if (len > max) {
		hc_error_set(err, "response_too_large",
			     "response body of %zu bytes exceeds the %zu byte limit",
			     len, max);
		return NULL;
	}
	cJSON *root = body ? cJSON_ParseWithLength(body, len) : NULL;
	if (!root) {
		hc_error_set(err, "invalid_response", "response is not valid JSON");
		return NULL;
	}
	if (!cJSON_IsObject(root)) {
		hc_error_set(err, "invalid_response", "response is not a JSON object");
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

/* public_net.ipv4.ip: a bare address; NULL when ipv4 is null. */
static int get_ipv4(const struct ctx *c, const cJSON *pn, char **out)
{
	const cJSON *v4;
	unsigned char bin[4];
	char *where = subpath(c, "ipv4");
	struct ctx sub = { where, c->err };
	int rc = -1;

	*out = NULL;
	if (get_obj(c, pn, "ipv4", &v4) < 0)
		goto out;
	if (v4) {
		if (get_str(&sub, v4, "ip", true, out) < 0)
			goto out;
		if (inet_pton(AF_INET, *out, bin) != 1) {
			free(*out);
			*out = NULL;
			fail(&sub, "ip", "expected an IPv4 address");
			goto out;
		}
	}
	rc = 0;
out:
	free(where);
	return rc;
}

/* public_net.ipv6.ip is a /64 network (api.md §0.2); keep its ::1 host. */
static int get_ipv6(const struct ctx *c, const cJSON *pn, char **out)
{
	const cJSON *v6;
	char host[INET6_ADDRSTRLEN], *net = NULL;
	char *where = subpath(c, "ipv6");
	struct ctx sub = { where, c->err };
	int rc = -1;

	*out = NULL;
	if (get_obj(c, pn, "ipv6", &v6) < 0)
		goto out;
	if (v6) {
		if (get_str(&sub, v6, "ip", true, &net) < 0)
			goto out;
		if (hc_ipv6_host(net, host, sizeof host) < 0) {
			fail(&sub, "ip", "expected an IPv6 /64 network");
			goto out;
		}
		*out = xstrdup(host);
	}
	rc = 0;
out:
	free(net);
	free(where);
	return rc;
}

/* api.md §0.1: top-level location; datacenter.location before 2026-07. */
static int get_server_location(const struct ctx *c, const cJSON *o,
			       struct hc_server *s)
{
	const cJSON *loc, *dc, *dloc = NULL;

	if (get_obj(c, o, "location", &loc) < 0)
		return -1;
	if (loc)
		return get_location(c, loc, "location", &s->location,
				    &s->network_zone);
	if (get_obj(c, o, "datacenter", &dc) < 0)
		return -1;
	if (dc) {
		char *where = subpath(c, "datacenter");
		struct ctx sub = { where, c->err };
		int rc = get_obj(&sub, dc, "location", &dloc);
		free(where);
		if (rc < 0)
			return -1;
	}
	if (!dloc)
		return fail(c, "location", "missing (and no datacenter.location)");
	return get_location(c, dloc, "datacenter.location", &s->location,
			    &s->network_zone);
}

static int parse_server(const struct ctx *c, const cJSON *o, struct hc_server *s)
{
	const cJSON *pn;

	memset(s, 0, sizeof *s);
	if (!cJSON_IsObject(o))
		return fail(c, NULL, "expected an object");
	if (get_id(c, o, "id", &s->id) < 0 ||
	    get_str(c, o, "name", true, &s->name) < 0 ||
	    get_str(c, o, "status", true, &s->status) < 0 ||
	    get_server_location(c, o, s) < 0 ||
	    get_obj(c, o, "public_net", &pn) < 0)
		goto bad;
	/* ipv4/ipv6 may be null: servers without Primary IPs (api.md §8). */
	if (pn) {
		char *where = subpath(c, "public_net");
		struct ctx sub = { where, c->err };
		int rc = get_ipv4(&sub, pn, &s->ipv4);
		if (rc == 0)
			rc = get_ipv6(&sub, pn, &s->ipv6);
		free(where);
		if (rc < 0)
			goto bad;
	}
	if (get_labels(c, o, &s->labels, &s->n_labels, &s->has_index,
		       &s->resource_index) < 0)
		goto bad;
	return 0;
bad:
	hc_server_release(s);
	return -1;
}

static int parse_fip(const struct ctx *c, const cJSON *o, struct hc_fip *f)
{
	const cJSON *home, *srv;

	memset(f, 0, sizeof *f);
	if (!cJSON_IsObject(o))
		return fail(c, NULL, "expected an object");
	if (get_id(c, o, "id", &f->id) < 0 ||
	    get_str(c, o, "name", true, &f->name) < 0 ||
	    get_str(c, o, "ip", true, &f->ip) < 0 ||
	    get_str(c, o, "type", true, &f->type) < 0)
		goto bad;
	if (strcmp(f->type, "ipv4") != 0 && strcmp(f->type, "ipv6") != 0) {
		fail(c, "type", "expected \"ipv4\" or \"ipv6\"");
		goto bad;
	}
	if (get_obj(c, o, "home_location", &home) < 0)
		goto bad;
	if (!home) {
		fail(c, "home_location", "missing");
		goto bad;
	}
	if (get_location(c, home, "home_location", &f->location, &f->network_zone) < 0)
		goto bad;
	/* api.md §0.3: an integer id or null. */
	srv = cJSON_GetObjectItemCaseSensitive(o, "server");
	if (!is_absent(srv)) {
		if (json_int64(srv, &f->server) < 0 || f->server <= 0) {
			fail(c, "server", "expected an integer or null");
			goto bad;
		}
	}
	if (get_labels(c, o, &f->labels, &f->n_labels, &f->has_index,
		       &f->resource_index) < 0)
		goto bad;
	return 0;
bad:
	hc_fip_release(f);
	return -1;
}

/*
 * The list envelope: the items array under key and
 * meta.pagination.next_page (api.md §2.3).
 */
static int parse_envelope(const cJSON *root, const char *key,
			  const cJSON **items, int64_t *next_page,
			  struct hc_error *err)
{
	struct ctx top = { "", err };
	const cJSON *meta, *pag, *next;

	*items = cJSON_GetObjectItemCaseSensitive(root, key);
	if (is_absent(*items))
		return fail(&top, key, "missing");
	if (!cJSON_IsArray(*items))
		return fail(&top, key, "expected an array");
	if (cJSON_GetArraySize(*items) > HC_MAX_PAGE_ITEMS)
		return fail(&top, key, "too many items in one page");

	/*
	 * Both keys are required (api.md §2.1). A missing meta could hide
	 * further pages, and a partial list must never reach the planner.
	 */
	if (get_obj(&top, root, "meta", &meta) < 0)
		return -1;
	if (!meta)
		return fail(&top, "meta", "missing");
	struct ctx mctx = { "meta", err };
	if (get_obj(&mctx, meta, "pagination", &pag) < 0)
		return -1;
	if (!pag)
		return fail(&mctx, "pagination", "missing");
	struct ctx pctx = { "meta.pagination", err };
	*next_page = 0;
	next = cJSON_GetObjectItemCaseSensitive(pag, "next_page");
	if (!is_absent(next) && (json_int64(next, next_page) < 0 || *next_page < 1))
		return fail(&pctx, "next_page", "expected a positive integer or null");
	return 0;
}

int hc_parse_servers(const char *body, size_t len, struct hc_server **out,
		     size_t *n, int64_t *next_page, struct hc_error *err)
{
	const cJSON *items, *it;
	struct hc_server *v = NULL;
	size_t cnt = 0;
	cJSON *root;

	*out = NULL;
	*n = 0;
	*next_page = 0;
	if (!(root = parse_root(body, len, HC_MAX_BODY_LIST, err)))
		return -1;
	if (parse_envelope(root, "servers", &items, next_page, err) < 0)
		goto bad;
	v = xcalloc((size_t)cJSON_GetArraySize(items) + 1, sizeof *v);
	cJSON_ArrayForEach(it, items) {
		char where[48];
		snprintf(where, sizeof where, "servers[%zu]", cnt);
		struct ctx c = { where, err };
		if (parse_server(&c, it, &v[cnt]) < 0)
			goto bad;
		cnt++;
	}
	cJSON_Delete(root);
	*out = v;
	*n = cnt;
	return 0;
bad:
	hc_servers_free(v, cnt);
	cJSON_Delete(root);
	*next_page = 0;
	return -1;
}

int hc_parse_floating_ips(const char *body, size_t len, struct hc_fip **out,
			  size_t *n, int64_t *next_page, struct hc_error *err)
{
	const cJSON *items, *it;
	struct hc_fip *v = NULL;
	size_t cnt = 0;
	cJSON *root;

	*out = NULL;
	*n = 0;
	*next_page = 0;
	if (!(root = parse_root(body, len, HC_MAX_BODY_LIST, err)))
		return -1;
	if (parse_envelope(root, "floating_ips", &items, next_page, err) < 0)
		goto bad;
	v = xcalloc((size_t)cJSON_GetArraySize(items) + 1, sizeof *v);
	cJSON_ArrayForEach(it, items) {
		char where[48];
		snprintf(where, sizeof where, "floating_ips[%zu]", cnt);
		struct ctx c = { where, err };
		if (parse_fip(&c, it, &v[cnt]) < 0)
			goto bad;
		cnt++;
	}
	cJSON_Delete(root);
	*out = v;
	*n = cnt;
	return 0;
bad:
	hc_fips_free(v, cnt);
	cJSON_Delete(root);
	*next_page = 0;
	return -1;
}

int hc_parse_floating_ip(const char *body, size_t len, struct hc_fip *out,
			 struct hc_error *err)
{
	struct ctx top = { "", err };
	const cJSON *o;
	cJSON *root;
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (!(root = parse_root(body, len, HC_MAX_BODY_OBJECT, err)))
		return -1;
	if (get_obj(&top, root, "floating_ip", &o) < 0)
		goto out;
	if (!o) {
		fail(&top, "floating_ip", "missing");
		goto out;
	}
	struct ctx c = { "floating_ip", err };
	rc = parse_fip(&c, o, out);
out:
	cJSON_Delete(root);
	return rc;
}

int hc_parse_action(const char *body, size_t len, struct hc_action *out,
		    struct hc_error *err)
{
	struct ctx top = { "", err };
	struct ctx c = { "action", err };
	const cJSON *o, *e;
	char *status = NULL;
	cJSON *root;

	memset(out, 0, sizeof *out);
	if (!(root = parse_root(body, len, HC_MAX_BODY_OBJECT, err)))
		return -1;
	if (get_obj(&top, root, "action", &o) < 0)
		goto bad;
	if (!o) {
		fail(&top, "action", "missing");
		goto bad;
	}
	if (get_id(&c, o, "id", &out->id) < 0 ||
	    get_str(&c, o, "command", false, &out->command) < 0 ||
	    get_str(&c, o, "status", true, &status) < 0)
		goto bad;
	if (strcmp(status, "running") == 0)
		out->status = HC_ACTION_RUNNING;
	else if (strcmp(status, "success") == 0)
		out->status = HC_ACTION_SUCCESS;
	else if (strcmp(status, "error") == 0)
		out->status = HC_ACTION_ERROR;
	else {
		fail(&c, "status", "expected running, success or error");
		goto bad;
	}
	if (out->status == HC_ACTION_ERROR) {
		/* hcloud-go substitutes placeholders for an empty error (api.md §4.3). */
		struct ctx ec = { "action.error", err };
		if (get_obj(&c, o, "error", &e) < 0)
			goto bad;
		if (e && (get_str(&ec, e, "code", false, &out->error_code) < 0 ||
			  get_str(&ec, e, "message", false, &out->error_message) < 0))
			goto bad;
		if (!out->error_code || !*out->error_code) {
			free(out->error_code);
			out->error_code = xstrdup("unknown");
		}
		if (!out->error_message || !*out->error_message) {
			free(out->error_message);
			out->error_message = xstrdup("unknown error");
		}
	}
	free(status);
	cJSON_Delete(root);
	return 0;
bad:
	free(status);
	hc_action_release(out);
	cJSON_Delete(root);
	return -1;
}

/* "invalid input in field 'server'" + " (server: Missing data ...)". */
static void add_field_details(struct buf *msg, const cJSON *details)
{
	const cJSON *fields = cJSON_GetObjectItemCaseSensitive(details, "fields");
	const cJSON *f, *m;
	const char *sep = " (";
	if (!cJSON_IsArray(fields))
		return;
	cJSON_ArrayForEach(f, fields) {
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(f, "name");
		const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(f, "messages");
		if (!cJSON_IsString(name))
			continue;
		buf_printf(msg, "%s%s", sep, name->valuestring);
		sep = "; ";
		if (!cJSON_IsArray(msgs))
			continue;
		const char *msep = ": ";
		cJSON_ArrayForEach(m, msgs) {
			if (!cJSON_IsString(m))
				continue;
			buf_printf(msg, "%s%s", msep, m->valuestring);
			msep = ", ";
		}
	}
	if (*sep == ';')
		buf_addch(msg, ')');
}

int hc_parse_error(const char *body, size_t len, struct hc_error *err)
{
	const cJSON *e, *code, *message;
	struct buf msg;
	cJSON *root;

	if (!body || len == 0 || len > HC_MAX_BODY_OBJECT)
		return -1;
	if (!(root = cJSON_ParseWithLength(body, len)))
		return -1;
	e = cJSON_GetObjectItemCaseSensitive(root, "error");
	code = cJSON_GetObjectItemCaseSensitive(e, "code");
	message = cJSON_GetObjectItemCaseSensitive(e, "message");
	if (!cJSON_IsObject(e) || !cJSON_IsString(code) || !*code->valuestring) {
		cJSON_Delete(root);
		return -1;
	}
	/* The cap keeps a hostile details list from growing without bound. */
	buf_init(&msg, HC_MAX_MESSAGE + 1);
	buf_addstr(&msg, cJSON_IsString(message) ? message->valuestring : "");
	add_field_details(&msg, cJSON_GetObjectItemCaseSensitive(e, "details"));
	hc_error_set(err, code->valuestring, "%s", msg.data);
	buf_release(&msg);
	cJSON_Delete(root);
	return 0;
}
