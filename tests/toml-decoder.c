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

static int read_stdin(struct buf *in)
{
	char chunk[65536];
	ssize_t n;
	while ((n = read(STDIN_FILENO, chunk, sizeof chunk)) != 0) {
		if (n < 0) {
			perror("toml-decoder: read");
			return -1;
		}
		if (buf_add(in, chunk, (size_t)n) < 0) {
			fprintf(stderr, "toml-decoder: input larger than %u bytes\n", DECODER_MAX);
			return -1;
		}
	}
	return 0;
}

int main(void)
{
	struct buf in, out;
	struct diags d;
	struct node *root;
	int status = 1;

	buf_init(&in, DECODER_MAX);
	buf_init(&out, 0);
	diags_init(&d, NULL);
	if (read_stdin(&in) < 0)
		goto done;
	if (toml_read(in.data ? in.data : "", in.len, &root, &d) < 0) {
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
	buf_release(&in);
	buf_release(&out);
	return status;
}
