/* Configuration mapping and validation, through the YAML and JSON readers. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "config_keys.h"
#include "config_test.h"
#include "test.h"

static struct config *load(const char *text, config_reader_fn reader)
{
	return load_as(text, reader, CONFIG_VALIDATE);
}

static const char minimal[] =
	"version: 1\n"
	"groups:\n"
	"  - id: web\n"
	"    display_name: Web\n"
	"    hetzner:\n"
	"      api_token: t0k\n"
	"      servers: {label_selector: role=lb}\n"
	"      floating_ips: {label_selector: role=vip}\n"
	"    checks:\n"
	"      - id: h\n"
	"        type: http\n";

TEST(defaults)
{
	struct config *c = load(minimal, yaml_read);
	CHECK(c != NULL);
	if (!c)
		return;
	CHECK_EQ_STR(c->service_name, "flipper");
	CHECK_EQ_STR(c->log_level, "info");
	CHECK_EQ_STR(c->log_format, "json");
	CHECK(!c->heartbeat_enabled);
	CHECK(!c->notifications_enabled);
	/* monitor's HTTP endpoint: off, and the original's address when on */
	CHECK(!c->server_enabled);
	CHECK_EQ_STR(c->server_host, "localhost");
	CHECK_EQ_INT(c->server_port, 9521);
	CHECK_EQ_INT(c->server_shutdown_timeout_ms, 5000);
	const struct group_config *g = &c->groups[0];
	CHECK(!g->readonly);
	CHECK_EQ_STR(g->provider, "hetzner");
	CHECK_EQ_INT(g->poll_interval_ms, 60000);
	CHECK_EQ_INT(g->poll_timeout_ms, 20000);
	CHECK_EQ_INT(g->plan_apply_timeout_ms, 30000);
	CHECK(!g->plan_apply_with_unknown_status);
	CHECK_EQ_INT(g->max_actions_per_round, 0);
	CHECK_EQ_INT(g->failback_delay_ms, 0);
	CHECK(!g->planner.rebalance);
	CHECK_EQ_INT(g->planner.when_none_healthy, PLAN_FREEZE);
	CHECK_EQ_STR(g->endpoint, "https://api.hetzner.cloud/v1");
	CHECK_EQ_STR(g->token_source, "api_token");
	const struct check_config *k = &g->checks[0];
	CHECK_EQ_INT(k->interval_ms, 60000);
	CHECK_EQ_INT(k->timeout_ms, 10000);
	CHECK_EQ_INT(k->fall, 1);
	CHECK_EQ_INT(k->rise, 1);
	CHECK_EQ_STR(k->method, "GET");
	CHECK_EQ_INT(k->port, 80);
	CHECK_EQ_STR(k->path, "/");
	CHECK_EQ_INT(k->ip_version, IPV_BOTH);
	CHECK(check_expects(k, 200) && check_expects(k, 299));
	CHECK(!check_expects(k, 300) && !check_expects(k, 199));
	CHECK_EQ_STR(k->display_name, "h");
	config_free(c);
}

/* Parse a YAML file, or fail the test saying why it could not be read. */
static struct config *load_file(const char *path)
{
	char *text;
	size_t len;
	if (read_file(path, 1 << 20, &text, &len) < 0) {
		TEST_FAIL_("cannot read %s: %s (run from the repo root)", path, strerror(errno));
		return NULL;
	}
	diags_release(&d);
	diags_init(&d, path);
	struct config *c = config_parse(path, text, len, yaml_read, CONFIG_VALIDATE, &d);
	free(text);
	for (size_t i = 0; i < d.n; i++) {
		char *s = diag_format(&d, &d.list[i]);
		if (d.list[i].severity == DIAG_ERROR)
			TEST_FAIL_("%s", s);
		free(s);
	}
	return c;
}

/* The layout of the original README's example, with our own values. */
TEST(readme_shape_values)
{
	struct config *c = load_file("tests/fixtures/original/readme-shape.yaml");
	CHECK(c != NULL);
	if (!c)
		return;
	CHECK(!c->server_enabled);
	const struct group_config *g = &c->groups[0];
	CHECK_EQ_STR(g->id, "shop_frontend");
	CHECK_EQ_STR(g->display_name, "Shop frontend");
	CHECK(!g->readonly);
	CHECK_EQ_INT(g->poll_interval_ms, 45000);
	CHECK_EQ_STR(g->api_token, "fixture-token-7f3a");
	CHECK_EQ_STR(g->project_id, "3141592");
	CHECK_EQ_STR(g->server_selector, "stage=live,role=edge,app=shop");
	CHECK_EQ_STR(g->fip_selector, "stage=live,app=shop");
	CHECK_EQ_INT(g->n_checks, 1);
	const struct check_config *k = &g->checks[0];
	CHECK_EQ_STR(k->id, "storefront_ping");
	CHECK_EQ_STR(k->display_name, "Storefront ping page");
	CHECK_EQ_INT(k->type, CHECK_HTTPS);
	CHECK_EQ_INT(k->interval_ms, 3000);
	CHECK_EQ_INT(k->timeout_ms, 1500);
	CHECK_EQ_INT(k->fall, 4);
	CHECK_EQ_INT(k->rise, 3);
	CHECK_EQ_INT(k->port, 8443);
	CHECK_EQ_STR(k->host, "shop.example.org");
	CHECK_EQ_STR(k->path, "/internal/ping");
	CHECK_EQ_INT(k->ip_version, IPV_4);
	CHECK(c->heartbeat_enabled);
	CHECK_EQ_STR(c->heartbeat_url, "https://beats.example.org/ping/7f3a");
	CHECK_EQ_INT(c->heartbeat_interval_ms, 90000);
	CHECK_EQ_INT(c->heartbeat_timeout_ms, 5000);
	CHECK_EQ_STR(c->log_level, "warn");
	CHECK_EQ_STR(c->log_format, "text");
	CHECK(c->notifications_enabled);
	CHECK_EQ_INT(c->n_targets, 1);
	if (c->n_targets == 1) {
		CHECK_EQ_INT(c->targets[0].type, NOTIFY_MATTERMOST);
		CHECK_EQ_STR(c->targets[0].channel, "shop-oncall");
		CHECK_EQ_STR(c->targets[0].url, "https://chat.example.org/hooks/fixture-hook-id");
	}
	config_free(c);
}

/*
 * The original's README example itself, when the reference material is
 * beside the checkout ($FLIPPER_SHARED_DIR, default ../shared).
 */
TEST(original_example_values)
{
	const char *dir = getenv("FLIPPER_SHARED_DIR");
	char path[4096];
	snprintf(path, sizeof path, "%s/original-config.yaml", dir && *dir ? dir : "../shared");
	if (access(path, F_OK) < 0)
		SKIP("%s not found (the reference material beside the checkout)", path);
	struct config *c = load_file(path);
	CHECK(c != NULL);
	CHECK_EQ_INT(d.errors, 0);
	if (!c)
		return;
	const struct group_config *g = &c->groups[0];
	CHECK_EQ_STR(g->id, "some_group_id");
	CHECK_EQ_STR(g->project_id, "123456");
	CHECK_EQ_STR(g->server_selector, "environment=dev,role=loadbalancer,service=my-service");
	const struct check_config *k = &g->checks[0];
	CHECK_EQ_INT(k->type, CHECK_HTTPS);
	CHECK_EQ_INT(k->interval_ms, 2000);
	CHECK_EQ_INT(k->timeout_ms, 4000);
	CHECK_EQ_INT(k->fall, 3);
	CHECK_EQ_INT(k->rise, 2);
	CHECK_EQ_INT(k->port, 443);
	CHECK_EQ_STR(k->host, "example.com");
	CHECK(c->heartbeat_enabled);
	CHECK_EQ_INT(c->heartbeat_interval_ms, 60000);
	CHECK(c->notifications_enabled);
	CHECK_EQ_INT(c->n_targets, 1);
	CHECK_EQ_STR(c->targets[0].channel, "my_channel");
	config_free(c);
}

/* A file that is not there fails the test with a message; nothing aborts. */
TEST(missing_input_is_an_error_not_an_abort)
{
	struct node *root = (struct node *)1;
	diags_release(&d);
	diags_init(&d, "none.yaml");
	/* No text at all (a caller that could not read its file). */
	CHECK(yaml_read(NULL, 0, &root, &d) <= 0);
	node_free(root);
	root = NULL;
	CHECK(config_parse("none.yaml", NULL, 0, yaml_read, CONFIG_VALIDATE, &d) == NULL);
	CHECK(config_parse("none.json", NULL, 0, json_read, CONFIG_VALIDATE, &d) == NULL);
	CHECK(config_parse("none.toml", NULL, 0, toml_read, CONFIG_VALIDATE, &d) == NULL);
	diags_release(&d);
	diags_init(&d, "tests/fixtures/original/no-such-file.yaml");
	CHECK(config_load("tests/fixtures/original/no-such-file.yaml", CONFIG_VALIDATE, &d) == NULL);
	CHECK(has_diag(DIAG_ERROR, "no-such-file.yaml", "cannot read: No such file"));
}

/* "always" lists the inventory every pass (DURATION_ALWAYS); "0s" is the original's default, one minute. */
TEST(poll_interval_always)
{
	static const char *const forms[][3] = {
		/* the value as written, YAML or JSON, what --print shows */
		{ "always", "y", "always" },
		{ "\"always\"", "j", "always" },
		{ "0s", "y", "1m0s" },
		{ "\"0s\"", "j", "1m0s" },
		{ "90s", "y", "1m30s" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(forms); i++) {
		bool yaml = forms[i][1][0] == 'y';
		char *text = yaml ?
			xasprintf("version: 1\ngroups:\n  - id: w\n    display_name: W\n"
				  "    poll_interval: %s\n    hetzner:\n      api_token: t\n"
				  "      servers: {label_selector: a}\n"
				  "      floating_ips: {label_selector: b}\n", forms[i][0]) :
			xasprintf("{\"version\":1,\"groups\":[{\"id\":\"w\",\"display_name\":\"W\","
				  "\"poll_interval\":%s,\"hetzner\":{\"api_token\":\"t\","
				  "\"servers\":{\"label_selector\":\"a\"},"
				  "\"floating_ips\":{\"label_selector\":\"b\"}}}]}", forms[i][0]);
		struct config *c = load(text, yaml ? yaml_read : json_read);
		free(text);
		CHECK(c != NULL);
		if (!c)
			continue;
		bool always = str_eq(forms[i][2], "always");
		CHECK_EQ_INT(c->groups[0].poll_interval_ms,
			     always ? DURATION_ALWAYS : str_eq(forms[i][2], "1m0s") ? 60000 : 90000);
		struct buf out = BUF_INIT;
		config_print_json(c, &out);
		char *want = xasprintf("\"poll_interval\":\"%s\"", forms[i][2]);
		CHECK(strstr(out.data, want) != NULL);
		free(want);
		buf_release(&out);
		config_free(c);
	}
	/* Only the one word: anything else is still a duration, with its error. */
	CHECK(load("version: 1\ngroups:\n  - id: w\n    display_name: W\n"
		   "    poll_interval: Always\n    hetzner:\n      api_token: t\n"
		   "      servers: {label_selector: a}\n"
		   "      floating_ips: {label_selector: b}\n", yaml_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "groups[0].poll_interval", "invalid duration \"Always\""));
}

TEST(project_id_string_or_number)
{
	static const char js[] =
		"{\"version\":1,\"groups\":[{\"id\":\"a\",\"display_name\":\"A\",\"hetzner\":{"
		"\"api_token\":\"x\",\"project_id\":\"987\",\"servers\":{\"label_selector\":\"a=b\"},"
		"\"floating_ips\":{\"label_selector\":\"c\"}}}]}";
	struct config *c = load(js, json_read);
	CHECK(c && str_eq(c->groups[0].project_id, "987"));
	config_free(c);
	static const char js2[] =
		"{\"version\":1,\"groups\":[{\"id\":\"a\",\"display_name\":\"A\",\"hetzner\":{"
		"\"api_token\":\"x\",\"project_id\":987,\"servers\":{\"label_selector\":\"a=b\"},"
		"\"floating_ips\":{\"label_selector\":\"c\"}}}]}";
	c = load(js2, json_read);
	CHECK(c && str_eq(c->groups[0].project_id, "987"));
	config_free(c);
}

/* Weakly typed: a JSON number fills a string as its text; an object does not. */
TEST(json_numbers_are_strings_objects_are_not)
{
	static const char js[] =
		"{\"version\":1,\"groups\":[{\"id\":\"a\",\"display_name\":5.5,\"hetzner\":{"
		"\"api_token\":\"x\",\"servers\":{\"label_selector\":\"a=b\"},"
		"\"floating_ips\":{\"label_selector\":\"c\"}}}]}";
	struct config *c = load(js, json_read);
	CHECK(c && str_eq(c->groups[0].display_name, "5.5"));
	config_free(c);
	static const char obj[] =
		"{\"version\":1,\"groups\":[{\"id\":\"a\",\"display_name\":{},\"hetzner\":{"
		"\"api_token\":\"x\",\"servers\":{\"label_selector\":\"a=b\"},"
		"\"floating_ips\":{\"label_selector\":\"c\"}}}]}";
	CHECK(load(obj, json_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "groups[0].display_name", "expected a string, got a mapping"));
}

TEST(every_error_is_reported_with_position)
{
	static const char y[] =
		"version: 1\n"
		"groups:\n"
		"  - id: web\n"
		"    display_name: Web\n"
		"    poll_interval: 5\n"
		"    hetzner:\n"
		"      api_token: t\n"
		"      servers: {label_selector: a}\n"
		"      floating_ips: {label_selector: b}\n"
		"    checks:\n"
		"      - id: a\n"
		"        type: https\n"
		"      - id: b\n"
		"        type: http\n"
		"        timeout: 5\n"
		"        path: x\n";
	CHECK(load(y, yaml_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "t.yaml:5:20: groups[0].poll_interval: invalid duration \"5\"", "unit"));
	CHECK(has_diag(DIAG_ERROR, "groups[0].checks[0].host", "required for https"));
	CHECK(has_diag(DIAG_ERROR, "t.yaml:15:18: groups[0].checks[1].timeout", "unit"));
	CHECK(has_diag(DIAG_ERROR, "t.yaml:16:15: groups[0].checks[1].path", "must start with /"));
	CHECK_EQ_INT(d.errors, 4);
}

TEST(planner_keys)
{
	static const char y[] =
		"version: 1\n"
		"groups:\n"
		"  - id: web\n"
		"    display_name: Web\n"
		"    failback_delay: 2m30s\n"
		"    rebalance: true\n"
		"    when_none_healthy: spread\n"
		"    hetzner:\n"
		"      api_token: t\n"
		"      servers: {label_selector: a}\n"
		"      floating_ips: {label_selector: b}\n";
	struct config *c = load(y, yaml_read);
	CHECK(c != NULL);
	if (c) {
		const struct group_config *g = &c->groups[0];
		CHECK_EQ_INT(g->failback_delay_ms, 150000);
		CHECK(g->planner.rebalance);
		CHECK_EQ_INT(g->planner.when_none_healthy, PLAN_SPREAD);
		struct buf b = BUF_INIT;
		config_print_json(c, &b);
		CHECK(strstr(b.data, "\"failback_delay\":\"2m30s\",\"rebalance\":true,"
			     "\"when_none_healthy\":\"spread\"") != NULL);
		buf_release(&b);
		config_free(c);
	}

	static const char bad[] =
		"version: 1\n"
		"groups:\n"
		"  - id: web\n"
		"    display_name: Web\n"
		"    failback_delay: 30\n"
		"    rebalance: sometimes\n"
		"    when_none_healthy: fail-open\n"
		"    hetzner:\n"
		"      api_token: t\n"
		"      servers: {label_selector: a}\n"
		"      floating_ips: {label_selector: b}\n";
	CHECK(load(bad, yaml_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "t.yaml:5:21: groups[0].failback_delay: invalid duration \"30\"",
		       "unit"));
	CHECK(has_diag(DIAG_ERROR, "groups[0].rebalance", NULL));
	CHECK(has_diag(DIAG_ERROR, "t.yaml:7:24: groups[0].when_none_healthy",
		       "unknown value \"fail-open\" (want freeze, spread)"));
	CHECK_EQ_INT(d.errors, 3);
}

TEST(unknown_keys_and_duplicates_fail)
{
	static const char y[] =
		"version: 1\n"
		"colour: blue\n"
		"groups:\n"
		"  - id: web\n"
		"    id: web2\n"
		"    display_name: Web\n"
		"    hetzner:\n"
		"      api_token: t\n"
		"      servers: {label_selector: a}\n"
		"      floating_ips: {label_selector: b}\n";
	CHECK(load(y, yaml_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "t.yaml:2:1: colour", "unknown key"));
	CHECK(has_diag(DIAG_ERROR, "t.yaml:5:5: groups[0].id", "duplicate key (first at line 4)"));
	CHECK_EQ_INT(d.errors, 2);
}

TEST(environment_references)
{
	setenv("FLIPPER_TEST_TOKEN", "from-env", 1);
	unsetenv("FLIPPER_TEST_UNSET");
	static const char y[] =
		"version: 1\n"
		"groups:\n"
		"  - id: web\n"
		"    display_name: \"cost $5 ${FLIPPER_TEST_TOKEN}\"\n"
		"    hetzner:\n"
		"      api_token: ${FLIPPER_TEST_TOKEN}\n"
		"      servers: {label_selector: a}\n"
		"      floating_ips: {label_selector: \"${FLIPPER_TEST_UNSET}\"}\n";
	CHECK(load(y, yaml_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "groups[0].hetzner.floating_ips.label_selector",
		       "FLIPPER_TEST_UNSET is not set"));
	CHECK_EQ_INT(d.errors, 1);
	setenv("FLIPPER_TEST_UNSET", "x=y", 1);
	struct config *c = load(y, yaml_read);
	CHECK(c != NULL);
	if (c) {
		CHECK_EQ_STR(c->groups[0].api_token, "from-env");
		CHECK_EQ_STR(c->groups[0].display_name, "cost $5 from-env");
		CHECK_EQ_STR(c->groups[0].fip_selector, "x=y");
	}
	config_free(c);
	unsetenv("FLIPPER_TEST_UNSET");
}

TEST(token_fallback_and_conflicts)
{
	static const char y[] =
		"version: 1\n"
		"groups:\n"
		"  - id: web\n"
		"    display_name: Web\n"
		"    hetzner:\n"
		"      servers: {label_selector: a}\n"
		"      floating_ips: {label_selector: b}\n";
	unsetenv("HCLOUD_TOKEN");
	CHECK(load(y, yaml_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "api_token", "no API token"));
	setenv("HCLOUD_TOKEN", "envtok", 1);
	struct config *c = load(y, yaml_read);
	CHECK(c && str_eq(c->groups[0].api_token, "envtok") &&
	      str_eq(c->groups[0].token_source, "$HCLOUD_TOKEN"));
	config_free(c);
	unsetenv("HCLOUD_TOKEN");
}

TEST(expect_status_forms)
{
	struct status_range *r;
	size_t n;
	const char *err;
	CHECK(status_ranges_parse("200,204,301-302", &r, &n, &err) == 0);
	CHECK_EQ_INT(n, 3);
	if (n == 3) {
		CHECK_EQ_INT(r[2].lo, 301);
		CHECK_EQ_INT(r[2].hi, 302);
	}
	free(r);
	CHECK(status_ranges_parse("", &r, &n, &err) < 0);
	CHECK(status_ranges_parse("200-", &r, &n, &err) < 0);
	CHECK(status_ranges_parse("300-200", &r, &n, &err) < 0);
	CHECK(status_ranges_parse("99", &r, &n, &err) < 0);
	CHECK(status_ranges_parse("200;300", &r, &n, &err) < 0);

	static const char y[] =
		"version: 1\n"
		"groups:\n"
		"  - id: web\n"
		"    display_name: Web\n"
		"    hetzner:\n"
		"      api_token: t\n"
		"      servers: {label_selector: a}\n"
		"      floating_ips: {label_selector: b}\n"
		"    checks:\n"
		"      - {id: a, type: http, expect_status: [200, \"301-302\"]}\n"
		"      - {id: b, type: http, expect_status: 204}\n";
	struct config *c = load(y, yaml_read);
	CHECK(c != NULL);
	if (c) {
		CHECK(check_expects(&c->groups[0].checks[0], 301));
		CHECK(!check_expects(&c->groups[0].checks[0], 204));
		CHECK(check_expects(&c->groups[0].checks[1], 204));
		CHECK(!check_expects(&c->groups[0].checks[1], 200));
	}
	config_free(c);
}

TEST(invalid_yaml_and_json_syntax)
{
	CHECK(load("version: 1\ngroups: [\n", yaml_read) == NULL);
	CHECK(d.errors == 1 && d.list[0].line > 0);
	CHECK(load("{\"version\": 1,}", json_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "t.yaml:1:15: invalid JSON: unexpected '}'", NULL));
	CHECK_EQ_INT(d.n, 1);
	CHECK(load("- a\n- b\n", yaml_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "mapping at the top level", NULL));
}

/*
 * JSON configurations are read by the JSON reader itself: YAML's limits
 * (a simple key of at most 1,024 characters) do not apply, and a string
 * holding "\u0000" is refused as in the other formats.
 */
TEST(json_config_edge_cases)
{
	struct buf js = BUF_INIT;
	buf_addstr(&js, "{\"version\": 1, \"");
	for (int i = 0; i < 1100; i++)
		buf_addch(&js, 'k');
	buf_addstr(&js, "\": true, \"groups\": [{\"id\": \"a\", \"display_name\": \"A\", "
		   "\"hetzner\": {\"api_token\": \"x\", \"servers\": {\"label_selector\": \"a\"}, "
		   "\"floating_ips\": {\"label_selector\": \"b\"}}}]}");
	struct config *c = load(js.data, json_read);
	CHECK(c == NULL);
	CHECK(has_diag(DIAG_ERROR, "t.yaml:1:16: kkkkkkkk", "unknown key"));
	config_free(c);
	buf_release(&js);

	static const char nul[] =
		"{\"version\":1,\"groups\":[{\"id\":\"a\",\"display_name\":\"A\\u0000B\",\"hetzner\":{"
		"\"api_token\":\"x\",\"servers\":{\"label_selector\":\"a=b\"},"
		"\"floating_ips\":{\"label_selector\":\"c\"}}}]}";
	CHECK(load(nul, json_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "groups[0].display_name", "string contains a NUL character"));

	/* Surrogate pairs are characters, in keys and values. */
	static const char emoji[] =
		"{\"version\":1,\"groups\":[{\"id\":\"a\",\"display_name\":\"\\ud83d\\ude00\","
		"\"hetzner\":{\"api_token\":\"x\",\"servers\":{\"label_selector\":\"a=b\"},"
		"\"floating_ips\":{\"label_selector\":\"c\"}}}]}";
	c = load(emoji, json_read);
	CHECK(c && str_eq(c->groups[0].display_name, "\xf0\x9f\x98\x80"));
	config_free(c);
}

/* ---- the key table --------------------------------------------------------- */

static void check_section_rows(const struct key_section *s, size_t depth, int *bad)
{
	/* Hints look one level up: the walk's stack must hold the deepest section. */
	if (depth > CFG_MAX_DEPTH) {
		(*bad)++;
		fprintf(stderr, "section %s: deeper than CFG_MAX_DEPTH\n", s->path);
	}
	for (size_t i = 0; i < s->n_rows; i++) {
		const struct key_row *r = &s->rows[i];
#define ROW_CHECK(cond) do { if (!(cond)) { (*bad)++; \
		fprintf(stderr, "row %s.%s: %s\n", s->path, r->name, #cond); } } while (0)
		ROW_CHECK(r->name && *r->name);
		ROW_CHECK(r->help && *r->help);
		ROW_CHECK(!r->required || (!r->def_str && !r->def_num));
		ROW_CHECK(r->type != KEY_ENUM || (r->names && r->def_num >= 0));
		if (r->type == KEY_ENUM) {
			int64_t n = 0;
			while (r->names[n])
				n++;
			ROW_CHECK(r->def_num < n);
		}
		if (r->type == KEY_INT && !(r->flags & KF_NULL_IF_ZERO) && !r->doc_default &&
		    !r->required && r->field != KEY_NO_FIELD)
			ROW_CHECK(r->def_num >= r->min && r->def_num <= r->max);
		ROW_CHECK((r->type == KEY_SECTION || r->type == KEY_LIST) == (r->section != NULL));
		if (r->type == KEY_LIST)
			ROW_CHECK(r->section->size > 0 && r->count_field != r->field);
		if (r->type == KEY_MAP)
			ROW_CHECK(r->count_field != r->field);
		/* One row per spelling in a section. */
		for (size_t k = 0; k < i; k++)
			ROW_CHECK(strcmp(s->rows[k].name, r->name) != 0);
#undef ROW_CHECK
		if (r->section)
			check_section_rows(r->section, depth + 1, bad);
	}
	if (s->unique) {
		bool found = false;
		for (size_t i = 0; i < s->n_rows; i++)
			found |= strcmp(s->rows[i].name, s->unique) == 0 &&
				 s->rows[i].type == KEY_STRING;
		if (!found) {
			(*bad)++;
			fprintf(stderr, "section %s: unique key %s is no string row\n", s->path, s->unique);
		}
	}
}

/* A mistaken row is caught here, not by a user. */
TEST(key_table_is_consistent)
{
	int bad = 0;
	check_section_rows(&config_root, 1, &bad);
	CHECK_EQ_INT(bad, 0);
}

TEST(key_list)
{
	struct buf b = BUF_INIT;
	config_keys_list(&b);
	size_t lines = 0;
	for (char *line = b.data, *next; *line; line = next) {
		next = strchr(line, '\n');
		CHECK(next != NULL);
		if (!next)
			break;
		*next++ = '\0';
		size_t tabs = 0;
		for (char *p = line; *p; p++)
			tabs += *p == '\t';
		if (tabs != 4)
			TEST_FAIL_("not five fields: %s", line);
		lines++;
	}
	CHECK(lines > 60);
	buf_release(&b);
	config_keys_list(&b);
	CHECK(strstr(b.data, "\ngroups[].checks[].port\tinteger 1..65535\t80 for http, 443 for https\t"
		      "original\t") != NULL);
	CHECK(strstr(b.data, "\ngroups[].hetzner.api_token\tstring\t$HCLOUD_TOKEN\toriginal,secret\t"));
	CHECK(strstr(b.data, "\ntelemetry.logging.level\tdebug|info|warn|error\tinfo\toriginal\t"));
	CHECK(strstr(b.data, "\ngroups[].poll_interval\tduration >= 0s or always\t1m0s\toriginal\t"));
	/* The endpoint of monitor uses these; only the web UI's keys are unused. */
	CHECK(strstr(b.data, "\nserver.port\tinteger 0..65535\t9521\toriginal\t"));
	CHECK(strstr(b.data, "\nserver.host\tstring\tlocalhost\toriginal\t"));
	CHECK(strstr(b.data, "\nserver.assets\tstring\t-\toriginal,unused\t"));
	CHECK(strstr(b.data, "\nnotifications.targets[].icon_emoji\tstring\t:dolphin: unless "
		     "icon_url is set\toriginal\t"));
	CHECK(strstr(b.data, "\ngroups[].hetzner.allow_insecure_endpoint\tboolean\tfalse\t-\t"));
	CHECK(strstr(b.data, "\ngroups\tlist of sections\t(required)\toriginal\t"));
	CHECK(strstr(b.data, "\ngroups[].max_actions_per_round\tinteger 1..1000000\t-\t-\t"));
	CHECK(strstr(b.data, "token_source") == NULL);     /* printed, not a key */
	CHECK(str_has_prefix(b.data, "version\tinteger\t(required)\toriginal\t"));
	buf_release(&b);
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

/* Every section refuses keys it does not know, under the right path, with a hint. */
TEST(unknown_keys_in_every_section)
{
	static const char y[] =
		"version: 1\n"
		"service: {name: x, nmae: y}\n"
		"state: {pth: z}\n"
		"server: {prot: 1}\n"
		"telemetry: {logging: {levle: info}, metrics: {txtfile: a}, tracing: {anything: [1]}}\n"
		"heartbeat: {urll: x}\n"
		"notifications: {targets: [{type: slack, url: 'https://h/x', chanel: c}]}\n"
		"groups:\n"
		"  - id: web\n"
		"    display_name: Web\n"
		"    readonyl: true\n"
		"    hetzner:\n"
		"      api_token: t\n"
		"      token_source: api_token\n"
		"      servers: {label_selector: a, lable: b}\n"
		"      floating_ips: {label_selector: b}\n"
		"    checks:\n"
		"      - {id: h, type: http, hedaers: {}, headers: {X-A: b}}\n";
	CHECK(load(y, yaml_read) == NULL);
	static const char *const want[][2] = {
		{ "t.yaml:2:20: service.nmae", "unknown key; did you mean `name`?" },
		{ "t.yaml:3:9: state.pth", "unknown key; did you mean `path`?" },
		{ "t.yaml:4:10: server.prot", "unknown key; did you mean `port`?" },
		{ "t.yaml:5:23: telemetry.logging.levle", "unknown key; did you mean `level`?" },
		{ "telemetry.metrics.txtfile", "unknown key; did you mean `textfile`?" },
		{ "t.yaml:6:13: heartbeat.urll", "unknown key; did you mean `url`?" },
		{ "notifications.targets[0].chanel", "unknown key; did you mean `channel`?" },
		{ "t.yaml:11:5: groups[0].readonyl", "unknown key; did you mean `readonly`?" },
		/* printed by --print, but not a key one may write */
		{ "groups[0].hetzner.token_source", "unknown key" },
		{ "groups[0].hetzner.servers.lable", "unknown key" },
		{ "groups[0].checks[0].hedaers", "unknown key; did you mean `headers`?" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(want); i++)
		if (!has_diag(DIAG_ERROR, want[i][0], want[i][1]))
			TEST_FAIL_("no unknown-key error for %s", want[i][0]);
	CHECK(!has_diag(DIAG_ERROR, "tracing", NULL));   /* accepted whatever it holds */
	CHECK_EQ_INT(d.errors, ARRAY_SIZE(want));
}

TEST(cross_key_rules)
{
	struct buf y = BUF_INIT;
	/* Heartbeat: enabled wants url, interval and timeout. */
	buf_addstr(&y, hdr);
	buf_addstr(&y, "heartbeat: {enabled: true, url: ftp://x}\n"
		   "notifications: {enabled: true}\n");
	CHECK(load(y.data, yaml_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "t.yaml:9:12: heartbeat.interval", "required when the heartbeat"));
	CHECK(has_diag(DIAG_ERROR, "heartbeat.timeout", "required when the heartbeat is enabled"));
	CHECK(has_diag(DIAG_ERROR, "t.yaml:9:33: heartbeat.url", "http:// or https://"));
	CHECK(has_diag(DIAG_WARNING, "notifications", "enabled but no targets"));
	CHECK_EQ_INT(d.errors, 3);

	/* Ids unique; an https check needs a host; ca_file only for https. */
	buf_reset(&y);
	buf_addstr(&y, hdr);
	buf_addstr(&y, "    checks:\n"
		   "      - {id: a, type: https}\n"
		   "      - {id: b, type: http, ca_file: /dev/null}\n"
		   "  - id: web\n"
		   "    display_name: Again\n"
		   "    hetzner: {api_token: t, servers: {label_selector: a}, "
		   "floating_ips: {label_selector: b}}\n");
	CHECK(load(y.data, yaml_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "t.yaml:10:9: groups[0].checks[0].host", "required for https"));
	CHECK(has_diag(DIAG_WARNING, "t.yaml:11:38: groups[0].checks[1].ca_file",
		       "only used by https checks"));
	CHECK(has_diag(DIAG_ERROR, "t.yaml:12:9: groups[1].id", "duplicate group id \"web\""));
	CHECK(has_diag(DIAG_WARNING, "groups[1]", "group has no checks"));
	CHECK_EQ_INT(d.errors, 2);

	/* Defaults a rule sets: the port by type, the display name by id. */
	buf_reset(&y);
	buf_addstr(&y, hdr);
	buf_addstr(&y, "    checks:\n"
		   "      - {id: a, type: https, host: example.com}\n"
		   "      - {id: b, type: http, display_name: B, port: 8080}\n");
	struct config *c = load(y.data, yaml_read);
	CHECK(c != NULL);
	if (c) {
		CHECK_EQ_INT(c->groups[0].checks[0].port, 443);
		CHECK_EQ_STR(c->groups[0].checks[0].display_name, "a");
		CHECK_EQ_INT(c->groups[0].checks[1].port, 8080);
		CHECK_EQ_STR(c->groups[0].checks[1].display_name, "B");
	}
	config_free(c);

	/* Required keys name their place, also inside an absent section. */
	c = load("version: 1\ngroups:\n  - id: web\n    hetzner: {api_token: t}\n", yaml_read);
	CHECK(c == NULL);
	CHECK(has_diag(DIAG_ERROR, "t.yaml:3:5: groups[0].display_name", "required"));
	CHECK(has_diag(DIAG_ERROR, "t.yaml:4:14: groups[0].hetzner.servers.label_selector",
		       "required"));
	CHECK(has_diag(DIAG_ERROR, "groups[0].hetzner.floating_ips.label_selector", "required"));
	CHECK_EQ_INT(d.errors, 3);
	c = load("groups: []\n", yaml_read);
	CHECK(has_diag(DIAG_ERROR, "t.yaml:1:1: version", "required (version: 1)"));
	CHECK(has_diag(DIAG_ERROR, "t.yaml:1:9: groups", "at least one group is required"));
	/* An empty mapping is an empty list (mapstructure's rule). */
	c = load("version: 2\ngroups: {}\n", yaml_read);
	CHECK(has_diag(DIAG_ERROR, "t.yaml:1:10: version", "unsupported version 2"));
	CHECK(has_diag(DIAG_ERROR, "t.yaml:2:9: groups", "at least one group is required"));
	c = load("version: 1\ngroups: five\n", yaml_read);
	CHECK(has_diag(DIAG_ERROR, "t.yaml:2:9: groups", "expected a list, got a string"));
	buf_release(&y);
}

TEST(endpoint_and_values)
{
	struct buf y = BUF_INIT;
	buf_addstr(&y, hdr);
	buf_addstr(&y, "    provider: aws\n"
		   "    max_actions_per_round: 0\n"
		   "    checks:\n"
		   "      - {id: a, type: http, method: get, host: 'h:80', headers: "
		   "{Host: x, 'a b': c, X-N: \"1\\n2\"}}\n"
		   "telemetry: {logging: {level: loud}}\n");
	CHECK(load(y.data, yaml_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "t.yaml:9:15: groups[0].provider", "unknown value \"aws\" (want hetzner)"));
	CHECK(has_diag(DIAG_ERROR, "groups[0].max_actions_per_round", "between 1 and 1000000 (got 0)"));
	CHECK(has_diag(DIAG_ERROR, "groups[0].checks[0].method", "invalid HTTP method \"get\""));
	CHECK(has_diag(DIAG_ERROR, "groups[0].checks[0].host", "bare host name"));
	CHECK(has_diag(DIAG_ERROR, "groups[0].checks[0].headers.Host", "with the check's host key"));
	CHECK(has_diag(DIAG_ERROR, "groups[0].checks[0].headers.a b", "invalid header name"));
	CHECK(has_diag(DIAG_ERROR, "groups[0].checks[0].headers.X-N", "control characters"));
	CHECK(has_diag(DIAG_ERROR, "telemetry.logging.level", "(want debug, info, warn, error)"));
	CHECK_EQ_INT(d.errors, 8);

	/*
	 * The endpoint: trailing slashes go; the file's value outranks
	 * $HCLOUD_ENDPOINT, which outranks the default (SPEC section 9).
	 */
	buf_reset(&y);
	buf_addstr(&y, hdr);
	y.len -= strlen("      floating_ips: {label_selector: b}\n");
	buf_truncate(&y, y.len);
	buf_addstr(&y, "      floating_ips: {label_selector: b}\n      endpoint: http://127.0.0.1:1/v1//\n");
	unsetenv("HCLOUD_ENDPOINT");
	struct config *c = load(y.data, yaml_read);
	CHECK(c && str_eq(c->groups[0].endpoint, "http://127.0.0.1:1/v1"));
	config_free(c);
	setenv("HCLOUD_ENDPOINT", "https://env.example/v1", 1);
	c = load(y.data, yaml_read);
	CHECK(c && str_eq(c->groups[0].endpoint, "http://127.0.0.1:1/v1"));
	config_free(c);
	c = load(hdr, yaml_read);
	CHECK(c && str_eq(c->groups[0].endpoint, "https://env.example/v1"));
	config_free(c);
	unsetenv("HCLOUD_ENDPOINT");
	buf_release(&y);
}

TEST(reader_by_extension)
{
	CHECK(config_reader_for("a.yaml") == yaml_read);
	CHECK(config_reader_for("a.yml") == yaml_read);
	CHECK(config_reader_for("a.json") == json_read);
	CHECK(config_reader_for("a.toml") == toml_read);
	CHECK(config_reader_for("a.ini") == NULL);
}

/* follow_redirects and the expiry watch: defaults, bounds, https only. */
TEST(redirect_and_expiry_keys)
{
	struct config *c = load(minimal, yaml_read);
	CHECK(c != NULL);
	if (c) {
		const struct check_config *k = &c->groups[0].checks[0];
		CHECK_EQ_INT(k->follow_redirects, 0);
		CHECK_EQ_INT(k->tls_expiry_warning_ms, 336LL * 3600 * 1000);
		CHECK_EQ_INT(k->tls_expiry_error_ms, 168LL * 3600 * 1000);
	}
	config_free(c);

	struct buf y = BUF_INIT;
	buf_addstr(&y, hdr);
	buf_addstr(&y, "    checks:\n"
		   "      - {id: a, type: https, host: x.test, follow_redirects: 10, "
		   "tls_expiry_warning: 720h, tls_expiry_error: 0s}\n"
		   "      - {id: b, type: http, tls_expiry_error: 1h}\n");
	c = load(y.data, yaml_read);
	CHECK(c != NULL);
	if (c) {
		const struct check_config *k = &c->groups[0].checks[0];
		CHECK_EQ_INT(k->follow_redirects, 10);
		CHECK_EQ_INT(k->tls_expiry_warning_ms, 720LL * 3600 * 1000);
		CHECK_EQ_INT(k->tls_expiry_error_ms, 0);
	}
	CHECK(has_diag(DIAG_WARNING, "t.yaml:11:47: groups[0].checks[1].tls_expiry_error",
		       "only used by https checks"));
	config_free(c);

	buf_reset(&y);
	buf_addstr(&y, hdr);
	buf_addstr(&y, "    checks:\n"
		   "      - {id: a, type: http, follow_redirects: 51}\n"
		   "      - {id: b, type: http, follow_redirects: -1}\n"
		   "      - {id: c, type: https, host: x.test, tls_expiry_warning: -1h}\n"
		   "      - {id: d, type: https, host: x.test, tls_expiry_error: 7}\n");
	CHECK(load(y.data, yaml_read) == NULL);
	CHECK(has_diag(DIAG_ERROR, "groups[0].checks[0].follow_redirects",
		       "must be between 0 and 50 (got 51)"));
	CHECK(has_diag(DIAG_ERROR, "groups[0].checks[1].follow_redirects",
		       "must be between 0 and 50 (got -1)"));
	CHECK(has_diag(DIAG_ERROR, "groups[0].checks[2].tls_expiry_warning", "must be at least 0s"));
	CHECK(has_diag(DIAG_ERROR, "groups[0].checks[3].tls_expiry_error", "needs a unit"));
	CHECK_EQ_INT(d.errors, 4);
	buf_release(&y);
}

int main(void)
{
	diags_init(&d, "t.yaml");
	RUN(defaults);
	RUN(readme_shape_values);
	RUN(original_example_values);
	RUN(missing_input_is_an_error_not_an_abort);
	RUN(poll_interval_always);
	RUN(project_id_string_or_number);
	RUN(json_numbers_are_strings_objects_are_not);
	RUN(every_error_is_reported_with_position);
	RUN(planner_keys);
	RUN(unknown_keys_and_duplicates_fail);
	RUN(environment_references);
	RUN(token_fallback_and_conflicts);
	RUN(expect_status_forms);
	RUN(invalid_yaml_and_json_syntax);
	RUN(json_config_edge_cases);
	RUN(key_table_is_consistent);
	RUN(key_list);
	RUN(unknown_keys_in_every_section);
	RUN(cross_key_rules);
	RUN(endpoint_and_values);
	RUN(reader_by_extension);
	RUN(redirect_and_expiry_keys);
	diags_release(&d);
	return test_report();
}
