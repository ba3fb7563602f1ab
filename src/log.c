/* log.c — leveled, escaped logging to stderr in JSON or text. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum log_level min_level = LOG_INFO;
static enum log_format out_format = LOG_FORMAT_TEXT;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void log_setup(enum log_level level, enum log_format format)
{
	min_level = level;
	out_format = format;
}

enum log_level log_get_level(void)
{
	return min_level;
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcmp(s, "warning") == 0) {
		*out = LOG_WARN;
		return 0;
	}
	return -1;
}

int log_format_parse(const char *s, enum log_format *out)
{
	if (strcmp(s, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else if (strcmp(s, "text") == 0)
		*out = LOG_FORMAT_TEXT;
	else
		return -1;
	return 0;
}

const char *log_level_name(enum log_level l)
{
	return level_names[l];
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

static void emit(enum log_level l, const char *group, const char *msg, va_list ap)
{
	struct buf b;
	char ts[32];
	buf_init(&b, 0);
	format_time_utc(now_ms(), ts);

	if (out_format == LOG_FORMAT_JSON) {
		buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts, level_names[l]);
		buf_add_json_string(&b, msg);
		if (group) {
			buf_addstr(&b, ",\"group\":");
			buf_add_json_string(&b, group);
		}
	} else {
		buf_printf(&b, "%s %-5s ", ts, level_names[l]);
		if (group) {
			buf_addch(&b, '[');
			log_escape(&b, group);
			buf_addstr(&b, "] ");
		}
		log_escape(&b, msg);
	}

	for (;;) {
		const char *k = va_arg(ap, const char *);
		if (!k)
			break;
		const char *v = va_arg(ap, const char *);
		if (!v)
			continue;
		if (out_format == LOG_FORMAT_JSON) {
			buf_addch(&b, ',');
			buf_add_json_string(&b, k);
			buf_addch(&b, ':');
			buf_add_json_string(&b, v);
		} else {
			buf_printf(&b, " %s=", k);
			if (needs_quotes(v)) {
				buf_addch(&b, '"');
				log_escape(&b, v);
				buf_addch(&b, '"');
			} else {
				log_escape(&b, v);
			}
		}
	}
	buf_addstr(&b, out_format == LOG_FORMAT_JSON ? "}\n" : "\n");
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
