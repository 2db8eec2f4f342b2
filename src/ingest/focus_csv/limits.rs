//! `[import]`: what a CSV import accepts. Enforced while the file streams, so memory stays
//! bounded whatever it holds: a gzip bomb of zeros is one endless first line, refused once it
//! passes `max_record_bytes`, long before it is decompressed.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImportLimits {
    /// Most bytes a file may hold once decompressed (the HTTP body limit,
    /// `server.max_import_bytes`, counts the bytes sent).
    pub max_decompressed_bytes: u64,
    /// Longest record in bytes: one CSV line with any newlines quoted inside it, the header
    /// included.
    pub max_record_bytes: u64,
    /// Longest single value, in bytes.
    pub max_field_bytes: u64,
}

impl Default for ImportLimits {
    fn default() -> Self {
        ImportLimits {
            max_decompressed_bytes: 16 * 1024 * 1024 * 1024,
            max_record_bytes: 1024 * 1024,
            max_field_bytes: 64 * 1024,
        }
    }
}

impl ImportLimits {
    /// The first key that is out of range, and why.
    pub fn check(&self) -> Result<(), (&'static str, &'static str)> {
        if self.max_decompressed_bytes == 0 {
            return Err(("import.max_decompressed_bytes", "must be positive"));
        }
        if !(1024..=256 * 1024 * 1024).contains(&self.max_record_bytes) {
            return Err(("import.max_record_bytes", "must be between 1024 and 268435456"));
        }
        if self.max_field_bytes == 0 || self.max_field_bytes > self.max_record_bytes {
            return Err(("import.max_field_bytes", "must be positive and at most import.max_record_bytes"));
        }
        Ok(())
    }
}

/// The io::Error payload the reading side returns when the stream passes a limit.
#[derive(Debug, thiserror::Error)]
pub enum Passed {
    #[error("the file holds more than import.max_decompressed_bytes = {0} bytes once decompressed")]
    Decompressed(u64),
    #[error("the line is longer than import.max_record_bytes = {0} bytes")]
    Record(u64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_pass_and_each_key_is_named() {
        assert_eq!(ImportLimits::default().check(), Ok(()));
        let bad = ImportLimits { max_decompressed_bytes: 0, ..Default::default() };
        assert_eq!(bad.check().unwrap_err().0, "import.max_decompressed_bytes");
        let bad = ImportLimits { max_record_bytes: 10, ..Default::default() };
        assert_eq!(bad.check().unwrap_err().0, "import.max_record_bytes");
        let bad = ImportLimits { max_field_bytes: 2 * 1024 * 1024, ..Default::default() };
        assert_eq!(bad.check().unwrap_err().0, "import.max_field_bytes");
    }
}
