//! A real SMTP server for the e-mail notifications: aiosmtpd from PyPI (`.ci/peers.sh`
//! installs it; `smtp_server.py` starts it with its stock Maildir handler, requiring AUTH),
//! on a free port, in plain TCP or behind TLS (STARTTLS or implicit) with a certificate from
//! a throwaway CA (trustme). The tests read what it accepted from the Maildir, parsed with
//! mailparse.

use super::{free_port, program, Process};
use std::process::{Command, Stdio};
use std::time::Duration;

pub const USER: &str = "costguard";
pub const PASSWORD: &str = "smtp-pass-4b1d";

pub struct Smtp {
    _process: Process,
    pub port: u16,
    maildir: tempfile::TempDir,
}

/// How the server secures a connection (`smtp_server.py`'s MODE).
#[derive(Debug, Clone, Copy)]
pub enum Security {
    Plain,
    /// STARTTLS offered and required before anything else.
    StartTls,
    /// TLS from the first byte (smtps).
    Implicit,
}

/// One message as received: its headers and its text and HTML parts, decoded.
#[derive(Debug, Clone)]
pub struct Mail {
    pub headers: Vec<(String, String)>,
    pub plain: String,
    pub html: String,
}

impl Mail {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

impl Smtp {
    /// None when aiosmtpd is not installed (skipped locally, a failure in CI).
    pub async fn start() -> Option<Smtp> {
        Smtp::start_on(free_port()).await
    }

    /// On a given port (one a test kept free until now).
    pub async fn start_on(port: u16) -> Option<Smtp> {
        Smtp::start_with(port, Security::Plain).await
    }

    /// Behind TLS: the CA that issued its certificate is at `ca_file()`.
    pub async fn start_tls(security: Security) -> Option<Smtp> {
        Smtp::start_with(free_port(), security).await
    }

    async fn start_with(port: u16, security: Security) -> Option<Smtp> {
        let python = program("CG_AIOSMTPD_PYTHON")?;
        let maildir = tempfile::tempdir().unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/peers/smtp_server.py");
        let mode = match security {
            Security::Plain => "plain",
            Security::StartTls => "starttls",
            Security::Implicit => "smtps",
        };
        let ca = maildir.path().join("ca.pem");
        let child = Command::new(python)
            .args([script, &port.to_string(), maildir.path().join("mail").to_str().unwrap(), USER, PASSWORD, mode])
            .arg(&ca)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let process = Process { child };
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(std::time::Instant::now() < deadline, "aiosmtpd did not listen on {port}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Some(Smtp { _process: process, port, maildir })
    }

    /// The PEM certificate of the CA that issued a TLS server's certificate.
    pub fn ca_file(&self) -> String {
        self.maildir.path().join("ca.pem").display().to_string()
    }

    /// Every message accepted so far, in the order they arrived.
    pub fn received(&self) -> Vec<Mail> {
        let dir = self.maildir.path().join("mail/new");
        let mut files: Vec<(std::time::SystemTime, std::path::PathBuf)> = std::fs::read_dir(&dir)
            .map(|entries| entries.flatten().map(|e| (e.metadata().unwrap().modified().unwrap(), e.path())).collect())
            .unwrap_or_default();
        files.sort();
        files.into_iter().map(|(_, path)| parse(&std::fs::read(path).unwrap())).collect()
    }
}

fn parse(raw: &[u8]) -> Mail {
    let mail = mailparse::parse_mail(raw).unwrap();
    let headers = mail.headers.iter().map(|h| (h.get_key(), h.get_value())).collect();
    let part = |mime: &str| {
        mail.subparts.iter().find(|p| p.ctype.mimetype == mime).map(|p| p.get_body().unwrap()).unwrap_or_default()
    };
    Mail { headers, plain: part("text/plain"), html: part("text/html") }
}
