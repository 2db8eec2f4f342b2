//! LLM usage: spend and tokens per provider, model, key and project, with daily trends.

use super::chart;
use super::components::{empty, money};
use super::layout::{page, Nav};
use crate::auth::sessions::SessionUser;
use crate::domain::money::Total;
use chrono::{DateTime, Utc};
use maud::{html, Markup};

/// One group's totals over the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    pub group: String,
    pub currency: String,
    pub input_tokens: i64,
    pub cached_input_tokens: i64,
    pub output_tokens: i64,
    pub requests: i64,
    pub cost: Total,
}

/// One provider's daily cost: (provider, currency, days).
pub type DailyCost = (String, String, Vec<(DateTime<Utc>, Total)>);

pub struct LlmPage {
    pub days: i64,
    /// (dimension title, rows), e.g. ("By model", ...).
    pub tables: Vec<(&'static str, Vec<UsageRow>)>,
    /// Per provider and currency: daily cost.
    pub trends: Vec<DailyCost>,
}

fn tokens(n: i64) -> String {
    crate::domain::money::format_display(i128::from(n) * crate::domain::money::UNITS_PER_WHOLE as i128, 0)
}

pub fn render(user: &SessionUser, p: &LlmPage) -> Markup {
    let content = html! {
        p.muted { "The last " (p.days) " days. Cost is what the provider reported (or what was pushed to /api/v1/llm-usage)." }
        @if p.tables.iter().all(|(_, rows)| rows.is_empty()) {
            (empty("No LLM usage yet.", html! { "Turn on the OpenAI or Anthropic adapter, or have your gateway POST usage to " code { "/api/v1/llm-usage" } " (see " a href="/docs/" { "the API docs" } ")." }))
        } @else {
            @for (provider, currency, days) in &p.trends {
                h2 { (provider) ": daily cost" }
                (chart::bars(&format!("{provider} daily LLM cost"), days, currency))
            }
            @for (title, rows) in &p.tables {
                table {
                    caption { (title) }
                    thead { tr { th { "" } th.num { "Cost" } th.num { "Input tokens" } th.num { "Cached input" } th.num { "Output tokens" } th.num { "Requests" } } }
                    tbody {
                        @for r in rows {
                            tr {
                                th scope="row" { code { (r.group) } }
                                td.num { (money(r.cost, &r.currency)) }
                                td.num { (tokens(r.input_tokens)) }
                                td.num { (tokens(r.cached_input_tokens)) }
                                td.num { (tokens(r.output_tokens)) }
                                td.num { (tokens(r.requests)) }
                            }
                        }
                    }
                }
            }
        }
    };
    page("LLM usage", user, Nav::Llm, content)
}
