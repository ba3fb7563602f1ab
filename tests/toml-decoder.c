/*
 * toml-decoder.c — the toml-test decoder for flipper's TOML reader.
 *
 * Reads TOML on stdin (at most DECODER_MAX bytes), prints the document
 * as tagged JSON on stdout and exits 0; or prints "line:col: message" on
 * stderr and exits 1.
 *
 * struct node keeps keys as C strings, so a key holding NUL ("\u0000")
 * would be cut short by node_to_json(). Until nodes carry a key length,
 * such keys are decoded again from the source (every map entry records
 * where its key starts) and the tree is written by a walker here that
 * leaves the scalars to node_to_json().
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "node.h"
#include "util.h"

#define DECODER_MAX (16u << 20)

struct source {
	const char *text;
	size_t len;
	size_t *lines;          /* offset of each line's start; lines[0] is line 1 */
	size_t nlines, cap;
	/* last source_offset() answer: keys come in order along a line */
	int last_line, last_col;
	size_t last_off;
};

static void source_index(struct source *s)
{
	size_t start = 0;
	if (s->len >= 3 && memcmp(s->text, "\xef\xbb\xbf", 3) == 0)
		start = 3;      /* the reader counts columns after the BOM */
	s->lines = xgrow(s->lines, &s->cap, 1, sizeof *s->lines);
	s->lines[s->nlines++] = start;
	for (size_t i = start; i < s->len; i++)
		if (s->text[i] == '\n') {
			s->lines = xgrow(s->lines, &s->cap, s->nlines + 1, sizeof *s->lines);
			s->lines[s->nlines++] = i + 1;
		}
}

/* Byte offset of (line, col), columns counted in characters. */
static size_t source_offset(struct source *s, int line, int col)
{
	if (line < 1 || (size_t)line > s->nlines)
		return s->len;
	size_t o = s->lines[line - 1];
	int c = 1;
	if (line == s->last_line && col >= s->last_col) {
		o = s->last_off;
		c = s->last_col;
	}
	for (; c < col && o < s->len; c++) {
		o++;
		while (o < s->len && ((unsigned char)s->text[o] & 0xc0) == 0x80)
			o++;
	}
	s->last_line = line;
	s->last_col = col;
	s->last_off = o;
	return o;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 0;
}

static void add_utf8(struct buf *b, unsigned long cp)
{
	if (cp < 0x80) {
		buf_addch(b, (char)cp);
	} else if (cp < 0x800) {
		buf_addch(b, (char)(0xc0 | cp >> 6));
		buf_addch(b, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		buf_addch(b, (char)(0xe0 | cp >> 12));
		buf_addch(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
		buf_addch(b, (char)(0x80 | (cp & 0x3f)));
	} else {
		buf_addch(b, (char)(0xf0 | cp >> 18));
		buf_addch(b, (char)(0x80 | ((cp >> 12) & 0x3f)));
		buf_addch(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
		buf_addch(b, (char)(0x80 | (cp & 0x3f)));
	}
}

/*
 * The bytes of the basic-string key starting at offset o, which the reader
 * has already accepted; 0 if the key there is not a basic string.
 */
static int basic_key_at(const struct source *s, size_t o, struct buf *out)
{
	const char *p = s->text + o, *end = s->text + s->len;
	if (p >= end || *p != '"')
		return 0;
	for (p++; p < end && *p != '"'; ) {
		if (*p != '\\') {
			buf_addch(out, *p++);
			continue;
		}
		char e = p + 1 < end ? p[1] : '\0';
		const char *simple = strchr("b\bt\tn\nf\fr\r\"\"\\\\", e);
		if (e == 'u' || e == 'U') {
			int nd = e == 'u' ? 4 : 8;
			unsigned long cp = 0;
			for (int i = 0; i < nd && p + 2 + i < end; i++)
				cp = cp << 4 | (unsigned long)hexval(p[2 + i]);
			add_utf8(out, cp);
			p += 2 + nd;
		} else if (e && simple) {
			buf_addch(out, simple[1]);
			p += 2;
		} else {
			return 0;
		}
	}
	return 1;
}

static void add_json_key(struct buf *out, const char *k, size_t len)
{
	buf_addch(out, '"');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)k[i];
		if (c == '"' || c == '\\')
			buf_printf(out, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			buf_printf(out, "\\u%04x", c);
		else
			buf_addch(out, (char)c);
	}
	buf_addch(out, '"');
}

/* Does any key below n hold a NUL that node_to_json() would lose? */
static int has_nul_key(struct source *s, const struct node *n)
{
	if (n->type != NODE_MAP && n->type != NODE_SEQ)
		return 0;
	for (size_t i = 0; i < n->n; i++) {
		const struct node *c = n->items[i];
		if (c->key) {
			struct buf k;
			buf_init(&k, 0);
			int cut = basic_key_at(s, source_offset(s, c->key_line, c->key_col), &k) &&
				  k.len != strlen(c->key);
			buf_release(&k);
			if (cut)
				return 1;
		}
		if (has_nul_key(s, c))
			return 1;
	}
	return 0;
}

static void write_json(struct source *s, const struct node *n, struct buf *out)
{
	if (n->type != NODE_MAP && n->type != NODE_SEQ) {
		node_to_json(n, out, true);
		return;
	}
	buf_addch(out, n->type == NODE_MAP ? '{' : '[');
	for (size_t i = 0; i < n->n; i++) {
		const struct node *c = n->items[i];
		if (i)
			buf_addch(out, ',');
		if (n->type == NODE_MAP) {
			struct buf k;
			buf_init(&k, 0);
			if (basic_key_at(s, source_offset(s, c->key_line, c->key_col), &k))
				add_json_key(out, k.data ? k.data : "", k.len);
			else
				add_json_key(out, c->key, strlen(c->key));
			buf_release(&k);
			buf_addch(out, ':');
		}
		write_json(s, c, out);
	}
	buf_addch(out, n->type == NODE_MAP ? '}' : ']');
}

static int read_stdin(struct buf *in)
{
	char chunk[65536];
	ssize_t n;
	while ((n = read(STDIN_FILENO, chunk, sizeof chunk)) != 0) {
		if (n < 0) {
			perror("toml-decoder: read");
			return -1;
		}
		if (buf_add(in, chunk, (size_t)n) < 0) {
			fprintf(stderr, "toml-decoder: input larger than %u bytes\n", DECODER_MAX);
			return -1;
		}
	}
	return 0;
}

int main(void)
{
	struct buf in, out;
	struct diags d;
	struct node *root;
	int status = 1;

	buf_init(&in, DECODER_MAX);
	buf_init(&out, 0);
	diags_init(&d, NULL);
	if (read_stdin(&in) < 0)
		goto done;
	if (toml_read(in.data, in.len, &root, &d) < 0) {
		for (size_t i = 0; i < d.n; i++) {
			char *msg = diag_format(&d, &d.list[i]);
			fprintf(stderr, "%s\n", msg);
			free(msg);
		}
		goto done;
	}

	/* only an escape can put NUL in a key */
	struct source src = { in.data ? in.data : "", in.len, NULL, 0, 0, 0, 0, 0 };
	bool maybe_nul = memmem(src.text, src.len, "\\u0000", 6) ||
			 memmem(src.text, src.len, "\\U00000000", 10);
	if (maybe_nul)
		source_index(&src);
	if (maybe_nul && has_nul_key(&src, root))
		write_json(&src, root, &out);
	else
		node_to_json(root, &out, true);
	free(src.lines);
	node_free(root);
	buf_addch(&out, '\n');
	if (fwrite(out.data, 1, out.len, stdout) == out.len && fflush(stdout) == 0)
		status = 0;
done:
	diags_release(&d);
	buf_release(&in);
	buf_release(&out);
	return status;
}
