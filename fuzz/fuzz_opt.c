/*
 * fuzz_opt.c — the command-line option parser (opt.c). The input is an
 * argument vector: words separated by NUL bytes, as the kernel hands them
 * to main(). It is parsed against a table with every kind of option, at
 * the top level (stopping at the command) and as a command's arguments.
 *
 * Checked properties (a violation aborts):
 *   - the parser stops inside argv and never reports more operands than
 *     there were words;
 *   - every value and operand it returns is one of the words, or the
 *     tail of one after '=' or a short option letter;
 *   - an error always says why; a success never does.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_WORDS 64

struct values {
	bool flag;
	const char *value;
	const char *short_value;
	struct opt_list list;
};

static const struct opt table[] = {
	OPT_FLAG_AT('f', "flag", struct values, flag, "a flag"),
	OPT_VALUE_AT(0, "value", "V", struct values, value, "a value\non two lines", NULL),
	OPT_VALUE_AT('s', "short", "S", struct values, short_value, "with a letter", "a b"),
	OPT_LIST_AT(0, "list", "L", struct values, list, "repeatable", OPT_COMPLETE_FILES),
	OPT_TABLE_END,
};

/* Does p point into one of the words? */
static bool in_words(const char *p, char **argv, int argc)
{
	for (int i = 0; i < argc; i++)
		if (p >= argv[i] && p <= argv[i] + strlen(argv[i]))
			return true;
	return false;
}

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_opt: %s\n", what);
		abort();
	}
}

static void run(char **argv, int argc, bool stop)
{
	struct values v = { 0 };
	const struct opt_set sets[] = { { table, &v } };
	char **operands = NULL, *err = NULL;
	size_t n = 0;
	int next = -1;
	enum opt_result r = opt_parse(argc, argv, 1, sets, 1, stop, &next, &operands, &n, &err);

	check(next >= 1 && next <= argc, "next outside argv");
	check(n <= (size_t)argc, "more operands than words");
	check((r == OPT_ERROR) == (err != NULL), "an error without a reason, or the reverse");
	for (size_t i = 0; i < n; i++)
		check(in_words(operands[i], argv, argc), "an operand outside argv");
	if (v.value)
		check(in_words(v.value, argv, argc), "a value outside argv");
	if (v.short_value)
		check(in_words(v.short_value, argv, argc), "a value outside argv");
	for (size_t i = 0; i < v.list.n; i++)
		check(in_words(v.list.v[i], argv, argc), "a list value outside argv");
	opt_list_release(&v.list);
	free(operands);
	free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	char *argv[MAX_WORDS + 1];
	int argc = 0;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	argv[argc++] = (char *)"flipper";
	for (size_t i = 0; i < size && argc < MAX_WORDS; ) {
		argv[argc++] = text + i;
		i += strlen(text + i) + 1;
	}
	argv[argc] = NULL;
	run(argv, argc, true);
	run(argv, argc, false);

	struct buf b = BUF_INIT;
	opt_synopsis(table, &b);
	opt_help(table, &b);
	buf_release(&b);
	free(text);
	return 0;
}
