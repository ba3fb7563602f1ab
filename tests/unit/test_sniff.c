/* sniff.c, store_sniff(): what a file at the state path looks like, from its first bytes. */
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "test.h"

static const char *what_of(const void *head, size_t n, enum store_kind want)
{
	uint32_t app = 1;
	const char *what = NULL;
	enum store_kind k = store_sniff(head, n, &app, &what);
	if (k != want)
		TEST_FAIL_("%.30s: kind %d, expected %d", (const char *)head, (int)k, (int)want);
	if (k != STORE_KIND_SQLITE)
		CHECK_EQ_INT(app, 0);
	return what ? what : "(null)";
}

static const char *text_kind(const char *s)
{
	return what_of(s, strlen(s), STORE_KIND_OTHER);
}

/* A 100-byte SQLite header with the given application_id. */
static void sqlite_header(unsigned char h[100], uint32_t app)
{
	memset(h, 0, 100);
	memcpy(h, "SQLite format 3", 16);
	h[16] = 0x10;
	h[18] = h[19] = 2;
	h[68] = (unsigned char)(app >> 24);
	h[69] = (unsigned char)(app >> 16);
	h[70] = (unsigned char)(app >> 8);
	h[71] = (unsigned char)app;
}

TEST(empty_and_sqlite)
{
	unsigned char h[100];
	uint32_t app = 0;
	const char *what = NULL;

	CHECK_EQ_STR(what_of("", 0, STORE_KIND_EMPTY), "an empty file");

	sqlite_header(h, STORE_APPLICATION_ID);
	CHECK_EQ_INT(store_sniff(h, sizeof h, &app, &what), STORE_KIND_SQLITE);
	CHECK_EQ_INT(app, STORE_APPLICATION_ID);
	CHECK_EQ_STR(what, "a SQLite database");

	sqlite_header(h, 0x00001234);
	CHECK_EQ_INT(store_sniff(h, sizeof h, &app, &what), STORE_KIND_SQLITE);
	CHECK_EQ_INT(app, 0x1234);

	/* A header cut short cannot be opened: not a database SQLite would read. */
	sqlite_header(h, STORE_APPLICATION_ID);
	CHECK_EQ_STR(what_of(h, 99, STORE_KIND_OTHER), "a truncated SQLite database");
	CHECK_EQ_STR(what_of(h, 15, STORE_KIND_OTHER), "text");
}

TEST(configurations_are_recognised)
{
	CHECK_EQ_STR(text_kind("version: 1\ngroups:\n"), "YAML text");
	CHECK_EQ_STR(text_kind("---\nversion: 1\n"), "YAML text");
	CHECK_EQ_STR(text_kind("%YAML 1.2\n---\n"), "YAML text");
	CHECK_EQ_STR(text_kind("# flipper\n\n  # indented comment\nversion: 1\n"), "YAML text");
	CHECK_EQ_STR(text_kind("- a\n- b\n"), "YAML text");
	CHECK_EQ_STR(text_kind("\"quoted key\": x\n"), "YAML text");
	CHECK_EQ_STR(text_kind("empty:\n"), "YAML text");

	CHECK_EQ_STR(text_kind("version = 1\n"), "TOML text");
	CHECK_EQ_STR(text_kind("# c\r\nservers.label_selector = \"x\"\r\n"), "TOML text");
	CHECK_EQ_STR(text_kind("[server]\nenabled = false\n"), "TOML text");
	CHECK_EQ_STR(text_kind("[[groups.checks]]  # the first\n"), "TOML text");
	CHECK_EQ_STR(text_kind("[ 'quoted table' ]\n"), "TOML text");

	CHECK_EQ_STR(text_kind("{\"version\": 1}"), "JSON text");
	CHECK_EQ_STR(text_kind("  \n{\n"), "JSON text");
	CHECK_EQ_STR(text_kind("[1, 2]\n"), "JSON text");
	CHECK_EQ_STR(text_kind("[\"a\"]\n"), "JSON text");
	CHECK_EQ_STR(text_kind("[]"), "JSON text");
	CHECK_EQ_STR(text_kind("[[H]"), "JSON text");
	CHECK_EQ_STR(text_kind("[[a]] x"), "JSON text");

	CHECK_EQ_STR(text_kind("hello world\n"), "text");
	CHECK_EQ_STR(text_kind("# only a comment\n\n"), "text");
	CHECK_EQ_STR(text_kind("http://example.com/x\n"), "text");
	CHECK_EQ_STR(text_kind("caf\xc3\xa9 au lait\n"), "text");
}

TEST(binary)
{
	static const unsigned char gz[] = { 0x1f, 0x8b, 0x08, 0x00, 'x' };
	static const unsigned char nul[] = { 'a', 0, 'b' };
	static const unsigned char elf[] = { 0x7f, 'E', 'L', 'F', 2, 1, 1 };
	CHECK_EQ_STR(what_of(gz, sizeof gz, STORE_KIND_OTHER), "gzip-compressed data");
	CHECK_EQ_STR(what_of(nul, sizeof nul, STORE_KIND_OTHER), "binary data");
	CHECK_EQ_STR(what_of(elf, sizeof elf, STORE_KIND_OTHER), "binary data");
	CHECK_EQ_STR(text_kind("bad \xff utf-8\n"), "binary data");
	CHECK_EQ_STR(text_kind("overlong \xc0\xaf\n"), "binary data");
	CHECK_EQ_STR(text_kind("bell \a\n"), "binary data");
}

TEST(only_the_first_bytes_count)
{
	/* A multi-byte character cut by the end of the sample is still text. */
	CHECK_EQ_STR(what_of("key: caf\xc3", 9, STORE_KIND_OTHER), "YAML text");
	/* Beyond STORE_SNIFF_BYTES nothing is looked at. */
	size_t n = STORE_SNIFF_BYTES + 10;
	char *big = malloc(n);
	memset(big, 'x', n);
	memcpy(big, "a = 1\n", 6);
	big[STORE_SNIFF_BYTES + 2] = '\0';
	CHECK_EQ_STR(what_of(big, n, STORE_KIND_OTHER), "TOML text");
	free(big);
}

int main(void)
{
	RUN(empty_and_sqlite);
	RUN(configurations_are_recognised);
	RUN(binary);
	RUN(only_the_first_bytes_count);
	return test_report();
}
