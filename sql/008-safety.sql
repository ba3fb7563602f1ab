-- Schema version 8 (after 007, the group health record): what flipper
-- needs to stay safe when the world lies (issue 15, SPEC section 9
-- "Safety").
--
-- servers: a server missing from a listing is kept for a while as
-- "vanished" instead of being forgotten, so one bad listing costs no
-- counters and a server that comes back is not news.
--   vanished_at      when it was first missing (unix ms; 0: listed)
--   absent_listings  how many listings in a row lacked it
--   gone             what GET /servers/{id} said: 'missing' (404) or
--                    'elsewhere' (it exists, outside the group); NULL: not
--                    asked, or no answer
ALTER TABLE servers ADD COLUMN vanished_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE servers ADD COLUMN absent_listings INTEGER NOT NULL DEFAULT 0;
ALTER TABLE servers ADD COLUMN gone TEXT;

-- group_pass:
--   confirm_listing  the next listing must be read twice before what it
--                    drops is believed (a re-read before an apply lacked
--                    a floating IP)
--   corr_since       a correlated failure was first seen (unix ms; 0: none)
--   corr_hold_until  moves are held until then (unix ms; 0: no hold yet in
--                    this correlated failure)
--   frozen_since     the last plan found no healthy server (unix ms; 0: not
--                    frozen)
--   thaw_since       a server is healthy again after a freeze; moves wait
--                    until every server had its rise checks (unix ms)
ALTER TABLE group_pass ADD COLUMN confirm_listing INTEGER NOT NULL DEFAULT 0;
ALTER TABLE group_pass ADD COLUMN corr_since INTEGER NOT NULL DEFAULT 0;
ALTER TABLE group_pass ADD COLUMN corr_hold_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE group_pass ADD COLUMN frozen_since INTEGER NOT NULL DEFAULT 0;
ALTER TABLE group_pass ADD COLUMN thaw_since INTEGER NOT NULL DEFAULT 0;

-- The apply in progress: one row per action, written before the first
-- request goes out and removed with the plan's outcome. Rows found at
-- start are an apply a dead flipper left; the next pass asks the API how
-- it ended and says so.
--   action_id  the API's action, once an answer named it (0: none yet)
--   outcome    'applied' or 'failed' once the action ended; NULL: open
CREATE TABLE apply_step (
	group_id    TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
	fip_id      INTEGER NOT NULL,
	fip_name    TEXT,
	from_server INTEGER NOT NULL DEFAULT 0,
	from_name   TEXT,
	to_server   INTEGER NOT NULL,
	to_name     TEXT,
	action_id   INTEGER NOT NULL DEFAULT 0,
	outcome     TEXT,
	started_at  INTEGER NOT NULL,
	PRIMARY KEY (group_id, fip_id)
);

-- outbox: the identity of the target a message is for (its type, channel
-- and username, or its explicit id), so queued messages follow a target
-- whose URL changed. NULL: a message queued before this version, matched
-- by target_hash (the URL's hash) as before.
ALTER TABLE outbox ADD COLUMN target_key TEXT;
