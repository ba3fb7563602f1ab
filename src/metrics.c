/* metrics.c — Prometheus text exposition, written atomically. */
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct family {
	char *name;
	char *type;
	char *help;
	struct buf samples;
};

struct metrics {
	struct family *f;
	size_t n, cap;
};

struct metrics *metrics_new(void)
{
	return xcalloc(1, sizeof(struct metrics));
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		free(m->f[i].name);
		free(m->f[i].type);
		free(m->f[i].help);
		buf_release(&m->f[i].samples);
	}
	free(m->f);
	free(m);
}

void metrics_family(struct metrics *m, const char *name, const char *type, const char *help)
{
	m->f = xgrow(m->f, &m->cap, m->n + 1, sizeof *m->f);
	struct family *f = &m->f[m->n++];
	f->name = xstrdup(name);
	f->type = xstrdup(type);
	f->help = xstrdup(help);
	buf_init(&f->samples, 0);
}

static struct family *find(struct metrics *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->f[i].name, name) == 0)
			return &m->f[i];
	return NULL;
}

void metrics_label(struct buf *b, const char *name, const char *value)
{
	if (b->len)
		buf_addch(b, ',');
	buf_printf(b, "%s=\"", name);
	for (const char *p = value ? value : ""; *p; p++) {
		if (*p == '\\')
			buf_addstr(b, "\\\\");
		else if (*p == '"')
			buf_addstr(b, "\\\"");
		else if (*p == '\n')
			buf_addstr(b, "\\n");
		else
			buf_addch(b, *p);
	}
	buf_addch(b, '"');
}

/*
 * The shortest "%g" text that reads back as v: a Unix time in seconds
 * with milliseconds needs 13 digits, and a fixed "%.10g" would round
 * 1795524387.654 to 1795524388 — a timestamp in the future.
 */
static const char *shortest(double v, char out[32])
{
	for (int prec = 6; prec < 17; prec++) {
		snprintf(out, 32, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return out;
	}
	snprintf(out, 32, "%.17g", v);
	return out;
}

static void add_value(struct buf *b, double v)
{
	char tmp[32];
	if (isnan(v))
		buf_addstr(b, "NaN");
	else if (isinf(v))
		buf_addstr(b, v > 0 ? "+Inf" : "-Inf");
	else if (fabs(v) < 9e15 && v == (double)(long long)v)
		buf_printf(b, "%lld", (long long)v);
	else
		buf_printf(b, "%s", shortest(v, tmp));
}

void metrics_sample_raw(struct metrics *m, const char *family, const char *labels, double value)
{
	struct family *f = find(m, family);
	if (!f)
		return;
	buf_addstr(&f->samples, family);
	if (labels && *labels)
		buf_printf(&f->samples, "{%s}", labels);
	buf_addch(&f->samples, ' ');
	add_value(&f->samples, value);
	buf_addch(&f->samples, '\n');
}

void metrics_sample(struct metrics *m, const char *family, double value, ...)
{
	struct buf labels = BUF_INIT;
	va_list ap;
	va_start(ap, value);
	for (;;) {
		const char *k = va_arg(ap, const char *);
		if (!k)
			break;
		const char *v = va_arg(ap, const char *);
		metrics_label(&labels, k, v);
	}
	va_end(ap);
	metrics_sample_raw(m, family, labels.data, value);
	buf_release(&labels);
}

void metrics_render(const struct metrics *m, struct buf *out)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct family *f = &m->f[i];
		buf_printf(out, "# HELP %s ", f->name);
		/* The format escapes only backslash and newline in HELP text. */
		for (const char *p = f->help; *p; p++) {
			if (*p == '\\')
				buf_addstr(out, "\\\\");
			else if (*p == '\n')
				buf_addstr(out, "\\n");
			else
				buf_addch(out, *p);
		}
		buf_printf(out, "\n# TYPE %s %s\n", f->name, f->type);
		if (f->samples.len)
			buf_add(out, f->samples.data, f->samples.len);
	}
}

int metrics_write_file(const struct metrics *m, const char *path, char **err)
{
	struct buf text = BUF_INIT;
	metrics_render(m, &text);
	/* Same directory, so rename(2) replaces the file in one step. */
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	int saved = 0;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		saved = errno;
		goto bad;
	}
	/* Readable by node_exporter, another user, even under the units'
	 * UMask=0077: the file holds no secret. */
	if (fchmod(fd, 0644) < 0)
		saved = errno;
	for (size_t off = 0; off < text.len;) {
		ssize_t w = write(fd, text.data + off, text.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			saved = errno;
			break;
		}
		off += (size_t)w;
	}
	if (!saved && fsync(fd) < 0)
		saved = errno;
	if (close(fd) < 0 && !saved)
		saved = errno;
	if (!saved && rename(tmp, path) < 0)
		saved = errno;
	if (saved) {
		unlink(tmp);
		goto bad;
	}
	free(tmp);
	buf_release(&text);
	return 0;
bad:
	*err = xasprintf("cannot write metrics file \"%s\": %s", path, strerror(saved));
	free(tmp);
	buf_release(&text);
	return -1;
}
