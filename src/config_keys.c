/*
 * config_keys.c — every configuration key, one row each (see
 * config_keys.h), and the rules that tie keys of a section together.
 *
 * Sections are listed from the leaves up, each after the rules it runs;
 * the order of rows is the order of `validate --print` and of the key
 * list, so it follows the man page.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_keys.h"
#include "log.h"

#define DEFAULT_ENDPOINT "https://api.hetzner.cloud/v1"

const char *const check_type_names[] = { "http", "https", NULL };
const char *const ip_version_names[] = { "both", "ipv4", "ipv6", NULL };
const char *const notify_type_names[] = { "mattermost", "slack", NULL };
static const char *const provider_names[] = { "hetzner", NULL };

#define ROWS(a) .rows = (a), .n_rows = ARRAY_SIZE(a)

static bool http_url(const char *s)
{
	return str_has_prefix(s, "https://") || str_has_prefix(s, "http://");
}

static const char *string_value(const void *field)
{
	return *(char *const *)field;
}

/* ---- groups[].checks[] ------------------------------------------------------ */

static void check_method(struct cfg_walk *w, const struct node *at, const void *field)
{
	const char *m = string_value(field);
	bool ok = *m != '\0';
	for (const char *p = m; *p; p++)
		if (!isupper((unsigned char)*p))
			ok = false;
	if (!ok)
		cfg_error(w, NULL, at, "invalid HTTP method \"%s\" (upper-case, e.g. GET or HEAD)", m);
}

/* A control character (C0 or DEL), other than those in allowed. */
static bool has_control(const char *s, const char *allowed)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p < 0x20 || *p == 0x7f) && !strchr(allowed, *p))
			return true;
	return false;
}

static void check_host(struct cfg_walk *w, const struct node *at, const void *field)
{
	const char *h = string_value(field);
	if (has_control(h, ""))
		cfg_error(w, NULL, at, "must not contain control characters");
	else if (strpbrk(h, "/:@ "))
		cfg_error(w, NULL, at, "must be a bare host name (no scheme, port or path)");
}

static void check_path(struct cfg_walk *w, const struct node *at, const void *field)
{
	const char *p = string_value(field);
	if (has_control(p, ""))
		cfg_error(w, NULL, at, "must not contain control characters");
	else if (p[0] != '/')
		cfg_error(w, NULL, at, "must start with / (got \"%s\")", p);
	else if (strchr(p, ' '))
		cfg_error(w, NULL, at, "must not contain whitespace");
}

/* RFC 9110 token characters. */
static bool header_token(const char *s)
{
	if (!*s)
		return false;
	for (const char *p = s; *p; p++)
		if (!(isalnum((unsigned char)*p) || strchr("!#$%&'*+-.^_`|~", *p)))
			return false;
	return true;
}

static void check_header(struct cfg_walk *w, const struct node *at, const void *field)
{
	const struct header *h = field;
	if (!header_token(h->name) || (at->key_len && at->key_len != strlen(at->key)))
		cfg_error(w, NULL, at, "invalid header name");
	else if (has_control(h->value, "\t"))
		cfg_error(w, NULL, at, "header value must not contain control characters");
	else if (!strcasecmp(h->name, "Host"))
		cfg_error(w, NULL, at, "set the Host header with the check's host key");
}

static const struct key_section check_section;

static void check_finish(struct cfg_walk *w, const struct node *map, const struct node *where,
			 void *obj)
{
	struct check_config *c = obj;
	(void)where;
	if (!c->display_name && c->id)
		c->display_name = xstrdup(c->id);
	if (c->type == CHECK_HTTPS && !c->host)
		cfg_error(w, "host", map, "required for https checks (sent as Host header and TLS SNI)");
	if (!c->port)
		c->port = c->type == CHECK_HTTPS ? 443 : 80;
	/* fastinter: absent or 0 means the interval. */
	if (c->fast_interval_ms <= 0)
		c->fast_interval_ms = c->interval_ms;
	if (c->type != CHECK_HTTPS) {
		static const char *const tls_only[] = { "tls_expiry_warning", "tls_expiry_error" };
		for (size_t i = 0; i < ARRAY_SIZE(tls_only); i++)
			if (cfg_has(&check_section, map, tls_only[i]))
				cfg_warning(w, tls_only[i], cfg_get(&check_section, map, tls_only[i]),
					    "only used by https checks");
	}
	if (c->ca_file) {
		const struct node *at = cfg_get(&check_section, map, "ca_file");
		if (access(c->ca_file, R_OK) < 0)
			cfg_error(w, "ca_file", at, "cannot read \"%s\": %s", c->ca_file, strerror(errno));
		else if (c->type != CHECK_HTTPS)
			cfg_warning(w, "ca_file", at, "only used by https checks");
	}
}

#define CHECK_FIELD(f) .field = offsetof(struct check_config, f)

static const struct key_row check_rows[] = {
	{ .name = "id", .type = KEY_STRING, .flags = KF_ORIGINAL | KF_NONEMPTY, CHECK_FIELD(id),
	  .required = "required", .help = "names the check; unique within the group" },
	{ .name = "display_name", .type = KEY_STRING, .flags = KF_ORIGINAL,
	  CHECK_FIELD(display_name), .doc_default = "the id", .help = "shown in notifications" },
	{ .name = "type", .type = KEY_ENUM, .flags = KF_ORIGINAL, CHECK_FIELD(type),
	  .names = check_type_names, .required = "required (http or https)",
	  .help = "the protocol; https verifies the certificate against host" },
	{ .name = "interval", .type = KEY_DURATION, .flags = KF_ORIGINAL | KF_ZERO_DEFAULT,
	  CHECK_FIELD(interval_ms), .def_num = 60000, .min = 1,
	  .help = "how often each target runs" },
	{ .name = "fast_interval", .type = KEY_DURATION, CHECK_FIELD(fast_interval_ms),
	  .doc_default = "the interval",
	  .help = "the interval while a target is in transition (HAProxy's fastinter)" },
	{ .name = "timeout", .type = KEY_DURATION, .flags = KF_ORIGINAL | KF_ZERO_DEFAULT,
	  CHECK_FIELD(timeout_ms), .def_num = 10000, .min = 1,
	  .help = "bounds the whole request" },
	{ .name = "fall", .type = KEY_INT, .flags = KF_ORIGINAL | KF_ZERO_DEFAULT, CHECK_FIELD(fall),
	  .def_num = 1, .min = 1, .max = 1000000,
	  .help = "consecutive failures after which a target is unhealthy" },
	{ .name = "rise", .type = KEY_INT, .flags = KF_ORIGINAL | KF_ZERO_DEFAULT, CHECK_FIELD(rise),
	  .def_num = 1, .min = 1, .max = 1000000,
	  .help = "consecutive successes after which a target is healthy" },
	{ .name = "method", .type = KEY_STRING, .flags = KF_ORIGINAL, CHECK_FIELD(method),
	  .def_str = "GET", .check = check_method, .help = "the HTTP method, upper-case" },
	{ .name = "host", .type = KEY_STRING, .flags = KF_ORIGINAL | KF_EMPTY_UNSET,
	  CHECK_FIELD(host), .check = check_host,
	  .help = "Host header and TLS SNI, a bare name; required for https" },
	{ .name = "port", .type = KEY_INT, .flags = KF_ORIGINAL | KF_ZERO_DEFAULT, CHECK_FIELD(port),
	  .min = 1, .max = 65535, .doc_default = "80 for http, 443 for https",
	  .help = "the port on the server's address" },
	{ .name = "path", .type = KEY_STRING, .flags = KF_ORIGINAL, CHECK_FIELD(path),
	  .def_str = "/", .check = check_path, .help = "starts with /, no white space" },
	{ .name = "ip_version", .type = KEY_ENUM, .flags = KF_ORIGINAL, CHECK_FIELD(ip_version),
	  .names = ip_version_names, .help = "the address families checked" },
	{ .name = "expect_status", .type = KEY_STATUSES, CHECK_FIELD(expect),
	  .doc_default = "200-299",
	  .help = "statuses that count as success: \"200,204,301-302\", a number or a list" },
	{ .name = "ca_file", .type = KEY_STRING, CHECK_FIELD(ca_file),
	  .help = "an extra CA bundle for https checks" },
	{ .name = "headers", .type = KEY_MAP, CHECK_FIELD(headers),
	  .count_field = offsetof(struct check_config, n_headers), .check = check_header,
	  .help = "extra request headers, name to value" },
	{ .name = "follow_redirects", .type = KEY_INT, CHECK_FIELD(follow_redirects),
	  .min = 0, .max = 50,
	  .help = "redirects followed, every hop dialled at the server's address; "
		  "0: a redirect is judged by expect_status" },
	{ .name = "tls_expiry_warning", .type = KEY_DURATION, CHECK_FIELD(tls_expiry_warning_ms),
	  .def_num = 336LL * 3600 * 1000,
	  .help = "https: notify when the server certificate expires within this; 0s: never" },
	{ .name = "tls_expiry_error", .type = KEY_DURATION, CHECK_FIELD(tls_expiry_error_ms),
	  .def_num = 168LL * 3600 * 1000,
	  .help = "https: the notification says error within this; 0s: never" },
};

static const struct key_section check_section = {
	.path = "groups[].checks[]", ROWS(check_rows), .size = sizeof(struct check_config),
	.unique = "id", .unique_what = "check id", .unique_scope = " in this group",
	.finish = check_finish,
};

/* ---- groups[].hetzner --------------------------------------------------------- */

static void check_project_id(struct cfg_walk *w, const struct node *at, const void *field)
{
	for (const char *p = string_value(field); *p; p++) {
		if (!isdigit((unsigned char)*p)) {
			cfg_warning(w, NULL, at, "expected a numeric project id; console links may not work");
			return;
		}
	}
}

/*
 * A token file holds the token alone (trailing white space, such as an
 * editor's final newline, is dropped). On TOKEN_OK *token is the token;
 * otherwise *why says what is wrong in the words an operator acts on.
 */
enum token_file { TOKEN_OK, TOKEN_MISSING, TOKEN_EMPTY, TOKEN_BAD };

static enum token_file read_token_file(const char *path, char **token, char **why)
{
	char *data = NULL;
	size_t len = 0;
	*token = *why = NULL;
	if (read_file(path, 64 * 1024, &data, &len) < 0) {
		if (errno == ENOENT) {
			*why = xasprintf("token file \"%s\" is missing", path);
			return TOKEN_MISSING;
		}
		*why = xasprintf("token file \"%s\" cannot be read: %s", path, strerror(errno));
		return TOKEN_BAD;
	}
	while (len && isspace((unsigned char)data[len - 1]))
		data[--len] = '\0';
	enum token_file r = TOKEN_OK;
	if (!len) {
		*why = xasprintf("token file \"%s\" is empty", path);
		r = TOKEN_EMPTY;
	} else if (strlen(data) != len || strpbrk(data, "\r\n")) {
		*why = xasprintf("token file \"%s\" holds more than one line; "
				 "put the token alone in it", path);
		r = TOKEN_BAD;
	}
	if (r != TOKEN_OK) {
		explicit_bzero(data, len);
		free(data);
		return r;
	}
	*token = data;
	return TOKEN_OK;
}

#define CREDENTIAL_NAME "hcloud-token"

int config_token_reread(const struct group_config *g, char **token, char **why)
{
	const char *path = NULL;
	char *cred = NULL;
	*token = *why = NULL;
	if (str_eq(g->token_source, "api_token_file")) {
		path = g->api_token_file;
	} else if (str_eq(g->token_source, "$CREDENTIALS_DIRECTORY/" CREDENTIAL_NAME)) {
		const char *dir = getenv("CREDENTIALS_DIRECTORY");
		if (!dir || !*dir) {
			*why = xstrdup("$CREDENTIALS_DIRECTORY is no longer set");
			return -1;
		}
		path = cred = xasprintf("%s/" CREDENTIAL_NAME, dir);
	} else {
		return 0;
	}
	enum token_file r = read_token_file(path, token, why);
	free(cred);
	if (r == TOKEN_OK && strpbrk(*token, " \t")) {
		explicit_bzero(*token, strlen(*token));
		free(*token);
		*token = NULL;
		*why = xasprintf("the token in \"%s\" contains whitespace", path);
		return -1;
	}
	return r == TOKEN_OK ? 1 : -1;
}

static void warn_secret_file_mode(struct cfg_walk *w, const char *key, const struct node *at,
				  const char *path)
{
	struct stat st;
	if (stat(path, &st) == 0 && (st.st_mode & 077))
		cfg_warning(w, key, at, "token file \"%s\" is readable by group or others "
			    "(mode %04o); chmod 600 it", path, (unsigned)(st.st_mode & 07777));
}

static const struct key_section hetzner_section;

/*
 * The group's token, from the first source that has one (SPEC section 9's
 * precedence, with the systemd credential between the file and the
 * environment):
 *   1. api_token, or api_token_file (one of them, never both);
 *   2. $CREDENTIALS_DIRECTORY/hcloud-token, what LoadCredential= hands a
 *      unit; it outranks $HCLOUD_TOKEN, which a shell may carry for
 *      another project, because the service manager gave it to this one.
 *      An empty credential counts as absent: the shipped units default it
 *      to a blank line (SetCredential=) so that a machine using
 *      $HCLOUD_TOKEN still starts;
 *   3. $HCLOUD_TOKEN.
 */
static void hetzner_finish(struct cfg_walk *w, const struct node *map, const struct node *where,
			   void *obj)
{
	struct group_config *g = obj;
	const struct node *tok = cfg_get(&hetzner_section, map, "api_token");
	const struct node *file = cfg_get(&hetzner_section, map, "api_token_file");
	(void)where;

	if (g->api_token && !*g->api_token) {
		/* The original required a token; "" is a mistake, not "absent". */
		cfg_error(w, "api_token", tok, "is empty%s; remove the key to use api_token_file, "
			  "the systemd credential or $HCLOUD_TOKEN",
			  tok->text && strstr(tok->text, "${") ?
			  " (the environment variable it references is set but empty)" : "");
	} else if (g->api_token && g->api_token_file) {
		cfg_error(w, "api_token_file", file, "set api_token or api_token_file, not both");
	} else if (g->api_token) {
		g->token_source = xstrdup("api_token");
		/* A token written in the file (not a ${VAR} reference) is a secret at rest. */
		if (tok && tok->text && !strstr(tok->text, "${"))
			w->literal_token = true;
	} else if (g->api_token_file) {
		char *why = NULL;
		if (read_token_file(g->api_token_file, &g->api_token, &why) == TOKEN_OK) {
			g->token_source = xstrdup("api_token_file");
			warn_secret_file_mode(w, "api_token_file", file, g->api_token_file);
		} else {
			cfg_error(w, "api_token_file", file, "%s", why);
		}
		free(why);
	} else if (!tok || tok->type == NODE_NULL) {
		const char *dir = getenv("CREDENTIALS_DIRECTORY");
		const char *env = getenv("HCLOUD_TOKEN");
		char *cred = dir && *dir ? xasprintf("%s/" CREDENTIAL_NAME, dir) : NULL;
		char *why = NULL;
		enum token_file r = cred ? read_token_file(cred, &g->api_token, &why) : TOKEN_MISSING;
		if (r == TOKEN_OK) {
			g->token_source = xstrdup("$CREDENTIALS_DIRECTORY/" CREDENTIAL_NAME);
			warn_secret_file_mode(w, "api_token", map, cred);
		} else if (r == TOKEN_BAD) {
			cfg_error(w, "api_token", map, "%s", why);
		} else if (env && *env) {
			g->api_token = xstrdup(env);
			g->token_source = xstrdup("$HCLOUD_TOKEN");
		} else {
			/* A blank credential is worth naming: the unit loaded
			 * one, but from a file that was missing or empty. */
			cfg_error(w, "api_token", map,
				  "no API token: set api_token, api_token_file or $HCLOUD_TOKEN, "
				  "or load the systemd credential " CREDENTIAL_NAME "%s%s%s",
				  r == TOKEN_EMPTY ? " (" : "", r == TOKEN_EMPTY ? why : "",
				  r == TOKEN_EMPTY ? ")" : "");
		}
		free(why);
		free(cred);
	}
	if (g->api_token && strpbrk(g->api_token, "\r\n \t"))
		cfg_error(w, "api_token", tok ? tok : map, "the token must not contain whitespace");

	/* The file's endpoint, else $HCLOUD_ENDPOINT, else the default. */
	const struct node *ep = cfg_get(&hetzner_section, map, "endpoint");
	const char *env_ep = getenv("HCLOUD_ENDPOINT");
	const char *ep_name = "endpoint";
	if (!cfg_has(&hetzner_section, map, "endpoint") && env_ep && *env_ep) {
		free(g->endpoint);
		g->endpoint = xstrdup(env_ep);
		ep_name = "$HCLOUD_ENDPOINT";
		ep = map;
	}
	if (!http_url(g->endpoint)) {
		cfg_error(w, "endpoint", ep, "%s must be an http:// or https:// URL", ep_name);
	} else if (str_has_prefix(g->endpoint, "http://") && !g->allow_insecure_endpoint &&
		   !url_host_is_loopback(g->endpoint)) {
		cfg_error(w, "endpoint", ep, "%s is plain http:// to a host that is not loopback: the "
			  "API token would travel in clear text; use https://, or set "
			  "allow_insecure_endpoint: true", ep_name);
	} else {
		size_t l = strlen(g->endpoint);
		while (l > 8 && g->endpoint[l - 1] == '/')
			g->endpoint[--l] = '\0';
	}
}

static const struct key_row server_selector_rows[] = {
	{ .name = "label_selector", .type = KEY_STRING, .flags = KF_ORIGINAL | KF_NONEMPTY,
	  .field = offsetof(struct group_config, server_selector), .required = "required",
	  .help = "Hetzner label selector of the group's servers" },
};

static const struct key_row fip_selector_rows[] = {
	{ .name = "label_selector", .type = KEY_STRING, .flags = KF_ORIGINAL | KF_NONEMPTY,
	  .field = offsetof(struct group_config, fip_selector), .required = "required",
	  .help = "label selector of the floating IPs the group manages" },
};

static const struct key_section server_selector_section = {
	.path = "groups[].hetzner.servers", ROWS(server_selector_rows),
};

static const struct key_section fip_selector_section = {
	.path = "groups[].hetzner.floating_ips", ROWS(fip_selector_rows),
};

#define GROUP_FIELD(f) .field = offsetof(struct group_config, f)

static const struct key_row hetzner_rows[] = {
	{ .name = "api_token", .type = KEY_STRING,
	  .flags = KF_ORIGINAL | KF_SECRET, GROUP_FIELD(api_token),
	  .doc_default = "$HCLOUD_TOKEN", .help = "the API token; prefer ${NAME} or api_token_file" },
	{ .name = "token_source", .type = KEY_DERIVED, GROUP_FIELD(token_source),
	  .help = "where the token came from" },
	{ .name = "api_token_file", .type = KEY_STRING, .flags = KF_ORIGINAL,
	  GROUP_FIELD(api_token_file),
	  .help = "read the token from this file (one line)" },
	{ .name = "project_id", .type = KEY_STRING, .flags = KF_ORIGINAL,
	  GROUP_FIELD(project_id), .check = check_project_id,
	  .help = "for links to the Hetzner console in notifications" },
	{ .name = "endpoint", .type = KEY_STRING, .flags = KF_ORIGINAL, GROUP_FIELD(endpoint),
	  .def_str = DEFAULT_ENDPOINT,
	  .help = "the API base URL; when unset, $HCLOUD_ENDPOINT, else the default" },
	{ .name = "allow_insecure_endpoint", .type = KEY_BOOL, GROUP_FIELD(allow_insecure_endpoint),
	  .help = "allow a plain http:// endpoint on a host that is not loopback" },
	{ .name = "servers", .type = KEY_SECTION, .flags = KF_ORIGINAL,
	  .section = &server_selector_section, .help = "which servers the group has" },
	{ .name = "floating_ips", .type = KEY_SECTION, .flags = KF_ORIGINAL,
	  .section = &fip_selector_section, .help = "which floating IPs the group manages" },
};

static const struct key_section hetzner_section = {
	.path = "groups[].hetzner", ROWS(hetzner_rows), .finish = hetzner_finish,
};

/* ---- groups[] --------------------------------------------------------------------- */

static void group_finish(struct cfg_walk *w, const struct node *map, const struct node *where,
			 void *obj)
{
	const struct group_config *g = obj;
	(void)where;
	if (g->id && g->n_checks == 0)
		cfg_warning(w, NULL, map, "group has no checks: its servers are treated as healthy");
}

static const struct key_row group_rows[] = {
	{ .name = "id", .type = KEY_STRING, .flags = KF_ORIGINAL | KF_NONEMPTY, GROUP_FIELD(id),
	  .required = "required", .help = "names the group in --group, the state and metrics" },
	{ .name = "display_name", .type = KEY_STRING, .flags = KF_ORIGINAL | KF_NONEMPTY,
	  GROUP_FIELD(display_name), .required = "required",
	  .help = "shown in notifications and plans" },
	{ .name = "readonly", .type = KEY_BOOL, .flags = KF_ORIGINAL, GROUP_FIELD(readonly),
	  .help = "plan and notify, never apply" },
	{ .name = "provider", .type = KEY_ENUM, .flags = KF_ORIGINAL | KF_ENUM_TEXT,
	  GROUP_FIELD(provider), .names = provider_names, .help = "the cloud; the only value" },
	{ .name = "poll_interval", .type = KEY_DURATION,
	  .flags = KF_ORIGINAL | KF_ZERO_DEFAULT | KF_ALWAYS, GROUP_FIELD(poll_interval_ms),
	  .def_num = 60000,
	  .help = "how old the cached inventory may be; always: list it every pass; 0s: the default" },
	{ .name = "poll_timeout", .type = KEY_DURATION, .flags = KF_ORIGINAL | KF_ZERO_DEFAULT,
	  GROUP_FIELD(poll_timeout_ms), .def_num = 20000, .min = 1,
	  .help = "bounds listing the inventory, retries included" },
	{ .name = "plan_apply_timeout", .type = KEY_DURATION,
	  .flags = KF_ORIGINAL | KF_ZERO_DEFAULT, GROUP_FIELD(plan_apply_timeout_ms),
	  .def_num = 30000, .min = 1,
	  .help = "bounds each action of a plan (and the re-read before), retries included" },
	{ .name = "plan_apply_with_unknown_status", .type = KEY_BOOL, .flags = KF_ORIGINAL,
	  GROUP_FIELD(plan_apply_with_unknown_status),
	  .help = "apply while some server's health is unknown" },
	{ .name = "max_actions_per_round", .type = KEY_INT, .flags = KF_NULL_IF_ZERO,
	  GROUP_FIELD(max_actions_per_round), .min = 1, .max = 1000000,
	  .help = "refuse plans with more actions; unset: no limit" },
	{ .name = "failback_delay", .type = KEY_DURATION, GROUP_FIELD(failback_delay_ms),
	  .help = "probation of a newly healthy server: only failovers move IPs to it; 0s: off" },
	{ .name = "rebalance", .type = KEY_BOOL, GROUP_FIELD(planner.rebalance),
	  .help = "even out each location with the fewest moves" },
	{ .name = "when_none_healthy", .type = KEY_ENUM, GROUP_FIELD(planner.when_none_healthy),
	  .names = plan_none_healthy_names,
	  .help = "no healthy server: freeze (no moves) or spread (the original)" },
	{ .name = "hetzner", .type = KEY_SECTION, .flags = KF_ORIGINAL, .section = &hetzner_section,
	  .required = "required (api token and label selectors)",
	  .help = "the Hetzner Cloud project and what the group manages in it" },
	{ .name = "checks", .type = KEY_LIST, .flags = KF_ORIGINAL, GROUP_FIELD(checks),
	  .count_field = offsetof(struct group_config, n_checks), .section = &check_section,
	  .help = "health checks run against every server" },
};

static const struct key_section group_section = {
	.path = "groups[]", ROWS(group_rows), .size = sizeof(struct group_config),
	.unique = "id", .unique_what = "group id", .finish = group_finish,
};

/* ---- notifications ------------------------------------------------------------------ */

static void check_http_url(struct cfg_walk *w, const struct node *at, const void *field)
{
	if (!http_url(string_value(field)))
		cfg_error(w, NULL, at, "must be an http:// or https:// URL");
}

#define TARGET_FIELD(f) .field = offsetof(struct notify_target, f)

/* The original's decoder matched its field IconEmoji by name: iconemoji. */
static const char *const icon_emoji_aliases[] = { "iconemoji", NULL };

static const struct key_row target_rows[] = {
	{ .name = "type", .type = KEY_ENUM, .flags = KF_ORIGINAL, TARGET_FIELD(type),
	  .names = notify_type_names, .required = "required (mattermost or slack)",
	  .help = "the chat server's kind of incoming webhook" },
	{ .name = "url", .type = KEY_STRING,
	  .flags = KF_ORIGINAL | KF_NONEMPTY | KF_REDACT_URL, TARGET_FIELD(url),
	  .required = "required", .check = check_http_url,
	  .help = "the webhook URL, a secret: logs show it redacted" },
	{ .name = "id", .type = KEY_STRING, .flags = KF_NONEMPTY, TARGET_FIELD(id),
	  .help = "names the target, so queued messages follow it to a new url" },
	{ .name = "channel", .type = KEY_STRING, .flags = KF_ORIGINAL, TARGET_FIELD(channel),
	  .help = "passed in the payload" },
	{ .name = "username", .type = KEY_STRING, .flags = KF_ORIGINAL, TARGET_FIELD(username),
	  .help = "passed in the payload" },
	{ .name = "icon_url", .type = KEY_STRING, .flags = KF_ORIGINAL, TARGET_FIELD(icon_url),
	  .help = "passed in the payload" },
	{ .name = "icon_emoji", .aliases = icon_emoji_aliases, .type = KEY_STRING,
	  .flags = KF_ORIGINAL | KF_EMPTY_UNSET, TARGET_FIELD(icon_emoji), .def_str = ":dolphin:",
	  .doc_default = ":dolphin: unless icon_url is set",
	  .help = "passed in the payload (\"\": none); also spelled iconemoji, as the "
		  "original read it" },
};

static const struct key_section target_section;

/* The original's icon, but not over an icon_url the target asks for. */
static void target_finish(struct cfg_walk *w, const struct node *map, const struct node *where,
			  void *obj)
{
	struct notify_target *t = obj;
	(void)w;
	(void)where;
	if (t->icon_url && !cfg_has(&target_section, map, "icon_emoji")) {
		free(t->icon_emoji);
		t->icon_emoji = NULL;
	}
}

static const struct key_section target_section = {
	.path = "notifications.targets[]", ROWS(target_rows),
	.size = sizeof(struct notify_target), .finish = target_finish,
	.unique = "id", .unique_what = "target id",
};

static const struct key_section notification_section;

static void notifications_finish(struct cfg_walk *w, const struct node *map,
				 const struct node *where, void *obj)
{
	const struct config *c = obj;
	(void)where;
	if (c->notifications_enabled && !c->n_targets)
		cfg_warning(w, NULL, map, "notifications are enabled but no targets are configured");
	/* Queued messages find their target again by this, not by its URL. */
	const struct node *list = cfg_get(&notification_section, map, "targets");
	for (size_t i = 0; i < c->n_targets; i++) {
		const struct notify_target *t = &c->targets[i];
		if (t->id || t->channel)
			continue;
		char *key = xasprintf("targets[%zu]", i);
		cfg_warning(w, key, list && list->type == NODE_SEQ && i < list->n ? list->items[i] : map,
			    "give this target a channel or an id: messages queued for it follow "
			    "that when its url changes");
		free(key);
	}
}

#define CONFIG_FIELD(f) .field = offsetof(struct config, f)

static const struct key_row notification_rows[] = {
	{ .name = "enabled", .type = KEY_BOOL, .flags = KF_ORIGINAL,
	  CONFIG_FIELD(notifications_enabled), .help = "post notifications" },
	{ .name = "targets", .type = KEY_LIST, .flags = KF_ORIGINAL, CONFIG_FIELD(targets),
	  .count_field = offsetof(struct config, n_targets), .section = &target_section,
	  .help = "incoming webhooks" },
};

static const struct key_section notification_section = {
	.path = "notifications", ROWS(notification_rows), .finish = notifications_finish,
};

/* ---- heartbeat ------------------------------------------------------------------------ */

static const struct key_section heartbeat_section;

static void heartbeat_finish(struct cfg_walk *w, const struct node *map, const struct node *where,
			     void *obj)
{
	const struct config *c = obj;
	static const char *const needed[] = { "url", "interval", "timeout" };
	(void)where;
	if (!c->heartbeat_enabled)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(needed); i++)
		if (!cfg_has(&heartbeat_section, map, needed[i]))
			cfg_error(w, needed[i], map, "required when the heartbeat is enabled");
	if (c->heartbeat_url && !http_url(c->heartbeat_url))
		cfg_error(w, "url", cfg_get(&heartbeat_section, map, "url"),
			  "must be an http:// or https:// URL");
}

static const struct key_row heartbeat_rows[] = {
	{ .name = "enabled", .type = KEY_BOOL, .flags = KF_ORIGINAL,
	  CONFIG_FIELD(heartbeat_enabled), .help = "send a heartbeat after good rounds" },
	{ .name = "url", .type = KEY_STRING, .flags = KF_ORIGINAL | KF_REDACT_URL,
	  CONFIG_FIELD(heartbeat_url), .help = "the URL to GET; required when enabled" },
	{ .name = "interval", .type = KEY_DURATION, .flags = KF_ORIGINAL,
	  CONFIG_FIELD(heartbeat_interval_ms), .min = 1,
	  .help = "at most one heartbeat this often; required when enabled" },
	{ .name = "timeout", .type = KEY_DURATION, .flags = KF_ORIGINAL,
	  CONFIG_FIELD(heartbeat_timeout_ms), .min = 1,
	  .help = "bounds the GET; required when enabled" },
};

static const struct key_section heartbeat_section = {
	.path = "heartbeat", ROWS(heartbeat_rows), .finish = heartbeat_finish,
};

/* ---- telemetry, server, state, service ----------------------------------------------- */

static const struct key_row logging_rows[] = {
	{ .name = "level", .type = KEY_ENUM, .flags = KF_ORIGINAL | KF_ENUM_TEXT,
	  CONFIG_FIELD(log_level), .names = log_level_names, .def_num = LOG_INFO,
	  .help = "the least severe level logged; --log-level overrides it" },
	{ .name = "format", .type = KEY_ENUM, .flags = KF_ORIGINAL | KF_ENUM_TEXT,
	  CONFIG_FIELD(log_format), .names = log_format_names, .def_num = LOG_FORMAT_JSON,
	  .help = "one JSON object per line, or text; --log-format overrides it" },
};

static const struct key_section logging_section = {
	.path = "telemetry.logging", ROWS(logging_rows),
};

static const struct key_row metrics_rows[] = {
	{ .name = "textfile", .type = KEY_STRING, CONFIG_FIELD(metrics_textfile),
	  .help = "write Prometheus metrics to this file (after passes, at most once a second)" },
};

static const struct key_section metrics_section = {
	.path = "telemetry.metrics", ROWS(metrics_rows),
};

static const struct key_row telemetry_rows[] = {
	{ .name = "logging", .type = KEY_SECTION, .flags = KF_ORIGINAL,
	  .section = &logging_section, .help = "logs on standard error" },
	{ .name = "metrics", .type = KEY_SECTION, .section = &metrics_section,
	  .help = "Prometheus metrics" },
	{ .name = "tracing", .type = KEY_ANY, .flags = KF_ORIGINAL | KF_UNUSED | KF_NOPRINT,
	  .field = KEY_NO_FIELD, .help = "the original daemon's tracing; accepted and ignored" },
};

static const struct key_section telemetry_section = {
	.path = "telemetry", ROWS(telemetry_rows),
};

#define UNUSED_SERVER_KEY .flags = KF_ORIGINAL | KF_UNUSED, .field = KEY_NO_FIELD

static const struct key_row server_rows[] = {
	{ .name = "enabled", .type = KEY_BOOL, .flags = KF_ORIGINAL, CONFIG_FIELD(server_enabled),
	  .help = "monitor serves GET /v1/health, /v1/version and /metrics (needs libmicrohttpd)" },
	{ .name = "host", .type = KEY_STRING, .flags = KF_ORIGINAL | KF_NONEMPTY,
	  CONFIG_FIELD(server_host), .def_str = "localhost",
	  .help = "the address it listens on (0.0.0.0 or :: for a pod's probes)" },
	{ .name = "port", .type = KEY_INT, .flags = KF_ORIGINAL, CONFIG_FIELD(server_port),
	  .def_num = 9521, .min = 0, .max = 65535,
	  .help = "its TCP port" },
	{ .name = "shutdown_timeout", .type = KEY_DURATION, .flags = KF_ORIGINAL,
	  CONFIG_FIELD(server_shutdown_timeout_ms), .def_num = 5000,
	  .help = "on SIGTERM, how long answers in progress may take before their "
		  "connections are closed" },
	{ .name = "assets", .type = KEY_STRING, UNUSED_SERVER_KEY,
	  .help = "its web UI's static files" },
	{ .name = "templates", .type = KEY_STRING, UNUSED_SERVER_KEY,
	  .help = "its web UI's templates" },
};

static const struct key_section server_section = {
	.path = "server", ROWS(server_rows),
};

static const struct key_row state_rows[] = {
	{ .name = "path", .type = KEY_STRING, CONFIG_FIELD(state_path),
	  .help = "the state database; --state and $FLIPPER_STATE override it" },
};

static const struct key_section state_section = {
	.path = "state", ROWS(state_rows),
};

static const struct key_row service_rows[] = {
	{ .name = "name", .type = KEY_STRING, .flags = KF_ORIGINAL, CONFIG_FIELD(service_name),
	  .def_str = "flipper", .help = "the service's name" },
};

static const struct key_section service_section = {
	.path = "service", ROWS(service_rows),
};

/* ---- the top level ------------------------------------------------------------------------ */

static void check_version(struct cfg_walk *w, const struct node *at, const void *field)
{
	int v = *(const int *)field;
	if (v != 1)
		cfg_error(w, NULL, at, "unsupported version %d (this flipper reads version 1)", v);
}

static void root_finish(struct cfg_walk *w, const struct node *map, const struct node *where,
			void *obj)
{
	struct stat st;
	(void)map;
	(void)where;
	(void)obj;
	if (w->literal_token && *w->file && stat(w->file, &st) == 0 && (st.st_mode & 077))
		cfg_warning(w, NULL, NULL, "holds a literal API token and is readable by group or "
			    "others (mode %04o); chmod 600 it or use api_token_file or ${HCLOUD_TOKEN}",
			    (unsigned)(st.st_mode & 07777));
}

static const struct key_row root_rows[] = {
	{ .name = "version", .type = KEY_INT, .flags = KF_ORIGINAL, CONFIG_FIELD(version),
	  .min = INT_MIN, .max = INT_MAX, .required = "required (version: 1)",
	  .check = check_version, .help = "the format of this file: 1" },
	{ .name = "service", .type = KEY_SECTION, .flags = KF_ORIGINAL, .section = &service_section,
	  .help = "the service" },
	{ .name = "state", .type = KEY_SECTION, .section = &state_section,
	  .help = "the state database" },
	{ .name = "server", .type = KEY_SECTION, .flags = KF_ORIGINAL, .section = &server_section,
	  .help = "the HTTP endpoint of monitor: health, version, metrics" },
	{ .name = "telemetry", .type = KEY_SECTION, .flags = KF_ORIGINAL,
	  .section = &telemetry_section, .help = "logs and metrics" },
	{ .name = "heartbeat", .type = KEY_SECTION, .flags = KF_ORIGINAL,
	  .section = &heartbeat_section, .help = "a dead man's switch" },
	{ .name = "notifications", .type = KEY_SECTION, .flags = KF_ORIGINAL,
	  .section = &notification_section, .help = "chat notifications" },
	{ .name = "groups", .type = KEY_LIST, .flags = KF_ORIGINAL, CONFIG_FIELD(groups),
	  .count_field = offsetof(struct config, n_groups), .section = &group_section,
	  .required = "at least one group is required",
	  .help = "servers and floating IPs managed together" },
};

const struct key_section config_root = {
	.path = "", ROWS(root_rows), .finish = root_finish,
};
