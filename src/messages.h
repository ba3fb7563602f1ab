/*
 * messages.h — the text of every chat notification, from plain data.
 *
 * Messages are written in Mattermost's Markdown; msg_to_slack() rewrites
 * one for Slack. Names and remote text go through md_text() (every markup
 * character escaped, control characters blanked) or md_code() (inline
 * code), which is what makes the Slack rewrite exact.
 *
 * Pure: no I/O, no clock, no state. Every function appends to a caller's
 * buffer; nothing here owns anything it is given.
 */
#ifndef FLIPPER_MESSAGES_H
#define FLIPPER_MESSAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "util.h"

/* A server as a message names it. */
struct msg_server {
	int64_t id;
	const char *name;
	const char *location;        /* may be NULL */
};

/* One id and name, for "added" and "removed" lists. */
struct msg_item {
	int64_t id;
	const char *name;
};

/* One failing check target of a server. */
struct msg_failure {
	const char *check;           /* display name */
	int family;                  /* 4 or 6 */
	const char *error;
	int fall_count;
};

/* One move of a plan: names and health, as the plan sees them. */
struct msg_move {
	const char *fip_name;        /* may be NULL */
	const char *ip;              /* may be NULL */
	struct msg_server from;      /* id 0: unassigned; name NULL: not in the group */
	const char *from_health;
	struct msg_server to;        /* name NULL: unknown */
	const char *to_health;
	const char *reason;
};

/* A server certificate about to expire, as one check target saw it. */
struct msg_cert {
	const char *host;            /* the host it was served for */
	const char *check;           /* display name */
	struct msg_server server;
	int family;                  /* 4 or 6 */
	int64_t not_after_ms;        /* when it expires (unix ms) */
	int64_t now_ms;
	bool error;                  /* within tls_expiry_error, else tls_expiry_warning */
	int64_t window_ms;           /* that window */
};

/* messages.c */
void md_text(struct buf *b, const char *s);
void md_code(struct buf *b, const char *s);
/* "**lb-1**", or a console link when the group has a project id. */
void msg_server_link(struct buf *b, const struct group_config *g, const struct msg_server *s);
/* The first line of every group message: emoji, title, group, console link. */
void msg_header(struct buf *b, const struct group_config *g, const char *emoji, const char *title);

/*
 * "Resources changed": one line per server and floating IP added or
 * removed. Both lists of each kind are sorted by id. Returns how many
 * lines were written (0: nothing changed, nothing worth sending).
 */
size_t msg_resources_changed(struct buf *b, const struct group_config *g,
			     const struct msg_item *old_s, size_t n_old_s,
			     const struct msg_item *new_s, size_t n_new_s,
			     const struct msg_item *old_f, size_t n_old_f,
			     const struct msg_item *new_f, size_t n_new_f);
void msg_server_unhealthy(struct buf *b, const struct group_config *g, const struct msg_server *s,
			  const char *was, const struct msg_failure *f, size_t n_f);
void msg_server_healthy_again(struct buf *b, const struct group_config *g,
			      const struct msg_server *s);
/* No configured check can reach the server (has_v4/has_v6: its addresses). */
void msg_server_uncheckable(struct buf *b, const struct group_config *g, const struct msg_server *s,
			    bool has_v4, bool has_v6);
/* A group's pass failed in phase (inventory, checks, plan, state), since then. */
void msg_group_failing(struct buf *b, const struct group_config *g, const char *phase,
		       const char *error, const char *since);
void msg_group_recovered(struct buf *b, const struct group_config *g, const char *phase,
			 const char *since);
/* A floating IP somebody else moved: held for a while. */
void msg_outside_move(struct buf *b, const struct group_config *g, const char *fip_name,
		      const struct msg_server *to, const char *hold);
/* Moves waited for servers of unknown health long enough: applied now. */
void msg_unknown_servers(struct buf *b, const struct group_config *g, const char *names,
			 int64_t waited_ms);
/* One line per move: "- vip-1 `198.51.100.1`: lb-a (unhealthy) → lb-b (healthy), reason: ..." */
void msg_moves(struct buf *b, const struct group_config *g, const struct msg_move *m, size_t n);
void msg_frozen(struct buf *b, const struct group_config *g);
void msg_fail_open(struct buf *b, const struct group_config *g);
void msg_no_healthy_location(struct buf *b, const struct group_config *g, const char *locations);
void msg_plan_refused(struct buf *b, const struct group_config *g, const struct msg_move *m,
		      size_t n, int max_actions);
void msg_plan_executing(struct buf *b, const struct group_config *g, const struct msg_move *m,
			size_t n);
void msg_readonly_plan(struct buf *b, const struct group_config *g, const struct msg_move *m,
		       size_t n);
/*
 * A plan that failed: outcome holds one line per failed action
 * (msg_action_failed). attempts and since describe the failure so far
 * (attempts 0: the first). remind: an hourly reminder, which repeats the
 * plan.
 */
void msg_action_failed(struct buf *b, const char *fip_name, const char *to_name, const char *error);
void msg_plan_failed(struct buf *b, const struct group_config *g, bool remind, int64_t attempts,
		     const char *since, const struct msg_move *m, size_t n_moves, size_t failed,
		     const char *outcome);
/* attempts: failed attempts before this success (0: none). */
void msg_plan_applied(struct buf *b, const struct group_config *g, size_t applied,
		      int64_t attempts, const char *since);
void msg_started_watching(struct buf *b, const struct group_config *g, size_t n_servers,
			  size_t n_fips);
void msg_state_reset(struct buf *b, const char *why, const char *moved_to);
void msg_certificate_expiring(struct buf *b, const struct group_config *g,
			      const struct msg_cert *m);

/* Mattermost Markdown as Slack mrkdwn. */
void msg_to_slack(const char *in, struct buf *out);

#endif
