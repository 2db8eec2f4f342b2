ALTER TABLE sessions DROP COLUMN notice;
ALTER TABLE users DROP COLUMN last_login_at;
DROP TABLE login_failures;
CREATE TABLE login_failures (
    id BIGSERIAL PRIMARY KEY,
    scope TEXT NOT NULL CHECK (scope IN ('user', 'address')),
    subject TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX login_failures_by_subject ON login_failures (scope, subject, at);
