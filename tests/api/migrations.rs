//! Both migration trees hold the same versions, up -> down -> up works on each backend, and
//! replicas migrating a PostgreSQL database at once all start.

use crate::helpers::{fresh_database, postgres_admin_url, Backend};
use costguard::db::{migrate, DatabaseUrl, Db};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

fn versions(tree: &str) -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(tree);
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| {
            assert!(
                p.join("up.sql").exists() && p.join("down.sql").exists(),
                "{} needs up.sql and down.sql",
                p.display()
            );
            p.file_name().unwrap().to_string_lossy().into_owned()
        })
        .collect()
}

#[test]
fn both_trees_hold_the_same_versions() {
    let sqlite = versions("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, versions("postgres"));
}

fn round_trip(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = DatabaseUrl::parse(&fresh_database(backend, dir.path())).unwrap();
    let db = Db::open(&url, 2, Duration::from_secs(5)).unwrap();
    let mut conn = db.get_blocking().unwrap();
    assert!(migrate::is_current(&mut conn).unwrap());
    let reverted = migrate::revert_all(&mut conn).unwrap();
    assert_eq!(reverted, versions("sqlite").len());
    assert!(!migrate::is_current(&mut conn).unwrap());
    assert!(costguard::ledger::query::count_costs(&mut conn).is_err(), "tables are gone after down");
    let applied = migrate::run_pending(&mut conn).unwrap();
    assert_eq!(applied.len(), reverted);
    assert_eq!(costguard::ledger::query::count_costs(&mut conn).unwrap(), 0);
}

#[test]
fn up_down_up_on_sqlite() {
    round_trip(Backend::Sqlite);
}

#[test]
fn up_down_up_on_postgres() {
    if postgres_admin_url().is_some() {
        round_trip(Backend::Postgres);
    }
}

/// Replicas starting together on a fresh PostgreSQL database: each opens it (migrating what
/// is pending) at the same moment, and every one starts.
#[test]
fn replicas_migrating_at_once_all_start() {
    if postgres_admin_url().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = DatabaseUrl::parse(&fresh_database(Backend::Postgres, dir.path())).unwrap();
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || Db::open(&url, 1, Duration::from_secs(5)).map(|_| ()))
        })
        .collect();
    for start in starts {
        start.join().unwrap().unwrap_or_else(|e| panic!("a replica failed to start: {e}"));
    }
    let db = Db::open(&url, 1, Duration::from_secs(5)).unwrap();
    assert!(migrate::is_current(&mut db.get_blocking().unwrap()).unwrap());
}
