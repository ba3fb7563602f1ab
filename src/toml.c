/* toml.c — placeholder until the TOML reader lands. */
#include "config.h"

int toml_read(const char *text, size_t len, struct node **out, struct diags *d)
{
	(void)text; (void)len;
	*out = NULL;
	diag_add(d, DIAG_ERROR, 0, 0, NULL, "TOML configurations are not supported yet");
	return -1;
}
