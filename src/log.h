/*
 * log.h — leveled logging to stderr, one line per event, as JSON objects
 * ({"ts","level","msg","service","group",...context}) or as text
 * ("TS LEVEL [group] msg service=NAME key=value...").
 *
 * Every string that may come from outside (API messages, bodies, curl
 * errors, names) is escaped here, so callers pass it as it came. Context
 * is given as key/value pairs ending with NULL: a string key and a string
 * value (a NULL value is skipped), or a typed pair made by LOG_I64() or
 * LOG_BOOL(), which JSON shows as a number or a boolean. The API token is
 * never passed to the logger; webhook URLs go through log_redact_url()
 * first.
 *
 * Timestamps are UTC with milliseconds. When stderr is the systemd journal
 * ($JOURNAL_STREAM names stderr's device and inode, as sd_journal_stream_fd()
 * sets it), every line starts with the sd-daemon(3) priority prefix
 * ("<4>" for warn), which journald turns into the entry's priority, so
 * `journalctl -p warning` finds warnings and errors.
 */
#ifndef FLIPPER_LOG_H
#define FLIPPER_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_FORMAT_JSON, LOG_FORMAT_TEXT };

/*
 * Typed context values: the key (a string literal) carries a tag byte the
 * logger reads to know what the next argument is, and the macro casts the
 * value to exactly that type, so a varargs call cannot be misread.
 *
 *   log_kv(LOG_WARN, id, "notification not delivered", "kind", kind,
 *          LOG_I64("attempts", n), NULL);
 */
#define LOG_TAG_I64 "\001"
#define LOG_TAG_BOOL "\002"
#define LOG_I64(key, v) LOG_TAG_I64 key, (int64_t)(v)
#define LOG_BOOL(key, v) LOG_TAG_BOOL key, (int)((v) ? 1 : 0)

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

/*
 * A repeating state (a dead backend failing every 2 s, an API that keeps
 * refusing) is logged when it changes, then at most once every
 * LOG_REPEAT_MS while it lasts. key names the thing ("check web/lb-1/
 * http/ipv4"), state what it is in (its error). The one place that
 * decides:
 *
 *   long held = log_repeat(key, error);
 *   if (held >= 0)
 *           log_kv(LOG_INFO, ..., LOG_I64("repeated", held), NULL);
 *
 * Returns -1 to hold this line back, else how many lines of the same
 * state were held back since the last one logged. log_repeat_clear(key)
 * when the thing is well again, so its next failure is news.
 */
#define LOG_REPEAT_MS 60000
long log_repeat(const char *key, const char *state);
void log_repeat_clear(const char *key);

/*
 * The decision itself, on a table of its own and an explicit clock (the
 * unit tests'); log_repeat() uses one table and mono_ms().
 */
struct log_repeats;
struct log_repeats *log_repeats_new(void);
void log_repeats_free(struct log_repeats *r);
long log_repeats_check(struct log_repeats *r, const char *key, const char *state, int64_t now);
void log_repeats_clear(struct log_repeats *r, const char *key);

/* At exit: what the logger holds. */
void log_release(void);

#endif
