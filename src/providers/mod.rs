//! The providers this build knows: one folder each (its connection, cost source, executor and
//! `PROVIDER` entry), and this registry of them (one line in `PROVIDERS`, one field in
//! `ProviderSettings`). An entry names the provider, lists the credential fields the
//! dashboard may store for it, validates its settings, and connects it: the cost sources and
//! executors that exist when config.toml turns it on. Startup, the CLI's `ingest --once` and
//! the dashboard's credentials page all read this list, so nothing else needs to learn about
//! a new provider (docs/ARCHITECTURE.md, "How to add…").

pub mod aws;
pub mod azure;
pub mod gcp;
pub mod llm;
pub mod simulated;

use crate::clouds::Vault;
use crate::db::Db;
use crate::execute::Executor;
use crate::ingest::schedule::Configured;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Every provider, in the order the dashboard lists them.
pub const PROVIDERS: &[Provider] = &[
    simulated::PROVIDER,
    aws::PROVIDER,
    gcp::PROVIDER,
    azure::PROVIDER,
    llm::openai::PROVIDER,
    llm::anthropic::PROVIDER,
];

/// `[providers.*]` in config.toml.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProviderSettings {
    pub simulated: crate::providers::simulated::SimulatedSettings,
    pub aws: crate::providers::aws::connection::AwsSettings,
    pub gcp: crate::providers::gcp::connection::GcpSettings,
    pub azure: crate::providers::azure::connection::AzureSettings,
    pub openai: crate::providers::llm::connection::LlmSettings<crate::providers::llm::connection::OpenAi>,
    pub anthropic: crate::providers::llm::connection::LlmSettings<crate::providers::llm::connection::Anthropic>,
}

impl ProviderSettings {
    /// Token prices per LLM provider, to price pushed usage sent without a cost.
    pub fn llm_prices(&self) -> std::collections::BTreeMap<String, crate::domain::llm_prices::PriceTable> {
        [("openai".to_string(), self.openai.prices.clone()), ("anthropic".to_string(), self.anthropic.prices.clone())]
            .into()
    }
}

/// One provider.
pub struct Provider {
    /// Its name in URLs, credential rows, `ingest --provider`; its sources' names start with it.
    pub name: &'static str,
    pub title: &'static str,
    /// Credential fields the dashboard may store (encrypted), in addition to the SDK's chain.
    pub credentials: &'static [CredentialField],
    /// Checks its settings; the error names the key.
    pub validate: fn(&ProviderSettings) -> Result<(), (&'static str, String)>,
    /// Its sources and executors; nothing when config.toml leaves it off.
    pub connect: fn(&Wiring<'_>) -> Connection,
}

#[derive(Debug, PartialEq, Eq)]
pub struct CredentialField {
    pub name: &'static str,
    pub label: &'static str,
}

pub(crate) const fn field(name: &'static str, label: &'static str) -> CredentialField {
    CredentialField { name, label }
}

/// What a provider may connect with.
pub struct Wiring<'a> {
    pub settings: &'a ProviderSettings,
    pub db: &'a Db,
    pub vault: &'a Vault,
}

/// What the enabled providers bring.
#[derive(Default)]
pub struct Connection {
    pub sources: Vec<Configured>,
    pub executors: Vec<Arc<dyn Executor>>,
}

impl Connection {
    pub(crate) fn source(mut self, source: Arc<dyn crate::ingest::sources::CostSource>, schedule: &str) -> Self {
        self.sources.push(Configured { source, enabled: true, schedule: schedule.to_string() });
        self
    }

    pub(crate) fn executor(mut self, executor: Arc<dyn Executor>) -> Self {
        self.executors.push(executor);
        self
    }
}

pub fn find(name: &str) -> Option<&'static Provider> {
    PROVIDERS.iter().find(|p| p.name == name)
}

/// Every provider's settings, checked in the order of `PROVIDERS`.
pub fn validate(settings: &ProviderSettings) -> Result<(), (&'static str, String)> {
    PROVIDERS.iter().try_for_each(|p| (p.validate)(settings))
}

/// The sources and executors of every enabled provider.
pub fn connect(settings: &ProviderSettings, db: &Db, vault: &Vault) -> Connection {
    let wiring = Wiring { settings, db, vault };
    PROVIDERS.iter().map(|p| (p.connect)(&wiring)).fold(Connection::default(), |mut all, one| {
        all.sources.extend(one.sources);
        all.executors.extend(one.executors);
        all
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_url_safe() {
        let mut names: Vec<_> = PROVIDERS.iter().map(|p| p.name).collect();
        assert!(names.iter().all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '-')));
        names.sort();
        names.dedup();
        assert_eq!(names.len(), PROVIDERS.len());
    }

    #[test]
    fn the_shipped_defaults_validate() {
        assert_eq!(validate(&ProviderSettings::default()), Ok(()));
    }
}
