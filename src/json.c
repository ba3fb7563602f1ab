/*
 * json.c — JSON text into the positioned document tree (see json.h).
 *
 * A recursive-descent reader of RFC 8259, written for the errors: every
 * problem is reported at the byte that causes it, in the same words for a
 * configuration and for a snapshot. Columns count characters, as the YAML
 * and TOML readers do (the TOML reader shares struct text_pos).
 */
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* The YAML reader's budget, so the configuration formats agree. */
#define CONFIG_MAX_NODES 200000

struct reader {
	const char *start, *p, *end;
	struct diags *d;
	size_t nodes, max_nodes;
	bool failed;
	struct text_pos pos;
};

static void position(struct reader *r, const char *q, int *line, int *col)
{
	text_pos_at(&r->pos, q, line, col);
}

static void *fail(struct reader *r, const char *q, const char *fmt, ...) PRINTF_LIKE(3, 4);

/* Report the first problem only: what follows it is not JSON anyway. */
static void *fail(struct reader *r, const char *q, const char *fmt, ...)
{
	if (r->failed)
		return NULL;
	r->failed = true;
	int line, col;
	position(r, q, &line, &col);
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	diag_add(r->d, DIAG_ERROR, line, col, NULL, "invalid JSON: %s", msg);
	free(msg);
	return NULL;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* What is at q is not what the grammar allows there. */
static void *unexpected(struct reader *r, const char *q)
{
	if (q >= r->end) {
		/* The input ended early: point just after its last token. */
		q = r->end;
		while (q > r->start && is_blank(q[-1]))
			q--;
		return fail(r, q, "unexpected end of input");
	}
	unsigned char c = (unsigned char)*q;
	if (c > 0x20 && c < 0x7f)
		return fail(r, q, "unexpected '%c'", c);
	return fail(r, q, "unexpected byte 0x%02x", c);
}

static void skip_blanks(struct reader *r)
{
	while (r->p < r->end && is_blank(*r->p))
		r->p++;
}

static int hex4(const char *p, const char *end, unsigned *out)
{
	unsigned v = 0;
	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* Length of the well-formed UTF-8 character at p, or 0. */
static size_t utf8_char(const unsigned char *p, const unsigned char *end)
{
	size_t n;
	unsigned cp;
	if (*p < 0x80)
		return 1;
	if ((*p & 0xe0) == 0xc0) {
		n = 2;
		cp = *p & 0x1f;
	} else if ((*p & 0xf0) == 0xe0) {
		n = 3;
		cp = *p & 0x0f;
	} else if ((*p & 0xf8) == 0xf0) {
		n = 4;
		cp = *p & 0x07;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	/* Overlong forms, surrogates and beyond U+10FFFF. */
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* One escape after the backslash at r->p; appends what it stands for. */
static bool escape(struct reader *r, struct buf *b)
{
	const char *bs = r->p++;
	if (r->p >= r->end) {
		unexpected(r, r->end);
		return false;
	}
	char c = *r->p++;
	switch (c) {
	case '"': buf_addch(b, '"'); return true;
	case '\\': buf_addch(b, '\\'); return true;
	case '/': buf_addch(b, '/'); return true;
	case 'b': buf_addch(b, '\b'); return true;
	case 'f': buf_addch(b, '\f'); return true;
	case 'n': buf_addch(b, '\n'); return true;
	case 'r': buf_addch(b, '\r'); return true;
	case 't': buf_addch(b, '\t'); return true;
	case 'u': break;
	default:
		if ((unsigned char)c > 0x20 && (unsigned char)c < 0x7f)
			fail(r, bs, "invalid escape '\\%c'", c);
		else
			fail(r, bs, "invalid escape");
		return false;
	}
	unsigned cp, lo;
	if (hex4(r->p, r->end, &cp) < 0) {
		fail(r, bs, "\\u needs four hex digits");
		return false;
	}
	r->p += 4;
	if (cp >= 0xdc00 && cp <= 0xdfff) {
		fail(r, bs, "unpaired surrogate \\u%04x", cp);
		return false;
	}
	if (cp >= 0xd800 && cp <= 0xdbff) {
		/* A character beyond the BMP: a high and a low surrogate. */
		if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u' ||
		    hex4(r->p + 2, r->end, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff) {
			fail(r, bs, "unpaired surrogate \\u%04x", cp);
			return false;
		}
		r->p += 6;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	buf_add_utf8(b, cp);
	return true;
}

/* The string whose opening quote is at r->p: owned text, its length. */
static char *string(struct reader *r, size_t *len)
{
	struct buf b = BUF_INIT;
	r->p++;
	for (;;) {
		const char *run = r->p;
		while (r->p < r->end && *r->p != '"' && *r->p != '\\' &&
		       (unsigned char)*r->p >= 0x20 && (unsigned char)*r->p < 0x80)
			r->p++;
		buf_add(&b, run, (size_t)(r->p - run));
		if (r->p >= r->end) {
			unexpected(r, r->end);
			break;
		}
		unsigned char c = (unsigned char)*r->p;
		if (c == '"') {
			r->p++;
			*len = b.len;
			return buf_detach(&b);
		}
		if (c == '\\') {
			if (!escape(r, &b))
				break;
			continue;
		}
		if (c < 0x20) {
			fail(r, r->p, "control character 0x%02x in a string (write it as \\u%04x)",
			     c, c);
			break;
		}
		size_t n = utf8_char((const unsigned char *)r->p, (const unsigned char *)r->end);
		if (!n) {
			fail(r, r->p, "invalid UTF-8 (byte 0x%02x)", c);
			break;
		}
		buf_add(&b, r->p, n);
		r->p += n;
	}
	buf_release(&b);
	return NULL;
}

static bool digit(const char *p, const char *end)
{
	return p < end && *p >= '0' && *p <= '9';
}

static struct node *number(struct reader *r, int line, int col)
{
	const char *s = r->p;
	bool integer = true;
	if (*r->p == '-')
		r->p++;
	if (!digit(r->p, r->end))
		return unexpected(r, r->p);
	if (*r->p == '0')
		r->p++;
	else
		while (digit(r->p, r->end))
			r->p++;
	if (r->p < r->end && *r->p == '.') {
		integer = false;
		r->p++;
		if (!digit(r->p, r->end))
			return unexpected(r, r->p);
		while (digit(r->p, r->end))
			r->p++;
	}
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
		integer = false;
		r->p++;
		if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
			r->p++;
		if (!digit(r->p, r->end))
			return unexpected(r, r->p);
		while (digit(r->p, r->end))
			r->p++;
	}
	struct node *n = node_new(NODE_INT, line, col);
	n->text_len = (size_t)(r->p - s);
	n->text = xstrndup(s, n->text_len);
	errno = 0;
	long long v = integer ? strtoll(n->text, NULL, 10) : 0;
	if (integer && !errno) {
		n->v.i = v;
	} else {
		/* Beyond int64 it is a float, as most JSON readers see it. */
		n->type = NODE_FLOAT;
		n->v.f = strtod(n->text, NULL);
	}
	return n;
}

static struct node *value(struct reader *r, int depth);

static struct node *container(struct reader *r, int depth, int line, int col)
{
	bool is_map = *r->p == '{';
	char close = is_map ? '}' : ']';
	if (depth >= JSON_MAX_DEPTH)
		return fail(r, r->p, "nesting deeper than %d levels", JSON_MAX_DEPTH);
	struct node *n = node_new(is_map ? NODE_MAP : NODE_SEQ, line, col);
	r->p++;
	skip_blanks(r);
	if (r->p < r->end && *r->p == close) {
		r->p++;
		return n;
	}
	for (;;) {
		char *key = NULL;
		size_t key_len = 0;
		int kl = 0, kc = 0;
		if (is_map) {
			skip_blanks(r);
			if (r->p >= r->end || *r->p != '"')
				goto bad;
			position(r, r->p, &kl, &kc);
			key = string(r, &key_len);
			if (!key)
				goto bad;
			skip_blanks(r);
			if (r->p >= r->end || *r->p != ':') {
				free(key);
				goto bad;
			}
			r->p++;
		}
		struct node *c = value(r, depth + 1);
		if (!c) {
			free(key);
			goto bad;
		}
		c->key = key;
		c->key_len = key_len;
		c->key_line = kl;
		c->key_col = kc;
		node_append(n, c);
		skip_blanks(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		if (r->p < r->end && *r->p == close) {
			r->p++;
			return n;
		}
		goto bad;
	}
bad:
	unexpected(r, r->p);
	node_free(n);
	return NULL;
}

static struct node *literal(struct reader *r, int line, int col)
{
	static const struct {
		const char *word;
		enum node_type type;
		bool b;
	} words[] = {
		{ "true", NODE_BOOL, true }, { "false", NODE_BOOL, false }, { "null", NODE_NULL, false },
	};
	for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
		size_t len = strlen(words[i].word);
		if ((size_t)(r->end - r->p) >= len && memcmp(r->p, words[i].word, len) == 0) {
			struct node *n = node_new(words[i].type, line, col);
			n->v.b = words[i].b;
			n->text = xstrdup(words[i].word);
			n->text_len = len;
			r->p += len;
			return n;
		}
	}
	return unexpected(r, r->p);
}

static struct node *value(struct reader *r, int depth)
{
	int line, col;
	skip_blanks(r);
	if (r->p >= r->end)
		return unexpected(r, r->p);
	if (r->max_nodes && ++r->nodes > r->max_nodes)
		return fail(r, r->p, "document too large (more than %zu values)", r->max_nodes);
	position(r, r->p, &line, &col);
	char c = *r->p;
	if (c == '{' || c == '[')
		return container(r, depth, line, col);
	if (c == '"') {
		size_t len;
		char *s = string(r, &len);
		if (!s)
			return NULL;
		struct node *n = node_new(NODE_STRING, line, col);
		n->text = s;
		n->text_len = len;
		return n;
	}
	if (c == '-' || (c >= '0' && c <= '9'))
		return number(r, line, col);
	return literal(r, line, col);
}

int json_parse(const char *text, size_t len, size_t max_nodes, struct node **out,
	       struct diags *d)
{
	if (!text) {                 /* as toml_read and yaml_read: an empty document */
		text = "";
		len = 0;
	}
	struct reader r = {
		.start = text, .p = text, .end = text + len, .d = d, .max_nodes = max_nodes,
	};
	text_pos_init(&r.pos, text);
	*out = NULL;
	/* Whatever follows a NUL would be hidden from C-string tools. */
	const char *nul = memchr(text, '\0', len);
	if (nul) {
		fail(&r, nul, "NUL byte");
		return -1;
	}
	struct node *root = value(&r, 0);
	if (root) {
		skip_blanks(&r);
		if (r.p < r.end)
			unexpected(&r, r.p);
	}
	if (r.failed) {
		node_free(root);
		return -1;
	}
	*out = root;
	return 0;
}

int json_read(const char *text, size_t len, struct node **out, struct diags *d)
{
	return json_parse(text, len, CONFIG_MAX_NODES, out, d);
}

enum json_int_result json_exact_int(double d, int64_t *out)
{
	if (!(d >= -(double)JSON_MAX_EXACT && d <= (double)JSON_MAX_EXACT))
		return JSON_INT_TOO_BIG;     /* NaN and infinities too */
	if (d != trunc(d))
		return JSON_INT_FRACTION;
	*out = (int64_t)d;
	return JSON_INT_OK;
}

enum json_int_result json_node_int(const struct node *n, int64_t *out)
{
	if (n->type == NODE_INT) {
		if (n->v.i < -JSON_MAX_EXACT || n->v.i > JSON_MAX_EXACT)
			return JSON_INT_TOO_BIG;
		*out = n->v.i;
		return JSON_INT_OK;
	}
	if (n->type == NODE_FLOAT)
		return json_exact_int(n->v.f, out);
	return JSON_INT_FRACTION;
}
