/* The option parser and the help it writes from the same table (opt.c). */
#include <stdlib.h>

#include "opt.h"
#include "test.h"

struct cmd_opts {
	bool json;
	const char *snapshot;
	struct opt_list groups;
};

struct glob_opts {
	const char *config;
	const char *level;
};

static const struct opt cmd_table[] = {
	OPT_FLAG_AT(0, "json", struct cmd_opts, json, "print JSON"),
	OPT_VALUE_AT(0, "snapshot", "GROUP", struct cmd_opts, snapshot,
		     "print GROUP as a snapshot\nready to simulate", NULL),
	OPT_LIST_AT(0, "group", "ID", struct cmd_opts, groups, "only this group", NULL),
	OPT_TABLE_END,
};

static const struct opt glob_table[] = {
	OPT_VALUE_AT('c', "config", "FILE", struct glob_opts, config, "the configuration",
		     OPT_COMPLETE_FILES),
	OPT_VALUE_AT(0, "log-level", "L", struct glob_opts, level, "how much to log",
		     "debug info"),
	OPT_TABLE_END,
};

struct parsed {
	struct cmd_opts c;
	struct glob_opts g;
	enum opt_result r;
	char **argv;            /* a writable copy, as main() gets it */
	char **operands;
	size_t n;
	int next;
	char *err;
};

/* Parse the NULL-terminated words; stop: at the first operand. */
static void parse(struct parsed *p, const char *const words[], bool stop)
{
	int argc = 0;
	memset(p, 0, sizeof *p);
	while (words[argc])
		argc++;
	p->argv = xcalloc((size_t)argc + 1, sizeof *p->argv);
	for (int i = 0; i < argc; i++)
		p->argv[i] = xstrdup(words[i]);
	const struct opt_set sets[] = { { cmd_table, &p->c }, { glob_table, &p->g } };
	p->r = opt_parse(argc, p->argv, 1, sets, 2, stop, &p->next, &p->operands, &p->n, &p->err);
}

static void release(struct parsed *p)
{
	opt_list_release(&p->c.groups);
	free(p->operands);
	free(p->err);
	for (char **a = p->argv; *a; a++)
		free(*a);
	free(p->argv);
}

TEST(values_come_spaced_or_joined_and_options_mix_with_operands)
{
	static const char *const argv[] = { "cmd", "--group", "a", "x", "--group=b", "-cfile.yaml",
					    "--json", "--snapshot=s", "--log-level", "info", "y",
					    "-", NULL };
	struct parsed p;
	parse(&p, argv, false);
	CHECK_EQ_INT(p.r, OPT_OK);
	CHECK(p.c.json);
	CHECK_EQ_STR(p.c.snapshot, "s");
	CHECK_EQ_INT(p.c.groups.n, 2);
	CHECK_EQ_STR(p.c.groups.v[0], "a");
	CHECK_EQ_STR(p.c.groups.v[1], "b");
	CHECK_EQ_STR(p.g.config, "file.yaml");
	CHECK_EQ_STR(p.g.level, "info");
	CHECK_EQ_INT(p.n, 3);
	CHECK_EQ_STR(p.operands[0], "x");
	CHECK_EQ_STR(p.operands[1], "y");
	CHECK_EQ_STR(p.operands[2], "-");     /* standard input, not an option */
	CHECK_EQ_INT(p.next, 12);
	release(&p);
}

TEST(the_last_value_wins_and_double_dash_ends_options)
{
	static const char *const argv[] = { "cmd", "-c", "one", "--config", "two", "--", "--json",
					    NULL };
	struct parsed p;
	parse(&p, argv, false);
	CHECK_EQ_INT(p.r, OPT_OK);
	CHECK_EQ_STR(p.g.config, "two");
	CHECK(!p.c.json);
	CHECK_EQ_INT(p.n, 1);
	CHECK_EQ_STR(p.operands[0], "--json");
	release(&p);
}

TEST(the_top_level_stops_at_the_command)
{
	static const char *const argv[] = { "flipper", "-c", "f", "status", "--json", NULL };
	struct parsed p;
	parse(&p, argv, true);
	CHECK_EQ_INT(p.r, OPT_OK);
	CHECK_EQ_INT(p.next, 3);
	CHECK_EQ_STR(p.g.config, "f");
	CHECK(!p.c.json);
	CHECK_EQ_INT(p.n, 0);
	release(&p);
}

TEST(help_is_found_anywhere_before_double_dash)
{
	static const char *const argv[] = { "cmd", "--json", "-h", "--bogus", NULL };
	struct parsed p;
	parse(&p, argv, false);
	CHECK_EQ_INT(p.r, OPT_HELP);
	release(&p);
	static const char *const argv2[] = { "cmd", "--", "--help", NULL };
	parse(&p, argv2, false);
	CHECK_EQ_INT(p.r, OPT_OK);
	CHECK_EQ_INT(p.n, 1);
	release(&p);
}

TEST(errors_say_what_is_wrong)
{
	static const struct {
		const char *argv[4];
		const char *err;
	} cases[] = {
		{ { "cmd", "--bogus", NULL }, "unknown option '--bogus'" },
		{ { "cmd", "--bogus=1", NULL }, "unknown option '--bogus'" },
		{ { "cmd", "-x", NULL }, "unknown option '-x'" },
		{ { "cmd", "--json=yes", NULL }, "option '--json' takes no value" },
		{ { "cmd", "--snapshot", NULL }, "option '--snapshot' needs GROUP" },
		{ { "cmd", "-c", NULL }, "option '-c' needs FILE" },
		{ { "cmd", "--group=", NULL }, "option '--group' needs a non-empty ID" },
		{ { "cmd", "--group", "", NULL }, "option '--group' needs a non-empty ID" },
		{ { "cmd", "--jso", NULL }, "unknown option '--jso'" },   /* no prefixes */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct parsed p;
		parse(&p, cases[i].argv, false);
		CHECK_EQ_INT(p.r, OPT_ERROR);
		CHECK_EQ_STR(p.err, cases[i].err);
		release(&p);
	}
}

TEST(help_and_synopsis_come_from_the_table)
{
	struct buf b = BUF_INIT;
	opt_synopsis(cmd_table, &b);
	CHECK_EQ_STR(b.data, " [--json] [--snapshot GROUP] [--group ID]...");
	buf_release(&b);
	opt_synopsis(glob_table, &b);
	CHECK_EQ_STR(b.data, " [-c FILE] [--log-level L]");
	buf_release(&b);
	opt_help(cmd_table, &b);
	CHECK_EQ_STR(b.data,
		     "  --json             print JSON\n"
		     "  --snapshot GROUP   print GROUP as a snapshot\n"
		     "                     ready to simulate\n"
		     "  --group ID         only this group\n");
	buf_release(&b);
	opt_help(glob_table, &b);
	CHECK_EQ_STR(b.data,
		     "  -c, --config FILE  the configuration\n"
		     "  --log-level L      how much to log\n");
	buf_release(&b);
}

int main(void)
{
	RUN(values_come_spaced_or_joined_and_options_mix_with_operands);
	RUN(the_last_value_wins_and_double_dash_ends_options);
	RUN(the_top_level_stops_at_the_command);
	RUN(help_is_found_anywhere_before_double_dash);
	RUN(errors_say_what_is_wrong);
	RUN(help_and_synopsis_come_from_the_table);
	return test_report();
}
