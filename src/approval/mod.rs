//! Actions and their approval flow over the database: each command is one transaction that
//! applies the pure state machine (`domain::approval`) with a conditional update, records the
//! transition and appends to the audit chain; effects run after commit.

mod propose;
mod settings;
pub mod store;
pub mod view;

pub use propose::{propose, target, Proposed, Proposer};
pub use settings::ApprovalSettings;

use crate::db::schema::actions as ac;
use crate::db::{Db, DbError};
use crate::domain::approval::{Command, Refusal, Status};
use crate::domain::ids::ActionId;
use chrono::{DateTime, Utc};
use diesel::prelude::*;

/// Starts the expiry timer on `expiry_schedule`, on the leader.
pub async fn spawn(ctx: &crate::worker::Context, settings: &ApprovalSettings) -> anyhow::Result<()> {
    let (db, timer, clock) = (ctx.db.clone(), settings.clone(), ctx.clock.clone());
    ctx.every(&settings.expiry_schedule, true, move || {
        let (db, timer, now) = (db.clone(), timer.clone(), clock.now());
        async move {
            match expire_due(&db, &timer, now).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "approval timer"),
                Err(e) => tracing::warn!(error = %e, "approval timer failed"),
            }
        }
    })
    .await
}

/// The expiry timer: every proposal or approval whose TTL lapsed by `now` becomes `expired`.
/// Returns how many did. Safe to run anywhere at any time: the machine refuses what is not due.
pub async fn expire_due(db: &Db, settings: &ApprovalSettings, now: DateTime<Utc>) -> Result<usize, DbError> {
    let policy = settings.policy();
    db.run(move |c| {
        let waiting: Vec<ActionId> = ac::table
            .filter(ac::status.eq_any(store::words(&[Status::PendingApproval, Status::Approved])))
            .select(ac::id)
            .load(c)?;
        let mut expired = 0;
        for id in waiting {
            match store::apply(c, &id, &Command::Expire, "timer", None, &policy, now) {
                Ok(_) => expired += 1,
                Err(store::CommandError::Refused(Refusal::NotExpired) | store::CommandError::Conflict) => {}
                Err(store::CommandError::Db(e)) => return Err(DbError::from(e)),
                Err(e) => tracing::warn!(action = %id, error = %e, "expiry check failed"),
            }
        }
        Ok(expired)
    })
    .await
}

/// A person's decision on one action, as any door (API, dashboard, chat button) hands it in.
#[derive(Debug, Clone)]
pub struct Decision {
    pub action_id: ActionId,
    pub command: Command,
    pub actor: String,
    pub comment: Option<String>,
    pub at: DateTime<Utc>,
}

/// A person's decision on an action (approve, reject, cancel), from the API, the dashboard or
/// a chat button: one transaction, then its effects after commit (an approval that completes
/// wakes the executors).
pub async fn decide(
    db: &Db,
    bus: &crate::bus::Bus,
    settings: &ApprovalSettings,
    decision: Decision,
) -> Result<Result<store::ActionRow, store::CommandError>, DbError> {
    let policy = settings.policy();
    let Decision { action_id: id, command, actor, comment, at: now } = decision;
    let result = db
        .run(move |c| Ok::<_, DbError>(store::apply(c, &id, &command, &actor, comment.as_deref(), &policy, now)))
        .await?;
    Ok(result.map(|(row, transition)| {
        if transition.effects.contains(&crate::domain::approval::Effect::Execute) {
            bus.publish_action_approved(row.id.clone());
        }
        row
    }))
}
