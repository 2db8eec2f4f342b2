//! AES-256-GCM for credentials at rest. The key comes from `secrets.encryption_key` (base64 of
//! 32 bytes; set it through COSTGUARD_SECRETS__ENCRYPTION_KEY) or from a key file, created with
//! mode 0600 on first start. Each value gets a fresh 96-bit nonce, and its provider and field
//! are bound in as associated data, so a ciphertext cannot be moved to another field.

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use std::io::Write;
use std::path::Path;

#[derive(Clone)]
pub struct Cipher {
    key: Key<Aes256Gcm>,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(..)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("secrets.encryption_key must be base64 of exactly 32 bytes")]
    BadKey,
    #[error("the key file {path} must hold base64 of exactly 32 bytes")]
    BadKeyFile { path: String },
    #[error("cannot read or create the key file {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

fn decode(text: &str) -> Option<Key<Aes256Gcm>> {
    let bytes = B64.decode(text.trim()).ok()?;
    (bytes.len() == 32).then(|| *Key::<Aes256Gcm>::from_slice(&bytes))
}

impl Cipher {
    pub fn from_base64(text: &str) -> Result<Cipher, KeyError> {
        decode(text).map(|key| Cipher { key }).ok_or(KeyError::BadKey)
    }

    /// The configured key, else the key file (made on first use, readable by its owner only).
    pub fn load(configured: &str, key_file: &Path) -> Result<Cipher, KeyError> {
        if !configured.trim().is_empty() {
            return Cipher::from_base64(configured);
        }
        let path = key_file.display().to_string();
        let io = |source| KeyError::Io { path: path.clone(), source };
        match std::fs::read_to_string(key_file) {
            Ok(text) => decode(&text).map(|key| Cipher { key }).ok_or(KeyError::BadKeyFile { path: path.clone() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = key_file.parent() {
                    std::fs::create_dir_all(dir).map_err(io)?;
                }
                let key = Aes256Gcm::generate_key(OsRng);
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(key_file).map_err(io)?;
                file.write_all(B64.encode(key).as_bytes()).map_err(io)?;
                file.sync_all().map_err(io)?;
                tracing::info!(path = %path, "created the credential encryption key file (mode 0600); back it up with the database");
                Ok(Cipher { key })
            }
            Err(e) => Err(io(e)),
        }
    }

    /// The key that authenticates the audit log, derived from this one (HMAC-SHA256 of a fixed
    /// label), so the audit log needs no secret of its own and the database holds neither.
    pub fn audit_key(&self) -> crate::domain::audit::AuditKey {
        use hmac::Mac;
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(self.key.as_slice())
            .unwrap_or_else(|_| unreachable!("any key length"));
        mac.update(b"costguard audit log v1");
        crate::domain::audit::AuditKey::new(mac.finalize().into_bytes().into())
    }

    /// Returns (nonce, ciphertext), both base64.
    pub fn seal(&self, plaintext: &str, associated: &str) -> anyhow::Result<(String, String)> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = Aes256Gcm::new(&self.key)
            .encrypt(&nonce, Payload { msg: plaintext.as_bytes(), aad: associated.as_bytes() })
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        Ok((B64.encode(nonce), B64.encode(sealed)))
    }

    pub fn open(&self, nonce: &str, ciphertext: &str, associated: &str) -> anyhow::Result<String> {
        let nonce = B64.decode(nonce)?;
        anyhow::ensure!(nonce.len() == 12, "a stored nonce is not 96 bits");
        let sealed = B64.decode(ciphertext)?;
        let plain = Aes256Gcm::new(&self.key)
            .decrypt(Nonce::from_slice(&nonce), Payload { msg: &sealed, aad: associated.as_bytes() })
            .map_err(|_| {
                anyhow::anyhow!("a stored credential does not decrypt with this key (wrong key, or edited)")
            })?;
        Ok(String::from_utf8(plain)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_are_bound_to_their_field() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("k/costguard.key");
        let c = Cipher::load("", &path).unwrap_or_else(|e| panic!("{e}"));
        let (n, ct) = c.seal("s3cret", "aws\0secret_access_key").unwrap_or_default();
        assert!(!ct.contains("s3cret"));
        assert_eq!(c.open(&n, &ct, "aws\0secret_access_key").ok().as_deref(), Some("s3cret"));
        assert!(c.open(&n, &ct, "aws\0access_key_id").is_err(), "moved to another field");
        // The same file gives the same key back; another key cannot read it.
        let again = Cipher::load("", &path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.open(&n, &ct, "aws\0secret_access_key").ok().as_deref(), Some("s3cret"));
        let other = Cipher::from_base64(&B64.encode([7u8; 32])).unwrap_or_else(|e| panic!("{e}"));
        assert!(other.open(&n, &ct, "aws\0secret_access_key").is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
            assert_eq!(mode, 0o600);
        }
        assert!(Cipher::from_base64("too short").is_err());
    }
}
