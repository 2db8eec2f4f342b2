//! Scoring throughput of the detector: 10,000 hourly series of 90 days (21.6 million points)
//! through the production tracker on one thread, printing points/s and peak memory.
//! Target: the whole set in under 2 s. `cargo bench --bench detect` (BENCH_SERIES resizes).
//!
//! Each series is generated before it is scored; only scoring (the detective's own replay,
//! floors, drop rule and severity included) is timed.

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
}
