ALTER TABLE anomalies DROP COLUMN mitigated_at;
ALTER TABLE detect_series DROP COLUMN running_rate;
ALTER TABLE detect_series DROP COLUMN running_seen_at;
ALTER TABLE detect_series DROP COLUMN running_so_far;
ALTER TABLE detect_series DROP COLUMN running_point_at;
