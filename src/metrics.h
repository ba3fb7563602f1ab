/*
 * metrics.h — the Prometheus text-format file written after passes
 * (telemetry.metrics.textfile), for node_exporter's textfile collector.
 *
 * Samples are grouped by family (one HELP and TYPE line each, as the
 * format requires) in the order families were declared. The file is
 * written atomically: a temporary file in the same directory, then
 * rename(2), so a scraper never reads half a file.
 */
#ifndef FLIPPER_METRICS_H
#define FLIPPER_METRICS_H

#include "util.h"

struct metrics;

/* metrics.c */
struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);
void metrics_family(struct metrics *m, const char *name, const char *type, const char *help);
/*
 * One sample of a declared family. Labels are name/value pairs ending
 * with NULL; values are escaped here.
 */
void metrics_sample(struct metrics *m, const char *family, double value, ...)
	__attribute__((sentinel));
/* Same, with the label text already formatted ("a=\"b\",c=\"d\""). */
void metrics_sample_raw(struct metrics *m, const char *family, const char *labels, double value);
/* Append name="value" (escaped) to a label text buffer. */
void metrics_label(struct buf *b, const char *name, const char *value);
void metrics_render(const struct metrics *m, struct buf *out);
/* 0 ok; -1 with *err (owned). */
int metrics_write_file(const struct metrics *m, const char *path, char **err);

#endif
