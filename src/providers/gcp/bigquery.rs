//! BigQuery: cancel the job a proposal names (`PROJECT:LOCATION.JOB_ID`; cancelling a script
//! cancels its children) and verify it is DONE. BigQuery has no dry-run for a cancel, so a
//! dry run reads the job instead, which checks the id and the permission to see it. Labels
//! are read from the job at execution time for the protection check (BigQuery labels cannot
//! hold ':', so protect with e.g. `costguard-protect=true`).

use crate::approval::store::ActionRow;
use crate::clouds::retry::{retrying, Backoff};
use crate::clouds::Vault;
use crate::domain::optimizer::ActionKind;
use crate::execute::{Executor, Verification};
use crate::providers::gcp::connection::{client, transient, GcpSettings, JobRef};
use gcp_bigquery_client::model::job::Job;
use std::collections::BTreeMap;

pub struct BigQueryExecutor {
    settings: GcpSettings,
    vault: Vault,
}

/// How a job stands after a cancel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Cancelled,
    /// It finished by itself before the cancel reached it: stopped all the same.
    FinishedAnyway,
    StillRunning,
}

pub fn outcome(job: &Job) -> Outcome {
    let status = job.status.as_ref();
    match status.and_then(|s| s.state.as_deref()) {
        Some("DONE") => match status.and_then(|s| s.error_result.as_ref()).and_then(|e| e.reason.as_deref()) {
            Some("stopped") => Outcome::Cancelled,
            _ => Outcome::FinishedAnyway,
        },
        _ => Outcome::StillRunning,
    }
}

impl BigQueryExecutor {
    pub fn new(settings: GcpSettings, vault: Vault) -> Self {
        BigQueryExecutor { settings, vault }
    }

    fn job(action: &ActionRow) -> anyhow::Result<JobRef> {
        JobRef::parse(&action.target).ok_or_else(|| anyhow::anyhow!("{} is not PROJECT:LOCATION.JOB_ID", action.target))
    }

    async fn get(&self, r: &JobRef) -> anyhow::Result<Job> {
        let client = client(&self.settings, &self.vault).await?;
        let backoff = Backoff::new(self.settings.max_attempts);
        Ok(retrying("jobs.get", backoff, transient, || client.job().get_job(&r.project, &r.job, Some(&r.location)))
            .await?)
    }
}

#[async_trait::async_trait]
impl Executor for BigQueryExecutor {
    fn handles(&self, kind: ActionKind) -> bool {
        kind == ActionKind::CancelBigqueryJob
    }

    fn plan(&self, action: &ActionRow) -> String {
        format!("cancel BigQuery job {} (jobs.cancel), then check that it is DONE", action.target)
    }

    /// A cancelled job reaches DONE on its own time, usually seconds.
    fn verify_patience(&self) -> std::time::Duration {
        std::time::Duration::from_secs(120)
    }

    async fn target_tags(&self, action: &ActionRow) -> anyhow::Result<Option<BTreeMap<String, String>>> {
        let job = self.get(&Self::job(action)?).await?;
        let labels = job.configuration.and_then(|c| c.labels).unwrap_or_default();
        Ok(Some(labels.into_iter().collect()))
    }

    async fn rehearse(&self, action: &ActionRow) -> anyhow::Result<String> {
        let job = self.get(&Self::job(action)?).await?;
        let state = job.status.and_then(|s| s.state).unwrap_or_default();
        Ok(format!("would cancel BigQuery job {} (now {state})", action.target))
    }

    async fn execute(&self, action: &ActionRow, _idempotency_key: &str) -> anyhow::Result<()> {
        // Cancelling a finished or cancelled job is accepted and changes nothing.
        let r = Self::job(action)?;
        let client = client(&self.settings, &self.vault).await?;
        let backoff = Backoff::new(self.settings.max_attempts);
        retrying("jobs.cancel", backoff, transient, || client.job().cancel_job(&r.project, &r.job, Some(&r.location)))
            .await?;
        Ok(())
    }

    async fn verify(&self, action: &ActionRow) -> anyhow::Result<Verification> {
        let job = self.get(&Self::job(action)?).await?;
        Ok(match outcome(&job) {
            Outcome::Cancelled => Verification::Done,
            Outcome::FinishedAnyway => {
                tracing::info!(job = %action.target, "the job had finished by itself before the cancel");
                Verification::Done
            }
            Outcome::StillRunning => Verification::Pending,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(state: &str, reason: Option<&str>) -> Job {
        serde_json::from_value(serde_json::json!({
            "status": {"state": state, "errorResult": reason.map(|r| serde_json::json!({"reason": r, "message": "Job execution was cancelled"}))}
        }))
        .unwrap()
    }

    #[test]
    fn only_a_done_job_counts_as_stopped() {
        assert_eq!(outcome(&job("DONE", Some("stopped"))), Outcome::Cancelled);
        assert_eq!(outcome(&job("DONE", None)), Outcome::FinishedAnyway);
        assert_eq!(outcome(&job("RUNNING", None)), Outcome::StillRunning);
        assert!(JobRef::parse("p:US.job_1").is_some());
        assert!(JobRef::parse("p/US/job").is_none());
    }
}
