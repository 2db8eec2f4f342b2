//! Root-cause breakdowns from the ledger: the anomaly's cost per dimension value against its
//! part of the detector's expectation, shared out by a clean week before (hours of other
//! incidents and suppressions left out, so last Saturday's loop never serves as normal).

use super::replay::Found;
use crate::db::DbConn;
use crate::domain::detect::root_cause::{contributors, Breakdown, Contributor};
use crate::domain::detect::series::SeriesId;
use crate::ledger::query::{self, CostFilter, GroupSum};
use chrono::DateTime;
use std::collections::BTreeMap;

/// Contributors reported per anomaly.
pub const TOP: usize = 10;
/// The reference period before an anomaly starts.
const REFERENCE_SECS: i64 = 7 * 86_400;

const COLUMNS: [&str; 7] =
    ["service_name", "sub_account_id", "sku_id", "resource_id", "region_id", "consumed_unit", "tags"];
const NAMES: [&str; 6] = ["service", "sub_account", "sku", "resource", "region", "unit"];

/// Top contributors of one found incident. `history_start` is the series' first point, so
/// a young series compares against what it has; `excluded` are spans `[from, until)` that are
/// not normal (other incidents of the series, suppressions).
pub fn compute(
    conn: &mut DbConn,
    id: &SeriesId,
    step_secs: i64,
    found: &Found,
    history_start: i64,
    excluded: &[(i64, i64)],
) -> diesel::QueryResult<Vec<Contributor>> {
    let (filter, tag) = match id {
        SeriesId::Service { provider, sub_account, service } => (
            CostFilter {
                providers: Some(vec![provider.clone()]),
                sub_account: Some(sub_account.clone()),
                service: Some(service.clone()),
                tagged_only: false,
            },
            None,
        ),
        SeriesId::Tag { key, value } => (CostFilter { tagged_only: true, ..CostFilter::default() }, Some((key, value))),
        // LLM usage has no breakdown below key and model yet.
        SeriesId::Llm { .. } => return Ok(Vec::new()),
    };
    let start = found.started_at;
    // Exactly the points the replay measured, so the ledger and the expectation cover one span.
    let end = start + step_secs * i64::from(found.points.max(1));
    let reference_start = (start - REFERENCE_SECS).max(history_start);
    let at = |t: i64| DateTime::from_timestamp(t, 0).unwrap_or_default();
    let reference = query::sum_effective_cost(conn, at(reference_start), at(start), true, &COLUMNS, &filter)?;
    let normal = |row: &GroupSum| {
        let hour = row.hour.map_or(0, |h| h.timestamp());
        !excluded.iter().any(|(from, until)| hour >= *from && hour < *until)
    };
    let incident = query::sum_effective_cost(conn, at(start), at(end), false, &COLUMNS, &filter)?;
    let mut cells: BTreeMap<(String, String), (i128, i128)> = BTreeMap::new();
    let reference = reference.into_iter().filter(normal);
    for (rows, is_incident) in [(reference.collect::<Vec<_>>(), false), (incident, true)] {
        for row in rows {
            if tag.is_some_and(|(k, v)| tag_value(&row, k).as_deref() != Some(v.as_str())) {
                continue;
            }
            for (dimension, value) in dimensions(&row) {
                let cell = cells.entry((dimension, value)).or_default();
                if is_incident {
                    cell.1 += row.effective_cost.units();
                } else {
                    cell.0 += row.effective_cost.units();
                }
            }
        }
    }
    let rows: Vec<Breakdown> = cells
        .into_iter()
        .map(|((dimension, value), (reference, incident))| Breakdown { dimension, value, reference, incident })
        .collect();
    let up = found.direction == crate::domain::detect::incident::Direction::Up;
    Ok(contributors(&rows, found.expected.units(), up, TOP))
}

fn tags_of(row: &GroupSum) -> serde_json::Map<String, serde_json::Value> {
    match row.keys.get(6).cloned().flatten().map(|t| serde_json::from_str(&t)) {
        Some(Ok(serde_json::Value::Object(map))) => map,
        _ => serde_json::Map::new(),
    }
}

fn tag_value(row: &GroupSum, key: &str) -> Option<String> {
    tags_of(row).get(key).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
}

/// (dimension, value) pairs of one row: each column, then every tag as `tag:<key>`.
fn dimensions(row: &GroupSum) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = NAMES
        .iter()
        .enumerate()
        .map(|(i, name)| (name.to_string(), row.keys.get(i).cloned().flatten().unwrap_or_else(|| "(none)".into())))
        .collect();
    for (k, v) in tags_of(row) {
        out.push((format!("tag:{k}"), v.as_str().map_or_else(|| v.to_string(), str::to_string)));
    }
    out
}
