-- The detective's findings. Amounts are integers in 1e-11 currency units, like the ledger.
CREATE TABLE anomalies (
    id TEXT PRIMARY KEY NOT NULL,
    series_key TEXT NOT NULL,
    series_kind TEXT NOT NULL CHECK (series_kind IN ('service', 'tag', 'llm', 'manual')),
    provider TEXT,
    sub_account TEXT,
    service TEXT,
    label TEXT NOT NULL,
    origin TEXT NOT NULL CHECK (origin IN ('detected', 'manual')),
    direction TEXT NOT NULL CHECK (direction IN ('up', 'down')),
    state TEXT NOT NULL CHECK (state IN ('open', 'resolved')),
    severity TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    description TEXT,
    started_at TIMESTAMP NOT NULL,
    last_out_at TIMESTAMP NOT NULL,
    resolved_at TIMESTAMP,
    step_secs BIGINT NOT NULL,
    points BIGINT NOT NULL,
    actual BIGINT NOT NULL,
    expected BIGINT NOT NULL,
    projected_daily BIGINT NOT NULL,
    currency TEXT NOT NULL,
    peak_z DOUBLE NOT NULL,
    root_causes TEXT NOT NULL,
    feedback TEXT CHECK (feedback IN ('expected', 'confirmed')),
    feedback_by TEXT,
    feedback_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL
);
CREATE INDEX anomalies_by_series ON anomalies (series_key, started_at);
CREATE INDEX anomalies_by_start ON anomalies (started_at);
-- One open detected incident per series and direction, whatever races happen.
CREATE UNIQUE INDEX anomalies_one_open ON anomalies (series_key, direction) WHERE state = 'open' AND origin = 'detected';

-- Every change of an anomaly, for its timeline.
CREATE TABLE anomaly_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    anomaly_id TEXT NOT NULL REFERENCES anomalies (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('opened', 'updated', 'resolved', 'feedback')),
    at TIMESTAMP NOT NULL,
    actor TEXT NOT NULL,
    severity TEXT NOT NULL,
    impact BIGINT NOT NULL,
    detail TEXT
);
CREATE INDEX anomaly_events_by_anomaly ON anomaly_events (anomaly_id, id);

-- "Expected" feedback: no new anomaly on the series while the suppression lasts.
CREATE TABLE anomaly_suppressions (
    id TEXT PRIMARY KEY NOT NULL,
    series_key TEXT NOT NULL,
    anomaly_id TEXT REFERENCES anomalies (id) ON DELETE CASCADE,
    from_at TIMESTAMP NOT NULL,
    until_at TIMESTAMP NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX anomaly_suppressions_by_series ON anomaly_suppressions (series_key, until_at);

-- Each watched series as of the detective's last run (warm-up, latest expectation).
CREATE TABLE detect_series (
    series_key TEXT PRIMARY KEY NOT NULL,
    series_kind TEXT NOT NULL,
    label TEXT NOT NULL,
    step_secs BIGINT NOT NULL,
    points BIGINT NOT NULL,
    ready BOOLEAN NOT NULL,
    last_point_at TIMESTAMP NOT NULL,
    last_actual BIGINT NOT NULL,
    last_expected BIGINT NOT NULL,
    currency TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
