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

/// One provider's day: the usage estimate, and the bill once the provider sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillCheck {
    pub day: DateTime<Utc>,
    pub provider: String,
    pub currency: String,
    pub estimated: Total,
    pub billed: Option<Total>,
}

pub struct LlmPage {
    pub days: i64,
    /// Newest first: estimated against billed per provider and day.
    pub bills: Vec<BillCheck>,
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
        p.muted { "The last " (p.days) " days. Cost here is estimated from tokens and the configured prices (or what was pushed to /api/v1/llm-usage); the provider's bill replaces it in the spend totals once it arrives." }
        @if p.tables.iter().all(|(_, rows)| rows.is_empty()) {
            (empty("No LLM usage yet.", html! { "Turn on the OpenAI or Anthropic adapter, or have your gateway POST usage to " code { "/api/v1/llm-usage" } " (see " a href="/docs/" { "the API docs" } ")." }))
        } @else {
            @for (provider, currency, days) in &p.trends {
                h2 { (provider) ": daily cost" }
                (chart::bars(&format!("{provider} daily LLM cost"), days, currency))
            }
            @if !p.bills.is_empty() {
                table {
                    caption { "Estimated from usage against billed" }
                    thead { tr { th { "Day" } th { "Provider" } th.num { "Estimated" } th.num { "Billed" } th.num { "Difference" } } }
                    tbody {
                        @for b in &p.bills {
                            tr {
                                th scope="row" { (b.day.format("%Y-%m-%d")) }
                                td { (b.provider) }
                                td.num { (money(b.estimated, &b.currency)) }
                                @match b.billed {
                                    Some(billed) => {
                                        td.num { (money(billed, &b.currency)) }
                                        td.num { (money(Total::from_units(billed.units() - b.estimated.units()), &b.currency)) }
                                    }
                                    None => { td.num.muted { "not billed yet" } td.num { "" } }
                                }
                            }
                        }
                    }
                }
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
