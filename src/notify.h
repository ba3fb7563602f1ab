/*
 * notify.h — notifications to Mattermost/Slack incoming webhooks, through
 * a durable outbox, and the heartbeat.
 *
 * notify_post() only stores: one outbox row per configured target, inside
 * the caller's transaction, so a message exists before anyone tries to
 * send it. The notifier sends what is due on the event loop, oldest
 * first per target, one request per target at a time; a target that
 * fails keeps its queue (in order) and is retried later with backoff, for
 * about NOTIFY_KEEP_MS. Webhook URLs are secrets: the state keeps each
 * message's target identity (notify_target_identity()) and a hash of its
 * URL, logs show URLs redacted.
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

/*
 * A message is given up after as many failed attempts as the backoff
 * spreads over NOTIFY_KEEP_MS (about 48 hours): counting attempts, not
 * the age, so a step of the clock drops nothing.
 */
#define NOTIFY_KEEP_MS (48LL * 3600 * 1000)
#define NOTIFY_BACKOFF_FIRST_MS 15000
#define NOTIFY_BACKOFF_MAX_MS (30 * 60 * 1000)
#define NOTIFY_TIMEOUT_MS 5000                /* one webhook POST */

/*
 * How the notifier writes to the state: begin() makes sure a transaction
 * is open, commit() makes what was written durable (the engine's turn
 * transaction). Each returns -1 when the state cannot be written.
 */
struct notify_writer {
	int (*begin)(void *arg);
	int (*commit)(void *arg);
	void *arg;
};

struct loop;
struct notifier;

/* notify.c */
/* Queue text (Markdown) for every target. No-op when notifications are off. */
int notify_post(const struct config *c, struct store *s, const char *group,
		const char *kind, const char *text, int64_t now);
/* A hex hash of a target's URL (what the outbox kept before identities). */
void notify_target_hash(const struct notify_target *t, char out[17]);
/*
 * The identity of c->targets[i] in the outbox (owned): "id:ID" for a
 * target with an id, else its type, channel and username; when two
 * targets would share one, each gets its URL's hash appended (then a new
 * URL loses the backlog: validate asks for ids). Queued messages follow
 * their identity to whatever URL the target has now.
 */
char *notify_target_identity(const struct config *c, size_t i);

/*
 * Delivery on the loop: at most one POST per target in flight, oldest
 * first. once: a one-shot run, which tries each target at most once.
 */
struct notifier *notifier_new(const struct config *c, struct store *s, struct loop *l,
			      const struct notify_writer *w, bool once);
/* POSTs and the heartbeat in flight are dropped (they stay queued). */
void notifier_free(struct notifier *n);
/*
 * A reloaded configuration: its targets and heartbeat from the next kick
 * on. Messages queued for a target no longer configured are dropped then
 * (logged); what is in flight finishes (it holds its own URL).
 */
void notifier_set_config(struct notifier *n, const struct config *c);
/*
 * Look at the outbox and send what is due, keeping each target's order;
 * a target that failed waits for its backoff (a timer kicks again).
 * Returns the messages queued (or -1 when the state cannot be written:
 * then nothing is sent, since a delivery could not be recorded).
 */
int64_t notifier_kick(struct notifier *n);
/* A webhook POST is in flight. */
bool notifier_busy(const struct notifier *n);
/* Drop the POSTs in flight (they stay queued) and stop the backoff timer. */
void notifier_stop(struct notifier *n);
/*
 * GET the heartbeat URL (within heartbeat.timeout) and remember a success
 * in the state; done(arg, ok) follows from the loop. -1: not started (off,
 * or one already in flight).
 */
int heartbeat_start(struct notifier *n, void (*done)(void *arg, bool ok), void *arg);
bool heartbeat_busy(const struct notifier *n);

#endif
