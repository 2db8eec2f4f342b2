//! The `actions` table: create, read, and apply a command with a conditional update.

use crate::audit;
use crate::db::schema::{action_transitions as tr, actions as ac};
use crate::db::{write_transaction, DbConn};
use crate::domain::approval::{transition, Action, Approval, Command, Policy, Refusal, Risk, Status, Transition};
use crate::domain::optimizer::ActionKind;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize)]
#[diesel(table_name = ac)]
pub struct ActionRow {
    pub id: String,
    pub anomaly_id: Option<String>,
    pub kind: ActionKind,
    pub target: String,
    pub provider: Option<String>,
    pub account: Option<String>,
    pub params: String,
    pub risk: Risk,
    pub status: Status,
    #[serde(serialize_with = "crate::domain::money::serialize_units")]
    pub estimated_saving_per_hour: i64,
    pub proposed_by: String,
    pub routed_at: Option<NaiveDateTime>,
    pub approvals: String,
    pub reason: Option<String>,
    pub idempotency_key: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
    /// What it saved, once it succeeded.
    #[serde(serialize_with = "crate::domain::money::serialize_units_opt")]
    pub recovered: Option<i64>,
    /// When the anomaly's cost was seen back within its band after this action succeeded.
    pub cost_verified_at: Option<NaiveDateTime>,
}

impl ActionRow {
    /// The state machine's view of this row.
    pub fn machine(&self) -> Action {
        Action {
            status: self.status,
            risk: self.risk,
            proposed_by: self.proposed_by.clone(),
            routed_at: self.routed_at.map(|t| t.and_utc()),
            approvals: serde_json::from_str::<Vec<Approval>>(&self.approvals).unwrap_or_default(),
        }
    }
}

/// A new action to store.
#[derive(Debug, Clone)]
pub struct NewAction {
    pub anomaly_id: Option<String>,
    pub kind: ActionKind,
    pub target: String,
    pub provider: Option<String>,
    pub account: Option<String>,
    pub params: String,
    pub risk: Risk,
    pub estimated_saving_per_hour: i64,
    pub proposed_by: String,
}

/// Stores a proposal (status `proposed`) and audits it. None when this anomaly already has a
/// live action of this kind for this target, also when another writer stored it a moment ago
/// (PostgreSQL's read committed lets both pass the check; the unique index stops the second).
/// Whether an ended one stands in the way is the caller's rule (`may_propose_again`).
pub fn create(conn: &mut DbConn, a: &NewAction, now: DateTime<Utc>) -> QueryResult<Option<ActionRow>> {
    use diesel::result::{DatabaseErrorKind, Error};
    match insert_proposal(conn, a, now) {
        Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) if a.anomaly_id.is_some() => Ok(None),
        other => other,
    }
}

fn insert_proposal(conn: &mut DbConn, a: &NewAction, now: DateTime<Utc>) -> QueryResult<Option<ActionRow>> {
    let id = uuid::Uuid::now_v7().to_string();
    write_transaction(conn, |conn| {
        if let Some(anomaly) = &a.anomaly_id {
            let exists = ac::table
                .filter(ac::anomaly_id.eq(anomaly))
                .filter(ac::kind.eq(a.kind.as_str()))
                .filter(ac::target.eq(&a.target))
                .filter(ac::status.eq_any(words(&LIVE)))
                .select(ac::id)
                .first::<String>(conn)
                .optional()?;
            if exists.is_some() {
                return Ok(None);
            }
        }
        let n = now.naive_utc();
        diesel::insert_into(ac::table)
            .values((
                ac::id.eq(&id),
                ac::anomaly_id.eq(&a.anomaly_id),
                ac::kind.eq(a.kind.as_str()),
                ac::target.eq(&a.target),
                ac::provider.eq(&a.provider),
                ac::account.eq(&a.account),
                ac::params.eq(&a.params),
                ac::risk.eq(a.risk.as_str()),
                ac::status.eq(Status::Proposed.as_str()),
                ac::estimated_saving_per_hour.eq(a.estimated_saving_per_hour),
                ac::proposed_by.eq(&a.proposed_by),
                ac::approvals.eq("[]"),
                ac::idempotency_key.eq(format!("costguard-{id}")),
                ac::created_at.eq(n),
                ac::updated_at.eq(n),
                ac::version.eq(1_i64),
            ))
            .execute(conn)?;
        let target = format!("action {id} / {} {}", a.kind, a.target);
        let event = audit::Event {
            actor: &a.proposed_by,
            action: "action.propose",
            target: &target,
            after: Some(Status::Proposed.as_str()),
            result: "ok",
            ..audit::Event::default()
        };
        audit::append(conn, &event, now)?;
        ac::table.find(&id).select(ActionRow::as_select()).first(conn).optional()
    })
}

/// Statuses of an action that has not ended; at most one per anomaly, kind and target
/// (the `actions_one_live_per_target` index).
pub const LIVE: [Status; 5] =
    [Status::Proposed, Status::PendingApproval, Status::Approved, Status::Executing, Status::Verifying];

/// The stored words of `statuses`, for `status IN (…)`.
pub fn words(statuses: &[Status]) -> Vec<&'static str> {
    statuses.iter().map(|s| s.as_str()).collect()
}

/// The newest action of this kind for this target on the anomaly: its status, and whether it
/// was ever routed to people.
pub fn latest_for_target(
    conn: &mut DbConn,
    anomaly_id: &str,
    kind: ActionKind,
    target: &str,
) -> QueryResult<Option<(Status, bool)>> {
    let row: Option<(String, Option<NaiveDateTime>)> = ac::table
        .filter(ac::anomaly_id.eq(anomaly_id))
        .filter(ac::kind.eq(kind.as_str()))
        .filter(ac::target.eq(target))
        .order_by(ac::created_at.desc())
        .select((ac::status, ac::routed_at))
        .first(conn)
        .optional()?;
    // An unknown stored status counts as live: nothing new is proposed beside it.
    Ok(row.map(|(status, routed)| (Status::parse(&status).unwrap_or(Status::PendingApproval), routed.is_some())))
}

/// The estimate of a proposal still waiting for a decision, brought up to date when it is
/// off by more than a tenth (the anomaly grew, or its hour's rate became clear), with an
/// audit entry. What is approved is never changed. Returns whether it changed.
pub fn revise_estimate(
    conn: &mut DbConn,
    anomaly_id: &str,
    kind: ActionKind,
    target: &str,
    per_hour: i64,
    actor: &str,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    write_transaction(conn, |conn| {
        let waiting: Option<ActionRow> = ac::table
            .filter(ac::anomaly_id.eq(anomaly_id))
            .filter(ac::kind.eq(kind.as_str()))
            .filter(ac::target.eq(target))
            .filter(ac::status.eq_any([Status::Proposed.as_str(), Status::PendingApproval.as_str()]))
            .select(ActionRow::as_select())
            .first(conn)
            .optional()?;
        let Some(row) = waiting else { return Ok(false) };
        let old = i128::from(row.estimated_saving_per_hour);
        if (i128::from(per_hour) - old).abs() * 10 <= old.abs() {
            return Ok(false);
        }
        let n = diesel::update(ac::table.find(&row.id).filter(ac::version.eq(row.version)))
            .set((
                ac::estimated_saving_per_hour.eq(per_hour),
                ac::updated_at.eq(now.naive_utc()),
                ac::version.eq(row.version + 1),
            ))
            .execute(conn)?;
        if n == 0 {
            return Ok(false);
        }
        let target = format!("action {} / {} {}", row.id, row.kind, row.target);
        let detail = format!(
            "estimated saving {} → {} per hour",
            crate::domain::money::Total::from_units(old),
            crate::domain::money::Total::from_units(per_hour.into())
        );
        let event = audit::Event {
            actor,
            action: "action.revise",
            target: &target,
            result: "ok",
            detail: Some(&detail),
            ..audit::Event::default()
        };
        audit::append(conn, &event, now)?;
        Ok(true)
    })
}

pub fn get(conn: &mut DbConn, id: &str) -> QueryResult<Option<ActionRow>> {
    ac::table.find(id).select(ActionRow::as_select()).first(conn).optional()
}

/// Why a command did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("no action with this id")]
    NotFound,
    /// The state machine said no (409 for most, 403 for an own approval).
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// Someone else changed the action first (409).
    #[error("the action changed while this request was handled; reload and retry")]
    Conflict,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// Applies `command` to action `id` in one transaction: the machine decides, a conditional
/// update (`WHERE id = ? AND status = ? AND version = ?`) commits, the transition and an
/// audit entry are recorded. Returns the new row and the transition (whose effects the
/// caller runs after this returns).
pub fn apply(
    conn: &mut DbConn,
    id: &str,
    command: &Command,
    actor: &str,
    comment: Option<&str>,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<(ActionRow, Transition), CommandError> {
    let applied = write_transaction(conn, |conn| apply_in_transaction(conn, id, command, actor, comment, policy, now));
    if let Ok((row, _)) = &applied {
        count_transition(command, row);
    }
    applied
}

/// `apply` inside a write transaction the caller opened, so what follows from a transition
/// (a verified action's recovery and its anomaly's mitigation) commits with it or not at all.
/// The caller counts the committed transition with `count_transition`.
pub fn apply_in_transaction(
    conn: &mut DbConn,
    id: &str,
    command: &Command,
    actor: &str,
    comment: Option<&str>,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<(ActionRow, Transition), CommandError> {
    let row = get(conn, id)?.ok_or(CommandError::NotFound)?;
    let t = transition(&row.machine(), command, policy, now)?;
    let approvals = serde_json::to_string(&t.action.approvals).unwrap_or_else(|_| "[]".into());
    let n = now.naive_utc();
    let updated = diesel::update(
        ac::table.filter(ac::id.eq(id)).filter(ac::status.eq(row.status.as_str())).filter(ac::version.eq(row.version)),
    )
    .set((
        ac::status.eq(t.action.status.as_str()),
        ac::approvals.eq(&approvals),
        ac::routed_at.eq(t.action.routed_at.map(|t| t.naive_utc())),
        ac::reason.eq(t.reason.as_deref().or(row.reason.as_deref())),
        ac::updated_at.eq(n),
        ac::version.eq(row.version + 1),
    ))
    .execute(conn)?;
    if updated != 1 {
        return Err(CommandError::Conflict);
    }
    let sha = crate::build_info::info().git_sha;
    diesel::insert_into(tr::table)
        .values((
            tr::action_id.eq(id),
            tr::from_status.eq(row.status.as_str()),
            tr::to_status.eq(t.action.status.as_str()),
            tr::command.eq(command.name()),
            tr::actor.eq(actor),
            tr::at.eq(n),
            tr::comment.eq(comment),
            tr::reason.eq(t.reason.as_deref()),
            tr::build_sha.eq(sha),
        ))
        .execute(conn)?;
    let target = format!("action {id} / {} {}", row.kind, row.target);
    let action = format!("action.{}", command.name());
    let event = audit::Event {
        actor,
        action: &action,
        target: &target,
        before: Some(row.status.as_str()),
        after: Some(t.action.status.as_str()),
        result: "ok",
        detail: t.reason.as_deref().or(comment),
    };
    audit::append(conn, &event, now)?;
    let row = get(conn, id)?.ok_or(CommandError::NotFound)?;
    Ok((row, t))
}

/// Counts a committed transition on `costguard_action_transitions_total`.
pub fn count_transition(command: &Command, row: &ActionRow) {
    metrics::counter!("costguard_action_transitions_total", "command" => command.name(), "to" => row.status.as_str())
        .increment(1);
}

/// One row of an action's history.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize)]
#[diesel(table_name = tr)]
pub struct TransitionRow {
    #[serde(skip)]
    pub id: i64,
    #[serde(skip)]
    pub action_id: String,
    pub from_status: String,
    pub to_status: String,
    pub command: String,
    pub actor: String,
    pub at: NaiveDateTime,
    pub comment: Option<String>,
    pub reason: Option<String>,
    pub build_sha: String,
}

pub fn history(conn: &mut DbConn, id: &str) -> QueryResult<Vec<TransitionRow>> {
    tr::table.filter(tr::action_id.eq(id)).order_by(tr::id.asc()).select(TransitionRow::as_select()).load(conn)
}

/// Newest first, optionally one status or one anomaly's.
pub fn list(conn: &mut DbConn, status: Option<&str>, anomaly: Option<&str>, limit: i64) -> QueryResult<Vec<ActionRow>> {
    list_page(conn, status, anomaly, limit, 0)
}

/// One page of [`list`], skipping `offset` rows.
pub fn list_page(
    conn: &mut DbConn,
    status: Option<&str>,
    anomaly: Option<&str>,
    limit: i64,
    offset: i64,
) -> QueryResult<Vec<ActionRow>> {
    let mut q = ac::table.select(ActionRow::as_select()).into_boxed();
    if let Some(s) = status {
        q = q.filter(ac::status.eq(s.to_string()));
    }
    if let Some(a) = anomaly {
        q = q.filter(ac::anomaly_id.eq(a.to_string()));
    }
    q.order_by((ac::created_at.desc(), ac::id.desc())).limit(limit).offset(offset).load(conn)
}

/// Records what a succeeded action saved: its estimated excess per hour times the recovery
/// horizon (how long the runaway would have gone on).
pub fn record_recovery(conn: &mut DbConn, id: &str, horizon_hours: u32) -> QueryResult<i64> {
    let row = get(conn, id)?.ok_or(diesel::result::Error::NotFound)?;
    let recovered = row.estimated_saving_per_hour.saturating_mul(i64::from(horizon_hours));
    diesel::update(ac::table.find(id).filter(ac::status.eq(Status::Succeeded.as_str())))
        .set(ac::recovered.eq(Some(recovered)))
        .execute(conn)?;
    Ok(recovered)
}

/// Each action with the currency of its anomaly (actions carry amounts in it); "USD" for
/// actions without one.
pub fn with_currencies(conn: &mut DbConn, rows: Vec<ActionRow>) -> QueryResult<Vec<(ActionRow, String)>> {
    use crate::db::schema::anomalies as an;
    let ids: Vec<&str> = rows.iter().filter_map(|r| r.anomaly_id.as_deref()).collect();
    let found: Vec<(String, String)> =
        an::table.filter(an::id.eq_any(&ids)).select((an::id, an::currency)).load(conn)?;
    let by_anomaly: std::collections::HashMap<String, String> = found.into_iter().collect();
    Ok(rows
        .into_iter()
        .map(|r| {
            let currency = r.anomaly_id.as_ref().and_then(|a| by_anomaly.get(a)).cloned();
            (r, currency.unwrap_or_else(|| "USD".into()))
        })
        .collect())
}

/// Cost recovered by all succeeded actions, exactly, in 1e-11 units, and how many there are.
pub fn total_recovered(conn: &mut DbConn) -> QueryResult<(i128, usize)> {
    let values: Vec<Option<i64>> = ac::table.filter(ac::recovered.is_not_null()).select(ac::recovered).load(conn)?;
    Ok((values.iter().flatten().map(|v| i128::from(*v)).sum(), values.len()))
}

/// The second half of verification: once an anomaly has resolved (its cost is back within
/// the band), every succeeded action of it that was not yet confirmed is, with an audit
/// entry. Returns how many.
pub fn confirm_cost_back_in_band(conn: &mut DbConn, anomaly_id: &str, now: DateTime<Utc>) -> QueryResult<usize> {
    write_transaction(conn, |conn| {
        let rows: Vec<ActionRow> = ac::table
            .filter(ac::anomaly_id.eq(anomaly_id))
            .filter(ac::status.eq(Status::Succeeded.as_str()))
            .filter(ac::cost_verified_at.is_null())
            .select(ActionRow::as_select())
            .load(conn)?;
        for row in &rows {
            diesel::update(ac::table.find(&row.id))
                .set(ac::cost_verified_at.eq(Some(now.naive_utc())))
                .execute(conn)?;
            let target = format!("action {} / {} {}", row.id, row.kind, row.target);
            let event = audit::Event {
                actor: "optimizer",
                action: "action.cost_verified",
                target: &target,
                result: "cost back within the band",
                ..audit::Event::default()
            };
            audit::append(conn, &event, now)?;
        }
        Ok(rows.len())
    })
}

/// Actions per status (for /metrics).
pub fn count_by_status(conn: &mut DbConn) -> QueryResult<Vec<(String, i64)>> {
    ac::table.group_by(ac::status).select((ac::status, diesel::dsl::count_star())).load(conn)
}
