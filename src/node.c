/* node.c — the positioned document tree and the diagnostics list. */
#include "node.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void text_pos_init(struct text_pos *tp, const char *start)
{
	tp->start = tp->at = tp->line_start = start;
	tp->line = tp->col = 1;
}

void text_pos_at(struct text_pos *tp, const char *q, int *line, int *col)
{
	if (q < tp->line_start) {
		text_pos_init(tp, tp->start);
	} else if (q < tp->at) {
		tp->at = tp->line_start;
		tp->col = 1;
	}
	for (; tp->at < q; tp->at++) {
		unsigned char c = (unsigned char)*tp->at;
		if (c == '\n') {
			if (tp->line < INT_MAX)
				tp->line++;
			tp->line_start = tp->at + 1;
			tp->col = 1;
		} else if ((c & 0xc0) != 0x80 && tp->col < INT_MAX) {
			tp->col++;
		}
	}
	*line = tp->line;
	*col = tp->col;
}

struct node *node_new(enum node_type type, int line, int col)
{
	struct node *n = xcalloc(1, sizeof *n);
	n->type = type;
	n->line = line;
	n->col = col;
	return n;
}

struct node *node_new_string(const char *s, size_t len, int line, int col)
{
	struct node *n = node_new(NODE_STRING, line, col);
	n->text = xstrndup(s, len);
	n->text_len = len;
	return n;
}

void node_free(struct node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++)
		node_free(n->items[i]);
	free(n->items);
	free(n->env_var);
	free(n->key);
	free(n->text);
	free(n);
}

void node_append(struct node *parent, struct node *child)
{
	parent->items = xgrow(parent->items, &parent->cap, parent->n + 1, sizeof *parent->items);
	parent->items[parent->n++] = child;
}

struct node *node_get(const struct node *map, const char *key)
{
	if (!map || map->type != NODE_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++) {
		const struct node *e = map->items[i];
		if (strcmp(e->key, key) == 0 && (!e->key_len || e->key_len == strlen(e->key)))
			return map->items[i];
	}
	return NULL;
}

size_t node_key_len(const struct node *e)
{
	return e->key_len ? e->key_len : strlen(e->key);
}

static unsigned char ascii_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

int node_key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	for (size_t i = 0; i < n; i++) {
		unsigned char x = ascii_lower((unsigned char)a[i]), y = ascii_lower((unsigned char)b[i]);
		if (x != y)
			return x < y ? -1 : 1;
	}
	return (alen > blen) - (alen < blen);
}

const char *node_type_name(enum node_type t)
{
	switch (t) {
	case NODE_NULL: return "null";
	case NODE_BOOL: return "boolean";
	case NODE_INT: return "integer";
	case NODE_FLOAT: return "float";
	case NODE_STRING: return "string";
	case NODE_DATETIME: return "datetime";
	case NODE_MAP: return "mapping";
	case NODE_SEQ: return "list";
	}
	return "?";
}

static const char *dt_tag(enum node_dt_kind k)
{
	switch (k) {
	case DT_OFFSET: return "datetime";
	case DT_LOCAL: return "datetime-local";
	case DT_DATE: return "date-local";
	case DT_TIME: return "time-local";
	}
	return "datetime";
}

static void add_json_bytes(struct buf *out, const char *s, size_t len)
{
	buf_addch(out, '"');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"': buf_addstr(out, "\\\""); break;
		case '\\': buf_addstr(out, "\\\\"); break;
		case '\n': buf_addstr(out, "\\n"); break;
		case '\r': buf_addstr(out, "\\r"); break;
		case '\t': buf_addstr(out, "\\t"); break;
		case '\b': buf_addstr(out, "\\b"); break;
		case '\f': buf_addstr(out, "\\f"); break;
		default:
			if (c < 0x20 || c == 0x7f)
				buf_printf(out, "\\u%04x", c);
			else
				buf_addch(out, (char)c);
		}
	}
	buf_addch(out, '"');
}

static void float_text(double f, char out[64])
{
	if (isnan(f))
		snprintf(out, 64, "nan");
	else if (isinf(f))
		snprintf(out, 64, f < 0 ? "-inf" : "inf");
	else
		snprintf(out, 64, "%.17g", f);
}

void node_to_json(const struct node *n, struct buf *out, bool tagged)
{
	char num[64];
	switch (n->type) {
	case NODE_MAP:
		buf_addch(out, '{');
		for (size_t i = 0; i < n->n; i++) {
			if (i)
				buf_addch(out, ',');
			const struct node *e = n->items[i];
			add_json_bytes(out, e->key, e->key_len ? e->key_len : strlen(e->key));
			buf_addch(out, ':');
			node_to_json(n->items[i], out, tagged);
		}
		buf_addch(out, '}');
		return;
	case NODE_SEQ:
		buf_addch(out, '[');
		for (size_t i = 0; i < n->n; i++) {
			if (i)
				buf_addch(out, ',');
			node_to_json(n->items[i], out, tagged);
		}
		buf_addch(out, ']');
		return;
	default:
		break;
	}

	const char *tag = NULL;
	struct buf val = BUF_INIT;
	switch (n->type) {
	case NODE_NULL:
		tag = "null";
		buf_addstr(&val, "null");
		break;
	case NODE_BOOL:
		tag = "bool";
		buf_addstr(&val, n->v.b ? "true" : "false");
		break;
	case NODE_INT:
		tag = "integer";
		buf_printf(&val, "%lld", (long long)n->v.i);
		break;
	case NODE_FLOAT:
		tag = "float";
		float_text(n->v.f, num);
		buf_addstr(&val, num);
		break;
	case NODE_STRING:
		tag = "string";
		break;
	case NODE_DATETIME:
		tag = dt_tag(n->dt_kind);
		break;
	default:
		break;
	}

	if (tagged) {
		buf_addstr(out, "{\"type\":\"");
		buf_addstr(out, tag);
		buf_addstr(out, "\",\"value\":");
		if (n->type == NODE_STRING || n->type == NODE_DATETIME)
			add_json_bytes(out, n->text, n->text_len);
		else
			add_json_bytes(out, val.data, val.len);
		buf_addch(out, '}');
	} else if (n->type == NODE_STRING || n->type == NODE_DATETIME) {
		add_json_bytes(out, n->text, n->text_len);
	} else if (n->type == NODE_FLOAT && !isfinite(n->v.f)) {
		add_json_bytes(out, val.data, val.len);
	} else {
		buf_add(out, val.data, val.len);
	}
	buf_release(&val);
}

void diags_init(struct diags *d, const char *file)
{
	memset(d, 0, sizeof *d);
	d->file = file;
}

void diags_release(struct diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->list[i].path);
		free(d->list[i].msg);
	}
	free(d->list);
	d->list = NULL;
	d->n = d->cap = d->errors = 0;
}

void diag_add(struct diags *d, enum diag_severity sev, int line, int col,
	      const char *path, const char *fmt, ...)
{
	d->list = xgrow(d->list, &d->cap, d->n + 1, sizeof *d->list);
	struct diag *e = &d->list[d->n++];
	va_list ap;
	va_start(ap, fmt);
	e->msg = xvasprintf(fmt, ap);
	va_end(ap);
	e->severity = sev;
	e->line = line;
	e->col = col;
	e->path = path && *path ? xstrdup(path) : NULL;
	if (sev == DIAG_ERROR)
		d->errors++;
}

char *diag_format(const struct diags *d, const struct diag *e)
{
	struct buf b = BUF_INIT;
	if (d->file)
		buf_printf(&b, "%s:", d->file);
	if (e->line > 0) {
		buf_printf(&b, "%d:", e->line);
		if (e->col > 0)
			buf_printf(&b, "%d:", e->col);
	}
	if (b.len)
		buf_addch(&b, ' ');
	if (e->path)
		buf_printf(&b, "%s: ", e->path);
	buf_addstr(&b, e->msg);
	return buf_detach(&b);
}

void diags_print(const struct diags *d, size_t max_shown, const char *note)
{
	struct buf b = BUF_INIT;
	size_t shown = 0;

	for (size_t i = 0; i < d->n; i++) {
		if (max_shown && shown == max_shown) {
			buf_printf(&b, "%s: %zu more problem%s not shown\n", d->file ? d->file : "?",
				   d->n - shown, d->n - shown == 1 ? "" : "s");
			break;
		}
		char *line = diag_format(d, &d->list[i]);
		buf_printf(&b, "%s: %s\n", d->list[i].severity == DIAG_ERROR ? "error" : "warning", line);
		free(line);
		shown++;
	}
	if (d->errors)
		buf_printf(&b, "%s: %zu error%s%s%s\n", d->file ? d->file : "?", d->errors,
			   d->errors == 1 ? "" : "s", note ? "; " : "", note ? note : "");
	if (b.len)
		fwrite(b.data, 1, b.len, stderr);
	buf_release(&b);
}
