//! A budget's status now: what its scope has spent this period (exact, from the ledger), and
//! the period's end forecast from the detective's own baselines: for every series the scope
//! covers, what its baseline expects of the hours from its newest data to the period's end
//! (`domain::budget::profile`), added to what is spent, with a range.
//!
//! The baseline is the series' normal: it stops learning while an anomaly is open, so a
//! runaway still running is in `spent` as far as it went, not projected to the period's end.

use crate::db::DbConn;
use crate::detect::store::{outlooks, Outlook};
use crate::domain::budget::scope::Counts;
use crate::domain::budget::spec::BudgetSpec;
use crate::domain::budget::{forecast, Expected, Forecast};
use crate::domain::detect::series::SeriesId;
use crate::domain::money::{format_scaled, parse_scaled, Total, SCALE};
use crate::ledger::query::{sum_effective_cost, sum_effective_cost_by_tag, sum_llm_cost_by_key_model, CostFilter};
use chrono::{DateTime, Duration, Utc};
use diesel::QueryResult;
use serde::{Deserialize, Serialize};

/// A series with no data for this long has stopped (a deleted service, a retired key): its
/// baseline no longer says anything about the period's rest.
const GONE_AFTER: Duration = Duration::days(7);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    #[serde(with = "exact")]
    pub spent: Total,
    #[serde(with = "exact")]
    pub forecast: Total,
    #[serde(with = "exact")]
    pub forecast_low: Total,
    #[serde(with = "exact")]
    pub forecast_high: Total,
    /// How many series' baselines the forecast adds up (0: the forecast is what is spent).
    pub series: usize,
    /// Spent per day of the period so far (UTC days from `period_start`), for the chart.
    #[serde(default, with = "exact_list")]
    pub by_day: Vec<Total>,
}

impl Status {
    pub fn as_forecast(&self) -> Forecast {
        Forecast { spent: self.spent, expected: self.forecast, low: self.forecast_low, high: self.forecast_high }
    }
}

/// Amounts as exact decimal strings, both ways.
mod exact {
    use super::*;

    pub fn serialize<S: serde::Serializer>(t: &Total, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_scaled(t.units(), SCALE))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Total, D::Error> {
        let text = String::deserialize(d)?;
        parse_scaled(&text, SCALE).map(Total::from_units).ok_or_else(|| serde::de::Error::custom("not an amount"))
    }
}

mod exact_list {
    use super::*;

    pub fn serialize<S: serde::Serializer>(list: &[Total], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(list.iter().map(|t| format_scaled(t.units(), SCALE)))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Total>, D::Error> {
        let texts = Vec::<String>::deserialize(d)?;
        texts
            .iter()
            .map(|t| {
                parse_scaled(t, SCALE).map(Total::from_units).ok_or_else(|| serde::de::Error::custom("not an amount"))
            })
            .collect()
    }
}

/// The series' week-ahead profiles, read once per kind for all the budgets of one evaluation.
#[derive(Default)]
pub struct Outlooks(std::collections::HashMap<&'static str, Vec<(Option<SeriesId>, Outlook)>>);

impl Outlooks {
    fn of(&mut self, conn: &mut DbConn, kind: &'static str) -> QueryResult<&[(Option<SeriesId>, Outlook)]> {
        if !self.0.contains_key(kind) {
            let read = outlooks(conn, kind)?.into_iter().map(|o| (SeriesId::parse_key(&o.series_key), o)).collect();
            self.0.insert(kind, read);
        }
        Ok(self.0.get(kind).map_or(&[], Vec::as_slice))
    }
}

/// The status of a budget with this definition at `now`.
pub fn compute(conn: &mut DbConn, spec: &BudgetSpec, now: DateTime<Utc>, seen: &mut Outlooks) -> QueryResult<Status> {
    let (start, end) = spec.period.bounds(now);
    let by_day = spent_by_day(conn, spec, start, now)?;
    let spent = by_day.iter().fold(Total::ZERO, |sum, d| sum.plus(*d));
    let kind = match spec.scope.counts() {
        Counts::Ledger => "service",
        Counts::Tag => "tag",
        Counts::LlmKey => "llm",
    };
    let covered: Vec<&Outlook> = seen
        .of(conn, kind)?
        .iter()
        .filter(|(_, o)| o.currency == spec.currency.as_str() && now - o.last_point_at <= GONE_AFTER)
        .filter(|(id, _)| id.as_ref().is_some_and(|id| spec.scope.covers(id)))
        .map(|(_, o)| o)
        .collect();
    let rest: Vec<Expected> = covered.iter().map(|o| rest_of(o, start, end, now)).collect();
    let series = covered.len();
    let f = forecast(spent, &rest);
    Ok(Status {
        period_start: start,
        period_end: end,
        spent,
        forecast: f.expected,
        forecast_low: f.low,
        forecast_high: f.high,
        series,
        by_day,
    })
}

/// What a series' baseline expects from the end of its data to the period's end. Data that
/// lags (a daily export, a source polled hourly) leaves a gap before `now` the baseline
/// fills; a step still running counts from `now`, what it spent so far being in the ledger.
fn rest_of(o: &Outlook, start: DateTime<Utc>, end: DateTime<Utc>, now: DateTime<Utc>) -> Expected {
    let known_until = (o.last_point_at.timestamp() + o.step_secs).min(now.timestamp());
    o.profile.rest(known_until.max(start.timestamp()), end.timestamp())
}

/// What the scope spent in `[from, to)` in the budget's currency, exactly, per UTC day from
/// `from` (a period starts at midnight).
fn spent_by_day(
    conn: &mut DbConn,
    spec: &BudgetSpec,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<Vec<Total>> {
    let scope = &spec.scope;
    let sums = match (scope.counts(), &scope.tag, &scope.llm_key) {
        (Counts::Tag, Some(tag), _) => sum_effective_cost_by_tag(conn, from, to, std::slice::from_ref(&tag.key))?
            .into_iter()
            .filter(|g| g.keys.get(1).and_then(|v| v.as_deref()) == Some(tag.value.as_str()))
            .collect(),
        (Counts::LlmKey, _, Some(key)) => {
            let providers = scope.provider.clone().map(|p| vec![p]);
            sum_llm_cost_by_key_model(conn, from, to, providers.as_deref())?
                .into_iter()
                .filter(|g| g.keys.get(1).and_then(|v| v.as_deref()) == Some(key.as_str()))
                .collect()
        }
        _ => {
            let filter = CostFilter {
                providers: scope.provider.clone().map(|p| vec![p]),
                sub_account: scope.sub_account.clone(),
                service: scope.service.clone(),
                tagged_only: false,
            };
            sum_effective_cost(conn, from, to, true, &[], &filter)?
        }
    };
    let days = usize::try_from((to - from).num_days() + 1).unwrap_or(0);
    let mut by_day = vec![Total::ZERO; days];
    for g in sums.iter().filter(|g| g.currency == spec.currency.as_str()) {
        let day = g.hour.map_or(0, |h| (h - from).num_days());
        if let Some(cell) = usize::try_from(day).ok().and_then(|d| by_day.get_mut(d)) {
            *cell = cell.plus(g.effective_cost);
        }
    }
    Ok(by_day)
}
