-- Rollups of the cost ledger, kept exact and current in the transaction that writes the
-- ledger (src/ledger/rollups.rs): every query, page and detection sweep that groups by
-- provider, sub-account, service or region reads these, and the raw ledger is read only
-- to drill down to resources and SKUs. Sums are split like the ledger's queries split them
-- (whole currency units and the remaining 10^-11 fraction, truncated toward zero), so no
-- column can overflow and a sum over rollups equals the sum over the rows. Each hour (and
-- day) is rebuilt whole by one GROUP BY, so its rows are unique by construction.
CREATE TABLE cost_hourly (
    hour TIMESTAMP NOT NULL,
    provider_name TEXT NOT NULL,
    sub_account_id TEXT,
    service_name TEXT NOT NULL,
    region_id TEXT,
    billing_currency TEXT NOT NULL,
    billed_whole BIGINT NOT NULL,
    billed_fraction BIGINT NOT NULL,
    effective_whole BIGINT NOT NULL,
    effective_fraction BIGINT NOT NULL,
    records BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX cost_hourly_by_hour ON cost_hourly (hour);

CREATE TABLE cost_daily (
    day TIMESTAMP NOT NULL,
    provider_name TEXT NOT NULL,
    sub_account_id TEXT,
    service_name TEXT NOT NULL,
    region_id TEXT,
    billing_currency TEXT NOT NULL,
    billed_whole BIGINT NOT NULL,
    billed_fraction BIGINT NOT NULL,
    effective_whole BIGINT NOT NULL,
    effective_fraction BIGINT NOT NULL,
    records BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX cost_daily_by_day ON cost_daily (day);

-- EffectiveCost per hour and tag key=value (the detective's tag series).
CREATE TABLE cost_tag_hourly (
    hour TIMESTAMP NOT NULL,
    tag_key TEXT NOT NULL,
    tag_value TEXT NOT NULL,
    billing_currency TEXT NOT NULL,
    effective_whole BIGINT NOT NULL,
    effective_fraction BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX cost_tag_hourly_by_hour ON cost_tag_hourly (hour);

-- Built for the rows already stored.
INSERT INTO cost_hourly
SELECT date_trunc('hour', charge_period_start), provider_name, sub_account_id, service_name,
       region_id, billing_currency, SUM(billed_cost / 100000000000), SUM(billed_cost % 100000000000),
       SUM(effective_cost / 100000000000), SUM(effective_cost % 100000000000), COUNT(*), MAX(updated_at)
FROM cost_records
GROUP BY 1, provider_name, sub_account_id, service_name, region_id, billing_currency;

INSERT INTO cost_daily
SELECT date_trunc('day', hour), provider_name, sub_account_id, service_name, region_id,
       billing_currency, SUM(billed_whole), SUM(billed_fraction), SUM(effective_whole),
       SUM(effective_fraction), SUM(records), MAX(updated_at)
FROM cost_hourly
GROUP BY 1, provider_name, sub_account_id, service_name, region_id, billing_currency;

INSERT INTO cost_tag_hourly
SELECT date_trunc('hour', c.charge_period_start), t.key,
       CASE WHEN json_typeof(t.value) = 'string' THEN t.value #>> '{}' ELSE CAST(t.value AS TEXT) END,
       c.billing_currency,
       SUM(c.effective_cost / 100000000000), SUM(c.effective_cost % 100000000000), MAX(c.updated_at)
FROM cost_records c, json_each(CAST(c.tags AS json)) AS t(key, value)
WHERE c.tags IS NOT NULL AND json_typeof(t.value) <> 'null'
GROUP BY 1, 2, 3, c.billing_currency;
