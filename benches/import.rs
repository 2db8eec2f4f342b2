//! Import throughput: `cargo bench --bench import` (BENCH_ROWS, default 1,000,000; BENCH_RUNS
//! alternating rounds, default 3, of which the medians are compared).
//!
//! Generates a FOCUS CSV, imports it (and then again, every row unchanged) with the release
//! `costguard import focus` into
//! SQLite and (when TEST_DATABASE_URL names a PostgreSQL server) PostgreSQL, and compares
//! with the raw rate of `sqlite3 .import` and `psql \copy` of the same file into a plain,
//! unindexed table, and into a table with the indexes an idempotent ledger needs (a unique
//! identity index and a period index, as `cost_records` has). Prints rows/s and each
//! process's peak RSS (VmHWM, sampled from /proc). Set BENCH_CSV to keep the generated file there
//! (for profiling the import by hand).

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

fn psql(url: &str, sql: &str) {
    let ok =
        Command::new("psql").args([url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql]).status().expect("psql").success();
    assert!(ok, "psql failed: {sql}");
}

/// The runs of one contender, one per round.
#[derive(Default)]
struct Runs(Vec<Run>);

impl Runs {
    fn median_secs(&self) -> f64 {
        let mut secs: Vec<f64> = self.0.iter().map(|r| r.secs).collect();
        secs.sort_by(f64::total_cmp);
        secs[secs.len() / 2]
    }

    fn peak_rss_mb(&self) -> f64 {
        self.0.iter().map(|r| r.peak_rss_mb).fold(0.0, f64::max)
    }

    fn print(&self, label: &str, rows: u64) {
        let all: Vec<String> = self.0.iter().map(|r| format!("{:.1}", r.secs)).collect();
        println!(
            "{label:<42} {:>9.0} rows/s  median {:>6.1} s of [{}]  peak RSS {:>6.1} MB",
            rows as f64 / self.median_secs(),
            self.median_secs(),
            all.join(", "),
            self.peak_rss_mb()
        );
    }
}

/// The contenders of one database, measured in turn within each round so that the machine's
/// drift over the benchmark falls on all of them alike.
#[derive(Default)]
struct Round {
    ours: Runs,
    again: Runs,
    raw: Runs,
    indexed: Runs,
}

impl Round {
    fn print(&self, database: &str, loader: &str, rows: u64) {
        self.ours.print(&format!("costguard import focus -> {database}"), rows);
        self.again.print("  the same file again (every row unchanged)", rows);
        self.raw.print(&format!("{loader} (plain table, no index)"), rows);
        self.indexed.print(&format!("{loader} (same two indexes)"), rows);
        let ours = self.ours.median_secs();
        println!(
            "{:<42} {:>9.2}x the loader's rate (plain), {:.2}x (indexed); re-import {:.2}x the time of a fresh import\n",
            format!("{database} ratio (medians)"),
            self.raw.median_secs() / ours,
            self.indexed.median_secs() / ours,
            self.again.median_secs() / ours
        );
    }
}

fn main() {
    let rows: u64 = std::env::var("BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let rounds: usize = std::env::var("BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(3).max(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let csv: PathBuf = std::env::var_os("BENCH_CSV").map(PathBuf::from).unwrap_or_else(|| dir.path().join("focus.csv"));
    let started = Instant::now();
    let nov_first = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).expect("date");
    generate(&csv, rows, nov_first).expect("generate CSV");
    let size_mb = std::fs::metadata(&csv).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
    println!(
        "generated {rows} FOCUS rows ({size_mb:.0} MB) in {:.1} s; {rounds} alternating rounds\n",
        started.elapsed().as_secs_f64()
    );

    let mut sqlite = Round::default();
    for round in 0..rounds {
        let db = dir.path().join(format!("costguard-{round}.db"));
        let url = format!("sqlite://{}", db.display());
        sqlite.ours.0.push(measure(costguard(&url, &csv)));
        sqlite.again.0.push(measure(costguard(&url, &csv)));
        sqlite.raw.0.push(measure(sqlite_import(
            &dir.path().join(format!("raw-{round}.db")),
            &plain_table_sql(),
            &csv,
        )));
        sqlite.indexed.0.push(measure(sqlite_import(
            &dir.path().join(format!("indexed-{round}.db")),
            &indexed_table_sql(),
            &csv,
        )));
        for name in [format!("costguard-{round}.db"), format!("raw-{round}.db"), format!("indexed-{round}.db")] {
            std::fs::remove_file(dir.path().join(name)).ok();
        }
    }
    sqlite.print("SQLite", "sqlite3 .import", rows);

    let Some(admin) = std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) else {
        println!("TEST_DATABASE_URL not set: PostgreSQL figures skipped");
        return;
    };
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).expect("URL with a database");
    let mut postgres = Round::default();
    for _ in 0..rounds {
        for name in ["cg_bench", "cg_bench_raw", "cg_bench_indexed"] {
            psql(&admin, &format!("DROP DATABASE IF EXISTS {name}"));
            psql(&admin, &format!("CREATE DATABASE {name}"));
        }
        let url = format!("{base}/cg_bench");
        postgres.ours.0.push(measure(costguard(&url, &csv)));
        postgres.again.0.push(measure(costguard(&url, &csv)));
        let (raw_url, indexed_url) = (format!("{base}/cg_bench_raw"), format!("{base}/cg_bench_indexed"));
        psql(&raw_url, &plain_table_sql());
        psql(&indexed_url, &indexed_table_sql());
        postgres.raw.0.push(measure(psql_copy(&raw_url, &csv)));
        postgres.indexed.0.push(measure(psql_copy(&indexed_url, &csv)));
    }
    postgres.print("PostgreSQL", "psql \\copy", rows);
}
