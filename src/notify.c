/* notify.c — the notification outbox and the heartbeat. */
#include "notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curl_api.h"
#include "json.h"
#include "log.h"

#define BACKOFF_FIRST_MS 15000
#define BACKOFF_MAX_MS (30 * 60 * 1000)

/*
 * Test knob, not an operator setting: FLIPPER_NOTIFY_BACKOFF_MS replaces
 * the first retry delay (which then doubles as usual), so the black-box
 * tests can watch a webhook come back without waiting for minutes.
 */
static int64_t backoff_first_ms(void)
{
	const char *s = getenv("FLIPPER_NOTIFY_BACKOFF_MS");
	int64_t v;
	if (s && *s && parse_int64(s, &v) == 0 && v >= 0 && v <= BACKOFF_MAX_MS)
		return v;
	return BACKOFF_FIRST_MS;
}

static int64_t backoff_delay(int attempts)
{
	int64_t delay = backoff_first_ms();
	for (int a = 1; a < attempts && delay < BACKOFF_MAX_MS; a++)
		delay *= 2;
	return delay > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay;
}

/*
 * Make a delivery durable at once: commit the caller's transaction and
 * open the next. false when the state cannot be written: the message just
 * sent would stay queued and be sent again every round, so delivery stops.
 */
static bool checkpoint(struct store *s)
{
	if (store_commit(s) < 0)
		return false;
	return store_begin(s) == 0;
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

/*
 * Messages are written in Mattermost's Markdown. Slack's mrkdwn differs:
 * *bold* instead of **bold**, <url|text> instead of [text](url), no
 * backslash escapes, and &, <, > as entities. Our own markup is regular
 * (md_text() escapes every markup character of names), so a small
 * rewrite is exact.
 */
static void markdown_to_slack(const char *in, struct buf *out)
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
			markdown_to_slack(label.data, out);
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

static char *payload_for(const struct notify_target *t, const char *text)
{
	struct buf b = BUF_INIT, slack = BUF_INIT;
	struct jw jw;
	jw_init(&jw, &b, false);
	jw_object_begin(&jw, NULL);
	if (t->type == NOTIFY_SLACK) {
		markdown_to_slack(text, &slack);
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
		int rc = store_outbox_add(s, group, kind, hash, payload, now);
		free(payload);
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

/* One HTTP request; 0 on a 2xx answer, else -1 with *err (owned). */
static int http_send(CURL *h, const char *url, const char *body, int64_t timeout_ms, char **err)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	curl_easy_reset(h);
	/* These fail only for options older than curl_api_load()'s floor. */
	(void)curl_easy_setopt(h, CURLOPT_URL, url);
	(void)curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	(void)curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	(void)curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	(void)curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	(void)curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	(void)curl_easy_setopt(h, CURLOPT_USERAGENT, "flipper/" FLIPPER_VERSION);
	if (body) {
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		(void)curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
		(void)curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	}
	CURLcode rc = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdrs);
	if (rc != CURLE_OK) {
		*err = xstrdup(errbuf[0] ? errbuf : curl_easy_strerror(rc));
		return -1;
	}
	if (status < 200 || status > 299) {
		*err = xasprintf("HTTP %ld", status);
		return -1;
	}
	return 0;
}

static const struct notify_target *target_by_hash(const struct config *c, const char *hash)
{
	for (size_t i = 0; i < c->n_targets; i++) {
		char h[17];
		notify_target_hash(&c->targets[i], h);
		if (strcmp(h, hash) == 0)
			return &c->targets[i];
	}
	return NULL;
}

int64_t notify_deliver(const struct config *c, struct store *s, int64_t now, int64_t budget_ms)
{
	struct outbox_msg *v;
	size_t n;
	/* What is sent must be deleted for good, or it is sent every round. */
	if (store_write_error(s)) {
		log_kv(LOG_WARN, NULL, "notifications held back: the state file cannot be written", NULL);
		return -1;
	}
	if (store_outbox_load(s, &v, &n) < 0)
		return -1;
	if (n == 0) {
		free(v);
		return 0;
	}
	char *why = NULL;
	CURL *h = curl_api_load(&why) == 0 ? curl_easy_init() : NULL;
	if (!h) {
		char *msg = xasprintf("%s: %s", CURL_API_UNAVAILABLE,
				      why ? why : "cannot set up a libcurl handle");
		log_kv(LOG_WARN, NULL, "notifications held back", "error", msg, NULL);
		free(msg);
		free(why);
		store_outbox_free(v, n);
		return -1;
	}
	int64_t end = mono_ms() + budget_ms;
	int64_t depth = 0;
	/* Targets that failed this round: the rest of their queue waits, in order. */
	char **blocked = NULL;
	size_t n_blocked = 0, cap_blocked = 0;

	for (size_t i = 0; i < n; i++) {
		struct outbox_msg *m = &v[i];
		const struct notify_target *t = target_by_hash(c, m->target_hash);
		if (!t || !c->notifications_enabled) {
			log_kv(LOG_WARN, m->group_id, "dropping queued notification: its target is no longer configured",
			       "kind", m->kind, NULL);
			store_outbox_delete(s, m->id);
			continue;
		}
		bool skip = false;
		for (size_t b = 0; b < n_blocked; b++)
			if (strcmp(blocked[b], m->target_hash) == 0)
				skip = true;
		if (skip)
			continue;
		if (now - m->created_at > NOTIFY_KEEP_MS) {
			log_kv(LOG_ERROR, m->group_id, "giving up on a notification after 48 hours",
			       "kind", m->kind, "last_error", m->last_error, NULL);
			store_outbox_delete(s, m->id);
			continue;
		}
		if (m->next_attempt > now || mono_ms() >= end) {
			blocked = xgrow(blocked, &cap_blocked, n_blocked + 1, sizeof *blocked);
			blocked[n_blocked++] = m->target_hash;
			continue;
		}
		char *err = NULL;
		int64_t left = end - mono_ms();
		int64_t timeout = left < NOTIFY_TIMEOUT_MS ? (left < 1 ? 1 : left) : NOTIFY_TIMEOUT_MS;
		if (http_send(h, t->url, m->payload, timeout, &err) == 0) {
			store_outbox_delete(s, m->id);
			if (!checkpoint(s)) {
				log_kv(LOG_ERROR, m->group_id, "notification delivered, but the state file "
				       "cannot record it; it will be sent again", "kind", m->kind,
				       "error", store_write_error(s), NULL);
				depth = -1;
				break;
			}
			log_kv(LOG_DEBUG, m->group_id, "notification delivered", "kind", m->kind, NULL);
			continue;
		}
		int attempts = m->attempts + 1;
		int64_t delay = backoff_delay(attempts);
		char *where = log_redact_url(t->url);
		char att[16];
		snprintf(att, sizeof att, "%d", attempts);
		log_kv(LOG_WARN, m->group_id, "notification not delivered; will retry", "kind", m->kind,
		       "webhook", where, "error", err, "attempts", att, NULL);
		free(where);
		store_outbox_retry(s, m->id, attempts, now + delay, err);
		free(err);
		blocked = xgrow(blocked, &cap_blocked, n_blocked + 1, sizeof *blocked);
		blocked[n_blocked++] = m->target_hash;
	}
	free(blocked);
	curl_easy_cleanup(h);
	store_outbox_free(v, n);
	return depth < 0 ? depth : store_outbox_depth(s);
}

int heartbeat_maybe_send(const struct config *c, struct store *s, int64_t now)
{
	if (!c->heartbeat_enabled || !c->heartbeat_url)
		return 0;
	char *last = store_meta_get(s, "heartbeat_last_ok");
	int64_t last_ok = 0;
	if (last)
		parse_int64(last, &last_ok);
	free(last);
	/* Same tolerance idea as checks: a timer at the interval must not skip. */
	int64_t slack = c->heartbeat_interval_ms / 10 > 1000 ? 1000 : c->heartbeat_interval_ms / 10;
	if (last_ok && now >= last_ok && now - last_ok < c->heartbeat_interval_ms - slack)
		return 0;
	char *err = NULL, *why = NULL;
	int rc = -1;
	CURL *h = curl_api_load(&why) == 0 ? curl_easy_init() : NULL;
	if (h) {
		rc = http_send(h, c->heartbeat_url, NULL, c->heartbeat_timeout_ms, &err);
		curl_easy_cleanup(h);
	} else {
		err = xasprintf("%s: %s", CURL_API_UNAVAILABLE,
				why ? why : "cannot set up a libcurl handle");
	}
	free(why);
	char *where = log_redact_url(c->heartbeat_url);
	if (rc < 0) {
		log_kv(LOG_WARN, NULL, "heartbeat failed", "url", where, "error", err, NULL);
		free(err);
		free(where);
		return -1;
	}
	log_kv(LOG_DEBUG, NULL, "heartbeat sent", "url", where, NULL);
	free(where);
	char t[32];
	snprintf(t, sizeof t, "%lld", (long long)now);
	store_meta_set(s, "heartbeat_last_ok", t);
	return 1;
}
