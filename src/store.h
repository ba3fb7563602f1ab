/*
 * store.h — the state file: SQLite, schema from sql/ (embedded, migrated
 * forward with PRAGMA user_version), WAL, mode 0600.
 *
 * Locking: store_lock() takes an exclusive flock(2) on "STATE.lock" next
 * to the state file, without waiting. The kernel drops it when the
 * process dies, so kill -9 leaves nothing stale. The lock file is not the
 * database, so moving a corrupt database aside keeps the lock valid.
 *
 * Whose file: the state path is often typed by hand, so a file there is
 * flipper's only when it says so. A flipper database carries PRAGMA
 * application_id STORE_APPLICATION_ID; once flipper has opened its
 * database it writes a marker line into STATE.lock. Only a flipper
 * database, or a damaged file beside a lock marked for it, is ever moved
 * aside; anything else is refused and left untouched (name, mode,
 * content), and no lock file is created beside it.
 *
 * Ownership: load functions fill caller-owned arrays of structs whose
 * strings are owned; free them with the matching _free(). Every write
 * function expects to run inside store_begin()/store_commit(): one
 * transaction per save, so a crash leaves the old state or the new one.
 */
#ifndef FLIPPER_STORE_H
#define FLIPPER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hcloud.h"
#include "health.h"
#include "planner.h"

#define STORE_APPLICATION_ID 0x464c5052   /* "FLPR" */

struct store;

struct store_info {
	bool created;            /* a new, empty state was started */
	char *moved_aside;       /* the corrupt file's new name, or NULL */
	char *moved_reason;      /* why it was not a usable flipper database */
};

/* What GET /servers/{id} said about a server that vanished from the listing. */
enum server_gone {
	GONE_UNSURE,             /* not asked, or no answer */
	GONE_MISSING,            /* 404: it no longer exists */
	GONE_ELSEWHERE,          /* it exists, outside the group's selector */
};

/* A server as last seen, with the health flipper derived for it. */
struct store_server {
	struct hc_server s;
	enum health health;
	int64_t health_since;    /* when health last changed; 0: never */
	/*
	 * A server the last listings lacked, kept (with its counters) for a
	 * while rather than forgotten at once: when it was first missing
	 * (0: it is listed), how many listings in a row lacked it, and what
	 * the API said when asked about it.
	 */
	int64_t vanished_at;
	int absent_listings;
	enum server_gone gone;
};

/* One check target: (server, check, address family). */
struct store_target {
	int64_t server_id;
	char *check_id;
	int family;              /* 4 or 6 */
	struct health_counters c;
	int64_t last_run;        /* start of the round that last ran it; 0: never */
	int64_t last_ok;         /* last success; 0: never */
	int64_t duration_ms;
	char *last_error;        /* NULL after a success */
	int64_t cert_not_after;  /* https: the last certificate's expiry (unix s); 0: none */
};

struct store_group {
	int64_t inventory_at;    /* last complete poll; 0: never */
	int64_t watching_since;  /* "started watching" notified; 0: not yet */
	int64_t last_round_at;
	int64_t last_round_ms;
	char *readonly_plan;     /* key of the last readonly plan notified */
	char *alert;             /* key of the last alert notified */
	char *refused_plan;      /* key of the last refused plan notified */
	/* A plan that failed to apply and has not succeeded or gone away. */
	char *failed_plan;       /* its key; NULL: none */
	char *failed_errors;     /* what failed (codes, no correlation ids) */
	int64_t failed_attempts;
	int64_t failed_since;    /* first failure */
	int64_t failed_told_at;  /* last message about it */
	/* The planner settings of the last round (status reads no configuration). */
	int64_t failback_delay_ms;
	struct plan_options planner;
};

/* What the engine remembers of a group's passes (table group_pass). */
struct store_pass {
	int64_t deferred_since;  /* moves first waited for unknown servers; 0: none */
	char *defer_alert;       /* unknown servers last named in an alert */
	int64_t last_pass_at;    /* when the last pass ended; 0: never */
	bool last_pass_ok;
	int64_t last_ok_at;      /* when the last successful pass ended; 0: never */
	/* While the group fails (fail_since != 0): where, what, and since when. */
	char *fail_phase;        /* inventory, checks, plan, apply, state */
	char *fail_error;        /* for people: the whole message */
	char *fail_key;          /* what makes a failure news (no correlation ids) */
	int64_t fail_since;
	/* Safety (SPEC 9): see sql/008-safety.sql. */
	bool confirm_listing;    /* read the next listing twice before believing a loss */
	int64_t corr_since;      /* a correlated failure was first seen; 0: none */
	int64_t corr_hold_until; /* moves held until then; 0: no hold in this one yet */
	int64_t frozen_since;    /* the last plan found no healthy server; 0: not frozen */
	int64_t thaw_since;      /* healthy again after a freeze, waiting; 0: not */
};

/*
 * One action of the apply in progress (table apply_step): written before
 * the first request, removed with the plan's outcome. Found at start, it
 * is what a flipper that died while applying left.
 */
enum step_outcome { STEP_OPEN, STEP_APPLIED, STEP_FAILED };

struct store_apply_step {
	int64_t fip;
	char *fip_name;
	int64_t from;            /* 0: unassigned */
	char *from_name;
	int64_t to;
	char *to_name;
	int64_t action_id;       /* 0: no answer named one yet */
	enum step_outcome outcome;
	int64_t started_at;
};

/* A floating IP moved outside flipper, held until `until` (table fip_hold). */
struct store_hold {
	int64_t fip;
	int64_t server;          /* where it was moved to */
	int64_t until;
};

struct outbox_msg {
	int64_t id;
	int64_t created_at;
	char *group_id;
	char *kind;
	char *target_hash;       /* the URL's hash, as queued */
	char *target_key;        /* the target's identity; NULL: queued before there was one */
	char *payload;
	int attempts;
	int64_t next_attempt;
	char *last_error;
};

/* sniff.c */
/* What the first bytes of a file at the state path say it is. */
enum store_kind {
	STORE_KIND_EMPTY,       /* no bytes at all */
	STORE_KIND_SQLITE,      /* a SQLite database header */
	STORE_KIND_OTHER,       /* anything else */
};

/* How many leading bytes store_sniff() looks at, at most. */
#define STORE_SNIFF_BYTES 4096

/*
 * Judge a file by its first n bytes (at most STORE_SNIFF_BYTES), as a
 * person would, for refusals that say what the file looks like. *app_id
 * is the SQLite header's application_id (which a WAL may still hold
 * newer: 0 proves nothing); *what a static phrase ("YAML text", "a SQLite
 * database", "binary data"). Pure.
 */
enum store_kind store_sniff(const void *head, size_t n, uint32_t *app_id, const char **what);

/* store.c */
/*
 * The state path as given (--state, state.path, ...), looked at before
 * anything is created or changed beside it. A symbolic link is followed
 * (realpath): *resolved (owned) is the path every later call must use,
 * and *followed says the given path was a link, so the caller can log
 * the resolved path. What is there must be nothing, an empty file, or a
 * regular file that may be flipper's (owned by the effective user when
 * for_writing); anything else is refused: -1 with *err (owned) naming the
 * file and what it looks like. 0 otherwise.
 */
int store_resolve(const char *given, bool for_writing, char **resolved, bool *followed,
		  char **err);
/* 0 locked; 1 another process holds it; -1 error (errno set). */
int store_lock(const char *path, int *fd_out);
void store_unlock(int fd);
/*
 * Open (creating when missing) for reading and writing; path as
 * store_resolve() gave it, the caller holding store_lock(). A damaged
 * flipper database (its application_id says flipper, or it sits beside a
 * lock file flipper marked) is renamed NAME.corrupt-TIMESTAMP and a fresh
 * state started (info says so). Anything else that is not a usable
 * flipper database, and a state written by a newer flipper, is an error
 * and left untouched. An empty file is a new state (it holds nobody's
 * data). On success the lock file, when there is one, is marked as
 * guarding this database. The WAL is checkpointed every 64 pages or so.
 * NULL with *err (owned) on failure.
 */
struct store *store_open(const char *path, struct store_info *info, char **err);
/*
 * Open read-only, never creating or changing anything (plan, status).
 * Returns NULL with *err NULL when the file does not exist or is empty.
 */
struct store *store_open_readonly(const char *path, char **err);
/*
 * Fold the WAL into the database file and truncate the WAL to nothing,
 * so the database file alone is complete: monitor and reconcile --for
 * call it on their way out. 0, or -1 (store_errmsg() says why).
 */
int store_checkpoint_truncate(struct store *s);
/*
 * Copy the flipper database at path into a new file dest with SQLite's
 * online backup API, in one read transaction: a consistent snapshot even
 * while another flipper holds the lock and writes (a WAL reader neither
 * waits for the writer nor holds it up), so no lock is taken. The copy is
 * written beside dest with mode 0600, checked (quick_check), made
 * self-contained (journal_mode DELETE: no -wal to carry along) and
 * renamed into place. An existing dest is refused unless force; dest
 * must not be the state itself or one of its companion files. 0, or -1
 * with *err (owned).
 */
int store_backup(const char *path, const char *dest, bool force, char **err);
void store_close(struct store *s);
/*
 * One meta value of a current flipper state, read-only and without the
 * integrity check of store_open(): for the one-shot run that finds
 * nothing due and so writes nothing. NULL when absent, or when the file
 * is not a current flipper state (the full open then says why).
 */
char *store_peek_meta(const char *path, const char *key);
void store_info_release(struct store_info *info);
/* The last SQLite error, for messages. */
const char *store_errmsg(struct store *s);

/*
 * A failed BEGIN or COMMIT (disk full, quota, read-only remount) is also
 * remembered: store_write_error() returns what failed first, or NULL, until
 * store_write_error_clear(). A failed COMMIT leaves no transaction open.
 */
int store_begin(struct store *s);
int store_commit(struct store *s);
void store_rollback(struct store *s);
const char *store_write_error(const struct store *s);
void store_write_error_clear(struct store *s);

/* Ids of every group the state knows, sorted. */
int store_group_ids(struct store *s, char ***out, size_t *n);
/* 0 found, 1 no row yet (g zeroed), -1 error. */
int store_group_load(struct store *s, const char *group, struct store_group *g);
int store_group_save(struct store *s, const char *group, const struct store_group *g);
void store_group_release(struct store_group *g);

int store_pass_load(struct store *s, const char *group, struct store_pass *p);
int store_pass_save(struct store *s, const char *group, const struct store_pass *p);
void store_pass_release(struct store_pass *p);
int store_holds_load(struct store *s, const char *group, struct store_hold **out, size_t *n);
/* Replace the group's holds by v. */
int store_holds_save(struct store *s, const char *group, const struct store_hold *v, size_t n);

/* The servers the last listing had (vanished_at 0), by id. */
int store_servers_load(struct store *s, const char *group, struct store_server **out, size_t *n);
/* The servers kept after they vanished from the listing, by id. */
int store_vanished_load(struct store *s, const char *group, struct store_server **out, size_t *n);
/* Replace the group's servers by v (listed) and gone (vanished). */
int store_servers_save(struct store *s, const char *group, const struct store_server *v, size_t n,
		       const struct store_server *gone, size_t n_gone);
void store_servers_free(struct store_server *v, size_t n);

/*
 * When a healthy server's probation (failback_delay) ends: health_since
 * + delay. 0 when it is not in probation at now: not healthy, no delay,
 * the delay has passed, or health_since lies ahead of now (a clock that
 * stepped back: no stored time is trusted to hold failbacks back).
 */
int64_t store_probation_until(const struct store_server *s, int64_t failback_delay_ms,
			      int64_t now);
/*
 * The planner's inputs from stored rows: ps[n_sv] and pf[n_fv], caller
 * allocated; their strings are borrowed from the rows. A server is in
 * probation as store_probation_until() says.
 */
void store_plan_inputs(const struct store_server *sv, size_t n_sv,
		       const struct hc_fip *fv, size_t n_fv, int64_t failback_delay_ms,
		       int64_t now, struct plan_server *ps, struct plan_fip *pf);

/*
 * When each of p's pending moves is due: the end of its destination's
 * probation, 0 when that is not known. due[] has p->n_pending entries;
 * sv is sorted by id (as loaded).
 */
void store_pending_due(const struct plan *p, const struct store_server *sv, size_t n_sv,
		       int64_t failback_delay_ms, int64_t now, int64_t *due);

int store_fips_load(struct store *s, const char *group, struct hc_fip **out, size_t *n);
int store_fips_save(struct store *s, const char *group, const struct hc_fip *v, size_t n);

int store_targets_load(struct store *s, const char *group, struct store_target **out, size_t *n);
/* Insert or update one target (counters saved in batches); the group's row must exist. */
int store_target_put(struct store *s, const char *group, const struct store_target *t);
int store_targets_clear(struct store *s, const char *group);
/* Update one server's health and health_since. */
int store_server_health_put(struct store *s, const char *group, const struct store_server *v);
void store_targets_free(struct store_target *v, size_t n);

/*
 * The last notice about a certificate (by fingerprint) in a group:
 * 0 found (*severity owned), 1 none, -1 error.
 */
int store_cert_notice_get(struct store *s, const char *group, const char *fingerprint,
			  char **severity, int64_t *told_at);
/* Record a notice; notices told before forget_before are dropped. */
int store_cert_notice_put(struct store *s, const char *group, const char *fingerprint,
			  const char *severity, int64_t told_at, int64_t forget_before);

int store_outbox_add(struct store *s, const char *group, const char *kind,
		     const char *target_hash, const char *target_key, const char *payload,
		     int64_t now);
/* Every queued message, oldest first (id order). */
int store_outbox_load(struct store *s, struct outbox_msg **out, size_t *n);
int store_outbox_delete(struct store *s, int64_t id);
int store_outbox_retry(struct store *s, int64_t id, int attempts, int64_t next_attempt,
		       const char *error);
int64_t store_outbox_depth(struct store *s);
/* The earliest next_attempt of a queued message; 0: none queued. */
int64_t store_outbox_next_attempt(struct store *s);
void store_outbox_free(struct outbox_msg *v, size_t n);

/* The apply in progress, by floating IP id; replace it (n 0: none). */
int store_apply_load(struct store *s, const char *group, struct store_apply_step **out, size_t *n);
int store_apply_save(struct store *s, const char *group, const struct store_apply_step *v, size_t n);
void store_apply_free(struct store_apply_step *v, size_t n);

/* Key/value: NULL when absent. */
char *store_meta_get(struct store *s, const char *key);
int store_meta_set(struct store *s, const char *key, const char *value);

int store_counter_add(struct store *s, const char *name, const char *labels, int64_t delta);
/* Calls fn for every counter, ordered by name then labels. */
int store_counters_each(struct store *s,
			void (*fn)(void *arg, const char *name, const char *labels, int64_t value),
			void *arg);

#endif
