/*
 * config.h — the effective configuration (SPEC section 2) and its loader.
 *
 * config_load() reads a YAML, TOML or JSON file into a document tree
 * (node.h) with the reader its extension names, then maps the tree onto
 * struct config, checking every key and collecting every problem in a
 * struct diags. A struct config owns all its strings; config_free()
 * releases everything.
 *
 * Durations are kept in milliseconds.
 */
#ifndef FLIPPER_CONFIG_H
#define FLIPPER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node.h"
#include "planner.h"

/*
 * Each enum has one name table, indexed by value and NULL-terminated,
 * which the key table (config_keys.c) reads and prints with.
 */
enum check_type { CHECK_HTTP, CHECK_HTTPS };
/* A duration key's "always" (KF_ALWAYS): shorter than any duration. */
#define DURATION_ALWAYS INT64_C(-1)

enum ip_version { IPV_BOTH, IPV_4, IPV_6 };
enum notify_type { NOTIFY_MATTERMOST, NOTIFY_SLACK };
extern const char *const check_type_names[];
extern const char *const ip_version_names[];
extern const char *const notify_type_names[];

/* One inclusive range of accepted HTTP statuses. */
struct status_range {
	int lo, hi;
};

/* The statuses a check accepts: ranges, and the text they came from. */
struct status_set {
	struct status_range *ranges;   /* never empty after loading */
	size_t n;
	char *text;                    /* as written, for display */
};

struct header {
	char *name;
	char *value;
};

struct check_config {
	char *id;
	char *display_name;
	enum check_type type;
	int64_t interval_ms;
	int64_t fast_interval_ms;    /* while a target is in transition; = interval by default */
	int64_t timeout_ms;
	int fall;
	int rise;
	char *method;
	char *host;              /* may be NULL for http */
	int port;
	char *path;
	enum ip_version ip_version;
	struct status_set expect;
	char *ca_file;
	struct header *headers;
	size_t n_headers;
	int follow_redirects;        /* hops followed, each at the target address; 0: none */
	/* The https server certificate's expiry watch: a notification when it
	 * ends within the warning (or error) window; both 0: off. */
	int64_t tls_expiry_warning_ms;
	int64_t tls_expiry_error_ms;
};

struct group_config {
	char *id;
	char *display_name;
	bool readonly;
	char *provider;
	/*
	 * DURATION_ALWAYS: "always", list the inventory on every pass. Kept
	 * apart from 0s, which the original read as its default of a minute.
	 */
	int64_t poll_interval_ms;
	int64_t poll_timeout_ms;
	int64_t plan_apply_timeout_ms;
	bool plan_apply_with_unknown_status;
	int max_actions_per_round;   /* 0: no limit */
	int64_t failback_delay_ms;   /* probation of a server that became healthy */
	struct plan_options planner; /* when_none_healthy, rebalance */
	/* hetzner */
	char *api_token;             /* secret: never logged or printed */
	char *api_token_file;
	char *token_source;          /* "api_token", "api_token_file",
	                              * "$CREDENTIALS_DIRECTORY/hcloud-token",
	                              * "$HCLOUD_TOKEN" or NULL */
	char *project_id;
	char *endpoint;
	bool allow_insecure_endpoint; /* http:// to a host that is not loopback */
	char *server_selector;
	char *fip_selector;
	struct check_config *checks;
	size_t n_checks;
};

struct notify_target {
	enum notify_type type;
	char *id;                    /* names the target for the outbox; NULL: type, channel, username */
	char *url;                   /* secret-ish: redacted in logs */
	char *channel;
	char *username;
	char *icon_url;
	char *icon_emoji;            /* ":dolphin:" unless icon_url is set */
};

struct config {
	char *path;                  /* the file it came from */
	int version;
	char *service_name;
	char *state_path;
	/* server.*: the HTTP endpoint of monitor (server.c). */
	bool server_enabled;
	char *server_host;
	int server_port;
	int64_t server_shutdown_timeout_ms;
	char *log_level;
	char *log_format;
	char *metrics_textfile;
	bool heartbeat_enabled;
	char *heartbeat_url;
	int64_t heartbeat_interval_ms;
	int64_t heartbeat_timeout_ms;
	bool notifications_enabled;
	struct notify_target *targets;
	size_t n_targets;
	struct group_config *groups;
	size_t n_groups;
	struct env_override *env;    /* in the order applied */
	size_t n_env;
};

/*
 * A value the environment set (FLIPPER_SECTION__KEY=value, applied over
 * the file): which variable set which key.
 */
struct env_override {
	char *var;                   /* FLIPPER_TELEMETRY__LOGGING__LEVEL */
	char *path;                  /* telemetry.logging.level */
};

/* A reader turns file text into a document tree, or reports errors in d. */
typedef int (*config_reader_fn)(const char *text, size_t len, struct node **out,
				struct diags *d);

/* yaml.c */
int yaml_read(const char *text, size_t len, struct node **out, struct diags *d);
/* json.c (configuration JSON: positions kept, duplicates rejected) */
int json_read(const char *text, size_t len, struct node **out, struct diags *d);
/* toml.c */
int toml_read(const char *text, size_t len, struct node **out, struct diags *d);

/* config.c (the keys themselves: config_keys.h) */
/*
 * Pick the reader by file extension; a name without one is TOML, as in
 * the original. NULL for an extension flipper does not read.
 */
config_reader_fn config_reader_for(const char *path);
/*
 * Who loads: `validate` also gets advice a run would repeat on every
 * start (keys accepted but not used).
 */
enum config_use { CONFIG_RUN, CONFIG_VALIDATE };
/*
 * Load and validate path, then apply the FLIPPER_* overrides of the
 * environment. Returns a config (possibly with warnings in d) or NULL
 * when d->errors > 0. Environment references are expanded.
 */
struct config *config_load(const char *path, enum config_use use, struct diags *d);
/* Same, from text already in memory (tests, fuzzing). */
struct config *config_parse(const char *path, const char *text, size_t len,
			    config_reader_fn reader, enum config_use use, struct diags *d);
/*
 * FLIPPER_TELEMETRY__LOGGING__LEVEL -> "telemetry.logging.level": the
 * part after FLIPPER_, lower-cased, "__" between levels. NULL when name
 * is not an override: another prefix, or a name flipper reserves
 * (FLIPPER_CONFIG, FLIPPER_STATE, its test knobs). An empty level stays
 * empty ("a..b"): it names no key.
 */
char *config_env_key(const char *name);
void config_free(struct config *c);
/*
 * Only state.path, read without validating anything else, for commands
 * that just read the state (status). 0 set (*out owned), 1 not set,
 * -1 unreadable or unparsable (diagnostics in d).
 */
int config_peek_state_path(const char *path, char **out, struct diags *d);
/*
 * Only the group ids, in their order, without validating anything else
 * (status: which groups to list, where the token is not at hand). 0 with
 * *ids (owned, *n of them), or -1 unreadable or unparsable (diagnostics
 * in d).
 */
int config_peek_groups(const char *path, char ***ids, size_t *n, struct diags *d);
/*
 * The group's token again from the file it came from (api_token_file or
 * the systemd credential $CREDENTIALS_DIRECTORY/hcloud-token), which a
 * rotated Kubernetes Secret or credential changes under a running
 * flipper. 1 read (*token owned, a secret), 0 the token came from no file
 * (api_token, $HCLOUD_TOKEN), -1 the file is missing, empty or bad (*why
 * owned, naming the file, never quoting it).
 */
int config_token_reread(const struct group_config *g, char **token, char **why);
/*
 * Do two checks do the same (every key of the table but display_name)?
 * A reload keeps the counters of a target only when its check does.
 */
bool config_check_same(const struct check_config *a, const struct check_config *b);
/* The effective configuration as JSON, secrets masked. */
void config_print_json(const struct config *c, struct buf *out);
/*
 * Every key, one per line, tab-separated: path (groups[].checks[].port),
 * type, default, notes (original, unused, secret; or -) and help.
 */
void config_keys_list(struct buf *out);
const struct group_config *config_group(const struct config *c, const char *id);
/* Does status lie in the check's expect ranges? */
bool check_expects(const struct check_config *c, int status);
/* Parse "200-299,304" into ranges. 0 ok, -1 with *err set (static text). */
int status_ranges_parse(const char *s, struct status_range **out, size_t *n,
			const char **err);

/* duration.c */
/*
 * Go's time.ParseDuration syntax ("300ms", "1m30s", "-1.5h"); "0" alone is
 * allowed. Result in milliseconds (sub-millisecond parts round down).
 * 0 ok; -1 with *err a static message.
 */
int duration_parse(const char *s, int64_t *ms, const char **err);
/* Shortest Go-style spelling: 90000 -> "1m30s", 1500 -> "1.5s". */
void duration_format(int64_t ms, char out[48]);

#endif
