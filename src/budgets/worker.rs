//! The budgets' worker: an evaluation at start-up and on taking the lead, after every
//! detective run (the bus's wake-up), and every minute (a new period starts, another
//! process changed a budget).

use crate::bus::Bus;
use crate::clock::Clock;
use crate::cluster::Leadership;
use crate::db::Db;

const EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Starts the worker, and makes the config-managed budgets what `config` lists (a name
/// people already use for their own budget stops start-up).
pub async fn spawn(ctx: &crate::worker::Context, config: &super::BudgetsConfig) -> anyhow::Result<()> {
    let specs = config.specs().map_err(|(key, why)| anyhow::anyhow!("{key}: {why}"))?;
    let now = ctx.clock.now();
    ctx.db
        .run(move |c| {
            super::store::sync_config(c, &specs, now).map_err(|e| anyhow::anyhow!("budgets in config.toml: {e}"))
        })
        .await?;
    let worker = BudgetWorker { db: ctx.db.clone(), bus: ctx.bus.clone(), clock: ctx.clock.clone() };
    ctx.start(worker, ctx.bus.budgets_wake());
    Ok(())
}

struct BudgetWorker {
    db: Db,
    bus: Bus,
    clock: Clock,
}

impl BudgetWorker {
    async fn evaluate(&self) {
        match super::evaluate(&self.db, self.clock.now()).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(crossings = n, "budget thresholds crossed");
                self.bus.nudge_notifier();
            }
            Err(e) => tracing::error!(error = %e, "budget evaluation failed; the next run retries"),
        }
    }
}

impl crate::worker::Worker for BudgetWorker {
    type Wake = ();

    fn tick_every(&self) -> std::time::Duration {
        EVERY
    }

    async fn catch_up(&mut self, _: &mut Leadership) {
        self.evaluate().await
    }

    async fn on_wakes(&mut self, _: Vec<()>, _: &mut Leadership) {
        self.evaluate().await
    }
}
