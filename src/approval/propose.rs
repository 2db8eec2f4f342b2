//! Proposing an action, the one verb every door uses (the optimizer, the API): build what it
//! would touch, check the safety policy at routing, store it and route it, in the caller's
//! transaction. `decide` in this module's parent is the other verb.

use super::store::{self, ActionRow, CommandError, NewAction};
use crate::db::DbConn;
use crate::domain::approval::safety::{self, Context, SafetyRules, Stage, Target};
use crate::domain::approval::{may_propose_again, Command, Policy};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// Who proposes; it decides which rules apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proposer {
    /// The optimizer, from an anomaly: held to every rule, and an earlier action for the same
    /// target stands unless `may_propose_again` says otherwise.
    Optimizer,
    /// A person (approver role): not held to the optimizer's budget floor, and they may
    /// propose again what once ended.
    Person,
}

/// What came of a proposal.
#[derive(Debug, Clone, PartialEq)]
pub enum Proposed {
    /// Stored and routed: waiting for approval, or rejected by the policy with its reasons.
    Routed(Box<ActionRow>),
    /// This anomaly already has a live action of this kind for this target (or, for the
    /// optimizer, an ended one that stands); one still waiting had its estimate brought up
    /// to date.
    AlreadyThere,
}

/// What the safety policy checks `resource` on `provider`/`account` against: its tags, as
/// the executor read them live or, failing that, as the ledger last saw them.
pub fn target(provider: Option<&str>, account: Option<&str>, resource: &str, tags: BTreeMap<String, String>) -> Target {
    Target {
        provider: provider.unwrap_or_default().to_string(),
        account: account.unwrap_or_default().to_string(),
        resource_id: resource.to_string(),
        tags,
    }
}

/// Proposes `action` and routes it. `facts` are the moment's numbers the rules weigh
/// (projected overspend, cost impact).
pub fn propose(
    c: &mut DbConn,
    rules: &SafetyRules,
    policy: &Policy,
    proposer: Proposer,
    action: &NewAction,
    facts: &Context,
    now: DateTime<Utc>,
) -> Result<Proposed, CommandError> {
    let tags = crate::ledger::query::resource_tags(c, &action.target)?;
    let target = target(action.provider.as_deref(), action.account.as_deref(), &action.target, tags);
    let mut facts = facts.clone();
    if let Some(anomaly) = &action.anomaly_id {
        if let Some(a) = crate::detect::store::get(c, anomaly)? {
            facts.budget = crate::budgets::outlook(c, &a.series_key, now)?;
        }
    }
    // A person is held to neither of the optimizer's budget rules.
    let optimizer_only = ["below_budget_floor", "budget_not_forecast_over"];
    let blocked: Vec<String> = safety::check(rules, &target, &facts, Stage::Routing)
        .into_iter()
        .filter(|b| proposer == Proposer::Optimizer || !optimizer_only.contains(&b.rule))
        .map(|b| b.to_string())
        .collect();
    if let (Proposer::Optimizer, Some(anomaly)) = (&proposer, &action.anomaly_id) {
        let prior = store::latest_for_target(c, anomaly, action.kind, &action.target)?;
        if !may_propose_again(prior, !blocked.is_empty()) {
            // A proposal still waiting for its approver follows the anomaly's numbers.
            let estimate = action.estimated_saving_per_hour;
            store::revise_estimate(c, anomaly, action.kind, &action.target, estimate, &action.proposed_by, now)?;
            return Ok(Proposed::AlreadyThere);
        }
    }
    let Some(created) = store::create(c, action, now)? else { return Ok(Proposed::AlreadyThere) };
    let (row, _) = store::apply(c, &created.id, &Command::Route { blocked }, "policy", None, policy, now)?;
    Ok(Proposed::Routed(Box::new(row)))
}
