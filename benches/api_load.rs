//! Latency under concurrent load: `cargo bench --bench api_load` (BENCH_ROWS changes the
//! 1,000,000 cost rows, BENCH_SECS the 10 s per measurement). Needs `wrk` (Debian: wrk).
//!
//! On an imported ledger served by the release binary (SQLite, and PostgreSQL when
//! TEST_DATABASE_URL names a server), drives wrk at 1 and 8 connections against `/healthz`
//! (the anchor), the cost query, the anomaly list and two dashboard pages, and prints p50 and
//! p99 as ratios to `/healthz` at the same concurrency in the same run, with the count of
//! answers that were not 2xx. Targets: p99 of `/api/v1/costs` ≤ 3× `/healthz` at 1M rows,
//! never a 5xx.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a benchmark harness stops at the first failure
mod common;

use std::process::Command;

const TARGETS: [&str; 5] =
    ["/healthz", "/api/v1/costs?group_by=provider&granularity=day", "/api/v1/anomalies", "/", "/anomalies"];

#[derive(Clone, Copy)]
struct Latency {
    p50_ms: f64,
    p99_ms: f64,
    requests: u64,
    not_2xx: u64,
}

/// wrk prints latencies as `1.23ms`, `456.00us` or `1.20s`.
fn millis(text: &str) -> f64 {
    let (number, unit) = text.split_at(text.find(|c: char| c.is_ascii_alphabetic()).unwrap());
    let n: f64 = number.parse().unwrap();
    match unit {
        "us" => n / 1_000.0,
        "ms" => n,
        "s" => n * 1_000.0,
        "m" => n * 60_000.0,
        other => panic!("unknown unit {other}"),
    }
}

fn wrk(url: &str, connections: u32, secs: u32, headers: &[String]) -> Latency {
    let mut c = Command::new("wrk");
    c.args(["--latency", "-t", &connections.min(2).to_string(), "-c", &connections.to_string()]).args([
        "-d",
        &format!("{secs}s"),
        "--timeout",
        "30s",
    ]);
    for h in headers {
        c.args(["-H", h]);
    }
    let out = c.arg(url).output().expect("wrk (apt-get install wrk)");
    assert!(out.status.success(), "wrk failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let field = |prefix: &str| {
        text.lines().map(str::trim).find(|l| l.starts_with(prefix)).map(|l| l[prefix.len()..].trim().to_string())
    };
    Latency {
        p50_ms: millis(&field("50%").unwrap()),
        p99_ms: millis(&field("99%").unwrap()),
        requests: text
            .lines()
            .find(|l| l.contains("requests in"))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
        not_2xx: field("Non-2xx or 3xx responses:").and_then(|n| n.parse().ok()).unwrap_or(0),
    }
}

#[tokio::main]
async fn main() {
    let rows: u64 = std::env::var("BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let secs: u32 = std::env::var("BENCH_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let dir = tempfile::tempdir().unwrap();
    let csv = common::server::ledger_file(dir.path(), rows);
    for (label, url, data) in common::server::databases(dir.path(), "cg_bench_api_load") {
        let served = common::server::start(label, &url, &csv, &data).await;
        let headers = [format!("Authorization: Bearer {}", served.key), format!("Cookie: {}", served.session)];
        println!(
            "{label}: {:<50} {:>5} {:>9} {:>9} {:>8} {:>8} {:>8} {:>7}",
            "target", "conns", "p50 ms", "p99 ms", "p50 ×", "p99 ×", "reqs", "non-2xx"
        );
        for connections in [1, 8] {
            let mut anchor: Option<Latency> = None;
            for target in TARGETS {
                let l = wrk(&format!("{}{target}", served.base), connections, secs, &headers);
                let a = *anchor.get_or_insert(l);
                let (r50, r99) = (l.p50_ms / a.p50_ms, l.p99_ms / a.p99_ms);
                println!(
                    "{label}: {target:<50} {connections:>5} {:>9.2} {:>9.2} {r50:>8.1} {r99:>8.1} {:>8} {:>7}",
                    l.p50_ms, l.p99_ms, l.requests, l.not_2xx
                );
            }
        }
    }
}
