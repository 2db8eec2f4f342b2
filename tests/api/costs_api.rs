//! Pushing FOCUS records as JSON and querying totals.

use crate::both_backends;
use crate::helpers::TestApp;
use serde_json::{json, Value};

fn record(hour: u32, service: &str, cost: Value) -> Value {
    json!({
        "BilledCost": cost.clone(), "EffectiveCost": cost, "BillingAccountId": "111", "BillingCurrency": "USD",
        "BillingPeriodStart": "2026-11-01", "BillingPeriodEnd": "2026-12-01", "ChargeCategory": "Usage",
        "ChargePeriodStart": format!("2026-11-20T{hour:02}:00:00Z"), "ChargePeriodEnd": format!("2026-11-20T{:02}:00:00Z", hour + 1),
        "ProviderName": "AWS", "ServiceName": service, "SubAccountId": "222", "ResourceId": "i-1", "Tags": {"team": "web"}
    })
}

async fn json_push_is_exact_idempotent_and_restatable(app: TestApp) {
    let batch =
        json!([record(1, "EC2", json!(0.00001605990)), record(2, "EC2", json!("1.5")), record(1, "S3", json!("2"))]);
    let first: Value = app.post_json("/api/v1/costs", &batch).await.json().await.unwrap();
    assert_eq!(first["inserted"], 3);
    let again: Value = app.post_json("/api/v1/costs", &batch).await.json().await.unwrap();
    assert_eq!((again["inserted"].as_u64(), again["unchanged"].as_u64()), (Some(0), Some(3)));
    // A restated record replaces the earlier value.
    let restated: Value =
        app.post_json("/api/v1/costs", &json!([record(2, "EC2", json!("3.25"))])).await.json().await.unwrap();
    assert_eq!(restated["updated"], 1);
    assert_eq!(app.count_costs().await, 3);

    let body = app.get_json("/api/v1/costs?from=2026-11-20&to=2026-11-21&granularity=hour&group_by=service").await;
    let rows: Vec<(String, String, String)> = body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["period_start"].as_str().unwrap().to_string(),
                r["group"].as_str().unwrap().to_string(),
                r["billed_cost"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("2026-11-20T01:00:00Z".into(), "EC2".into(), "0.0000160599".into()),
            ("2026-11-20T01:00:00Z".into(), "S3".into(), "2.00".into()),
            ("2026-11-20T02:00:00Z".into(), "EC2".into(), "3.25".into()),
        ]
    );
    assert_eq!(body["totals"][0]["billed_cost"], "5.2500160599");
    let day = app.get_json("/api/v1/costs?from=2026-11-20&to=2026-11-21&service=S3").await;
    assert_eq!(day["rows"][0]["billed_cost"], "2.00");
    assert_eq!(day["rows"][0]["period_start"], "2026-11-20T00:00:00Z");
}

async fn a_bad_record_rejects_the_whole_request(app: TestApp) {
    let mut bad = record(3, "EC2", json!("1"));
    bad["ChargePeriodStart"] = json!("later");
    let response = app.post_json("/api/v1/costs", &json!([record(1, "EC2", json!("1")), bad])).await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (body["detail"]["index"].as_u64(), body["detail"]["field"].as_str()),
        (Some(1), Some("ChargePeriodStart"))
    );
    assert_eq!(app.count_costs().await, 0);

    let duplicate =
        app.post_json("/api/v1/costs", &json!([record(1, "EC2", json!("1")), record(1, "EC2", json!("2"))])).await;
    assert_eq!(duplicate.status(), 422);
    assert_eq!(app.count_costs().await, 0);

    let malformed = app.post_raw("/api/v1/costs", &app.admin_key, "application/json", "[{").await;
    assert_eq!(malformed.status(), 400);
    let body: Value = malformed.json().await.unwrap();
    assert_eq!(body["error"], "bad_request");
    let wrong_type = app.post_raw("/api/v1/costs", &app.admin_key, "text/plain", "[]").await;
    assert_eq!(wrong_type.status(), 415);
}

async fn query_parameters_are_validated(app: TestApp) {
    for (query, parameter) in [
        ("granularity=week", "granularity"),
        ("group_by=team", "group_by"),
        ("from=2026-02-01&to=2026-01-01", "from"),
        ("from=tomorrow", "from"),
    ] {
        let response = app.get(&format!("/api/v1/costs?{query}")).await;
        assert_eq!(response.status(), 400, "{query}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["detail"]["parameter"], parameter, "{query}");
    }
}

async fn large_bodies_are_refused(app: TestApp) {
    let big = "x".repeat(20 * 1024 * 1024);
    let response = app.post_raw("/api/v1/costs", &app.admin_key, "application/json", big).await;
    assert_eq!(response.status(), 413);
}

both_backends!(
    json_push_is_exact_idempotent_and_restatable,
    a_bad_record_rejects_the_whole_request,
    query_parameters_are_validated,
    large_bodies_are_refused
);
