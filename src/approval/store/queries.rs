//! Reading actions (histories, lists, counts) and booking what a succeeded action recovered.

use super::{get, ActionRow};
use crate::audit;
use crate::db::schema::{action_transitions as tr, actions as ac};
use crate::db::{write_transaction, DbConn};
use crate::domain::approval::Status;
use crate::domain::ids::{ActionId, AnomalyId};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

/// One stored step of an action's history (shown as `view::TransitionView`).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = tr)]
pub struct TransitionRow {
    pub id: i64,
    pub action_id: String,
    pub from_status: String,
    pub to_status: String,
    pub command: String,
    pub actor: String,
    pub at: NaiveDateTime,
    pub comment: Option<String>,
    pub reason: Option<String>,
    pub build_sha: String,
}

pub fn history(conn: &mut DbConn, id: &ActionId) -> QueryResult<Vec<TransitionRow>> {
    tr::table.filter(tr::action_id.eq(id)).order_by(tr::id.asc()).select(TransitionRow::as_select()).load(conn)
}

/// Newest first, optionally one status or one anomaly's.
pub fn list(
    conn: &mut DbConn,
    status: Option<Status>,
    anomaly: Option<&AnomalyId>,
    limit: i64,
) -> QueryResult<Vec<ActionRow>> {
    list_page(conn, status, anomaly, limit, 0)
}

/// One page of [`list`], skipping `offset` rows.
pub fn list_page(
    conn: &mut DbConn,
    status: Option<Status>,
    anomaly: Option<&AnomalyId>,
    limit: i64,
    offset: i64,
) -> QueryResult<Vec<ActionRow>> {
    let mut q = ac::table.select(ActionRow::as_select()).into_boxed();
    if let Some(s) = status {
        q = q.filter(ac::status.eq(s.as_str()));
    }
    if let Some(a) = anomaly {
        q = q.filter(ac::anomaly_id.eq(a.to_string()));
    }
    q.order_by((ac::created_at.desc(), ac::id.desc())).limit(limit).offset(offset).load(conn)
}

/// Records what a succeeded action saved: its estimated excess per hour times the recovery
/// horizon (how long the runaway would have gone on).
pub fn record_recovery(conn: &mut DbConn, id: &ActionId, horizon_hours: u32) -> QueryResult<i64> {
    let row = get(conn, id)?.ok_or(diesel::result::Error::NotFound)?;
    let recovered = row.estimated_saving_per_hour.saturating_mul(i64::from(horizon_hours));
    diesel::update(ac::table.find(id).filter(ac::status.eq(Status::Succeeded.as_str())))
        .set(ac::recovered.eq(Some(recovered)))
        .execute(conn)?;
    Ok(recovered)
}

/// Each action with the currency of its anomaly (actions carry amounts in it); "USD" for
/// actions without one.
pub fn with_currencies(conn: &mut DbConn, rows: Vec<ActionRow>) -> QueryResult<Vec<(ActionRow, String)>> {
    use crate::db::schema::anomalies as an;
    let ids: Vec<&str> = rows.iter().filter_map(|r| r.anomaly_id.as_deref()).collect();
    let found: Vec<(String, String)> =
        an::table.filter(an::id.eq_any(&ids)).select((an::id, an::currency)).load(conn)?;
    let by_anomaly: std::collections::HashMap<String, String> = found.into_iter().collect();
    Ok(rows
        .into_iter()
        .map(|r| {
            let currency = r.anomaly_id.as_deref().and_then(|a| by_anomaly.get(a)).cloned();
            (r, currency.unwrap_or_else(|| "USD".into()))
        })
        .collect())
}

/// What succeeded actions recovered in one currency (their anomalies'), exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    pub currency: String,
    /// In 1e-11 units of the currency.
    pub units: i128,
    /// How many actions it sums.
    pub actions: usize,
}

/// Cost recovered by succeeded actions, one sum per currency (of each action's anomaly, as
/// [`with_currencies`] reads it), in currency order: amounts in different currencies are
/// never added together.
pub fn recovered_per_currency(conn: &mut DbConn) -> QueryResult<Vec<Recovery>> {
    let rows: Vec<ActionRow> =
        ac::table.filter(ac::recovered.is_not_null()).select(ActionRow::as_select()).load(conn)?;
    let mut sums: std::collections::BTreeMap<String, (i128, usize)> = std::collections::BTreeMap::new();
    for (row, currency) in with_currencies(conn, rows)? {
        let sum = sums.entry(currency).or_default();
        *sum = (sum.0 + i128::from(row.recovered.unwrap_or(0)), sum.1 + 1);
    }
    Ok(sums.into_iter().map(|(currency, (units, actions))| Recovery { currency, units, actions }).collect())
}

/// The second half of verification: once an anomaly has resolved (its cost is back within
/// the band), every succeeded action of it that was not yet confirmed is, with an audit
/// entry. Returns how many.
pub fn confirm_cost_back_in_band(conn: &mut DbConn, anomaly_id: &AnomalyId, now: DateTime<Utc>) -> QueryResult<usize> {
    write_transaction(conn, |conn| {
        let rows: Vec<ActionRow> = ac::table
            .filter(ac::anomaly_id.eq(anomaly_id))
            .filter(ac::status.eq(Status::Succeeded.as_str()))
            .filter(ac::cost_verified_at.is_null())
            .select(ActionRow::as_select())
            .load(conn)?;
        for row in &rows {
            diesel::update(ac::table.find(&row.id))
                .set(ac::cost_verified_at.eq(Some(now.naive_utc())))
                .execute(conn)?;
            let target = format!("action {} / {} {}", row.id, row.kind, row.target);
            let event = audit::Event {
                actor: "optimizer",
                action: "action.cost_verified",
                target: &target,
                result: "cost back within the band",
                ..audit::Event::default()
            };
            audit::append(conn, &event, now)?;
        }
        Ok(rows.len())
    })
}

/// Actions per status (for /metrics).
pub fn count_by_status(conn: &mut DbConn) -> QueryResult<Vec<(String, i64)>> {
    ac::table.group_by(ac::status).select((ac::status, diesel::dsl::count_star())).load(conn)
}
