//! Applying the detective's plan: what is stored for a series, inserting and re-measuring
//! detected anomalies, merging a tag series' anomaly into its service's, and marking one
//! mitigated once an action on it is verified.

use super::feedback::CLOSING_VERDICTS;
use super::rows::{resolve_if_open, AnomalyRow};
use super::timeline::{event, record_event};
use super::Lifecycle;
use super::{naive, saturate};
use crate::db::schema::{anomalies as an, anomaly_suppressions as sup};
use crate::db::DbConn;
use crate::detect::plan::{Change, Stored};
use crate::detect::replay::Found;
use crate::domain::detect::decision::Severity;
use crate::domain::detect::incident::Direction;
use crate::domain::detect::root_cause::Contributor;
use crate::domain::detect::same_incident::explained_by_service;
use crate::domain::detect::series::SeriesId;
use crate::domain::money::Total;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

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
            acting: acting.iter().any(|a| *a == *r.id),
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
            id: r.id.to_string(),
        })
        .collect())
}

/// Which of these open anomalies have an action the executor owns (approved, executing or
/// verifying). Quiet series, the usual case, have no open anomaly and cost no query.
fn with_actions_under_way(conn: &mut DbConn, rows: &[AnomalyRow]) -> QueryResult<Vec<String>> {
    use crate::db::schema::actions as ac;
    use crate::domain::approval::Status;
    let open: Vec<&str> = rows.iter().filter(|r| r.state == "open").map(|r| &*r.id).collect();
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
    let detail = format!("{what} verified; watching until the cost is back in its band");
    record_event(conn, id, "mitigated", now.naive_utc(), by, &row.severity, saturate(row.impact()), Some(&detail))?;
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
                    let n = resolve_if_open(conn, id, now)?;
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
        .map(|a| a.id.to_string()))
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
            joined.push(tag.id.to_string());
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
