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

/// The alerting rules are valid and pass their own unit tests, and they ask only for metrics
/// the binary exports.
#[test]
fn the_alerting_rules_check_and_pass_their_tests() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus");
    let rules = std::fs::read_to_string(dir.join("rules.yml")).unwrap();
    for name in names_in(&rules) {
        assert!(METRICS.iter().any(|(m, _)| *m == name), "the rules ask for {name}, which the binary does not export");
    }
    for wanted in [
        "CostGuardIngestionStale",
        "CostGuardExecutorFailures",
        "CostGuardApprovalsExpiring",
        "CostGuardAuditHeadStalled",
        "CostGuardNotLeading",
    ] {
        assert!(rules.contains(&format!("alert: {wanted}")), "no {wanted} alert");
    }
    if promtool() {
        let run = |args: &[&str]| {
            let out = Command::new("promtool").args(args).current_dir(&dir).output().unwrap();
            assert!(
                out.status.success(),
                "promtool {args:?}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(&["check", "rules", "rules.yml"]);
        run(&["test", "rules", "rules.test.yml"]);
    }
}

/// A fresh process exports, before anything has happened: every executor counter at zero for
/// each action kind, call and outcome, recovered money at zero in USD, its build, whether it
/// leads, and the standard process metrics, in an exposition promtool accepts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_process_exports_its_known_series_at_zero() {
    let dir = tempfile::tempdir().unwrap();
    let node = crate::helpers::Node::new(crate::helpers::fresh_database(crate::helpers::Backend::Sqlite, dir.path()));
    let _served = node.serve(&[]);
    let client = reqwest::Client::new();
    let url = format!("{}/metrics", node.url);
    let text = crate::helpers::until("/metrics", std::time::Duration::from_secs(60), async || {
        client.get(&url).send().await.ok()?.text().await.ok()
    })
    .await;
    check_exposition(&text);
    for kind in costguard::domain::optimizer::ActionKind::ALL {
        let line = format!(
            "costguard_executor_calls_total{{kind=\"{}\",call=\"execute\",outcome=\"error\"}} 0",
            kind.as_str()
        );
        assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
    }
    assert!(text.lines().any(|l| l == "costguard_cost_recovered_total{currency=\"USD\"} 0"), "{text}");
    assert!(text.lines().any(|l| l == "costguard_leader 1"), "a lone SQLite replica leads");
    let build = format!("costguard_build_info{{version=\"{}\"", env!("CARGO_PKG_VERSION"));
    assert!(text.lines().any(|l| l.starts_with(&build) && l.ends_with(" 1")), "{text}");
    for process in
        ["process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds", "process_start_time_seconds"]
    {
        assert!(text.lines().any(|l| l.starts_with(process)), "{process} missing");
    }
}
