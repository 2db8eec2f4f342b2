//! Stable fingerprints for natural identities and content: the first 128 bits of a
//! SHA-256, kept as 16 bytes (stored as BLOB/BYTEA: half the index size of hex text).

use sha2::{Digest, Sha256};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordKey([u8; 16]);

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
        let digest = hasher.finalize();
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        RecordKey(key)
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    pub fn to_vec(self) -> Vec<u8> {
        self.0.to_vec()
    }
}

impl fmt::Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separates_parts() {
        assert_ne!(RecordKey::of(&["ab", "c"]), RecordKey::of(&["a", "bc"]));
        assert_ne!(RecordKey::of(&["a\u{1f}", "b"]), RecordKey::of(&["a", "\u{1f}b"]));
        assert_eq!(RecordKey::of(&["x"]).to_string().len(), 32);
    }
}

/// Remembers which identities a single write has seen, so a file or request that repeats
/// an identity is refused (two rows that CostGuard cannot tell apart would otherwise
/// silently overwrite each other).
///
/// It keeps a 64-bit fingerprint and a 32-bit position per row (about 14 bytes), so a
/// million-row import stays well inside its memory budget. Two different identities share
/// a fingerprint with probability ~n^2/2^65 (3e-8 for a million rows); that would refuse
/// the file as a repeat, never merge rows.
#[derive(Debug, Default)]
pub struct SeenKeys(std::collections::HashMap<u64, u32, std::hash::BuildHasherDefault<KeyBitsHasher>>);

/// The fingerprints are already uniform SHA-256 bits, so hashing them again is wasted work.
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
    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

impl SeenKeys {
    /// Records `key` at `position`; returns the earlier position if it was seen before.
    /// Positions above u32::MAX are remembered as u32::MAX.
    pub fn check(&mut self, key: &RecordKey, position: u64) -> Result<(), u64> {
        let mut first = [0u8; 8];
        first.copy_from_slice(&key.as_bytes()[..8]);
        let bits = u64::from_le_bytes(first);
        let position = u32::try_from(position).unwrap_or(u32::MAX);
        match self.0.entry(bits) {
            std::collections::hash_map::Entry::Occupied(earlier) => Err(u64::from(*earlier.get())),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(position);
                Ok(())
            }
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
