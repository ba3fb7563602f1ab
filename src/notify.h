/*
 * notify.h — notifications to Mattermost/Slack incoming webhooks, through
 * a durable outbox, and the heartbeat.
 *
 * notify_post() only stores: one outbox row per configured target, inside
 * the caller's transaction, so a message exists before anyone tries to
 * send it. notify_deliver() sends what is due, oldest first per target;
 * a target that fails keeps its queue (in order) and is retried later
 * with backoff, for at least NOTIFY_KEEP_MS. Webhook URLs are secrets:
 * the state keeps a hash to tell targets apart, logs show them redacted.
 *
 * Delivery is at least once, not exactly once. A message leaves the
 * outbox, durably, as soon as its webhook answers 2xx. But HTTP has no
 * way to learn whether a request that timed out (or lost its connection,
 * or whose process was killed) was acted on: Mattermost may have posted
 * it anyway, and flipper sends it again later. Incoming webhooks take no
 * idempotency key, so that rare duplicate is the price of never losing a
 * message. Order per target always holds: a target's queue waits behind
 * its oldest message.
 */
#ifndef FLIPPER_NOTIFY_H
#define FLIPPER_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "store.h"

#define NOTIFY_KEEP_MS (48LL * 3600 * 1000)   /* give up on a message after this */
#define NOTIFY_TIMEOUT_MS 5000                /* one webhook POST */

/* notify.c */
/* Queue text (Markdown) for every target. No-op when notifications are off. */
int notify_post(const struct config *c, struct store *s, const char *group,
		const char *kind, const char *text, int64_t now);
/*
 * Send what is due, until budget_ms has passed. Returns the number of
 * messages still queued (or -1 on a state error). Called inside a
 * transaction, it commits after each delivered message (and begins a new
 * one), so a crash later in the round does not send it again.
 */
int64_t notify_deliver(const struct config *c, struct store *s, int64_t now, int64_t budget_ms);
/* The outbox identity of a target: a hex hash of its URL. */
void notify_target_hash(const struct notify_target *t, char out[17]);
/*
 * GET the heartbeat URL if it is enabled and due; remembers the last
 * success in the state. 1 sent, 0 not due or disabled, -1 failed.
 */
int heartbeat_maybe_send(const struct config *c, struct store *s, int64_t now);

#endif
