//! The safety policy: what may be proposed and what may run, checked when a proposal is
//! routed and again just before an executor acts. Each block names its rule, so the API and
//! the audit log can say exactly why.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `[safety]` in config.toml.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SafetyRules {
    /// Propose only when the anomaly's projected overspend per day reaches this.
    pub min_projected_daily_overspend: f64,
    /// Executions allowed per rolling hour and day, across all actions.
    pub max_actions_per_hour: u32,
    pub max_actions_per_day: u32,
    /// The most an action may affect, as the target's cost per hour.
    pub max_cost_impact_per_hour: f64,
    /// A resource carrying any of these tags (key=value) is never touched.
    pub protect_tags: Vec<String>,
    /// When non-empty, only these accounts / projects / subscriptions may be acted on.
    pub allow_accounts: Vec<String>,
    pub deny_accounts: Vec<String>,
    pub deny_resources: Vec<String>,
    /// When non-empty, only binaries built from these git SHAs may execute.
    pub allowed_build_shas: Vec<String>,
    /// The optimizer proposes only for an anomaly whose spend a budget covers and whose
    /// budget is forecast over its amount this period.
    pub propose_only_over_budget: bool,
}

impl Default for SafetyRules {
    fn default() -> Self {
        SafetyRules {
            min_projected_daily_overspend: 100.0,
            max_actions_per_hour: 5,
            max_actions_per_day: 20,
            max_cost_impact_per_hour: 5_000.0,
            protect_tags: vec!["costguard:protect=true".into()],
            allow_accounts: Vec::new(),
            deny_accounts: Vec::new(),
            deny_resources: Vec::new(),
            allowed_build_shas: Vec::new(),
            propose_only_over_budget: false,
        }
    }
}

/// What an action would touch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Target {
    pub provider: String,
    pub account: String,
    pub resource_id: String,
    pub tags: BTreeMap<String, String>,
}

/// The facts of the moment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Context {
    pub projected_daily_overspend: f64,
    pub cost_impact_per_hour: f64,
    /// Actions that started executing in the last hour and day.
    pub executed_last_hour: u32,
    pub executed_last_day: u32,
    /// The running binary's git SHA.
    pub build_sha: String,
    /// What the budgets covering the anomaly's spend forecast.
    pub budget: BudgetOutlook,
}

/// The budgets covering an anomaly's spend, as of their last evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum BudgetOutlook {
    /// No budget covers it.
    #[default]
    None,
    /// Covered, and every covering budget is forecast within its amount.
    Within { budget: String },
    /// This covering budget is forecast over its amount this period.
    ForecastOver { budget: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Routing,
    Execution,
}

/// One rule that said no.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Block {
    pub rule: &'static str,
    pub reason: String,
}

impl std::fmt::Display for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.rule, self.reason)
    }
}

/// Every rule that blocks `target` at `stage`; empty means go.
pub fn check(rules: &SafetyRules, target: &Target, ctx: &Context, stage: Stage) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut block = |rule: &'static str, reason: String| blocks.push(Block { rule, reason });
    for tag in &rules.protect_tags {
        let (key, value) = tag.split_once('=').unwrap_or((tag.as_str(), ""));
        if target.tags.get(key).is_some_and(|v| value.is_empty() || v.eq_ignore_ascii_case(value)) {
            block("protected_tag", format!("{} is tagged {tag}", target.resource_id));
        }
    }
    if !rules.allow_accounts.is_empty() && !rules.allow_accounts.contains(&target.account) {
        block("account_not_allowed", format!("account {} is not on the allow list", target.account));
    }
    if rules.deny_accounts.contains(&target.account) {
        block("account_denied", format!("account {} is on the deny list", target.account));
    }
    if rules.deny_resources.contains(&target.resource_id) {
        block("resource_denied", format!("{} is on the deny list", target.resource_id));
    }
    if ctx.cost_impact_per_hour > rules.max_cost_impact_per_hour {
        block(
            "cost_impact",
            format!(
                "it affects {:.2}/h, above the {:.2}/h cap",
                ctx.cost_impact_per_hour, rules.max_cost_impact_per_hour
            ),
        );
    }
    match stage {
        Stage::Routing => {
            // Spend that takes a budget over is worth stopping even when it is small.
            let over = match &ctx.budget {
                BudgetOutlook::ForecastOver { budget } => Some(budget),
                _ => None,
            };
            if rules.propose_only_over_budget && over.is_none() {
                let reason = match &ctx.budget {
                    BudgetOutlook::Within { budget } => format!("budget {budget} is forecast within its amount"),
                    _ => "no budget covers this spend".to_string(),
                };
                block("budget_not_forecast_over", reason);
            }
            if over.is_none() && ctx.projected_daily_overspend < rules.min_projected_daily_overspend {
                block(
                    "below_budget_floor",
                    format!(
                        "projected overspend {:.2}/day is below the {:.2}/day floor",
                        ctx.projected_daily_overspend, rules.min_projected_daily_overspend
                    ),
                );
            }
        }
        Stage::Execution => {
            if ctx.executed_last_hour >= rules.max_actions_per_hour {
                block("hourly_limit", format!("{} actions already ran this hour", ctx.executed_last_hour));
            }
            if ctx.executed_last_day >= rules.max_actions_per_day {
                block("daily_limit", format!("{} actions already ran today", ctx.executed_last_day));
            }
            if !rules.allowed_build_shas.is_empty() && !rules.allowed_build_shas.contains(&ctx.build_sha) {
                block(
                    "build_not_allowed",
                    format!("this binary (git {}) is not on the build allow list", ctx.build_sha),
                );
            }
        }
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            provider: "Google Cloud".into(),
            account: "analytics-prod".into(),
            resource_id: "bquxjob_1".into(),
            tags: BTreeMap::from([("team".to_string(), "data".to_string())]),
        }
    }

    fn ctx() -> Context {
        Context {
            projected_daily_overspend: 12_000.0,
            cost_impact_per_hour: 500.0,
            executed_last_hour: 0,
            executed_last_day: 0,
            build_sha: "abc123".into(),
            budget: BudgetOutlook::None,
        }
    }

    #[test]
    fn a_budget_forecast_over_waives_the_floor_and_can_be_required() {
        let small = Context { projected_daily_overspend: 10.0, ..ctx() };
        let over = Context { budget: BudgetOutlook::ForecastOver { budget: "data".into() }, ..small.clone() };
        let within = Context { budget: BudgetOutlook::Within { budget: "data".into() }, ..ctx() };
        let rules = SafetyRules::default();
        assert_eq!(rules_blocking(&rules, &target(), &small, Stage::Routing), ["below_budget_floor"]);
        assert!(rules_blocking(&rules, &target(), &over, Stage::Routing).is_empty());
        let strict = SafetyRules { propose_only_over_budget: true, ..SafetyRules::default() };
        assert_eq!(rules_blocking(&strict, &target(), &within, Stage::Routing), ["budget_not_forecast_over"]);
        assert_eq!(rules_blocking(&strict, &target(), &ctx(), Stage::Routing), ["budget_not_forecast_over"]);
        assert!(rules_blocking(&strict, &target(), &over, Stage::Routing).is_empty());
        assert!(rules_blocking(&strict, &target(), &within, Stage::Execution).is_empty(), "routing only");
    }

    fn rules_blocking(rules: &SafetyRules, target: &Target, ctx: &Context, stage: Stage) -> Vec<&'static str> {
        check(rules, target, ctx, stage).into_iter().map(|b| b.rule).collect()
    }

    #[test]
    fn a_clean_action_passes_both_stages() {
        let rules = SafetyRules::default();
        assert!(check(&rules, &target(), &ctx(), Stage::Routing).is_empty());
        assert!(check(&rules, &target(), &ctx(), Stage::Execution).is_empty());
    }

    #[test]
    fn each_rule_blocks_what_it_should_and_only_that() {
        let base = SafetyRules::default();
        type Case = (&'static str, fn(&mut SafetyRules, &mut Target, &mut Context), Stage, Vec<&'static str>);
        let cases: Vec<Case> = vec![
            (
                "protect tag",
                |_, t, _| {
                    t.tags.insert("costguard:protect".into(), "TRUE".into());
                },
                Stage::Routing,
                vec!["protected_tag"],
            ),
            (
                "other tag value",
                |_, t, _| {
                    t.tags.insert("costguard:protect".into(), "false".into());
                },
                Stage::Routing,
                vec![],
            ),
            (
                "key-only protect tag",
                |r, t, _| {
                    r.protect_tags = vec!["do-not-touch".into()];
                    t.tags.insert("do-not-touch".into(), "anything".into());
                },
                Stage::Execution,
                vec!["protected_tag"],
            ),
            (
                "allow list misses",
                |r, _, _| r.allow_accounts = vec!["sandbox".into()],
                Stage::Routing,
                vec!["account_not_allowed"],
            ),
            ("allow list holds", |r, _, _| r.allow_accounts = vec!["analytics-prod".into()], Stage::Routing, vec![]),
            (
                "deny account",
                |r, _, _| r.deny_accounts = vec!["analytics-prod".into()],
                Stage::Execution,
                vec!["account_denied"],
            ),
            (
                "deny resource",
                |r, _, _| r.deny_resources = vec!["bquxjob_1".into()],
                Stage::Routing,
                vec!["resource_denied"],
            ),
            ("cost impact cap", |_, _, c| c.cost_impact_per_hour = 6_000.0, Stage::Execution, vec!["cost_impact"]),
            (
                "budget floor at routing",
                |_, _, c| c.projected_daily_overspend = 50.0,
                Stage::Routing,
                vec!["below_budget_floor"],
            ),
            (
                "budget floor not re-checked at execution",
                |_, _, c| c.projected_daily_overspend = 50.0,
                Stage::Execution,
                vec![],
            ),
            ("hourly limit", |_, _, c| c.executed_last_hour = 5, Stage::Execution, vec!["hourly_limit"]),
            ("under the hourly limit", |_, _, c| c.executed_last_hour = 4, Stage::Execution, vec![]),
            ("daily limit", |_, _, c| c.executed_last_day = 20, Stage::Execution, vec!["daily_limit"]),
            ("limits do not stop proposals", |_, _, c| c.executed_last_day = 20, Stage::Routing, vec![]),
            (
                "build not allowed",
                |r, _, _| r.allowed_build_shas = vec!["def456".into()],
                Stage::Execution,
                vec!["build_not_allowed"],
            ),
            ("build allowed", |r, _, _| r.allowed_build_shas = vec!["abc123".into()], Stage::Execution, vec![]),
            (
                "several at once",
                |r, t, c| {
                    r.deny_resources = vec!["bquxjob_1".into()];
                    t.tags.insert("costguard:protect".into(), "true".into());
                    c.executed_last_hour = 9;
                },
                Stage::Execution,
                vec!["protected_tag", "resource_denied", "hourly_limit"],
            ),
        ];
        for (name, adjust, stage, want) in cases {
            let (mut r, mut t, mut c) = (base.clone(), target(), ctx());
            adjust(&mut r, &mut t, &mut c);
            assert_eq!(rules_blocking(&r, &t, &c, stage), want, "{name}");
        }
    }

    #[test]
    fn blocks_explain_themselves() {
        let mut c = ctx();
        c.executed_last_day = 20;
        let blocks = check(&SafetyRules::default(), &target(), &c, Stage::Execution);
        assert_eq!(blocks[0].to_string(), "daily_limit: 20 actions already ran today");
    }
}
