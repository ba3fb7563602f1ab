-- Schema version 7 (after 006, the TLS expiry watch): when each group last passed, so
-- that metrics and `status` can say how long a group has not worked
-- (flipper_group_last_success_timestamp_seconds).
--
-- group_pass.last_ok_at  when the last successful pass ended (unix ms;
--                        0: never). A state from before this version
--                        takes its last pass's time when that pass
--                        succeeded.
ALTER TABLE group_pass ADD COLUMN last_ok_at INTEGER NOT NULL DEFAULT 0;
UPDATE group_pass SET last_ok_at = last_pass_at WHERE last_pass_ok != 0;
