-- The cost ledger: FinOps FOCUS 1.0 columns in snake_case. Amounts are BIGINT counts of
-- 10^-11 currency units (see src/domain/money.rs); quantities and unit prices are exact
-- decimal TEXT; times are UTC; Tags is canonical JSON text. record_key and content_hash
-- are 16-byte fingerprints (src/domain/record_key.rs).
CREATE TABLE cost_records (
    record_key BLOB PRIMARY KEY NOT NULL,
    content_hash BLOB NOT NULL,
    source TEXT NOT NULL,
    availability_zone TEXT,
    billed_cost BIGINT NOT NULL,
    billing_account_id TEXT NOT NULL,
    billing_account_name TEXT,
    billing_currency TEXT NOT NULL,
    billing_period_end TIMESTAMP NOT NULL,
    billing_period_start TIMESTAMP NOT NULL,
    charge_category TEXT NOT NULL,
    charge_class TEXT,
    charge_description TEXT,
    charge_frequency TEXT,
    charge_period_end TIMESTAMP NOT NULL,
    charge_period_start TIMESTAMP NOT NULL,
    commitment_discount_category TEXT,
    commitment_discount_id TEXT,
    commitment_discount_name TEXT,
    commitment_discount_status TEXT,
    commitment_discount_type TEXT,
    consumed_quantity TEXT,
    consumed_unit TEXT,
    contracted_cost BIGINT,
    contracted_unit_price TEXT,
    effective_cost BIGINT NOT NULL,
    invoice_issuer_name TEXT,
    list_cost BIGINT,
    list_unit_price TEXT,
    pricing_category TEXT,
    pricing_quantity TEXT,
    pricing_unit TEXT,
    provider_name TEXT NOT NULL,
    publisher_name TEXT,
    region_id TEXT,
    region_name TEXT,
    resource_id TEXT,
    resource_name TEXT,
    resource_type TEXT,
    service_category TEXT,
    service_name TEXT NOT NULL,
    sku_id TEXT,
    sku_price_id TEXT,
    sub_account_id TEXT,
    sub_account_name TEXT,
    tags TEXT,
    ingested_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX cost_records_by_period ON cost_records (charge_period_start);

CREATE TABLE llm_usage (
    record_key BLOB PRIMARY KEY NOT NULL,
    content_hash BLOB NOT NULL,
    source TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    api_key_id TEXT NOT NULL,
    api_key_name TEXT,
    project_id TEXT NOT NULL,
    bucket_start TIMESTAMP NOT NULL,
    bucket_end TIMESTAMP NOT NULL,
    input_tokens BIGINT NOT NULL,
    cached_input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    requests BIGINT NOT NULL,
    cost BIGINT,
    currency TEXT NOT NULL,
    ingested_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX llm_usage_by_bucket ON llm_usage (bucket_start);

-- API keys are stored only as a SHA-256 of the whole key (they are 256-bit random, so a
-- fast hash is safe and lets every request look its key up by index).
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'approver', 'admin')),
    key_prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP
);

-- Where each ingestion source has got to, and how its last run went.
CREATE TABLE ingest_cursors (
    source TEXT PRIMARY KEY NOT NULL,
    cursor TEXT NOT NULL,
    last_success_at TIMESTAMP,
    last_error TEXT,
    last_error_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL
);

-- The simulated clouds' resources that someone stopped (so a restart keeps them stopped).
CREATE TABLE sim_resource_stops (
    resource_id TEXT PRIMARY KEY NOT NULL,
    stopped_at TIMESTAMP NOT NULL,
    stopped_by TEXT NOT NULL
);
