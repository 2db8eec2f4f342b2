DROP INDEX anomalies_by_merged_into;
ALTER TABLE anomalies DROP COLUMN merged_into;
DROP INDEX actions_one_live_per_target;
CREATE UNIQUE INDEX actions_one_per_target ON actions (anomaly_id, kind, target) WHERE anomaly_id IS NOT NULL;
ALTER TABLE anomalies DROP COLUMN mitigated_at;
ALTER TABLE detect_series DROP COLUMN running_rate;
ALTER TABLE detect_series DROP COLUMN running_seen_at;
ALTER TABLE detect_series DROP COLUMN running_so_far;
ALTER TABLE detect_series DROP COLUMN running_point_at;
