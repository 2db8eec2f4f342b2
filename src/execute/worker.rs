//! The executor's worker, on the leader only: finish what is pending when it starts leading
//! (or every `POLL`), then one action per wake-up. Losing the lease stops an action mid-way;
//! the next leader reconciles it (verify before acting again), so nothing runs twice.

use super::Runner;
use crate::cluster::Leadership;
use crate::domain::ids::ActionId;
use tokio::sync::mpsc;

/// How often the leader looks for approved actions that no wake-up announced (approvals
/// taken on another replica, or after a missed wake-up).
const POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// Starts the executor, woken by the approved-actions channel.
pub fn spawn(ctx: &crate::worker::Context, runner: Runner, approved: mpsc::Receiver<ActionId>) {
    ctx.start(runner, approved);
}

impl crate::worker::Worker for Runner {
    type Wake = ActionId;

    fn tick_every(&self) -> std::time::Duration {
        POLL
    }

    async fn catch_up(&mut self, leader: &mut Leadership) {
        match self.pending().await {
            Ok(ids) => process_in_turn(self, ids, leader).await,
            Err(e) => tracing::error!(error = %e, "could not list pending actions"),
        }
    }

    async fn on_wakes(&mut self, approved: Vec<ActionId>, leader: &mut Leadership) {
        process_in_turn(self, approved, leader).await
    }
}

/// One action after another, stopping when the lease is lost.
async fn process_in_turn(runner: &Runner, ids: Vec<ActionId>, leader: &mut Leadership) {
    for id in ids {
        if !process_while_leading(runner, &id, leader).await {
            break;
        }
    }
}

/// Processes one action unless the lease is lost first; false when it was.
async fn process_while_leading(runner: &Runner, id: &ActionId, leader: &mut Leadership) -> bool {
    tokio::select! {
        result = runner.process(id) => {
            match result {
                Ok(status) => tracing::info!(action = %id, %status, "action processed"),
                Err(e) => tracing::error!(action = %id, error = %e, "action processing failed"),
            }
            true
        }
        _ = leader.lost() => {
            tracing::warn!(action = %id, "leadership lost mid-action; the next leader reconciles it");
            false
        }
    }
}
