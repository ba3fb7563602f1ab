/* snapshot.c — read and write the planner's input as JSON (SPEC section 6). */
#include "snapshot.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* Ids and indexes are read as doubles: only integers a double holds exactly. */
#define MAX_EXACT 9007199254740991.0   /* 2^53 - 1 */

/* How much of a bad value an error message quotes. */
#define QUOTE_MAX 40

static char *snap_strdup(struct snapshot *s, const char *str)
{
	s->strings = xgrow(s->strings, &s->cap_strings, s->n_strings + 1,
			   sizeof *s->strings);
	return s->strings[s->n_strings++] = xstrdup(str);
}

void snapshot_release(struct snapshot *s)
{
	for (size_t i = 0; i < s->n_strings; i++)
		free(s->strings[i]);
	free(s->strings);
	free(s->servers);
	free(s->fips);
	free(s->group);
	memset(s, 0, sizeof *s);
}

static bool utf8_valid(const unsigned char *p);

/*
 * Text of a value for a message: quoted, cut at QUOTE_MAX bytes (not
 * inside a character), control characters escaped, and bytes that are
 * not UTF-8 shown as \xNN so the terminal sees only clean text.
 */
static char *quote(const char *v)
{
	size_t n = strlen(v), m = n > QUOTE_MAX ? QUOTE_MAX : n;
	while (m < n && m > 0 && ((unsigned char)v[m] & 0xc0) == 0x80)
		m--;
	char *cut = xstrndup(v, m);
	struct buf b;
	buf_init(&b, 0);
	buf_addch(&b, '"');
	if (utf8_valid((const unsigned char *)cut)) {
		log_escape(&b, cut);
	} else {
		for (const unsigned char *p = (const unsigned char *)cut; *p; p++) {
			char one[2] = { (char)*p, '\0' };
			if (*p >= 0x80)
				buf_printf(&b, "\\x%02x", *p);
			else
				log_escape(&b, one);
		}
	}
	buf_addstr(&b, m < n ? "\"..." : "\"");
	free(cut);
	return buf_detach(&b);
}

/* "1.5", "null", "an array": what was found instead of what was wanted. */
static char *describe(const cJSON *v)
{
	if (cJSON_IsNumber(v)) {
		double x = v->valuedouble;
		if (x > -1e17 && x < 1e17 && x == (double)(long long)x)
			return xasprintf("%.0f", x);
		return xasprintf("%.15g", x);
	}
	if (cJSON_IsNull(v))
		return xstrdup("null");
	if (cJSON_IsBool(v))
		return xstrdup(cJSON_IsTrue(v) ? "true" : "false");
	if (cJSON_IsArray(v))
		return xstrdup("an array");
	if (cJSON_IsObject(v))
		return xstrdup("an object");
	return xstrdup("an invalid value");
}

static void diag_got(struct diags *d, const char *path, const char *want,
		     const cJSON *v)
{
	char *got = cJSON_IsString(v) ? quote(v->valuestring) : describe(v);
	diag_add(d, DIAG_ERROR, 0, 0, path, "expected %s, got %s%s", want,
		 cJSON_IsString(v) ? "a string " : "", got);
	free(got);
}

/* An integer a double holds exactly; 0 ok, -1 reported. */
static int read_integer(const cJSON *v, const char *path, struct diags *d,
			int64_t *out)
{
	if (!cJSON_IsNumber(v)) {
		diag_got(d, path, "an integer", v);
		return -1;
	}
	double x = v->valuedouble;
	if (!(x >= -MAX_EXACT && x <= MAX_EXACT)) {
		diag_got(d, path, "an integer of at most 2^53 - 1 in magnitude", v);
		return -1;
	}
	if (x != (double)(int64_t)x) {
		diag_got(d, path, "an integer", v);
		return -1;
	}
	*out = (int64_t)x;
	return 0;
}

static int read_id(const cJSON *v, const char *path, struct diags *d, int64_t *out)
{
	if (read_integer(v, path, d, out) < 0)
		return -1;
	if (*out <= 0) {
		diag_add(d, DIAG_ERROR, 0, 0, path,
			 "expected a positive integer, got %" PRId64, *out);
		return -1;
	}
	return 0;
}

static bool utf8_valid(const unsigned char *p)
{
	while (*p) {
		size_t n;
		unsigned cp;
		if (*p < 0x80) {
			p++;
			continue;
		} else if ((*p & 0xe0) == 0xc0) {
			n = 1;
			cp = *p & 0x1f;
		} else if ((*p & 0xf0) == 0xe0) {
			n = 2;
			cp = *p & 0x0f;
		} else if ((*p & 0xf8) == 0xf0) {
			n = 3;
			cp = *p & 0x07;
		} else {
			return false;
		}
		for (size_t i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		/* Overlong forms, surrogates and beyond U+10FFFF. */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		p += n + 1;
	}
	return true;
}

/* A string (owned by the snapshot); 0 ok, -1 reported. */
static int read_string(struct snapshot *s, const cJSON *v, const char *path,
		       struct diags *d, const char **out)
{
	if (!cJSON_IsString(v)) {
		diag_got(d, path, "a string", v);
		return -1;
	}
	if (!utf8_valid((const unsigned char *)v->valuestring)) {
		diag_add(d, DIAG_ERROR, 0, 0, path, "not valid UTF-8");
		return -1;
	}
	*out = snap_strdup(s, v->valuestring);
	return 0;
}

/* An optional boolean: absent or null is false. */
static int read_bool(const cJSON *v, const char *path, struct diags *d, bool *out)
{
	*out = false;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsBool(v)) {
		diag_got(d, path, "true or false", v);
		return -1;
	}
	*out = cJSON_IsTrue(v);
	return 0;
}

static int read_index(const cJSON *v, const char *path, struct diags *d,
		      bool *has, int64_t *out)
{
	*has = false;
	*out = 0;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsNumber(v)) {
		diag_got(d, path, "an integer or null", v);
		return -1;
	}
	if (read_integer(v, path, d, out) < 0)
		return -1;
	*has = true;
	return 0;
}

/*
 * The members of one object, by name, in one pass: unknown keys are
 * warnings, a repeated key is an error (which value would count?).
 */
struct field {
	const char *key;
	bool required;
};

static void collect_fields(const cJSON *obj, const char *path,
			   const struct field *fields, size_t n_fields,
			   const cJSON **found, struct diags *d)
{
	for (size_t i = 0; i < n_fields; i++)
		found[i] = NULL;
	const cJSON *c;
	cJSON_ArrayForEach(c, obj) {
		size_t i;
		for (i = 0; i < n_fields; i++)
			if (strcmp(c->string, fields[i].key) == 0)
				break;
		char *p = xasprintf("%s%s%s", path, *path ? "." : "", c->string);
		if (i == n_fields) {
			diag_add(d, DIAG_WARNING, 0, 0, p, "unknown key, ignored");
		} else if (found[i]) {
			diag_add(d, DIAG_ERROR, 0, 0, p, "duplicate key");
		} else {
			found[i] = c;
		}
		free(p);
	}
	for (size_t i = 0; i < n_fields; i++) {
		if (fields[i].required && !found[i]) {
			char *p = xasprintf("%s%s%s", path, *path ? "." : "", fields[i].key);
			diag_add(d, DIAG_ERROR, 0, 0, p, "missing (required)");
			free(p);
		}
	}
}

enum { SV_ID, SV_NAME, SV_LOCATION, SV_ZONE, SV_INDEX, SV_STATUS, SV_PROBATION, SV_N };

static const struct field server_fields[SV_N] = {
	[SV_ID] = { "id", true },
	[SV_NAME] = { "name", true },
	[SV_LOCATION] = { "location", true },
	[SV_ZONE] = { "network_zone", true },
	[SV_INDEX] = { "resource_index", false },
	[SV_STATUS] = { "status", true },
	[SV_PROBATION] = { "probation", false },
};

enum { FP_ID, FP_NAME, FP_IP, FP_LOCATION, FP_ZONE, FP_INDEX, FP_SERVER, FP_MISSING, FP_N };

static const struct field fip_fields[FP_N] = {
	[FP_ID] = { "id", true },
	[FP_NAME] = { "name", false },
	[FP_IP] = { "ip", false },
	[FP_LOCATION] = { "location", true },
	[FP_ZONE] = { "network_zone", true },
	[FP_INDEX] = { "resource_index", false },
	[FP_SERVER] = { "server", false },
	[FP_MISSING] = { "server_missing", false },
};

static const char *field_path(char *buf, size_t size, const char *base,
			      const char *key)
{
	snprintf(buf, size, "%s.%s", base, key);
	return buf;
}

static int parse_server(struct snapshot *s, const cJSON *o, const char *base,
			struct diags *d, struct plan_server *out)
{
	const cJSON *f[SV_N];
	char p[96];
	size_t before = d->errors;

	memset(out, 0, sizeof *out);
	if (!cJSON_IsObject(o)) {
		diag_got(d, base, "an object", o);
		return -1;
	}
	collect_fields(o, base, server_fields, SV_N, f, d);
	if (f[SV_ID])
		read_id(f[SV_ID], field_path(p, sizeof p, base, "id"), d, &out->id);
	if (f[SV_NAME])
		read_string(s, f[SV_NAME], field_path(p, sizeof p, base, "name"),
			    d, &out->name);
	if (f[SV_LOCATION])
		read_string(s, f[SV_LOCATION], field_path(p, sizeof p, base, "location"),
			    d, &out->location);
	if (f[SV_ZONE])
		read_string(s, f[SV_ZONE], field_path(p, sizeof p, base, "network_zone"),
			    d, &out->network_zone);
	read_index(f[SV_INDEX], field_path(p, sizeof p, base, "resource_index"),
		   d, &out->has_index, &out->resource_index);
	if (f[SV_STATUS]) {
		const char *st = NULL;
		field_path(p, sizeof p, base, "status");
		if (read_string(s, f[SV_STATUS], p, d, &st) == 0 &&
		    health_parse(st, &out->status) < 0) {
			char *q = quote(st);
			diag_add(d, DIAG_ERROR, 0, 0, p,
				 "unknown status %s (healthy, unhealthy, unknown or uncheckable)", q);
			free(q);
		}
	}
	read_bool(f[SV_PROBATION], field_path(p, sizeof p, base, "probation"), d,
		  &out->probation);
	return d->errors > before ? -1 : 0;
}

static int parse_fip(struct snapshot *s, const cJSON *o, const char *base,
		     struct diags *d, struct plan_fip *out)
{
	const cJSON *f[FP_N];
	char p[96];
	size_t before = d->errors;

	memset(out, 0, sizeof *out);
	if (!cJSON_IsObject(o)) {
		diag_got(d, base, "an object", o);
		return -1;
	}
	collect_fields(o, base, fip_fields, FP_N, f, d);
	if (f[FP_ID])
		read_id(f[FP_ID], field_path(p, sizeof p, base, "id"), d, &out->id);
	if (f[FP_NAME] && !cJSON_IsNull(f[FP_NAME]))
		read_string(s, f[FP_NAME], field_path(p, sizeof p, base, "name"),
			    d, &out->name);
	if (f[FP_IP] && !cJSON_IsNull(f[FP_IP]))
		read_string(s, f[FP_IP], field_path(p, sizeof p, base, "ip"),
			    d, &out->ip);
	if (f[FP_LOCATION])
		read_string(s, f[FP_LOCATION], field_path(p, sizeof p, base, "location"),
			    d, &out->location);
	if (f[FP_ZONE])
		read_string(s, f[FP_ZONE], field_path(p, sizeof p, base, "network_zone"),
			    d, &out->network_zone);
	read_index(f[FP_INDEX], field_path(p, sizeof p, base, "resource_index"),
		   d, &out->has_index, &out->resource_index);
	if (f[FP_SERVER] && !cJSON_IsNull(f[FP_SERVER])) {
		field_path(p, sizeof p, base, "server");
		if (!cJSON_IsNumber(f[FP_SERVER]))
			diag_got(d, p, "a server id or null", f[FP_SERVER]);
		else
			read_id(f[FP_SERVER], p, d, &out->server);
	}
	read_bool(f[FP_MISSING], field_path(p, sizeof p, base, "server_missing"), d,
		  &out->server_missing);
	return d->errors > before ? -1 : 0;
}

struct id_at {
	int64_t id;
	size_t at;
};

static int cmp_id_at(const void *pa, const void *pb)
{
	const struct id_at *a = pa, *b = pb;
	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	return (a->at > b->at) - (a->at < b->at);
}

/*
 * Report repeated ids, in file order, each naming the first holder.
 * ids[i] is 0 where the element was already reported as broken.
 */
static void check_unique(const int64_t *ids, size_t n, const char *what,
			 struct diags *d)
{
	struct id_at *v = xmalloc(n * sizeof *v);
	size_t *first = xmalloc(n * sizeof *first);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		first[i] = SIZE_MAX;
		if (ids[i] > 0)
			v[m++] = (struct id_at){ ids[i], i };
	}
	qsort(v, m, sizeof *v, cmp_id_at);
	for (size_t i = 1, head = 0; i < m; i++) {
		if (v[i].id != v[head].id)
			head = i;
		else
			first[v[i].at] = v[head].at;
	}
	for (size_t i = 0; i < n; i++) {
		if (first[i] == SIZE_MAX)
			continue;
		char *p = xasprintf("%s[%zu]", what, i);
		diag_add(d, DIAG_ERROR, 0, 0, p, "duplicate id %" PRId64 " (also %s[%zu])",
			 ids[i], what, first[i]);
		free(p);
	}
	free(v);
	free(first);
}

static void parse_servers(struct snapshot *s, const cJSON *arr, struct diags *d)
{
	size_t n = (size_t)cJSON_GetArraySize(arr);
	int64_t *ids = xcalloc(n, sizeof *ids);
	char base[48];
	size_t i = 0;
	const cJSON *o;

	s->servers = xcalloc(n, sizeof *s->servers);
	cJSON_ArrayForEach(o, arr) {
		snprintf(base, sizeof base, "servers[%zu]", i);
		parse_server(s, o, base, d, &s->servers[i]);
		ids[i] = s->servers[i].id;
		i++;
	}
	s->n_servers = i;
	check_unique(ids, i, "servers", d);
	free(ids);
}

static void parse_fips(struct snapshot *s, const cJSON *arr, struct diags *d)
{
	size_t n = (size_t)cJSON_GetArraySize(arr);
	int64_t *ids = xcalloc(n, sizeof *ids);
	char base[48];
	size_t i = 0;
	const cJSON *o;

	s->fips = xcalloc(n, sizeof *s->fips);
	cJSON_ArrayForEach(o, arr) {
		snprintf(base, sizeof base, "floating_ips[%zu]", i);
		parse_fip(s, o, base, d, &s->fips[i]);
		ids[i] = s->fips[i].id;
		i++;
	}
	s->n_fips = i;
	check_unique(ids, i, "floating_ips", d);
	free(ids);
}

/* 1-based line and byte column of text[off]. */
static void position(const char *text, size_t off, int *line, int *col)
{
	size_t l = 1, start = 0;
	for (size_t i = 0; i < off; i++) {
		if (text[i] == '\n') {
			l++;
			start = i + 1;
		}
	}
	*line = l > INT_MAX ? INT_MAX : (int)l;
	*col = off - start + 1 > INT_MAX ? INT_MAX : (int)(off - start + 1);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

static void syntax_error(const char *text, size_t len, const char *at,
			 struct diags *d)
{
	size_t off = at && at >= text && at <= text + len ? (size_t)(at - text) : len;
	int line, col;

	/*
	 * Where an object key should start, cJSON points one past the
	 * offending character ({"a":1,} points past the '}'): step back.
	 */
	if (off > 0 && off <= len && !is_space(text[off - 1]) && text[off - 1] != '"') {
		size_t j = off - 1;
		while (j > 0 && is_space(text[j - 1]))
			j--;
		if (j > 0 && (text[j - 1] == '{' || text[j - 1] == ','))
			off--;
	}
	/* Only blanks left: the input ended early; point after its last token. */
	size_t k = off;
	while (k < len && is_space(text[k]))
		k++;
	bool at_end = k == len;
	if (at_end) {
		off = len;
		while (off > 0 && is_space(text[off - 1]))
			off--;
	}
	position(text, off, &line, &col);
	if (at_end) {
		diag_add(d, DIAG_ERROR, line, col, NULL,
			 "invalid JSON: unexpected end of input");
	} else {
		unsigned char c = (unsigned char)text[off];
		if (c > 0x20 && c < 0x7f)
			diag_add(d, DIAG_ERROR, line, col, NULL,
				 "invalid JSON: unexpected '%c'", c);
		else
			diag_add(d, DIAG_ERROR, line, col, NULL,
				 "invalid JSON: unexpected byte 0x%02x", c);
	}
}

enum { TOP_GROUP, TOP_NONE_HEALTHY, TOP_REBALANCE, TOP_SERVERS, TOP_FIPS, TOP_N };

static const struct field top_fields[TOP_N] = {
	[TOP_GROUP] = { "group", false },
	[TOP_NONE_HEALTHY] = { "when_none_healthy", false },
	[TOP_REBALANCE] = { "rebalance", false },
	[TOP_SERVERS] = { "servers", true },
	[TOP_FIPS] = { "floating_ips", true },
};

int snapshot_parse(const char *text, size_t len, struct snapshot *s,
		   struct diags *d)
{
	size_t before = d->errors;
	const char *nul = memchr(text, '\0', len);
	const char *end = NULL;
	cJSON *root;

	memset(s, 0, sizeof *s);
	if (nul) {
		int line, col;
		position(text, (size_t)(nul - text), &line, &col);
		diag_add(d, DIAG_ERROR, line, col, NULL, "invalid JSON: NUL byte");
		return -1;
	}
	/*
	 * The length includes the terminating NUL: with require_null_terminated
	 * cJSON wants to see it, and so refuses trailing garbage.
	 */
	root = cJSON_ParseWithLengthOpts(text, len + 1, &end, 1);
	if (!root) {
		syntax_error(text, len, end, d);
		return -1;
	}
	if (!cJSON_IsObject(root)) {
		diag_got(d, NULL, "an object with \"servers\" and \"floating_ips\"", root);
		cJSON_Delete(root);
		return -1;
	}

	const cJSON *f[TOP_N];
	collect_fields(root, "", top_fields, TOP_N, f, d);
	if (f[TOP_GROUP] && !cJSON_IsNull(f[TOP_GROUP])) {
		const char *g;
		if (read_string(s, f[TOP_GROUP], "group", d, &g) == 0)
			s->group = xstrdup(g);
	}
	if (f[TOP_NONE_HEALTHY] && !cJSON_IsNull(f[TOP_NONE_HEALTHY])) {
		const char *w;
		if (read_string(s, f[TOP_NONE_HEALTHY], "when_none_healthy", d, &w) == 0 &&
		    plan_none_healthy_parse(w, &s->opts.when_none_healthy) < 0) {
			char *q = quote(w);
			diag_add(d, DIAG_ERROR, 0, 0, "when_none_healthy",
				 "unknown value %s (freeze or spread)", q);
			free(q);
		}
	}
	read_bool(f[TOP_REBALANCE], "rebalance", d, &s->opts.rebalance);
	if (f[TOP_SERVERS]) {
		if (cJSON_IsArray(f[TOP_SERVERS]))
			parse_servers(s, f[TOP_SERVERS], d);
		else
			diag_got(d, "servers", "an array", f[TOP_SERVERS]);
	}
	if (f[TOP_FIPS]) {
		if (cJSON_IsArray(f[TOP_FIPS]))
			parse_fips(s, f[TOP_FIPS], d);
		else
			diag_got(d, "floating_ips", "an array", f[TOP_FIPS]);
	}
	cJSON_Delete(root);
	if (d->errors > before) {
		snapshot_release(s);
		return -1;
	}
	return 0;
}

/* Standard input, with the same cap as a file. */
int snapshot_load(const char *path, struct snapshot *s, struct diags *d)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	memset(s, 0, sizeof *s);
	if (strcmp(path, "-") == 0)
		rc = read_fd(STDIN_FILENO, SNAPSHOT_MAX_BYTES, &text, &len);
	else
		rc = read_file(path, SNAPSHOT_MAX_BYTES, &text, &len);
	if (rc < 0) {
		if (errno == EFBIG)
			diag_add(d, DIAG_ERROR, 0, 0, NULL,
				 "larger than %u MB, refused", SNAPSHOT_MAX_BYTES >> 20);
		else
			diag_add(d, DIAG_ERROR, 0, 0, NULL, "cannot read: %s",
				 strerror(errno));
		return -1;
	}
	rc = snapshot_parse(text, len, s, d);
	free(text);
	return rc;
}

static void write_index(struct buf *out, bool has, int64_t v)
{
	if (has)
		buf_printf(out, ", \"resource_index\": %" PRId64, v);
	else
		buf_addstr(out, ", \"resource_index\": null");
}

static void write_str(struct buf *out, const char *key, const char *v)
{
	buf_printf(out, ", \"%s\": ", key);
	buf_add_json_string(out, v ? v : "");
}

void snapshot_write(const char *group, const struct plan_options *opts,
		    const struct plan_server *servers, size_t n_servers,
		    const struct plan_fip *fips, size_t n_fips, struct buf *out)
{
	buf_addch(out, '{');
	if (group) {
		buf_addstr(out, "\"group\": ");
		buf_add_json_string(out, group);
		buf_addstr(out, ",\n ");
	}
	if (opts)
		buf_printf(out, "\"when_none_healthy\": \"%s\", \"rebalance\": %s,\n ",
			   plan_none_healthy_name(opts->when_none_healthy),
			   opts->rebalance ? "true" : "false");
	buf_addstr(out, "\"servers\": [");
	for (size_t i = 0; i < n_servers; i++) {
		const struct plan_server *v = &servers[i];
		buf_printf(out, "%s\n  {\"id\": %" PRId64, i ? "," : "", v->id);
		write_str(out, "name", v->name);
		write_str(out, "location", v->location);
		write_str(out, "network_zone", v->network_zone);
		write_index(out, v->has_index, v->resource_index);
		write_str(out, "status", health_name(v->status));
		if (v->probation)
			buf_addstr(out, ", \"probation\": true");
		buf_addch(out, '}');
	}
	buf_addstr(out, n_servers ? "\n ],\n " : "],\n ");
	buf_addstr(out, "\"floating_ips\": [");
	for (size_t i = 0; i < n_fips; i++) {
		const struct plan_fip *v = &fips[i];
		buf_printf(out, "%s\n  {\"id\": %" PRId64, i ? "," : "", v->id);
		if (v->name)
			write_str(out, "name", v->name);
		if (v->ip)
			write_str(out, "ip", v->ip);
		write_str(out, "location", v->location);
		write_str(out, "network_zone", v->network_zone);
		write_index(out, v->has_index, v->resource_index);
		if (v->server)
			buf_printf(out, ", \"server\": %" PRId64, v->server);
		else
			buf_addstr(out, ", \"server\": null");
		if (v->server_missing)
			buf_addstr(out, ", \"server_missing\": true");
		buf_addch(out, '}');
	}
	buf_addstr(out, n_fips ? "\n ]}\n" : "]}\n");
}
