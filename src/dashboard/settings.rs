//! `[dashboard]`: sessions, cookies and log-in limits of the browser UI.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DashboardSettings {
    /// The address people open, for links in logs and messages (empty: http://<server.bind>).
    pub public_url: String,
    /// Hours a session lasts from log-in, however active.
    pub session_hours: u32,
    /// Minutes a session survives without a request.
    pub idle_minutes: u32,
    /// Mark cookies Secure even when `public_url` is not https (a TLS proxy that does not
    /// show in the URL). An https `public_url` makes them Secure anyway.
    pub secure_cookies: bool,
    /// Take the client address from X-Forwarded-For / Forwarded (only behind a proxy you run).
    pub trust_forwarded_for: bool,
    /// Failed log-ins per user name and client address before each further one doubles the
    /// wait, from `login_backoff_base_seconds` up to `login_backoff_max_minutes`; a pair's
    /// failures count for `login_backoff_memory_hours`. (`login_max_failures_per_user`, the
    /// old name, is read as this: there is no lock per user name alone any more.)
    #[serde(alias = "login_max_failures_per_user")]
    pub login_free_failures: u32,
    pub login_backoff_base_seconds: u32,
    pub login_backoff_max_minutes: u32,
    pub login_backoff_memory_hours: u32,
    /// Failed log-ins per client address, whatever the names, within the window.
    pub login_max_failures_per_address: u32,
    pub login_window_minutes: u32,
    /// Rows per page in every list.
    pub page_size: u32,
    /// When expired sessions are deleted (cron, with seconds); they are refused from the
    /// moment they expire, this only keeps the table small.
    pub session_purge_schedule: String,
}

impl Default for DashboardSettings {
    fn default() -> Self {
        DashboardSettings {
            public_url: String::new(),
            session_hours: 12,
            idle_minutes: 120,
            secure_cookies: false,
            trust_forwarded_for: false,
            login_free_failures: 5,
            login_backoff_base_seconds: 2,
            login_backoff_max_minutes: 15,
            login_backoff_memory_hours: 24,
            login_max_failures_per_address: 50,
            login_window_minutes: 15,
            page_size: 50,
            session_purge_schedule: "0 17 * * * *".into(),
        }
    }
}

impl DashboardSettings {
    /// Whether cookies carry `Secure`: whenever people open the dashboard over https, so a
    /// session cookie is never sent in clear text, or when `secure_cookies` says so.
    pub fn cookies_secure(&self) -> bool {
        self.secure_cookies || self.public_url.trim().to_ascii_lowercase().starts_with("https://")
    }

    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let positive = [
            ("dashboard.session_hours", self.session_hours),
            ("dashboard.idle_minutes", self.idle_minutes),
            ("dashboard.login_free_failures", self.login_free_failures),
            ("dashboard.login_backoff_base_seconds", self.login_backoff_base_seconds),
            ("dashboard.login_backoff_max_minutes", self.login_backoff_max_minutes),
            ("dashboard.login_backoff_memory_hours", self.login_backoff_memory_hours),
            ("dashboard.login_max_failures_per_address", self.login_max_failures_per_address),
            ("dashboard.login_window_minutes", self.login_window_minutes),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err((key, "must be at least 1".into()));
        }
        if !(10..=500).contains(&self.page_size) {
            return Err(("dashboard.page_size", "must be between 10 and 500".into()));
        }
        crate::cron::validate_cron(&self.session_purge_schedule)
            .map_err(|e| ("dashboard.session_purge_schedule", e))?;
        let url = self.public_url.trim();
        if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
            return Err(("dashboard.public_url", format!("'{url}' must start with http:// or https://")));
        }
        Ok(())
    }

    pub fn lifetime(&self) -> crate::auth::sessions::Lifetime {
        crate::auth::sessions::Lifetime {
            absolute: chrono::Duration::hours(self.session_hours.into()),
            idle: chrono::Duration::minutes(self.idle_minutes.into()),
        }
    }

    pub fn login_limits(&self) -> crate::auth::login::Limits {
        crate::auth::login::Limits {
            free_failures: self.login_free_failures.into(),
            backoff_base: chrono::Duration::seconds(self.login_backoff_base_seconds.into()),
            backoff_max: chrono::Duration::minutes(self.login_backoff_max_minutes.into()),
            backoff_memory: chrono::Duration::hours(self.login_backoff_memory_hours.into()),
            per_address: self.login_max_failures_per_address.into(),
            window: chrono::Duration::minutes(self.login_window_minutes.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_https_public_url_makes_cookies_secure() {
        let plain = DashboardSettings::default();
        assert!(!plain.cookies_secure());
        let https = DashboardSettings { public_url: "HTTPS://costguard.example.com".into(), ..Default::default() };
        assert!(https.cookies_secure());
        let http = DashboardSettings { public_url: "http://10.0.0.5:8080".into(), ..Default::default() };
        assert!(!http.cookies_secure());
        assert!(DashboardSettings { secure_cookies: true, ..http }.cookies_secure());
    }
}
