//! Who is calling: API keys for machines; users with passwords and database-held sessions for
//! people; the one-time setup link for the first admin.
//!
//! Keys, session tokens and setup tokens are 256-bit random values shown once; only their
//! SHA-256 is stored, which is safe for high-entropy secrets and lets each request find its
//! row by index. Passwords are low-entropy, so they get Argon2id.

pub mod api_keys;
pub mod login;
pub mod passwords;
pub mod sessions;
pub mod setup;
pub mod users;

use rand::RngCore;
use sha2::{Digest, Sha256};

/// 256 random bits as hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// How high-entropy tokens are stored.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
