//! The executors: take approved actions, re-check the safety policy, act through an
//! [`Executor`], verify the effect, and move the action along its state machine. Every step is
//! a committed transition (with its audit entry) before the next one starts, so a crash
//! leaves the action in a state the start-up reconciliation knows how to finish: `approved`
//! starts again, `executing` is verified first and only executed again (with the same
//! idempotency key) if the target is still running, `verifying` is verified.

mod worker;

pub use worker::spawn;

use crate::approval::store::{self, ActionRow, CommandError};
use crate::approval::ApprovalSettings;
use crate::db::schema::{action_transitions as tr, actions as ac};
use crate::db::{Db, DbError};
use crate::domain::approval::safety::{self, Context, SafetyRules, Stage};
use crate::domain::approval::{Command, Status};
use crate::domain::ids::ActionId;
use crate::domain::optimizer::ActionKind;
use chrono::Duration;
use diesel::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Who acts, in histories and the audit log.
pub const ACTOR: &str = "executor";

/// What a verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// The target is in the state the action wanted.
    Done,
    /// Not yet (still stopping); ask again later.
    Pending,
}

/// One way of acting on the world (a cloud, the simulated clouds).
#[async_trait::async_trait]
pub trait Executor: Send + Sync {
    /// Whether this executor knows the action kind.
    fn handles(&self, kind: ActionKind) -> bool;
    /// Whether it acts for the action's provider (several executors share `disable_llm_key`).
    fn handles_provider(&self, _provider: Option<&str>) -> bool {
        true
    }
    /// What it would do, in words (recorded for dry runs).
    fn plan(&self, action: &ActionRow) -> String;
    /// Acts; repeating it with the same key is harmless.
    async fn execute(&self, action: &ActionRow, idempotency_key: &str) -> anyhow::Result<()>;
    /// Checks the target's state.
    async fn verify(&self, action: &ActionRow) -> anyhow::Result<Verification>;
    /// Acts on the built-in simulated clouds (which have their own execution mode).
    fn simulated(&self) -> bool {
        false
    }
    /// How long one execute call may take (resizing waits for the instance to stop).
    fn call_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(60)
    }
    /// At least how long verification keeps asking before it calls the action failed (the
    /// effect of some actions can only be seen after a while).
    fn verify_patience(&self) -> std::time::Duration {
        std::time::Duration::from_secs(5)
    }
    /// The target's tags as the cloud holds them now, for the protection check just before
    /// acting; None: use the tags the ledger last saw.
    async fn target_tags(&self, _action: &ActionRow) -> anyhow::Result<Option<BTreeMap<String, String>>> {
        Ok(None)
    }
    /// In dry-run mode: what the cloud says of the call without acting (EC2's DryRun), or
    /// just the plan where the cloud has no such check.
    async fn rehearse(&self, action: &ActionRow) -> anyhow::Result<String> {
        Ok(format!("would {}", self.plan(action)))
    }
}

/// Which cloud an action runs on, for its execution mode.
struct Where {
    simulated: bool,
    provider: Option<String>,
}

impl Where {
    fn of(row: &ActionRow, executor: Option<&dyn Executor>) -> Where {
        Where { simulated: executor.is_some_and(|e| e.simulated()), provider: row.provider.clone() }
    }
}

#[derive(Clone)]
pub struct Runner {
    db: Db,
    executors: Vec<Arc<dyn Executor>>,
    safety: SafetyRules,
    approval: ApprovalSettings,
    /// Attempts per execute or verify call, with doubling backoff from `backoff`.
    attempts: u32,
    backoff: std::time::Duration,
    clock: crate::clock::Clock,
}

impl Runner {
    pub fn new(db: Db, mut executors: Vec<Arc<dyn Executor>>, safety: SafetyRules, approval: ApprovalSettings) -> Self {
        // The simulated executor claims every kind on any provider, so real ones are asked
        // first, whatever order they were registered in (the sort is stable).
        executors.sort_by_key(|e| e.simulated());
        Runner {
            db,
            executors,
            safety,
            approval,
            attempts: 3,
            backoff: std::time::Duration::from_millis(200),
            clock: crate::clock::Clock::system(),
        }
    }

    /// Reads "now" from `clock` (the application's, shared with its other workers).
    pub fn with_clock(self, clock: crate::clock::Clock) -> Self {
        Runner { clock, ..self }
    }

    /// How this action would run (dry_run or live) and the executor's plan in words, for
    /// the dashboard; None for the plan when no executor here handles its kind.
    pub fn describe(&self, row: &ActionRow) -> (&'static str, Option<String>) {
        let executor =
            self.executors.iter().find(|e| e.handles(row.kind) && e.handles_provider(row.provider.as_deref()));
        let on = Where::of(row, executor.map(|e| e.as_ref()));
        let mode = match self.approval.policy_for(on.simulated, on.provider.as_deref()).mode {
            crate::domain::approval::Mode::DryRun => "dry_run",
            crate::domain::approval::Mode::Live => "live",
        };
        (mode, executor.map(|e| e.plan(row)))
    }

    async fn apply(&self, id: &ActionId, command: Command, on: &Where) -> Result<ActionRow, CommandError> {
        let (id, policy) = (id.clone(), self.approval.policy_for(on.simulated, on.provider.as_deref()));
        let now = self.clock.now();
        let result =
            self.db.run(move |c| Ok::<_, DbError>(store::apply(c, &id, &command, ACTOR, None, &policy, now))).await;
        result.map_err(unavailable)?.map(|(row, _)| row)
    }

    async fn executed_since(&self, since: Duration) -> Result<u32, DbError> {
        let from = (self.clock.now() - since).naive_utc();
        self.db
            .run(move |c| {
                let n: i64 = tr::table
                    .filter(tr::to_status.eq(Status::Executing.as_str()))
                    .filter(tr::at.ge(from))
                    .count()
                    .get_result(c)?;
                Ok::<_, DbError>(u32::try_from(n).unwrap_or(u32::MAX))
            })
            .await
    }

    /// Carries one action as far as it can go now; returns its final status.
    pub async fn process(&self, id: &ActionId) -> anyhow::Result<Status> {
        let Some(mut row) = self
            .db
            .run({
                let id = id.clone();
                move |c| store::get(c, &id).map_err(DbError::from)
            })
            .await?
        else {
            anyhow::bail!("no action {id}");
        };
        let executor =
            self.executors.iter().find(|e| e.handles(row.kind) && e.handles_provider(row.provider.as_deref())).cloned();
        let sim = &Where::of(&row, executor.as_deref());
        if row.status == Status::Approved {
            let mut blocked: Vec<String> = Vec::new();
            let tags = match executor.as_deref().map(|e| e.target_tags(&row)) {
                Some(live) => match live.await {
                    Ok(Some(tags)) => tags,
                    Ok(None) => self.ledger_tags(&row.target).await?,
                    // Without the live tags the protection check cannot be trusted.
                    Err(e) => {
                        blocked.push(format!("cannot read the target's tags: {}", crate::clouds::errors::one_line(&e)));
                        BTreeMap::new()
                    }
                },
                None => self.ledger_tags(&row.target).await?,
            };
            let target = crate::approval::target(row.provider.as_deref(), row.account.as_deref(), &row.target, tags);
            let ctx = Context {
                cost_impact_per_hour: row.estimated_saving_per_hour as f64
                    / crate::domain::money::UNITS_PER_WHOLE as f64,
                executed_last_hour: self.executed_since(Duration::hours(1)).await?,
                executed_last_day: self.executed_since(Duration::days(1)).await?,
                build_sha: crate::build_info::info().git_sha.to_string(),
                ..Context::default()
            };
            blocked.extend(
                safety::check(&self.safety, &target, &ctx, Stage::Execution).into_iter().map(|b| b.to_string()),
            );
            if executor.is_none() && row.kind != ActionKind::NotifyOnly {
                blocked.push(format!("no executor for {}", row.kind));
            }
            row = self.apply(id, Command::Start { blocked }, sim).await?;
            if row.status == Status::DryRun {
                if let Some(e) = executor.as_deref() {
                    self.record_rehearsal(&row, e).await?;
                }
            }
            if row.status == Status::Executing && row.kind == ActionKind::NotifyOnly {
                // Telling people was the whole action.
                self.apply(id, Command::Executed, sim).await?;
                return Ok(self.apply(id, Command::Verified, sim).await?.status);
            }
            if row.status == Status::Executing {
                row = self.execute(&row, executor.as_deref()).await?;
            }
        } else if row.status == Status::Executing {
            // After a crash: look before acting again.
            let done = match executor.as_deref() {
                Some(e) => matches!(e.verify(&row).await, Ok(Verification::Done)),
                None => false,
            };
            row = if done {
                self.apply(id, Command::Executed, sim).await?
            } else {
                self.execute(&row, executor.as_deref()).await?
            };
        }
        if row.status == Status::Verifying {
            row = self.verify(&row, executor.as_deref()).await?;
        }
        Ok(row.status)
    }

    async fn execute(&self, row: &ActionRow, executor: Option<&dyn Executor>) -> anyhow::Result<ActionRow> {
        let sim = &Where::of(row, executor);
        let Some(executor) = executor else {
            return Ok(self
                .apply(&row.id, Command::ExecutionFailed { reason: format!("no executor for {}", row.kind) }, sim)
                .await?);
        };
        let mut wait = self.backoff;
        let mut last = String::new();
        for _ in 0..self.attempts {
            self.audit_call(row).await?;
            let limit = executor.call_timeout();
            let outcome = tokio::time::timeout(limit, executor.execute(row, &row.idempotency_key)).await;
            count_call(
                row,
                "execute",
                match &outcome {
                    Ok(Ok(())) => "ok",
                    Ok(Err(_)) => "error",
                    Err(_) => "timeout",
                },
            );
            match outcome {
                Ok(Ok(())) => return Ok(self.apply(&row.id, Command::Executed, sim).await?),
                Ok(Err(e)) => last = crate::clouds::errors::one_line(&e),
                Err(_) => last = format!("timed out after {} s", limit.as_secs()),
            }
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
        Ok(self.apply(&row.id, Command::ExecutionFailed { reason: last }, sim).await?)
    }

    async fn verify(&self, row: &ActionRow, executor: Option<&dyn Executor>) -> anyhow::Result<ActionRow> {
        let sim = &Where::of(row, executor);
        let Some(executor) = executor else {
            return Ok(self
                .apply(&row.id, Command::VerificationFailed { reason: "no executor to verify".into() }, sim)
                .await?);
        };
        let (mut wait, started) = (self.backoff, std::time::Instant::now());
        let patience = executor.verify_patience();
        for attempt in 0.. {
            if attempt >= self.attempts.max(5) && started.elapsed() >= patience {
                break;
            }
            let seen = executor.verify(row).await;
            count_call(
                row,
                "verify",
                match &seen {
                    Ok(Verification::Done) => "done",
                    Ok(_) => "not_yet",
                    Err(_) => "error",
                },
            );
            if let Ok(Verification::Done) = seen {
                return Ok(self.record_verified(row, sim).await?);
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(std::time::Duration::from_secs(10));
        }
        let reason = format!("{} still looks active after the action", row.target);
        Ok(self.apply(&row.id, Command::VerificationFailed { reason }, sim).await?)
    }

    /// Success, the cost recovered and the anomaly's mitigation, in one transaction: nobody
    /// (a reader polling the action, a restart after a crash) ever sees a succeeded action
    /// without its recovery, or its anomaly still unmitigated.
    async fn record_verified(&self, row: &ActionRow, on: &Where) -> Result<ActionRow, CommandError> {
        let now = self.clock.now();
        let (id, hours) = (row.id.clone(), self.approval.recovery_hours(now));
        let policy = self.approval.policy_for(on.simulated, on.provider.as_deref());
        // An acknowledged notify-only item changes nothing in the cloud: no mitigation.
        let anomaly = row.anomaly_id.clone().filter(|_| row.kind != ActionKind::NotifyOnly);
        let what = format!("{} {}", row.kind.words(), row.target);
        let result = self
            .db
            .run(move |c| {
                Ok::<_, DbError>(crate::db::write_transaction(c, |c| {
                    store::apply_in_transaction(c, &id, &Command::Verified, ACTOR, None, &policy, now)?;
                    store::record_recovery(c, &id, hours)?;
                    if let Some(anomaly) = &anomaly {
                        crate::detect::store::mark_mitigated(c, anomaly, ACTOR, &what, now)?;
                    }
                    store::get(c, &id)?.ok_or(CommandError::NotFound)
                }))
            })
            .await;
        let done = result.map_err(unavailable)??;
        store::count_transition(&Command::Verified, &done);
        Ok(done)
    }

    async fn ledger_tags(&self, resource: &str) -> Result<BTreeMap<String, String>, DbError> {
        let resource = resource.to_string();
        self.db.run(move |c| crate::ledger::query::resource_tags(c, &resource).map_err(DbError::from)).await
    }

    /// A dry run asks the cloud what it would say (where it can) and keeps the answer.
    async fn record_rehearsal(&self, row: &ActionRow, executor: &dyn Executor) -> Result<(), DbError> {
        match executor.rehearse(row).await {
            Ok(said) => self.audit(row, "executor.dry_run", "ok", Some(said)).await,
            Err(e) => self.audit(row, "executor.dry_run", "refused", Some(format!("{e:#}"))).await,
        }
    }

    /// Every call into a cloud is audited before it is made, so the log shows each attempt,
    /// including one a crash interrupted.
    async fn audit_call(&self, row: &ActionRow) -> Result<(), DbError> {
        self.audit(row, "executor.call", "started", None).await
    }

    async fn audit(
        &self,
        row: &ActionRow,
        action: &'static str,
        result: &'static str,
        detail: Option<String>,
    ) -> Result<(), DbError> {
        let target = format!("action {} / {} {}", row.id, row.kind, row.target);
        let now = self.clock.now();
        self.db
            .run(move |c| {
                crate::db::write_transaction(c, |c| {
                    let event = crate::audit::Event {
                        actor: ACTOR,
                        action,
                        target: &target,
                        result,
                        detail: detail.as_deref(),
                        ..crate::audit::Event::default()
                    };
                    crate::audit::append(c, &event, now)
                })
                .map(|_| ())
                .map_err(DbError::from)
            })
            .await
    }

    /// Everything left approved, executing or verifying (after a restart, say).
    pub async fn pending(&self) -> Result<Vec<ActionId>, DbError> {
        self.db
            .run(|c| {
                ac::table
                    .filter(ac::status.eq_any(Status::UNDER_WAY.map(Status::as_str)))
                    .order_by(ac::updated_at.asc())
                    .select(ac::id)
                    .load(c)
                    .map_err(DbError::from)
            })
            .await
    }
}

fn count_call(row: &ActionRow, call: &'static str, outcome: &'static str) {
    metrics::counter!("costguard_executor_calls_total", "kind" => row.kind.as_str(), "call" => call, "outcome" => outcome)
        .increment(1);
}

/// A database that could not be reached (no pool connection) while applying a command: the
/// command failed for a storage reason, so it travels as one.
fn unavailable(e: DbError) -> CommandError {
    CommandError::Db(diesel::result::Error::QueryBuilderError(e.to_string().into()))
}
