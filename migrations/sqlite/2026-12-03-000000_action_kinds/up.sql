-- Only the action kinds CostGuard knows (src/domain/optimizer.rs, ActionKind::ALL), as risk
-- and status already are. SQLite cannot add a CHECK to an existing table without rebuilding
-- it (and the tables that reference it), so two triggers do what the CHECK would.
CREATE TRIGGER actions_kind_known_insert BEFORE INSERT ON actions
    WHEN NEW.kind NOT IN ('cancel_bigquery_job', 'stop_ec2_instance', 'start_ec2_instance', 'resize_ec2_instance', 'deallocate_azure_vm', 'disable_llm_key', 'enable_llm_key', 'notify_only')
BEGIN
    SELECT RAISE(ABORT, 'CHECK constraint failed: actions_kind_known');
END;
CREATE TRIGGER actions_kind_known_update BEFORE UPDATE OF kind ON actions
    WHEN NEW.kind NOT IN ('cancel_bigquery_job', 'stop_ec2_instance', 'start_ec2_instance', 'resize_ec2_instance', 'deallocate_azure_vm', 'disable_llm_key', 'enable_llm_key', 'notify_only')
BEGIN
    SELECT RAISE(ABORT, 'CHECK constraint failed: actions_kind_known');
END;
