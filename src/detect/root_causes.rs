//! Root-cause breakdowns from the ledger: the anomaly's points against the week before.

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
/// a young series compares against what it has.
pub fn compute(
    conn: &mut DbConn,
    id: &SeriesId,
    step_secs: i64,
    found: &Found,
    history_start: i64,
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
    let end = found.resolved_at.unwrap_or(found.last_out_at).max(start) + step_secs;
    let reference_start = (start - REFERENCE_SECS).max(history_start);
    let (reference_points, incident_points) = ((start - reference_start) / step_secs, (end - start) / step_secs);
    let at = |t: i64| DateTime::from_timestamp(t, 0).unwrap_or_default();
    let reference = query::sum_effective_cost(conn, at(reference_start), at(start), false, &COLUMNS, &filter)?;
    let incident = query::sum_effective_cost(conn, at(start), at(end), false, &COLUMNS, &filter)?;
    let mut cells: BTreeMap<(String, String), (i128, i128)> = BTreeMap::new();
    for (rows, is_incident) in [(reference, false), (incident, true)] {
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
    let (rp, ip) = (u32::try_from(reference_points).unwrap_or(0), u32::try_from(incident_points).unwrap_or(0));
    Ok(contributors(&rows, rp, ip, up, TOP))
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
