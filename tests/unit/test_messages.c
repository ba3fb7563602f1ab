/* test_messages.c — chat text from plain data, and its Slack form. */
#include <stdlib.h>

#include "messages.h"
#include "test.h"

static struct group_config group(const char *project)
{
	struct group_config g = { 0 };
	g.id = (char *)"web";
	g.display_name = (char *)"Web *prod*";
	g.project_id = (char *)project;
	return g;
}

static char *text(struct buf *b)
{
	return b->data ? b->data : (char *)"";
}

TEST(names_are_escaped_and_code_is_quoted)
{
	struct buf b = BUF_INIT;
	md_text(&b, "a*b_c`d[e]\n|<x>~");
	CHECK_EQ_STR(text(&b), "a\\*b\\_c\\`d\\[e\\] \\|\\<x\\>\\~");
	buf_reset(&b);
	md_code(&b, "x`y\tz");
	CHECK_EQ_STR(text(&b), "`x'y'z`");
	buf_release(&b);
}

TEST(header_links_the_console_only_with_a_project)
{
	struct group_config g = group(NULL);
	struct buf b = BUF_INIT;
	msg_header(&b, &g, ":x:", "Plan failed");
	CHECK_EQ_STR(text(&b), ":x: **Plan failed** — group **Web \\*prod\\*** (`web`)\n");
	buf_reset(&b);
	g = group("42");
	struct msg_server s = { 7, "lb-1", "fsn1" };
	msg_server_link(&b, &g, &s);
	CHECK_EQ_STR(text(&b), "[lb-1](https://console.hetzner.com/projects/42/servers/7/overview)");
	buf_release(&b);
}

TEST(resources_changed_counts_only_differences)
{
	struct group_config g = group(NULL);
	struct msg_item old_s[] = { { 1, "a" }, { 2, "b" } }, new_s[] = { { 2, "b" }, { 3, "c" } };
	struct msg_item f[] = { { 9, "vip" } };
	struct buf b = BUF_INIT;
	size_t n = msg_resources_changed(&b, &g, old_s, 2, new_s, 2, f, 1, f, 1);
	CHECK_EQ_INT(n, 2);
	CHECK(strstr(text(&b), "- removed server a (1)\n- added server c (3)\n") != NULL);
	buf_reset(&b);
	CHECK_EQ_INT(msg_resources_changed(&b, &g, old_s, 2, old_s, 2, f, 1, f, 1), 0);
	buf_release(&b);
}

TEST(moves_name_both_ends_and_the_reason)
{
	struct group_config g = group(NULL);
	struct msg_move m[] = {
		{ "vip-1", "198.51.100.1", { 1, "lb-a", "fsn1" }, "unhealthy",
		  { 2, "lb-b", "fsn1" }, "healthy", "target_unhealthy" },
		{ "vip-2", NULL, { 0, NULL, NULL }, NULL, { 2, "lb-b", NULL }, "healthy", "unassigned" },
		{ NULL, NULL, { 99, NULL, NULL }, NULL, { 5, NULL, NULL }, NULL, "canonical" },
	};
	struct buf b = BUF_INIT;
	msg_moves(&b, &g, m, 3);
	CHECK_EQ_STR(text(&b),
		     "- vip-1 `198.51.100.1`: **lb-a** (unhealthy) → **lb-b** (healthy), reason: target_unhealthy\n"
		     "- vip-2 `?`: unassigned → **lb-b** (healthy), reason: unassigned\n"
		     "- ? `?`: server 99 → (none) (?), reason: canonical\n");
	buf_release(&b);
}

TEST(plan_failed_first_time_and_as_a_reminder)
{
	struct group_config g = group(NULL);
	struct msg_move m[] = { { "vip-1", "1.2.3.4", { 1, "a", NULL }, "unhealthy",
				  { 2, "b", NULL }, "healthy", "target_unhealthy" } };
	struct buf out = BUF_INIT, b = BUF_INIT;
	msg_action_failed(&out, "vip-1", "b", "forbidden: no");
	msg_plan_failed(&b, &g, false, 1, "2026-01-01T00:00:00Z", m, 1, 1, out.data);
	CHECK(strstr(text(&b), "**Plan failed**") != NULL);
	CHECK(strstr(text(&b), "Attempt") == NULL);
	CHECK(strstr(text(&b), "1 of 1 actions failed:\n- vip-1 → b: `forbidden: no`\n") != NULL);
	CHECK(strstr(text(&b), "tells again when what fails changes") != NULL);
	buf_reset(&b);
	msg_plan_failed(&b, &g, true, 7, "2026-01-01T00:00:00Z", m, 1, 1, out.data);
	CHECK(strstr(text(&b), "**Plan still failing**") != NULL);
	CHECK(strstr(text(&b), "Attempt 7, failing since 2026-01-01T00:00:00Z.\n") != NULL);
	CHECK(strstr(text(&b), "- vip-1 `1.2.3.4`: **a** (unhealthy)") != NULL);
	CHECK(strstr(text(&b), "tells again") == NULL);
	buf_release(&b);
	buf_release(&out);
}

TEST(plan_applied_after_failures)
{
	struct group_config g = group(NULL);
	struct buf b = BUF_INIT;
	msg_plan_applied(&b, &g, 1, 0, "x");
	CHECK(strstr(text(&b), "All 1 action succeeded.\n") != NULL);
	buf_reset(&b);
	msg_plan_applied(&b, &g, 2, 3, "2026-01-01T00:00:00Z");
	CHECK(strstr(text(&b), "All 2 actions succeeded, after 3 failed attempts since 2026-01-01T00:00:00Z.\n") != NULL);
	buf_release(&b);
}

TEST(slack_markup)
{
	struct buf b = BUF_INIT;
	msg_to_slack("**bold** [a\\_b](https://x/y) \\<tag\\> & <raw> \\*", &b);
	CHECK_EQ_STR(text(&b), "*bold* <https://x/y|a_b> &lt;tag&gt; &amp; &lt;raw&gt; *");
	buf_reset(&b);
	/* A bracket that opens no link stays as it is. */
	msg_to_slack("[not a link", &b);
	CHECK_EQ_STR(text(&b), "[not a link");
	buf_release(&b);
}

TEST(certificate_expiring_says_when_and_how_bad)
{
	struct group_config g = group(NULL);
	struct buf b = BUF_INIT;
	/* 2027-11-26 12:00:00 UTC, seen 2 days and 1 hour before. */
	int64_t at = 1827230400000LL, now = at - (49LL * 3600 * 1000);
	struct msg_cert m = {
		.host = "www.example.com", .check = "HTTPS *health*",
		.server = { 7, "lb-1", "fsn1" }, .family = 4, .not_after_ms = at, .now_ms = now,
		.error = true, .window_ms = 168LL * 3600 * 1000,
	};
	msg_certificate_expiring(&b, &g, &m);
	CHECK_EQ_STR(text(&b),
		     ":rotating_light: **Certificate expires soon** — group **Web \\*prod\\*** (`web`)\n"
		     "The TLS certificate of `www.example.com` expires 2027-11-26T12:00:00Z, in 2 days "
		     "(check HTTPS \\*health\\* on **lb-1**, IPv4).\n"
		     "That is within tls\\_expiry\\_error (168h0m0s): renew it now. Checks pass until it "
		     "expires; then they fail, and floating IPs move away from every server that serves it.\n"
		     "flipper tells again once a day while it is served.\n");
	buf_reset(&b);
	m.error = false;
	m.window_ms = 336LL * 3600 * 1000;
	m.now_ms = at - 47LL * 3600 * 1000 - 1;
	m.family = 6;
	msg_certificate_expiring(&b, &g, &m);
	CHECK(strstr(text(&b), ":warning: **Certificate expiring**") == text(&b));
	CHECK(strstr(text(&b), ", in 47 hours (check") != NULL);
	CHECK(strstr(text(&b), ", IPv6).\nThat is within tls\\_expiry\\_warning (336h0m0s): renew it "
		     "soon.\n") != NULL);
	buf_reset(&b);
	m.now_ms = at - 90 * 60 * 1000;
	msg_certificate_expiring(&b, &g, &m);
	CHECK(strstr(text(&b), ", in 90 minutes (check") != NULL);
	buf_reset(&b);
	m.now_ms = at - 30 * 1000;
	msg_certificate_expiring(&b, &g, &m);
	CHECK(strstr(text(&b), ", within a minute (check") != NULL);
	buf_reset(&b);
	m.now_ms = at + 1;
	msg_certificate_expiring(&b, &g, &m);
	CHECK(strstr(text(&b), " expired 2027-11-26T12:00:00Z (check") != NULL);
	buf_release(&b);
}

int main(void)
{
	RUN(names_are_escaped_and_code_is_quoted);
	RUN(header_links_the_console_only_with_a_project);
	RUN(resources_changed_counts_only_differences);
	RUN(moves_name_both_ends_and_the_reason);
	RUN(plan_failed_first_time_and_as_a_reminder);
	RUN(plan_applied_after_failures);
	RUN(slack_markup);
	RUN(certificate_expiring_says_when_and_how_bad);
	return test_report();
}
