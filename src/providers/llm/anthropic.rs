//! Anthropic: token usage (minutes fresh) and billed cost, and the key executor (disable,
//! enable).

use crate::providers::llm::keys::LlmKeyExecutor;
use crate::providers::llm::{anthropic_usage::AnthropicUsage, costs::BilledCosts};
use crate::providers::{field, Connection, Provider, Wiring};
use std::sync::Arc;

pub const PROVIDER: Provider = Provider {
    name: "anthropic",
    title: "Anthropic (usage and cost)",
    credentials: &[field("admin_key", "Admin API key")],
    validate: |s| s.anthropic.validate("providers.anthropic"),
    connect,
};

fn connect(w: &Wiring<'_>) -> Connection {
    let anthropic = &w.settings.anthropic;
    if !anthropic.enabled {
        return Connection::default();
    }
    Connection::default()
        .source(Arc::new(AnthropicUsage::new(anthropic.clone(), w.vault.clone())), &anthropic.schedule)
        .source(Arc::new(BilledCosts::anthropic(anthropic.clone(), w.vault.clone())), &anthropic.costs_schedule)
        .executor(Arc::new(LlmKeyExecutor::anthropic(anthropic, w.vault.clone())))
}
