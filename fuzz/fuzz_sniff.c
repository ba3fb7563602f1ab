/*
 * fuzz_sniff.c — store_sniff(): what the first bytes of a file at the
 * state path look like (sniff.c), the words of a refusal.
 *
 * Checked properties (a violation aborts):
 *   - only an empty input is "empty", and an empty input always is;
 *   - every answer names what the file looks like;
 *   - application_id is 0 unless the bytes are a SQLite header, and then
 *     it is the header's own (bytes 68-71, big-endian);
 *   - nothing past STORE_SNIFF_BYTES changes the answer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t app = 0xdeadbeef;
	const char *what = NULL;
	enum store_kind k = store_sniff(data, size, &app, &what);

	if ((k == STORE_KIND_EMPTY) != (size == 0) || !what || !*what)
		abort();
	if (k == STORE_KIND_SQLITE) {
		uint32_t want = size >= 72 ? (uint32_t)data[68] << 24 | (uint32_t)data[69] << 16 |
					     (uint32_t)data[70] << 8 | data[71] : 0;
		if (size < 100 || memcmp(data, "SQLite format 3", 16) != 0 || app != want)
			abort();
	} else if (app != 0) {
		abort();
	}
	if (size > STORE_SNIFF_BYTES) {
		uint32_t app2 = 0;
		const char *what2 = NULL;
		if (store_sniff(data, STORE_SNIFF_BYTES, &app2, &what2) != k || app2 != app ||
		    strcmp(what, what2) != 0)
			abort();
	}
	return 0;
}
