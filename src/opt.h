/*
 * opt.h — command-line options from a table, as git's parse_options():
 * each command lists its options once, and the parser, the help text and
 * the shell completions all read that list, so they cannot drift apart.
 *
 * An option's value is stored at `offset` in a struct the caller passes
 * (the command's own options struct, or struct globals). Values point
 * into argv: they live as long as the process. A list is an array the
 * parser allocates; opt_list_release() frees it.
 *
 * Accepted spellings: "--name", "--name VALUE", "--name=VALUE", "-x",
 * "-x VALUE", "-xVALUE". "--" ends the options; "-" alone is an operand
 * (standard input). Options and operands may be mixed.
 */
#ifndef FLIPPER_OPT_H
#define FLIPPER_OPT_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

enum opt_type {
	OPT_END,        /* ends a table */
	OPT_FLAG,       /* --name: a bool set to true */
	OPT_VALUE,      /* --name VALUE: a const char *; the last one wins */
	OPT_LIST,       /* --name VALUE, repeatable: a struct opt_list */
};

struct opt {
	enum opt_type type;
	char short_name;        /* 0: none */
	const char *long_name;  /* without the dashes */
	const char *arg;        /* the value's name in help ("FILE"); NULL for flags */
	size_t offset;          /* where the value goes, in the caller's struct */
	/* Help: the first line is the summary completions show; later lines
	 * continue it in `--help`. */
	const char *help;
	/*
	 * What completes the value: OPT_COMPLETE_FILES, or a space-separated
	 * word list ("json text"); NULL: free text, nothing to offer.
	 */
	const char *complete;
};

#define OPT_COMPLETE_FILES "@files"

#define OPT_FLAG_AT(s, l, type, field, help) \
	{ OPT_FLAG, s, l, NULL, offsetof(type, field), help, NULL }
#define OPT_VALUE_AT(s, l, arg, type, field, help, complete) \
	{ OPT_VALUE, s, l, arg, offsetof(type, field), help, complete }
#define OPT_LIST_AT(s, l, arg, type, field, help, complete) \
	{ OPT_LIST, s, l, arg, offsetof(type, field), help, complete }
#define OPT_TABLE_END { OPT_END, 0, NULL, NULL, 0, NULL, NULL }

struct opt_list {
	char **v;               /* owned array; the strings are argv's */
	size_t n;
};

void opt_list_release(struct opt_list *l);

/* One table and the struct its offsets point into. */
struct opt_set {
	const struct opt *opts;
	void *values;
};

enum opt_result {
	OPT_OK,
	OPT_HELP,       /* -h or --help was given */
	OPT_ERROR,      /* a usage error: *err says which (owned) */
};

/*
 * Parse argv[start..argc) against the tables in sets (the first table
 * naming an option wins). Operands are collected in order into *operands
 * (argv pointers, in an array the caller frees). With stop_at_operand,
 * parsing ends at the first operand and *next is its index (the top
 * level: the command name comes next); otherwise *next is argc.
 */
enum opt_result opt_parse(int argc, char **argv, int start, const struct opt_set *sets,
			  size_t n_sets, bool stop_at_operand, int *next,
			  char ***operands, size_t *n_operands, char **err);

/* "--name" or "-x, --name", for help and messages. */
void opt_spelling(const struct opt *o, struct buf *out);

/* The synopsis of a table: " [--json] [--for DURATION] [--group ID]...". */
void opt_synopsis(const struct opt *opts, struct buf *out);

/* The option lines of a help text: "  --for DURATION    help...". */
void opt_help(const struct opt *opts, struct buf *out);

#endif
