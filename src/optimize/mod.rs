//! The optimizer: turns anomalies into proposed actions through the rule table
//! (`domain::optimizer`), routes each through the safety policy, and withdraws what is still
//! waiting when its anomaly resolves first. It reads the anomaly's current state from the
//! database, so a message is only a wake-up; at start-up it reconciles every anomaly.

use crate::approval::store::{self, NewAction};
use crate::approval::ApprovalSettings;
use crate::bus::AnomalyChanged;
use crate::db::schema::{actions as ac, anomalies as an};
use crate::db::{Db, DbConn, DbError};
use crate::detect::store::{self as anomalies, AnomalyRow};
use crate::domain::approval::safety::{self, Context, SafetyRules, Stage, Target};
use crate::domain::approval::Command;
use crate::domain::detect::series::SeriesId;
use crate::domain::money::UNITS_PER_WHOLE;
use crate::domain::optimizer::{propose, AnomalyFacts, Rule};
use diesel::prelude::*;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// `[optimizer]` in config.toml: the rule table, first match wins.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimizerSettings {
    pub rules: Vec<Rule>,
}

impl Default for OptimizerSettings {
    fn default() -> Self {
        OptimizerSettings { rules: crate::domain::optimizer::default_rules() }
    }
}

/// Who proposes automatically, in histories and the audit log.
pub const ACTOR: &str = "optimizer";

#[derive(Clone)]
pub struct Optimizer {
    db: Db,
    rules: Vec<Rule>,
    safety: SafetyRules,
    approval: ApprovalSettings,
    clock: crate::clock::Clock,
}

/// What handling one anomaly did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub proposed: usize,
    pub withdrawn: usize,
}

impl Optimizer {
    pub fn new(db: Db, rules: Vec<Rule>, safety: SafetyRules, approval: ApprovalSettings) -> Self {
        Optimizer { db, rules, safety, approval, clock: crate::clock::Clock::system() }
    }

    /// Reads "now" from `clock` (the application's, shared with its other workers).
    pub fn with_clock(self, clock: crate::clock::Clock) -> Self {
        Optimizer { clock, ..self }
    }

    /// Brings one anomaly's actions in line with its current state.
    pub async fn handle(&self, anomaly_id: &str) -> Result<Outcome, DbError> {
        let me = self.clone();
        let id = anomaly_id.to_string();
        self.db.run(move |c| me.handle_blocking(c, &id).map_err(DbError::from)).await
    }

    /// Every open detected anomaly gets its proposals; every resolved one loses what waits.
    pub async fn reconcile(&self) -> Result<Outcome, DbError> {
        let ids: Vec<String> = self
            .db
            .run(|c| {
                let mut ids: Vec<String> =
                    an::table.filter(an::origin.eq("detected")).filter(an::state.eq("open")).select(an::id).load(c)?;
                let waiting: Vec<Option<String>> =
                    ac::table.filter(ac::status.eq_any(WAITING)).select(ac::anomaly_id).distinct().load(c)?;
                ids.extend(waiting.into_iter().flatten());
                ids.sort();
                ids.dedup();
                Ok::<_, DbError>(ids)
            })
            .await?;
        let mut total = Outcome::default();
        for id in ids {
            let o = self.handle(&id).await?;
            total.proposed += o.proposed;
            total.withdrawn += o.withdrawn;
        }
        Ok(total)
    }

    fn handle_blocking(&self, c: &mut DbConn, id: &str) -> diesel::QueryResult<Outcome> {
        let Some(a) = anomalies::get(c, id)? else { return Ok(Outcome::default()) };
        let policy = self.approval.policy();
        let now = self.clock.now();
        if a.state != "open" {
            let waiting: Vec<String> =
                ac::table.filter(ac::anomaly_id.eq(id)).filter(ac::status.eq_any(WAITING)).select(ac::id).load(c)?;
            store::confirm_cost_back_in_band(c, id, now)?;
            let mut withdrawn = 0;
            for action in waiting {
                // Losing a race to an approver or executor is fine: that one decides.
                if store::apply(c, &action, &Command::Withdraw, ACTOR, None, &policy, now).is_ok() {
                    withdrawn += 1;
                }
            }
            return Ok(Outcome { proposed: 0, withdrawn });
        }
        if a.origin != "detected" || a.direction != "up" {
            return Ok(Outcome::default());
        }
        let Some(series) = SeriesId::parse_key(&a.series_key) else { return Ok(Outcome::default()) };
        let causes = a.root_causes();
        let excess_per_hour = excess_per_hour(&a);
        let proposals = propose(&self.rules, &AnomalyFacts { series: &series, root_causes: &causes, excess_per_hour });
        let mut proposed = 0;
        for p in proposals {
            let new = NewAction {
                anomaly_id: Some(a.id.clone()),
                kind: p.kind.as_str().to_string(),
                target: p.target.clone(),
                provider: a.provider.clone(),
                account: a.sub_account.clone(),
                params: serde_json::to_string(&p.params).unwrap_or_else(|_| "{}".into()),
                risk: p.risk,
                estimated_saving_per_hour: (p.estimated_saving_per_hour * UNITS_PER_WHOLE as f64).round() as i64,
                proposed_by: ACTOR.to_string(),
            };
            let Some(created) = store::create(c, &new, now)? else { continue };
            let target = Target {
                provider: a.provider.clone().unwrap_or_default(),
                account: a.sub_account.clone().unwrap_or_default(),
                resource_id: p.target.clone(),
                tags: crate::ledger::query::resource_tags(c, &p.target)?,
            };
            let ctx = Context {
                projected_daily_overspend: a.projected_daily as f64 / UNITS_PER_WHOLE as f64,
                cost_impact_per_hour: p.estimated_saving_per_hour,
                ..Context::default()
            };
            let blocked =
                safety::check(&self.safety, &target, &ctx, Stage::Routing).into_iter().map(|b| b.to_string()).collect();
            match store::apply(c, &created.id, &Command::Route { blocked }, ACTOR, None, &policy, now) {
                Ok(_) => proposed += 1,
                Err(store::CommandError::Db(e)) => return Err(e),
                Err(e) => tracing::warn!(action = %created.id, error = %e, "could not route a proposal"),
            }
        }
        Ok(Outcome { proposed, withdrawn: 0 })
    }
}

/// Statuses in which an action has not started and can still be withdrawn.
const WAITING: [&str; 3] = ["proposed", "pending_approval", "approved"];

fn excess_per_hour(a: &AnomalyRow) -> f64 {
    let points = a.points.max(1) as f64;
    let hours_per_point = a.step_secs.max(1) as f64 / 3_600.0;
    a.impact().units() as f64 / UNITS_PER_WHOLE as f64 / points / hours_per_point
}

/// The worker: reconcile at start-up, then one anomaly per message.
pub async fn work(
    optimizer: Optimizer,
    mut changes: mpsc::Receiver<AnomalyChanged>,
    mut leader: crate::cluster::Leadership,
    cancel: CancellationToken,
) {
    let mut reconcile = true;
    loop {
        if reconcile && leader.is_leader() {
            reconcile = false;
            if let Err(e) = optimizer.reconcile().await {
                tracing::error!(error = %e, "optimizer reconciliation failed");
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => break,
            // Whoever becomes leader catches up from the database.
            _ = leader.changed() => reconcile = true,
            message = changes.recv() => match message {
                Some(m) if leader.is_leader() => {
                    tracing::info!(anomaly = %m.anomaly_id, lifecycle = ?m.lifecycle, "anomaly");
                    if let Err(e) = optimizer.handle(&m.anomaly_id).await {
                        tracing::error!(anomaly = %m.anomaly_id, error = %e, "optimizer failed; the next sweep retries");
                    }
                }
                Some(_) => {}
                None => break,
            }
        }
    }
}
