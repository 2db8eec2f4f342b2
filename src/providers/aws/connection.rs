//! AWS: settings and the shared SDK configuration for Cost Explorer and EC2.

use crate::clouds::Vault;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AwsSettings {
    /// Pull AWS Cost Explorer on `schedule`; also enables the EC2 executor.
    pub enabled: bool,
    /// Cost Explorer refreshes a few times a day: 6-field cron, seconds first.
    pub schedule: String,
    /// Empty: AWS itself. Otherwise an endpoint for both Cost Explorer and EC2 (a local peer).
    pub endpoint_url: String,
    /// Cost Explorer answers in us-east-1; EC2 actions run in this region.
    pub region: String,
    /// "hourly", "daily", or "auto": hourly where the account has it enabled, else daily.
    pub granularity: String,
    /// Days fetched on the first run.
    pub backfill_days: u32,
    /// Days re-read every run even when Cost Explorer marks them final (late credits, refunds).
    pub restate_days: u32,
    /// A cost allocation tag whose values split each service and account (second pass); empty: none.
    pub tag_key: String,
    /// Resource-level EC2 costs (GetCostAndUsageWithResources, opt-in in the Cost Explorer
    /// settings, last 14 days): lets a proposal name the instance.
    pub resource_level: bool,
    /// The payer account for BillingAccountId; empty: each linked account stands for itself.
    pub billing_account_id: String,
    /// Attempts per call on throttling and 5xx (the SDK's standard retry, with jitter).
    pub max_attempts: u32,
}

impl Default for AwsSettings {
    fn default() -> Self {
        AwsSettings {
            enabled: false,
            schedule: "0 7 */4 * * *".into(),
            endpoint_url: String::new(),
            region: "us-east-1".into(),
            granularity: "auto".into(),
            backfill_days: 14,
            restate_days: 3,
            tag_key: String::new(),
            resource_level: false,
            billing_account_id: String::new(),
            max_attempts: 5,
        }
    }
}

impl AwsSettings {
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if !matches!(self.granularity.as_str(), "auto" | "hourly" | "daily") {
            return Err(("providers.aws.granularity", format!("'{}' is not auto, hourly or daily", self.granularity)));
        }
        if self.enabled {
            crate::cron::validate_cron(&self.schedule).map_err(|e| ("providers.aws.schedule", e))?;
        }
        if self.backfill_days == 0 || self.backfill_days > 366 {
            return Err(("providers.aws.backfill_days", "must be between 1 and 366".into()));
        }
        if self.max_attempts == 0 {
            return Err(("providers.aws.max_attempts", "must be at least 1".into()));
        }
        Ok(())
    }
}

/// The SDK configuration: keys from the encrypted store when both are set there, else the
/// SDK's default chain (environment, profiles, SSO, web identity, instance metadata).
pub async fn sdk_config(settings: &AwsSettings, vault: &Vault, region: &str) -> anyhow::Result<SdkConfig> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .retry_config(RetryConfig::standard().with_max_attempts(settings.max_attempts));
    if let Some(url) = crate::clouds::endpoint(&settings.endpoint_url) {
        loader = loader.endpoint_url(url);
    }
    let id = vault.field("aws", "access_key_id").await?;
    let secret = vault.field("aws", "secret_access_key").await?;
    if let (Some(id), Some(secret)) = (id, secret) {
        let credentials = aws_credential_types::Credentials::new(
            id.expose_secret(),
            secret.expose_secret(),
            None,
            None,
            "costguard-credential-store",
        );
        loader = loader.credentials_provider(credentials);
    }
    Ok(loader.load().await)
}

/// Cost Explorer's single endpoint region.
pub const COST_EXPLORER_REGION: &str = "us-east-1";
