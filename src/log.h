/*
 * log.h — leveled logging to stderr, one line per event, as JSON objects
 * ({"ts","level","msg","service","group",...context}) or as text
 * ("TS LEVEL [group] msg service=NAME key=value...").
 *
 * Every string that may come from outside (API messages, bodies, curl
 * errors, names) is escaped here, so callers pass it as it came. Context
 * is given as key/value string pairs ending with NULL; a NULL value is
 * skipped. The API token is never passed to the logger; webhook URLs go
 * through log_redact_url() first.
 */
#ifndef FLIPPER_LOG_H
#define FLIPPER_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_FORMAT_JSON, LOG_FORMAT_TEXT };

/* log.c */
/*
 * The names of enum log_level and enum log_format, indexed by value and
 * NULL-terminated: the one spelling of each, which the configuration's
 * key table (config_keys.c) shares.
 */
extern const char *const log_level_names[];
extern const char *const log_format_names[];
void log_setup(enum log_level level, enum log_format format);
/* service.name: every line carries it ("service"); NULL or "": flipper. */
void log_set_service(const char *name);
enum log_level log_get_level(void);
int log_level_parse(const char *s, enum log_level *out);
int log_format_parse(const char *s, enum log_format *out);
const char *log_level_name(enum log_level l);
bool log_enabled(enum log_level l);
/* msg is a literal or our own text; kv pairs are escaped. */
void log_kv(enum log_level l, const char *group, const char *msg, ...)
	__attribute__((sentinel));
/* printf-style message, no context. */
void log_msg(enum log_level l, const char *group, const char *fmt, ...)
	PRINTF_LIKE(3, 4);
/* Escape untrusted text for a one-line human display (\n, \xNN, \"). */
void log_escape(struct buf *out, const char *s);
/* "https://host/hooks/abc" -> "https://host/…" (newly allocated). */
char *log_redact_url(const char *url);
/* The URL with its userinfo ("user:pw@") shown as "***@"; newly allocated. */
char *log_mask_userinfo(const char *url);

#endif
