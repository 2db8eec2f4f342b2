//! The remediation state machine: state + command + policy + now → new state + effects, as
//! data. Pure: the approval module persists each transition with a conditional update and
//! runs the effects after commit.
//!
//! ```text
//! proposed ─route─▶ pending_approval ─approve (enough)─▶ approved ─start─▶ executing ─executed─▶ verifying ─verified─▶ succeeded
//!     │                 │   ▲ approve (not yet enough)      │                  │                     └─verification_failed─▶ failed
//!     │                 └───┘                               │ start (dry run) ─▶ dry_run               execution_failed ─▶ failed
//!     └─ route (blocked), reject, start (blocked) ─▶ rejected;  expire ─▶ expired;  withdraw, cancel ─▶ withdrawn
//! ```

pub mod safety;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Proposed,
    PendingApproval,
    Approved,
    Executing,
    Verifying,
    Succeeded,
    Failed,
    Rejected,
    Expired,
    Withdrawn,
    /// Approved and checked, but the provider runs in dry-run mode: the plan was recorded,
    /// nothing was changed.
    DryRun,
}

/// The stored word (`as_str`).
impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Status {
    pub const ALL: [Status; 11] = [
        Status::Proposed,
        Status::PendingApproval,
        Status::Approved,
        Status::Executing,
        Status::Verifying,
        Status::Succeeded,
        Status::Failed,
        Status::Rejected,
        Status::Expired,
        Status::Withdrawn,
        Status::DryRun,
    ];

    /// Approved and not yet ended: the executor owns it (acting in the cloud or checking).
    pub const UNDER_WAY: [Status; 3] = [Status::Approved, Status::Executing, Status::Verifying];

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Status::Succeeded
                | Status::Failed
                | Status::Rejected
                | Status::Expired
                | Status::Withdrawn
                | Status::DryRun
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Proposed => "proposed",
            Status::PendingApproval => "pending_approval",
            Status::Approved => "approved",
            Status::Executing => "executing",
            Status::Verifying => "verifying",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Rejected => "rejected",
            Status::Expired => "expired",
            Status::Withdrawn => "withdrawn",
            Status::DryRun => "dry_run",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// How much could go wrong; decides how many approvers an action needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    Low,
    Medium,
    High,
}

/// The stored word (`as_str`).
impl std::fmt::Display for Risk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Risk {
    pub const ALL: [Risk; 3] = [Risk::Low, Risk::Medium, Risk::High];

    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
        }
    }

    pub fn parse(s: &str) -> Option<Risk> {
        Risk::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Whether executors act or only record what they would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    DryRun,
    Live,
}

/// The approval rules the machine enforces itself (the safety checks that need the world,
/// such as protected resources or rate limits, arrive as `blocked` reasons on commands).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// An approval, and a proposal waiting for one, lapses after this long.
    pub approval_ttl: Duration,
    /// Distinct approvers a high-risk action needs (others need one).
    pub high_risk_approvers: usize,
    pub mode: Mode,
}

impl Policy {
    pub fn approvers_needed(&self, risk: Risk) -> usize {
        if risk == Risk::High {
            self.high_risk_approvers.max(1)
        } else {
            1
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub by: String,
    pub at: DateTime<Utc>,
}

/// What the machine needs to know about an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub status: Status,
    pub risk: Risk,
    pub proposed_by: String,
    /// When it entered pending_approval (the waiting TTL runs from here).
    pub routed_at: Option<DateTime<Utc>>,
    pub approvals: Vec<Approval>,
}

impl Action {
    pub fn proposed(risk: Risk, proposed_by: &str) -> Action {
        Action {
            status: Status::Proposed,
            risk,
            proposed_by: proposed_by.to_string(),
            routed_at: None,
            approvals: Vec::new(),
        }
    }

    /// Approvals still within their TTL at `now`.
    pub fn valid_approvals(&self, policy: &Policy, now: DateTime<Utc>) -> usize {
        self.approvals.iter().filter(|a| now < a.at + policy.approval_ttl).count()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Send for approval. `blocked` holds the safety policy's reasons to refuse, if any.
    Route {
        blocked: Vec<String>,
    },
    Approve {
        by: String,
    },
    Reject {
        by: String,
    },
    /// A person takes the proposal back before it runs.
    Cancel {
        by: String,
    },
    /// The optimizer takes it back before it ran.
    Withdraw {
        why: Withdrawal,
    },
    /// The timer's check: the proposal or its approvals lapsed.
    Expire,
    /// An executor claims it; the safety policy was checked again just now.
    Start {
        blocked: Vec<String>,
    },
    Executed,
    ExecutionFailed {
        reason: String,
    },
    Verified,
    VerificationFailed {
        reason: String,
    },
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Route { .. } => "route",
            Command::Approve { .. } => "approve",
            Command::Reject { .. } => "reject",
            Command::Cancel { .. } => "cancel",
            Command::Withdraw { .. } => "withdraw",
            Command::Expire => "expire",
            Command::Start { .. } => "start",
            Command::Executed => "executed",
            Command::ExecutionFailed { .. } => "execution_failed",
            Command::Verified => "verified",
            Command::VerificationFailed { .. } => "verification_failed",
        }
    }
}

/// Why the optimizer withdraws an action that has not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Withdrawal {
    /// Its anomaly resolved before anyone approved it.
    AnomalyResolved,
    /// A notify-only item whose anomaly now has an action to approve.
    Superseded { by: String },
    /// Its anomaly turned out to be part of another one's incident (which has its own).
    Merged { into: String },
}

impl std::fmt::Display for Withdrawal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Withdrawal::AnomalyResolved => f.write_str("its anomaly resolved first"),
            Withdrawal::Superseded { by } => write!(f, "superseded by the proposal to {by}"),
            Withdrawal::Merged { into } => write!(f, "its anomaly is part of anomaly {into}"),
        }
    }
}

/// Whether the optimizer may propose an action of a kind for a target again, given the
/// latest earlier one for the same anomaly (`prior`: its status, and whether it was ever
/// routed to people) and whether the safety policy would block the new one. A live or done
/// action, or one a person rejected, stands; one the policy rejected is proposed again once
/// the policy would let it through (the facts changed); a lapsed, failed or withdrawn one is
/// proposed again, since its anomaly is still open.
pub fn may_propose_again(prior: Option<(Status, bool)>, policy_would_block: bool) -> bool {
    match prior {
        None => true,
        Some((status, _)) if !status.is_terminal() => false,
        Some((Status::Succeeded | Status::DryRun, _)) => false,
        Some((Status::Rejected, true)) => false,
        Some((Status::Rejected, false)) => !policy_would_block,
        Some((Status::Expired | Status::Failed | Status::Withdrawn, _)) => true,
        Some(_) => false,
    }
}

/// Work to do after the transition is committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Ask approvers (notifications, dashboard).
    RequestApproval,
    /// Hand to an executor.
    Execute,
    /// Record the plan without acting (dry-run mode).
    RecordDryRun,
    Verify,
    /// Tell people how it ended.
    Announce(Status),
}

/// A committed-to-be transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub action: Action,
    pub effects: Vec<Effect>,
    /// Why, for the history and the audit log (policy reasons, failures).
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the action is {0} and can no longer change")]
    Terminal(&'static str),
    #[error("'{command}' is not possible while the action is {status}")]
    NotNow { command: &'static str, status: &'static str },
    #[error("whoever proposed an action cannot approve it")]
    OwnProposal,
    #[error("{0} has already approved this action")]
    AlreadyApproved(String),
    #[error("nothing has lapsed yet")]
    NotExpired,
}

/// The whole machine.
pub fn transition(
    action: &Action,
    command: &Command,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Transition, Refusal> {
    use Status as S;
    if action.status.is_terminal() {
        return Err(Refusal::Terminal(action.status.as_str()));
    }
    let not_now = || Refusal::NotNow { command: command.name(), status: action.status.as_str() };
    let mut next = action.clone();
    let to = |next: &mut Action, status: Status, effects: Vec<Effect>, reason: Option<String>| {
        next.status = status;
        Ok(Transition { action: next.clone(), effects, reason })
    };
    let ended = |s: Status| vec![Effect::Announce(s)];
    match (action.status, command) {
        (S::Proposed, Command::Route { blocked }) if !blocked.is_empty() => {
            to(&mut next, S::Rejected, ended(S::Rejected), Some(format!("blocked by policy: {}", blocked.join("; "))))
        }
        (S::Proposed, Command::Route { .. }) => {
            next.routed_at = Some(now);
            to(&mut next, S::PendingApproval, vec![Effect::RequestApproval], None)
        }
        (S::PendingApproval, Command::Approve { by }) => {
            if *by == action.proposed_by {
                return Err(Refusal::OwnProposal);
            }
            if action.approvals.iter().any(|a| &a.by == by) {
                return Err(Refusal::AlreadyApproved(by.clone()));
            }
            next.approvals.push(Approval { by: by.clone(), at: now });
            if next.valid_approvals(policy, now) >= policy.approvers_needed(action.risk) {
                to(&mut next, S::Approved, vec![Effect::Execute], None)
            } else {
                to(&mut next, S::PendingApproval, Vec::new(), Some("waiting for another approver".into()))
            }
        }
        // Separation of duties guards what runs, not what stops: anyone who may decide,
        // the proposer included, may reject (as the proposer may withdraw), because a
        // rejection runs nothing and a proposer who sees a mistake must be able to stop it.
        (S::Proposed | S::PendingApproval | S::Approved, Command::Reject { by }) => {
            to(&mut next, S::Rejected, ended(S::Rejected), Some(format!("rejected by {by}")))
        }
        (S::Proposed | S::PendingApproval | S::Approved, Command::Cancel { by }) => {
            to(&mut next, S::Withdrawn, ended(S::Withdrawn), Some(format!("cancelled by {by}")))
        }
        (S::Proposed | S::PendingApproval | S::Approved, Command::Withdraw { why }) => {
            to(&mut next, S::Withdrawn, ended(S::Withdrawn), Some(why.to_string()))
        }
        (S::PendingApproval, Command::Expire) => {
            let waited_out = action.routed_at.is_none_or(|at| now >= at + policy.approval_ttl);
            if !waited_out {
                return Err(Refusal::NotExpired);
            }
            to(&mut next, S::Expired, ended(S::Expired), Some("no approval in time".into()))
        }
        (S::Approved, Command::Expire) => {
            if action.valid_approvals(policy, now) >= policy.approvers_needed(action.risk) {
                return Err(Refusal::NotExpired);
            }
            to(&mut next, S::Expired, ended(S::Expired), Some("the approval lapsed before it ran".into()))
        }
        (S::Approved, Command::Start { blocked }) => {
            if action.valid_approvals(policy, now) < policy.approvers_needed(action.risk) {
                to(&mut next, S::Expired, ended(S::Expired), Some("the approval lapsed before it ran".into()))
            } else if !blocked.is_empty() {
                let reason = format!("blocked by policy at execution: {}", blocked.join("; "));
                to(&mut next, S::Rejected, ended(S::Rejected), Some(reason))
            } else if policy.mode == Mode::DryRun {
                to(
                    &mut next,
                    S::DryRun,
                    vec![Effect::RecordDryRun, Effect::Announce(S::DryRun)],
                    Some("dry-run mode".into()),
                )
            } else {
                to(&mut next, S::Executing, Vec::new(), None)
            }
        }
        (S::Executing, Command::Executed) => to(&mut next, S::Verifying, vec![Effect::Verify], None),
        (S::Executing, Command::ExecutionFailed { reason })
        | (S::Verifying, Command::VerificationFailed { reason }) => {
            to(&mut next, S::Failed, ended(S::Failed), Some(reason.clone()))
        }
        (S::Verifying, Command::Verified) => to(&mut next, S::Succeeded, ended(S::Succeeded), None),
        _ => Err(not_now()),
    }
}
