-- Schema version 6: the server certificate's expiry watch (https checks,
-- tls_expiry_warning / tls_expiry_error).
--
-- targets.cert_not_after  when the certificate the target's last answer
--                         came with expires (unix seconds; 0: none known),
--                         for the metric between invocations
-- cert_notice             which certificate (by fingerprint) was last told
--                         about, when and how severely: told once a day,
--                         and at once when it enters the error window
ALTER TABLE targets ADD COLUMN cert_not_after INTEGER NOT NULL DEFAULT 0;

CREATE TABLE cert_notice (
	group_id    TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
	fingerprint TEXT NOT NULL,
	severity    TEXT NOT NULL,                 -- warning or error
	told_at     INTEGER NOT NULL,              -- unix ms
	PRIMARY KEY (group_id, fingerprint)
);
