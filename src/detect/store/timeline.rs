//! The anomaly timeline: what people care about (opened, a change of severity, mitigated,
//! resolved, a verdict), one row each.

use super::saturate;
use crate::db::schema::anomaly_events as ev;
use crate::db::DbConn;
use crate::detect::replay::Found;
use chrono::NaiveDateTime;
use diesel::prelude::*;

pub(super) fn event(
    conn: &mut DbConn,
    id: &str,
    kind: &str,
    at: NaiveDateTime,
    actor: &str,
    f: &Found,
    detail: Option<&str>,
) -> QueryResult<()> {
    record_event(conn, id, kind, at, actor, f.severity.as_str(), saturate(f.impact()), detail)
}

#[allow(clippy::too_many_arguments)]
pub fn record_event(
    conn: &mut DbConn,
    id: &str,
    kind: &str,
    at: NaiveDateTime,
    actor: &str,
    severity: &str,
    impact: i64,
    detail: Option<&str>,
) -> QueryResult<()> {
    diesel::insert_into(ev::table)
        .values((
            ev::anomaly_id.eq(id),
            ev::kind.eq(kind),
            ev::at.eq(at),
            ev::actor.eq(actor),
            ev::severity.eq(severity),
            ev::impact.eq(impact),
            ev::detail.eq(detail),
        ))
        .execute(conn)?;
    Ok(())
}
