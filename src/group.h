/*
 * group.h — one configured group as the engine holds it, shared by the
 * engine's rooms (engine.c, inventory.c, apply.c, metrics_export.c).
 * Private to the engine: commands see engine.h only.
 *
 * Ownership: a struct group owns everything it points at except cfg
 * (the configuration) and the engine.
 */
#ifndef FLIPPER_GROUP_H
#define FLIPPER_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "engine.h"
#include "hcloud.h"
#include "messages.h"
#include "planner.h"
#include "store.h"

struct group {
	const struct group_config *cfg;
	struct hcloud_client *api;
	/* Loaded each round; freed at its end. */
	struct store_group meta;
	struct store_server *servers;    /* sorted by id */
	size_t n_servers;
	struct hc_fip *fips;             /* sorted by id */
	size_t n_fips;
	struct store_target *targets;    /* sorted by server id, check id, family */
	size_t n_targets;
	enum health *old_health;         /* per server, before this round */
	bool have_inventory;
	bool inventory_refreshed;
	bool failed;
	bool refresh_failed;             /* the inventory could not be read */
	bool save_failed;                /* this round's health could not be stored */
	bool deferred;
	char *defer_reason;
	struct plan plan;
	struct plan_server *pservers;
	struct plan_fip *pfips;
	size_t applied, apply_failed;
	/* Kept across rounds: API request counts already added to the state. */
	struct hc_request_count *persisted;
	size_t n_persisted;
};

struct engine {
	const struct config *cfg;
	struct store *store;
	struct engine_options o;
	struct group *g;
	size_t n_g;
	char *reset_moved;
	char *reset_why;
	bool server_note_done;
	int64_t outbox_depth;
};

/* engine.c */
struct store_server *group_server(struct group *g, int64_t id);
const struct hc_fip *group_fip(const struct group *g, int64_t id);
const struct check_config *group_check(const struct group_config *cfg, const char *id);
struct msg_server group_msg_server(const struct store_server *s);
/* The API client of a group, made on first use; NULL (logged) if it cannot be. */
struct hcloud_client *group_client(struct group *g);
/* Queue a notification (nothing in dry-run mode); frees text's data. */
void engine_post(struct engine *e, struct group *g, const char *kind, struct buf *text);

/* inventory.c */
/* List servers and floating IPs when the cached inventory is stale. */
void inventory_refresh(struct engine *e, struct group *g, int64_t now);
/* Targets from the inventory and the checks, keeping known counters. */
void inventory_rebuild_targets(struct group *g);

/* apply.c */
void group_compute_plan(struct group *g);
/* Plan the group and, unless deferred, refused or readonly, apply the plan. */
void group_plan(struct engine *e, struct group *g, struct round_result *res);

/* metrics_export.c */
/* Add this round's API requests to the counters kept in the state. */
void metrics_persist_api_counts(struct engine *e);
void metrics_export(struct engine *e, int64_t now, int64_t took);

#endif
