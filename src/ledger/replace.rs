//! Replacing what a source said before, inside the caller's write transaction: estimates a
//! billed source now covers, estimates a billed source is about to cover, and the rows a
//! re-read window no longer reports. Each counts what it removed as an update of its series.

use super::rows::{CostRow, LlmUsageRow};
use super::store::{WriteSummary, ROWS_PER_INSERT};
use crate::db::schema::{cost_records as cr, llm_usage as lu};
use crate::db::DbConn;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use std::collections::{BTreeSet, HashMap};

/// Estimates that a billed source now covers: one source's rows for a (provider,
/// sub-account, service) series that start before `until` (the end of the billed periods).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Supersede {
    pub source: String,
    pub provider: String,
    pub sub_account: String,
    pub service: String,
    pub until: DateTime<Utc>,
}

/// Deletes the superseded estimates (inside the caller's transaction, with the billed rows
/// that replace them) and counts them as updates of their series.
pub fn delete_superseded(conn: &mut DbConn, s: &Supersede) -> QueryResult<WriteSummary> {
    let until = s.until.naive_utc();
    let superseded = cr::table
        .filter(cr::source.eq(&s.source))
        .filter(cr::provider_name.eq(&s.provider))
        .filter(cr::sub_account_id.eq(&s.sub_account))
        .filter(cr::service_name.eq(&s.service))
        .filter(cr::charge_period_start.lt(until));
    let (first, last): (Option<NaiveDateTime>, Option<NaiveDateTime>) = superseded
        .select((diesel::dsl::min(cr::charge_period_start), diesel::dsl::max(cr::charge_period_start)))
        .first(conn)?;
    let deleted = diesel::delete(superseded).execute(conn)?;
    let mut summary = WriteSummary { updated: deleted as u64, ..WriteSummary::default() };
    if let (true, Some(first), Some(last)) = (deleted > 0, first, last) {
        summary.series.insert((s.provider.clone(), s.sub_account.clone(), s.service.clone()));
        summary.touched.add_span(first, last);
    }
    Ok(summary)
}

/// Estimates for periods `billed_source` already covers are dropped, so an estimate can never
/// come back beside the billed row that replaced it (the other half of [`delete_superseded`]).
pub fn without_covered(conn: &mut DbConn, billed_source: &str, rows: Vec<CostRow>) -> QueryResult<Vec<CostRow>> {
    let mut covered: HashMap<(String, Option<String>, String), Option<chrono::NaiveDateTime>> = HashMap::new();
    let mut kept = Vec::with_capacity(rows.len());
    for row in rows {
        let series = (row.provider_name.clone(), row.sub_account_id.clone(), row.service_name.clone());
        let until = match covered.get(&series) {
            Some(t) => *t,
            None => {
                let mut query = cr::table
                    .filter(cr::source.eq(billed_source))
                    .filter(cr::provider_name.eq(&series.0))
                    .filter(cr::service_name.eq(&series.2))
                    .into_boxed();
                query = match &series.1 {
                    Some(account) => query.filter(cr::sub_account_id.eq(account.clone())),
                    None => query.filter(cr::sub_account_id.is_null()),
                };
                let t: Option<chrono::NaiveDateTime> =
                    query.select(diesel::dsl::max(cr::charge_period_end)).first(conn)?;
                covered.insert(series, t);
                t
            }
        };
        if until.is_none_or(|t| row.charge_period_start.0 >= t) {
            kept.push(row);
        }
    }
    Ok(kept)
}

/// A source that re-read all of `[from, to)`: its stored rows starting there that the new read
/// no longer holds are gone upstream (a restated bucket, a changed bucket width) and are
/// deleted, inside the caller's transaction with the new rows, so nothing is counted twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reread {
    pub source: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// (record key, provider, sub-account, service, charge period start) of a stored row.
type StoredRow = (Vec<u8>, String, Option<String>, String, NaiveDateTime);

pub fn delete_unreported(
    conn: &mut DbConn,
    r: &Reread,
    costs: &[CostRow],
    llm: &[LlmUsageRow],
) -> QueryResult<WriteSummary> {
    let (from, to) = (r.from.naive_utc(), r.to.naive_utc());
    let reported: BTreeSet<&[u8]> = costs.iter().map(|c| c.record_key.as_slice()).collect();
    let stored: Vec<StoredRow> = cr::table
        .filter(cr::source.eq(&r.source))
        .filter(cr::charge_period_start.ge(from))
        .filter(cr::charge_period_start.lt(to))
        .select((cr::record_key, cr::provider_name, cr::sub_account_id, cr::service_name, cr::charge_period_start))
        .load(conn)?;
    let mut summary = WriteSummary::default();
    let gone: Vec<_> = stored.into_iter().filter(|s| !reported.contains(s.0.as_slice())).collect();
    for chunk in gone.chunks(ROWS_PER_INSERT) {
        let keys: Vec<&[u8]> = chunk.iter().map(|g| g.0.as_slice()).collect();
        summary.updated += diesel::delete(cr::table.filter(cr::record_key.eq_any(keys))).execute(conn)? as u64;
    }
    gone.iter().for_each(|g| summary.touched.add(g.4));
    summary.series.extend(gone.into_iter().map(|(_, p, a, s, _)| (p, a.unwrap_or_default(), s)));

    let reported: BTreeSet<&[u8]> = llm.iter().map(|u| u.record_key.as_slice()).collect();
    let stored: Vec<Vec<u8>> = lu::table
        .filter(lu::source.eq(&r.source))
        .filter(lu::bucket_start.ge(from))
        .filter(lu::bucket_start.lt(to))
        .select(lu::record_key)
        .load(conn)?;
    let gone: Vec<&[u8]> = stored.iter().map(Vec::as_slice).filter(|k| !reported.contains(k)).collect();
    for keys in gone.chunks(ROWS_PER_INSERT) {
        diesel::delete(lu::table.filter(lu::record_key.eq_any(keys))).execute(conn)?;
    }
    Ok(summary)
}
