//! The state every HTTP handler shares, the JSON API's and the dashboard's alike. It lives
//! outside `web/` and `dashboard/` so that neither depends on the other; it holds only types
//! of the modules below them (the dashboard's own settings are `dashboard::DashboardState`).

use crate::db::Db;
use crate::ingest::Ingestor;
use metrics_exporter_prometheus::PrometheusHandle;
use serde::{Deserialize, Serialize};

/// Shared, read-only state handed to every handler.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    /// "Now" for every decision on anomalies and actions (the workers share it).
    pub clock: crate::clock::Clock,
    pub ingestor: Ingestor,
    pub limits: ServerSettings,
    pub metrics: PrometheusHandle,
    pub detect: crate::detect::DetectSettings,
    pub approval: crate::approval::ApprovalSettings,
    pub safety: crate::domain::approval::safety::SafetyRules,
    pub bus: crate::bus::Bus,
    /// Encrypts provider credentials entered in the dashboard.
    pub cipher: crate::credentials::Cipher,
    pub sources: crate::ingest::schedule::Sources,
    /// Describes how actions would run (mode and plan); the worker holds its own clone.
    pub runner: crate::execute::Runner,
    /// The simulated clouds run (the dashboard offers to re-seed them).
    pub demo: bool,
    /// Whether this replica runs the background work (`/readyz` says so).
    pub leader: crate::cluster::Leadership,
    /// Verifies and maps Slack button clicks (`slack`).
    pub slack: crate::notify::settings::SlackSettings,
    /// Token prices per provider ("openai", "anthropic"), to price pushed usage sent
    /// without a cost.
    pub llm_prices: std::collections::BTreeMap<String, crate::domain::llm_prices::PriceTable>,
    /// Admission for the expensive reads (ledger aggregations), so they can never hold every
    /// pooled connection and the dashboard, keys and health checks keep answering.
    pub heavy: Gate,
    /// How long one of those reads may run (`database.query_timeout_ms`).
    pub query_limit: std::time::Duration,
}

/// A bounded number of concurrent expensive requests; the rest wait briefly, then are told
/// to come back (the handler answers 503 with `Retry-After`).
#[derive(Clone)]
pub struct Gate {
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    wait: std::time::Duration,
}

impl Gate {
    /// For a pool of `pool_size`: all but two connections may serve expensive reads (at least
    /// one), leaving the rest for everything else.
    pub fn for_pool(pool_size: u32, wait: std::time::Duration) -> Gate {
        let permits = pool_size.saturating_sub(2).max(1) as usize;
        Gate { permits: std::sync::Arc::new(tokio::sync::Semaphore::new(permits)), wait }
    }

    /// A permit, or None when none came free within the wait.
    pub async fn enter(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await.ok()?.ok()
    }
}

/// `[server]`: where the HTTP edge listens and what it accepts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address and port to listen on.
    pub bind: String,
    /// Largest JSON body accepted, in bytes.
    pub max_json_bytes: usize,
    /// Largest CSV import accepted over HTTP, in bytes as sent (compressed for gzip; `[import]`
    /// bounds what it decompresses to).
    pub max_import_bytes: u64,
    /// HTTP worker threads, each one event loop; the pool is sized from it.
    pub workers: usize,
    /// Seconds to let in-flight requests finish on shutdown.
    pub shutdown_timeout_secs: u64,
    /// Spend series with their own labels on /metrics (the biggest; the rest are summed
    /// per provider), so the label sets stay bounded.
    pub metrics_max_series: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            bind: "127.0.0.1:8080".into(),
            max_json_bytes: 16 * 1024 * 1024,
            max_import_bytes: 2 * 1024 * 1024 * 1024,
            workers: 2,
            shutdown_timeout_secs: 30,
            metrics_max_series: 100,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Gate;
    use std::time::Duration;

    #[tokio::test]
    async fn the_gate_leaves_two_connections_free_and_refuses_after_its_wait() {
        let gate = Gate::for_pool(8, Duration::from_millis(50));
        let mut admitted = Vec::new();
        for _ in 0..6 {
            admitted.push(gate.enter().await.expect("six of eight may be heavy"));
        }
        assert!(gate.enter().await.is_none(), "the seventh waits, then is refused");
        admitted.pop();
        assert!(gate.enter().await.is_some(), "a freed permit admits the next");
        assert!(Gate::for_pool(1, Duration::from_millis(1)).enter().await.is_some(), "a pool of one still serves");
    }
}
