//! The overview: spend against expected, trends, what is open, what waits, what was saved.

use super::chart;
use super::components::{badge, empty, money, naive_time, versus};
use super::layout::{page, Nav};
use crate::approval::store::ActionRow;
use crate::auth::sessions::SessionUser;
use crate::detect::history::ChartPoint;
use crate::detect::store::AnomalyRow;
use crate::domain::money::Total;
use chrono::{DateTime, Utc};
use maud::{html, Markup};

/// Actual and expected spend over one period.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Pair {
    pub actual: Total,
    pub expected: Total,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SpendRow {
    pub label: String,
    pub currency: String,
    pub today: Pair,
    pub week: Pair,
    pub month: Pair,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Overview {
    pub as_of: DateTime<Utc>,
    pub providers: Vec<SpendRow>,
    /// The services with the most spend this month.
    pub services: Vec<SpendRow>,
    /// Per provider: its hourly spend over the last days.
    pub trends: Vec<(String, String, Vec<ChartPoint>)>,
    pub open_anomalies: Vec<AnomalyRow>,
    pub pending: Vec<(ActionRow, String)>,
    /// What succeeded actions recovered, one sum per currency (none yet: empty).
    pub recovered: Vec<crate::approval::store::Recovery>,
    /// The currency of the largest provider's spend: what "nothing recovered yet" is shown in.
    pub currency: String,
    pub detection_on: bool,
    /// Every budget with this period's crossings: its spend, forecast line and amount.
    pub budgets: Vec<(crate::budgets::store::BudgetRow, Vec<crate::budgets::store::Crossing>)>,
}

fn spend_table(caption: &str, rows: &[SpendRow]) -> Markup {
    html! {
        table {
            caption { (caption) }
            thead { tr { th { "" } th.num { "Today (UTC)" } th.num { "Last 7 days" } th.num { "Month to date" } } }
            tbody {
                @for r in rows {
                    tr {
                        th scope="row" { (r.label) }
                        td.num { (versus(r.today.actual, r.today.expected, &r.currency)) }
                        td.num { (versus(r.week.actual, r.week.expected, &r.currency)) }
                        td.num { (versus(r.month.actual, r.month.expected, &r.currency)) }
                    }
                }
            }
        }
    }
}

pub fn render(user: &SessionUser, o: &Overview) -> Markup {
    let content = html! {
        @if let Some(worst) = o.open_anomalies.first() {
            a.banner href=(format!("/anomalies/{}", worst.id)) {
                strong { (o.open_anomalies.len()) " open anomal" (if o.open_anomalies.len() == 1 { "y" } else { "ies" }) }
                " — worst: " (badge(&worst.severity)) " " (worst.label)
                " since " (naive_time(worst.started_at)) ", "
                (money(Total::from_units(worst.projected_daily.into()), &worst.currency)) " per day over expected"
            }
        }
        section.cards {
            div.card {
                h2 { "Cost recovered" }
                @if o.recovered.is_empty() {
                    p.big { (money(Total::from_units(0), &o.currency)) }
                    p.muted { "by 0 verified actions" }
                }
                // Amounts in different currencies are shown apart, never added.
                @for r in &o.recovered {
                    p.big { (money(Total::from_units(r.units), &r.currency)) }
                    p.muted { "by " (r.actions) " verified action" (if r.actions == 1 { "" } else { "s" }) }
                }
            }
            div.card {
                h2 { "Waiting for approval" }
                @if o.pending.is_empty() {
                    p.muted { "Nothing waits for you." }
                } @else {
                    ul.plain {
                        @for (a, currency) in &o.pending {
                            li {
                                a href=(format!("/actions/{}", a.id)) { (a.kind.words()) " · " (a.target) }
                                " " (badge(a.risk.as_str())) " saves ~" (super::components::money_units(a.estimated_saving_per_hour, currency)) "/h"
                            }
                        }
                    }
                }
            }
        }
        @if !o.budgets.is_empty() {
            h2 { "Budgets this period " span.muted { a href="/settings/budgets" { "(all budgets)" } } }
            @for (b, crossed) in &o.budgets {
                (super::budgets::card(b, crossed))
            }
        }
        @if o.providers.is_empty() {
            (empty(
                if o.detection_on { "No spend measured yet." } else { "Detection is off, so there are no baselines to compare against." },
                html! { "Connect a provider under " a href="/settings/providers" { "Settings → Providers" } ", import a FOCUS file, or turn on the simulated clouds. Figures appear after the first detection run." },
            ))
        } @else {
            (spend_table("Spend by provider, against what each series' baseline expected", &o.providers))
            @for (provider, currency, points) in &o.trends {
                h2 { (provider) ": hourly spend" }
                (chart::series(&format!("{provider} hourly spend against expected"), points, None, currency))
            }
            (spend_table("Top services this month", &o.services))
        }
        p.muted { "As of " (super::components::time(o.as_of)) ". Expected values come from each series' seasonal baseline." }
    };
    page("Overview", user, Nav::Overview, content)
}
