//! The Cloud Billing export: summed inside BigQuery per hour, project, service, SKU, region
//! and (in the detailed export) resource, never pulling raw line items. Costs are summed as
//! integer nano-units (each row's FLOAT64 rounded once), so the sum is exact. Every run
//! re-reads `restate_hours` because the export restates recent rows.

use super::{Line, BILLING_PROVIDER};
use crate::clouds::retry::{retrying, Backoff};
use crate::clouds::Vault;
use crate::domain::focus::Tags;
use crate::domain::money::{Amount, Currency};
use crate::ingest::sources::window::{self, Cursor, Window};
use crate::ingest::sources::{CostSource, Pull};
use crate::ledger::Supersede;
use crate::providers::gcp::connection::{client, transient, GcpSettings};
use chrono::{DateTime, Duration, TimeZone, Utc};
use gcp_bigquery_client::model::get_query_results_parameters::GetQueryResultsParameters;
use gcp_bigquery_client::model::query_request::QueryRequest;
use gcp_bigquery_client::model::table_row::TableRow;
use gcp_bigquery_client::Client;
use std::collections::BTreeMap;

/// The cursor row's name.
pub const SOURCE: &str = super::EXPORT_SOURCE;
/// Rows per result page.
const PAGE_ROWS: i32 = 5000;
/// Export nano-units (1e-9) to ledger units (1e-11).
const NANO_TO_UNITS: i64 = 100;

pub struct BillingExport {
    settings: GcpSettings,
    vault: Vault,
    page_rows: i32,
}

impl BillingExport {
    pub fn new(settings: GcpSettings, vault: Vault) -> Self {
        BillingExport { settings, vault, page_rows: PAGE_ROWS }
    }

    /// Smaller result pages (tests exercise paging with a few rows).
    pub fn with_page_rows(mut self, rows: i32) -> Self {
        self.page_rows = rows.max(1);
        self
    }

    fn backoff(&self) -> Backoff {
        Backoff::new(self.settings.max_attempts)
    }

    /// Whether the table is the detailed (resource-level) export: it has a `resource` record.
    async fn detailed(&self, client: &Client) -> anyhow::Result<bool> {
        let (project, dataset, table) = self.table()?;
        let found =
            retrying("tables.get", self.backoff(), transient, || client.table().get(&project, &dataset, &table, None))
                .await?;
        Ok(found.schema.fields.unwrap_or_default().iter().any(|f| f.name == "resource"))
    }

    fn table(&self) -> anyhow::Result<(String, String, String)> {
        self.settings
            .table_parts()
            .ok_or_else(|| anyhow::anyhow!("providers.gcp.billing_table is not PROJECT.DATASET.TABLE"))
    }

    fn sql(&self, w: &Window, detailed: bool) -> anyhow::Result<String> {
        let (p, d, t) = self.table()?;
        let safe = |s: &str| s.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c));
        anyhow::ensure!(
            safe(&p) && safe(&d) && safe(&t),
            "providers.gcp.billing_table has characters BigQuery names cannot"
        );
        let resource = if detailed { "resource.name" } else { "CAST(NULL AS STRING)" };
        let ts = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ");
        Ok(format!(
            "SELECT UNIX_SECONDS(TIMESTAMP_TRUNC(usage_start_time, HOUR)) AS hour, billing_account_id, \
             project.id AS project_id, ANY_VALUE(project.name) AS project_name, service.description AS service, \
             sku.id AS sku_id, ANY_VALUE(sku.description) AS sku, location.region AS region, {resource} AS resource, currency, \
             SUM(CAST(ROUND(cost * 1000000000) AS INT64)) AS cost_nanos, \
             SUM(IFNULL((SELECT SUM(CAST(ROUND(c.amount * 1000000000) AS INT64)) FROM UNNEST(credits) c), 0)) AS credit_nanos \
             FROM `{p}.{d}.{t}` \
             WHERE usage_start_time >= TIMESTAMP(\"{}\") AND usage_start_time < TIMESTAMP(\"{}\") \
             GROUP BY hour, billing_account_id, project_id, service, sku_id, region, resource, currency",
            ts(w.from),
            ts(w.to)
        ))
    }

    /// Every result row, page by page.
    async fn rows(&self, client: &Client, sql: String) -> anyhow::Result<Vec<TableRow>> {
        let project = self.settings.query_project();
        let mut request = QueryRequest::new(sql);
        request.max_results = Some(self.page_rows);
        let first =
            retrying("jobs.query", self.backoff(), transient, || client.job().query(&project, request.clone())).await?;
        let job = first.job_reference.as_ref().and_then(|r| r.job_id.clone());
        let location = first.job_reference.as_ref().and_then(|r| r.location.clone());
        let (mut rows, mut token, mut complete) =
            (first.rows.unwrap_or_default(), first.page_token, first.job_complete.unwrap_or(true));
        while !complete || token.is_some() {
            let job = job.as_deref().ok_or_else(|| anyhow::anyhow!("BigQuery answered without a job reference"))?;
            let params = GetQueryResultsParameters {
                page_token: token.clone(),
                max_results: Some(self.page_rows),
                location: location.clone(),
                ..Default::default()
            };
            let page = retrying("jobs.getQueryResults", self.backoff(), transient, || {
                client.job().get_query_results(&project, job, params.clone())
            })
            .await?;
            complete = page.job_complete.unwrap_or(true);
            if !complete {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                continue;
            }
            rows.extend(page.rows.unwrap_or_default());
            token = page.page_token;
        }
        Ok(rows)
    }
}

fn cell(row: &TableRow, i: usize) -> Option<String> {
    let value = row.columns.as_ref()?.get(i)?.value.as_ref()?;
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn nanos(row: &TableRow, i: usize) -> anyhow::Result<i64> {
    let text = cell(row, i).unwrap_or_else(|| "0".into());
    let n: i64 = text.parse().map_err(|e| anyhow::anyhow!("cost '{text}': {e}"))?;
    n.checked_mul(NANO_TO_UNITS).ok_or_else(|| anyhow::anyhow!("cost '{text}' is out of range"))
}

/// One aggregated row (columns in the order `sql` selects them).
fn line(row: &TableRow) -> anyhow::Result<Line> {
    let hour: i64 = cell(row, 0).unwrap_or_default().parse().map_err(|e| anyhow::anyhow!("hour: {e}"))?;
    let cost = nanos(row, 10)?;
    let credits = nanos(row, 11)?;
    let currency = cell(row, 9).unwrap_or_else(|| "USD".into());
    Ok(Line {
        hour: Utc.timestamp_opt(hour, 0).single().ok_or_else(|| anyhow::anyhow!("bad hour {hour}"))?,
        billing_account: cell(row, 1).unwrap_or_default(),
        project: cell(row, 2).unwrap_or_default(),
        project_name: cell(row, 3),
        service: cell(row, 4).unwrap_or_else(|| "Unassigned".into()),
        sku_id: cell(row, 5),
        sku: cell(row, 6),
        region: cell(row, 7),
        resource: cell(row, 8),
        currency: Currency::parse(&currency).map_err(|e| anyhow::anyhow!("{e}"))?,
        list_cost: Amount::from_units(cost),
        billed_cost: Amount::from_units(cost + credits),
        description: None,
        consumed: None,
        tags: Tags::default(),
    })
}

#[async_trait::async_trait]
impl CostSource for BillingExport {
    fn name(&self) -> &str {
        SOURCE
    }

    async fn pull(&self, cursor: Option<String>, now: DateTime<Utc>) -> anyhow::Result<Pull> {
        let cursor = Cursor::parse(cursor.as_deref())?;
        let backfill = Duration::days(i64::from(self.settings.backfill_days));
        let w = window::next(cursor.as_ref(), now, backfill, Duration::hours(1), Duration::days(7));
        let client = client(&self.settings, &self.vault).await?;
        let detailed = self.detailed(&client).await?;
        let mut costs = Vec::new();
        // The newest exported hour per project: job estimates up to it are replaced.
        let mut covered: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
        for row in self.rows(&client, self.sql(&w, detailed)?).await? {
            let mut line = line(&row)?;
            line.description = line.sku.take();
            if line.service == super::BIGQUERY {
                let newest = covered.entry(line.project.clone()).or_insert(line.hour);
                *newest = (*newest).max(line.hour);
            }
            costs.push(line.record());
        }
        let supersedes = covered
            .into_iter()
            .map(|(project, newest)| Supersede {
                source: super::JOBS_SOURCE.into(),
                provider: BILLING_PROVIDER.into(),
                sub_account: project,
                service: super::BIGQUERY.into(),
                until: newest + Duration::hours(1),
            })
            .collect();
        let next = Cursor {
            from: window::after(&w, None, Duration::hours(i64::from(self.settings.restate_hours))),
            note: None,
        };
        Ok(Pull { supersedes, ..Pull::costs(costs, &next, w.more) })
    }

    async fn test_connection(&self) -> anyhow::Result<String> {
        let client = client(&self.settings, &self.vault).await?;
        let detailed = self.detailed(&client).await?;
        let kind = if detailed { "detailed (resource-level)" } else { "standard" };
        Ok(format!("BigQuery answered: {} is a {kind} billing export", self.settings.billing_table))
    }
}
