/*
 * json.h — JSON in and out: one reader, one writer, one integer rule.
 *
 * Reading (json.c): JSON text (RFC 8259) into the positioned document
 * tree of node.h, so every key and value keeps its line and column. The
 * configuration reader (json_read, config.h) and the snapshot reader
 * (snapshot.c) both use it, so one mistake reads the same in both:
 * "FILE:LINE:COL: invalid JSON: unexpected '}'", at the offending byte.
 * Strings are decoded: escapes, surrogate pairs; "\u0000" gives a NUL
 * inside the text (node->text_len, node->key_len say how long it is).
 * Text must be UTF-8; a raw NUL byte, invalid UTF-8, an unpaired
 * surrogate or nesting deeper than JSON_MAX_DEPTH is an error. Duplicate
 * keys are kept, in order: the consumer decides (config.c and snapshot.c
 * report them as errors naming the key path).
 *
 * Writing (json_writer.c): git's json-writer idea over struct buf. The
 * writer keeps the stack of open containers and whether a comma is due,
 * so no caller places punctuation:
 *
 *	struct jw jw;
 *	jw_init(&jw, &out, false);
 *	jw_object_begin(&jw, NULL);
 *	jw_string(&jw, "id", id);          NULL writes null
 *	jw_array_begin(&jw, "servers");
 *	jw_int(&jw, NULL, 11);             inside an array the key is NULL
 *	jw_end(&jw);
 *	jw_end(&jw);
 *
 * Output is compact unless asked otherwise: `spaced` writes ": " and ", "
 * (the snapshot format), and jw_layout() puts the members of the
 * container just begun on lines of their own.
 */
#ifndef FLIPPER_JSON_H
#define FLIPPER_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node.h"
#include "util.h"

/* ---- reading (json.c) ------------------------------------------------- */

#define JSON_MAX_DEPTH 128

/*
 * Parse text[0..len) into *out (owned; free with node_free). At most
 * max_nodes values (a budget against huge inputs; 0: no limit). 0 ok;
 * -1 with one positioned diagnostic in d and *out NULL.
 */
int json_parse(const char *text, size_t len, size_t max_nodes, struct node **out,
	       struct diags *d);

/*
 * Ids travel as JSON numbers, which most readers hold in a double: only
 * integers of at most 2^53 - 1 in magnitude are exact in every reader.
 * Both the API responses (hcloud_parse.c) and snapshots (snapshot.c)
 * accept exactly these.
 */
#define JSON_MAX_EXACT 9007199254740991LL

enum json_int_result { JSON_INT_OK = 0, JSON_INT_FRACTION = -1, JSON_INT_TOO_BIG = -2 };

/* d as an exact integer: JSON_INT_OK with *out set, or why not. */
enum json_int_result json_exact_int(double d, int64_t *out);
/* A NODE_INT or NODE_FLOAT (11.0 and 1e3 are integers too) as above. */
enum json_int_result json_node_int(const struct node *n, int64_t *out);

/* ---- writing (json_writer.c) ------------------------------------------ */

#define JW_MAX_DEPTH 32

enum jw_layout {
	JW_INLINE,     /* {"a":1,"b":2} */
	JW_LINES,      /* every member on a line of its own, indented by
			  depth, and the closing bracket too when not empty */
	JW_HANG,       /* members after the first on lines of their own;
			  the closing bracket follows the last member */
};

struct jw {
	struct buf *out;
	bool spaced;                        /* ": " and ", " */
	bool need_comma;                    /* a member was written at this depth */
	unsigned depth;                     /* open containers */
	char close[JW_MAX_DEPTH];           /* '}' or ']' for each */
	unsigned char layout[JW_MAX_DEPTH]; /* enum jw_layout for each */
};

void jw_init(struct jw *jw, struct buf *out, bool spaced);
/*
 * key is the member's name inside an object, and NULL inside an array or
 * for the top-level value. Getting that wrong, ending more than was begun
 * or nesting deeper than JW_MAX_DEPTH is a bug: the writer aborts.
 */
void jw_object_begin(struct jw *jw, const char *key);
void jw_array_begin(struct jw *jw, const char *key);
/* The layout of the container just begun (JW_INLINE until set). */
void jw_layout(struct jw *jw, enum jw_layout layout);
void jw_string(struct jw *jw, const char *key, const char *v);   /* NULL: null */
void jw_int(struct jw *jw, const char *key, int64_t v);
void jw_bool(struct jw *jw, const char *key, bool v);
void jw_null(struct jw *jw, const char *key);
void jw_end(struct jw *jw);

#endif
