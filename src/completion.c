/*
 * completion.c — shell completion scripts for bash, zsh and fish, written
 * from the command table and the option tables (cli.h, opt.h): a new
 * option is completed as soon as it is in its table.
 *
 * Each script finds the command as the first word that is neither an
 * option nor the value of a global option, then offers that command's
 * options (and the global ones, which may follow the command), the values
 * an option lists, files where a FILE is wanted, and command names after
 * `help`. A command of subcommands (`state backup`) offers their words,
 * then the subcommand's options and operands, found the same way.
 */
#include <string.h>

#include "cli.h"

/* The first line of an option's help, without a closing ';' or ','. */
static void summary(const char *help, struct buf *out)
{
	size_t n = strcspn(help, "\n");
	while (n && strchr(";,.", help[n - 1]))
		n--;
	buf_add(out, help, n);
}

/* Append s inside single quotes for sh and zsh: ' becomes '\''. */
static void sh_quote(struct buf *out, const char *s)
{
	buf_addch(out, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			buf_addstr(out, "'\\''");
		else
			buf_addch(out, *s);
	}
	buf_addch(out, '\'');
}

static bool is_files(const char *complete)
{
	return complete && strcmp(complete, OPT_COMPLETE_FILES) == 0;
}

static bool is_commands(const char *complete)
{
	return complete && strcmp(complete, CLI_COMPLETE_COMMANDS) == 0;
}

static void command_names(struct buf *out)
{
	for (size_t i = 0; i < cli_n_commands; i++)
		buf_printf(out, "%s%s", i ? " " : "", cli_commands[i]->name);
}

/* The words that complete a value: the list itself, or the command names. */
static void value_words(const char *complete, struct buf *out)
{
	if (is_commands(complete))
		command_names(out);
	else if (complete && !is_files(complete))
		buf_addstr(out, complete);
}

/* ---- bash ----------------------------------------------------------------- */

/* "-c --config" for an option. */
static void spellings(const struct opt *o, struct buf *out)
{
	if (o->short_name)
		buf_printf(out, "-%c ", o->short_name);
	buf_printf(out, "--%s", o->long_name);
}

static void bash_words(const struct opt *opts, struct buf *out)
{
	for (const struct opt *o = opts; o->type != OPT_END; o++) {
		buf_addch(out, ' ');
		spellings(o, out);
	}
}

/* One `case` arm completing the value of o, unless an earlier one did. */
static void bash_value_arm(const struct opt *o, struct buf *out, struct buf *seen)
{
	struct buf key = BUF_INIT;
	buf_printf(&key, "|--%s|", o->long_name);
	bool dup = seen->len && strstr(seen->data, key.data);
	if (!dup)
		buf_addstr(seen, key.data);
	buf_release(&key);
	if (dup || o->type == OPT_FLAG)
		return;

	buf_addstr(out, "\t");
	if (o->short_name)
		buf_printf(out, "-%c|", o->short_name);
	buf_printf(out, "--%s)\n", o->long_name);
	if (is_files(o->complete)) {
		buf_addstr(out, "\t\t__flipper_files\n");
	} else {
		struct buf w = BUF_INIT;
		value_words(o->complete, &w);
		buf_addstr(out, "\t\tCOMPREPLY=($(compgen -W ");
		sh_quote(out, w.len ? w.data : "");
		buf_addstr(out, " -- \"$cur\"))\n");
		buf_release(&w);
	}
	buf_addstr(out, "\t\treturn ;;\n");
}

/* "-c|--config|--state|..." : the global options that take a value. */
static void bash_valued_globals(struct buf *out)
{
	bool first = true;
	for (const struct opt *o = cli_global_opts; o->type != OPT_END; o++) {
		if (o->type == OPT_FLAG)
			continue;
		if (o->short_name)
			buf_printf(out, "%s-%c", first ? "" : "|", o->short_name);
		buf_printf(out, "%s--%s", first && !o->short_name ? "" : "|", o->long_name);
		first = false;
	}
}

/* What a command (or subcommand) completes: its options, or its operands. */
static void bash_command_body(const struct command *c, struct buf *out, const char *indent)
{
	struct buf w = BUF_INIT;
	bash_words(c->opts, &w);
	bash_words(cli_global_opts, &w);
	buf_addstr(&w, " -h --help");
	/* Options on "-", or on nothing when there is no operand to offer. */
	buf_printf(out, "%sif [[ $cur == -*%s ]]; then\n", indent,
		   c->operands ? "" : " || -z $cur");
	buf_printf(out, "%s\tCOMPREPLY=($(compgen -W ", indent);
	sh_quote(out, w.data + 1);
	buf_addstr(out, " -- \"$cur\"))\n");
	buf_reset(&w);
	if (c->subcommands)
		for (const struct command *const *sub = c->subcommands; *sub; sub++)
			buf_printf(&w, "%s%s", w.len ? " " : "", cli_command_word(*sub));
	else
		value_words(c->operand_complete, &w);
	if (is_files(c->operand_complete)) {
		buf_printf(out, "%selse\n%s\t__flipper_files\n", indent, indent);
	} else if (w.len) {
		buf_printf(out, "%selse\n%s\tCOMPREPLY=($(compgen -W ", indent, indent);
		sh_quote(out, w.data);
		buf_addstr(out, " -- \"$cur\"))\n");
	}
	buf_printf(out, "%sfi", indent);
	buf_release(&w);
}

/* The arm of a command of subcommands: find the subcommand after it. */
static void bash_subcommands(const struct command *c, struct buf *out)
{
	buf_addstr(out,
		"\t\tlocal sub= j\n"
		"\t\tfor ((j = i + 1; j < COMP_CWORD; j++)); do\n"
		"\t\t\tcase ${COMP_WORDS[j]} in\n"
		"\t\t\t");
	bash_valued_globals(out);
	buf_addstr(out,
		")\n"
		"\t\t\t\t[[ ${COMP_WORDS[j+1]} == = ]] && ((j++))\n"
		"\t\t\t\t((j++)) ;;\n"
		"\t\t\t-*) ;;\n"
		"\t\t\t*) sub=${COMP_WORDS[j]}; break ;;\n"
		"\t\t\tesac\n"
		"\t\tdone\n"
		"\t\tcase $sub in\n");
	for (const struct command *const *sub = c->subcommands; *sub; sub++) {
		buf_printf(out, "\t\t%s)\n", cli_command_word(*sub));
		bash_command_body(*sub, out, "\t\t\t");
		buf_addstr(out, " ;;\n");
	}
	buf_addstr(out, "\t\t*)\n");
	bash_command_body(c, out, "\t\t\t");
	buf_addstr(out, " ;;\n\t\tesac ;;\n");
}

static void bash_script(struct buf *out)
{
	struct buf seen = BUF_INIT, w = BUF_INIT;

	buf_addstr(out,
		"# bash completion for flipper(1).\n"
		"# Generated by `flipper completion bash` from flipper's option tables.\n"
		"\n"
		"__flipper_files()\n"
		"{\n"
		"\tlocal IFS=$'\\n'\n"
		"\tcompopt -o filenames 2>/dev/null\n"
		"\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n"
		"}\n"
		"\n"
		"_flipper()\n"
		"{\n"
		"\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
		"\tlocal cmd= i w\n"
		"\t# bash splits \"--opt=value\" at the '=' (COMP_WORDBREAKS).\n"
		"\tif [[ $cur == = ]]; then\n"
		"\t\tcur=\n"
		"\telif [[ $prev == = && COMP_CWORD -ge 2 ]]; then\n"
		"\t\tprev=${COMP_WORDS[COMP_CWORD-2]}\n"
		"\tfi\n"
		"\t# The command: the first word that is not an option or a global\n"
		"\t# option's value.\n"
		"\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
		"\t\tw=${COMP_WORDS[i]}\n"
		"\t\tcase $w in\n"
		"\t\t");
	bash_valued_globals(out);
	buf_addstr(out,
		")\n"
		"\t\t\t[[ ${COMP_WORDS[i+1]} == = ]] && ((i++))\n"
		"\t\t\t((i++)) ;;\n"
		"\t\t-*) ;;\n"
		"\t\t*) cmd=$w; break ;;\n"
		"\t\tesac\n"
		"\tdone\n"
		"\t# The value of an option.\n"
		"\tcase $prev in\n");
	for (const struct opt *o = cli_global_opts; o->type != OPT_END; o++)
		bash_value_arm(o, out, &seen);
	for (size_t i = 0; i < cli_n_commands; i++) {
		for (const struct opt *o = cli_commands[i]->opts; o->type != OPT_END; o++)
			bash_value_arm(o, out, &seen);
		for (const struct command *const *sub = cli_commands[i]->subcommands; sub && *sub;
		     sub++)
			for (const struct opt *o = (*sub)->opts; o->type != OPT_END; o++)
				bash_value_arm(o, out, &seen);
	}
	buf_addstr(out,
		"\tesac\n"
		"\tif [[ -z $cmd ]]; then\n"
		"\t\tif [[ $cur == -* ]]; then\n"
		"\t\t\tCOMPREPLY=($(compgen -W ");
	bash_words(cli_global_opts, &w);
	buf_addstr(&w, " -h --help -v --version");
	sh_quote(out, w.data + 1);
	buf_addstr(out,
		" -- \"$cur\"))\n"
		"\t\telse\n"
		"\t\t\tCOMPREPLY=($(compgen -W ");
	buf_reset(&w);
	command_names(&w);
	sh_quote(out, w.data);
	buf_addstr(out,
		" -- \"$cur\"))\n"
		"\t\tfi\n"
		"\t\treturn\n"
		"\tfi\n"
		"\tcase $cmd in\n");
	for (size_t i = 0; i < cli_n_commands; i++) {
		const struct command *c = cli_commands[i];
		buf_printf(out, "\t%s)\n", c->name);
		if (c->subcommands) {
			bash_subcommands(c, out);
			continue;
		}
		bash_command_body(c, out, "\t\t");
		buf_addstr(out, " ;;\n");
	}
	buf_addstr(out,
		"\tesac\n"
		"}\n"
		"\n"
		"complete -F _flipper flipper\n");
	buf_release(&seen);
	buf_release(&w);
}

/* ---- zsh ------------------------------------------------------------------ */

/* Text inside an _arguments [explanation] or a _describe item. */
static void zsh_text(struct buf *out, const char *help)
{
	struct buf s = BUF_INIT;
	summary(help, &s);
	for (size_t i = 0; i < s.len; i++) {
		char c = s.data[i];
		if (c == '\'')
			buf_addstr(out, "'\\''");
		else if (strchr("[]:\\", c)) {
			buf_addch(out, '\\');
			buf_addch(out, c);
		} else {
			buf_addch(out, c);
		}
	}
	buf_release(&s);
}

/* The action completing a value: files, a word list, or nothing. */
static void zsh_action(struct buf *out, const char *complete)
{
	if (is_files(complete)) {
		buf_addstr(out, "_files");
	} else if (complete) {
		buf_addch(out, '(');
		value_words(complete, out);
		buf_addch(out, ')');
	} else {
		buf_addch(out, ' ');
	}
}

static void zsh_opt_specs(const struct opt *opts, struct buf *out, const char *indent)
{
	for (const struct opt *o = opts; o->type != OPT_END; o++) {
		const char *repeat = o->type == OPT_LIST ? "*" : "";
		const char *value = o->type == OPT_FLAG ? "" : "=";
		buf_addstr(out, indent);
		if (o->short_name)
			buf_printf(out, "'(-%c --%s)'{%s-%c%s,%s--%s%s}'[", o->short_name, o->long_name,
				   repeat, o->short_name, *value ? "+" : "", repeat, o->long_name, value);
		else
			buf_printf(out, "'%s--%s%s[", repeat, o->long_name, value);
		zsh_text(out, o->help);
		buf_addch(out, ']');
		if (o->type != OPT_FLAG) {
			buf_printf(out, ":%s:", o->arg);
			zsh_action(out, o->complete);
		}
		buf_addstr(out, "'\n");
	}
}

/* `_arguments` for a command's options and operands, one spec a line. */
static void zsh_arguments(const struct command *c, struct buf *out, const char *indent)
{
	struct buf specs = BUF_INIT, in = BUF_INIT;
	buf_printf(&in, "%s\t", indent);
	buf_printf(out, "%s_arguments $globals \\\n", indent);
	zsh_opt_specs(c->opts, &specs, in.data);
	/* One spec per line, each continued. */
	for (size_t k = 0; k < specs.len; k++) {
		if (specs.data[k] == '\n')
			buf_addstr(out, " \\");
		buf_addch(out, specs.data[k]);
	}
	buf_printf(out, "%s'(- *)'{-h,--help}'[show this help]'", in.data);
	if (c->operands) {
		/* The message: the operand's name, without [optional] brackets. */
		buf_printf(out, " \\\n%s'*:", in.data);
		for (const char *p = c->operands; *p; p++)
			if (*p != '[' && *p != ']')
				buf_addch(out, *p);
		buf_addch(out, ':');
		zsh_action(out, c->operand_complete);
		buf_addch(out, '\'');
	}
	buf_addstr(out, " && ret=0\n");
	buf_release(&specs);
	buf_release(&in);
}

/* A command of subcommands: their words first, then the chosen one's arguments. */
static void zsh_subcommands(const struct command *c, struct buf *out)
{
	buf_addstr(out,
		"\t\t\t_arguments -C $globals \\\n"
		"\t\t\t\t'(- *)'{-h,--help}'[show this help]' \\\n"
		"\t\t\t\t'1:subcommand:->subcommand' \\\n"
		"\t\t\t\t'*::argument:->subargument' && ret=0\n"
		"\t\t\tcase $state in\n"
		"\t\t\tsubcommand)\n"
		"\t\t\t\tlocal -a subcommands\n"
		"\t\t\t\tsubcommands=(\n");
	for (const struct command *const *sub = c->subcommands; *sub; sub++) {
		buf_printf(out, "\t\t\t\t\t'%s:", cli_command_word(*sub));
		zsh_text(out, (*sub)->summary);
		buf_addstr(out, "'\n");
	}
	buf_printf(out,
		"\t\t\t\t)\n"
		"\t\t\t\t_describe -t commands 'flipper %s subcommand' subcommands && ret=0\n"
		"\t\t\t\t;;\n"
		"\t\t\tsubargument)\n"
		"\t\t\t\tcurcontext=${curcontext%%:*:*}:flipper-%s-$words[1]:\n"
		"\t\t\t\tcase $words[1] in\n", c->name, c->name);
	for (const struct command *const *sub = c->subcommands; *sub; sub++) {
		buf_printf(out, "\t\t\t\t%s)\n", cli_command_word(*sub));
		zsh_arguments(*sub, out, "\t\t\t\t\t");
		buf_addstr(out, "\t\t\t\t\t;;\n");
	}
	buf_addstr(out,
		"\t\t\t\tesac\n"
		"\t\t\t\t;;\n"
		"\t\t\tesac\n");
}

static void zsh_script(struct buf *out)
{
	buf_addstr(out,
		"#compdef flipper\n"
		"# zsh completion for flipper(1).\n"
		"# Generated by `flipper completion zsh` from flipper's option tables.\n"
		"\n"
		"_flipper() {\n"
		"\tlocal curcontext=$curcontext state state_descr line ret=1\n"
		"\ttypeset -A opt_args\n"
		"\tlocal -a globals commands\n"
		"\tglobals=(\n");
	zsh_opt_specs(cli_global_opts, out, "\t\t");
	buf_addstr(out, "\t)\n\tcommands=(\n");
	for (size_t i = 0; i < cli_n_commands; i++) {
		buf_printf(out, "\t\t'%s:", cli_commands[i]->name);
		zsh_text(out, cli_commands[i]->summary);
		buf_addstr(out, "'\n");
	}
	buf_addstr(out,
		"\t)\n"
		"\t_arguments -C $globals \\\n"
		"\t\t'(- *)'{-h,--help}'[print the usage]' \\\n"
		"\t\t'(- *)'{-v,--version}'[print the version]' \\\n"
		"\t\t'1:command:->command' \\\n"
		"\t\t'*::argument:->argument' && ret=0\n"
		"\tcase $state in\n"
		"\tcommand)\n"
		"\t\t_describe -t commands 'flipper command' commands && ret=0\n"
		"\t\t;;\n"
		"\targument)\n"
		"\t\tcurcontext=${curcontext%:*:*}:flipper-$words[1]:\n"
		"\t\tcase $words[1] in\n");
	for (size_t i = 0; i < cli_n_commands; i++) {
		const struct command *c = cli_commands[i];
		buf_printf(out, "\t\t%s)\n", c->name);
		if (c->subcommands)
			zsh_subcommands(c, out);
		else
			zsh_arguments(c, out, "\t\t\t");
		buf_addstr(out, "\t\t\t;;\n");
	}
	buf_addstr(out,
		"\t\tesac\n"
		"\t\t;;\n"
		"\tesac\n"
		"\treturn ret\n"
		"}\n"
		"\n"
		"# Autoloaded from $fpath: complete now. Sourced: register.\n"
		"if [[ $funcstack[1] == _flipper ]]; then\n"
		"\t_flipper \"$@\"\n"
		"else\n"
		"\tcompdef _flipper flipper\n"
		"fi\n");
}

/* ---- fish ----------------------------------------------------------------- */

/* A fish single-quoted string: \ and ' escaped. */
static void fish_quote(struct buf *out, const char *s, size_t n)
{
	buf_addch(out, '\'');
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\'' || s[i] == '\\')
			buf_addch(out, '\\');
		buf_addch(out, s[i]);
	}
	buf_addch(out, '\'');
}

static void fish_desc(struct buf *out, const char *help)
{
	struct buf s = BUF_INIT;
	summary(help, &s);
	buf_addstr(out, " -d ");
	fish_quote(out, s.len ? s.data : "", s.len);
	buf_release(&s);
}

static void fish_opts(const struct opt *opts, const char *cond, struct buf *out)
{
	for (const struct opt *o = opts; o->type != OPT_END; o++) {
		buf_addstr(out, "complete -c flipper");
		if (cond)
			buf_printf(out, " -n '%s'", cond);
		if (o->short_name)
			buf_printf(out, " -s %c", o->short_name);
		buf_printf(out, " -l %s", o->long_name);
		if (is_files(o->complete)) {
			buf_addstr(out, " -r -F");
		} else if (o->type != OPT_FLAG) {
			struct buf w = BUF_INIT;
			value_words(o->complete, &w);
			buf_addstr(out, " -x");
			if (w.len) {
				buf_addstr(out, " -a ");
				fish_quote(out, w.data, w.len);
			}
			buf_release(&w);
		}
		fish_desc(out, o->help);
		buf_addch(out, '\n');
	}
}

/* " -c --config --state ...": the global options that take a value. */
static void fish_valued_globals(struct buf *out)
{
	for (const struct opt *o = cli_global_opts; o->type != OPT_END; o++) {
		if (o->type == OPT_FLAG)
			continue;
		if (o->short_name)
			buf_printf(out, " -%c", o->short_name);
		buf_printf(out, " --%s", o->long_name);
	}
}

/* A command's (or subcommand's) options, help and operands under cond. */
static void fish_command(const struct command *c, const char *cond, struct buf *out)
{
	fish_opts(c->opts, cond, out);
	buf_printf(out, "complete -c flipper -n '%s' -s h -l help -d 'show this help'\n", cond);
	if (c->subcommands) {
		for (const struct command *const *sub = c->subcommands; *sub; sub++) {
			buf_printf(out, "complete -c flipper -n '%s' -x -a %s", cond,
				   cli_command_word(*sub));
			fish_desc(out, (*sub)->summary);
			buf_addch(out, '\n');
		}
		for (const struct command *const *sub = c->subcommands; *sub; sub++) {
			struct buf subcond = BUF_INIT;
			buf_printf(&subcond, "__flipper_using_sub %s %s", c->name,
				   cli_command_word(*sub));
			fish_command(*sub, subcond.data, out);
			buf_release(&subcond);
		}
	} else if (is_files(c->operand_complete)) {
		buf_printf(out, "complete -c flipper -n '%s' -F\n", cond);
	} else if (c->operand_complete) {
		struct buf w = BUF_INIT;
		value_words(c->operand_complete, &w);
		buf_printf(out, "complete -c flipper -n '%s' -x -a ", cond);
		fish_quote(out, w.data, w.len);
		buf_addch(out, '\n');
		buf_release(&w);
	}
}

static void fish_script(struct buf *out)
{
	buf_addstr(out,
		"# fish completion for flipper(1).\n"
		"# Generated by `flipper completion fish` from flipper's option tables.\n"
		"\n"
		"# The command: the first word that is not an option or a global\n"
		"# option's value.\n"
		"function __flipper_command\n"
		"\tset -l skip 0\n"
		"\tfor w in (commandline -opc)[2..-1]\n"
		"\t\tif test $skip = 1\n"
		"\t\t\tset skip 0\n"
		"\t\t\tcontinue\n"
		"\t\tend\n"
		"\t\tswitch $w\n"
		"\t\t\tcase");
	fish_valued_globals(out);
	buf_addstr(out,
		"\n"
		"\t\t\t\tset skip 1\n"
		"\t\t\tcase '-*'\n"
		"\t\t\tcase '*'\n"
		"\t\t\t\techo $w\n"
		"\t\t\t\treturn 0\n"
		"\t\tend\n"
		"\tend\n"
		"\treturn 1\n"
		"end\n"
		"\n"
		"function __flipper_using\n"
		"\tset -l c (__flipper_command)\n"
		"\tand test \"$c\" = $argv[1]\n"
		"end\n"
		"\n"
		"# The subcommand: the next such word after the command.\n"
		"function __flipper_subcommand\n"
		"\tset -l skip 0\n"
		"\tset -l words 0\n"
		"\tfor w in (commandline -opc)[2..-1]\n"
		"\t\tif test $skip = 1\n"
		"\t\t\tset skip 0\n"
		"\t\t\tcontinue\n"
		"\t\tend\n"
		"\t\tswitch $w\n"
		"\t\t\tcase");
	fish_valued_globals(out);
	buf_addstr(out,
		"\n"
		"\t\t\t\tset skip 1\n"
		"\t\t\tcase '-*'\n"
		"\t\t\tcase '*'\n"
		"\t\t\t\tset words (math $words + 1)\n"
		"\t\t\t\tif test $words = 2\n"
		"\t\t\t\t\techo $w\n"
		"\t\t\t\t\treturn 0\n"
		"\t\t\t\tend\n"
		"\t\tend\n"
		"\tend\n"
		"\treturn 1\n"
		"end\n"
		"\n"
		"function __flipper_using_sub\n"
		"\tset -l s (__flipper_subcommand)\n"
		"\tand __flipper_using $argv[1]\n"
		"\tand test \"$s\" = $argv[2]\n"
		"end\n"
		"\n"
		"complete -c flipper -f\n");
	fish_opts(cli_global_opts, NULL, out);
	buf_addstr(out,
		"complete -c flipper -n 'not __flipper_command' -s h -l help -d 'print the usage'\n"
		"complete -c flipper -n 'not __flipper_command' -s v -l version -d 'print the version'\n");
	for (size_t i = 0; i < cli_n_commands; i++) {
		const struct command *c = cli_commands[i];
		buf_printf(out, "complete -c flipper -n 'not __flipper_command' -a %s", c->name);
		fish_desc(out, c->summary);
		buf_addch(out, '\n');
	}
	for (size_t i = 0; i < cli_n_commands; i++) {
		const struct command *c = cli_commands[i];
		struct buf cond = BUF_INIT;
		buf_printf(&cond, "__flipper_using %s", c->name);
		/* A subcommand's options belong to it, not to its parent. */
		if (c->subcommands)
			buf_addstr(&cond, "; and not __flipper_subcommand");
		fish_command(c, cond.data, out);
		buf_release(&cond);
	}
}

int completion_script(const char *shell, struct buf *out)
{
	if (strcmp(shell, "bash") == 0)
		bash_script(out);
	else if (strcmp(shell, "zsh") == 0)
		zsh_script(out);
	else if (strcmp(shell, "fish") == 0)
		fish_script(out);
	else
		return -1;
	return 0;
}
