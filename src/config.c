/*
 * config.c — map a document tree onto struct config (SPEC section 2).
 *
 * The tree comes from whichever reader the file's extension names, so
 * YAML, TOML and JSON share one set of rules. What the keys are lives in
 * the key table (config_keys.c); this file walks a tree against it:
 * every row is read with its type's rules and bounds, every default is
 * filled in, keys no row names are warnings (as they were in the original
 * flipper), duplicate keys are errors, and every problem is collected
 * with file:line:col and the key path. The same rows drive printing,
 * releasing and the list of keys.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_keys.h"
#include "json.h"
#include "log.h"

#define CONFIG_MAX_BYTES (4u << 20)

/* ---- the walk: key path and diagnostics ----------------------------------- */

static size_t path_push_key(struct cfg_walk *w, const char *key)
{
	size_t old = w->path.len;
	if (w->path.len)
		buf_addch(&w->path, '.');
	buf_addstr(&w->path, key);
	return old;
}

static size_t path_push_index(struct cfg_walk *w, size_t i)
{
	size_t old = w->path.len;
	buf_printf(&w->path, "[%zu]", i);
	return old;
}

static void report(struct cfg_walk *w, enum diag_severity sev, const char *key,
		   const struct node *at, const char *fmt, va_list ap) PRINTF_LIKE(5, 0);

static void report(struct cfg_walk *w, enum diag_severity sev, const char *key,
		   const struct node *at, const char *fmt, va_list ap)
{
	size_t old = key ? path_push_key(w, key) : w->path.len;
	char *msg = xvasprintf(fmt, ap);
	diag_add(w->d, sev, at ? at->line : 0, at ? at->col : 0, w->path.data, "%s", msg);
	free(msg);
	buf_truncate(&w->path, old);
}

void cfg_error(struct cfg_walk *w, const char *key, const struct node *at, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(w, DIAG_ERROR, key, at, fmt, ap);
	va_end(ap);
}

void cfg_warning(struct cfg_walk *w, const char *key, const struct node *at, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(w, DIAG_WARNING, key, at, fmt, ap);
	va_end(ap);
}

static const char *describe(const struct node *n)
{
	return node_type_name(n->type);
}

static bool absent(const struct node *n)
{
	return !n || n->type == NODE_NULL;
}

/* ---- which entry is which row ------------------------------------------------ */

/* A key with a NUL inside only looks like a known one. */
static bool key_is(const struct node *e, const char *name)
{
	return strcmp(e->key, name) == 0 && (!e->key_len || e->key_len == strlen(name));
}

static bool row_matches(const struct key_row *r, const struct node *e)
{
	if (r->type == KEY_DERIVED)
		return false;
	if (key_is(e, r->name))
		return true;
	for (const char *const *a = r->aliases; a && *a; a++)
		if (key_is(e, *a))
			return true;
	return false;
}

static const struct key_row *row_of(const struct key_section *s, const struct node *e)
{
	for (size_t i = 0; i < s->n_rows; i++)
		if (row_matches(&s->rows[i], e))
			return &s->rows[i];
	return NULL;
}

static const struct node *find_entry(const struct node *map, const struct key_row *r)
{
	if (!map || map->type != NODE_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (row_matches(r, map->items[i]))
			return map->items[i];
	return NULL;
}

static const struct key_row *row_named(const struct key_section *s, const char *name)
{
	for (size_t i = 0; i < s->n_rows; i++)
		if (strcmp(s->rows[i].name, name) == 0)
			return &s->rows[i];
	return NULL;
}

const struct node *cfg_get(const struct key_section *s, const struct node *map,
			   const char *key)
{
	const struct key_row *r = row_named(s, key);
	return r ? find_entry(map, r) : node_get(map, key);
}

bool cfg_has(const struct key_section *s, const struct node *map, const char *key)
{
	return !absent(cfg_get(s, map, key));
}

/*
 * One entry with what it is: the row it fills, or for an unknown key its
 * own spelling. Two entries with the same identity are duplicates, under
 * whichever spelling each was written.
 */
struct entry_id {
	const struct node *e;
	const char *name;
	size_t len;
};

static int cmp_entry_id(const void *a, const void *b)
{
	const struct entry_id *x = a, *y = b;
	int c = memcmp(x->name, y->name, x->len < y->len ? x->len : y->len);
	if (c)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	if (x->e->key_line != y->e->key_line)
		return x->e->key_line < y->e->key_line ? -1 : 1;
	return (x->e->key_col > y->e->key_col) - (x->e->key_col < y->e->key_col);
}

/*
 * Unknown keys warn; duplicates are errors (the YAML and JSON readers let
 * them through). Sorting keeps this O(n log n) on hostile input.
 */
static void check_keys(struct cfg_walk *w, const struct node *map, const struct key_section *s)
{
	if (!map || map->type != NODE_MAP)
		return;
	struct entry_id *ids = xcalloc(map->n, sizeof *ids);
	for (size_t i = 0; i < map->n; i++) {
		const struct node *e = map->items[i];
		const struct key_row *r = row_of(s, e);
		ids[i].e = e;
		ids[i].name = r ? r->name : e->key;
		ids[i].len = r ? strlen(r->name) : e->key_len ? e->key_len : strlen(e->key);
		if (!r) {
			struct node at = { .line = e->key_line, .col = e->key_col };
			cfg_warning(w, e->key, &at, "unknown key (ignored)");
		}
	}
	qsort(ids, map->n, sizeof *ids, cmp_entry_id);
	for (size_t i = 1; i < map->n; i++) {
		if (ids[i].len == ids[i - 1].len && memcmp(ids[i].name, ids[i - 1].name, ids[i].len) == 0) {
			struct node at = { .line = ids[i].e->key_line, .col = ids[i].e->key_col };
			cfg_error(w, ids[i].e->key, &at, "duplicate key (first at line %d)",
				  ids[i - 1].e->key_line);
		}
	}
	free(ids);
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

/* ---- values ------------------------------------------------------------------- */

static bool env_name_char(char c, bool first)
{
	return c == '_' || isalpha((unsigned char)c) || (!first && isdigit((unsigned char)c));
}

/*
 * Expand ${NAME} from the environment. An unset variable is an error
 * (returns NULL); a lone '$' is kept as it is.
 */
static char *expand_env(struct cfg_walk *w, const struct node *n, const char *s)
{
	struct buf b = BUF_INIT;
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
					cfg_error(w, NULL, n, "environment variable %s is not set", name);
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
 * (the original's decoder allowed that); JSON and TOML numbers do not,
 * except where the row takes a number as its text. 1 set (*out owned),
 * 0 absent or null, -1 reported.
 */
static int read_string(struct cfg_walk *w, const struct node *n, unsigned flags, char **out)
{
	*out = NULL;
	if (absent(n))
		return 0;
	if ((flags & KF_NUMBER_TEXT) && n->type == NODE_INT) {
		*out = xasprintf("%lld", (long long)n->v.i);
		return 1;
	}
	if (!(n->type == NODE_STRING || (n->plain && n->type != NODE_MAP && n->type != NODE_SEQ))) {
		cfg_error(w, NULL, n, "expected a string, got a %s", describe(n));
		return -1;
	}
	if (strlen(n->text) != n->text_len) {
		cfg_error(w, NULL, n, "string contains a NUL character");
		return -1;
	}
	*out = expand_env(w, n, n->text);
	return *out ? 1 : -1;
}

static int read_bool(struct cfg_walk *w, const struct node *n, bool *out)
{
	if (n->type == NODE_BOOL) {
		*out = n->v.b;
	} else if (n->plain && n->type == NODE_STRING &&
		   (!strcasecmp(n->text, "yes") || !strcasecmp(n->text, "on"))) {
		*out = true;   /* YAML 1.1 spellings, as Go's yaml accepted */
	} else if (n->plain && n->type == NODE_STRING &&
		   (!strcasecmp(n->text, "no") || !strcasecmp(n->text, "off"))) {
		*out = false;
	} else {
		cfg_error(w, NULL, n, "expected true or false, got a %s", describe(n));
		return -1;
	}
	return 1;
}

static int read_int(struct cfg_walk *w, const struct node *n, const struct key_row *r, int *out)
{
	if (n->type != NODE_INT) {
		cfg_error(w, NULL, n, "expected an integer, got a %s", describe(n));
		return -1;
	}
	if (n->v.i < r->min || n->v.i > r->max) {
		cfg_error(w, NULL, n, "must be between %lld and %lld (got %lld)",
			  (long long)r->min, (long long)r->max, (long long)n->v.i);
		return -1;
	}
	*out = (int)n->v.i;
	return 1;
}

/* A Go duration string, or the integer 0, of at least r->min ms. */
static int read_duration(struct cfg_walk *w, const struct node *n, const struct key_row *r,
			 int64_t *out)
{
	int64_t ms = 0;
	const char *why = NULL;
	if (n->type == NODE_INT) {
		if (n->v.i != 0) {
			cfg_error(w, NULL, n, "invalid duration \"%s\": a number needs a unit, e.g. \"%llds\"",
				  n->text ? n->text : "?", (long long)n->v.i);
			return -1;
		}
	} else if (n->type == NODE_STRING || n->plain) {
		char *text = expand_env(w, n, n->text);
		if (!text)
			return -1;
		int rc = duration_parse(text, &ms, &why);
		if (rc < 0)
			cfg_error(w, NULL, n, "invalid duration \"%s\": %s", text, why);
		free(text);
		if (rc < 0)
			return -1;
	} else {
		cfg_error(w, NULL, n, "expected a duration such as \"30s\", got a %s", describe(n));
		return -1;
	}
	if (ms < r->min) {
		char lim[48];
		duration_format(r->min, lim);
		cfg_error(w, NULL, n, "must be at least %s", lim);
		return -1;
	}
	*out = ms;
	return 1;
}

/* One of r->names; its index. */
static int read_enum(struct cfg_walk *w, const struct node *n, const struct key_row *r, int *out)
{
	char *s;
	int rc = read_string(w, n, 0, &s);
	if (rc != 1)
		return rc;
	for (int i = 0; r->names[i]; i++) {
		if (strcmp(r->names[i], s) == 0) {
			*out = i;
			free(s);
			return 1;
		}
	}
	struct buf list = BUF_INIT;
	for (int i = 0; r->names[i]; i++)
		buf_printf(&list, "%s%s", i ? ", " : "", r->names[i]);
	cfg_error(w, NULL, n, "unknown value \"%s\" (want %s)", s, list.data);
	buf_release(&list);
	free(s);
	return -1;
}

/* expect_status: a string ("200-299,304"), a number, or a list of both. */
static void read_statuses(struct cfg_walk *w, const struct node *n, struct status_set *out)
{
	struct buf text = BUF_INIT;
	if (n && n->type == NODE_SEQ) {
		for (size_t i = 0; i < n->n; i++) {
			const struct node *e = n->items[i];
			if (e->type == NODE_INT || e->type == NODE_STRING) {
				buf_printf(&text, "%s%s", text.len ? "," : "", e->text);
			} else {
				size_t old = path_push_index(w, i);
				cfg_error(w, NULL, e, "expected a status or range, got a %s", describe(e));
				buf_truncate(&w->path, old);
			}
		}
	} else if (n && (n->type == NODE_INT || n->type == NODE_STRING)) {
		buf_addstr(&text, n->text);
	} else if (!absent(n)) {
		cfg_error(w, NULL, n, "expected statuses such as \"200-299\", got a %s", describe(n));
	}
	if (!text.len)
		buf_addstr(&text, "200-299");
	const char *why;
	if (status_ranges_parse(text.data, &out->ranges, &out->n, &why) < 0)
		cfg_error(w, NULL, n, "invalid \"%s\": %s", text.data, why);
	out->text = buf_detach(&text);
}

/* A mapping, or NULL for absent/null; other types are an error. */
static const struct node *want_map(struct cfg_walk *w, const struct node *n)
{
	if (absent(n))
		return NULL;
	if (n->type != NODE_MAP) {
		cfg_error(w, NULL, n, "expected a mapping, got a %s", describe(n));
		return NULL;
	}
	return n;
}

/* Names to strings (headers): every entry a string, checked by the row. */
static void read_map(struct cfg_walk *w, const struct node *n, const struct key_row *r, void *obj)
{
	const struct node *m = want_map(w, n);
	if (!m)
		return;
	struct header *v = xcalloc(m->n, sizeof *v);
	size_t *count = (size_t *)((char *)obj + r->count_field);
	*(struct header **)((char *)obj + r->field) = v;
	for (size_t i = 0; i < m->n; i++) {
		const struct node *e = m->items[i];
		char *value;
		size_t old = path_push_key(w, e->key);
		if (read_string(w, e, 0, &value) == 1) {
			v[*count] = (struct header){ xstrdup(e->key), value };
			if (r->check)
				r->check(w, e, &v[*count]);
			(*count)++;
		}
		buf_truncate(&w->path, old);
	}
}

/* ---- sections ------------------------------------------------------------------ */

static void *field_of(void *obj, const struct key_row *r)
{
	return (char *)obj + r->field;
}

/* A list's array, whatever its element type: through memcpy, not a cast. */
static void *list_get(const void *field)
{
	void *p;
	memcpy(&p, field, sizeof p);
	return p;
}

static void list_set(void *field, void *p)
{
	memcpy(field, &p, sizeof p);
}

static void set_defaults(const struct key_section *s, void *obj)
{
	for (size_t i = 0; i < s->n_rows; i++) {
		const struct key_row *r = &s->rows[i];
		if (r->field == KEY_NO_FIELD)
			continue;
		void *f = field_of(obj, r);
		switch (r->type) {
		case KEY_STRING:
			if (r->def_str)
				*(char **)f = xstrdup(r->def_str);
			break;
		case KEY_BOOL:
			*(bool *)f = r->def_num != 0;
			break;
		case KEY_INT:
			*(int *)f = (int)r->def_num;
			break;
		case KEY_DURATION:
			*(int64_t *)f = r->def_num;
			break;
		case KEY_ENUM:
			if (r->flags & KF_ENUM_TEXT)
				*(char **)f = xstrdup(r->names[r->def_num]);
			else
				*(int *)f = (int)r->def_num;
			break;
		default:
			break;
		}
	}
}

static void read_section(struct cfg_walk *w, const struct key_section *s,
			 const struct node *map, const struct node *where, void *obj);

static void read_list(struct cfg_walk *w, const struct key_row *r, const struct node *n,
		      const struct node *where, void *obj)
{
	const struct key_section *s = r->section;
	if (!absent(n) && n->type != NODE_SEQ)
		cfg_error(w, NULL, n, "expected a list, got a %s", describe(n));
	if (absent(n) || n->type != NODE_SEQ || n->n == 0) {
		if (r->required)
			cfg_error(w, NULL, n && n->type == NODE_SEQ ? n : where, "%s", r->required);
		if (absent(n) || n->type != NODE_SEQ)
			return;
	}
	char *elems = xcalloc(n->n, s->size);
	size_t *count = (size_t *)((char *)obj + r->count_field);
	const struct key_row *unique = s->unique ? row_named(s, s->unique) : NULL;
	struct idset ids = { NULL, 0, 0 };
	list_set(field_of(obj, r), elems);
	for (size_t i = 0; i < n->n; i++) {
		size_t old = path_push_index(w, i);
		const struct node *m = want_map(w, n->items[i]);
		if (m) {
			void *elem = elems + (*count)++ * s->size;
			read_section(w, s, m, m, elem);
			const char *id = unique ? *(char **)field_of(elem, unique) : NULL;
			if (id && !idset_add(&ids, id))
				cfg_error(w, unique->name, find_entry(m, unique), "duplicate %s \"%s\"%s",
					  s->unique_what, id, s->unique_scope ? s->unique_scope : "");
		}
		buf_truncate(&w->path, old);
	}
	free(ids.slot);
}

static void read_row(struct cfg_walk *w, const struct key_row *r, const struct node *map,
		     const struct node *where, void *obj)
{
	const struct node *n = find_entry(map, r);
	void *f = r->field == KEY_NO_FIELD ? NULL : field_of(obj, r);
	int rc = 0;

	switch (r->type) {
	case KEY_SECTION: {
		const struct node *m = want_map(w, n);
		if (!m && r->required) {
			cfg_error(w, NULL, where, "%s", r->required);
			return;
		}
		read_section(w, r->section, m, m ? m : where, obj);
		return;
	}
	case KEY_LIST:
		read_list(w, r, n, where, obj);
		return;
	case KEY_MAP:
		read_map(w, n, r, obj);
		return;
	case KEY_STATUSES:
		read_statuses(w, n, f);
		return;
	case KEY_ANY:
	case KEY_DERIVED:
		return;
	default:
		break;
	}
	if (absent(n)) {
		if (r->required)
			cfg_error(w, NULL, where, "%s", r->required);
		return;
	}
	switch (r->type) {
	case KEY_STRING: {
		char *s;
		rc = read_string(w, n, r->flags, &s);
		if (rc != 1)
			return;
		if ((r->flags & KF_EMPTY_UNSET) && !*s) {
			free(s);
			s = NULL;
		} else if ((r->flags & KF_NONEMPTY) && !*s) {
			cfg_error(w, NULL, n, "must not be empty");
			rc = -1;
		}
		if (!f) {
			free(s);
			return;
		}
		free(*(char **)f);
		*(char **)f = s;
		break;
	}
	case KEY_BOOL: {
		bool v;
		if ((rc = read_bool(w, n, &v)) == 1 && f)
			*(bool *)f = v;
		break;
	}
	case KEY_INT: {
		int v;
		if ((rc = read_int(w, n, r, &v)) == 1 && f)
			*(int *)f = v;
		break;
	}
	case KEY_DURATION: {
		int64_t v;
		if ((rc = read_duration(w, n, r, &v)) == 1 && f)
			*(int64_t *)f = v;
		break;
	}
	case KEY_ENUM: {
		int v;
		if ((rc = read_enum(w, n, r, &v)) != 1 || !f)
			break;
		if (r->flags & KF_ENUM_TEXT) {
			free(*(char **)f);
			*(char **)f = xstrdup(r->names[v]);
		} else {
			*(int *)f = v;
		}
		break;
	}
	default:
		break;
	}
	if (rc == 1 && r->check && f && !(r->type == KEY_STRING && !*(char **)f))
		r->check(w, n, f);
}

/* Read map (NULL: the section is absent) into obj against s's rows. */
static void read_section(struct cfg_walk *w, const struct key_section *s,
			 const struct node *map, const struct node *where, void *obj)
{
	set_defaults(s, obj);
	check_keys(w, map, s);
	for (size_t i = 0; i < s->n_rows; i++) {
		size_t old = path_push_key(w, s->rows[i].name);
		read_row(w, &s->rows[i], map, where, obj);
		buf_truncate(&w->path, old);
	}
	if (s->finish)
		s->finish(w, map, where, obj);
}

static void release_section(const struct key_section *s, void *obj)
{
	for (size_t i = 0; i < s->n_rows; i++) {
		const struct key_row *r = &s->rows[i];
		if (r->field == KEY_NO_FIELD)
			continue;
		void *f = field_of(obj, r);
		switch (r->type) {
		case KEY_SECTION:
			release_section(r->section, obj);
			break;
		case KEY_LIST: {
			char *elems = list_get(f);
			size_t n = *(size_t *)((char *)obj + r->count_field);
			for (size_t k = 0; k < n; k++)
				release_section(r->section, elems + k * r->section->size);
			free(elems);
			break;
		}
		case KEY_MAP: {
			struct header *v = *(struct header **)f;
			size_t n = *(size_t *)((char *)obj + r->count_field);
			for (size_t k = 0; k < n; k++) {
				free(v[k].name);
				free(v[k].value);
			}
			free(v);
			break;
		}
		case KEY_STATUSES:
			free(((struct status_set *)f)->ranges);
			free(((struct status_set *)f)->text);
			break;
		case KEY_ENUM:
			if (r->flags & KF_ENUM_TEXT)
				free(*(char **)f);
			break;
		case KEY_STRING:
		case KEY_DERIVED: {
			char *v = *(char **)f;
			/* Do not leave a secret lying in freed memory. */
			if (v && (r->flags & KF_SECRET))
				explicit_bzero(v, strlen(v));
			free(v);
			break;
		}
		default:
			break;
		}
	}
}

/* ---- expect_status ---------------------------------------------------------- */

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
	for (size_t i = 0; i < c->expect.n; i++)
		if (status >= c->expect.ranges[i].lo && status <= c->expect.ranges[i].hi)
			return true;
	return false;
}

/* ---- public ------------------------------------------------------------------- */

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

	if (reader(text, len, &root, d) < 0 || !root) {
		node_free(root);
		return NULL;
	}
	struct config *c = xcalloc(1, sizeof *c);
	c->path = xstrdup(path ? path : "");
	struct cfg_walk w = { .d = d, .path = BUF_INIT, .file = c->path };
	if (root->type != NODE_MAP)
		cfg_error(&w, NULL, root, "the configuration must be a mapping at the top level, "
			  "got a %s", describe(root));
	else
		read_section(&w, &config_root, root, root, c);
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
		struct cfg_walk w = { .d = d, .path = BUF_INIT, .file = path };
		const struct node *st = cfg_get(&config_root, root, "state");
		path_push_key(&w, "state.path");
		int got = st && st->type == NODE_MAP ? read_string(&w, node_get(st, "path"), 0, out) : 0;
		buf_release(&w.path);
		rc = got == 1 ? 0 : got == 0 ? 1 : -1;
	}
	node_free(root);
	free(text);
	return rc;
}

void config_free(struct config *c)
{
	if (!c)
		return;
	release_section(&config_root, c);
	free(c->path);
	free(c);
}

const struct group_config *config_group(const struct config *c, const char *id)
{
	for (size_t i = 0; i < c->n_groups; i++)
		if (str_eq(c->groups[i].id, id))
			return &c->groups[i];
	return NULL;
}

int config_peek_groups(const char *path, char ***ids, size_t *n, struct diags *d)
{
	config_reader_fn reader = config_reader_for(path);
	struct node *root = NULL;
	char *text;
	size_t len;
	int rc = -1;

	*ids = NULL;
	*n = 0;
	if (!reader) {
		diag_add(d, DIAG_ERROR, 0, 0, NULL,
			 "unknown configuration format (use .yaml, .yml, .toml or .json)");
		return -1;
	}
	if (read_file(path, CONFIG_MAX_BYTES, &text, &len) < 0) {
		diag_add(d, DIAG_ERROR, 0, 0, NULL, "cannot read: %s", strerror(errno));
		return -1;
	}
	if (reader(text, len, &root, d) == 0) {
		const struct key_row *gr = row_named(&config_root, "groups");
		const struct node *list = root ? find_entry(root, gr) : NULL;
		struct cfg_walk w = { .d = d, .path = BUF_INIT, .file = path };
		for (size_t i = 0; list && list->type == NODE_SEQ && i < list->n; i++) {
			char *id = NULL;
			size_t old = path_push_key(&w, "groups");
			path_push_index(&w, i);
			path_push_key(&w, "id");
			if (read_string(&w, cfg_get(gr->section, list->items[i], "id"), 0, &id) == 1) {
				*ids = xrealloc(*ids, (*n + 1) * sizeof **ids);
				(*ids)[(*n)++] = id;
			}
			buf_truncate(&w.path, old);
		}
		buf_release(&w.path);
		rc = d->errors ? -1 : 0;
	}
	node_free(root);
	free(text);
	return rc;
}

/* ---- printing ------------------------------------------------------------------ */

static const void *cfield(const void *obj, const struct key_row *r)
{
	return (const char *)obj + r->field;
}

static size_t count_of(const void *obj, const struct key_row *r)
{
	return *(const size_t *)((const char *)obj + r->count_field);
}

static void print_section(struct jw *jw, const struct key_section *s, const void *obj)
{
	for (size_t i = 0; i < s->n_rows; i++) {
		const struct key_row *r = &s->rows[i];
		if ((r->flags & KF_NOPRINT) || r->type == KEY_ANY || r->field == KEY_NO_FIELD)
			continue;
		const void *f = cfield(obj, r);
		switch (r->type) {
		case KEY_SECTION:
			jw_object_begin(jw, r->name);
			print_section(jw, r->section, obj);
			jw_end(jw);
			break;
		case KEY_LIST: {
			const char *elems = list_get(f);
			jw_array_begin(jw, r->name);
			for (size_t k = 0; k < count_of(obj, r); k++) {
				jw_object_begin(jw, NULL);
				print_section(jw, r->section, elems + k * r->section->size);
				jw_end(jw);
			}
			jw_end(jw);
			break;
		}
		case KEY_MAP: {
			const struct header *v = *(struct header *const *)f;
			jw_object_begin(jw, r->name);
			for (size_t k = 0; k < count_of(obj, r); k++)
				jw_string(jw, v[k].name, v[k].value);
			jw_end(jw);
			break;
		}
		case KEY_STRING:
		case KEY_DERIVED: {
			const char *v = *(char *const *)f;
			if (v && (r->flags & KF_SECRET)) {
				jw_string(jw, r->name, "(set)");
			} else if (v && (r->flags & KF_REDACT_URL)) {
				char *red = log_redact_url(v);
				jw_string(jw, r->name, red);
				free(red);
			} else {
				jw_string(jw, r->name, v);
			}
			break;
		}
		case KEY_BOOL:
			jw_bool(jw, r->name, *(const bool *)f);
			break;
		case KEY_INT:
			if ((r->flags & KF_NULL_IF_ZERO) && !*(const int *)f)
				jw_null(jw, r->name);
			else
				jw_int(jw, r->name, *(const int *)f);
			break;
		case KEY_DURATION: {
			char d[48];
			duration_format(*(const int64_t *)f, d);
			jw_string(jw, r->name, d);
			break;
		}
		case KEY_ENUM:
			jw_string(jw, r->name, (r->flags & KF_ENUM_TEXT) ? *(char *const *)f :
				  r->names[*(const int *)f]);
			break;
		case KEY_STATUSES:
			jw_string(jw, r->name, ((const struct status_set *)f)->text);
			break;
		case KEY_ANY:
			break;
		}
	}
}

/* A section's rows as JSON, the way config_print_json() prints them. */
static void section_json(const struct key_section *s, const void *obj, struct buf *out)
{
	struct jw jw;
	jw_init(&jw, out, false);
	jw_object_begin(&jw, NULL);
	print_section(&jw, s, obj);
	jw_end(&jw);
}

bool config_check_same(const struct check_config *a, const struct check_config *b)
{
	const struct key_row *groups = row_named(&config_root, "groups");
	const struct key_row *checks = groups ? row_named(groups->section, "checks") : NULL;
	if (!checks || a->n_headers != b->n_headers)
		return false;
	/* Printing may mask header values (they carry credentials). */
	for (size_t i = 0; i < a->n_headers; i++)
		if (!str_eq(a->headers[i].name, b->headers[i].name) ||
		    !str_eq(a->headers[i].value, b->headers[i].value))
			return false;
	/* What people read is no part of what a check does. */
	struct check_config ca = *a, cb = *b;
	ca.display_name = cb.display_name = NULL;
	struct buf x = BUF_INIT, y = BUF_INIT;
	section_json(checks->section, &ca, &x);
	section_json(checks->section, &cb, &y);
	bool same = strcmp(x.data, y.data) == 0;
	buf_release(&x);
	buf_release(&y);
	return same;
}

void config_print_json(const struct config *c, struct buf *out)
{
	struct jw jw;
	jw_init(&jw, out, false);
	jw_object_begin(&jw, NULL);
	print_section(&jw, &config_root, c);
	jw_end(&jw);
}

/* ---- the list of keys ------------------------------------------------------------ */

static void key_type_text(const struct key_row *r, struct buf *b)
{
	char d[48];
	switch (r->type) {
	case KEY_SECTION: buf_addstr(b, "section"); break;
	case KEY_LIST: buf_addstr(b, "list of sections"); break;
	case KEY_MAP: buf_addstr(b, "mapping of strings"); break;
	case KEY_ANY: buf_addstr(b, "anything"); break;
	case KEY_STRING:
		buf_addstr(b, (r->flags & KF_NUMBER_TEXT) ? "string or integer" : "string");
		break;
	case KEY_BOOL: buf_addstr(b, "boolean"); break;
	case KEY_INT:
		buf_addstr(b, "integer");
		if (r->min > INT_MIN || r->max < INT_MAX)
			buf_printf(b, " %lld..%lld", (long long)r->min, (long long)r->max);
		break;
	case KEY_DURATION:
		duration_format(r->min, d);
		buf_printf(b, "duration >= %s", d);
		break;
	case KEY_ENUM:
		for (int i = 0; r->names[i]; i++)
			buf_printf(b, "%s%s", i ? "|" : "", r->names[i]);
		break;
	case KEY_STATUSES: buf_addstr(b, "statuses"); break;
	case KEY_DERIVED: break;
	}
}

static void key_default_text(const struct key_row *r, struct buf *b)
{
	char d[48];
	if (r->required)
		buf_addstr(b, "(required)");
	else if (r->doc_default)
		buf_addstr(b, r->doc_default);
	else if (r->type == KEY_STRING && r->def_str)
		buf_addstr(b, r->def_str);
	else if (r->type == KEY_BOOL)
		buf_addstr(b, r->def_num ? "true" : "false");
	else if (r->type == KEY_INT && !(r->flags & KF_NULL_IF_ZERO))
		buf_printf(b, "%lld", (long long)r->def_num);
	else if (r->type == KEY_DURATION && r->def_num >= r->min) {
		duration_format(r->def_num, d);
		buf_addstr(b, d);
	} else if (r->type == KEY_ENUM)
		buf_addstr(b, r->names[r->def_num]);
	else
		buf_addch(b, '-');
}

static void list_section(const struct key_section *s, const char *prefix, struct buf *out)
{
	for (size_t i = 0; i < s->n_rows; i++) {
		const struct key_row *r = &s->rows[i];
		if (r->type == KEY_DERIVED)
			continue;
		char *path = xasprintf("%s%s%s", prefix, *prefix ? "." : "", r->name);
		buf_printf(out, "%s\t", path);
		key_type_text(r, out);
		buf_addch(out, '\t');
		key_default_text(r, out);
		buf_addch(out, '\t');
		size_t before = out->len;
		static const struct { unsigned flag; const char *word; } notes[] = {
			{ KF_ORIGINAL, "original" }, { KF_UNUSED, "unused" },
			{ KF_SECRET | KF_REDACT_URL, "secret" },
		};
		for (size_t k = 0; k < ARRAY_SIZE(notes); k++)
			if (r->flags & notes[k].flag)
				buf_printf(out, "%s%s", out->len > before ? "," : "", notes[k].word);
		if (out->len == before)
			buf_addch(out, '-');
		buf_printf(out, "\t%s\n", r->help);
		if (r->type == KEY_SECTION || r->type == KEY_LIST) {
			char *sub = xasprintf("%s%s", path, r->type == KEY_LIST ? "[]" : "");
			list_section(r->section, sub, out);
			free(sub);
		}
		free(path);
	}
}

void config_keys_list(struct buf *out)
{
	list_section(&config_root, "", out);
}
