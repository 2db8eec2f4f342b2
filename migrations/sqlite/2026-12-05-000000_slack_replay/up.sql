-- Signatures of Slack interactivity requests seen within the replay window: a request
-- replayed inside it (same signature) is refused, on every replica.
CREATE TABLE slack_requests_seen (
    signature TEXT PRIMARY KEY NOT NULL,
    seen_at BIGINT NOT NULL
);
