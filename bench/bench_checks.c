/*
 * bench_checks.c — drive check_round_run() by hand: for the black-box
 * tests of the check runner and for the "1,000 targets in one round"
 * benchmark.
 *
 *   bench_checks [options] FILE       targets from FILE ('-': stdin)
 *   bench_checks [options] --many N --base-addr 127.0.1.1 --port P
 *
 * FILE has one target per line (blank lines and '#' comments skipped):
 *
 *   ADDR PORT TYPE HOST PATH TIMEOUT_MS [CA_FILE]
 *
 * TYPE is http or https; HOST or CA_FILE '-' means none. The family
 * follows ADDR (a ':' makes it IPv6).
 *
 * Options (they apply to every target):
 *   --rounds K          run the round K times (default 1)
 *   --method M          request method (default GET)
 *   --header 'N: V'     extra request header (repeatable)
 *   --expect LIST       accepted statuses, e.g. "200,204,301-302"
 *   --default-ca-file F the system CA bundle ("" none; default libcurl's)
 *   --default-ca-path D the system CA directory ("" none; default libcurl's)
 *   --follow-redirects N  follow up to N redirects (default 0)
 *   --tls-expiry        read the server certificate's expiry (https; as the
 *                       default tls_expiry_warning and tls_expiry_error do)
 *   --many N            N targets instead of FILE, with:
 *     --base-addr A     first IPv4 address (default 127.0.1.1)
 *     --addrs M         spread the N targets over M addresses (default N)
 *     --port P --type T --host H --path P --timeout-ms T --ca-file F
 *     --serve-delay MS  also start a backend (a child process, epoll, plain
 *                       HTTP) on those addresses and port that answers
 *                       200 after MS milliseconds: the benchmark then
 *                       measures the runner, not a slow test server
 *
 * Output: one JSON object per target and round on stdout
 *   {"round":1,"index":0,"address":"127.0.1.1","port":8080,"family":4,
 *    "host":"a.test","ok":true,"http_status":200,"error":null,
 *    "duration_ms":201,"cert_not_after":0}
 * and one summary per round on stderr, with the CPU time the process
 * (libcurl's threads included) spent on the round
 *   {"round":1,"targets":1000,"ok":1000,"failed":0,"wall_ms":231,"cpu_ms":80}
 * Exit 0 when every round ran (whatever the targets said), 1 when
 * check_round_run() failed, 2 on bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>


#include "check.h"
#include "config.h"
#include "curl_api.h"
#include "util.h"

struct spec {
	char *address;
	int family;
	struct check_config check;
};

struct opts {
	long rounds;
	const char *method;
	struct header *headers;
	size_t n_headers, cap_headers;
	struct status_range *expect;
	size_t n_expect;
	const char *expect_text;
	const char *default_ca_file;
	const char *default_ca_path;
	long follow_redirects;
	bool tls_expiry;
	long many;
	const char *base_addr;
	long addrs;
	long port;
	const char *type;
	const char *host;
	const char *path;
	long timeout_ms;
	const char *ca_file;
	const char *file;
	long serve_delay_ms;         /* -1: no built-in backend */
};

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_checks [--rounds K] [--method M] [--header 'N: V']...\n"
		"                    [--expect LIST] [--default-ca-file F]\n"
		"                    [--default-ca-path D] [--follow-redirects N]\n"
		"                    [--tls-expiry] FILE\n"
		"       bench_checks [...] --many N [--base-addr A] [--addrs M] --port P\n"
		"                    [--type http|https] [--host H] [--path P]\n"
		"                    [--timeout-ms T] [--ca-file F] [--serve-delay MS]\n");
}

static int bad(const char *fmt, ...) PRINTF_LIKE(1, 2);

static int bad(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench_checks: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

static int spec_fill(struct spec *s, const struct opts *o, const char *addr,
		     long port, const char *type, const char *host,
		     const char *path, long timeout_ms, const char *ca_file)
{
	struct check_config *c = &s->check;

	memset(s, 0, sizeof(*s));
	s->address = xstrdup(addr);
	s->family = strchr(addr, ':') ? 6 : 4;
	if (strcmp(type, "http") == 0)
		c->type = CHECK_HTTP;
	else if (strcmp(type, "https") == 0)
		c->type = CHECK_HTTPS;
	else
		return bad("unknown type \"%s\"", type);
	c->id = xstrdup("bench");
	c->port = (int)port;
	c->host = host && strcmp(host, "-") != 0 ? xstrdup(host) : NULL;
	c->path = xstrdup(path);
	c->timeout_ms = timeout_ms;
	c->interval_ms = 60000;
	c->rise = c->fall = 1;
	c->follow_redirects = (int)o->follow_redirects;
	if (o->tls_expiry) {
		c->tls_expiry_warning_ms = 336LL * 3600 * 1000;
		c->tls_expiry_error_ms = 168LL * 3600 * 1000;
	}
	c->method = xstrdup(o->method);
	c->ca_file = ca_file && strcmp(ca_file, "-") != 0 ? xstrdup(ca_file) : NULL;
	c->expect.ranges = xcalloc(o->n_expect, sizeof(*c->expect.ranges));
	memcpy(c->expect.ranges, o->expect, o->n_expect * sizeof(*c->expect.ranges));
	c->expect.n = o->n_expect;
	c->headers = xcalloc(o->n_headers ? o->n_headers : 1, sizeof(*c->headers));
	for (size_t i = 0; i < o->n_headers; i++) {
		c->headers[i].name = xstrdup(o->headers[i].name);
		c->headers[i].value = xstrdup(o->headers[i].value);
	}
	c->n_headers = o->n_headers;
	return 0;
}

static void spec_release(struct spec *s)
{
	struct check_config *c = &s->check;

	free(s->address);
	free(c->id);
	free(c->host);
	free(c->path);
	free(c->method);
	free(c->ca_file);
	free(c->expect.ranges);
	for (size_t i = 0; i < c->n_headers; i++) {
		free(c->headers[i].name);
		free(c->headers[i].value);
	}
	free(c->headers);
}

/* Split line into at most max whitespace-separated fields, in place. */
static size_t split_fields(char *line, char **f, size_t max)
{
	size_t n = 0;
	char *save = NULL;

	for (char *tok = strtok_r(line, " \t\r\n", &save); tok && n < max;
	     tok = strtok_r(NULL, " \t\r\n", &save))
		f[n++] = tok;
	return n;
}

static int load_file(const struct opts *o, struct spec **out, size_t *n_out)
{
	FILE *fp = strcmp(o->file, "-") == 0 ? stdin : fopen(o->file, "r");
	struct spec *specs = NULL;
	size_t n = 0, cap = 0;
	char line[4096];
	int lineno = 0, ret = 0;

	if (!fp)
		return bad("cannot open \"%s\"", o->file);
	while (fgets(line, sizeof(line), fp)) {
		char *f[8];
		size_t nf;
		long port, timeout;

		lineno++;
		nf = split_fields(line, f, ARRAY_SIZE(f));
		if (nf == 0 || f[0][0] == '#')
			continue;
		if (nf < 6 || nf > 7 ||
		    parse_long_range(f[1], 1, 65535, &port) < 0 ||
		    parse_long_range(f[5], 1, 86400000, &timeout) < 0) {
			fprintf(stderr, "bench_checks: %s:%d: want ADDR PORT TYPE "
				"HOST PATH TIMEOUT_MS [CA_FILE]\n", o->file, lineno);
			ret = -1;
			break;
		}
		specs = xgrow(specs, &cap, n + 1, sizeof(*specs));
		if (spec_fill(&specs[n], o, f[0], port, f[2], f[3], f[4], timeout,
			      nf == 7 ? f[6] : NULL) < 0) {
			spec_release(&specs[n]);
			ret = -1;
			break;
		}
		n++;
	}
	if (fp != stdin)
		fclose(fp);
	*out = specs;
	*n_out = n;
	return ret;
}

static int make_many(const struct opts *o, struct spec **out, size_t *n_out)
{
	struct in_addr base;
	struct spec *specs;
	uint32_t b;
	long addrs = o->addrs > 0 ? o->addrs : o->many;

	*out = NULL;
	*n_out = 0;
	if (inet_pton(AF_INET, o->base_addr, &base) != 1)
		return bad("--base-addr \"%s\" is not an IPv4 address", o->base_addr);
	if (o->port <= 0)
		return bad("%s", "--many needs --port");
	b = ntohl(base.s_addr);
	specs = xcalloc((size_t)o->many, sizeof(*specs));
	for (long i = 0; i < o->many; i++) {
		struct in_addr a;
		char text[INET_ADDRSTRLEN];

		a.s_addr = htonl(b + (uint32_t)(i % addrs));
		inet_ntop(AF_INET, &a, text, sizeof(text));
		if (spec_fill(&specs[i], o, text, o->port, o->type, o->host,
			      o->path, o->timeout_ms, o->ca_file) < 0) {
			for (long j = 0; j <= i; j++)
				spec_release(&specs[j]);
			free(specs);
			return -1;
		}
	}
	*out = specs;
	*n_out = (size_t)o->many;
	return 0;
}

static int add_header(struct opts *o, const char *arg)
{
	const char *colon = strchr(arg, ':');
	struct header *h;
	const char *v;

	if (!colon || colon == arg)
		return bad("--header \"%s\": want 'Name: value'", arg);
	v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	o->headers = xgrow(o->headers, &o->cap_headers, o->n_headers + 1,
			   sizeof(*o->headers));
	h = &o->headers[o->n_headers++];
	h->name = xstrndup(arg, (size_t)(colon - arg));
	h->value = xstrdup(v);
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		const char *err = NULL;
		int r = 0;

		if (a[0] != '-' || strcmp(a, "-") == 0) {
			if (o->file)
				return bad("more than one FILE: \"%s\"", a);
			o->file = a;
			continue;
		}
		if (strcmp(a, "--tls-expiry") == 0) {
			o->tls_expiry = true;
			continue;
		}
		if (!v)
			return bad("%s needs a value", a);
		i++;
		if (strcmp(a, "--rounds") == 0)
			r = parse_long_range(v, 1, 1000000, &o->rounds);
		else if (strcmp(a, "--method") == 0)
			o->method = v;
		else if (strcmp(a, "--header") == 0)
			r = add_header(o, v);
		else if (strcmp(a, "--expect") == 0) {
			free(o->expect);
			o->expect = NULL;
			r = status_ranges_parse(v, &o->expect, &o->n_expect, &err);
			if (r < 0)
				return bad("--expect: %s", err ? err : "invalid");
			o->expect_text = v;
		} else if (strcmp(a, "--default-ca-file") == 0)
			o->default_ca_file = v;
		else if (strcmp(a, "--default-ca-path") == 0)
			o->default_ca_path = v;
		else if (strcmp(a, "--follow-redirects") == 0)
			r = parse_long_range(v, 0, 50, &o->follow_redirects);
		else if (strcmp(a, "--many") == 0)
			r = parse_long_range(v, 1, 1000000, &o->many);
		else if (strcmp(a, "--base-addr") == 0)
			o->base_addr = v;
		else if (strcmp(a, "--addrs") == 0)
			r = parse_long_range(v, 1, 1000000, &o->addrs);
		else if (strcmp(a, "--port") == 0)
			r = parse_long_range(v, 1, 65535, &o->port);
		else if (strcmp(a, "--type") == 0)
			o->type = v;
		else if (strcmp(a, "--host") == 0)
			o->host = v;
		else if (strcmp(a, "--path") == 0)
			o->path = v;
		else if (strcmp(a, "--timeout-ms") == 0)
			r = parse_long_range(v, 1, 86400000, &o->timeout_ms);
		else if (strcmp(a, "--ca-file") == 0)
			o->ca_file = v;
		else if (strcmp(a, "--serve-delay") == 0)
			r = parse_long_range(v, 0, 3600000, &o->serve_delay_ms);
		else
			return bad("unknown option \"%s\"", a);
		if (r < 0)
			return bad("bad value for %s", a);
	}
	if (!o->file == !o->many)
		return bad("%s", "give either FILE or --many N");
	if (o->serve_delay_ms >= 0 && !o->many)
		return bad("%s", "--serve-delay needs --many");
	return 0;
}

static void print_result(long round, size_t i, const struct check_target *t)
{
	struct buf b;

	buf_init(&b, 0);
	buf_printf(&b, "{\"round\":%ld,\"index\":%zu,\"address\":", round, i);
	buf_add_json_string(&b, t->address);
	buf_printf(&b, ",\"port\":%d,\"family\":%d,\"host\":", t->check->port,
		   t->family);
	if (t->check->host)
		buf_add_json_string(&b, t->check->host);
	else
		buf_addstr(&b, "null");
	buf_printf(&b, ",\"ok\":%s,\"http_status\":%ld,\"error\":",
		   t->ok ? "true" : "false", t->http_status);
	if (t->error)
		buf_add_json_string(&b, t->error);
	else
		buf_addstr(&b, "null");
	buf_printf(&b, ",\"duration_ms\":%lld,\"cert_not_after\":%lld}\n",
		   (long long)t->duration_ms, (long long)t->cert_not_after);
	fwrite(b.data, 1, b.len, stdout);
	buf_release(&b);
}

/* ---- the built-in slow backend (--serve-delay) ---------------------------- */

#define SERVE_REQ_MAX 8192

struct sconn {
	int state;                   /* 0 free, 1 listener, 2 reading, 3 waiting */
	size_t len;
	char req[SERVE_REQ_MAX];
	int64_t due;                 /* when to answer (state 3) */
	int next;                    /* FIFO of waiting connections */
};

struct server {
	int ep;
	struct sconn *c;
	size_t nc;
	int head, tail;              /* waiting FIFO: equal delays keep order */
	int64_t delay;
};

static const char serve_reply[] =
	"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";

static void serve_close(struct server *sv, int fd)
{
	epoll_ctl(sv->ep, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
	sv->c[fd].state = 0;
}

static void serve_accept(struct server *sv, int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLIN };

		if (fd < 0)
			return;
		if ((size_t)fd >= sv->nc) {
			close(fd);
			continue;
		}
		sv->c[fd].state = 2;
		sv->c[fd].len = 0;
		ev.data.fd = fd;
		epoll_ctl(sv->ep, EPOLL_CTL_ADD, fd, &ev);
	}
}

static void serve_read(struct server *sv, int fd)
{
	struct sconn *c = &sv->c[fd];
	ssize_t r = read(fd, c->req + c->len, sizeof(c->req) - 1 - c->len);

	if (r <= 0) {
		if (r < 0 && errno == EAGAIN)
			return;
		serve_close(sv, fd);
		return;
	}
	c->len += (size_t)r;
	c->req[c->len] = '\0';
	if (!strstr(c->req, "\r\n\r\n")) {
		if (c->len + 1 >= sizeof(c->req))
			serve_close(sv, fd);
		return;
	}
	epoll_ctl(sv->ep, EPOLL_CTL_DEL, fd, NULL);
	c->state = 3;
	c->due = mono_ms() + sv->delay;
	c->next = -1;
	if (sv->tail >= 0)
		sv->c[sv->tail].next = fd;
	else
		sv->head = fd;
	sv->tail = fd;
}

static void serve_answer_due(struct server *sv)
{
	int64_t now = mono_ms();

	while (sv->head >= 0 && sv->c[sv->head].due <= now) {
		int fd = sv->head;

		sv->head = sv->c[fd].next;
		if (sv->head < 0)
			sv->tail = -1;
		if (write(fd, serve_reply, sizeof(serve_reply) - 1) < 0) {
			/* The client gave up; nothing to tell it. */
		}
		close(fd);
		sv->c[fd].state = 0;
	}
}

static int serve_listen(struct server *sv, const struct spec *specs, size_t n,
			long port)
{
	for (size_t i = 0; i < n; i++) {
		struct sockaddr_in sa = { .sin_family = AF_INET };
		struct epoll_event ev = { .events = EPOLLIN };
		int one = 1, fd;
		bool dup = false;

		for (size_t j = 0; j < i && !dup; j++)
			dup = strcmp(specs[i].address, specs[j].address) == 0;
		if (dup)
			continue;
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0 || (size_t)fd >= sv->nc)
			return bad("serve: socket: %s", strerror(errno));
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		sa.sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, specs[i].address, &sa.sin_addr);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    listen(fd, 4096) < 0)
			return bad("serve: %s: %s", specs[i].address, strerror(errno));
		sv->c[fd].state = 1;
		ev.data.fd = fd;
		epoll_ctl(sv->ep, EPOLL_CTL_ADD, fd, &ev);
	}
	return 0;
}

static void serve_loop(struct server *sv)
{
	struct epoll_event evs[256];

	for (;;) {
		int timeout = -1, k;

		if (sv->head >= 0) {
			int64_t wait = sv->c[sv->head].due - mono_ms();

			timeout = wait < 0 ? 0 : (int)wait;
		}
		k = epoll_wait(sv->ep, evs, (int)ARRAY_SIZE(evs), timeout);
		for (int i = 0; i < k; i++) {
			int fd = evs[i].data.fd;

			if (sv->c[fd].state == 1)
				serve_accept(sv, fd);
			else if (sv->c[fd].state == 2)
				serve_read(sv, fd);
		}
		serve_answer_due(sv);
	}
}

/* Fork the backend; returns its pid once it listens, or -1. */
static pid_t serve_start(const struct opts *o, const struct spec *specs,
			 size_t n)
{
	int ready[2];
	pid_t pid;
	char c;

	if (pipe(ready) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct server sv = { .head = -1, .tail = -1,
				     .delay = o->serve_delay_ms };
		struct rlimit rl;

		close(ready[0]);
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
		sv.nc = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1 << 20 ?
			1 << 20 : (size_t)rl.rlim_cur;
		sv.c = xcalloc(sv.nc, sizeof(*sv.c));
		sv.ep = epoll_create1(EPOLL_CLOEXEC);
		if (sv.ep < 0 || serve_listen(&sv, specs, n, o->port) < 0)
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		close(ready[1]);
		serve_loop(&sv);
		_exit(0);
	}
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1) {
		close(ready[0]);
		waitpid(pid, NULL, 0);
		return -1;
	}
	close(ready[0]);
	return pid;
}

/* ---- running ----------------------------------------------------------- */

/* User and system time of this process and its threads (not the backend). */
static int64_t cpu_ms(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

static int run(const struct opts *o, struct spec *specs, size_t n)
{
	struct check_target *t = xcalloc(n ? n : 1, sizeof(*t));
	int status = 0;

	for (size_t i = 0; i < n; i++) {
		t[i].check = &specs[i].check;
		t[i].server_name = specs[i].address;
		t[i].server_id = (int64_t)i + 1;
		t[i].family = specs[i].family;
		t[i].address = specs[i].address;
	}
	for (long r = 1; r <= o->rounds; r++) {
		int64_t start = mono_ms(), cpu = cpu_ms();
		int rc = check_round_run(t, n);
		int64_t wall = mono_ms() - start;
		cpu = cpu_ms() - cpu;
		size_t ok = 0;

		for (size_t i = 0; i < n; i++) {
			print_result(r, i, &t[i]);
			ok += t[i].ok;
		}
		fflush(stdout);
		fprintf(stderr, "{\"round\":%ld,\"targets\":%zu,\"ok\":%zu,"
			"\"failed\":%zu,\"wall_ms\":%lld,\"cpu_ms\":%lld%s}\n", r, n, ok, n - ok,
			(long long)wall, (long long)cpu, rc < 0 ? ",\"round_error\":true" : "");
		if (rc < 0)
			status = 1;
	}
	for (size_t i = 0; i < n; i++)
		check_target_release(&t[i]);
	free(t);
	return status;
}

int main(int argc, char **argv)
{
	struct opts o = {
		.rounds = 1, .method = "GET", .base_addr = "127.0.1.1",
		.type = "http", .path = "/", .timeout_ms = 10000,
		.serve_delay_ms = -1,
	};
	pid_t server = 0;
	struct spec *specs = NULL;
	size_t n = 0;
	int status = 2;
	const char *err = NULL;

	if (parse_args(argc, argv, &o) < 0) {
		usage();
		goto out;
	}
	if (!o.expect &&
	    status_ranges_parse("200-299", &o.expect, &o.n_expect, &err) < 0) {
		fprintf(stderr, "bench_checks: default expect: %s\n", err);
		goto out;
	}
	check_set_default_trust(o.default_ca_file, o.default_ca_path);
	if ((o.many ? make_many(&o, &specs, &n) : load_file(&o, &specs, &n)) < 0)
		goto out;
	/* The backend is forked before libcurl starts any thread. */
	if (o.serve_delay_ms >= 0 && (server = serve_start(&o, specs, n)) < 0) {
		fprintf(stderr, "bench_checks: the built-in backend did not start\n");
		status = 1;
		goto out;
	}
	char *why = NULL;
	if (curl_api_load(&why) < 0) {
		fprintf(stderr, "bench_checks: %s\n", why);
		free(why);
		status = 1;
		goto out;
	}
	status = run(&o, specs, n);
	curl_api_release();
out:
	if (server > 0) {
		kill(server, SIGTERM);
		waitpid(server, NULL, 0);
	}
	for (size_t i = 0; i < n; i++)
		spec_release(&specs[i]);
	free(specs);
	for (size_t i = 0; i < o.n_headers; i++) {
		free(o.headers[i].name);
		free(o.headers[i].value);
	}
	free(o.headers);
	free(o.expect);
	return status;
}
