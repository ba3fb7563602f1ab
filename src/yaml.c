/*
 * yaml.c — YAML configuration reader: libyaml events to a document tree.
 *
 * Plain scalars are typed the way YAML 1.2's core schema types them
 * (null, booleans, integers, floats, else strings) and keep their text
 * with node->plain set, because the original flipper's Go decoder let a
 * plain scalar fill a string field ("project_id: 123456"). Anchors and
 * aliases are expanded by copy, within a node budget, so a small hostile
 * file cannot grow into a huge tree.
 *
 * Merge keys (`<<: *defaults`, `<<: [*a, *b]`) are resolved here, with
 * YAML 1.1's rules as Go's yaml read them for the original flipper: the
 * mapping's own keys win, then the sources in the order listed. Keys are
 * compared as the configuration matches them, without regard to ASCII
 * case, so a merged `ReadOnly` never sits beside an explicit `readonly`.
 * Only a plain `<<` (or one tagged !!merge) is a merge key; a quoted
 * "<<" is an ordinary key.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config.h"

#define YAML_MAX_DEPTH 64
#define YAML_MAX_NODES 200000
/* Aliases look anchors up one by one: 100,000 of each took half a minute. */
#define YAML_MAX_ANCHORS 1000

/* node->flags of this reader: an anchor names the node, aliases copy it. */
#define YF_ANCHORED 0x01u

struct anchor {
	char *name;
	struct node *node;     /* borrowed: lives in the tree, or in detached */
};

struct yreader {
	yaml_parser_t parser;
	struct diags *d;
	struct anchor *anchors;
	size_t n_anchors, cap_anchors;
	size_t nodes;
	bool failed;
	/*
	 * Merge values taken out of the tree: an anchor may still name
	 * them (`<<: &base {...}`, then `*base`), so they live until the
	 * end of the document.
	 */
	struct node **detached;
	size_t n_detached, cap_detached;
};

static void yfail(struct yreader *r, const yaml_mark_t *m, const char *fmt, ...) PRINTF_LIKE(3, 4);

static void yfail(struct yreader *r, const yaml_mark_t *m, const char *fmt, ...)
{
	if (r->failed)
		return;
	r->failed = true;
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	diag_add(r->d, DIAG_ERROR, m ? (int)m->line + 1 : 0, m ? (int)m->column + 1 : 0,
		 NULL, "%s", msg);
	free(msg);
}

static void yfail_node(struct yreader *r, const struct node *n, const char *msg)
{
	if (r->failed)
		return;
	r->failed = true;
	diag_add(r->d, DIAG_ERROR, n->line, n->col, NULL, "%s", msg);
}

static bool all_digits(const char *s, int (*ok)(int))
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!ok((unsigned char)*s))
			return false;
	return true;
}

static int is_octal(int c) { return c >= '0' && c <= '7'; }

/* Type a plain scalar as YAML 1.2's core schema would. */
static void resolve_plain(struct node *n)
{
	const char *s = n->text;
	char *end;

	n->plain = true;
	if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL")) {
		n->type = NODE_NULL;
		return;
	}
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
		n->type = NODE_BOOL;
		n->v.b = true;
		return;
	}
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
		n->type = NODE_BOOL;
		n->v.b = false;
		return;
	}
	const char *digits = (*s == '-' || *s == '+') ? s + 1 : s;
	if (all_digits(digits, isdigit)) {
		errno = 0;
		long long v = strtoll(s, &end, 10);
		if (!errno && !*end) {
			n->type = NODE_INT;
			n->v.i = v;
			return;
		}
	}
	if ((s[0] == '0' && s[1] == 'x' && all_digits(s + 2, isxdigit)) ||
	    (s[0] == '0' && s[1] == 'o' && all_digits(s + 2, is_octal))) {
		errno = 0;
		unsigned long long v = strtoull(s + 2, &end, s[1] == 'x' ? 16 : 8);
		if (!errno && !*end && v <= INT64_MAX) {
			n->type = NODE_INT;
			n->v.i = (int64_t)v;
			return;
		}
	}
	if (!strcmp(s, ".inf") || !strcmp(s, ".Inf") || !strcmp(s, ".INF") ||
	    !strcmp(s, "+.inf") || !strcmp(s, "-.inf") || !strcmp(s, "-.Inf") || !strcmp(s, "-.INF")) {
		n->type = NODE_FLOAT;
		n->v.f = s[0] == '-' ? -INFINITY : INFINITY;
		return;
	}
	if (!strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN")) {
		n->type = NODE_FLOAT;
		n->v.f = NAN;
		return;
	}
	/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
	const char *p = digits;
	bool mant = false;
	while (isdigit((unsigned char)*p)) { p++; mant = true; }
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p)) { p++; mant = true; }
	}
	if (mant && (*p == 'e' || *p == 'E')) {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!isdigit((unsigned char)*p))
			mant = false;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (mant && !*p && strpbrk(digits, ".eE")) {
		n->type = NODE_FLOAT;
		n->v.f = strtod(s, NULL);
		return;
	}
	n->type = NODE_STRING;
}

static struct node *copy_tree(struct yreader *r, const struct node *src)
{
	if (++r->nodes > YAML_MAX_NODES)
		return NULL;
	struct node *n = node_new(src->type, src->line, src->col);
	n->plain = src->plain;
	n->v = src->v;
	n->dt_kind = src->dt_kind;
	if (src->text) {
		n->text = xstrndup(src->text, src->text_len);
		n->text_len = src->text_len;
	}
	for (size_t i = 0; i < src->n; i++) {
		struct node *c = copy_tree(r, src->items[i]);
		if (!c) {
			node_free(n);
			return NULL;
		}
		if (src->items[i]->key) {
			const struct node *e = src->items[i];
			c->key_len = e->key_len;
			c->key = xstrndup(e->key, e->key_len ? e->key_len : strlen(e->key));
			c->key_line = src->items[i]->key_line;
			c->key_col = src->items[i]->key_col;
		}
		node_append(n, c);
	}
	return n;
}

static bool remember_anchor(struct yreader *r, const yaml_char_t *anchor, struct node *n,
			    const yaml_mark_t *m)
{
	if (!anchor)
		return true;
	if (r->n_anchors == YAML_MAX_ANCHORS) {
		yfail(r, m, "more than %d anchors", YAML_MAX_ANCHORS);
		return false;
	}
	r->anchors = xgrow(r->anchors, &r->cap_anchors, r->n_anchors + 1, sizeof *r->anchors);
	r->anchors[r->n_anchors].name = xstrdup((const char *)anchor);
	r->anchors[r->n_anchors].node = n;
	r->n_anchors++;
	n->flags |= YF_ANCHORED;
	return true;
}

/* A plain `<<` key, or one tagged !!merge. */
static bool is_merge_key(const yaml_event_t *ev)
{
	const char *tag = (const char *)ev->data.scalar.tag;
	if (tag)
		return strcmp(tag, "tag:yaml.org,2002:merge") == 0;
	return ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       ev->data.scalar.length == 2 && memcmp(ev->data.scalar.value, "<<", 2) == 0;
}

struct merge_entry {
	struct node *e;
	const char *key;
	size_t len;
	size_t rank;           /* explicit keys first, then the sources in order */
	bool merged;
};

static int cmp_merge_entry(const void *a, const void *b)
{
	const struct merge_entry *x = a, *y = b;
	int c = node_key_cmp(x->key, x->len, y->key, y->len);
	if (c)
		return c;
	return (x->rank > y->rank) - (x->rank < y->rank);
}

/*
 * Add to map the entries of the merge sources (src: a mapping, or a
 * list of mappings, already checked) whose keys it lacks. Sorting makes
 * this O(n log n) however many keys a hostile file has. An anchored
 * source keeps its entries (a later alias copies them), so they are
 * copied; any other source gives its entries up. 0, or -1 when copying
 * would pass the node budget.
 */
static int apply_merge(struct yreader *r, struct node *map, struct node *src)
{
	size_t n_src = src->type == NODE_MAP ? 1 : src->n, total = map->n;
	for (size_t s = 0; s < n_src; s++)
		total += (src->type == NODE_MAP ? src : src->items[s])->n;
	struct merge_entry *all = xcalloc(total ? total : 1, sizeof *all);
	size_t k = 0;
	for (size_t i = 0; i < map->n; i++, k++)
		all[k] = (struct merge_entry){ map->items[i], map->items[i]->key,
					       node_key_len(map->items[i]), k, false };
	for (size_t s = 0; s < n_src; s++) {
		const struct node *m = src->type == NODE_MAP ? src : src->items[s];
		for (size_t i = 0; i < m->n; i++, k++)
			all[k] = (struct merge_entry){ m->items[i], m->items[i]->key,
						       node_key_len(m->items[i]), k, true };
	}
	qsort(all, total, sizeof *all, cmp_merge_entry);
	/* keep[rank]: a merged entry whose key nothing before it has. */
	bool *keep = xcalloc(total ? total : 1, sizeof *keep);
	for (size_t i = 0; i < total; i++)
		if (all[i].merged && (i == 0 || node_key_cmp(all[i - 1].key, all[i - 1].len,
							     all[i].key, all[i].len) != 0))
			keep[all[i].rank] = true;
	free(all);

	int rc = 0;
	size_t rank = map->n;
	for (size_t s = 0; s < n_src && rc == 0; s++) {
		struct node *m = src->type == NODE_MAP ? src : src->items[s];
		bool copy = (m->flags | src->flags) & YF_ANCHORED;
		for (size_t i = 0; i < m->n; i++, rank++) {
			if (!keep[rank])
				continue;
			struct node *e = m->items[i];
			if (copy) {
				struct node *c = copy_tree(r, e);
				if (!c) {
					yfail_node(r, e, "document too large after merging");
					rc = -1;
					break;
				}
				c->key_len = e->key_len;
				c->key = xstrndup(e->key, node_key_len(e));
				c->key_line = e->key_line;
				c->key_col = e->key_col;
				e = c;
			} else {
				m->items[i] = NULL;
			}
			node_append(map, e);
		}
	}
	free(keep);
	return rc;
}

static void detach(struct yreader *r, struct node *n)
{
	r->detached = xgrow(r->detached, &r->cap_detached, r->n_detached + 1, sizeof *r->detached);
	r->detached[r->n_detached++] = n;
}

static struct node *parse_node(struct yreader *r, yaml_event_t *ev, int depth);

static bool next_event(struct yreader *r, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&r->parser, ev)) {
		yaml_mark_t m = r->parser.problem_mark;
		const char *problem = r->parser.problem ? r->parser.problem : "invalid YAML";
		if (r->parser.context) {
			char *msg = xasprintf("%s %s", r->parser.context, problem);
			yfail(r, &m, "%s", msg);
			free(msg);
		} else {
			yfail(r, &m, "%s", problem);
		}
		return false;
	}
	return true;
}

static struct node *parse_collection(struct yreader *r, yaml_event_t *start, int depth)
{
	bool is_map = start->type == YAML_MAPPING_START_EVENT;
	yaml_event_type_t end = is_map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
	struct node *n = node_new(is_map ? NODE_MAP : NODE_SEQ,
				  (int)start->start_mark.line + 1, (int)start->start_mark.column + 1);
	struct node *merge = NULL;     /* the value of this mapping's `<<` */
	if (!remember_anchor(r, is_map ? start->data.mapping_start.anchor :
			     start->data.sequence_start.anchor, n, &start->start_mark)) {
		node_free(n);
		return NULL;
	}
	if (depth > YAML_MAX_DEPTH) {
		yfail(r, &start->start_mark, "nesting deeper than %d levels", YAML_MAX_DEPTH);
		node_free(n);
		return NULL;
	}
	for (;;) {
		yaml_event_t ev;
		if (!next_event(r, &ev))
			goto bad;
		if (ev.type == end) {
			yaml_event_delete(&ev);
			if (merge && apply_merge(r, n, merge) < 0)
				goto bad;
			return n;
		}
		if (!is_map) {
			struct node *c = parse_node(r, &ev, depth + 1);
			yaml_event_delete(&ev);
			if (!c)
				goto bad;
			node_append(n, c);
			continue;
		}
		/* Mapping: a key event, then a value. Keys must be scalars. */
		if (ev.type != YAML_SCALAR_EVENT) {
			yfail(r, &ev.start_mark, "mapping keys must be plain strings");
			yaml_event_delete(&ev);
			goto bad;
		}
		size_t key_len = ev.data.scalar.length;
		char *key = xstrndup((const char *)ev.data.scalar.value, key_len);
		int kl = (int)ev.start_mark.line + 1, kc = (int)ev.start_mark.column + 1;
		bool merge_key = is_merge_key(&ev);
		yaml_event_delete(&ev);
		if (!next_event(r, &ev)) {
			free(key);
			goto bad;
		}
		struct node *c = parse_node(r, &ev, depth + 1);
		yaml_event_delete(&ev);
		if (!c) {
			free(key);
			goto bad;
		}
		if (merge_key) {
			free(key);
			detach(r, c);
			if (merge) {
				yfail_node(r, c, "a second merge key << in one mapping; "
					   "list the sources in one: <<: [*a, *b]");
				goto bad;
			}
			bool maps = c->type == NODE_MAP;
			if (c->type == NODE_SEQ) {
				maps = true;
				for (size_t i = 0; i < c->n; i++)
					maps = maps && c->items[i]->type == NODE_MAP;
			}
			if (!maps) {
				yfail_node(r, c, "merge key << wants a mapping or a list of mappings "
					   "(<<: *defaults or <<: [*a, *b])");
				goto bad;
			}
			merge = c;
			continue;
		}
		c->key = key;
		c->key_len = key_len;
		c->key_line = kl;
		c->key_col = kc;
		node_append(n, c);
	}
bad:
	node_free(n);
	return NULL;
}

static struct node *parse_node(struct yreader *r, yaml_event_t *ev, int depth)
{
	if (++r->nodes > YAML_MAX_NODES) {
		yfail(r, &ev->start_mark, "document too large");
		return NULL;
	}
	switch (ev->type) {
	case YAML_SCALAR_EVENT: {
		struct node *n = node_new_string((const char *)ev->data.scalar.value,
						 ev->data.scalar.length,
						 (int)ev->start_mark.line + 1,
						 (int)ev->start_mark.column + 1);
		const char *tag = (const char *)ev->data.scalar.tag;
		if (ev->data.scalar.plain_implicit && !tag && strlen(n->text) == n->text_len)
			resolve_plain(n);
		if (!remember_anchor(r, ev->data.scalar.anchor, n, &ev->start_mark)) {
			node_free(n);
			return NULL;
		}
		return n;
	}
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		return parse_collection(r, ev, depth);
	case YAML_ALIAS_EVENT: {
		const char *name = (const char *)ev->data.alias.anchor;
		for (size_t i = r->n_anchors; i-- > 0;) {
			if (strcmp(r->anchors[i].name, name) == 0) {
				struct node *c = copy_tree(r, r->anchors[i].node);
				if (!c) {
					yfail(r, &ev->start_mark, "document too large after expanding alias *%s", name);
					return NULL;
				}
				c->line = (int)ev->start_mark.line + 1;
				c->col = (int)ev->start_mark.column + 1;
				return c;
			}
		}
		yfail(r, &ev->start_mark, "unknown alias *%s", name);
		return NULL;
	}
	default:
		yfail(r, &ev->start_mark, "unexpected YAML event");
		return NULL;
	}
}

int yaml_read(const char *text, size_t len, struct node **out, struct diags *d)
{
	struct yreader r;
	struct node *root = NULL;
	yaml_event_t ev;
	bool started = false;

	memset(&r, 0, sizeof r);
	r.d = d;
	*out = NULL;
	if (!yaml_parser_initialize(&r.parser)) {
		diag_add(d, DIAG_ERROR, 0, 0, NULL, "cannot initialise the YAML parser");
		return -1;
	}
	/* libyaml asserts on a NULL input: no text reads as an empty document. */
	yaml_parser_set_input_string(&r.parser, (const unsigned char *)(text ? text : ""),
				     text ? len : 0);

	for (;;) {
		if (!next_event(&r, &ev))
			goto done;
		yaml_event_type_t t = ev.type;
		if (t == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (t == YAML_DOCUMENT_START_EVENT) {
			if (started) {
				yfail(&r, &ev.start_mark, "only one YAML document is allowed");
				yaml_event_delete(&ev);
				goto done;
			}
			started = true;
		} else if (t != YAML_STREAM_START_EVENT && t != YAML_DOCUMENT_END_EVENT) {
			root = parse_node(&r, &ev, 0);
			if (!root) {
				yaml_event_delete(&ev);
				goto done;
			}
		}
		yaml_event_delete(&ev);
	}
	if (!root)
		root = node_new(NODE_NULL, 1, 1);
done:
	for (size_t i = 0; i < r.n_anchors; i++)
		free(r.anchors[i].name);
	free(r.anchors);
	for (size_t i = 0; i < r.n_detached; i++)
		node_free(r.detached[i]);
	free(r.detached);
	yaml_parser_delete(&r.parser);
	if (r.failed) {
		node_free(root);
		return -1;
	}
	*out = root;
	return 0;
}
