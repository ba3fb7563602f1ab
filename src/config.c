/*
 * config.c — map a document tree onto struct config (SPEC section 2).
 *
 * The tree comes from whichever reader the file's extension names, so
 * YAML, TOML and JSON share one set of rules here: every key is checked,
 * every problem is collected (with file:line:col and the key path), and
 * unknown keys are warnings, as they were in the original flipper.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

#define CONFIG_MAX_BYTES (4u << 20)
#define DEFAULT_ENDPOINT "https://api.hetzner.cloud/v1"

/* The walk's position: diagnostics sink and the current key path. */
struct walk {
	struct diags *d;
	struct buf path;
};

static size_t path_push_key(struct walk *w, const char *key)
{
	size_t old = w->path.len;
	if (w->path.len)
		buf_addch(&w->path, '.');
	buf_addstr(&w->path, key);
	return old;
}

static size_t path_push_index(struct walk *w, size_t i)
{
	size_t old = w->path.len;
	buf_printf(&w->path, "[%zu]", i);
	return old;
}

static void path_pop(struct walk *w, size_t old)
{
	w->path.len = old;
	if (w->path.data)
		w->path.data[old] = '\0';
}

static void err_at(struct walk *w, const struct node *n, const char *fmt, ...) PRINTF_LIKE(3, 4);
static void warn_at(struct walk *w, const struct node *n, const char *fmt, ...) PRINTF_LIKE(3, 4);

static void report(struct walk *w, enum diag_severity sev, const struct node *n,
		   const char *fmt, va_list ap) PRINTF_LIKE(4, 0);

static void report(struct walk *w, enum diag_severity sev, const struct node *n,
		   const char *fmt, va_list ap)
{
	char *msg = xvasprintf(fmt, ap);
	diag_add(w->d, sev, n ? n->line : 0, n ? n->col : 0, w->path.data, "%s", msg);
	free(msg);
}

static void err_at(struct walk *w, const struct node *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(w, DIAG_ERROR, n, fmt, ap);
	va_end(ap);
}

static void warn_at(struct walk *w, const struct node *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(w, DIAG_WARNING, n, fmt, ap);
	va_end(ap);
}

static const char *describe(const struct node *n)
{
	return node_type_name(n->type);
}

static int cmp_entry_key(const void *a, const void *b)
{
	const struct node *x = *(const struct node *const *)a;
	const struct node *y = *(const struct node *const *)b;
	int c = strcmp(x->key, y->key);
	if (c)
		return c;
	return x->key_line != y->key_line ? x->key_line - y->key_line : x->key_col - y->key_col;
}

/*
 * Check a mapping's keys against the allowed list: unknown keys warn,
 * duplicates are errors (YAML and JSON readers let them through).
 * Sorting keeps this O(n log n) on hostile input.
 */
static void check_keys(struct walk *w, const struct node *map, const char *const *allowed)
{
	if (!map || map->type != NODE_MAP)
		return;
	for (size_t i = 0; i < map->n; i++) {
		const struct node *e = map->items[i];
		bool known = false;
		/* A key with a NUL inside only looks like a known one. */
		bool whole = !e->key_len || e->key_len == strlen(e->key);
		for (const char *const *a = allowed; *a && whole; a++)
			if (strcmp(*a, e->key) == 0)
				known = true;
		if (!known) {
			struct node at = { .line = e->key_line, .col = e->key_col };
			size_t old = path_push_key(w, e->key);
			warn_at(w, &at, "unknown key (ignored)");
			path_pop(w, old);
		}
	}
	if (map->n < 2)
		return;
	struct node **sorted = xmalloc(map->n * sizeof *sorted);
	memcpy(sorted, map->items, map->n * sizeof *sorted);
	qsort(sorted, map->n, sizeof *sorted, cmp_entry_key);
	for (size_t i = 1; i < map->n; i++) {
		if (strcmp(sorted[i]->key, sorted[i - 1]->key) == 0) {
			struct node at = { .line = sorted[i]->key_line, .col = sorted[i]->key_col };
			size_t old = path_push_key(w, sorted[i]->key);
			err_at(w, &at, "duplicate key (first at line %d)", sorted[i - 1]->key_line);
			path_pop(w, old);
		}
	}
	free(sorted);
}

/*
 * The ids seen so far in one list (the groups, or one group's checks):
 * a hash set of borrowed strings, so that a file with 100,000 checks is
 * not compared pairwise (that took most of a minute).
 */
struct idset {
	const char **slot;
	size_t cap, n;           /* cap is 0 or a power of two */
};

static size_t id_hash(const char *s)
{
	uint64_t h = 14695981039346656037u;   /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return (size_t)h;
}

/* Add id; false if it was there already. */
static bool idset_add(struct idset *set, const char *id)
{
	if (2 * (set->n + 1) > set->cap) {
		struct idset big = { NULL, set->cap ? 2 * set->cap : 16, 0 };
		big.slot = xcalloc(big.cap, sizeof *big.slot);
		for (size_t i = 0; i < set->cap; i++)
			if (set->slot[i])
				idset_add(&big, set->slot[i]);
		free(set->slot);
		*set = big;
	}
	size_t i = id_hash(id) & (set->cap - 1);
	for (; set->slot[i]; i = (i + 1) & (set->cap - 1))
		if (strcmp(set->slot[i], id) == 0)
			return false;
	set->slot[i] = id;
	set->n++;
	return true;
}

/* A map, or NULL for absent/null; other types are an error. */
static const struct node *want_map(struct walk *w, const struct node *n)
{
	if (!n || n->type == NODE_NULL)
		return NULL;
	if (n->type != NODE_MAP) {
		err_at(w, n, "expected a mapping, got a %s", describe(n));
		return NULL;
	}
	return n;
}

static bool env_name_char(char c, bool first)
{
	return c == '_' || isalpha((unsigned char)c) || (!first && isdigit((unsigned char)c));
}

/*
 * Expand ${NAME} from the environment. An unset variable is an error
 * (returns NULL); a lone '$' is kept as it is.
 */
static char *expand_env(struct walk *w, const struct node *n, const char *s)
{
	struct buf b;
	buf_init(&b, 0);
	for (const char *p = s; *p;) {
		if (p[0] == '$' && p[1] == '{') {
			const char *q = p + 2;
			size_t len = 0;
			while (q[len] && env_name_char(q[len], len == 0))
				len++;
			if (len && q[len] == '}') {
				char *name = xstrndup(q, len);
				const char *v = getenv(name);
				if (!v) {
					err_at(w, n, "environment variable %s is not set", name);
					free(name);
					buf_release(&b);
					return NULL;
				}
				free(name);
				buf_addstr(&b, v);
				p = q + len + 1;
				continue;
			}
		}
		buf_addch(&b, *p++);
	}
	return buf_detach(&b);
}

/*
 * A string value. YAML plain scalars of other types count as their text
 * (the original's decoder allowed that); JSON and TOML numbers do not.
 * Returns 1 if set, 0 if absent or null, -1 on error.
 */
static int get_str_node(struct walk *w, const struct node *n, const char *key, char **out)
{
	if (!n || n->type == NODE_NULL)
		return 0;
	size_t old = path_push_key(w, key);
	int rc = -1;
	if (n->type == NODE_STRING || (n->plain && n->type != NODE_MAP && n->type != NODE_SEQ)) {
		if (strlen(n->text) != n->text_len) {
			err_at(w, n, "string contains a NUL character");
		} else {
			char *v = expand_env(w, n, n->text);
			if (v) {
				free(*out);
				*out = v;
				rc = 1;
			}
		}
	} else {
		err_at(w, n, "expected a string, got a %s", describe(n));
	}
	path_pop(w, old);
	return rc;
}

static int get_str(struct walk *w, const struct node *map, const char *key, char **out)
{
	return get_str_node(w, node_get(map, key), key, out);
}

static int get_bool(struct walk *w, const struct node *map, const char *key, bool *out)
{
	const struct node *n = node_get(map, key);
	if (!n || n->type == NODE_NULL)
		return 0;
	size_t old = path_push_key(w, key);
	int rc = 1;
	if (n->type == NODE_BOOL) {
		*out = n->v.b;
	} else if (n->plain && n->type == NODE_STRING &&
		   (!strcasecmp(n->text, "yes") || !strcasecmp(n->text, "on"))) {
		*out = true;   /* YAML 1.1 spellings, as Go's yaml accepted */
	} else if (n->plain && n->type == NODE_STRING &&
		   (!strcasecmp(n->text, "no") || !strcasecmp(n->text, "off"))) {
		*out = false;
	} else {
		err_at(w, n, "expected true or false, got a %s", describe(n));
		rc = -1;
	}
	path_pop(w, old);
	return rc;
}

static int get_int(struct walk *w, const struct node *map, const char *key,
		   int64_t min, int64_t max, int64_t *out)
{
	const struct node *n = node_get(map, key);
	if (!n || n->type == NODE_NULL)
		return 0;
	size_t old = path_push_key(w, key);
	int rc = -1;
	if (n->type != NODE_INT)
		err_at(w, n, "expected an integer, got a %s", describe(n));
	else if (n->v.i < min || n->v.i > max)
		err_at(w, n, "must be between %lld and %lld (got %lld)",
		       (long long)min, (long long)max, (long long)n->v.i);
	else {
		*out = n->v.i;
		rc = 1;
	}
	path_pop(w, old);
	return rc;
}

static int get_int32(struct walk *w, const struct node *map, const char *key,
		     int min, int max, int *out)
{
	int64_t v;
	int rc = get_int(w, map, key, min, max, &v);
	if (rc == 1)
		*out = (int)v;
	return rc;
}

/* A Go duration string, or the integer 0. min_ms bounds it below. */
static int get_duration(struct walk *w, const struct node *map, const char *key,
			int64_t min_ms, int64_t *out)
{
	const struct node *n = node_get(map, key);
	if (!n || n->type == NODE_NULL)
		return 0;
	size_t old = path_push_key(w, key);
	int rc = -1;
	int64_t ms = 0;
	const char *why = NULL;
	if (n->type == NODE_INT) {
		if (n->v.i != 0)
			err_at(w, n, "invalid duration \"%s\": a number needs a unit, e.g. \"%llds\"",
			       n->text ? n->text : "?", (long long)n->v.i);
		else
			rc = 1;
	} else if (n->type == NODE_STRING || n->plain) {
		char *text = expand_env(w, n, n->text);
		if (text) {
			if (duration_parse(text, &ms, &why) < 0)
				err_at(w, n, "invalid duration \"%s\": %s", text, why);
			else
				rc = 1;
			free(text);
		}
	} else {
		err_at(w, n, "expected a duration such as \"30s\", got a %s", describe(n));
	}
	if (rc == 1 && ms < min_ms) {
		char lim[48];
		duration_format(min_ms, lim);
		err_at(w, n, "must be at least %s", lim);
		rc = -1;
	}
	if (rc == 1)
		*out = ms;
	path_pop(w, old);
	return rc;
}

/* One of the listed words; stores its index. */
static int get_enum(struct walk *w, const struct node *map, const char *key,
		    const char *const *words, int *out)
{
	char *s = NULL;
	int rc = get_str(w, map, key, &s);
	if (rc != 1)
		return rc;
	for (int i = 0; words[i]; i++) {
		if (strcmp(words[i], s) == 0) {
			*out = i;
			free(s);
			return 1;
		}
	}
	struct buf list;
	buf_init(&list, 0);
	for (int i = 0; words[i]; i++)
		buf_printf(&list, "%s%s", i ? ", " : "", words[i]);
	size_t old = path_push_key(w, key);
	err_at(w, node_get(map, key), "unknown value \"%s\" (want %s)", s, list.data);
	path_pop(w, old);
	buf_release(&list);
	free(s);
	return -1;
}

/* A list (or absent); other types are an error. */
static const struct node *want_seq(struct walk *w, const struct node *map, const char *key)
{
	const struct node *n = node_get(map, key);
	if (!n || n->type == NODE_NULL)
		return NULL;
	if (n->type != NODE_SEQ) {
		size_t old = path_push_key(w, key);
		err_at(w, n, "expected a list, got a %s", describe(n));
		path_pop(w, old);
		return NULL;
	}
	return n;
}

static const struct node *section(struct walk *w, const struct node *map, const char *key,
				  size_t *old)
{
	const struct node *n = node_get(map, key);
	*old = path_push_key(w, key);
	return want_map(w, n);
}

static void require_str(struct walk *w, const struct node *map, const char *key,
			char **out, const struct node *where)
{
	if (get_str(w, map, key, out) == 0) {
		size_t old = path_push_key(w, key);
		err_at(w, where, "required");
		path_pop(w, old);
	} else if (*out && !**out) {
		size_t old = path_push_key(w, key);
		err_at(w, node_get(map, key), "must not be empty");
		path_pop(w, old);
	}
}

/* ---- expect_status ---------------------------------------------------- */

int status_ranges_parse(const char *s, struct status_range **out, size_t *n,
			const char **err)
{
	struct status_range *r = NULL;
	size_t cnt = 0, cap = 0;
	const char *p = s;

	*out = NULL;
	*n = 0;
	while (*p) {
		long lo, hi;
		char *end;
		while (*p == ' ')
			p++;
		if (!isdigit((unsigned char)*p))
			goto bad;
		lo = strtol(p, &end, 10);
		p = end;
		hi = lo;
		while (*p == ' ')
			p++;
		if (*p == '-') {
			p++;
			while (*p == ' ')
				p++;
			if (!isdigit((unsigned char)*p))
				goto bad;
			hi = strtol(p, &end, 10);
			p = end;
			while (*p == ' ')
				p++;
		}
		if (lo < 100 || hi > 599 || lo > hi) {
			free(r);
			*err = "statuses must lie in 100-599, ranges low-high";
			return -1;
		}
		r = xgrow(r, &cap, cnt + 1, sizeof *r);
		r[cnt].lo = (int)lo;
		r[cnt].hi = (int)hi;
		cnt++;
		if (*p == ',')
			p++;
		else if (*p)
			goto bad;
	}
	if (!cnt)
		goto bad;
	*out = r;
	*n = cnt;
	return 0;
bad:
	free(r);
	*err = "expected statuses such as \"200-299\" or \"200,204,301-302\"";
	return -1;
}

bool check_expects(const struct check_config *c, int status)
{
	for (size_t i = 0; i < c->n_expect; i++)
		if (status >= c->expect[i].lo && status <= c->expect[i].hi)
			return true;
	return false;
}

/* ---- sections --------------------------------------------------------- */

static const char *const root_keys[] = {
	"version", "service", "state", "server", "telemetry", "heartbeat",
	"notifications", "groups", NULL
};
static const char *const check_keys_list[] = {
	"id", "display_name", "type", "interval", "timeout", "fall", "rise", "method",
	"host", "port", "path", "ip_version", "expect_status", "ca_file", "headers", NULL
};
static const char *const check_types[] = { "http", "https", NULL };
static const char *const ip_versions[] = { "both", "ipv4", "ipv6", NULL };

static bool valid_method(const char *m)
{
	if (!*m)
		return false;
	for (const char *p = m; *p; p++)
		if (!isupper((unsigned char)*p))
			return false;
	return true;
}

static bool header_token(const char *s)
{
	if (!*s)
		return false;
	for (const char *p = s; *p; p++)
		if (!(isalnum((unsigned char)*p) || strchr("!#$%&'*+-.^_`|~", *p)))
			return false;
	return true;
}

static void load_check(struct walk *w, const struct node *n, struct check_config *c)
{
	int t = -1, ipv = 0;
	check_keys(w, n, check_keys_list);

	require_str(w, n, "id", &c->id, n);
	get_str(w, n, "display_name", &c->display_name);
	if (!c->display_name && c->id)
		c->display_name = xstrdup(c->id);
	if (get_enum(w, n, "type", check_types, &t) == 0) {
		size_t old = path_push_key(w, "type");
		err_at(w, n, "required (http or https)");
		path_pop(w, old);
	}
	c->type = t == 1 ? CHECK_HTTPS : CHECK_HTTP;
	c->interval_ms = 60000;
	c->timeout_ms = 10000;
	get_duration(w, n, "interval", 1, &c->interval_ms);
	get_duration(w, n, "timeout", 1, &c->timeout_ms);
	c->fall = c->rise = 1;
	get_int32(w, n, "fall", 1, 1000000, &c->fall);
	get_int32(w, n, "rise", 1, 1000000, &c->rise);
	get_str(w, n, "method", &c->method);
	if (!c->method)
		c->method = xstrdup("GET");
	else if (!valid_method(c->method)) {
		size_t old = path_push_key(w, "method");
		err_at(w, node_get(n, "method"), "invalid HTTP method \"%s\" (upper-case, e.g. GET or HEAD)", c->method);
		path_pop(w, old);
	}
	get_str(w, n, "host", &c->host);
	if (c->host && !*c->host) {
		free(c->host);
		c->host = NULL;
	}
	if (c->host && strpbrk(c->host, "/:@ \t\r\n")) {
		size_t old = path_push_key(w, "host");
		err_at(w, node_get(n, "host"), "must be a bare host name (no scheme, port or path)");
		path_pop(w, old);
	}
	if (t == 1 && !c->host) {
		size_t old = path_push_key(w, "host");
		err_at(w, n, "required for https checks (sent as Host header and TLS SNI)");
		path_pop(w, old);
	}
	c->port = t == 1 ? 443 : 80;
	get_int32(w, n, "port", 1, 65535, &c->port);
	if (get_str(w, n, "path", &c->path) == 1 && c->path[0] != '/') {
		size_t old = path_push_key(w, "path");
		err_at(w, node_get(n, "path"), "must start with / (got \"%s\")", c->path);
		path_pop(w, old);
	} else if (c->path && strpbrk(c->path, " \t\r\n")) {
		size_t old = path_push_key(w, "path");
		err_at(w, node_get(n, "path"), "must not contain whitespace");
		path_pop(w, old);
	}
	if (!c->path)
		c->path = xstrdup("/");
	get_enum(w, n, "ip_version", ip_versions, &ipv);
	c->ip_version = ipv == 1 ? IPV_4 : ipv == 2 ? IPV_6 : IPV_BOTH;

	/* expect_status: a string ("200-299,304"), a number, or a list of both. */
	const struct node *es = node_get(n, "expect_status");
	struct buf text;
	buf_init(&text, 0);
	if (es && es->type == NODE_SEQ) {
		for (size_t i = 0; i < es->n; i++) {
			const struct node *e = es->items[i];
			if (e->type == NODE_INT || e->type == NODE_STRING)
				buf_printf(&text, "%s%s", text.len ? "," : "", e->text);
			else {
				size_t old = path_push_key(w, "expect_status");
				size_t old2 = path_push_index(w, i);
				err_at(w, e, "expected a status or range, got a %s", describe(e));
				path_pop(w, old2);
				path_pop(w, old);
			}
		}
	} else if (es && (es->type == NODE_INT || es->type == NODE_STRING)) {
		buf_addstr(&text, es->text);
	} else if (es && es->type != NODE_NULL) {
		size_t old = path_push_key(w, "expect_status");
		err_at(w, es, "expected statuses such as \"200-299\", got a %s", describe(es));
		path_pop(w, old);
	}
	if (!text.len)
		buf_addstr(&text, "200-299");
	const char *why;
	if (status_ranges_parse(text.data, &c->expect, &c->n_expect, &why) < 0) {
		size_t old = path_push_key(w, "expect_status");
		err_at(w, es, "invalid \"%s\": %s", text.data, why);
		path_pop(w, old);
	}
	c->expect_text = buf_detach(&text);

	if (get_str(w, n, "ca_file", &c->ca_file) == 1) {
		size_t old = path_push_key(w, "ca_file");
		if (access(c->ca_file, R_OK) < 0)
			err_at(w, node_get(n, "ca_file"), "cannot read \"%s\": %s", c->ca_file, strerror(errno));
		else if (c->type != CHECK_HTTPS)
			warn_at(w, node_get(n, "ca_file"), "only used by https checks");
		path_pop(w, old);
	}

	size_t oldh;
	const struct node *h = section(w, n, "headers", &oldh);
	if (h) {
		c->headers = xcalloc(h->n, sizeof *c->headers);
		for (size_t i = 0; i < h->n; i++) {
			char *v = NULL;
			const struct node *e = h->items[i];
			const char *k = e->key;
			/* The entry itself, not node_get(): a lookup per header
			 * made 100,000 headers take a minute. */
			if (get_str_node(w, e, k, &v) != 1)
				continue;
			size_t old = path_push_key(w, k);
			if (!header_token(k) || (e->key_len && e->key_len != strlen(k)))
				err_at(w, h->items[i], "invalid header name");
			else if (strpbrk(v, "\r\n"))
				err_at(w, h->items[i], "header value must not contain a line break");
			else if (!strcasecmp(k, "Host"))
				err_at(w, h->items[i], "set the Host header with the check's host key");
			path_pop(w, old);
			c->headers[c->n_headers].name = xstrdup(k);
			c->headers[c->n_headers].value = v;
			c->n_headers++;
		}
	}
	path_pop(w, oldh);
}

static void check_secret_file_mode(struct walk *w, const struct node *at, const char *path,
				   const char *what)
{
	struct stat st;
	if (stat(path, &st) == 0 && (st.st_mode & 077))
		warn_at(w, at, "%s \"%s\" is readable by group or others (mode %04o); chmod 600 it",
			what, path, (unsigned)(st.st_mode & 07777));
}

static void load_hetzner(struct walk *w, const struct node *grp, struct group_config *g,
			 const char *config_path, bool *literal_token)
{
	size_t old;
	const struct node *h = section(w, grp, "hetzner", &old);
	static const char *const keys[] = {
		"api_token", "api_token_file", "project_id", "endpoint", "servers",
		"floating_ips", NULL
	};
	if (!h) {
		err_at(w, grp, "required (api token and label selectors)");
		path_pop(w, old);
		return;
	}
	check_keys(w, h, keys);

	const struct node *tok = node_get(h, "api_token");
	get_str(w, h, "api_token", &g->api_token);
	get_str(w, h, "api_token_file", &g->api_token_file);
	if (g->api_token && !*g->api_token) {
		free(g->api_token);
		g->api_token = NULL;
	}
	if (g->api_token && g->api_token_file) {
		size_t o2 = path_push_key(w, "api_token_file");
		err_at(w, node_get(h, "api_token_file"), "set api_token or api_token_file, not both");
		path_pop(w, o2);
	} else if (g->api_token) {
		g->token_source = xstrdup("api_token");
		/* A token written in the file (not a ${VAR} reference) is a secret at rest. */
		if (tok && tok->text && !strstr(tok->text, "${"))
			*literal_token = true;
	} else if (g->api_token_file) {
		size_t o2 = path_push_key(w, "api_token_file");
		const struct node *at = node_get(h, "api_token_file");
		char *data = NULL;
		size_t len = 0;
		if (read_file(g->api_token_file, 64 * 1024, &data, &len) < 0) {
			err_at(w, at, "cannot read \"%s\": %s", g->api_token_file, strerror(errno));
		} else {
			while (len && isspace((unsigned char)data[len - 1]))
				data[--len] = '\0';
			if (!len || strlen(data) != len || strpbrk(data, "\r\n"))
				err_at(w, at, "\"%s\" must hold the token on one line", g->api_token_file);
			else {
				g->api_token = data;
				data = NULL;
				g->token_source = xstrdup("api_token_file");
			}
			check_secret_file_mode(w, at, g->api_token_file, "token file");
		}
		free(data);
		path_pop(w, o2);
	} else if (!tok || tok->type == NODE_NULL) {
		const char *env = getenv("HCLOUD_TOKEN");
		if (env && *env) {
			g->api_token = xstrdup(env);
			g->token_source = xstrdup("$HCLOUD_TOKEN");
		} else {
			size_t o2 = path_push_key(w, "api_token");
			err_at(w, h, "no API token: set api_token, api_token_file or $HCLOUD_TOKEN");
			path_pop(w, o2);
		}
	}
	if (g->api_token && strpbrk(g->api_token, "\r\n \t")) {
		size_t o2 = path_push_key(w, "api_token");
		err_at(w, tok ? tok : h, "the token must not contain whitespace");
		path_pop(w, o2);
	}

	/* project_id: the original accepted a number or a string. */
	const struct node *pid = node_get(h, "project_id");
	if (pid && pid->type == NODE_INT) {
		g->project_id = xasprintf("%lld", (long long)pid->v.i);
	} else if (pid && pid->type != NODE_NULL) {
		get_str(w, h, "project_id", &g->project_id);
	}
	if (g->project_id) {
		for (const char *p = g->project_id; *p; p++) {
			if (!isdigit((unsigned char)*p)) {
				size_t o2 = path_push_key(w, "project_id");
				warn_at(w, pid, "expected a numeric project id; console links may not work");
				path_pop(w, o2);
				break;
			}
		}
	}

	get_str(w, h, "endpoint", &g->endpoint);
	const char *env_ep = getenv("HCLOUD_ENDPOINT");
	if (env_ep && *env_ep) {
		free(g->endpoint);
		g->endpoint = xstrdup(env_ep);
	}
	if (!g->endpoint)
		g->endpoint = xstrdup(DEFAULT_ENDPOINT);
	if (!str_has_prefix(g->endpoint, "https://") && !str_has_prefix(g->endpoint, "http://")) {
		size_t o2 = path_push_key(w, "endpoint");
		err_at(w, node_get(h, "endpoint"), "must be an http:// or https:// URL");
		path_pop(w, o2);
	} else {
		size_t l = strlen(g->endpoint);
		while (l > 8 && g->endpoint[l - 1] == '/')
			g->endpoint[--l] = '\0';
	}

	static const char *const sel_keys[] = { "label_selector", NULL };
	size_t o2;
	const struct node *s = section(w, h, "servers", &o2);
	check_keys(w, s, sel_keys);
	require_str(w, s, "label_selector", &g->server_selector, s ? s : h);
	path_pop(w, o2);
	s = section(w, h, "floating_ips", &o2);
	check_keys(w, s, sel_keys);
	require_str(w, s, "label_selector", &g->fip_selector, s ? s : h);
	path_pop(w, o2);
	(void)config_path;
	path_pop(w, old);
}

/*
 * poll_interval: a duration, or "always": list the inventory on every
 * pass. "always" is kept apart from "0s" (poll_always), which the
 * original read as its default and will again.
 */
static void get_poll_interval(struct walk *w, const struct node *map, struct group_config *g)
{
	const struct node *n = node_get(map, "poll_interval");
	if (n && (n->type == NODE_STRING || n->plain) && str_eq(n->text, "always")) {
		g->poll_interval_ms = 0;
		g->poll_always = true;
		return;
	}
	get_duration(w, map, "poll_interval", 0, &g->poll_interval_ms);
}

static void load_group(struct walk *w, const struct node *n, struct group_config *g,
		       const char *config_path, bool *literal_token)
{
	static const char *const keys[] = {
		"id", "display_name", "readonly", "provider", "poll_interval", "poll_timeout",
		"plan_apply_timeout", "plan_apply_with_unknown_status", "max_actions_per_round",
		"hetzner", "checks", NULL
	};
	static const char *const providers[] = { "hetzner", NULL };
	int prov = 0;

	check_keys(w, n, keys);
	require_str(w, n, "id", &g->id, n);
	require_str(w, n, "display_name", &g->display_name, n);
	get_bool(w, n, "readonly", &g->readonly);
	get_enum(w, n, "provider", providers, &prov);
	g->provider = xstrdup("hetzner");
	g->poll_interval_ms = 60000;
	g->poll_timeout_ms = 20000;
	g->plan_apply_timeout_ms = 30000;
	get_poll_interval(w, n, g);
	get_duration(w, n, "poll_timeout", 1, &g->poll_timeout_ms);
	get_duration(w, n, "plan_apply_timeout", 1, &g->plan_apply_timeout_ms);
	get_bool(w, n, "plan_apply_with_unknown_status", &g->plan_apply_with_unknown_status);
	get_int32(w, n, "max_actions_per_round", 1, 1000000, &g->max_actions_per_round);
	load_hetzner(w, n, g, config_path, literal_token);

	const struct node *checks = want_seq(w, n, "checks");
	if (!checks) {
		return;
	}
	size_t old = path_push_key(w, "checks");
	struct idset ids = { NULL, 0, 0 };
	g->checks = xcalloc(checks->n, sizeof *g->checks);
	for (size_t i = 0; i < checks->n; i++) {
		size_t o2 = path_push_index(w, i);
		const struct node *c = want_map(w, checks->items[i]);
		if (c) {
			struct check_config *cc = &g->checks[g->n_checks++];
			load_check(w, c, cc);
			if (cc->id && !idset_add(&ids, cc->id)) {
				size_t o3 = path_push_key(w, "id");
				err_at(w, node_get(c, "id"), "duplicate check id \"%s\" in this group", cc->id);
				path_pop(w, o3);
			}
		}
		path_pop(w, o2);
	}
	free(ids.slot);
	path_pop(w, old);
}

static void load_notifications(struct walk *w, const struct node *root, struct config *c)
{
	static const char *const keys[] = { "enabled", "targets", NULL };
	static const char *const tkeys[] = {
		"type", "url", "channel", "username", "icon_url", "icon_emoji", NULL
	};
	static const char *const types[] = { "mattermost", "slack", NULL };
	size_t old;
	const struct node *n = section(w, root, "notifications", &old);
	check_keys(w, n, keys);
	get_bool(w, n, "enabled", &c->notifications_enabled);
	const struct node *targets = want_seq(w, n, "targets");
	if (targets) {
		size_t o1 = path_push_key(w, "targets");
		c->targets = xcalloc(targets->n, sizeof *c->targets);
		for (size_t i = 0; i < targets->n; i++) {
			size_t o2 = path_push_index(w, i);
			const struct node *t = want_map(w, targets->items[i]);
			if (t) {
				struct notify_target *nt = &c->targets[c->n_targets++];
				int ty = 0;
				check_keys(w, t, tkeys);
				if (get_enum(w, t, "type", types, &ty) == 0) {
					size_t o3 = path_push_key(w, "type");
					err_at(w, t, "required (mattermost or slack)");
					path_pop(w, o3);
				}
				nt->type = ty == 1 ? NOTIFY_SLACK : NOTIFY_MATTERMOST;
				require_str(w, t, "url", &nt->url, t);
				if (nt->url && *nt->url && !str_has_prefix(nt->url, "https://") &&
				    !str_has_prefix(nt->url, "http://")) {
					size_t o3 = path_push_key(w, "url");
					err_at(w, node_get(t, "url"), "must be an http:// or https:// URL");
					path_pop(w, o3);
				}
				get_str(w, t, "channel", &nt->channel);
				get_str(w, t, "username", &nt->username);
				get_str(w, t, "icon_url", &nt->icon_url);
				get_str(w, t, "icon_emoji", &nt->icon_emoji);
			}
			path_pop(w, o2);
		}
		path_pop(w, o1);
	}
	if (c->notifications_enabled && !c->n_targets)
		warn_at(w, n, "notifications are enabled but no targets are configured");
	path_pop(w, old);
}

static void load_heartbeat(struct walk *w, const struct node *root, struct config *c)
{
	static const char *const keys[] = { "enabled", "url", "interval", "timeout", NULL };
	size_t old;
	const struct node *n = section(w, root, "heartbeat", &old);
	check_keys(w, n, keys);
	get_bool(w, n, "enabled", &c->heartbeat_enabled);
	int has_url = get_str(w, n, "url", &c->heartbeat_url);
	int has_iv = get_duration(w, n, "interval", 1, &c->heartbeat_interval_ms);
	int has_to = get_duration(w, n, "timeout", 1, &c->heartbeat_timeout_ms);
	if (c->heartbeat_enabled) {
		static const char *const names[] = { "url", "interval", "timeout" };
		int have[] = { has_url, has_iv, has_to };
		for (size_t i = 0; i < 3; i++) {
			if (have[i] == 0) {
				size_t o2 = path_push_key(w, names[i]);
				err_at(w, n, "required when the heartbeat is enabled");
				path_pop(w, o2);
			}
		}
		if (c->heartbeat_url && !str_has_prefix(c->heartbeat_url, "https://") &&
		    !str_has_prefix(c->heartbeat_url, "http://")) {
			size_t o2 = path_push_key(w, "url");
			err_at(w, node_get(n, "url"), "must be an http:// or https:// URL");
			path_pop(w, o2);
		}
	}
	path_pop(w, old);
}

static void load_root(struct walk *w, const struct node *root, struct config *c)
{
	size_t old;
	bool literal_token = false;

	if (root->type != NODE_MAP) {
		err_at(w, root, "the configuration must be a mapping at the top level, got a %s",
		       describe(root));
		return;
	}
	check_keys(w, root, root_keys);

	int64_t version = 0;
	const struct node *vn = node_get(root, "version");
	int rc = get_int(w, root, "version", INT64_MIN, INT64_MAX, &version);
	if (rc == 1 && version != 1) {
		size_t o = path_push_key(w, "version");
		err_at(w, vn, "unsupported version %lld (this flipper reads version 1)", (long long)version);
		path_pop(w, o);
	} else if (rc == 0) {
		size_t o = path_push_key(w, "version");
		err_at(w, root, "required (version: 1)");
		path_pop(w, o);
	}
	c->version = (int)version;

	const struct node *n = section(w, root, "service", &old);
	static const char *const service_keys[] = { "name", NULL };
	check_keys(w, n, service_keys);
	get_str(w, n, "name", &c->service_name);
	if (!c->service_name)
		c->service_name = xstrdup("flipper");
	path_pop(w, old);

	n = section(w, root, "state", &old);
	static const char *const state_keys[] = { "path", NULL };
	check_keys(w, n, state_keys);
	get_str(w, n, "path", &c->state_path);
	path_pop(w, old);

	/* server.*: the original's HTTP server; accepted, not used. */
	n = section(w, root, "server", &old);
	static const char *const server_keys[] = {
		"enabled", "host", "port", "shutdown_timeout", "assets", "templates", NULL
	};
	if (n) {
		char *ignored = NULL;
		int port = 0;
		int64_t ms = 0;
		c->server_section_present = true;
		check_keys(w, n, server_keys);
		get_bool(w, n, "enabled", &c->server_enabled);
		get_str(w, n, "host", &ignored);
		free(ignored);
		ignored = NULL;
		get_int32(w, n, "port", 0, 65535, &port);
		get_duration(w, n, "shutdown_timeout", 0, &ms);
		get_str(w, n, "assets", &ignored);
		free(ignored);
		ignored = NULL;
		get_str(w, n, "templates", &ignored);
		free(ignored);
	}
	path_pop(w, old);

	const struct node *tel = section(w, root, "telemetry", &old);
	static const char *const tel_keys[] = { "logging", "metrics", "tracing", NULL };
	check_keys(w, tel, tel_keys);
	size_t o1;
	n = section(w, tel, "logging", &o1);
	static const char *const log_keys[] = { "level", "format", NULL };
	static const char *const levels[] = { "debug", "info", "warn", "error", NULL };
	static const char *const formats[] = { "json", "text", NULL };
	int lv = 1, fm = 0;
	check_keys(w, n, log_keys);
	get_enum(w, n, "level", levels, &lv);
	get_enum(w, n, "format", formats, &fm);
	c->log_level = xstrdup(levels[lv]);
	c->log_format = xstrdup(formats[fm]);
	path_pop(w, o1);
	n = section(w, tel, "metrics", &o1);
	static const char *const metric_keys[] = { "textfile", NULL };
	check_keys(w, n, metric_keys);
	get_str(w, n, "textfile", &c->metrics_textfile);
	path_pop(w, o1);
	path_pop(w, old);

	load_heartbeat(w, root, c);
	load_notifications(w, root, c);

	const struct node *groups = want_seq(w, root, "groups");
	if (!groups || groups->n == 0) {
		size_t o = path_push_key(w, "groups");
		err_at(w, groups ? groups : root, "at least one group is required");
		path_pop(w, o);
		return;
	}
	old = path_push_key(w, "groups");
	struct idset ids = { NULL, 0, 0 };
	c->groups = xcalloc(groups->n, sizeof *c->groups);
	for (size_t i = 0; i < groups->n; i++) {
		size_t o2 = path_push_index(w, i);
		const struct node *g = want_map(w, groups->items[i]);
		if (g) {
			struct group_config *gc = &c->groups[c->n_groups++];
			load_group(w, g, gc, c->path, &literal_token);
			if (gc->id && !idset_add(&ids, gc->id)) {
				size_t o3 = path_push_key(w, "id");
				err_at(w, node_get(g, "id"), "duplicate group id \"%s\"", gc->id);
				path_pop(w, o3);
			}
			if (gc->id && gc->n_checks == 0)
				warn_at(w, g, "group has no checks: its servers are treated as healthy");
		}
		path_pop(w, o2);
	}
	free(ids.slot);
	path_pop(w, old);

	if (literal_token && c->path) {
		struct stat st;
		if (stat(c->path, &st) == 0 && (st.st_mode & 077)) {
			struct node at = { 0 };
			warn_at(w, &at, "holds a literal API token and is readable by group or others "
				"(mode %04o); chmod 600 it or use api_token_file or ${HCLOUD_TOKEN}",
				(unsigned)(st.st_mode & 07777));
		}
	}
}

/* ---- public ------------------------------------------------------------ */

config_reader_fn config_reader_for(const char *path)
{
	if (str_has_suffix(path, ".yaml") || str_has_suffix(path, ".yml"))
		return yaml_read;
	if (str_has_suffix(path, ".json"))
		return json_read;
	if (str_has_suffix(path, ".toml"))
		return toml_read;
	return NULL;
}

struct config *config_parse(const char *path, const char *text, size_t len,
			    config_reader_fn reader, struct diags *d)
{
	struct node *root = NULL;
	struct config *c;
	struct walk w;

	if (reader(text, len, &root, d) < 0 || !root) {
		node_free(root);
		return NULL;
	}
	c = xcalloc(1, sizeof *c);
	c->path = xstrdup(path ? path : "");
	w.d = d;
	buf_init(&w.path, 0);
	load_root(&w, root, c);
	buf_release(&w.path);
	node_free(root);
	if (d->errors) {
		config_free(c);
		return NULL;
	}
	return c;
}

struct config *config_load(const char *path, struct diags *d)
{
	config_reader_fn reader = config_reader_for(path);
	char *text;
	size_t len;

	if (!reader) {
		diag_add(d, DIAG_ERROR, 0, 0, NULL,
			 "unknown configuration format (use .yaml, .yml, .toml or .json)");
		return NULL;
	}
	if (read_file(path, CONFIG_MAX_BYTES, &text, &len) < 0) {
		if (errno == EFBIG)
			diag_add(d, DIAG_ERROR, 0, 0, NULL, "file is larger than %u bytes",
				 CONFIG_MAX_BYTES);
		else
			diag_add(d, DIAG_ERROR, 0, 0, NULL, "cannot read: %s", strerror(errno));
		return NULL;
	}
	struct config *c = config_parse(path, text, len, reader, d);
	free(text);
	return c;
}

int config_peek_state_path(const char *path, char **out, struct diags *d)
{
	config_reader_fn reader = config_reader_for(path);
	struct node *root = NULL;
	char *text;
	size_t len;
	int rc = -1;

	*out = NULL;
	if (!reader || read_file(path, CONFIG_MAX_BYTES, &text, &len) < 0) {
		diag_add(d, DIAG_ERROR, 0, 0, NULL, "cannot read the configuration");
		return -1;
	}
	if (reader(text, len, &root, d) == 0) {
		struct walk w = { .d = d };
		buf_init(&w.path, 0);
		const struct node *st = node_get(root, "state");
		size_t old = path_push_key(&w, "state");
		int got = st && st->type == NODE_MAP ? get_str(&w, st, "path", out) : 0;
		path_pop(&w, old);
		buf_release(&w.path);
		rc = got == 1 ? 0 : got == 0 ? 1 : -1;
	}
	node_free(root);
	free(text);
	return rc;
}

static void check_release(struct check_config *c)
{
	free(c->id);
	free(c->display_name);
	free(c->method);
	free(c->host);
	free(c->path);
	free(c->expect);
	free(c->expect_text);
	free(c->ca_file);
	for (size_t i = 0; i < c->n_headers; i++) {
		free(c->headers[i].name);
		free(c->headers[i].value);
	}
	free(c->headers);
}

static void group_release(struct group_config *g)
{
	free(g->id);
	free(g->display_name);
	free(g->provider);
	if (g->api_token) {
		/* Do not leave the secret lying in freed memory. */
		memset(g->api_token, 0, strlen(g->api_token));
		free(g->api_token);
	}
	free(g->api_token_file);
	free(g->token_source);
	free(g->project_id);
	free(g->endpoint);
	free(g->server_selector);
	free(g->fip_selector);
	for (size_t i = 0; i < g->n_checks; i++)
		check_release(&g->checks[i]);
	free(g->checks);
}

void config_free(struct config *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->service_name);
	free(c->state_path);
	free(c->log_level);
	free(c->log_format);
	free(c->metrics_textfile);
	free(c->heartbeat_url);
	for (size_t i = 0; i < c->n_targets; i++) {
		free(c->targets[i].url);
		free(c->targets[i].channel);
		free(c->targets[i].username);
		free(c->targets[i].icon_url);
		free(c->targets[i].icon_emoji);
	}
	free(c->targets);
	for (size_t i = 0; i < c->n_groups; i++)
		group_release(&c->groups[i]);
	free(c->groups);
	free(c);
}

const struct group_config *config_group(const struct config *c, const char *id)
{
	for (size_t i = 0; i < c->n_groups; i++)
		if (str_eq(c->groups[i].id, id))
			return &c->groups[i];
	return NULL;
}

/* ---- printing ---------------------------------------------------------- */

static void kv_str(struct buf *b, const char *k, const char *v, bool *first)
{
	buf_printf(b, "%s\"%s\":", *first ? "" : ",", k);
	*first = false;
	if (v)
		buf_add_json_string(b, v);
	else
		buf_addstr(b, "null");
}

static void kv_raw(struct buf *b, const char *k, const char *raw, bool *first)
{
	buf_printf(b, "%s\"%s\":%s", *first ? "" : ",", k, raw);
	*first = false;
}

static void kv_dur(struct buf *b, const char *k, int64_t ms, bool *first)
{
	char d[48];
	duration_format(ms, d);
	kv_str(b, k, d, first);
}

static void kv_int(struct buf *b, const char *k, long long v, bool *first)
{
	char t[32];
	snprintf(t, sizeof t, "%lld", v);
	kv_raw(b, k, t, first);
}

static void kv_redacted_url(struct buf *b, const char *k, const char *url, bool *first)
{
	char *r = url ? log_redact_url(url) : NULL;
	kv_str(b, k, r, first);
	free(r);
}

void config_print_json(const struct config *c, struct buf *out)
{
	bool f = true, f2, f3;
	buf_addch(out, '{');
	kv_int(out, "version", c->version, &f);
	buf_addstr(out, ",\"service\":{");
	f2 = true;
	kv_str(out, "name", c->service_name, &f2);
	buf_addstr(out, "},\"state\":{");
	f2 = true;
	kv_str(out, "path", c->state_path, &f2);
	buf_addstr(out, "},\"telemetry\":{\"logging\":{");
	f2 = true;
	kv_str(out, "level", c->log_level, &f2);
	kv_str(out, "format", c->log_format, &f2);
	buf_addstr(out, "},\"metrics\":{");
	f2 = true;
	kv_str(out, "textfile", c->metrics_textfile, &f2);
	buf_addstr(out, "}},\"heartbeat\":{");
	f2 = true;
	kv_raw(out, "enabled", c->heartbeat_enabled ? "true" : "false", &f2);
	kv_redacted_url(out, "url", c->heartbeat_url, &f2);
	kv_dur(out, "interval", c->heartbeat_interval_ms, &f2);
	kv_dur(out, "timeout", c->heartbeat_timeout_ms, &f2);
	buf_addstr(out, "},\"notifications\":{");
	f2 = true;
	kv_raw(out, "enabled", c->notifications_enabled ? "true" : "false", &f2);
	buf_addstr(out, ",\"targets\":[");
	for (size_t i = 0; i < c->n_targets; i++) {
		const struct notify_target *t = &c->targets[i];
		f3 = true;
		buf_addstr(out, i ? ",{" : "{");
		kv_str(out, "type", t->type == NOTIFY_SLACK ? "slack" : "mattermost", &f3);
		kv_redacted_url(out, "url", t->url, &f3);
		kv_str(out, "channel", t->channel, &f3);
		kv_str(out, "username", t->username, &f3);
		kv_str(out, "icon_url", t->icon_url, &f3);
		kv_str(out, "icon_emoji", t->icon_emoji, &f3);
		buf_addch(out, '}');
	}
	buf_addstr(out, "]},\"groups\":[");
	for (size_t i = 0; i < c->n_groups; i++) {
		const struct group_config *g = &c->groups[i];
		f2 = true;
		buf_addstr(out, i ? ",{" : "{");
		kv_str(out, "id", g->id, &f2);
		kv_str(out, "display_name", g->display_name, &f2);
		kv_raw(out, "readonly", g->readonly ? "true" : "false", &f2);
		kv_str(out, "provider", g->provider, &f2);
		if (g->poll_always)
			kv_str(out, "poll_interval", "always", &f2);
		else
			kv_dur(out, "poll_interval", g->poll_interval_ms, &f2);
		kv_dur(out, "poll_timeout", g->poll_timeout_ms, &f2);
		kv_dur(out, "plan_apply_timeout", g->plan_apply_timeout_ms, &f2);
		kv_raw(out, "plan_apply_with_unknown_status",
		       g->plan_apply_with_unknown_status ? "true" : "false", &f2);
		if (g->max_actions_per_round)
			kv_int(out, "max_actions_per_round", g->max_actions_per_round, &f2);
		else
			kv_raw(out, "max_actions_per_round", "null", &f2);
		buf_addstr(out, ",\"hetzner\":{");
		f3 = true;
		kv_str(out, "api_token", g->api_token ? "(set)" : NULL, &f3);
		kv_str(out, "token_source", g->token_source, &f3);
		kv_str(out, "api_token_file", g->api_token_file, &f3);
		kv_str(out, "project_id", g->project_id, &f3);
		kv_str(out, "endpoint", g->endpoint, &f3);
		buf_addstr(out, ",\"servers\":{");
		bool f4 = true;
		kv_str(out, "label_selector", g->server_selector, &f4);
		buf_addstr(out, "},\"floating_ips\":{");
		f4 = true;
		kv_str(out, "label_selector", g->fip_selector, &f4);
		buf_addstr(out, "}},\"checks\":[");
		for (size_t j = 0; j < g->n_checks; j++) {
			const struct check_config *k = &g->checks[j];
			f3 = true;
			buf_addstr(out, j ? ",{" : "{");
			kv_str(out, "id", k->id, &f3);
			kv_str(out, "display_name", k->display_name, &f3);
			kv_str(out, "type", k->type == CHECK_HTTPS ? "https" : "http", &f3);
			kv_dur(out, "interval", k->interval_ms, &f3);
			kv_dur(out, "timeout", k->timeout_ms, &f3);
			kv_int(out, "fall", k->fall, &f3);
			kv_int(out, "rise", k->rise, &f3);
			kv_str(out, "method", k->method, &f3);
			kv_str(out, "host", k->host, &f3);
			kv_int(out, "port", k->port, &f3);
			kv_str(out, "path", k->path, &f3);
			kv_str(out, "ip_version", k->ip_version == IPV_4 ? "ipv4" :
			       k->ip_version == IPV_6 ? "ipv6" : "both", &f3);
			kv_str(out, "expect_status", k->expect_text, &f3);
			kv_str(out, "ca_file", k->ca_file, &f3);
			buf_addstr(out, ",\"headers\":{");
			for (size_t h = 0; h < k->n_headers; h++) {
				if (h)
					buf_addch(out, ',');
				buf_add_json_string(out, k->headers[h].name);
				buf_addch(out, ':');
				buf_add_json_string(out, k->headers[h].value);
			}
			buf_addstr(out, "}}");
		}
		buf_addstr(out, "]}");
	}
	buf_addstr(out, "]}");
}
