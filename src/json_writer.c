/* json_writer.c — JSON output over struct buf (see json.h). */
#include "json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/* A caller that misplaces a key or an end would write broken JSON. */
static void misuse(const char *what)
{
	fprintf(stderr, "flipper: JSON writer misused: %s\n", what);
	abort();
}

void jw_init(struct jw *jw, struct buf *out, bool spaced)
{
	jw->out = out;
	jw->spaced = spaced;
	jw->need_comma = false;
	jw->depth = 0;
}

static void newline(struct jw *jw, unsigned indent)
{
	buf_addch(jw->out, '\n');
	for (unsigned i = 0; i < indent; i++)
		buf_addch(jw->out, ' ');
}

/* Whatever goes before a member: comma, line break, key. */
static void member(struct jw *jw, const char *key)
{
	if (jw->depth) {
		bool in_object = jw->close[jw->depth - 1] == '}';
		enum jw_layout layout = jw->layout[jw->depth - 1];
		if (in_object != (key != NULL))
			misuse(in_object ? "an object member without a key" :
			       "an array element with a key");
		if (jw->need_comma)
			buf_addch(jw->out, ',');
		if (layout == JW_LINES || (layout == JW_HANG && jw->need_comma))
			newline(jw, jw->depth);
		else if (jw->need_comma && jw->spaced)
			buf_addch(jw->out, ' ');
	} else if (key) {
		misuse("a key outside any object");
	}
	if (key) {
		buf_add_json_string(jw->out, key);
		buf_addstr(jw->out, jw->spaced ? ": " : ":");
	}
	jw->need_comma = true;
}

static void begin(struct jw *jw, const char *key, char open, char close)
{
	if (jw->depth == JW_MAX_DEPTH)
		misuse("nested too deep");
	member(jw, key);
	buf_addch(jw->out, open);
	jw->close[jw->depth] = close;
	jw->layout[jw->depth] = JW_INLINE;
	jw->depth++;
	jw->need_comma = false;
}

void jw_object_begin(struct jw *jw, const char *key)
{
	begin(jw, key, '{', '}');
}

void jw_array_begin(struct jw *jw, const char *key)
{
	begin(jw, key, '[', ']');
}

void jw_layout(struct jw *jw, enum jw_layout layout)
{
	if (!jw->depth)
		misuse("a layout outside any container");
	jw->layout[jw->depth - 1] = (unsigned char)layout;
}

void jw_end(struct jw *jw)
{
	if (!jw->depth)
		misuse("an end without a begin");
	jw->depth--;
	if (jw->layout[jw->depth] == JW_LINES && jw->need_comma)
		newline(jw, jw->depth);
	buf_addch(jw->out, jw->close[jw->depth]);
	jw->need_comma = true;
}

void jw_string(struct jw *jw, const char *key, const char *v)
{
	member(jw, key);
	if (v)
		buf_add_json_string(jw->out, v);
	else
		buf_addstr(jw->out, "null");
}

void jw_int(struct jw *jw, const char *key, int64_t v)
{
	member(jw, key);
	buf_printf(jw->out, "%" PRId64, v);
}

void jw_bool(struct jw *jw, const char *key, bool v)
{
	member(jw, key);
	buf_addstr(jw->out, v ? "true" : "false");
}

void jw_null(struct jw *jw, const char *key)
{
	member(jw, key);
	buf_addstr(jw->out, "null");
}
