/*
 * curl_api.h — libcurl, loaded when a run first needs the network.
 *
 * Most runs of a cron-style reconciler do no network I/O at all: nothing
 * is due, the inventory is cached, the outbox is empty. Linking libcurl
 * (and the TLS, GSSAPI, LDAP and SSH libraries behind it) would cost each
 * of them about 3 ms and 6.4 MB before main() starts (bench/README.md:
 * 1.2 ms and 2.3 MB without it, 4.4 ms and 8.7 MB with it). So flipper
 * does not link it. The network code calls curl_api_load() before its
 * first libcurl call; that loads libcurl.so.4, or Debian's
 * libcurl-gnutls.so.4, resolves every function below at once (dl.h),
 * checks the version and runs curl_global_init(). The curl_* names then
 * call through those pointers: curl's headers stay the API.
 *
 * Include this header, never <curl/curl.h>, where libcurl is called.
 */
#ifndef FLIPPER_CURL_API_H
#define FLIPPER_CURL_API_H

#include <curl/curl.h>

/*
 * The oldest libcurl the code is written for, at build and at run time:
 * CURLOPT_PROTOCOLS_STR and CURLOPT_REDIR_PROTOCOLS_STR are 7.85.0 (the
 * newest it uses; also CURLINFO_CAINFO 7.84.0, CURLOPT_CAINFO_BLOB 7.77.0,
 * curl_multi_poll 7.66.0, the URL API 7.62.0, CURLINFO_TOTAL_TIME_T 7.61.0). No transfer blocks:
 * every one runs on the event loop's multi handle (loop.h), so the easy
 * interface's perform is not among the functions below.
 */
#define CURL_API_MIN_VERSION 0x075500
#define CURL_API_MIN_VERSION_TEXT "7.85.0"
#if LIBCURL_VERSION_NUM < CURL_API_MIN_VERSION
#error "flipper needs the headers of libcurl 7.85.0 or later"
#endif

/* The error code when libcurl cannot be used (logs, API errors). */
#define CURL_API_UNAVAILABLE "libcurl_unavailable"

/* Every libcurl function flipper calls. */
#define CURL_API_FUNCTIONS(X) \
	X(curl_global_init) X(curl_global_cleanup) X(curl_version_info) \
	X(curl_easy_init) X(curl_easy_cleanup) \
	X(curl_easy_setopt) X(curl_easy_getinfo) X(curl_easy_strerror) \
	X(curl_slist_append) X(curl_slist_free_all) \
	X(curl_multi_init) X(curl_multi_cleanup) X(curl_multi_setopt) \
	X(curl_multi_add_handle) X(curl_multi_remove_handle) X(curl_multi_perform) \
	X(curl_multi_poll) X(curl_multi_info_read) \
	X(curl_url) X(curl_url_set) X(curl_url_get) X(curl_url_cleanup) X(curl_free)

#define CURL_API_POINTER(fn) extern __typeof__(fn) *sym_##fn;
CURL_API_FUNCTIONS(CURL_API_POINTER)
#undef CURL_API_POINTER

/* curl_api.c */
/*
 * Load libcurl unless it is loaded. 0 ok; -1 with *why (owned) saying,
 * per soname tried, why it cannot be used. A failure is not remembered:
 * a long-running monitor finds a libcurl installed meanwhile.
 */
int curl_api_load(char **why);
/*
 * For the commands that only report (version, validate): load libcurl,
 * or log at level that no round could reach the network, with the error
 * "libcurl_unavailable: ..." and why. 0 loaded, -1 not.
 */
int curl_api_check(int level);
/* After a successful load: the soname used and libcurl's version. */
const char *curl_api_soname(void);
const char *curl_api_version(void);
/* curl_global_cleanup() if libcurl was loaded; at exit. */
void curl_api_release(void);

/*
 * From here on, curl_easy_init(...) calls sym_curl_easy_init. curl.h's
 * own wrappers of the variadic setters go: they only re-spell the call
 * (and their type checks are silent for a system header anyway).
 */
#ifndef CURL_API_NO_REDIRECT
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt
#define curl_global_init (*sym_curl_global_init)
#define curl_global_cleanup (*sym_curl_global_cleanup)
#define curl_version_info (*sym_curl_version_info)
#define curl_easy_init (*sym_curl_easy_init)
#define curl_easy_cleanup (*sym_curl_easy_cleanup)
#define curl_easy_setopt (*sym_curl_easy_setopt)
#define curl_easy_getinfo (*sym_curl_easy_getinfo)
#define curl_easy_strerror (*sym_curl_easy_strerror)
#define curl_slist_append (*sym_curl_slist_append)
#define curl_slist_free_all (*sym_curl_slist_free_all)
#define curl_multi_init (*sym_curl_multi_init)
#define curl_multi_cleanup (*sym_curl_multi_cleanup)
#define curl_multi_setopt (*sym_curl_multi_setopt)
#define curl_multi_add_handle (*sym_curl_multi_add_handle)
#define curl_multi_remove_handle (*sym_curl_multi_remove_handle)
#define curl_multi_perform (*sym_curl_multi_perform)
#define curl_multi_poll (*sym_curl_multi_poll)
#define curl_multi_info_read (*sym_curl_multi_info_read)
#define curl_url (*sym_curl_url)
#define curl_url_set (*sym_curl_url_set)
#define curl_url_get (*sym_curl_url_get)
#define curl_url_cleanup (*sym_curl_url_cleanup)
#define curl_free (*sym_curl_free)
#endif

#endif
