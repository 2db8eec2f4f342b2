//! The notifier: tells people (Slack) and machines (signed webhooks) when an anomaly opens,
//! escalates or resolves, and when an action waits for approval, succeeds or fails.
//!
//! It reads the database, not the bus: each pass queues a message per matching destination
//! for every new anomaly event and action transition (an outbox written in one transaction
//! with its cursors, see `store`), then delivers what is due, each try with a timeout and
//! failures retried with backoff. A restart therefore loses nothing and queues nothing twice;
//! a message whose send succeeded just before a crash may go once more, carrying the same
//! delivery id. It runs in its own task, so a slow receiver never holds up detection or
//! approvals.

pub mod settings;
pub mod slack;
pub mod store;
pub mod templates;
pub mod webhook;

pub use settings::{Destination, DestinationKind, NotifySettings};

use crate::db::{Db, DbError};
use crate::domain::approval::Policy;
use crate::domain::notify::{retry_delay, Event, Route};
use chrono::{Duration, Utc};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use std::time::Instant;
use store::Notification;
use templates::Templates;

/// Messages handled per pass.
const PER_PASS: i64 = 50;

/// A destination with its secrets read.
struct Ready {
    name: String,
    kind: DestinationKind,
    url: SecretString,
    secret: SecretString,
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
    policy: Policy,
}

impl Notifier {
    /// Reads the destinations' secrets and the templates; an error names what is wrong.
    pub fn new(
        db: Db,
        settings: &NotifySettings,
        templates_dir: &std::path::Path,
        base_url: String,
        policy: Policy,
    ) -> Result<Notifier, String> {
        let mut destinations = Vec::new();
        for d in &settings.destinations {
            destinations.push(Ready {
                name: d.name.clone(),
                kind: d.kind,
                url: settings::resolve(&d.url)?,
                secret: settings::resolve(&d.secret)?,
                route: d.route.clone(),
            });
        }
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(settings.timeout_secs))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Notifier {
            db,
            settings: settings.clone(),
            destinations: Arc::new(destinations),
            templates: Arc::new(Templates::load(templates_dir)?),
            http,
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
                let listeners: Vec<store::Listener<'_>> =
                    this.destinations.iter().map(|d| store::Listener { name: &d.name, route: &d.route }).collect();
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
        let request = match d.kind {
            DestinationKind::Slack => {
                let text = self.templates.render(event, &slack::escaped(&payload));
                self.http.post(d.url.expose_secret()).json(&slack::message(event, &text, &payload))
            }
            DestinationKind::Webhook => {
                let text = self.templates.render(event, &payload);
                let body = serde_json::to_vec(&webhook::body(&n.id, &text, &payload)).map_err(|e| e.to_string())?;
                let mut r = self.http.post(d.url.expose_secret()).header("content-type", "application/json");
                for (name, value) in
                    webhook::headers(&n.id, &n.event, d.secret.expose_secret().as_bytes(), &body, Utc::now())
                {
                    r = r.header(name, value);
                }
                r.body(body)
            }
        };
        let outcome = match request.send().await {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => {
                let status = response.status();
                let text: String = response.text().await.unwrap_or_default().chars().take(200).collect();
                Err(format!("HTTP {status}: {text}"))
            }
            // reqwest's error text can hold the URL, which is a secret for Slack.
            Err(e) if e.is_timeout() => Err("no answer within the timeout".into()),
            Err(e) if e.is_connect() => Err("could not connect".into()),
            Err(_) => Err("the request failed".into()),
        };
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

/// Starts the notifier (when `[notify]` is on): its cursors begin at what exists now, then a
/// pass whenever the bus nudges it or every `poll_ms`, on the leader only, so two replicas
/// never deliver one message at once.
pub async fn spawn(
    ctx: &crate::worker::Context,
    settings: &NotifySettings,
    templates_dir: &std::path::Path,
    base_url: String,
    policy: Policy,
) -> anyhow::Result<()> {
    if !settings.enabled {
        return Ok(());
    }
    let notifier = Notifier::new(ctx.db.clone(), settings, templates_dir, base_url, policy)
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
