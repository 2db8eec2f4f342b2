//! LLM usage pushed by applications and read back grouped.

use crate::both_backends;
use crate::helpers::TestApp;
use serde_json::{json, Value};

fn usage(minute: u32, key: &str, output: i64, cost: &str) -> Value {
    json!({
        "provider": "OpenAI", "model": "gpt-4o", "api_key_id": key, "project_id": "proj_support",
        "bucket_start": format!("2026-11-21T02:{minute:02}:00Z"), "bucket_end": format!("2026-11-21T02:{:02}:00Z", minute + 1),
        "input_tokens": 1000, "cached_input_tokens": 200, "output_tokens": output, "requests": 3, "cost": cost
    })
}

async fn push_and_read_back(app: TestApp) {
    let batch =
        json!([usage(0, "key_a", 100, "0.003"), usage(1, "key_a", 100, "0.003"), usage(1, "key_b", 50, "0.0025")]);
    let first: Value = app.post_json("/api/v1/llm-usage", &batch).await.json().await.unwrap();
    assert_eq!(first["inserted"], 3);
    // The same bucket sent again with more tokens replaces it.
    let restated: Value =
        app.post_json("/api/v1/llm-usage", &json!([usage(1, "key_b", 80, "0.004")])).await.json().await.unwrap();
    assert_eq!((restated["updated"].as_u64(), restated["inserted"].as_u64()), (Some(1), Some(0)));

    let body = app.get_json("/api/v1/llm-usage?from=2026-11-21&to=2026-11-22&group_by=api_key&provider=openai").await;
    let rows = body["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[0]["group"].as_str(), rows[0]["output_tokens"].as_i64(), rows[0]["cost"].as_str()),
        (Some("key_a"), Some(200), Some("0.006"))
    );
    assert_eq!(
        (rows[1]["group"].as_str(), rows[1]["output_tokens"].as_i64(), rows[1]["cost"].as_str()),
        (Some("key_b"), Some(80), Some("0.004"))
    );
    assert_eq!(body["totals"][0]["cost"], "0.01");
    assert_eq!(body["totals"][0]["input_tokens"], 3000);

    let bad = app.post_json("/api/v1/llm-usage", &json!([usage(2, "k", -1, "1")])).await;
    assert_eq!(bad.status(), 422);
    let body: Value = bad.json().await.unwrap();
    assert_eq!((body["detail"]["index"].as_u64(), body["detail"]["field"].as_str()), (Some(0), Some("output_tokens")));
    let bad_group = app.get("/api/v1/llm-usage?group_by=team").await;
    assert_eq!(bad_group.status(), 400);
}

/// A gateway that knows tokens but not prices: OpenAI and Anthropic usage is priced from the
/// configured table; an unknown provider keeps its tokens without a cost.
async fn pushed_usage_without_a_cost_is_priced(app: TestApp) {
    let bucket = |provider: &str, model: &str| {
        json!({"provider": provider, "model": model, "api_key_id": "gw", "bucket_start": "2026-11-21T02:00:00Z",
            "bucket_end": "2026-11-21T02:01:00Z", "input_tokens": 2_000_000, "cached_input_tokens": 1_000_000, "output_tokens": 100_000})
    };
    let batch = json!([
        bucket("anthropic", "claude-sonnet-4-20250514"),
        bucket("openai", "gpt-4o-mini-2024-07-18"),
        bucket("acme-llm", "m1")
    ]);
    assert_eq!(app.post_json("/api/v1/llm-usage", &batch).await.status(), 200);
    let body = app.get_json("/api/v1/llm-usage?from=2026-11-21&to=2026-11-22&group_by=provider").await;
    let cost = |p: &str| body["rows"].as_array().unwrap().iter().find(|r| r["group"] == p).map(|r| r["cost"].clone());
    // Sonnet: 1M uncached at $3, 1M cached at $0.30, 100k output at $15.
    assert_eq!(cost("anthropic"), Some(json!("4.80")));
    // gpt-4o-mini: 1M at $0.15, 1M at $0.075, 100k at $0.60.
    assert_eq!(cost("openai"), Some(json!("0.285")));
    assert_eq!(cost("acme-llm"), Some(json!("0.00")));
    assert_eq!(body["totals"][0]["input_tokens"], 6_000_000, "every bucket kept its tokens");
}

both_backends!(push_and_read_back, pushed_usage_without_a_cost_is_priced);
