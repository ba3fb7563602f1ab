/*
 * fuzz_config.c — a configuration reader and the whole configuration
 * mapping and validation behind it: config_parse() with READER. One
 * source, built once per reader (fuzz/Makefile): fuzz_config_yaml with
 * -DREADER=yaml_read, fuzz_config_json with -DREADER=json_read.
 *
 * The input is a configuration file. ${VAR} references resolve against a
 * few variables set here; $HCLOUD_TOKEN is set for inputs of odd length
 * and unset for even ones, so both the "token from the environment" and
 * the "no API token" paths are reachable. Every diagnostic is formatted,
 * and a configuration that loads is printed as JSON. ASan's leak checker
 * asserts that everything is freed.
 */
#include <stdint.h>
#include <stdlib.h>

#include "config.h"

#ifndef READER
#error "build with -DREADER=yaml_read (or json_read) -DINPUT_NAME='\"fuzz.yaml\"'"
#endif

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct diags d;
	struct config *c;

	if (size & 1)
		setenv("HCLOUD_TOKEN", "fuzz-env-token", 1);
	else
		unsetenv("HCLOUD_TOKEN");

	diags_init(&d, INPUT_NAME);
	c = config_parse(INPUT_NAME, (const char *)data, size, READER, CONFIG_VALIDATE, &d);
	for (size_t i = 0; i < d.n; i++)
		free(diag_format(&d, &d.list[i]));
	if (c) {
		struct buf out = BUF_INIT;
		config_print_json(c, &out);
		buf_release(&out);
		config_free(c);
	}
	diags_release(&d);
	return 0;
}
