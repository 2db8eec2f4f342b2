//! Health, readiness, version, metrics, the OpenAPI document, /docs and unknown routes.

use crate::both_backends;
use crate::helpers::TestApp;
use serde_json::Value;

async fn operational_endpoints(app: TestApp) {
    let health: Value = app.client.get(app.url("/healthz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["migrations_current"], true);
    assert_eq!(ready["backend"], if app.backend == crate::helpers::Backend::Sqlite { "sqlite" } else { "postgres" });

    let version: Value = app.client.get(app.url("/version")).send().await.unwrap().json().await.unwrap();
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));
    let sha = version["git_sha"].as_str().unwrap();
    assert!(sha == "unknown" || (sha.len() == 40 && sha.chars().all(|c| c.is_ascii_hexdigit())), "{sha}");

    let _ = app.get("/api/v1/costs").await;
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("costguard_http_requests_total"), "{metrics}");
    assert!(metrics.contains("costguard_db_pool_connections"));

    let spec: Value = app.client.get(app.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    for path in ["/api/v1/costs", "/api/v1/costs/import", "/api/v1/llm-usage", "/readyz", "/version"] {
        assert!(spec["paths"][path].is_object(), "{path} missing from the OpenAPI document");
    }
    assert_eq!(spec["components"]["securitySchemes"]["api_key"]["scheme"], "bearer");
    let docs = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.unwrap();
    assert!(html.contains("swagger") && !html.contains("cdn."), "the API page is served locally");

    let missing = app.client.get(app.url("/nope")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
}

/// A bad setting stops the binary before it touches anything, naming the key.
#[test]
fn bad_configuration_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_costguard"))
        .arg("migrate")
        .current_dir(dir.path())
        .env("COSTGUARD_SERVER__BIND", "everywhere")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("server.bind"), "{stderr}");
    assert!(!dir.path().join("data").exists(), "nothing was created");
}

both_backends!(operational_endpoints);
