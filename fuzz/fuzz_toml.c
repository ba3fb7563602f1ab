/*
 * fuzz_toml.c — the TOML reader (toml.c), the document tree printed as
 * JSON both ways (node.c: the tagged toml-test form and plain JSON), and
 * the configuration loader on the same text.
 *
 * Environment as in fuzz_config_yaml.c: $HCLOUD_TOKEN is set for inputs
 * of odd length only.
 */
#include <stdint.h>
#include <stdlib.h>

#include "config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	setenv("FUZZ_TOKEN", "fuzz-token-0123456789", 1);
	setenv("FUZZ_URL", "https://hooks.example.invalid/hooks/abc?token=secret", 1);
	setenv("FUZZ_EMPTY", "", 1);
	setenv("FUZZ_SPACE", "two words\nand a line", 1);
	unsetenv("FUZZ_UNSET");
	unsetenv("HCLOUD_ENDPOINT");
	/*
	 * FLIPPER_* overrides apply to every input: into whatever tree the
	 * input makes (the section a scalar, null, two spellings, absent).
	 */
	setenv("FLIPPER_TELEMETRY__LOGGING__LEVEL", "debug", 1);
	setenv("FLIPPER_HEARTBEAT__TIMEOUT", "${FUZZ_SPACE}", 1);
	setenv("FLIPPER_SERVICE__NAME", "${FUZZ_TOKEN}", 1);
	setenv("FLIPPER_GROUPS__0__ID", "x", 1);
	return 0;
}

static void read_and_print(const char *text, size_t len)
{
	struct diags d;
	struct node *root = NULL;

	diags_init(&d, "fuzz.toml");
	if (toml_read(text, len, &root, &d) == 0 && root) {
		struct buf out = BUF_INIT;
		node_to_json(root, &out, true);
		buf_reset(&out);
		node_to_json(root, &out, false);
		buf_release(&out);
	}
	node_free(root);
	for (size_t i = 0; i < d.n; i++)
		free(diag_format(&d, &d.list[i]));
	diags_release(&d);
}

static void load_config(const char *text, size_t len)
{
	struct diags d;
	struct config *c;

	diags_init(&d, "fuzz.toml");
	c = config_parse("fuzz.toml", text, len, toml_read, CONFIG_VALIDATE, &d);
	for (size_t i = 0; i < d.n; i++)
		free(diag_format(&d, &d.list[i]));
	if (c) {
		struct buf out = BUF_INIT;
		config_print_json(c, &out);
		buf_release(&out);
		config_free(c);
	}
	diags_release(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size & 1)
		setenv("HCLOUD_TOKEN", "fuzz-env-token", 1);
	else
		unsetenv("HCLOUD_TOKEN");
	read_and_print((const char *)data, size);
	load_config((const char *)data, size);
	return 0;
}
