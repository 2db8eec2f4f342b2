//! Crash safety with real processes: `costguard serve` is killed with SIGKILL while an
//! approved cancel is executing, then restarted on the same database. The action ends
//! succeeded, and the simulated cloud was called exactly once.

use crate::helpers::{fresh_database, postgres_admin_url, until, Backend, Bare, Node};
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
    let approve = approve.await.unwrap();
    assert_eq!(approve.status(), 200, "{}", approve.text().await.unwrap_or_default());
    until("the action to be executing", Duration::from_secs(30), async || {
        let a = get(&client, &key, format!("{}/api/v1/actions/{id}", node.url)).await?;
        (a["status"] == "executing").then_some(())
    })
    .await;
    // Let the call reach the cloud (its stop is persisted), then kill the process before the
    // cloud answers. A fixed sleep here raced a loaded CI machine: killed between the audited
    // intent and the effect, the restart rightly calls again, and the test counted two calls.
    let db = Bare::at(&node.database_url, dir.path()).await;
    until("the simulated cloud to have stopped the job", Duration::from_secs(30), async || {
        stopped(&db, LIVE_JOB).await.then_some(())
    })
    .await;
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
    assert_eq!(calls, 1, "the simulated cloud saw exactly one execution: {audit}");
    second.kill().unwrap();
    second.wait().unwrap();
    let verify = node.command(&[]).args(["audit", "verify"]).output().unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
}

/// Whether the simulated cloud has recorded its stop of `resource`.
async fn stopped(bare: &Bare, resource: &str) -> bool {
    use costguard::db::schema::sim_resource_stops as stops;
    use diesel::prelude::*;
    let resource = resource.to_string();
    let found: Option<String> = bare
        .db
        .run(move |c| {
            stops::table
                .filter(stops::resource_id.eq(resource))
                .select(stops::resource_id)
                .first(c)
                .optional()
                .map_err(costguard::db::DbError::from)
        })
        .await
        .unwrap();
    found.is_some()
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
