/*
 * snapshot.h — the planner's input as a JSON document (SPEC section 6):
 * what `flipper simulate` reads and `flipper status --snapshot` writes.
 *
 *   {"group": "web",                                       (optional)
 *    "when_none_healthy": "freeze", "rebalance": false,     (optional)
 *    "servers": [{"id": 11, "name": "lb-1", "location": "fsn1",
 *                 "network_zone": "eu-central", "resource_index": 0,
 *                 "status": "healthy", "probation": true}],
 *    "floating_ips": [{"id": 1, "name": "vip-1", "ip": "203.0.113.1",
 *                      "location": "fsn1", "network_zone": "eu-central",
 *                      "resource_index": null, "server": 11}]}
 *
 * Required: servers[].{id, name, location, network_zone, status} and
 * floating_ips[].{id, location, network_zone}. Optional: resource_index
 * (absent or null: none), servers[].probation (healthy for less than
 * failback_delay), floating_ips[].{name, ip, server} (server absent or
 * null: unassigned), floating_ips[].server_missing (server no longer
 * exists; without it a server outside the group is someone else's), and
 * the planner options (absent: the configuration's defaults). status is
 * healthy, unhealthy, unknown or uncheckable. Ids are positive integers
 * below 2^53, unique within their array. Unknown keys are warnings.
 *
 * Ownership: struct snapshot owns its arrays and every string they point
 * at; the arrays are ready to pass to plan_compute() as they are.
 * snapshot_release() frees everything.
 */
#ifndef FLIPPER_SNAPSHOT_H
#define FLIPPER_SNAPSHOT_H

#include <stddef.h>

#include "node.h"
#include "planner.h"
#include "util.h"

/* Larger inputs are refused rather than read: 10,000 servers take ~2 MB. */
#define SNAPSHOT_MAX_BYTES (64u << 20)

struct snapshot {
	char *group;                 /* the optional "group" field, or NULL */
	struct plan_options opts;    /* when_none_healthy, rebalance */
	struct plan_server *servers; /* in file order */
	size_t n_servers;
	struct plan_fip *fips;       /* in file order */
	size_t n_fips;
	char **strings;              /* every string the arrays point at */
	size_t n_strings, cap_strings;
};

/* snapshot.c */
/*
 * Parse text[0..len) (text[len] must be NUL, as read_file() leaves it).
 * Every problem goes to d (errors and warnings, with a key path such as
 * servers[3].id, or line:col for JSON syntax). 0: *s holds the snapshot;
 * -1: d->errors > 0 and *s is empty. Either way snapshot_release(s) is
 * safe afterwards.
 */
int snapshot_parse(const char *text, size_t len, struct snapshot *s,
		   struct diags *d);
/*
 * Read and parse a file; "-" reads standard input. Errors (unreadable,
 * too large) go to d like parse errors. d->file should name the file.
 */
int snapshot_load(const char *path, struct snapshot *s, struct diags *d);
void snapshot_release(struct snapshot *s);

/*
 * Write planner inputs in the same format, one server or floating IP
 * per line so a person can edit a status and simulate again. group and
 * opts may be NULL (then those fields are left out).
 */
void snapshot_write(const char *group, const struct plan_options *opts,
		    const struct plan_server *servers, size_t n_servers,
		    const struct plan_fip *fips, size_t n_fips, struct buf *out);

#endif
