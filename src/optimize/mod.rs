//! The optimizer: turns anomalies into proposed actions through the rule table
//! (`domain::optimizer`), routes each through the safety policy, and withdraws what is still
//! waiting when its anomaly resolves first. It reads the anomaly's current state from the
//! database, so a message is only a wake-up; at start-up it reconciles every anomaly.

use crate::approval::store::{self, NewAction};
use crate::approval::ApprovalSettings;
use crate::approval::{self, Proposed, Proposer};
use crate::bus::AnomalyChanged;
use crate::db::schema::{actions as ac, anomalies as an};
use crate::db::{Db, DbConn, DbError};
use crate::detect::store::{self as anomalies, AnomalyRow};
use crate::domain::approval::safety::{Context, SafetyRules};
use crate::domain::approval::{Command, Status, Withdrawal};
use crate::domain::detect::series::SeriesId;
use crate::domain::ids::{ActionId, AnomalyId};
use crate::domain::money::UNITS_PER_WHOLE;
use crate::domain::optimizer::{propose, ActionKind, AnomalyFacts, Proposal, Rule};
use diesel::prelude::*;
use tokio::sync::mpsc;

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
    pub async fn handle(&self, anomaly_id: &AnomalyId) -> Result<Outcome, DbError> {
        let me = self.clone();
        let id = anomaly_id.clone();
        self.db.run(move |c| me.handle_blocking(c, &id).map_err(DbError::from)).await
    }

    /// Every open detected anomaly gets its proposals; every resolved one loses what waits.
    pub async fn reconcile(&self) -> Result<Outcome, DbError> {
        let ids: Vec<AnomalyId> = self
            .db
            .run(|c| {
                // Merged anomalies are covered by their primary; only what waits on them matters.
                let mut ids: Vec<AnomalyId> = an::table
                    .filter(an::origin.eq("detected"))
                    .filter(an::state.eq("open"))
                    .filter(an::merged_into.is_null())
                    .select(an::id)
                    .load(c)?;
                let waiting: Vec<Option<AnomalyId>> = ac::table
                    .filter(ac::status.eq_any(store::words(&WAITING)))
                    .select(ac::anomaly_id)
                    .distinct()
                    .load(c)?;
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

    fn handle_blocking(&self, c: &mut DbConn, id: &AnomalyId) -> diesel::QueryResult<Outcome> {
        let Some(a) = anomalies::get(c, id)? else { return Ok(Outcome::default()) };
        let now = self.clock.now();
        if let Some(primary) = &a.merged_into {
            let why = Withdrawal::Merged { into: primary.clone() };
            return Ok(Outcome { proposed: 0, withdrawn: self.withdraw_waiting(c, id, None, &why)? });
        }
        if a.state != "open" {
            store::confirm_cost_back_in_band(c, id, now)?;
            let withdrawn = self.withdraw_waiting(c, id, None, &Withdrawal::AnomalyResolved)?;
            return Ok(Outcome { proposed: 0, withdrawn });
        }
        // A verified action is watching it ("mitigated"); nothing more to propose.
        if a.origin != "detected" || a.direction != "up" || a.mitigated_at.is_some() {
            return Ok(Outcome::default());
        }
        let Some(series) = SeriesId::parse_key(&a.series_key) else { return Ok(Outcome::default()) };
        let causes = a.root_causes();
        let facts = AnomalyFacts { series: &series, root_causes: &causes, excess_per_hour: excess_per_hour(&a) };
        let mut outcome = Outcome::default();
        for p in propose(&self.rules, &facts) {
            if a.provisional && now.naive_utc() - a.created_at < PROVISIONAL_WAIT {
                // Its rate is not confirmed yet (a loop seen for seconds): revise what waits,
                // propose nothing new on numbers that may be far off; the next measurement
                // confirms it, or the wait runs out.
                store::revise_estimate(c, &a.id, p.kind, &p.target, saving_units(&p), ACTOR, now)?;
                continue;
            }
            if let Some(row) = self.propose_one(c, &a, &p, now)? {
                outcome.proposed += 1;
                // An action to approve replaces the notify-only acknowledgement.
                if p.kind != ActionKind::NotifyOnly && row.status == Status::PendingApproval {
                    let why =
                        Withdrawal::Superseded { by: format!("{} {}", p.kind.as_str().replace('_', " "), p.target) };
                    outcome.withdrawn += self.withdraw_waiting(c, id, Some(ActionKind::NotifyOnly), &why)?;
                }
            }
        }
        Ok(outcome)
    }

    /// Proposes and routes one action unless an earlier one for the same target stands
    /// (`may_propose_again`): a proposal follows its anomaly as it grows, and an early refusal
    /// by the policy never blocks the right action once the facts allow it.
    fn propose_one(
        &self,
        c: &mut DbConn,
        a: &AnomalyRow,
        p: &Proposal,
        now: chrono::DateTime<chrono::Utc>,
    ) -> diesel::QueryResult<Option<store::ActionRow>> {
        let facts = Context {
            projected_daily_overspend: a.projected_daily as f64 / UNITS_PER_WHOLE as f64,
            cost_impact_per_hour: p.estimated_saving_per_hour,
            ..Context::default()
        };
        let new = NewAction {
            anomaly_id: Some(a.id.clone()),
            kind: p.kind,
            target: p.target.clone(),
            provider: a.provider.clone(),
            account: a.sub_account.clone(),
            params: serde_json::to_string(&p.params).unwrap_or_else(|_| "{}".into()),
            risk: p.risk,
            estimated_saving_per_hour: saving_units(p),
            proposed_by: ACTOR.to_string(),
        };
        let policy = self.approval.policy();
        match approval::propose(c, &self.safety, &policy, Proposer::Optimizer, &new, &facts, now) {
            Ok(Proposed::Routed(row)) => Ok(Some(*row)),
            Ok(Proposed::AlreadyThere) => Ok(None),
            Err(store::CommandError::Db(e)) => Err(e),
            Err(e) => {
                tracing::warn!(anomaly = %a.id, target = %p.target, error = %e, "could not route a proposal");
                Ok(None)
            }
        }
    }

    /// Withdraws what waits on the anomaly (of one kind, or all); returns how many.
    fn withdraw_waiting(
        &self,
        c: &mut DbConn,
        anomaly_id: &AnomalyId,
        kind: Option<ActionKind>,
        why: &Withdrawal,
    ) -> diesel::QueryResult<usize> {
        let mut query = ac::table
            .filter(ac::anomaly_id.eq(anomaly_id))
            .filter(ac::status.eq_any(store::words(&WAITING)))
            .into_boxed();
        if let Some(kind) = kind {
            query = query.filter(ac::kind.eq(kind.as_str()));
        }
        let waiting: Vec<ActionId> = query.select(ac::id).load(c)?;
        let (policy, now) = (self.approval.policy(), self.clock.now());
        let mut withdrawn = 0;
        for action in waiting {
            let command = Command::Withdraw { why: why.clone() };
            // Losing a race to an approver or executor is fine: that one decides.
            if store::apply(c, &action, &command, ACTOR, None, &policy, now).is_ok() {
                withdrawn += 1;
            }
        }
        Ok(withdrawn)
    }
}

/// A proposal's estimated saving per hour in the ledger's exact units.
fn saving_units(p: &Proposal) -> i64 {
    (p.estimated_saving_per_hour * UNITS_PER_WHOLE as f64).round() as i64
}

/// How long an anomaly measured only on an unconfirmed running rate waits for the next
/// measurement before its proposal is made anyway (some sources report a running hour once).
const PROVISIONAL_WAIT: chrono::Duration = chrono::Duration::seconds(30);

/// How often the worker goes over every open anomaly, besides its wake-ups.
const RECHECK: std::time::Duration = std::time::Duration::from_secs(10);

/// Statuses in which an action has not started and can still be withdrawn.
const WAITING: [Status; 3] = [Status::Proposed, Status::PendingApproval, Status::Approved];

/// The anomaly's excess per hour at its peak rate (a running hour is read at its rate, so a
/// loop's estimate is right from its first minutes), in currency units.
fn excess_per_hour(a: &AnomalyRow) -> f64 {
    let per_hour = a.projected_daily as f64 / UNITS_PER_WHOLE as f64 / 24.0;
    if per_hour > 0.0 {
        return per_hour;
    }
    let points = a.points.max(1) as f64;
    let hours_per_point = a.step_secs.max(1) as f64 / 3_600.0;
    a.impact().units() as f64 / UNITS_PER_WHOLE as f64 / points / hours_per_point
}

/// Starts the optimizer: it reconciles every open anomaly at start-up (and every `RECHECK`,
/// which is also what gives a provisional anomaly its proposal after `PROVISIONAL_WAIT`), then
/// handles one anomaly per message.
pub fn spawn(
    ctx: &crate::worker::Context,
    settings: &OptimizerSettings,
    safety: &SafetyRules,
    approval: &ApprovalSettings,
    changes: mpsc::Receiver<AnomalyChanged>,
) {
    let optimizer = Optimizer::new(ctx.db.clone(), settings.rules.clone(), safety.clone(), approval.clone())
        .with_clock(ctx.clock.clone());
    ctx.start(optimizer, changes);
}

impl crate::worker::Worker for Optimizer {
    type Wake = AnomalyChanged;

    fn tick_every(&self) -> std::time::Duration {
        RECHECK
    }

    async fn catch_up(&mut self, _: &mut crate::cluster::Leadership) {
        if let Err(e) = self.reconcile().await {
            tracing::error!(error = %e, "optimizer reconciliation failed");
        }
    }

    async fn on_wakes(&mut self, changes: Vec<AnomalyChanged>, _: &mut crate::cluster::Leadership) {
        for m in changes {
            tracing::debug!(anomaly = %m.anomaly_id, lifecycle = ?m.lifecycle, "anomaly changed");
            if let Err(e) = self.handle(&m.anomaly_id).await {
                tracing::error!(anomaly = %m.anomaly_id, error = %e, "optimizer failed; the next sweep retries");
            }
        }
    }
}
