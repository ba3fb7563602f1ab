/*
 * loop.c — the multi handle, the timer heap and the stop signals.
 *
 * The shape follows curl's docs/examples/10-at-a-time.c: CURLOPT_PRIVATE
 * leads from a finished easy handle back to its transfer, every finished
 * transfer is removed as soon as curl_multi_info_read reports it (so its
 * socket closes at once), and waiting is curl_multi_poll, which also
 * watches the signal pipe.
 */
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "curl_api.h"
#include "util.h"

/* Descriptors kept free for everything but checks: state, logs, API, webhooks. */
#define NOFILE_RESERVE 64
/* Longest single wait; libcurl's and our timers cut it shorter. */
#define POLL_MAX_MS 1000

struct xlist {
	struct loop_xfer *head, *tail;
};

struct loop {
	CURLM *multi;
	struct loop_timer **heap;
	size_t n_heap, cap_heap;
	struct xlist queue;          /* limited transfers waiting, oldest first */
	struct xlist live;           /* in the multi handle */
	size_t running;
	size_t queued;
	size_t limited_running;
	size_t max_limited;
	bool catching;
	struct loop_watch *watches;
	size_t n_watches;
};

static int signal_pipe[2] = { -1, -1 };
static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t reload_flag;

/* ---- timers ---------------------------------------------------------------- */

static bool earlier(const struct loop_timer *a, const struct loop_timer *b)
{
	return a->due < b->due;
}

static void heap_place(struct loop *l, size_t i, struct loop_timer *t)
{
	l->heap[i] = t;
	t->slot = i + 1;
}

static void sift_up(struct loop *l, size_t i)
{
	struct loop_timer *t = l->heap[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!earlier(t, l->heap[parent]))
			break;
		heap_place(l, i, l->heap[parent]);
		i = parent;
	}
	heap_place(l, i, t);
}

static void sift_down(struct loop *l, size_t i)
{
	struct loop_timer *t = l->heap[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= l->n_heap)
			break;
		if (c + 1 < l->n_heap && earlier(l->heap[c + 1], l->heap[c]))
			c++;
		if (!earlier(l->heap[c], t))
			break;
		heap_place(l, i, l->heap[c]);
		i = c;
	}
	heap_place(l, i, t);
}

void loop_timer_disarm(struct loop *l, struct loop_timer *t)
{
	if (!t->slot)
		return;
	size_t i = t->slot - 1;
	t->slot = 0;
	struct loop_timer *last = l->heap[--l->n_heap];
	if (i == l->n_heap)
		return;
	heap_place(l, i, last);
	sift_up(l, i);
	sift_down(l, last->slot - 1);
}

void loop_timer_arm(struct loop *l, struct loop_timer *t, int64_t due)
{
	loop_timer_disarm(l, t);
	t->due = due;
	l->heap = xgrow(l->heap, &l->cap_heap, l->n_heap + 1, sizeof *l->heap);
	heap_place(l, l->n_heap++, t);
	sift_up(l, l->n_heap - 1);
}

/* Fire what is due; a timer armed again by its callback waits for the next turn. */
static void run_timers(struct loop *l)
{
	int64_t now = mono_ms();
	size_t budget = l->n_heap;
	while (budget-- > 0 && l->n_heap && l->heap[0]->due <= now) {
		struct loop_timer *t = l->heap[0];
		loop_timer_disarm(l, t);
		t->fire(t);
	}
}

/* ---- transfers -------------------------------------------------------------- */

struct loop *loop_new(char **why)
{
	char *reason = NULL;
	*why = NULL;
	if (curl_api_load(&reason) < 0) {
		*why = xasprintf("%s: %s", CURL_API_UNAVAILABLE, reason);
		free(reason);
		return NULL;
	}
	struct loop *l = xcalloc(1, sizeof *l);
	l->multi = curl_multi_init();
	if (!l->multi) {
		*why = xasprintf("%s: curl_multi_init failed", CURL_API_UNAVAILABLE);
		free(l);
		return NULL;
	}
	l->max_limited = NOFILE_RESERVE;
	/* One connection per transfer at most; none is closed to make room. */
	(void)curl_multi_setopt(l->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
	return l;
}

static void xlist_push(struct xlist *q, struct loop_xfer *x)
{
	x->next = NULL;
	x->prev = q->tail;
	if (q->tail)
		q->tail->next = x;
	else
		q->head = x;
	q->tail = x;
}

static void xlist_remove(struct xlist *q, struct loop_xfer *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		q->head = x->next;
	if (x->next)
		x->next->prev = x->prev;
	else
		q->tail = x->prev;
	x->prev = x->next = NULL;
}

void loop_abort(struct loop *l, struct loop_xfer *x)
{
	if (x->queued) {
		xlist_remove(&l->queue, x);
		x->queued = false;
		l->queued--;
	}
	if (x->running) {
		xlist_remove(&l->live, x);
		curl_multi_remove_handle(l->multi, x->easy);
		x->running = false;
		l->running--;
		if (x->limited)
			l->limited_running--;
	}
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	while (l->queue.head)
		loop_abort(l, l->queue.head);
	while (l->live.head)
		loop_abort(l, l->live.head);
	if (l->multi)
		curl_multi_cleanup(l->multi);
	for (size_t i = 0; i < l->n_heap; i++)
		l->heap[i]->slot = 0;
	free(l->heap);
	if (l->catching) {
		close(signal_pipe[0]);
		close(signal_pipe[1]);
		signal_pipe[0] = signal_pipe[1] = -1;
	}
	free(l);
}

size_t loop_reserve(struct loop *l, size_t n)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)n + NOFILE_RESERVE;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return l->max_limited;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		struct rlimit want = rl;
		want.rlim_cur = need;
		if (rl.rlim_max != RLIM_INFINITY && want.rlim_cur > rl.rlim_max)
			want.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			rl = want;
	}
	size_t max;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
		max = n;
	else if (rl.rlim_cur <= 2 * NOFILE_RESERVE)
		max = NOFILE_RESERVE;    /* too low a hard limit: run in waves */
	else
		max = (size_t)(rl.rlim_cur - NOFILE_RESERVE);
	if (max > l->max_limited) {
		l->max_limited = max;
		/* Checks keep no idle connection (FORBID_REUSE): the cache needs
		 * room for the live ones, so none is closed to make room. */
		(void)curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS,
					(long)(max + NOFILE_RESERVE < LONG_MAX ? max + NOFILE_RESERVE :
					       LONG_MAX));
	}
	return l->max_limited;
}

static int add_now(struct loop *l, struct loop_xfer *x)
{
	(void)curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	if (curl_multi_add_handle(l->multi, x->easy) != CURLM_OK)
		return -1;
	x->running = true;
	xlist_push(&l->live, x);
	l->running++;
	if (x->limited)
		l->limited_running++;
	return 0;
}

int loop_start(struct loop *l, struct loop_xfer *x, bool limited)
{
	x->limited = limited;
	x->prev = x->next = NULL;
	x->running = x->queued = false;
	if (limited && l->limited_running >= l->max_limited) {
		x->queued = true;
		xlist_push(&l->queue, x);
		l->queued++;
		return 0;
	}
	return add_now(l, x);
}

/* Start queued transfers while descriptors allow. */
static void feed(struct loop *l)
{
	while (l->queue.head && l->limited_running < l->max_limited) {
		struct loop_xfer *x = l->queue.head;
		loop_abort(l, x);
		if (add_now(l, x) < 0)
			x->done(x, CURLE_FAILED_INIT);
	}
}

void loop_watch_start(struct loop *l, struct loop_watch *w)
{
	if (w->on)
		return;
	w->on = true;
	w->next = l->watches;
	l->watches = w;
	l->n_watches++;
}

void loop_watch_stop(struct loop *l, struct loop_watch *w)
{
	for (struct loop_watch **pp = &l->watches; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			w->on = false;
			w->next = NULL;
			l->n_watches--;
			return;
		}
	}
}

int64_t loop_next_timer(const struct loop *l)
{
	return l->n_heap ? l->heap[0]->due : -1;
}

static void drain(struct loop *l)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(l->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		CURL *e = m->easy_handle;
		CURLcode result = m->data.result;
		void *priv = NULL;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
		struct loop_xfer *x = priv;
		/* m is invalid once the handle is removed. */
		if (!x || x->easy != e || !x->running) {
			curl_multi_remove_handle(l->multi, e);
			continue;
		}
		loop_abort(l, x);
		x->done(x, result);
	}
}

/* The multi handle failed us: end every transfer, so nobody waits for ever. */
static void break_down(struct loop *l)
{
	/* Take every transfer out first: their callbacks may free any of them. */
	size_t n = 0, cap = l->running + l->queued + 1;
	struct loop_xfer **v = xcalloc(cap, sizeof *v);
	while (l->queue.head && n < cap) {
		v[n++] = l->queue.head;
		loop_abort(l, l->queue.head);
	}
	while (l->live.head && n < cap) {
		v[n++] = l->live.head;
		loop_abort(l, l->live.head);
	}
	for (size_t i = 0; i < n; i++)
		v[i]->done(v[i], CURLE_FAILED_INIT);
	free(v);
}

int loop_turn(struct loop *l, int64_t max_wait_ms)
{
	run_timers(l);
	if ((stop_flag || reload_flag) && max_wait_ms != 0)
		max_wait_ms = 0;
	int64_t wait = max_wait_ms < 0 || max_wait_ms > POLL_MAX_MS ? POLL_MAX_MS : max_wait_ms;
	if (l->n_heap) {
		int64_t until = l->heap[0]->due - mono_ms();
		if (until < wait)
			wait = until < 0 ? 0 : until;
	}
	/* The signal pipe first, then the watched descriptors. */
	struct curl_waitfd *extra = xcalloc(l->n_watches + 1, sizeof *extra);
	struct loop_watch **who = xcalloc(l->n_watches + 1, sizeof *who);
	unsigned n = 0;
	if (l->catching)
		extra[n++] = (struct curl_waitfd){ .fd = signal_pipe[0], .events = CURL_WAIT_POLLIN };
	size_t first_watch = n;
	for (struct loop_watch *w = l->watches; w; w = w->next) {
		who[n - first_watch] = w;
		extra[n++] = (struct curl_waitfd){ .fd = w->fd, .events = CURL_WAIT_POLLIN };
	}
	CURLMcode mc = curl_multi_poll(l->multi, n ? extra : NULL, n, (int)wait, NULL);
	if (l->catching && extra[0].revents) {
		char sink[64];
		while (read(signal_pipe[0], sink, sizeof sink) > 0)
			;
	}
	/* A callback may stop any watch, its own included: check each is still on. */
	for (size_t i = first_watch; i < n; i++) {
		struct loop_watch *w = who[i - first_watch];
		bool on = false;
		for (struct loop_watch *x = l->watches; x && !on; x = x->next)
			on = x == w;
		if (on && extra[i].revents && mc == CURLM_OK)
			w->ready(w);
	}
	free(extra);
	free(who);
	int still = 0;
	if (mc == CURLM_OK)
		mc = curl_multi_perform(l->multi, &still);
	if (mc != CURLM_OK) {
		break_down(l);
		return -1;
	}
	drain(l);
	feed(l);
	run_timers(l);
	return 0;
}

/* ---- signals ---------------------------------------------------------------- */

static void on_stop_signal(int sig)
{
	int saved = errno;
	(void)sig;
	stop_flag = 1;
	if (signal_pipe[1] >= 0) {
		ssize_t r = write(signal_pipe[1], "s", 1);
		(void)r;
	}
	errno = saved;
}

static void on_reload_signal(int sig)
{
	int saved = errno;
	(void)sig;
	reload_flag = 1;
	if (signal_pipe[1] >= 0) {
		ssize_t r = write(signal_pipe[1], "h", 1);
		(void)r;
	}
	errno = saved;
}

int loop_catch_reload(struct loop *l)
{
	if (!l->catching)
		return -1;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_reload_signal;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGHUP, &sa, NULL);
}

bool loop_reload_requested(void)
{
	if (!reload_flag)
		return false;
	reload_flag = 0;
	return true;
}

int loop_catch_signals(struct loop *l)
{
	if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	l->catching = true;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	return 0;
}

bool loop_stop_requested(void)
{
	return stop_flag != 0;
}
