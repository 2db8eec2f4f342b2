//! The FinOps FOCUS sample imported by CLI and by API: totals equal sums computed here
//! from the CSV, a second import changes nothing, and bad files store nothing.

use crate::both_backends;
use crate::helpers::{shared_data, TestApp};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::io::Write;
use std::str::FromStr;

const SAMPLE: &str = "focus/focus_sample.csv";

/// Exact sums of BilledCost and EffectiveCost per value of `column`, read with csv + rust_decimal.
fn expected_sums(csv_path: &std::path::Path, column: &str) -> BTreeMap<String, (Decimal, Decimal)> {
    let mut reader = csv::Reader::from_path(csv_path).unwrap();
    let headers = reader.headers().unwrap().clone();
    let index = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (group, billed, effective) = (index(column), index("BilledCost"), index("EffectiveCost"));
    let mut sums: BTreeMap<String, (Decimal, Decimal)> = BTreeMap::new();
    for record in reader.records() {
        let record = record.unwrap();
        let entry = sums.entry(record[group].to_string()).or_default();
        entry.0 += Decimal::from_scientific(&record[billed]).or_else(|_| Decimal::from_str(&record[billed])).unwrap();
        entry.1 +=
            Decimal::from_scientific(&record[effective]).or_else(|_| Decimal::from_str(&record[effective])).unwrap();
    }
    sums
}

/// Sums the API's rows per group (over all months) as exact decimals.
async fn api_sums(app: &TestApp, group_by: &str) -> BTreeMap<String, (Decimal, Decimal)> {
    let body = app
        .get_json(&format!("/api/v1/costs?from=2024-01-01&to=2025-12-31&granularity=month&group_by={group_by}"))
        .await;
    let mut sums: BTreeMap<String, (Decimal, Decimal)> = BTreeMap::new();
    let mut rows_billed = Decimal::ZERO;
    for row in body["rows"].as_array().unwrap() {
        let entry = sums.entry(row["group"].as_str().unwrap().to_string()).or_default();
        let billed = Decimal::from_str(row["billed_cost"].as_str().unwrap()).unwrap();
        entry.0 += billed;
        entry.1 += Decimal::from_str(row["effective_cost"].as_str().unwrap()).unwrap();
        rows_billed += billed;
    }
    let totals = body["totals"].as_array().unwrap();
    assert_eq!(totals.len(), 1, "one currency");
    assert_eq!(
        Decimal::from_str(totals[0]["billed_cost"].as_str().unwrap()).unwrap(),
        rows_billed,
        "totals are the exact sum of the rows"
    );
    sums
}

fn normalized(sums: BTreeMap<String, (Decimal, Decimal)>) -> BTreeMap<String, (String, String)> {
    sums.into_iter().map(|(k, (b, e))| (k, (b.normalize().to_string(), e.normalize().to_string()))).collect()
}

async fn assert_totals_match_csv(app: &TestApp, csv: &std::path::Path) {
    assert_eq!(app.count_costs().await, 1000);
    assert_eq!(normalized(api_sums(app, "provider").await), normalized(expected_sums(csv, "ProviderName")));
    assert_eq!(normalized(api_sums(app, "service").await), normalized(expected_sums(csv, "ServiceName")));
}

fn run_cli(app: &TestApp, args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
    let mut child = app
        .cli()
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

async fn sample_via_api_twice(app: TestApp) {
    let Some(csv) = shared_data(SAMPLE) else { return };
    let response = app.post_csv(std::fs::read(&csv).unwrap()).await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        (body["received"].as_u64(), body["inserted"].as_u64(), body["unchanged"].as_u64()),
        (Some(1000), Some(1000), Some(0))
    );
    assert_totals_match_csv(&app, &csv).await;

    let again: serde_json::Value = app.post_csv(std::fs::read(&csv).unwrap()).await.json().await.unwrap();
    assert_eq!(
        (again["inserted"].as_u64(), again["updated"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(0), Some(1000))
    );
    assert_totals_match_csv(&app, &csv).await;
}

async fn sample_via_cli_twice(app: TestApp) {
    let Some(csv) = shared_data(SAMPLE) else { return };
    let path = csv.to_str().unwrap();
    let out = run_cli(&app, &["import", "focus", path], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("imported 1000 rows"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_totals_match_csv(&app, &csv).await;
    assert!(!String::from_utf8_lossy(&out.stderr).contains("ETA"), "no progress bar drawn into a pipe");
    // Again from stdin, gzipped: nothing changes.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&std::fs::read(&csv).unwrap()).unwrap();
    let out = run_cli(&app, &["import", "focus", "-"], Some(&gz.finish().unwrap()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("0 new, 0 updated, 1000 unchanged"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_totals_match_csv(&app, &csv).await;
}

/// On a terminal (a pseudo-terminal from util-linux's `script`), a file's import draws a
/// bar over its bytes: a percentage of the file's size and an ETA.
async fn a_file_import_on_a_terminal_shows_its_progress(app: TestApp) {
    let Some(csv) = shared_data(SAMPLE) else { return };
    let cli = app.cli();
    let command = format!("{} import focus {}", cli.get_program().to_string_lossy(), csv.display());
    let mut script = std::process::Command::new("script");
    script.args(["-q", "-e", "-c", &command, "/dev/null"]).env("TERM", "xterm").env_remove("NO_COLOR");
    for (name, value) in cli.get_envs() {
        if let Some(value) = value {
            script.env(name, value);
        }
    }
    let out = script.stdin(std::process::Stdio::null()).output().unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}");
    let size = std::fs::metadata(&csv).unwrap().len();
    let total = indicatif::HumanBytes(size).to_string();
    assert!(shown.contains(&format!("/{total}")) && shown.contains('%') && shown.contains("ETA"), "{shown}");
    assert!(shown.contains("imported 1000 rows"), "{shown}");
    assert_eq!(app.count_costs().await, 1000);
}

/// The sample with one cell replaced (line numbers count the header as line 1).
fn sample_with(csv: &std::path::Path, line: usize, column: &str, value: &str) -> Vec<u8> {
    let mut reader = csv::Reader::from_path(csv).unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = headers.iter().position(|h| h == column).unwrap();
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&headers).unwrap();
    for (i, record) in reader.records().enumerate() {
        let mut fields: Vec<String> = record.unwrap().iter().map(str::to_string).collect();
        if i + 2 == line {
            fields[col] = value.to_string();
        }
        writer.write_record(&fields).unwrap();
    }
    writer.into_inner().unwrap()
}

fn sample_without_column(csv: &std::path::Path, column: &str) -> Vec<u8> {
    let mut reader = csv::Reader::from_path(csv).unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = headers.iter().position(|h| h == column).unwrap();
    let mut writer = csv::Writer::from_writer(Vec::new());
    let keep = |r: &csv::StringRecord| {
        r.iter().enumerate().filter(|(i, _)| *i != col).map(|(_, f)| f.to_string()).collect::<Vec<_>>()
    };
    writer.write_record(keep(&headers)).unwrap();
    for record in reader.records() {
        writer.write_record(keep(&record.unwrap())).unwrap();
    }
    writer.into_inner().unwrap()
}

async fn bad_files_are_rejected_and_store_nothing(app: TestApp) {
    let Some(csv) = shared_data(SAMPLE) else { return };
    // A bad number late in the file, after earlier batches were already written in the transaction.
    let response = app.post_csv(sample_with(&csv, 900, "BilledCost", "12,5")).await;
    assert_eq!(response.status(), 422);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_input");
    assert_eq!(
        (body["detail"]["line"].as_u64(), body["detail"]["column"].as_str()),
        (Some(900), Some("BilledCost")),
        "{body}"
    );
    assert_eq!(app.count_costs().await, 0);

    let response = app.post_csv(sample_without_column(&csv, "BillingCurrency")).await;
    assert_eq!(response.status(), 422);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        (body["detail"]["line"].as_u64(), body["detail"]["column"].as_str()),
        (Some(1), Some("BillingCurrency")),
        "{body}"
    );

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&std::fs::read(&csv).unwrap()).unwrap();
    let whole = gz.finish().unwrap();
    let response = app.post_csv(whole[..whole.len() / 2].to_vec()).await;
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["detail"]["line"].as_u64().unwrap() > 1, "{body}");
    assert!(body["detail"]["message"].as_str().unwrap().contains("gzip"), "{body}");
    assert_eq!(app.count_costs().await, 0);

    // The CLI refuses the same bad file with the line and column, and exits non-zero.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, sample_with(&csv, 37, "ChargePeriodStart", "soon")).unwrap();
    let out = run_cli(&app, &["import", "focus", bad.to_str().unwrap()], None);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 37") && stderr.contains("ChargePeriodStart"), "{stderr}");
    assert_eq!(app.count_costs().await, 0);

    // A file that repeats a record is refused rather than silently merged.
    let mut doubled = std::fs::read(&csv).unwrap();
    let second_line = std::fs::read_to_string(&csv).unwrap().lines().nth(1).unwrap().to_string();
    doubled.extend_from_slice(format!("{second_line}\n").as_bytes());
    let response = app.post_csv(doubled).await;
    assert_eq!(response.status(), 422);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["detail"]["line"].as_u64(), Some(1002), "{body}");
    assert_eq!(app.count_costs().await, 0);

    // The failed loads into the empty ledger rolled their index work back too: a good import
    // lands, and importing it again meets the identity key (nothing new, nothing duplicated).
    let first: serde_json::Value = app.post_csv(std::fs::read(&csv).unwrap()).await.json().await.unwrap();
    assert_eq!(first["inserted"], 1000, "{first}");
    let again: serde_json::Value = app.post_csv(std::fs::read(&csv).unwrap()).await.json().await.unwrap();
    assert_eq!((again["inserted"].as_u64(), again["unchanged"].as_u64()), (Some(0), Some(1000)), "{again}");
    assert_eq!(app.count_costs().await, 1000);
    assert_eq!(cost_record_indexes(&app).await, ["cost_records_by_period", "primary key"]);
}

#[derive(diesel::QueryableByName)]
struct IndexName {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

/// The ledger table's indexes, as the database reports them (primary keys by their role).
async fn cost_record_indexes(app: &TestApp) -> Vec<String> {
    use diesel::RunQueryDsl;
    let names = app
        .db
        .run(|c| {
            let sql = match c.backend() {
                costguard::db::Backend::Sqlite => {
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'cost_records'"
                }
                costguard::db::Backend::Postgres => {
                    "SELECT indexname AS name FROM pg_indexes WHERE tablename = 'cost_records'"
                }
            };
            costguard::per_backend!(c, |inner| diesel::sql_query(sql).load::<IndexName>(inner))
                .map_err(costguard::db::DbError::from)
        })
        .await
        .unwrap();
    let mut names: Vec<String> = names
        .into_iter()
        .map(|i| if i.name.contains("autoindex") || i.name.ends_with("_pkey") { "primary key".into() } else { i.name })
        .collect();
    names.sort();
    names
}

async fn wrong_content_type_is_415(app: TestApp) {
    let response = app.post_raw("/api/v1/costs/import", &app.admin_key, "application/json", "[]").await;
    assert_eq!(response.status(), 415);
}

both_backends!(
    sample_via_api_twice,
    sample_via_cli_twice,
    a_file_import_on_a_terminal_shows_its_progress,
    bad_files_are_rejected_and_store_nothing,
    wrong_content_type_is_415
);
