-- flipper state, schema version 1.
-- Times are milliseconds since the UNIX epoch (UTC). Ids are Hetzner's
-- int64 ids. One row per group in `groups`; everything else hangs off it.

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

CREATE TABLE groups (
	id             TEXT PRIMARY KEY,
	inventory_at   INTEGER NOT NULL DEFAULT 0,  -- last complete poll; 0: never
	watching_since INTEGER NOT NULL DEFAULT 0,  -- "started watching" sent
	last_round_at  INTEGER NOT NULL DEFAULT 0,
	last_round_ms  INTEGER NOT NULL DEFAULT 0,
	readonly_plan  TEXT,                        -- last readonly plan notified
	alert          TEXT                         -- last fail-open/no-healthy alert
);

CREATE TABLE servers (
	group_id       TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
	id             INTEGER NOT NULL,
	name           TEXT NOT NULL,
	api_status     TEXT,
	location       TEXT,
	network_zone   TEXT,
	ipv4           TEXT,
	ipv6           TEXT,                       -- host address (::1 of the /64)
	resource_index INTEGER,                    -- NULL: none
	health         TEXT NOT NULL DEFAULT 'unknown',
	health_since   INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (group_id, id)
);

CREATE TABLE floating_ips (
	group_id       TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
	id             INTEGER NOT NULL,
	name           TEXT,
	ip             TEXT,
	type           TEXT,
	location       TEXT,
	network_zone   TEXT,
	resource_index INTEGER,
	server         INTEGER,                    -- NULL: unassigned
	PRIMARY KEY (group_id, id)
);

-- One check target: (server, check, address family).
CREATE TABLE targets (
	group_id    TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
	server_id   INTEGER NOT NULL,
	check_id    TEXT NOT NULL,
	family      INTEGER NOT NULL,              -- 4 or 6
	rise_count  INTEGER NOT NULL DEFAULT 0,
	fall_count  INTEGER NOT NULL DEFAULT 0,
	state       TEXT NOT NULL DEFAULT 'unknown',
	last_run    INTEGER NOT NULL DEFAULT 0,
	last_ok     INTEGER NOT NULL DEFAULT 0,
	duration_ms INTEGER NOT NULL DEFAULT 0,
	last_error  TEXT,
	PRIMARY KEY (group_id, server_id, check_id, family)
);

-- Notifications are stored here first, then delivered, in id order.
CREATE TABLE outbox (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	created_at   INTEGER NOT NULL,
	group_id     TEXT,
	kind         TEXT NOT NULL,
	target_hash  TEXT NOT NULL,                -- which webhook; never its URL
	payload      TEXT NOT NULL,                -- the JSON body to POST
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT
);
CREATE INDEX outbox_due ON outbox (target_hash, id);

-- Counters that survive across invocations (metrics).
CREATE TABLE counters (
	name   TEXT NOT NULL,
	labels TEXT NOT NULL,                      -- Prometheus label text
	value  INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (name, labels)
);
