//! The commands that ask a running server: `costs`, `anomalies`, `actions [approve|reject]`.
//!
//! They speak the public HTTP API with an API key, exactly as any other client would, so
//! they work against a remote replica and go through the same roles, safety rules and audit
//! log as the dashboard. The key comes from `COSTGUARD_API_KEY` only: an argument would show
//! in `ps` and in shell history.

use super::args::{ActionListArgs, ActionVerb, ActionsArgs, AnomaliesArgs, CostsArgs, Decision, ServerArgs};
use crate::config::Settings;
use comfy_table::{presets::UTF8_BORDERS_ONLY, Cell, CellAlignment, Table};
use serde_json::Value;
use std::time::Duration;

pub const API_KEY_ENV: &str = "COSTGUARD_API_KEY";

/// One server and the key to speak to it with.
struct Server {
    base: String,
    key: String,
    http: reqwest::Client,
}

impl Server {
    fn connect(settings: &Settings, args: &ServerArgs) -> anyhow::Result<Server> {
        let key = std::env::var(API_KEY_ENV).ok().filter(|k| !k.trim().is_empty()).ok_or_else(|| {
            anyhow::anyhow!(
                "set {API_KEY_ENV} to an API key (create one with `costguard apikey create --name me --role viewer`)"
            )
        })?;
        let base = match &args.url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://127.0.0.1:{}", settings.bind_addr().port()),
        };
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
        Ok(Server { base, key: key.trim().to_string(), http })
    }

    /// The URL of an API path under the base (which may itself have a path, behind a proxy),
    /// each segment escaped.
    fn url(&self, segments: &[&str]) -> anyhow::Result<reqwest::Url> {
        let mut url = reqwest::Url::parse(&self.base)
            .map_err(|e| anyhow::anyhow!("--url {}: {e} (expected http://host:port)", self.base))?;
        url.path_segments_mut()
            .map_err(|()| anyhow::anyhow!("--url {}: not an http(s) URL", self.base))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    async fn get(&self, segments: &[&str], query: &[(&str, Option<String>)]) -> anyhow::Result<Value> {
        let query: Vec<(&str, String)> = query.iter().filter_map(|(k, v)| v.clone().map(|v| (*k, v))).collect();
        self.send(self.http.get(self.url(segments)?).query(&query)).await
    }

    async fn post(&self, segments: &[&str], body: Value) -> anyhow::Result<Value> {
        self.send(self.http.post(self.url(segments)?).json(&body)).await
    }

    /// Sends with the key; a refusal becomes one line with the server's own error and detail.
    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let response = request.bearer_auth(&self.key).send().await.map_err(|e| {
            anyhow::anyhow!(
                "could not reach {} ({}); is `costguard serve` running there? (--url)",
                self.base,
                cause(&e)
            )
        })?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        let detail = match &body["detail"] {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        let error = body["error"].as_str().unwrap_or("error");
        anyhow::bail!("the server answered {status}: {error}: {detail}")
    }
}

/// The innermost cause of a transport error ("Connection refused"), not reqwest's chain.
fn cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = error;
    while let Some(next) = inner.source() {
        inner = next;
    }
    inner.to_string()
}

/// `costguard costs`: totals by period (and a dimension), then per currency.
pub async fn costs(settings: &Settings, args: CostsArgs) -> anyhow::Result<()> {
    let server = Server::connect(settings, &args.server)?;
    let body = server
        .get(
            &["api", "v1", "costs"],
            &[
                ("from", args.from),
                ("to", args.to),
                ("granularity", args.granularity),
                ("group_by", args.group_by.clone()),
                ("provider", args.provider),
                ("service", args.service),
            ],
        )
        .await?;
    if args.server.json {
        return print_json(&body);
    }
    let grouped = args.group_by.is_some();
    let mut header = vec!["PERIOD"];
    if grouped {
        header.push("GROUP");
    }
    header.extend(["CURRENCY", "BILLED", "EFFECTIVE", "RECORDS"]);
    let mut table = table(&header);
    for row in body["rows"].as_array().into_iter().flatten() {
        let mut cells = vec![text(&row["period_start"])];
        if grouped {
            cells.push(text(&row["group"]));
        }
        cells.extend([text(&row["currency"]), text(&row["billed_cost"]), text(&row["effective_cost"])]);
        cells.push(text(&row["records"]));
        add_row(&mut table, &header, cells);
    }
    let mut out = format!("{table}\n");
    for total in body["totals"].as_array().into_iter().flatten() {
        out += &format!(
            "total {} billed {} effective {} ({} records)\n",
            text(&total["currency"]),
            text(&total["billed_cost"]),
            text(&total["effective_cost"]),
            text(&total["records"])
        );
    }
    out += &format!("from {} to {}\n", text(&body["from"]), text(&body["to"]));
    super::emit(out.as_bytes())
}

/// `costguard anomalies`: newest first.
pub async fn anomalies(settings: &Settings, args: AnomaliesArgs) -> anyhow::Result<()> {
    let server = Server::connect(settings, &args.server)?;
    let body = server
        .get(
            &["api", "v1", "anomalies"],
            &[
                ("state", args.state),
                ("severity", args.severity),
                ("provider", args.provider),
                ("limit", args.limit.map(|l| l.to_string())),
            ],
        )
        .await?;
    if args.server.json {
        return print_json(&body);
    }
    let header = ["ID", "STARTED", "SEVERITY", "STATE", "SERIES", "IMPACT", "PROJECTED/DAY", "CURRENCY"];
    let mut table = table(&header);
    let rows = body.as_array().cloned().unwrap_or_default();
    for a in &rows {
        let cells = [
            text(&a["id"]),
            text(&a["started_at"]),
            text(&a["severity"]),
            text(&a["lifecycle"]),
            text(&a["label"]),
            estimate(&a["impact"]),
            estimate(&a["projected_daily"]),
            text(&a["currency"]),
        ];
        add_row(&mut table, &header, cells.into());
    }
    let count = format!("{} anomal{}", rows.len(), if rows.len() == 1 { "y" } else { "ies" });
    super::emit(format!("{table}\n{count}\n").as_bytes())
}

/// `costguard actions`, or one of its verbs.
pub async fn actions(settings: &Settings, args: ActionsArgs) -> anyhow::Result<()> {
    match args.verb {
        None => list_actions(settings, args.list).await,
        Some(ActionVerb::List(list)) => list_actions(settings, list).await,
        Some(ActionVerb::Approve(decision)) => decide(settings, "approve", decision).await,
        Some(ActionVerb::Reject(decision)) => decide(settings, "reject", decision).await,
    }
}

async fn list_actions(settings: &Settings, args: ActionListArgs) -> anyhow::Result<()> {
    let server = Server::connect(settings, &args.server)?;
    let query = [("status", args.status), ("limit", args.limit.map(|l| l.to_string()))];
    let body = server.get(&["api", "v1", "actions"], &query).await?;
    if args.server.json {
        return print_json(&body);
    }
    let header = ["ID", "STATUS", "KIND", "TARGET", "RISK", "SAVING/HOUR", "ANOMALY", "CREATED"];
    let mut table = table(&header);
    let rows = body.as_array().cloned().unwrap_or_default();
    for a in &rows {
        let cells = [
            text(&a["id"]),
            text(&a["status"]),
            text(&a["kind"]),
            text(&a["target"]),
            text(&a["risk"]),
            estimate(&a["estimated_saving_per_hour"]),
            text(&a["anomaly_id"]),
            text(&a["created_at"]),
        ];
        add_row(&mut table, &header, cells.into());
    }
    let count = format!("{} action{}", rows.len(), if rows.len() == 1 { "" } else { "s" });
    super::emit(format!("{table}\n{count}\n").as_bytes())
}

/// Approve or reject one action, as the key's owner; the server applies every rule.
async fn decide(settings: &Settings, verb: &str, decision: Decision) -> anyhow::Result<()> {
    let server = Server::connect(settings, &decision.server)?;
    let body = serde_json::json!({ "comment": decision.comment });
    let action = server.post(&["api", "v1", "actions", &decision.id, verb], body).await?;
    if decision.server.json {
        return print_json(&action);
    }
    let line = format!(
        "action {} ({} {}) is now {}\n",
        text(&action["id"]),
        text(&action["kind"]),
        text(&action["target"]),
        text(&action["status"])
    );
    super::emit(line.as_bytes())
}

fn print_json(body: &Value) -> anyhow::Result<()> {
    super::emit(format!("{}\n", serde_json::to_string_pretty(body)?).as_bytes())
}

fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_BORDERS_ONLY).set_header(header.to_vec());
    table
}

/// Adds a row, with money and counts right-aligned so their digits line up.
fn add_row(table: &mut Table, header: &[&str], cells: Vec<String>) {
    let numeric = ["BILLED", "EFFECTIVE", "RECORDS", "IMPACT", "PROJECTED/DAY", "SAVING/HOUR"];
    table.add_row(cells.into_iter().zip(header).map(|(c, h)| {
        let cell = Cell::new(c);
        if numeric.contains(h) {
            cell.set_alignment(CellAlignment::Right)
        } else {
            cell
        }
    }));
}

/// An estimate (an anomaly's impact, a saving per hour) to the cent: its further digits are
/// no knowledge. Costs, which the ledger knows exactly, are shown exactly; `--json` keeps
/// every amount exact.
fn estimate(value: &Value) -> String {
    value.as_str().and_then(crate::domain::money::for_reading).unwrap_or_else(|| text(value))
}

/// A JSON value as a table cell: strings bare, null as "-".
fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn estimates_show_to_the_cent_and_anything_else_as_it_is() {
        assert_eq!(estimate(&json!("11624.66224011495")), "11,624.66");
        assert_eq!(estimate(&json!("0.004")), "0.00");
        assert_eq!(estimate(&json!(null)), "-");
        assert_eq!(estimate(&json!("n/a")), "n/a");
    }
}
