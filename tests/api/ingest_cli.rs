//! `costguard ingest --once`: one pass of every enabled provider in a real process, exiting
//! non-zero when one fails, while the others still land; `/readyz` then shows each
//! provider's last success, last error and lag.

use crate::helpers::{fresh_database, Backend, Bare, Node};
use crate::peers::arm::{Arm, Usage};
use chrono::{Duration, DurationRound, Utc};

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

async fn one_pass_per_provider_and_a_failing_one_does_not_stop_the_others(backend: Backend) {
    let arm = Arm::start();
    let today = Utc::now().duration_trunc(Duration::days(1)).unwrap();
    arm.set_usage(vec![Usage {
        date: today,
        service: "Storage".into(),
        resource_id: "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/lake".into(),
        cost: "12.34567890123".into(),
    }]);
    let dir = tempfile::tempdir().unwrap();
    let database_url = fresh_database(backend, dir.path());
    let app = Bare::at(&database_url, dir.path()).await;
    let cipher = costguard::credentials::Cipher::from_base64(KEY).unwrap();
    app.store_credentials(&cipher, "azure", &Arm::credentials()).await;
    let closed = format!("http://127.0.0.1:{}", crate::peers::free_port());
    let node = Node::new(database_url);
    let env = [
        ("COSTGUARD_SECRETS__ENCRYPTION_KEY", KEY),
        ("COSTGUARD_PROVIDERS__SIMULATED__ENABLED", "false"),
        ("COSTGUARD_PROVIDERS__AZURE__ENABLED", "true"),
        ("COSTGUARD_PROVIDERS__AZURE__ENDPOINT_URL", arm.url.as_str()),
        ("COSTGUARD_PROVIDERS__AZURE__AUTHORITY_HOST", arm.url.as_str()),
        ("COSTGUARD_PROVIDERS__AZURE__SCOPES", "[\"subscriptions/sub-1\"]"),
        ("COSTGUARD_PROVIDERS__AWS__ENABLED", "true"),
        ("COSTGUARD_PROVIDERS__AWS__ENDPOINT_URL", closed.as_str()),
        ("COSTGUARD_PROVIDERS__AWS__MAX_ATTEMPTS", "1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ];
    let run = |args: &'static [&'static str]| {
        let mut command = node.command(&env);
        command.args(args).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        async move { tokio::process::Command::from(command).output().await.unwrap() }
    };

    let only_azure = run(&["ingest", "--once", "--provider", "azure"]).await;
    assert!(only_azure.status.success(), "{}", String::from_utf8_lossy(&only_azure.stderr));
    assert!(String::from_utf8_lossy(&only_azure.stdout).contains("azure: 1 records read, 1 new"));
    assert_eq!(app.ledger("Microsoft").await, (1, 1_234_567_890_123));

    let all = run(&["ingest", "--once"]).await;
    assert!(!all.status.success(), "AWS is unreachable, so the pass fails");
    let stderr = String::from_utf8_lossy(&all.stderr);
    assert!(stderr.contains("aws: failed") && stderr.contains("ingestion failed for aws"), "{stderr}");
    assert!(String::from_utf8_lossy(&all.stdout).contains("azure: 1 records read, 0 new"), "azure still ran");
    // The failure is one line naming the cause, not the SDK's nested structures.
    let line = stderr.lines().find(|l| l.starts_with("aws: failed")).unwrap();
    assert!(line.contains("Connection refused") && !line.contains('{') && !line.contains("DispatchFailure"), "{line}");

    // No AWS credentials anywhere: one line saying what to set.
    let mut bare = node.command(&env);
    for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"] {
        bare.env_remove(name);
    }
    let nowhere = dir.path().join("no-aws-config");
    bare.env("AWS_EC2_METADATA_DISABLED", "true").env("AWS_CONFIG_FILE", &nowhere);
    bare.env("AWS_SHARED_CREDENTIALS_FILE", &nowhere).args(["ingest", "--once", "--provider", "aws"]);
    let out = tokio::process::Command::from(bare).output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr.lines().find(|l| l.starts_with("aws: failed")).unwrap_or_default();
    assert!(line.contains("no AWS credentials found") && line.contains("AWS_ACCESS_KEY_ID"), "{stderr}");
    assert!(!stderr.contains("ProviderAttempt") && !stderr.contains("CredentialsNotLoaded"), "{stderr}");

    let unknown = run(&["ingest", "--once", "--provider", "oracle"]).await;
    assert!(!unknown.status.success());

    // A server on the same database reports both in /readyz.
    let mut server =
        node.serve(&[("COSTGUARD_PROVIDERS__SIMULATED__ENABLED", "false"), ("COSTGUARD_SECRETS__ENCRYPTION_KEY", KEY)]);
    let ready: serde_json::Value =
        crate::helpers::until("the server", std::time::Duration::from_secs(30), async || {
            let r = reqwest::get(format!("{}/readyz", node.url)).await.ok()?;
            r.json().await.ok()
        })
        .await;
    server.kill().unwrap();
    server.wait().unwrap();
    let source =
        |name: &str| ready["sources"].as_array().unwrap().iter().find(|s| s["source"] == name).cloned().unwrap();
    let (aws, azure) = (source("aws"), source("azure"));
    assert!(aws["last_error"].as_str().unwrap().contains("Cost Explorer"), "{aws}");
    assert!(aws["last_success_at"].is_null() && aws["lag_seconds"].is_null());
    assert!(azure["last_error"].is_null());
    assert!(azure["lag_seconds"].as_i64().unwrap() < 60, "{azure}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_once_sqlite() {
    one_pass_per_provider_and_a_failing_one_does_not_stop_the_others(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_once_postgres() {
    if crate::helpers::postgres_admin_url().is_some() {
        one_pass_per_provider_and_a_failing_one_does_not_stop_the_others(Backend::Postgres).await;
    }
}
