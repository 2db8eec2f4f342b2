-- The notifier's outbox (src/notify): one row per message and destination, written in the
-- same transaction that advances the notifier's cursor over the event streams, so a restart
-- neither loses nor repeats one.
CREATE TABLE notifications (
    id TEXT PRIMARY KEY NOT NULL,
    -- 'anomaly_events:<id>' or 'action_transitions:<id>' plus the destination: unique, so
    -- re-reading an event never queues it twice.
    dedupe_key TEXT NOT NULL UNIQUE,
    destination TEXT NOT NULL,
    event TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    severity TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts BIGINT NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);
CREATE INDEX notifications_by_subject ON notifications (subject_id);

-- How far the notifier has read each event stream (the highest id handled).
CREATE TABLE notify_cursors (
    stream TEXT PRIMARY KEY NOT NULL,
    last_id BIGINT NOT NULL
);
