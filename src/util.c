/* util.c — allocation, bounded buffers, strict numbers, time. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void oom(size_t n)
{
	fprintf(stderr, "flipper: out of memory allocating %zu bytes\n", n);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom(n * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

void *xgrow(void *p, size_t *cap, size_t need, size_t sz)
{
	size_t c = *cap;
	if (need <= c)
		return p;
	if (c < 8)
		c = 8;
	while (c < need) {
		if (c > SIZE_MAX / 2 / sz)
			oom(SIZE_MAX);
		c *= 2;
	}
	*cap = c;
	return xrealloc(p, c * sz);
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xvasprintf(const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		oom(0);
	char *p = xmalloc((size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

char buf_slop[1];

void buf_init(struct buf *b, size_t max)
{
	b->data = buf_slop;
	b->len = 0;
	b->cap = 0;
	b->max = max;
	b->overflow = false;
}

void buf_release(struct buf *b)
{
	if (b->cap)
		free(b->data);
	buf_init(b, b->max);
}

char *buf_detach(struct buf *b)
{
	char *p = b->cap ? b->data : xstrdup("");
	buf_init(b, b->max);
	return p;
}

void buf_reset(struct buf *b)
{
	buf_truncate(b, 0);
	b->overflow = false;
}

void buf_truncate(struct buf *b, size_t len)
{
	if (len >= b->len)
		return;
	b->len = len;
	b->data[len] = '\0';   /* len < old len, so data is allocated */
}

int buf_add(struct buf *b, const void *data, size_t len)
{
	int rc = 0;
	if (b->max && b->len + len > b->max) {
		len = b->max > b->len ? b->max - b->len : 0;
		b->overflow = true;
		rc = -1;
	}
	if (!len)
		return rc;
	/* A zeroed struct buf (data NULL) is taken as empty too. */
	b->data = xgrow(b->cap ? b->data : NULL, &b->cap, b->len + len + 1, 1);
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return rc;
}

int buf_addstr(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int buf_addch(struct buf *b, char c)
{
	return buf_add(b, &c, 1);
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	char *s = xvasprintf(fmt, ap);
	int rc = buf_addstr(b, s);
	free(s);
	return rc;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

void buf_add_utf8(struct buf *b, uint32_t cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	buf_add(b, u, n);
}

void buf_add_json_string(struct buf *b, const char *s)
{
	buf_addch(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': buf_addstr(b, "\\\""); break;
		case '\\': buf_addstr(b, "\\\\"); break;
		case '\n': buf_addstr(b, "\\n"); break;
		case '\r': buf_addstr(b, "\\r"); break;
		case '\t': buf_addstr(b, "\\t"); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				buf_printf(b, "\\u%04x", *p);
			else
				buf_addch(b, (char)*p);
		}
	}
	buf_addch(b, '"');
}

int parse_int64(const char *s, int64_t *out)
{
	/* strtoll would skip leading blanks and take a '+': we do not. */
	if (!s || !(*s == '-' || (*s >= '0' && *s <= '9')))
		return -1;
	errno = 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || end == s)
		return -1;
	*out = (int64_t)v;
	return 0;
}

int parse_long_range(const char *s, long min, long max, long *out)
{
	int64_t v;
	if (parse_int64(s, &v) < 0 || v < min || v > max)
		return -1;
	*out = (long)v;
	return 0;
}

/*
 * The test clock. FLIPPER_TEST_CLOCK_FILE names a file holding two
 * integers, "WALL_OFFSET_MS MONO_OFFSET_MS", added to CLOCK_REALTIME and
 * CLOCK_MONOTONIC. The test suite rewrites the file while flipper runs (a
 * clock step in the middle of `monitor`), so the file is looked at again,
 * at most every TEST_CLOCK_RECHECK_MS of real time, and read only when
 * its inode, size or mtime changed. Honoured only with FLIPPER_TEST_MODE=1
 * (test_clock_setup); without the variable the clocks are read directly.
 */
#define TEST_CLOCK_RECHECK_MS 5
#define TEST_CLOCK_MAX_BYTES 128

static struct {
	char *path;                  /* NULL: the real clocks */
	int64_t wall_offset_ms;
	int64_t mono_offset_ms;
	int64_t checked_at;          /* real monotonic ms of the last look */
	struct stat seen;            /* the file as last read */
} test_clock;

static int64_t clock_ms(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "WALL MONO" (decimal, either may be negative); 0 ok, -1 bad. */
static int test_clock_parse(const char *text, int64_t *wall, int64_t *mono)
{
	char *end;
	errno = 0;
	long long w = strtoll(text, &end, 10);
	if (errno || end == text || (*end != ' ' && *end != '\t'))
		return -1;
	const char *p = end;
	long long m = strtoll(p, &end, 10);
	if (errno || end == p)
		return -1;
	while (*end == ' ' || *end == '\t' || *end == '\n')
		end++;
	if (*end)
		return -1;
	*wall = w;
	*mono = m;
	return 0;
}

/* Read the file if it changed; a half-written file keeps the old offsets. */
static int test_clock_load(void)
{
	struct stat st;
	char *text;
	int64_t wall, mono;
	if (stat(test_clock.path, &st) < 0)
		return -1;
	if (st.st_ino == test_clock.seen.st_ino && st.st_size == test_clock.seen.st_size &&
	    st.st_mtim.tv_sec == test_clock.seen.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == test_clock.seen.st_mtim.tv_nsec)
		return 0;
	if (read_file(test_clock.path, TEST_CLOCK_MAX_BYTES, &text, NULL) < 0)
		return -1;
	int rc = test_clock_parse(text, &wall, &mono);
	free(text);
	if (rc < 0) {
		errno = 0;
		return -1;
	}
	test_clock.wall_offset_ms = wall;
	test_clock.mono_offset_ms = mono;
	test_clock.seen = st;
	return 0;
}

static void test_clock_refresh(void)
{
	int64_t now = clock_ms(CLOCK_MONOTONIC);
	if (now - test_clock.checked_at < TEST_CLOCK_RECHECK_MS)
		return;
	test_clock.checked_at = now;
	test_clock_load();
}

int test_clock_setup(char **err)
{
	const char *path = getenv("FLIPPER_TEST_CLOCK_FILE");
	const char *mode = getenv("FLIPPER_TEST_MODE");
	*err = NULL;
	free(test_clock.path);
	memset(&test_clock, 0, sizeof test_clock);
	if (!path || !*path)
		return 0;
	if (!str_eq(mode, "1")) {
		*err = xstrdup("FLIPPER_TEST_CLOCK_FILE is set, but the test clock is for the "
			       "test suite only (it needs FLIPPER_TEST_MODE=1): unset "
			       "FLIPPER_TEST_CLOCK_FILE");
		return -1;
	}
	test_clock.path = xstrdup(path);
	if (test_clock_load() < 0) {
		*err = xasprintf("FLIPPER_TEST_CLOCK_FILE=%s: %s", path, errno ? strerror(errno) :
				 "expected two integers, WALL_OFFSET_MS MONO_OFFSET_MS");
		free(test_clock.path);
		test_clock.path = NULL;
		return -1;
	}
	test_clock.checked_at = clock_ms(CLOCK_MONOTONIC);
	return 0;
}

int64_t now_ms(void)
{
	if (!test_clock.path)
		return clock_ms(CLOCK_REALTIME);
	test_clock_refresh();
	return clock_ms(CLOCK_REALTIME) + test_clock.wall_offset_ms;
}

int64_t mono_ms(void)
{
	if (!test_clock.path)
		return clock_ms(CLOCK_MONOTONIC);
	test_clock_refresh();
	return clock_ms(CLOCK_MONOTONIC) + test_clock.mono_offset_ms;
}

void format_time_utc(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

bool str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

bool str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool str_has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

int read_fd(int fd, size_t max, char **out, size_t *len)
{
	struct buf b;
	char chunk[8192];
	buf_init(&b, max);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			buf_release(&b);
			errno = e;
			return -1;
		}
		if (n == 0)
			break;
		if (buf_add(&b, chunk, (size_t)n) < 0) {
			buf_release(&b);
			errno = EFBIG;
			return -1;
		}
	}
	if (len)
		*len = b.len;
	*out = buf_detach(&b);
	return 0;
}

int read_file(const char *path, size_t max, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = read_fd(fd, max, out, len);
	int e = errno;
	close(fd);
	errno = e;
	return rc;
}

bool url_host_is_loopback(const char *url)
{
	const char *p = strstr(url, "://");
	if (!p)
		return false;
	p += 3;
	size_t authority = strcspn(p, "/?#");
	const char *at = memchr(p, '@', authority);
	if (at) {
		authority -= (size_t)(at + 1 - p);
		p = at + 1;
	}
	char host[64];
	size_t len;
	if (*p == '[') {
		const char *close = memchr(p, ']', authority);
		if (!close)
			return false;
		p++;
		len = (size_t)(close - p);
	} else {
		len = strcspn(p, ":/?#");
		if (len > authority)
			len = authority;
	}
	if (len == 0 || len >= sizeof host)
		return false;
	memcpy(host, p, len);
	host[len] = '\0';
	if (strcasecmp(host, "localhost") == 0 || strcasecmp(host, "localhost.") == 0)
		return true;
	struct in_addr a4;
	struct in6_addr a6;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		       (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return false;
}
