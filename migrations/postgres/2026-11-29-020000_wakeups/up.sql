-- Cross-process wake-ups (src/cluster.rs): a process that wrote to the ledger without being
-- the leader (a follower replica, a CLI import) bumps `seq`; the leader's detective polls it.
CREATE TABLE wakeups (
    topic TEXT PRIMARY KEY NOT NULL,
    seq BIGINT NOT NULL
);
INSERT INTO wakeups (topic, seq) VALUES ('ledger', 0);
