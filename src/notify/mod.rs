//! The notifier: tells people (Slack, e-mail, Microsoft Teams), pagers (PagerDuty) and
//! machines (signed webhooks) when an anomaly opens, escalates, is mitigated or resolves,
//! and when an action waits for approval, is approved, succeeds or fails.
//!
//! It reads the database, not the bus: each pass queues a message per matching destination
//! for every new anomaly event and action transition (an outbox written in one transaction
//! with its cursors, see `store`), then delivers what is due, each try with a timeout and
//! failures retried with backoff. A restart therefore loses nothing and queues nothing twice;
//! a message whose send succeeded just before a crash may go once more, carrying the same
//! identity (webhook delivery id, PagerDuty dedup key, e-mail Message-ID), so receivers see
//! its effect once. It runs in its own task, so a slow receiver never holds up detection or
//! approvals.

mod channel;
pub mod email;
pub mod markup;
pub mod pagerduty;
pub mod secrets;
pub mod settings;
pub mod slack;
pub mod store;
pub mod teams;
pub mod templates;
pub mod webhook;

pub use settings::{Destination, DestinationKind, NotifySettings};

use crate::db::{Db, DbError};
use crate::domain::approval::Policy;
use crate::domain::notify::{retry_delay, Event, Route};
use channel::Channel;
use chrono::{Duration, Utc};
use std::sync::Arc;
use std::time::Instant;
use store::Notification;
use templates::Templates;

/// Messages handled per pass.
const PER_PASS: i64 = 50;

/// A destination with its secrets read and its client built.
struct Ready {
    name: String,
    kind: DestinationKind,
    channel: Channel,
    route: Route,
}

#[derive(Clone)]
pub struct Notifier {
    db: Db,
    settings: NotifySettings,
    destinations: Arc<Vec<Ready>>,
    templates: Arc<Templates>,
    http: reqwest::Client,
    base_url: String,
    /// The public host, which PagerDuty shows as the alert's source.
    source: String,
    policy: Policy,
    vault: crate::credentials::Vault,
}

impl Notifier {
    /// Reads the destinations' secrets and the templates; an error names what is wrong.
    pub fn new(
        db: Db,
        settings: &NotifySettings,
        templates_dir: &std::path::Path,
        base_url: String,
        (policy, cipher): (Policy, crate::credentials::Cipher),
    ) -> Result<Notifier, String> {
        let timeout = std::time::Duration::from_secs(settings.timeout_secs);
        let mut destinations = Vec::new();
        for d in &settings.destinations {
            let channel = Channel::open(d, timeout).map_err(|e| format!("destination '{}': {e}", d.name))?;
            destinations.push(Ready { name: d.name.clone(), kind: d.kind, channel, route: d.route.clone() });
        }
        let http = reqwest::Client::builder().timeout(timeout).build().map_err(|e| e.to_string())?;
        Ok(Notifier {
            vault: crate::credentials::Vault::new(db.clone(), cipher),
            db,
            settings: settings.clone(),
            destinations: Arc::new(destinations),
            templates: Arc::new(Templates::load(templates_dir)?),
            http,
            source: reqwest::Url::parse(&base_url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_else(|| "costguard".into()),
            base_url: base_url.trim_end_matches('/').to_string(),
            policy,
        })
    }

    /// Starts the event cursors at the newest events on a first start (see `store`).
    pub async fn start_cursors(&self) -> Result<(), DbError> {
        self.db.run(|c| store::start_cursors(c).map_err(DbError::from)).await
    }

    /// One pass: queue what happened since the last, then deliver what is due. Returns
    /// (queued, sent).
    pub async fn pass(&self) -> Result<(usize, usize), DbError> {
        let this = self.clone();
        let (queued, due) = self
            .db
            .run(move |c| {
                let listeners: Vec<store::Listener<'_>> = this
                    .destinations
                    .iter()
                    .map(|d| store::Listener { name: &d.name, route: &d.route, kind: d.kind })
                    .collect();
                let now = Utc::now();
                let max_age = Duration::hours(i64::from(this.settings.max_age_hours));
                let queued =
                    store::enqueue(c, &listeners, this.settings.quiet(), &this.base_url, &this.policy, max_age, now)?;
                Ok::<_, DbError>((queued, store::due(c, now, PER_PASS)?))
            })
            .await?;
        // In order within each destination (people read "opened" before "approve?"), the
        // destinations side by side; a destination stops at its first failure this pass, so a
        // hanging receiver costs one timeout per pass and holds up no other.
        let mut by_destination: Vec<(&str, Vec<&Notification>)> = Vec::new();
        for n in &due {
            match by_destination.iter_mut().find(|(d, _)| *d == n.destination) {
                Some((_, queue)) => queue.push(n),
                None => by_destination.push((&n.destination, vec![n])),
            }
        }
        let sent =
            futures_util::future::join_all(by_destination.into_iter().map(|(_, queue)| self.deliver_in_order(queue)))
                .await;
        Ok((queued, sent.into_iter().sum::<Result<usize, DbError>>()?))
    }

    async fn deliver_in_order(&self, queue: Vec<&Notification>) -> Result<usize, DbError> {
        let mut sent = 0;
        for n in queue {
            let result = self.deliver(n).await;
            self.record(n, result.as_ref().err().map(String::as_str)).await?;
            if result.is_err() {
                break;
            }
            sent += 1;
        }
        Ok(sent)
    }

    async fn deliver(&self, n: &Notification) -> Result<(), String> {
        let Some(d) = self.destinations.iter().find(|d| d.name == n.destination) else {
            return Err(format!("destination '{}' is no longer configured", n.destination));
        };
        let event = Event::parse(&n.event).ok_or_else(|| format!("unknown event '{}'", n.event))?;
        let payload: serde_json::Value = serde_json::from_str(&n.payload).map_err(|e| e.to_string())?;
        let started = Instant::now();
        let cx =
            channel::Context { http: &self.http, templates: &self.templates, source: &self.source, vault: &self.vault };
        let outcome = d.channel.send(&cx, &channel::Outgoing { id: &n.id, event, payload: &payload }).await;
        metrics::histogram!("costguard_notification_delivery_seconds", "destination" => d.name.clone())
            .record(started.elapsed().as_secs_f64());
        outcome
    }

    async fn record(&self, n: &Notification, error: Option<&str>) -> Result<(), DbError> {
        let (id, now) = (n.id.clone(), Utc::now());
        let outcome = match error {
            None => "sent",
            Some(_) if n.attempts + 1 >= i64::from(self.settings.max_attempts) => "failed",
            Some(_) => "retry",
        };
        metrics::counter!("costguard_notifications_total", "destination" => n.destination.clone(), "outcome" => outcome)
            .increment(1);
        let retry_at = (outcome == "retry").then(|| {
            let tries = u32::try_from(n.attempts + 1).unwrap_or(u32::MAX);
            now + retry_delay(Duration::milliseconds(self.settings.retry_base_ms as i64), tries)
        });
        if let Some(e) = error {
            tracing::warn!(destination = %n.destination, event = %n.event, attempt = n.attempts + 1, error = e, "notification not delivered");
        }
        let error = error.map(str::to_string);
        self.db
            .run(move |c| {
                match &error {
                    None => store::delivered(c, &id, now)?,
                    Some(e) => store::failed_try(c, &id, e, retry_at)?,
                }
                Ok::<_, DbError>(())
            })
            .await
    }
}

/// The page a message is about: the action's when it has one, else the anomaly's.
fn subject_link(payload: &serde_json::Value) -> Option<&str> {
    payload["action"]["url"].as_str().or(payload["anomaly"]["url"].as_str()).or(payload["budget"]["url"].as_str())
}

/// Starts the notifier (when `[notify]` is on): its cursors begin at what exists now, then a
/// pass whenever the bus nudges it or every `poll_ms`, on the leader only, so two replicas
/// never deliver one message at once.
pub async fn spawn(
    ctx: &crate::worker::Context,
    settings: &NotifySettings,
    templates_dir: &std::path::Path,
    base_url: String,
    policy_and_cipher: (Policy, crate::credentials::Cipher),
) -> anyhow::Result<()> {
    if !settings.enabled {
        return Ok(());
    }
    let notifier = Notifier::new(ctx.db.clone(), settings, templates_dir, base_url, policy_and_cipher)
        .map_err(|e| anyhow::anyhow!("configuration key notify: {e}"))?;
    notifier.start_cursors().await?;
    ctx.start(notifier, ctx.bus.notifier_wake());
    Ok(())
}

impl crate::worker::Worker for Notifier {
    type Wake = ();

    fn tick_every(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.settings.poll_ms)
    }

    async fn catch_up(&mut self, _: &mut crate::cluster::Leadership) {
        if let Err(e) = self.pass().await {
            tracing::warn!(error = %e, "notification pass failed; retrying on the next");
        }
    }

    async fn on_wakes(&mut self, _: Vec<()>, leader: &mut crate::cluster::Leadership) {
        self.catch_up(leader).await
    }
}
