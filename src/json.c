/*
 * json.c — JSON configuration reader.
 *
 * cJSON decides what is valid JSON (and points at the first syntax
 * error); the tree itself is then built by the YAML reader, because JSON
 * is YAML flow syntax and libyaml keeps the line and column of every
 * value, which cJSON does not. Scalars are then marked as typed: in JSON
 * "5" is a string and 5 a number, unlike a YAML plain scalar.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static void mark_typed(struct node *n)
{
	n->plain = false;
	for (size_t i = 0; i < n->n; i++)
		mark_typed(n->items[i]);
}

static void position_of(const char *text, size_t off, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && text[i]; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)text[i] & 0xc0) != 0x80) {
			(*col)++;
		}
	}
}

static int hex4(const char *p, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
		else return -1;
	}
	*out = v;
	return 0;
}

/*
 * libyaml takes \uXXXX as one code point and rejects UTF-16 surrogate
 * pairs, which JSON uses for characters beyond the BMP. Rewrite each pair
 * as YAML's \UXXXXXXXX (two columns shorter; only later columns of that
 * line move). The input is valid JSON, so string boundaries are exact.
 */
static char *rewrite_surrogates(const char *text, size_t len, size_t *out_len)
{
	struct buf b;
	bool in_string = false;
	buf_init(&b, 0);
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (!in_string) {
			in_string = c == '"';
			buf_addch(&b, c);
			continue;
		}
		if (c == '"') {
			in_string = false;
		} else if (c == '\\' && i + 1 < len) {
			unsigned hi, lo;
			if (text[i + 1] == 'u' && i + 11 < len && hex4(text + i + 2, &hi) == 0 &&
			    hi >= 0xd800 && hi <= 0xdbff && text[i + 6] == '\\' && text[i + 7] == 'u' &&
			    hex4(text + i + 8, &lo) == 0 && lo >= 0xdc00 && lo <= 0xdfff) {
				unsigned cp = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
				buf_printf(&b, "\\U%08X", cp);
				i += 11;
				continue;
			}
			buf_addch(&b, c);
			buf_addch(&b, text[++i]);
			continue;
		}
		buf_addch(&b, c);
	}
	*out_len = b.len;
	return buf_detach(&b);
}

int json_read(const char *text, size_t len, struct node **out, struct diags *d)
{
	const char *end = NULL;
	*out = NULL;

	if (!text) {                 /* as toml_read and yaml_read: an empty document */
		text = "";
		len = 0;
	}
	if (memchr(text, '\0', len)) {
		diag_add(d, DIAG_ERROR, 0, 0, NULL, "invalid JSON: NUL byte in the file");
		return -1;
	}
	/* cJSON checks for trailing garbage only up to a NUL. */
	char *copy = xstrndup(text, len);
	cJSON *doc = cJSON_ParseWithOpts(copy, &end, true);
	if (end)
		end = text + (end - copy);
	free(copy);
	if (!doc) {
		int line, col;
		size_t off = end && end >= text ? (size_t)(end - text) : 0;
		if (off > len)
			off = len;
		position_of(text, off, &line, &col);
		diag_add(d, DIAG_ERROR, line, col, NULL, "invalid JSON");
		return -1;
	}
	cJSON_Delete(doc);

	/* libyaml rejects tabs where JSON allows them as whitespace in only
	 * a few block-context places; a JSON document is one flow node, so
	 * everything cJSON accepts is read here as well. */
	size_t ylen;
	char *ytext = rewrite_surrogates(text, len, &ylen);
	int rc = yaml_read(ytext, ylen, out, d);
	free(ytext);
	if (rc < 0)
		return -1;
	mark_typed(*out);
	return 0;
}
