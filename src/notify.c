/* notify.c — the notification outbox and the heartbeat. */
#include "notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curl_api.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "loop.h"
#include "messages.h"
#include "rules.h"

#define NOTIFY_RETRY_MIN_MS 100

/*
 * Test knob, not an operator setting: FLIPPER_NOTIFY_BACKOFF_MS replaces
 * the first retry delay (which then doubles as usual), so the black-box
 * tests can watch a webhook come back without waiting for minutes.
 */
static int64_t backoff_first_ms(void)
{
	const char *s = getenv("FLIPPER_NOTIFY_BACKOFF_MS");
	int64_t v;
	if (s && *s && parse_int64(s, &v) == 0 && v >= 0 && v <= NOTIFY_BACKOFF_MAX_MS)
		return v;
	return NOTIFY_BACKOFF_FIRST_MS;
}

static int64_t backoff_delay(int attempts)
{
	int64_t delay = backoff_first_ms();
	for (int a = 1; a < attempts && delay < NOTIFY_BACKOFF_MAX_MS; a++)
		delay *= 2;
	return delay > NOTIFY_BACKOFF_MAX_MS ? NOTIFY_BACKOFF_MAX_MS : delay;
}

/* What the real backoff (not the test knob's) spreads over NOTIFY_KEEP_MS. */
static int max_attempts(void)
{
	static int n;
	if (!n)
		n = outbox_max_attempts(NOTIFY_BACKOFF_FIRST_MS, NOTIFY_BACKOFF_MAX_MS,
					NOTIFY_KEEP_MS);
	return n;
}

void notify_target_hash(const struct notify_target *t, char out[17])
{
	/* FNV-1a: stable across versions, and no secret is stored. */
	uint64_t h = 0xcbf29ce484222325ULL;
	for (const unsigned char *p = (const unsigned char *)t->url; p && *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* Type, channel and username: what a target is, whatever its URL. */
static char *base_identity(const struct notify_target *t)
{
	if (t->id)
		return xasprintf("id:%s", t->id);
	struct buf b = BUF_INIT;
	buf_addstr(&b, notify_type_names[t->type]);
	const char *parts[] = { t->channel, t->username };
	for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
		/* '|' is escaped so that no two different targets read the same. */
		buf_addch(&b, '|');
		for (const char *p = parts[i] ? parts[i] : ""; *p; p++) {
			if (*p == '|' || *p == '\\')
				buf_addch(&b, '\\');
			buf_addch(&b, *p);
		}
	}
	return buf_detach(&b);
}

char *notify_target_identity(const struct config *c, size_t i)
{
	char *id = base_identity(&c->targets[i]);
	bool shared = false;
	for (size_t k = 0; k < c->n_targets && !shared; k++) {
		if (k == i)
			continue;
		char *other = base_identity(&c->targets[k]);
		shared = strcmp(id, other) == 0;
		free(other);
	}
	if (!shared)
		return id;
	char h[17];
	notify_target_hash(&c->targets[i], h);
	char *full = xasprintf("%s#%s", id, h);
	free(id);
	return full;
}

static char *payload_for(const struct notify_target *t, const char *text)
{
	struct buf b = BUF_INIT, slack = BUF_INIT;
	struct jw jw;
	jw_init(&jw, &b, false);
	jw_object_begin(&jw, NULL);
	if (t->type == NOTIFY_SLACK) {
		msg_to_slack(text, &slack);
		jw_string(&jw, "text", slack.data);
	} else {
		jw_string(&jw, "text", text);
	}
	/* Unset fields are left out: the webhook's own defaults apply. */
	const char *const optional[][2] = {
		{ "channel", t->channel }, { "username", t->username },
		{ "icon_url", t->icon_url }, { "icon_emoji", t->icon_emoji },
	};
	for (size_t i = 0; i < ARRAY_SIZE(optional); i++)
		if (optional[i][1])
			jw_string(&jw, optional[i][0], optional[i][1]);
	jw_end(&jw);
	buf_release(&slack);
	return buf_detach(&b);
}

int notify_post(const struct config *c, struct store *s, const char *group,
		const char *kind, const char *text, int64_t now)
{
	if (!c->notifications_enabled)
		return 0;
	for (size_t i = 0; i < c->n_targets; i++) {
		char hash[17];
		notify_target_hash(&c->targets[i], hash);
		char *payload = payload_for(&c->targets[i], text);
		char *key = notify_target_identity(c, i);
		int rc = store_outbox_add(s, group, kind, hash, key, payload, now);
		free(payload);
		free(key);
		if (rc < 0) {
			log_kv(LOG_ERROR, group, "cannot queue notification", "kind", kind,
			       "error", store_errmsg(s), NULL);
			return -1;
		}
	}
	log_kv(LOG_DEBUG, group, "notification queued", "kind", kind, NULL);
	return 0;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* ---- sending on the loop ------------------------------------------------------- */

/* One HTTP request of the notifier: a webhook POST or the heartbeat GET. */
struct send {
	struct notifier *n;
	struct loop_xfer xfer;
	struct curl_slist *headers;
	char errbuf[CURL_ERROR_SIZE];
	/* a webhook message */
	int64_t id;
	char *target_key;            /* the target's identity */
	char *group;
	char *kind;
	int attempts;
	char *url;                   /* for redacted logs */
	bool heartbeat;
	int64_t started_wall;
	struct send *next;
};

struct notifier {
	const struct config *c;
	struct store *s;
	struct loop *loop;
	struct notify_writer w;
	struct send *sends;          /* in flight */
	struct loop_timer timer;     /* the next message whose backoff ends */
	char **keys;                 /* each configured target's identity */
	char **hashes;               /* each configured target's URL hash */
	bool held;                   /* the state cannot record deliveries: stop */
	/* Targets that failed in this invocation, when it tries each once. */
	bool once;
	char **failed;
	size_t n_failed, cap_failed;
	void (*beat_done)(void *arg, bool ok);
	void *beat_arg;
};

static void send_free(struct send *x)
{
	struct notifier *n = x->n;
	for (struct send **pp = &n->sends; *pp; pp = &(*pp)->next) {
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	}
	if (x->xfer.easy) {
		loop_abort(n->loop, &x->xfer);
		curl_easy_cleanup(x->xfer.easy);
	}
	curl_slist_free_all(x->headers);
	free(x->target_key);
	free(x->group);
	free(x->kind);
	free(x->url);
	free(x);
}

static bool target_busy(const struct notifier *n, const char *key)
{
	for (size_t i = 0; i < n->n_failed; i++)
		if (strcmp(n->failed[i], key) == 0)
			return true;     /* once is enough in a one-shot run */
	for (const struct send *x = n->sends; x; x = x->next)
		if (!x->heartbeat && strcmp(x->target_key, key) == 0)
			return true;
	return false;
}

/*
 * The configured target a message is for: by its identity, or, queued
 * before there were identities, by its URL's hash. -1: none is.
 */
static ssize_t target_of(const struct notifier *n, const struct outbox_msg *m)
{
	for (size_t i = 0; i < n->c->n_targets; i++)
		if (m->target_key ? strcmp(n->keys[i], m->target_key) == 0 :
		    strcmp(n->hashes[i], m->target_hash) == 0)
			return (ssize_t)i;
	return -1;
}

/* The outcome as an error text (owned), or NULL for a 2xx answer. */
static char *send_error(struct send *x, CURLcode rc)
{
	long status = 0;
	curl_easy_getinfo(x->xfer.easy, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK)
		return xstrdup(http_error_text(rc, x->errbuf));
	if (status < 200 || status > 299)
		return xasprintf("HTTP %ld", status);
	return NULL;
}

static void message_done(struct loop_xfer *xf, CURLcode rc)
{
	struct send *x = container_of(xf, struct send, xfer);
	struct notifier *n = x->n;
	char *err = send_error(x, rc);
	if (!err) {
		/* Delivered: gone from the outbox for good, at once. */
		if (n->w.begin(n->w.arg) < 0 || store_outbox_delete(n->s, x->id) < 0 ||
		    n->w.commit(n->w.arg) < 0) {
			log_kv(LOG_ERROR, x->group, "notification delivered, but the state file "
			       "cannot record it; it will be sent again", "kind", x->kind,
			       "error", store_write_error(n->s), NULL);
			n->held = true;
		} else {
			log_kv(LOG_DEBUG, x->group, "notification delivered", "kind", x->kind, NULL);
		}
	} else {
		int attempts = x->attempts + 1;
		int64_t delay = backoff_delay(attempts);
		char *where = log_redact_url(x->url);
		log_kv(LOG_WARN, x->group, "notification not delivered; will retry", "kind", x->kind,
		       "webhook", where, "error", err, LOG_I64("attempts", attempts), NULL);
		free(where);
		if (n->w.begin(n->w.arg) == 0) {
			store_outbox_retry(n->s, x->id, attempts, now_ms() + delay, err);
			n->w.commit(n->w.arg);
		}
		free(err);
		if (n->once) {
			n->failed = xgrow(n->failed, &n->cap_failed, n->n_failed + 1, sizeof *n->failed);
			n->failed[n->n_failed++] = xstrdup(x->target_key);
		}
	}
	send_free(x);
	notifier_kick(n);
}

static struct send *send_start(struct notifier *n, const char *url, const char *body,
			       int64_t timeout_ms, void (*done)(struct loop_xfer *, CURLcode))
{
	struct send *x = xcalloc(1, sizeof *x);
	x->n = n;
	x->url = xstrdup(url);
	x->xfer.done = done;
	CURL *h = x->xfer.easy = curl_easy_init();
	struct http_opts ho = { .timeout_ms = timeout_ms, .errbuf = x->errbuf };
	if (!h || http_setup(h, &ho) != CURLE_OK) {
		if (h)
			curl_easy_cleanup(h);
		free(x->url);
		free(x);
		return NULL;
	}
	(void)curl_easy_setopt(h, CURLOPT_URL, url);
	(void)curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	if (body) {
		x->headers = curl_slist_append(NULL, "Content-Type: application/json");
		(void)curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->headers);
		(void)curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, body);
	}
	if (loop_start(n->loop, &x->xfer, false) < 0) {
		curl_easy_cleanup(h);
		curl_slist_free_all(x->headers);
		free(x->url);
		free(x);
		return NULL;
	}
	x->next = n->sends;
	n->sends = x;
	return x;
}

static void notifier_fire(struct loop_timer *t)
{
	notifier_kick(container_of(t, struct notifier, timer));
}

struct notifier *notifier_new(const struct config *c, struct store *s, struct loop *l,
			      const struct notify_writer *w, bool once)
{
	struct notifier *n = xcalloc(1, sizeof *n);
	n->once = once;
	n->c = c;
	n->s = s;
	n->loop = l;
	n->w = *w;
	n->timer.fire = notifier_fire;
	n->keys = xcalloc(c->n_targets + 1, sizeof *n->keys);
	n->hashes = xcalloc(c->n_targets + 1, sizeof *n->hashes);
	for (size_t i = 0; i < c->n_targets; i++) {
		n->keys[i] = notify_target_identity(c, i);
		n->hashes[i] = xmalloc(17);
		notify_target_hash(&c->targets[i], n->hashes[i]);
	}
	return n;
}

void notifier_set_config(struct notifier *n, const struct config *c)
{
	n->c = c;
}

void notifier_free(struct notifier *n)
{
	if (!n)
		return;
	while (n->sends)
		send_free(n->sends);
	loop_timer_disarm(n->loop, &n->timer);
	for (size_t i = 0; i < n->n_failed; i++)
		free(n->failed[i]);
	free(n->failed);
	for (size_t i = 0; i < n->c->n_targets; i++) {
		free(n->keys[i]);
		free(n->hashes[i]);
	}
	free(n->keys);
	free(n->hashes);
	free(n);
}

bool notifier_busy(const struct notifier *n)
{
	for (const struct send *x = n->sends; x; x = x->next)
		if (!x->heartbeat)
			return true;
	return false;
}

void notifier_stop(struct notifier *n)
{
	for (struct send *x = n->sends, *next; x; x = next) {
		next = x->next;
		if (!x->heartbeat)
			send_free(x);
	}
	loop_timer_disarm(n->loop, &n->timer);
}

int64_t notifier_kick(struct notifier *n)
{
	struct outbox_msg *v;
	size_t cnt;
	/* What is sent must be deleted for good, or it is sent every time. */
	if (n->held || store_write_error(n->s)) {
		if (!n->held)
			log_kv(LOG_WARN, NULL, "notifications held back: the state file cannot be "
			       "written", NULL);
		n->held = true;
		return -1;
	}
	if (store_outbox_load(n->s, &v, &cnt) < 0)
		return -1;
	int64_t now = now_ms(), next = INT64_MAX, depth = (int64_t)cnt;
	/* Targets whose oldest message was looked at: the rest waits, in order. */
	const char **seen = xcalloc(cnt + 1, sizeof *seen);
	size_t n_seen = 0;
	bool wrote = false;
	for (size_t i = 0; i < cnt; i++) {
		struct outbox_msg *m = &v[i];
		ssize_t ti = target_of(n, m);
		const struct notify_target *t = ti < 0 ? NULL : &n->c->targets[ti];
		bool dead = !t || !n->c->notifications_enabled;
		/*
		 * Stored times are clamped: a message stamped while the clock was
		 * ahead waits no longer than its backoff (at most the longest).
		 */
		m->next_attempt = outbox_clamp_next(m->next_attempt, now, backoff_delay(m->attempts));
		m->created_at = outbox_clamp_created(m->created_at, now);
		bool expired = !dead && m->attempts >= max_attempts();
		if (dead || expired) {
			/* Never to whatever target sits where it used to: dropped. */
			if (dead)
				log_kv(LOG_WARN, m->group_id, "dropping queued notification: no configured "
				       "target is the one it was queued for", "kind", m->kind,
				       "target", m->target_key ? m->target_key : "(its URL changed)", NULL);
			else
				log_kv(LOG_ERROR, m->group_id, "giving up on a notification after about 48 "
				       "hours of retries", "kind", m->kind, LOG_I64("attempts", m->attempts),
				       "last_error", m->last_error, NULL);
			if (!wrote && n->w.begin(n->w.arg) < 0)
				break;
			wrote = true;
			store_outbox_delete(n->s, m->id);
			depth--;
			continue;
		}
		const char *key = n->keys[ti];
		bool skip = false;
		for (size_t k = 0; k < n_seen && !skip; k++)
			skip = strcmp(seen[k], key) == 0;
		if (skip)
			continue;
		seen[n_seen++] = key;
		if (target_busy(n, key))
			continue;
		if (m->next_attempt > now) {
			if (m->next_attempt < next)
				next = m->next_attempt;
			continue;
		}
		struct send *x = send_start(n, t->url, m->payload, NOTIFY_TIMEOUT_MS, message_done);
		if (!x)
			continue;
		x->id = m->id;
		x->target_key = xstrdup(key);
		x->group = m->group_id ? xstrdup(m->group_id) : NULL;
		x->kind = xstrdup(m->kind);
		x->attempts = m->attempts;
	}
	if (wrote)
		n->w.commit(n->w.arg);
	free((void *)seen);
	store_outbox_free(v, cnt);
	/* A retry never comes back sooner than this: no busy loop on a zero backoff. */
	if (next != INT64_MAX)
		loop_timer_arm(n->loop, &n->timer,
			       mono_ms() + (next - now < NOTIFY_RETRY_MIN_MS ? NOTIFY_RETRY_MIN_MS :
					    next - now));
	else
		loop_timer_disarm(n->loop, &n->timer);
	return depth;
}

/* ---- the heartbeat ------------------------------------------------------------------ */

static void beat_done(struct loop_xfer *xf, CURLcode rc)
{
	struct send *x = container_of(xf, struct send, xfer);
	struct notifier *n = x->n;
	char *err = send_error(x, rc);
	char *where = log_redact_url(x->url);
	bool ok = !err;
	if (err) {
		log_kv(LOG_WARN, NULL, "heartbeat failed", "url", where, "error", err, NULL);
	} else {
		log_kv(LOG_DEBUG, NULL, "heartbeat sent", "url", where, NULL);
		char t[32];
		snprintf(t, sizeof t, "%lld", (long long)x->started_wall);
		if (n->w.begin(n->w.arg) == 0) {
			store_meta_set(n->s, "heartbeat_last_ok", t);
			n->w.commit(n->w.arg);
		}
	}
	free(err);
	free(where);
	void (*done)(void *, bool) = n->beat_done;
	void *arg = n->beat_arg;
	n->beat_done = NULL;
	send_free(x);
	if (done)
		done(arg, ok);
}

bool heartbeat_busy(const struct notifier *n)
{
	for (const struct send *x = n->sends; x; x = x->next)
		if (x->heartbeat)
			return true;
	return false;
}

int heartbeat_start(struct notifier *n, void (*done)(void *arg, bool ok), void *arg)
{
	const struct config *c = n->c;
	if (!c->heartbeat_enabled || !c->heartbeat_url || heartbeat_busy(n))
		return -1;
	struct send *x = send_start(n, c->heartbeat_url, NULL, c->heartbeat_timeout_ms, beat_done);
	if (!x)
		return -1;
	x->heartbeat = true;
	x->started_wall = now_ms();
	n->beat_done = done;
	n->beat_arg = arg;
	return 0;
}
