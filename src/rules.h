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

#include "planner.h"

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

#endif
