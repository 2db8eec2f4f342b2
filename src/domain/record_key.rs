//! Stable fingerprints for natural identities and content (128-bit SHA-256 prefix, hex).

use sha2::{Digest, Sha256};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordKey(String);

impl RecordKey {
    /// Hashes the parts with a separator that cannot occur in them unescaped, so
    /// ("ab", "c") and ("a", "bc") differ.
    pub fn of(parts: &[&str]) -> Self {
        let mut hasher = Sha256::new();
        for part in parts {
            if part.contains(['\\', '\u{1f}']) {
                hasher.update(part.replace('\\', "\\\\").replace('\u{1f}', "\\u1f").as_bytes());
            } else {
                hasher.update(part.as_bytes());
            }
            hasher.update([0x1f]);
        }
        RecordKey(hex::encode(&hasher.finalize()[..16]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separates_parts() {
        assert_ne!(RecordKey::of(&["ab", "c"]), RecordKey::of(&["a", "bc"]));
        assert_ne!(RecordKey::of(&["a\u{1f}", "b"]), RecordKey::of(&["a", "\u{1f}b"]));
        assert_eq!(RecordKey::of(&["x"]).as_str().len(), 32);
    }
}

/// Remembers which identities a single write has seen, so a file or request that repeats
/// an identity is refused (two rows that CostGuard cannot tell apart would otherwise
/// silently overwrite each other). Keeps 128-bit keys only: ~32 bytes per row.
#[derive(Debug, Default)]
pub struct SeenKeys(std::collections::HashMap<u128, u64, std::hash::BuildHasherDefault<KeyBitsHasher>>);

/// The keys are already uniform SHA-256 bits, so hashing them again would be wasted work.
#[derive(Debug, Default)]
pub struct KeyBitsHasher(u64);

impl std::hash::Hasher for KeyBitsHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 ^= u64::from_le_bytes(word);
        }
    }
    fn write_u128(&mut self, value: u128) {
        self.0 = value as u64;
    }
}

impl SeenKeys {
    /// Records `key` at `position`; returns the earlier position if it was seen before.
    pub fn check(&mut self, key: &RecordKey, position: u64) -> Result<(), u64> {
        let bits = u128::from_str_radix(key.as_str(), 16).unwrap_or_default();
        match self.0.insert(bits, position) {
            Some(earlier) => {
                self.0.insert(bits, earlier);
                Err(earlier)
            }
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod seen_tests {
    use super::*;

    #[test]
    fn reports_the_first_position_of_a_repeat() {
        let mut seen = SeenKeys::default();
        let a = RecordKey::of(&["a"]);
        assert_eq!(seen.check(&a, 2), Ok(()));
        assert_eq!(seen.check(&RecordKey::of(&["b"]), 3), Ok(()));
        assert_eq!(seen.check(&a, 7), Err(2));
        assert_eq!(seen.check(&a, 9), Err(2));
    }
}
