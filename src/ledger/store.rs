//! Idempotent writes. A record's natural key decides insert or update. Each batch first
//! reads the stored content hashes of its keys and writes only rows that are new or whose
//! content changed, so importing the same data twice writes nothing, a restated record
//! replaces (never duplicates) the old one, and the counts are exact. Callers own the
//! transaction and must not pass two rows with the same key in one call.

use super::rows::{CostRow, LlmUsageRow};
use crate::db::schema::{cost_records as cr, llm_usage as lu};
use crate::db::DbConn;
use crate::per_backend;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use std::collections::BTreeSet;
use std::collections::HashMap;

/// Rows per INSERT: 48 columns x 600 rows stays under SQLite's 32,766 bound parameters.
pub const BATCH_ROWS: usize = 600;

/// What a write changed, for the `CostsIngested` message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteSummary {
    pub received: u64,
    pub inserted: u64,
    pub updated: u64,
    pub period_start: Option<DateTime<Utc>>,
    pub period_end: Option<DateTime<Utc>>,
    /// (provider, sub-account, service) of every record received.
    pub series: BTreeSet<(String, String, String)>,
}

impl WriteSummary {
    pub fn merge(&mut self, other: WriteSummary) {
        self.received += other.received;
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.period_start = min_opt(self.period_start, other.period_start);
        self.period_end = max_opt(self.period_end, other.period_end);
        self.series.extend(other.series);
    }
}

impl WriteSummary {
    pub fn changed(&self) -> u64 {
        self.inserted + self.updated
    }
}

/// Splits a batch into (new rows, changed rows) by comparing stored content hashes.
fn new_and_changed<'r, R>(
    rows: &'r [R],
    stored: &HashMap<String, String>,
    key: impl Fn(&R) -> (&str, &str),
) -> (Vec<&'r R>, u64) {
    let mut write = Vec::with_capacity(rows.len());
    let mut updated = 0;
    for row in rows {
        let (k, hash) = key(row);
        match stored.get(k) {
            Some(old) if old == hash => {}
            Some(_) => {
                updated += 1;
                write.push(row);
            }
            None => write.push(row),
        }
    }
    (write, updated)
}

fn min_opt<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_opt<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Upserts cost rows in batches; call inside a write transaction.
pub fn upsert_costs(conn: &mut DbConn, rows: &[CostRow]) -> QueryResult<WriteSummary> {
    let mut summary = WriteSummary { received: rows.len() as u64, ..Default::default() };
    for row in rows {
        summary.period_start = min_opt(summary.period_start, Some(row.charge_period_start.and_utc()));
        summary.period_end = max_opt(summary.period_end, Some(row.charge_period_end.and_utc()));
        summary.series.insert((
            row.provider_name.clone(),
            row.sub_account_id.clone().unwrap_or_default(),
            row.service_name.clone(),
        ));
    }
    for chunk in rows.chunks(BATCH_ROWS) {
        let keys: Vec<&str> = chunk.iter().map(|r| r.record_key.as_str()).collect();
        let stored: HashMap<String, String> = cr::table
            .filter(cr::record_key.eq_any(&keys))
            .select((cr::record_key, cr::content_hash))
            .load::<(String, String)>(conn)?
            .into_iter()
            .collect();
        let (write, updated) = new_and_changed(chunk, &stored, |r| (r.record_key.as_str(), r.content_hash.as_str()));
        let written = write.len() as u64;
        if written == 0 {
            continue;
        }
        per_backend!(conn, |c| diesel::insert_into(cr::table)
            .values(write)
            .on_conflict(cr::record_key)
            .do_update()
            .set((
                (
                    cr::content_hash.eq(excluded(cr::content_hash)),
                    cr::source.eq(excluded(cr::source)),
                    cr::billed_cost.eq(excluded(cr::billed_cost)),
                    cr::effective_cost.eq(excluded(cr::effective_cost)),
                    cr::list_cost.eq(excluded(cr::list_cost)),
                    cr::contracted_cost.eq(excluded(cr::contracted_cost)),
                    cr::consumed_quantity.eq(excluded(cr::consumed_quantity)),
                    cr::pricing_quantity.eq(excluded(cr::pricing_quantity)),
                    cr::list_unit_price.eq(excluded(cr::list_unit_price)),
                    cr::contracted_unit_price.eq(excluded(cr::contracted_unit_price)),
                    cr::billing_period_end.eq(excluded(cr::billing_period_end)),
                ),
                (
                    cr::billing_account_name.eq(excluded(cr::billing_account_name)),
                    cr::sub_account_name.eq(excluded(cr::sub_account_name)),
                    cr::resource_name.eq(excluded(cr::resource_name)),
                    cr::resource_type.eq(excluded(cr::resource_type)),
                    cr::region_name.eq(excluded(cr::region_name)),
                    cr::service_category.eq(excluded(cr::service_category)),
                    cr::publisher_name.eq(excluded(cr::publisher_name)),
                    cr::invoice_issuer_name.eq(excluded(cr::invoice_issuer_name)),
                    cr::commitment_discount_category.eq(excluded(cr::commitment_discount_category)),
                    cr::commitment_discount_name.eq(excluded(cr::commitment_discount_name)),
                    cr::commitment_discount_type.eq(excluded(cr::commitment_discount_type)),
                    cr::updated_at.eq(excluded(cr::updated_at)),
                ),
            ))
            .execute(c))?;
        summary.inserted += written - updated;
        summary.updated += updated;
    }
    Ok(summary)
}

/// Upserts LLM usage rows in batches; call inside a write transaction.
pub fn upsert_llm_usage(conn: &mut DbConn, rows: &[LlmUsageRow]) -> QueryResult<WriteSummary> {
    let mut summary = WriteSummary { received: rows.len() as u64, ..Default::default() };
    for chunk in rows.chunks(BATCH_ROWS) {
        let keys: Vec<&str> = chunk.iter().map(|r| r.record_key.as_str()).collect();
        let stored: HashMap<String, String> = lu::table
            .filter(lu::record_key.eq_any(&keys))
            .select((lu::record_key, lu::content_hash))
            .load::<(String, String)>(conn)?
            .into_iter()
            .collect();
        let (write, updated) = new_and_changed(chunk, &stored, |r| (r.record_key.as_str(), r.content_hash.as_str()));
        let written = write.len() as u64;
        if written == 0 {
            continue;
        }
        per_backend!(conn, |c| diesel::insert_into(lu::table)
            .values(write)
            .on_conflict(lu::record_key)
            .do_update()
            .set((
                lu::content_hash.eq(excluded(lu::content_hash)),
                lu::source.eq(excluded(lu::source)),
                lu::api_key_name.eq(excluded(lu::api_key_name)),
                lu::input_tokens.eq(excluded(lu::input_tokens)),
                lu::cached_input_tokens.eq(excluded(lu::cached_input_tokens)),
                lu::output_tokens.eq(excluded(lu::output_tokens)),
                lu::requests.eq(excluded(lu::requests)),
                lu::cost.eq(excluded(lu::cost)),
                lu::currency.eq(excluded(lu::currency)),
                lu::updated_at.eq(excluded(lu::updated_at)),
            ))
            .execute(c))?;
        summary.inserted += written - updated;
        summary.updated += updated;
    }
    Ok(summary)
}
