//! The optimizer's rule table: from an anomaly and its root causes to proposed actions.
//! Pure; the approval module turns proposals into actions (one per anomaly and target).

use crate::domain::approval::Risk;
use crate::domain::detect::root_cause::Contributor;
use crate::domain::detect::series::SeriesId;
use serde::{Deserialize, Serialize};

/// What an executor can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    CancelBigqueryJob,
    StopEc2Instance,
    /// The undo of a stop.
    StartEc2Instance,
    ResizeEc2Instance,
    DeallocateAzureVm,
    DisableLlmKey,
    /// The undo of a disable (Anthropic; OpenAI keys cannot be re-enabled).
    EnableLlmKey,
    NotifyOnly,
}

/// The stored word (`as_str`).
impl std::fmt::Display for ActionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ActionKind {
    pub const ALL: [ActionKind; 8] = [
        ActionKind::CancelBigqueryJob,
        ActionKind::StopEc2Instance,
        ActionKind::StartEc2Instance,
        ActionKind::ResizeEc2Instance,
        ActionKind::DeallocateAzureVm,
        ActionKind::DisableLlmKey,
        ActionKind::EnableLlmKey,
        ActionKind::NotifyOnly,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::CancelBigqueryJob => "cancel_bigquery_job",
            ActionKind::StopEc2Instance => "stop_ec2_instance",
            ActionKind::StartEc2Instance => "start_ec2_instance",
            ActionKind::ResizeEc2Instance => "resize_ec2_instance",
            ActionKind::DeallocateAzureVm => "deallocate_azure_vm",
            ActionKind::DisableLlmKey => "disable_llm_key",
            ActionKind::EnableLlmKey => "enable_llm_key",
            ActionKind::NotifyOnly => "notify_only",
        }
    }

    /// For people: "cancel bigquery job".
    pub fn words(self) -> String {
        self.as_str().replace('_', " ")
    }

    pub fn parse(s: &str) -> Option<ActionKind> {
        ActionKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One row of `[[optimizer.rules]]`; the first matching rule wins. Absent fields match all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub provider: Option<String>,
    pub service: Option<String>,
    /// "service" or "llm": which series the rule applies to (default: any).
    pub series_kind: Option<String>,
    pub action: ActionKind,
    pub risk: Risk,
    /// The root-cause dimension whose values are the targets (e.g. "resource"); none: the
    /// series itself (an LLM key series targets its key).
    pub target_dimension: Option<String>,
    /// A contributor must carry at least this share of the excess to be a target.
    #[serde(default = "half")]
    pub min_share: f64,
    /// Extra parameters for the executor (e.g. a target instance type for a resize).
    #[serde(default)]
    pub params: std::collections::BTreeMap<String, String>,
}

fn half() -> f64 {
    0.5
}

/// The rules shipped in config.toml.
pub fn default_rules() -> Vec<Rule> {
    let rule = |provider: &str, service: &str, action, risk, dimension: Option<&str>| Rule {
        provider: Some(provider.into()),
        service: Some(service.into()),
        series_kind: Some("service".into()),
        action,
        risk,
        target_dimension: dimension.map(str::to_string),
        min_share: 0.5,
        params: Default::default(),
    };
    vec![
        rule("Google Cloud", "BigQuery", ActionKind::CancelBigqueryJob, Risk::Low, Some("resource")),
        rule("AWS", "Amazon Elastic Compute Cloud", ActionKind::StopEc2Instance, Risk::Medium, Some("resource")),
        rule("Microsoft", "Virtual Machines", ActionKind::DeallocateAzureVm, Risk::Medium, Some("resource")),
        Rule {
            provider: None,
            service: None,
            series_kind: Some("llm".into()),
            action: ActionKind::DisableLlmKey,
            risk: Risk::High,
            target_dimension: None,
            min_share: 0.0,
            params: Default::default(),
        },
    ]
}

/// The anomaly facts the rules look at.
#[derive(Debug, Clone, PartialEq)]
pub struct AnomalyFacts<'a> {
    pub series: &'a SeriesId,
    pub root_causes: &'a [Contributor],
    /// Excess per point (hour) of the whole anomaly so far, in currency units.
    pub excess_per_hour: f64,
}

/// A proposed remediation.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Proposal {
    pub kind: ActionKind,
    /// The resource, job or key to act on; empty for notify-only.
    pub target: String,
    pub risk: Risk,
    /// The share of the excess this target carries, times the excess per hour.
    pub estimated_saving_per_hour: f64,
    pub params: std::collections::BTreeMap<String, String>,
}

/// Proposals for one anomaly: one per target of the first matching rule, or a single
/// notify-only proposal when no rule (or no target) fits.
pub fn propose(rules: &[Rule], facts: &AnomalyFacts<'_>) -> Vec<Proposal> {
    let kind = facts.series.kind();
    let matches = |r: &&Rule| {
        let part = |want: &Option<String>, have: Option<&str>| want.as_deref().is_none_or(|w| Some(w) == have);
        part(&r.provider, facts.series.provider())
            && part(&r.service, facts.series.service())
            && r.series_kind.as_deref().is_none_or(|k| k == kind)
    };
    let notify = || {
        vec![Proposal {
            kind: ActionKind::NotifyOnly,
            target: String::new(),
            risk: Risk::Low,
            estimated_saving_per_hour: 0.0,
            params: Default::default(),
        }]
    };
    let Some(rule) = rules.iter().find(matches) else { return notify() };
    let proposals: Vec<Proposal> = match &rule.target_dimension {
        Some(dimension) => facts
            .root_causes
            .iter()
            .filter(|c| &c.dimension == dimension && c.share >= rule.min_share && c.value != "(none)")
            .map(|c| Proposal {
                kind: rule.action,
                target: c.value.clone(),
                risk: rule.risk,
                estimated_saving_per_hour: (c.share * facts.excess_per_hour).max(0.0),
                params: rule.params.clone(),
            })
            .collect(),
        None => match facts.series {
            SeriesId::Llm { api_key, .. } => vec![Proposal {
                kind: rule.action,
                target: api_key.clone(),
                risk: rule.risk,
                estimated_saving_per_hour: facts.excess_per_hour.max(0.0),
                params: rule.params.clone(),
            }],
            _ => Vec::new(),
        },
    };
    if proposals.is_empty() {
        notify()
    } else {
        proposals
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::Total;

    fn cause(dimension: &str, value: &str, share: f64) -> Contributor {
        Contributor { dimension: dimension.into(), value: value.into(), delta: Total::ZERO, share }
    }

    fn service(provider: &str, service: &str) -> SeriesId {
        SeriesId::Service { provider: provider.into(), sub_account: "a".into(), service: service.into() }
    }

    #[test]
    fn the_bigquery_loop_gets_a_job_cancel_for_the_job_behind_the_excess() {
        let s = service("Google Cloud", "BigQuery");
        let causes =
            [cause("sku", "Analysis", 1.0), cause("resource", "bquxjob_loop", 0.99), cause("resource", "(none)", 0.01)];
        let p = propose(&default_rules(), &AnomalyFacts { series: &s, root_causes: &causes, excess_per_hour: 500.0 });
        assert_eq!(p.len(), 1);
        assert_eq!(
            (p[0].kind, p[0].target.as_str(), p[0].risk),
            (ActionKind::CancelBigqueryJob, "bquxjob_loop", Risk::Low)
        );
        assert!((p[0].estimated_saving_per_hour - 495.0).abs() < 1e-9);
    }

    #[test]
    fn ec2_and_azure_and_llm_keys_get_their_actions() {
        let rules = default_rules();
        let ec2 = service("AWS", "Amazon Elastic Compute Cloud");
        let causes = [cause("resource", "i-0abc", 0.97)];
        let p = propose(&rules, &AnomalyFacts { series: &ec2, root_causes: &causes, excess_per_hour: 32.0 });
        assert_eq!((p[0].kind, p[0].risk), (ActionKind::StopEc2Instance, Risk::Medium));
        let vm = service("Microsoft", "Virtual Machines");
        let p = propose(&rules, &AnomalyFacts { series: &vm, root_causes: &causes, excess_per_hour: 4.0 });
        assert_eq!(p[0].kind, ActionKind::DeallocateAzureVm);
        let key = SeriesId::Llm { provider: "openai".into(), api_key: "key_support".into(), model: "gpt-4o".into() };
        let p = propose(&rules, &AnomalyFacts { series: &key, root_causes: &[], excess_per_hour: 20.0 });
        assert_eq!(
            (p[0].kind, p[0].target.as_str(), p[0].risk),
            (ActionKind::DisableLlmKey, "key_support", Risk::High)
        );
    }

    #[test]
    fn without_a_rule_or_a_clear_target_it_only_notifies() {
        let rules = default_rules();
        let s3 = service("AWS", "Amazon S3");
        let p = propose(
            &rules,
            &AnomalyFacts { series: &s3, root_causes: &[cause("resource", "bucket", 1.0)], excess_per_hour: 9.0 },
        );
        assert_eq!(p[0].kind, ActionKind::NotifyOnly);
        // Spread thin across many jobs: no single target carries half the excess.
        let bq = service("Google Cloud", "BigQuery");
        let thin = [cause("resource", "a", 0.3), cause("resource", "b", 0.3)];
        let p = propose(&rules, &AnomalyFacts { series: &bq, root_causes: &thin, excess_per_hour: 9.0 });
        assert_eq!(p[0].kind, ActionKind::NotifyOnly);
        let tag = SeriesId::Tag { key: "team".into(), value: "data".into() };
        assert_eq!(
            propose(&rules, &AnomalyFacts { series: &tag, root_causes: &thin, excess_per_hour: 1.0 })[0].kind,
            ActionKind::NotifyOnly
        );
    }

    #[test]
    fn user_rules_come_first_and_carry_parameters() {
        let mut rules = vec![Rule {
            provider: Some("AWS".into()),
            service: Some("Amazon Elastic Compute Cloud".into()),
            series_kind: None,
            action: ActionKind::ResizeEc2Instance,
            risk: Risk::High,
            target_dimension: Some("resource".into()),
            min_share: 0.5,
            params: [("instance_type".to_string(), "g5.xlarge".to_string())].into(),
        }];
        rules.extend(default_rules());
        let ec2 = service("AWS", "Amazon Elastic Compute Cloud");
        let p = propose(
            &rules,
            &AnomalyFacts { series: &ec2, root_causes: &[cause("resource", "i-1", 0.9)], excess_per_hour: 30.0 },
        );
        assert_eq!(p[0].kind, ActionKind::ResizeEc2Instance);
        assert_eq!(p[0].params.get("instance_type").map(String::as_str), Some("g5.xlarge"));
    }
}
