//! Logging (tracing) and the Prometheus recorder.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use tracing_subscriber::EnvFilter;

/// Installs the log subscriber once; later calls (tests spawning several apps) are no-ops.
pub fn init_logging(level: &str, format: &str) {
    // The scheduler logs every job start at info; keep it to warnings unless asked. The AWS
    // credential chain warns with its providers' error structures for every provider that
    // found nothing; the ingestion run's own one-line error says it (`clouds::errors`).
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| {
        EnvFilter::new(format!("tokio_cron_scheduler=warn,aws_config::meta::credentials::chain=error,{level}"))
    });
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(colour_wanted());
    let _ = if format == "json" { builder.json().try_init() } else { builder.try_init() };
}

/// Colour codes only where a person reads them: on a terminal, and not when `NO_COLOR` is set
/// (no-color.org). Files, pipes and `docker logs` get plain text.
fn colour_wanted() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The process-wide Prometheus recorder (the `metrics` facade has one global recorder;
/// several apps in one test process share it).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            // Real buckets (not summaries), so dashboards can aggregate across replicas.
            let buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0];
            let recorder = PrometheusBuilder::new()
                .set_buckets(&buckets)
                .map(PrometheusBuilder::build_recorder)
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_ok() {
                describe();
            }
            handle
        })
        .clone()
}

/// The JSON-RPC methods the MCP endpoint answers, the label values of
/// `costguard_mcp_calls_total` (with "other" and "rate_limited").
pub const MCP_METHODS: [&str; 8] = [
    "server/discover",
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/templates/list",
    "resources/read",
];

/// Every metric this binary exports, with its help text (Prometheus conventions: base units,
/// `_total` counters, `_seconds` durations). deploy/grafana is checked against this list.
pub const METRICS: &[(&str, &str)] = &[
    ("costguard_spend_hourly", "Spend per hour of a provider/sub-account/service series at its latest point, in its currency (the largest series; the rest summed as (other))."),
    ("costguard_spend_expected_hourly", "Expected spend per hour of the same series, from its seasonal baseline."),
    ("costguard_anomalies_open", "Open anomalies by severity."),
    ("costguard_anomaly_events_total", "Anomaly lifecycle events (opened, updated, resolved) recorded by the detective."),
    ("costguard_actions", "Actions by status."),
    ("costguard_action_transitions_total", "Action state-machine transitions, by command and resulting status."),
    ("costguard_cost_recovered_total", "Cost recovered by succeeded actions, in whole units of the currency labelled (rounded)."),
    ("costguard_executor_calls_total", "Calls into cloud APIs by executors, by action kind, call (execute, verify) and outcome."),
    ("costguard_ingest_runs_total", "Ingestion runs by source and outcome (success, error)."),
    ("costguard_ingest_run_duration_seconds", "Duration of ingestion runs by source."),
    ("costguard_ingest_lag_seconds", "Seconds since a source last ingested successfully."),
    ("costguard_ingest_failing", "1 when a source's latest run failed, else 0."),
    ("costguard_ledger_records_written_total", "Ledger records written by source and kind (inserted, updated)."),
    ("costguard_ledger_newest_data_timestamp_seconds", "Unix time of the newest cost data per source."),
    ("costguard_detection_duration_seconds", "Duration of detection runs."),
    ("costguard_notifications_total", "Notification delivery tries by destination and outcome (sent, retry, failed)."),
    ("costguard_notification_delivery_seconds", "Duration of notification delivery tries by destination."),
    ("costguard_notifications_outbox", "Notifications in the outbox by status (pending, sent, failed)."),
    ("costguard_http_requests_total", "HTTP requests by route, method and status."),
    ("costguard_http_request_duration_seconds", "HTTP request duration by route."),
    ("costguard_db_pool_connections", "Database pool connections by state (in_use, idle)."),
    ("costguard_budget_amount", "A budget's amount, in whole units of its currency, by budget name and currency."),
    ("costguard_budget_spent", "Spent so far in a budget's current period, in whole units, by budget name and currency."),
    ("costguard_budget_forecast", "A budget's forecast for its period's end, in whole units, by budget name and currency."),
    ("costguard_mcp_calls_total", "Calls to the MCP endpoint by JSON-RPC method (rate_limited: refused for the key's rate)."),
    ("costguard_build_info", "Always 1, labelled with the running binary's version and git SHA."),
    ("costguard_leader", "1 while this replica leads (runs ingestion, detection and execution), else 0."),
    ("costguard_audit_head_seq", "Sequence number of the audit chain's last entry (its head; the server log has the hash)."),
    (
        "costguard_audit_chain_holds_published_head",
        "1 while the audit chain still holds the head published last; 0: entries were deleted or rewritten.",
    ),
];

/// Process metrics (CPU seconds, resident and virtual memory, open file descriptors, threads,
/// start time) under Prometheus's standard `process_*` names, read at each scrape.
fn process_collector() -> &'static metrics_process::Collector {
    static COLLECTOR: OnceLock<metrics_process::Collector> = OnceLock::new();
    COLLECTOR.get_or_init(|| {
        let collector = metrics_process::Collector::default();
        collector.describe();
        collector
    })
}

pub fn collect_process() {
    process_collector().collect();
}

/// Every counter whose label sets are known at start-up, at zero, so dashboards show 0 rather
/// than nothing and `increase()` sees the first event; and the build's info gauge.
pub fn register_known<'a>(destinations: impl IntoIterator<Item = &'a str>) {
    // Registered with the real recorder, which must be installed first.
    let _ = metrics_handle();
    let build = crate::build_info::info();
    metrics::gauge!("costguard_build_info", "version" => build.version, "git_sha" => build.git_sha).set(1.0);
    for kind in crate::domain::optimizer::ActionKind::ALL {
        let calls = [("execute", ["ok", "error", "timeout"]), ("verify", ["done", "not_yet", "error"])];
        for (call, outcomes) in calls {
            for outcome in outcomes {
                metrics::counter!("costguard_executor_calls_total", "kind" => kind.as_str(), "call" => call, "outcome" => outcome)
                    .increment(0);
            }
        }
    }
    for destination in destinations {
        for outcome in ["sent", "retry", "failed"] {
            metrics::counter!("costguard_notifications_total", "destination" => destination.to_string(), "outcome" => outcome)
                .increment(0);
        }
    }
    for method in MCP_METHODS.into_iter().chain(["other", "rate_limited"]) {
        metrics::counter!("costguard_mcp_calls_total", "method" => method).increment(0);
    }
    collect_process();
}

fn describe() {
    for (name, help) in METRICS {
        // The kind follows from the name: counters end in _total, histograms in _seconds.
        if name.ends_with("_total") {
            metrics::describe_counter!(*name, *help);
        } else if name.ends_with("_duration_seconds") || name.ends_with("_delivery_seconds") {
            metrics::describe_histogram!(*name, metrics::Unit::Seconds, *help);
        } else {
            metrics::describe_gauge!(*name, *help);
        }
    }
}
