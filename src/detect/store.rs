//! The anomalies table, its timeline and suppressions: reading, and applying a plan.

use super::plan::{Change, Stored};
use super::replay::Found;
use crate::db::schema::{anomalies as an, anomaly_events as ev, anomaly_suppressions as sup, detect_series as ds};
use crate::db::{write_transaction, DbConn};
use crate::domain::detect::decision::Severity;
use crate::domain::detect::incident::Direction;
use crate::domain::detect::partial::Sighting;
use crate::domain::detect::root_cause::Contributor;
use crate::domain::detect::same_incident::explained_by_service;
use crate::domain::detect::series::SeriesId;
use crate::domain::money::{serialize_units as units, Total};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

/// A stored anomaly, as the API shows it.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = an)]
pub struct AnomalyRow {
    pub id: String,
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
    #[serde(serialize_with = "utc")]
    #[schema(value_type = String)]
    pub started_at: NaiveDateTime,
    #[serde(serialize_with = "utc")]
    #[schema(value_type = String)]
    pub last_out_at: NaiveDateTime,
    #[serde(serialize_with = "utc_opt")]
    #[schema(value_type = Option<String>)]
    pub resolved_at: Option<NaiveDateTime>,
    pub step_secs: i64,
    pub points: i64,
    #[serde(serialize_with = "units")]
    pub actual: i64,
    #[serde(serialize_with = "units")]
    pub expected: i64,
    #[serde(serialize_with = "units")]
    pub projected_daily: i64,
    pub currency: String,
    pub peak_z: f64,
    #[serde(skip)]
    pub root_causes: String,
    /// The verdict people gave: expected, false_positive or confirmed.
    #[diesel(column_name = verdict)]
    pub feedback: Option<String>,
    pub feedback_by: Option<String>,
    #[serde(serialize_with = "utc_opt")]
    #[schema(value_type = Option<String>)]
    pub feedback_at: Option<NaiveDateTime>,
    #[serde(serialize_with = "utc")]
    #[schema(value_type = String)]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "utc")]
    #[schema(value_type = String)]
    pub updated_at: NaiveDateTime,
    pub version: i64,
    /// When an action on it was verified ("fixed, watching" until resolved).
    #[serde(serialize_with = "utc_opt")]
    #[schema(value_type = Option<String>)]
    pub mitigated_at: Option<NaiveDateTime>,
    /// The anomaly of another series that explains this one (one incident, one anomaly).
    pub merged_into: Option<String>,
    /// Measured only on a running hour's unconfirmed rate: its numbers may still move, so the
    /// optimizer waits for the next measurement before proposing.
    pub provisional: bool,
}

/// Stored times are UTC; say so on the wire.
fn utc<S: serde::Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&t.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

fn utc_opt<S: serde::Serializer>(t: &Option<NaiveDateTime>, s: S) -> Result<S::Ok, S::Error> {
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

    fn direction(&self) -> Direction {
        if self.direction == "down" {
            Direction::Down
        } else {
            Direction::Up
        }
    }
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = ev)]
pub struct AnomalyEvent {
    #[serde(skip)]
    pub id: i64,
    #[serde(skip)]
    pub anomaly_id: String,
    /// opened, updated, resolved or feedback.
    pub kind: String,
    #[serde(serialize_with = "utc")]
    #[schema(value_type = String)]
    pub at: NaiveDateTime,
    /// "detective", or the API key / user that acted.
    pub actor: String,
    pub severity: String,
    #[serde(serialize_with = "units")]
    pub impact: i64,
    pub detail: Option<String>,
}

/// What happened to which anomaly, for the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    Opened,
    /// Re-measured: it grew, or its root causes changed (no timeline entry).
    Updated,
    /// Re-measured into a higher severity.
    Escalated,
    Resolved,
}

fn naive(epoch: i64) -> NaiveDateTime {
    DateTime::from_timestamp(epoch, 0).unwrap_or_default().naive_utc()
}

fn saturate(t: Total) -> i64 {
    i64::try_from(t.units()).unwrap_or(if t.units() < 0 { i64::MIN } else { i64::MAX })
}

/// Several anomalies by id (any order).
pub fn get_many(conn: &mut DbConn, ids: &[String]) -> QueryResult<Vec<AnomalyRow>> {
    an::table.filter(an::id.eq_any(ids)).select(AnomalyRow::as_select()).load(conn)
}

/// Detected anomalies of one series, for matching.
pub fn stored_for(conn: &mut DbConn, series_key: &str) -> QueryResult<Vec<Stored>> {
    let rows: Vec<AnomalyRow> = an::table
        .filter(an::series_key.eq(series_key))
        .filter(an::origin.eq("detected"))
        .order_by(an::started_at.asc())
        .select(AnomalyRow::as_select())
        .load(conn)?;
    let acting = with_actions_under_way(conn, &rows)?;
    Ok(rows
        .into_iter()
        .map(|r| Stored {
            acting: acting.contains(&r.id),
            direction: r.direction(),
            open: r.state == "open",
            started_at: r.started_at.and_utc().timestamp(),
            resolved_at: r.resolved_at.map(|t| t.and_utc().timestamp()),
            actual: i128::from(r.actual),
            points: u32::try_from(r.points).unwrap_or(u32::MAX),
            severity: crate::domain::detect::decision::Severity::parse(&r.severity)
                .unwrap_or(crate::domain::detect::decision::Severity::Low),
            mitigated: r.mitigated_at.is_some(),
            closed_by_person: r.feedback.as_deref().is_some_and(|v| CLOSING_VERDICTS.contains(&v)),
            provisional: r.provisional,
            id: r.id,
        })
        .collect())
}

/// Which of these open anomalies have an action the executor owns (approved, executing or
/// verifying). Quiet series, the usual case, have no open anomaly and cost no query.
fn with_actions_under_way(conn: &mut DbConn, rows: &[AnomalyRow]) -> QueryResult<Vec<String>> {
    use crate::db::schema::actions as ac;
    use crate::domain::approval::Status;
    let open: Vec<&str> = rows.iter().filter(|r| r.state == "open").map(|r| r.id.as_str()).collect();
    if open.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Option<String>> = ac::table
        .filter(ac::anomaly_id.eq_any(open))
        .filter(ac::status.eq_any(Status::UNDER_WAY.map(Status::as_str)))
        .select(ac::anomaly_id)
        .load(conn)?;
    Ok(ids.into_iter().flatten().collect())
}

/// Marks an open anomaly mitigated: an action on it was verified ("fixed, watching"); the
/// detective resolves it once its cost is back in its band. One timeline entry says what.
pub fn mark_mitigated(conn: &mut DbConn, id: &str, by: &str, what: &str, now: DateTime<Utc>) -> QueryResult<bool> {
    let n = diesel::update(an::table.find(id).filter(an::state.eq("open")).filter(an::mitigated_at.is_null()))
        .set((
            an::mitigated_at.eq(Some(now.naive_utc())),
            an::updated_at.eq(now.naive_utc()),
            an::version.eq(an::version + 1),
        ))
        .execute(conn)?;
    if n == 0 {
        return Ok(false);
    }
    let row: AnomalyRow = an::table.find(id).select(AnomalyRow::as_select()).first(conn)?;
    let detail = format!("mitigated: {what} verified; watching until the cost is back in its band");
    record_event(conn, id, "updated", now.naive_utc(), by, &row.severity, saturate(row.impact()), Some(&detail))?;
    Ok(true)
}

/// Suppression windows `(from, until]` of one series, in epoch seconds.
pub fn suppressions_for(conn: &mut DbConn, series_key: &str) -> QueryResult<Vec<(i64, i64)>> {
    let rows: Vec<(NaiveDateTime, NaiveDateTime)> =
        sup::table.filter(sup::series_key.eq(series_key)).select((sup::from_at, sup::until_at)).load(conn)?;
    Ok(rows.into_iter().map(|(f, u)| (f.and_utc().timestamp(), u.and_utc().timestamp())).collect())
}

/// The series-level facts every change of one series shares.
pub struct SeriesFacts<'a> {
    pub id: &'a SeriesId,
    pub currency: &'a str,
    pub step_secs: i64,
}

/// Apply one series' changes; returns what to publish. Runs inside the caller's write
/// transaction, the one that read `stored_for` and planned these changes.
pub fn apply(
    conn: &mut DbConn,
    facts: &SeriesFacts<'_>,
    changes: &[(Change, Option<Vec<Contributor>>)],
    now: DateTime<Utc>,
) -> QueryResult<Vec<(String, Lifecycle)>> {
    let mut published = Vec::new();
    {
        for (change, causes) in changes {
            match change {
                Change::Insert(f) => {
                    let id = uuid::Uuid::now_v7().to_string();
                    let causes = causes.as_deref().unwrap_or_default();
                    insert_detected(conn, &id, facts, f, causes, now)?;
                    diesel::update(an::table.find(&id)).set(an::provisional.eq(f.provisional)).execute(conn)?;
                    if let Some(primary) = explaining_service(conn, facts, f, causes)? {
                        // Kept for matching, silent: the service's anomaly speaks for both.
                        diesel::update(an::table.find(&id)).set(an::merged_into.eq(Some(primary))).execute(conn)?;
                        continue;
                    }
                    event(conn, &id, "opened", naive(f.started_at), "detective", f, None)?;
                    published.push((id.clone(), Lifecycle::Opened));
                    if let Some(at) = f.resolved_at {
                        event(conn, &id, "resolved", naive(at), "detective", f, None)?;
                        published.push((id.clone(), Lifecycle::Resolved));
                    }
                    // A tag anomaly that opened before this service's joins it.
                    for tag in explained_tags(conn, facts, f, &id)? {
                        published.push((tag, Lifecycle::Updated));
                    }
                }
                Change::Update { id, found } => {
                    if let Some(kind) = update_detected(conn, id, found, causes.as_deref(), now)? {
                        published.push((id.clone(), kind));
                    }
                    // A tag anomaly first measured on a few minutes of a loop may not have shown
                    // the service as its cause yet; it joins the service's once it does.
                    if join_explaining_service(conn, facts, id, found, causes.as_deref())? {
                        published.push((id.clone(), Lifecycle::Updated));
                    }
                }
                Change::Vanished { id } => {
                    let n = diesel::update(an::table.filter(an::id.eq(id)).filter(an::state.eq("open")))
                        .set((
                            an::state.eq("resolved"),
                            an::resolved_at.eq(Some(now.naive_utc())),
                            an::updated_at.eq(now.naive_utc()),
                            an::version.eq(an::version + 1),
                        ))
                        .execute(conn)?;
                    if n > 0 {
                        let row: AnomalyRow = an::table.find(id).select(AnomalyRow::as_select()).first(conn)?;
                        // After a verified action the data usually changed because of it (a
                        // cancelled job's cost stops growing), not because it was restated.
                        let why = if row.mitigated_at.is_some() {
                            "mitigated, and the detector no longer sees the incident in the data"
                        } else {
                            "no longer seen in restated data"
                        };
                        record_event(
                            conn,
                            id,
                            "resolved",
                            now.naive_utc(),
                            "detective",
                            &row.severity,
                            saturate(row.impact()),
                            Some(why),
                        )?;
                        published.push((id.clone(), Lifecycle::Resolved));
                    }
                }
            }
        }
    }
    Ok(published)
}

/// For a new tag-series incident: the service-series anomaly that explains it, if any
/// (`domain::detect::same_incident`).
fn explaining_service(
    conn: &mut DbConn,
    facts: &SeriesFacts<'_>,
    f: &Found,
    causes: &[Contributor],
) -> QueryResult<Option<String>> {
    if !matches!(facts.id, SeriesId::Tag { .. }) {
        return Ok(None);
    }
    let candidates = unmerged_near(conn, "service", f, facts.step_secs)?;
    Ok(candidates
        .into_iter()
        .find(|a| {
            let service = a.service.as_deref().unwrap_or_default();
            explained_by_service(causes, f.started_at, service, a.started_at.and_utc().timestamp(), facts.step_secs)
        })
        .map(|a| a.id))
}

/// For a re-measured tag anomaly `id` with fresh root causes: merges it into the service
/// anomaly that now explains it, if it is open, unmerged and one does. Returns whether it joined.
fn join_explaining_service(
    conn: &mut DbConn,
    facts: &SeriesFacts<'_>,
    id: &str,
    f: &Found,
    causes: Option<&[Contributor]>,
) -> QueryResult<bool> {
    let Some(causes) = causes else { return Ok(false) };
    if f.resolved_at.is_some() {
        return Ok(false);
    }
    let Some(primary) = explaining_service(conn, facts, f, causes)? else { return Ok(false) };
    let joined = diesel::update(an::table.find(id).filter(an::merged_into.is_null()).filter(an::state.eq("open")))
        .set(an::merged_into.eq(Some(primary)))
        .execute(conn)?;
    Ok(joined > 0)
}

/// For a new service-series incident stored as `id`: the tag anomalies it explains, which
/// join it (their waiting proposals are withdrawn by the optimizer). Returns their ids.
fn explained_tags(conn: &mut DbConn, facts: &SeriesFacts<'_>, f: &Found, id: &str) -> QueryResult<Vec<String>> {
    let SeriesId::Service { service, .. } = facts.id else { return Ok(Vec::new()) };
    let tags = unmerged_near(conn, "tag", f, facts.step_secs)?;
    let mut joined = Vec::new();
    for tag in tags {
        let start = tag.started_at.and_utc().timestamp();
        if explained_by_service(&tag.root_causes(), start, service, f.started_at, facts.step_secs) {
            diesel::update(an::table.find(&tag.id)).set(an::merged_into.eq(Some(id))).execute(conn)?;
            joined.push(tag.id);
        }
    }
    Ok(joined)
}

/// Detected, unmerged anomalies of one series kind in `f`'s direction that started within a
/// step of it: the candidates for being the same incident.
fn unmerged_near(conn: &mut DbConn, kind: &str, f: &Found, step: i64) -> QueryResult<Vec<AnomalyRow>> {
    an::table
        .filter(an::series_kind.eq(kind))
        .filter(an::origin.eq("detected"))
        .filter(an::direction.eq(f.direction.as_str()))
        .filter(an::merged_into.is_null())
        .filter(an::started_at.between(naive(f.started_at - step), naive(f.started_at + step)))
        .select(AnomalyRow::as_select())
        .load(conn)
}

/// The anomalies merged into this one: the other series the same incident affected.
pub fn also_affected(conn: &mut DbConn, id: &str) -> QueryResult<Vec<String>> {
    an::table.filter(an::merged_into.eq(id)).order_by(an::label.asc()).select(an::label).load(conn)
}

fn insert_detected(
    conn: &mut DbConn,
    id: &str,
    facts: &SeriesFacts<'_>,
    f: &Found,
    causes: &[Contributor],
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let n = now.naive_utc();
    diesel::insert_into(an::table)
        .values((
            an::id.eq(id),
            an::series_key.eq(facts.id.key()),
            an::series_kind.eq(facts.id.kind()),
            an::provider.eq(facts.id.provider()),
            an::sub_account.eq(facts.id.sub_account()),
            an::service.eq(facts.id.service()),
            an::label.eq(facts.id.to_string()),
            an::origin.eq("detected"),
            an::direction.eq(f.direction.as_str()),
            an::state.eq(if f.resolved_at.is_some() { "resolved" } else { "open" }),
            an::severity.eq(f.severity.as_str()),
            an::description.eq(match f.direction {
                Direction::Up => None,
                Direction::Down => Some("Spend fell to near zero against its baseline: possibly an ingestion failure."),
            }),
            an::started_at.eq(naive(f.started_at)),
            an::last_out_at.eq(naive(f.last_out_at)),
            an::resolved_at.eq(f.resolved_at.map(naive)),
            an::step_secs.eq(facts.step_secs),
            an::points.eq(i64::from(f.points)),
            an::actual.eq(saturate(f.actual)),
            an::expected.eq(saturate(f.expected)),
            an::projected_daily.eq(saturate(f.projected_daily)),
            an::currency.eq(facts.currency),
            an::peak_z.eq(finite(f.peak_z)),
            an::root_causes.eq(serde_json::to_string(causes).unwrap_or_else(|_| "[]".into())),
            an::created_at.eq(n),
            an::updated_at.eq(n),
            an::version.eq(1_i64),
        ))
        .execute(conn)?;
    Ok(())
}

/// Store a re-measured anomaly when anything people see changed; the event says what.
fn update_detected(
    conn: &mut DbConn,
    id: &str,
    f: &Found,
    causes: Option<&[Contributor]>,
    now: DateTime<Utc>,
) -> QueryResult<Option<Lifecycle>> {
    let row: AnomalyRow = an::table.find(id).select(AnomalyRow::as_select()).first(conn)?;
    // Severity and the projection are the peak the anomaly reached: each replay starts afresh,
    // and a running hour read at a lower rate a minute later does not undo the page it caused.
    let peak = |stored: &str| Severity::parse(stored).unwrap_or(Severity::Low).max(f.severity);
    let f = &Found {
        severity: peak(&row.severity),
        projected_daily: Total::from_units(i128::from(row.projected_daily).max(f.projected_daily.units())),
        ..f.clone()
    };
    let state = if f.resolved_at.is_some() { "resolved" } else { "open" };
    let unchanged = row.state == state
        && row.points == i64::from(f.points)
        && row.actual == saturate(f.actual)
        && row.severity == f.severity.as_str()
        && row.provisional == f.provisional
        && row.resolved_at == f.resolved_at.map(naive);
    if unchanged {
        return Ok(None);
    }
    let root_causes =
        causes.map(|c| serde_json::to_string(c).unwrap_or_else(|_| "[]".into())).unwrap_or(row.root_causes.clone());
    diesel::update(an::table.find(id))
        .set((
            an::state.eq(state),
            an::severity.eq(f.severity.as_str()),
            an::last_out_at.eq(naive(f.last_out_at)),
            an::resolved_at.eq(f.resolved_at.map(naive)),
            an::points.eq(i64::from(f.points)),
            an::actual.eq(saturate(f.actual)),
            an::expected.eq(saturate(f.expected)),
            an::projected_daily.eq(saturate(f.projected_daily)),
            an::peak_z.eq(finite(f.peak_z)),
            an::provisional.eq(f.provisional),
            an::root_causes.eq(root_causes),
            an::updated_at.eq(now.naive_utc()),
            an::version.eq(an::version + 1),
        ))
        .execute(conn)?;
    let resolved_now = row.state == "open" && state == "resolved";
    if row.merged_into.is_some() {
        // Its primary anomaly speaks for it: no timeline, no messages.
        return Ok(None);
    }
    if resolved_now {
        event(conn, id, "resolved", naive(f.resolved_at.unwrap_or_default()), "detective", f, None)?;
        return Ok(Some(Lifecycle::Resolved));
    }
    // The timeline says what changed for people (severity, state), not every re-measure.
    let was = Severity::parse(&row.severity).unwrap_or(Severity::Low);
    if f.severity == was && row.state == state {
        return Ok(Some(Lifecycle::Updated));
    }
    let detail = format!("{was} → {}", f.severity);
    event(conn, id, "updated", now.naive_utc(), "detective", f, Some(&detail))?;
    Ok(Some(if f.severity > was { Lifecycle::Escalated } else { Lifecycle::Updated }))
}

fn finite(z: f64) -> f64 {
    if z.is_finite() {
        z
    } else {
        1e9_f64.copysign(z)
    }
}

fn event(
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

/// One row of `detect_series`.
pub struct SeriesState<'a> {
    pub id: &'a SeriesId,
    pub step_secs: i64,
    pub points: u32,
    pub ready: bool,
    pub last: (i64, Total, Total),
    pub currency: &'a str,
    /// `chart::History` as JSON.
    pub history: String,
    /// The newest point's sighting while its hour runs, for the next run's rate.
    pub running: Option<Sighting>,
}

/// The sightings of running points the last run kept, by series key.
pub fn sightings(conn: &mut DbConn) -> QueryResult<std::collections::HashMap<String, Sighting>> {
    type Row = (String, Option<NaiveDateTime>, Option<i64>, Option<NaiveDateTime>, Option<i64>, Option<bool>);
    let rows: Vec<Row> = ds::table
        .filter(ds::running_point_at.is_not_null())
        .select((
            ds::series_key,
            ds::running_point_at,
            ds::running_so_far,
            ds::running_seen_at,
            ds::running_rate,
            ds::running_settled,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(key, at, so_far, seen, rate, settled)| {
            let sighting = Sighting {
                point_at: at?.and_utc().timestamp(),
                so_far: Total::from_units(so_far?.into()),
                seen_at: seen?.and_utc().timestamp(),
                rate: rate.map(|r| Total::from_units(r.into())),
                settled: settled.unwrap_or(false),
            };
            Some((key, sighting))
        })
        .collect())
}

/// Every series' state of one run, in one transaction.
pub fn save_series_states(conn: &mut DbConn, states: &[SeriesState<'_>], now: DateTime<Utc>) -> QueryResult<()> {
    write_transaction(conn, |conn| states.iter().try_for_each(|s| save_series_state(conn, s, now)))
}

fn save_series_state(conn: &mut DbConn, s: &SeriesState<'_>, now: DateTime<Utc>) -> QueryResult<()> {
    let values = (
        ds::series_key.eq(s.id.key()),
        ds::series_kind.eq(s.id.kind()),
        ds::label.eq(s.id.to_string()),
        ds::step_secs.eq(s.step_secs),
        ds::points.eq(i64::from(s.points)),
        ds::ready.eq(s.ready),
        ds::last_point_at.eq(naive(s.last.0)),
        ds::last_actual.eq(saturate(s.last.1)),
        ds::last_expected.eq(saturate(s.last.2)),
        ds::currency.eq(s.currency),
        ds::updated_at.eq(now.naive_utc()),
        ds::history.eq(&s.history),
        ds::running_point_at.eq(s.running.map(|r| naive(r.point_at))),
        ds::running_so_far.eq(s.running.map(|r| saturate(r.so_far))),
        ds::running_seen_at.eq(s.running.map(|r| naive(r.seen_at))),
        ds::running_rate.eq(s.running.and_then(|r| r.rate).map(saturate)),
        ds::running_settled.eq(s.running.map(|r| r.settled)),
    );
    crate::per_backend!(conn, |c| {
        diesel::insert_into(ds::table)
            .values(values.clone())
            .on_conflict(ds::series_key)
            .do_update()
            .set(values.clone())
            .execute(c)
    })?;
    Ok(())
}

/// The stored history of one series, if it has one.
pub fn history(conn: &mut DbConn, series_key: &str) -> QueryResult<Option<super::chart::History>> {
    let text: Option<String> = ds::table.find(series_key).select(ds::history).first(conn).optional()?;
    Ok(text.as_deref().and_then(super::chart::History::parse))
}

/// Every stored series of one kind with its history (the dashboard's spend and trends).
pub fn histories(conn: &mut DbConn, kind: &str) -> QueryResult<Vec<(String, String, super::chart::History)>> {
    let rows: Vec<(String, String, String)> =
        ds::table.filter(ds::series_kind.eq(kind)).select((ds::series_key, ds::currency, ds::history)).load(conn)?;
    Ok(rows.into_iter().filter_map(|(k, c, h)| super::chart::History::parse(&h).map(|h| (k, c, h))).collect())
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

pub fn get(conn: &mut DbConn, id: &str) -> QueryResult<Option<AnomalyRow>> {
    an::table.find(id).select(AnomalyRow::as_select()).first(conn).optional()
}

pub fn events(conn: &mut DbConn, id: &str) -> QueryResult<Vec<AnomalyEvent>> {
    ev::table.filter(ev::anomaly_id.eq(id)).order_by(ev::id.asc()).select(AnomalyEvent::as_select()).load(conn)
}

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

/// A person's verdict on an anomaly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback {
    /// Not a problem: closes it, and no new anomaly on this series until `until`.
    Expected { until: DateTime<Utc> },
    /// The detector was wrong: closes it; kept for evaluating the detector.
    FalsePositive,
    /// A real problem (it stays as it is).
    Confirmed,
}

impl Feedback {
    /// From what a person sent: "expected" (muting the series for `suppress_days`, default 7,
    /// 1 to 90), "false_positive" or "confirmed". Errors name the field.
    pub fn parse(
        kind: &str,
        suppress_days: Option<u32>,
        now: DateTime<Utc>,
    ) -> Result<Feedback, (&'static str, &'static str)> {
        match kind {
            "expected" => {
                let days = suppress_days.unwrap_or(7);
                if !(1..=90).contains(&days) {
                    return Err(("suppress_days", "must be between 1 and 90"));
                }
                Ok(Feedback::Expected { until: now + chrono::Duration::days(i64::from(days)) })
            }
            "false_positive" => Ok(Feedback::FalsePositive),
            "confirmed" => Ok(Feedback::Confirmed),
            _ => Err(("kind", "must be expected, false_positive or confirmed")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Feedback::Expected { .. } => "expected",
            Feedback::FalsePositive => "false_positive",
            Feedback::Confirmed => "confirmed",
        }
    }

    /// Whether this verdict closes the anomaly (for good: the detector does not reopen it).
    pub fn closes(self) -> bool {
        !matches!(self, Feedback::Confirmed)
    }
}

/// Verdicts that closed an anomaly for good.
pub const CLOSING_VERDICTS: [&str; 2] = ["expected", "false_positive"];

/// Records feedback (and for `expected` a suppression from the anomaly's start); returns the
/// updated anomaly, or None when there is no such anomaly.
pub fn add_feedback(
    conn: &mut DbConn,
    id: &str,
    feedback: Feedback,
    actor: &str,
    comment: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<Option<AnomalyRow>> {
    write_transaction(conn, |conn| {
        let Some(row) = get(conn, id)? else { return Ok(None) };
        let kind = feedback.as_str();
        diesel::update(an::table.find(id))
            .set((
                an::verdict.eq(kind),
                an::feedback_by.eq(actor),
                an::feedback_at.eq(now.naive_utc()),
                an::updated_at.eq(now.naive_utc()),
                an::version.eq(an::version + 1),
            ))
            .execute(conn)?;
        if let Feedback::Expected { until } = feedback {
            diesel::insert_into(sup::table)
                .values((
                    sup::id.eq(uuid::Uuid::now_v7().to_string()),
                    sup::series_key.eq(&row.series_key),
                    sup::anomaly_id.eq(Some(id)),
                    sup::from_at.eq(row.started_at),
                    sup::until_at.eq(until.naive_utc()),
                    sup::created_by.eq(actor),
                    sup::created_at.eq(now.naive_utc()),
                ))
                .execute(conn)?;
        }
        let detail = serde_json::json!({ "feedback": kind, "comment": comment }).to_string();
        record_event(
            conn,
            id,
            "feedback",
            now.naive_utc(),
            actor,
            &row.severity,
            saturate(row.impact()),
            Some(&detail),
        )?;
        if feedback.closes() && row.state == "open" {
            close(conn, &row, actor, &format!("closed: marked {} by {actor}", kind.replace('_', " ")), now)?;
        }
        get(conn, id)
    })
}

/// Resolves an open anomaly now, by a person, with a timeline entry saying why.
fn close(conn: &mut DbConn, row: &AnomalyRow, actor: &str, why: &str, now: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(an::table.find(&row.id).filter(an::state.eq("open")))
        .set((
            an::state.eq("resolved"),
            an::resolved_at.eq(Some(now.naive_utc())),
            an::updated_at.eq(now.naive_utc()),
            an::version.eq(an::version + 1),
        ))
        .execute(conn)?;
    record_event(conn, &row.id, "resolved", now.naive_utc(), actor, &row.severity, saturate(row.impact()), Some(why))
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
    id: &str,
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

/// Watched series as of the last run, for `GET /api/v1/anomalies/series`.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = ds)]
pub struct SeriesRow {
    #[serde(skip)]
    pub series_key: String,
    pub series_kind: String,
    pub label: String,
    pub step_secs: i64,
    pub points: i64,
    /// False while the series is younger than its warm-up: it raises no alert yet.
    pub ready: bool,
    #[serde(serialize_with = "utc")]
    #[schema(value_type = String)]
    pub last_point_at: NaiveDateTime,
    #[serde(serialize_with = "units")]
    pub last_actual: i64,
    #[serde(serialize_with = "units")]
    pub last_expected: i64,
    pub currency: String,
    #[serde(serialize_with = "utc")]
    #[schema(value_type = String)]
    pub updated_at: NaiveDateTime,
}

pub fn list_series(conn: &mut DbConn) -> QueryResult<Vec<SeriesRow>> {
    ds::table.order_by(ds::label.asc()).select(SeriesRow::as_select()).load(conn)
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
