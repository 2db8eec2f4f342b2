//! The tamper-evident audit chain: each entry carries the previous entry's code and its own,
//! an HMAC-SHA256 over a canonical encoding keyed with a key that is not in the database
//! (derived from the secrets key). Editing, deleting, renumbering or forging any stored entry
//! breaks the chain at a place `verify` names, even for someone who can rewrite every row;
//! deleting entries from the end is caught against a head (sequence and code) published
//! outside the database, which `verify_against` checks.

use hmac::{Hmac, Mac};
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

/// The key that authenticates entries. Never stored in the database: it is derived from the
/// secrets key each time the process starts.
#[derive(Clone, PartialEq, Eq)]
pub struct AuditKey([u8; 32]);

impl AuditKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        AuditKey(bytes)
    }
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(..)")
    }
}

/// The code of `record` following `prev_hash`: HMAC-SHA256 under `key`.
pub fn hash(key: &AuditKey, prev_hash: &str, record: &Record) -> String {
    let canonical = serde_json::to_string(record).unwrap_or_default();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key.0).unwrap_or_else(|_| unreachable!("any key length"));
    mac.update(prev_hash.as_bytes());
    mac.update(b"\n");
    mac.update(canonical.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The hash chains written before entries were keyed: plain SHA-256 of the same input. Only
/// [`rekey`] reads it, to carry an intact old chain over once.
pub fn unkeyed_hash(prev_hash: &str, record: &Record) -> String {
    let canonical = serde_json::to_string(record).unwrap_or_default();
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(canonical.as_bytes());
    hex::encode(h.finalize())
}

/// The next entry after `previous` (None: the first).
pub fn chain(key: &AuditKey, previous: Option<&Entry>, mut record: Record) -> Entry {
    let prev_hash = previous.map_or(GENESIS.to_string(), |p| p.hash.clone());
    record.seq = previous.map_or(1, |p| p.record.seq + 1);
    let hash = hash(key, &prev_hash, &record);
    Entry { record, prev_hash, hash }
}

/// An unkeyed chain (as written before entries were keyed) re-linked under `key`, if it is
/// intact; the first break otherwise, and then nothing should be rewritten.
pub fn rekey(key: &AuditKey, entries: &[Entry]) -> Result<Vec<Entry>, Break> {
    verify_with(entries, unkeyed_hash)?;
    let mut out: Vec<Entry> = Vec::with_capacity(entries.len());
    for e in entries {
        let next = chain(key, out.last(), e.record.clone());
        out.push(next);
    }
    Ok(out)
}

/// The chain's last entry, as published outside the database: `SEQ:HASH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub seq: i64,
    pub hash: String,
}

impl std::fmt::Display for Head {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.seq, self.hash)
    }
}

impl std::str::FromStr for Head {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let (seq, hash) = text.trim().split_once(':').ok_or("a head is SEQ:HASH")?;
        let seq: i64 = seq.parse().map_err(|_| format!("'{seq}' is not a sequence number"))?;
        let hex = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit());
        if seq < 0 || !hex {
            return Err("a head is SEQ:HASH with HASH 64 hex digits".into());
        }
        Ok(Head { seq, hash: hash.to_ascii_lowercase() })
    }
}

impl Entry {
    pub fn head(&self) -> Head {
        Head { seq: self.record.seq, hash: self.hash.clone() }
    }
}

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Break {
    #[error(
        "entry {seq} fails its authentication code: it was edited, forged or renumbered, or written under another key"
    )]
    Edited { seq: i64 },
    #[error("entry {missing} is missing: the chain jumps from {before} to {after}")]
    Deleted { missing: i64, before: i64, after: i64 },
    #[error("entry {seq} is out of place: it does not follow entry {previous}")]
    Reordered { seq: i64, previous: i64 },
    #[error("the chain ends at entry {ends}, but entry {published} was published: entries after {ends} were deleted")]
    Truncated { ends: i64, published: i64 },
    #[error("entry {seq} is not the one published (its code differs): the chain was rewritten")]
    Rewritten { seq: i64 },
}

/// Walks entries in stored order (by seq) from the start of the chain; names the first break.
pub fn verify(key: &AuditKey, entries: &[Entry]) -> Result<usize, Break> {
    verify_with(entries, |prev, record| hash(key, prev, record))
}

/// [`verify`], then checks the chain still holds the published `head` unchanged: entries
/// deleted from the end, or a chain rewritten wholesale, show only against a head kept
/// outside the database.
pub fn verify_against(key: &AuditKey, entries: &[Entry], head: &Head) -> Result<usize, Break> {
    let count = verify(key, entries)?;
    let ends = entries.last().map_or(0, |e| e.record.seq);
    if head.seq == 0 {
        return Ok(count);
    }
    match entries.iter().find(|e| e.record.seq == head.seq) {
        None => Err(Break::Truncated { ends, published: head.seq }),
        Some(e) if e.hash != head.hash => Err(Break::Rewritten { seq: head.seq }),
        Some(_) => Ok(count),
    }
}

fn verify_with(entries: &[Entry], hash: impl Fn(&str, &Record) -> String) -> Result<usize, Break> {
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

    fn key() -> AuditKey {
        AuditKey::new([7; 32])
    }

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
            let e = chain(&key(), out.last(), record(&format!("step {i}")));
            out.push(e);
        }
        out
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let entries = chain_of(5);
        assert_eq!(verify(&key(), &entries), Ok(5));
        assert_eq!(entries[0].prev_hash, GENESIS);
        assert_eq!(entries[4].record.seq, 5);
        assert_eq!(verify(&key(), &[]), Ok(0));
    }

    #[test]
    fn an_edit_is_named() {
        let mut entries = chain_of(5);
        entries[2].record.result = "failed".into();
        assert_eq!(verify(&key(), &entries), Err(Break::Edited { seq: 3 }));
        // Recomputing the edited entry's own hash moves the break to the next entry.
        entries[2].hash = hash(&key(), &entries[2].prev_hash, &entries[2].record);
        assert_eq!(verify(&key(), &entries), Err(Break::Reordered { seq: 4, previous: 3 }));
    }

    #[test]
    fn a_deletion_is_named() {
        let mut entries = chain_of(5);
        entries.remove(1);
        assert_eq!(verify(&key(), &entries), Err(Break::Deleted { missing: 2, before: 1, after: 3 }));
        let mut last_gone = chain_of(3);
        last_gone.remove(0);
        assert_eq!(verify(&key(), &last_gone), Err(Break::Deleted { missing: 1, before: 0, after: 2 }));
    }

    #[test]
    fn a_reordering_is_named() {
        let mut entries = chain_of(5);
        // Swap the contents of two rows, sequence numbers included, as an UPDATE would.
        let (a, b) = (entries[1].clone(), entries[2].clone());
        entries[1] = Entry { record: Record { seq: 2, ..b.record.clone() }, ..b };
        entries[2] = Entry { record: Record { seq: 3, ..a.record.clone() }, ..a };
        assert!(matches!(verify(&key(), &entries), Err(Break::Edited { seq: 2 })));
        let mut swapped = chain_of(4);
        swapped.swap(1, 2);
        assert_eq!(verify(&key(), &swapped), Err(Break::Deleted { missing: 2, before: 1, after: 3 }));
    }

    #[test]
    fn the_encoding_is_stable() {
        let e = chain(&key(), None, record("action.approve"));
        assert_eq!(e.hash, hash(&key(), GENESIS, &e.record));
        assert_eq!(e.hash.len(), 64);
        let again = chain(&key(), None, record("action.approve"));
        assert_eq!(e.hash, again.hash);
        assert_ne!(e.hash, chain(&AuditKey::new([8; 32]), None, record("action.approve")).hash);
    }

    /// What someone who can write every row, but has not the key, can do; each is named.
    #[test]
    fn rewrites_without_the_key_are_caught() {
        let entries = chain_of(5);
        // Edit entry 3 and recompute every code after it, as SHA-256 (or any other key).
        let mut recomputed = entries.clone();
        recomputed[2].record.result = "failed".into();
        for i in 2..5 {
            let prev = recomputed[i - 1].hash.clone();
            recomputed[i].prev_hash = prev.clone();
            recomputed[i].hash = unkeyed_hash(&prev, &recomputed[i].record);
        }
        assert_eq!(verify(&key(), &recomputed), Err(Break::Edited { seq: 3 }));
        // Append a forged approval linked to the real last entry.
        let mut forged = entries.clone();
        let fake = chain(&AuditKey::new([0; 32]), forged.last(), record("action.approve"));
        forged.push(fake);
        assert_eq!(verify(&key(), &forged), Err(Break::Edited { seq: 6 }));
        // Delete entry 2 and renumber the rest.
        let mut renumbered = entries.clone();
        renumbered.remove(1);
        for (i, e) in renumbered.iter_mut().enumerate() {
            e.record.seq = i as i64 + 1;
        }
        renumbered[1].prev_hash = renumbered[0].hash.clone();
        assert_eq!(verify(&key(), &renumbered), Err(Break::Edited { seq: 2 }));
    }

    #[test]
    fn deletions_from_the_end_show_against_the_published_head() {
        let entries = chain_of(5);
        let head = entries[4].head();
        assert_eq!(verify_against(&key(), &entries, &head), Ok(5));
        assert_eq!(verify_against(&key(), &entries[..4], &head), Err(Break::Truncated { ends: 4, published: 5 }));
        assert_eq!(verify_against(&key(), &entries[..2], &head), Err(Break::Truncated { ends: 2, published: 5 }));
        assert_eq!(verify_against(&key(), &[], &head), Err(Break::Truncated { ends: 0, published: 5 }));
        // A head published earlier still holds after later appends.
        assert_eq!(verify_against(&key(), &entries, &entries[2].head()), Ok(5));
        // A chain rebuilt wholesale under the key (by someone holding it) differs at the head.
        let mut rebuilt: Vec<Entry> = Vec::new();
        for i in 0..5 {
            let e = chain(&key(), rebuilt.last(), record(&format!("other {i}")));
            rebuilt.push(e);
        }
        assert_eq!(verify_against(&key(), &rebuilt, &head), Err(Break::Rewritten { seq: 5 }));
        assert_eq!(verify_against(&key(), &[], &Head { seq: 0, hash: GENESIS.into() }), Ok(0));
    }

    #[test]
    fn an_intact_unkeyed_chain_is_rekeyed_and_a_broken_one_is_not() {
        let mut old: Vec<Entry> = Vec::new();
        for i in 0..4 {
            let prev_hash = old.last().map_or(GENESIS.to_string(), |p| p.hash.clone());
            let record = Record { seq: i + 1, ..record(&format!("old {i}")) };
            let hash = unkeyed_hash(&prev_hash, &record);
            old.push(Entry { record, prev_hash, hash });
        }
        assert_eq!(verify(&key(), &old), Err(Break::Edited { seq: 1 }));
        let rekeyed = rekey(&key(), &old).unwrap();
        assert_eq!(verify(&key(), &rekeyed), Ok(4));
        assert_eq!(
            rekeyed.iter().map(|e| &e.record).collect::<Vec<_>>(),
            old.iter().map(|e| &e.record).collect::<Vec<_>>()
        );
        let mut broken = old.clone();
        broken[1].record.actor = "mallory".into();
        assert_eq!(rekey(&key(), &broken), Err(Break::Edited { seq: 2 }));
    }

    #[test]
    fn heads_parse_and_print_as_seq_colon_hash() {
        let head: Head = format!("12:{}", "AB".repeat(32)).parse().unwrap();
        assert_eq!(head, Head { seq: 12, hash: "ab".repeat(32) });
        assert_eq!(head.to_string().parse::<Head>().unwrap(), head);
        for bad in ["12", "x:ab", "12:abc", &format!("-1:{}", "a".repeat(64))] {
            assert!(bad.parse::<Head>().is_err(), "{bad}");
        }
    }
}
