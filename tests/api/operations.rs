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
    // Client generators need every operationId unique.
    let mut ids: Vec<&str> = spec["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|op| op["operationId"].as_str())
        .collect();
    let total = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), total, "duplicate operationIds among {ids:?}");
    let docs = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.unwrap();
    assert!(html.contains("swagger") && !html.contains("cdn."), "the API page is served locally");

    let missing = app.client.get(app.url("/nope")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
}

/// Logs written to a pipe or a file (as `docker logs` and log shippers read them) carry no
/// ANSI colour codes; the text format colours only a terminal.
#[test]
fn logs_off_a_terminal_have_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_costguard"))
        .arg("migrate")
        .current_dir(dir.path())
        .env("COSTGUARD_DATA__DIR", dir.path())
        .env("COSTGUARD_LOG__LEVEL", "info")
        .env("COSTGUARD_LOG__FORMAT", "text")
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let logged = String::from_utf8_lossy(&out.stderr);
    assert!(logged.contains("INFO"), "migrate logs at info: {logged}");
    assert!(!logged.contains('\u{1b}'), "no escape codes in a pipe: {logged:?}");
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

/// With `log.format = "json"` every line is a JSON object, each request's line carries its
/// request id (the caller's, echoed in the response) and route pattern, and neither the query
/// string nor a signing secret from the environment shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_request_ids_and_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let node = crate::helpers::Node::new(crate::helpers::fresh_database(crate::helpers::Backend::Sqlite, dir.path()));
    let secret = "slack-signing-secret-4f1c";
    let mut child = node
        .command(&[
            ("COSTGUARD_LOG__FORMAT", "json"),
            ("COSTGUARD_LOG__LEVEL", "info"),
            ("COSTGUARD_PROVIDERS__SIMULATED__ENABLED", "false"),
            ("COSTGUARD_NOTIFY__SLACK__SIGNING_SECRET", secret),
        ])
        .arg("serve")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let answered = crate::helpers::until("the server", std::time::Duration::from_secs(30), async || {
        client
            .get(format!("{}/api/v1/costs?token=q-secret-99", node.url))
            .header("x-request-id", "req-7f3a")
            .send()
            .await
            .ok()
    })
    .await;
    assert_eq!(answered.headers()["x-request-id"], "req-7f3a");
    let fresh = client.get(format!("{}/version", node.url)).send().await.unwrap();
    assert_eq!(fresh.headers()["x-request-id"].len(), 36, "a new id when none is given");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    child.kill().unwrap(); // stderr is unbuffered: every line written is there
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<Value> =
        log.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}"))).collect();
    let served = lines
        .iter()
        .find(|l| l["fields"]["message"] == "served" && l["span"]["request_id"] == "req-7f3a")
        .unwrap_or_else(|| panic!("no request line in {log}"));
    assert_eq!(
        (served["span"]["route"].as_str(), served["fields"]["status"].as_u64()),
        (Some("/api/v1/costs"), Some(401))
    );
    assert!(!log.contains("q-secret-99") && !log.contains(secret), "{log}");
}

both_backends!(operational_endpoints);
