//! The optimizer end to end: a live BigQuery loop becomes an open anomaly, the anomaly a
//! routed proposal to cancel exactly that job, and the proposal is withdrawn when the
//! anomaly resolves before anyone approves it.

use crate::helpers::TestApp;
use chrono::{DateTime, Duration, TimeZone, Utc};
use costguard::approval::store;
use costguard::approval::ApprovalSettings;
use costguard::config::SimulatedSettings;
use costguard::db::DbError;
use costguard::domain::approval::safety::SafetyRules;
use costguard::domain::optimizer::default_rules;
use costguard::ingest::Ingestor;
use costguard::optimize::Optimizer;
use costguard::providers::simulated::generate;
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

/// Every action proposed for an anomaly, from the database (the app's own optimizer works on
/// the same anomalies as the test's, so the database is what both agree on).
async fn actions_of(app: &TestApp, anomaly: &str) -> Vec<store::ActionRow> {
    let anomaly = costguard::domain::ids::AnomalyId::new(anomaly);
    app.db.run(move |c| store::list(c, None, Some(&anomaly), 100).map_err(DbError::from)).await.unwrap()
}

/// Approvals that wait two days: the story jumps the clock 20 hours, and the proposal must be
/// withdrawn because its anomaly resolved, not expire first.
fn patient_approvals() -> ApprovalSettings {
    ApprovalSettings { approval_ttl_minutes: 48 * 60, ..ApprovalSettings::default() }
}

fn with_patient_approvals(settings: &mut costguard::config::Settings) {
    settings.approval = patient_approvals();
}

async fn a_live_loop_gets_one_proposal_which_is_withdrawn_when_it_resolves_first(app: TestApp) {
    let optimizer = Optimizer::new(app.db.clone(), default_rules(), SafetyRules::default(), patient_approvals())
        .with_clock(app.clock.clone());
    app.clock.set(epoch() + Duration::hours(4));
    write(&app, epoch() - Duration::days(30), epoch() + Duration::hours(4), &HashMap::new()).await;
    app.detect_at(epoch() + Duration::hours(4)).await;
    optimizer.reconcile().await.unwrap();
    let actions = app.db.run(|c| store::list(c, None, None, 100).map_err(DbError::from)).await.unwrap();
    let cancel: Vec<_> = actions.iter().filter(|a| a.kind.as_str() == "cancel_bigquery_job").collect();
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
    let anomaly = cancel[0].anomaly_id.clone().unwrap();
    let proposed = actions_of(&app, &anomaly).await;

    // Someone stops the job outside CostGuard; the anomaly resolves, the proposal is withdrawn.
    let stops = HashMap::from([(LIVE_JOB.to_string(), epoch() + Duration::hours(5))]);
    app.clock.set(epoch() + Duration::hours(24));
    write(&app, epoch(), epoch() + Duration::hours(24), &stops).await;
    app.detect_at(epoch() + Duration::hours(24)).await;
    optimizer.reconcile().await.unwrap();
    let after = actions_of(&app, &anomaly).await;
    assert_eq!(after.len(), proposed.len(), "nothing new proposed for a resolved anomaly: {after:?}");
    for action in &after {
        assert_eq!(action.status.as_str(), "withdrawn", "{action:?}");
        assert_eq!(action.reason.as_deref(), Some("its anomaly resolved first"));
    }
    let chain = app.db.run(|c| costguard::audit::verify(c).map_err(DbError::from)).await.unwrap();
    assert!(chain.is_ok_and(|n| n >= 3));
}

crate::both_backends_with!(super::with_patient_approvals => a_live_loop_gets_one_proposal_which_is_withdrawn_when_it_resolves_first);
