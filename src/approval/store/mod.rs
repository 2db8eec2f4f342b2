//! The `actions` table: the row, creating a proposal and revising its estimate. Applying a
//! command is `apply.rs`; reads and the recovery book-keeping are `queries.rs`.

mod apply;
mod queries;

pub use apply::*;
pub use queries::*;

use crate::audit;
use crate::db::schema::actions as ac;
use crate::db::{write_transaction, DbConn};
use crate::domain::approval::{Action, Approval, Risk, Status};
use crate::domain::ids::{ActionId, AnomalyId};
use crate::domain::optimizer::ActionKind;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

/// A stored action (the API and the notifier show it as `view::ActionView`).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = ac)]
pub struct ActionRow {
    pub id: ActionId,
    pub anomaly_id: Option<AnomalyId>,
    pub kind: ActionKind,
    pub target: String,
    pub provider: Option<String>,
    pub account: Option<String>,
    pub params: String,
    pub risk: Risk,
    pub status: Status,
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
    pub anomaly_id: Option<AnomalyId>,
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
                ac::anomaly_id.eq(a.anomaly_id.as_deref()),
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
    anomaly_id: &AnomalyId,
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
    anomaly_id: &AnomalyId,
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

pub fn get(conn: &mut DbConn, id: &ActionId) -> QueryResult<Option<ActionRow>> {
    ac::table.find(&**id).select(ActionRow::as_select()).first(conn).optional()
}
