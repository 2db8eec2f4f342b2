//! Runs one pull of one source: read its cursor, pull, write records and the new cursor
//! in one transaction, record success or failure. A failing source never stops the others.

use super::sources::CostSource;
use super::{to_rows, write_rows, Ingestor};
use crate::db::schema::ingest_cursors as ic;
use crate::db::write_transaction;
use crate::ledger::WriteSummary;
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use std::time::Instant;

#[derive(Debug, Clone, Queryable)]
pub struct CursorRow {
    pub source: String,
    pub cursor: String,
    pub last_success_at: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub last_error_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
}

/// Most chunks one run pulls before yielding (a backfill of years stays bounded per run).
const MAX_CHUNKS_PER_RUN: usize = 200;

pub async fn run_once(ingestor: &Ingestor, source: &dyn CostSource) -> anyhow::Result<WriteSummary> {
    let started = Instant::now();
    let name = source.name().to_string();
    let mut result = Ok(WriteSummary::default());
    for _ in 0..MAX_CHUNKS_PER_RUN {
        match pull_and_write(ingestor, source).await {
            Ok((summary, more)) => {
                // Each chunk is its own commit, so it is announced on its own: a later
                // chunk failing must not hide data that is already stored.
                ingestor.announce(&name, &summary);
                if let Ok(total) = result.as_mut() {
                    total.merge(summary);
                }
                if !more {
                    break;
                }
            }
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    let outcome = if result.is_ok() { "success" } else { "error" };
    metrics::counter!("costguard_ingest_runs_total", "source" => name.clone(), "outcome" => outcome).increment(1);
    metrics::histogram!("costguard_ingest_run_duration_seconds", "source" => name.clone())
        .record(started.elapsed().as_secs_f64());
    match &result {
        Ok(summary) => {
            tracing::info!(source = %name, received = summary.received, inserted = summary.inserted, updated = summary.updated, "ingestion run finished");
        }
        Err(e) => {
            let message = crate::clouds::errors::one_line(e);
            tracing::warn!(source = %name, error = %message, "ingestion run failed");
            let db_name = name.clone();
            let _ = ingestor.db().run(move |conn| record_error(conn, &db_name, &message)).await;
        }
    }
    result
}

/// One pull and its write; returns what changed and whether the source has more.
async fn pull_and_write(ingestor: &Ingestor, source: &dyn CostSource) -> anyhow::Result<(WriteSummary, bool)> {
    let name = source.name().to_string();
    let lookup = name.clone();
    let cursor: Option<String> = ingestor
        .db()
        .run(move |conn| {
            ic::table.find(lookup).select(ic::cursor).first::<String>(conn).optional().map_err(crate::db::DbError::from)
        })
        .await?;
    let pull = source.pull(cursor, Utc::now()).await?;
    let more = pull.more;
    let (costs, llm) = to_rows(&name, pull.batch)?;
    let next_cursor = pull.cursor;
    let (supersedes, estimates_of, reread) = (pull.supersedes, pull.estimates_of, pull.reread);
    let summary = ingestor
        .db()
        .run(move |conn| {
            write_transaction(conn, |c| {
                let costs = match estimates_of {
                    Some(billed) => crate::ledger::without_covered(c, billed, costs)?,
                    None => costs,
                };
                let (mut summary, _llm) = write_rows(c, &costs, &llm)?;
                if let Some(r) = &reread {
                    summary.merge(crate::ledger::delete_unreported(c, r, &costs, &llm)?);
                }
                for s in &supersedes {
                    summary.merge(crate::ledger::delete_superseded(c, s)?);
                }
                crate::ledger::rollups::refresh(c, &summary.touched)?;
                save_cursor(c, &name, &next_cursor)?;
                Ok::<_, diesel::result::Error>(summary)
            })
            .map_err(crate::db::DbError::from)
        })
        .await?;
    Ok((summary, more))
}

fn save_cursor(conn: &mut crate::db::DbConn, source: &str, cursor: &str) -> QueryResult<()> {
    let now = Utc::now().naive_utc();
    let updated = diesel::update(ic::table.find(source))
        .set((ic::cursor.eq(cursor), ic::last_success_at.eq(Some(now)), ic::updated_at.eq(now)))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(ic::table)
            .values((
                ic::source.eq(source),
                ic::cursor.eq(cursor),
                ic::last_success_at.eq(Some(now)),
                ic::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

fn record_error(conn: &mut crate::db::DbConn, source: &str, message: &str) -> Result<(), crate::db::DbError> {
    let now = Utc::now().naive_utc();
    let updated = diesel::update(ic::table.find(source))
        .set((ic::last_error.eq(Some(message)), ic::last_error_at.eq(Some(now)), ic::updated_at.eq(now)))
        .execute(conn)?;
    if updated == 0 {
        // No cursor yet: keep the error without pretending a position.
        diesel::insert_into(ic::table)
            .values((
                ic::source.eq(source),
                ic::cursor.eq(""),
                ic::last_error.eq(Some(message)),
                ic::last_error_at.eq(Some(now)),
                ic::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Every source's state, for readiness and the dashboard.
pub fn cursors(conn: &mut crate::db::DbConn) -> QueryResult<Vec<CursorRow>> {
    ic::table.order(ic::source).load(conn)
}
