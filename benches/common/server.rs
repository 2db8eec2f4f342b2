//! A release `costguard serve` on an imported ledger, signed in, for the latency benchmarks:
//! imports the file, creates an admin user and API key, starts the server with the simulated
//! clouds off, waits for the start-up detection sweep, and signs in through the real form.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Served {
    pub base: String,
    /// An admin API key, for `Authorization: Bearer`.
    pub key: String,
    /// `costguard_session=...`, for the dashboard's pages.
    pub session: String,
    /// One stored anomaly, when the sweep found any.
    pub anomaly: Option<String>,
    child: Child,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

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

/// Imports `csv` into `database_url` and serves it, ready to measure.
pub async fn start(label: &str, database_url: &str, csv: &Path, dir: &Path) -> Served {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let started = Instant::now();
    let mut import = binary(database_url, port, dir);
    import.args(["import", "focus", csv.to_str().unwrap()]);
    assert!(import.status().unwrap().success());
    println!("{label}: imported in {:.1} s", started.elapsed().as_secs_f64());
    let mut create = binary(database_url, port, dir);
    create.args(["user", "create", "--name", "bench", "--role", "admin"]);
    run_with_stdin(create, "bench-password-1\n");
    let mut create = binary(database_url, port, dir);
    create.args(["apikey", "create", "--name", "bench", "--role", "admin"]);
    let key = run_with_stdin(create, "").lines().last().unwrap().trim().to_string();
    let child = {
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
    Served { base, key, session, anomaly, child }
}

/// The ledger file of `rows` generated rows ending now (so they fall inside the detective's
/// lookback), in `dir`.
pub fn ledger_file(dir: &Path, rows: u64) -> PathBuf {
    let csv = dir.join("focus.csv");
    let hours = rows.div_ceil(super::ROWS_PER_HOUR) as i64;
    let now = chrono::Utc::now().naive_utc();
    let base = now.date().and_hms_opt(now.time().format("%H").to_string().parse().unwrap(), 0, 0).unwrap()
        - chrono::Duration::hours(hours);
    super::generate(&csv, rows, base).unwrap();
    println!("{rows} cost rows over {hours} hours");
    csv
}

/// The databases to measure: SQLite in `dir`, and a fresh PostgreSQL database named `name`
/// when TEST_DATABASE_URL names a server. Each comes with its own data directory.
pub fn databases(dir: &Path, name: &str) -> Vec<(&'static str, String, PathBuf)> {
    let mut out = vec![("SQLite", format!("sqlite://{}", dir.join("costguard.db").display()), dir.to_path_buf())];
    match std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        Some(admin) => {
            let url = admin.rsplit_once('/').map(|(b, _)| format!("{b}/{name}")).unwrap();
            for sql in [format!("DROP DATABASE IF EXISTS {name}"), format!("CREATE DATABASE {name}")] {
                assert!(Command::new("psql").args([admin.as_str(), "-q", "-c", &sql]).status().unwrap().success());
            }
            let pg_dir = dir.join("pg");
            std::fs::create_dir_all(&pg_dir).unwrap();
            out.push(("PostgreSQL", url, pg_dir));
        }
        None => println!("TEST_DATABASE_URL not set: PostgreSQL figures skipped"),
    }
    out
}
