//! Google Cloud: the BigQuery billing export, minutes-fresh job metadata for the projects in
//! `job_projects`, and the BigQuery executor (cancel a job).

use super::{field, Connection, Provider, Wiring};
use crate::execute::bigquery::BigQueryExecutor;
use crate::ingest::providers::gcp::{BillingExport, JobMetadata};
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
