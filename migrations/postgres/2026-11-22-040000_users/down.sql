ALTER TABLE detect_series DROP COLUMN history;
DROP TABLE provider_settings;
DROP TABLE credentials;
DROP TABLE setup_tokens;
DROP TABLE login_failures;
DROP TABLE sessions;
DROP TABLE users;
