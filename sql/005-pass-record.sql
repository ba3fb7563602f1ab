-- Schema version 5 (after 004 on main): what the engine remembers of each
-- group's passes between invocations, in tables of their own.
--
-- group_pass, one row per group:
--   deferred_since  when moves first waited for servers of unknown health
--                   (unix ms; 0: none wait), so the wait stays bounded
--                   across one-shot runs
--   defer_alert     the unknown servers last named in an alert, told once
--   last_pass_at    when the last pass ended (unix ms; 0: never)
--   last_pass_ok    whether it succeeded
--   fail_phase      while the group fails: where (inventory, checks, plan,
--   fail_error        apply, state), what, the failure's identity (what
--   fail_key          makes it news: no correlation ids), and since when
--   fail_since
CREATE TABLE group_pass (
	group_id       TEXT PRIMARY KEY REFERENCES groups(id) ON DELETE CASCADE,
	deferred_since INTEGER NOT NULL DEFAULT 0,
	defer_alert    TEXT,
	last_pass_at   INTEGER NOT NULL DEFAULT 0,
	last_pass_ok   INTEGER NOT NULL DEFAULT 0,
	fail_phase     TEXT,
	fail_error     TEXT,
	fail_key       TEXT,
	fail_since     INTEGER NOT NULL DEFAULT 0
);

-- A floating IP somebody moved outside flipper: not moved again until
-- `until` (unix ms) unless its new server is unhealthy.
CREATE TABLE fip_hold (
	group_id  TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
	fip_id    INTEGER NOT NULL,
	server    INTEGER NOT NULL,
	until     INTEGER NOT NULL,
	PRIMARY KEY (group_id, fip_id)
);
