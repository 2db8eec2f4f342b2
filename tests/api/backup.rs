//! Backups taken while writes go on: every batch committed before `costguard backup` started
//! is in the restored database, whole, and nothing half-written is. SQLite through VACUUM
//! INTO; PostgreSQL through pg_dump/pg_restore. A restore onto a file a server holds is
//! refused.

use crate::helpers::{fresh_database, Backend, Bare, Node};
use chrono::{Duration, TimeZone, Utc};
use costguard::domain::focus::{CostRecord, Usage};
use costguard::domain::money::{Amount, Currency};
use costguard::ingest::Batch;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

const PER_BATCH: i64 = 40;

fn batch(i: i64) -> Batch {
    let start = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let costs = (0..PER_BATCH)
        .map(|j| {
            CostRecord::usage(Usage {
                provider: "AWS",
                billing_account_id: "123456789012".into(),
                sub_account_id: Some(format!("batch-{i}")),
                service_name: format!("service-{j}"),
                currency: Currency::usd(),
                start: start + Duration::hours(j),
                end: start + Duration::hours(j + 1),
                billed_cost: Amount::from_units(1_000_000 + i * 100 + j),
                effective_cost: Amount::from_units(1_000_000 + i * 100 + j),
            })
        })
        .collect();
    Batch { costs, llm_usage: Vec::new() }
}

/// Rows per batch number in a database.
async fn batches(db: &costguard::db::Db) -> std::collections::BTreeMap<i64, i64> {
    use costguard::db::schema::cost_records as cr;
    use diesel::prelude::*;
    let accounts: Vec<Option<String>> = db
        .run(|c| {
            cr::table
                .filter(cr::source.eq("load"))
                .select(cr::sub_account_id)
                .load(c)
                .map_err(costguard::db::DbError::from)
        })
        .await
        .unwrap();
    let mut out = std::collections::BTreeMap::new();
    for a in accounts.into_iter().flatten() {
        *out.entry(a.trim_start_matches("batch-").parse::<i64>().unwrap()).or_insert(0) += 1;
    }
    out
}

/// Some 24 MiB of filler, so that copying the file takes longer than a write even on a busy
/// CI machine: a backup that takes a few milliseconds would say nothing about whether writers
/// go on during it.
async fn grow(db: &costguard::db::Db) {
    use diesel::prelude::*;
    let sql = "CREATE TABLE filler AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 24) \
               SELECT randomblob(1048576) AS b FROM n";
    db.run(move |c| diesel::sql_query(sql).execute(c).map_err(costguard::db::DbError::from)).await.unwrap();
}

fn cli(url: &str, args: &[&str]) -> std::process::Output {
    let out = Node::new(url.to_string()).command(&[]).args(args).stderr(std::process::Stdio::piped()).output().unwrap();
    out
}

async fn a_backup_under_write_load_restores_every_committed_row(backend: Backend) {
    if backend == Backend::Postgres {
        let found = std::process::Command::new("pg_dump").arg("--version").output().is_ok_and(|o| o.status.success());
        if !crate::helpers::tool_present("pg_dump (apt-get install postgresql-client)", found) {
            return;
        }
    }
    let (dir, restored_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let url = fresh_database(backend, dir.path());
    let app = Bare::at(&url, dir.path()).await;
    if backend == Backend::Sqlite {
        grow(&app.db).await;
    }
    let (stop, committed) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(0i64)));
    let writer = {
        let (ingestor, stop, committed) = (app.ingestor(), stop.clone(), committed.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                ingestor.write("load", batch(i)).await.unwrap();
                i += 1;
                *committed.lock().unwrap() = i;
            }
        })
    };
    crate::helpers::until("some writes", std::time::Duration::from_secs(30), async || {
        (*committed.lock().unwrap() >= 10).then_some(())
    })
    .await;
    let file = dir.path().join("costguard.backup");
    let before = *committed.lock().unwrap();
    let out = tokio::task::spawn_blocking({
        let (url, file) = (url.clone(), file.clone());
        move || cli(&url, &["backup", file.to_str().unwrap()])
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let after = *committed.lock().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    stop.store(true, Ordering::SeqCst);
    writer.await.unwrap();
    assert!(after > before, "the writes went on during the backup ({before} → {after})");

    let target = fresh_database(backend, restored_dir.path());
    let refused = cli(&target, &["restore", file.to_str().unwrap()]);
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("--yes"));
    let out = cli(&target, &["restore", file.to_str().unwrap(), "--yes"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let restored = Bare::at(&target, restored_dir.path()).await;
    let found = batches(&restored.db).await;
    for i in 0..before {
        assert_eq!(found.get(&i), Some(&PER_BATCH), "batch {i} was committed before the backup began");
    }
    assert!(found.values().all(|n| *n == PER_BATCH), "no batch is half there");
    assert!(found.keys().all(|i| *i <= after), "nothing from after the backup ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_write_load_restores_every_committed_row_sqlite() {
    a_backup_under_write_load_restores_every_committed_row(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_write_load_restores_every_committed_row_postgres() {
    if crate::helpers::postgres_admin_url().is_some() {
        a_backup_under_write_load_restores_every_committed_row(Backend::Postgres).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_onto_a_served_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(Backend::Sqlite, dir.path());
    let _app = Bare::at(&url, dir.path()).await;
    let file = dir.path().join("b.sqlite");
    assert!(cli(&url, &["backup", file.to_str().unwrap()]).status.success());
    let again = cli(&url, &["backup", file.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let _server = costguard::cluster::SqliteGuard::take(&dir.path().join("costguard.db")).unwrap();
    let out = cli(&url, &["restore", file.to_str().unwrap(), "--yes"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("another CostGuard server"), "{out:?}");
    let junk = dir.path().join("junk");
    std::fs::write(&junk, b"not a database").unwrap();
    drop(_server);
    let out = cli(&url, &["restore", junk.to_str().unwrap(), "--yes"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a SQLite database"), "{out:?}");
}
