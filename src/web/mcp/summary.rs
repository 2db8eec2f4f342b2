//! The short text every tool result carries beside its structured content: what an assistant
//! (or a person reading its transcript) needs first, from the same JSON the API answers.

use serde_json::Value;

fn money(v: &Value) -> String {
    use crate::domain::money::{format_display, parse_scaled, SCALE};
    let text = v.as_str().unwrap_or("0");
    parse_scaled(text, SCALE).map_or_else(|| text.to_string(), |u| format_display(u, 2))
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn anomaly_line(a: &Value) -> String {
    format!(
        "{} {} ({}) since {}: {} {} against {} expected [{}]",
        s(&a["severity"]).to_uppercase(),
        s(&a["label"]),
        a["lifecycle"].as_str().unwrap_or(s(&a["state"])),
        s(&a["started_at"]),
        money(&a["actual"]),
        s(&a["currency"]),
        money(&a["expected"]),
        s(&a["id"]),
    )
}

fn action_line(a: &Value) -> String {
    format!(
        "{} {}: {} (risk {}) [{}]",
        s(&a["kind"]).replace('_', " "),
        s(&a["target"]),
        s(&a["status"]),
        s(&a["risk"]),
        s(&a["id"])
    )
}

fn budget_line(b: &Value) -> String {
    match b["spent"].as_str() {
        None => format!("{} ({}): not evaluated yet", s(&b["name"]), s(&b["scope_label"])),
        Some(_) => format!(
            "{} ({}, per {}): spent {} of {} {} ({}%); forecast {} ({} to {}); crossed: {}",
            s(&b["name"]),
            s(&b["scope_label"]),
            s(&b["period"]),
            money(&b["spent"]),
            money(&b["amount"]),
            s(&b["currency"]),
            b["percent_of_budget"],
            money(&b["forecast"]),
            money(&b["forecast_low"]),
            money(&b["forecast_high"]),
            b["crossed"].as_array().map_or(0, Vec::len),
        ),
    }
}

fn list(what: &str, items: &Value, line: fn(&Value) -> String) -> String {
    let items = items.as_array().cloned().unwrap_or_default();
    let mut text = format!("{} {what}", items.len());
    for item in items.iter().take(10) {
        text.push_str("\n- ");
        text.push_str(&line(item));
    }
    if items.len() > 10 {
        text.push_str(&format!("\n(and {} more in the structured content)", items.len() - 10));
    }
    text
}

/// The text for tool `name`'s answer `v`.
pub fn of(name: &str, v: &Value) -> String {
    match name {
        "query_costs" => {
            let totals: Vec<String> = v["totals"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| format!("{} {}", money(&t["effective_cost"]), s(&t["currency"])))
                .collect();
            format!(
                "Costs from {} to {} per {}{}: {} rows; total {}",
                s(&v["from"]),
                s(&v["to"]),
                s(&v["granularity"]),
                v["group_by"].as_str().map(|g| format!(" by {g}")).unwrap_or_default(),
                v["rows"].as_array().map_or(0, Vec::len),
                if totals.is_empty() { "nothing".into() } else { totals.join(", ") },
            )
        }
        "list_anomalies" => list("anomalies", v, anomaly_line),
        "get_anomaly" => {
            let mut text = anomaly_line(v);
            if let Some(c) = v["root_causes"].as_array().and_then(|c| c.first()) {
                text.push_str(&format!(
                    "\nMain cause: {} {} (+{}, {:.0}% of the excess)",
                    s(&c["dimension"]),
                    s(&c["value"]),
                    money(&c["delta"]),
                    c["share"].as_f64().unwrap_or(0.0) * 100.0
                ));
            }
            text
        }
        "list_actions" => list("actions", v, action_line),
        "get_action" => action_line(v),
        "propose_action" => format!(
            "Proposed: {}. A person approves or rejects it in CostGuard (/actions/{}); nothing runs before.",
            action_line(v),
            s(&v["id"])
        ),
        "budget_status" if v.is_array() => list("budgets", v, budget_line),
        "budget_status" => budget_line(v),
        _ => v.to_string(),
    }
}
