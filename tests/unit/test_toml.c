/*
 * test_toml.c — the TOML reader on the things a flipper configuration
 * uses, and on where it says an error is.
 */
#include <math.h>
#include <stdlib.h>

#include "config.h"
#include "node.h"
#include "test.h"
#include "util.h"

static struct node *parse_len(const char *text, size_t len)
{
	struct diags d;
	struct node *root = (struct node *)1;
	diags_init(&d, NULL);
	int rc = toml_read(text, len, &root, &d);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(d.n, 0);
	for (size_t i = 0; i < d.n; i++)
		fprintf(stderr, "  unexpected error %d:%d: %s\n", d.list[i].line,
			d.list[i].col, d.list[i].msg);
	diags_release(&d);
	return rc == 0 ? root : NULL;
}

static struct node *parse(const char *text)
{
	return parse_len(text, strlen(text));
}

/* The document must be refused with one error at line:col whose text holds msg. */
static void expect_error_len(const char *text, size_t len, int line, int col, const char *msg)
{
	struct diags d;
	struct node *root = (struct node *)1;
	diags_init(&d, NULL);
	int rc = toml_read(text, len, &root, &d);
	CHECK_EQ_INT(rc, -1);
	CHECK(root == NULL);
	CHECK_EQ_INT(d.n, 1);
	CHECK_EQ_INT(d.errors, 1);
	if (d.n >= 1) {
		const struct diag *e = &d.list[0];
		if (e->line != line || e->col != col || !strstr(e->msg, msg))
			TEST_FAIL_("%.40s...: got %d:%d: %s, expected %d:%d: ...%s...", text,
				   e->line, e->col, e->msg, line, col, msg);
		CHECK(e->severity == DIAG_ERROR);
	}
	if (rc == 0)
		node_free(root);
	diags_release(&d);
}

static void expect_error(const char *text, int line, int col, const char *msg)
{
	expect_error_len(text, strlen(text), line, col, msg);
}

/* Follow a path of map keys and sequence indexes ("groups", "#0", "checks"). */
static const struct node *at(const struct node *n, const char *path)
{
	char *copy = xstrdup(path), *save = NULL;
	for (char *part = strtok_r(copy, ".", &save); n && part; part = strtok_r(NULL, ".", &save)) {
		if (part[0] == '#') {
			long i = strtol(part + 1, NULL, 10);
			n = n->type == NODE_SEQ && i >= 0 && (size_t)i < n->n ? n->items[i] : NULL;
		} else {
			n = node_get(n, part);
		}
	}
	free(copy);
	return n;
}

static int64_t int_at(const struct node *root, const char *path)
{
	const struct node *n = at(root, path);
	CHECK(n && n->type == NODE_INT);
	return n && n->type == NODE_INT ? n->v.i : -424242;
}

static const char *str_at(const struct node *root, const char *path)
{
	const struct node *n = at(root, path);
	CHECK(n && n->type == NODE_STRING);
	return n && n->type == NODE_STRING ? n->text : NULL;
}

TEST(config_shape)
{
	struct node *root = parse(
		"# flipper\n"
		"log_level = \"info\"\n"
		"\n"
		"[notify]\n"
		"mattermost = { url = \"http://127.0.0.1:9/hook\", channel = \"ops\" }\n"
		"\n"
		"[[groups]]\n"
		"id = \"web\"\n"
		"hetzner.api_token_file = \"/etc/flipper/token\"\n"
		"hetzner.server_selector = \"role=web\"\n"
		"\n"
		"  [[groups.checks]]\n"
		"  id = \"http\"\n"
		"  port = 8_080\n"
		"  expect = [200, \"300-399\"]\n"
		"\n"
		"  [[groups.checks]]\n"
		"  id = \"tls\"\n"
		"  headers = { Host = \"example.test\" }\n"
		"\n"
		"[[groups]]\n"
		"id = \"db\"\n"
		"readonly = true\n");
	if (!root)
		return;
	CHECK_EQ_INT(root->type, NODE_MAP);
	CHECK_EQ_INT(root->n, 3);
	CHECK_EQ_STR(root->items[0]->key, "log_level");
	CHECK_EQ_STR(root->items[1]->key, "notify");
	CHECK_EQ_STR(root->items[2]->key, "groups");
	CHECK_EQ_STR(str_at(root, "log_level"), "info");
	CHECK_EQ_STR(str_at(root, "notify.mattermost.channel"), "ops");

	const struct node *groups = at(root, "groups");
	CHECK(groups && groups->type == NODE_SEQ && groups->n == 2);
	CHECK_EQ_STR(str_at(root, "groups.#0.id"), "web");
	CHECK_EQ_STR(str_at(root, "groups.#0.hetzner.server_selector"), "role=web");
	CHECK_EQ_STR(str_at(root, "groups.#1.id"), "db");
	CHECK(at(root, "groups.#1.readonly") && at(root, "groups.#1.readonly")->v.b);
	CHECK(at(root, "groups.#1.checks") == NULL);

	const struct node *checks = at(root, "groups.#0.checks");
	CHECK(checks && checks->type == NODE_SEQ && checks->n == 2);
	CHECK_EQ_STR(str_at(root, "groups.#0.checks.#0.id"), "http");
	CHECK_EQ_INT(int_at(root, "groups.#0.checks.#0.port"), 8080);
	CHECK_EQ_STR(at(root, "groups.#0.checks.#0.port")->text, "8_080");
	CHECK_EQ_INT(int_at(root, "groups.#0.checks.#0.expect.#0"), 200);
	CHECK_EQ_STR(str_at(root, "groups.#0.checks.#0.expect.#1"), "300-399");
	CHECK_EQ_STR(str_at(root, "groups.#0.checks.#1.headers.Host"), "example.test");

	/* positions of values and keys */
	const struct node *port = at(root, "groups.#0.checks.#0.port");
	CHECK_EQ_INT(port->line, 14);
	CHECK_EQ_INT(port->col, 10);
	CHECK_EQ_INT(port->key_line, 14);
	CHECK_EQ_INT(port->key_col, 3);
	const struct node *sel = at(root, "groups.#0.hetzner.server_selector");
	CHECK_EQ_INT(sel->key_line, 10);
	CHECK_EQ_INT(sel->key_col, 9);
	CHECK_EQ_INT(sel->col, 27);
	const struct node *g1 = at(root, "groups.#1");
	CHECK_EQ_INT(g1->line, 21);
	CHECK_EQ_INT(g1->col, 1);
	CHECK_EQ_INT(groups->key_line, 7);
	CHECK_EQ_INT(groups->key_col, 3);
	node_free(root);
}

TEST(tables_and_dotted_keys)
{
	struct node *root = parse(
		"a.b.c = 1\n"
		"a.b.d = 2\n"
		"[x.y.z]\n"
		"v = 1\n"
		"[x]\n"              /* defines a table so far only implied */
		"w = 2\n"
		"[x.y]\n"
		"u = 3\n"
		"[fruit]\n"
		"apple.color = \"red\"\n"
		"[fruit.apple.texture]\n"
		"smooth = true\n");
	if (!root)
		return;
	CHECK_EQ_INT(int_at(root, "a.b.c"), 1);
	CHECK_EQ_INT(int_at(root, "a.b.d"), 2);
	CHECK_EQ_INT(int_at(root, "x.y.z.v"), 1);
	CHECK_EQ_INT(int_at(root, "x.w"), 2);
	CHECK_EQ_INT(int_at(root, "x.y.u"), 3);
	CHECK(at(root, "fruit.apple.texture.smooth")->v.b);
	/* [x] now sits where it was defined */
	CHECK_EQ_INT(at(root, "x")->line, 5);
	node_free(root);

	root = parse("t = { a.b = 1, a.c = { d = 2 } }\n\"quoted key\" = 'v'\n'lit.key' . bare = 3\n");
	if (!root)
		return;
	CHECK_EQ_INT(int_at(root, "t.a.b"), 1);
	CHECK_EQ_INT(int_at(root, "t.a.c.d"), 2);
	CHECK_EQ_STR(str_at(root, "quoted key"), "v");
	const struct node *lit = node_get(root, "lit.key");
	CHECK(lit && lit->type == NODE_MAP);
	CHECK_EQ_INT(int_at(lit, "bare"), 3);
	node_free(root);
}

TEST(strings)
{
	struct node *root = parse(
		"basic = \"tab\\there \\\"q\\\" \\u00e9 \\U0001F600 \\\\\"\n"
		"literal = 'C:\\Users\\n'\n"
		"ml = \"\"\"\n"
		"one\n"
		"two \\\n"
		"    three\"\"\"\n"
		"mll = '''\n"
		"raw \\n '' '''\n"
		"quotes = \"\"\"\"\"\"\"\"\n"
		"crlf = \"\"\"a\r\nb\"\"\"\n"
		"empty = \"\"\n");
	if (!root)
		return;
	CHECK_EQ_STR(str_at(root, "basic"), "tab\there \"q\" \xc3\xa9 \xf0\x9f\x98\x80 \\");
	CHECK_EQ_STR(str_at(root, "literal"), "C:\\Users\\n");
	CHECK_EQ_STR(str_at(root, "ml"), "one\ntwo three");
	CHECK_EQ_STR(str_at(root, "mll"), "raw \\n '' ");
	CHECK_EQ_STR(str_at(root, "quotes"), "\"\"");
	CHECK_EQ_STR(str_at(root, "crlf"), "a\nb");
	CHECK_EQ_STR(str_at(root, "empty"), "");
	CHECK_EQ_INT(at(root, "empty")->text_len, 0);
	node_free(root);
}

TEST(string_with_nul)
{
	struct node *root = parse("s = \"a\\u0000b\"\n\"k\\u0000\" = 1\n\"k\" = 2\n");
	if (!root)
		return;
	const struct node *s = at(root, "s");
	CHECK(s && s->type == NODE_STRING);
	CHECK_EQ_INT(s->text_len, 3);
	CHECK(s->text && memcmp(s->text, "a\0b", 4) == 0);
	/* "k\0" and "k" are different keys */
	CHECK_EQ_INT(root->n, 3);
	node_free(root);
}

TEST(integers_and_floats)
{
	struct node *root = parse(
		"dec = +99\n"
		"neg = -17\n"
		"zero = -0\n"
		"under = 1_000_000\n"
		"hex = 0xDEAD_beef\n"
		"oct = 0o755\n"
		"bin = 0b1101_0110\n"
		"max = 9223372036854775807\n"
		"min = -9223372036854775808\n"
		"hexmax = 0x7fffffffffffffff\n"
		"f1 = 3.1415\n"
		"f2 = -1e-3\n"
		"f3 = 6.626_070e-34\n"
		"f4 = -inf\n"
		"f5 = nan\n"
		"yes = true\n"
		"no = false\n");
	if (!root)
		return;
	CHECK_EQ_INT(int_at(root, "dec"), 99);
	CHECK_EQ_INT(int_at(root, "neg"), -17);
	CHECK_EQ_INT(int_at(root, "zero"), 0);
	CHECK_EQ_INT(int_at(root, "under"), 1000000);
	CHECK_EQ_INT(int_at(root, "hex"), 0xdeadbeef);
	CHECK_EQ_STR(at(root, "hex")->text, "0xDEAD_beef");
	CHECK_EQ_INT(int_at(root, "oct"), 0755);
	CHECK_EQ_INT(int_at(root, "bin"), 0xd6);
	CHECK(int_at(root, "max") == INT64_MAX);
	CHECK(int_at(root, "min") == INT64_MIN);
	CHECK(int_at(root, "hexmax") == INT64_MAX);
	CHECK(at(root, "f1")->type == NODE_FLOAT && at(root, "f1")->v.f == 3.1415);
	CHECK(at(root, "f2")->v.f == -1e-3);
	CHECK(at(root, "f3")->v.f == 6.626070e-34);
	CHECK(isinf(at(root, "f4")->v.f) && at(root, "f4")->v.f < 0);
	CHECK(isnan(at(root, "f5")->v.f));
	CHECK(at(root, "yes")->type == NODE_BOOL && at(root, "yes")->v.b);
	CHECK(at(root, "no")->type == NODE_BOOL && !at(root, "no")->v.b);
	node_free(root);
}

TEST(datetimes)
{
	struct node *root = parse(
		"odt = 1979-05-27 07:32:00.5z\n"
		"off = 1979-05-27T00:32:00-07:00\n"
		"ldt = 1979-05-27t07:32:00\n"
		"ld = 2024-02-29 # leap day\n"
		"lt = 23:59:60.999\n");
	if (!root)
		return;
	const struct node *n = at(root, "odt");
	CHECK(n->type == NODE_DATETIME && n->dt_kind == DT_OFFSET);
	CHECK_EQ_STR(n->text, "1979-05-27T07:32:00.5Z");
	CHECK_EQ_STR(at(root, "off")->text, "1979-05-27T00:32:00-07:00");
	CHECK(at(root, "ldt")->dt_kind == DT_LOCAL);
	CHECK_EQ_STR(at(root, "ldt")->text, "1979-05-27T07:32:00");
	CHECK(at(root, "ld")->dt_kind == DT_DATE);
	CHECK_EQ_STR(at(root, "ld")->text, "2024-02-29");
	CHECK(at(root, "lt")->dt_kind == DT_TIME);
	CHECK_EQ_STR(at(root, "lt")->text, "23:59:60.999");
	node_free(root);
}

TEST(empty_and_bom)
{
	struct node *root = parse("");
	CHECK(root && root->type == NODE_MAP && root->n == 0);
	node_free(root);
	root = parse_len(NULL, 0);
	CHECK(root && root->n == 0);
	node_free(root);
	root = parse("\xef\xbb\xbfkey = 1\r\n");
	if (root) {
		CHECK_EQ_INT(int_at(root, "key"), 1);
		CHECK_EQ_INT(root->items[0]->key_col, 1);
		node_free(root);
	}
}

TEST(error_positions)
{
	expect_error("port = 1\nname = \"x\"\nport = 2\n", 3, 1, "duplicate key \"port\"");
	expect_error("[a]\nb = 1\n[a]\n", 3, 2, "table \"a\" already defined");
	expect_error("s = \"bad \\q escape\"\n", 1, 10, "invalid escape sequence \\q");
	expect_error("s = \"\\uD800\"\n", 1, 6, "not a unicode scalar value");
	expect_error("s = \"open\nt = 1\n", 1, 10, "newline in single-line string");
	expect_error("s = \"\"\"never closed\n", 1, 5, "unterminated multi-line string");
	expect_error("a = 1\rb = 2\n", 1, 6, "carriage return");
	expect_error("# comment \x01\n", 1, 11, "control character U+0001 in comment");
	expect_error("k = \"\xc3\xa9\" \xff\n", 1, 9, "invalid utf-8");
	expect_error("d = 2023-02-29\n", 1, 5, "invalid date: no such month or day");
	expect_error("d = 2024-02-30\n", 1, 5, "invalid date");
	expect_error("t = 24:00:00\n", 1, 5, "invalid time");
	expect_error("n = 012\n", 1, 5, "leading zeros");
	expect_error("n = 1__2\n", 1, 5, "invalid number");
	expect_error("n = _1\n", 1, 5, "invalid value: not a number, boolean or date (a string needs quotes)");
	expect_error("n = 9223372036854775808\n", 1, 5, "out of range");
	expect_error("n = 0x8000000000000000\n", 1, 5, "out of range");
	expect_error("n = 1e999\n", 1, 5, "float out of range");
	expect_error("b = True\n", 1, 5, "invalid value");
	expect_error("x = 1 y = 2\n", 1, 7, "expected newline after value");
	expect_error("= 1\n", 1, 1, "expected a key");
	expect_error("a = \n", 1, 5, "expected a value");
	expect_error("a = [1, 2\n", 1, 5, "unterminated array");
	expect_error("a = [1 2]\n", 1, 8, "expected ',' or ']'");
	expect_error("a = {b = 1,}\n", 1, 12, "trailing comma");
	expect_error("a = {b = 1\n}\n", 1, 11, "newline in inline table");
	expect_error("a = {b = 1}\n[a]\n", 2, 2, "already defined");
	expect_error("a = {b = 1}\na.c = 2\n", 2, 1, "inline tables cannot be extended");
	expect_error("a = [1]\n[[a]]\n", 2, 3, "not an array of tables");
	expect_error("[[a]]\n[a]\n", 2, 2, "already an array of tables");
	expect_error("[a.b]\nz = 1\n[a]\nb.y = 2\n", 4, 1, "defined elsewhere");
	expect_error("[fruit]\napple.color = 1\n[fruit.apple]\n", 3, 8, "already defined");
	expect_error("a = 1\na.b = 2\n", 2, 1, "it is not a table");
	expect_error("k = \"\xc3\xa9\xc3\xa9\" x\n", 1, 10, "found 'x'");
	expect_error("\"\"\"k\"\"\" = 1\n", 1, 1, "multi-line string cannot be a key");
	expect_error("[a]]\n", 1, 4, "expected newline after table header");
	expect_error("[[a]\n", 1, 5, "']]'");
	/* a NUL byte in the text itself is a control character */
	expect_error_len("a = \"x\0y\"\n", 10, 1, 7, "control character U+0000 in string");
}

/*
 * A value written without quotes is as likely a secret as a typo (an
 * api_token, a webhook URL, a header value): its text is never quoted
 * back, whichever way it fails to be a value. The position still says
 * where it is.
 */
TEST(errors_never_quote_a_value)
{
	static const struct {
		const char *text, *secret;
		int col;
		const char *msg;
	} cases[] = {
		{ "api_token = tok-Zq8Xv3Lk9Pw2\n", "Zq8Xv3Lk9Pw2", 13, "a string needs quotes" },
		{ "api_token = 9f3Zq8Xv3Lk9Pw2\n", "9f3Zq8Xv3Lk9Pw2", 13, "invalid number" },
		{ "api_token = 0x9fZq8Xv3Lk9\n", "9fZq8Xv3Lk9", 13, "invalid integer" },
		{ "api_token = 012345678901234\n", "012345678901234", 13, "leading zeros" },
		{ "api_token = 98765432109876543210987\n", "98765432109876543210987", 13,
		  "integer out of range" },
		{ "api_token = 9e99999999\n", "9e99999999", 13, "float out of range" },
		{ "api_token = 2024-13-45Zq8X\n", "2024-13-45", 13, "invalid date" },
		{ "api_token = 23:61:00Zq8X\n", "23:61:00", 13, "invalid time" },
		{ "api_token = 2024-01-01T10:00:00+25:61\n", "+25:61", 32, "invalid time offset" },
		{ "[[groups.checks]]\nheaders = { X-Api-Key = k3y_Zq8Xv3Lk9 }\n", "Zq8Xv3Lk9", 25,
		  "a string needs quotes" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct diags d;
		struct node *root = NULL;
		diags_init(&d, NULL);
		CHECK_EQ_INT(toml_read(cases[i].text, strlen(cases[i].text), &root, &d), -1);
		CHECK_EQ_INT(d.n, 1);
		if (d.n == 1) {
			const struct diag *e = &d.list[0];
			if (strstr(e->msg, cases[i].secret) || !strstr(e->msg, cases[i].msg) ||
			    e->col != cases[i].col)
				TEST_FAIL_("%s: got col %d: %s", cases[i].text, e->col, e->msg);
		}
		diags_release(&d);
	}
}

TEST(depth_limit)
{
	struct buf b = BUF_INIT;
	buf_addstr(&b, "a = ");
	for (int i = 0; i < 127; i++)
		buf_addch(&b, '[');
	for (int i = 0; i < 127; i++)
		buf_addch(&b, ']');
	struct node *root = parse(b.data);
	CHECK(root != NULL);
	node_free(root);

	buf_reset(&b);
	buf_addstr(&b, "a = ");
	for (int i = 0; i < 100000; i++)
		buf_addch(&b, '[');
	expect_error(b.data, 1, 133, "nesting deeper than 128 levels");

	buf_reset(&b);
	buf_addstr(&b, "a = ");
	for (int i = 0; i < 100000; i++)
		buf_addstr(&b, "{b=");
	expect_error(b.data, 1, 387, "nesting deeper than 128 levels");

	buf_reset(&b);
	buf_addch(&b, '[');
	for (int i = 0; i < 200; i++)
		buf_addstr(&b, i ? ".k" : "k");
	buf_addstr(&b, "]\n");
	expect_error(b.data, 1, 260, "more than 128 parts");
	buf_release(&b);
}

TEST(big_table_is_fast)
{
	struct buf b = BUF_INIT;
	for (int i = 0; i < 100000; i++)
		buf_printf(&b, "key_%d = %d\n", i, i);
	int64_t t0 = mono_ms();
	struct node *root = parse(b.data);
	int64_t dt = mono_ms() - t0;
	CHECK(root && root->n == 100000);
	CHECK(dt < 5000);
	if (root)
		CHECK_EQ_INT(int_at(root, "key_99999"), 99999);
	node_free(root);

	/* a duplicate far into a big table is still found */
	buf_addstr(&b, "key_5 = 1\n");
	expect_error(b.data, 100001, 1, "duplicate key \"key_5\"");
	buf_release(&b);
}

int main(void)
{
	RUN(config_shape);
	RUN(tables_and_dotted_keys);
	RUN(strings);
	RUN(string_with_nul);
	RUN(integers_and_floats);
	RUN(datetimes);
	RUN(empty_and_bom);
	RUN(error_positions);
	RUN(errors_never_quote_a_value);
	RUN(depth_limit);
	RUN(big_table_is_fast);
	return test_report();
}
