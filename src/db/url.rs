//! Database URLs: `sqlite://PATH` (or `sqlite:PATH`) and `postgres://` / `postgresql://`.

use super::DbError;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    backend: Backend,
    raw: String,
    sqlite_path: PathBuf,
}

impl DatabaseUrl {
    /// Parses a URL; an unknown scheme is refused rather than guessed at.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if let Some(path) = raw.strip_prefix("sqlite://").or_else(|| raw.strip_prefix("sqlite:")) {
            if path.is_empty() {
                return Err("a sqlite URL needs a file path, e.g. sqlite://data/costguard.db".into());
            }
            return Ok(DatabaseUrl {
                backend: Backend::Sqlite,
                raw: raw.to_string(),
                sqlite_path: PathBuf::from(path),
            });
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(DatabaseUrl { backend: Backend::Postgres, raw: raw.to_string(), sqlite_path: PathBuf::new() });
        }
        Err("the URL must start with sqlite:// or postgres:// (or postgresql://)".into())
    }

    pub fn sqlite_file(path: &Path) -> Self {
        DatabaseUrl {
            backend: Backend::Sqlite,
            raw: format!("sqlite://{}", path.display()),
            sqlite_path: path.to_path_buf(),
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn sqlite_path(&self) -> &str {
        self.sqlite_path.to_str().unwrap_or_default()
    }

    /// The URL with any password replaced, for logs.
    pub fn redacted(&self) -> String {
        match (self.raw.find("://"), self.raw.rfind('@')) {
            (Some(scheme_end), Some(at)) if at > scheme_end => {
                let creds = &self.raw[scheme_end + 3..at];
                match creds.split_once(':') {
                    Some((user, _)) => format!("{}{user}:***{}", &self.raw[..scheme_end + 3], &self.raw[at..]),
                    None => self.raw.clone(),
                }
            }
            _ => self.raw.clone(),
        }
    }

    /// Creates the SQLite file's folder; nothing to do for PostgreSQL.
    pub(super) fn prepare(&self) -> Result<(), DbError> {
        if self.backend == Backend::Sqlite {
            if let Some(dir) = self.sqlite_path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| DbError::Migration(format!("cannot create {}: {e}", dir.display())))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_backend_by_scheme() {
        assert_eq!(DatabaseUrl::parse("sqlite://data/x.db").unwrap().sqlite_path(), "data/x.db");
        assert_eq!(DatabaseUrl::parse("sqlite:/tmp/x.db").unwrap().sqlite_path(), "/tmp/x.db");
        assert_eq!(DatabaseUrl::parse("postgresql://u@h/db").unwrap().backend(), Backend::Postgres);
        assert!(DatabaseUrl::parse("mysql://h/db").is_err());
        assert!(DatabaseUrl::parse("data/x.db").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn hides_passwords() {
        let url = DatabaseUrl::parse("postgres://cg:s3cret@db:5432/cg").unwrap();
        assert_eq!(url.redacted(), "postgres://cg:***@db:5432/cg");
        assert!(!url.redacted().contains("s3cret"));
    }
}
