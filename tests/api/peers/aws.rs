//! AWS: a real moto server, behind a front that (1) injects throttling and 5xx answers,
//! (2) serves `GetCostAndUsageWithResources`, which moto does not implement, from a queue,
//! (3) enforces AWS's rule that moto skips: an instance's type changes only while it is
//! stopped, and (4) records every call in order.

use super::{fault_response, forward, Fault, Process};
use actix_web::{web, App, HttpRequest, HttpResponse};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct State {
    calls: Vec<String>,
    faults: HashMap<usize, Fault>,
    resources: VecDeque<serde_json::Value>,
    /// Like moto's queue: a repeated request body gets the answer it got before.
    answered: HashMap<Vec<u8>, serde_json::Value>,
    /// Instance -> running, as AWS would see it (moto's state changes are instant anyway).
    running: BTreeMap<String, bool>,
}

pub struct Aws {
    /// The endpoint CostGuard and the tests' own clients talk to.
    pub url: String,
    moto_url: String,
    state: Arc<Mutex<State>>,
    _moto: Process,
}

/// `Action=...` of an EC2 query-protocol body, or the target of a JSON-protocol call.
fn call_name(req: &HttpRequest, body: &[u8]) -> (String, Vec<(String, String)>) {
    if let Some(target) = req.headers().get("x-amz-target").and_then(|v| v.to_str().ok()) {
        return (target.rsplit('.').next().unwrap_or(target).to_string(), Vec::new());
    }
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let action = form.iter().find(|(k, _)| k == "Action").map(|(_, v)| v.clone()).unwrap_or_default();
    (action, form)
}

fn ids(form: &[(String, String)]) -> Vec<String> {
    form.iter().filter(|(k, _)| k.starts_with("InstanceId")).map(|(_, v)| v.clone()).collect()
}

fn ec2_error(code: &str, message: &str) -> HttpResponse {
    HttpResponse::BadRequest().content_type("text/xml").body(format!(
        "<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>x</RequestID></Response>"
    ))
}

async fn front(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<Mutex<State>>>,
    moto: web::Data<(reqwest::Client, String)>,
) -> HttpResponse {
    let (name, form) = call_name(&req, &body);
    let dry_run = form.iter().any(|(k, v)| k == "DryRun" && v == "true");
    {
        let mut s = state.lock().unwrap();
        s.calls.push(name.clone());
        let n = s.calls.len();
        if let Some(fault) = s.faults.remove(&n) {
            return fault_response(&fault);
        }
        if name == "GetCostAndUsageWithResources" {
            let answer = match s.answered.get(body.as_ref()) {
                Some(before) => before.clone(),
                None => s.resources.pop_front().unwrap_or_else(|| serde_json::json!({"ResultsByTime": []})),
            };
            s.answered.insert(body.to_vec(), answer.clone());
            return HttpResponse::Ok().content_type("application/x-amz-json-1.1").body(answer.to_string());
        }
        if !dry_run {
            for id in ids(&form) {
                match name.as_str() {
                    "StopInstances" => {
                        s.running.insert(id, false);
                    }
                    "StartInstances" | "RunInstances" => {
                        s.running.insert(id, true);
                    }
                    "ModifyInstanceAttribute" if s.running.get(&id).copied().unwrap_or(true) => {
                        return ec2_error(
                            "IncorrectInstanceState",
                            &format!("The instance '{id}' is not in the 'stopped' state."),
                        );
                    }
                    _ => {}
                }
            }
        }
    }
    forward(&moto.0, &moto.1, &req, body).await
}

impl Aws {
    pub async fn start() -> Option<Aws> {
        let program = super::program("CG_MOTO_SERVER")?;
        let port = super::free_port();
        let mut command = std::process::Command::new(program);
        command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        let moto_url = format!("http://127.0.0.1:{port}");
        let moto = super::start(command, &format!("{moto_url}/moto-api/"), Duration::from_secs(30)).await;
        let state = Arc::new(Mutex::new(State::default()));
        let (data, target) =
            (web::Data::new(state.clone()), web::Data::new((reqwest::Client::new(), moto_url.clone())));
        let url = super::serve(move || {
            App::new().app_data(data.clone()).app_data(target.clone()).default_service(web::to(front))
        });
        Some(Aws { url, moto_url, state, _moto: moto })
    }

    /// Queues Cost Explorer answers (full GetCostAndUsage responses), handed out in order,
    /// one per distinct request.
    pub async fn queue_cost_and_usage(&self, results: Vec<serde_json::Value>) {
        let response = reqwest::Client::new()
            .post(format!("{}/moto-api/static/ce/cost-and-usage-results", self.moto_url))
            .json(&serde_json::json!({ "results": results }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 201, "moto took the queued results");
    }

    pub fn queue_resources(&self, results: Vec<serde_json::Value>) {
        self.state.lock().unwrap().resources.extend(results);
    }

    /// Answers the `call_number`-th call from now on (1-based, counting every call seen so
    /// far) with `fault` instead of forwarding it.
    pub fn fail_call(&self, call_number: usize, fault: Fault) {
        self.state.lock().unwrap().faults.insert(call_number, fault);
    }

    pub fn calls(&self) -> Vec<String> {
        self.state.lock().unwrap().calls.clone()
    }

    /// Cost Explorer's throttling answer.
    pub fn throttling() -> Fault {
        Fault {
            status: 400,
            headers: vec![
                ("x-amzn-errortype", "ThrottlingException".into()),
                ("content-type", "application/x-amz-json-1.1".into()),
            ],
            body: r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.into(),
        }
    }

    pub fn server_error() -> Fault {
        Fault {
            status: 503,
            headers: vec![("content-type", "application/x-amz-json-1.1".into())],
            body: r#"{"__type":"ServiceUnavailableException","message":"try again"}"#.into(),
        }
    }

    /// An SDK configuration for the tests' own calls (setting up instances).
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&self.url)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_credential_types::Credentials::new("testing", "testing", None, None, "static"))
            .load()
            .await
    }

    /// The settings that point CostGuard at this peer.
    pub fn settings(&self) -> costguard::providers::aws::connection::AwsSettings {
        costguard::providers::aws::connection::AwsSettings {
            enabled: true,
            endpoint_url: self.url.clone(),
            granularity: "hourly".into(),
            backfill_days: 2,
            restate_days: 1,
            max_attempts: 4,
            ..Default::default()
        }
    }
}
