//! The metrics contract: the exposition passes `promtool check metrics`, every metric the
//! binary declares shows up once things happened (tests/api/demo_loop.rs), and the Grafana
//! dashboard asks only for metrics the binary exports, in PromQL promtool accepts.

use costguard::telemetry::METRICS;
use std::io::Write;
use std::process::{Command, Stdio};

fn promtool() -> bool {
    let found = Command::new("promtool").arg("--version").output().is_ok_and(|o| o.status.success());
    crate::helpers::tool_present("promtool (apt-get install prometheus)", found)
}

/// Runs promtool with `args`, `input` on stdin; its complaint on failure.
fn run_promtool(args: &[&str], input: &str) -> Result<(), String> {
    let mut child = Command::new("promtool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() {
        Ok(())
    } else {
        Err(said)
    }
}

/// Checks an exposition with promtool's linter (names, units, help, types).
pub fn check_exposition(text: &str) {
    if promtool() {
        run_promtool(&["check", "metrics"], text).unwrap_or_else(|e| panic!("promtool check metrics: {e}"));
    }
}

/// Every metric an exposition has (histogram series folded into their metric).
pub fn exported(text: &str) -> std::collections::BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(|name| base(name).to_string())
        .collect()
}

fn base(name: &str) -> &str {
    ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix).filter(|b| METRICS.iter().any(|(m, _)| m == b)))
        .unwrap_or(name)
}

/// The costguard_* names an expression uses.
fn names_in(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("costguard_") {
        let tail = &rest[at..];
        let end = tail.find(|c: char| !(c.is_ascii_lowercase() || c == '_')).unwrap_or(tail.len());
        out.push(base(&tail[..end]).to_string());
        rest = &tail[end..];
    }
    out
}

#[test]
fn the_grafana_dashboard_asks_only_for_exported_metrics() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/grafana/costguard.json");
    let dashboard: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    let titles: Vec<&str> = panels.iter().filter_map(|p| p["title"].as_str()).collect();
    for wanted in ["Spend vs expected, per hour", "Open anomalies", "Approval queue", "Cost recovered over time"] {
        assert!(titles.contains(&wanted), "no '{wanted}' panel in {titles:?}");
    }
    let mut exprs: Vec<String> = panels
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap().iter().map(|t| t["expr"].as_str().unwrap().to_string()))
        .collect();
    let variables = dashboard["templating"]["list"].as_array().unwrap();
    let uses: Vec<String> = exprs
        .iter()
        .chain(variables.iter().filter_map(|v| v["definition"].as_str().map(str::to_string)).collect::<Vec<_>>().iter())
        .flat_map(|e| names_in(e))
        .collect();
    assert!(uses.len() >= exprs.len(), "every query names a metric");
    for name in &uses {
        assert!(
            METRICS.iter().any(|(m, _)| m == name),
            "the dashboard asks for {name}, which the binary does not export"
        );
    }
    // Each expression is valid PromQL: promtool checks them as recording rules.
    if promtool() {
        exprs.dedup();
        let rules: Vec<serde_json::Value> = exprs
            .iter()
            .enumerate()
            .map(|(i, e)| serde_json::json!({"record": format!("costguard:panel_{i}"), "expr": e.replace("$provider", ".*")}))
            .collect();
        // JSON is YAML, which promtool reads.
        let file = serde_json::json!({"groups": [{"name": "dashboard", "rules": rules}]});
        let dir = tempfile::tempdir().unwrap();
        let rules_path = dir.path().join("rules.yml");
        std::fs::write(&rules_path, file.to_string()).unwrap();
        run_promtool(&["check", "rules", rules_path.to_str().unwrap()], "")
            .unwrap_or_else(|e| panic!("the dashboard's PromQL: {e}"));
    }
}

#[test]
fn every_declared_metric_has_help_and_a_conventional_name() {
    for (name, help) in METRICS {
        assert!(name.starts_with("costguard_") && !help.is_empty(), "{name}");
        assert!(!name.ends_with("_ms") && !name.contains("_milliseconds"), "{name}: seconds are the base unit");
    }
    assert_eq!(
        names_in("rate(costguard_http_request_duration_seconds_bucket[5m])"),
        ["costguard_http_request_duration_seconds"]
    );
}
