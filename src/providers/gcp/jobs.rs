//! The fast signal: BigQuery job metadata (jobs.list), minutes fresh where the billing export
//! lags by hours. Each finished job's bytes billed times the configured on-demand price is
//! an estimated cost, charged to the hour the job ended and to its root job (a script's
//! children count for the script), so a looping script shows up as one resource whose cost
//! runs away, and cancelling that script stops it. The billing export replaces these
//! estimates once it covers their hours (see `export.rs`).

use super::Line;
use crate::clouds::retry::{retrying, Backoff};
use crate::clouds::Vault;
use crate::domain::focus::Tags;
use crate::domain::money::{Amount, Currency};
use crate::ingest::sources::window::{self, Cursor};
use crate::ingest::sources::{CostSource, Pull};
use crate::providers::gcp::connection::{client, transient, GcpSettings, JobRef};
use chrono::{DateTime, Duration, DurationRound, TimeZone, Utc};
use futures_util::StreamExt;
use gcp_bigquery_client::model::job_list_jobs::JobListJobs;
use gcp_bigquery_client::model::job_list_parameters::{JobListParameters, Projection};
use std::collections::BTreeMap;

/// The cursor row's name.
pub const SOURCE: &str = super::JOBS_SOURCE;
pub const SERVICE: &str = super::BIGQUERY;
/// BigQuery stops any job after six hours: a job ending in an hour was created at most this
/// long before it, so listing from here finds every job that contributes.
const MAX_JOB_HOURS: i64 = 6;
const TIB: i128 = 1 << 40;

/// What CostGuard needs of one job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobFacts {
    pub job: JobRef,
    pub parent: Option<String>,
    pub ended: Option<DateTime<Utc>>,
    pub bytes_billed: u64,
    pub labels: BTreeMap<String, String>,
}

fn millis(text: Option<&String>) -> Option<DateTime<Utc>> {
    let ms: i64 = text?.parse().ok()?;
    Utc.timestamp_millis_opt(ms).single()
}

impl JobFacts {
    pub fn from_listing(project: &str, j: &JobListJobs) -> Option<JobFacts> {
        let reference = j.job_reference.as_ref()?;
        let job = JobRef {
            project: reference.project_id.clone().unwrap_or_else(|| project.to_string()),
            location: reference.location.clone().unwrap_or_else(|| "US".into()),
            job: reference.job_id.clone()?,
        };
        let stats = j.statistics.as_ref();
        let bytes = stats.and_then(|s| s.query.as_ref()).and_then(|q| q.total_bytes_billed.as_ref());
        Some(JobFacts {
            job,
            parent: stats.and_then(|s| s.parent_job_id.clone()),
            ended: millis(stats.and_then(|s| s.end_time.as_ref())),
            bytes_billed: bytes.and_then(|b| b.parse().ok()).unwrap_or(0),
            labels: j.configuration.as_ref().and_then(|c| c.labels.clone()).unwrap_or_default().into_iter().collect(),
        })
    }
}

/// Bytes billed and the root job's labels, per (hour ended, root job).
pub type Estimates = BTreeMap<(DateTime<Utc>, JobRef), (u64, BTreeMap<String, String>)>;

/// Sums finished jobs' bytes billed per (hour ended, root job), for hours from `from`, with
/// the root's labels.
/// Pure: the maths of the fast signal, tested without BigQuery.
pub fn estimate(jobs: &[JobFacts], from: DateTime<Utc>) -> Estimates {
    let labels: BTreeMap<&str, &BTreeMap<String, String>> =
        jobs.iter().map(|j| (j.job.job.as_str(), &j.labels)).collect();
    let mut sums = Estimates::new();
    for j in jobs.iter().filter(|j| j.bytes_billed > 0) {
        let Some(hour) = j.ended.and_then(|e| e.duration_trunc(Duration::hours(1)).ok()) else { continue };
        if hour < from {
            continue;
        }
        let root = JobRef { job: j.parent.clone().unwrap_or_else(|| j.job.job.clone()), ..j.job.clone() };
        let root_labels = labels.get(root.job.as_str()).map(|l| (*l).clone()).unwrap_or_else(|| j.labels.clone());
        let entry = sums.entry((hour, root)).or_insert((0, root_labels));
        entry.0 += j.bytes_billed;
    }
    sums
}

/// bytes × price / TiB, rounded to the nearest ledger unit.
pub fn cost_of(bytes: u64, price_per_tib: Amount) -> Amount {
    let units = (i128::from(bytes) * i128::from(price_per_tib.units()) + TIB / 2) / TIB;
    Amount::from_units(i64::try_from(units).unwrap_or(i64::MAX))
}

pub struct JobMetadata {
    settings: GcpSettings,
    vault: Vault,
}

impl JobMetadata {
    pub fn new(settings: GcpSettings, vault: Vault) -> Self {
        JobMetadata { settings, vault }
    }

    /// Every job of a project created since `since`, all pages (a transient failure lists again).
    async fn list(
        &self,
        client: &gcp_bigquery_client::Client,
        project: &str,
        since: DateTime<Utc>,
    ) -> anyhow::Result<Vec<JobFacts>> {
        let params = JobListParameters {
            all_users: Some(true),
            projection: Some(Projection::Full),
            min_creation_time: u64::try_from(since.timestamp_millis()).ok(),
            max_results: Some(1000),
            ..Default::default()
        };
        let listing = || async {
            let mut jobs = Vec::new();
            let mut pages = std::pin::pin!(client.job().get_job_list(project, Some(params.clone())));
            while let Some(page) = pages.next().await {
                jobs.extend(page?.jobs.unwrap_or_default());
            }
            Ok::<_, gcp_bigquery_client::error::BQError>(jobs)
        };
        let jobs = retrying("jobs.list", Backoff::new(self.settings.max_attempts), transient, listing).await?;
        Ok(jobs.iter().filter_map(|j| JobFacts::from_listing(project, j)).collect())
    }
}

#[async_trait::async_trait]
impl CostSource for JobMetadata {
    fn name(&self) -> &str {
        SOURCE
    }

    async fn pull(&self, cursor: Option<String>, now: DateTime<Utc>) -> anyhow::Result<Pull> {
        let cursor = Cursor::parse(cursor.as_deref())?;
        let w =
            window::next(cursor.as_ref(), now, Duration::hours(MAX_JOB_HOURS), Duration::hours(1), Duration::days(1));
        let client = client(&self.settings, &self.vault).await?;
        let price = Amount::parse(&self.settings.price_per_tib)
            .map_err(|e| anyhow::anyhow!("providers.gcp.price_per_tib: {e}"))?;
        let currency = Currency::parse(&self.settings.currency).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut costs = Vec::new();
        for project in &self.settings.job_projects {
            let jobs = self.list(&client, project, w.from - Duration::hours(MAX_JOB_HOURS)).await?;
            for ((hour, root), (bytes, labels)) in estimate(&jobs, w.from) {
                let cost = cost_of(bytes, price);
                let line = Line {
                    hour,
                    billing_account: root.project.clone(),
                    project: root.project.clone(),
                    project_name: None,
                    service: SERVICE.into(),
                    sku_id: Some("job-estimate".into()),
                    sku: None,
                    region: Some(root.location.to_lowercase()),
                    resource: Some(root.to_string()),
                    currency: currency.clone(),
                    list_cost: cost,
                    billed_cost: cost,
                    description: Some("Estimated from BigQuery job metadata: bytes billed x price per TiB".into()),
                    consumed: Some((bytes.to_string(), "Bytes".into())),
                    tags: Tags::from_pairs(labels.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
                };
                costs.push(line.record());
            }
        }
        // The next run reads the last full hour again (jobs still finishing land in it).
        let next = Cursor { from: window::after(&w, None, Duration::hours(2)), note: None };
        Ok(Pull { estimates_of: Some(super::EXPORT_SOURCE), ..Pull::costs(costs, &next, w.more) })
    }

    async fn test_connection(&self) -> anyhow::Result<String> {
        let client = client(&self.settings, &self.vault).await?;
        let mut seen = 0;
        for project in &self.settings.job_projects {
            seen += self.list(&client, project, Utc::now() - Duration::hours(1)).await?.len();
        }
        Ok(format!("BigQuery listed {seen} job(s) of the last hour in {} project(s)", self.settings.job_projects.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str, parent: Option<&str>, minute: i64, bytes: u64) -> JobFacts {
        JobFacts {
            job: JobRef { project: "p".into(), location: "US".into(), job: id.into() },
            parent: parent.map(str::to_string),
            ended: Some(Utc.with_ymd_and_hms(2026, 11, 21, 2, 0, 0).unwrap() + Duration::minutes(minute)),
            bytes_billed: bytes,
            labels: if parent.is_none() { [("team".to_string(), "data".to_string())].into() } else { BTreeMap::new() },
        }
    }

    #[test]
    fn children_count_for_their_script_in_the_hour_they_end() {
        let jobs = [
            job("script", None, 0, 0),
            job("c1", Some("script"), 10, 1 << 40),
            job("c2", Some("script"), 70, 1 << 39),
            job("solo", None, 20, 1 << 30),
        ];
        let from = Utc.with_ymd_and_hms(2026, 11, 21, 0, 0, 0).unwrap();
        let sums = estimate(&jobs, from);
        let script: Vec<_> = sums.iter().filter(|((_, r), _)| r.job == "script").collect();
        assert_eq!(script.len(), 2, "one line per hour");
        assert_eq!(script[0].1 .0, 1 << 40);
        assert_eq!(script[0].1 .1.get("team").map(String::as_str), Some("data"), "the script's labels");
        assert_eq!(script[0].0 .1.to_string(), "p:US.script");
        let late = Utc.with_ymd_and_hms(2026, 11, 21, 3, 0, 0).unwrap();
        assert_eq!(estimate(&jobs, late).len(), 1, "hours before the window are left to earlier runs");
    }

    #[test]
    fn a_tib_at_the_list_price_costs_the_list_price() {
        let price = Amount::parse("6.25").unwrap();
        assert_eq!(cost_of(1 << 40, price), price);
        assert_eq!(cost_of(1 << 39, price), Amount::parse("3.125").unwrap());
        assert_eq!(cost_of(0, price), Amount::ZERO);
    }
}
