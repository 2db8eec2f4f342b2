//! Executors on the simulated clouds: an approved cancel stops the live loop and is
//! verified; an action found `executing` after a crash is verified before anything is redone.

use chrono::Utc;
use costguard::approval::store::{self, NewAction};
use costguard::approval::ApprovalSettings;
use costguard::config::SimulatedSettings;
use costguard::db::DbError;
use costguard::domain::approval::safety::SafetyRules;
use costguard::domain::approval::{Command, Risk};
use costguard::domain::ids::ActionId;
use costguard::execute::Runner;
use costguard::providers::simulated::executor::SimulatedExecutor;
use costguard::providers::simulated::resources::CloudResources;
use costguard::providers::simulated::Simulator;
use std::sync::Arc;

const LIVE_JOB: &str = "bquxjob_7d3e9b21_live_loop";

use crate::helpers::Bare;

fn live() -> ApprovalSettings {
    ApprovalSettings::default()
}

async fn approved_cancel(app: &Bare) -> ActionId {
    approved(app, "cancel_bigquery_job", LIVE_JOB).await
}

async fn approved(app: &Bare, kind: &str, target: &str) -> ActionId {
    let new = NewAction {
        anomaly_id: None,
        kind: costguard::domain::optimizer::ActionKind::parse(kind).expect("a known action kind"),
        target: target.into(),
        provider: Some("Google Cloud".into()),
        account: Some("analytics-prod".into()),
        params: "{}".into(),
        risk: Risk::Low,
        estimated_saving_per_hour: 48_750_000_000_000,
        proposed_by: "optimizer".into(),
    };
    let policy = live().policy();
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

/// A runner over the simulated clouds only, with these rules and approval settings.
fn runner(app: &Bare, sim: &Arc<Simulator>, rules: SafetyRules, settings: ApprovalSettings) -> Runner {
    Runner::new(app.db.clone(), vec![Arc::new(SimulatedExecutor::new(sim.clone()))], rules, settings)
}

fn simulator(app: &Bare) -> Arc<Simulator> {
    let sim = SimulatedSettings { enabled: true, live_incident_delay_secs: 0, ..SimulatedSettings::default() };
    Arc::new(Simulator::new(sim, app.db.clone()))
}

async fn running(sim: &Simulator, id: &str) -> bool {
    sim.list(Utc::now()).await.unwrap().iter().any(|r| r.id == id && r.running)
}

async fn history(app: &Bare, id: &str) -> Vec<String> {
    let id = ActionId::new(id);
    let h = app.db.run(move |c| store::history(c, &id).map_err(DbError::from)).await.unwrap();
    h.into_iter().map(|t| t.command).collect()
}

async fn an_approved_cancel_stops_the_job_and_is_verified(app: Bare) {
    let sim = simulator(&app);
    assert!(running(&sim, LIVE_JOB).await, "the live loop runs before the action");
    let id = approved_cancel(&app).await;
    let runner = runner(&app, &sim, SafetyRules::default(), live());
    assert_eq!(runner.process(&id).await.unwrap().as_str(), "succeeded");
    assert!(!running(&sim, LIVE_JOB).await, "the job was cancelled");
    assert_eq!(history(&app, &id).await, ["route", "approve", "start", "executed", "verified"]);
    // Recovered: $487.50/h for the default 24-hour horizon.
    let id2 = id.clone();
    let row = app.db.run(move |c| store::get(c, &id2).map_err(DbError::from)).await.unwrap().unwrap();
    assert_eq!(row.recovered, Some(48_750_000_000_000 * 24));
    let total = app.db.run(|c| store::recovered_per_currency(c).map_err(DbError::from)).await.unwrap();
    let usd = store::Recovery { currency: "USD".into(), units: 48_750_000_000_000 * 24, actions: 1 };
    assert_eq!(total, [usd]);
    let chain = app.db.run(|c| costguard::audit::verify(c).map_err(DbError::from)).await.unwrap();
    assert_eq!(chain, Ok(7), "propose, route, approve, start, the call, executed, verified");
}

async fn dry_run_mode_changes_nothing(app: Bare) {
    let sim = simulator(&app);
    let id = approved_cancel(&app).await;
    let runner = runner(
        &app,
        &sim,
        SafetyRules::default(),
        ApprovalSettings { simulated_mode: "dry_run".into(), ..ApprovalSettings::default() },
    );
    assert_eq!(runner.process(&id).await.unwrap().as_str(), "dry_run");
    assert!(running(&sim, LIVE_JOB).await, "dry run: the job still runs");
}

async fn the_build_allow_list_and_rate_limits_stop_an_executor(app: Bare) {
    let sim = simulator(&app);
    let id = approved_cancel(&app).await;
    let rules = SafetyRules { allowed_build_shas: vec!["0000000".into()], ..SafetyRules::default() };
    let runner = runner(&app, &sim, rules, live());
    assert_eq!(runner.process(&id).await.unwrap().as_str(), "rejected");
    assert!(running(&sim, LIVE_JOB).await);
    let id2 = id.clone();
    let row = app.db.run(move |c| store::get(c, &id2).map_err(DbError::from)).await.unwrap().unwrap();
    assert!(row.reason.unwrap().contains("build_not_allowed"));
    let entries = app.db.run(|c| costguard::audit::page(c, 0, 100).map_err(DbError::from)).await.unwrap();
    assert!(
        entries.last().unwrap().record.detail.as_deref().unwrap().contains("build_not_allowed"),
        "the audit entry says so"
    );
}

async fn an_action_left_executing_is_verified_before_anything_is_redone(app: Bare) {
    let sim = simulator(&app);
    let id = approved_cancel(&app).await;
    // The crash: the executor started and stopped the job, but died before recording it.
    let policy = live().policy_for(true, None);
    let id2 = id.clone();
    app.db
        .run(move |c| {
            Ok::<_, DbError>(
                store::apply(c, &id2, &Command::Start { blocked: vec![] }, "executor", None, &policy, Utc::now())
                    .unwrap(),
            )
        })
        .await
        .unwrap();
    sim.stop(LIVE_JOB, "executor", Utc::now()).await.unwrap();
    let first_stop = stops(&app).await;
    assert_eq!(first_stop.len(), 1);
    let runner = runner(&app, &sim, SafetyRules::default(), live());
    assert_eq!(runner.pending().await.unwrap(), vec![id.clone()]);
    assert_eq!(runner.process(&id).await.unwrap().as_str(), "succeeded");
    assert_eq!(stops(&app).await, first_stop, "the stop was not repeated");
}

/// The simulated clouds' persisted stops: (resource, when).
async fn stops(app: &Bare) -> Vec<(String, chrono::NaiveDateTime)> {
    use costguard::db::schema::sim_resource_stops as s;
    use diesel::prelude::*;
    app.db.run(|c| s::table.select((s::resource_id, s::stopped_at)).load(c).map_err(DbError::from)).await.unwrap()
}

async fn a_protected_tag_in_the_ledger_stops_the_executor(app: Bare) {
    let sim = simulator(&app);
    // The job's ledger records carry team=data; protect that team.
    let settings = SimulatedSettings { enabled: true, live_incident_delay_secs: 0, ..SimulatedSettings::default() };
    let now = Utc::now();
    let (from, to) = (now - chrono::Duration::hours(2), now + chrono::Duration::hours(1));
    let batch = costguard::providers::simulated::generate(&settings, now, from, to, &Default::default());
    let (bus, _r) = costguard::bus::channels(16);
    costguard::ingest::Ingestor::new(app.db.clone(), bus).write("simulated", batch).await.unwrap();
    let id = approved_cancel(&app).await;
    let rules = SafetyRules { protect_tags: vec!["team=data".into()], ..SafetyRules::default() };
    let runner = runner(&app, &sim, rules, live());
    assert_eq!(runner.process(&id).await.unwrap().as_str(), "rejected");
    assert!(running(&sim, LIVE_JOB).await);
    let row = app.db.run(move |c| store::get(c, &id).map_err(DbError::from)).await.unwrap().unwrap();
    assert!(row.reason.unwrap().contains("protected_tag"));
}

async fn a_runaway_llm_key_is_disabled(app: Bare) {
    let sim = simulator(&app);
    let key = costguard::providers::simulated::catalog::RUNAWAY_KEY;
    assert!(running(&sim, key).await);
    let id = approved(&app, "disable_llm_key", key).await;
    let runner = runner(&app, &sim, SafetyRules::default(), live());
    assert_eq!(runner.process(&id).await.unwrap().as_str(), "succeeded");
    assert!(!running(&sim, key).await, "the key is disabled");
}

crate::on_both_bare!(
    a_runaway_llm_key_is_disabled,
    a_protected_tag_in_the_ledger_stops_the_executor,
    an_approved_cancel_stops_the_job_and_is_verified,
    dry_run_mode_changes_nothing,
    the_build_allow_list_and_rate_limits_stop_an_executor,
    an_action_left_executing_is_verified_before_anything_is_redone,
);
