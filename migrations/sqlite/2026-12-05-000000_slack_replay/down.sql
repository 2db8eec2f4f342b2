DROP TABLE slack_requests_seen;
