//! Crash safety with real processes: `costguard serve` is killed with SIGKILL while an
//! approved cancel is executing, then restarted on the same database. The action ends
//! succeeded, and the simulated cloud was called exactly once.

use crate::helpers::{fresh_database, postgres_admin_url, until, Backend, Node};
use serde_json::{json, Value};
use std::time::Duration;

const LIVE_JOB: &str = "bquxjob_7d3e9b21_live_loop";

async fn get(client: &reqwest::Client, key: &str, url: String) -> Option<Value> {
    client.get(url).bearer_auth(key).send().await.ok()?.json().await.ok()
}

async fn killed_mid_execution(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::new(fresh_database(backend, dir.path()));
    let key = node.create_admin_key();
    let client = reqwest::Client::new();

    // Each cloud call answers 20 s after its effect, so the action sits in `executing`.
    let mut first = node.serve(&[("COSTGUARD_PROVIDERS__SIMULATED__API_LATENCY_MS", "20000")]);
    let action = until("a proposal to cancel the live job", Duration::from_secs(90), async || {
        let list = get(&client, &key, format!("{}/api/v1/actions?status=pending_approval", node.url)).await?;
        list.as_array()?.iter().find(|a| a["target"] == LIVE_JOB).cloned()
    })
    .await;
    let id = action["id"].as_str().unwrap().to_string();
    let approve =
        client.post(format!("{}/api/v1/actions/{id}/approve", node.url)).bearer_auth(&key).json(&json!({})).send();
    assert_eq!(approve.await.unwrap().status(), 200);
    until("the action to be executing", Duration::from_secs(30), async || {
        let a = get(&client, &key, format!("{}/api/v1/actions/{id}", node.url)).await?;
        (a["status"] == "executing").then_some(())
    })
    .await;
    // Let the call reach the cloud, then kill the process before it answers.
    tokio::time::sleep(Duration::from_millis(500)).await;
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();

    let mut second = node.serve(&[]);
    let done = until("the action to finish after the restart", Duration::from_secs(60), async || {
        let a = get(&client, &key, format!("{}/api/v1/actions/{id}", node.url)).await?;
        (a["status"] == "succeeded").then_some(a)
    })
    .await;
    let starts = done["history"].as_array().unwrap().iter().filter(|h| h["command"] == "start").count();
    assert_eq!(starts, 1, "{done}");
    let audit = get(&client, &key, format!("{}/api/v1/audit?limit=1000", node.url)).await.unwrap();
    let calls = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "executor.call" && e["target"].as_str().unwrap_or("").contains(&id))
        .count();
    assert_eq!(calls, 1, "the simulated cloud saw exactly one execution");
    second.kill().unwrap();
    second.wait().unwrap();
    let verify = node.command(&[]).args(["audit", "verify"]).output().unwrap();
    assert!(verify.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_while_executing_sqlite() {
    killed_mid_execution(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_while_executing_postgres() {
    if postgres_admin_url().is_some() {
        killed_mid_execution(Backend::Postgres).await;
    }
}
