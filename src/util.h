/*
 * util.h — allocation that cannot fail, a bounded growable buffer, and
 * small helpers for numbers and time that every module shares.
 *
 * Allocation failure is not recoverable for a one-shot reconciler: x*()
 * print a message and abort, so callers never see NULL.
 */
#ifndef FLIPPER_UTIL_H
#define FLIPPER_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

/* util.c */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
/* Grow *p (an array of *cap elements of size sz) to hold at least need. */
void *xgrow(void *p, size_t *cap, size_t need, size_t sz);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);
char *xvasprintf(const char *fmt, va_list ap) PRINTF_LIKE(1, 0);

/*
 * struct buf: a NUL-terminated byte buffer with a hard maximum.
 *
 * b->data is never NULL (git's strbuf invariant): an empty buffer points
 * at buf_slop, so b->data is always a string and callers need no
 * "b.data ? b.data : \"\"" guard. Never write through buf_slop.
 *
 * BUF_INIT is an empty, uncapped buffer. buf_init(b, max) sets a cap of
 * max bytes; max BUF_UNCAPPED means none, and is only for text we
 * produce ourselves: whatever comes from outside gets a named cap.
 * Appends past the cap are refused: buf_add() returns -1 and sets
 * b->overflow, which stays set, keeping what fit; so a caller may append
 * freely and check b->overflow once at the end. (That is also why the
 * add functions are not warn_unused_result: on the uncapped buffers most
 * callers use, the result means nothing.)
 *
 * The buffer owns b->data; buf_release() frees it and leaves the buffer
 * empty and usable, buf_detach() hands the text to the caller.
 */
struct buf {
	char *data;
	size_t len;
	size_t cap;              /* bytes allocated; 0 while data is buf_slop */
	size_t max;
	bool overflow;
};

extern char buf_slop[1];
#define BUF_UNCAPPED 0
#define BUF_INIT { .data = buf_slop, .len = 0, .cap = 0, .max = BUF_UNCAPPED, .overflow = false }

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
/* The text, now the caller's (never NULL); the buffer is left empty. */
char *buf_detach(struct buf *b);
void buf_reset(struct buf *b);
/* Cut back to len bytes (len <= b->len). */
void buf_truncate(struct buf *b, size_t len);
int buf_add(struct buf *b, const void *data, size_t len);
int buf_addstr(struct buf *b, const char *s);
int buf_addch(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) PRINTF_LIKE(2, 0);
/* Append the code point cp (at most 0x10FFFF, not a surrogate) as UTF-8. */
void buf_add_utf8(struct buf *b, uint32_t cp);
/* Append s as a JSON string literal, quotes included. */
void buf_add_json_string(struct buf *b, const char *s);

/* Strict number parsing: whole string, range checked. 0 ok, -1 bad. */
int parse_int64(const char *s, int64_t *out);
int parse_long_range(const char *s, long min, long max, long *out);

/*
 * Time. now_ms() and mono_ms() are the only clocks flipper reads, so the
 * test clock can shift them: test_clock_setup() takes its file from
 * FLIPPER_TEST_CLOCK_FILE, only when FLIPPER_TEST_MODE=1 is set too
 * (util.c); anything else with the file set is an error for main to
 * report. 0 ok (or no test clock); -1 with *err allocated.
 */
int test_clock_setup(char **err);
int64_t now_ms(void);            /* CLOCK_REALTIME in milliseconds */
int64_t mono_ms(void);           /* CLOCK_MONOTONIC in milliseconds */
/* RFC 3339 UTC ("2026-11-24T12:00:00Z") from milliseconds since epoch. */
void format_time_utc(int64_t ms, char out[32]);

bool str_eq(const char *a, const char *b);  /* NULL-safe */
bool str_has_prefix(const char *s, const char *prefix);
bool str_has_suffix(const char *s, const char *suffix);
/*
 * Does the URL's host name this machine: localhost, 127.0.0.0/8 or ::1
 * (also as ::ffff:127.x)? Userinfo and port are skipped.
 */
bool url_host_is_loopback(const char *url);

/*
 * Read a whole file (or everything from fd, e.g. stdin), at most max
 * bytes; more is an error (EFBIG), never a silent truncation. The result
 * is NUL-terminated. 0 ok; -1 with errno set.
 */
int read_file(const char *path, size_t max, char **out, size_t *len);
int read_fd(int fd, size_t max, char **out, size_t *len);

#endif
