//! Both migration trees hold the same versions, and up -> down -> up works on each backend.

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
