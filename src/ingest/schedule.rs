//! Runs each enabled source on its cron schedule (6 fields, seconds first). A run that is
//! still going when the next tick comes is not started twice.

use super::providers::CostSource;
use super::runner::run_once;
use super::Ingestor;
use std::sync::Arc;
use tokio_cron_scheduler::{Job, JobScheduler};

/// Checks a cron expression the way the scheduler will read it.
pub fn validate_cron(expression: &str) -> Result<(), String> {
    Job::new_async(expression, |_, _| Box::pin(async {}))
        .map(|_| ())
        .map_err(|e| format!("'{expression}' is not a 6-field cron expression ({e:?})"))
}

/// Adds one job per source and runs each source once right away (the first run backfills).
/// An empty schedule disables a source's later runs.
pub async fn add_sources(
    scheduler: &JobScheduler,
    ingestor: Ingestor,
    sources: Vec<(Arc<dyn CostSource>, String)>,
) -> anyhow::Result<()> {
    for (source, cron) in sources {
        let busy = Arc::new(tokio::sync::Mutex::new(()));
        tokio::spawn(run_guarded(ingestor.clone(), source.clone(), busy.clone()));
        if cron.trim().is_empty() {
            continue;
        }
        let ingestor = ingestor.clone();
        let job = Job::new_async(cron.as_str(), move |_, _| {
            Box::pin(run_guarded(ingestor.clone(), source.clone(), busy.clone()))
        })?;
        scheduler.add(job).await?;
    }
    Ok(())
}

/// Runs a source unless its previous run is still going.
async fn run_guarded(ingestor: Ingestor, source: Arc<dyn CostSource>, busy: Arc<tokio::sync::Mutex<()>>) {
    let Ok(_running) = busy.try_lock() else {
        tracing::debug!(source = source.name(), "previous run still going; skipping this tick");
        return;
    };
    // Errors are recorded by run_once; a scheduled job never panics.
    let _ = run_once(&ingestor, source.as_ref()).await;
}

#[cfg(test)]
mod tests {
    #[test]
    fn cron_needs_six_fields() {
        assert!(super::validate_cron("*/20 * * * * *").is_ok());
        assert!(super::validate_cron("* * * * *").is_err());
        assert!(super::validate_cron("often").is_err());
    }
}
