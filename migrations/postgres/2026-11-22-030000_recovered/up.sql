-- What a succeeded action saved (its excess rate before the action times the recovery horizon),
-- and when its anomaly's cost was seen back within the band afterwards.
ALTER TABLE actions ADD COLUMN recovered BIGINT;
ALTER TABLE actions ADD COLUMN cost_verified_at TIMESTAMP;
