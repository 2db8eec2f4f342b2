//! The tools an assistant may call, each the same door as the REST API's operation it names:
//! the call is the API handler itself, with the key's role, validation, safety rules and
//! audit, so nothing an assistant does can differ from what a script could. Read tools for
//! every role; `propose_action` for approvers, through `approval::propose`. No tool approves,
//! rejects, executes or changes a setting.

use super::rpc::{RpcError, INTERNAL_ERROR};
use super::schema::{check, object};
use crate::domain::role::Role;
use crate::state::AppState;
use crate::web::api;
use crate::web::auth::{Caller, WithBody};
use crate::web::error::ApiError;
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

pub struct Tool {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub needs: Role,
    schema: fn() -> Value,
}

const GRANULARITIES: &[&str] = &["hour", "day", "month"];
const GROUPINGS: &[&str] = &["provider", "service", "sub_account", "region", "resource", "sku"];
const SEVERITIES: &[&str] = &["low", "medium", "high", "critical"];
const RISKS: &[&str] = &["low", "medium", "high"];

fn kinds() -> Vec<&'static str> {
    crate::domain::optimizer::ActionKind::ALL.iter().map(|k| k.as_str()).collect()
}

fn statuses() -> Vec<&'static str> {
    crate::domain::approval::Status::ALL.iter().map(|s| s.as_str()).collect()
}

pub const TOOLS: &[Tool] = &[
    Tool {
        name: "query_costs",
        title: "Query costs",
        description: "Spend from the ledger (FinOps FOCUS), per period and optionally per dimension, with exact totals per currency. Same rules as GET /api/v1/costs.",
        needs: Role::Viewer,
        schema: || {
            object(
                &[
                    ("from", "string", "Start, inclusive (RFC 3339 or YYYY-MM-DD); default 30 days before `to`.", &[]),
                    ("to", "string", "End, exclusive (RFC 3339 or YYYY-MM-DD); default the end of this hour.", &[]),
                    ("granularity", "string", "Period of each row; default day (hourly spans at most 93 days).", GRANULARITIES),
                    ("group_by", "string", "A dimension to split by; default none.", GROUPINGS),
                    ("provider", "string", "Only this provider, as the ledger names it (e.g. \"Google Cloud\").", &[]),
                    ("service", "string", "Only this service (e.g. \"BigQuery\").", &[]),
                ],
                &[],
            )
        },
    },
    Tool {
        name: "list_anomalies",
        title: "List anomalies",
        description: "Cost anomalies the detector found (or people recorded), newest first, with severity, actual against expected and impact so far.",
        needs: Role::Viewer,
        schema: || {
            object(
                &[
                    ("state", "string", "open or resolved; default both.", &["open", "resolved"]),
                    ("severity", "string", "Only this severity.", SEVERITIES),
                    ("provider", "string", "Only this provider.", &[]),
                    ("service", "string", "Only this service.", &[]),
                    ("from", "string", "Started at or after (RFC 3339 or date).", &[]),
                    ("to", "string", "Started before (RFC 3339 or date).", &[]),
                    ("limit", "integer", "At most this many (1 to 1000, default 100).", &[]),
                ],
                &[],
            )
        },
    },
    Tool {
        name: "get_anomaly",
        title: "Explain an anomaly",
        description: "One anomaly: its series around it with the expected value and band, up to 10 root causes with their share of the excess, its timeline, the other series the same incident raised, and what its actions recovered.",
        needs: Role::Viewer,
        schema: || object(&[("id", "string", "The anomaly's id (from list_anomalies).", &[])], &["id"]),
    },
    Tool {
        name: "list_actions",
        title: "List actions",
        description: "Remediation actions (proposed, waiting for approval, executed...), newest first.",
        needs: Role::Viewer,
        schema: || {
            let statuses = statuses();
            object(
                &[
                    ("status", "string", "Only this status.", &statuses),
                    ("anomaly_id", "string", "Only the actions on this anomaly.", &[]),
                    ("limit", "integer", "At most this many (1 to 1000, default 100).", &[]),
                ],
                &[],
            )
        },
    },
    Tool {
        name: "get_action",
        title: "Show an action",
        description: "One action with its history (who, when, why) and what the safety policy says of it now.",
        needs: Role::Viewer,
        schema: || object(&[("id", "string", "The action's id.", &[])], &["id"]),
    },
    Tool {
        name: "propose_action",
        title: "Propose an action",
        description: "Files a proposal (approver keys only) that people then approve or reject in CostGuard: it is routed through the same safety rules and audit as a proposal made in the API or dashboard, and waits for approval. Nothing runs until a person approves it; no tool can approve.",
        needs: Role::Approver,
        schema: || {
            let kinds = kinds();
            object(
                &[
                    ("kind", "string", "What to do.", &kinds),
                    ("target", "string", "The job, instance, VM or key to act on.", &[]),
                    ("risk", "string", "How risky (high needs two approvers).", RISKS),
                    ("provider", "string", "The target's provider.", &[]),
                    ("account", "string", "The target's account, project or subscription.", &[]),
                    ("anomaly_id", "string", "The anomaly it answers, if any.", &[]),
                ],
                &["kind", "target", "risk"],
            )
        },
    },
    Tool {
        name: "budget_status",
        title: "Budget status",
        description: "Budgets with this period's spend, the forecast for the period's end with its range, the percentage of the budget and the thresholds crossed; all of them, or one by id.",
        needs: Role::Viewer,
        schema: || object(&[("id", "string", "One budget's id; default all.", &[])], &[]),
    },
];

pub fn listed() -> Vec<Value> {
    TOOLS
        .iter()
        .map(|t| {
            json!({"name": t.name, "title": t.title, "description": t.description, "inputSchema": (t.schema)(),
                "annotations": {"readOnlyHint": t.needs == Role::Viewer, "destructiveHint": false, "openWorldHint": false}})
        })
        .collect()
}

/// What a tool call came to: its structured answer, or a refusal the assistant should read
/// (not found, not allowed, already proposed): MCP reports those in the result, not as errors.
pub enum Outcome {
    Done(Value),
    Refused(String),
}

/// The answer of an API handler as an outcome: bad arguments become the JSON-RPC error naming
/// the field (the API's `parameter` or `field`).
pub async fn answer(response: Result<HttpResponse, ApiError>) -> Result<Outcome, RpcError> {
    let response = match response {
        Ok(r) => r,
        Err(e) if matches!(e.status.as_u16(), 400 | 422) => {
            let field = e.detail["parameter"].as_str().or(e.detail["field"].as_str()).unwrap_or("arguments");
            let message = e.detail["message"].as_str().map_or_else(|| e.detail.to_string(), str::to_string);
            return Err(RpcError::field(field, message));
        }
        Err(e) if e.status.is_server_error() => return Err(RpcError::new(INTERNAL_ERROR, e.detail.to_string())),
        Err(e) => return Ok(Outcome::Refused(e.detail.as_str().map_or_else(|| e.detail.to_string(), str::to_string))),
    };
    let bytes = actix_web::body::to_bytes(response.into_body())
        .await
        .map_err(|_| RpcError::new(INTERNAL_ERROR, "the answer could not be read"))?;
    serde_json::from_slice(&bytes).map(Outcome::Done).map_err(|e| RpcError::new(INTERNAL_ERROR, e.to_string()))
}

fn arguments<T: serde::de::DeserializeOwned>(args: &Value) -> Result<T, RpcError> {
    serde_json::from_value(args.clone()).map_err(|e| RpcError::field("arguments", e.to_string()))
}

fn id(args: &Value) -> String {
    args["id"].as_str().unwrap_or_default().to_string()
}

/// Runs tool `name` for `caller`; `Err` for a protocol error (unknown tool, bad arguments).
pub async fn call(state: &web::Data<AppState>, caller: &Caller, name: &str, args: &Value) -> Result<Outcome, RpcError> {
    let Some(tool) = TOOLS.iter().find(|t| t.name == name) else {
        let names: Vec<&str> = TOOLS.iter().map(|t| t.name).collect();
        return Err(RpcError::field("name", format!("no tool '{name}' (there are {})", names.join(", "))));
    };
    check(&(tool.schema)(), args)?;
    if let Err(e) = caller.require(tool.needs) {
        return Ok(Outcome::Refused(e.detail.as_str().unwrap_or("not allowed").to_string()));
    }
    let (c, s) = (caller.clone(), state.clone());
    let response = match name {
        "query_costs" => api::costs::get_costs(c, s, web::Query(arguments(args)?)).await,
        "list_anomalies" => api::anomalies::list(c, s, web::Query(arguments(args)?)).await,
        "get_anomaly" => {
            api::anomalies::detail(c, s, web::Path::from(crate::domain::ids::AnomalyId::new(id(args)))).await
        }
        "list_actions" => api::actions::list(c, s, web::Query(arguments(args)?)).await,
        "get_action" => api::actions::detail(c, s, web::Path::from(crate::domain::ids::ActionId::new(id(args)))).await,
        // The role was checked above, as the `WithBody` extractor does for the API.
        "propose_action" => api::actions::create(s, WithBody(c, web::Json(arguments(args)?))).await,
        "budget_status" if args.get("id").is_some_and(|v| !v.is_null()) => {
            api::budgets::detail(c, s, web::Path::from(id(args))).await
        }
        "budget_status" => api::budgets::list(c, s).await,
        _ => return Err(RpcError::field("name", format!("no tool '{name}'"))),
    };
    answer(response).await
}
