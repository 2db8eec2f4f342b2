-- Budgets: a definition (validated JSON: amount, currency, period, scope, thresholds), who
-- manages it (the API and dashboard, or config.toml), and its status as of the last sweep.
CREATE TABLE budgets (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    spec TEXT NOT NULL,
    managed_by TEXT NOT NULL CHECK (managed_by IN ('api', 'config')),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    status TEXT,
    evaluated_at TIMESTAMP
);

-- Each threshold crossed, once per budget, period and threshold (the unique key is what makes
-- it once, across restarts and replicas); the notifier reads them in id order.
CREATE TABLE budget_crossings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    budget_id TEXT NOT NULL REFERENCES budgets (id) ON DELETE CASCADE,
    period_start TIMESTAMP NOT NULL,
    percent BIGINT NOT NULL,
    basis TEXT NOT NULL CHECK (basis IN ('actual', 'forecast')),
    at TIMESTAMP NOT NULL,
    UNIQUE (budget_id, period_start, percent, basis)
);

-- What each series' baseline expects of every step of a week ahead (domain::budget::profile).
ALTER TABLE detect_series ADD COLUMN forecast_profile TEXT;
