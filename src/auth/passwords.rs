//! Argon2id password hashing (PHC strings with their own salt and parameters), and the
//! rules a new password must meet.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::sync::OnceLock;

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 1_024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    #[error("the password must be at least {MIN_LENGTH} characters, not counting repeated spaces")]
    TooShort,
    #[error("the password must be at most {MAX_LENGTH} characters")]
    TooLong,
}

/// A new password's length rules (length beats composition rules; NIST SP 800-63B). The
/// length counts the password as a person would type it again: surrounding whitespace
/// trimmed and runs of whitespace as one, so twelve spaces, or a short word padded with
/// them, do not pass.
pub fn check_strength(password: &str) -> Result<(), WeakPassword> {
    if password.chars().count() > MAX_LENGTH {
        return Err(WeakPassword::TooLong);
    }
    let words: Vec<&str> = password.split_whitespace().collect();
    let normalised = words.iter().map(|w| w.chars().count()).sum::<usize>() + words.len().saturating_sub(1);
    if normalised < MIN_LENGTH {
        return Err(WeakPassword::TooShort);
    }
    Ok(())
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

    #[test]
    fn whitespace_does_not_make_up_the_length() {
        for padded in [" ".repeat(12), "\t".repeat(20), format!("   {}   ", "abcdef"), "ab      cd      ef".into()] {
            assert_eq!(check_strength(&padded), Err(WeakPassword::TooShort), "{padded:?}");
        }
        assert!(check_strength("  correct horse battery  ").is_ok());
    }
}
