//! The LLM kill switch: disable the API key a runaway series names.
//! - Anthropic: the Admin API sets the key's status to `inactive` (and `active` again for
//!   `enable_llm_key`, the undo). Verified by the key's status and by no usage on that key
//!   in the minutes after.
//! - OpenAI: the Admin API cannot pause a key. The closest supported action is deleting the
//!   project API key (its project is looked up from the usage API), which cannot be undone:
//!   the owner issues a new key. The default optimizer rule marks LLM disables high risk
//!   (two approvers) for this reason. Verified by the key being gone.

use crate::approval::store::ActionRow;
use crate::clouds::retry::Backoff;
use crate::clouds::Vault;
use crate::domain::approval::Status;
use crate::domain::optimizer::ActionKind;
use crate::execute::{Executor, Verification};
use crate::providers::llm::connection::{admin_key, call_json, header, LlmSettings};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Api {
    OpenAi,
    Anthropic,
}

pub struct LlmKeyExecutor {
    api: Api,
    base: String,
    backoff: Backoff,
    vault: Vault,
    http: reqwest::Client,
}

impl LlmKeyExecutor {
    pub fn anthropic<P>(settings: &LlmSettings<P>, vault: Vault) -> Self {
        Self::new(Api::Anthropic, settings, "https://api.anthropic.com", vault)
    }

    pub fn openai<P>(settings: &LlmSettings<P>, vault: Vault) -> Self {
        Self::new(Api::OpenAi, settings, "https://api.openai.com", vault)
    }

    fn new<P>(api: Api, settings: &LlmSettings<P>, default_base: &str, vault: Vault) -> Self {
        let base = crate::clouds::endpoint(&settings.endpoint_url).unwrap_or_else(|| default_base.into());
        LlmKeyExecutor { api, base, backoff: Backoff::new(settings.max_attempts), vault, http: reqwest::Client::new() }
    }

    async fn headers(&self) -> anyhow::Result<Vec<(&'static str, String)>> {
        Ok(match self.api {
            Api::Anthropic => {
                let key = header(&admin_key(&self.vault, "anthropic", "ANTHROPIC_ADMIN_KEY").await?);
                vec![("x-api-key", key), ("anthropic-version", crate::providers::llm::anthropic_usage::VERSION.into())]
            }
            Api::OpenAi => {
                let key = header(&admin_key(&self.vault, "openai", "OPENAI_ADMIN_KEY").await?);
                vec![("authorization", format!("Bearer {key}"))]
            }
        })
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        Ok(call_json(&self.http, method, &url, query, &self.headers().await?, body, self.backoff).await?)
    }

    fn key_id(action: &ActionRow) -> anyhow::Result<&str> {
        let id = action.target.as_str();
        anyhow::ensure!(
            !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c)),
            "'{id}' is not an API key id"
        );
        Ok(id)
    }

    /// Anthropic: the key as the Admin API describes it.
    async fn anthropic_key(&self, id: &str) -> anyhow::Result<Value> {
        self.call(Method::GET, &format!("/v1/organizations/api_keys/{id}"), &[], None).await
    }

    /// OpenAI: the project a key belongs to, from its usage in the last week.
    async fn openai_project(&self, id: &str) -> anyhow::Result<String> {
        let now = chrono::Utc::now();
        let query = [
            ("start_time", (now - chrono::Duration::days(7)).timestamp().to_string()),
            ("bucket_width", "1d".into()),
            ("api_key_ids", id.to_string()),
            ("group_by", "project_id".into()),
        ]
        .map(|(k, v)| (k.to_string(), v));
        let usage = self.call(Method::GET, "/v1/organization/usage/completions", &query, None).await?;
        usage["data"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|b| b["results"].as_array().cloned().unwrap_or_default())
            .find_map(|r| r["project_id"].as_str().map(str::to_string))
            .ok_or_else(|| anyhow::anyhow!("no usage of key {id} in the last week names its project"))
    }

    /// Whether an OpenAI project key still exists.
    async fn openai_key_exists(&self, project: &str, id: &str) -> anyhow::Result<bool> {
        match self.call(Method::GET, &format!("/v1/organization/projects/{project}/api_keys/{id}"), &[], None).await {
            Ok(_) => Ok(true),
            Err(e)
                if e.downcast_ref::<crate::providers::llm::connection::ApiError>().is_some_and(|a| a.status == 404) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    fn wanted_status(kind: ActionKind) -> &'static str {
        if kind == ActionKind::EnableLlmKey {
            "active"
        } else {
            "inactive"
        }
    }
}

#[async_trait::async_trait]
impl Executor for LlmKeyExecutor {
    fn handles(&self, kind: ActionKind) -> bool {
        kind == ActionKind::DisableLlmKey || (kind == ActionKind::EnableLlmKey && self.api == Api::Anthropic)
    }

    fn handles_provider(&self, provider: Option<&str>) -> bool {
        let provider = provider.unwrap_or_default().to_ascii_lowercase();
        match self.api {
            Api::Anthropic => provider.contains("anthropic"),
            Api::OpenAi => provider.contains("openai"),
        }
    }

    fn plan(&self, action: &ActionRow) -> String {
        match (self.api, action.kind) {
            (Api::Anthropic, ActionKind::EnableLlmKey) => format!("set Anthropic API key {} active again", action.target),
            (Api::Anthropic, _) => format!("set Anthropic API key {} inactive (undo: enable_llm_key)", action.target),
            (Api::OpenAi, _) => format!(
                "delete OpenAI project API key {} (OpenAI cannot pause a key; this cannot be undone, its owner issues a new one)",
                action.target
            ),
        }
    }

    async fn target_tags(&self, action: &ActionRow) -> anyhow::Result<Option<BTreeMap<String, String>>> {
        let id = Self::key_id(action)?;
        Ok(Some(match self.api {
            Api::Anthropic => {
                let key = self.anthropic_key(id).await?;
                let field = |f: &str| key[f].as_str().unwrap_or_default().to_string();
                [("name".to_string(), field("name")), ("workspace_id".to_string(), field("workspace_id"))].into()
            }
            Api::OpenAi => [("project_id".to_string(), self.openai_project(id).await?)].into(),
        }))
    }

    async fn rehearse(&self, action: &ActionRow) -> anyhow::Result<String> {
        let id = Self::key_id(action)?;
        match self.api {
            Api::Anthropic => {
                let key = self.anthropic_key(id).await?;
                Ok(format!("would {} (now {})", self.plan(action), key["status"].as_str().unwrap_or("unknown")))
            }
            Api::OpenAi => {
                let project = self.openai_project(id).await?;
                anyhow::ensure!(self.openai_key_exists(&project, id).await?, "key {id} is not in project {project}");
                Ok(format!("would {} in project {project}", self.plan(action)))
            }
        }
    }

    async fn execute(&self, action: &ActionRow, _idempotency_key: &str) -> anyhow::Result<()> {
        let id = Self::key_id(action)?;
        match self.api {
            Api::Anthropic => {
                // Setting a status is idempotent.
                let body = json!({"status": Self::wanted_status(action.kind)});
                self.call(Method::POST, &format!("/v1/organizations/api_keys/{id}"), &[], Some(&body)).await?;
            }
            Api::OpenAi => {
                let project = self.openai_project(id).await?;
                if self.openai_key_exists(&project, id).await? {
                    self.call(Method::DELETE, &format!("/v1/organization/projects/{project}/api_keys/{id}"), &[], None)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Silence can only be seen once a whole minute bucket follows the disable.
    fn verify_patience(&self) -> std::time::Duration {
        std::time::Duration::from_secs(150)
    }

    async fn verify(&self, action: &ActionRow) -> anyhow::Result<Verification> {
        let id = Self::key_id(action)?;
        let done = match self.api {
            Api::Anthropic => {
                let status = self.anthropic_key(id).await?["status"].as_str().unwrap_or_default().to_string();
                // After a crash (still `executing`) the question is whether the call landed;
                // once executed, whether the key has gone quiet.
                let landed = status == Self::wanted_status(action.kind);
                landed
                    && (action.kind == ActionKind::EnableLlmKey
                        || action.status == Status::Executing
                        || self.anthropic_quiet(id, action.updated_at.and_utc()).await?)
            }
            Api::OpenAi => !self.openai_key_exists(&self.openai_project(id).await?, id).await?,
        };
        Ok(if done { Verification::Done } else { Verification::Pending })
    }
}

impl LlmKeyExecutor {
    /// No tokens on the key in the minute buckets that started after it was disabled at
    /// `disabled` (the bucket holding that moment still has the loop's last tokens); false
    /// until such a bucket exists.
    async fn anthropic_quiet(&self, id: &str, disabled: chrono::DateTime<chrono::Utc>) -> anyhow::Result<bool> {
        use chrono::DurationRound;
        let first = disabled.duration_trunc(chrono::Duration::minutes(1))? + chrono::Duration::minutes(1);
        if chrono::Utc::now() < first {
            return Ok(false);
        }
        let rfc = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let query = [
            ("starting_at", rfc(first)),
            ("bucket_width", "1m".into()),
            ("api_key_ids[]", id.to_string()),
            ("group_by[]", "api_key_id".into()),
        ]
        .map(|(k, v)| (k.to_string(), v));
        let usage = self.call(Method::GET, "/v1/organizations/usage_report/messages", &query, None).await?;
        let tokens: i64 = usage["data"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|b| b["results"].as_array().cloned().unwrap_or_default())
            .map(|r| r["uncached_input_tokens"].as_i64().unwrap_or(0) + r["output_tokens"].as_i64().unwrap_or(0))
            .sum();
        Ok(tokens == 0)
    }
}
