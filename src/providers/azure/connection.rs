//! Azure: settings, the Entra ID credential, and ARM clients for Cost Management (through
//! azure_mgmt_costmanagement) and for virtual machines (through azure_core's pipeline).

use crate::clouds::Vault;
use azure_core::auth::TokenCredential;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AzureSettings {
    /// Pull Cost Management for each scope; also enables the VM executor.
    pub enabled: bool,
    /// 6-field cron, seconds first.
    pub schedule: String,
    /// Empty: https://management.azure.com. Otherwise an ARM endpoint (a local peer).
    pub endpoint_url: String,
    /// Empty: https://login.microsoftonline.com. Where client-secret tokens come from.
    pub authority_host: String,
    /// Cost Management scopes, e.g. "subscriptions/0000-..." or
    /// "providers/Microsoft.Billing/billingAccounts/1234".
    pub scopes: Vec<String>,
    /// "Daily", or "Hourly" where the scope offers it.
    pub granularity: String,
    /// Days read on the first run.
    pub backfill_days: u32,
    /// Days re-read every run (Cost Management restates recent days).
    pub restate_days: u32,
    /// Attempts per call on throttling (429 with Retry-After) and 5xx.
    pub max_attempts: u32,
}

impl Default for AzureSettings {
    fn default() -> Self {
        AzureSettings {
            enabled: false,
            schedule: "0 20 */2 * * *".into(),
            endpoint_url: String::new(),
            authority_host: String::new(),
            scopes: Vec::new(),
            granularity: "Daily".into(),
            backfill_days: 30,
            restate_days: 3,
            max_attempts: 5,
        }
    }
}

impl AzureSettings {
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if !matches!(self.granularity.as_str(), "Daily" | "Hourly") {
            return Err(("providers.azure.granularity", format!("'{}' is not Daily or Hourly", self.granularity)));
        }
        if self.enabled {
            crate::cron::validate_cron(&self.schedule).map_err(|e| ("providers.azure.schedule", e))?;
            if self.scopes.is_empty() {
                return Err(("providers.azure.scopes", "name at least one scope, e.g. \"subscriptions/<id>\"".into()));
            }
        }
        if self.max_attempts == 0 {
            return Err(("providers.azure.max_attempts", "must be at least 1".into()));
        }
        Ok(())
    }

    pub fn endpoint(&self) -> String {
        crate::clouds::endpoint(&self.endpoint_url).unwrap_or_else(|| "https://management.azure.com".into())
    }
}

/// A client secret from the encrypted store, else azure_identity's default chain
/// (environment, workload identity, managed identity, Azure CLI).
pub async fn credential(settings: &AzureSettings, vault: &Vault) -> anyhow::Result<Arc<dyn TokenCredential>> {
    let tenant = vault.field("azure", "tenant_id").await?;
    let client = vault.field("azure", "client_id").await?;
    let secret = vault.field("azure", "client_secret").await?;
    if let (Some(tenant), Some(client), Some(secret)) = (tenant, client, secret) {
        let authority = crate::clouds::endpoint(&settings.authority_host)
            .unwrap_or_else(|| "https://login.microsoftonline.com".into());
        let http = azure_core::new_http_client();
        let credential = azure_identity::ClientSecretCredential::new(
            http,
            azure_core::Url::parse(&authority)?,
            tenant.expose_secret().to_string(),
            client.expose_secret().to_string(),
            secret.expose_secret().to_string(),
        );
        return Ok(Arc::new(credential));
    }
    Ok(azure_identity::create_credential()?)
}

/// The scope ARM tokens are asked for.
pub fn token_scope(settings: &AzureSettings) -> String {
    format!("{}/.default", settings.endpoint())
}

fn retry_options(settings: &AzureSettings) -> azure_core::RetryOptions {
    azure_core::RetryOptions::exponential(
        azure_core::ExponentialRetryOptions::default().max_retries(settings.max_attempts.saturating_sub(1)),
    )
}

/// ARM through azure_core's pipeline (retries on 429 honouring Retry-After, and on 5xx),
/// with the same credential and retry options for every call.
pub struct Arm {
    pipeline: azure_core::Pipeline,
    credential: Arc<dyn TokenCredential>,
    endpoint: azure_core::Url,
    scope: String,
    settings: AzureSettings,
}

impl Arm {
    pub async fn connect(settings: &AzureSettings, vault: &Vault) -> anyhow::Result<Arm> {
        let options = azure_core::ClientOptions::default().retry(retry_options(settings));
        Ok(Arm {
            pipeline: azure_core::Pipeline::new(Some("costguard"), None, options, Vec::new(), Vec::new()),
            credential: credential(settings, vault).await?,
            endpoint: azure_core::Url::parse(&settings.endpoint())?,
            scope: token_scope(settings),
            settings: settings.clone(),
        })
    }

    /// The Cost Management client of azure_mgmt_costmanagement on the same endpoint.
    pub fn cost_management(&self) -> anyhow::Result<azure_mgmt_costmanagement::Client> {
        Ok(azure_mgmt_costmanagement::Client::builder(self.credential.clone())
            .endpoint(self.endpoint.clone())
            .scopes(&[self.scope.as_str()])
            .retry(retry_options(&self.settings))
            .build()?)
    }

    /// One ARM call; `target` is a path under the endpoint (with its api-version) or a full
    /// URL ARM handed out (a nextLink).
    pub async fn call(
        &self,
        method: azure_core::Method,
        target: &str,
        body: Option<&serde_json::Value>,
    ) -> anyhow::Result<serde_json::Value> {
        let url = if target.starts_with("http") {
            let url = azure_core::Url::parse(target)?;
            // A nextLink elsewhere would receive our token.
            anyhow::ensure!(
                url.origin() == self.endpoint.origin(),
                "ARM handed out a link to {} instead of {}",
                url.origin().ascii_serialization(),
                self.endpoint.origin().ascii_serialization()
            );
            url
        } else {
            self.endpoint.join(target.trim_start_matches('/'))?
        };
        let mut request = azure_core::Request::new(url, method);
        let token = self.credential.get_token(&[self.scope.as_str()]).await?;
        request.insert_header(azure_core::headers::AUTHORIZATION, format!("Bearer {}", token.token.secret()));
        request.insert_header(azure_core::headers::CONTENT_TYPE, "application/json");
        match body {
            Some(b) => request.set_body(serde_json::to_vec(b)?),
            None => request.set_body(bytes::Bytes::new()),
        }
        let response = self.pipeline.send(&azure_core::Context::new(), &mut request).await?;
        let bytes = response.into_body().collect().await?;
        if bytes.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        Ok(serde_json::from_slice(&bytes)?)
    }
}
