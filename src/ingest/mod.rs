//! Ingestion: everything that writes cost and usage into the ledger. Each write is one
//! transaction; after it commits a `CostsIngested` message goes on the bus.
//!
//! Depends on `domain`, `db`, `ledger`, `bus`; never on detection, approval or execution.

pub mod focus_csv;
pub mod json;
pub mod runner;
pub mod schedule;
pub mod sources;

use crate::bus::{Bus, CostsIngested, SeriesKey};
use crate::db::write_transaction;
use crate::db::{Db, DbError};
use crate::domain::focus::CostRecord;
use crate::domain::llm::LlmUsage;
use crate::ledger::rows::{CostRow, LlmUsageRow};
use crate::ledger::{self, WriteSummary};

/// Validated records ready to be written together.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub costs: Vec<CostRecord>,
    pub llm_usage: Vec<LlmUsage>,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("record {second} repeats the identity of record {first}")]
    Duplicate { first: u64, second: u64 },
}

impl From<diesel::result::Error> for IngestError {
    fn from(e: diesel::result::Error) -> Self {
        IngestError::Db(DbError::Query(e))
    }
}

/// What callers hold to write into the ledger.
#[derive(Debug, Clone)]
pub struct Ingestor {
    db: Db,
    bus: Bus,
    /// The server's leadership; None in a CLI process, which never leads.
    leader: Option<crate::cluster::Leadership>,
    /// `[import]`: what a CSV import accepts.
    import_limits: focus_csv::ImportLimits,
}

impl Ingestor {
    pub fn new(db: Db, bus: Bus) -> Self {
        Ingestor { db, bus, leader: None, import_limits: focus_csv::ImportLimits::default() }
    }

    /// CSV imports are held to `limits` (`[import]`) instead of the defaults.
    pub fn with_import_limits(self, limits: focus_csv::ImportLimits) -> Self {
        Ingestor { import_limits: limits, ..self }
    }

    /// In a server: writes on a follower wake the leader through the database.
    pub fn led_by(self, leader: crate::cluster::Leadership) -> Self {
        Ingestor { leader: Some(leader), ..self }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Writes a batch all-or-nothing, then announces it. Positions in errors are 0-based
    /// indexes into `batch.costs` (then `batch.llm_usage`).
    pub async fn write(&self, source: &str, batch: Batch) -> Result<(WriteSummary, WriteSummary), IngestError> {
        let (cost_rows, llm_rows) = to_rows(source, batch)?;
        let (costs, llm) = self
            .db
            .run(move |conn| {
                write_transaction(conn, |c| {
                    let written = write_rows(c, &cost_rows, &llm_rows)?;
                    ledger::rollups::refresh(c, &written.0.touched)?;
                    Ok::<_, diesel::result::Error>(written)
                })
                .map_err(DbError::from)
            })
            .await?;
        self.announce(source, &costs);
        Ok((costs, llm))
    }

    /// Imports a FOCUS CSV stream (plain or gzip) all-or-nothing on the blocking pool.
    /// `progress` gets the rows written so far after every batch.
    pub async fn import_csv<R: std::io::Read + Send + 'static>(
        &self,
        source: &str,
        input: R,
        mut progress: impl FnMut(u64) + Send + 'static,
    ) -> Result<focus_csv::ImportReport, focus_csv::ImportError> {
        let db = self.db.clone();
        let owned_source = source.to_string();
        let limits = self.import_limits;
        let report = tokio::task::spawn_blocking(move || {
            let mut conn = db.get_blocking()?;
            let input = focus_csv::decoded(input).map_err(|e| focus_csv::ImportError {
                kind: focus_csv::ImportErrorKind::Malformed,
                line: None,
                column: None,
                message: format!("cannot read the input: {e}"),
            })?;
            focus_csv::import(&mut conn, input, &owned_source, limits, &mut progress)
        })
        .await
        .map_err(|e| focus_csv::ImportError::from(DbError::from(e)))??;
        self.announce(source, &report.summary);
        Ok(report)
    }

    /// Publishes what a committed write changed (nothing when nothing changed).
    pub fn announce(&self, source: &str, summary: &WriteSummary) {
        if summary.changed() == 0 {
            return;
        }
        if !self.leader.as_ref().is_some_and(crate::cluster::Leadership::is_leader) {
            // This process's bus reaches no detective that runs: tell the leader's. A lost
            // wake-up only waits for the next sweep.
            let db = self.db.clone();
            tokio::spawn(async move {
                let bumped = db
                    .run(|c| crate::cluster::wakeups::bump(c, crate::cluster::wakeups::LEDGER).map_err(DbError::from))
                    .await;
                if let Err(e) = bumped {
                    tracing::debug!(error = %e, "could not wake the leader");
                }
            });
        }
        metrics::counter!("costguard_ledger_records_written_total", "source" => source.to_string(), "kind" => "inserted").increment(summary.inserted);
        metrics::counter!("costguard_ledger_records_written_total", "source" => source.to_string(), "kind" => "updated").increment(summary.updated);
        self.bus.publish_costs_ingested(CostsIngested {
            source: source.to_string(),
            inserted: summary.inserted,
            updated: summary.updated,
            period_start: summary.period_start,
            period_end: summary.period_end,
            series: summary
                .series
                .iter()
                .map(|(p, a, s)| SeriesKey { provider: p.clone(), sub_account: a.clone(), service: s.clone() })
                .collect(),
        });
    }
}

/// Converts to rows, refusing a batch that names one identity twice.
pub fn to_rows(source: &str, batch: Batch) -> Result<(Vec<CostRow>, Vec<LlmUsageRow>), IngestError> {
    let now = chrono::Utc::now();
    let mut seen = crate::domain::record_key::SeenKeys::default();
    let mut costs = Vec::with_capacity(batch.costs.len());
    for (i, record) in batch.costs.into_iter().enumerate() {
        let key = record.key();
        seen.check(&key, i as u64).map_err(|first| IngestError::Duplicate { first, second: i as u64 })?;
        costs.push(CostRow::new(record, key, source, now.into()));
    }
    let mut seen = crate::domain::record_key::SeenKeys::default();
    let mut llm = Vec::with_capacity(batch.llm_usage.len());
    for (i, usage) in batch.llm_usage.into_iter().enumerate() {
        seen.check(&usage.key(), i as u64).map_err(|first| IngestError::Duplicate { first, second: i as u64 })?;
        llm.push(LlmUsageRow::new(usage, source, now.naive_utc()));
    }
    Ok((costs, llm))
}

/// Writes both kinds of rows; the caller owns the transaction.
pub fn write_rows(
    conn: &mut crate::db::DbConn,
    costs: &[CostRow],
    llm: &[LlmUsageRow],
) -> Result<(WriteSummary, WriteSummary), diesel::result::Error> {
    let cost_summary = ledger::upsert_costs(conn, costs)?;
    let llm_summary = ledger::upsert_llm_usage(conn, llm)?;
    Ok((cost_summary, llm_summary))
}
