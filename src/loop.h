/*
 * loop.h — the one event loop of an invocation.
 *
 * It owns a long-lived libcurl multi handle, so every HTTP transfer of the
 * process (checks, Hetzner API calls, webhooks, the heartbeat) runs side
 * by side and none waits for another; a min-heap of timers on the
 * monotonic clock; and the stop signals, which wake it through a
 * self-pipe handed to curl_multi_poll as an extra descriptor.
 *
 * Checks are many and cheap to delay by a moment; API calls are few and
 * must never wait. So transfers started as "limited" (checks) may use at
 * most the open-files limit minus a reserve at once, and wait in a queue
 * beyond that, while unlimited ones (API, webhooks) start at once and use
 * the reserve. A queued transfer's timeout only starts when it runs.
 *
 * Callers embed a struct loop_timer or struct loop_xfer in their own
 * objects and find those again from the pointer the callback gets. Both
 * must stay valid (and not move) while armed or started. Callbacks run
 * from loop_turn() only; they may arm timers, start, abort and free
 * transfers, including their own (after which they must not touch it).
 */
#ifndef FLIPPER_LOOP_H
#define FLIPPER_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "curl_api.h"

#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

struct loop;

struct loop_timer {
	void (*fire)(struct loop_timer *t);
	int64_t due;                 /* mono_ms(); valid while armed */
	size_t slot;                 /* private: heap position + 1; 0: not armed */
};

/*
 * A descriptor of someone else's (the HTTP server's epoll descriptor),
 * polled for reading alongside the transfers: ready() runs from
 * loop_turn() when it is readable.
 */
struct loop_watch {
	int fd;
	void (*ready)(struct loop_watch *w);
	/* private */
	struct loop_watch *next;
	bool on;
};

struct loop_xfer {
	CURL *easy;                  /* set up by the caller; owned by the caller */
	/* Called once when the transfer ends (result CURLE_OK or why not). */
	void (*done)(struct loop_xfer *x, CURLcode result);
	/* private */
	bool running;                /* in the multi handle */
	bool queued;                 /* waiting for a descriptor */
	bool limited;
	struct loop_xfer *prev, *next;   /* in the queue or the running list */
};

/* loop.c */
/*
 * Loads libcurl (curl_api.h) first. NULL with *why (owned) when it cannot
 * be used: "libcurl_unavailable: ...".
 */
struct loop *loop_new(char **why);
/* Every transfer still in is removed without its callback. */
void loop_free(struct loop *l);
/*
 * Make room for n limited transfers at once: raise the soft open-files
 * limit as far as the hard limit allows. Returns how many may run.
 */
size_t loop_reserve(struct loop *l, size_t n);

void loop_timer_arm(struct loop *l, struct loop_timer *t, int64_t due);
void loop_timer_disarm(struct loop *l, struct loop_timer *t);
static inline bool loop_timer_armed(const struct loop_timer *t)
{
	return t->slot != 0;
}

/*
 * Start x->easy. -1 (nothing started, no callback) when the multi handle
 * refuses it; x->done is never called from inside loop_start().
 */
int loop_start(struct loop *l, struct loop_xfer *x, bool limited);
/* Take a transfer out, without its callback. A no-op when not started. */
void loop_abort(struct loop *l, struct loop_xfer *x);
/* Poll w->fd from the next turn on, until loop_watch_stop(). */
void loop_watch_start(struct loop *l, struct loop_watch *w);
void loop_watch_stop(struct loop *l, struct loop_watch *w);

/* The due time of the earliest armed timer; -1: none. */
int64_t loop_next_timer(const struct loop *l);

/*
 * One turn: wait until a transfer has news, a timer is due, a stop
 * signal arrives or max_wait_ms passes (< 0: no limit but the timers),
 * then call the callbacks of what finished and of the timers that are
 * due. -1 when the multi handle broke down (every transfer in it is then
 * finished with CURLE_FAILED_INIT... by its callback), else 0.
 */
int loop_turn(struct loop *l, int64_t max_wait_ms);

/*
 * SIGTERM and SIGINT set the stop flag and wake the loop; SIGPIPE is
 * ignored. One loop per process catches signals.
 */
int loop_catch_signals(struct loop *l);
bool loop_stop_requested(void);
/*
 * SIGHUP too (after loop_catch_signals()): it sets the reload flag and
 * wakes the loop. loop_reload_requested() reads and clears it.
 */
int loop_catch_reload(struct loop *l);
bool loop_reload_requested(void);

#endif
