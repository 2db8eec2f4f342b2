//! Applying a command: the pure state machine over the stored action, a conditional update
//! (the loser of a race gets `Conflict`), the transition row and the audit entry, in one
//! transaction.

use super::{get, ActionRow};
use crate::audit;
use crate::db::schema::{action_transitions as tr, actions as ac};
use crate::db::{write_transaction, DbConn};
use crate::domain::approval::{transition, Command, Policy, Refusal, Transition};
use crate::domain::ids::ActionId;
use chrono::{DateTime, Utc};
use diesel::prelude::*;

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
    id: &ActionId,
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
    id: &ActionId,
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
