CREATE TABLE anomaly_events_old (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    anomaly_id TEXT NOT NULL REFERENCES anomalies (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('opened', 'updated', 'resolved', 'feedback')),
    at TIMESTAMP NOT NULL,
    actor TEXT NOT NULL,
    severity TEXT NOT NULL,
    impact BIGINT NOT NULL,
    detail TEXT
);
INSERT INTO anomaly_events_old (id, anomaly_id, kind, at, actor, severity, impact, detail)
    SELECT id, anomaly_id,
           CASE kind WHEN 'mitigated' THEN 'updated' ELSE kind END,
           at, actor, severity, impact,
           CASE kind WHEN 'mitigated' THEN 'mitigated: ' || coalesce(detail, '') ELSE detail END
    FROM anomaly_events;
DELETE FROM sqlite_sequence WHERE name = 'anomaly_events_old';
INSERT INTO sqlite_sequence (name, seq) SELECT 'anomaly_events_old', seq FROM sqlite_sequence WHERE name = 'anomaly_events';
DROP TABLE anomaly_events;
ALTER TABLE anomaly_events_old RENAME TO anomaly_events;
CREATE INDEX anomaly_events_by_anomaly ON anomaly_events (anomaly_id, id);
