//! The whole story in one test, with the simulated clouds at an hour per second: a BigQuery
//! job loops → anomaly → proposal → approval over the API → execution → verification →
//! the anomaly resolves → cost recovered → the audit chain verifies.

use crate::helpers::{until, Backend, TestApp};
use costguard::db::DbError;
use costguard::domain::role::Role;
use serde_json::{json, Value};
use std::time::Duration;

const LIVE_JOB: &str = "bquxjob_7d3e9b21_live_loop";

async fn demo(backend: Backend) {
    let hooks = crate::peers::receiver::Receiver::start();
    let app = TestApp::spawn_with(backend, |s| {
        s.notify.poll_ms = 200;
        s.notify.destinations = vec![costguard::notify::Destination {
            name: "oncall".into(),
            kind: costguard::notify::DestinationKind::Webhook,
            url: hooks.url.clone().into(),
            secret: "whsec".to_string().into(),
            ..costguard::notify::Destination::default()
        }];
        let sim = &mut s.providers.simulated;
        sim.enabled = true;
        sim.history_days = 10;
        sim.speed = 3_600.0;
        sim.schedule = "* * * * * *".into();
        sim.live_incident_delay_secs = 2;
    })
    .await;

    // The loop is noticed and a cancel is proposed for exactly that job.
    let action = until("a proposal to cancel the live job", Duration::from_secs(90), async || {
        let list = app.get_json("/api/v1/actions?status=pending_approval").await;
        list.as_array()?.iter().find(|a| a["target"] == LIVE_JOB && a["kind"] == "cancel_bigquery_job").cloned()
    })
    .await;
    let anomaly_id = action["anomaly_id"].as_str().unwrap().to_string();
    let anomaly = app.get_json(&format!("/api/v1/anomalies/{anomaly_id}")).await;
    assert_eq!((anomaly["service"].as_str(), anomaly["state"].as_str()), (Some("BigQuery"), Some("open")));

    // The on-call approves it over the API; the executor cancels and verifies.
    let oncall = app.key("on-call", Role::Approver).await;
    let id = action["id"].as_str().unwrap();
    let body = serde_json::to_vec(&json!({"comment": "cancel the loop"})).unwrap();
    let r = app.post_raw(&format!("/api/v1/actions/{id}/approve"), &oncall, "application/json", body).await;
    assert_eq!(r.status(), 200);
    let done: Value = until("the action to succeed", Duration::from_secs(60), async || {
        let a = app.get_json(&format!("/api/v1/actions/{id}")).await;
        (a["status"] == "succeeded").then_some(a)
    })
    .await;
    let recovered: f64 = done["recovered"].as_str().unwrap().parse().unwrap();
    assert!(recovered > 0.0, "{done}");
    let total = app.get_json("/api/v1/actions/recovered").await;
    assert_eq!((total["recovered"].as_str(), total["actions"].as_u64()), (done["recovered"].as_str(), Some(1)));
    assert_eq!(total["currency"], "USD", "{total}");
    assert_eq!(total["by_currency"], json!([{"currency": "USD", "recovered": done["recovered"], "actions": 1}]));

    // Cost falls back into the band and the anomaly resolves.
    let resolved = until("the anomaly to resolve", Duration::from_secs(90), async || {
        let a = app.get_json(&format!("/api/v1/anomalies/{anomaly_id}")).await;
        (a["state"] == "resolved").then_some(a)
    })
    .await;
    // Its timeline tells the action's part, not a restatement nobody made.
    let timeline = resolved["timeline"].as_array().unwrap();
    let resolution = timeline.iter().rev().find(|e| e["kind"] == "resolved").unwrap();
    assert!(!resolution["detail"].as_str().unwrap_or("").contains("restated"), "{resolution}");

    // ... and the action's second verification, cost back within the band, is recorded.
    until("the cost check", Duration::from_secs(30), async || {
        let a = app.get_json(&format!("/api/v1/actions/{id}")).await;
        a["cost_verified_at"].is_string().then_some(())
    })
    .await;

    let chain = app.db.run(|c| costguard::audit::verify(c).map_err(DbError::from)).await.unwrap();
    assert!(chain.as_ref().is_ok_and(|n| *n >= 6), "{chain:?}");

    // The on-call heard each step, in order.
    let story = until("the resolution to be announced", Duration::from_secs(30), async || {
        let heard: Vec<Value> = hooks.received().iter().map(|r| r.json()).collect();
        let about =
            |event: &str, key: &str, id: &str| heard.iter().position(|m| m["event"] == event && m[key]["id"] == id);
        let steps = [
            about("anomaly_opened", "anomaly", &anomaly_id),
            about("action_pending", "action", id),
            about("action_succeeded", "action", id),
            about("anomaly_resolved", "anomaly", &anomaly_id),
        ];
        steps.iter().all(Option::is_some).then(|| steps.map(Option::unwrap))
    })
    .await;
    assert!(story.windows(2).all(|w| w[0] < w[1]), "out of order: {story:?}");

    // And /metrics tells the same story, in a form promtool accepts.
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    crate::metrics::check_exposition(&text);
    let exported = crate::metrics::exported(&text);
    // A budget's gauges exist with the budget (the demo has none; tests/api/budgets.rs
    // checks them): Prometheus leaves out a series with nothing to measure.
    for (name, _) in costguard::telemetry::METRICS.iter().filter(|(n, _)| !n.starts_with("costguard_budget_")) {
        assert!(exported.contains(*name), "{name} is declared but not exported");
    }
    assert!(text.contains("costguard_actions{status=\"succeeded\"} 1"), "{text}");
    let recovered = text.lines().find(|l| l.starts_with("costguard_cost_recovered_total{currency=\"USD\"} ")).unwrap();
    assert!(!recovered.ends_with(" 0"), "recovered money shows: {recovered}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_loop_sqlite() {
    demo(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_loop_postgres() {
    if crate::helpers::postgres_admin_url().is_some() {
        demo(Backend::Postgres).await;
    }
}
