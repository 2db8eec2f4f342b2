//! A FinOps FOCUS 1.x cost record, validated on parse.
//!
//! Both the CSV importer and the JSON API hand a row over as column name -> optional
//! text, so one parser decides what is valid. Empty cells and the bare word `NULL` are
//! absent values, as FOCUS exports write them.

use super::money::{parse_scaled, Amount, Currency, MoneyError};
use super::record_key::RecordKey;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

mod parse;

pub use parse::RowSource;

/// How a column's text is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Text,
    Money,
    Decimal,
    Timestamp,
    Tags,
}

/// One FOCUS column that CostGuard keeps. `required` columns must be present in a file's
/// header and non-empty in every row.
pub struct Column {
    pub name: &'static str,
    pub kind: ColumnKind,
    pub required: bool,
}

const fn col(name: &'static str, kind: ColumnKind, required: bool) -> Column {
    Column { name, kind, required }
}

use ColumnKind::{Decimal, Money, Tags as TagsKind, Text, Timestamp};

/// Every FOCUS 1.0 column the ledger stores, in FOCUS's alphabetical order.
pub const COLUMNS: &[Column] = &[
    col("AvailabilityZone", Text, false),
    col("BilledCost", Money, true),
    col("BillingAccountId", Text, true),
    col("BillingAccountName", Text, false),
    col("BillingCurrency", Text, true),
    col("BillingPeriodEnd", Timestamp, true),
    col("BillingPeriodStart", Timestamp, true),
    col("ChargeCategory", Text, true),
    col("ChargeClass", Text, false),
    col("ChargeDescription", Text, false),
    col("ChargeFrequency", Text, false),
    col("ChargePeriodEnd", Timestamp, true),
    col("ChargePeriodStart", Timestamp, true),
    col("CommitmentDiscountCategory", Text, false),
    col("CommitmentDiscountId", Text, false),
    col("CommitmentDiscountName", Text, false),
    col("CommitmentDiscountStatus", Text, false),
    col("CommitmentDiscountType", Text, false),
    col("ConsumedQuantity", Decimal, false),
    col("ConsumedUnit", Text, false),
    col("ContractedCost", Money, false),
    col("ContractedUnitPrice", Decimal, false),
    col("EffectiveCost", Money, true),
    col("InvoiceIssuerName", Text, false),
    col("ListCost", Money, false),
    col("ListUnitPrice", Decimal, false),
    col("PricingCategory", Text, false),
    col("PricingQuantity", Decimal, false),
    col("PricingUnit", Text, false),
    col("ProviderName", Text, true),
    col("PublisherName", Text, false),
    col("RegionId", Text, false),
    col("RegionName", Text, false),
    col("ResourceId", Text, false),
    col("ResourceName", Text, false),
    col("ResourceType", Text, false),
    col("ServiceCategory", Text, false),
    col("ServiceName", Text, true),
    col("SkuId", Text, false),
    col("SkuPriceId", Text, false),
    col("SubAccountId", Text, false),
    col("SubAccountName", Text, false),
    col("Tags", TagsKind, false),
];

pub fn required_columns() -> impl Iterator<Item = &'static str> {
    COLUMNS.iter().filter(|c| c.required).map(|c| c.name)
}

/// Why a row was refused: the column and what was wrong with its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {problem}")]
pub struct FieldError {
    pub column: &'static str,
    pub problem: String,
}

impl FieldError {
    fn new(column: &'static str, problem: impl ToString) -> Self {
        FieldError { column, problem: problem.to_string() }
    }
}

/// A validated decimal kept as its original text (quantities and unit prices: exact, not summed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecimalText(String);

impl DecimalText {
    pub fn parse(text: &str) -> Result<Self, MoneyError> {
        let t = text.trim();
        // Any scale works for validation; 30 places keeps tiny quantities from rounding to "invalid".
        parse_scaled(t, 0)
            .or_else(|| parse_scaled(t, 30))
            .map(|_| DecimalText(t.to_string()))
            .ok_or_else(|| MoneyError::NotANumber(text.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// FOCUS Tags: a JSON object, kept with sorted keys so equal tags compare equal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tags(BTreeMap<String, serde_json::Value>);

impl Tags {
    pub fn parse(text: &str) -> Result<Self, String> {
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(map)) => Ok(Tags(map.into_iter().collect())),
            Ok(_) => Err("Tags must be a JSON object".to_string()),
            Err(e) => Err(format!("Tags is not valid JSON: {e}")),
        }
    }
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Tags(pairs.into_iter().map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string()))).collect())
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.as_str())
    }
    /// Canonical JSON text (sorted keys, no spaces).
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostRecord {
    pub availability_zone: Option<String>,
    pub billed_cost: Amount,
    pub billing_account_id: String,
    pub billing_account_name: Option<String>,
    pub billing_currency: Currency,
    pub billing_period_end: DateTime<Utc>,
    pub billing_period_start: DateTime<Utc>,
    pub charge_category: String,
    pub charge_class: Option<String>,
    pub charge_description: Option<String>,
    pub charge_frequency: Option<String>,
    pub charge_period_end: DateTime<Utc>,
    pub charge_period_start: DateTime<Utc>,
    pub commitment_discount_category: Option<String>,
    pub commitment_discount_id: Option<String>,
    pub commitment_discount_name: Option<String>,
    pub commitment_discount_status: Option<String>,
    pub commitment_discount_type: Option<String>,
    pub consumed_quantity: Option<DecimalText>,
    pub consumed_unit: Option<String>,
    pub contracted_cost: Option<Amount>,
    pub contracted_unit_price: Option<DecimalText>,
    pub effective_cost: Amount,
    pub invoice_issuer_name: Option<String>,
    pub list_cost: Option<Amount>,
    pub list_unit_price: Option<DecimalText>,
    pub pricing_category: Option<String>,
    pub pricing_quantity: Option<DecimalText>,
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
    pub tags: Tags,
}

/// What every provider adapter knows of a usage charge; [`CostRecord::usage`] leaves the
/// rest (commitments, prices, names) empty for the adapter to fill in where it knows them.
pub struct Usage {
    pub provider: &'static str,
    pub billing_account_id: String,
    pub sub_account_id: Option<String>,
    pub service_name: String,
    pub currency: Currency,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub billed_cost: Amount,
    pub effective_cost: Amount,
}

impl CostRecord {
    /// A usage-based charge in the calendar month of its start.
    pub fn usage(u: Usage) -> CostRecord {
        let (billing_period_start, billing_period_end) = super::time::billing_month(u.start);
        CostRecord {
            availability_zone: None,
            billed_cost: u.billed_cost,
            billing_account_id: u.billing_account_id,
            billing_account_name: None,
            billing_currency: u.currency,
            billing_period_end,
            billing_period_start,
            charge_category: "Usage".into(),
            charge_class: None,
            charge_description: None,
            charge_frequency: Some("Usage-Based".into()),
            charge_period_end: u.end,
            charge_period_start: u.start,
            commitment_discount_category: None,
            commitment_discount_id: None,
            commitment_discount_name: None,
            commitment_discount_status: None,
            commitment_discount_type: None,
            consumed_quantity: None,
            consumed_unit: None,
            contracted_cost: None,
            contracted_unit_price: None,
            effective_cost: u.effective_cost,
            invoice_issuer_name: Some(u.provider.into()),
            list_cost: None,
            list_unit_price: None,
            pricing_category: None,
            pricing_quantity: None,
            pricing_unit: None,
            provider_name: u.provider.into(),
            publisher_name: Some(u.provider.into()),
            region_id: None,
            region_name: None,
            resource_id: None,
            resource_name: None,
            resource_type: None,
            service_category: None,
            service_name: u.service_name,
            sku_id: None,
            sku_price_id: None,
            sub_account_id: u.sub_account_id,
            sub_account_name: None,
            tags: Tags::default(),
        }
    }

    /// The natural identity: every dimension that tells two line items apart, but no
    /// amount, quantity or display name, so a restated record (same identity, new cost)
    /// replaces the old one instead of adding to it.
    pub fn key(&self) -> RecordKey {
        let time = |t: &DateTime<Utc>| t.timestamp().to_string();
        RecordKey::of(&[
            "focus-v1",
            &self.provider_name,
            &self.billing_account_id,
            opt(&self.sub_account_id),
            &time(&self.billing_period_start),
            &time(&self.charge_period_start),
            &time(&self.charge_period_end),
            &self.charge_category,
            opt(&self.charge_class),
            opt(&self.charge_frequency),
            opt(&self.charge_description),
            &self.service_name,
            opt(&self.sku_id),
            opt(&self.sku_price_id),
            opt(&self.resource_id),
            opt(&self.region_id),
            opt(&self.availability_zone),
            opt(&self.pricing_category),
            opt(&self.pricing_unit),
            opt(&self.consumed_unit),
            opt(&self.commitment_discount_id),
            opt(&self.commitment_discount_status),
            self.billing_currency.as_str(),
            &self.tags.to_json(),
        ])
    }

    /// A fingerprint of everything else, so an identical re-import writes nothing.
    pub fn content_hash(&self) -> RecordKey {
        let amount = |a: &Option<Amount>| a.map(|a| a.units().to_string()).unwrap_or_default();
        let dec = |d: &Option<DecimalText>| d.as_ref().map(|d| d.as_str().to_string()).unwrap_or_default();
        RecordKey::of(&[
            &self.billed_cost.units().to_string(),
            &self.effective_cost.units().to_string(),
            &amount(&self.list_cost),
            &amount(&self.contracted_cost),
            &dec(&self.consumed_quantity),
            &dec(&self.pricing_quantity),
            &dec(&self.list_unit_price),
            &dec(&self.contracted_unit_price),
            &self.billing_period_end.timestamp().to_string(),
            opt(&self.billing_account_name),
            opt(&self.sub_account_name),
            opt(&self.resource_name),
            opt(&self.resource_type),
            opt(&self.region_name),
            opt(&self.service_category),
            opt(&self.publisher_name),
            opt(&self.invoice_issuer_name),
            opt(&self.commitment_discount_category),
            opt(&self.commitment_discount_name),
            opt(&self.commitment_discount_type),
        ])
    }
}

fn opt(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("")
}
#[cfg(test)]
mod tests;
