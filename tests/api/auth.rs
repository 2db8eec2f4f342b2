//! API keys: no key, an unknown or revoked key, and a too-weak role are refused.

use crate::both_backends;
use crate::helpers::TestApp;
use costguard::domain::role::Role;
use serde_json::json;

async fn keys_and_roles_are_enforced(app: TestApp) {
    let costs = app.url("/api/v1/costs");
    let anonymous = app.client.get(&costs).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer realm=\"costguard\"");
    let body: serde_json::Value = anonymous.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized");

    let unknown = app.client.get(&costs).bearer_auth("cg_0000").send().await.unwrap();
    assert_eq!(unknown.status(), 401);

    let viewer = app.key("reader", Role::Viewer).await;
    assert_eq!(app.client.get(&costs).bearer_auth(&viewer).send().await.unwrap().status(), 200);
    let write = app.client.post(&costs).bearer_auth(&viewer).json(&json!([])).send().await.unwrap();
    assert_eq!(write.status(), 403);
    let body: serde_json::Value = write.json().await.unwrap();
    assert_eq!(body["error"], "forbidden");
    let import = app.post_raw("/api/v1/costs/import", &viewer, "text/csv", "x").await;
    assert_eq!(import.status(), 403);

    let approver = app.key("pipeline", Role::Approver).await;
    assert_eq!(app.client.post(&costs).bearer_auth(&approver).json(&json!([])).send().await.unwrap().status(), 200);

    let revoked = app.db.run(|c| costguard::auth::api_keys::revoke(c, "reader")).await.unwrap();
    assert!(revoked.revoked_at.is_some());
    let after = app.client.get(&costs).bearer_auth(&viewer).send().await.unwrap();
    assert_eq!(after.status(), 401);
    let body: serde_json::Value = after.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().contains("revoked"));
}

async fn keys_are_stored_only_hashed(app: TestApp) {
    let secret = app.key("hashed", Role::Viewer).await;
    let keys = app.db.run(costguard::auth::api_keys::list).await.unwrap();
    let key = keys.iter().find(|k| k.name == "hashed").unwrap();
    assert!(secret.starts_with(&key.key_prefix));
    assert!(key.key_prefix.len() < 12);
    let stored: Vec<String> = app
        .db
        .run(|c| {
            use costguard::db::schema::api_keys::dsl::*;
            use diesel::prelude::*;
            api_keys.select(key_hash).load::<String>(c).map_err(costguard::db::DbError::from)
        })
        .await
        .unwrap();
    assert!(stored.iter().all(|h| h.len() == 64 && !h.contains(&secret[3..])));
    assert!(stored.contains(&costguard::auth::api_keys::hash_key(&secret)));
    // A key name is unique.
    let duplicate = app.db.run(|c| costguard::auth::api_keys::create(c, "hashed", Role::Admin)).await;
    assert!(duplicate.is_err());
}

both_backends!(keys_and_roles_are_enforced, keys_are_stored_only_hashed);
