/* curl_api.c — find, check and load libcurl (see curl_api.h). */
#define CURL_API_NO_REDIRECT
#include "curl_api.h"

#include <stdlib.h>

#include "dl.h"
#include "log.h"
#include "util.h"

#define CURL_API_DEFINE(fn) __typeof__(fn) *sym_##fn;
CURL_API_FUNCTIONS(CURL_API_DEFINE)
#undef CURL_API_DEFINE

/* libcurl4 (OpenSSL) first, then Debian's libcurl3-gnutls. */
#define SONAME_OPENSSL "libcurl.so.4"
#define SONAME_GNUTLS "libcurl-gnutls.so.4"

static const char *const sonames[] = { SONAME_OPENSSL, SONAME_GNUTLS, NULL };

DL_ELF_NOTE(curl_dlopen_note,
	    "[{\"feature\":\"curl\","
	    "\"description\":\"HTTP health checks, the Hetzner Cloud API and notifications\","
	    "\"priority\":\"required\","
	    "\"soname\":[\"" SONAME_OPENSSL "\",\"" SONAME_GNUTLS "\"]}]");

static const struct dl_sym syms[] = {
#define CURL_API_SYM(fn) DL_SYM(fn),
	CURL_API_FUNCTIONS(CURL_API_SYM)
#undef CURL_API_SYM
	DL_SYM_END,
};

static void *handle;
static const char *loaded_soname;
static const char *loaded_version;

/* Runs once the symbols are in: old libraries lack what the code sets. */
static int version_ok(char **why)
{
	const curl_version_info_data *v = sym_curl_version_info(CURLVERSION_NOW);
	if (!v || v->version_num < CURL_API_MIN_VERSION) {
		*why = xasprintf("libcurl %s is too old: flipper needs %s or later",
				 v && v->version ? v->version : "(unknown)", CURL_API_MIN_VERSION_TEXT);
		return -1;
	}
	/* Before any handle exists, and only once: not thread-safe. */
	CURLcode rc = sym_curl_global_init(CURL_GLOBAL_DEFAULT);
	if (rc != CURLE_OK) {
		*why = xasprintf("curl_global_init failed: %s", sym_curl_easy_strerror(rc));
		return -1;
	}
	loaded_version = v->version;
	return 0;
}

int curl_api_load(char **why)
{
	*why = NULL;
	if (handle)
		return 0;
	char *reasons = NULL;
	handle = dl_load("curl", sonames, syms, version_ok, &loaded_soname, &reasons);
	if (handle)
		return 0;
	*why = xasprintf("cannot load libcurl (%s)", reasons);
	free(reasons);
	return -1;
}

int curl_api_check(int level)
{
	char *why = NULL;
	if (curl_api_load(&why) == 0)
		return 0;
	char *msg = xasprintf("%s: %s", CURL_API_UNAVAILABLE, why);
	log_kv((enum log_level)level, NULL, "no usable libcurl: reconcile, plan and monitor "
	       "cannot reach the network", "error", msg, NULL);
	free(msg);
	free(why);
	return -1;
}

const char *curl_api_soname(void)
{
	return loaded_soname;
}

const char *curl_api_version(void)
{
	return loaded_version;
}

void curl_api_release(void)
{
	if (handle)
		sym_curl_global_cleanup();
}
