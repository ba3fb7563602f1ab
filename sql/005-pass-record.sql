-- Schema version 5 (after 004 on main): what the engine remembers of each
-- group's passes between invocations, in a table of its own.
--   deferred_since  when moves first waited for servers of unknown health
--                   (unix ms; 0: none wait), so the wait stays bounded
--                   across one-shot runs
--   defer_alert     the unknown servers last named in an alert, told once
CREATE TABLE group_pass (
	group_id       TEXT PRIMARY KEY REFERENCES groups(id) ON DELETE CASCADE,
	deferred_since INTEGER NOT NULL DEFAULT 0,
	defer_alert    TEXT
);
