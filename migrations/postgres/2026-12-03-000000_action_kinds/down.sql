ALTER TABLE actions DROP CONSTRAINT actions_kind_known;
