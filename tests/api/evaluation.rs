//! `costguard eval` on the NAB subset in ../shared: the summary line, the results files, and
//! clear errors for bad input.

use crate::helpers::shared_data;
use serde_json::Value;
use std::process::Command;

fn eval(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_costguard"))
        .arg("eval")
        .args(args)
        .env("COSTGUARD_CONFIG", concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml"))
        .output()
        .unwrap()
}

#[test]
fn scores_the_nab_corpus_and_writes_results_nab_can_rescore() {
    let (Some(data), Some(windows)) = (shared_data("nab/data"), shared_data("nab/combined_windows.json")) else {
        return;
    };
    let out_dir = tempfile::tempdir().unwrap();
    let (data, windows, out) = (data.to_str().unwrap(), windows.to_str().unwrap(), out_dir.path().to_str().unwrap());
    let output = eval(&["--data", data, "--windows", windows, "--json", "--out", out]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let files = std::fs::read_dir(data).unwrap().flat_map(|g| std::fs::read_dir(g.unwrap().path()).unwrap()).count();
    assert_eq!(summary["files"].as_u64(), Some(files as u64));
    for field in ["score", "precision", "recall", "false_positives", "mean_delay_points"] {
        assert!(summary[field].is_number(), "{field} in {summary}");
    }
    let score = summary["score"].as_f64().unwrap();
    // Far better than detecting nothing (0) or the published random detector (11).
    assert!(score > 25.0 && score <= 100.0, "{summary}");
    assert!(summary["recall"].as_f64().unwrap() > 0.6, "{summary}");

    // One NAB results file per input, with the windows as labels.
    let results = out_dir.path().join("realAWSCloudwatch/costguard_ec2_cpu_utilization_825cc2.csv");
    let text = std::fs::read_to_string(&results).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("timestamp,value,anomaly_score,label"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 4032);
    assert!(rows.iter().any(|r| r[3] == "1"), "labelled window rows");
    // A continuous score for NAB's threshold optimiser: production's threshold is 0.5.
    let scores: Vec<f64> = rows.iter().map(|r| r[2].parse().unwrap()).collect();
    assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)), "scores in [0, 1]");
    assert!(scores.iter().any(|&s| s > 0.0 && s < 0.5), "near misses rank below the threshold");
    let threshold = summary["best_threshold"]["threshold"].as_f64().unwrap();
    assert!(threshold > 0.0 && threshold < 1.0, "{summary}");
    assert!(summary["best_threshold"]["score"].as_f64().unwrap() >= score, "the optimiser never does worse");

    // Profiles change the weights, so the scores differ.
    let strict = eval(&["--data", data, "--windows", windows, "--json", "--profile", "reward_low_FP_rate"]);
    let strict: Value =
        serde_json::from_str(String::from_utf8(strict.stdout).unwrap().lines().last().unwrap()).unwrap();
    assert!(strict["score"].as_f64().unwrap() < score);
    assert_eq!(strict["false_positives"], summary["false_positives"]);
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.csv"), "timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,x\n")
        .unwrap();
    std::fs::write(dir.path().join("windows.json"), r#"{"a.csv": []}"#).unwrap();
    let (d, w) = (dir.path().to_str().unwrap().to_string(), dir.path().join("windows.json"));
    let output = eval(&["--data", &d, "--windows", w.to_str().unwrap()]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("a.csv") && stderr.contains("line 3"), "{stderr}");

    std::fs::write(dir.path().join("a.csv"), "timestamp,value\n2014-01-01 00:00:00,1\n").unwrap();
    std::fs::write(dir.path().join("windows.json"), r#"{"b.csv": []}"#).unwrap();
    let output = eval(&["--data", &d, "--windows", w.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("no entry for a.csv"));
}

/// `costguard scenarios` writes labelled cost series that `costguard eval --kinds` scores by
/// incident: recall, delay, false alarms per series-month and per kind, benign charges apart.
#[test]
fn generated_cost_scenarios_are_scored_by_incident_and_kind() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let made = Command::new(env!("CARGO_BIN_EXE_costguard"))
        .args(["scenarios", "--out", out, "--seed", "5", "--series", "12", "--days", "60"])
        .env("COSTGUARD_CONFIG", concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml"))
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let (windows, kinds) = (dir.path().join("windows.json"), dir.path().join("kinds.json"));
    let output =
        eval(&["--data", out, "--windows", windows.to_str().unwrap(), "--kinds", kinds.to_str().unwrap(), "--json"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let i = &summary["incidents"];
    assert_eq!(summary["files"], 12);
    assert!(i["incidents"].as_u64().unwrap() >= 12, "{i}");
    let recall = i["recall"].as_f64().unwrap();
    assert!(recall > 0.5 && recall <= 1.0, "{i}");
    assert!(i["false_alarms_per_series_month"].is_number(), "{i}");
    let by_kind = i["by_kind"].as_object().unwrap();
    assert!(by_kind.keys().all(|k| ["runaway", "spike", "level_shift", "ramp", "weekend_break"].contains(&k.as_str())));
    let found: u64 = by_kind.values().map(|k| k["found"].as_u64().unwrap()).sum();
    assert_eq!(found as f64, (recall * i["incidents"].as_f64().unwrap()).round());
    assert!(stdout.contains("recall") && stdout.contains("per series-month"), "{stdout}");
}
