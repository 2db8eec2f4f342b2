//! Reading a FOCUS row: each column's text checked against its kind and FOCUS's allowed
//! values, the first bad column named.

use super::{CostRecord, DecimalText, FieldError, Tags};
use crate::domain::money::{Amount, Currency};
use crate::domain::time::parse_utc;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// FOCUS 1.0 allowed values, matched without regard to case and written canonically.
const CHARGE_CATEGORIES: &[&str] = &["Usage", "Purchase", "Tax", "Credit", "Adjustment"];
const CHARGE_FREQUENCIES: &[&str] = &["One-Time", "Recurring", "Usage-Based"];
const CHARGE_CLASSES: &[&str] = &["Correction"];

fn canonical(allowed: &[&str], column: &'static str, value: &str) -> Result<String, FieldError> {
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(value))
        .map(|a| a.to_string())
        .ok_or_else(|| FieldError::new(column, format!("'{value}' is not one of {}", allowed.join(", "))))
}

/// Looks up a column's value in a row; absent, empty and `NULL` all read as None.
pub trait RowSource {
    fn value(&self, column: &str) -> Option<&str>;
}

impl RowSource for BTreeMap<String, String> {
    fn value(&self, column: &str) -> Option<&str> {
        self.get(column).map(String::as_str)
    }
}

struct Reader<'a, R: RowSource + ?Sized>(&'a R);

impl<R: RowSource + ?Sized> Reader<'_, R> {
    /// The cell, trimmed; None when empty or "NULL".
    fn text(&self, column: &'static str) -> Option<&str> {
        self.0.value(column).map(str::trim).filter(|v| !v.is_empty() && *v != "NULL")
    }
    fn opt(&self, column: &'static str) -> Option<String> {
        self.text(column).map(str::to_string)
    }
    fn req(&self, column: &'static str) -> Result<String, FieldError> {
        self.opt(column).ok_or_else(|| FieldError::new(column, "a value is required"))
    }
    fn amount(&self, column: &'static str) -> Result<Option<Amount>, FieldError> {
        self.text(column).map(|v| Amount::parse(v).map_err(|e| FieldError::new(column, e))).transpose()
    }
    fn req_amount(&self, column: &'static str) -> Result<Amount, FieldError> {
        self.amount(column)?.ok_or_else(|| FieldError::new(column, "a value is required"))
    }
    fn decimal(&self, column: &'static str) -> Result<Option<DecimalText>, FieldError> {
        self.text(column).map(|v| DecimalText::parse(v).map_err(|e| FieldError::new(column, e))).transpose()
    }
    fn time(&self, column: &'static str) -> Result<DateTime<Utc>, FieldError> {
        let text = self.text(column).ok_or_else(|| FieldError::new(column, "a value is required"))?;
        parse_utc(text).map_err(|e| FieldError::new(column, e))
    }
}

impl CostRecord {
    /// Parses one row, reporting the first bad column.
    pub fn parse<R: RowSource + ?Sized>(row: &R) -> Result<Self, FieldError> {
        let r = Reader(row);
        let charge_period_start = r.time("ChargePeriodStart")?;
        let charge_period_end = r.time("ChargePeriodEnd")?;
        if charge_period_end <= charge_period_start {
            return Err(FieldError::new("ChargePeriodEnd", "must be after ChargePeriodStart"));
        }
        let billing_period_start = r.time("BillingPeriodStart")?;
        let billing_period_end = r.time("BillingPeriodEnd")?;
        if billing_period_end <= billing_period_start {
            return Err(FieldError::new("BillingPeriodEnd", "must be after BillingPeriodStart"));
        }
        Ok(CostRecord {
            availability_zone: r.opt("AvailabilityZone"),
            billed_cost: r.req_amount("BilledCost")?,
            billing_account_id: r.req("BillingAccountId")?,
            billing_account_name: r.opt("BillingAccountName"),
            billing_currency: Currency::parse(&r.req("BillingCurrency")?)
                .map_err(|e| FieldError::new("BillingCurrency", e))?,
            billing_period_end,
            billing_period_start,
            charge_category: canonical(CHARGE_CATEGORIES, "ChargeCategory", &r.req("ChargeCategory")?)?,
            charge_class: r.opt("ChargeClass").map(|v| canonical(CHARGE_CLASSES, "ChargeClass", &v)).transpose()?,
            charge_description: r.opt("ChargeDescription"),
            charge_frequency: r
                .opt("ChargeFrequency")
                .map(|v| canonical(CHARGE_FREQUENCIES, "ChargeFrequency", &v))
                .transpose()?,
            charge_period_end,
            charge_period_start,
            commitment_discount_category: r.opt("CommitmentDiscountCategory"),
            commitment_discount_id: r.opt("CommitmentDiscountId"),
            commitment_discount_name: r.opt("CommitmentDiscountName"),
            commitment_discount_status: r.opt("CommitmentDiscountStatus"),
            commitment_discount_type: r.opt("CommitmentDiscountType"),
            consumed_quantity: r.decimal("ConsumedQuantity")?,
            consumed_unit: r.opt("ConsumedUnit"),
            contracted_cost: r.amount("ContractedCost")?,
            contracted_unit_price: r.decimal("ContractedUnitPrice")?,
            effective_cost: r.req_amount("EffectiveCost")?,
            invoice_issuer_name: r.opt("InvoiceIssuerName"),
            list_cost: r.amount("ListCost")?,
            list_unit_price: r.decimal("ListUnitPrice")?,
            pricing_category: r.opt("PricingCategory"),
            pricing_quantity: r.decimal("PricingQuantity")?,
            pricing_unit: r.opt("PricingUnit"),
            provider_name: r.req("ProviderName")?,
            publisher_name: r.opt("PublisherName"),
            region_id: r.opt("RegionId"),
            region_name: r.opt("RegionName"),
            resource_id: r.opt("ResourceId"),
            resource_name: r.opt("ResourceName"),
            resource_type: r.opt("ResourceType"),
            service_category: r.opt("ServiceCategory"),
            service_name: r.req("ServiceName")?,
            sku_id: r.opt("SkuId"),
            sku_price_id: r.opt("SkuPriceId"),
            sub_account_id: r.opt("SubAccountId"),
            sub_account_name: r.opt("SubAccountName"),
            tags: r
                .opt("Tags")
                .map(|t| Tags::parse(&t).map_err(|e| FieldError::new("Tags", e)))
                .transpose()?
                .unwrap_or_default(),
        })
    }
}
