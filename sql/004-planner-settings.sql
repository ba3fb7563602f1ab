-- Schema version 4: the planner settings a group's last round used, so
-- `status` (which reads no configuration) can tell when a server's
-- probation ends and which moves wait for it, and `status --snapshot`
-- writes what `simulate` needs to reproduce the plan.
ALTER TABLE groups ADD COLUMN failback_delay_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE groups ADD COLUMN rebalance INTEGER NOT NULL DEFAULT 0;
ALTER TABLE groups ADD COLUMN when_none_healthy TEXT NOT NULL DEFAULT 'freeze';
