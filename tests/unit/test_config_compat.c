/*
 * The configuration's strict and compatible rules (issue 16): unknown
 * keys with a "did you mean", keys in any case, weak typing, YAML merge
 * keys, zero as the default, FLIPPER_* overrides, the endpoint's
 * transport, and what --print masks.
 */
#include <stdlib.h>

#include "config.h"
#include "config_keys.h"
#include "config_test.h"
#include "test.h"

static struct config *load(const char *text, config_reader_fn reader)
{
	return load_as(text, reader, CONFIG_RUN);
}

static void dump_diags(void)
{
	for (size_t i = 0; i < d.n; i++) {
		char *s = diag_format(&d, &d.list[i]);
		fprintf(stderr, "    %s\n", s);
		free(s);
	}
}

/* A group with a token and selectors; the test adds keys after it. */
#define GROUP "version: 1\n" GROUP_BODY
#define CHECKED "    checks: [{id: h, type: http}]\n"
#define GROUP_BODY \
	"groups:\n" \
	"  - id: web\n" \
	"    display_name: Web\n" \
	"    hetzner:\n" \
	"      api_token: t0k\n" \
	"      servers: {label_selector: role=lb}\n" \
	"      floating_ips: {label_selector: role=vip}\n"

TEST(did_you_mean)
{
	/* A typo, and `checks:` one level too deep: under hetzner. */
	static const char y[] =
		"version: 1\n"
		"telemetry: {level: debug}\n"
		"groups:\n"
		"  - id: web\n"
		"    display_name: Web\n"
		"    readonyl: true\n"
		"    api_token: x\n"
		"    hetzner:\n"
		"      api_token: t0k\n"
		"      servers: {label_selector: role=lb}\n"
		"      floating_ips: {label_selector: role=vip}\n"
		"      checks:\n"
		"        - {id: h, type: http}\n";
	CHECK(load(y, yaml_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "t.yaml:6:5: groups[0].readonyl",
		       "unknown key; did you mean `readonly`?"));
	CHECK(has_diag(DIAG_ERROR, "t.yaml:12:7: groups[0].hetzner.checks",
		       "unknown key; did you mean `checks` one level up, in groups[0]? "
		       "check the indentation"));
	CHECK(has_diag(DIAG_ERROR, "t.yaml:2:13: telemetry.level",
		       "did you mean `logging.level`, one level down?"));
	CHECK(has_diag(DIAG_ERROR, "t.yaml:7:5: groups[0].api_token",
		       "did you mean `hetzner.api_token`, one level down?"));
	CHECK_EQ_INT(d.errors, 4);

	/* One level up to the top; far from everything: no hint at all. */
	CHECK(load(GROUP "    notifications: {enabled: false}\n    zzzzzz: 1\n", yaml_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "groups[0].notifications",
		       "did you mean `notifications` one level up, at the top level?"));
	CHECK(has_diag(DIAG_ERROR, "t.yaml:10:5: groups[0].zzzzzz: unknown key", NULL));
	CHECK(!has_diag(DIAG_ERROR, "zzzzzz", "did you mean"));
	/* Two letters: "ip" is not taken for "id". */
	CHECK(load(GROUP "    checks: [{id: h, type: http, ip: 4}]\n", yaml_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "groups[0].checks[0].ip: unknown key", NULL));
	CHECK(!has_diag(DIAG_ERROR, "ip", "did you mean"));
}

TEST(extension_keys_hold_anchors)
{
	static const char y[] =
		"x-check: &check {type: http, fall: 3}\n"
		GROUP
		"    checks:\n"
		"      - {<<: *check, id: a}\n";
	struct config *c = load(y, yaml_read);
	CHECK(c != NULL);
	CHECK_EQ_INT(d.n, 0);
	if (c)
		CHECK_EQ_INT(c->groups[0].checks[0].fall, 3);
	config_free(c);
	/* Only at the top level, and a mapping elsewhere gets told where to go. */
	CHECK(load(GROUP "    x-note: 1\n", yaml_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "groups[0].x-note", "unknown key"));
	CHECK(load("defaults: {fall: 3}\n" GROUP, yaml_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "t.yaml:1:1: defaults", "starting with x-"));
}

TEST(keys_match_in_any_case)
{
	static const char y[] =
		"Version: 1\n"
		"GROUPS:\n"
		"  - ID: web\n"
		"    Display_Name: Web\n"
		"    ReadOnly: true\n"
		"    Hetzner:\n"
		"      API_Token: t0k\n"
		"      Servers: {Label_Selector: role=lb}\n"
		"      floating_ips: {label_selector: role=vip}\n"
		"    Checks: [{Id: h, Type: http, Headers: {X-Probe-Name: v}}]\n"
		"notifications: {targets: [{type: slack, url: 'https://h/x', IconEmoji: ':ok:'}]}\n";
	struct config *c = load(y, yaml_read);
	CHECK(c != NULL);
	if (c) {
		CHECK(c->groups[0].readonly);
		CHECK_EQ_STR(c->groups[0].server_selector, "role=lb");
		/* a header's name goes on the wire as written */
		CHECK_EQ_STR(c->groups[0].checks[0].headers[0].name, "X-Probe-Name");
		CHECK_EQ_STR(c->targets[0].icon_emoji, ":ok:");
	}
	config_free(c);

	/* Two spellings of one key are one key twice; values keep their case. */
	CHECK(load(GROUP "    readonly: false\n    ReadOnly: true\n"
		   "    checks: [{id: h, type: HTTP, headers: {X-A: 1, x-a: 2}}]\n", yaml_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "t.yaml:10:5: groups[0].ReadOnly",
		       "duplicate key: `ReadOnly` is `readonly` (line 9)"));
	CHECK(has_diag(DIAG_ERROR, "groups[0].checks[0].type", "unknown value \"HTTP\""));
	CHECK(has_diag(DIAG_ERROR, "groups[0].checks[0].headers.x-a", "duplicate header"));
	CHECK_EQ_INT(d.errors, 3);
}

TEST(weak_typing)
{
	static const char y[] =
		"version: \"1\"\n"
		GROUP_BODY
		"    readonly: \"true\"\n"
		"    plan_apply_with_unknown_status: 1\n"
		"    max_actions_per_round: \"0x10\"\n"
		"    checks:\n"
		"      - {id: 7, type: https, host: h.example, port: \"443\", fall: \"3\", rise: true}\n";
	struct config *c = load(y, yaml_read);
	CHECK(c != NULL);
	if (c) {
		CHECK_EQ_INT(c->version, 1);
		CHECK(c->groups[0].readonly);
		CHECK(c->groups[0].plan_apply_with_unknown_status);
		CHECK_EQ_INT(c->groups[0].max_actions_per_round, 16);
		const struct check_config *k = &c->groups[0].checks[0];
		CHECK_EQ_STR(k->id, "7");
		CHECK_EQ_INT(k->port, 443);
		CHECK_EQ_INT(k->fall, 3);
		CHECK_EQ_INT(k->rise, 1);
	}
	config_free(c);

	/* The same through JSON and TOML: numbers as text, text as numbers. */
	static const char js[] =
		"{\"version\": \"1\", \"groups\": [{\"id\": 12, \"display_name\": true, \"readonly\": \"t\","
		" \"hetzner\": {\"api_token\": \"x\", \"project_id\": 42,"
		" \"servers\": {\"label_selector\": \"a\"}, \"floating_ips\": {\"label_selector\": \"b\"}},"
		" \"checks\": [{\"id\": \"h\", \"type\": \"http\", \"port\": 8080.0, \"rise\": \"2\"}]}]}";
	c = load(js, json_read);
	CHECK(c != NULL);
	if (c) {
		CHECK_EQ_STR(c->groups[0].id, "12");
		CHECK_EQ_STR(c->groups[0].display_name, "true");
		CHECK(c->groups[0].readonly);
		CHECK_EQ_STR(c->groups[0].project_id, "42");
		CHECK_EQ_INT(c->groups[0].checks[0].port, 8080);
		CHECK_EQ_INT(c->groups[0].checks[0].rise, 2);
	}
	config_free(c);
	static const char toml[] =
		"version = \"1\"\n[[groups]]\nid = \"g\"\ndisplay_name = \"G\"\nreadonly = \"false\"\n"
		"[groups.hetzner]\napi_token = \"x\"\nservers.label_selector = \"a\"\n"
		"floating_ips.label_selector = \"b\"\n[[groups.checks]]\nid = \"h\"\ntype = \"http\"\n"
		"fall = \"+2\"\nport = 0x50\n";
	c = load(toml, toml_read);
	CHECK(c != NULL);
	if (c) {
		CHECK(!c->groups[0].readonly);
		CHECK_EQ_INT(c->groups[0].checks[0].fall, 2);
		CHECK_EQ_INT(c->groups[0].checks[0].port, 80);
	}
	config_free(c);

	/* What stays an error: durations without a unit, words, ambiguous zeros. */
	CHECK(load(GROUP "    readonly: \"yes please\"\n    poll_timeout: 5\n"
		   "    checks: [{id: h, type: http, port: \"0443\", fall: \"three\", rise: 2.5,"
		   " interval: \"90\"}]\n", yaml_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "groups[0].readonly", "expected true or false, got \"yes please\""));
	CHECK(has_diag(DIAG_ERROR, "groups[0].poll_timeout", "a number needs a unit, e.g. \"5s\""));
	CHECK(has_diag(DIAG_ERROR, "groups[0].checks[0].port", "a leading zero is ambiguous"));
	CHECK(has_diag(DIAG_ERROR, "groups[0].checks[0].fall",
		       "expected an integer, got \"three\": not an integer"));
	CHECK(has_diag(DIAG_ERROR, "groups[0].checks[0].rise", "expected an integer, got a float"));
	CHECK(has_diag(DIAG_ERROR, "groups[0].checks[0].interval", "invalid duration \"90\""));
	CHECK_EQ_INT(d.errors, 6);
	if (d.errors != 6)
		dump_diags();
	/* Out of range however it is spelled. */
	CHECK(load(GROUP "    checks: [{id: h, type: http, port: \"65536\", "
		   "fall: \"99999999999999999999\"}]\n", yaml_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "groups[0].checks[0].port", "between 1 and 65535 (got 65536)"));
	CHECK(has_diag(DIAG_ERROR, "groups[0].checks[0].fall", "out of range"));
}

TEST(zero_means_the_default)
{
	static const char y[] =
		GROUP
		"    poll_interval: 0s\n"
		"    poll_timeout: \"0\"\n"
		"    plan_apply_timeout: 0\n"
		"    failback_delay: 0s\n"
		"    checks:\n"
		"      - {id: a, type: http, interval: 0s, timeout: 0, fall: 0, rise: \"0\", port: 0}\n"
		"      - {id: b, type: https, host: h.example, port: \"\"}\n";
	struct config *c = load(y, yaml_read);
	CHECK(c != NULL);
	if (!c) {
		dump_diags();
		return;
	}
	const struct group_config *g = &c->groups[0];
	CHECK_EQ_INT(g->poll_interval_ms, 60000);
	CHECK_EQ_INT(g->poll_timeout_ms, 20000);
	CHECK_EQ_INT(g->plan_apply_timeout_ms, 30000);
	CHECK_EQ_INT(g->failback_delay_ms, 0);          /* a new key: 0s is off */
	CHECK_EQ_INT(g->checks[0].interval_ms, 60000);
	CHECK_EQ_INT(g->checks[0].timeout_ms, 10000);
	CHECK_EQ_INT(g->checks[0].fall, 1);
	CHECK_EQ_INT(g->checks[0].rise, 1);
	CHECK_EQ_INT(g->checks[0].port, 80);
	CHECK_EQ_INT(g->checks[1].port, 443);
	config_free(c);
	/* Not a key of the original: 0 is checked as any value. */
	CHECK(load(GROUP "    max_actions_per_round: 0\n    checks: [{id: a, type: http, fall: -1}]\n",
		   yaml_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "groups[0].max_actions_per_round", "between 1 and 1000000"));
	CHECK(has_diag(DIAG_ERROR, "groups[0].checks[0].fall", "between 1 and 1000000 (got -1)"));
	/* Listing every pass has its own word, kept apart from 0s. */
	c = load(GROUP "    poll_interval: always\n" CHECKED, yaml_read);
	CHECK(c && c->groups[0].poll_interval_ms == DURATION_ALWAYS);
	if (c) {
		struct buf b = BUF_INIT;
		config_print_json(c, &b);
		CHECK(strstr(b.data, "\"poll_interval\":\"always\"") != NULL);
		buf_release(&b);
	}
	config_free(c);
	c = load(GROUP "    poll_interval: Always\n" CHECKED, yaml_read);
	CHECK(c == NULL && has_diag(DIAG_ERROR, "groups[0].poll_interval",
				    "invalid duration \"Always\": "));
	CHECK(has_diag(DIAG_ERROR, "groups[0].poll_interval", " (or \"always\")"));
}

TEST(merge_keys_in_yaml)
{
	static const char y[] =
		"x-base: &base {type: http, interval: 5s, Fall: 4, port: 8080}\n"
		"x-slow: &slow {interval: 1m, rise: 3, fall: 9}\n"
		GROUP
		"    checks:\n"
		"      - <<: [*base, *slow]\n"
		"        id: a\n"
		"        port: 9090\n"
		"      - {id: b, <<: *slow, type: http}\n";
	struct config *c = load(y, yaml_read);
	CHECK(c != NULL);
	if (c) {
		const struct check_config *a = &c->groups[0].checks[0], *b = &c->groups[0].checks[1];
		CHECK_EQ_INT(a->port, 9090);            /* explicit keys win */
		CHECK_EQ_INT(a->interval_ms, 5000);     /* earlier sources win */
		CHECK_EQ_INT(a->fall, 4);               /* ... whatever the case */
		CHECK_EQ_INT(a->rise, 3);
		CHECK_EQ_INT(b->fall, 9);
		CHECK_EQ_INT(b->interval_ms, 60000);
	}
	config_free(c);

	/* Errors inside a merged value point at where it was written. */
	CHECK(load("x-bad: &bad {fall: lots}\n" GROUP "    checks: [{<<: *bad, id: a, type: http}]\n",
		   yaml_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "t.yaml:1:20: groups[0].checks[0].fall", "expected an integer"));
	/* A merge of a scalar, or two merge keys, is a syntax error. */
	CHECK(load(GROUP "    checks: [{<<: 1, id: a}]\n", yaml_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "t.yaml:9:19", "merge key << wants a mapping"));
	/* A quoted "<<" is an ordinary key: unknown. */
	CHECK(load(GROUP "    \"<<\": {readonly: true}\n", yaml_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "groups[0].<<", "merge keys work only in YAML, unquoted"));
}

TEST(merge_keys_are_yaml_only)
{
	static const char js[] =
		"{\"version\": 1, \"groups\": [{\"id\": \"a\", \"display_name\": \"A\","
		" \"<<\": {\"readonly\": true}, \"hetzner\": {\"api_token\": \"x\","
		" \"servers\": {\"label_selector\": \"a\"}, \"floating_ips\": {\"label_selector\": \"b\"}}}]}";
	CHECK(load(js, json_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "t.yaml:1:60: groups[0].<<",
		       "unknown key (merge keys work only in YAML, unquoted)"));
	static const char toml[] =
		"version = 1\n[[groups]]\nid = \"g\"\ndisplay_name = \"G\"\n\"<<\" = {readonly = true}\n"
		"[groups.hetzner]\napi_token = \"x\"\nservers.label_selector = \"a\"\n"
		"floating_ips.label_selector = \"b\"\n";
	CHECK(load(toml, toml_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "t.yaml:5:1: groups[0].<<", "merge keys work only in YAML"));
}

TEST(env_key_names)
{
	char *k;
	CHECK_EQ_STR(k = config_env_key("FLIPPER_TELEMETRY__LOGGING__LEVEL"), "telemetry.logging.level");
	free(k);
	CHECK_EQ_STR(k = config_env_key("FLIPPER_HEARTBEAT__URL"), "heartbeat.url");
	free(k);
	/* one underscore stays: it is part of the key */
	CHECK_EQ_STR(k = config_env_key("FLIPPER_STATE__PATH"), "state.path");
	free(k);
	CHECK_EQ_STR(k = config_env_key("FLIPPER_SERVER__SHUTDOWN_TIMEOUT"), "server.shutdown_timeout");
	free(k);
	CHECK_EQ_STR(k = config_env_key("FLIPPER_A____B"), "a..b");
	free(k);
	CHECK_EQ_STR(k = config_env_key("FLIPPER_A___B"), "a._b");
	free(k);
	CHECK_EQ_STR(k = config_env_key("FLIPPER_"), "");
	free(k);
	/* Not overrides: another prefix, the reserved names, the test knobs. */
	CHECK(config_env_key("FLIPPER") == NULL);
	CHECK(config_env_key("flipper_heartbeat__url") == NULL);
	CHECK(config_env_key("HCLOUD_TOKEN") == NULL);
	CHECK(config_env_key("FLIPPER_CONFIG") == NULL);
	CHECK(config_env_key("FLIPPER_STATE") == NULL);
	CHECK(config_env_key("FLIPPER_TEST_TOKEN") == NULL);
	CHECK(config_env_key("FLIPPER_NOTIFY_BACKOFF_MS") == NULL);
	CHECK(config_env_key("FLIPPER_CI") == NULL);
}

static const char *const override_vars[] = {
	"FLIPPER_TELEMETRY__LOGGING__LEVEL", "FLIPPER_HEARTBEAT__ENABLED", "FLIPPER_HEARTBEAT__URL",
	"FLIPPER_HEARTBEAT__INTERVAL", "FLIPPER_HEARTBEAT__TIMEOUT", "FLIPPER_Service__Name",
	"FLIPPER_TELEMETRY__LOGING__LEVEL", "FLIPPER_GROUPS__0__READONLY", "FLIPPER_HEARTBEAT",
	"FLIPPER_VERSION__X", "FLIPPER_TELEMETRY__TRACING__ENABLED", "FLIPPER_NOTIFICATIONS__ENABLED",
};

static void unset_overrides(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(override_vars); i++)
		unsetenv(override_vars[i]);
}

TEST(env_overrides)
{
	unset_overrides();
	setenv("FLIPPER_TELEMETRY__LOGGING__LEVEL", "debug", 1);
	setenv("FLIPPER_HEARTBEAT__ENABLED", "true", 1);
	setenv("FLIPPER_HEARTBEAT__URL", "https://hb.example/ping", 1);
	setenv("FLIPPER_HEARTBEAT__INTERVAL", "30s", 1);
	setenv("FLIPPER_HEARTBEAT__TIMEOUT", "5s", 1);
	setenv("FLIPPER_Service__Name", "edge", 1);
	setenv("FLIPPER_TELEMETRY__LOGING__LEVEL", "warn", 1);
	setenv("FLIPPER_GROUPS__0__READONLY", "true", 1);
	setenv("FLIPPER_HEARTBEAT", "on", 1);
	setenv("FLIPPER_VERSION__X", "1", 1);
	setenv("FLIPPER_TELEMETRY__TRACING__ENABLED", "true", 1);
	/* The file's spelling of a key (Telemetry, Level) is overridden all the same. */
	struct config *c = load(GROUP CHECKED "Telemetry: {logging: {Level: error}}\nheartbeat:\n",
				yaml_read);
	CHECK(c != NULL);
	if (c) {
		CHECK_EQ_STR(c->log_level, "debug");
		CHECK(c->heartbeat_enabled);
		CHECK_EQ_STR(c->heartbeat_url, "https://hb.example/ping");
		CHECK_EQ_INT(c->heartbeat_interval_ms, 30000);
		CHECK_EQ_STR(c->service_name, "edge");
		CHECK(!c->groups[0].readonly);
		/* --print lists them, by key */
		struct buf b = BUF_INIT;
		config_print_json(c, &b);
		CHECK(strstr(b.data, ",\"from_environment\":{\"heartbeat.enabled\":"
			     "\"FLIPPER_HEARTBEAT__ENABLED\",\"heartbeat.interval\":") != NULL);
		CHECK(strstr(b.data, "\"service.name\":\"FLIPPER_Service__Name\"") != NULL);
		CHECK(strstr(b.data, "\"telemetry.logging.level\":\"FLIPPER_TELEMETRY__LOGGING__LEVEL\"}}"));
		buf_release(&b);
	}
	config_free(c);
	CHECK(has_diag(DIAG_WARNING, "t.yaml: FLIPPER_TELEMETRY__LOGING__LEVEL: names no "
		       "configuration key (telemetry.loging.level); ignored; did you mean "
		       "FLIPPER_TELEMETRY__LOGGING__LEVEL?", NULL));
	CHECK(has_diag(DIAG_WARNING, "FLIPPER_GROUPS__0__READONLY: groups is a list: its elements "
		       "cannot be set from the environment; ignored", NULL));
	CHECK(has_diag(DIAG_WARNING, "FLIPPER_HEARTBEAT: names the section heartbeat, not a key", NULL));
	CHECK(has_diag(DIAG_WARNING, "FLIPPER_VERSION__X: names no configuration key (version.x): "
		       "version is not a section", NULL));
	CHECK(!has_diag(DIAG_WARNING, "TRACING", NULL));
	CHECK_EQ_INT(d.n, 4);

	/* A bad value from the environment names its variable; no line to give. */
	setenv("FLIPPER_NOTIFICATIONS__ENABLED", "maybe", 1);
	CHECK(load(GROUP, yaml_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "t.yaml: notifications.enabled: expected true or false, got "
		       "\"maybe\" (set by $FLIPPER_NOTIFICATIONS__ENABLED)", NULL));
	unset_overrides();

	/* Without overrides, --print has no from_environment at all. */
	c = load(GROUP, yaml_read);
	struct buf b = BUF_INIT;
	if (c)
		config_print_json(c, &b);
	CHECK(c && !strstr(b.data, "from_environment"));
	buf_release(&b);
	config_free(c);
}

TEST(empty_token_and_control_characters)
{
	static const char y[] =
		"version: 1\n"
		"groups:\n"
		"  - id: web\n"
		"    display_name: Web\n"
		"    hetzner:\n"
		"      api_token: \"\"\n"
		"      servers: {label_selector: a}\n"
		"      floating_ips: {label_selector: b}\n";
	setenv("HCLOUD_TOKEN", "from-env", 1);
	CHECK(load(y, yaml_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "t.yaml:6:18: groups[0].hetzner.api_token",
		       "is empty; remove the key to use api_token_file"));
	setenv("FLIPPER_TEST_EMPTY", "", 1);
	char *viaenv = xstrdup(y);
	char *q = strstr(viaenv, "\"\"");
	CHECK(q != NULL);
	struct buf b = BUF_INIT;
	buf_add(&b, viaenv, (size_t)(q - viaenv));
	buf_addstr(&b, "${FLIPPER_TEST_EMPTY}");
	buf_addstr(&b, q + 2);
	CHECK(load(b.data, yaml_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "groups[0].hetzner.api_token",
		       "(the environment variable it references is set but empty)"));
	buf_release(&b);
	free(viaenv);
	unsetenv("FLIPPER_TEST_EMPTY");
	unsetenv("HCLOUD_TOKEN");

	CHECK(load(GROUP "    checks:\n"
		   "      - {id: a, type: http, path: \"/a\\x01b\", host: \"h\\x7f\","
		   " headers: {X-A: \"ok\\tfine\", X-B: \"bad\\x1b[0m\"}}\n", yaml_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "groups[0].checks[0].path", "must not contain control characters"));
	CHECK(has_diag(DIAG_ERROR, "groups[0].checks[0].host", "must not contain control characters"));
	CHECK(has_diag(DIAG_ERROR, "groups[0].checks[0].headers.X-B", "control characters"));
	CHECK_EQ_INT(d.errors, 3);
}

static const char endpoint_group[] =
	"version: 1\n"
	"groups:\n"
	"  - id: web\n"
	"    display_name: Web\n"
	"    hetzner:\n"
	"      api_token: t0k\n"
	"      servers: {label_selector: a}\n"
	"      floating_ips: {label_selector: b}\n"
	"      endpoint: %s\n"
	"      allow_insecure_endpoint: %s\n";

static struct config *load_endpoint(const char *endpoint, const char *allow)
{
	char *y = xasprintf(endpoint_group, endpoint, allow);
	struct config *c = load(y, yaml_read);
	free(y);
	return c;
}

TEST(insecure_endpoints)
{
	static const char *const loopback[] = {
		"http://127.0.0.1:8080/v1", "http://127.9.8.7/v1", "http://localhost:1/v1",
		"http://LOCALHOST/v1", "'http://[::1]:80/v1'", "http://user:pw@127.0.0.1/v1",
		"'http://[::ffff:127.0.0.1]/v1'", "https://api.example/v1",
	};
	unsetenv("HCLOUD_ENDPOINT");
	for (size_t i = 0; i < ARRAY_SIZE(loopback); i++) {
		struct config *c = load_endpoint(loopback[i], "false");
		if (!c)
			TEST_FAIL_("%s refused", loopback[i]);
		config_free(c);
	}
	static const char *const remote[] = {
		"http://api.example/v1", "http://10.0.0.1/v1", "http://127.0.0.1.nip.io/v1",
		"http://localhost.example/v1", "'http://[::2]/v1'", "http://127.0.0.1@evil.example/v1",
	};
	for (size_t i = 0; i < ARRAY_SIZE(remote); i++) {
		struct config *c = load_endpoint(remote[i], "false");
		if (c || !has_diag(DIAG_ERROR, "t.yaml:9:17: groups[0].hetzner.endpoint",
				   "endpoint is plain http:// to a host that is not loopback"))
			TEST_FAIL_("%s accepted", remote[i]);
		config_free(c);
		c = load_endpoint(remote[i], "true");
		if (!c)
			TEST_FAIL_("%s refused with allow_insecure_endpoint", remote[i]);
		config_free(c);
	}
	/* $HCLOUD_ENDPOINT obeys the same rule, and is named. */
	setenv("HCLOUD_ENDPOINT", "http://api.example/v1", 1);
	CHECK(load(GROUP, yaml_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "groups[0].hetzner.endpoint",
		       "$HCLOUD_ENDPOINT is plain http:// to a host that is not loopback"));
	setenv("HCLOUD_ENDPOINT", "http://127.0.0.1:9/v1", 1);
	struct config *c = load(GROUP, yaml_read);
	CHECK(c && str_eq(c->groups[0].endpoint, "http://127.0.0.1:9/v1"));
	config_free(c);
	unsetenv("HCLOUD_ENDPOINT");
}

TEST(print_masks_header_values_and_userinfo)
{
	static const char y[] =
		"version: 1\n"
		"heartbeat: {enabled: true, url: 'https://u:hbsecret@hb.example/x', interval: 1m, "
		"timeout: 5s}\n"
		"groups:\n"
		"  - id: web\n"
		"    display_name: Web\n"
		"    hetzner:\n"
		"      api_token: t0k\n"
		"      endpoint: 'http://admin:epsecret@127.0.0.1:1/v1'\n"
		"      servers: {label_selector: a}\n"
		"      floating_ips: {label_selector: b}\n"
		"    checks:\n"
		"      - id: a\n"
		"        type: http\n"
		"        headers: {Authorization: Basic dXNlcjpwdw==, X-Api-Key: k3ysecret}\n";
	struct config *c = load(y, yaml_read);
	CHECK(c != NULL);
	if (!c)
		return;
	struct buf b = BUF_INIT;
	config_print_json(c, &b);
	CHECK(strstr(b.data, "\"headers\":{\"Authorization\":\"(set)\",\"X-Api-Key\":\"(set)\"}"));
	CHECK(strstr(b.data, "\"endpoint\":\"http://***@127.0.0.1:1/v1\""));
	static const char *const secrets[] = { "dXNlcjpwdw", "k3ysecret", "epsecret", "hbsecret",
					       "admin", "t0k" };
	for (size_t i = 0; i < ARRAY_SIZE(secrets); i++)
		if (strstr(b.data, secrets[i]))
			TEST_FAIL_("--print shows %s", secrets[i]);
	/* The configuration itself keeps them: the check sends them. */
	CHECK_EQ_STR(c->groups[0].checks[0].headers[1].value, "k3ysecret");
	buf_release(&b);
	config_free(c);
}

TEST(notification_icon)
{
	struct config *c = load(GROUP "notifications:\n  targets:\n"
				"    - {type: mattermost, url: 'https://m/h'}\n"
				"    - {type: slack, url: 'https://s/h', iconemoji: ':tada:'}\n"
				"    - {type: slack, url: 'https://s/h', icon_url: 'https://i/x.png'}\n"
				"    - {type: slack, url: 'https://s/h', icon_url: 'https://i/x.png', "
				"icon_emoji: ':x:'}\n"
				"    - {type: slack, url: 'https://s/h', icon_emoji: ''}\n", yaml_read);
	CHECK(c != NULL);
	if (c) {
		CHECK_EQ_STR(c->targets[0].icon_emoji, ":dolphin:");
		CHECK_EQ_STR(c->targets[1].icon_emoji, ":tada:");
		CHECK(c->targets[2].icon_emoji == NULL);     /* the icon_url shows */
		CHECK_EQ_STR(c->targets[3].icon_emoji, ":x:");
		CHECK(c->targets[4].icon_emoji == NULL);     /* "": no icon asked for */
	}
	config_free(c);
	CHECK(load(GROUP "notifications:\n  targets:\n"
		   "    - {type: slack, url: 'https://s/h', iconemoji: ':a:', icon_emoji: ':b:'}\n",
		   yaml_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "notifications.targets[0].icon_emoji",
		       "duplicate key: `icon_emoji` is `iconemoji`"));
}

TEST(unused_keys_advice_for_validate_only)
{
	static const char y[] =
		"version: 1\n"
		"server: {enabled: false, assets: /srv/a, templates: '', port: 9000}\n"
		"telemetry: {tracing: {enabled: true}}\n"
		GROUP_BODY CHECKED;
	struct config *c = load_as(y, yaml_read, CONFIG_RUN);
	CHECK(c != NULL);
	CHECK_EQ_INT(d.n, 0);
	if (c)
		CHECK_EQ_INT(c->server_port, 9000);
	config_free(c);
	c = load_as(y, yaml_read, CONFIG_VALIDATE);
	CHECK(c != NULL);
	CHECK(has_diag(DIAG_WARNING, "t.yaml:2:26: server: accepted for compatibility with the "
		       "original flipper but not used: assets", NULL));
	CHECK(has_diag(DIAG_WARNING, "telemetry: accepted", "not used: tracing"));
	CHECK_EQ_INT(d.n, 2);
	config_free(c);
	/* The original's README example: server disabled, nothing to say. */
	c = load_as("version: 1\nserver: {enabled: false, assets: , templates: }\n"
		    GROUP_BODY CHECKED, yaml_read, CONFIG_VALIDATE);
	CHECK(c != NULL);
	CHECK_EQ_INT(d.n, 0);
	if (c) {
		CHECK_EQ_STR(c->server_host, "localhost");
		CHECK_EQ_INT(c->server_port, 9521);
		CHECK_EQ_INT(c->server_shutdown_timeout_ms, 5000);
	}
	config_free(c);
}

TEST(file_without_extension_is_toml)
{
	CHECK(config_reader_for("flipper") == toml_read);
	CHECK(config_reader_for("/etc/flipper/config") == toml_read);
	CHECK(config_reader_for("/etc/flipper.d/config") == toml_read);
	CHECK(config_reader_for(".flipper") == toml_read);
	CHECK(config_reader_for("flipper.yaml.bak") == NULL);
	CHECK(config_reader_for("flipper.conf") == NULL);
	CHECK(config_reader_for("dir/") == NULL);
}

int main(void)
{
	diags_init(&d, "t.yaml");
	RUN(did_you_mean);
	RUN(extension_keys_hold_anchors);
	RUN(keys_match_in_any_case);
	RUN(weak_typing);
	RUN(zero_means_the_default);
	RUN(merge_keys_in_yaml);
	RUN(merge_keys_are_yaml_only);
	RUN(env_key_names);
	RUN(env_overrides);
	RUN(empty_token_and_control_characters);
	RUN(insecure_endpoints);
	RUN(print_masks_header_values_and_userinfo);
	RUN(notification_icon);
	RUN(unused_keys_advice_for_validate_only);
	RUN(file_without_extension_is_toml);
	diags_release(&d);
	return test_report();
}
