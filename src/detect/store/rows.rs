//! The anomaly as stored, its timeline entries, and the queries that read them. What the
//! API and the notifier show is `detect::view`.

use crate::db::schema::{anomalies as an, anomaly_events as ev};
use crate::db::DbConn;
use crate::domain::detect::incident::Direction;
use crate::domain::detect::root_cause::Contributor;
use crate::domain::ids::AnomalyId;
use crate::domain::money::Total;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

/// A stored anomaly (the API and the notifier show it as `view::AnomalyView`).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = an)]
pub struct AnomalyRow {
    pub id: AnomalyId,
    pub series_key: String,
    pub series_kind: String,
    pub provider: Option<String>,
    pub sub_account: Option<String>,
    pub service: Option<String>,
    pub label: String,
    pub origin: String,
    pub direction: String,
    pub state: String,
    pub severity: String,
    pub description: Option<String>,
    pub started_at: NaiveDateTime,
    pub last_out_at: NaiveDateTime,
    pub resolved_at: Option<NaiveDateTime>,
    pub step_secs: i64,
    pub points: i64,
    pub actual: i64,
    pub expected: i64,
    pub projected_daily: i64,
    pub currency: String,
    pub peak_z: f64,
    pub root_causes: String,
    /// The verdict people gave: expected, false_positive or confirmed.
    #[diesel(column_name = verdict)]
    pub feedback: Option<String>,
    pub feedback_by: Option<String>,
    pub feedback_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
    /// When an action on it was verified ("fixed, watching" until resolved).
    pub mitigated_at: Option<NaiveDateTime>,
    /// The anomaly of another series that explains this one (one incident, one anomaly).
    pub merged_into: Option<String>,
    /// Measured only on a running hour's unconfirmed rate: its numbers may still move, so the
    /// optimizer waits for the next measurement before proposing.
    pub provisional: bool,
}

/// Stored times are UTC; say so on the wire.
pub(crate) fn utc<S: serde::Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&t.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

pub(crate) fn utc_opt<S: serde::Serializer>(t: &Option<NaiveDateTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => utc(t, s),
        None => s.serialize_none(),
    }
}

/// Where an anomaly is in its life, as people see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyState {
    Open,
    /// An action on it was verified; watching until its cost is back in its band.
    Mitigated,
    Resolved,
}

impl AnomalyState {
    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyState::Open => "open",
            AnomalyState::Mitigated => "mitigated",
            AnomalyState::Resolved => "resolved",
        }
    }
}

impl AnomalyRow {
    pub fn lifecycle(&self) -> AnomalyState {
        match (self.state.as_str(), self.mitigated_at) {
            ("open", None) => AnomalyState::Open,
            ("open", Some(_)) => AnomalyState::Mitigated,
            _ => AnomalyState::Resolved,
        }
    }

    pub fn impact(&self) -> Total {
        Total::from_units(i128::from(self.actual) - i128::from(self.expected))
    }

    pub fn root_causes(&self) -> Vec<Contributor> {
        serde_json::from_str(&self.root_causes).unwrap_or_default()
    }

    pub(super) fn direction(&self) -> Direction {
        if self.direction == "down" {
            Direction::Down
        } else {
            Direction::Up
        }
    }
}

/// One stored entry of an anomaly's timeline (shown as `view::EventView`).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = ev)]
pub struct AnomalyEvent {
    pub id: i64,
    pub anomaly_id: String,
    /// opened, updated, mitigated, resolved or feedback.
    pub kind: String,
    pub at: NaiveDateTime,
    /// "detective", or the API key / user that acted.
    pub actor: String,
    pub severity: String,
    pub impact: i64,
    pub detail: Option<String>,
}

/// Several anomalies by id (any order).
pub fn get_many(conn: &mut DbConn, ids: &[String]) -> QueryResult<Vec<AnomalyRow>> {
    an::table.filter(an::id.eq_any(ids)).select(AnomalyRow::as_select()).load(conn)
}

/// The anomalies merged into this one: the other series the same incident affected.
pub fn also_affected(conn: &mut DbConn, id: &AnomalyId) -> QueryResult<Vec<String>> {
    an::table.filter(an::merged_into.eq(&**id)).order_by(an::label.asc()).select(an::label).load(conn)
}

/// Filters of `GET /api/v1/anomalies`; the time range applies to `started_at`.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub state: Option<String>,
    pub severity: Option<String>,
    pub provider: Option<String>,
    pub service: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: i64,
    /// Rows to skip (paging).
    pub offset: i64,
}

/// Newest first.
pub fn list(conn: &mut DbConn, f: &ListFilter) -> QueryResult<Vec<AnomalyRow>> {
    // An anomaly merged into another is shown there, as "also affected".
    let mut q = an::table.filter(an::merged_into.is_null()).select(AnomalyRow::as_select()).into_boxed();
    if let Some(s) = &f.state {
        q = q.filter(an::state.eq(s.clone()));
    }
    if let Some(s) = &f.severity {
        q = q.filter(an::severity.eq(s.clone()));
    }
    if let Some(p) = &f.provider {
        q = q.filter(an::provider.eq(p.clone()));
    }
    if let Some(s) = &f.service {
        q = q.filter(an::service.eq(s.clone()));
    }
    if let Some(t) = f.from {
        q = q.filter(an::started_at.ge(t.naive_utc()));
    }
    if let Some(t) = f.to {
        q = q.filter(an::started_at.lt(t.naive_utc()));
    }
    q.order_by((an::started_at.desc(), an::id.desc())).limit(f.limit).offset(f.offset).load(conn)
}

pub fn get(conn: &mut DbConn, id: &AnomalyId) -> QueryResult<Option<AnomalyRow>> {
    an::table.find(&**id).select(AnomalyRow::as_select()).first(conn).optional()
}

pub fn events(conn: &mut DbConn, id: &AnomalyId) -> QueryResult<Vec<AnomalyEvent>> {
    ev::table.filter(ev::anomaly_id.eq(&**id)).order_by(ev::id.asc()).select(AnomalyEvent::as_select()).load(conn)
}

/// Open anomalies per severity (for /metrics).
pub fn open_by_severity(conn: &mut DbConn) -> QueryResult<Vec<(String, i64)>> {
    an::table
        .filter(an::state.eq("open"))
        .filter(an::merged_into.is_null())
        .group_by(an::severity)
        .select((an::severity, diesel::dsl::count_star()))
        .load(conn)
}

/// Marks the anomaly resolved at `now` if it is still open; returns how many rows changed.
pub(super) fn resolve_if_open(conn: &mut DbConn, id: &str, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(an::table.find(id).filter(an::state.eq("open")))
        .set((
            an::state.eq("resolved"),
            an::resolved_at.eq(Some(now.naive_utc())),
            an::updated_at.eq(now.naive_utc()),
            an::version.eq(an::version + 1),
        ))
        .execute(conn)
}
