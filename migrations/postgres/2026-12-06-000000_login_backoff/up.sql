-- Failed log-ins per user name and address: throttling backs off per pair (a stranger
-- guessing from one address never locks the owner out elsewhere), counts per address, and
-- tells the owner at their next log-in. The old per-scope rows only throttled; none is kept.
DROP TABLE login_failures;
CREATE TABLE login_failures (
    id BIGSERIAL PRIMARY KEY,
    user_name TEXT NOT NULL,
    address TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX login_failures_by_pair ON login_failures (user_name, address, at);
CREATE INDEX login_failures_by_address ON login_failures (address, at);
CREATE INDEX login_failures_by_time ON login_failures (at);

-- When each user last signed in: failures since then are the notice shown at the next one.
ALTER TABLE users ADD COLUMN last_login_at TIMESTAMP;
-- A one-time message for the session's first page (failed attempts since the last log-in).
ALTER TABLE sessions ADD COLUMN notice TEXT;
