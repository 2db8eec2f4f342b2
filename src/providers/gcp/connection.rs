//! Google Cloud: settings and the BigQuery client for the billing export, job metadata and
//! job cancellation.

use crate::clouds::Vault;
use gcp_bigquery_client::Client;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GcpSettings {
    /// Pull the Cloud Billing export and BigQuery job metadata; also enables the job executor.
    pub enabled: bool,
    /// The billing export lands a few times an hour: 6-field cron, seconds first.
    pub schedule: String,
    /// The fast signal: job metadata, minutes fresh.
    pub jobs_schedule: String,
    /// Empty: BigQuery itself. Otherwise a BigQuery REST v2 base URL (a local peer), e.g.
    /// http://127.0.0.1:9050/bigquery/v2; no Google credential is sent there.
    pub endpoint_url: String,
    /// The export table, PROJECT.DATASET.TABLE (standard gcp_billing_export_v1_... or
    /// detailed gcp_billing_export_resource_v1_..., which adds resource names).
    pub billing_table: String,
    /// The project that runs (and pays for) the aggregation queries; empty: the table's.
    pub query_project: String,
    /// Projects whose BigQuery jobs are watched for the fast signal.
    pub job_projects: Vec<String>,
    /// On-demand price per TiB billed, to estimate a job's cost from its bytes.
    pub price_per_tib: String,
    /// Currency of `price_per_tib` and of the export.
    pub currency: String,
    /// Days read on the first run.
    pub backfill_days: u32,
    /// Hours re-read every run: the export restates recent rows.
    pub restate_hours: u32,
    /// Attempts per call on throttling and 5xx, with exponential backoff and jitter.
    pub max_attempts: u32,
}

impl Default for GcpSettings {
    fn default() -> Self {
        GcpSettings {
            enabled: false,
            schedule: "0 */30 * * * *".into(),
            jobs_schedule: "0 */2 * * * *".into(),
            endpoint_url: String::new(),
            billing_table: String::new(),
            query_project: String::new(),
            job_projects: Vec::new(),
            price_per_tib: "6.25".into(),
            currency: "USD".into(),
            backfill_days: 30,
            restate_hours: 72,
            max_attempts: 5,
        }
    }
}

impl GcpSettings {
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        crate::domain::money::Amount::parse(&self.price_per_tib)
            .map_err(|e| ("providers.gcp.price_per_tib", format!("'{}': {e}", self.price_per_tib)))?;
        crate::domain::money::Currency::parse(&self.currency).map_err(|e| ("providers.gcp.currency", e.to_string()))?;
        if self.enabled {
            crate::cron::validate_cron(&self.schedule).map_err(|e| ("providers.gcp.schedule", e))?;
            crate::cron::validate_cron(&self.jobs_schedule).map_err(|e| ("providers.gcp.jobs_schedule", e))?;
            if self.table_parts().is_none() {
                return Err((
                    "providers.gcp.billing_table",
                    format!("'{}' is not PROJECT.DATASET.TABLE", self.billing_table),
                ));
            }
        }
        if self.max_attempts == 0 {
            return Err(("providers.gcp.max_attempts", "must be at least 1".into()));
        }
        Ok(())
    }

    /// (project, dataset, table) of the export.
    pub fn table_parts(&self) -> Option<(String, String, String)> {
        let mut parts = self.billing_table.trim().splitn(3, '.');
        let (p, d, t) = (parts.next()?, parts.next()?, parts.next()?);
        (!p.is_empty() && !d.is_empty() && !t.is_empty()).then(|| (p.into(), d.into(), t.into()))
    }

    pub fn query_project(&self) -> String {
        match self.query_project.trim() {
            "" => self.table_parts().map(|(p, _, _)| p).unwrap_or_default(),
            p => p.to_string(),
        }
    }
}

/// A local peer ignores tokens; this one keeps Google credentials away from it.
#[derive(Clone)]
struct PeerToken;

#[async_trait::async_trait]
impl gcp_bigquery_client::auth::Authenticator for PeerToken {
    async fn access_token(&self) -> Result<String, gcp_bigquery_client::error::BQError> {
        Ok("local-peer".into())
    }
}

/// The BigQuery client: a service-account key from the encrypted store, else Application
/// Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, workload identity, metadata server).
pub async fn client(settings: &GcpSettings, vault: &Vault) -> anyhow::Result<Client> {
    let mut builder = gcp_bigquery_client::client_builder::ClientBuilder::new();
    if let Some(url) = crate::clouds::endpoint(&settings.endpoint_url) {
        builder.with_v2_base_url(url);
        return Ok(builder.build_from_authenticator(std::sync::Arc::new(PeerToken)).await?);
    }
    match vault.field("gcp", "service_account_json").await? {
        Some(json) => {
            let key = gcp_bigquery_client::yup_oauth2::parse_service_account_key(json.expose_secret())
                .map_err(|e| anyhow::anyhow!("the stored service account key is not valid JSON: {e}"))?;
            Ok(builder.build_from_service_account_key(key, true).await?)
        }
        None => Ok(builder.build_from_application_default_credentials().await?),
    }
}

/// Throttling (429, rateLimitExceeded), 5xx (backendError) and broken connections are worth
/// another try; anything else (a bad query, no permission) is not.
pub fn transient(e: &gcp_bigquery_client::error::BQError) -> bool {
    use gcp_bigquery_client::error::BQError;
    match e {
        BQError::RequestError(_) => true,
        BQError::ResponseError { error } => {
            let code = error.error.code;
            let reasons = error.error.errors.iter().filter_map(|e| e.get("reason"));
            code == 429 || code >= 500 || reasons.into_iter().any(|r| r == "rateLimitExceeded" || r == "backendError")
        }
        _ => false,
    }
}

/// `PROJECT:LOCATION.JOB_ID`, BigQuery's own full job id, as stored in ResourceId.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct JobRef {
    pub project: String,
    pub location: String,
    pub job: String,
}

impl JobRef {
    pub fn parse(text: &str) -> Option<JobRef> {
        let (project, rest) = text.split_once(':')?;
        let (location, job) = rest.split_once('.')?;
        let ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c));
        (ok(project) && ok(location) && ok(job)).then(|| JobRef {
            project: project.into(),
            location: location.into(),
            job: job.into(),
        })
    }
}

impl std::fmt::Display for JobRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}.{}", self.project, self.location, self.job)
    }
}
