//! Database rows for ledger records, converted from the validated domain types.

use crate::db::schema::{cost_records, llm_usage};
use crate::db::types::UtcTime;
use crate::domain::focus::CostRecord;
use crate::domain::llm::LlmUsage;
use crate::domain::record_key::RecordKey;
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = cost_records, treat_none_as_default_value = false)]
pub struct CostRow {
    pub record_key: Vec<u8>,
    pub content_hash: Vec<u8>,
    pub source: String,
    pub availability_zone: Option<String>,
    pub billed_cost: i64,
    pub billing_account_id: String,
    pub billing_account_name: Option<String>,
    pub billing_currency: String,
    pub billing_period_end: UtcTime,
    pub billing_period_start: UtcTime,
    pub charge_category: String,
    pub charge_class: Option<String>,
    pub charge_description: Option<String>,
    pub charge_frequency: Option<String>,
    pub charge_period_end: UtcTime,
    pub charge_period_start: UtcTime,
    pub commitment_discount_category: Option<String>,
    pub commitment_discount_id: Option<String>,
    pub commitment_discount_name: Option<String>,
    pub commitment_discount_status: Option<String>,
    pub commitment_discount_type: Option<String>,
    pub consumed_quantity: Option<String>,
    pub consumed_unit: Option<String>,
    pub contracted_cost: Option<i64>,
    pub contracted_unit_price: Option<String>,
    pub effective_cost: i64,
    pub invoice_issuer_name: Option<String>,
    pub list_cost: Option<i64>,
    pub list_unit_price: Option<String>,
    pub pricing_category: Option<String>,
    pub pricing_quantity: Option<String>,
    pub pricing_unit: Option<String>,
    pub provider_name: String,
    pub publisher_name: Option<String>,
    pub region_id: Option<String>,
    pub region_name: Option<String>,
    pub resource_id: Option<String>,
    pub resource_name: Option<String>,
    pub resource_type: Option<String>,
    pub service_category: Option<String>,
    pub service_name: String,
    pub sku_id: Option<String>,
    pub sku_price_id: Option<String>,
    pub sub_account_id: Option<String>,
    pub sub_account_name: Option<String>,
    pub tags: Option<String>,
    pub ingested_at: UtcTime,
    pub updated_at: UtcTime,
}

impl CostRow {
    /// `key` is `r.key()`, passed in because callers already computed it to check duplicates.
    pub fn new(r: CostRecord, key: RecordKey, source: &str, now: UtcTime) -> Self {
        let key = key.to_vec();
        let content_hash = r.content_hash().to_vec();
        let text = |d: Option<crate::domain::focus::DecimalText>| d.map(|d| d.as_str().to_string());
        CostRow {
            record_key: key,
            content_hash,
            source: source.to_string(),
            availability_zone: r.availability_zone,
            billed_cost: r.billed_cost.units(),
            billing_account_id: r.billing_account_id,
            billing_account_name: r.billing_account_name,
            billing_currency: r.billing_currency.to_string(),
            billing_period_end: r.billing_period_end.into(),
            billing_period_start: r.billing_period_start.into(),
            charge_category: r.charge_category,
            charge_class: r.charge_class,
            charge_description: r.charge_description,
            charge_frequency: r.charge_frequency,
            charge_period_end: r.charge_period_end.into(),
            charge_period_start: r.charge_period_start.into(),
            commitment_discount_category: r.commitment_discount_category,
            commitment_discount_id: r.commitment_discount_id,
            commitment_discount_name: r.commitment_discount_name,
            commitment_discount_status: r.commitment_discount_status,
            commitment_discount_type: r.commitment_discount_type,
            consumed_quantity: text(r.consumed_quantity),
            consumed_unit: r.consumed_unit,
            contracted_cost: r.contracted_cost.map(|a| a.units()),
            contracted_unit_price: text(r.contracted_unit_price),
            effective_cost: r.effective_cost.units(),
            invoice_issuer_name: r.invoice_issuer_name,
            list_cost: r.list_cost.map(|a| a.units()),
            list_unit_price: text(r.list_unit_price),
            pricing_category: r.pricing_category,
            pricing_quantity: text(r.pricing_quantity),
            pricing_unit: r.pricing_unit,
            provider_name: r.provider_name,
            publisher_name: r.publisher_name,
            region_id: r.region_id,
            region_name: r.region_name,
            resource_id: r.resource_id,
            resource_name: r.resource_name,
            resource_type: r.resource_type,
            service_category: r.service_category,
            service_name: r.service_name,
            sku_id: r.sku_id,
            sku_price_id: r.sku_price_id,
            sub_account_id: r.sub_account_id,
            sub_account_name: r.sub_account_name,
            tags: (!r.tags.is_empty()).then(|| r.tags.to_json()),
            ingested_at: now.clone(),
            updated_at: now,
        }
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = llm_usage, treat_none_as_default_value = false)]
pub struct LlmUsageRow {
    pub record_key: Vec<u8>,
    pub content_hash: Vec<u8>,
    pub source: String,
    pub provider: String,
    pub model: String,
    pub api_key_id: String,
    pub api_key_name: Option<String>,
    pub project_id: String,
    pub bucket_start: NaiveDateTime,
    pub bucket_end: NaiveDateTime,
    pub input_tokens: i64,
    pub cached_input_tokens: i64,
    pub output_tokens: i64,
    pub requests: i64,
    pub cost: Option<i64>,
    pub currency: String,
    pub ingested_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl LlmUsageRow {
    pub fn new(u: LlmUsage, source: &str, now: NaiveDateTime) -> Self {
        LlmUsageRow {
            record_key: u.key().to_vec(),
            content_hash: u.content_hash().to_vec(),
            source: source.to_string(),
            provider: u.provider,
            model: u.model,
            api_key_id: u.api_key_id,
            api_key_name: u.api_key_name,
            project_id: u.project_id,
            bucket_start: u.bucket_start.naive_utc(),
            bucket_end: u.bucket_end.naive_utc(),
            input_tokens: u.input_tokens,
            cached_input_tokens: u.cached_input_tokens,
            output_tokens: u.output_tokens,
            requests: u.requests,
            cost: u.cost.map(|c| c.units()),
            currency: u.currency.to_string(),
            ingested_at: now,
            updated_at: now,
        }
    }
}
