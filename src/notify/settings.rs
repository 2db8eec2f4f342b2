//! `[notify]` in config.toml: where messages go, and how hard we try.

use crate::domain::detect::decision::Severity;
use crate::domain::notify::{Event, QuietHours, Route};
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
    /// Where messages go: Slack, signed JSON webhooks, PagerDuty, e-mail or Microsoft Teams,
    /// each with its own route (which events, severities, providers and teams it hears).
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
#[serde(rename_all = "lowercase")]
pub enum DestinationKind {
    /// A Slack incoming webhook; messages are Block Kit with Approve/Reject buttons.
    Slack,
    /// JSON POSTed with an HMAC signature header.
    Webhook,
    /// PagerDuty's Events API v2: one incident per anomaly (triggered, acknowledged when an
    /// action is approved, resolved when the anomaly is mitigated or resolved).
    PagerDuty,
    /// E-mail over SMTP, plain text and HTML.
    Email,
    /// A Microsoft Teams incoming webhook (Workflows): an Adaptive Card.
    Teams,
}

impl DestinationKind {
    pub fn title(self) -> &'static str {
        match self {
            DestinationKind::Slack => "Slack",
            DestinationKind::Webhook => "webhook",
            DestinationKind::PagerDuty => "PagerDuty",
            DestinationKind::Email => "e-mail",
            DestinationKind::Teams => "Microsoft Teams",
        }
    }

    /// The events a route without an `events` list hears: PagerDuty needs the approval and
    /// the mitigation to acknowledge and resolve its incident; people reading a channel or a
    /// mailbox do not need them (see `Event::UNLESS_LISTED`).
    pub fn heard_by_default(self) -> &'static [Event] {
        match self {
            DestinationKind::PagerDuty => &super::pagerduty::HEARS,
            _ => &Event::UNLESS_LISTED,
        }
    }

    /// Whether this kind has anything to send for `event` (PagerDuty has nothing for a
    /// success: the mitigation that follows resolves its incident), listed or not.
    pub fn sends(self, event: Event) -> bool {
        self != DestinationKind::PagerDuty || super::pagerduty::HEARS.contains(&event)
    }
}

/// A secret field's value meaning "entered by an admin in Settings → Notifications", kept
/// encrypted in the database (see `notify::secrets`).
pub const STORED: &str = "stored";

/// PagerDuty's Events API v2 endpoint, where a `pagerduty` destination without `url` sends.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// One `[[notify.destinations]]`. Which fields a kind takes: `url` (slack, webhook, teams,
/// and pagerduty to send elsewhere than PagerDuty's endpoint), `secret` (webhook),
/// `routing_key` (pagerduty), `smtp_url`, `from`, `to`, `ca_file`, `username`, `password`
/// (email).
/// Secrets accept "env:NAME", which reads the environment variable NAME, and "stored": entered
/// in Settings → Notifications and kept encrypted in the database.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    /// Shown in logs, metrics and the outbox; unique.
    pub name: String,
    pub kind: DestinationKind,
    /// The URL to POST to. It is a secret for Slack and Teams (the URL is the credential).
    #[serde(default = "empty_secret", serialize_with = "crate::domain::redact::never_shown")]
    pub url: SecretString,
    /// The webhook's HMAC key (required for webhooks).
    #[serde(default = "empty_secret", serialize_with = "crate::domain::redact::never_shown")]
    pub secret: SecretString,
    /// PagerDuty: the integration key of an Events API v2 integration on the service to page.
    #[serde(default = "empty_secret", serialize_with = "crate::domain::redact::never_shown")]
    pub routing_key: SecretString,
    /// E-mail: "smtps://host:465" (implicit TLS) or "smtp://host:587" (STARTTLS required;
    /// add "?tls=none" only for a relay on a trusted network, such as localhost).
    #[serde(default)]
    pub smtp_url: String,
    /// E-mail: the sender, "CostGuard <costguard@example.com>".
    #[serde(default)]
    pub from: String,
    /// E-mail: the recipients.
    #[serde(default)]
    pub to: Vec<String>,
    /// E-mail: a PEM file of CA certificates to trust besides the public ones, for a relay
    /// whose certificate a private CA issued. Empty: the public roots only.
    #[serde(default)]
    pub ca_file: String,
    /// E-mail: the SMTP user name and password, when the server asks to log in.
    #[serde(default = "empty_secret", serialize_with = "crate::domain::redact::never_shown")]
    pub username: SecretString,
    #[serde(default = "empty_secret", serialize_with = "crate::domain::redact::never_shown")]
    pub password: SecretString,
    #[serde(default)]
    pub route: Route,
}

impl Default for Destination {
    fn default() -> Self {
        Destination {
            name: String::new(),
            kind: DestinationKind::Webhook,
            url: empty_secret(),
            secret: empty_secret(),
            routing_key: empty_secret(),
            smtp_url: String::new(),
            from: String::new(),
            to: Vec::new(),
            ca_file: String::new(),
            username: empty_secret(),
            password: empty_secret(),
            route: Route::default(),
        }
    }
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

impl Destination {
    /// The fields this destination sets that its kind does not read, by name: a value put
    /// on the wrong kind is a mistake to point at, not to ignore.
    fn stray_fields(&self) -> Vec<&'static str> {
        use DestinationKind::*;
        let set = |secret: &SecretString| !secret.expose_secret().is_empty();
        let fields = [
            ("url", set(&self.url), matches!(self.kind, Slack | Webhook | Teams | PagerDuty)),
            ("secret", set(&self.secret), self.kind == Webhook),
            ("routing_key", set(&self.routing_key), self.kind == PagerDuty),
            ("smtp_url", !self.smtp_url.is_empty(), self.kind == Email),
            ("from", !self.from.is_empty(), self.kind == Email),
            ("to", !self.to.is_empty(), self.kind == Email),
            ("ca_file", !self.ca_file.is_empty(), self.kind == Email),
            ("username", set(&self.username), self.kind == Email),
            ("password", set(&self.password), self.kind == Email),
        ];
        fields.into_iter().filter(|(_, given, read)| *given && !read).map(|(name, ..)| name).collect()
    }

    /// The secret fields of this destination's kind, with their configured values.
    pub fn secret_fields(&self) -> Vec<(&'static str, &SecretString)> {
        match self.kind {
            DestinationKind::Slack | DestinationKind::Teams => vec![("url", &self.url)],
            DestinationKind::Webhook => vec![("url", &self.url), ("secret", &self.secret)],
            DestinationKind::PagerDuty => vec![("routing_key", &self.routing_key)],
            DestinationKind::Email => vec![("password", &self.password)],
        }
    }

    /// The secret fields an admin enters in the dashboard ("stored").
    pub fn stored_fields(&self) -> Vec<&'static str> {
        self.secret_fields().into_iter().filter(|(_, v)| v.expose_secret() == STORED).map(|(f, _)| f).collect()
    }

    /// The URL to POST to: `url`, or PagerDuty's own endpoint when a pagerduty destination
    /// leaves it empty.
    pub fn post_url(&self) -> Result<SecretString, String> {
        let url = resolve(&self.url).map_err(|e| format!("url: {e}"))?;
        if self.kind == DestinationKind::PagerDuty && url.expose_secret().is_empty() {
            return Ok(SecretString::from(PAGERDUTY_EVENTS_URL));
        }
        Ok(url)
    }

    fn validate(&self) -> Result<(), String> {
        if let Some(field) = self.stray_fields().first() {
            return Err(format!("{field} is not read by a {} destination", self.kind.title()));
        }
        if self.kind == DestinationKind::PagerDuty && self.url.expose_secret() == STORED {
            return Err("url: PagerDuty's endpoint is no secret; write it, or leave it out".into());
        }
        let required = |field: &str, value: &SecretString| match resolve(value) {
            Ok(v) if v.expose_secret().trim().is_empty() => Err(format!("{field} is required")),
            Ok(_) => Ok(()),
            Err(e) => Err(format!("{field}: {e}")),
        };
        match self.kind {
            DestinationKind::Email => {
                // Parsing resolves the log-in too, so a missing variable stops start-up.
                super::email::Mailer::parse(self, std::time::Duration::from_secs(10)).map(|_| ())
            }
            kind => {
                let url = self.post_url()?;
                match url.expose_secret() {
                    "" => return Err("url is required".into()),
                    STORED => {}
                    text => {
                        let parsed = reqwest::Url::parse(text).map_err(|e| format!("url: {e}"))?;
                        if !matches!(parsed.scheme(), "http" | "https") {
                            return Err("url must be http or https".into());
                        }
                    }
                }
                match kind {
                    DestinationKind::Webhook => required("secret", &self.secret),
                    DestinationKind::PagerDuty => required("routing_key", &self.routing_key),
                    _ => Ok(()),
                }
            }
        }
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
            if d.name.trim().is_empty() || !names.insert(d.name.clone()) {
                return Err(("notify.destinations", format!("every destination needs a unique name ('{}')", d.name)));
            }
            d.validate().map_err(|p| ("notify.destinations", format!("destination '{}': {p}", d.name)))?;
        }
        Ok(())
    }
}
