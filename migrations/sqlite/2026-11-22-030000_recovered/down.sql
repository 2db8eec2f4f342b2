ALTER TABLE actions DROP COLUMN cost_verified_at;
ALTER TABLE actions DROP COLUMN recovered;
