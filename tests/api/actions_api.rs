//! The actions API: manual proposals routed through the safety policy, approvals with their
//! rules, 409 for the losers of a race, and the history.

use crate::both_backends;
use crate::helpers::TestApp;
use costguard::domain::role::Role;
use serde_json::{json, Value};

async fn post(app: &TestApp, path: &str, key: &str, body: Value) -> (u16, Value) {
    let r = app.post_raw(path, key, "application/json", serde_json::to_vec(&body).unwrap()).await;
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn job(target: &str) -> Value {
    json!({"kind": "cancel_bigquery_job", "target": target, "risk": "low", "provider": "Google Cloud", "account": "analytics-prod"})
}

async fn propose_approve_and_the_rules_that_guard_it(app: TestApp) {
    let (status, action) = post(&app, "/api/v1/actions", &app.admin_key, job("bquxjob_1")).await;
    assert_eq!(status, 201, "{action}");
    assert_eq!(action["status"], "pending_approval");
    let id = action["id"].as_str().unwrap().to_string();
    let approve = format!("/api/v1/actions/{id}/approve");

    let (status, e) = post(&app, &approve, &app.admin_key, json!({})).await;
    assert_eq!(status, 403, "the proposer cannot approve: {e}");
    let viewer = app.key("viewer", Role::Viewer).await;
    assert_eq!(post(&app, &approve, &viewer, json!({})).await.0, 403);

    // Ten approvers at once: one transition, nine 409s.
    let mut keys = Vec::new();
    for i in 0..10 {
        keys.push(app.key(&format!("approver-{i}"), Role::Approver).await);
    }
    let results =
        futures_util::future::join_all(keys.iter().map(|k| post(&app, &approve, k, json!({"comment": "go"})))).await;
    let codes: Vec<u16> = results.iter().map(|r| r.0).collect();
    assert_eq!(codes.iter().filter(|c| **c == 200).count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 409).count(), 9, "{codes:?}");

    // The approval woke the executors; this app has none for BigQuery, so the safety check
    // at execution rejects it, and says why.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let detail = loop {
        let detail = app.get_json(&format!("/api/v1/actions/{id}")).await;
        if detail["status"] != "approved" || std::time::Instant::now() > deadline {
            break detail;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(detail["status"], "rejected", "{detail}");
    assert!(detail["reason"].as_str().unwrap().contains("no executor for cancel_bigquery_job"), "{detail}");
    let history: Vec<(&str, &str)> = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["command"].as_str().unwrap(), h["to_status"].as_str().unwrap()))
        .collect();
    assert_eq!(history, [("route", "pending_approval"), ("approve", "approved"), ("start", "rejected")]);
    assert_eq!(detail["history"][1]["comment"], "go");
    assert!(detail["history"][1]["build_sha"].is_string());
    let (status, e) = post(&app, &format!("/api/v1/actions/{id}/cancel"), &keys[0], json!({})).await;
    assert_eq!(status, 409, "a rejected action is final: {e}");

    // Rejecting a proposal before anyone approves it.
    let (_, other) = post(&app, "/api/v1/actions", &app.admin_key, job("bquxjob_2")).await;
    let other = other["id"].as_str().unwrap().to_string();
    assert_eq!(
        post(&app, &format!("/api/v1/actions/{other}/reject"), &keys[0], json!({"comment": "not now"})).await.0,
        200
    );
    let listed = app.get_json("/api/v1/actions?status=rejected").await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(app.get(&format!("/api/v1/actions/{}", uuid::Uuid::new_v4())).await.status(), 404);
    // The audit trail pages in order, each entry linked to the one before.
    // The first entry is start-up's record of the safety settings.
    let first = app.get_json("/api/v1/audit?limit=2").await;
    let entries = first["entries"].as_array().unwrap();
    assert_eq!((entries[0]["seq"].as_i64(), entries[0]["action"].as_str()), (Some(1), Some("config.safety")));
    assert_eq!((entries[1]["seq"].as_i64(), entries[1]["action"].as_str()), (Some(2), Some("action.propose")));
    assert_eq!(entries[1]["prev_hash"], entries[0]["hash"]);
    let next = app.get_json(&format!("/api/v1/audit?after={}", first["next_after"])).await;
    assert_eq!(next["entries"][0]["seq"].as_i64(), Some(3));
    assert_eq!(next["entries"][0]["prev_hash"], entries[1]["hash"]);
    assert_eq!(app.get("/api/v1/audit?limit=0").await.status(), 400);
    assert_eq!(app.get("/api/v1/actions?status=done").await.status(), 400);
}

async fn invalid_proposals_are_refused_with_the_field(app: TestApp) {
    let (status, action) = post(&app, "/api/v1/actions", &app.admin_key, job("bquxjob_payroll")).await;
    assert_eq!((status, action["status"].as_str()), (201, Some("pending_approval")));
    for (body, field) in [
        (json!({"kind": "delete_everything", "target": "x", "risk": "low"}), "kind"),
        (json!({"kind": "notify_only", "target": "x", "risk": "extreme"}), "risk"),
        (json!({"kind": "notify_only", "target": " ", "risk": "low"}), "target"),
    ] {
        let (status, e) = post(&app, "/api/v1/actions", &app.admin_key, body).await;
        assert_eq!((status, e["detail"]["field"].as_str()), (422, Some(field)), "{e}");
    }
}

async fn protected_targets_are_rejected_at_routing(app: TestApp) {
    let (status, action) = post(&app, "/api/v1/actions", &app.admin_key, job("bquxjob_payroll")).await;
    assert_eq!(status, 201);
    assert_eq!(action["status"], "rejected");
    assert!(action["reason"].as_str().unwrap().contains("resource_denied"), "{action}");
}

async fn protected(backend: crate::helpers::Backend) {
    let app = TestApp::spawn_with(backend, |s| s.safety.deny_resources = vec!["bquxjob_payroll".into()]).await;
    protected_targets_are_rejected_at_routing(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_listed_resources_are_rejected_sqlite() {
    protected(crate::helpers::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_listed_resources_are_rejected_postgres() {
    if crate::helpers::postgres_admin_url().is_some() {
        protected(crate::helpers::Backend::Postgres).await;
    }
}

both_backends!(propose_approve_and_the_rules_that_guard_it, invalid_proposals_are_refused_with_the_field);

async fn approved_over_http_runs_through_the_executor(backend: crate::helpers::Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.providers.simulated.enabled = true;
        s.providers.simulated.history_days = 1;
        s.providers.simulated.schedule = String::new();
        s.providers.simulated.live_incident_delay_secs = 0;
    })
    .await;
    let (status, action) = post(&app, "/api/v1/actions", &app.admin_key, job("bquxjob_7d3e9b21_live_loop")).await;
    assert_eq!(status, 201, "{action}");
    let id = action["id"].as_str().unwrap().to_string();
    let bob = app.key("bob", Role::Approver).await;
    assert_eq!(
        post(&app, &format!("/api/v1/actions/{id}/approve"), &bob, json!({"comment": "cancel it"})).await.0,
        200
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let detail = loop {
        let detail = app.get_json(&format!("/api/v1/actions/{id}")).await;
        if detail["status"] == "succeeded" || std::time::Instant::now() > deadline {
            break detail;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(detail["status"], "succeeded", "{detail}");
    let actors: Vec<&str> =
        detail["history"].as_array().unwrap().iter().map(|h| h["actor"].as_str().unwrap()).collect();
    assert_eq!(actors, ["policy", "bob", "executor", "executor", "executor"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approved_over_http_runs_through_the_executor_sqlite() {
    approved_over_http_runs_through_the_executor(crate::helpers::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approved_over_http_runs_through_the_executor_postgres() {
    if crate::helpers::postgres_admin_url().is_some() {
        approved_over_http_runs_through_the_executor(crate::helpers::Backend::Postgres).await;
    }
}

/// Recovered money is summed per currency: amounts in USD and EUR are never added together,
/// in the API or on the overview.
async fn recovered_money_is_summed_per_currency(app: TestApp) {
    use costguard::db::schema::{actions as ac, anomalies as an};
    use diesel::prelude::*;
    let recoveries = [("USD", 1_000_000_000_000_i64), ("EUR", 250_000_000_000), ("USD", 500_000_000_000)];
    for (n, (currency, units)) in recoveries.into_iter().enumerate() {
        let anomaly = json!({"severity": "high", "description": "spend jumped", "provider": "AWS", "service": "EC2"});
        let anomaly: Value = app.post_json("/api/v1/anomalies", &anomaly).await.json().await.unwrap();
        let anomaly = anomaly["id"].as_str().unwrap().to_string();
        let proposal = json!({"kind": "notify_only", "target": format!("i-{n}"), "risk": "low", "anomaly_id": anomaly});
        let action: Value = app.post_json("/api/v1/actions", &proposal).await.json().await.unwrap();
        let action = action["id"].as_str().unwrap().to_string();
        // As an executed, verified action on an anomaly in that currency leaves them.
        app.db
            .run(move |c| {
                diesel::update(an::table.find(&anomaly)).set(an::currency.eq(currency)).execute(c)?;
                diesel::update(ac::table.find(&action)).set(ac::recovered.eq(Some(units))).execute(c)?;
                Ok::<_, costguard::db::DbError>(())
            })
            .await
            .unwrap();
    }
    let total = app.get_json("/api/v1/actions/recovered").await;
    assert_eq!(total["recovered"], Value::Null, "no sum across currencies: {total}");
    assert_eq!(total["currency"], Value::Null);
    assert_eq!(total["actions"], 3);
    assert_eq!(
        total["by_currency"],
        json!([{"currency": "EUR", "recovered": "2.50", "actions": 1}, {"currency": "USD", "recovered": "15.00", "actions": 2}])
    );
    let (token, _) = crate::dashboard::session(&app, Role::Viewer).await;
    let overview = app.client.get(app.url("/")).header("cookie", format!("costguard_session={token}"));
    let overview = overview.send().await.unwrap().text().await.unwrap();
    let shown = |amount: &str, currency: &str| format!(r#"{amount} <span class="currency">{currency}</span>"#);
    assert!(overview.contains(&shown("2.50", "EUR")) && overview.contains(&shown("15.00", "USD")), "{overview}");
    assert!(!overview.contains("17.50"), "never added together");
}

both_backends!(recovered_money_is_summed_per_currency);
