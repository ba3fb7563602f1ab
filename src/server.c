/*
 * server.c — GET /v1/health, /v1/version and /metrics on the event loop,
 * through libmicrohttpd in its external epoll mode (see server.h).
 */
#include "server.h"

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "curl_api.h"
#include "json.h"
#include "log.h"
#include "loop.h"
#include "mhd_api.h"

/* Probes and scrapes are few; more connections than this wait in the backlog. */
#define SERVER_MAX_CONNECTIONS 32
/* A client that sends nothing for this long is dropped (seconds). */
#define SERVER_IDLE_TIMEOUT_S 10
/* MHD_get_timeout() may say "none"; look again at least this often. */
#define SERVER_TICK_MS 1000

struct server {
	struct loop *loop;
	struct MHD_Daemon *d;
	struct loop_watch watch;     /* MHD's epoll descriptor */
	struct loop_timer timer;     /* MHD_get_timeout() */
	struct server_hooks h;
	bool quiesced;
	unsigned open;               /* connections open */
	int port;
};

static void kick(struct server *s)
{
	MHD_run(s->d);
	MHD_UNSIGNED_LONG_LONG ms = 0;
	int64_t wait = SERVER_TICK_MS;
	if (MHD_get_timeout(s->d, &ms) == MHD_YES && ms < (MHD_UNSIGNED_LONG_LONG)wait)
		wait = (int64_t)ms;
	loop_timer_arm(s->loop, &s->timer, mono_ms() + wait);
}

static void on_ready(struct loop_watch *w)
{
	kick(container_of(w, struct server, watch));
}

static void on_timer(struct loop_timer *t)
{
	kick(container_of(t, struct server, timer));
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct server *s = cls;
	(void)c;
	(void)socket_context;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		s->open++;
	else if (s->open)
		s->open--;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char *msg = xvasprintf(fmt, ap);
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	log_kv(LOG_WARN, NULL, "HTTP endpoint", "error", msg, NULL);
	free(msg);
}

static void version_json(struct buf *out)
{
	struct jw jw;
	jw_init(&jw, out, false);
	jw_object_begin(&jw, NULL);
	jw_string(&jw, "version", FLIPPER_VERSION);
	jw_string(&jw, "libcurl", curl_api_version());
	jw_string(&jw, "libmicrohttpd", mhd_api_version());
	jw_end(&jw);
	buf_addch(out, '\n');
}

static void error_json(struct buf *out, const char *error)
{
	struct jw jw;
	jw_init(&jw, out, false);
	jw_object_begin(&jw, NULL);
	jw_string(&jw, "error", error);
	jw_array_begin(&jw, "paths");
	jw_string(&jw, NULL, "/v1/health");
	jw_string(&jw, NULL, "/v1/version");
	jw_string(&jw, NULL, "/metrics");
	jw_end(&jw);
	jw_end(&jw);
	buf_addch(out, '\n');
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	struct server *s = cls;
	(void)version;
	(void)upload;
	(void)con_cls;
	/* A body is not asked for: whatever comes is let go. */
	*upload_size = 0;
	struct buf body = BUF_INIT;
	const char *type = "application/json";
	unsigned status;
	bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	if (!get) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		error_json(&body, "only GET and HEAD");
	} else if (strcmp(url, "/v1/health") == 0) {
		status = s->h.health(s->h.arg, &body) ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
	} else if (strcmp(url, "/v1/version") == 0) {
		status = MHD_HTTP_OK;
		version_json(&body);
	} else if (strcmp(url, "/metrics") == 0) {
		status = MHD_HTTP_OK;
		type = "text/plain; version=0.0.4; charset=utf-8";
		s->h.metrics(s->h.arg, &body);
	} else {
		status = MHD_HTTP_NOT_FOUND;
		error_json(&body, "not found");
	}
	struct MHD_Response *r = MHD_create_response_from_buffer(body.len, body.data,
								 MHD_RESPMEM_MUST_COPY);
	buf_release(&body);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, "Allow", "GET, HEAD");
	enum MHD_Result rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

/*
 * A listening socket on host:port: IPv4 addresses first (a probe or a
 * scrape of "localhost" most often means 127.0.0.1), then IPv6.
 */
static int listen_on(const char *host, int port, char **why)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char p[16];
	snprintf(p, sizeof p, "%d", port);
	int rc = getaddrinfo(host, p, &hints, &res);
	if (rc != 0) {
		*why = xasprintf("server.host \"%s\": %s", host, gai_strerror(rc));
		return -1;
	}
	int fd = -1, err = 0;
	for (int pass = 0; pass < 2 && fd < 0; pass++) {
		for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
			if ((ai->ai_family == AF_INET) != (pass == 0))
				continue;
			int s = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
				       ai->ai_protocol);
			if (s < 0) {
				err = errno;
				continue;
			}
			int one = 1;
			(void)setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
			if (bind(s, ai->ai_addr, ai->ai_addrlen) < 0 || listen(s, 64) < 0) {
				err = errno;
				close(s);
				continue;
			}
			fd = s;
		}
	}
	freeaddrinfo(res);
	if (fd < 0)
		*why = xasprintf("cannot listen on %s port %d: %s", host, port,
				 strerror(err ? err : EADDRNOTAVAIL));
	return fd;
}

static int bound_port(int fd)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof sa;
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	if (sa.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&sa)->sin_port);
	if (sa.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
	return -1;
}

struct server *server_start(struct loop *l, const char *host, int port,
			    const struct server_hooks *h, char **why)
{
	char *reason = NULL;
	*why = NULL;
	if (mhd_api_load(&reason) < 0) {
		*why = reason;
		return NULL;
	}
	int fd = listen_on(host, port, why);
	if (fd < 0)
		return NULL;
	struct server *s = xcalloc(1, sizeof *s);
	s->loop = l;
	s->h = *h;
	s->port = bound_port(fd);
	s->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, answer, s,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
				MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)SERVER_MAX_CONNECTIONS,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)SERVER_IDLE_TIMEOUT_S,
				MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
				MHD_OPTION_END);
	const union MHD_DaemonInfo *info = s->d ?
		MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
	if (!info) {
		*why = xasprintf("libmicrohttpd %s cannot serve %s port %d", mhd_api_version(),
				 host, port);
		if (s->d)
			MHD_stop_daemon(s->d);
		close(fd);
		free(s);
		return NULL;
	}
	s->watch.fd = info->epoll_fd;
	s->watch.ready = on_ready;
	s->timer.fire = on_timer;
	loop_watch_start(l, &s->watch);
	kick(s);
	return s;
}

int server_port(const struct server *s)
{
	return s->port;
}

void server_quiesce(struct server *s)
{
	if (!s || s->quiesced)
		return;
	s->quiesced = true;
	/* The listening socket comes back to its owner to close. */
	MHD_socket fd = MHD_quiesce_daemon(s->d);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
}

bool server_idle(const struct server *s)
{
	return !s || s->open == 0;
}

void server_free(struct server *s)
{
	if (!s)
		return;
	loop_watch_stop(s->loop, &s->watch);
	loop_timer_disarm(s->loop, &s->timer);
	MHD_stop_daemon(s->d);
	free(s);
}
