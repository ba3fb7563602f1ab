/*
 * round.h — one round of flipper (SPEC section 3): inventory, checks,
 * counters, save, notify, plan, apply, heartbeat, deliver, report.
 *
 * An engine lives for one invocation and may run many rounds (reconcile
 * --for, monitor); it keeps one API client per group so connections are
 * reused. In dry-run mode (flipper plan) nothing is written: no state, no
 * API mutation, no notification, no heartbeat.
 */
#ifndef FLIPPER_ROUND_H
#define FLIPPER_ROUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "store.h"
#include "util.h"

struct engine_options {
	bool dry_run;                /* flipper plan */
	bool no_checks;              /* plan --no-checks: stored health only */
	char **groups;               /* --group filter; NULL/0: all groups */
	size_t n_groups;
	/*
	 * More rounds follow (monitor, reconcile --for): notifications are
	 * delivered only in the time left before the next check is due, so a
	 * slow webhook never delays a failover.
	 */
	bool looping;
};

struct round_result {
	bool failed;                 /* some group could not finish: exit 1 */
	size_t changes;              /* actions planned (dry run) or applied */
	struct buf report_human;     /* dry run: the plan as a diff */
	struct buf report_json;      /* dry run: the plan as JSON */
	int64_t next_due;            /* wall-clock ms when the next check is due */
};

struct engine;

/* round.c */
/* store may be NULL in dry-run mode (no state file yet). */
struct engine *engine_new(const struct config *c, struct store *s,
			  const struct engine_options *o);
void engine_free(struct engine *e);
/* Tell the engine the state was reset; it notifies once. */
void engine_note_state_reset(struct engine *e, const char *moved_to, const char *why);
/* One round over the selected groups. */
void engine_round(struct engine *e, struct round_result *res);
void round_result_init(struct round_result *r);
void round_result_release(struct round_result *r);

#endif
