//! What every provider's connection shares (each provider's own is `providers/<name>/
//! connection.rs`): credentials from the encrypted store, read when a client is built (the
//! SDK's standard chain otherwise), endpoint settings, and retries.

pub mod errors;
pub mod retry;

use crate::credentials::Cipher;
use crate::db::{Db, DbError};
use secrecy::SecretString;

/// Reads a provider's credential fields from the encrypted store, at the moment a client is
/// built, so a credential changed in the dashboard applies at the next call.
#[derive(Clone, Debug)]
pub struct Vault {
    db: Db,
    cipher: Cipher,
}

impl Vault {
    pub fn new(db: Db, cipher: Cipher) -> Self {
        Vault { db, cipher }
    }

    pub async fn field(&self, provider: &'static str, field: &'static str) -> anyhow::Result<Option<SecretString>> {
        let cipher = self.cipher.clone();
        self.db
            .run(move |c| {
                crate::credentials::reveal(c, &cipher, provider, field).map_err(|e| DbError::Other(format!("{e:#}")))
            })
            .await
            .map_err(anyhow::Error::from)
    }
}

/// An endpoint setting: empty means the provider's public endpoint.
pub fn endpoint(configured: &str) -> Option<String> {
    let trimmed = configured.trim().trim_end_matches('/');
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}
