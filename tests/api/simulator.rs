//! The simulated clouds: deterministic for a seed, with the Saturday BigQuery incident,
//! stoppable resources, and a live backfill into the ledger.

use crate::both_backends;
use crate::helpers::TestApp;
use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc, Weekday};
use costguard::config::SimulatedSettings;
use costguard::providers::simulated::resources::{CloudResources, StopOutcome};
use costguard::providers::simulated::{generate, Simulator};
use std::collections::HashMap;

const SATURDAY_JOB: &str = "bquxjob_5f1c2a9e_saturday_loop";
const LIVE_JOB: &str = "bquxjob_7d3e9b21_live_loop";

fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 4, 0, 0).unwrap()
}

fn settings(seed: u64) -> SimulatedSettings {
    SimulatedSettings {
        enabled: true,
        seed,
        history_days: 60,
        speed: 1.0,
        schedule: "*/20 * * * * *".into(),
        live_incident_delay_secs: 120,
        incidents: true,
        api_latency_ms: 0,
    }
}

#[test]
fn same_seed_same_records_other_seed_other_records() {
    let (from, to) = (epoch() - Duration::days(14), epoch());
    let a = generate(&settings(42), epoch(), from, to, &HashMap::new());
    let b = generate(&settings(42), epoch(), from, to, &HashMap::new());
    assert!(a.costs.len() > 10_000, "two weeks of ~45 lines: {}", a.costs.len());
    assert_eq!(a.costs, b.costs);
    assert_eq!(a.llm_usage, b.llm_usage);
    let c = generate(&settings(7), epoch(), from, to, &HashMap::new());
    assert_ne!(a.costs, c.costs);
    let providers: std::collections::BTreeSet<&str> = a.costs.iter().map(|r| r.provider_name.as_str()).collect();
    assert_eq!(
        providers.into_iter().collect::<Vec<_>>(),
        vec!["AWS", "Anthropic", "Google Cloud", "Microsoft", "OpenAI"]
    );
    let services: std::collections::BTreeSet<&str> = a.costs.iter().map(|r| r.service_name.as_str()).collect();
    assert!(services.len() >= 25, "{} services", services.len());
}

#[test]
fn history_holds_the_saturday_bigquery_loop() {
    let batch = generate(&settings(42), epoch(), epoch() - Duration::days(60), epoch(), &HashMap::new());
    let mut job: Vec<_> = batch.costs.iter().filter(|r| r.resource_id.as_deref() == Some(SATURDAY_JOB)).collect();
    job.sort_by_key(|r| r.charge_period_start);
    let first = job.first().expect("the looping job is in the history");
    assert_eq!(first.charge_period_start.weekday(), Weekday::Sat);
    assert_eq!((first.charge_period_start.hour(), first.charge_period_start.minute()), (2, 0));
    assert_eq!(first.service_name, "BigQuery");
    assert_eq!(first.sub_account_id.as_deref(), Some("analytics-prod"));
    assert!(first.billed_cost.units() > costguard::domain::money::Amount::from_whole(400).unwrap().units());
    assert_eq!(job.len(), 31, "it loops for 31 hours");
    // Against the project's usual BigQuery spend that hour, the loop is a 100x jump.
    let usual: i64 = batch
        .costs
        .iter()
        .filter(|r| {
            r.service_name == "BigQuery"
                && r.charge_period_start == first.charge_period_start
                && r.resource_id.is_none()
        })
        .map(|r| r.billed_cost.units())
        .sum();
    assert!(first.billed_cost.units() > 50 * usual);
}

#[test]
fn the_live_loop_starts_after_the_delay_and_stops_when_cancelled() {
    let s = settings(42);
    let live_start = epoch() + Duration::seconds(s.live_incident_delay_secs);
    let now = epoch() + Duration::minutes(50);
    let running = generate(&s, epoch(), epoch() - Duration::hours(1), now, &HashMap::new());
    let live: Vec<_> = running.costs.iter().filter(|r| r.resource_id.as_deref() == Some(LIVE_JOB)).collect();
    assert_eq!(live.len(), 1, "one partial hour so far");
    assert_eq!(live[0].charge_period_start, epoch());
    // 48 of the hour's 60 minutes at ~$487.5/h, within the line's noise.
    let dollars = live[0].billed_cost.units() as f64 / 1e11;
    let expected = 487.5 * (now - live_start).num_seconds() as f64 / 3600.0;
    assert!((dollars - expected).abs() < expected * 0.05, "{dollars} vs {expected}");

    let stopped_at = epoch() + Duration::minutes(20);
    let stops = HashMap::from([(LIVE_JOB.to_string(), stopped_at)]);
    let later = generate(&s, epoch(), epoch(), epoch() + Duration::hours(3), &stops);
    let after: Vec<_> = later.costs.iter().filter(|r| r.resource_id.as_deref() == Some(LIVE_JOB)).collect();
    assert_eq!(after.len(), 1, "no cost after the hour it was cancelled in");
    let dollars = after[0].billed_cost.units() as f64 / 1e11;
    let expected = 487.5 * (stopped_at - live_start).num_seconds() as f64 / 3600.0;
    assert!((dollars - expected).abs() < expected * 0.05, "{dollars} vs {expected}");
}

async fn backfills_the_ledger_and_stops_resources(app: TestApp) {
    let mut sim = settings(42);
    sim.history_days = 2;
    let simulator = Simulator::new(sim, app.db.clone());
    let ingestor = costguard::ingest::Ingestor::new(app.db.clone(), costguard::bus::channels(8).0);
    let summary = costguard::ingest::runner::run_once(&ingestor, &simulator).await.unwrap();
    assert!(summary.inserted > 2 * 24 * 40, "{summary:?}");
    let (from, to) =
        ((Utc::now() - Duration::days(5)).format("%Y-%m-%d"), (Utc::now() + Duration::days(1)).format("%Y-%m-%d"));
    let body = app.get_json(&format!("/api/v1/costs?group_by=provider&granularity=day&from={from}&to={to}")).await;
    let groups: std::collections::BTreeSet<&str> =
        body["rows"].as_array().unwrap().iter().map(|r| r["group"].as_str().unwrap()).collect();
    assert_eq!(groups.len(), 5);
    // A second run restates only the recent hours.
    let again = costguard::ingest::runner::run_once(&ingestor, &simulator).await.unwrap();
    assert!(again.inserted + again.updated < 3 * 60, "{again:?}");

    let now = Utc::now();
    let resources = simulator.list(now).await.unwrap();
    let vm = resources.iter().find(|r| r.name == "vm-etl-01").unwrap();
    assert!(vm.running);
    assert_eq!(simulator.stop(&vm.id, "test", now).await.unwrap(), StopOutcome::Stopped);
    assert_eq!(simulator.stop(&vm.id, "test", now).await.unwrap(), StopOutcome::AlreadyStopped);
    assert!(!simulator.list(now).await.unwrap().iter().find(|r| r.name == "vm-etl-01").unwrap().running);
    assert!(simulator.stop("i-does-not-exist", "test", now).await.is_err());
}

both_backends!(backfills_the_ledger_and_stops_resources);
