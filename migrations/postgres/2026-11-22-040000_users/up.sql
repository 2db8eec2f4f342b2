-- People who use the dashboard (src/auth). Passwords are Argon2id PHC strings.
CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'approver', 'admin')),
    password_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    disabled_at TIMESTAMP
);

-- Server-side sessions, so any replica can serve any browser. The cookie holds a random
-- token; only its SHA-256 is stored. Each session carries its own CSRF token.
CREATE TABLE sessions (
    token_hash TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

-- Failed log-ins, counted per user name and per address over a window (rate limiting that
-- holds across replicas).
CREATE TABLE login_failures (
    id BIGSERIAL PRIMARY KEY,
    scope TEXT NOT NULL CHECK (scope IN ('user', 'address')),
    subject TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX login_failures_by_subject ON login_failures (scope, subject, at);

-- The one-time link that creates the first admin on a fresh install.
CREATE TABLE setup_tokens (
    token_hash TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    created_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);

-- Provider credentials entered in the dashboard, AES-256-GCM encrypted (src/credentials).
-- Base64 of nonce and ciphertext; the associated data binds each value to its provider and field.
CREATE TABLE credentials (
    provider TEXT NOT NULL,
    field TEXT NOT NULL,
    nonce TEXT NOT NULL,
    ciphertext TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (provider, field)
);

-- Provider settings changed in the dashboard; they override config.toml.
CREATE TABLE provider_settings (
    provider TEXT PRIMARY KEY NOT NULL,
    enabled BOOLEAN NOT NULL,
    schedule TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    updated_by TEXT NOT NULL
);

-- What the detective saw per series over its lookback: actual, expected and band per point
-- (JSON), so the dashboard draws charts and totals without re-reading the ledger.
ALTER TABLE detect_series ADD COLUMN history TEXT NOT NULL DEFAULT '';
