-- Schema version 3: remember a plan that failed to apply, so a plan the
-- API keeps refusing is announced once (and again when its errors change,
-- and as an hourly reminder) rather than on every attempt, and so the
-- success that ends it can say how long it took.
ALTER TABLE groups ADD COLUMN failed_plan TEXT;          -- plan key
ALTER TABLE groups ADD COLUMN failed_errors TEXT;        -- what failed, without correlation ids
ALTER TABLE groups ADD COLUMN failed_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE groups ADD COLUMN failed_since INTEGER;      -- unix ms of the first failure
ALTER TABLE groups ADD COLUMN failed_told_at INTEGER;    -- unix ms of the last message about it
