-- Proposed remediations and their state machine (src/domain/approval). Amounts in 1e-11 units.
CREATE TABLE actions (
    id TEXT PRIMARY KEY NOT NULL,
    anomaly_id TEXT REFERENCES anomalies (id),
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    provider TEXT,
    account TEXT,
    params TEXT NOT NULL,
    risk TEXT NOT NULL CHECK (risk IN ('low', 'medium', 'high')),
    status TEXT NOT NULL CHECK (status IN ('proposed', 'pending_approval', 'approved', 'executing', 'verifying', 'succeeded', 'failed', 'rejected', 'expired', 'withdrawn', 'dry_run')),
    estimated_saving_per_hour BIGINT NOT NULL,
    proposed_by TEXT NOT NULL,
    routed_at TIMESTAMP,
    approvals TEXT NOT NULL,
    reason TEXT,
    idempotency_key TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL
);
CREATE INDEX actions_by_status ON actions (status, updated_at);
-- One proposal per anomaly, action kind and target.
CREATE UNIQUE INDEX actions_one_per_target ON actions (anomaly_id, kind, target) WHERE anomaly_id IS NOT NULL;

-- Every transition, with who, when, why and the build that made it.
CREATE TABLE action_transitions (
    id BIGSERIAL PRIMARY KEY,
    action_id TEXT NOT NULL REFERENCES actions (id),
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    command TEXT NOT NULL,
    actor TEXT NOT NULL,
    at TIMESTAMP NOT NULL,
    comment TEXT,
    reason TEXT,
    build_sha TEXT NOT NULL
);
CREATE INDEX action_transitions_by_action ON action_transitions (action_id, id);

-- The tamper-evident audit chain (src/domain/audit.rs): append-only.
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    before_state TEXT,
    after_state TEXT,
    build_sha TEXT NOT NULL,
    result TEXT NOT NULL,
    detail TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
