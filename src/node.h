/*
 * node.h — the document tree that every configuration reader (YAML, JSON,
 * TOML) produces and the config loader consumes. Each node remembers where
 * it came from (line and column, 1-based) so errors can point there.
 *
 * Ownership: a node owns its text, key and children; node_free() releases
 * the whole subtree. Maps keep their entries in document order; a map
 * entry is a child node whose `key` is set.
 */
#ifndef FLIPPER_NODE_H
#define FLIPPER_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

enum node_type {
	NODE_NULL,
	NODE_BOOL,
	NODE_INT,
	NODE_FLOAT,
	NODE_STRING,
	NODE_DATETIME,  /* TOML date/time; text holds the literal, see dt_kind */
	NODE_MAP,
	NODE_SEQ,
};

enum node_dt_kind {
	DT_OFFSET,      /* 1979-05-27T07:32:00Z           "datetime" */
	DT_LOCAL,       /* 1979-05-27T07:32:00            "datetime-local" */
	DT_DATE,        /* 1979-05-27                     "date-local" */
	DT_TIME,        /* 07:32:00                       "time-local" */
};

struct node {
	enum node_type type;
	int line, col;          /* where the value starts */
	char *key;              /* set when this node is a map entry */
	size_t key_len;         /* keys may hold NUL (TOML "\u0000"); 0: strlen */
	int key_line, key_col;  /* where its key starts */
	/*
	 * Scalar text: the decoded string for NODE_STRING, the literal
	 * spelling for the other scalars (YAML "yes", TOML "0xff").
	 */
	char *text;
	size_t text_len;        /* strings may hold NUL (TOML "\u0000") */
	/*
	 * A YAML plain (unquoted, untagged) scalar: its type was guessed,
	 * and `text` is authoritative when a string is wanted.
	 */
	bool plain;
	enum node_dt_kind dt_kind;
	union {
		bool b;
		int64_t i;
		double f;
	} v;
	char *env_var;          /* set: the FLIPPER_* variable this value came from */
	struct node **items;    /* children of MAP and SEQ */
	size_t n, cap;
	unsigned flags;         /* private to the reader that built the tree */
};

/*
 * Line and column (1-based; a column counts characters, not bytes) of
 * places in a text, for the readers' diagnostics. A query costs the
 * distance from the previous one (or from its line's start when it goes
 * back), so a reader that asks for every token stays linear, even on a
 * minified file of one long line.
 */
struct text_pos {
	const char *start, *at, *line_start;
	int line, col;              /* of `at` */
};

/* node.c */
void text_pos_init(struct text_pos *tp, const char *start);
void text_pos_at(struct text_pos *tp, const char *q, int *line, int *col);
struct node *node_new(enum node_type type, int line, int col);
/* A NODE_STRING holding a copy of s[0..len). */
struct node *node_new_string(const char *s, size_t len, int line, int col);
void node_free(struct node *n);
/* Append child to a SEQ, or to a MAP (child->key must be set). */
void node_append(struct node *parent, struct node *child);
/* First entry of a map with this key, or NULL. */
struct node *node_get(const struct node *map, const char *key);
/* A map entry's key length (keys may hold NUL). */
size_t node_key_len(const struct node *e);
/*
 * Order two keys as the configuration matches them: ASCII letters
 * without regard to case, every other byte as it is. <0, 0 or >0.
 */
int node_key_cmp(const char *a, size_t alen, const char *b, size_t blen);
const char *node_type_name(enum node_type t);
/*
 * Write the tree as JSON. Tagged: the toml-test form, every scalar as
 * {"type": T, "value": "..."}; untagged: plain JSON values.
 */
void node_to_json(const struct node *n, struct buf *out, bool tagged);

/*
 * Diagnostics collected while reading and validating a configuration:
 * every problem is kept, in order, so one run reports them all.
 */
enum diag_severity { DIAG_WARNING, DIAG_ERROR };

struct diag {
	enum diag_severity severity;
	int line, col;          /* 0 when unknown */
	char *path;             /* key path, e.g. groups[0].checks[1].timeout; may be NULL */
	char *msg;
};

struct diags {
	const char *file;       /* not owned */
	struct diag *list;
	size_t n, cap;
	size_t errors;
};

void diags_init(struct diags *d, const char *file);
void diags_release(struct diags *d);
void diag_add(struct diags *d, enum diag_severity sev, int line, int col,
	      const char *path, const char *fmt, ...) PRINTF_LIKE(6, 7);
/* "file:line:col: path: msg" (parts that are unknown are left out). */
char *diag_format(const struct diags *d, const struct diag *e);
/*
 * The one way diagnostics reach the user: to stderr, one per line,
 * "error: file:line:col: path: msg" or "warning: ...". At most max_shown
 * of them (0: all), then how many were left out. When there were errors,
 * a last line counts them: "file: 3 errors", with "; note" when note is
 * set ("nothing was contacted").
 */
void diags_print(const struct diags *d, size_t max_shown, const char *note);

#endif
