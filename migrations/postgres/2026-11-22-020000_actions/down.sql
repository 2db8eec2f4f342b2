DROP TABLE audit_log;
DROP TABLE action_transitions;
DROP TABLE actions;
