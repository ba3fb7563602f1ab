/*
 * engine.h — flipper's engine (SPEC sections 3 and 9): every check target
 * on its own schedule, every group on its own pass, all on one event loop.
 *
 * A group's pass is: the inventory fresh or confirmed, the plan computed,
 * the apply concluded. Check results are counted as they arrive; a
 * server's health that changes is stored at once and makes its group
 * plan again.
 *
 *   ENGINE_ONCE     every due check starts at once; each group has one
 *                   pass once its checks answered; then the heartbeat,
 *                   the outbox, exit. (reconcile --once, plan)
 *   ENGINE_FOR      passes until the duration ends; no apply starts after
 *                   it, one in flight finishes. (reconcile --for)
 *   ENGINE_FOREVER  until SIGTERM or SIGINT. (monitor)
 *
 * A stop signal drops the checks in flight (not counted), lets an apply
 * in flight finish (bounded by plan_apply_timeout), saves, and returns.
 *
 * In dry-run mode (flipper plan) nothing is written: no state, no API
 * mutation, no notification, no heartbeat.
 */
#ifndef FLIPPER_ENGINE_H
#define FLIPPER_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "store.h"
#include "util.h"

enum engine_mode { ENGINE_ONCE, ENGINE_FOR, ENGINE_FOREVER };

struct engine_options {
	enum engine_mode mode;
	int64_t for_ms;              /* ENGINE_FOR */
	bool dry_run;                /* flipper plan */
	bool no_checks;              /* plan --no-checks: stored health only */
	char **groups;               /* --group filter; NULL/0: all groups */
	size_t n_groups;
	/*
	 * monitor and --for: SIGHUP reads the configuration again through
	 * reload(reload_arg, current). It returns the new configuration, which
	 * the engine owns from then on, or NULL when it is refused (it said
	 * why): the running one stays. NULL: SIGHUP is not caught.
	 */
	struct config *(*reload)(void *arg, const struct config *current);
	void *reload_arg;
};

struct engine_result {
	/* A group's last pass failed (or the state could not be kept): exit 1. */
	bool failed;
	bool stopped;                /* by a signal */
	size_t changes;              /* actions planned (dry run) or applied */
	struct buf report_human;     /* dry run: the plan as a diff */
	struct buf report_json;      /* dry run: the plan as JSON */
};

struct engine;

/* engine.c */
/*
 * c is the caller's and must outlive the engine; configurations that
 * reloads bring are the engine's. store may be NULL in dry-run mode (no
 * state file yet).
 */
struct engine *engine_new(const struct config *c, struct store *s,
			  const struct engine_options *o);
void engine_free(struct engine *e);
/* Tell the engine the state was reset; it notifies once. */
void engine_note_state_reset(struct engine *e, const char *moved_to, const char *why);
/* Run in the engine's mode; catches SIGTERM and SIGINT while it runs. */
void engine_run(struct engine *e, struct engine_result *res);
void engine_result_init(struct engine_result *r);
void engine_result_release(struct engine_result *r);
/*
 * The one-shot run's shortcut. Every run that may write leaves, under
 * ENGINE_NEXT_DUE_KEY in the state's meta table, when something (a check,
 * the inventory, the outbox, the heartbeat, a timer of a pass) is next
 * due, for which configuration and group selection. Given that record,
 * true when nothing is due yet for this very configuration and selection:
 * the run may end without loading anything else.
 */
#define ENGINE_NEXT_DUE_KEY "next_due"
bool engine_nothing_due(const struct config *c, const struct engine_options *o,
			const char *record);

#endif
