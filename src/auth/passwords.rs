//! Argon2id password hashing (PHC strings with their own salt and parameters), and the
//! rules a new password must meet (NIST SP 800-63B: length, and not a known or guessable one;
//! no composition rules).

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::collections::HashSet;
use std::sync::OnceLock;

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 1_024;

/// Shipped inside the binary, so the check needs no network and no file beside it.
const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    #[error("the password must be at least {MIN_LENGTH} characters, not counting repeated spaces")]
    TooShort,
    #[error("the password must be at most {MAX_LENGTH} characters")]
    TooLong,
    #[error("the password is one of the most common passwords (or one with digits and symbols added); choose another")]
    Common,
    #[error("the password is a short pattern repeated; choose another")]
    Repetitive,
    #[error("the password must not be the user name or the name of this service")]
    ContextWord,
}

/// A password as a person would type it again: lower-cased, surrounding whitespace trimmed
/// and runs of whitespace as one.
fn normalise(password: &str) -> String {
    password.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

fn common_passwords() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| COMMON_PASSWORDS.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).collect())
}

/// The password with the digits and symbols people add to a common word taken off both ends
/// ("Password2024!" is "password").
fn stem(normalised: &str) -> &str {
    normalised.trim_matches(|c: char| !c.is_alphabetic())
}

/// "abcabcabcabc", "aaaaaaaaaaaa", "qwertyqwerty": one unit typed again and again.
fn is_repetitive(normalised: &str) -> bool {
    let chars: Vec<char> = normalised.chars().collect();
    (1..=chars.len() / 2).any(|unit| {
        chars.len().is_multiple_of(unit) && chars.chunks(unit).all(|c| c == &chars[..unit]) && {
            let unit: String = chars[..unit].iter().collect();
            unit.chars().count() <= 4 || common_passwords().contains(unit.as_str())
        }
    })
}

/// A new password's rules. `context` holds words an attacker would try first for this
/// account (its user name); the service's own name is always among them.
pub fn check_strength(password: &str, context: &[&str]) -> Result<(), WeakPassword> {
    if password.chars().count() > MAX_LENGTH {
        return Err(WeakPassword::TooLong);
    }
    let normalised = normalise(password);
    if normalised.chars().count() < MIN_LENGTH {
        return Err(WeakPassword::TooShort);
    }
    let stem = stem(&normalised);
    let words = context.iter().map(|w| w.trim().to_lowercase()).filter(|w| !w.is_empty());
    if words.chain(["costguard".to_string()]).any(|w| w == normalised || w == stem) {
        return Err(WeakPassword::ContextWord);
    }
    let common = common_passwords();
    if common.contains(normalised.as_str()) || (stem.chars().count() >= 4 && common.contains(stem)) {
        return Err(WeakPassword::Common);
    }
    if is_repetitive(&normalised) {
        return Err(WeakPassword::Repetitive);
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
        assert_eq!(check_strength("short", &[]), Err(WeakPassword::TooShort));
        assert_eq!(check_strength(&"xy".repeat(1_000), &[]), Err(WeakPassword::TooLong));
        assert!(check_strength("twelve chars", &[]).is_ok());
        assert!(check_strength("Tr0ub4dor&3 horse", &[]).is_ok());
    }

    #[test]
    fn common_passwords_are_refused_with_whatever_was_added_around_them() {
        assert!(common_passwords().len() > 40_000, "the shipped list is complete");
        for weak in ["qwerty123456", "1qaz2wsx3edc", "QWERTY123456", "password1234", "Password2024!", "!!monkey2024!!"]
        {
            assert_eq!(check_strength(weak, &[]), Err(WeakPassword::Common), "{weak}");
        }
        // A common word inside a longer phrase is fine: only the whole, or the word with
        // digits and symbols around it, is refused.
        assert!(check_strength("monkey wrench in the gears", &[]).is_ok());
        assert!(check_strength("olga-password-1", &[]).is_ok());
    }

    #[test]
    fn repeated_patterns_and_context_words_are_refused() {
        for weak in ["aaaaaaaaaaaa", "abcabcabcabc", "xyz1xyz1xyz1", "dragondragon"] {
            assert_eq!(check_strength(weak, &[]), Err(WeakPassword::Repetitive), "{weak}");
        }
        assert_eq!(check_strength("costguard2026!", &[]), Err(WeakPassword::ContextWord));
        assert_eq!(check_strength("Margaret.Hamilton", &["margaret.hamilton"]), Err(WeakPassword::ContextWord));
        assert_eq!(check_strength("margaret.hamilton99", &["margaret.hamilton"]), Err(WeakPassword::ContextWord));
        assert!(check_strength("margaret's own phrase", &["margaret"]).is_ok());
    }

    #[test]
    fn whitespace_does_not_make_up_the_length() {
        for padded in [" ".repeat(12), "\t".repeat(20), format!("   {}   ", "abcdef"), "ab      cd      ef".into()] {
            assert_eq!(check_strength(&padded, &[]), Err(WeakPassword::TooShort), "{padded:?}");
        }
        assert!(check_strength("  correct horse battery  ", &[]).is_ok());
    }
}
