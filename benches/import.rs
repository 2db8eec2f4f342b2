//! Import throughput: `cargo bench --bench import` (set BENCH_ROWS to change 1,000,000).
//!
//! Generates a FOCUS CSV, imports it with the release `costguard import focus` into
//! SQLite and (when TEST_DATABASE_URL names a PostgreSQL server) PostgreSQL, and compares
//! with the raw rate of `sqlite3 .import` and `psql \copy` of the same file into a plain,
//! unindexed table, and into a table with the indexes an idempotent ledger needs (a unique
//! identity index and a period index, as `cost_records` has). Prints rows/s and each
//! process's peak RSS (VmHWM, sampled from /proc).

#![allow(clippy::expect_used, clippy::unwrap_used)] // a benchmark harness stops at the first failure
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const COLUMNS: &str = "AvailabilityZone,BilledCost,BillingAccountId,BillingAccountName,BillingCurrency,BillingPeriodEnd,BillingPeriodStart,ChargeCategory,ChargeClass,ChargeDescription,ChargeFrequency,ChargePeriodEnd,ChargePeriodStart,CommitmentDiscountCategory,CommitmentDiscountId,CommitmentDiscountName,CommitmentDiscountStatus,CommitmentDiscountType,ConsumedQuantity,ConsumedUnit,ContractedCost,ContractedUnitPrice,EffectiveCost,InvoiceIssuerName,ListCost,ListUnitPrice,PricingCategory,PricingQuantity,PricingUnit,ProviderName,PublisherName,RegionId,RegionName,ResourceId,ResourceName,ResourceType,ServiceCategory,ServiceName,SkuId,SkuPriceId,SubAccountId,SubAccountName,Tags";

const SERVICES: [(&str, &str); 6] = [
    ("Amazon Elastic Compute Cloud", "Compute"),
    ("Amazon Simple Storage Service", "Storage"),
    ("Amazon Relational Database Service", "Databases"),
    ("AWS Lambda", "Compute"),
    ("Amazon CloudFront", "Networking"),
    ("Amazon DynamoDB", "Databases"),
];

fn generate(path: &Path, rows: u64) -> std::io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    writeln!(out, "{COLUMNS}")?;
    let base = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).expect("date");
    for i in 0..rows {
        // 2,000 line items per hour; hours run on from 1 November.
        let start = base + chrono::Duration::hours((i / 2_000) as i64);
        let (start, end) =
            (start.format("%Y-%m-%d %H:%M:%S"), (start + chrono::Duration::hours(1)).format("%Y-%m-%d %H:%M:%S"));
        let (service, category) = SERVICES[(i % 6) as usize];
        let cost = format!("{}.{:011}", i % 7, (i * 7_919) % 100_000_000_000);
        writeln!(
            out,
            "NULL,{cost},1234567890123,Bench Co,USD,2027-01-01 00:00:00,2026-11-01 00:00:00,Usage,NULL,\"{service} usage\",Usage-Based,{end},{start},NULL,NULL,NULL,NULL,NULL,1.000000000000000,Hrs,{cost},0.1,{cost},\"Amazon Web Services, Inc.\",{cost},0.1,Standard,1.00000000000,Hrs,AWS,\"Amazon Web Services, Inc.\",us-east-1,US East (N. Virginia),arn:aws:ec2:us-east-1:1:instance/i-{:08x},res-{},Instance,{category},{service},SKU{},SKU{}.PRICE,{},acct-{},\"{{\"\"team\"\": \"\"t{}\"\"}}\"",
            i % 2_000,
            i % 2_000,
            i % 97,
            i % 97,
            210_000_000_000u64 + i % 13,
            i % 13,
            i % 5
        )?;
    }
    out.flush()
}

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
    generate(&csv, rows).expect("generate CSV");
    let size_mb = std::fs::metadata(&csv).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
    println!("generated {rows} FOCUS rows ({size_mb:.0} MB) in {:.1} s\n", started.elapsed().as_secs_f64());

    let db = dir.path().join("costguard.db");
    let ours = report(
        "costguard import focus -> SQLite",
        rows,
        &measure(costguard(&format!("sqlite://{}", db.display()), &csv)),
    );
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
