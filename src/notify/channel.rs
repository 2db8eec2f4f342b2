//! A destination ready to send: its secrets read, its client built, and the one function
//! that delivers a queued message in the destination's own format.

use super::secrets::Secret;
use super::settings::{Destination, DestinationKind};
use super::templates::Templates;
use super::{email, markup, pagerduty, slack, teams, webhook};
use crate::credentials::Vault;
use crate::domain::notify::Event;
use chrono::Utc;
use secrecy::ExposeSecret;
use serde_json::Value;

pub enum Channel {
    Slack { url: Secret },
    Webhook { url: Secret, secret: Secret },
    PagerDuty { url: Secret, routing_key: Secret },
    Teams { url: Secret },
    Email(Box<email::Mailer>),
}

/// One queued message, as the outbox holds it.
pub struct Outgoing<'a> {
    /// The outbox row's id: the webhook delivery id and the e-mail Message-ID.
    pub id: &'a str,
    pub event: Event,
    pub payload: &'a Value,
}

/// What every channel shares while sending.
pub struct Context<'a> {
    pub http: &'a reqwest::Client,
    pub templates: &'a Templates,
    /// This CostGuard's public host, PagerDuty's `source`.
    pub source: &'a str,
    pub vault: &'a Vault,
}

impl Channel {
    /// Reads the destination's secrets ("env:NAME"; "stored" ones at each send) and builds
    /// its client.
    pub fn open(d: &Destination, timeout: std::time::Duration) -> Result<Channel, String> {
        let secret = |field: &'static str, value| Secret::configured(&d.name, field, value);
        let url = || secret("url", &d.url);
        Ok(match d.kind {
            DestinationKind::Slack => Channel::Slack { url: url()? },
            DestinationKind::Webhook => Channel::Webhook { url: url()?, secret: secret("secret", &d.secret)? },
            DestinationKind::PagerDuty => Channel::PagerDuty {
                url: Secret::Value(d.post_url()?),
                routing_key: secret("routing_key", &d.routing_key)?,
            },
            DestinationKind::Teams => Channel::Teams { url: url()? },
            DestinationKind::Email => Channel::Email(Box::new(email::Mailer::parse(d, timeout)?)),
        })
    }

    /// Sends one message; an error is one line for the outbox and the log (never a URL,
    /// which is a secret for Slack and Teams).
    pub async fn send(&self, cx: &Context<'_>, m: &Outgoing<'_>) -> Result<(), String> {
        let render = |payload: &Value| cx.templates.render(m.event, payload);
        let request = match self {
            Channel::Slack { url } => {
                let text = render(&slack::escaped(m.payload));
                let url = url.read(cx.vault).await?;
                cx.http.post(url.expose_secret()).json(&slack::message(m.event, &text, m.payload))
            }
            Channel::Webhook { url, secret } => {
                let text = render(m.payload);
                let body = serde_json::to_vec(&webhook::body(m.id, &text, m.payload)).map_err(|e| e.to_string())?;
                let (url, secret) = (url.read(cx.vault).await?, secret.read(cx.vault).await?);
                let mut r = cx.http.post(url.expose_secret()).header("content-type", "application/json");
                for (name, value) in
                    webhook::headers(m.id, m.event.as_str(), secret.expose_secret().as_bytes(), &body, Utc::now())
                {
                    r = r.header(name, value);
                }
                r.body(body)
            }
            Channel::PagerDuty { url, routing_key } => {
                let text = markup::plain(&render(m.payload));
                let key = routing_key.read(cx.vault).await?;
                let Some(event) = pagerduty::event(key.expose_secret(), m.event, &text, m.payload, cx.source) else {
                    return Ok(()); // Nothing for the incident to do (never queued by default).
                };
                cx.http.post(url.read(cx.vault).await?.expose_secret()).json(&event)
            }
            Channel::Teams { url } => {
                let text = markup::adaptive_card(&render(m.payload));
                cx.http.post(url.read(cx.vault).await?.expose_secret()).json(&teams::message(&text, m.payload))
            }
            Channel::Email(mailer) => {
                let html = render(&markup::escaped(m.payload, &markup::escape_html));
                let texts = (render(m.payload), html);
                return mailer.send(cx.vault, m.id, (&texts.0, &texts.1), super::subject_link(m.payload)).await;
            }
        };
        post(request).await
    }
}

async fn post(request: reqwest::RequestBuilder) -> Result<(), String> {
    match request.send().await {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => {
            let status = response.status();
            let text: String = response.text().await.unwrap_or_default().chars().take(200).collect();
            Err(format!("HTTP {status}: {text}"))
        }
        // reqwest's error text can hold the URL, which is a secret for Slack and Teams.
        Err(e) if e.is_timeout() => Err("no answer within the timeout".into()),
        Err(e) if e.is_connect() => Err("could not connect".into()),
        Err(_) => Err("the request failed".into()),
    }
}
