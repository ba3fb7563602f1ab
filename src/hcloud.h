/*
 * hcloud.h — the Hetzner Cloud API client (SPEC section 4; the facts it
 * relies on are in shared/hetzner-api.md, cited as "api.md §N").
 *
 * Two layers:
 *   hcloud_parse.c  pure parsing of response bodies into owned structs; no
 *                   I/O, no clock, safe on arbitrary bytes (fuzzed).
 *   hcloud.c        operations on the event loop (loop.h): bearer auth,
 *                   pagination, assign + action polling, retries with
 *                   jittered exponential backoff, rate-limit headers, the
 *                   request budget of each token and request counters.
 *
 * Ownership: every struct here owns its strings. S_release() frees what a
 * struct owns and zeroes it (the struct itself may live on the stack);
 * S_free() frees an array of them and the array. Every function that fills
 * a struct hc_error expects it zeroed (HC_ERROR_INIT) or released before.
 *
 * Deadlines: every operation takes an absolute mono_ms() deadline
 * (poll_timeout for listing, plan_apply_timeout for an assignment). No
 * request, retry backoff or poll goes past it.
 *
 * Secrets: the token lives only in the client's Authorization header. It is
 * never logged, never put in a struct hc_error, and is scrubbed from any
 * text the API echoes back.
 *
 * Ids are int64 end to end; cJSON numbers are read through valuedouble and
 * checked to be integral and within +-2^53 (api.md §0.12; json_exact_int()).
 */
#ifndef FLIPPER_HCLOUD_H
#define FLIPPER_HCLOUD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Response body caps: a larger body is an error, never truncated. */
#define HC_MAX_BODY_LIST    (8u << 20)   /* list pages */
#define HC_MAX_BODY_OBJECT  (1u << 20)   /* actions, one object, errors */
#define HC_MAX_PAGE_ITEMS   1000         /* items in one page (API max 50) */
#define HC_MAX_PAGES        2000         /* pages followed in one listing */
#define HC_MAX_LABELS       256          /* labels per resource; more is an error */
#define HC_MAX_FIELD        4096         /* bytes in one string field */
#define HC_PER_PAGE         50

struct hc_label {
	char *key;
	char *value;
};

struct hc_server {
	int64_t id;
	char *name;
	char *status;                /* running, off, ... (api.md §2.2) */
	char *location;              /* location.name, else datacenter.location.name */
	char *network_zone;
	char *ipv4;                  /* public_net.ipv4.ip; NULL if none */
	char *ipv6;                  /* the /64 with host part ::1; NULL if none */
	bool has_index;              /* label resource_index present and an integer */
	int64_t resource_index;
	struct hc_label *labels;     /* in API order */
	size_t n_labels;
};

struct hc_fip {
	int64_t id;
	char *name;
	char *ip;                    /* as the API sends it: v4 address or v6 /64 */
	char *type;                  /* "ipv4" or "ipv6" */
	char *location;              /* home_location.name */
	char *network_zone;          /* home_location.network_zone */
	int64_t server;              /* assigned server id; 0 = unassigned */
	bool has_index;
	int64_t resource_index;
	struct hc_label *labels;
	size_t n_labels;
};

enum hc_action_status { HC_ACTION_RUNNING, HC_ACTION_SUCCESS, HC_ACTION_ERROR };

struct hc_action {
	int64_t id;
	char *command;               /* e.g. "assign_floating_ip"; may be NULL */
	enum hc_action_status status;
	char *error_code;            /* set when status is HC_ACTION_ERROR */
	char *error_message;
};

/*
 * An error with everything an operator needs to act on it. code is the
 * API's error.code, or one of ours: "transport" (no HTTP answer),
 * "http_error" (an answer without a Hetzner error body),
 * "invalid_response", "response_too_large", "deadline_exceeded",
 * "invalid_argument", or an action's error code. Remote text is stored
 * with control characters replaced and the token scrubbed.
 */
struct hc_error {
	char *method;                /* "GET"/"POST"; NULL when no request */
	char *path;                  /* "/servers", without the query */
	char *code;
	char *message;
	char *correlation_id;        /* X-Correlation-Id of the answer */
	int http_status;             /* 0: no HTTP answer */
	bool retryable;              /* the failure is of a transient kind */
	bool deadline;               /* gave up because the deadline came */
	int attempts;                /* requests made for this call (>= 1) */
};

#define HC_ERROR_INIT { NULL, NULL, NULL, NULL, NULL, 0, false, false, 0 }

/* hcloud_parse.c */
void hc_server_release(struct hc_server *s);
void hc_servers_free(struct hc_server *v, size_t n);
void hc_fip_release(struct hc_fip *f);
void hc_fips_free(struct hc_fip *v, size_t n);
void hc_action_release(struct hc_action *a);
void hc_error_release(struct hc_error *e);
/* Replace code and message (copies; remote text is sanitised). */
void hc_error_set(struct hc_error *e, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*
 * "GET /servers: unauthorized: unable to authenticate (HTTP 401,
 * correlation id 4c9f1d2a7b3e5a60)". Newly allocated.
 */
char *hc_error_format(const struct hc_error *e);
/* Is this API error code worth retrying (api.md §5.3 plus locked)? */
bool hc_code_retryable(const char *code);

/*
 * "2001:db8:c012:8f2e::/64" -> "2001:db8:c012:8f2e::1" into out (at least
 * 46 bytes). Only a /64 is accepted. 0 ok, -1 malformed.
 */
int hc_ipv6_host(const char *network, char *out, size_t outlen);

/*
 * Parse one list page ({"servers": [...], "meta": {"pagination": ...}}).
 * On success *out and *n hold the items (caller frees with hc_*_free) and
 * *next_page is meta.pagination.next_page, 0 when null or absent. On
 * failure *out is NULL, *n 0, and err says which field of which item is
 * wrong ("servers[3].id: expected an integer"), code "invalid_response".
 */
int hc_parse_servers(const char *body, size_t len, struct hc_server **out,
		     size_t *n, int64_t *next_page, struct hc_error *err);
int hc_parse_floating_ips(const char *body, size_t len, struct hc_fip **out,
			  size_t *n, int64_t *next_page, struct hc_error *err);
/* {"floating_ip": {...}} (GET /floating_ips/{id}). */
int hc_parse_floating_ip(const char *body, size_t len, struct hc_fip *out,
			 struct hc_error *err);
/* {"action": {...}}. */
int hc_parse_action(const char *body, size_t len, struct hc_action *out,
		    struct hc_error *err);
/*
 * {"error": {"code", "message", "details"}}: sets err->code and
 * err->message (invalid_input field details appended). 0 if the body was
 * such an error, -1 (err untouched) otherwise.
 */
int hc_parse_error(const char *body, size_t len, struct hc_error *err);

/* hcloud.c */
struct loop;

struct hcloud_options {
	struct loop *loop;           /* where the client's operations run */
	const char *endpoint;        /* resolved by the caller; trailing '/' dropped */
	const char *token;           /* secret */
	const char *user_agent;      /* NULL: "flipper/" FLIPPER_VERSION */
	const char *group;           /* log context; may be NULL */
	int64_t request_timeout_ms;  /* one HTTP request; 0: 10000 */
	int64_t retry_base_ms;       /* first backoff; 0: 500 */
	int64_t retry_cap_ms;        /* backoff ceiling; 0: 8000 */
	int64_t poll_interval_ms;    /* action polling; 0: 500 */
};

/* Requests made, by endpoint kind and HTTP status (0: no answer). */
struct hc_request_count {
	const char *kind;            /* "servers", "floating_ips", "assign", "actions" */
	int status;
	uint64_t count;
};

struct hcloud_stats {
	struct hc_request_count *requests;
	size_t n_requests;
	uint64_t retries;            /* requests repeated after a transient failure */
	int64_t ratelimit_limit;     /* last RateLimit-* headers seen; -1: none yet */
	int64_t ratelimit_remaining;
	int64_t ratelimit_reset;     /* UNIX seconds when the budget is full again */
	int64_t budget_left;         /* what this token may still send now (its bucket) */
};

struct hcloud_client;

/*
 * NULL with err set if an option is unusable (the token is never quoted).
 * Clients with the same token share one request budget: 3,600 an hour,
 * refilling one a second; below a reserve, listings wait and the
 * requests of an apply go first.
 */
struct hcloud_client *hcloud_client_new(const struct hcloud_options *o,
					struct hc_error *err);
/* Operations still in flight are cancelled (no callbacks). */
void hcloud_client_free(struct hcloud_client *c);
/* Owned by the client; valid until the next call or hcloud_client_free(). */
const struct hcloud_stats *hcloud_client_stats(const struct hcloud_client *c);

/*
 * Operations run on the client's loop: each starts at once and ends in
 * one call of its done callback, from the loop (never from inside the
 * starting call), with the result. Every operation has an absolute
 * mono_ms() deadline (poll_timeout for listing, plan_apply_timeout for an
 * assignment); no request, retry or poll goes past it. The callback owns
 * r's contents (hc_result_release() frees what it does not take). An
 * operation may be cancelled until then: no callback.
 */
struct hc_result {
	int rc;                      /* 0 ok; -1 failed, see err */
	struct hc_error err;
	struct hc_server *servers;   /* sorted by id, each id once */
	size_t n_servers;
	struct hc_fip *fips;         /* sorted by id, each id once */
	size_t n_fips;
};

typedef void (*hc_done_fn)(void *arg, struct hc_result *r);
struct hc_op;

#define HC_LIST_SERVERS  1u
#define HC_LIST_FIPS     2u
/* Part of an apply (the re-read before it): served first when the budget is low. */
#define HC_LIST_FOR_APPLY 4u
/*
 * All servers and/or floating IPs (what) matching their selector
 * (URL-encoded here; NULL or "" lists everything), every page; servers
 * first. All or nothing.
 */
struct hc_op *hcloud_list(struct hcloud_client *c, unsigned what, const char *server_selector,
			  const char *fip_selector, int64_t deadline, hc_done_fn done, void *arg);
/*
 * Assign floating IP fip to server and wait until the action succeeds.
 * from is where the plan found it (0: unassigned), or HC_FROM_ANY.
 * 422 floating_ip_assigned counts as success when the IP already points
 * at server; when it points at from, the IP is unassigned and assigned
 * again (an API that will not move it directly); anywhere else, somebody
 * else moved it and it is left alone. Fails with err on an action that
 * ended in error, a permanent API error, or the deadline.
 */
#define HC_FROM_ANY (-1)
struct hc_op *hcloud_assign(struct hcloud_client *c, int64_t fip, int64_t server, int64_t from,
			    int64_t deadline, hc_done_fn done, void *arg);
void hcloud_op_cancel(struct hc_op *op);
void hc_result_release(struct hc_result *r);

#endif
