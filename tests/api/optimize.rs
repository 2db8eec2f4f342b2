//! The optimizer end to end: a live BigQuery loop becomes an open anomaly, the anomaly a
//! routed proposal to cancel exactly that job, and the proposal is withdrawn when the
//! anomaly resolves before anyone approves it.

use crate::both_backends;
use crate::helpers::TestApp;
use chrono::{DateTime, Duration, TimeZone, Utc};
use costguard::approval::store;
use costguard::approval::ApprovalSettings;
use costguard::config::SimulatedSettings;
use costguard::db::DbError;
use costguard::detect::series::Scope;
use costguard::detect::{DetectSettings, Detective};
use costguard::domain::approval::safety::SafetyRules;
use costguard::domain::optimizer::default_rules;
use costguard::ingest::providers::simulated::generate;
use costguard::ingest::Ingestor;
use costguard::optimize::Optimizer;
use std::collections::HashMap;

const LIVE_JOB: &str = "bquxjob_7d3e9b21_live_loop";

fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 4, 0, 0).unwrap()
}

async fn write(app: &TestApp, from: DateTime<Utc>, to: DateTime<Utc>, stops: &HashMap<String, DateTime<Utc>>) {
    let sim = SimulatedSettings { enabled: true, live_incident_delay_secs: 0, ..SimulatedSettings::default() };
    let (bus, _r) = costguard::bus::channels(10_000);
    let ingestor = Ingestor::new(app.db.clone(), bus);
    let mut at = from;
    while at < to {
        let next = (at + Duration::days(7)).min(to);
        ingestor.write("simulated", generate(&sim, epoch(), at, next, stops)).await.unwrap();
        at = next;
    }
}

async fn detect(app: &TestApp, now: DateTime<Utc>) {
    let (bus, _r) = costguard::bus::channels(10_000);
    Detective::new(app.db.clone(), DetectSettings::default(), bus).run(Scope::default(), now).await.unwrap();
}

async fn a_live_loop_gets_one_proposal_which_is_withdrawn_when_it_resolves_first(app: TestApp) {
    let optimizer =
        Optimizer::new(app.db.clone(), default_rules(), SafetyRules::default(), ApprovalSettings::default());
    write(&app, epoch() - Duration::days(30), epoch() + Duration::hours(4), &HashMap::new()).await;
    detect(&app, epoch() + Duration::hours(4)).await;
    let first = optimizer.reconcile().await.unwrap();
    assert!(first.proposed >= 1, "{first:?}");
    let actions = app.db.run(|c| store::list(c, None, None, 100).map_err(DbError::from)).await.unwrap();
    let cancel: Vec<_> = actions.iter().filter(|a| a.kind == "cancel_bigquery_job").collect();
    assert_eq!(cancel.len(), 1, "{actions:?}");
    assert_eq!((cancel[0].target.as_str(), cancel[0].status.as_str()), (LIVE_JOB, "pending_approval"));
    assert_eq!((cancel[0].risk.as_str(), cancel[0].proposed_by.as_str()), ("low", "optimizer"));
    assert!(
        cancel[0].estimated_saving_per_hour > 400 * 100_000_000_000,
        "about $487/h: {}",
        cancel[0].estimated_saving_per_hour
    );
    // Handling the same anomaly again proposes nothing new.
    assert_eq!(optimizer.reconcile().await.unwrap().proposed, 0);

    // Someone stops the job outside CostGuard; the anomaly resolves, the proposal is withdrawn.
    let stops = HashMap::from([(LIVE_JOB.to_string(), epoch() + Duration::hours(5))]);
    write(&app, epoch(), epoch() + Duration::hours(24), &stops).await;
    detect(&app, epoch() + Duration::hours(24)).await;
    let outcome = optimizer.reconcile().await.unwrap();
    // Everything proposed for the loop (the cancel, and a notify-only one for the team's series).
    assert_eq!(outcome.withdrawn, first.proposed, "{outcome:?}");
    let id = cancel[0].id.clone();
    let after = app.db.run(move |c| store::get(c, &id).map_err(DbError::from)).await.unwrap().unwrap();
    assert_eq!(after.status, "withdrawn");
    assert_eq!(after.reason.as_deref(), Some("its anomaly resolved first"));
    let chain = app.db.run(|c| costguard::audit::verify(c).map_err(DbError::from)).await.unwrap();
    assert!(chain.is_ok_and(|n| n >= 3));
}

both_backends!(a_live_loop_gets_one_proposal_which_is_withdrawn_when_it_resolves_first);
