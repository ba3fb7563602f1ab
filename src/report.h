/*
 * report.h — a plan as the operator sees it, shared by `simulate` and
 * `plan`: JSON for machines (SPEC section 6) and a diff for people.
 *
 * Everything is borrowed: a report_group points at the planner's inputs
 * and at the plan computed from them. Names and addresses come from the
 * API: the human output escapes control characters, the JSON output
 * escapes as JSON does.
 */
#ifndef FLIPPER_REPORT_H
#define FLIPPER_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "planner.h"
#include "util.h"

struct report_group {
	const char *id;
	const char *display_name;    /* may be NULL */
	bool readonly;               /* the plan is shown, never applied */
	bool deferred;               /* not applied this round, see defer_reason */
	const char *defer_reason;    /* may be NULL */
	const char *error;           /* no plan: why (e.g. inventory failed); may be NULL */
	const struct plan_server *servers;
	size_t n_servers;
	const struct plan_fip *fips;
	size_t n_fips;
	const struct plan *plan;     /* NULL when there is none (error set) */
	/*
	 * Per plan->pending entry, when its probation ends (ms since the
	 * epoch). NULL, or 0 in an entry: not known (simulate has no clock).
	 */
	const int64_t *pending_due;
};

/* report.c */
/*
 * {"groups": [{"id", "display_name", "readonly", "deferred", "defer_reason",
 *   "error", "fail_open", "frozen", "candidates", "actions": [{"floating_ip",
 *   "floating_ip_name", "ip", "from", "from_name", "from_status", "to",
 *   "to_name", "to_status", "reason"}], "skipped": [{"floating_ip",
 *   "floating_ip_name", "ip", "server", "reason"}]}]}
 * Optional strings are null when unknown; "from" is null for an
 * unassigned IP. Actions are the plan's moves and, in floating-IP id
 * order among them, its pending ones: reason "pending", with
 * "pending_reason" (canonical, return_home or rebalance) and "due_at"
 * (ms since the epoch, or null). One line, ending with a newline.
 */
void report_json(const struct report_group *g, size_t n, struct buf *out);
/*
 * Per group a header, one line per floating IP that moves
 *   vip-1  203.0.113.1  lb-1 (unhealthy) -> lb-2 (healthy)  target_unhealthy
 * the rebalance moves under their own heading, the moves waiting for a
 * probation to end with their due time, then the IPs left alone and a
 * frozen or fail-open line; last a one-line summary: "2 floating IPs to
 * move in 1 group" or "no changes", with what waits or is frozen.
 */
void report_human(const struct report_group *g, size_t n, struct buf *out);
/* Number of actions over all groups (for exit codes and summaries). */
size_t report_count_actions(const struct report_group *g, size_t n);

#endif
