//! A destination's secrets (a Slack or Teams URL, a webhook key, a PagerDuty routing key,
//! an SMTP password): written in config.toml, read from the environment ("env:NAME"), or
//! entered by an admin in Settings → Notifications ("stored"), kept encrypted in the
//! database with the provider credentials, never shown back, and read at each send so a
//! changed value applies to the next message.

use super::settings::{resolve, STORED};
use crate::credentials::Vault;
use secrecy::{ExposeSecret, SecretString};

/// Where a destination's stored secrets live in the encrypted store.
pub fn owner(destination: &str) -> String {
    format!("notify:{destination}")
}

pub enum Secret {
    Value(SecretString),
    Stored { owner: String, field: &'static str },
}

impl Secret {
    /// The secret `field` of `destination` as configured.
    pub fn configured(destination: &str, field: &'static str, value: &SecretString) -> Result<Secret, String> {
        if value.expose_secret() == STORED {
            return Ok(Secret::Stored { owner: owner(destination), field });
        }
        resolve(value).map(Secret::Value).map_err(|e| format!("{field}: {e}"))
    }

    /// The value now; a stored one not entered yet is an error saying where to enter it.
    pub async fn read(&self, vault: &Vault) -> Result<SecretString, String> {
        match self {
            Secret::Value(v) => Ok(v.clone()),
            Secret::Stored { owner, field } => {
                let stored = vault
                    .field(owner, field)
                    .await
                    .map_err(|e| format!("{field}: cannot read the stored value ({e:#})"))?;
                stored.ok_or_else(|| format!("{field} is not entered yet (Settings → Notifications)"))
            }
        }
    }
}
