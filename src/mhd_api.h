/*
 * mhd_api.h — libmicrohttpd, loaded only when server.enabled asks for the
 * HTTP endpoint of `flipper monitor` (server.c).
 *
 * Like libcurl (curl_api.h), it is not linked: most installations never
 * turn the endpoint on, and a host without the library runs every other
 * command. mhd_api_load() opens libmicrohttpd.so.12, resolves every
 * function below at once (dl.h) and checks that the library can poll
 * through epoll, which the event loop needs (server.c says why). A
 * .note.dlopen ELF note declares it to packagers as "suggested".
 *
 * Include this header, never <microhttpd.h>, where libmicrohttpd is called.
 */
#ifndef FLIPPER_MHD_API_H
#define FLIPPER_MHD_API_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <microhttpd.h>

/* enum MHD_Result, the handlers' return type, is 0.9.71's. */
#if MHD_VERSION < 0x00097100
#error "flipper needs the headers of libmicrohttpd 0.9.71 or later"
#endif

/* The Debian package that has it, for messages. */
#define MHD_API_PACKAGE "libmicrohttpd12"

/* Every libmicrohttpd function flipper calls. */
#define MHD_API_FUNCTIONS(X) \
	X(MHD_start_daemon) X(MHD_stop_daemon) X(MHD_quiesce_daemon) \
	X(MHD_run) X(MHD_get_timeout) X(MHD_get_daemon_info) \
	X(MHD_create_response_from_buffer) X(MHD_add_response_header) \
	X(MHD_queue_response) X(MHD_destroy_response) \
	X(MHD_get_version) X(MHD_is_feature_supported)

#define MHD_API_POINTER(fn) extern __typeof__(fn) *sym_##fn;
MHD_API_FUNCTIONS(MHD_API_POINTER)
#undef MHD_API_POINTER

/* mhd_api.c */
/*
 * Load libmicrohttpd unless it is loaded. 0 ok; -1 with *why (owned)
 * saying why it cannot be used and which package to install.
 */
int mhd_api_load(char **why);
/* After a successful load: the soname used and the library's version. */
const char *mhd_api_soname(void);
const char *mhd_api_version(void);

#ifndef MHD_API_NO_REDIRECT
#define MHD_start_daemon (*sym_MHD_start_daemon)
#define MHD_stop_daemon (*sym_MHD_stop_daemon)
#define MHD_quiesce_daemon (*sym_MHD_quiesce_daemon)
#define MHD_run (*sym_MHD_run)
#define MHD_get_timeout (*sym_MHD_get_timeout)
#define MHD_get_daemon_info (*sym_MHD_get_daemon_info)
#define MHD_create_response_from_buffer (*sym_MHD_create_response_from_buffer)
#define MHD_add_response_header (*sym_MHD_add_response_header)
#define MHD_queue_response (*sym_MHD_queue_response)
#define MHD_destroy_response (*sym_MHD_destroy_response)
#define MHD_get_version (*sym_MHD_get_version)
#define MHD_is_feature_supported (*sym_MHD_is_feature_supported)
#endif

#endif
