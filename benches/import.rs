//! Import throughput: `cargo bench --bench import` (set BENCH_ROWS to change 1,000,000).
//!
//! Generates a FOCUS CSV, imports it (and then again, every row unchanged) with the release
//! `costguard import focus` into
//! SQLite and (when TEST_DATABASE_URL names a PostgreSQL server) PostgreSQL, and compares
//! with the raw rate of `sqlite3 .import` and `psql \copy` of the same file into a plain,
//! unindexed table, and into a table with the indexes an idempotent ledger needs (a unique
//! identity index and a period index, as `cost_records` has). Prints rows/s and each
//! process's peak RSS (VmHWM, sampled from /proc).

#![allow(clippy::expect_used, clippy::unwrap_used)] // a benchmark harness stops at the first failure
mod common;

use common::{generate, COLUMNS};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Run {
    secs: f64,
    peak_rss_mb: f64,
}

/// Runs a command to completion, sampling its peak RSS from /proc every 20 ms.
fn measure(mut command: Command) -> Run {
    let started = Instant::now();
    let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn");
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                std::io::Read::read_to_string(&mut e, &mut err).ok();
            }
            assert!(status.success(), "{command:?} failed: {err}");
            break;
        }
        if let Ok(text) = std::fs::read_to_string(&status_path) {
            if let Some(kb) = text
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
            {
                peak_kb = peak_kb.max(kb);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Run { secs: started.elapsed().as_secs_f64(), peak_rss_mb: peak_kb as f64 / 1024.0 }
}

fn costguard(database_url: &str, file: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_costguard"));
    c.args(["import", "focus", file.to_str().expect("utf-8 path")])
        .env("COSTGUARD_DATABASE__URL", database_url)
        .env("COSTGUARD_LOG__LEVEL", "warn");
    c
}

fn plain_table_sql() -> String {
    format!(
        "CREATE TABLE raw ({});",
        COLUMNS.split(',').map(|c| format!("\"{c}\" TEXT")).collect::<Vec<_>>().join(", ")
    )
}

/// The same table with the ledger's two indexes: a unique index over the dimensions that
/// identify a line item here, and one on the charge period.
fn indexed_table_sql() -> String {
    let identity = r#""ResourceId", "ChargePeriodStart", "SkuPriceId", "ServiceName", "SubAccountId", "Tags""#;
    format!(
        "{} CREATE UNIQUE INDEX raw_identity ON raw ({identity}); CREATE INDEX raw_period ON raw (\"ChargePeriodStart\");",
        plain_table_sql()
    )
}

fn sqlite_import(db: &Path, create: &str, csv: &Path) -> Command {
    let mut c = Command::new("sqlite3");
    c.arg(db).args([create, ".mode csv", &format!(".import --skip 1 {} raw", csv.display())]);
    c
}

fn psql_copy(url: &str, csv: &Path) -> Command {
    let mut c = Command::new("psql");
    let copy = format!("\\copy raw FROM '{}' WITH (FORMAT csv, HEADER true)", csv.display());
    c.args([url, "-v", "ON_ERROR_STOP=1", "-q", "-c", &copy]);
    c
}

fn report(label: &str, rows: u64, run: &Run) -> f64 {
    let rate = rows as f64 / run.secs;
    println!("{label:<42} {:>9.0} rows/s  {:>7.1} s  peak RSS {:>7.1} MB", rate, run.secs, run.peak_rss_mb);
    rate
}

fn psql(url: &str, sql: &str) {
    let ok =
        Command::new("psql").args([url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql]).status().expect("psql").success();
    assert!(ok, "psql failed: {sql}");
}

fn main() {
    let rows: u64 = std::env::var("BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let csv: PathBuf = dir.path().join("focus.csv");
    let started = Instant::now();
    let nov_first = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).expect("date");
    generate(&csv, rows, nov_first).expect("generate CSV");
    let size_mb = std::fs::metadata(&csv).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
    println!("generated {rows} FOCUS rows ({size_mb:.0} MB) in {:.1} s\n", started.elapsed().as_secs_f64());

    let db = dir.path().join("costguard.db");
    let ours = report(
        "costguard import focus -> SQLite",
        rows,
        &measure(costguard(&format!("sqlite://{}", db.display()), &csv)),
    );
    let again = report(
        "the same file again (every row unchanged)",
        rows,
        &measure(costguard(&format!("sqlite://{}", db.display()), &csv)),
    );
    println!("{:<42} {:>9.2}x the time of the first import\n", "SQLite re-import", ours / again);
    let raw = report(
        "sqlite3 .import (plain table, no index)",
        rows,
        &measure(sqlite_import(&dir.path().join("raw.db"), &plain_table_sql(), &csv)),
    );
    let indexed = report(
        "sqlite3 .import (same two indexes)",
        rows,
        &measure(sqlite_import(&dir.path().join("indexed.db"), &indexed_table_sql(), &csv)),
    );
    println!("{:<42} {:>9.2}x the raw rate, {:.2}x the indexed raw rate\n", "SQLite ratio", ours / raw, ours / indexed);

    let Some(admin) = std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) else {
        println!("TEST_DATABASE_URL not set: PostgreSQL figures skipped");
        return;
    };
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).expect("URL with a database");
    for name in ["cg_bench", "cg_bench_raw", "cg_bench_indexed"] {
        psql(&admin, &format!("DROP DATABASE IF EXISTS {name}"));
        psql(&admin, &format!("CREATE DATABASE {name}"));
    }
    let ours =
        report("costguard import focus -> PostgreSQL", rows, &measure(costguard(&format!("{base}/cg_bench"), &csv)));
    let again = report(
        "the same file again (every row unchanged)",
        rows,
        &measure(costguard(&format!("{base}/cg_bench"), &csv)),
    );
    println!("{:<42} {:>9.2}x the time of the first import\n", "PostgreSQL re-import", ours / again);
    let (raw_url, indexed_url) = (format!("{base}/cg_bench_raw"), format!("{base}/cg_bench_indexed"));
    psql(&raw_url, &plain_table_sql());
    psql(&indexed_url, &indexed_table_sql());
    let raw = report("psql \\copy (plain table, no index)", rows, &measure(psql_copy(&raw_url, &csv)));
    let indexed = report("psql \\copy (same two indexes)", rows, &measure(psql_copy(&indexed_url, &csv)));
    println!(
        "{:<42} {:>9.2}x the raw rate, {:.2}x the indexed raw rate",
        "PostgreSQL ratio",
        ours / raw,
        ours / indexed
    );
}
