//! From the ledger to evenly spaced series: hourly (daily when a source only has days), gaps
//! filled with zero up to the provider's latest data, and that latest point marked as possibly
//! partial (billing data for the current hour keeps arriving).

use crate::db::DbConn;
use crate::domain::detect::series::SeriesId;
use crate::domain::money::Total;
use crate::ledger::query::{self, CostFilter, GroupSum};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};

const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;

/// One series ready for the detector.
#[derive(Debug, Clone)]
pub struct Series {
    pub id: SeriesId,
    pub currency: String,
    pub step_secs: i64,
    /// (epoch seconds, exact cost) per step, oldest first, gaps filled with zero.
    pub points: Vec<(i64, Total)>,
    /// The last point is the newest data of its provider and may still grow.
    pub last_is_partial: bool,
    /// The last point read as a rate while its hour runs (set by the detective from the
    /// clock and its earlier sighting); None: take it as it is.
    pub running: Option<crate::domain::detect::partial::Running>,
    /// When the last point's newest row was pulled (epoch seconds): its cost so far is true
    /// as of then, not as of the detective's run, which may come seconds later.
    pub last_as_of: Option<i64>,
}

/// Which series one run looks at.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Only the service series of these providers; None: all. Tag and LLM series cut across
    /// providers (and LLM providers are named differently), so every run includes them.
    pub providers: Option<Vec<String>>,
    /// Within those providers, only these service series; None: all of them.
    pub only: Option<std::collections::BTreeSet<SeriesId>>,
}

impl Scope {
    /// Just the service series an ingest touched (plus the cross-cutting ones).
    pub fn touched(keys: &[crate::bus::SeriesKey]) -> Scope {
        let providers: std::collections::BTreeSet<String> = keys.iter().map(|k| k.provider.clone()).collect();
        let only = keys
            .iter()
            .map(|k| SeriesId::Service {
                provider: k.provider.clone(),
                sub_account: k.sub_account.clone(),
                service: k.service.clone(),
            })
            .collect();
        Scope { providers: Some(providers.into_iter().collect()), only: Some(only) }
    }

    fn includes(&self, id: &SeriesId) -> bool {
        !matches!(id, SeriesId::Service { .. }) || self.only.as_ref().is_none_or(|only| only.contains(id))
    }
}

/// Load every series in scope over `[from, to)`.
pub fn load(
    conn: &mut DbConn,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    scope: &Scope,
    tag_keys: &[String],
) -> diesel::QueryResult<Vec<Series>> {
    let filter = CostFilter { providers: scope.providers.clone(), ..CostFilter::default() };
    let rows =
        query::sum_effective_cost(conn, from, to, true, &["provider_name", "sub_account_id", "service_name"], &filter)?;
    let mut out = assemble(rows, |keys| {
        let part = |i: usize| keys.get(i).cloned().flatten().unwrap_or_default();
        Some((SeriesId::Service { provider: part(0), sub_account: part(1), service: part(2) }, part(0)))
    });
    if !tag_keys.is_empty() {
        let rows = query::sum_effective_cost_by_tag(conn, from, to, tag_keys)?;
        out.extend(assemble(rows, |keys| {
            let (key, value) = (keys.first().cloned().flatten()?, keys.get(1).cloned().flatten()?);
            Some((SeriesId::Tag { key, value }, "tags".into()))
        }));
    }
    let llm = query::sum_llm_cost_by_key_model(conn, from, to, None)?;
    out.extend(assemble(llm, |keys| {
        let part = |i: usize| keys.get(i).cloned().flatten().unwrap_or_default();
        Some((SeriesId::Llm { provider: part(0), api_key: part(1), model: part(2) }, format!("llm:{}", part(0))))
    }));
    out.retain(|s| scope.includes(&s.id));
    Ok(out)
}

/// Cost per hour (epoch seconds) and currency.
type Hours = BTreeMap<i64, BTreeMap<String, Total>>;

/// Group hourly sums into series. `identify` maps a row's keys to the series and to the
/// "horizon group" whose newest hour bounds the series (its provider).
fn assemble(rows: Vec<GroupSum>, identify: impl Fn(&[Option<String>]) -> Option<(SeriesId, String)>) -> Vec<Series> {
    let mut horizons: HashMap<String, i64> = HashMap::new();
    // Per series: its horizon group, its cost per hour, and when each hour's newest row was pulled.
    let mut by_series: BTreeMap<SeriesId, (String, Hours, BTreeMap<i64, i64>)> = BTreeMap::new();
    for row in rows {
        let Some(hour) = row.hour else { continue };
        let Some((id, horizon_group)) = identify(&row.keys) else { continue };
        let at = hour.timestamp();
        let h = horizons.entry(horizon_group.clone()).or_insert(at);
        *h = (*h).max(at);
        let entry = by_series.entry(id).or_insert_with(|| (horizon_group, BTreeMap::new(), BTreeMap::new()));
        let cell = entry.1.entry(at).or_default().entry(row.currency).or_default();
        *cell = cell.plus(row.effective_cost);
        if let Some(t) = row.as_of {
            let newest = entry.2.entry(at).or_insert(t.timestamp());
            *newest = (*newest).max(t.timestamp());
        }
    }
    by_series
        .into_iter()
        .filter_map(|(id, (group, hours, pulled))| {
            let horizon = *horizons.get(&group)?;
            let mut series = build(id, hours, horizon)?;
            let last_at = series.points.last().map(|p| p.0)?;
            series.last_as_of = pulled.range(last_at..last_at + series.step_secs).map(|(_, t)| *t).max();
            Some(series)
        })
        .collect()
}

fn build(id: SeriesId, hours: Hours, horizon: i64) -> Option<Series> {
    // The currency of the newest point; points in another currency are left out (a series
    // that changes currency is rare enough to restart its baseline).
    let (_, newest) = hours.last_key_value()?;
    let currency = newest.keys().next()?.clone();
    let daily_only = hours.keys().all(|t| t.rem_euclid(DAY) == 0) && hours.len() > 1;
    let step = if daily_only { DAY } else { HOUR };
    let first = *hours.keys().next()?;
    let last = horizon - horizon.rem_euclid(step);
    let mut points = Vec::new();
    let mut t = first - first.rem_euclid(step);
    while t <= last {
        let mut sum = Total::ZERO;
        for (_, by_currency) in hours.range(t..t + step) {
            if let Some(v) = by_currency.get(&currency) {
                sum = sum.plus(*v);
            }
        }
        points.push((t, sum));
        t += step;
    }
    Some(Series { id, currency, step_secs: step, points, last_is_partial: true, running: None, last_as_of: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(hour: i64, provider: &str, cost: i128) -> GroupSum {
        GroupSum {
            hour: DateTime::from_timestamp(hour, 0),
            keys: vec![Some(provider.into()), Some("acct".into()), Some("svc".into())],
            currency: "USD".into(),
            effective_cost: Total::from_units(cost),
            as_of: None,
        }
    }

    fn ident(keys: &[Option<String>]) -> Option<(SeriesId, String)> {
        let p = keys[0].clone().unwrap_or_default();
        Some((SeriesId::Service { provider: p.clone(), sub_account: "acct".into(), service: "svc".into() }, p))
    }

    #[test]
    fn gaps_are_zero_and_series_run_to_their_providers_newest_hour() {
        let rows = vec![row(0, "aws", 5), row(2 * HOUR, "aws", 7), row(4 * HOUR, "aws", 1)];
        let s = assemble(rows, ident);
        assert_eq!(s.len(), 1);
        let units: Vec<i128> = s[0].points.iter().map(|p| p.1.units()).collect();
        assert_eq!(units, [5, 0, 7, 0, 1]);
        assert_eq!(s[0].step_secs, HOUR);
    }

    #[test]
    fn a_source_with_only_midnight_points_is_daily() {
        let rows = vec![row(0, "oracle", 5), row(2 * DAY, "oracle", 7)];
        let s = assemble(rows, ident);
        assert_eq!(s[0].step_secs, DAY);
        assert_eq!(s[0].points.len(), 3);
    }
}
