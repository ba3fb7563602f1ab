/* mhd_api.c — find, check and load libmicrohttpd (see mhd_api.h). */
#define MHD_API_NO_REDIRECT
#include "mhd_api.h"

#include <stdlib.h>

#include "dl.h"
#include "log.h"
#include "util.h"

#define MHD_API_DEFINE(fn) __typeof__(fn) *sym_##fn;
MHD_API_FUNCTIONS(MHD_API_DEFINE)
#undef MHD_API_DEFINE

#define SONAME "libmicrohttpd.so.12"

static const char *const sonames[] = { SONAME, NULL };

DL_ELF_NOTE(mhd_dlopen_note,
	    "[{\"feature\":\"http-server\","
	    "\"description\":\"the HTTP endpoint of flipper monitor (server.enabled): "
	    "/v1/health and /metrics\","
	    "\"priority\":\"suggested\","
	    "\"soname\":[\"" SONAME "\"]}]");

static const struct dl_sym syms[] = {
#define MHD_API_SYM(fn) DL_SYM(fn),
	MHD_API_FUNCTIONS(MHD_API_SYM)
#undef MHD_API_SYM
	DL_SYM_END,
};

static void *handle;
static const char *loaded_soname;

/* The event loop polls MHD's one epoll descriptor (server.c). */
static int epoll_ok(char **why)
{
	if (sym_MHD_is_feature_supported(MHD_FEATURE_EPOLL) != MHD_YES) {
		*why = xasprintf("libmicrohttpd %s was built without epoll support",
				 sym_MHD_get_version());
		return -1;
	}
	return 0;
}

int mhd_api_load(char **why)
{
	*why = NULL;
	if (handle)
		return 0;
	char *reasons = NULL;
	handle = dl_load("http-server", sonames, syms, epoll_ok, &loaded_soname, &reasons);
	if (handle)
		return 0;
	*why = xasprintf("cannot load libmicrohttpd (%s); install %s", reasons, MHD_API_PACKAGE);
	free(reasons);
	return -1;
}

const char *mhd_api_soname(void)
{
	return loaded_soname;
}

const char *mhd_api_version(void)
{
	return handle ? sym_MHD_get_version() : NULL;
}
