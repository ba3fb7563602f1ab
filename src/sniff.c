/*
 * sniff.c — what a file at the state path looks like, from its first
 * bytes: empty, a SQLite database (and whose, by its application_id), a
 * configuration in one of the three formats, other text, binary data.
 * Pure; store.c words its refusals with it.
 */
#include <string.h>

#include "store.h"

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * UTF-8 without NUL and without control characters other than white
 * space. A sequence cut off by the end of the sample still counts.
 */
static bool looks_like_text(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		if (c < 0x80) {
			if ((c < 0x20 && !strchr("\t\n\r\f\v", c)) || c == 0 || c == 0x7f)
				return false;
			i++;
			continue;
		}
		size_t len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 :
			     c >= 0xf0 && c <= 0xf4 ? 4 : 0;
		if (!len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if (i + k >= n)
				return true;
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
		}
		i += len;
	}
	return true;
}

/* The first line that is neither blank nor a '#' comment; NULL if none. */
static const char *first_line(const char *s, size_t n, size_t *len)
{
	const char *end = s + n;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *eol = nl ? nl : end;
		const char *p = s;
		while (p < eol && (*p == ' ' || *p == '\t' || *p == '\r'))
			p++;
		if (p < eol && *p != '#') {
			*len = (size_t)(eol - p);
			return p;
		}
		s = nl ? nl + 1 : end;
	}
	return NULL;
}

static bool key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("_-.\"' ", c);
}

/* A configuration is the file most often named by mistake: say which kind. */
static const char *guess_text(const char *s, size_t n)
{
	size_t len = 0, i = 0;
	const char *l = first_line(s, n, &len);
	if (!l)
		return "text";
	if ((len >= 3 && memcmp(l, "---", 3) == 0) || (len >= 5 && memcmp(l, "%YAML", 5) == 0))
		return "YAML text";
	if (l[0] == '{')
		return "JSON text";
	if (l[0] == '[') {
		/* [table] or [[array.of.tables]], maybe with a comment, is TOML. */
		i = len > 1 && l[1] == '[' ? 2 : 1;
		size_t open = i;
		while (i < len && key_char(l[i]) && l[i] != '"')
			i++;
		if (i > open && i + open <= len && l[i] == ']' && (open == 1 || l[i + 1] == ']')) {
			i += open;
			while (i < len && (l[i] == ' ' || l[i] == '\t' || l[i] == '\r'))
				i++;
			if (i == len || l[i] == '#')
				return "TOML text";
		}
		return "JSON text";
	}
	if (len >= 2 && l[0] == '-' && (l[1] == ' ' || l[1] == '\t'))
		return "YAML text";
	while (i < len && key_char(l[i]))
		i++;
	if (i > 0 && i < len && l[i] == '=')
		return "TOML text";
	if (i > 0 && i < len && l[i] == ':' && (i + 1 == len || strchr(" \t\r", l[i + 1])))
		return "YAML text";
	return "text";
}

enum store_kind store_sniff(const void *head, size_t n, uint32_t *app_id, const char **what)
{
	static const char magic[16] = "SQLite format 3";   /* with its NUL */
	const unsigned char *h = head;

	*app_id = 0;
	if (n > STORE_SNIFF_BYTES)
		n = STORE_SNIFF_BYTES;
	if (n == 0) {
		*what = "an empty file";
		return STORE_KIND_EMPTY;
	}
	if (n >= sizeof magic && memcmp(h, magic, sizeof magic) == 0) {
		/* The header is 100 bytes; a shorter file cannot be opened. */
		if (n < 100) {
			*what = "a truncated SQLite database";
			return STORE_KIND_OTHER;
		}
		*app_id = be32(h + 68);
		*what = "a SQLite database";
		return STORE_KIND_SQLITE;
	}
	if (n >= 2 && h[0] == 0x1f && h[1] == 0x8b)
		*what = "gzip-compressed data";
	else if (looks_like_text(h, n))
		*what = guess_text(head, n);
	else
		*what = "binary data";
	return STORE_KIND_OTHER;
}
