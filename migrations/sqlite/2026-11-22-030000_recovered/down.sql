ALTER TABLE actions DROP COLUMN recovered;
