//! The outbox. `enqueue` reads the two event streams (anomaly timelines and action
//! transitions) past the notifier's cursors and writes one row per message and destination,
//! cursors and rows in one transaction; `due`, `delivered` and `failed_try` drive delivery.

use crate::db::schema::notify_cursors as nc;
use crate::db::schema::{action_transitions as at, anomaly_events as ev, notifications as n};
use crate::db::DbConn;
use crate::detect::store::AnomalyRow;
use crate::domain::approval::Policy;
use crate::domain::detect::decision::Severity;
use crate::domain::ids::{ActionId, AnomalyId};
use crate::domain::notify::{is_news, AnomalyNow, Event, QuietHours, Route, Subject};
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde_json::{json, Value};

/// Events read per stream per pass; the rest follow on the next pass.
const BATCH: i64 = 200;

/// A destination's name, route and kind, all `enqueue` needs of it.
pub struct Listener<'a> {
    pub name: &'a str,
    pub route: &'a Route,
    pub kind: crate::notify::DestinationKind,
}

impl Listener<'_> {
    /// Whether this destination hears the subject: its route matches (an empty event list
    /// meaning what its kind hears by default), and its kind has something to send for it.
    fn hears(&self, subject: &Subject<'_>) -> bool {
        self.kind.sends(subject.event) && self.route.matches(subject, self.kind.heard_by_default())
    }
}

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = n)]
pub struct Notification {
    pub id: String,
    pub dedupe_key: String,
    pub destination: String,
    pub event: String,
    pub subject_id: String,
    pub severity: String,
    pub payload: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: NaiveDateTime,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = n)]
struct NewNotification {
    id: String,
    dedupe_key: String,
    destination: String,
    event: String,
    subject_id: String,
    severity: String,
    payload: String,
    status: String,
    attempts: i64,
    next_attempt_at: NaiveDateTime,
    created_at: NaiveDateTime,
}

/// One event, ready to be routed.
struct Found {
    stream: &'static str,
    event_id: i64,
    event: Event,
    subject_id: String,
    severity: Severity,
    provider: Option<String>,
    team: Option<String>,
    payload: Value,
}

/// Queues a message per matching listener for every event since the cursors; returns how
/// many were queued.
pub fn enqueue(
    conn: &mut DbConn,
    listeners: &[Listener<'_>],
    quiet: Option<QuietHours>,
    base_url: &str,
    policy: &Policy,
    max_age: Duration,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    crate::db::write_transaction(conn, |c| {
        let mut found = anomaly_events(c, base_url, max_age, now)?;
        found.extend(action_events(c, base_url, policy, max_age, now)?);
        found.extend(budget_events(c, base_url, now)?);
        found.sort_by_key(|f| f.event.place_in_pass());
        let mut queued = 0;
        for f in &found {
            let subject = Subject {
                event: f.event,
                provider: f.provider.as_deref(),
                team: f.team.as_deref(),
                severity: f.severity,
            };
            let next = quiet.and_then(|q| q.hold_until(f.severity, now)).unwrap_or(now).naive_utc();
            for l in listeners.iter().filter(|l| l.hears(&subject)) {
                let row = NewNotification {
                    id: uuid::Uuid::now_v7().to_string(),
                    dedupe_key: format!("{}:{}:{}", f.stream, f.event_id, l.name),
                    destination: l.name.to_string(),
                    event: f.event.as_str().to_string(),
                    subject_id: f.subject_id.clone(),
                    severity: f.severity.as_str().to_string(),
                    payload: f.payload.to_string(),
                    status: "pending".into(),
                    attempts: 0,
                    next_attempt_at: next,
                    created_at: now.naive_utc(),
                };
                queued += crate::per_backend!(c, |c| diesel::insert_into(n::table)
                    .values(&row)
                    .on_conflict(n::dedupe_key)
                    .do_nothing()
                    .execute(c))?;
            }
        }
        Ok(queued)
    })
}

/// Creates the cursors that do not exist yet at the newest events, so turning notifications
/// on does not replay history. Called at start-up, before anything new can happen.
pub fn start_cursors(conn: &mut DbConn) -> QueryResult<()> {
    crate::db::write_transaction(conn, |c| {
        let anomalies: Option<i64> = ev::table.select(diesel::dsl::max(ev::id)).first(c)?;
        let actions: Option<i64> = at::table.select(diesel::dsl::max(at::id)).first(c)?;
        for (stream, newest) in [("anomaly_events", anomalies), ("action_transitions", actions)] {
            // Replicas may start together: the first row wins.
            let row = (nc::stream.eq(stream), nc::last_id.eq(newest.unwrap_or(0)));
            crate::per_backend!(c, |c| diesel::insert_into(nc::table)
                .values(row)
                .on_conflict(nc::stream)
                .do_nothing()
                .execute(c))?;
        }
        Ok(())
    })
}

/// The cursor of `stream` (from the start when `start_cursors` never ran).
fn cursor(conn: &mut DbConn, stream: &str) -> QueryResult<i64> {
    let stored: Option<i64> = nc::table.find(stream).select(nc::last_id).first(conn).optional()?;
    if stored.is_none() {
        let row = (nc::stream.eq(stream), nc::last_id.eq(0));
        crate::per_backend!(conn, |c| diesel::insert_into(nc::table)
            .values(row)
            .on_conflict(nc::stream)
            .do_nothing()
            .execute(c))?;
    }
    Ok(stored.unwrap_or(0))
}

fn advance(conn: &mut DbConn, stream: &str, to: i64) -> QueryResult<()> {
    diesel::update(nc::table.find(stream)).set(nc::last_id.eq(to)).execute(conn).map(|_| ())
}

/// What `is_news` needs of an anomaly as it is now.
fn as_found(anomaly: &AnomalyRow, announced: bool) -> AnomalyNow {
    AnomalyNow { last_out: anomaly.last_out_at.and_utc(), ended: anomaly.resolved_at.is_some(), announced }
}

fn anomaly_events(conn: &mut DbConn, base_url: &str, max_age: Duration, now: DateTime<Utc>) -> QueryResult<Vec<Found>> {
    let from = cursor(conn, "anomaly_events")?;
    let rows: Vec<(i64, AnomalyId, String, String, NaiveDateTime, String)> = ev::table
        .filter(ev::id.gt(from))
        .order_by(ev::id)
        .limit(BATCH)
        .select((ev::id, ev::anomaly_id, ev::kind, ev::severity, ev::at, ev::actor))
        .load(conn)?;
    let mut out = Vec::new();
    for (id, anomaly_id, kind, severity, at, actor) in &rows {
        let severity = Severity::parse(severity).unwrap_or(Severity::Low);
        // Only an update needs the severity before it (is it an escalation?).
        let previous: Option<String> = match kind.as_str() {
            "updated" => ev::table
                .filter(ev::anomaly_id.eq(anomaly_id))
                .filter(ev::id.lt(id))
                .filter(ev::kind.ne("feedback"))
                .order_by(ev::id.desc())
                .select(ev::severity)
                .first(conn)
                .optional()?,
            _ => None,
        };
        let Some(event) = Event::of_anomaly(kind, severity, previous.as_deref().and_then(Severity::parse)) else {
            continue;
        };
        let Some(anomaly) = crate::detect::store::get(conn, anomaly_id)? else { continue };
        // Only a resolution or mitigation asks whether the anomaly was announced.
        let announced = matches!(event, Event::AnomalyResolved | Event::AnomalyMitigated)
            && n::table.filter(n::subject_id.eq(anomaly_id)).count().get_result::<i64>(conn)? > 0;
        if !is_news(event, Some(as_found(&anomaly, announced)), now, max_age) {
            continue;
        }
        out.push(Found {
            stream: "anomaly_events",
            event_id: *id,
            event,
            subject_id: anomaly_id.to_string(),
            severity,
            provider: anomaly.provider.clone(),
            team: team_of(&anomaly),
            payload: json!({
                "event": event,
                "at": at.and_utc(),
                "actor": actor,
                "severity": severity,
                "anomaly": anomaly_json(&anomaly, base_url),
            }),
        });
    }
    if let Some((last, ..)) = rows.last() {
        advance(conn, "anomaly_events", *last)?;
    }
    Ok(out)
}

fn action_events(
    conn: &mut DbConn,
    base_url: &str,
    policy: &Policy,
    max_age: Duration,
    now: DateTime<Utc>,
) -> QueryResult<Vec<Found>> {
    let from = cursor(conn, "action_transitions")?;
    let rows: Vec<(i64, ActionId, String, NaiveDateTime, String, Option<String>)> = at::table
        .filter(at::id.gt(from))
        .order_by(at::id)
        .limit(BATCH)
        .select((at::id, at::action_id, at::to_status, at::at, at::actor, at::reason))
        .load(conn)?;
    let mut out = Vec::new();
    for (id, action_id, to_status, when, actor, reason) in &rows {
        let Some(event) = Event::of_action(to_status) else { continue };
        let Some(action) = crate::approval::store::get(conn, action_id)? else { continue };
        let anomaly = match &action.anomaly_id {
            Some(a) => crate::detect::store::get(conn, a)?,
            None => None,
        };
        // A proposal on an anomaly that is history (a first start's backfill replaying 60
        // days proposes for its incidents, then withdraws) is no more news than the anomaly.
        if !is_news(event, anomaly.as_ref().map(|a| as_found(a, false)), now, max_age) {
            continue;
        }
        // An action without an anomaly (proposed by hand) counts as medium.
        let severity = anomaly.as_ref().and_then(|a| Severity::parse(&a.severity)).unwrap_or(Severity::Medium);
        let approvals_left = approvals_left(&action, policy, now);
        let mut action_json =
            serde_json::to_value(crate::approval::view::ActionView::from(&action)).unwrap_or_default();
        action_json["url"] = json!(format!("{base_url}/actions/{}", action.id));
        action_json["approvals_left"] = json!(approvals_left);
        out.push(Found {
            stream: "action_transitions",
            event_id: *id,
            event,
            subject_id: action_id.to_string(),
            severity,
            provider: action.provider.clone().or_else(|| anomaly.as_ref().and_then(|a| a.provider.clone())),
            team: anomaly.as_ref().and_then(team_of),
            payload: json!({
                "event": event,
                "at": when.and_utc(),
                "actor": actor,
                "reason": reason,
                "severity": severity,
                "action": action_json,
                "anomaly": anomaly.as_ref().map(|a| anomaly_json(a, base_url)),
            }),
        });
    }
    if let Some((last, ..)) = rows.last() {
        advance(conn, "action_transitions", *last)?;
    }
    Ok(out)
}

/// Budget thresholds crossed since the cursor, for periods still running (turning
/// notifications on announces this period's crossings, never a past period's).
fn budget_events(conn: &mut DbConn, base_url: &str, now: DateTime<Utc>) -> QueryResult<Vec<Found>> {
    use crate::domain::budget::scope::Counts;
    let from = cursor(conn, "budget_crossings")?;
    let rows = crate::budgets::store::crossings_after(conn, from, BATCH)?;
    let mut out = Vec::new();
    for crossing in &rows {
        let Some(budget) = crate::budgets::store::get(conn, &crossing.budget_id)? else { continue };
        let spec = &budget.spec;
        if spec.period.bounds(now).0 != crossing.period_start {
            continue;
        }
        let mut view = serde_json::to_value(crate::budgets::view::BudgetView::new(&budget, &[])).unwrap_or_default();
        view["url"] = json!(format!("{base_url}/settings/budgets"));
        view["period_end_date"] = json!(budget
            .status
            .as_ref()
            .map(|s| { (s.period_end - Duration::seconds(1)).format("%Y-%m-%d").to_string() }));
        let team = spec.scope.tag.as_ref().filter(|t| t.key == "team").map(|t| t.value.clone());
        let severity = crossing.threshold.severity();
        out.push(Found {
            stream: "budget_crossings",
            event_id: crossing.id,
            event: Event::BudgetThresholdCrossed,
            subject_id: budget.id.clone(),
            severity,
            provider: spec.scope.provider.clone().filter(|_| spec.scope.counts() != Counts::Tag),
            team,
            payload: json!({
                "event": Event::BudgetThresholdCrossed,
                "at": crossing.at,
                "severity": severity,
                "threshold": crossing.threshold,
                "budget": view,
            }),
        });
    }
    if let Some(last) = rows.last() {
        advance(conn, "budget_crossings", last.id)?;
    }
    Ok(out)
}

/// Approvals an action still needs under `policy` (0 once it has them).
fn approvals_left(action: &crate::approval::store::ActionRow, policy: &Policy, now: DateTime<Utc>) -> usize {
    let m = action.machine();
    policy.approvers_needed(m.risk).saturating_sub(m.valid_approvals(policy, now))
}

fn anomaly_json(a: &AnomalyRow, base_url: &str) -> Value {
    let mut v = serde_json::to_value(crate::detect::view::AnomalyView::from(a)).unwrap_or_default();
    v["root_causes"] = serde_json::to_value(a.root_causes()).unwrap_or_default();
    v["url"] = json!(format!("{base_url}/anomalies/{}", a.id));
    v
}

/// The `team` tag of an anomaly: its own series' value, else its main root cause's.
fn team_of(a: &AnomalyRow) -> Option<String> {
    if let Some(crate::domain::detect::series::SeriesId::Tag { key, value }) =
        crate::domain::detect::series::SeriesId::parse_key(&a.series_key)
    {
        if key == "team" {
            return Some(value);
        }
    }
    a.root_causes().into_iter().find(|c| c.dimension == "tag:team" && c.share > 0.0).map(|c| c.value)
}

/// Messages whose next try is due, oldest first.
pub fn due(conn: &mut DbConn, now: DateTime<Utc>, limit: i64) -> QueryResult<Vec<Notification>> {
    n::table
        .filter(n::status.eq("pending"))
        .filter(n::next_attempt_at.le(now.naive_utc()))
        .order_by((n::next_attempt_at, n::id))
        .limit(limit)
        .select(Notification::as_select())
        .load(conn)
}

pub fn delivered(conn: &mut DbConn, id: &str, now: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(n::table.find(id))
        .set((
            n::status.eq("sent"),
            n::attempts.eq(n::attempts + 1),
            n::sent_at.eq(now.naive_utc()),
            n::last_error.eq(None::<String>),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Records a failed try: the next one at `retry_at`, or none (failed for good).
pub fn failed_try(conn: &mut DbConn, id: &str, error: &str, retry_at: Option<DateTime<Utc>>) -> QueryResult<()> {
    let target = diesel::update(n::table.find(id));
    let tried = (n::attempts.eq(n::attempts + 1), n::last_error.eq(error));
    match retry_at {
        Some(t) => target.set((tried, n::status.eq("pending"), n::next_attempt_at.eq(t.naive_utc()))).execute(conn),
        None => target.set((tried, n::status.eq("failed"))).execute(conn),
    }
    .map(|_| ())
}

/// A destination's messages waiting after a failed try are due now: an admin has just
/// entered the secret they were failing on. Those held by quiet hours (never tried) wait on.
pub fn retry_now(conn: &mut DbConn, destination: &str, now: DateTime<Utc>) -> QueryResult<usize> {
    let now = now.naive_utc();
    diesel::update(
        n::table
            .filter(n::destination.eq(destination))
            .filter(n::status.eq("pending"))
            .filter(n::attempts.gt(0))
            .filter(n::next_attempt_at.gt(now)),
    )
    .set(n::next_attempt_at.eq(now))
    .execute(conn)
}

/// Every message about one anomaly or action, oldest first (for tests and the dashboard).
pub fn for_subject(conn: &mut DbConn, subject_id: &str) -> QueryResult<Vec<Notification>> {
    n::table.filter(n::subject_id.eq(subject_id)).order_by(n::id).select(Notification::as_select()).load(conn)
}

/// (status, count) over the outbox, for /metrics.
pub fn counts(conn: &mut DbConn) -> QueryResult<Vec<(String, i64)>> {
    n::table.group_by(n::status).select((n::status, diesel::dsl::count_star())).load(conn)
}

/// The newest messages, for the dashboard.
pub fn recent(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<Notification>> {
    n::table.order_by(n::id.desc()).limit(limit).select(Notification::as_select()).load(conn)
}
