//! Cron schedules (6 fields, seconds first), checked the way `tokio-cron-scheduler` will read
//! them, so a bad schedule in config.toml or the dashboard stops start-up (or the change)
//! naming its key. A leaf: every module with a schedule validates through here.

use tokio_cron_scheduler::Job;

/// Checks a cron expression the way the scheduler will read it.
pub fn validate_cron(expression: &str) -> Result<(), String> {
    Job::new_async(expression, |_, _| Box::pin(async {}))
        .map(|_| ())
        .map_err(|e| format!("'{expression}' is not a 6-field cron expression ({e:?})"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn six_fields_seconds_first() {
        assert!(super::validate_cron("*/20 * * * * *").is_ok());
        assert!(super::validate_cron("* * * * *").is_err());
        assert!(super::validate_cron("often").is_err());
    }
}
