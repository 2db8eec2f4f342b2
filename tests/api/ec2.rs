//! The EC2 executor against moto (through a front that enforces AWS's "stopped before a type
//! change" rule and records the calls): stop, resize in the right order, a protected instance
//! refused on its live tags, EC2's DryRun changing nothing, and a resize interrupted between
//! steps resuming to the right end state without repeating a step.

use crate::helpers::Bare;
use crate::peers::aws::Aws;
use chrono::Utc;
use costguard::approval::store::{self, NewAction};
use costguard::approval::ApprovalSettings;
use costguard::db::DbError;
use costguard::domain::approval::safety::SafetyRules;
use costguard::domain::approval::{Command, Risk};
use costguard::domain::ids::ActionId;
use costguard::execute::Runner;
use costguard::providers::aws::ec2::Ec2Executor;
use std::sync::Arc;

pub fn live() -> ApprovalSettings {
    ApprovalSettings { mode: "live".into(), ..ApprovalSettings::default() }
}

pub async fn launch(aws: &Aws, instance_type: &str, tags: &[(&str, &str)]) -> String {
    use aws_sdk_ec2::types::{InstanceType, ResourceType, Tag, TagSpecification};
    let ec2 = aws_sdk_ec2::Client::new(&aws.sdk_config().await);
    let name = Tag::builder().key("Name").value("worker").build();
    let mut spec = TagSpecification::builder().resource_type(ResourceType::Instance).tags(name);
    for (k, v) in tags {
        spec = spec.tags(Tag::builder().key(*k).value(*v).build());
    }
    let out = ec2
        .run_instances()
        .image_id("ami-12c6146b")
        .instance_type(InstanceType::from(instance_type))
        .min_count(1)
        .max_count(1)
        .tag_specifications(spec.build())
        .send()
        .await
        .unwrap();
    out.instances()[0].instance_id().unwrap().to_string()
}

/// (state, type) as EC2 reports it.
pub async fn instance(aws: &Aws, id: &str) -> (String, String) {
    let ec2 = aws_sdk_ec2::Client::new(&aws.sdk_config().await);
    let out = ec2.describe_instances().instance_ids(id).send().await.unwrap();
    let i = &out.reservations()[0].instances()[0];
    (i.state().unwrap().name().unwrap().as_str().to_string(), i.instance_type().unwrap().as_str().to_string())
}

/// (provider, account) of a target, as the optimizer would fill them in.
fn owner(kind: &str, target: &str) -> (&'static str, String) {
    match kind {
        "cancel_bigquery_job" => ("Google Cloud", target.split(':').next().unwrap().into()),
        "deallocate_azure_vm" => ("Microsoft", target.split('/').nth(2).unwrap().into()),
        // Anthropic key ids start apikey_, OpenAI project key ids key_.
        "disable_llm_key" | "enable_llm_key" if target.starts_with("apikey_") => ("anthropic", "default".into()),
        "disable_llm_key" | "enable_llm_key" => ("openai", "proj_etl".into()),
        _ => ("AWS", "123456789012".into()),
    }
}

/// Marks the action `executing`, as an executor does just before it calls the cloud (the
/// crash tests then act on the peer themselves and "die").
pub async fn started(app: &Bare, action: &ActionId, provider: &str) {
    let policy = live().policy_for(false, Some(provider));
    let id = action.clone();
    app.db
        .run(move |c| {
            store::apply(c, &id, &Command::Start { blocked: vec![] }, "executor", None, &policy, Utc::now()).unwrap();
            Ok::<_, DbError>(())
        })
        .await
        .unwrap();
}

/// An action routed and approved by one approver, ready for the executor.
pub async fn approved(app: &Bare, kind: &str, target: &str, params: &str, settings: &ApprovalSettings) -> ActionId {
    let (provider, account) = owner(kind, target);
    let new = NewAction {
        anomaly_id: None,
        kind: costguard::domain::optimizer::ActionKind::parse(kind).expect("a known action kind"),
        target: target.into(),
        provider: Some(provider.into()),
        account: Some(account),
        params: params.into(),
        risk: Risk::Low,
        estimated_saving_per_hour: 2_000_000_000_000,
        proposed_by: "optimizer".into(),
    };
    let policy = settings.policy_for(false, Some(provider));
    app.db
        .run(move |c| {
            let a = store::create(c, &new, Utc::now())?.unwrap();
            store::apply(c, &a.id, &Command::Route { blocked: vec![] }, "policy", None, &policy, Utc::now()).unwrap();
            store::apply(c, &a.id, &Command::Approve { by: "bob".into() }, "bob", None, &policy, Utc::now()).unwrap();
            Ok::<_, DbError>(a.id)
        })
        .await
        .unwrap()
}

async fn runner(app: &Bare, aws: &Aws, approval: ApprovalSettings) -> Runner {
    let vault = app.vault("aws", &[("access_key_id", "testing"), ("secret_access_key", "testing")]).await;
    let executor = Ec2Executor::new(aws.settings(), vault).with_poll(std::time::Duration::from_millis(20));
    let rules = SafetyRules { protect_tags: vec!["costguard:protect=true".into()], ..SafetyRules::default() };
    Runner::new(app.db.clone(), vec![Arc::new(executor)], rules, approval)
}

/// The EC2 calls that change something, in order.
fn changes(aws: &Aws) -> Vec<String> {
    let acting = ["StopInstances", "StartInstances", "ModifyInstanceAttribute"];
    aws.calls().into_iter().filter(|c| acting.contains(&c.as_str())).collect()
}

async fn a_stop_runs_and_is_verified(app: Bare) {
    let Some(aws) = Aws::start().await else { return };
    let id = launch(&aws, "m5.4xlarge", &[("team", "data")]).await;
    let action = approved(&app, "stop_ec2_instance", &id, "{}", &live()).await;
    assert_eq!(runner(&app, &aws, live()).await.process(&action).await.unwrap().as_str(), "succeeded");
    assert_eq!(instance(&aws, &id).await.0, "stopped");
    assert_eq!(changes(&aws), ["StopInstances"]);
}

async fn a_resize_stops_changes_the_type_and_starts_in_that_order(app: Bare) {
    let Some(aws) = Aws::start().await else { return };
    let id = launch(&aws, "m5.4xlarge", &[]).await;
    let params = r#"{"instance_type":"t3.small"}"#;
    let action = approved(&app, "resize_ec2_instance", &id, params, &live()).await;
    assert_eq!(runner(&app, &aws, live()).await.process(&action).await.unwrap().as_str(), "succeeded");
    assert_eq!(instance(&aws, &id).await, ("running".into(), "t3.small".into()));
    assert_eq!(changes(&aws), ["StopInstances", "ModifyInstanceAttribute", "StartInstances"]);
}

async fn a_protected_instance_is_refused_on_its_live_tags(app: Bare) {
    let Some(aws) = Aws::start().await else { return };
    // The ledger knows nothing of this tag: only EC2 does.
    let id = launch(&aws, "m5.large", &[("costguard:protect", "true")]).await;
    let action = approved(&app, "stop_ec2_instance", &id, "{}", &live()).await;
    assert_eq!(runner(&app, &aws, live()).await.process(&action).await.unwrap().as_str(), "rejected");
    assert_eq!(instance(&aws, &id).await.0, "running");
    assert!(changes(&aws).is_empty());
    let row = app.db.run(move |c| store::get(c, &action).map_err(DbError::from)).await.unwrap().unwrap();
    assert!(row.reason.unwrap().contains("protected_tag"));
}

async fn a_dry_run_asks_ec2_and_changes_nothing(app: Bare) {
    let Some(aws) = Aws::start().await else { return };
    let id = launch(&aws, "m5.large", &[]).await;
    let dry = ApprovalSettings::default();
    let action = approved(&app, "stop_ec2_instance", &id, "{}", &dry).await;
    assert_eq!(runner(&app, &aws, dry).await.process(&action).await.unwrap().as_str(), "dry_run");
    assert_eq!(instance(&aws, &id).await.0, "running");
    assert_eq!(changes(&aws), ["StopInstances"], "one StopInstances call, with DryRun");
    let entries = app.db.run(|c| costguard::audit::page(c, 0, 100).map_err(DbError::from)).await.unwrap();
    let rehearsal = entries.iter().find(|e| e.record.action == "executor.dry_run").unwrap();
    assert_eq!(rehearsal.record.result, "ok");
    assert!(rehearsal.record.detail.as_deref().unwrap().contains("would succeed"));
}

async fn a_resize_interrupted_after_the_stop_resumes_without_stopping_again(app: Bare) {
    let Some(aws) = Aws::start().await else { return };
    let id = launch(&aws, "m5.4xlarge", &[]).await;
    let params = r#"{"instance_type":"t3.small"}"#;
    let action = approved(&app, "resize_ec2_instance", &id, params, &live()).await;
    // The crash: the executor started and stopped the instance, then died.
    started(&app, &action, "AWS").await;
    let ec2 = aws_sdk_ec2::Client::new(&aws.sdk_config().await);
    ec2.stop_instances().instance_ids(&id).send().await.unwrap();
    let runner = runner(&app, &aws, live()).await;
    assert_eq!(runner.pending().await.unwrap(), vec![action.clone()]);
    assert_eq!(runner.process(&action).await.unwrap().as_str(), "succeeded");
    assert_eq!(instance(&aws, &id).await, ("running".into(), "t3.small".into()));
    assert_eq!(
        changes(&aws),
        ["StopInstances", "ModifyInstanceAttribute", "StartInstances"],
        "the stop before the crash, then only the remaining steps"
    );
}

crate::on_both_bare!(
    a_stop_runs_and_is_verified,
    a_resize_stops_changes_the_type_and_starts_in_that_order,
    a_protected_instance_is_refused_on_its_live_tags,
    a_dry_run_asks_ec2_and_changes_nothing,
    a_resize_interrupted_after_the_stop_resumes_without_stopping_again,
);
