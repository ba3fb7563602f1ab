/*
 * toml.c — the TOML 1.0.0 reader: text in, positioned document tree out.
 *
 * One pass over the text, no tokenizer: each construct is read where it
 * starts. The whole input is checked to be UTF-8 first, so the rest of the
 * reader may step over multi-byte characters without looking at them.
 *
 * Tables are NODE_MAPs whose entries are indexed by one hash table keyed on
 * (parent, key), so large tables stay linear. The rules about which table
 * may be defined or extended where are kept in node->flags (TF_* below):
 *
 *   - a [header] defines a table once; a table that only exists because a
 *     longer header or a dotted key passed through it is implicit;
 *   - dotted keys define the tables they pass through; within the section
 *     (the lines after one header) they are "pending" and may be extended
 *     by more dotted keys, after it they are closed to headers and dotted
 *     keys alike, though sub-tables may still be added by headers;
 *   - inline tables and array literals are frozen once read.
 *
 * On error nothing is returned but one diagnostic with line and column
 * (1-based, columns counted in characters).
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Deepest node below the root: bounds the recursion of this reader and of
 * everything that walks the tree afterwards (node_free, node_to_json).
 */
#define TOML_MAX_DEPTH 128

/* Longest key text quoted back in an error message (values never are). */
#define MSG_TEXT_MAX 64

#define TF_DEFINED 0x01u  /* table defined by [header], or a [[header]] element */
#define TF_DOTTED  0x02u  /* table defined by dotted keys in an earlier section */
#define TF_PENDING 0x04u  /* table defined by dotted keys in this section */
#define TF_FROZEN  0x08u  /* inline table or array literal: closed */
#define TF_AOT     0x10u  /* array of tables made by [[header]] */

/* One slot of the (parent, key) -> entry index; child NULL when free. */
struct slot {
	const struct node *parent;
	struct node *child;
	size_t len;             /* key length: keys may hold NUL */
	uint64_t hash;
};

struct key_part {
	char *s;                /* owned; may hold NUL */
	size_t len;
	int line, col;
};

struct key {
	struct key_part *parts;
	size_t n, cap;
};

struct parser {
	const char *start, *p, *end;
	struct diags *d;
	bool failed;

	struct text_pos pos;

	struct node *root;
	struct node *cur;       /* table the current section writes into */
	int cur_depth;
	struct node **pending;  /* tables defined by dotted keys this section */
	size_t npending, cappending;

	struct slot *slots;
	size_t nslots, used;
};

/* ---- positions and errors ---------------------------------------- */

static void position(struct parser *P, const char *q, int *line, int *col)
{
	text_pos_at(&P->pos, q, line, col);
}

static int fail_lc(struct parser *P, int line, int col, const char *fmt, ...)
	PRINTF_LIKE(4, 5);

static int fail_lc(struct parser *P, int line, int col, const char *fmt, ...)
{
	if (P->failed)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	diag_add(P->d, DIAG_ERROR, line, col, NULL, "%s", msg);
	free(msg);
	P->failed = true;
	return -1;
}

static int fail_at(struct parser *P, const char *q, const char *fmt, ...)
	PRINTF_LIKE(3, 4);

static int fail_at(struct parser *P, const char *q, const char *fmt, ...)
{
	if (P->failed)
		return -1;
	int line, col;
	position(P, q, &line, &col);
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	fail_lc(P, line, col, "%s", msg);
	free(msg);
	return -1;
}

/* Length of the UTF-8 sequence led by c (input is known to be valid). */
static size_t utf8_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c < 0xe0)
		return 2;
	if (c < 0xf0)
		return 3;
	return 4;
}

static uint32_t utf8_decode(const char *q)
{
	const unsigned char *u = (const unsigned char *)q;
	switch (utf8_len(u[0])) {
	case 1: return u[0];
	case 2: return (uint32_t)(u[0] & 0x1f) << 6 | (u[1] & 0x3f);
	case 3: return (uint32_t)(u[0] & 0x0f) << 12 | (uint32_t)(u[1] & 0x3f) << 6 |
		       (u[2] & 0x3f);
	default: return (uint32_t)(u[0] & 0x07) << 18 | (uint32_t)(u[1] & 0x3f) << 12 |
			(uint32_t)(u[2] & 0x3f) << 6 | (u[3] & 0x3f);
	}
}

/* What is at q, for "expected X, found Y" messages. */
static const char *describe(const struct parser *P, const char *q, char out[32])
{
	if (q >= P->end)
		return "end of input";
	unsigned char c = (unsigned char)*q;
	if (c == '\n')
		return "newline";
	if (c == '\r')
		return "carriage return";
	if (c == '\t')
		return "tab";
	if (c < 0x20 || c == 0x7f)
		snprintf(out, 32, "control character U+%04X", c);
	else if (c < 0x80)
		snprintf(out, 32, "'%c'", c);
	else
		snprintf(out, 32, "U+%04X", (unsigned)utf8_decode(q));
	return out;
}

/* Append s[0..len) to b as a quoted, escaped, length-capped string. */
static void add_quoted(struct buf *b, const char *s, size_t len)
{
	size_t shown = 0;
	buf_addch(b, '"');
	for (size_t i = 0; i < len; ) {
		unsigned char c = (unsigned char)s[i];
		size_t n = utf8_len(c);
		if (shown >= MSG_TEXT_MAX || n > len - i) {
			buf_addstr(b, "...");
			break;
		}
		if (c == '"' || c == '\\')
			buf_printf(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			buf_printf(b, "\\u%04x", c);
		else
			buf_add(b, s + i, n);
		i += n;
		shown++;
	}
	buf_addch(b, '"');
}

/* "a.b.c" for the first n parts of k, quoted as one string. */
static char *key_path(const struct key *k, size_t n)
{
	struct buf path = BUF_INIT, out = BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_addch(&path, '.');
		buf_add(&path, k->parts[i].s, k->parts[i].len);
	}
	add_quoted(&out, path.data, path.len);
	buf_release(&path);
	return buf_detach(&out);
}

/* ---- the (parent, key) index -------------------------------------- */

static uint64_t key_hash(const struct node *parent, const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)(uintptr_t)parent;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 31;
	h *= 0x9e3779b97f4a7c15ULL;
	return h ^ (h >> 29);
}

static struct node *index_get(const struct parser *P, const struct node *parent,
			      const char *s, size_t len)
{
	if (!P->nslots)
		return NULL;
	uint64_t h = key_hash(parent, s, len);
	size_t mask = P->nslots - 1;
	for (size_t i = h & mask; P->slots[i].child; i = (i + 1) & mask) {
		const struct slot *e = &P->slots[i];
		if (e->hash == h && e->parent == parent && e->len == len &&
		    memcmp(e->child->key, s, len) == 0)
			return e->child;
	}
	return NULL;
}

static void index_put_slot(struct slot *slots, size_t nslots, const struct slot *e)
{
	size_t mask = nslots - 1;
	size_t i = e->hash & mask;
	while (slots[i].child)
		i = (i + 1) & mask;
	slots[i] = *e;
}

static void index_put(struct parser *P, const struct node *parent,
		      struct node *child, size_t len)
{
	if ((P->used + 1) * 2 > P->nslots) {
		size_t n = P->nslots ? P->nslots * 2 : 64;
		struct slot *slots = xcalloc(n, sizeof *slots);
		for (size_t i = 0; i < P->nslots; i++)
			if (P->slots[i].child)
				index_put_slot(slots, n, &P->slots[i]);
		free(P->slots);
		P->slots = slots;
		P->nslots = n;
	}
	struct slot e = { parent, child, len, key_hash(parent, child->key, len) };
	index_put_slot(P->slots, P->nslots, &e);
	P->used++;
}

/* Make child the entry kp of map parent. */
static void attach(struct parser *P, struct node *parent, struct node *child,
		   const struct key_part *kp)
{
	child->key = xmalloc(kp->len + 1);
	memcpy(child->key, kp->s, kp->len);
	child->key[kp->len] = '\0';
	child->key_len = kp->len;
	child->key_line = kp->line;
	child->key_col = kp->col;
	node_append(parent, child);
	index_put(P, parent, child, kp->len);
}

static void key_release(struct key *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->parts[i].s);
	free(k->parts);
	k->parts = NULL;
	k->n = k->cap = 0;
}

/* ---- white space, newlines, comments ------------------------------ */

static bool is_ws(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_ctl(char ch)
{
	unsigned char c = (unsigned char)ch;
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

static bool is_bare(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
	       c == '_' || c == '-';
}

static void skip_ws(struct parser *P)
{
	while (P->p < P->end && is_ws(*P->p))
		P->p++;
}

/* Length of the newline (LF or CRLF) at q, 0 if there is none. */
static size_t newline_len(const struct parser *P, const char *q)
{
	if (q < P->end && *q == '\n')
		return 1;
	if (q + 1 < P->end && q[0] == '\r' && q[1] == '\n')
		return 2;
	return 0;
}

/* At '#': step to the end of the line, refusing control characters. */
static int skip_comment(struct parser *P)
{
	const char *q = P->p + 1;
	for (; q < P->end && *q != '\n'; q++) {
		if (*q == '\r' && newline_len(P, q))
			break;
		if (is_ctl(*q)) {
			char what[32];
			return fail_at(P, q, "%s in comment", describe(P, q, what));
		}
	}
	P->p = q;
	return 0;
}

/* Spaces, newlines and comments, as allowed between array elements. */
static int skip_array_space(struct parser *P)
{
	for (;;) {
		skip_ws(P);
		size_t nl = newline_len(P, P->p);
		if (nl)
			P->p += nl;
		else if (P->p < P->end && *P->p == '#') {
			if (skip_comment(P) < 0)
				return -1;
		} else
			return 0;
	}
}

/* After a key/value pair or a header: only a comment may end the line. */
static int expect_eol(struct parser *P, const char *after)
{
	skip_ws(P);
	if (P->p < P->end && *P->p == '#' && skip_comment(P) < 0)
		return -1;
	if (P->p >= P->end)
		return 0;
	size_t nl = newline_len(P, P->p);
	if (nl) {
		P->p += nl;
		return 0;
	}
	char what[32];
	return fail_at(P, P->p, "expected newline after %s, found %s", after,
		       describe(P, P->p, what));
}

/* ---- strings ------------------------------------------------------ */

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* At a backslash in a basic string: decode one escape into out. */
static int read_escape(struct parser *P, const char **qp, struct buf *out)
{
	const char *q = *qp;
	if (q + 1 >= P->end)
		return fail_at(P, q, "unterminated string");
	char e = q[1];
	char c;
	switch (e) {
	case 'b': c = '\b'; break;
	case 't': c = '\t'; break;
	case 'n': c = '\n'; break;
	case 'f': c = '\f'; break;
	case 'r': c = '\r'; break;
	case '"': c = '"'; break;
	case '\\': c = '\\'; break;
	case 'u':
	case 'U': {
		int ndig = e == 'u' ? 4 : 8;
		uint32_t cp = 0;
		for (int i = 0; i < ndig; i++) {
			const char *h = q + 2 + i;
			int v = h < P->end ? hex_value(*h) : -1;
			if (v < 0)
				return fail_at(P, q, "invalid unicode escape: \\%c needs %d hex digits",
					       e, ndig);
			cp = cp << 4 | (uint32_t)v;
		}
		if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return fail_at(P, q, "invalid unicode escape \\%c%.*s: not a unicode scalar value",
				       e, ndig, q + 2);
		buf_add_utf8(out, cp);
		*qp = q + 2 + ndig;
		return 0;
	}
	default:
		if ((unsigned char)e > 0x20 && (unsigned char)e < 0x7f)
			return fail_at(P, q, "invalid escape sequence \\%c", e);
		return fail_at(P, q, "invalid escape sequence");
	}
	buf_addch(out, c);
	*qp = q + 2;
	return 0;
}

static int bad_string_char(struct parser *P, const char *q)
{
	char what[32];
	if (*q == '\n' || newline_len(P, q))
		return fail_at(P, q, "newline in single-line string");
	if (*q == '\r')
		return fail_at(P, q, "carriage return without newline in string");
	return fail_at(P, q, "%s in string", describe(P, q, what));
}

/* "..." */
static int read_basic(struct parser *P, struct buf *out)
{
	const char *open = P->p, *q = P->p + 1;
	for (;;) {
		const char *run = q;
		while (q < P->end && *q != '"' && *q != '\\' && !is_ctl(*q))
			q++;
		buf_add(out, run, (size_t)(q - run));
		if (q >= P->end)
			return fail_at(P, open, "unterminated string");
		if (*q == '"')
			break;
		if (*q != '\\')
			return bad_string_char(P, q);
		if (read_escape(P, &q, out) < 0)
			return -1;
	}
	P->p = q + 1;
	return 0;
}

/* '...' */
static int read_literal(struct parser *P, struct buf *out)
{
	const char *open = P->p, *q = P->p + 1;
	while (q < P->end && *q != '\'' && !is_ctl(*q))
		q++;
	if (q >= P->end)
		return fail_at(P, open, "unterminated string");
	if (*q != '\'')
		return bad_string_char(P, q);
	buf_add(out, open + 1, (size_t)(q - open - 1));
	P->p = q + 1;
	return 0;
}

/*
 * At a run of delimiter quotes inside a multi-line string: up to two may
 * belong to the content before the closing three. Returns 1 when the
 * string ended, 0 to go on, -1 on error.
 */
static int ml_quotes(struct parser *P, const char **qp, char delim, struct buf *out)
{
	const char *q = *qp;
	size_t n = 0;
	while (q + n < P->end && q[n] == delim)
		n++;
	*qp = q + n;
	if (n < 3) {
		buf_add(out, q, n);
		return 0;
	}
	if (n > 5)
		return fail_at(P, q + 5, "too many quotes at the end of a multi-line string");
	buf_add(out, q, n - 3);
	return 1;
}

/* Inside a multi-line string: a newline, a bare CR or a control character. */
static int ml_special(struct parser *P, const char **qp, struct buf *out)
{
	const char *q = *qp;
	if (*q == '\n' || newline_len(P, q)) {
		/* CRLF becomes LF: the value does not depend on the editor */
		buf_addch(out, '\n');
		*qp = q + newline_len(P, q);
		return 0;
	}
	char what[32];
	if (*q == '\r')
		return fail_at(P, q, "carriage return without newline in string");
	return fail_at(P, q, "%s in string", describe(P, q, what));
}

/* After the opening delimiter: a newline right there is not content. */
static const char *ml_body_start(const struct parser *P, const char *q)
{
	return q + newline_len(P, q);
}

/* """...""" */
static int read_ml_basic(struct parser *P, struct buf *out)
{
	const char *open = P->p, *q = ml_body_start(P, P->p + 3);
	for (;;) {
		const char *run = q;
		while (q < P->end && *q != '"' && *q != '\\' && *q != '\r' &&
		       (*q == '\n' || !is_ctl(*q)))
			q++;
		buf_add(out, run, (size_t)(q - run));
		if (q >= P->end)
			return fail_at(P, open, "unterminated multi-line string");
		int rc;
		if (*q == '"') {
			if ((rc = ml_quotes(P, &q, '"', out)) != 0) {
				if (rc < 0)
					return -1;
				break;
			}
		} else if (*q == '\\') {
			/* a backslash ending a line trims all space up to the next text */
			const char *r = q + 1;
			while (r < P->end && is_ws(*r))
				r++;
			if (newline_len(P, r)) {
				for (;;) {
					size_t nl = newline_len(P, r);
					if (nl)
						r += nl;
					else if (r < P->end && is_ws(*r))
						r++;
					else
						break;
				}
				q = r;
			} else if (read_escape(P, &q, out) < 0) {
				return -1;
			}
		} else if (ml_special(P, &q, out) < 0) {
			return -1;
		}
	}
	P->p = q;
	return 0;
}

/* '''...''' */
static int read_ml_literal(struct parser *P, struct buf *out)
{
	const char *open = P->p, *q = ml_body_start(P, P->p + 3);
	for (;;) {
		const char *run = q;
		while (q < P->end && *q != '\'' && *q != '\r' && (*q == '\n' || !is_ctl(*q)))
			q++;
		buf_add(out, run, (size_t)(q - run));
		if (q >= P->end)
			return fail_at(P, open, "unterminated multi-line string");
		int rc;
		if (*q == '\'') {
			if ((rc = ml_quotes(P, &q, '\'', out)) != 0) {
				if (rc < 0)
					return -1;
				break;
			}
		} else if (ml_special(P, &q, out) < 0) {
			return -1;
		}
	}
	P->p = q;
	return 0;
}

static bool at_triple(const struct parser *P, char c)
{
	return P->end - P->p >= 3 && P->p[0] == c && P->p[1] == c && P->p[2] == c;
}

/* Any of the four string forms, at its opening quote. */
static int read_string(struct parser *P, struct buf *out)
{
	if (*P->p == '"')
		return at_triple(P, '"') ? read_ml_basic(P, out) : read_basic(P, out);
	return at_triple(P, '\'') ? read_ml_literal(P, out) : read_literal(P, out);
}

/* ---- keys --------------------------------------------------------- */

static int read_key_part(struct parser *P, struct key_part *kp)
{
	position(P, P->p, &kp->line, &kp->col);
	struct buf b = BUF_INIT;
	if (P->p < P->end && (*P->p == '"' || *P->p == '\'')) {
		if (at_triple(P, *P->p))
			return fail_at(P, P->p, "a multi-line string cannot be a key");
		if (read_string(P, &b) < 0) {
			buf_release(&b);
			return -1;
		}
	} else {
		const char *s = P->p;
		while (P->p < P->end && is_bare(*P->p))
			P->p++;
		if (P->p == s) {
			char what[32];
			return fail_at(P, P->p, "expected a key, found %s", describe(P, P->p, what));
		}
		buf_add(&b, s, (size_t)(P->p - s));
	}
	kp->len = b.len;
	kp->s = buf_detach(&b);
	return 0;
}

/* A key, dotted or not, with the space around it. */
static int read_key(struct parser *P, struct key *k)
{
	for (;;) {
		skip_ws(P);
		if (k->n > TOML_MAX_DEPTH)
			return fail_at(P, P->p, "key has more than %d parts", TOML_MAX_DEPTH);
		k->parts = xgrow(k->parts, &k->cap, k->n + 1, sizeof *k->parts);
		struct key_part *kp = &k->parts[k->n];
		kp->s = NULL;
		if (read_key_part(P, kp) < 0)
			return -1;
		k->n++;
		skip_ws(P);
		if (P->p >= P->end || *P->p != '.')
			return 0;
		P->p++;
	}
}

/* ---- scalars ------------------------------------------------------ */

static bool digits_at(const struct parser *P, const char *q, int n)
{
	if (P->end - q < n)
		return false;
	for (int i = 0; i < n; i++)
		if (!is_digit(q[i]))
			return false;
	return true;
}

static int num2(const char *q)
{
	return (q[0] - '0') * 10 + (q[1] - '0');
}

static bool scalar_end(const struct parser *P, const char *q)
{
	return q >= P->end || is_ws(*q) || *q == '\n' || *q == '\r' || *q == '#' ||
	       *q == ',' || *q == ']' || *q == '}';
}

static int days_in_month(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return days[m - 1];
}

/* HH:MM:SS[.frac] at q into t; the end of it, or NULL. */
static const char *read_time(struct parser *P, const char *q, struct buf *t)
{
	if (!digits_at(P, q, 2) || q + 2 >= P->end || q[2] != ':' ||
	    !digits_at(P, q + 3, 2) || q + 5 >= P->end || q[5] != ':' ||
	    !digits_at(P, q + 6, 2)) {
		fail_at(P, q, "invalid time: expected HH:MM:SS");
		return NULL;
	}
	if (num2(q) > 23 || num2(q + 3) > 59 || num2(q + 6) > 60) {
		fail_at(P, q, "invalid time: hour, minute or second out of range");
		return NULL;
	}
	buf_add(t, q, 8);
	q += 8;
	if (q < P->end && *q == '.') {
		const char *f = q + 1;
		while (f < P->end && is_digit(*f))
			f++;
		if (f == q + 1) {
			fail_at(P, q, "invalid time: no digits after '.'");
			return NULL;
		}
		buf_add(t, q, (size_t)(f - q));
		q = f;
	}
	return q;
}

/* Z or +HH:MM at q into t; the end of it, or q when there is none. */
static const char *read_offset(struct parser *P, const char *q, struct buf *t)
{
	if (q < P->end && (*q == 'Z' || *q == 'z')) {
		buf_addch(t, 'Z');
		return q + 1;
	}
	if (q >= P->end || (*q != '+' && *q != '-'))
		return q;
	if (!digits_at(P, q + 1, 2) || q + 3 >= P->end || q[3] != ':' ||
	    !digits_at(P, q + 4, 2)) {
		fail_at(P, q, "invalid time offset: expected +HH:MM or -HH:MM");
		return NULL;
	}
	if (num2(q + 1) > 23 || num2(q + 4) > 59) {
		fail_at(P, q, "invalid time offset: hour or minute out of range");
		return NULL;
	}
	buf_add(t, q, 6);
	return q + 6;
}

/* A date, time, or both. The text is kept as RFC 3339 with 'T' and 'Z'. */
static struct node *read_datetime(struct parser *P, int line, int col)
{
	const char *q = P->p;
	bool has_date = false, has_time = false, has_off = false;
	struct buf t = BUF_INIT;

	if (digits_at(P, q, 4) && q + 4 < P->end && q[4] == '-') {
		if (!digits_at(P, q + 5, 2) || q + 7 >= P->end || q[7] != '-' ||
		    !digits_at(P, q + 8, 2)) {
			fail_at(P, q, "invalid date: expected YYYY-MM-DD");
			goto bad;
		}
		int y = (q[0] - '0') * 1000 + (q[1] - '0') * 100 + num2(q + 2);
		int m = num2(q + 5), d = num2(q + 8);
		if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m)) {
			fail_at(P, q, "invalid date: no such month or day");
			goto bad;
		}
		buf_add(&t, q, 10);
		q += 10;
		has_date = true;
		/* a space separates date and time only if a time follows */
		if (q < P->end && (*q == 'T' || *q == 't' ||
				   (*q == ' ' && digits_at(P, q + 1, 2) &&
				    q + 3 < P->end && q[3] == ':'))) {
			buf_addch(&t, 'T');
			q++;
		} else
			goto done;
	}
	if (!(q = read_time(P, q, &t)))
		goto bad;
	has_time = true;
	if (has_date) {
		const char *o = read_offset(P, q, &t);
		if (!o)
			goto bad;
		has_off = o != q;
		q = o;
	}
done:
	if (!scalar_end(P, q)) {
		char what[32];
		fail_at(P, q, "invalid date-time: unexpected %s", describe(P, q, what));
		goto bad;
	}
	struct node *n = node_new(NODE_DATETIME, line, col);
	n->dt_kind = !has_time ? DT_DATE : !has_date ? DT_TIME : has_off ? DT_OFFSET : DT_LOCAL;
	n->text_len = t.len;
	n->text = buf_detach(&t);
	P->p = q;
	return n;
bad:
	buf_release(&t);
	return NULL;
}

/* Digits of the given base with single underscores between them. */
static const char *scan_digits(const char *q, const char *end, int base)
{
	bool need_digit = true;
	for (; q < end; q++) {
		int v = hex_value(*q);
		if (v >= 0 && v < base) {
			need_digit = false;
		} else if (*q == '_' && !need_digit) {
			need_digit = true;
		} else {
			break;
		}
	}
	return need_digit ? NULL : q;
}

static struct node *new_number(enum node_type type, const char *s, size_t len,
			       int line, int col)
{
	struct node *n = node_new(type, line, col);
	n->text = xstrndup(s, len);
	n->text_len = len;
	return n;
}

/*
 * An error about the value starting at s. The value's text is never
 * quoted back: an unquoted token is as likely an api_token or a webhook
 * URL as a typo, and error messages end up in logs and CI output. The
 * position says where it is.
 */
static void fail_value(struct parser *P, const char *s, const char *msg)
{
	fail_at(P, s, "%s", msg);
}

/* 0x, 0o, 0b: unsigned, at most INT64_MAX. */
static struct node *read_radix(struct parser *P, const char *e, int line, int col)
{
	const char *s = P->p;
	size_t len = (size_t)(e - s);
	int base = s[1] == 'x' ? 16 : s[1] == 'o' ? 8 : 2;
	const char *q = scan_digits(s + 2, e, base);
	if (q != e) {
		fail_value(P, s, "invalid integer: not a hexadecimal, octal or binary number");
		return NULL;
	}
	uint64_t v = 0;
	for (q = s + 2; q < e; q++) {
		if (*q == '_')
			continue;
		uint64_t d = (uint64_t)hex_value(*q);
		if (v > ((uint64_t)INT64_MAX - d) / (uint64_t)base) {
			fail_value(P, s, "integer out of range");
			return NULL;
		}
		v = v * (uint64_t)base + d;
	}
	struct node *n = new_number(NODE_INT, s, len, line, col);
	n->v.i = (int64_t)v;
	P->p = e;
	return n;
}

static int decimal_int(const char *s, const char *e, int64_t *out)
{
	bool neg = *s == '-';
	int64_t v = 0;
	if (*s == '+' || *s == '-')
		s++;
	for (; s < e; s++) {
		if (*s == '_')
			continue;
		int d = *s - '0';
		if (neg) {
			if (v < (INT64_MIN + d) / 10)
				return -1;
			v = v * 10 - d;
		} else {
			if (v > (INT64_MAX - d) / 10)
				return -1;
			v = v * 10 + d;
		}
	}
	*out = v;
	return 0;
}

static int decimal_float(const char *s, const char *e, double *out)
{
	char *plain = xmalloc((size_t)(e - s) + 1), *w = plain;
	for (; s < e; s++)
		if (*s != '_')
			*w++ = *s;
	*w = '\0';
	char *end;
	errno = 0;
	double f = strtod(plain, &end);
	int rc = *end == '\0' && !(errno == ERANGE && isinf(f)) ? 0 : -1;
	free(plain);
	*out = f;
	return rc;
}

/* An integer or float, including inf and nan; e is the end of its token. */
static struct node *read_number(struct parser *P, const char *e, int line, int col)
{
	const char *s = P->p, *b = s;
	size_t len = (size_t)(e - s);
	struct node *n;

	if (*b == '+' || *b == '-')
		b++;
	if (e - b == 3 && (memcmp(b, "inf", 3) == 0 || memcmp(b, "nan", 3) == 0)) {
		n = new_number(NODE_FLOAT, s, len, line, col);
		n->v.f = *b == 'i' ? INFINITY : NAN;
		if (*s == '-')
			n->v.f = -n->v.f;
		P->p = e;
		return n;
	}
	if (b == s && len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b'))
		return read_radix(P, e, line, col);
	if (b < e && *b == '0' && b + 1 < e && (is_digit(b[1]) || b[1] == '_')) {
		fail_value(P, s, "invalid number: leading zeros are not allowed");
		return NULL;
	}
	bool is_float = false;
	const char *q = b < e && is_digit(*b) ? scan_digits(b, e, 10) : NULL;
	if (q && q < e && *q == '.') {
		is_float = true;
		q = scan_digits(q + 1, e, 10);
	}
	if (q && q < e && (*q == 'e' || *q == 'E')) {
		is_float = true;
		q++;
		if (q < e && (*q == '+' || *q == '-'))
			q++;
		q = scan_digits(q, e, 10);
	}
	if (q != e) {
		fail_value(P, s, "invalid number");
		return NULL;
	}
	if (!is_float) {
		int64_t v;
		if (decimal_int(s, e, &v) < 0) {
			fail_value(P, s, "integer out of range");
			return NULL;
		}
		n = new_number(NODE_INT, s, len, line, col);
		n->v.i = v;
	} else {
		double f;
		if (decimal_float(s, e, &f) < 0) {
			fail_value(P, s, "float out of range");
			return NULL;
		}
		n = new_number(NODE_FLOAT, s, len, line, col);
		n->v.f = f;
	}
	P->p = e;
	return n;
}

/* Booleans, numbers, dates and times: everything that is not quoted or bracketed. */
static struct node *read_scalar(struct parser *P, int line, int col)
{
	const char *s = P->p, *e = s;
	char what[32];

	if (digits_at(P, s, 4) && s + 4 < P->end && s[4] == '-')
		return read_datetime(P, line, col);
	if (digits_at(P, s, 2) && s + 2 < P->end && s[2] == ':')
		return read_datetime(P, line, col);

	while (e < P->end && (is_bare(*e) || *e == '+' || *e == '.'))
		e++;
	if (e == s) {
		fail_at(P, s, "expected a value, found %s", describe(P, s, what));
		return NULL;
	}
	if (!scalar_end(P, e)) {
		fail_at(P, e, "invalid value: unexpected %s", describe(P, e, what));
		return NULL;
	}
	size_t len = (size_t)(e - s);
	if ((len == 4 && memcmp(s, "true", 4) == 0) || (len == 5 && memcmp(s, "false", 5) == 0)) {
		struct node *n = new_number(NODE_BOOL, s, len, line, col);
		n->v.b = *s == 't';
		P->p = e;
		return n;
	}
	if (is_digit(*s) || *s == '+' || *s == '-' || *s == 'i' || *s == 'n')
		return read_number(P, e, line, col);
	fail_value(P, s, "invalid value: not a number, boolean or date (a string needs quotes)");
	return NULL;
}

/* ---- tables, arrays, values --------------------------------------- */

static struct node *read_value(struct parser *P, int depth);
static int read_keyval(struct parser *P, struct node *table, int depth, bool inline_table);

static struct node *read_array(struct parser *P, int depth, int line, int col)
{
	const char *open = P->p;
	struct node *a = node_new(NODE_SEQ, line, col);
	char what[32];

	P->p++;
	for (;;) {
		if (skip_array_space(P) < 0)
			goto bad;
		if (P->p < P->end && *P->p == ']')
			break;
		struct node *v = read_value(P, depth + 1);
		if (!v)
			goto bad;
		node_append(a, v);
		if (skip_array_space(P) < 0)
			goto bad;
		if (P->p >= P->end) {
			fail_at(P, open, "unterminated array");
			goto bad;
		}
		if (*P->p == ']')
			break;
		if (*P->p != ',') {
			fail_at(P, P->p, "expected ',' or ']' in array, found %s",
				describe(P, P->p, what));
			goto bad;
		}
		P->p++;
	}
	P->p++;
	a->flags |= TF_FROZEN;
	return a;
bad:
	node_free(a);
	return NULL;
}

static struct node *read_inline_table(struct parser *P, int depth, int line, int col)
{
	const char *open = P->p;
	struct node *t = node_new(NODE_MAP, line, col);
	char what[32];

	P->p++;
	skip_ws(P);
	if (P->p < P->end && *P->p == '}')
		goto done;
	for (;;) {
		skip_ws(P);
		if (P->p < P->end && newline_len(P, P->p)) {
			fail_at(P, P->p, "newline in inline table");
			goto bad;
		}
		if (P->p < P->end && *P->p == '}') {
			fail_at(P, P->p, "trailing comma in inline table");
			goto bad;
		}
		if (read_keyval(P, t, depth, true) < 0)
			goto bad;
		skip_ws(P);
		if (P->p >= P->end) {
			fail_at(P, open, "unterminated inline table");
			goto bad;
		}
		if (*P->p == '}')
			break;
		if (*P->p != ',') {
			if (newline_len(P, P->p))
				fail_at(P, P->p, "newline in inline table");
			else
				fail_at(P, P->p, "expected ',' or '}' in inline table, found %s",
					describe(P, P->p, what));
			goto bad;
		}
		P->p++;
	}
done:
	P->p++;
	t->flags |= TF_FROZEN;
	return t;
bad:
	node_free(t);
	return NULL;
}

static struct node *read_value(struct parser *P, int depth)
{
	int line, col;
	char what[32];

	if (depth > TOML_MAX_DEPTH) {
		fail_at(P, P->p, "nesting deeper than %d levels", TOML_MAX_DEPTH);
		return NULL;
	}
	if (P->p >= P->end || newline_len(P, P->p) || *P->p == '#') {
		fail_at(P, P->p, "expected a value, found %s", describe(P, P->p, what));
		return NULL;
	}
	position(P, P->p, &line, &col);
	switch (*P->p) {
	case '"':
	case '\'': {
		struct buf b = BUF_INIT;
		if (read_string(P, &b) < 0) {
			buf_release(&b);
			return NULL;
		}
		struct node *n = node_new(NODE_STRING, line, col);
		n->text_len = b.len;
		n->text = buf_detach(&b);
		return n;
	}
	case '[':
		return read_array(P, depth, line, col);
	case '{':
		return read_inline_table(P, depth, line, col);
	default:
		return read_scalar(P, line, col);
	}
}

static void mark_pending(struct parser *P, struct node *t)
{
	t->flags |= TF_PENDING;
	P->pending = xgrow(P->pending, &P->cappending, P->npending + 1, sizeof *P->pending);
	P->pending[P->npending++] = t;
}

/* A new section starts: tables defined by dotted keys are closed. */
static void close_section(struct parser *P)
{
	for (size_t i = 0; i < P->npending; i++)
		P->pending[i]->flags = (P->pending[i]->flags & ~TF_PENDING) | TF_DOTTED;
	P->npending = 0;
}

/* One step of a dotted key in a key/value pair: the table it names. */
static struct node *dotted_table(struct parser *P, struct node *t, const struct key *k,
				 size_t i, bool inline_table)
{
	struct key_part *kp = &k->parts[i];
	struct node *c = index_get(P, t, kp->s, kp->len);
	const char *why = NULL;

	if (!c) {
		c = node_new(NODE_MAP, kp->line, kp->col);
		attach(P, t, c, kp);
		if (!inline_table)
			mark_pending(P, c);
		return c;
	}
	if (c->type != NODE_MAP)
		why = c->type == NODE_SEQ ? "it is an array" : "it is not a table";
	else if (c->flags & TF_FROZEN)
		why = "inline tables cannot be extended";
	else if (c->flags & (TF_DEFINED | TF_DOTTED))
		why = "the table is defined elsewhere";
	if (why) {
		char *path = key_path(k, i + 1);
		fail_lc(P, kp->line, kp->col, "cannot add to %s with dotted keys: %s", path, why);
		free(path);
		return NULL;
	}
	if (!inline_table && !(c->flags & TF_PENDING))
		mark_pending(P, c);
	return c;
}

/* key = value, into table (at depth) or a table below it that the key names. */
static int read_keyval(struct parser *P, struct node *table, int depth, bool inline_table)
{
	struct key k = { NULL, 0, 0 };
	struct node *t = table, *v;
	char what[32];
	int rc = -1;

	if (read_key(P, &k) < 0)
		goto out;
	if (P->p >= P->end || *P->p != '=') {
		fail_at(P, P->p, "expected '=' after key, found %s", describe(P, P->p, what));
		goto out;
	}
	P->p++;
	skip_ws(P);
	if (depth + (int)k.n > TOML_MAX_DEPTH) {
		fail_lc(P, k.parts[0].line, k.parts[0].col, "nesting deeper than %d levels",
			TOML_MAX_DEPTH);
		goto out;
	}
	for (size_t i = 0; i + 1 < k.n; i++)
		if (!(t = dotted_table(P, t, &k, i, inline_table)))
			goto out;
	struct key_part *last = &k.parts[k.n - 1];
	if (index_get(P, t, last->s, last->len)) {
		char *path = key_path(&k, k.n);
		fail_lc(P, last->line, last->col, "duplicate key %s", path);
		free(path);
		goto out;
	}
	if (!(v = read_value(P, depth + (int)k.n)))
		goto out;
	attach(P, t, v, last);
	rc = 0;
out:
	key_release(&k);
	return rc;
}

/* An error about the header path up to part i: "<pre><path><post>". */
static int header_fail(struct parser *P, const struct key *k, size_t i,
		       const char *pre, const char *post)
{
	char *path = key_path(k, i + 1);
	fail_lc(P, k->parts[i].line, k->parts[i].col, "%s%s%s", pre, path, post);
	free(path);
	return -1;
}

/* [a.b.c] or [[a.b.c]]: find or make the table, make it the current one. */
static int open_table(struct parser *P, struct key *k, bool aot, int line, int col)
{
	struct node *t = P->root, *c;
	int depth = 0;

	for (size_t i = 0; i + 1 < k->n; i++) {
		struct key_part *kp = &k->parts[i];
		if (++depth > TOML_MAX_DEPTH)
			return header_fail(P, k, i, "table ", " nested too deeply");
		c = index_get(P, t, kp->s, kp->len);
		if (!c) {
			c = node_new(NODE_MAP, kp->line, kp->col);
			attach(P, t, c, kp);
		} else if (c->type == NODE_SEQ && (c->flags & TF_AOT)) {
			if (++depth > TOML_MAX_DEPTH)
				return header_fail(P, k, i, "table ", " nested too deeply");
			c = c->items[c->n - 1];
		} else if (c->type == NODE_SEQ) {
			return header_fail(P, k, i, "cannot add a table to array ", "");
		} else if (c->type != NODE_MAP) {
			return header_fail(P, k, i, "cannot add a table to ", ": it is not a table");
		} else if (c->flags & TF_FROZEN) {
			return header_fail(P, k, i, "cannot add a table to inline table ", "");
		}
		t = c;
	}

	size_t li = k->n - 1;
	struct key_part *last = &k->parts[li];
	if (++depth > TOML_MAX_DEPTH)
		return header_fail(P, k, li, "table ", " nested too deeply");
	c = index_get(P, t, last->s, last->len);
	if (!aot) {
		if (!c) {
			c = node_new(NODE_MAP, line, col);
			attach(P, t, c, last);
		} else if (c->type == NODE_SEQ && (c->flags & TF_AOT)) {
			return header_fail(P, k, li, "", " is already an array of tables");
		} else if (c->type != NODE_MAP || (c->flags & TF_FROZEN)) {
			return header_fail(P, k, li, "key ", " is already defined");
		} else if (c->flags & (TF_DEFINED | TF_DOTTED | TF_PENDING)) {
			return header_fail(P, k, li, "table ", " already defined");
		} else {
			/* an implicit table gets its place from its definition */
			c->line = line;
			c->col = col;
			c->key_line = last->line;
			c->key_col = last->col;
		}
		c->flags |= TF_DEFINED;
		P->cur = c;
		P->cur_depth = depth;
		return 0;
	}

	if (!c) {
		c = node_new(NODE_SEQ, line, col);
		c->flags |= TF_AOT;
		attach(P, t, c, last);
	} else if (c->type == NODE_SEQ && !(c->flags & TF_AOT)) {
		return header_fail(P, k, li, "cannot append to array ", ": it is not an array of tables");
	} else if (c->type != NODE_SEQ) {
		return header_fail(P, k, li, "key ", " is already defined and is not an array of tables");
	}
	if (++depth > TOML_MAX_DEPTH)
		return header_fail(P, k, li, "table ", " nested too deeply");
	struct node *elem = node_new(NODE_MAP, line, col);
	elem->flags |= TF_DEFINED;
	node_append(c, elem);
	P->cur = elem;
	P->cur_depth = depth;
	return 0;
}

static int read_header(struct parser *P)
{
	struct key k = { NULL, 0, 0 };
	bool aot = P->end - P->p >= 2 && P->p[1] == '[';
	int line, col, rc = -1;
	char what[32];

	position(P, P->p, &line, &col);
	P->p += aot ? 2 : 1;
	if (read_key(P, &k) < 0)
		goto out;
	if (P->p >= P->end || *P->p != ']' ||
	    (aot && (P->p + 1 >= P->end || P->p[1] != ']'))) {
		const char *q = P->p < P->end && *P->p == ']' ? P->p + 1 : P->p;
		fail_at(P, q, "expected '%s' to close the table header, found %s",
			aot ? "]]" : "]", describe(P, q, what));
		goto out;
	}
	P->p += aot ? 2 : 1;
	close_section(P);
	rc = open_table(P, &k, aot, line, col);
out:
	key_release(&k);
	return rc;
}

static int read_document(struct parser *P)
{
	while (P->p < P->end) {
		skip_ws(P);
		if (P->p >= P->end)
			break;
		size_t nl = newline_len(P, P->p);
		if (nl) {
			P->p += nl;
			continue;
		}
		if (*P->p == '#') {
			if (skip_comment(P) < 0)
				return -1;
			continue;
		}
		if (*P->p == '[') {
			if (read_header(P) < 0 || expect_eol(P, "table header") < 0)
				return -1;
		} else {
			if (read_keyval(P, P->cur, P->cur_depth, false) < 0 ||
			    expect_eol(P, "value") < 0)
				return -1;
		}
	}
	return 0;
}

/* ---- entry -------------------------------------------------------- */

/* The first byte that is not part of well-formed UTF-8, or NULL. */
static const char *utf8_invalid(const char *s, const char *end)
{
	const unsigned char *u = (const unsigned char *)s, *e = (const unsigned char *)end;
	while (u < e) {
		unsigned char c = *u;
		if (c < 0x80) {
			u++;
			continue;
		}
		size_t n;
		unsigned char lo = 0x80, hi = 0xbf;
		if (c >= 0xc2 && c <= 0xdf)
			n = 2;
		else if (c >= 0xe0 && c <= 0xef) {
			n = 3;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;      /* no surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 4;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;      /* nothing above U+10FFFF */
		} else
			return (const char *)u;
		if ((size_t)(e - u) < n || u[1] < lo || u[1] > hi)
			return (const char *)u;
		for (size_t i = 2; i < n; i++)
			if ((u[i] & 0xc0) != 0x80)
				return (const char *)u;
		u += n;
	}
	return NULL;
}

int toml_read(const char *text, size_t len, struct node **out, struct diags *d)
{
	struct parser P;
	memset(&P, 0, sizeof P);
	if (!text)
		text = "";
	P.start = P.p = text;
	P.end = text + len;
	P.d = d;
	*out = NULL;

	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		P.start = P.p = text + 3;
	text_pos_init(&P.pos, P.start);

	const char *bad = utf8_invalid(P.p, P.end);
	if (bad)
		return fail_at(&P, bad, "invalid utf-8 byte 0x%02x", (unsigned char)*bad);

	P.root = node_new(NODE_MAP, 1, 1);
	P.cur = P.root;
	int rc = read_document(&P);
	free(P.slots);
	free(P.pending);
	if (rc < 0) {
		if (!P.failed)
			fail_at(&P, P.p, "invalid document");
		node_free(P.root);
		return -1;
	}
	*out = P.root;
	return 0;
}
