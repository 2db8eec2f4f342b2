-- The newest point of a series while its hour still runs: the last sighting the detective
-- measured its rate from (src/domain/detect/partial.rs), so the next run can take the
-- marginal rate. Amounts in 1e-11 currency units per point.
ALTER TABLE detect_series ADD COLUMN running_point_at TIMESTAMP;
ALTER TABLE detect_series ADD COLUMN running_so_far BIGINT;
ALTER TABLE detect_series ADD COLUMN running_seen_at TIMESTAMP;
ALTER TABLE detect_series ADD COLUMN running_rate BIGINT;
-- When an action on the anomaly was verified: "fixed, watching" until its cost is back in band.
ALTER TABLE anomalies ADD COLUMN mitigated_at TIMESTAMP;
