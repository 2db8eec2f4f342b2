//! Budgets: each one's period so far against its amount (spent, forecast with its range, the
//! thresholds crossed), a chart of the period, and for admins the forms to add and delete
//! (a budget kept in config.toml is changed there).

use super::chart::{self, BudgetChart};
use super::components::{csrf, empty, money, notice, select, time};
use super::layout::{page, Nav};
use crate::auth::sessions::SessionUser;
use crate::budgets::store::{BudgetRow, Crossing, ManagedBy};
use crate::domain::budget::{percent_of, Basis, Period};
use crate::domain::role::Role;
use maud::{html, Markup};

/// What the add form held when it was refused, with why (the field named). Every field may be
/// missing (an empty form reaches the role check, then `BudgetSpec::parse` names the field).
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct BudgetForm {
    pub name: String,
    pub amount: String,
    pub currency: String,
    pub period: String,
    pub provider: String,
    pub sub_account: String,
    pub service: String,
    /// "key=value".
    pub tag: String,
    pub llm_key: String,
    /// "80 forecast, 100 actual"; empty: the defaults.
    pub thresholds: String,
}

const PERIODS: &[(&str, &str)] = &[("month", "month"), ("quarter", "quarter"), ("year", "year")];

fn meter(percent: f64) -> Markup {
    let width = percent.clamp(0.0, 100.0);
    html! {
        span class=(if percent >= 100.0 { "meter over" } else { "meter" }) title=(format!("{percent:.0} %")) {
            span style=(format!("width: {width:.0}%")) {}
        }
    }
}

/// One budget: figures, crossings and its chart (the overview shows the same card).
pub fn card(b: &BudgetRow, crossed: &[Crossing]) -> Markup {
    let (spec, currency) = (&b.spec, b.spec.currency.as_str());
    html! {
        section.card id=(format!("budget-{}", b.id)) {
            h2 {
                (spec.name) " "
                span.muted { (spec.scope.describe()) " · per " (spec.period.as_str()) }
                @if b.managed_by == ManagedBy::Config { " " span.badge { "config.toml" } }
            }
            @match &b.status {
                None => p.muted { "Not evaluated yet: the figures come after the next detection run." },
                Some(s) => {
                    @let spent_pct = percent_of(s.spent, spec.amount);
                    @let forecast_pct = percent_of(s.forecast, spec.amount);
                    p {
                        "Spent " (money(s.spent, currency)) " of " (money(spec.amount, currency))
                        " " (meter(spent_pct)) " " strong { (format!("{spent_pct:.0} %")) }
                    }
                    p {
                        "Forecast for the period's end (" ((s.period_end - chrono::Duration::seconds(1)).format("%b %d")) "): " (money(s.forecast, currency))
                        " " span.muted { "(" (money(s.forecast_low, currency)) " to " (money(s.forecast_high, currency)) ")" }
                        " " (meter(forecast_pct)) " "
                        @if forecast_pct >= 100.0 { span.badge.bad { (format!("{forecast_pct:.0} %")) } }
                        @else { strong { (format!("{forecast_pct:.0} %")) } }
                    }
                    @if s.series == 0 {
                        p.muted { "No series with a baseline covers this scope yet: the forecast is what is spent." }
                    }
                    (chart::budget(&BudgetChart {
                        title: &format!("{}: spend this {} against the budget", spec.name, spec.period.as_str()),
                        start: s.period_start,
                        end: s.period_end,
                        now: b.evaluated_at.unwrap_or(s.period_start),
                        by_day: &s.by_day,
                        forecast: (s.forecast_low, s.forecast, s.forecast_high),
                        amount: spec.amount,
                        currency,
                    }))
                }
            }
            p {
                "Alerts at "
                @for (i, t) in spec.thresholds.iter().enumerate() {
                    @if i > 0 { ", " }
                    @let hit = crossed.iter().find(|c| c.threshold == *t);
                    @let label = format!("{} % {}", t.percent, if t.on == Basis::Actual { "spent" } else { "forecast" });
                    @match hit {
                        Some(c) => span.badge.warn title=(format!("crossed {}", c.at.format("%Y-%m-%d %H:%M UTC"))) { (label) " ✓" },
                        None => span.badge { (label) },
                    }
                }
                @if let Some(at) = b.evaluated_at { span.muted { " · as of " (time(at)) } }
            }
        }
    }
}

pub fn page_of(
    user: &SessionUser,
    budgets: &[(BudgetRow, Vec<Crossing>)],
    refused: Option<(&BudgetForm, &str)>,
    note: Option<&str>,
) -> Markup {
    let admin = user.role.allows(Role::Admin);
    let form = refused.map(|(f, _)| f.clone()).unwrap_or_else(|| BudgetForm {
        currency: "USD".into(),
        period: Period::Month.as_str().into(),
        ..BudgetForm::default()
    });
    let content = html! {
        (notice(note))
        @if let Some((_, why)) = refused { p.error role="alert" { (why) } }
        @if budgets.is_empty() {
            (empty("No budgets yet.", html! { "Add one below, over the API (POST /api/v1/budgets), or as [[budgets]] in config.toml." }))
        }
        @for (b, crossed) in budgets {
            (card(b, crossed))
            @if admin && b.managed_by == ManagedBy::Api {
                form.inline method="post" action=(format!("/settings/budgets/{}/delete", b.id)) {
                    (csrf(&user.csrf_token))
                    button.danger type="submit" { "Delete " (b.spec.name) }
                }
            }
        }
        @if admin {
            h2 { "Add a budget" }
            form.stack method="post" action="/settings/budgets" autocomplete="off" {
                (csrf(&user.csrf_token))
                label { "Name" input type="text" name="name" value=(form.name) required; }
                label { "Amount" input type="text" name="amount" value=(form.amount) inputmode="decimal" placeholder="25000.00" required; }
                label { "Currency" input type="text" name="currency" value=(form.currency) size="4" required; }
                label { "Period (calendar, UTC)" (select("period", PERIODS, Some(&form.period))) }
                fieldset {
                    legend { "What it counts (all empty: everything)" }
                    label { "Provider, as in the ledger" input type="text" name="provider" value=(form.provider); }
                    label { "Sub-account" input type="text" name="sub_account" value=(form.sub_account); }
                    label { "Service" input type="text" name="service" value=(form.service); }
                    label { "Or a tag (key=value), alone" input type="text" name="tag" value=(form.tag) placeholder="team=data"; }
                    label { "Or an LLM API key" input type="text" name="llm_key" value=(form.llm_key); }
                }
                label { "Alert at (percent and actual or forecast; empty: 80 and 100 forecast, 100 actual)"
                    input type="text" name="thresholds" value=(form.thresholds) placeholder="50 actual, 80 forecast, 100 forecast"; }
                button type="submit" { "Add budget" }
            }
        }
    };
    page("Budgets", user, Nav::Settings, content)
}
