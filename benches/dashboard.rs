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

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PAGES: [&str; 8] =
    ["/", "/anomalies", "/actions", "/audit", "/llm", "/settings/providers", "/settings/users", "ANOMALY"];

fn binary(database_url: &str, port: u16, data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_costguard"));
    c.env("COSTGUARD_DATABASE__URL", database_url)
        .env("COSTGUARD_DATA__DIR", data)
        .env("COSTGUARD_SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("COSTGUARD_PROVIDERS__SIMULATED__ENABLED", "false")
        .env("COSTGUARD_LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    c
}

fn run_with_stdin(mut c: Command, input: &str) -> String {
    let mut child = c.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

async fn measure(label: &str, database_url: &str, csv: &Path, dir: &Path, requests: usize) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let started = Instant::now();
    let mut import = binary(database_url, port, dir);
    import.args(["import", "focus", csv.to_str().unwrap()]);
    assert!(import.status().unwrap().success());
    println!("{label}: imported in {:.1} s", started.elapsed().as_secs_f64());
    let mut create = binary(database_url, port, dir);
    create.args(["user", "create", "--name", "bench", "--role", "admin"]);
    run_with_stdin(create, "bench-password-1\n");
    let key = run_with_stdin(
        {
            let mut c = binary(database_url, port, dir);
            c.args(["apikey", "create", "--name", "bench", "--role", "admin"]);
            c
        },
        "",
    );
    let key = key.lines().last().unwrap().trim().to_string();
    let mut server: Child = {
        let mut c = binary(database_url, port, dir);
        c.arg("serve");
        c.spawn().unwrap()
    };
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    // Wait for the start-up sweep to store every series' history.
    let sweep = Instant::now();
    loop {
        let series = client.get(format!("{base}/api/v1/anomalies/series")).bearer_auth(&key).send().await;
        if let Ok(r) = series {
            if r.json::<serde_json::Value>()
                .await
                .ok()
                .and_then(|v| v.as_array().map(|a| !a.is_empty()))
                .unwrap_or(false)
            {
                break;
            }
        }
        assert!(sweep.elapsed() < Duration::from_secs(600), "the detective never finished its sweep");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!("{label}: first detection sweep done {:.1} s after start", sweep.elapsed().as_secs_f64());

    let login = client.get(format!("{base}/login")).send().await.unwrap();
    let csrf_cookie =
        login.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_string();
    let csrf = csrf_cookie.split('=').nth(1).unwrap().to_string();
    let form = [("csrf", csrf.as_str()), ("name", "bench"), ("password", "bench-password-1"), ("next", "/")];
    let signed = client.post(format!("{base}/login")).header("cookie", &csrf_cookie).form(&form).send().await.unwrap();
    let session = signed
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("costguard_session="))
        .unwrap();
    let session = session.split(';').next().unwrap().to_string();
    let anomalies: serde_json::Value = client
        .get(format!("{base}/api/v1/anomalies?limit=1"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let anomaly = anomalies.as_array().and_then(|a| a.first()).and_then(|a| a["id"].as_str()).map(str::to_string);

    println!("{label}: {:<24} {:>8} {:>8} {:>8} {:>8}", "page", "p50 ms", "p95 ms", "max ms", "KiB");
    for page in PAGES {
        let path = match (page, &anomaly) {
            ("ANOMALY", Some(id)) => format!("/anomalies/{id}"),
            ("ANOMALY", None) => continue,
            (p, _) => p.to_string(),
        };
        let mut times = Vec::with_capacity(requests);
        let mut size = 0;
        for i in 0..requests + 10 {
            let t = Instant::now();
            let res = client.get(format!("{base}{path}")).header("cookie", &session).send().await.unwrap();
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
    server.kill().ok();
    server.wait().ok();
}

#[tokio::main]
async fn main() {
    let rows: u64 = std::env::var("BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let requests: usize = std::env::var("BENCH_REQUESTS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("focus.csv");
    // The rows end now, so they fall inside the detective's lookback.
    let hours = rows.div_ceil(common::ROWS_PER_HOUR) as i64;
    let now = chrono::Utc::now().naive_utc();
    let base = now.date().and_hms_opt(now.time().format("%H").to_string().parse().unwrap(), 0, 0).unwrap()
        - chrono::Duration::hours(hours);
    common::generate(&csv, rows, base).unwrap();
    println!("{rows} cost rows over {hours} hours; {requests} timed requests per page\n");
    measure("SQLite", &format!("sqlite://{}", dir.path().join("costguard.db").display()), &csv, dir.path(), requests)
        .await;
    if let Some(admin) = std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        let url = admin.rsplit_once('/').map(|(b, _)| format!("{b}/cg_bench_dashboard")).unwrap();
        for sql in ["DROP DATABASE IF EXISTS cg_bench_dashboard", "CREATE DATABASE cg_bench_dashboard"] {
            assert!(Command::new("psql").args([admin.as_str(), "-q", "-c", sql]).status().unwrap().success());
        }
        let pg_dir = dir.path().join("pg");
        std::fs::create_dir_all(&pg_dir).unwrap();
        measure("PostgreSQL", &url, &csv, &pg_dir, requests).await;
    } else {
        println!("TEST_DATABASE_URL not set: PostgreSQL figures skipped");
    }
}
