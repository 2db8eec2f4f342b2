//! OpenAI: token usage (minutes fresh) and billed costs, and the key executor (disable).

use crate::providers::llm::keys::LlmKeyExecutor;
use crate::providers::llm::{costs::BilledCosts, openai_usage::OpenAiUsage};
use crate::providers::{field, Connection, Provider, Wiring};
use std::sync::Arc;

pub const PROVIDER: Provider = Provider {
    name: "openai",
    title: "OpenAI (usage and costs)",
    credentials: &[field("admin_key", "Admin API key")],
    validate: |s| s.openai.validate("providers.openai"),
    connect,
};

fn connect(w: &Wiring<'_>) -> Connection {
    let openai = &w.settings.openai;
    if !openai.enabled {
        return Connection::default();
    }
    Connection::default()
        .source(Arc::new(OpenAiUsage::new(openai.clone(), w.vault.clone())), &openai.schedule)
        .source(Arc::new(BilledCosts::openai(openai.clone(), w.vault.clone())), &openai.costs_schedule)
        .executor(Arc::new(LlmKeyExecutor::openai(openai, w.vault.clone())))
}
