//! Azure against the fake ARM server: Cost Management backfill and incremental runs with
//! nextLink paging hold exactly what ARM holds, restated days update in place, 429 with
//! Retry-After and 5xx end in the same data; the VM executor deallocates and verifies,
//! refuses a protected VM on its live tags, changes nothing in a dry run, and finishes an
//! action a crash left executing.

use crate::ec2::{approved, live};
use crate::helpers::Bare;
use crate::peers::arm::{Arm, Usage};
use chrono::{Duration, DurationRound, Utc};
use costguard::approval::ApprovalSettings;
use costguard::db::DbError;
use costguard::domain::approval::safety::SafetyRules;
use costguard::domain::money::Amount;
use costguard::execute::Runner;
use costguard::ingest::runner::run_once;
use costguard::providers::azure::cost_management::AzureCostManagement;
use costguard::providers::azure::vm::AzureVmExecutor;
use std::sync::Arc;

pub const VM: &str =
    "/subscriptions/sub-1/resourceGroups/batch-rg/providers/Microsoft.Compute/virtualMachines/render-07";

fn usage(days: i64, version: i64) -> Vec<Usage> {
    let today = Utc::now().duration_trunc(Duration::days(1)).unwrap();
    let resources = [
        ("Virtual Machines", VM),
        ("Storage", "/subscriptions/sub-1/resourceGroups/data-rg/providers/Microsoft.Storage/storageAccounts/lake"),
        (
            "Azure Cosmos DB",
            "/subscriptions/sub-1/resourceGroups/app-rg/providers/Microsoft.DocumentDB/databaseAccounts/orders",
        ),
    ];
    let mut rows = Vec::new();
    for d in 0..days {
        for (r, (service, id)) in resources.iter().enumerate() {
            let units = (40 + r as i64 * 13) * 100_000_000_000 + d * 12_345_678_901 * version + 7;
            rows.push(Usage {
                date: today - Duration::days(d),
                service: service.to_string(),
                resource_id: id.to_string(),
                cost: format!("{}.{:011}", units / 100_000_000_000, units % 100_000_000_000),
            });
        }
    }
    rows
}

fn total(rows: &[Usage]) -> i128 {
    rows.iter().map(|u| i128::from(Amount::parse(&u.cost).unwrap().units())).sum()
}

async fn source(app: &Bare, arm: &Arm) -> AzureCostManagement {
    AzureCostManagement::new(arm.settings(), app.vault("azure", &Arm::credentials()).await)
}

async fn backfill_then_incremental_hold_what_cost_management_holds(app: Bare) {
    let arm = Arm::start();
    arm.set_page_size(7);
    let first = usage(9, 1);
    arm.set_usage(first.clone());
    let source = source(&app, &arm).await;
    let said = costguard::ingest::sources::CostSource::test_connection(&source).await.unwrap();
    assert!(said.contains("1 scope(s)"), "{said}");
    assert_eq!(app.ledger("Microsoft").await.0, 0, "testing the connection writes nothing");
    run_once(&app.ingestor(), &source).await.unwrap();
    assert_eq!(app.ledger("Microsoft").await, (27, total(&first)));
    let queries = arm.calls().iter().filter(|c| c.ends_with("/query")).count();
    assert_eq!(queries, 1 + 4, "the connection test, then 27 rows at 7 a page: the first page and three nextLinks");

    // Cost Management restates the last two days and adds nothing new.
    let restated: Vec<Usage> =
        usage(9, 1).into_iter().filter(|u| u.date < Utc::now() - Duration::days(2)).chain(usage(2, 3)).collect();
    arm.set_usage(restated.clone());
    let summary = run_once(&app.ingestor(), &source).await.unwrap();
    assert_eq!(summary.inserted, 0);
    assert_eq!(app.ledger("Microsoft").await, (27, total(&restated)), "updated in place, nothing duplicated");
    let tags = app
        .db
        .run(|c| costguard::ledger::query::resource_tags(c, &VM.to_lowercase()).map_err(DbError::from))
        .await
        .unwrap();
    assert_eq!(tags.get("resource_group").map(String::as_str), Some("batch-rg"));
}

async fn throttling_and_5xx_end_in_the_same_data(app: Bare) {
    let arm = Arm::start();
    arm.set_page_size(10);
    let rows = usage(9, 1);
    arm.set_usage(rows.clone());
    // Calls: the token, then pages; the second page is throttled, then meets a 503.
    arm.fail_call(2, Arm::throttled());
    arm.fail_call(4, Arm::server_error());
    run_once(&app.ingestor(), &source(&app, &arm).await).await.unwrap();
    assert_eq!(app.ledger("Microsoft").await, (27, total(&rows)));
}

async fn a_next_link_to_another_host_gets_no_token_and_stores_nothing(app: Bare) {
    let arm = Arm::start();
    arm.set_page_size(7);
    arm.set_usage(usage(9, 1));
    arm.hand_out_foreign_links();
    let error = run_once(&app.ingestor(), &source(&app, &arm).await).await.unwrap_err();
    assert!(error.to_string().contains("attacker.example"), "{error}");
    assert_eq!(app.ledger("Microsoft").await, (0, 0), "all or nothing");
}

async fn runner(app: &Bare, arm: &Arm, approval: ApprovalSettings) -> Runner {
    let executor = AzureVmExecutor::new(arm.settings(), app.vault("azure", &Arm::credentials()).await);
    let rules = SafetyRules { protect_tags: vec!["costguard:protect=true".into()], ..SafetyRules::default() };
    Runner::new(app.db.clone(), vec![Arc::new(executor)], rules, approval)
}

fn deallocations(arm: &Arm) -> usize {
    arm.calls().iter().filter(|c| c.starts_with("POST") && c.ends_with("/deallocate")).count()
}

async fn a_vm_is_deallocated_and_verified(app: Bare) {
    let arm = Arm::start();
    arm.add_vm(VM, &[("team", "render")]);
    let action = approved(&app, "deallocate_azure_vm", VM, "{}", &live()).await;
    assert_eq!(runner(&app, &arm, live()).await.process(&action).await.unwrap().as_str(), "succeeded");
    assert_eq!(arm.power(VM), "deallocated");
    assert_eq!(deallocations(&arm), 1);
}

async fn a_protected_vm_is_refused_and_a_dry_run_changes_nothing(app: Bare) {
    let arm = Arm::start();
    arm.add_vm(VM, &[("costguard:protect", "true")]);
    let action = approved(&app, "deallocate_azure_vm", VM, "{}", &live()).await;
    assert_eq!(runner(&app, &arm, live()).await.process(&action).await.unwrap().as_str(), "rejected");
    let other = "/subscriptions/sub-1/resourceGroups/batch-rg/providers/Microsoft.Compute/virtualMachines/render-08";
    arm.add_vm(other, &[]);
    let dry = ApprovalSettings::default();
    let action = approved(&app, "deallocate_azure_vm", other, "{}", &dry).await;
    assert_eq!(runner(&app, &arm, dry).await.process(&action).await.unwrap().as_str(), "dry_run");
    assert_eq!((arm.power(VM), arm.power(other)), ("running".into(), "running".into()));
    assert_eq!(deallocations(&arm), 0);
}

async fn an_action_left_executing_finishes_after_a_crash(app: Bare) {
    let arm = Arm::start();
    arm.add_vm(VM, &[]);
    let action = approved(&app, "deallocate_azure_vm", VM, "{}", &live()).await;
    crate::ec2::started(&app, &action, "Microsoft").await;
    let runner = runner(&app, &arm, live()).await;
    assert_eq!(runner.pending().await.unwrap(), vec![action.clone()]);
    assert_eq!(runner.process(&action).await.unwrap().as_str(), "succeeded");
    assert_eq!(arm.power(VM), "deallocated");
}

crate::on_both_bare!(
    backfill_then_incremental_hold_what_cost_management_holds,
    throttling_and_5xx_end_in_the_same_data,
    a_next_link_to_another_host_gets_no_token_and_stores_nothing,
    a_vm_is_deallocated_and_verified,
    a_protected_vm_is_refused_and_a_dry_run_changes_nothing,
    an_action_left_executing_finishes_after_a_crash,
);
