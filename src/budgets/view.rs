//! What the API and the dashboard show of a budget: its definition, its status as of the last
//! evaluation, and the thresholds crossed in the current period.

use super::status::Status;
use super::store::{BudgetRow, Crossing, ManagedBy};
use crate::domain::budget::scope::Scope;
use crate::domain::budget::{percent_of, Basis, Period, Threshold};
use crate::domain::money::{format_scaled, SCALE};
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CrossedView {
    pub threshold: u32,
    pub on: Basis,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BudgetView {
    pub id: String,
    pub name: String,
    /// Exact decimal string.
    pub amount: String,
    pub currency: String,
    pub period: Period,
    /// Absent fields match everything.
    pub scope: Scope,
    /// "everything", "Google Cloud / BigQuery", "tag team=data"...
    pub scope_label: String,
    pub thresholds: Vec<Threshold>,
    /// api (the API and dashboard change it) or config (config.toml does).
    pub managed_by: ManagedBy,
    /// The current period, as of the last evaluation (null until the first).
    pub period_start: Option<DateTime<Utc>>,
    pub period_end: Option<DateTime<Utc>>,
    /// Spent so far this period (exact decimal string; null until the first evaluation).
    pub spent: Option<String>,
    /// The period's expected end, and its range (about 90 %).
    pub forecast: Option<String>,
    pub forecast_low: Option<String>,
    pub forecast_high: Option<String>,
    /// Spent as a percentage of the amount.
    pub percent_of_budget: Option<f64>,
    /// The forecast as a percentage of the amount.
    pub forecast_percent_of_budget: Option<f64>,
    /// Series whose baselines the forecast adds up.
    pub series: Option<usize>,
    /// Thresholds crossed this period, with when.
    pub crossed: Vec<CrossedView>,
    pub evaluated_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn exact(t: crate::domain::money::Total) -> String {
    format_scaled(t.units(), SCALE)
}

impl BudgetView {
    /// `crossed`: the crossings of the status's period.
    pub fn new(row: &BudgetRow, crossed: &[Crossing]) -> BudgetView {
        let (spec, status): (_, Option<&Status>) = (&row.spec, row.status.as_ref());
        let scope = &spec.scope;
        BudgetView {
            id: row.id.clone(),
            name: spec.name.clone(),
            amount: exact(spec.amount),
            currency: spec.currency.to_string(),
            period: spec.period,
            scope: scope.clone(),
            scope_label: scope.describe(),
            thresholds: spec.thresholds.clone(),
            managed_by: row.managed_by,
            period_start: status.map(|s| s.period_start),
            period_end: status.map(|s| s.period_end),
            spent: status.map(|s| exact(s.spent)),
            forecast: status.map(|s| exact(s.forecast)),
            forecast_low: status.map(|s| exact(s.forecast_low)),
            forecast_high: status.map(|s| exact(s.forecast_high)),
            percent_of_budget: status.map(|s| round2(percent_of(s.spent, spec.amount))),
            forecast_percent_of_budget: status.map(|s| round2(percent_of(s.forecast, spec.amount))),
            series: status.map(|s| s.series),
            crossed: crossed
                .iter()
                .map(|c| CrossedView { threshold: c.threshold.percent, on: c.threshold.on, at: c.at })
                .collect(),
            evaluated_at: row.evaluated_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
