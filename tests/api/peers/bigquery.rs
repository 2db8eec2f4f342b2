//! BigQuery: a real bqemulator (datasets, tables, insertAll, SQL queries with paging),
//! behind a front that adds only what the emulator lacks: jobs that run for a while and bill
//! bytes (a looping script and its child queries), their cancellation with BigQuery's
//! `stopped` error, and injected throttling and 5xx answers. The emulator finishes every
//! query at once and reports no bytes billed, so the fast signal needs these.

use super::{fault_response, forward, Fault, Process};
use actix_web::{web, App, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct State {
    /// (project, job id) -> the job as jobs.get returns it, in creation order.
    jobs: Vec<((String, String), Value)>,
    calls: Vec<String>,
    faults: HashMap<usize, Fault>,
}

impl State {
    fn job(&mut self, project: &str, id: &str) -> Option<&mut Value> {
        self.jobs.iter_mut().find(|((p, j), _)| p == project && j == id).map(|(_, v)| v)
    }
}

pub struct BigQuery {
    /// The REST v2 base CostGuard talks to.
    pub url: String,
    emulator: String,
    state: Arc<Mutex<State>>,
    _process: Process,
}

fn millis(t: DateTime<Utc>) -> String {
    t.timestamp_millis().to_string()
}

fn cancel(job: &mut Value, now: DateTime<Utc>) {
    if job["status"]["state"] != "DONE" {
        job["status"] = json!({"state": "DONE", "errorResult": {"reason": "stopped", "message": "Job execution was cancelled: User requested cancellation"}});
        job["statistics"]["endTime"] = json!(millis(now));
    }
}

async fn front(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<Mutex<State>>>,
    emulator: web::Data<(reqwest::Client, String)>,
) -> HttpResponse {
    let path = req.path().trim_start_matches("/bigquery/v2").to_string();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    {
        let mut s = state.lock().unwrap();
        s.calls.push(format!("{} {path}", req.method()));
        let n = s.calls.len();
        if let Some(fault) = s.faults.remove(&n) {
            return fault_response(&fault);
        }
        match (req.method().as_str(), parts.as_slice()) {
            ("GET", ["projects", p, "jobs", id]) => {
                if let Some(job) = s.job(p, id) {
                    return HttpResponse::Ok().json(job.clone());
                }
            }
            ("POST", ["projects", p, "jobs", id, "cancel"]) => {
                let now = Utc::now();
                if let Some(job) = s.job(p, id) {
                    cancel(job, now);
                    let answer = json!({"kind": "bigquery#jobCancelResponse", "job": job.clone()});
                    // Cancelling a script cancels its running children.
                    for (_, child) in s.jobs.iter_mut().filter(|(_, j)| j["statistics"]["parentJobId"] == *id) {
                        cancel(child, now);
                    }
                    return HttpResponse::Ok().json(answer);
                }
            }
            _ => {}
        }
    }
    if let ("GET", ["projects", p, "jobs"]) = (req.method().as_str(), parts.as_slice()) {
        return list(&req, p, &state, &emulator).await;
    }
    forward(&emulator.0, &emulator.1, &req, body).await
}

/// jobs.list: the emulator's jobs and the scripted ones, newest first, paged.
async fn list(
    req: &HttpRequest,
    project: &str,
    state: &Arc<Mutex<State>>,
    emulator: &(reqwest::Client, String),
) -> HttpResponse {
    let query: HashMap<String, String> = web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default();
    let real: Value = emulator
        .0
        .get(format!("{}/bigquery/v2/projects/{project}/jobs", emulator.1))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let min: i64 = query.get("minCreationTime").and_then(|m| m.parse().ok()).unwrap_or(0);
    let mut jobs: Vec<Value> = real["jobs"].as_array().cloned().unwrap_or_default();
    {
        let s = state.lock().unwrap();
        for ((p, _), job) in s.jobs.iter().rev() {
            let created: i64 = job["statistics"]["creationTime"].as_str().and_then(|c| c.parse().ok()).unwrap_or(0);
            if p == project && created >= min {
                let mut listed = job.clone();
                listed["state"] = job["status"]["state"].clone();
                listed["errorResult"] = job["status"]["errorResult"].clone();
                jobs.push(listed);
            }
        }
    }
    let size: usize = query.get("maxResults").and_then(|m| m.parse().ok()).unwrap_or(50).min(3);
    let start: usize = query.get("pageToken").and_then(|t| t.parse().ok()).unwrap_or(0);
    let page: Vec<Value> = jobs.iter().skip(start).take(size).cloned().collect();
    let mut answer = json!({"kind": "bigquery#jobList", "jobs": page});
    if start + size < jobs.len() {
        answer["nextPageToken"] = json!((start + size).to_string());
    }
    HttpResponse::Ok().json(answer)
}

/// One row of the (detailed) billing export.
pub struct ExportRow {
    pub hour: DateTime<Utc>,
    pub project: &'static str,
    pub service: &'static str,
    pub sku: &'static str,
    pub resource: &'static str,
    /// At most 9 decimals, so the expected sum is exact.
    pub cost: String,
    pub credit: Option<String>,
}

impl ExportRow {
    pub fn nanos(&self) -> i64 {
        let n = |t: &str| (t.parse::<f64>().unwrap() * 1e9).round() as i64;
        n(&self.cost) + self.credit.as_deref().map_or(0, n)
    }
}

/// The detailed (resource-level) export, and the standard one, which has no `resource`.
pub const TABLE: (&str, &str, &str) = ("billing-admin", "billing", "gcp_billing_export_resource_v1_0A1B2C");
pub const STANDARD_TABLE: &str = "gcp_billing_export_v1_0A1B2C";

impl BigQuery {
    pub async fn start() -> Option<BigQuery> {
        let program = super::program("CG_BQEMULATOR")?;
        let home = std::env::var("CG_BQEMULATOR_HOME").expect("CG_BQEMULATOR_HOME (printed by .ci/peers.sh)");
        let (rest, grpc) = (super::free_port(), super::free_port());
        let mut command = std::process::Command::new(program);
        command
            .env("HOME", home)
            .env("BQEMU_ENABLE_FORMAT_EXTENSIONS", "false")
            .args(["start", "--rest-host", "127.0.0.1", "--rest-port", &rest.to_string()])
            .args(["--grpc-host", "127.0.0.1", "--grpc-port", &grpc.to_string(), "--project", TABLE.0]);
        let origin = format!("http://127.0.0.1:{rest}");
        let emulator = format!("{origin}/bigquery/v2");
        let ready = format!("{emulator}/projects/{}/datasets", TABLE.0);
        let process = super::start(command, &ready, Duration::from_secs(60)).await;
        let state = Arc::new(Mutex::new(State::default()));
        let (data, target) = (web::Data::new(state.clone()), web::Data::new((reqwest::Client::new(), origin)));
        let base = super::serve(move || {
            App::new().app_data(data.clone()).app_data(target.clone()).default_service(web::to(front))
        });
        let bq = BigQuery { url: format!("{base}/bigquery/v2"), emulator, state, _process: process };
        bq.create_export_tables().await;
        Some(bq)
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let response =
            reqwest::Client::new().post(format!("{}{path}", self.emulator)).json(&body).send().await.unwrap();
        assert!(response.status().is_success(), "emulator refused {path}: {}", response.text().await.unwrap());
        response.json().await.unwrap()
    }

    /// Both exports' shapes (the columns CostGuard reads, with their real types).
    async fn create_export_tables(&self) {
        let (p, d, t) = TABLE;
        self.post(&format!("/projects/{p}/datasets"), json!({"datasetReference": {"projectId": p, "datasetId": d}}))
            .await;
        let record = |name: &str, fields: &[&str]| json!({"name": name, "type": "RECORD", "fields": fields.iter().map(|f| json!({"name": f, "type": "STRING"})).collect::<Vec<_>>()});
        let mut fields = vec![
            json!({"name": "billing_account_id", "type": "STRING"}),
            record("service", &["id", "description"]),
            record("sku", &["id", "description"]),
            json!({"name": "usage_start_time", "type": "TIMESTAMP"}),
            json!({"name": "usage_end_time", "type": "TIMESTAMP"}),
            record("project", &["id", "name"]),
            record("location", &["region"]),
            json!({"name": "cost", "type": "FLOAT"}),
            json!({"name": "currency", "type": "STRING"}),
            json!({"name": "export_time", "type": "TIMESTAMP"}),
            json!({"name": "credits", "type": "RECORD", "mode": "REPEATED", "fields": [{"name": "name", "type": "STRING"}, {"name": "amount", "type": "FLOAT"}]}),
        ];
        for (table, detailed) in [(STANDARD_TABLE, false), (t, true)] {
            if detailed {
                fields.push(record("resource", &["name", "global_name"]));
            }
            let reference = json!({"projectId": p, "datasetId": d, "tableId": table});
            let body = json!({"tableReference": reference, "schema": {"fields": fields}});
            self.post(&format!("/projects/{p}/datasets/{d}/tables"), body).await;
        }
    }

    /// Exports rows (insertAll) to the detailed export, as Cloud Billing does a few times an hour.
    pub async fn export(&self, rows: &[ExportRow]) {
        self.export_to(TABLE.2, rows).await
    }

    /// Exports rows to the standard export (their resources are not in it).
    pub async fn export_standard(&self, rows: &[ExportRow]) {
        self.export_to(STANDARD_TABLE, rows).await
    }

    async fn export_to(&self, t: &str, rows: &[ExportRow]) {
        let (p, d, _) = TABLE;
        let detailed = t == TABLE.2;
        let f = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let rows: Vec<Value> = rows
            .iter()
            .map(|r| {
                let credits: Vec<Value> = r
                    .credit
                    .iter()
                    .map(|c| json!({"name": "Sustained use", "amount": c.parse::<f64>().unwrap()}))
                    .collect();
                let mut row = json!({
                    "billing_account_id": "01AB23-CD45EF-6789AB",
                    "service": {"id": "24E6-581D-38E5", "description": r.service},
                    "sku": {"id": format!("sku-{}", r.sku.len()), "description": r.sku},
                    "usage_start_time": f(r.hour), "usage_end_time": f(r.hour + chrono::Duration::hours(1)),
                    "project": {"id": r.project, "name": r.project.to_uppercase()},
                    "location": {"region": "us-central1"},
                    "cost": r.cost.parse::<f64>().unwrap(), "currency": "USD",
                    "export_time": f(Utc::now()), "credits": credits
                });
                if detailed {
                    row["resource"] = json!({"name": r.resource, "global_name": r.resource});
                }
                json!({"json": row})
            })
            .collect();
        let answer =
            self.post(&format!("/projects/{p}/datasets/{d}/tables/{t}/insertAll"), json!({"rows": rows})).await;
        assert_eq!(answer["insertErrors"].as_array().map_or(0, Vec::len), 0, "{answer}");
    }

    /// A script job that keeps running (until cancelled), with labels.
    pub fn start_script(&self, project: &str, id: &str, labels: &[(&str, &str)], created: DateTime<Utc>) {
        let labels: HashMap<&str, &str> = labels.iter().copied().collect();
        let job = json!({
            "kind": "bigquery#job", "id": format!("{project}:US.{id}"),
            "jobReference": {"projectId": project, "jobId": id, "location": "US"},
            "configuration": {"jobType": "QUERY", "labels": labels, "query": {"query": "DECLARE i INT64 DEFAULT 0; LOOP ... END LOOP;"}},
            "status": {"state": "RUNNING"},
            "statistics": {"creationTime": millis(created), "startTime": millis(created), "numChildJobs": "0"},
            "user_email": "etl@analytics.iam.gserviceaccount.com"
        });
        self.state.lock().unwrap().jobs.push(((project.into(), id.into()), job));
    }

    /// A finished child query of a script, billing `bytes`.
    pub fn child(&self, project: &str, parent: &str, id: &str, ended: DateTime<Utc>, bytes: u64) {
        let job = json!({
            "kind": "bigquery#job", "id": format!("{project}:US.{id}"),
            "jobReference": {"projectId": project, "jobId": id, "location": "US"},
            "configuration": {"jobType": "QUERY", "query": {"query": "SELECT ..."}},
            "status": {"state": "DONE"},
            "statistics": {"creationTime": millis(ended - chrono::Duration::seconds(30)), "startTime": millis(ended - chrono::Duration::seconds(30)),
                "endTime": millis(ended), "parentJobId": parent, "query": {"totalBytesBilled": bytes.to_string(), "totalBytesProcessed": bytes.to_string()}}
        });
        self.state.lock().unwrap().jobs.push(((project.into(), id.into()), job));
    }

    /// (state, errorResult.reason) of a scripted job.
    pub fn job_state(&self, project: &str, id: &str) -> (String, Option<String>) {
        let mut s = self.state.lock().unwrap();
        let job = s.job(project, id).unwrap();
        (
            job["status"]["state"].as_str().unwrap().into(),
            job["status"]["errorResult"]["reason"].as_str().map(str::to_string),
        )
    }

    pub fn calls(&self) -> Vec<String> {
        self.state.lock().unwrap().calls.clone()
    }

    pub fn fail_call(&self, call_number: usize, fault: Fault) {
        self.state.lock().unwrap().faults.insert(call_number, fault);
    }

    pub fn calls_seen(&self) -> usize {
        self.state.lock().unwrap().calls.len()
    }

    /// BigQuery's answers to too many requests and to a backend failure.
    pub fn throttled() -> Fault {
        Fault {
            status: 429,
            headers: vec![("content-type", "application/json".into())],
            body: r#"{"error":{"code":429,"message":"Exceeded rate limits","status":"RESOURCE_EXHAUSTED","errors":[{"reason":"rateLimitExceeded","message":"Exceeded rate limits","domain":"usageLimits"}]}}"#.into(),
        }
    }

    pub fn backend_error() -> Fault {
        Fault {
            status: 503,
            headers: vec![("content-type", "application/json".into())],
            body: r#"{"error":{"code":503,"message":"Backend error","status":"UNAVAILABLE","errors":[{"reason":"backendError","message":"Backend error","domain":"global"}]}}"#.into(),
        }
    }

    pub fn settings(&self) -> costguard::providers::gcp::connection::GcpSettings {
        let (p, d, t) = TABLE;
        costguard::providers::gcp::connection::GcpSettings {
            enabled: true,
            endpoint_url: self.url.clone(),
            billing_table: format!("{p}.{d}.{t}"),
            job_projects: vec!["analytics-prod".into()],
            backfill_days: 3,
            restate_hours: 24,
            max_attempts: 4,
            ..Default::default()
        }
    }
}
