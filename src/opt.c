/* opt.c — the option parser and the help lines, both read from one table. */
#include "opt.h"

#include <stdlib.h>
#include <string.h>

/* Help text starts in this column, as in most GNU and git help. */
#define HELP_COLUMN 21

void opt_list_release(struct opt_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static bool is_help(const char *a)
{
	return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0;
}

/* The option named by a (after its dashes; name_len bytes), and its set. */
static const struct opt *find_long(const struct opt_set *sets, size_t n_sets, const char *name,
				   size_t name_len, const struct opt_set **set)
{
	for (size_t s = 0; s < n_sets; s++)
		for (const struct opt *o = sets[s].opts; o->type != OPT_END; o++)
			if (strlen(o->long_name) == name_len &&
			    memcmp(o->long_name, name, name_len) == 0) {
				*set = &sets[s];
				return o;
			}
	return NULL;
}

static const struct opt *find_short(const struct opt_set *sets, size_t n_sets, char c,
				    const struct opt_set **set)
{
	for (size_t s = 0; s < n_sets; s++)
		for (const struct opt *o = sets[s].opts; o->type != OPT_END; o++)
			if (o->short_name && o->short_name == c) {
				*set = &sets[s];
				return o;
			}
	return NULL;
}

static void store(const struct opt *o, const struct opt_set *set, char *value, int argc)
{
	char *at = (char *)set->values + o->offset;
	switch (o->type) {
	case OPT_FLAG:
		*(bool *)at = true;
		break;
	case OPT_VALUE:
		*(const char **)at = value;
		break;
	case OPT_LIST: {
		struct opt_list *l = (struct opt_list *)(void *)at;
		/* argc bounds how many values there can be: one allocation. */
		if (!l->v)
			l->v = xcalloc((size_t)argc, sizeof *l->v);
		l->v[l->n++] = value;
		break;
	}
	case OPT_END:
		break;
	}
}

enum opt_result opt_parse(int argc, char **argv, int start, const struct opt_set *sets,
			  size_t n_sets, bool stop_at_operand, int *next,
			  char ***operands, size_t *n_operands, char **err)
{
	bool options_done = false;
	int i;

	*operands = xcalloc((size_t)argc + 1, sizeof **operands);
	*n_operands = 0;
	*err = NULL;
	for (i = start; i < argc; i++) {
		char *a = argv[i];
		const struct opt_set *set = NULL;
		const struct opt *o = NULL;
		char *value = NULL;

		if (options_done || a[0] != '-' || a[1] == '\0') {
			if (stop_at_operand)
				break;
			(*operands)[(*n_operands)++] = argv[i];
			continue;
		}
		if (strcmp(a, "--") == 0) {
			options_done = true;
			continue;
		}
		if (is_help(a)) {
			*next = i;
			return OPT_HELP;
		}
		if (a[1] == '-') {
			const char *name = a + 2;
			char *eq = strchr(a + 2, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			o = find_long(sets, n_sets, name, len, &set);
			if (!o) {
				*err = xasprintf("unknown option '--%.*s'", (int)len, name);
				goto fail;
			}
			if (eq && o->type == OPT_FLAG) {
				*err = xasprintf("option '--%s' takes no value", o->long_name);
				goto fail;
			}
			if (eq)
				value = eq + 1;
		} else {
			o = find_short(sets, n_sets, a[1], &set);
			if (!o) {
				*err = xasprintf("unknown option '-%c'", a[1]);
				goto fail;
			}
			if (a[2] != '\0') {
				if (o->type == OPT_FLAG) {
					*err = xasprintf("unknown option '%s'", a);
					goto fail;
				}
				value = a + 2;
			}
		}
		if (o->type != OPT_FLAG) {
			if (!value) {
				if (i + 1 >= argc) {
					*err = xasprintf("option '%s' needs %s", a, o->arg);
					goto fail;
				}
				value = argv[++i];
			}
			if (!*value) {
				*err = xasprintf("option '%.*s' needs a non-empty %s",
						 (int)strcspn(a, "="), a, o->arg);
				goto fail;
			}
		}
		store(o, set, value, argc);
	}
	*next = i;
	return OPT_OK;
fail:
	*next = i;
	return OPT_ERROR;
}

void opt_spelling(const struct opt *o, struct buf *out)
{
	if (o->short_name)
		buf_printf(out, "-%c, ", o->short_name);
	buf_printf(out, "--%s", o->long_name);
}

void opt_synopsis(const struct opt *opts, struct buf *out)
{
	for (const struct opt *o = opts; o->type != OPT_END; o++) {
		buf_addstr(out, " [");
		if (o->short_name)
			buf_printf(out, "-%c", o->short_name);
		else
			buf_printf(out, "--%s", o->long_name);
		if (o->arg)
			buf_printf(out, " %s", o->arg);
		buf_addch(out, ']');
		if (o->type == OPT_LIST)
			buf_addstr(out, "...");
	}
}

void opt_help(const struct opt *opts, struct buf *out)
{
	for (const struct opt *o = opts; o->type != OPT_END; o++) {
		size_t start = out->len;
		buf_addstr(out, "  ");
		opt_spelling(o, out);
		if (o->arg)
			buf_printf(out, " %s", o->arg);
		/* A long spelling gets its help on the next line. */
		size_t width = out->len - start;
		if (width + 1 > HELP_COLUMN) {
			buf_addch(out, '\n');
			width = 0;
		}
		for (const char *h = o->help; *h;) {
			size_t n = strcspn(h, "\n");
			buf_printf(out, "%*s%.*s\n", (int)(HELP_COLUMN - width), "", (int)n, h);
			width = 0;
			h += n;
			if (*h == '\n')
				h++;
		}
	}
}
