/* log.c — leveled, escaped logging to stderr in JSON or text. */
#include "log.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "json.h"

static enum log_level min_level = LOG_INFO;
static enum log_format out_format = LOG_FORMAT_TEXT;
/* service.name, on every line as the original had it; owned. */
static char *service_name;
/* stderr is the journal: -1 not looked yet, 0 no, 1 yes. */
static int to_journal = -1;

const char *const log_level_names[] = { "debug", "info", "warn", "error", NULL };
const char *const log_format_names[] = { "json", "text", NULL };

void log_setup(enum log_level level, enum log_format format)
{
	min_level = level;
	out_format = format;
}

void log_set_service(const char *name)
{
	free(service_name);
	service_name = name && *name ? xstrdup(name) : NULL;
}

static const char *service(void)
{
	return service_name ? service_name : "flipper";
}
enum log_level log_get_level(void)
{
	return min_level;
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; log_level_names[i]; i++) {
		if (strcmp(s, log_level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	/* The command line also takes syslog's spelling. */
	if (strcmp(s, "warning") == 0) {
		*out = LOG_WARN;
		return 0;
	}
	return -1;
}

int log_format_parse(const char *s, enum log_format *out)
{
	for (size_t i = 0; log_format_names[i]; i++) {
		if (strcmp(s, log_format_names[i]) == 0) {
			*out = (enum log_format)i;
			return 0;
		}
	}
	return -1;
}

const char *log_level_name(enum log_level l)
{
	return log_level_names[l];
}

bool log_enabled(enum log_level l)
{
	return l >= min_level;
}

void log_escape(struct buf *out, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\n')
			buf_addstr(out, "\\n");
		else if (*p == '\r')
			buf_addstr(out, "\\r");
		else if (*p == '\t')
			buf_addstr(out, "\\t");
		else if (*p == '"' || *p == '\\') {
			buf_addch(out, '\\');
			buf_addch(out, (char)*p);
		} else if (*p < 0x20 || *p == 0x7f)
			buf_printf(out, "\\x%02x", *p);
		else
			buf_addch(out, (char)*p);
	}
}

static bool needs_quotes(const char *s)
{
	if (!*s)
		return true;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
			return true;
	return false;
}

/*
 * "$JOURNAL_STREAM" is "DEVICE:INODE" of the stream systemd connected;
 * it counts only while stderr is still that stream (a shell may have
 * redirected it since), as sd-daemon(3) says.
 */
static bool stderr_is_journal(void)
{
	if (to_journal >= 0)
		return to_journal;
	to_journal = 0;
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	char tail;
	struct stat st;
	if (js && sscanf(js, "%llu:%llu%c", &dev, &ino, &tail) == 2 &&
	    fstat(STDERR_FILENO, &st) == 0 && (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino)
		to_journal = 1;
	return to_journal;
}

/* sd-daemon(3): <7> debug, <6> info, <4> warning, <3> error. */
static const char journal_prefix[][4] = { "<7>", "<6>", "<4>", "<3>" };

/* "2024-05-01T12:00:03.250Z" */
static void timestamp(char out[40])
{
	int64_t ms = now_ms();
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 40 - n, ".%03dZ", (int)(ms % 1000));
}

/* One context pair; false at the end of the list. */
struct kv {
	const char *key;
	enum { KV_STRING, KV_I64, KV_BOOL } type;
	const char *s;               /* KV_STRING; NULL: skip */
	int64_t i;
};

static bool next_kv(va_list *ap, struct kv *kv)
{
	const char *k = va_arg(*ap, const char *);
	if (!k)
		return false;
	if (k[0] == LOG_TAG_I64[0]) {
		*kv = (struct kv){ .key = k + 1, .type = KV_I64, .i = va_arg(*ap, int64_t) };
	} else if (k[0] == LOG_TAG_BOOL[0]) {
		*kv = (struct kv){ .key = k + 1, .type = KV_BOOL, .i = va_arg(*ap, int) };
	} else {
		*kv = (struct kv){ .key = k, .type = KV_STRING, .s = va_arg(*ap, const char *) };
	}
	return true;
}

static void emit_json(struct buf *b, const char *ts, enum log_level l, const char *group,
		      const char *msg, va_list *ap)
{
	struct jw jw;
	jw_init(&jw, b, false);
	jw_object_begin(&jw, NULL);
	jw_string(&jw, "ts", ts);
	jw_string(&jw, "level", log_level_names[l]);
	jw_string(&jw, "msg", msg);
	jw_string(&jw, "service", service());
	if (group)
		jw_string(&jw, "group", group);
	struct kv kv;
	while (next_kv(ap, &kv)) {
		if (kv.type == KV_I64)
			jw_int(&jw, kv.key, kv.i);
		else if (kv.type == KV_BOOL)
			jw_bool(&jw, kv.key, kv.i != 0);
		else if (kv.s)
			jw_string(&jw, kv.key, kv.s);
	}
	jw_end(&jw);
}

static void add_text_field(struct buf *b, const char *k, const char *v)
{
	buf_printf(b, " %s=", k);
	if (needs_quotes(v)) {
		buf_addch(b, '"');
		log_escape(b, v);
		buf_addch(b, '"');
	} else {
		log_escape(b, v);
	}
}

static void emit_text(struct buf *b, const char *ts, enum log_level l, const char *group,
		      const char *msg, va_list *ap)
{
	buf_printf(b, "%s %-5s ", ts, log_level_names[l]);
	if (group) {
		buf_addch(b, '[');
		log_escape(b, group);
		buf_addstr(b, "] ");
	}
	log_escape(b, msg);
	add_text_field(b, "service", service());
	struct kv kv;
	while (next_kv(ap, &kv)) {
		if (kv.type == KV_I64)
			buf_printf(b, " %s=%" PRId64, kv.key, kv.i);
		else if (kv.type == KV_BOOL)
			buf_printf(b, " %s=%s", kv.key, kv.i ? "true" : "false");
		else if (kv.s)
			add_text_field(b, kv.key, kv.s);
	}
}

static void emit(enum log_level l, const char *group, const char *msg, va_list *ap)
{
	struct buf b = BUF_INIT;
	char ts[40];
	timestamp(ts);
	if (stderr_is_journal())
		buf_addstr(&b, journal_prefix[l]);
	if (out_format == LOG_FORMAT_JSON)
		emit_json(&b, ts, l, group, msg, ap);
	else
		emit_text(&b, ts, l, group, msg, ap);
	buf_addch(&b, '\n');
	fwrite(b.data, 1, b.len, stderr);
	fflush(stderr);
	buf_release(&b);
}

void log_kv(enum log_level l, const char *group, const char *msg, ...)
{
	if (l < min_level)
		return;
	va_list ap;
	va_start(ap, msg);
	emit(l, group, msg, &ap);
	va_end(ap);
}

static void emit_none(enum log_level l, const char *group, const char *msg, ...)
{
	va_list ap;
	va_start(ap, msg);
	emit(l, group, msg, &ap);
	va_end(ap);
}

void log_msg(enum log_level l, const char *group, const char *fmt, ...)
{
	if (l < min_level)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	emit_none(l, group, msg, (const char *)NULL);
	free(msg);
}

char *log_redact_url(const char *url)
{
	if (!url)
		return xstrdup("");
	const char *p = strstr(url, "://");
	if (!p)
		return xstrdup("(redacted)");
	p += 3;
	size_t hostlen = strcspn(p, "/?#");
	/* Drop any userinfo: it is a secret too. */
	const char *at = memchr(p, '@', hostlen);
	const char *host = at ? at + 1 : p;
	size_t hl = hostlen - (size_t)(host - p);
	return xasprintf("%.*s%.*s/…", (int)(p - url), url, (int)hl, host);
}

char *log_mask_userinfo(const char *url)
{
	const char *p = strstr(url, "://");
	if (!p)
		return xstrdup(url);
	p += 3;
	const char *at = memchr(p, '@', strcspn(p, "/?#"));
	if (!at)
		return xstrdup(url);
	return xasprintf("%.*s***%s", (int)(p - url), url, at);
}

/* ---- repeating states ------------------------------------------------------ */

struct repeat {
	char *key;                   /* NULL: a free slot */
	char *state;                 /* NULL: cleared (well again) */
	int64_t told;                /* when its state was last logged */
	long held;                   /* lines held back since */
};

struct log_repeats {
	struct repeat *v;
	size_t cap, n;               /* cap is 0 or a power of two */
};

static struct log_repeats *repeats;

struct log_repeats *log_repeats_new(void)
{
	return xcalloc(1, sizeof(struct log_repeats));
}

void log_repeats_free(struct log_repeats *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->cap; i++) {
		free(r->v[i].key);
		free(r->v[i].state);
	}
	free(r->v);
	free(r);
}

static size_t repeat_hash(const char *s)
{
	uint64_t h = 14695981039346656037u;   /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return (size_t)h;
}

/* The slot of key: its own, or the free one where it would go. */
static struct repeat *repeat_slot(struct log_repeats *r, const char *key)
{
	size_t i = repeat_hash(key) & (r->cap - 1);
	while (r->v[i].key && strcmp(r->v[i].key, key) != 0)
		i = (i + 1) & (r->cap - 1);
	return &r->v[i];
}

static struct repeat *repeat_find(struct log_repeats *r, const char *key, bool add)
{
	if (add && 2 * (r->n + 1) > r->cap) {
		struct log_repeats big = { NULL, r->cap ? 2 * r->cap : 16, 0 };
		big.v = xcalloc(big.cap, sizeof *big.v);
		for (size_t i = 0; i < r->cap; i++)
			if (r->v[i].key)
				*repeat_slot(&big, r->v[i].key) = r->v[i];
		free(r->v);
		r->v = big.v;
		r->cap = big.cap;
	}
	if (!r->cap)
		return NULL;
	struct repeat *e = repeat_slot(r, key);
	if (!e->key && add) {
		e->key = xstrdup(key);
		r->n++;
	}
	return e->key ? e : NULL;
}

long log_repeats_check(struct log_repeats *r, const char *key, const char *state, int64_t now)
{
	struct repeat *e = repeat_find(r, key, true);
	const char *st = state ? state : "";
	if (e->state && strcmp(e->state, st) == 0 && now - e->told < LOG_REPEAT_MS &&
	    now >= e->told) {
		e->held++;
		return -1;
	}
	/* A new state is news; the same one is told again once a minute. */
	long held = e->state && strcmp(e->state, st) == 0 ? e->held : 0;
	free(e->state);
	e->state = xstrdup(st);
	e->told = now;
	e->held = 0;
	return held;
}

void log_repeats_clear(struct log_repeats *r, const char *key)
{
	struct repeat *e = repeat_find(r, key, false);
	if (e) {
		free(e->state);
		e->state = NULL;
		e->held = 0;
	}
}

long log_repeat(const char *key, const char *state)
{
	if (!repeats)
		repeats = log_repeats_new();
	return log_repeats_check(repeats, key, state, mono_ms());
}

void log_repeat_clear(const char *key)
{
	if (repeats)
		log_repeats_clear(repeats, key);
}

void log_release(void)
{
	log_repeats_free(repeats);
	repeats = NULL;
	free(service_name);
	service_name = NULL;
}
