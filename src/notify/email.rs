//! E-mail over SMTP (lettre): one message per event and destination, a plain-text and an
//! HTML part rendered from the same templates as Slack. Links open the dashboard, where
//! approving needs a signed-in approver: no link in a mailbox approves anything.
//!
//! `smtp_url` picks the transport: `smtps://host[:465]` is TLS from the first byte;
//! `smtp://host[:587]` upgrades with STARTTLS and refuses a server that cannot, unless
//! `?tls=opportunistic` (upgrade when offered) or `?tls=none` (a relay on a trusted network)
//! says otherwise. `ca_file` adds a private CA's certificates to the public roots the server's
//! certificate is checked against; the check is never skipped. The Message-ID is the outbox
//! row's id, the same on every try, so a message that is sent again after a crash is
//! recognisably the same message.

use super::markup;
use super::secrets::Secret;
use super::settings::{resolve, Destination};
use crate::credentials::Vault;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use std::time::Duration;

pub struct Mailer {
    host: String,
    port: u16,
    tls: Tls,
    /// Empty: the server takes mail without a log-in.
    username: String,
    password: Secret,
    from: Mailbox,
    to: Vec<Mailbox>,
    /// The bound on one whole send: lettre's own timeout covers connecting, not a server
    /// that stops answering mid-conversation.
    timeout: Duration,
}

/// How the connection is secured, from `smtp_url`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    Implicit,
    StartTlsRequired,
    StartTlsOpportunistic,
    Plain,
}

impl Mailer {
    /// The transport for a destination of kind `email`; an error names the field.
    pub fn parse(d: &Destination, timeout: Duration) -> Result<Mailer, String> {
        let url = reqwest::Url::parse(&d.smtp_url).map_err(|e| format!("smtp_url: {e}"))?;
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or("smtp_url: no host")?.to_string();
        if !url.username().is_empty() || url.password().is_some() {
            return Err("smtp_url: put the log-in in username and password (they take env:NAME)".into());
        }
        let security = match (url.scheme(), url.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.into_owned())) {
            ("smtps", None) => Security::Implicit,
            ("smtp", None) => Security::StartTlsRequired,
            ("smtp", Some(v)) if v == "required" => Security::StartTlsRequired,
            ("smtp", Some(v)) if v == "opportunistic" => Security::StartTlsOpportunistic,
            ("smtp", Some(v)) if v == "none" => Security::Plain,
            ("smtp", Some(v)) => return Err(format!("smtp_url: tls={v}: use required, opportunistic or none")),
            ("smtps", Some(_)) => return Err("smtp_url: smtps is always TLS; tls= is for smtp://".into()),
            (other, _) => return Err(format!("smtp_url: the scheme is smtp or smtps, not {other}")),
        };
        let port = url.port().unwrap_or(if security == Security::Implicit { 465 } else { 587 });
        let mailbox = |field: &str, text: &str| {
            text.parse::<Mailbox>().map_err(|e| format!("{field}: '{text}' is not an e-mail address ({e})"))
        };
        if d.from.trim().is_empty() {
            return Err("from is required".into());
        }
        let from = mailbox("from", &d.from)?;
        if d.to.is_empty() {
            return Err("to needs at least one address".into());
        }
        let to = d.to.iter().map(|t| mailbox("to", t)).collect::<Result<Vec<_>, _>>()?;

        let roots = private_roots(&d.ca_file, security)?;
        let tls = || {
            let builder = TlsParameters::builder(host.clone());
            let builder = match &roots {
                Some(certs) => builder.add_root_certificate(certs.clone()),
                None => builder,
            };
            builder.build().map_err(|e| format!("smtp_url: TLS for {host}: {e}"))
        };
        let tls = match security {
            Security::Implicit => Tls::Wrapper(tls()?),
            Security::StartTlsRequired => Tls::Required(tls()?),
            Security::StartTlsOpportunistic => Tls::Opportunistic(tls()?),
            Security::Plain => Tls::None,
        };
        let username = resolve(&d.username).map_err(|e| format!("username: {e}"))?.expose_secret().to_string();
        let password = Secret::configured(&d.name, "password", &d.password)?;
        Ok(Mailer { host, port, tls, username, password, from, to, timeout })
    }

    /// A connection's transport, with the password as it is now (it may be stored).
    async fn transport(&self, vault: &Vault) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host)
            .port(self.port)
            .tls(self.tls.clone())
            .timeout(Some(self.timeout));
        if !self.username.is_empty() {
            let password = self.password.read(vault).await?;
            builder =
                builder.credentials(Credentials::new(self.username.clone(), password.expose_secret().to_string()));
        }
        Ok(builder.build())
    }

    /// Sends one message. `id` is the outbox row's id; `text` the template rendered over the
    /// raw payload, `html_text` over the HTML-escaped one; `link` the page to open.
    pub async fn send(
        &self,
        vault: &Vault,
        id: &str,
        (text, html_text): (&str, &str),
        link: Option<&str>,
    ) -> Result<(), String> {
        let subject = format!("[CostGuard] {}", markup::headline(text));
        let mut plain = markup::plain(text);
        if let Some(url) = link {
            plain.push_str(&format!("\n\nOpen in CostGuard: {url}\n"));
        }
        let mut message = Message::builder()
            .message_id(Some(format!("<{id}@costguard>")))
            .from(self.from.clone())
            .subject(subject)
            .user_agent("CostGuard".to_string());
        for to in &self.to {
            message = message.to(to.clone());
        }
        let message = message
            .multipart(MultiPart::alternative_plain_html(plain, html_body(html_text, link).into_string()))
            .map_err(|e| format!("building the message: {e}"))?;
        let transport = self.transport(vault).await?;
        match tokio::time::timeout(self.timeout, transport.send(message)).await {
            Ok(sent) => sent.map(|_| ()).map_err(|e| format!("SMTP: {e}")),
            Err(_) => Err("no answer within the timeout".into()),
        }
    }
}

/// The certificates of `ca_file` (a PEM bundle), read at start-up so a wrong path stops it.
fn private_roots(ca_file: &str, security: Security) -> Result<Option<Certificate>, String> {
    if ca_file.is_empty() {
        return Ok(None);
    }
    if security == Security::Plain {
        return Err("ca_file: the smtp_url says tls=none, so there is no certificate to check".into());
    }
    let pem = std::fs::read(ca_file).map_err(|e| format!("ca_file: {ca_file}: {e}"))?;
    if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
        return Err(format!("ca_file: {ca_file} holds no PEM certificate"));
    }
    Certificate::from_pem(&pem).map(Some).map_err(|e| format!("ca_file: {ca_file}: {e}"))
}

/// The HTML part: the text (rendered over the HTML-escaped payload, so its markup is ours)
/// and the link to the page, where approving needs a signed-in approver.
fn html_body(html_text: &str, link: Option<&str>) -> maud::Markup {
    maud::html! {
        (maud::DOCTYPE)
        html {
            body {
                p { (maud::PreEscaped(markup::html(html_text))) }
                @if let Some(url) = link {
                    p { a href=(url) { "Open in CostGuard" } " (sign in to approve or reject)" }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(url: &str) -> Destination {
        Destination {
            name: "mail".into(),
            kind: super::super::DestinationKind::Email,
            smtp_url: url.into(),
            from: "CostGuard <costguard@example.com>".into(),
            to: vec!["oncall@example.com".into()],
            ..Destination::default()
        }
    }

    fn problem(d: &Destination) -> String {
        Mailer::parse(d, Duration::from_secs(1)).err().unwrap_or_default()
    }

    #[test]
    fn the_url_says_how_the_connection_is_secured() {
        for ok in ["smtps://mail.example.com", "smtp://mail.example.com:587", "smtp://127.0.0.1:2525?tls=none"] {
            assert_eq!(problem(&email(ok)), "", "{ok}");
        }
        assert!(problem(&email("http://mail.example.com")).contains("smtp or smtps"));
        assert!(problem(&email("smtp://mail.example.com?tls=maybe")).contains("tls=maybe"));
        assert!(problem(&email("smtp://user:pw@mail.example.com")).contains("username and password"));
        assert!(problem(&email("not a url")).starts_with("smtp_url"));
    }

    #[test]
    fn addresses_are_checked_on_parse() {
        let mut d = email("smtps://mail.example.com");
        d.to = vec!["on call".into()];
        assert!(problem(&d).starts_with("to: 'on call'"), "{}", problem(&d));
        d.to.clear();
        assert!(problem(&d).contains("at least one"));
        let mut d = email("smtps://mail.example.com");
        d.from = String::new();
        assert_eq!(problem(&d), "from is required");
    }

    #[test]
    fn a_private_ca_is_read_at_start_up_and_only_with_tls() {
        let dir = tempfile::tempdir().unwrap();
        let with_ca =
            |url: &str, path: &std::path::Path| Destination { ca_file: path.display().to_string(), ..email(url) };
        let missing = dir.path().join("missing.pem");
        assert!(problem(&with_ca("smtps://mail.example.com", &missing)).starts_with("ca_file: "), "a missing file");
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        assert!(problem(&with_ca("smtps://mail.example.com", &junk)).ends_with("holds no PEM certificate"));
        let broken = dir.path().join("broken.pem");
        std::fs::write(&broken, "-----BEGIN CERTIFICATE-----\n%%%\n-----END CERTIFICATE-----\n").unwrap();
        assert!(problem(&with_ca("smtps://mail.example.com", &broken)).starts_with("ca_file: "));
        let plain = problem(&with_ca("smtp://127.0.0.1:2525?tls=none", &junk));
        assert!(plain.contains("tls=none"), "{plain}");
    }
}
