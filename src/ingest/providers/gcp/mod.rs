//! Google Cloud: the Cloud Billing export, aggregated inside BigQuery (`export.rs`), and the
//! minutes-fresh signal from BigQuery job metadata (`jobs.rs`), whose estimates the export
//! replaces once it covers their hours.

pub mod export;
pub mod jobs;

pub use export::BillingExport;
pub use jobs::JobMetadata;

use crate::domain::focus::{CostRecord, Tags};
use crate::domain::money::{Amount, Currency};
use chrono::{DateTime, Duration, Utc};

pub const PROVIDER: &str = "Google Cloud";

/// The fields that differ between an export row and a job estimate.
pub struct Line {
    pub hour: DateTime<Utc>,
    pub billing_account: String,
    pub project: String,
    pub project_name: Option<String>,
    pub service: String,
    pub sku_id: Option<String>,
    pub sku: Option<String>,
    pub region: Option<String>,
    pub resource: Option<String>,
    pub currency: Currency,
    pub list_cost: Amount,
    pub billed_cost: Amount,
    pub description: Option<String>,
    pub consumed: Option<(String, String)>,
    pub tags: Tags,
}

impl Line {
    pub fn record(self) -> anyhow::Result<CostRecord> {
        let (month, next) = crate::domain::time::billing_month(self.hour);
        let (quantity, unit) = match self.consumed {
            Some((q, u)) => (crate::domain::focus::DecimalText::parse(&q).ok(), Some(u)),
            None => (None, None),
        };
        Ok(CostRecord {
            availability_zone: None,
            billed_cost: self.billed_cost,
            billing_account_id: self.billing_account,
            billing_account_name: None,
            billing_currency: self.currency,
            billing_period_end: next,
            billing_period_start: month,
            charge_category: "Usage".into(),
            charge_class: None,
            charge_description: self.description,
            charge_frequency: Some("Usage-Based".into()),
            charge_period_end: self.hour + Duration::hours(1),
            charge_period_start: self.hour,
            commitment_discount_category: None,
            commitment_discount_id: None,
            commitment_discount_name: None,
            commitment_discount_status: None,
            commitment_discount_type: None,
            consumed_quantity: quantity,
            consumed_unit: unit,
            contracted_cost: None,
            contracted_unit_price: None,
            effective_cost: self.billed_cost,
            invoice_issuer_name: Some("Google".into()),
            list_cost: Some(self.list_cost),
            list_unit_price: None,
            pricing_category: None,
            pricing_quantity: None,
            pricing_unit: None,
            provider_name: PROVIDER.into(),
            publisher_name: Some("Google".into()),
            region_name: self.region.clone(),
            region_id: self.region,
            resource_name: self.resource.clone(),
            resource_id: self.resource,
            resource_type: None,
            service_category: None,
            service_name: self.service,
            sku_id: self.sku_id,
            sku_price_id: None,
            sub_account_id: Some(self.project),
            sub_account_name: self.project_name,
            tags: self.tags,
        })
    }
}
