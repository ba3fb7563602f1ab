/*
 * config.c — map a document tree onto struct config (SPEC section 2).
 *
 * The tree comes from whichever reader the file's extension names, so
 * YAML, TOML and JSON share one set of rules. What the keys are lives in
 * the key table (config_keys.c); this file walks a tree against it:
 * every row is read with its type's rules and bounds, every default is
 * filled in, and every problem is collected with file:line:col and the
 * key path. The same rows drive printing, releasing and the list of keys.
 *
 * Strict where a typo is dangerous, lenient where the original flipper
 * (koanf and mapstructure) was:
 *   - a key no row names is an error, with a "did you mean" from the
 *     rows of its section, the one above or the ones below;
 *   - keys match without regard to case, so two spellings of one key in
 *     a mapping are a duplicate;
 *   - scalars are weakly typed: "443" fills a number, "true" a boolean,
 *     a number a string; durations still want a unit;
 *   - 0 means the default for the original's keys (KF_ZERO_DEFAULT);
 *   - FLIPPER_SECTION__KEY variables override the file.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

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
	/* A value from the environment has no line: name its variable. */
	diag_add(w->d, sev, at ? at->line : 0, at ? at->col : 0, w->path.data, "%s%s%s%s", msg,
		 at && at->env_var ? " (set by $" : "", at && at->env_var ? at->env_var : "",
		 at && at->env_var ? ")" : "");
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

void cfg_advice(struct cfg_walk *w, const char *key, const struct node *at, const char *fmt, ...)
{
	if (w->use != CONFIG_VALIDATE)
		return;
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

/* Keys match without regard to ASCII case; a key with a NUL inside never matches. */
static bool key_is(const char *key, size_t len, const char *name)
{
	return node_key_cmp(key, len, name, strlen(name)) == 0;
}

static bool row_named_as(const struct key_row *r, const char *key, size_t len)
{
	if (r->type == KEY_DERIVED)
		return false;
	if (key_is(key, len, r->name))
		return true;
	for (const char *const *a = r->aliases; a && *a; a++)
		if (key_is(key, len, *a))
			return true;
	return false;
}

static bool row_matches(const struct key_row *r, const struct node *e)
{
	return row_named_as(r, e->key, node_key_len(e));
}

/* The row of s a key names (any case, any alias), or NULL. */
static const struct key_row *row_called(const struct key_section *s, const char *key, size_t len)
{
	for (size_t i = 0; i < s->n_rows; i++)
		if (row_named_as(&s->rows[i], key, len))
			return &s->rows[i];
	return NULL;
}

static const struct key_row *row_of(const struct key_section *s, const struct node *e)
{
	return row_called(s, e->key, node_key_len(e));
}

static size_t entry_index(const struct node *map, const struct key_row *r)
{
	if (!map || map->type != NODE_MAP)
		return SIZE_MAX;
	for (size_t i = 0; i < map->n; i++)
		if (row_matches(r, map->items[i]))
			return i;
	return SIZE_MAX;
}

static const struct node *find_entry(const struct node *map, const struct key_row *r)
{
	size_t i = entry_index(map, r);
	return i == SIZE_MAX ? NULL : map->items[i];
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

/* ---- did you mean ---------------------------------------------------------------- */

/*
 * Optimal string alignment distance (Levenshtein plus swapping two
 * neighbours: "readonyl" is one edit from "readonly"), without regard to
 * case, given up as soon as it must exceed limit (returns limit + 1).
 * Keys are short; longer ones are not compared.
 */
#define HINT_KEY_MAX 64

static size_t edit_distance(const char *a, size_t la, const char *b, size_t lb, size_t limit)
{
	if (la > HINT_KEY_MAX || lb > HINT_KEY_MAX || (la > lb ? la - lb : lb - la) > limit)
		return limit + 1;
	size_t d[HINT_KEY_MAX + 1][HINT_KEY_MAX + 1];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t row_min = SIZE_MAX;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = node_key_cmp(a + i - 1, 1, b + j - 1, 1) != 0;
			size_t v = d[i - 1][j - 1] + cost;
			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && node_key_cmp(a + i - 1, 1, b + j - 2, 1) == 0 &&
			    node_key_cmp(a + i - 2, 1, b + j - 1, 1) == 0 && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
			if (v < row_min)
				row_min = v;
		}
		if (row_min > limit)
			return limit + 1;
	}
	return d[la][lb];
}

/*
 * The row of s closest to key: at most two edits, and fewer than half
 * the key's length, so "ip" is not taken for "id". Ties go to the
 * earlier row.
 */
static const struct key_row *closest_row(const struct key_section *s, const char *key, size_t len)
{
	const struct key_row *best = NULL;
	size_t best_d = 3;
	for (size_t i = 0; i < s->n_rows; i++) {
		const struct key_row *r = &s->rows[i];
		if (r->type == KEY_DERIVED)
			continue;
		size_t dist = edit_distance(key, len, r->name, strlen(r->name), best_d - 1);
		for (const char *const *al = r->aliases; al && *al; al++) {
			size_t da = edit_distance(key, len, *al, strlen(*al), best_d - 1);
			if (da < dist)
				dist = da;
		}
		if (dist < best_d && 2 * dist < len) {
			best = r;
			best_d = dist;
		}
	}
	return best;
}

/*
 * What an unknown key of section s was probably meant to be, appended
 * to out as "; did you mean ...?": a close spelling here; the same key
 * one level up, as when a key is indented one level too deep (`checks:`
 * under `hetzner:`); or one level down (`level:` for
 * `logging.level`). Nothing when no row is near.
 */
static void unknown_key_hint(const struct cfg_walk *w, const struct key_section *s,
			     const struct node *e, struct buf *out)
{
	const char *key = e->key;
	size_t len = node_key_len(e);
	const struct key_row *r = closest_row(s, key, len);
	if (r) {
		buf_printf(out, "; did you mean `%s`?", r->name);
		return;
	}
	if (w->depth >= 2) {
		size_t up = w->depth - 2;
		r = row_called(w->stack[up].s, key, len);
		if (r) {
			size_t plen = w->stack[up].path_len;
			if (plen)
				buf_printf(out, "; did you mean `%s` one level up, in %.*s? "
					   "check the indentation", r->name, (int)plen, w->path.data);
			else
				buf_printf(out, "; did you mean `%s` one level up, at the top level? "
					   "check the indentation", r->name);
			return;
		}
	}
	size_t found = 0;
	for (size_t i = 0; i < s->n_rows; i++) {
		const struct key_row *c = &s->rows[i];
		if (c->type != KEY_SECTION && c->type != KEY_LIST)
			continue;
		const struct key_row *below = row_called(c->section, key, len);
		if (!below)
			continue;
		buf_printf(out, "%s`%s%s.%s`", found ? " or " : "; did you mean ", c->name,
			   c->type == KEY_LIST ? "[]" : "", below->name);
		found++;
	}
	if (found) {
		buf_addstr(out, ", one level down?");
		return;
	}
	if (key_is(key, len, "<<"))
		buf_addstr(out, " (merge keys work only in YAML, unquoted)");
	else if (w->depth == 1 && e->type == NODE_MAP)
		buf_addstr(out, " (a mapping kept only for YAML anchors may sit under a "
			   "top-level key starting with x-)");
}

/* Top-level keys starting with x- are the file's own: anchors, notes. */
static bool extension_key(const struct cfg_walk *w, const struct node *e)
{
	return w->depth == 1 && node_key_len(e) > 2 && node_key_cmp(e->key, 2, "x-", 2) == 0;
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
	int c = node_key_cmp(x->name, x->len, y->name, y->len);
	if (c)
		return c;
	if (x->e->key_line != y->e->key_line)
		return x->e->key_line < y->e->key_line ? -1 : 1;
	return (x->e->key_col > y->e->key_col) - (x->e->key_col < y->e->key_col);
}

/*
 * Unknown keys and duplicates are errors (the YAML and JSON readers let
 * duplicates through). Sorting keeps this O(n log n) on hostile input.
 */
static void check_keys(struct cfg_walk *w, const struct node *map, const struct key_section *s)
{
	if (!map || map->type != NODE_MAP)
		return;
	struct entry_id *ids = xcalloc(map->n ? map->n : 1, sizeof *ids);
	struct buf hint = BUF_INIT;
	for (size_t i = 0; i < map->n; i++) {
		const struct node *e = map->items[i];
		const struct key_row *r = row_of(s, e);
		ids[i].e = e;
		ids[i].name = r ? r->name : e->key;
		ids[i].len = r ? strlen(r->name) : node_key_len(e);
		if (!r && !extension_key(w, e)) {
			struct node at = { .line = e->key_line, .col = e->key_col };
			buf_reset(&hint);
			unknown_key_hint(w, s, e, &hint);
			cfg_error(w, e->key, &at, "unknown key%s", hint.data);
		}
	}
	buf_release(&hint);
	qsort(ids, map->n, sizeof *ids, cmp_entry_id);
	for (size_t i = 1; i < map->n; i++) {
		const struct entry_id *a = &ids[i - 1], *b = &ids[i];
		if (node_key_cmp(a->name, a->len, b->name, b->len) != 0)
			continue;
		struct node at = { .line = b->e->key_line, .col = b->e->key_col };
		size_t la = node_key_len(a->e), lb = node_key_len(b->e);
		if (la == lb && memcmp(a->e->key, b->e->key, la) == 0)
			cfg_error(w, b->e->key, &at, "duplicate key (first at line %d)", a->e->key_line);
		else
			cfg_error(w, b->e->key, &at, "duplicate key: `%s` is `%s` (line %d); keys match "
				  "without regard to case", b->e->key, a->e->key, a->e->key_line);
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
 * The decimal text of a number, as Go's strconv gives it (1.5, not
 * 1.50000): the shortest spelling that reads back the same.
 */
static char *number_text(const struct node *n)
{
	if (n->type == NODE_INT)
		return xasprintf("%lld", (long long)n->v.i);
	char t[64];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(t, sizeof t, "%.*g", prec, n->v.f);
		if (strtod(t, NULL) == n->v.f)
			break;
	}
	return xstrdup(t);
}

/*
 * A string value. Weakly typed, as mapstructure's WeaklyTypedInput was
 * for the original: a number or a boolean counts as its text (a YAML
 * plain scalar as written: `project_id: 0123` is "0123"). 1 set (*out
 * owned), 0 absent or null, -1 reported.
 */
static int read_string(struct cfg_walk *w, const struct node *n, char **out)
{
	*out = NULL;
	if (absent(n))
		return 0;
	if (!n->plain && (n->type == NODE_INT || n->type == NODE_FLOAT)) {
		*out = number_text(n);
		return 1;
	}
	if (!n->plain && n->type == NODE_BOOL) {
		*out = xstrdup(n->v.b ? "true" : "false");
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

/*
 * A string where a number or a boolean is wanted: "443", a value from
 * the environment, or a YAML plain scalar no schema typed (0b101).
 */
static bool text_value(const struct node *n)
{
	return n->type == NODE_STRING;
}

/* Go's strconv.ParseBool, which mapstructure used for "true" and the like. */
static int bool_word(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
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
	} else if (n->type == NODE_INT || (n->type == NODE_FLOAT && !isnan(n->v.f))) {
		*out = n->type == NODE_INT ? n->v.i != 0 : n->v.f != 0;
	} else if (text_value(n) && (!*n->text || bool_word(n->text, out) == 0)) {
		if (!*n->text)
			*out = false;
	} else if (text_value(n)) {
		cfg_error(w, NULL, n, "expected true or false, got \"%s\"", n->text);
		return -1;
	} else {
		cfg_error(w, NULL, n, "expected true or false, got a %s", describe(n));
		return -1;
	}
	return 1;
}

/*
 * An integer in text: decimal, or 0x, 0o, 0b as Go reads them; "" is 0,
 * as mapstructure had it. A decimal with a leading zero ("0443") is
 * refused rather than read as octal the way Go would.
 */
static int int_text(const char *s, int64_t *out, const char **why)
{
	const char *p = s;
	bool neg = false;
	int base = 10;
	*why = "not an integer";
	if (!*s) {
		*out = 0;
		return 0;
	}
	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	} else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O')) {
		base = 8;
		p += 2;
	} else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B')) {
		base = 2;
		p += 2;
	} else if (p[0] == '0' && p[1]) {
		*why = "a leading zero is ambiguous (octal in the original); write the number without it";
		return -1;
	}
	if (!*p)
		return -1;
	uint64_t v = 0;
	for (; *p; p++) {
		int dv = isdigit((unsigned char)*p) ? *p - '0' :
			 isxdigit((unsigned char)*p) ? tolower((unsigned char)*p) - 'a' + 10 : 99;
		if (dv >= base)
			return -1;
		if (v > (UINT64_MAX - (uint64_t)dv) / (uint64_t)base) {
			*why = "out of range";
			return -1;
		}
		v = v * (uint64_t)base + (uint64_t)dv;
	}
	if (v > (uint64_t)INT64_MAX + neg) {
		*why = "out of range";
		return -1;
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

/*
 * An integer: a number, a whole float (JSON's 443.0), a boolean (1 or
 * 0) or its text. 1 set, 0 "the default" (0 for a KF_ZERO_DEFAULT row),
 * -1 reported.
 */
static int read_int(struct cfg_walk *w, const struct node *n, const struct key_row *r, int *out)
{
	int64_t v;
	const char *why;
	if (n->type == NODE_INT) {
		v = n->v.i;
	} else if (n->type == NODE_FLOAT && n->v.f == floor(n->v.f) &&
		   fabs(n->v.f) < 9.2e18) {
		v = (int64_t)n->v.f;
	} else if (n->type == NODE_BOOL) {
		v = n->v.b;
	} else if (text_value(n)) {
		if (int_text(n->text, &v, &why) < 0) {
			cfg_error(w, NULL, n, "expected an integer, got \"%s\": %s", n->text, why);
			return -1;
		}
	} else {
		cfg_error(w, NULL, n, "expected an integer, got a %s", describe(n));
		return -1;
	}
	if (v == 0 && (r->flags & KF_ZERO_DEFAULT))
		return 0;
	if (v < r->min || v > r->max) {
		cfg_error(w, NULL, n, "must be between %lld and %lld (got %lld)",
			  (long long)r->min, (long long)r->max, (long long)v);
		return -1;
	}
	*out = (int)v;
	return 1;
}

/*
 * A Go duration string, or the integer 0, of at least r->min ms. 1 set,
 * 0 "the default" (0 for a KF_ZERO_DEFAULT row), -1 reported.
 */
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
		if ((r->flags & KF_ALWAYS) && strcmp(text, "always") == 0) {
			free(text);
			*out = DURATION_ALWAYS;
			return 1;
		}
		int rc = duration_parse(text, &ms, &why);
		if (rc < 0)
			cfg_error(w, NULL, n, "invalid duration \"%s\": %s%s", text, why,
				  (r->flags & KF_ALWAYS) ? " (or \"always\")" : "");
		free(text);
		if (rc < 0)
			return -1;
	} else {
		cfg_error(w, NULL, n, "expected a duration such as \"30s\", got a %s", describe(n));
		return -1;
	}
	if (ms == 0 && (r->flags & KF_ZERO_DEFAULT))
		return 0;
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
	int rc = read_string(w, n, &s);
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

/*
 * A mapping, or NULL for absent/null; an empty list counts as an empty
 * mapping (mapstructure's rule); other types are an error.
 */
static const struct node *want_map(struct cfg_walk *w, const struct node *n)
{
	static const struct node empty = { .type = NODE_MAP };
	if (absent(n))
		return NULL;
	if (n->type == NODE_SEQ && n->n == 0)
		return &empty;
	if (n->type != NODE_MAP) {
		cfg_error(w, NULL, n, "expected a mapping, got a %s", describe(n));
		return NULL;
	}
	return n;
}

static int cmp_entry_key(const void *a, const void *b)
{
	const struct node *x = *(const struct node *const *)a, *y = *(const struct node *const *)b;
	int c = node_key_cmp(x->key, node_key_len(x), y->key, node_key_len(y));
	if (c)
		return c;
	if (x->key_line != y->key_line)
		return x->key_line < y->key_line ? -1 : 1;
	return (x->key_col > y->key_col) - (x->key_col < y->key_col);
}

/*
 * Names to strings (headers): every entry a string, checked by the row.
 * The names keep their spelling (it goes on the wire), but two that
 * differ only in case name one header: a duplicate.
 */
static void read_map(struct cfg_walk *w, const struct node *n, const struct key_row *r, void *obj)
{
	const struct node *m = want_map(w, n);
	if (!m || !m->n)
		return;
	struct header *v = xcalloc(m->n, sizeof *v);
	size_t *count = (size_t *)((char *)obj + r->count_field);
	*(struct header **)((char *)obj + r->field) = v;
	for (size_t i = 0; i < m->n; i++) {
		const struct node *e = m->items[i];
		char *value;
		size_t old = path_push_key(w, e->key);
		if (read_string(w, e, &value) == 1) {
			v[*count] = (struct header){ xstrdup(e->key), value };
			if (r->check)
				r->check(w, e, &v[*count]);
			(*count)++;
		}
		buf_truncate(&w->path, old);
	}
	const struct node **sorted = xcalloc(m->n, sizeof *sorted);
	for (size_t i = 0; i < m->n; i++)
		sorted[i] = m->items[i];
	qsort(sorted, m->n, sizeof *sorted, cmp_entry_key);
	for (size_t i = 1; i < m->n; i++) {
		const struct node *a = sorted[i - 1], *b = sorted[i];
		if (node_key_cmp(a->key, node_key_len(a), b->key, node_key_len(b)) == 0) {
			struct node at = { .line = b->key_line, .col = b->key_col };
			cfg_error(w, b->key, &at, "duplicate header (first at line %d; names match "
				  "without regard to case)", a->key_line);
		}
	}
	free(sorted);
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

/*
 * A list of sections. A single mapping where the list is wanted is a
 * list of one (mapstructure's rule for the original), so `checks:` with
 * one check and no dash means that check.
 */
static void read_list(struct cfg_walk *w, const struct key_row *r, const struct node *n,
		      const struct node *where, void *obj)
{
	const struct key_section *s = r->section;
	const struct node *const *items = NULL;
	size_t n_items = 0;
	if (!absent(n) && n->type == NODE_SEQ) {
		items = (const struct node *const *)n->items;
		n_items = n->n;
	} else if (!absent(n) && n->type == NODE_MAP && n->n) {
		items = (const struct node *const *)&n;
		n_items = 1;
	} else if (!absent(n) && n->type != NODE_MAP) {
		cfg_error(w, NULL, n, "expected a list, got a %s", describe(n));
		return;
	}
	if (!n_items) {
		if (r->required)
			cfg_error(w, NULL, absent(n) ? where : n, "%s", r->required);
		return;
	}
	char *elems = xcalloc(n_items, s->size);
	size_t *count = (size_t *)((char *)obj + r->count_field);
	const struct key_row *unique = s->unique ? row_named(s, s->unique) : NULL;
	struct idset ids = { NULL, 0, 0 };
	list_set(field_of(obj, r), elems);
	for (size_t i = 0; i < n_items; i++) {
		size_t old = path_push_index(w, i);
		const struct node *m = want_map(w, items[i]);
		if (m) {
			void *elem = elems + (*count)++ * s->size;
			read_section(w, s, m, m->line ? m : items[i], elem);
			const char *id = unique ? *(char **)field_of(elem, unique) : NULL;
			if (id && !idset_add(&ids, id))
				cfg_error(w, unique->name, find_entry(m, unique), "duplicate %s \"%s\"%s",
					  s->unique_what, id, s->unique_scope ? s->unique_scope : "");
		}
		buf_truncate(&w->path, old);
	}
	free(ids.slot);
}

/*
 * An empty string: say so, and when it came from a ${NAME} (the
 * variable is set but empty) name that, since the file itself does not
 * look empty.
 */
static void empty_string_error(struct cfg_walk *w, const struct node *n)
{
	if (n->text && strstr(n->text, "${"))
		cfg_error(w, NULL, n, "must not be empty (the environment variable it references "
			  "is set but empty)");
	else
		cfg_error(w, NULL, n, "must not be empty");
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
		/* An empty list stands for the mapping but has no place of its own. */
		read_section(w, r->section, m, m && m->line ? m : n && n->line ? n : where, obj);
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
		rc = read_string(w, n, &s);
		if (rc != 1)
			return;
		if ((r->flags & KF_EMPTY_UNSET) && !*s) {
			free(s);
			s = NULL;
		} else if ((r->flags & KF_NONEMPTY) && !*s) {
			empty_string_error(w, n);
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

/*
 * Does the value ask for something: not null, "", false, nor a mapping
 * or list of only such values (`tracing: {enabled: false}`)?
 */
static bool set_to_something(const struct node *n)
{
	if (absent(n))
		return false;
	if (n->type == NODE_BOOL)
		return n->v.b;
	if (n->type == NODE_STRING)
		return n->text_len > 0;
	if (n->type == NODE_MAP || n->type == NODE_SEQ) {
		for (size_t i = 0; i < n->n; i++)
			if (set_to_something(n->items[i]))
				return true;
		return false;
	}
	return true;
}

/*
 * Keys the original had and flipper does not implement: one warning per
 * section, from `validate` only, naming the ones set to something.
 */
static void advise_unused(struct cfg_walk *w, const struct key_section *s, const struct node *map)
{
	if (!map || map->type != NODE_MAP)
		return;
	struct buf names = BUF_INIT;
	const struct node *first = NULL;
	for (size_t i = 0; i < map->n; i++) {
		const struct node *e = map->items[i];
		const struct key_row *r = row_of(s, e);
		if (!r || !(r->flags & KF_UNUSED) || r->type == KEY_SECTION || !set_to_something(e))
			continue;
		buf_printf(&names, "%s%s", names.len ? ", " : "", r->name);
		if (!first)
			first = e;
	}
	if (names.len) {
		struct node at = { .line = first->key_line, .col = first->key_col };
		cfg_advice(w, NULL, &at, "accepted for compatibility with the original flipper but "
			   "not used: %s", names.data);
	}
	buf_release(&names);
}

/* Read map (NULL: the section is absent) into obj against s's rows. */
static void read_section(struct cfg_walk *w, const struct key_section *s,
			 const struct node *map, const struct node *where, void *obj)
{
	/* The table is 4 levels deep (a unit test checks it fits). */
	bool pushed = w->depth < CFG_MAX_DEPTH;
	if (pushed) {
		w->stack[w->depth].s = s;
		w->stack[w->depth].path_len = w->path.len;
		w->depth++;
	}
	set_defaults(s, obj);
	check_keys(w, map, s);
	for (size_t i = 0; i < s->n_rows; i++) {
		size_t old = path_push_key(w, s->rows[i].name);
		read_row(w, &s->rows[i], map, where, obj);
		buf_truncate(&w->path, old);
	}
	advise_unused(w, s, map);
	if (s->finish)
		s->finish(w, map, where, obj);
	if (pushed)
		w->depth--;
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

/* ---- FLIPPER_* overrides ------------------------------------------------------ */

/*
 * Names under FLIPPER_ that are not configuration keys: the two the
 * command line reads (SPEC section 1) and the knobs of flipper's own
 * test suite.
 */
static const char *const env_reserved[] = {
	"FLIPPER_CONFIG", "FLIPPER_STATE", "FLIPPER_CI", "FLIPPER_SHARED_DIR",
	"FLIPPER_NOTIFY_BACKOFF_MS",
};
#define ENV_PREFIX "FLIPPER_"
#define ENV_TEST_PREFIX "FLIPPER_TEST_"

char *config_env_key(const char *name)
{
	if (!str_has_prefix(name, ENV_PREFIX) || str_has_prefix(name, ENV_TEST_PREFIX))
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(env_reserved); i++)
		if (strcmp(name, env_reserved[i]) == 0)
			return NULL;
	struct buf key = BUF_INIT;
	for (const char *p = name + strlen(ENV_PREFIX); *p; p++) {
		if (p[0] == '_' && p[1] == '_') {
			buf_addch(&key, '.');
			p++;
		} else {
			buf_addch(&key, (char)tolower((unsigned char)*p));
		}
	}
	return buf_detach(&key);
}

/* s as a variable name spells it: upper case, "__" between levels. */
static void add_env_spelling(struct buf *b, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.')
			buf_addstr(b, "__");
		else
			buf_addch(b, (char)toupper((unsigned char)s[i]));
	}
}

/* The variable for key (a.b.c) with its level at [at, at + len) spelled as name. */
static char *env_name_with(const char *key, size_t at, size_t len, const char *name)
{
	struct buf b = BUF_INIT;
	buf_addstr(&b, ENV_PREFIX);
	add_env_spelling(&b, key, at);
	add_env_spelling(&b, name, strlen(name));
	add_env_spelling(&b, key + at + len, strlen(key + at + len));
	return buf_detach(&b);
}

static void env_warning(struct cfg_walk *w, const char *var, const char *fmt, ...) PRINTF_LIKE(3, 4);

static void env_warning(struct cfg_walk *w, const char *var, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	diag_add(w->d, DIAG_WARNING, 0, 0, var, "%s", msg);
	free(msg);
}

static void record_override(struct cfg_walk *w, struct config *c, const char *var,
			    const char *path)
{
	for (size_t i = 0; i < c->n_env; i++) {
		if (strcmp(c->env[i].path, path) == 0) {
			env_warning(w, var, "sets %s, as %s does; %s wins", path, c->env[i].var, var);
			free(c->env[i].var);
			c->env[i].var = xstrdup(var);
			return;
		}
	}
	c->env = xrealloc(c->env, (c->n_env + 1) * sizeof *c->env);
	c->env[c->n_env++] = (struct env_override){ xstrdup(var), xstrdup(path) };
}

/*
 * Set key (a.b.c, any case) to value in the tree, as if the file said
 * so, through the rows of the table; what names no key a row has is a
 * warning naming the variable. c NULL: only apply, and tell nothing.
 */
static void apply_override(struct cfg_walk *w, struct node *root, const char *var,
			   const char *key, const char *value, struct config *c)
{
	const struct key_section *s = &config_root;
	struct node *map = root;
	struct buf path = BUF_INIT;
	const char *seg = key;
	for (;;) {
		const char *dot = strchr(seg, '.');
		size_t len = dot ? (size_t)(dot - seg) : strlen(seg);
		const struct key_row *r = len ? row_called(s, seg, len) : NULL;
		if (!r) {
			const struct key_row *near = len ? closest_row(s, seg, len) : NULL;
			char *better = near ? env_name_with(key, (size_t)(seg - key), len, near->name) : NULL;
			if (c)
				env_warning(w, var, "names no configuration key (%s); ignored%s%s%s", key,
					    better ? "; did you mean " : "", better ? better : "",
					    better ? "?" : "");
			free(better);
			break;
		}
		if (path.len)
			buf_addch(&path, '.');
		buf_addstr(&path, r->name);
		if (r->type == KEY_LIST || r->type == KEY_MAP) {
			if (c)
				env_warning(w, var, "%s is a list: its elements cannot be set from the "
					    "environment; ignored", path.data);
			break;
		}
		if (r->type == KEY_ANY)
			break;         /* accepted whatever it holds, and not used */
		if (!dot && r->type == KEY_SECTION) {
			if (c)
				env_warning(w, var, "names the section %s, not a key; ignored", path.data);
			break;
		}
		if (dot && r->type != KEY_SECTION) {
			if (c)
				env_warning(w, var, "names no configuration key (%s): %s is not a "
					    "section; ignored", key, path.data);
			break;
		}
		size_t i = entry_index(map, r);
		if (!dot) {
			struct node *v = node_new_string(value, strlen(value), 0, 0);
			v->env_var = xstrdup(var);
			v->key = xstrdup(r->name);
			if (i == SIZE_MAX) {
				node_append(map, v);
			} else {
				node_free(map->items[i]);
				map->items[i] = v;
			}
			if (c)
				record_override(w, c, var, path.data);
			break;
		}
		struct node *sub = i == SIZE_MAX ? NULL : map->items[i];
		if (!sub) {
			sub = node_new(NODE_MAP, 0, 0);
			sub->key = xstrdup(r->name);
			node_append(map, sub);
		} else if (sub->type == NODE_NULL) {
			sub->type = NODE_MAP;
		} else if (sub->type != NODE_MAP) {
			break;         /* the walk reports what the file has there */
		}
		map = sub;
		s = r->section;
		seg = dot + 1;
	}
	buf_release(&path);
}

static int cmp_str_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Apply every FLIPPER_SECTION__KEY of the environment to the tree, in
 * the order of their names, so the outcome does not hang on the order
 * of environ.
 */
static void apply_env_overrides(struct cfg_walk *w, struct node *root, struct config *c)
{
	size_t n = 0, cap = 0;
	const char **vars = NULL;
	for (char **e = environ; e && *e; e++) {
		if (!str_has_prefix(*e, ENV_PREFIX))
			continue;
		vars = xgrow(vars, &cap, n + 1, sizeof *vars);
		vars[n++] = *e;
	}
	if (n)
		qsort(vars, n, sizeof *vars, cmp_str_ptr);
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(vars[i], '=');
		if (!eq)
			continue;
		char *var = xstrndup(vars[i], (size_t)(eq - vars[i]));
		char *key = config_env_key(var);
		if (key)
			apply_override(w, root, var, key, eq + 1, c);
		free(key);
		free(var);
	}
	free(vars);
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
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	/* "flipper", or ".flipper": no extension, TOML as in the original. */
	if (*base && !strchr(base + 1, '.'))
		return toml_read;
	return NULL;
}

struct config *config_parse(const char *path, const char *text, size_t len,
			    config_reader_fn reader, enum config_use use, struct diags *d)
{
	struct node *root = NULL;

	if (reader(text, len, &root, d) < 0 || !root) {
		node_free(root);
		return NULL;
	}
	struct config *c = xcalloc(1, sizeof *c);
	c->path = xstrdup(path ? path : "");
	struct cfg_walk w = { .d = d, .path = BUF_INIT, .file = c->path, .use = use };
	if (root->type != NODE_MAP) {
		cfg_error(&w, NULL, root, "the configuration must be a mapping at the top level, "
			  "got a %s", describe(root));
	} else {
		apply_env_overrides(&w, root, c);
		read_section(&w, &config_root, root, root, c);
	}
	buf_release(&w.path);
	node_free(root);
	if (d->errors) {
		config_free(c);
		return NULL;
	}
	return c;
}

struct config *config_load(const char *path, enum config_use use, struct diags *d)
{
	config_reader_fn reader = config_reader_for(path);
	char *text;
	size_t len;

	if (!reader) {
		diag_add(d, DIAG_ERROR, 0, 0, NULL, "unknown configuration format (use .yaml, .yml, "
			 ".toml or .json; a name without extension is read as TOML)");
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
	struct config *c = config_parse(path, text, len, reader, use, d);
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
		if (root->type == NODE_MAP)
			apply_env_overrides(&w, root, NULL);
		const struct key_row *state = row_named(&config_root, "state");
		const struct node *st = state ? find_entry(root, state) : NULL;
		path_push_key(&w, "state.path");
		int got = st && st->type == NODE_MAP ?
			  read_string(&w, cfg_get(state->section, st, "path"), out) : 0;
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
	for (size_t i = 0; i < c->n_env; i++) {
		free(c->env[i].var);
		free(c->env[i].path);
	}
	free(c->env);
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
			if (read_string(&w, cfg_get(gr->section, list->items[i], "id"), &id) == 1) {
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
			/* Values carry credentials (Authorization, X-Api-Key): names only. */
			for (size_t k = 0; k < count_of(obj, r); k++)
				jw_string(jw, v[k].name, "(set)");
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
			} else if (v && strstr(v, "://")) {
				char *masked = log_mask_userinfo(v);
				jw_string(jw, r->name, masked);
				free(masked);
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
			if ((r->flags & KF_ALWAYS) && *(const int64_t *)f == DURATION_ALWAYS)
				snprintf(d, sizeof d, "always");
			else
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
	/* Only when some FLIPPER_* applied: the shape is otherwise the file's. */
	if (c->n_env) {
		jw_object_begin(&jw, "from_environment");
		for (size_t i = 0; i < c->n_env; i++)
			jw_string(&jw, c->env[i].path, c->env[i].var);
		jw_end(&jw);
	}
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
	case KEY_STRING: buf_addstr(b, "string"); break;
	case KEY_BOOL: buf_addstr(b, "boolean"); break;
	case KEY_INT:
		buf_addstr(b, "integer");
		if (r->min > INT_MIN || r->max < INT_MAX)
			buf_printf(b, " %lld..%lld", (long long)r->min, (long long)r->max);
		break;
	case KEY_DURATION:
		duration_format(r->min, d);
		buf_printf(b, "duration >= %s%s", d, (r->flags & KF_ALWAYS) ? " or always" : "");
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
