//! Idempotent writes. A record's natural key decides insert or update: each batch looks its
//! keys up once, inserts the rows whose key is new and updates only those whose stored
//! content hash differs. Importing the same data twice writes nothing,
//! a restated record replaces (never duplicates) the old one, and the counts are exact.
//! Callers own the transaction and must not pass two rows with the same key in one call.

use super::rollups::Touched;
use super::rows::{CostRow, LlmUsageRow};
use crate::db::schema::{cost_records as cr, llm_usage as lu};
use crate::db::DbConn;
use crate::per_backend;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use std::collections::BTreeSet;
use std::collections::HashMap;

/// Rows per INSERT statement: 48 columns x 600 rows stays under SQLite's 32,766 bound
/// parameters (PostgreSQL allows 65,535).
pub(super) const ROWS_PER_INSERT: usize = 600;

/// Rows looked up and written per round trip. PostgreSQL takes new rows through COPY, which
/// pays off in large batches. SQLite inserts in groups of `SQLITE_GROUP`, so its batch is a
/// whole number of groups (only a batch's remainder needs a statement of its own).
pub fn batch_rows(backend: crate::db::Backend) -> usize {
    match backend {
        crate::db::Backend::Sqlite => 8 * SQLITE_GROUP,
        crate::db::Backend::Postgres => 5_000,
    }
}

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
    /// The hours whose rows were inserted, changed or deleted: what the rollups rebuild.
    pub touched: Touched,
}

impl WriteSummary {
    pub fn merge(&mut self, other: WriteSummary) {
        self.received += other.received;
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.period_start = min_opt(self.period_start, other.period_start);
        self.period_end = max_opt(self.period_end, other.period_end);
        self.series.extend(other.series);
        self.touched.merge(other.touched);
    }

    pub fn changed(&self) -> u64 {
        self.inserted + self.updated
    }
}

/// Splits a batch into rows that are new and rows whose stored content differs;
/// rows stored with the same content hash are left out.
fn new_and_changed<'r, R>(
    rows: &'r [R],
    stored: &HashMap<Vec<u8>, Vec<u8>>,
    key: impl Fn(&R) -> (&[u8], &[u8]),
) -> (Vec<&'r R>, Vec<&'r R>) {
    let (mut new, mut changed) = (Vec::new(), Vec::new());
    for row in rows {
        let (k, hash) = key(row);
        match stored.get(k) {
            Some(old) if old == hash => {}
            Some(_) => changed.push(row),
            None => new.push(row),
        }
    }
    (new, changed)
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

/// How a bulk import writes: into an empty ledger its secondary indexes (and on PostgreSQL
/// its primary key) are built once at the end, as `pg_restore` does, instead of row by row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BulkLoad {
    /// The ledger was empty when the load's transaction began.
    fresh: bool,
}

impl BulkLoad {
    /// The ledger was empty when the load began: everything it holds at the end is the load's.
    pub fn is_fresh(&self) -> bool {
        self.fresh
    }
}

const PERIOD_INDEX: &str = "CREATE INDEX cost_records_by_period ON cost_records (charge_period_start)";

/// Call first inside the import's write transaction. When the ledger is empty, drops the
/// indexes that [`finish_bulk_load`] rebuilds (the identity check stays exact: an import
/// refuses repeated identities itself, and re-adding the primary key would fail otherwise).
pub fn begin_bulk_load(conn: &mut DbConn) -> QueryResult<BulkLoad> {
    use diesel::connection::SimpleConnection;
    if let DbConn::Postgres(c) = conn {
        // Other writers wait; readers go on until the indexes are dropped.
        c.batch_execute("LOCK TABLE cost_records IN SHARE ROW EXCLUSIVE MODE")?;
    }
    let empty = cr::table.select(cr::record_key).first::<Vec<u8>>(conn).optional()?.is_none();
    if !empty {
        return Ok(BulkLoad { fresh: false });
    }
    match conn {
        DbConn::Sqlite(c) => c.batch_execute("DROP INDEX cost_records_by_period")?,
        DbConn::Postgres(c) => c.batch_execute(
            "DROP INDEX cost_records_by_period; ALTER TABLE cost_records DROP CONSTRAINT cost_records_pkey",
        )?,
    }
    tracing::debug!("bulk load into an empty ledger: indexes are built at the end");
    Ok(BulkLoad { fresh: true })
}

/// Call last inside the import's write transaction: rebuilds what `begin_bulk_load` dropped,
/// exactly as the migrations define it.
pub fn finish_bulk_load(conn: &mut DbConn, load: BulkLoad) -> QueryResult<()> {
    use diesel::connection::SimpleConnection;
    if !load.fresh {
        return Ok(());
    }
    match conn {
        DbConn::Sqlite(c) => c.batch_execute(PERIOD_INDEX),
        DbConn::Postgres(c) => c.batch_execute(&format!(
            "ALTER TABLE cost_records ADD CONSTRAINT cost_records_pkey PRIMARY KEY (record_key); {PERIOD_INDEX}"
        )),
    }
}

/// Writes cost rows, batch by batch; call inside a write transaction.
pub fn upsert_costs(conn: &mut DbConn, rows: &[CostRow]) -> QueryResult<WriteSummary> {
    upsert_costs_in(conn, rows, BulkLoad::default())
}

/// [`upsert_costs`] within a bulk load: into a fresh ledger every row is new (the import
/// refused repeats), so rows are written without looking their keys up.
pub fn upsert_costs_in(conn: &mut DbConn, rows: &[CostRow], load: BulkLoad) -> QueryResult<WriteSummary> {
    let mut summary = WriteSummary { received: rows.len() as u64, ..Default::default() };
    for row in rows {
        summary.period_start = min_opt(summary.period_start, Some(row.charge_period_start.0.and_utc()));
        summary.period_end = max_opt(summary.period_end, Some(row.charge_period_end.0.and_utc()));
        summary.series.insert((
            row.provider_name.clone(),
            row.sub_account_id.clone().unwrap_or_default(),
            row.service_name.clone(),
        ));
    }
    for chunk in rows.chunks(batch_rows(conn.backend())) {
        // Into a fresh ledger every row is new (the import refused repeated identities), so
        // nothing is looked up; otherwise one indexed lookup per batch decides, and rows
        // stored with the same content are neither rewritten nor touched.
        let stored = if load.fresh { HashMap::new() } else { stored_hashes(conn, chunk)? };
        let (new, changed) = new_and_changed(chunk, &stored, |r| (r.record_key.as_slice(), r.content_hash.as_slice()));
        // A restated row keeps its key, and so its charge period and hour.
        new.iter().chain(&changed).for_each(|r| summary.touched.add(r.charge_period_start.0));
        summary.inserted += new.len() as u64;
        summary.updated += changed.len() as u64;
        insert_new_costs(conn, chunk, &new)?;
        upsert_cost_rows(conn, &changed)?;
    }
    Ok(summary)
}

/// The stored content hash of each of the rows' keys that exists.
fn stored_hashes(conn: &mut DbConn, rows: &[CostRow]) -> QueryResult<HashMap<Vec<u8>, Vec<u8>>> {
    let keys: Vec<&[u8]> = rows.iter().map(|r| r.record_key.as_slice()).collect();
    Ok(cr::table
        .filter(cr::record_key.eq_any(&keys))
        .select((cr::record_key, cr::content_hash))
        .load::<(Vec<u8>, Vec<u8>)>(conn)?
        .into_iter()
        .collect())
}

/// Inserts `new`, the rows of `chunk` known to be new. SQLite: when the whole chunk is new
/// (every import into an empty ledger, most pulls), fixed-size multi-row INSERTs of owned
/// rows, which reuse one cached prepared statement; otherwise statements of up to
/// `ROWS_PER_INSERT` rows. PostgreSQL: COPY.
fn insert_new_costs(conn: &mut DbConn, chunk: &[CostRow], new: &[&CostRow]) -> QueryResult<()> {
    match conn {
        DbConn::Sqlite(c) if new.len() == chunk.len() => {
            let mut groups = chunk.chunks_exact(SQLITE_GROUP);
            for group in groups.by_ref() {
                let rows: &[CostRow; SQLITE_GROUP] = group
                    .try_into()
                    .map_err(|_| diesel::result::Error::QueryBuilderError("a group of the wrong size".into()))?;
                diesel::insert_into(cr::table).values(rows).execute(c)?;
            }
            if !groups.remainder().is_empty() {
                diesel::insert_into(cr::table).values(groups.remainder()).execute(c)?;
            }
        }
        DbConn::Sqlite(c) => {
            for rows in new.chunks(ROWS_PER_INSERT) {
                diesel::insert_into(cr::table).values(rows.to_vec()).execute(c)?;
            }
        }
        DbConn::Postgres(c) => {
            if !new.is_empty() {
                diesel::copy_from(cr::table).from_insertable(new.to_vec()).execute(c)?;
            }
        }
    }
    Ok(())
}

/// Rows per cached multi-row SQLite INSERT.
const SQLITE_GROUP: usize = 128;

/// INSERT ... ON CONFLICT (record_key) DO UPDATE, in statements of `ROWS_PER_INSERT` rows.
fn upsert_cost_rows(conn: &mut DbConn, rows: &[&CostRow]) -> QueryResult<()> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        per_backend!(conn, |c| diesel::insert_into(cr::table)
            .values(chunk.to_vec())
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
    }
    Ok(())
}

/// Writes LLM usage rows (few per pull, so one path for both backends); call inside a
/// write transaction.
pub fn upsert_llm_usage(conn: &mut DbConn, rows: &[LlmUsageRow]) -> QueryResult<WriteSummary> {
    let mut summary = WriteSummary { received: rows.len() as u64, ..Default::default() };
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let keys: Vec<&[u8]> = chunk.iter().map(|r| r.record_key.as_slice()).collect();
        let stored: HashMap<Vec<u8>, Vec<u8>> = lu::table
            .filter(lu::record_key.eq_any(&keys))
            .select((lu::record_key, lu::content_hash))
            .load::<(Vec<u8>, Vec<u8>)>(conn)?
            .into_iter()
            .collect();
        let (mut write, changed) =
            new_and_changed(chunk, &stored, |r| (r.record_key.as_slice(), r.content_hash.as_slice()));
        summary.inserted += write.len() as u64;
        summary.updated += changed.len() as u64;
        write.extend(changed);
        if write.is_empty() {
            continue;
        }
        per_backend!(conn, |c| diesel::insert_into(lu::table)
            .values(write.clone())
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
    }
    Ok(summary)
}
