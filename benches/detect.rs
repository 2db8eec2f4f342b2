//! The detector at scale: `cargo bench --bench detect` (BENCH_SERIES, default 10,000 hourly
//! series of 90 days = 21.6 million points; BENCH_SWEEP_SERIES sizes part 2 on its own).
//!
//! 1. Scoring: each series is generated in memory, then only the detective's own replay
//!    (floors, drop rule and severity included) is timed, on one thread.
//! 2. The sweep: the same number of series stored as the ledger's hourly rollup in a SQLite
//!    database, then one whole `Detective::run` over 90 days is timed: reading the rollups,
//!    assembling the series, replaying them, and storing what it found. Printed as seconds
//!    and as a ratio to (1), measured in the same run.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a benchmark harness stops at the first failure
use costguard::detect::replay::{replay, to_units};
use costguard::detect::series::Series;
use costguard::detect::DetectSettings;
use costguard::domain::detect::series::SeriesId;
use std::time::{Duration, Instant};

const HOUR: i64 = 3_600;
const POINTS: usize = 90 * 24;

/// splitmix64 as a uniform in [0, 1).
fn uniform(mut x: u64) -> f64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    ((x ^ (x >> 31)) >> 11) as f64 / (1u64 << 53) as f64
}

/// Daily and weekly shape, noise, and a spike in one series out of fifty.
fn fill(series: u64) -> Series {
    let mut out = Vec::with_capacity(POINTS);
    let level = 1.0 + 100.0 * uniform(series);
    for i in 0..POINTS {
        let t = i as i64 * HOUR;
        let hour = (i % 24) as f64;
        let weekend = if (i / 24) % 7 >= 5 { 0.6 } else { 1.0 };
        let daily = 1.0 + 0.4 * (std::f64::consts::TAU * hour / 24.0).sin();
        let noise = 1.0 + 0.1 * (uniform(series * 1_000_003 + i as u64) - 0.5);
        let spike = if series.is_multiple_of(50) && i == POINTS - 30 { 20.0 } else { 1.0 };
        out.push((t, to_units(level * daily * weekend * noise * spike)));
    }
    let id = SeriesId::Service { provider: "bench".into(), sub_account: series.to_string(), service: "s".into() };
    Series {
        id,
        currency: "USD".into(),
        step_secs: HOUR,
        points: out,
        last_is_partial: true,
        running: None,
        last_as_of: None,
    }
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Stores `series` hourly series of `POINTS` hours ending at `end` in `cost_hourly` (and the
/// daily rollup), shaped like [`fill`]'s, with SQL so that setting up 21.6 million rows takes
/// seconds rather than minutes.
fn store_rollups(conn: &mut costguard::db::DbConn, series: u64, end: i64) {
    use diesel::connection::SimpleConnection;
    let start = end - POINTS as i64 * HOUR;
    let sql = format!(
        "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {last_series}),
              h(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM h WHERE j < {last_point})
         INSERT INTO cost_hourly
         SELECT strftime('%Y-%m-%d %H:%M:%S', {start} + j * 3600, 'unixepoch'), 'bench', 'acct-' || i, 's',
                NULL, 'USD',
                (1 + i % 100) * (CASE WHEN (j / 24) % 7 >= 5 THEN 6 ELSE 10 END)
                    * (CASE WHEN j % 24 BETWEEN 8 AND 18 THEN 14 ELSE 8 END)
                    * (CASE WHEN i % 50 = 0 AND j = {spike} THEN 20 ELSE 1 END)
                    + abs(random() % 50),
                0, 0, 0, 1, strftime('%Y-%m-%d %H:%M:%S', {start} + j * 3600, 'unixepoch')
         FROM s, h;
         UPDATE cost_hourly SET effective_whole = billed_whole;
         INSERT INTO cost_daily
         SELECT strftime('%Y-%m-%d 00:00:00', hour), provider_name, sub_account_id, service_name, region_id,
                billing_currency, SUM(billed_whole), 0, SUM(effective_whole), 0, SUM(records), MAX(updated_at)
         FROM cost_hourly GROUP BY 1, 2, 3, 4, 5, 6;",
        last_series = series - 1,
        last_point = POINTS - 1,
        spike = POINTS - 30,
    );
    match conn {
        costguard::db::DbConn::Sqlite(c) => c.batch_execute(&sql).expect("store the rollups"),
        costguard::db::DbConn::Postgres(_) => unreachable!("the sweep bench runs on SQLite"),
    }
}

/// Times one whole detective run over `series` stored series; returns (seconds, series seen,
/// anomalies opened).
fn sweep(series: u64) -> (f64, usize, usize) {
    use costguard::detect::series::Scope;
    use costguard::detect::Detective;
    let dir = tempfile::tempdir().expect("temp dir");
    let url = costguard::db::DatabaseUrl::sqlite_file(&dir.path().join("sweep.db"));
    let db = costguard::db::Db::open(&url, 2, Duration::from_secs(30)).expect("open the database");
    let end = chrono::DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z").expect("date").timestamp();
    let setup = Instant::now();
    store_rollups(&mut db.get_blocking().expect("connect"), series, end);
    println!("sweep: stored {series} series x {POINTS} hours as rollups in {:.1} s", setup.elapsed().as_secs_f64());
    let settings = DetectSettings { lookback_days: 90, tag_keys: Vec::new(), ..DetectSettings::default() };
    let (bus, _receivers) = costguard::bus::channels(1_024);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let now = chrono::DateTime::from_timestamp(end - HOUR / 2, 0).expect("now");
    let started = Instant::now();
    let summary =
        runtime.block_on(Detective::new(db, settings, bus).run(Scope::default(), now)).expect("the sweep runs");
    (started.elapsed().as_secs_f64(), summary.series, summary.opened)
}

fn main() {
    let series: u64 = std::env::var("BENCH_SERIES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let settings = DetectSettings::default();
    let mut scoring = Duration::ZERO;
    let mut opened = 0usize;
    for s in 0..series {
        let data = fill(s);
        let started = Instant::now();
        let result = replay(&data, &settings.rules_for(&data.id), &[], false);
        scoring += started.elapsed();
        opened += result.found.len();
    }
    let points = series as f64 * POINTS as f64;
    let secs = scoring.as_secs_f64();
    println!(
        "detect: {series} series x {POINTS} hourly points = {:.1}M points scored in {secs:.2}s on one thread: {:.1}M points/s; {opened} anomalies opened; peak RSS {} MB (target: under 2 s)",
        points / 1e6,
        points / secs / 1e6,
        peak_rss_kb() / 1024
    );
    // The sweep holds every series in memory today (about 1.7 GB per 1,000 series of 90 days),
    // so it can be sized apart from the scoring.
    let sweep_series: u64 = std::env::var("BENCH_SWEEP_SERIES").ok().and_then(|v| v.parse().ok()).unwrap_or(series);
    let (sweep_secs, seen, sweep_opened) = sweep(sweep_series);
    println!(
        "sweep: one detective run over {seen} stored series (90 days of hourly rollups, SQLite) in {sweep_secs:.2} s = {:.1}x the scoring of all {series} series; {sweep_opened} anomalies opened; peak RSS {} MB (target: 1 s)",
        sweep_secs / secs,
        peak_rss_kb() / 1024
    );
}
