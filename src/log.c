/* log.c — leveled, escaped logging to stderr in JSON or text. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static enum log_level min_level = LOG_INFO;
static enum log_format out_format = LOG_FORMAT_TEXT;
/* service.name, on every line as the original had it; owned. */
static char *service_name;

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

static void emit_json(struct buf *b, const char *ts, enum log_level l, const char *group,
		      const char *msg, va_list ap)
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
	for (;;) {
		const char *k = va_arg(ap, const char *);
		if (!k)
			break;
		const char *v = va_arg(ap, const char *);
		if (v)
			jw_string(&jw, k, v);
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
		      const char *msg, va_list ap)
{
	buf_printf(b, "%s %-5s ", ts, log_level_names[l]);
	if (group) {
		buf_addch(b, '[');
		log_escape(b, group);
		buf_addstr(b, "] ");
	}
	log_escape(b, msg);
	add_text_field(b, "service", service());
	for (;;) {
		const char *k = va_arg(ap, const char *);
		if (!k)
			break;
		const char *v = va_arg(ap, const char *);
		if (!v)
			continue;
		add_text_field(b, k, v);
	}
}

static void emit(enum log_level l, const char *group, const char *msg, va_list ap)
{
	struct buf b = BUF_INIT;
	char ts[32];
	format_time_utc(now_ms(), ts);
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
	emit(l, group, msg, ap);
	va_end(ap);
}

static void emit_none(enum log_level l, const char *group, const char *msg, ...)
{
	va_list ap;
	va_start(ap, msg);
	emit(l, group, msg, ap);
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
