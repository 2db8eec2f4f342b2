-- The incident story (issue 16): running hours read by their rate, mitigated anomalies, and
-- proposals that follow their anomaly.
-- The newest point of a series while its hour still runs: the last sighting the detective
-- measured its rate from (src/domain/detect/partial.rs), so the next run can take the
-- marginal rate. Amounts in 1e-11 currency units per point.
ALTER TABLE detect_series ADD COLUMN running_point_at TIMESTAMP;
ALTER TABLE detect_series ADD COLUMN running_so_far BIGINT;
ALTER TABLE detect_series ADD COLUMN running_seen_at TIMESTAMP;
ALTER TABLE detect_series ADD COLUMN running_rate BIGINT;
-- When an action on the anomaly was verified: "fixed, watching" until its cost is back in band.
ALTER TABLE anomalies ADD COLUMN mitigated_at TIMESTAMP;
-- One live action per anomaly, kind and target; an ended one (expired, failed, refused by the
-- policy when the facts were different) no longer keeps the right action from being proposed.
DROP INDEX actions_one_per_target;
CREATE UNIQUE INDEX actions_one_live_per_target ON actions (anomaly_id, kind, target)
    WHERE anomaly_id IS NOT NULL AND status IN ('proposed', 'pending_approval', 'approved', 'executing', 'verifying');
-- One incident, one anomaly: a tag series' anomaly that another series' anomaly explains (the
-- same excess, at the same time) is kept for matching but shown only as "also affected".
ALTER TABLE anomalies ADD COLUMN merged_into TEXT REFERENCES anomalies (id) ON DELETE SET NULL;
CREATE INDEX anomalies_by_merged_into ON anomalies (merged_into);
-- Verdicts people give an anomaly: expected (closes it, mutes the series), false_positive
-- (closes it; kept for evaluation), confirmed. The old `feedback` column's CHECK cannot
-- change on SQLite without rebuilding the table, so verdicts move to a column of their own;
-- `feedback` stays, unused.
ALTER TABLE anomalies ADD COLUMN verdict TEXT CHECK (verdict IN ('expected', 'false_positive', 'confirmed'));
UPDATE anomalies SET verdict = feedback;
-- Whether the running point's rate was confirmed by two agreeing measurements; an anomaly
-- measured only on an unconfirmed rate is provisional: the optimizer waits before proposing.
ALTER TABLE detect_series ADD COLUMN running_settled BOOLEAN;
ALTER TABLE anomalies ADD COLUMN provisional BOOLEAN NOT NULL DEFAULT FALSE;
