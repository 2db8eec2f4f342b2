//! What a source of cost and usage data is: the `CostSource` trait every provider's source
//! implements (in `providers/<name>/`), so tests can point a real adapter at a local peer,
//! and the shared time-window cursors (`window.rs`).

pub mod window;

use super::Batch;
use chrono::{DateTime, Utc};

/// What one pull returned: the records and where the next pull should start.
#[derive(Debug, Clone, Default)]
pub struct Pull {
    pub batch: Batch,
    /// Opaque to everyone but the source; stored with the records in one transaction.
    pub cursor: String,
    /// The source has more to give right away (a backfill in chunks): pull again.
    pub more: bool,
    /// Estimates from another source that these (billed) records replace, deleted in the
    /// same transaction so a period is never counted twice.
    pub supersedes: Vec<crate::ledger::Supersede>,
    /// These records are estimates that this (billed) source replaces: periods it already
    /// covers are skipped.
    pub estimates_of: Option<&'static str>,
    /// The source re-read this whole window: its stored rows there that the batch lacks are
    /// deleted with the write.
    pub reread: Option<crate::ledger::Reread>,
}

impl Pull {
    /// Cost records up to a time-window cursor.
    pub fn costs(costs: Vec<crate::domain::focus::CostRecord>, cursor: &window::Cursor, more: bool) -> Pull {
        Pull {
            batch: Batch { costs, llm_usage: Vec::new() },
            cursor: cursor.to_text(),
            more,
            supersedes: Vec::new(),
            estimates_of: None,
            reread: None,
        }
    }
}

#[async_trait::async_trait]
pub trait CostSource: Send + Sync {
    /// Stable name for the cursor row, logs and metrics ("simulated", "aws", ...).
    fn name(&self) -> &str;

    /// Fetches what is new or restated since `cursor` (None on the first run, which
    /// backfills). Must be safe to repeat: the ledger's upserts make re-reads harmless.
    async fn pull(&self, cursor: Option<String>, now: DateTime<Utc>) -> anyhow::Result<Pull>;

    /// Checks that the endpoint answers and the credentials are accepted, writing nothing;
    /// returns a short description of what answered (the dashboard's "Test connection").
    async fn test_connection(&self) -> anyhow::Result<String>;

    /// Forgets everything this source wrote so its next pull starts afresh (the demo's
    /// "re-seed"). Sources that mirror a real account refuse.
    async fn reseed(&self) -> anyhow::Result<()> {
        anyhow::bail!("{} mirrors a real account; its data cannot be re-seeded", self.name())
    }
}
