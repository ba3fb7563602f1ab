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
 * buf_init(b, max) with max 0 means "no cap" (only for our own output).
 * Appends past the cap are refused: buf_add() returns -1 and sets
 * b->overflow, keeping what fit. The buffer owns b->data; buf_release()
 * frees it, buf_detach() hands it to the caller.
 */
struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
	bool overflow;
};

#define BUF_INIT { NULL, 0, 0, 0, false }

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
char *buf_detach(struct buf *b);
void buf_reset(struct buf *b);
int buf_add(struct buf *b, const void *data, size_t len);
int buf_addstr(struct buf *b, const char *s);
int buf_addch(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) PRINTF_LIKE(2, 0);
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
void sleep_ms(int64_t ms);
/* RFC 3339 UTC ("2026-11-24T12:00:00Z") from milliseconds since epoch. */
void format_time_utc(int64_t ms, char out[32]);

bool str_eq(const char *a, const char *b);  /* NULL-safe */
bool str_has_prefix(const char *s, const char *prefix);
bool str_has_suffix(const char *s, const char *suffix);

/*
 * Read a whole file (or everything from fd, e.g. stdin), at most max
 * bytes; more is an error (EFBIG), never a silent truncation. The result
 * is NUL-terminated. 0 ok; -1 with errno set.
 */
int read_file(const char *path, size_t max, char **out, size_t *len);
int read_fd(int fd, size_t max, char **out, size_t *len);

#endif
