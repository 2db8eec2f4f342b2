//! Google Cloud: the Cloud Billing export, aggregated inside BigQuery (`export.rs`), and the
//! minutes-fresh signal from BigQuery job metadata (`jobs.rs`), whose estimates the export
//! replaces once it covers their hours; the BigQuery executor (`bigquery.rs`, cancel a job);
//! the connection (`connection.rs`).

pub mod bigquery;
pub mod connection;
pub mod export;
pub mod jobs;

pub use export::BillingExport;
pub use jobs::JobMetadata;

use crate::domain::focus::{CostRecord, Tags, Usage};
use crate::domain::money::{Amount, Currency};
use chrono::{DateTime, Duration, Utc};

pub const BILLING_PROVIDER: &str = "Google Cloud";
/// The cursor rows' names: the billing export's, and the job metadata's (whose estimates the
/// export supersedes).
pub const EXPORT_SOURCE: &str = "gcp";
pub const JOBS_SOURCE: &str = "gcp-jobs";
/// The service whose jobs are metered live.
pub const BIGQUERY: &str = "BigQuery";

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
    pub fn record(self) -> CostRecord {
        let (quantity, unit) = match self.consumed {
            Some((q, u)) => (crate::domain::focus::DecimalText::parse(&q).ok(), Some(u)),
            None => (None, None),
        };
        let usage = Usage {
            provider: BILLING_PROVIDER,
            billing_account_id: self.billing_account,
            sub_account_id: Some(self.project),
            service_name: self.service,
            currency: self.currency,
            start: self.hour,
            end: self.hour + Duration::hours(1),
            billed_cost: self.billed_cost,
            effective_cost: self.billed_cost,
        };
        CostRecord {
            charge_description: self.description,
            consumed_quantity: quantity,
            consumed_unit: unit,
            invoice_issuer_name: Some("Google".into()),
            list_cost: Some(self.list_cost),
            publisher_name: Some("Google".into()),
            region_name: self.region.clone(),
            region_id: self.region,
            resource_name: self.resource.clone(),
            resource_id: self.resource,
            sku_id: self.sku_id,
            sub_account_name: self.project_name,
            tags: self.tags,
            ..CostRecord::usage(usage)
        }
    }
}

use super::{field, Connection, Provider, Wiring};
use crate::providers::gcp::bigquery::BigQueryExecutor;
use std::sync::Arc;

pub const PROVIDER: Provider = Provider {
    name: "gcp",
    title: "Google Cloud (BigQuery billing export and jobs)",
    credentials: &[field("service_account_json", "Service account key (JSON)")],
    validate: |s| s.gcp.validate(),
    connect,
};

fn connect(w: &Wiring<'_>) -> Connection {
    let gcp = &w.settings.gcp;
    if !gcp.enabled {
        return Connection::default();
    }
    let mut connection =
        Connection::default().source(Arc::new(BillingExport::new(gcp.clone(), w.vault.clone())), &gcp.schedule);
    if !gcp.job_projects.is_empty() {
        connection = connection.source(Arc::new(JobMetadata::new(gcp.clone(), w.vault.clone())), &gcp.jobs_schedule);
    }
    connection.executor(Arc::new(BigQueryExecutor::new(gcp.clone(), w.vault.clone())))
}
