//! A fake Azure Resource Manager, written from the published REST reference, since Azure has
//! no emulator: the Entra ID client-credentials token endpoint, the bearer-token check,
//! the required `api-version`, Cost Management Query (`POST {scope}/providers/
//! Microsoft.CostManagement/query`) with rows, columns and `nextLink` paging, 429 answers
//! with Retry-After, and virtual machines (GET, instanceView, deallocate).

use super::{fault_response, Fault};
use actix_web::{web, App, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

pub const TENANT: &str = "00000000-0000-0000-0000-0000000000aa";
pub const CLIENT_ID: &str = "costguard-test-app";
pub const CLIENT_SECRET: &str = "s3cret-value";

/// One usage row the fake's Cost Management holds.
#[derive(Debug, Clone)]
pub struct Usage {
    pub date: DateTime<Utc>,
    pub service: String,
    pub resource_id: String,
    /// Decimal text, served as a JSON number exactly as written.
    pub cost: String,
}

#[derive(Debug, Clone)]
pub struct Vm {
    pub tags: BTreeMap<String, String>,
    pub power: String,
}

#[derive(Default)]
struct State {
    usage: Vec<Usage>,
    vms: HashMap<String, Vm>,
    tokens: HashSet<String>,
    calls: Vec<String>,
    faults: HashMap<usize, Fault>,
    page_size: usize,
    /// Hand out nextLinks to another host (as a compromised or misrouted answer might).
    foreign_links: bool,
}

pub struct Arm {
    pub url: String,
    state: Arc<Mutex<State>>,
}

fn error(status: u16, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .json(serde_json::json!({"error": {"code": code, "message": message}}))
}

async fn token(
    req: HttpRequest,
    form: web::Form<HashMap<String, String>>,
    state: web::Data<Arc<Mutex<State>>>,
) -> HttpResponse {
    let ok = req.match_info().get("tenant") == Some(TENANT)
        && form.get("grant_type").map(String::as_str) == Some("client_credentials")
        && form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
        && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET);
    if !ok {
        return HttpResponse::Unauthorized()
            .json(serde_json::json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."}));
    }
    let token = format!("fake-arm-{}", uuid::Uuid::new_v4().simple());
    state.lock().unwrap().tokens.insert(token.clone());
    HttpResponse::Ok().json(
        serde_json::json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}),
    )
}

fn date_of(value: &serde_json::Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value.as_str()?).ok().map(|t| t.with_timezone(&Utc))
}

fn query(state: &State, req: &HttpRequest, body: &serde_json::Value, scope: &str) -> HttpResponse {
    let (Some(from), Some(to)) = (date_of(&body["timePeriod"]["from"]), date_of(&body["timePeriod"]["to"])) else {
        return error(400, "BadRequest", "timePeriod.from and timePeriod.to are required for a Custom timeframe");
    };
    let hourly = body["dataset"]["granularity"] == "Hourly";
    let skip: usize = web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.get("$skiptoken").and_then(|s| s.parse().ok()))
        .unwrap_or(0);
    let sub = scope.to_ascii_lowercase();
    let matching: Vec<&Usage> = state
        .usage
        .iter()
        .filter(|u| {
            u.date >= from && u.date <= to && u.resource_id.to_ascii_lowercase().starts_with(&format!("/{sub}"))
        })
        .collect();
    let page: Vec<String> = matching
        .iter()
        .skip(skip)
        .take(state.page_size)
        .map(|u| {
            let date = if hourly {
                format!("\"{}\"", u.date.format("%Y-%m-%dT%H:%M:%S"))
            } else {
                u.date.format("%Y%m%d").to_string()
            };
            format!("[{}, {date}, {:?}, {:?}, \"USD\"]", u.cost, u.service, u.resource_id)
        })
        .collect();
    let next = (skip + state.page_size < matching.len()).then(|| {
        let host =
            if state.foreign_links { "attacker.example".to_string() } else { req.connection_info().host().to_string() };
        format!("\"http://{host}{}?api-version=2023-07-01-preview&$skiptoken={}\"", req.path(), skip + state.page_size)
    });
    let date_type = if hourly { "Datetime" } else { "Number" };
    let text = format!(
        r#"{{"id": "{}", "name": "q", "type": "Microsoft.CostManagement/query", "properties": {{"nextLink": {}, "columns": [{{"name": "Cost", "type": "Number"}}, {{"name": "UsageDate", "type": "{date_type}"}}, {{"name": "ServiceName", "type": "String"}}, {{"name": "ResourceId", "type": "String"}}, {{"name": "Currency", "type": "String"}}], "rows": [{}]}}}}"#,
        req.path(),
        next.unwrap_or_else(|| "null".into()),
        page.join(", ")
    );
    HttpResponse::Ok().content_type("application/json").body(text)
}

async fn arm(req: HttpRequest, body: web::Bytes, state: web::Data<Arc<Mutex<State>>>) -> HttpResponse {
    let mut s = state.lock().unwrap();
    let path = req.path().to_string();
    s.calls.push(format!("{} {path}", req.method()));
    let n = s.calls.len();
    if let Some(fault) = s.faults.remove(&n) {
        return fault_response(&fault);
    }
    let bearer =
        req.headers().get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if !bearer.is_some_and(|t| s.tokens.contains(t)) {
        return error(
            401,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing or invalid.",
        );
    }
    if !req.query_string().contains("api-version=") {
        return error(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        );
    }
    let lower = path.to_ascii_lowercase();
    if let Some(scope) = lower.strip_suffix("/providers/microsoft.costmanagement/query") {
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        return query(&s, &req, &body, scope.trim_start_matches('/'));
    }
    let (vm_id, op) = match lower.rsplit_once('/') {
        Some((id, "instanceview")) => (id.to_string(), "instanceView"),
        Some((id, "deallocate")) => (id.to_string(), "deallocate"),
        _ => (lower.clone(), "get"),
    };
    let Some(vm) = s.vms.get_mut(&vm_id) else {
        return error(404, "ResourceNotFound", &format!("The Resource '{path}' was not found."));
    };
    match (req.method().as_str(), op) {
        ("GET", "get") => HttpResponse::Ok().json(serde_json::json!({"id": path, "name": vm_id.rsplit('/').next(), "location": "westeurope", "tags": vm.tags})),
        ("GET", "instanceView") => {
            let answer = serde_json::json!({"statuses": [{"code": "ProvisioningState/succeeded"}, {"code": format!("PowerState/{}", vm.power)}]});
            // Deallocation finishes between one look and the next, as an async operation would.
            if vm.power == "deallocating" {
                vm.power = "deallocated".into();
            }
            HttpResponse::Ok().json(answer)
        }
        ("POST", "deallocate") => {
            if vm.power != "deallocated" {
                vm.power = "deallocating".into();
            }
            HttpResponse::Accepted().finish()
        }
        _ => error(405, "MethodNotAllowed", "not supported by this fake"),
    }
}

impl Arm {
    pub fn start() -> Arm {
        let state = Arc::new(Mutex::new(State { page_size: 50, ..State::default() }));
        let data = web::Data::new(state.clone());
        let url = super::serve(move || {
            App::new()
                .app_data(data.clone())
                .route("/{tenant}/oauth2/v2.0/token", web::post().to(token))
                .default_service(web::to(arm))
        });
        Arm { url, state }
    }

    pub fn set_usage(&self, usage: Vec<Usage>) {
        self.state.lock().unwrap().usage = usage;
    }

    pub fn hand_out_foreign_links(&self) {
        self.state.lock().unwrap().foreign_links = true;
    }

    pub fn set_page_size(&self, rows: usize) {
        self.state.lock().unwrap().page_size = rows;
    }

    pub fn add_vm(&self, id: &str, tags: &[(&str, &str)]) {
        let tags = tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.state.lock().unwrap().vms.insert(id.to_ascii_lowercase(), Vm { tags, power: "running".into() });
    }

    pub fn power(&self, id: &str) -> String {
        self.state.lock().unwrap().vms[&id.to_ascii_lowercase()].power.clone()
    }

    pub fn calls(&self) -> Vec<String> {
        self.state.lock().unwrap().calls.clone()
    }

    pub fn fail_call(&self, call_number: usize, fault: Fault) {
        self.state.lock().unwrap().faults.insert(call_number, fault);
    }

    pub fn throttled() -> Fault {
        Fault {
            status: 429,
            headers: vec![("retry-after", "1".into()), ("content-type", "application/json".into())],
            body: r#"{"error":{"code":"429","message":"Too many requests. Please retry."}}"#.into(),
        }
    }

    pub fn server_error() -> Fault {
        Fault {
            status: 503,
            headers: vec![("content-type", "application/json".into())],
            body: r#"{"error":{"code":"ServiceUnavailable","message":"try again later"}}"#.into(),
        }
    }

    pub fn settings(&self) -> costguard::providers::azure::connection::AzureSettings {
        costguard::providers::azure::connection::AzureSettings {
            enabled: true,
            endpoint_url: self.url.clone(),
            authority_host: self.url.clone(),
            scopes: vec!["subscriptions/sub-1".into()],
            backfill_days: 10,
            restate_days: 2,
            max_attempts: 4,
            ..Default::default()
        }
    }

    pub fn credentials() -> [(&'static str, &'static str); 3] {
        [("tenant_id", TENANT), ("client_id", CLIENT_ID), ("client_secret", CLIENT_SECRET)]
    }
}
