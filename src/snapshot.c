/* snapshot.c — read and write the planner's input as JSON (SPEC section 6). */
#include "snapshot.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "log.h"

/* A budget against huge inputs: 100,000 servers and as many IPs fit. */
#define MAX_NODES 2000000

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

/* v cut at QUOTE_MAX bytes, never inside a character; "..." marks a cut. */
static void add_cut(struct buf *b, const char *v, const char *close)
{
	size_t n = strlen(v), m = n > QUOTE_MAX ? QUOTE_MAX : n;
	while (m < n && m > 0 && ((unsigned char)v[m] & 0xc0) == 0x80)
		m--;
	char *cut = xstrndup(v, m);
	log_escape(b, cut);
	buf_addstr(b, close);
	if (m < n)
		buf_addstr(b, "...");
	free(cut);
}

/*
 * A value for a message, as written: strings quoted with control
 * characters escaped (the reader has checked the UTF-8), long values cut.
 */
static char *quote(const char *v)
{
	struct buf b = BUF_INIT;
	buf_addch(&b, '"');
	add_cut(&b, v, "\"");
	return buf_detach(&b);
}

/* "1.5", "null", "an array": what was found instead of what was wanted. */
static char *describe(const struct node *v)
{
	struct buf b = BUF_INIT;
	switch (v->type) {
	case NODE_STRING:
		buf_addstr(&b, "a string \"");
		add_cut(&b, v->text, "\"");
		break;
	case NODE_INT:
	case NODE_FLOAT:
	case NODE_BOOL:
	case NODE_NULL:
		add_cut(&b, v->text, "");
		break;
	case NODE_SEQ:
		buf_addstr(&b, "an array");
		break;
	default:
		buf_addstr(&b, "an object");
		break;
	}
	return buf_detach(&b);
}

static void diag_got(struct diags *d, const char *path, const char *want,
		     const struct node *v)
{
	char *got = describe(v);
	diag_add(d, DIAG_ERROR, 0, 0, path, "expected %s, got %s", want, got);
	free(got);
}

/* An integer the JSON_MAX_EXACT rule allows; 0 ok, -1 reported. */
static int read_integer(const struct node *v, const char *path, struct diags *d,
			int64_t *out)
{
	if (v->type != NODE_INT && v->type != NODE_FLOAT) {
		diag_got(d, path, "an integer", v);
		return -1;
	}
	switch (json_node_int(v, out)) {
	case JSON_INT_OK:
		return 0;
	case JSON_INT_TOO_BIG:
		diag_got(d, path, "an integer of at most 2^53 - 1 in magnitude", v);
		return -1;
	case JSON_INT_FRACTION:
		break;
	}
	diag_got(d, path, "an integer", v);
	return -1;
}

static int read_id(const struct node *v, const char *path, struct diags *d, int64_t *out)
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

/* A string (owned by the snapshot); 0 ok, -1 reported. */
static int read_string(struct snapshot *s, const struct node *v, const char *path,
		       struct diags *d, const char **out)
{
	if (v->type != NODE_STRING) {
		diag_got(d, path, "a string", v);
		return -1;
	}
	if (strlen(v->text) != v->text_len) {
		diag_add(d, DIAG_ERROR, 0, 0, path, "string contains a NUL character");
		return -1;
	}
	*out = snap_strdup(s, v->text);
	return 0;
}

/* An optional boolean: absent or null is false. */
static int read_bool(const struct node *v, const char *path, struct diags *d, bool *out)
{
	*out = false;
	if (!v || v->type == NODE_NULL)
		return 0;
	if (v->type != NODE_BOOL) {
		diag_got(d, path, "true or false", v);
		return -1;
	}
	*out = v->v.b;
	return 0;
}

static int read_index(const struct node *v, const char *path, struct diags *d,
		      bool *has, int64_t *out)
{
	*has = false;
	*out = 0;
	if (!v || v->type == NODE_NULL)
		return 0;
	if (v->type != NODE_INT && v->type != NODE_FLOAT) {
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

static void collect_fields(const struct node *obj, const char *path,
			   const struct field *fields, size_t n_fields,
			   const struct node **found, struct diags *d)
{
	for (size_t i = 0; i < n_fields; i++)
		found[i] = NULL;
	for (size_t k = 0; k < obj->n; k++) {
		const struct node *c = obj->items[k];
		size_t i;
		for (i = 0; i < n_fields; i++)
			if (c->key_len == strlen(fields[i].key) &&
			    memcmp(c->key, fields[i].key, c->key_len) == 0)
				break;
		char *p = xasprintf("%s%s%s", path, *path ? "." : "", c->key);
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

static bool is_null(const struct node *v)
{
	return v && v->type == NODE_NULL;
}

static int parse_server(struct snapshot *s, const struct node *o, const char *base,
			struct diags *d, struct plan_server *out)
{
	const struct node *f[SV_N];
	char p[96];
	size_t before = d->errors;

	memset(out, 0, sizeof *out);
	if (o->type != NODE_MAP) {
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

static int parse_fip(struct snapshot *s, const struct node *o, const char *base,
		     struct diags *d, struct plan_fip *out)
{
	const struct node *f[FP_N];
	char p[96];
	size_t before = d->errors;

	memset(out, 0, sizeof *out);
	if (o->type != NODE_MAP) {
		diag_got(d, base, "an object", o);
		return -1;
	}
	collect_fields(o, base, fip_fields, FP_N, f, d);
	if (f[FP_ID])
		read_id(f[FP_ID], field_path(p, sizeof p, base, "id"), d, &out->id);
	if (f[FP_NAME] && !is_null(f[FP_NAME]))
		read_string(s, f[FP_NAME], field_path(p, sizeof p, base, "name"),
			    d, &out->name);
	if (f[FP_IP] && !is_null(f[FP_IP]))
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
	if (f[FP_SERVER] && !is_null(f[FP_SERVER])) {
		field_path(p, sizeof p, base, "server");
		if (f[FP_SERVER]->type != NODE_INT && f[FP_SERVER]->type != NODE_FLOAT)
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

static void parse_servers(struct snapshot *s, const struct node *arr, struct diags *d)
{
	int64_t *ids = xcalloc(arr->n, sizeof *ids);
	char base[48];

	s->servers = xcalloc(arr->n, sizeof *s->servers);
	for (size_t i = 0; i < arr->n; i++) {
		snprintf(base, sizeof base, "servers[%zu]", i);
		parse_server(s, arr->items[i], base, d, &s->servers[i]);
		ids[i] = s->servers[i].id;
	}
	s->n_servers = arr->n;
	check_unique(ids, arr->n, "servers", d);
	free(ids);
}

static void parse_fips(struct snapshot *s, const struct node *arr, struct diags *d)
{
	int64_t *ids = xcalloc(arr->n, sizeof *ids);
	char base[48];

	s->fips = xcalloc(arr->n, sizeof *s->fips);
	for (size_t i = 0; i < arr->n; i++) {
		snprintf(base, sizeof base, "floating_ips[%zu]", i);
		parse_fip(s, arr->items[i], base, d, &s->fips[i]);
		ids[i] = s->fips[i].id;
	}
	s->n_fips = arr->n;
	check_unique(ids, arr->n, "floating_ips", d);
	free(ids);
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
	struct node *root = NULL;

	memset(s, 0, sizeof *s);
	if (json_parse(text, len, MAX_NODES, &root, d) < 0)
		return -1;
	if (root->type != NODE_MAP) {
		diag_got(d, NULL, "an object with \"servers\" and \"floating_ips\"", root);
		node_free(root);
		return -1;
	}

	const struct node *f[TOP_N];
	collect_fields(root, "", top_fields, TOP_N, f, d);
	if (f[TOP_GROUP] && !is_null(f[TOP_GROUP])) {
		const char *g;
		if (read_string(s, f[TOP_GROUP], "group", d, &g) == 0)
			s->group = xstrdup(g);
	}
	if (f[TOP_NONE_HEALTHY] && !is_null(f[TOP_NONE_HEALTHY])) {
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
		if (f[TOP_SERVERS]->type == NODE_SEQ)
			parse_servers(s, f[TOP_SERVERS], d);
		else
			diag_got(d, "servers", "an array", f[TOP_SERVERS]);
	}
	if (f[TOP_FIPS]) {
		if (f[TOP_FIPS]->type == NODE_SEQ)
			parse_fips(s, f[TOP_FIPS], d);
		else
			diag_got(d, "floating_ips", "an array", f[TOP_FIPS]);
	}
	node_free(root);
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

static void write_index(struct jw *jw, bool has, int64_t v)
{
	if (has)
		jw_int(jw, "resource_index", v);
	else
		jw_null(jw, "resource_index");
}

void snapshot_write(const char *group, const struct plan_options *opts,
		    const struct plan_server *servers, size_t n_servers,
		    const struct plan_fip *fips, size_t n_fips, struct buf *out)
{
	struct jw jw;
	jw_init(&jw, out, true);
	jw_object_begin(&jw, NULL);
	jw_layout(&jw, JW_HANG);
	if (group)
		jw_string(&jw, "group", group);
	if (opts) {
		jw_string(&jw, "when_none_healthy", plan_none_healthy_name(opts->when_none_healthy));
		jw_bool(&jw, "rebalance", opts->rebalance);
	}
	jw_array_begin(&jw, "servers");
	jw_layout(&jw, JW_LINES);
	for (size_t i = 0; i < n_servers; i++) {
		const struct plan_server *v = &servers[i];
		jw_object_begin(&jw, NULL);
		jw_int(&jw, "id", v->id);
		jw_string(&jw, "name", v->name ? v->name : "");
		jw_string(&jw, "location", v->location ? v->location : "");
		jw_string(&jw, "network_zone", v->network_zone ? v->network_zone : "");
		write_index(&jw, v->has_index, v->resource_index);
		jw_string(&jw, "status", health_name(v->status));
		if (v->probation)
			jw_bool(&jw, "probation", true);
		jw_end(&jw);
	}
	jw_end(&jw);
	jw_array_begin(&jw, "floating_ips");
	jw_layout(&jw, JW_LINES);
	for (size_t i = 0; i < n_fips; i++) {
		const struct plan_fip *v = &fips[i];
		jw_object_begin(&jw, NULL);
		jw_int(&jw, "id", v->id);
		if (v->name)
			jw_string(&jw, "name", v->name);
		if (v->ip)
			jw_string(&jw, "ip", v->ip);
		jw_string(&jw, "location", v->location ? v->location : "");
		jw_string(&jw, "network_zone", v->network_zone ? v->network_zone : "");
		write_index(&jw, v->has_index, v->resource_index);
		if (v->server)
			jw_int(&jw, "server", v->server);
		else
			jw_null(&jw, "server");
		if (v->server_missing)
			jw_bool(&jw, "server_missing", true);
		jw_end(&jw);
	}
	jw_end(&jw);
	jw_end(&jw);
	buf_addch(out, '\n');
}
