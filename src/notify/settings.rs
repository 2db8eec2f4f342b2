//! `[notify]` in config.toml: where messages go, and how hard we try.

use crate::domain::detect::decision::Severity;
use crate::domain::notify::{QuietHours, Route};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifySettings {
    /// Run the notifier (it sends nothing until a destination is configured).
    pub enabled: bool,
    /// How often the notifier looks for new events and due retries, in milliseconds (it is
    /// also woken at once when an anomaly or action changes in this process).
    pub poll_ms: u64,
    /// A receiver that has not answered in this many seconds counts as failed for that try.
    pub timeout_secs: u64,
    /// Tries per message before it is marked failed.
    pub max_attempts: u32,
    /// The wait after the first failed try, in milliseconds; it doubles each time (at most
    /// an hour).
    pub retry_base_ms: u64,
    /// A daily window in UTC, "22:00-07:00", in which messages of `quiet_max_severity` and
    /// below wait until it ends. Empty: never quiet.
    pub quiet_hours: String,
    pub quiet_max_severity: Severity,
    /// Anomalies whose latest anomalous point is older than this many hours when found (a
    /// backfill replaying history) are not announced; their resolution neither. Keep it above
    /// your slowest source's delay (billing exports lag a day or more).
    pub max_age_hours: u32,
    /// Message templates that replace the built-in ones (templates/notify/*.txt), by file
    /// name. Empty: <data.dir>/templates/notify.
    pub templates_dir: String,
    pub slack: SlackSettings,
    /// Where messages go. Each is a Slack incoming webhook or a signed JSON webhook, with its
    /// own route (which events, severities, providers and teams it hears).
    pub destinations: Vec<Destination>,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            enabled: true,
            poll_ms: 2_000,
            timeout_secs: 10,
            max_attempts: 8,
            retry_base_ms: 5_000,
            quiet_hours: String::new(),
            quiet_max_severity: Severity::Low,
            max_age_hours: 72,
            templates_dir: String::new(),
            slack: SlackSettings::default(),
            destinations: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlackSettings {
    /// The Slack app's signing secret, which signs its button clicks (set it through
    /// COSTGUARD_NOTIFY__SLACK__SIGNING_SECRET). Empty: the interactivity endpoint refuses
    /// every request.
    #[serde(serialize_with = "crate::domain::redact::never_shown")]
    pub signing_secret: SecretString,
    /// Requests older (or newer) than this many seconds are refused as replays.
    pub replay_window_secs: i64,
    /// Slack user id to CostGuard user name, for approvals from Slack buttons; the
    /// CostGuard user needs the approver role.
    pub users: BTreeMap<String, String>,
}

impl Default for SlackSettings {
    fn default() -> Self {
        SlackSettings { signing_secret: SecretString::from(""), replay_window_secs: 300, users: BTreeMap::new() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DestinationKind {
    /// A Slack incoming webhook; messages are Block Kit with Approve/Reject buttons.
    Slack,
    /// JSON POSTed with an HMAC signature header.
    Webhook,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    /// Shown in logs, metrics and the outbox; unique.
    pub name: String,
    pub kind: DestinationKind,
    /// The URL to POST to. It is a secret for Slack; write "env:NAME" to read it from the
    /// environment variable NAME.
    #[serde(serialize_with = "crate::domain::redact::never_shown")]
    pub url: SecretString,
    /// The webhook's HMAC key (required for webhooks; "env:NAME" reads it from NAME).
    #[serde(default = "empty_secret", serialize_with = "crate::domain::redact::never_shown")]
    pub secret: SecretString,
    #[serde(default)]
    pub route: Route,
}

fn empty_secret() -> SecretString {
    SecretString::from("")
}

/// "env:NAME" reads the environment variable NAME; anything else is the value itself.
pub fn resolve(value: &SecretString) -> Result<SecretString, String> {
    match value.expose_secret().strip_prefix("env:") {
        Some(name) => std::env::var(name)
            .map(SecretString::from)
            .map_err(|_| format!("the environment variable {name} is not set")),
        None => Ok(value.clone()),
    }
}

impl NotifySettings {
    pub fn quiet(&self) -> Option<QuietHours> {
        QuietHours::parse(&self.quiet_hours, self.quiet_max_severity).ok().flatten()
    }

    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        QuietHours::parse(&self.quiet_hours, self.quiet_max_severity).map_err(|e| ("notify.quiet_hours", e))?;
        if self.poll_ms == 0 || self.timeout_secs == 0 || self.max_attempts == 0 {
            return Err(("notify.poll_ms", "poll_ms, timeout_secs and max_attempts must be positive".into()));
        }
        if self.slack.replay_window_secs <= 0 {
            return Err(("notify.slack.replay_window_secs", "must be positive".into()));
        }
        let mut names = std::collections::BTreeSet::new();
        for d in &self.destinations {
            let problem = |p: String| ("notify.destinations", format!("destination '{}': {p}", d.name));
            if d.name.trim().is_empty() || !names.insert(d.name.clone()) {
                return Err(("notify.destinations", format!("every destination needs a unique name ('{}')", d.name)));
            }
            let url = resolve(&d.url).map_err(|e| problem(format!("url: {e}")))?;
            let parsed = reqwest::Url::parse(url.expose_secret()).map_err(|e| problem(format!("url: {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(problem("url must be http or https".into()));
            }
            let secret = resolve(&d.secret).map_err(|e| problem(format!("secret: {e}")))?;
            if d.kind == DestinationKind::Webhook && secret.expose_secret().is_empty() {
                return Err(problem("a webhook needs a secret to sign with".into()));
            }
        }
        Ok(())
    }
}
