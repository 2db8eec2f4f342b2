//! `costguard costs`, `anomalies` and `actions` against a running server: tables by default,
//! the API's own JSON with --json, decisions taken as the key's owner under the server's rules.

use crate::both_backends;
use crate::helpers::TestApp;
use costguard::domain::role::Role;
use serde_json::{json, Value};

/// The binary asking `app` with `key`; (exit success, stdout, stderr).
async fn ask(app: &TestApp, key: Option<&str>, args: &[&str]) -> (bool, String, String) {
    let mut command = app.cli();
    command.args(args).args(["--url", &app.address]).env_remove("COSTGUARD_API_KEY");
    if let Some(key) = key {
        command.env("COSTGUARD_API_KEY", key);
    }
    let out = tokio::process::Command::from(command).output().await.unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (out.status.success(), text(out.stdout), text(out.stderr))
}

fn record(hour: u32, service: &str, cost: &str) -> Value {
    json!({
        "BilledCost": cost, "EffectiveCost": cost, "BillingAccountId": "111", "BillingCurrency": "USD",
        "BillingPeriodStart": "2026-11-01", "BillingPeriodEnd": "2026-12-01", "ChargeCategory": "Usage",
        "ChargePeriodStart": format!("2026-11-20T{hour:02}:00:00Z"), "ChargePeriodEnd": format!("2026-11-20T{:02}:00:00Z", hour + 1),
        "ProviderName": "Google Cloud", "ServiceName": service, "SubAccountId": "analytics-prod", "ResourceId": "r-1"
    })
}

async fn the_cli_queries_a_server_and_decides_as_its_key(app: TestApp) {
    let viewer = app.key("cli-viewer", Role::Viewer).await;
    let approver = app.key("cli-approver", Role::Approver).await;
    let batch =
        json!([record(1, "BigQuery", "12.5"), record(2, "BigQuery", "0.000000001"), record(1, "Cloud Storage", "3")]);
    assert_eq!(app.post_json("/api/v1/costs", &batch).await.status(), 200);

    // Costs: a table, money exact and right-aligned, totals per currency.
    let costs = ["costs", "--from", "2026-11-20", "--to", "2026-11-21", "--group-by", "service"];
    let (ok, table, err) = ask(&app, Some(&viewer), &costs).await;
    assert!(ok, "{err}");
    assert!(table.contains("PERIOD") && table.contains("GROUP") && table.contains("BILLED"), "{table}");
    assert!(table.contains("BigQuery") && table.contains("Cloud Storage"), "{table}");
    assert!(table.contains("total USD billed 15.500000001"), "{table}");
    let with_json: Vec<&str> = costs.iter().copied().chain(["--json"]).collect();
    let (ok, printed, _) = ask(&app, Some(&viewer), &with_json).await;
    let api = app.get_json("/api/v1/costs?from=2026-11-20&to=2026-11-21&group_by=service").await;
    assert!(ok);
    assert_eq!(serde_json::from_str::<Value>(&printed).unwrap(), api, "--json prints the API's answer");

    // Anomalies, filtered by state.
    let anomaly = json!({"severity": "high", "description": "a looping job", "provider": "gcp", "service": "BigQuery"});
    let created: Value = app.post_json("/api/v1/anomalies", &anomaly).await.json().await.unwrap();
    let anomaly_id = created["id"].as_str().unwrap().to_string();
    let (ok, open, err) = ask(&app, Some(&viewer), &["anomalies", "--state", "open"]).await;
    assert!(ok && open.contains(&anomaly_id) && open.contains("high") && open.contains("1 anomaly"), "{open}{err}");
    let (ok, resolved, _) = ask(&app, Some(&viewer), &["anomalies", "--state", "resolved"]).await;
    assert!(ok && !resolved.contains(&anomaly_id) && resolved.contains("0 anomalies"), "{resolved}");

    // Actions: list pending, approve as an approver with a comment; a viewer is refused.
    let job = |target: &str| json!({"kind": "cancel_bigquery_job", "target": target, "risk": "low", "provider": "Google Cloud", "account": "analytics-prod"});
    let first: Value = app.post_json("/api/v1/actions", &job("bquxjob_cli_1")).await.json().await.unwrap();
    let second: Value = app.post_json("/api/v1/actions", &job("bquxjob_cli_2")).await.json().await.unwrap();
    let (first, second) = (first["id"].as_str().unwrap().to_string(), second["id"].as_str().unwrap().to_string());
    let (ok, pending, _) = ask(&app, Some(&viewer), &["actions", "--status", "pending_approval"]).await;
    assert!(ok && pending.contains(&first) && pending.contains(&second) && pending.contains("2 actions"), "{pending}");

    let (ok, out, err) = ask(&app, Some(&viewer), &["actions", "approve", &first, "--comment", "from the cli"]).await;
    assert!(!ok && out.is_empty(), "a viewer cannot approve");
    assert!(err.contains("403") && err.contains("forbidden"), "the server's refusal, in one line: {err}");
    assert_eq!(app.get_json(&format!("/api/v1/actions/{first}")).await["status"], "pending_approval");

    let (ok, out, err) = ask(&app, Some(&approver), &["actions", "approve", &first, "--comment", "from the cli"]).await;
    assert!(ok && out.contains(&format!("action {first}")) && out.contains("is now approved"), "{out}{err}");
    let detail = app.get_json(&format!("/api/v1/actions/{first}")).await;
    let approval = &detail["history"][1];
    assert_eq!((approval["command"].as_str(), approval["comment"].as_str()), (Some("approve"), Some("from the cli")));
    let (ok, out, _) = ask(&app, Some(&approver), &["actions", "reject", &second, "--json"]).await;
    assert!(ok);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["status"], "rejected");
    let (ok, _, err) = ask(&app, Some(&approver), &["actions", "approve", &second]).await;
    assert!(!ok && err.contains("409"), "a rejected action stays rejected: {err}");

    // Without a key, with a wrong one, or with no server: one clear line each.
    let (ok, _, err) = ask(&app, None, &["actions"]).await;
    assert!(!ok && err.contains("COSTGUARD_API_KEY"), "{err}");
    let (ok, _, err) = ask(&app, Some("cg_wrong"), &["costs"]).await;
    assert!(!ok && err.contains("401"), "{err}");
    let mut unreachable = app.cli();
    unreachable.args(["costs", "--url", "http://127.0.0.1:9"]).env("COSTGUARD_API_KEY", &viewer);
    let out = tokio::process::Command::from(unreachable).output().await.unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("could not reach http://127.0.0.1:9"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // Values the server would refuse are refused before asking it, listing the choices.
    let (ok, _, err) = ask(&app, Some(&viewer), &["actions", "--status", "pending"]).await;
    assert!(!ok && err.contains("pending_approval"), "{err}");
}

both_backends!(the_cli_queries_a_server_and_decides_as_its_key);

/// `costguard completions bash | head -1`: a reader that stops early closes the pipe, which
/// ends the output quietly (it panicked in clap_complete's writer).
#[test]
fn a_reader_that_stops_early_ends_the_output_quietly() {
    use std::process::{Command, Stdio};
    for args in [&["completions", "bash"][..], &["man"]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_costguard"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader is gone before the first byte
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && err.is_empty(), "{args:?}: {:?} {err}", out.status);
    }
}
