//! What every provider's connection shares (each provider's own is `providers/<name>/
//! connection.rs`): credentials from the encrypted store, read when a client is built (the
//! SDK's standard chain otherwise), endpoint settings, and retries.

pub mod errors;
pub mod retry;

/// Reads a provider's credential fields from the encrypted store, at the moment a client is
/// built, so a credential changed in the dashboard applies at the next call.
pub use crate::credentials::Vault;

/// An endpoint setting: empty means the provider's public endpoint.
pub fn endpoint(configured: &str) -> Option<String> {
    let trimmed = configured.trim().trim_end_matches('/');
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}
