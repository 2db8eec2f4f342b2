-- Only the action kinds CostGuard knows (src/domain/optimizer.rs, ActionKind::ALL), as risk
-- and status already are.
ALTER TABLE actions ADD CONSTRAINT actions_kind_known CHECK (kind IN ('cancel_bigquery_job', 'stop_ec2_instance', 'start_ec2_instance', 'resize_ec2_instance', 'deallocate_azure_vm', 'disable_llm_key', 'enable_llm_key', 'notify_only'));
