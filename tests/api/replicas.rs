//! Several replicas with real processes. On PostgreSQL: two `costguard serve` share one
//! database; the approval is taken on the follower and executed by the leader; the leader is
//! killed (SIGKILL) mid-execution; the follower takes over within the lease, reconciles, and
//! the action ran once; a third replica joining changes nothing. On SQLite, a second server
//! on the same file is refused with a clear message.

use crate::helpers::{fresh_database, postgres_admin_url, until, Backend, Node};
use serde_json::{json, Value};
use std::process::Stdio;
use std::time::{Duration, Instant};

const LIVE_JOB: &str = "bquxjob_7d3e9b21_live_loop";
/// Short, so the test is quick; the property is "within the lease".
const LEASE_SECS: u64 = 6;

struct Replica {
    node: Node,
    child: crate::helpers::Served,
}

impl Replica {
    fn start(database_url: &str, name: &str) -> Replica {
        let node = Node::new(database_url.to_string());
        let lease = LEASE_SECS.to_string();
        let child = node.serve(&[
            // Each cloud call answers 20 s after its effect, so the action sits in `executing`.
            ("COSTGUARD_PROVIDERS__SIMULATED__API_LATENCY_MS", "20000"),
            ("COSTGUARD_CLUSTER__LEASE_SECS", lease.as_str()),
            ("COSTGUARD_CLUSTER__NODE_NAME", name),
        ]);
        Replica { node, child }
    }

    async fn ready(&self, client: &reqwest::Client) -> Option<Value> {
        client.get(format!("{}/readyz", self.node.url)).send().await.ok()?.json().await.ok()
    }

    async fn leads(&self, client: &reqwest::Client) -> Option<bool> {
        self.ready(client).await.and_then(|r| r["leader"].as_bool())
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn get(client: &reqwest::Client, key: &str, url: String) -> Option<Value> {
    client.get(url).bearer_auth(key).send().await.ok()?.json().await.ok()
}

async fn executor_calls(client: &reqwest::Client, key: &str, base: &str, id: &str) -> usize {
    let audit = get(client, key, format!("{base}/api/v1/audit?limit=1000")).await.unwrap();
    audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "executor.call" && e["target"].as_str().unwrap_or("").contains(id))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_follower_takes_over_a_killed_leader_and_nothing_runs_twice() {
    if postgres_admin_url().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(Backend::Postgres, dir.path());
    let cli = Node::new(url.clone());
    let key = cli.create_admin_key();
    let client = reqwest::Client::new();

    let mut a = Replica::start(&url, "replica-a");
    until("replica a to lead", Duration::from_secs(60), async || a.leads(&client).await.filter(|l| *l)).await;
    let b = Replica::start(&url, "replica-b");
    let b_leads = until("replica b to serve", Duration::from_secs(60), async || b.leads(&client).await).await;
    assert!(!b_leads, "one leader at a time");

    // The proposal is visible on the follower, and approved there.
    let action = until("a proposal to cancel the live job", Duration::from_secs(90), async || {
        let list = get(&client, &key, format!("{}/api/v1/actions?status=pending_approval", b.node.url)).await?;
        list.as_array()?.iter().find(|a| a["target"] == LIVE_JOB).cloned()
    })
    .await;
    let id = action["id"].as_str().unwrap().to_string();
    let approve = client.post(format!("{}/api/v1/actions/{id}/approve", b.node.url)).bearer_auth(&key).json(&json!({}));
    assert_eq!(approve.send().await.unwrap().status(), 200);
    // The leader picks it up from the database.
    until("the leader to execute it", Duration::from_secs(30), async || {
        let a = get(&client, &key, format!("{}/api/v1/actions/{id}", b.node.url)).await?;
        (a["status"] == "executing").then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    a.child.kill().unwrap(); // SIGKILL mid-execution
    a.child.wait().unwrap();
    let killed = Instant::now();

    until("replica b to take over within the lease", Duration::from_secs(30), async || {
        b.leads(&client).await.filter(|l| *l)
    })
    .await;
    let took = killed.elapsed();
    assert!(took <= Duration::from_secs(LEASE_SECS + 5), "took over after {took:?}");
    let done = until("the action to finish on the new leader", Duration::from_secs(60), async || {
        let a = get(&client, &key, format!("{}/api/v1/actions/{id}", b.node.url)).await?;
        (a["status"] == "succeeded").then_some(a)
    })
    .await;
    let starts = done["history"].as_array().unwrap().iter().filter(|h| h["command"] == "start").count();
    assert_eq!(starts, 1, "{done}");
    assert_eq!(executor_calls(&client, &key, &b.node.url, &id).await, 1, "the simulated cloud saw one execution");

    // A third replica joins: it follows, and nothing runs again.
    let c = Replica::start(&url, "replica-c");
    let c_leads = until("replica c to serve", Duration::from_secs(60), async || c.leads(&client).await).await;
    assert!(!c_leads);
    tokio::time::sleep(Duration::from_secs(LEASE_SECS)).await;
    assert_eq!((b.leads(&client).await, c.leads(&client).await), (Some(true), Some(false)));
    let after = get(&client, &key, format!("{}/api/v1/actions/{id}", c.node.url)).await.unwrap();
    assert_eq!(after["status"], "succeeded");
    assert_eq!(executor_calls(&client, &key, &c.node.url, &id).await, 1);
    drop(a);
    let verify = cli.command(&[]).args(["audit", "verify"]).output().unwrap();
    assert!(verify.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_one_sqlite_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(Backend::Sqlite, dir.path());
    let first = Replica::start(&url, "first");
    let client = reqwest::Client::new();
    until("the first server", Duration::from_secs(60), async || first.ready(&client).await).await;
    let second = Node::new(url.clone());
    let out = second.command(&[]).arg("serve").stderr(Stdio::piped()).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("another CostGuard server is already using"), "{stderr}");
    assert!(first.leads(&client).await == Some(true), "the first one carries on");
}

/// Ledger writes by a process that is not the leader (a follower, a CLI import) reach the
/// leader's detective through the database within seconds, not at the next sweep.
async fn writes_elsewhere_wake_the_leaders_detective(app: crate::helpers::Bare) {
    use costguard::detect::{DetectSettings, Detective};
    let (bus, _receivers) = costguard::bus::channels(100);
    let (_wake_tx, wake_rx) = tokio::sync::mpsc::channel(10);
    let cancel = tokio_util::sync::CancellationToken::new();
    let detective = Detective::new(app.db.clone(), DetectSettings::default(), bus);
    let worker = tokio::spawn(costguard::worker::run(
        costguard::detect::worker(detective),
        wake_rx,
        costguard::cluster::Leadership::always(),
        cancel.clone(),
    ));
    let series = || async {
        use costguard::db::schema::detect_series as ds;
        use diesel::prelude::*;
        app.db.run(|c| ds::table.count().get_result::<i64>(c).map_err(costguard::db::DbError::from)).await.unwrap()
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(series().await, 0, "nothing to watch yet");
    // Another process's ingestor: its own bus, which no detective hears.
    let elsewhere = costguard::ingest::Ingestor::new(app.db.clone(), costguard::bus::channels(1).0);
    let now = chrono::Utc::now();
    let sim = costguard::config::SimulatedSettings { enabled: true, incidents: false, ..Default::default() };
    let batch =
        costguard::providers::simulated::generate(&sim, now, now - chrono::Duration::days(3), now, &Default::default());
    elsewhere.write("import", batch).await.unwrap();
    until("the leader's detective to pick the write up", Duration::from_secs(15), async || {
        (series().await > 0).then_some(())
    })
    .await;
    cancel.cancel();
    worker.await.unwrap();
}

crate::on_both_bare!(writes_elsewhere_wake_the_leaders_detective);

/// A cleanly stopped leader hands the lease over at once; a leader whose lease was taken (as
/// after a pause long enough for it to expire and another replica to take it) stops leading
/// at its next renewal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_lease_stops_the_leader() {
    if postgres_admin_url().is_none() {
        return;
    }
    use costguard::cluster::{start, ClusterSettings};
    let dir = tempfile::tempdir().unwrap();
    let app = crate::helpers::Bare::at(&fresh_database(Backend::Postgres, dir.path()), dir.path()).await;
    // A long lease: a hand-over faster than it can only come from the release.
    let settings = |name: &str| ClusterSettings { lease_secs: 30, node_name: name.into() };
    let (stop_one, stop_two) = (tokio_util::sync::CancellationToken::new(), tokio_util::sync::CancellationToken::new());
    let (one, one_task) = start(&app.db, &settings("one"), stop_one.clone());
    until("one to lead", Duration::from_secs(10), async || one.is_leader().then_some(())).await;
    let (two, two_task) = start(&app.db, &settings("two"), stop_two.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(one.is_leader() && !two.is_leader());

    stop_one.cancel();
    one_task.unwrap().await.unwrap();
    until("two to take over well within the lease", Duration::from_secs(6), async || two.is_leader().then_some(()))
        .await;

    app.db
        .run(|c| {
            use diesel::prelude::*;
            diesel::sql_query("UPDATE leases SET holder = 'someone-else'")
                .execute(c)
                .map_err(costguard::db::DbError::from)
        })
        .await
        .unwrap();
    until("two to step down", Duration::from_secs(15), async || (!two.is_leader()).then_some(())).await;
    stop_two.cancel();
    two_task.unwrap().await.unwrap();
    let holder =
        app.db.run(|c| costguard::cluster::store::leader(c).map_err(costguard::db::DbError::from)).await.unwrap();
    assert_eq!(holder.as_deref(), Some("someone-else"), "a replica never releases what it does not hold");
}

/// A replica that takes the lead runs each source once, as a first start would: a follower
/// started with a source that has no schedule backfills when the leader goes away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_run_once_when_a_replica_takes_the_lead() {
    if postgres_admin_url().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(Backend::Postgres, dir.path());
    let settings = |simulated: bool| {
        let mut s = crate::helpers::test_settings(&url, dir.path());
        (s.providers.simulated.enabled, s.providers.simulated.history_days) = (simulated, 2);
        // Only at start-up (or on taking the lead): no tick would ever come.
        s.providers.simulated.schedule = String::new();
        s
    };
    let leader = costguard::app::Application::build(settings(false)).await.unwrap();
    let (stop_leader, db) = (leader.stop_handle(), leader.db().clone());
    let leader = tokio::spawn(leader.run_until_stopped());
    until("a leader", Duration::from_secs(10), async || {
        db.run(|c| costguard::cluster::store::leader(c).map_err(costguard::db::DbError::from)).await.unwrap()
    })
    .await;
    let follower = costguard::app::Application::build(settings(true)).await.unwrap();
    let stop_follower = follower.stop_handle();
    let follower = tokio::spawn(follower.run_until_stopped());
    let rows = || async {
        use costguard::db::schema::cost_records as cr;
        use diesel::prelude::*;
        db.run(|c| cr::table.count().get_result::<i64>(c).map_err(costguard::db::DbError::from)).await.unwrap()
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(rows().await, 0, "the follower's source waits");
    stop_leader.stop(true).await;
    leader.await.unwrap().unwrap();
    until("the new leader's backfill", Duration::from_secs(30), async || (rows().await > 0).then_some(())).await;
    stop_follower.stop(true).await;
    follower.await.unwrap().unwrap();
}
