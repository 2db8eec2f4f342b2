//! The tamper-evident audit chain: each entry carries the previous entry's hash and its own
//! SHA-256 over a canonical encoding, so editing, deleting or reordering any stored entry
//! breaks the chain at a place `verify` names.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What an entry records. The canonical encoding is this struct as compact JSON, fields in
/// declaration order (serde keeps it), so the order below is part of the format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Record {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// RFC 3339 UTC with microseconds.
    pub at: String,
    /// Who: an API key or user name, or "costguard" for the machine.
    pub actor: String,
    /// What: e.g. "action.approve", "action.execute".
    pub action: String,
    /// On what: an action id and its target resource.
    pub target: String,
    pub before: Option<String>,
    pub after: Option<String>,
    /// The git SHA of the binary that wrote the entry.
    pub build_sha: String,
    pub result: String,
    pub detail: Option<String>,
}

/// A stored entry: the record plus its links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Entry {
    #[serde(flatten)]
    pub record: Record,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash of `record` following `prev_hash`.
pub fn hash(prev_hash: &str, record: &Record) -> String {
    let canonical = serde_json::to_string(record).unwrap_or_default();
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(canonical.as_bytes());
    hex::encode(h.finalize())
}

/// The next entry after `previous` (None: the first).
pub fn chain(previous: Option<&Entry>, mut record: Record) -> Entry {
    let prev_hash = previous.map_or(GENESIS.to_string(), |p| p.hash.clone());
    record.seq = previous.map_or(1, |p| p.record.seq + 1);
    let hash = hash(&prev_hash, &record);
    Entry { record, prev_hash, hash }
}

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Break {
    #[error("entry {seq} was edited: its content no longer matches its hash")]
    Edited { seq: i64 },
    #[error("entry {missing} is missing: the chain jumps from {before} to {after}")]
    Deleted { missing: i64, before: i64, after: i64 },
    #[error("entry {seq} is out of place: it does not follow entry {previous}")]
    Reordered { seq: i64, previous: i64 },
}

/// Walks entries in stored order (by seq) from the start of the chain; names the first break.
pub fn verify(entries: &[Entry]) -> Result<usize, Break> {
    let mut previous: Option<&Entry> = None;
    for e in entries {
        let expected_seq = previous.map_or(1, |p| p.record.seq + 1);
        let expected_prev = previous.map_or(GENESIS, |p| p.hash.as_str());
        if e.record.seq > expected_seq {
            return Err(Break::Deleted { missing: expected_seq, before: expected_seq - 1, after: e.record.seq });
        }
        if e.record.seq < expected_seq || e.prev_hash != expected_prev {
            if hash(&e.prev_hash, &e.record) != e.hash {
                return Err(Break::Edited { seq: e.record.seq });
            }
            return Err(Break::Reordered { seq: e.record.seq, previous: expected_seq - 1 });
        }
        if hash(&e.prev_hash, &e.record) != e.hash {
            return Err(Break::Edited { seq: e.record.seq });
        }
        previous = Some(e);
    }
    Ok(entries.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(action: &str) -> Record {
        Record {
            seq: 0,
            at: "2026-11-21T02:05:00.000000Z".into(),
            actor: "bob".into(),
            action: action.into(),
            target: "action 7 / bquxjob_1".into(),
            before: Some("pending_approval".into()),
            after: Some("approved".into()),
            build_sha: "abc123".into(),
            result: "ok".into(),
            detail: None,
        }
    }

    fn chain_of(n: usize) -> Vec<Entry> {
        let mut out: Vec<Entry> = Vec::new();
        for i in 0..n {
            let e = chain(out.last(), record(&format!("step {i}")));
            out.push(e);
        }
        out
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let entries = chain_of(5);
        assert_eq!(verify(&entries), Ok(5));
        assert_eq!(entries[0].prev_hash, GENESIS);
        assert_eq!(entries[4].record.seq, 5);
        assert_eq!(verify(&[]), Ok(0));
    }

    #[test]
    fn an_edit_is_named() {
        let mut entries = chain_of(5);
        entries[2].record.result = "failed".into();
        assert_eq!(verify(&entries), Err(Break::Edited { seq: 3 }));
        // Recomputing the edited entry's own hash moves the break to the next entry.
        entries[2].hash = hash(&entries[2].prev_hash, &entries[2].record);
        assert_eq!(verify(&entries), Err(Break::Reordered { seq: 4, previous: 3 }));
    }

    #[test]
    fn a_deletion_is_named() {
        let mut entries = chain_of(5);
        entries.remove(1);
        assert_eq!(verify(&entries), Err(Break::Deleted { missing: 2, before: 1, after: 3 }));
        let mut last_gone = chain_of(3);
        last_gone.remove(0);
        assert_eq!(verify(&last_gone), Err(Break::Deleted { missing: 1, before: 0, after: 2 }));
    }

    #[test]
    fn a_reordering_is_named() {
        let mut entries = chain_of(5);
        // Swap the contents of two rows, sequence numbers included, as an UPDATE would.
        let (a, b) = (entries[1].clone(), entries[2].clone());
        entries[1] = Entry { record: Record { seq: 2, ..b.record.clone() }, ..b };
        entries[2] = Entry { record: Record { seq: 3, ..a.record.clone() }, ..a };
        assert!(matches!(verify(&entries), Err(Break::Edited { seq: 2 })));
        let mut swapped = chain_of(4);
        swapped.swap(1, 2);
        assert_eq!(verify(&swapped), Err(Break::Deleted { missing: 2, before: 1, after: 3 }));
    }

    #[test]
    fn the_encoding_is_stable() {
        let e = chain(None, record("action.approve"));
        assert_eq!(e.hash, hash(GENESIS, &e.record));
        assert_eq!(e.hash.len(), 64);
        let again = chain(None, record("action.approve"));
        assert_eq!(e.hash, again.hash);
    }
}
