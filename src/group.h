/*
 * group.h — the engine's rooms and what they share: one configured group
 * as the engine holds it for the whole invocation, its check targets,
 * and the engine itself. Private to the engine: commands see engine.h.
 *
 *   engine.c          the loop, loading, check targets and their results,
 *                     batched saves, the heartbeat, the outbox, stopping
 *   pass.c            a group's pass: inventory, plan, apply, its outcome
 *   inventory.c       the listing merged into what is known; targets
 *   apply.c           the plan: computed, deferred, refused, applied
 *   rules.c           the pure decisions the others rely on
 *   metrics_export.c  the textfile
 *   certwatch.c       https certificates about to expire
 *
 * Ownership: a struct group owns everything it points at except cfg (the
 * configuration) and e. Targets are allocated one by one, so a check in
 * flight may keep a pointer to its target while the list is rebuilt.
 */
#ifndef FLIPPER_GROUP_H
#define FLIPPER_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "check.h"
#include "config.h"
#include "engine.h"
#include "hcloud.h"
#include "loop.h"
#include "messages.h"
#include "planner.h"
#include "store.h"

struct group;

struct target {
	struct store_target st;      /* what is stored: counters, last run */
	struct group *g;
	const struct check_config *check;
	struct check_target in;      /* the check's inputs while one is in flight */
	struct check_probe *probe;   /* in flight, or NULL */
	struct loop_timer timer;     /* the next start */
	int64_t started;             /* mono_ms() of the check in flight */
	int64_t started_wall;
	char address[64];            /* of the check in flight */
	char server_name[128];
	bool dirty;                  /* changed since it was last saved */
	bool kept;                   /* private to a rebuild of the list */
	bool ran;                    /* a check started in this invocation */
	uint64_t results;            /* results counted in this invocation */
	uint64_t thaw_mark;          /* results when its group's wait to leave a freeze began */
	bool cert_unreadable_told;   /* logged that its certificate's date is unreadable */
};

enum pass_state {
	PASS_IDLE,
	PASS_LISTING,                /* the inventory is being listed */
	PASS_ASKING,                 /* asking the API about vanished servers, an old apply */
	PASS_CHECKING,               /* one-shot: waiting for the group's checks */
	PASS_APPLYING,               /* re-reading the floating IPs, or applying */
};

struct group {
	const struct group_config *cfg;
	struct engine *e;
	struct hcloud_client *api;

	/* What the state knows, kept for the whole invocation. */
	struct store_group meta;
	struct store_pass pass;
	struct store_server *servers;    /* sorted by id */
	size_t n_servers;
	struct hc_fip *fips;             /* sorted by id */
	size_t n_fips;
	struct target **targets;         /* sorted by server id, check id, family */
	size_t n_targets;
	bool have_inventory;
	int64_t inventory_at;            /* mono_ms() of the last good listing */
	/*
	 * Servers the listing lacks, kept VANISHED_KEEP_MS with their health
	 * (sorted by id), and their targets, parked: not checked, counters kept.
	 */
	struct store_server *vanished;
	size_t n_vanished;
	struct target **parked;
	size_t n_parked;
	bool confirming;                 /* the listing in flight is the second read */
	int64_t *looked_up;              /* vanished servers asked about in this pass */
	size_t n_looked_up, cap_looked_up;
	bool listing_failed;             /* the last listing failed: list again */
	bool pass_listing_failed;        /* ... in this pass: it fails */
	char *listing_error, *listing_key;   /* why the last listing failed */

	bool broken;                     /* its state could not be read */

	/* Dirty rows, written by the next save. */
	bool save_meta, save_inventory, save_fips;
	int64_t *health_changed;         /* ids of servers whose health changed */
	size_t n_health_changed, cap_health_changed;
	size_t checks_in_flight;
	bool runner_failed;              /* a check could not run */

	/* The pass. */
	enum pass_state state;
	bool pass_wanted;                /* something changed: pass again */
	struct loop_timer pass_timer;
	struct hc_op *op;                /* the API operation of the pass */
	int64_t pass_started;            /* mono_ms() */
	bool begun;                      /* a pass began in this invocation */
	bool passed;                     /* a pass concluded in this invocation */
	bool pass_ok;                    /* ... and the last one succeeded */
	int64_t pass_at;                 /* mono_ms() it concluded */

	/* The plan of the pass. */
	struct plan plan;
	struct plan_server *pservers;
	struct plan_fip *pfips;
	int64_t *pending_due;            /* per plan.pending: when its probation ends */
	bool *deferred;                  /* per action: waits for unknown servers */
	bool *held;                      /* per action: its IP was moved outside flipper */
	size_t n_deferred;
	char *defer_reason;
	char *logged_defer;              /* the deferral last logged */
	int64_t defer_since;             /* mono_ms() of the first deferral; 0: none */
	size_t applied, apply_failed;
	size_t changes;
	struct apply *apply;             /* in flight, or NULL */
	/* IPs somebody else moved: left alone for a while (kept in the state). */
	struct store_hold *holds;
	size_t n_holds, cap_holds;
	bool save_holds;
	/* Where flipper last asked IPs to go, until a listing shows it. */
	struct store_hold *asked;
	size_t n_asked, cap_asked;

	/* The apply in progress, recorded (table apply_step). */
	struct store_apply_step *steps;
	size_t n_steps;
	bool save_steps;
	/* An apply a dead flipper left: concluded by the next pass. */
	struct store_apply_step *left;
	size_t n_left;
	int *left_action;                /* per step: the API's action status; -1: not known */
	bool *left_asked;

	/*
	 * The API refused the token (401/403): the token read again from its
	 * file (NULL: the configuration's), and the backoff before the next
	 * request: auth_failures in a row, no API request before auth_retry_at
	 * (mono_ms()).
	 */
	char *token;
	int auth_failures;
	int64_t auth_retry_at;

	/* Kept across passes: API request counts already added to the state. */
	struct hc_request_count *persisted;
	size_t n_persisted;
};

struct engine {
	const struct config *cfg;
	struct store *store;
	struct engine_options o;
	struct loop *loop;
	struct checker *checker;
	struct notifier *notifier;       /* webhooks and the heartbeat; NULL: dry run */
	/* One allocation each: timers and targets point into them, and a
	 * reload adds and removes groups. */
	struct group **g;
	size_t n_g;
	char *reset_moved;
	char *reset_why;
	bool tx_open;                    /* a write transaction of this turn */
	bool save_urgent;                /* commit at the end of this turn */
	struct loop_timer save_timer;    /* the batched save */
	int64_t saved_at;                /* mono_ms() of the last save */
	struct loop_timer deliver_timer;
	bool stopping;                   /* no new checks or passes */
	bool failed;                     /* the state could not be kept */
	int64_t started;                 /* mono_ms() */
	int64_t started_wall;
	int64_t end;                     /* ENGINE_FOR: mono_ms() of the end */
	int64_t outbox_depth;
	int64_t metrics_at;              /* mono_ms() the textfile was last written */
	int64_t beat_last_ok;            /* wall clock of the last heartbeat; 0: never */
	/* A reload read and waiting for the applies in flight to end; no pass begins. */
	struct config *reload_next;
	struct config *owned_cfg;        /* cfg, when a reload brought it */
	struct server *server;           /* monitor's HTTP endpoint, or NULL */
	int64_t stop_began;              /* mono_ms() of the stop signal */
};

/* engine.c */
struct store_server *group_server(struct group *g, int64_t id);
const struct hc_fip *group_fip(const struct group *g, int64_t id);
struct msg_server group_msg_server(const struct store_server *s);
/* The API client of a group, made on first use; NULL (logged) if it cannot be. */
struct hcloud_client *group_client(struct group *g);
/* Let the client go (its request counts kept): the next use makes a new one. */
void group_client_drop(struct group *g);
/* Queue a notification (nothing in dry-run mode), inside this turn's transaction. */
void engine_post(struct engine *e, struct group *g, const char *kind, struct buf *text);
/* Start writing: this turn's transaction, opened on first use. -1: cannot. */
int engine_write(struct engine *e);
/* Commit everything dirty now (before planning or telling on it). -1: not stored. */
int engine_flush(struct engine *e);
/* Targets changed (inventory): start what is due, drop what is gone. */
void engine_targets_changed(struct group *g, struct target **old, size_t n_old);
/* Judge each server's health from its targets; tell and store changes. */
void engine_judge_health(struct group *g);
/* The group's pass ended. */
void engine_pass_concluded(struct group *g);
/* A vanished server in the group's record, or NULL. */
struct store_server *group_vanished(struct group *g, int64_t id);
/* Has every target had its rise checks since engine_thaw_mark() (or since the start)? */
bool engine_thaw_checked(const struct group *g);
/* Frozen, or a server is healthy again after a freeze: count results from now on. */
void engine_thaw_mark(struct group *g);

/* pass.c */
void pass_fire(struct loop_timer *t);
/* Ask for a pass as soon as the group is free. */
void pass_request(struct group *g);
/* The pass may go on from waiting for checks (one-shot). */
void pass_checks_done(struct group *g);
/* How often a group passes when nothing asks for it (ms). */
int64_t pass_interval(const struct group_config *cfg);
/* The apply of the pass ended: error NULL when every action succeeded and was stored. */
void pass_applied(struct group *g, const char *error, const char *key);
/* Drop the API operation in flight (stopping). */
void pass_abandon(struct group *g);

/* inventory.c */
/* Is the inventory due for listing? */
bool inventory_due(const struct group *g, int64_t mono_now);
/*
 * Is a listing to be read once more before it is believed? When it lost
 * everything or more than half of the servers or floating IPs known, or
 * lost anything while the group asked for a confirmed listing.
 */
bool inventory_needs_confirmation(struct group *g, const struct hc_result *r);
/*
 * Take a successful listing (servers and floating IPs) into the group.
 * confirmed: a second read agreed with a first one that lacked servers
 * (so two listings agree on what they lack).
 */
void inventory_take(struct group *g, struct hc_result *r, bool confirmed);
/* The next vanished server an IP points at that the API is to be asked about, or 0. */
int64_t inventory_next_lookup(struct group *g);
/* What GET /servers/{id} said: 404 (gone) or found elsewhere; or nothing (failed). */
void inventory_looked_up(struct group *g, int64_t id, const struct hc_result *r);
/* Is the server an IP points at confirmed gone (SPEC 9)? */
bool inventory_server_missing(struct group *g, int64_t id);
/* Targets from the inventory and the checks, keeping known counters. */
void inventory_rebuild_targets(struct group *g);
/*
 * The floating IPs as the API shows them now (sorted by id) against the
 * cache: an IP on another server, and not where flipper asked it to go,
 * was moved outside flipper: told, and held for a poll_interval.
 */
void inventory_outside_moves(struct group *g, const struct hc_fip *now, size_t n_now);
/* flipper asked fip to go to server (an assignment started). */
void inventory_asked(struct group *g, int64_t fip, int64_t server);

/* apply.c */
/* How long moves may wait for servers of unknown health (ms). */
int64_t group_defer_bound(const struct group_config *cfg);
void group_compute_plan(struct group *g);
/* When the earliest failback withheld by probation may go (wall clock); 0: none. */
int64_t group_failback_due(const struct group *g);
/*
 * Decide on the pass's plan: alerts, deferral, readonly, refusal. Returns
 * true when actions are to be applied (after a re-read of the floating IPs).
 */
bool apply_decide(struct group *g);
/*
 * The floating IPs re-read: apply what the plan still wants. Ends in
 * pass_applied(), at once or when the last action ended.
 */
void apply_run(struct group *g, struct hc_result *reread);
void apply_release(struct group *g);
/* The next action of an apply a dead flipper left to ask the API about, or 0. */
int64_t apply_left_next(struct group *g, size_t *index);
/* Say how the apply a dead flipper left ended, and forget it. */
void apply_left_conclude(struct group *g);

/* certwatch.c */
/* A check of t answered: keep its certificate's expiry, tell when it is near. */
void cert_watch(struct target *t, const struct check_result *r);

/* metrics_export.c */
/* Add the API requests since the last call to the counters kept in the state. */
void metrics_persist_api_counts(struct engine *e);
/* The same for one group, inside the turn's transaction (its client is about to go). */
void metrics_persist_group_api_counts(struct engine *e, struct group *g);
/* The textfile, after a pass concluded (at most once a second) and at the end. */
void metrics_export(struct engine *e);
/* The same text, for GET /metrics. */
void metrics_text(struct engine *e, struct buf *out);
/* The phases a pass may fail in (NULL-terminated): flipper_group_failures_total's. */
extern const char *const pass_phases[];
/* Count a failed pass of g in the state (inside the turn's transaction). */
void metrics_count_failure(struct group *g, const char *phase);
/* The group's failure counters, at 0 for every phase until they count. */
void metrics_init_counters(struct engine *e, struct group *g);

#endif
