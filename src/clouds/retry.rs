//! Retries for clients whose SDK does not retry by itself (the AWS SDK and azure_core do):
//! exponential backoff with full jitter, only for errors the caller calls transient
//! (throttling, 5xx), and every retry logged.

use backon::{ExponentialBuilder, Retryable};
use std::future::Future;
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub attempts: u32,
    pub first: Duration,
    pub max: Duration,
}

impl Backoff {
    pub fn new(attempts: u32) -> Self {
        Backoff { attempts: attempts.max(1), first: Duration::from_millis(200), max: Duration::from_secs(30) }
    }
}

/// Runs `op` until it succeeds, fails permanently, or runs out of attempts.
pub async fn retrying<T, E, F, Fut>(what: &str, backoff: Backoff, transient: impl Fn(&E) -> bool, op: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    retrying_after(what, backoff, transient, |_| None, op).await
}

/// As [`retrying`], but waits as long as the server asked (`after`: its Retry-After) when it did.
pub async fn retrying_after<T, E, F, Fut>(
    what: &str,
    backoff: Backoff,
    transient: impl Fn(&E) -> bool,
    after: impl Fn(&E) -> Option<Duration>,
    op: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let policy = ExponentialBuilder::default()
        .with_min_delay(backoff.first)
        .with_max_delay(backoff.max)
        .with_max_times(backoff.attempts.saturating_sub(1) as usize)
        .with_jitter();
    op.retry(policy)
        .when(transient)
        .adjust(|e, planned| after(e).map(|asked| asked.min(backoff.max)).or(planned))
        .notify(|e, wait| tracing::warn!(call = what, error = %e, wait_ms = wait.as_millis() as u64, "transient error; retrying"))
        .await
}
