-- An anomaly's timeline records its mitigation (an action on it was executed and verified)
-- as an entry of its own, which the notifier announces and PagerDuty resolves on. SQLite
-- cannot change a CHECK in place: the table is rebuilt, its AUTOINCREMENT high-water mark
-- kept (the notifier's cursor reads ids in order and must never see one again).
CREATE TABLE anomaly_events_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    anomaly_id TEXT NOT NULL REFERENCES anomalies (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('opened', 'updated', 'mitigated', 'resolved', 'feedback')),
    at TIMESTAMP NOT NULL,
    actor TEXT NOT NULL,
    severity TEXT NOT NULL,
    impact BIGINT NOT NULL,
    detail TEXT
);
INSERT INTO anomaly_events_new (id, anomaly_id, kind, at, actor, severity, impact, detail)
    SELECT id, anomaly_id, kind, at, actor, severity, impact, detail FROM anomaly_events;
-- Past mitigations were "updated" entries whose detail began "mitigated: ".
UPDATE anomaly_events_new SET kind = 'mitigated', detail = substr(detail, 12)
    WHERE kind = 'updated' AND detail LIKE 'mitigated: %';
DELETE FROM sqlite_sequence WHERE name = 'anomaly_events_new';
INSERT INTO sqlite_sequence (name, seq) SELECT 'anomaly_events_new', seq FROM sqlite_sequence WHERE name = 'anomaly_events';
DROP TABLE anomaly_events;
ALTER TABLE anomaly_events_new RENAME TO anomaly_events;
CREATE INDEX anomaly_events_by_anomaly ON anomaly_events (anomaly_id, id);
