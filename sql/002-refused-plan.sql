-- Schema version 2: remember the last plan refused by
-- max_actions_per_round, so the alert is sent once per distinct plan
-- rather than every round.
ALTER TABLE groups ADD COLUMN refused_plan TEXT;
