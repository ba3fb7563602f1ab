/* test_outbox.c — which target a queued message belongs to (SPEC 9, issue 15). */
#include <stdlib.h>

#include "config.h"
#include "config_test.h"
#include "notify.h"
#include "test.h"

static struct config *load(const char *text)
{
	return load_as(text, yaml_read, CONFIG_RUN);
}

static const char hdr[] =
	"version: 1\n"
	"groups:\n"
	"  - id: web\n"
	"    display_name: Web\n"
	"    hetzner:\n"
	"      api_token: t\n"
	"      servers: {label_selector: a}\n"
	"      floating_ips: {label_selector: b}\n";

static char *identity_of(const char *targets, size_t i)
{
	struct buf y = BUF_INIT;
	buf_addstr(&y, hdr);
	buf_addstr(&y, targets);
	struct config *c = load(y.data);
	buf_release(&y);
	if (!c)
		return NULL;
	char *id = i < c->n_targets ? notify_target_identity(c, i) : NULL;
	config_free(c);
	return id;
}

TEST(a_target_is_its_type_channel_and_username_not_its_url)
{
	char *a = identity_of("notifications: {targets: [{type: mattermost, url: 'https://a/hooks/1', "
			      "channel: ops, username: flipper}]}\n", 0);
	char *b = identity_of("notifications: {targets: [{type: mattermost, url: 'https://b/hooks/2', "
			      "channel: ops, username: flipper}]}\n", 0);
	CHECK(a && b);
	CHECK_EQ_STR(a, b);                 /* a new URL: the same target */
	CHECK(a && !strstr(a, "hooks"));    /* and no URL in what is stored */
	char *c = identity_of("notifications: {targets: [{type: slack, url: 'https://a/hooks/1', "
			      "channel: ops, username: flipper}]}\n", 0);
	char *e = identity_of("notifications: {targets: [{type: mattermost, url: 'https://a/hooks/1', "
			      "channel: dev, username: flipper}]}\n", 0);
	CHECK(c && e && strcmp(a, c) != 0 && strcmp(a, e) != 0);
	/* No separator trick makes two targets one. */
	char *p1 = identity_of("notifications: {targets: [{type: slack, url: 'https://a/1', "
			       "channel: 'a|b', username: c}]}\n", 0);
	char *p2 = identity_of("notifications: {targets: [{type: slack, url: 'https://a/1', "
			       "channel: a, username: 'b|c'}]}\n", 0);
	CHECK(p1 && p2 && strcmp(p1, p2) != 0);
	free(a);
	free(b);
	free(c);
	free(e);
	free(p1);
	free(p2);
}

TEST(an_explicit_id_names_the_target)
{
	char *a = identity_of("notifications: {targets: [{type: mattermost, id: chat, "
			      "url: 'https://a/hooks/1', channel: ops}]}\n", 0);
	char *b = identity_of("notifications: {targets: [{type: mattermost, id: chat, "
			      "url: 'https://b/x', channel: other}]}\n", 0);
	CHECK_EQ_STR(a, "id:chat");
	CHECK_EQ_STR(b, "id:chat");
	free(a);
	free(b);
	/* Two ids alike are refused. */
	struct buf y = BUF_INIT;
	buf_addstr(&y, hdr);
	buf_addstr(&y, "notifications: {targets: [{type: slack, id: x, url: 'https://a/1'}, "
		   "{type: slack, id: x, url: 'https://a/2'}]}\n");
	CHECK(load(y.data) == NULL);
	buf_release(&y);
}

TEST(targets_that_would_share_an_identity_are_told_apart_by_their_url)
{
	const char *two = "notifications: {targets: [{type: mattermost, url: 'https://a/1', channel: ops}, "
			  "{type: mattermost, url: 'https://b/2', channel: ops}]}\n";
	char *a = identity_of(two, 0), *b = identity_of(two, 1);
	CHECK(a && b && strcmp(a, b) != 0);
	free(a);
	free(b);
}

TEST(validate_asks_for_a_channel_or_an_id)
{
	struct buf y = BUF_INIT;
	buf_addstr(&y, hdr);
	buf_addstr(&y, "notifications:\n"
		   "  targets:\n"
		   "    - {type: mattermost, url: 'https://a/1', channel: ops}\n"
		   "    - {type: slack, url: 'https://a/2'}\n"
		   "    - {type: slack, id: pager, url: 'https://a/3'}\n");
	struct config *c = load(y.data);
	buf_release(&y);
	CHECK(c != NULL);
	size_t warned = 0;
	for (size_t i = 0; i < d.n; i++) {
		char *s = diag_format(&d, &d.list[i]);
		if (strstr(s, "give this target a channel or an id")) {
			warned++;
			CHECK(strstr(s, "t.yaml:12:7: notifications.targets[1]") != NULL);
		}
		free(s);
	}
	CHECK_EQ_INT(warned, 1);
	config_free(c);
}

int main(void)
{
	RUN(a_target_is_its_type_channel_and_username_not_its_url);
	RUN(an_explicit_id_names_the_target);
	RUN(targets_that_would_share_an_identity_are_told_apart_by_their_url);
	RUN(validate_asks_for_a_channel_or_an_id);
	diags_release(&d);
	return test_report();
}
