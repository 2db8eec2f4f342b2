//! Argon2id password hashing (PHC strings with their own salt and parameters), and the
//! rules a new password must meet.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::sync::OnceLock;

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 1_024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    #[error("the password must be at least {MIN_LENGTH} characters")]
    TooShort,
    #[error("the password must be at most {MAX_LENGTH} characters")]
    TooLong,
}

/// A new password's length rules (length beats composition rules; NIST SP 800-63B).
pub fn check_strength(password: &str) -> Result<(), WeakPassword> {
    match password.chars().count() {
        n if n < MIN_LENGTH => Err(WeakPassword::TooShort),
        n if n > MAX_LENGTH => Err(WeakPassword::TooLong),
        _ => Ok(()),
    }
}

/// Argon2id with the crate's defaults (OWASP's minimum: 19 MiB, 2 passes).
pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))
}

pub fn verify(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// Verifies against a fixed hash, so an unknown user name costs as much time as a known one.
pub fn waste_equal_time(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash("costguard-timing-equaliser").unwrap_or_default());
    let _ = verify(phc, password);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let a = hash("correct horse battery").unwrap_or_default();
        let b = hash("correct horse battery").unwrap_or_default();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b);
        assert!(verify(&a, "correct horse battery"));
        assert!(!verify(&a, "correct horse batterY"));
        assert!(!verify("not a hash", "x"));
    }

    #[test]
    fn strength_is_about_length() {
        assert_eq!(check_strength("short"), Err(WeakPassword::TooShort));
        assert_eq!(check_strength(&"x".repeat(2_000)), Err(WeakPassword::TooLong));
        assert!(check_strength("twelve chars").is_ok());
    }
}
