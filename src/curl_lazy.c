/*
 * curl_lazy.c — libcurl, loaded the first time it is needed.
 *
 * Most invocations of a cron-style reconciler do no network I/O at all:
 * nothing is due, the inventory is cached, the outbox is empty. Linking
 * libcurl (with OpenSSL, GSSAPI, LDAP, SSH, ... behind it) costs such a
 * run about 5 ms of dynamic loading and 7 MB of resident memory before
 * main() starts. So flipper does not link it: this file defines the
 * libcurl functions flipper calls, and each resolves the real one from
 * libcurl.so.4 on first use. Everything else keeps calling the ordinary
 * libcurl API.
 *
 * If libcurl cannot be loaded, the init functions return NULL or
 * CURLE_FAILED_INIT and the reason is printed once, so callers report a
 * normal error.
 */
#include <curl/curl.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* The typecheck macros of curl.h would rename our definitions. */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt
#undef curl_share_setopt

#define LIBCURL_SONAME "libcurl.so.4"

static void *lib;
static int lib_failed;

static void *sym(const char *name)
{
	if (!lib && !lib_failed) {
		lib = dlopen(LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);
		if (!lib) {
			lib_failed = 1;
			fprintf(stderr, "flipper: cannot load %s: %s\n", LIBCURL_SONAME, dlerror());
		}
	}
	if (!lib)
		return NULL;
	void *p = dlsym(lib, name);
	if (!p)
		fprintf(stderr, "flipper: %s has no symbol %s\n", LIBCURL_SONAME, name);
	return p;
}

/* Resolve once per function; static storage keeps the pointer. */
#define RESOLVE(type, name) \
	static __typeof__(type) fn; \
	if (!fn) \
		fn = (type)sym(#name)

CURLcode curl_global_init(long flags)
{
	RESOLVE(CURLcode (*)(long), curl_global_init);
	return fn ? fn(flags) : CURLE_FAILED_INIT;
}

void curl_global_cleanup(void)
{
	/* Never load the library just to clean it up. */
	if (!lib)
		return;
	RESOLVE(void (*)(void), curl_global_cleanup);
	if (fn)
		fn();
}

CURL *curl_easy_init(void)
{
	RESOLVE(CURL *(*)(void), curl_easy_init);
	return fn ? fn() : NULL;
}

void curl_easy_cleanup(CURL *h)
{
	RESOLVE(void (*)(CURL *), curl_easy_cleanup);
	if (fn && h)
		fn(h);
}

void curl_easy_reset(CURL *h)
{
	RESOLVE(void (*)(CURL *), curl_easy_reset);
	if (fn)
		fn(h);
}

/*
 * The option number says the argument's type (curl.h: CURLOPTTYPE_*), so
 * the variadic argument can be forwarded with its real type.
 */
CURLcode curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
	RESOLVE(CURLcode (*)(CURL *, CURLoption, ...), curl_easy_setopt);
	if (!fn)
		return CURLE_FAILED_INIT;
	va_list ap;
	CURLcode rc;
	va_start(ap, opt);
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		rc = fn(h, opt, va_arg(ap, long));
	else if (opt < CURLOPTTYPE_OFF_T)
		rc = fn(h, opt, va_arg(ap, void *));   /* objects and functions */
	else if (opt < CURLOPTTYPE_BLOB)
		rc = fn(h, opt, va_arg(ap, curl_off_t));
	else
		rc = fn(h, opt, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	RESOLVE(CURLcode (*)(CURL *, CURLINFO, ...), curl_easy_getinfo);
	if (!fn)
		return CURLE_FAILED_INIT;
	va_list ap;
	va_start(ap, info);
	void *out = va_arg(ap, void *);   /* always a pointer to the result */
	va_end(ap);
	return fn(h, info, out);
}

const char *curl_easy_strerror(CURLcode code)
{
	RESOLVE(const char *(*)(CURLcode), curl_easy_strerror);
	return fn ? fn(code) : "libcurl is not available";
}

char *curl_easy_escape(CURL *h, const char *s, int len)
{
	RESOLVE(char *(*)(CURL *, const char *, int), curl_easy_escape);
	return fn ? fn(h, s, len) : NULL;
}

void curl_free(void *p)
{
	RESOLVE(void (*)(void *), curl_free);
	if (fn)
		fn(p);
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *s)
{
	RESOLVE(struct curl_slist *(*)(struct curl_slist *, const char *), curl_slist_append);
	return fn ? fn(list, s) : NULL;
}

void curl_slist_free_all(struct curl_slist *list)
{
	RESOLVE(void (*)(struct curl_slist *), curl_slist_free_all);
	if (fn)
		fn(list);
}

curl_version_info_data *curl_version_info(CURLversion v)
{
	RESOLVE(curl_version_info_data *(*)(CURLversion), curl_version_info);
	return fn ? fn(v) : NULL;
}

CURLM *curl_multi_init(void)
{
	RESOLVE(CURLM *(*)(void), curl_multi_init);
	return fn ? fn() : NULL;
}

CURLMcode curl_multi_cleanup(CURLM *m)
{
	RESOLVE(CURLMcode (*)(CURLM *), curl_multi_cleanup);
	return fn ? fn(m) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_add_handle(CURLM *m, CURL *h)
{
	RESOLVE(CURLMcode (*)(CURLM *, CURL *), curl_multi_add_handle);
	return fn ? fn(m, h) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_remove_handle(CURLM *m, CURL *h)
{
	RESOLVE(CURLMcode (*)(CURLM *, CURL *), curl_multi_remove_handle);
	return fn ? fn(m, h) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_perform(CURLM *m, int *running)
{
	RESOLVE(CURLMcode (*)(CURLM *, int *), curl_multi_perform);
	return fn ? fn(m, running) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_poll(CURLM *m, struct curl_waitfd extra[], unsigned n, int timeout_ms,
			  int *numfds)
{
	RESOLVE(CURLMcode (*)(CURLM *, struct curl_waitfd *, unsigned, int, int *), curl_multi_poll);
	return fn ? fn(m, extra, n, timeout_ms, numfds) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_wait(CURLM *m, struct curl_waitfd extra[], unsigned n, int timeout_ms,
			  int *numfds)
{
	RESOLVE(CURLMcode (*)(CURLM *, struct curl_waitfd *, unsigned, int, int *), curl_multi_wait);
	return fn ? fn(m, extra, n, timeout_ms, numfds) : CURLM_INTERNAL_ERROR;
}

CURLMsg *curl_multi_info_read(CURLM *m, int *left)
{
	RESOLVE(CURLMsg *(*)(CURLM *, int *), curl_multi_info_read);
	return fn ? fn(m, left) : NULL;
}

const char *curl_multi_strerror(CURLMcode code)
{
	RESOLVE(const char *(*)(CURLMcode), curl_multi_strerror);
	return fn ? fn(code) : "libcurl is not available";
}

CURLMcode curl_multi_setopt(CURLM *m, CURLMoption opt, ...)
{
	RESOLVE(CURLMcode (*)(CURLM *, CURLMoption, ...), curl_multi_setopt);
	if (!fn)
		return CURLM_INTERNAL_ERROR;
	va_list ap;
	CURLMcode rc;
	va_start(ap, opt);
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		rc = fn(m, opt, va_arg(ap, long));
	else if (opt < CURLOPTTYPE_OFF_T)
		rc = fn(m, opt, va_arg(ap, void *));
	else
		rc = fn(m, opt, va_arg(ap, curl_off_t));
	va_end(ap);
	return rc;
}
