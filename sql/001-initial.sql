-- placeholder, replaced by the state-store schema
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
