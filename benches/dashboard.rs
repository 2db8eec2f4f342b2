//! Dashboard page latency with a big ledger: `cargo bench --bench dashboard`
//! (BENCH_ROWS changes the 1,000,000 cost rows; BENCH_REQUESTS the 200 timed requests per page).
//!
//! Imports the rows with the release binary, starts `costguard serve` on them (the detective's
//! start-up sweep fills the series histories the pages draw from), logs in through the real
//! log-in form, then requests every page in turn and prints p50 / p95 / max server-to-client
//! time per page. The target is p95 under 50 ms. Runs on SQLite, and on PostgreSQL too when
//! TEST_DATABASE_URL names a server.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a benchmark harness stops at the first failure
mod common;

use std::path::Path;
use std::time::Instant;

const PAGES: [&str; 8] =
    ["/", "/anomalies", "/actions", "/audit", "/llm", "/settings/providers", "/settings/users", "ANOMALY"];

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

async fn measure(label: &str, database_url: &str, csv: &Path, dir: &Path, requests: usize) {
    let served = common::server::start(label, database_url, csv, dir).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let (base, session, anomaly) = (&served.base, &served.session, &served.anomaly);
    println!("{label}: {:<24} {:>8} {:>8} {:>8} {:>8}", "page", "p50 ms", "p95 ms", "max ms", "KiB");
    for page in PAGES {
        let path = match (page, anomaly) {
            ("ANOMALY", Some(id)) => format!("/anomalies/{id}"),
            ("ANOMALY", None) => continue,
            (p, _) => p.to_string(),
        };
        let mut times = Vec::with_capacity(requests);
        let mut size = 0;
        for i in 0..requests + 10 {
            let t = Instant::now();
            let res = client.get(format!("{base}{path}")).header("cookie", session).send().await.unwrap();
            assert_eq!(res.status(), 200, "{path}");
            size = res.bytes().await.unwrap().len();
            if i >= 10 {
                times.push(t.elapsed().as_secs_f64() * 1_000.0);
            }
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{label}: {path:<24} {:>8.1} {:>8.1} {:>8.1} {:>8.0}",
            percentile(&times, 0.5),
            percentile(&times, 0.95),
            times[times.len() - 1],
            size as f64 / 1024.0
        );
    }
}

#[tokio::main]
async fn main() {
    let rows: u64 = std::env::var("BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let requests: usize = std::env::var("BENCH_REQUESTS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let dir = tempfile::tempdir().unwrap();
    let csv = common::server::ledger_file(dir.path(), rows);
    println!("{requests} timed requests per page\n");
    for (label, url, data) in common::server::databases(dir.path(), "cg_bench_dashboard") {
        measure(label, &url, &csv, &data, requests).await;
    }
}
