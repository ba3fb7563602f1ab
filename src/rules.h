/*
 * rules.h — the engine's decisions that are worth a unit test: when to
 * tell people, which moves wait for servers of unknown health, when the
 * heartbeat may go out. Pure: everything comes in as arguments.
 */
#ifndef FLIPPER_RULES_H
#define FLIPPER_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hcloud.h"
#include "planner.h"
#include "store.h"

/* rules.c */
/*
 * Tell once per distinct key: true when key differs from *memory (then
 * *memory becomes a copy of key; NULL or "" forgets). The memory is
 * owned and may be NULL.
 */
bool tell_once(char **memory, const char *key);

/* A plan that failed to apply: what to say about this failure. */
enum plan_note {
	PLAN_NOTE_SILENT,            /* the same failure again: log only */
	PLAN_NOTE_TELL,              /* a new plan, or it fails differently */
	PLAN_NOTE_REMIND,            /* the same failure, and an hour passed */
};
#define FAILED_PLAN_REMIND_MS (60 * 60 * 1000)
/*
 * again: the same plan failed before; old_errors and told_at (wall clock,
 * clamped to now) describe that; errors is what failed now.
 */
enum plan_note failed_plan_note(bool again, const char *old_errors, const char *errors,
				int64_t told_at, int64_t now);

/*
 * Which moves of plan a wait for servers of unknown health (SPEC 9). a
 * was computed with unknown servers as non-candidates, b with them
 * healthy. An action of a waits when its source is not known to be
 * unhealthy (or gone) and b sends that floating IP elsewhere: its
 * destination could change once the unknown servers resolve, and when
 * its destination is not known to be healthy (none is, and the plan
 * spreads over every server). A move away from a known-unhealthy server
 * towards a healthy one never waits. Call it only when some server's
 * health is unknown.
 * deferred[i] is set for a->actions[i]; returns how many wait.
 */
size_t defer_moves(const struct plan *a, const struct plan *b,
		   const struct plan_server *servers, size_t n_servers,
		   const struct plan_fip *fips, size_t n_fips, bool *deferred);
/* How long moves may wait for unknown servers: rise x interval + timeout, the longest check. */
int64_t defer_bound_ms(const int64_t *interval, const int64_t *timeout, const int *rise, size_t n);

/*
 * The heartbeat may go out when it is due and every selected group's last
 * pass succeeded, lately. last_ok is the last beat (wall clock, 0:
 * never); pass_age[i] is how long ago group i's last pass concluded (ms,
 * < 0: none), pass_ok[i] whether it succeeded, and window[i] how recent
 * it must be: the heartbeat interval, or two of the group's pass
 * intervals when those are longer (a group passes at least that often).
 */
bool heartbeat_due(int64_t last_ok, int64_t interval_ms, int64_t now);
bool heartbeat_allowed(const int64_t *window, const int64_t *pass_age, const bool *pass_ok,
		       size_t n);

/* ---- trusting the API (SPEC 9, "Safety") ---------------------------------- */

/*
 * A listing that lost everything, or more than half, of what was known
 * is read a second time before it is believed: one bad answer (an empty
 * list from a glitching proxy) must cost no counters and tell nobody
 * anything.
 */
bool listing_shrank_sharply(size_t known, size_t listed);

/* How long a server the listing lacks keeps its counters (and its health). */
#define VANISHED_KEEP_MS (10 * 60 * 1000)
/* Is a server that vanished at vanished_at (wall clock; clamped) still kept? */
bool vanished_kept(int64_t vanished_at, int64_t now);
/*
 * A floating IP points at a server the listing lacks. The server counts
 * as gone (the IP moves, reason target_missing) only when the API said so
 * (GET /servers/{id}: 404), or when two listings in a row lacked it and
 * the API did not say it exists outside the group (then it is someone
 * else's server and the IP is left alone).
 */
bool vanished_missing(enum server_gone gone, int absent_listings);

/*
 * The floating IPs re-read before an apply, against the cached ones (both
 * sorted by id): the target of every cached IP the re-read has is taken
 * from it; an IP only the re-read has is ignored (counted in *added: the
 * next listing brings it in), and no cached IP is dropped. Returns how
 * many cached IPs the re-read lacks (their targets are left as they
 * were): then the apply must not go ahead.
 */
size_t reread_merge(struct hc_fip *cached, size_t n_cached, const struct hc_fip *reread,
		    size_t n_reread, size_t *added);

/*
 * "No server is healthy" is said of servers known to be unhealthy, never
 * of servers whose health is unknown: true when none of h is healthy, one
 * at least is unhealthy, and none is unknown. (Uncheckable servers are
 * neither: they do not stop the alert.)
 */
bool none_healthy_known(const enum health *h, size_t n);

/* ---- the correlated-failure hold ------------------------------------------- */

/* One check target as the hold sees it. */
struct corr_target {
	int64_t server;
	int family;                  /* 4 or 6 */
	int fall_count;              /* failures in a row; 0: its last check succeeded */
	int fall;                    /* its check's fall */
};

enum corr_verdict {
	CORR_NONE,
	CORR_SUSPECT,                /* more than a quarter of them (two or more) began failing together */
	CORR_CORRELATED,             /* more than half of them, or a whole address family */
};

/*
 * Did the checks of many servers begin to fail together? A failure is
 * new while it is at most fall checks old (within fall x interval, a
 * window measured in checks, so that one-shot runs and clock steps count
 * alike). New failures of more than half of the servers with targets, or
 * of every target of one address family (on two servers or more) while a
 * target of the other family succeeds, are a correlated failure: more
 * likely the checker than the servers. More than a quarter of them
 * (two servers or more) is a suspicion. t is sorted by server.
 */
enum corr_verdict corr_judge(const struct corr_target *t, size_t n);
/* Is t failing, and at most fall checks long (it began within fall x interval)? */
bool corr_failing_anew(const struct corr_target *t);

/*
 * Whether moves wait now, and the hold's record (wall clock, clamped;
 * kept between runs): while failures of several servers are new
 * (a suspicion, or a correlated failure), every move waits one more
 * interval at a time, and is judged again then. A failure stops being new
 * one check after it reached fall, so the hold ends about one interval
 * after the last of them made its server unhealthy; if no server is
 * healthy then, the group is frozen. When it is over (CORR_NONE), the
 * record is cleared. *since is when it began, *hold_until when the
 * present hold ends (0: none).
 */
bool corr_hold(enum corr_verdict v, int64_t *since, int64_t *hold_until, int64_t now,
	       int64_t interval);

/* Leaving a freeze (SPEC 9): see freeze_step(). */
enum thaw {
	THAW_NONE,                   /* not frozen, nothing to wait for */
	THAW_FROZEN,                 /* frozen now: nothing moves anyway */
	THAW_BEGUN,                  /* healthy again: wait from now (count checks from here) */
	THAW_WAIT,                   /* still waiting */
	THAW_OVER,                   /* waited enough: plan once */
};

/*
 * frozen: this plan found no healthy server. *frozen_since and
 * *thaw_since (wall clock, clamped; kept between runs) record the freeze
 * and the wait that follows it: once a server is healthy again
 * (THAW_BEGUN), moves wait until every server had its rise checks since
 * then (all_checked, counted by the caller) or bound (rise x interval +
 * timeout) passed, so that IPs do not pile onto whichever server
 * recovered first. all_checked true when the wait begins ends it at once:
 * the checks it counts ran together with the first server's recovery.
 */
enum thaw freeze_step(bool frozen, bool all_checked, int64_t *frozen_since, int64_t *thaw_since,
		      int64_t now, int64_t bound);

/* ---- an apply a dead flipper left -------------------------------------------- */

enum step_end {
	STEP_END_APPLIED,
	STEP_END_NOT_APPLIED,        /* the IP is where it was */
	STEP_END_RUNNING,            /* the API's action is still running */
	STEP_END_FAILED,             /* the API's action failed */
	STEP_END_SUPERSEDED,         /* the IP is elsewhere now, or gone */
};

enum apply_end {
	APPLY_END_APPLIED,
	APPLY_END_PARTLY,
	APPLY_END_NOT_APPLIED,
	APPLY_END_SUPERSEDED,
};

const char *step_end_name(enum step_end e);
const char *apply_end_name(enum apply_end e);
/*
 * How one action of an interrupted apply ended: from what was recorded,
 * the API's action (action: -1 not known, else an enum hc_action_status)
 * and where the IP points now (exists false: the listing lacks it).
 */
enum step_end step_conclude(const struct store_apply_step *s, int action, bool exists,
			    int64_t now_on);
enum apply_end apply_conclude(const enum step_end *e, size_t n);

/* ---- the outbox against clock steps ---------------------------------------------- */

/*
 * Stored times are clamped when read: a next attempt at most max_backoff
 * (the message's backoff, never more than the longest) ahead of now:
 * stamped while the clock was ahead, it must not block a queue for as
 * long; a creation time no later than now.
 */
int64_t outbox_clamp_next(int64_t next_attempt, int64_t now, int64_t max_backoff);
int64_t outbox_clamp_created(int64_t created_at, int64_t now);
/*
 * A message is given up after this many failed attempts: what the backoff
 * (first, doubling up to max) adds up to over keep_ms. Counting attempts,
 * not the age, a forward clock jump drops nothing.
 */
int outbox_max_attempts(int64_t first, int64_t max, int64_t keep_ms);

#endif
