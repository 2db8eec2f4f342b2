-- What a succeeded action saved: its excess rate before the action times the recovery horizon.
ALTER TABLE actions ADD COLUMN recovered BIGINT;
