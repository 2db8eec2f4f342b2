-- Unused on SQLite (one server per file), kept so both trees hold the same versions.
-- Leadership among replicas (src/cluster.rs): one row, taken and renewed on the database's
-- clock; whoever holds an unexpired lease runs the background work.
CREATE TABLE leases (
    name TEXT PRIMARY KEY NOT NULL,
    holder TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
