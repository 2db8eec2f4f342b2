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

use crate::db::{Db, DbError};
use crate::domain::budget::{newly_crossed, Threshold};
use chrono::{DateTime, Utc};

/// One evaluation of every budget: each one's status saved, and the thresholds newly
/// crossed recorded; returns how many crossings were recorded.
pub async fn evaluate(db: &Db, now: DateTime<Utc>) -> Result<usize, DbError> {
    db.run(move |c| {
        let mut recorded = 0;
        for budget in store::list(c)? {
            let status = status::compute(c, &budget.spec, now)?;
            let already: Vec<Threshold> =
                store::crossings(c, &budget.id, status.period_start)?.into_iter().map(|x| x.threshold).collect();
            let spec = &budget.spec;
            let new = newly_crossed(&spec.thresholds, spec.amount, &status.as_forecast(), &already);
            recorded += store::record_evaluation(c, &budget.id, &status, &new, now)?;
            show(&budget.spec, &status);
        }
        Ok::<_, DbError>(recorded)
    })
    .await
}

/// The status as gauges, in whole currency units, labelled by budget name and currency.
fn show(spec: &crate::domain::budget::spec::BudgetSpec, status: &status::Status) {
    let labels = [("budget", spec.name.clone()), ("currency", spec.currency.to_string())];
    metrics::gauge!("costguard_budget_amount", &labels).set(spec.amount.approx_whole());
    metrics::gauge!("costguard_budget_spent", &labels).set(status.spent.approx_whole());
    metrics::gauge!("costguard_budget_forecast", &labels).set(status.forecast.approx_whole());
}
