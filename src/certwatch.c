/*
 * certwatch.c — the expiry watch of https server certificates.
 *
 * The original logged a warning when the certificate of an answer
 * expired within 14 days and an error within 7, on every check, and the
 * check still passed: the status decided. flipper keeps that judgement
 * (an expiring certificate never fails a check; an expired one fails
 * verification, as it did there) and tells people instead: one
 * certificate_expiring notification per certificate (by fingerprint) and
 * group a day, and at once when it enters the error window after a
 * warning. The windows are the check's tls_expiry_warning (336h) and
 * tls_expiry_error (168h). What was told is kept in the state, so a
 * one-shot run every minute tells no more often than a monitor does.
 */
#include <stdlib.h>
#include <string.h>

#include "group.h"
#include "log.h"

#define DAY_MS (24LL * 3600 * 1000)

enum cert_severity { CERT_FINE, CERT_WARNING, CERT_ERROR };

static enum cert_severity severity_of(const struct check_config *c, int64_t left_ms)
{
	if (c->tls_expiry_error_ms > 0 && left_ms < c->tls_expiry_error_ms)
		return CERT_ERROR;
	if (c->tls_expiry_warning_ms > 0 && left_ms < c->tls_expiry_warning_ms)
		return CERT_WARNING;
	return CERT_FINE;
}

/* Told about recently enough at this severity? */
static bool told_already(struct group *g, const char *fingerprint, enum cert_severity sev,
			 int64_t now, bool *failed)
{
	char *told = NULL;
	int64_t told_at = 0;
	int rc = store_cert_notice_get(g->e->store, g->cfg->id, fingerprint, &told, &told_at);
	*failed = rc < 0;
	bool yes = rc == 0 && now - told_at < DAY_MS &&
		   (sev != CERT_ERROR || (told && strcmp(told, "error") == 0));
	free(told);
	return yes;
}

void cert_watch(struct target *t, const struct check_result *r)
{
	struct group *g = t->g;
	struct engine *e = g->e;
	const struct check_config *c = t->check;

	if (!check_watches_expiry(c)) {
		if (t->st.cert_not_after) {
			t->st.cert_not_after = 0;
			t->dirty = true;
		}
		return;
	}
	if (r->cert_problem) {
		if (!t->cert_unreadable_told)
			log_kv(LOG_WARN, g->cfg->id, "cannot read the server certificate's expiry",
			       "server", t->in.server_name, "check", c->id, "error", r->cert_problem,
			       NULL);
		t->cert_unreadable_told = true;
		return;
	}
	if (!r->cert_not_after)
		return;              /* no answer, or the last hop was plain http */
	if (t->st.cert_not_after != r->cert_not_after) {
		t->st.cert_not_after = r->cert_not_after;
		t->dirty = true;
	}

	int64_t now = now_ms(), not_after_ms = r->cert_not_after * 1000;
	enum cert_severity sev = severity_of(c, not_after_ms - now);
	if (sev == CERT_FINE)
		return;
	/* Without the certificate's text (a TLS backend that gives none),
	 * its host and date tell it apart well enough. */
	char *id = r->cert_fingerprint[0] ? xstrdup(r->cert_fingerprint) :
		   xasprintf("%s %lld", r->cert_host ? r->cert_host : "?",
			     (long long)r->cert_not_after);
	bool failed = false;
	if (e->o.dry_run || !e->store || told_already(g, id, sev, now, &failed) || failed) {
		if (failed)
			log_kv(LOG_ERROR, g->cfg->id, "cannot read the state", "error",
			       store_errmsg(e->store), NULL);
		free(id);
		return;
	}
	char at[32];
	format_time_utc(not_after_ms, at);
	log_kv(sev == CERT_ERROR ? LOG_ERROR : LOG_WARN, g->cfg->id, "TLS certificate expires soon",
	       "server", t->in.server_name, "check", c->id, "host", r->cert_host,
	       "expires_at", at, NULL);
	if (engine_write(e) == 0 &&
	    store_cert_notice_put(e->store, g->cfg->id, id, sev == CERT_ERROR ? "error" : "warning",
				  now, now - 2 * DAY_MS) == 0) {
		const struct store_server *s = group_server(g, t->st.server_id);
		struct msg_cert m = {
			.host = r->cert_host, .check = c->display_name,
			.server = s ? group_msg_server(s) :
				(struct msg_server){ t->st.server_id, t->in.server_name, NULL },
			.family = t->st.family, .not_after_ms = not_after_ms, .now_ms = now,
			.error = sev == CERT_ERROR,
			.window_ms = sev == CERT_ERROR ? c->tls_expiry_error_ms : c->tls_expiry_warning_ms,
		};
		struct buf b = BUF_INIT;
		msg_certificate_expiring(&b, g->cfg, &m);
		engine_post(e, g, "certificate_expiring", &b);
		buf_release(&b);
	} else {
		log_kv(LOG_ERROR, g->cfg->id, "cannot save the state", "error",
		       store_errmsg(e->store), NULL);
	}
	free(id);
}
