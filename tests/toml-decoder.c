/*
 * toml-decoder.c — the toml-test decoder for flipper's TOML reader.
 *
 * Reads TOML on stdin (at most DECODER_MAX bytes), prints the document
 * as tagged JSON on stdout and exits 0; or prints "line:col: message" on
 * stderr and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "node.h"
#include "util.h"

#define DECODER_MAX (16u << 20)

int main(void)
{
	struct buf out;
	struct diags d;
	struct node *root;
	char *in = NULL;
	size_t len = 0;
	int status = 1;

	buf_init(&out, 0);
	diags_init(&d, NULL);
	if (read_fd(STDIN_FILENO, DECODER_MAX, &in, &len) < 0) {
		perror("toml-decoder: reading stdin");
		goto done;
	}
	if (toml_read(in, len, &root, &d) < 0) {
		for (size_t i = 0; i < d.n; i++) {
			char *msg = diag_format(&d, &d.list[i]);
			fprintf(stderr, "%s\n", msg);
			free(msg);
		}
		goto done;
	}
	node_to_json(root, &out, true);
	node_free(root);
	buf_addch(&out, '\n');
	if (fwrite(out.data, 1, out.len, stdout) == out.len && fflush(stdout) == 0)
		status = 0;
done:
	diags_release(&d);
	free(in);
	buf_release(&out);
	return status;
}
