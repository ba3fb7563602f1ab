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
};

/* report.c */
/*
 * {"groups": [{"id", "display_name", "readonly", "deferred", "defer_reason",
 *   "error", "fail_open", "candidates", "actions": [{"floating_ip",
 *   "floating_ip_name", "ip", "from", "from_name", "from_status", "to",
 *   "to_name", "to_status", "reason"}], "skipped": [{"floating_ip",
 *   "floating_ip_name", "ip", "server", "reason"}]}]}
 * Optional strings are null when unknown; "from" is null for an
 * unassigned IP. One line, ending with a newline.
 */
void report_json(const struct report_group *g, size_t n, struct buf *out);
/*
 * Per group a header, one line per floating IP that moves
 *   vip-1  203.0.113.1  lb-1 (unhealthy) -> lb-2 (healthy)  target_unhealthy
 * then the IPs left alone and a fail-open warning; last a one-line
 * summary: "2 floating IPs to move in 1 group" or "no changes".
 */
void report_human(const struct report_group *g, size_t n, struct buf *out);
/* Number of actions over all groups (for exit codes and summaries). */
size_t report_count_actions(const struct report_group *g, size_t n);

#endif
