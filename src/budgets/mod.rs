//! Budgets: definitions per scope and period (API, dashboard, config.toml), their status
//! re-computed after every detective run (spent from the ledger, the period's end forecast
//! from the detective's baselines), and each threshold's first crossing in a period recorded
//! once, for the notifier to announce. The maths is pure, in `domain::budget`.

pub mod settings;
pub mod status;
pub mod store;
pub mod view;
mod worker;

pub use settings::BudgetsConfig;
pub use worker::spawn;

use crate::db::{Db, DbConn, DbError};
use crate::domain::approval::safety::BudgetOutlook;
use crate::domain::budget::{newly_crossed, Threshold};
use chrono::{DateTime, Utc};

/// One evaluation of every budget: each one's status saved, and the thresholds newly
/// crossed recorded; returns how many crossings were recorded.
pub async fn evaluate(db: &Db, now: DateTime<Utc>) -> Result<usize, DbError> {
    db.run(move |c| {
        let (mut recorded, mut seen) = (0, status::Outlooks::default());
        for budget in store::list(c)? {
            recorded += evaluate_with(c, &budget, now, &mut seen)?;
        }
        Ok::<_, DbError>(recorded)
    })
    .await
}

/// Writes a budget (`change` creates or replaces it) and evaluates it at once, so it comes
/// back with its status and a threshold it already crosses is recorded to be announced;
/// returns the row as stored and how many crossings were recorded. The API and the
/// dashboard's form both write through here.
pub fn save_and_evaluate(
    c: &mut DbConn,
    change: impl FnOnce(&mut DbConn) -> Result<store::BudgetRow, store::Refused>,
    now: DateTime<Utc>,
) -> Result<(store::BudgetRow, usize), store::Refused> {
    let row = change(c)?;
    let crossed = evaluate_one(c, &row, now)?;
    let row = store::get(c, &row.id)?.unwrap_or(row);
    Ok((row, crossed))
}

/// One budget's evaluation: its status saved, and the thresholds it crossed for the first
/// time this period recorded (the API evaluates a budget it just created or changed).
pub fn evaluate_one(c: &mut DbConn, budget: &store::BudgetRow, now: DateTime<Utc>) -> diesel::QueryResult<usize> {
    evaluate_with(c, budget, now, &mut status::Outlooks::default())
}

fn evaluate_with(
    c: &mut DbConn,
    budget: &store::BudgetRow,
    now: DateTime<Utc>,
    seen: &mut status::Outlooks,
) -> diesel::QueryResult<usize> {
    let status = status::compute(c, &budget.spec, now, seen)?;
    let already: Vec<Threshold> =
        store::crossings(c, &budget.id, status.period_start)?.into_iter().map(|x| x.threshold).collect();
    let spec = &budget.spec;
    let new = newly_crossed(&spec.thresholds, spec.amount, &status.as_forecast(), &already);
    let recorded = store::record_evaluation(c, &budget.id, &status, &new, now)?;
    show(spec, &status);
    Ok(recorded)
}

/// The status as gauges, in whole currency units, labelled by budget name and currency.
fn show(spec: &crate::domain::budget::spec::BudgetSpec, status: &status::Status) {
    let labels = [("budget", spec.name.clone()), ("currency", spec.currency.to_string())];
    metrics::gauge!("costguard_budget_amount", &labels).set(spec.amount.approx_whole());
    metrics::gauge!("costguard_budget_spent", &labels).set(status.spent.approx_whole());
    metrics::gauge!("costguard_budget_forecast", &labels).set(status.forecast.approx_whole());
}

/// What the budgets covering a series forecast, as of their last evaluation in the period
/// `now` falls in (the safety policy's view when the optimizer proposes).
pub fn outlook(c: &mut DbConn, series_key: &str, now: DateTime<Utc>) -> diesel::QueryResult<BudgetOutlook> {
    let Some(series) = crate::domain::detect::series::SeriesId::parse_key(series_key) else {
        return Ok(BudgetOutlook::None);
    };
    let mut outlook = BudgetOutlook::None;
    for budget in store::list(c)?.into_iter().filter(|b| b.spec.scope.covers(&series)) {
        let name = budget.spec.name.clone();
        let current = budget.status.filter(|s| s.period_start == budget.spec.period.bounds(now).0);
        match current {
            Some(s) if s.forecast.units() > budget.spec.amount.units() => {
                return Ok(BudgetOutlook::ForecastOver { budget: name })
            }
            _ => outlook = BudgetOutlook::Within { budget: name },
        }
    }
    Ok(outlook)
}
