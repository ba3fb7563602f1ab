/* messages.c — chat text (Mattermost Markdown, Slack mrkdwn) from plain data. */
#include "messages.h"

#include <string.h>

void md_text(struct buf *b, const char *s)
{
	/* Names and API text in chat: no control characters, no markup. */
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			buf_addch(b, ' ');
		else if (strchr("*_`[]|<>~", *p)) {
			buf_addch(b, '\\');
			buf_addch(b, (char)*p);
		} else
			buf_addch(b, (char)*p);
	}
}

void md_code(struct buf *b, const char *s)
{
	buf_addch(b, '`');
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++)
		buf_addch(b, *p == '`' || *p < 0x20 || *p == 0x7f ? '\'' : (char)*p);
	buf_addch(b, '`');
}

void msg_server_link(struct buf *b, const struct group_config *g, const struct msg_server *s)
{
	if (!s || !s->name) {
		buf_addstr(b, "(none)");
		return;
	}
	if (g->project_id) {
		buf_addstr(b, "[");
		md_text(b, s->name);
		buf_printf(b, "](https://console.hetzner.com/projects/%s/servers/%lld/overview)",
			   g->project_id, (long long)s->id);
	} else {
		buf_addstr(b, "**");
		md_text(b, s->name);
		buf_addstr(b, "**");
	}
}

void msg_header(struct buf *b, const struct group_config *g, const char *emoji, const char *title)
{
	buf_printf(b, "%s **%s** — group **", emoji, title);
	md_text(b, g->display_name);
	buf_addstr(b, "** (");
	md_code(b, g->id);
	buf_addstr(b, ")");
	if (g->project_id)
		buf_printf(b, " · [console](https://console.hetzner.com/projects/%s/servers)",
			   g->project_id);
	buf_addch(b, '\n');
}

/* Both lists sorted by id. */
static size_t describe_changes(struct buf *b, const char *what, const struct msg_item *old,
			       size_t n_old, const struct msg_item *new, size_t n_new)
{
	size_t i = 0, j = 0, count = 0;
	while (i < n_old || j < n_new) {
		if (j >= n_new || (i < n_old && old[i].id < new[j].id)) {
			buf_printf(b, "- removed %s ", what);
			md_text(b, old[i].name);
			buf_printf(b, " (%lld)\n", (long long)old[i].id);
			count++;
			i++;
		} else if (i >= n_old || new[j].id < old[i].id) {
			buf_printf(b, "- added %s ", what);
			md_text(b, new[j].name);
			buf_printf(b, " (%lld)\n", (long long)new[j].id);
			count++;
			j++;
		} else {
			i++;
			j++;
		}
	}
	return count;
}

size_t msg_resources_changed(struct buf *b, const struct group_config *g,
			     const struct msg_item *old_s, size_t n_old_s,
			     const struct msg_item *new_s, size_t n_new_s,
			     const struct msg_item *old_f, size_t n_old_f,
			     const struct msg_item *new_f, size_t n_new_f)
{
	msg_header(b, g, ":arrows_counterclockwise:", "Resources changed");
	size_t count = describe_changes(b, "server", old_s, n_old_s, new_s, n_new_s);
	return count + describe_changes(b, "floating IP", old_f, n_old_f, new_f, n_new_f);
}

void msg_server_unhealthy(struct buf *b, const struct group_config *g, const struct msg_server *s,
			  const char *was, const struct msg_failure *f, size_t n_f)
{
	msg_header(b, g, ":red_circle:", "Server unhealthy");
	buf_addstr(b, "Server ");
	msg_server_link(b, g, s);
	buf_printf(b, " (%s) is **unhealthy** (was %s).\n", s->location ? s->location : "?", was);
	for (size_t i = 0; i < n_f; i++) {
		buf_addstr(b, "- check ");
		md_text(b, f[i].check);
		buf_printf(b, " (%s): ", f[i].family == 4 ? "IPv4" : "IPv6");
		md_code(b, f[i].error);
		buf_printf(b, " — %d failure%s in a row\n", f[i].fall_count,
			   f[i].fall_count == 1 ? "" : "s");
	}
}

void msg_server_healthy_again(struct buf *b, const struct group_config *g,
			      const struct msg_server *s)
{
	msg_header(b, g, ":large_green_circle:", "Server healthy again");
	buf_addstr(b, "Server ");
	msg_server_link(b, g, s);
	buf_printf(b, " (%s) is **healthy** again.\n", s->location ? s->location : "?");
}

void msg_server_uncheckable(struct buf *b, const struct group_config *g, const struct msg_server *s,
			    bool has_v4, bool has_v6)
{
	msg_header(b, g, ":grey_question:", "Server uncheckable");
	buf_addstr(b, "Server ");
	msg_server_link(b, g, s);
	buf_printf(b, " (%s) has no address any configured check can use (it has %s). "
		   "It keeps the floating IPs it holds and receives none; check ip\\_version.\n",
		   s->location ? s->location : "?",
		   has_v4 && has_v6 ? "IPv4 and IPv6" : has_v4 ? "only IPv4" :
		   has_v6 ? "only IPv6" : "no public address");
}

void msg_group_failing(struct buf *b, const struct group_config *g, const char *phase,
		       const char *error, const char *since)
{
	msg_header(b, g, ":warning:", "Group failing");
	buf_printf(b, "The group's passes fail in the **%s** phase since %s: ", phase, since);
	md_code(b, error);
	buf_addstr(b, "\nOther groups carry on. flipper retries and tells again when what fails "
		   "changes, and when the group passes again.\n");
}

void msg_group_recovered(struct buf *b, const struct group_config *g, const char *phase,
			 const char *since)
{
	msg_header(b, g, ":white_check_mark:", "Group passes again");
	buf_printf(b, "The group passes again; it failed in the **%s** phase since %s.\n",
		   phase ? phase : "?", since);
}

void msg_outside_move(struct buf *b, const struct group_config *g, const char *fip_name,
		      const struct msg_server *to, const char *hold)
{
	msg_header(b, g, ":hand:", "Moved outside flipper");
	md_text(b, fip_name);
	buf_addstr(b, " was moved to ");
	msg_server_link(b, g, to);
	buf_printf(b, " outside flipper. flipper leaves it there for %s unless that server is "
		   "unhealthy. Run exactly one flipper per configuration.\n", hold);
}

void msg_unknown_servers(struct buf *b, const struct group_config *g, const char *names,
			 int64_t waited_ms)
{
	char d[48];
	duration_format(waited_ms, d);
	msg_header(b, g, ":hourglass:", "Not waiting any longer");
	buf_addstr(b, "The health of ");
	md_text(b, names);
	buf_printf(b, " is still unknown after %s. Moves that could change once it is known "
		   "are applied now.\n", d);
}

void msg_moves(struct buf *b, const struct group_config *g, const struct msg_move *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct msg_move *a = &m[i];
		buf_addstr(b, "- ");
		md_text(b, a->fip_name ? a->fip_name : "?");
		buf_addstr(b, " ");
		md_code(b, a->ip ? a->ip : "?");
		buf_addstr(b, ": ");
		if (a->from.id && a->from.name) {
			msg_server_link(b, g, &a->from);
			buf_printf(b, " (%s)", a->from_health ? a->from_health : "?");
		} else if (a->from.id) {
			buf_printf(b, "server %lld", (long long)a->from.id);
		} else {
			buf_addstr(b, "unassigned");
		}
		buf_addstr(b, " → ");
		msg_server_link(b, g, &a->to);
		buf_printf(b, " (%s), reason: %s\n", a->to.name && a->to_health ? a->to_health : "?",
			   a->reason);
	}
}

void msg_frozen(struct buf *b, const struct group_config *g)
{
	msg_header(b, g, ":snowflake:", "Frozen");
	buf_addstr(b, "No server in this group is healthy: no floating IP is moved "
		   "until one is (when\\_none\\_healthy: freeze). A checker that lost "
		   "its network sees this too; otherwise the servers need attention.\n");
}

void msg_fail_open(struct buf *b, const struct group_config *g)
{
	msg_header(b, g, ":rotating_light:", "Fail-open");
	buf_addstr(b, "No server in this group is healthy: every server is treated as "
		   "healthy so floating IPs stay assigned.\n");
}

void msg_no_healthy_location(struct buf *b, const struct group_config *g, const char *locations)
{
	msg_header(b, g, ":warning:", "Location without a healthy server");
	buf_addstr(b, "No healthy server in: ");
	md_text(b, locations);
	buf_addstr(b, ". Floating IPs there move to another location of their network zone.\n");
}

void msg_plan_refused(struct buf *b, const struct group_config *g, const struct msg_move *m,
		      size_t n, int max_actions)
{
	msg_header(b, g, ":no_entry:", "Plan refused");
	buf_printf(b, "The plan has %zu actions, more than max\\_actions\\_per\\_round (%d). "
		   "Nothing was applied.\n", n, max_actions);
	msg_moves(b, g, m, n);
}

void msg_plan_executing(struct buf *b, const struct group_config *g, const struct msg_move *m,
			size_t n)
{
	msg_header(b, g, ":twisted_rightwards_arrows:", "Executing plan");
	msg_moves(b, g, m, n);
}

void msg_readonly_plan(struct buf *b, const struct group_config *g, const struct msg_move *m,
		       size_t n)
{
	msg_header(b, g, ":eyes:", "Readonly plan (not applied)");
	msg_moves(b, g, m, n);
}

void msg_action_failed(struct buf *b, const char *fip_name, const char *to_name, const char *error)
{
	buf_addstr(b, "- ");
	md_text(b, fip_name);
	buf_addstr(b, " → ");
	md_text(b, to_name);
	buf_addstr(b, ": ");
	md_code(b, error);
	buf_addch(b, '\n');
}

void msg_plan_failed(struct buf *b, const struct group_config *g, bool remind, int64_t attempts,
		     const char *since, const struct msg_move *m, size_t n_moves, size_t failed,
		     const char *outcome)
{
	msg_header(b, g, ":x:", remind ? "Plan still failing" : "Plan failed");
	if (attempts > 1)
		buf_printf(b, "Attempt %lld, failing since %s.\n", (long long)attempts, since);
	if (remind)
		msg_moves(b, g, m, n_moves);
	buf_printf(b, "%zu of %zu actions failed:\n", failed, n_moves);
	buf_addstr(b, outcome ? outcome : "");
	if (!remind)
		buf_addstr(b, "flipper retries it and tells again when what fails changes, "
			   "or in an hour.\n");
}

void msg_plan_applied(struct buf *b, const struct group_config *g, size_t applied,
		      int64_t attempts, const char *since)
{
	msg_header(b, g, ":white_check_mark:", "Plan applied");
	buf_printf(b, "All %zu action%s succeeded", applied, applied == 1 ? "" : "s");
	if (attempts)
		buf_printf(b, ", after %lld failed attempt%s since %s", (long long)attempts,
			   attempts == 1 ? "" : "s", since);
	buf_addstr(b, ".\n");
}

void msg_started_watching(struct buf *b, const struct group_config *g, size_t n_servers,
			  size_t n_fips)
{
	msg_header(b, g, ":wave:", "flipper started watching");
	buf_printf(b, "Watching %zu server%s and %zu floating IP%s with %zu check%s.\n",
		   n_servers, n_servers == 1 ? "" : "s", n_fips, n_fips == 1 ? "" : "s",
		   g->n_checks, g->n_checks == 1 ? "" : "s");
}

void msg_state_reset(struct buf *b, const char *why, const char *moved_to)
{
	buf_addstr(b, ":warning: **State reset** — the state file was not a usable flipper database (");
	md_text(b, why);
	buf_addstr(b, "). It was moved aside to ");
	md_code(b, moved_to);
	buf_addstr(b, " and a fresh state was started: health counters begin again.\n");
}

/* "in 3 days", "in 5 hours", "in 12 minutes": how far off, in the largest whole unit. */
static void time_left(struct buf *b, int64_t ms)
{
	static const struct { int64_t ms; const char *unit; } units[] = {
		{ 86400000, "day" }, { 3600000, "hour" }, { 60000, "minute" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		int64_t n = ms / units[i].ms;
		if (n >= 2 || (n == 1 && i == ARRAY_SIZE(units) - 1)) {
			buf_printf(b, "in %lld %s%s", (long long)n, units[i].unit, n == 1 ? "" : "s");
			return;
		}
	}
	buf_addstr(b, "within a minute");
}

void msg_certificate_expiring(struct buf *b, const struct group_config *g,
			      const struct msg_cert *m)
{
	char at[32], window[48];
	format_time_utc(m->not_after_ms, at);
	duration_format(m->window_ms, window);
	msg_header(b, g, m->error ? ":rotating_light:" : ":warning:",
		   m->error ? "Certificate expires soon" : "Certificate expiring");
	buf_addstr(b, "The TLS certificate of ");
	md_code(b, m->host);
	if (m->not_after_ms > m->now_ms) {
		buf_printf(b, " expires %s, ", at);
		time_left(b, m->not_after_ms - m->now_ms);
	} else {
		buf_printf(b, " expired %s", at);
	}
	buf_addstr(b, " (check ");
	md_text(b, m->check);
	buf_addstr(b, " on ");
	msg_server_link(b, g, &m->server);
	buf_printf(b, ", %s).\n", m->family == 4 ? "IPv4" : "IPv6");
	if (m->error)
		buf_printf(b, "That is within tls\\_expiry\\_error (%s): renew it now. Checks pass "
			   "until it expires; then they fail, and floating IPs move away from every "
			   "server that serves it.\n", window);
	else
		buf_printf(b, "That is within tls\\_expiry\\_warning (%s): renew it soon.\n", window);
	buf_addstr(b, "flipper tells again once a day while it is served.\n");
}

/*
 * Messages are written in Mattermost's Markdown. Slack's mrkdwn differs:
 * *bold* instead of **bold**, <url|text> instead of [text](url), no
 * backslash escapes, and &, <, > as entities. Our own markup is regular
 * (md_text() escapes every markup character of names), so a small
 * rewrite is exact.
 */
void msg_to_slack(const char *in, struct buf *out)
{
	for (const char *p = in; *p; p++) {
		if (p[0] == '\\' && p[1]) {
			p++;
			if (*p == '<')
				buf_addstr(out, "&lt;");
			else if (*p == '>')
				buf_addstr(out, "&gt;");
			else
				buf_addch(out, *p);
		} else if (p[0] == '*' && p[1] == '*') {
			buf_addch(out, '*');
			p++;
		} else if (*p == '[') {
			const char *mid = strstr(p, "](");
			const char *end = mid ? strchr(mid + 2, ')') : NULL;
			if (!end) {
				buf_addch(out, *p);
				continue;
			}
			buf_addch(out, '<');
			buf_add(out, mid + 2, (size_t)(end - mid - 2));
			buf_addch(out, '|');
			struct buf label = BUF_INIT;
			buf_add(&label, p + 1, (size_t)(mid - p - 1));
			msg_to_slack(label.data ? label.data : "", out);
			buf_release(&label);
			buf_addch(out, '>');
			p = end;
		} else if (*p == '&') {
			buf_addstr(out, "&amp;");
		} else if (*p == '<') {
			buf_addstr(out, "&lt;");
		} else if (*p == '>') {
			buf_addstr(out, "&gt;");
		} else {
			buf_addch(out, *p);
		}
	}
}
