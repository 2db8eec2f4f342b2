//! Anomalies people file by hand, and resolving them by hand.

use super::feedback::close;
use super::rows::{get, AnomalyRow};
use super::timeline::record_event;
use crate::db::schema::anomalies as an;
use crate::db::{write_transaction, DbConn};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

/// A person's anomaly, e.g. something noticed on an invoice.
#[derive(Debug, Clone)]
pub struct Manual {
    pub severity: crate::domain::detect::decision::Severity,
    pub description: String,
    pub provider: Option<String>,
    pub sub_account: Option<String>,
    pub service: Option<String>,
    pub started_at: DateTime<Utc>,
}

pub fn insert_manual(conn: &mut DbConn, m: &Manual, actor: &str, now: DateTime<Utc>) -> QueryResult<AnomalyRow> {
    let id = uuid::Uuid::now_v7().to_string();
    let label = match (&m.provider, &m.service) {
        (Some(p), Some(s)) => format!("{p} / {s}"),
        (Some(p), None) => p.clone(),
        (None, Some(s)) => s.clone(),
        (None, None) => "manual".to_string(),
    };
    let n = now.naive_utc();
    write_transaction(conn, |conn| {
        diesel::insert_into(an::table)
            .values((
                an::id.eq(&id),
                an::series_key.eq(format!("manual:{id}")),
                an::series_kind.eq("manual"),
                an::provider.eq(&m.provider),
                an::sub_account.eq(&m.sub_account),
                an::service.eq(&m.service),
                an::label.eq(label),
                an::origin.eq("manual"),
                an::direction.eq("up"),
                an::state.eq("open"),
                an::severity.eq(m.severity.as_str()),
                an::description.eq(Some(&m.description)),
                an::started_at.eq(m.started_at.naive_utc()),
                an::last_out_at.eq(m.started_at.naive_utc()),
                an::step_secs.eq(3_600_i64),
                an::points.eq(0_i64),
                an::actual.eq(0_i64),
                an::expected.eq(0_i64),
                an::projected_daily.eq(0_i64),
                an::currency.eq("USD"),
                an::peak_z.eq(0.0),
                an::root_causes.eq("[]"),
                an::created_at.eq(n),
                an::updated_at.eq(n),
                an::version.eq(1_i64),
            ))
            .execute(conn)?;
        record_event(conn, &id, "opened", n, actor, m.severity.as_str(), 0, Some(&m.description))?;
        an::table.find(&id).select(AnomalyRow::as_select()).first(conn)
    })
}

/// Why a person could not resolve an anomaly by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ResolveRefusal {
    #[error(
        "detected anomalies resolve when their cost is back in the band, or by a verdict (expected, false_positive)"
    )]
    Detected,
    #[error("the anomaly is already resolved")]
    AlreadyResolved,
}

/// Resolves a manual anomaly by hand; None when there is no such anomaly.
pub fn resolve_manual(
    conn: &mut DbConn,
    id: &crate::domain::ids::AnomalyId,
    actor: &str,
    comment: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<Option<Result<AnomalyRow, ResolveRefusal>>> {
    write_transaction(conn, |conn| {
        let Some(row) = get(conn, id)? else { return Ok(None) };
        if row.origin != "manual" {
            return Ok(Some(Err(ResolveRefusal::Detected)));
        }
        if row.state != "open" {
            return Ok(Some(Err(ResolveRefusal::AlreadyResolved)));
        }
        let why = match comment {
            Some(c) => format!("resolved by {actor}: {c}"),
            None => format!("resolved by {actor}"),
        };
        close(conn, &row, actor, &why, now)?;
        Ok(get(conn, id)?.map(Ok))
    })
}
