/*
 * server.h — the HTTP endpoint of `flipper monitor` (server.*): what a
 * Kubernetes probe and a Prometheus scrape ask.
 *
 *   GET /v1/health   200 when every group's last pass succeeded recently,
 *                    else 503; the reasons as JSON either way
 *   GET /v1/version  flipper's version and its libraries', as JSON
 *   GET /metrics     the Prometheus text of telemetry.metrics.textfile
 *
 * HTTP is libmicrohttpd's (mhd_api.h), loaded only when server.enabled
 * is set. It runs in MHD's "external" mode on the engine's own event
 * loop: MHD keeps its sockets in one epoll descriptor, which the loop
 * polls beside the transfers (loop_watch), and a loop timer follows
 * MHD_get_timeout(). So the answers are made on the loop's thread, from
 * the engine's data as it is, with no lock and no second thread, and an
 * HTTP client, however slow, never holds anything up: MHD reads and
 * writes without blocking.
 *
 * The listening socket is flipper's own (bound here, handed to MHD), so
 * an address in use is reported as such, with the address.
 */
#ifndef FLIPPER_SERVER_H
#define FLIPPER_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

struct loop;
struct server;

/* What the endpoint answers with: filled in by the engine. */
struct server_hooks {
	/* The health document; returns true when healthy (200), else 503. */
	bool (*health)(void *arg, struct buf *json);
	/* The metrics text. */
	void (*metrics)(void *arg, struct buf *text);
	void *arg;
};

/* server.c */
/*
 * Listen on host:port and serve on l. NULL with *why (owned): libmicro-
 * httpd missing, the address unusable or in use.
 */
struct server *server_start(struct loop *l, const char *host, int port,
			    const struct server_hooks *h, char **why);
/* The port it listens on. */
int server_port(const struct server *s);
/* Stop accepting connections; those open are served to their end. */
void server_quiesce(struct server *s);
/* No connection is open (after server_quiesce(): it may be freed at no loss). */
bool server_idle(const struct server *s);
/* Close everything, connections still open included. NULL: nothing. */
void server_free(struct server *s);

#endif
