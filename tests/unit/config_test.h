/*
 * For the unit tests that load a configuration from text: the
 * diagnostics of the last load (d), the load itself, and a question
 * about what it said. Each test file keeps its own d.
 */
#ifndef FLIPPER_TEST_CONFIG_TEST_H
#define FLIPPER_TEST_CONFIG_TEST_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static struct diags d;

/* text as the file t.yaml, read by reader, loaded for use. */
static inline struct config *load_as(const char *text, config_reader_fn reader,
				     enum config_use use)
{
	diags_release(&d);
	diags_init(&d, "t.yaml");
	return config_parse("t.yaml", text, strlen(text), reader, use, &d);
}

/* Does some diagnostic of this severity contain a, and b unless it is NULL? */
static inline bool has_diag(enum diag_severity sev, const char *a, const char *b)
{
	for (size_t i = 0; i < d.n; i++) {
		char *s = diag_format(&d, &d.list[i]);
		bool hit = d.list[i].severity == sev && strstr(s, a) && (!b || strstr(s, b));
		free(s);
		if (hit)
			return true;
	}
	return false;
}

#endif
