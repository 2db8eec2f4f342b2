//! Streaming FOCUS CSV import (plain or gzip, sniffed from the first bytes).
//!
//! The file is read row by row and written in batches inside ONE transaction, so memory
//! stays flat however large the file is, and a bad row anywhere rolls back everything:
//! nothing from a rejected file is stored. Errors carry the CSV line and column.

pub mod limits;
mod tap;

pub use limits::ImportLimits;

use super::IngestError;
use crate::db::{write_transaction, DbConn, DbError};
use crate::domain::focus::{required_columns, CostRecord, RowSource, COLUMNS};
use crate::domain::record_key::SeenKeys;
use crate::ledger::rollups::{self, Sums};
use crate::ledger::rows::CostRow;
use crate::ledger::store::{batch_rows, begin_bulk_load, finish_bulk_load, upsert_costs_in};
use crate::ledger::WriteSummary;
use foldhash::HashMap;
use std::io::{BufRead, BufReader, Read};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportErrorKind {
    /// The bytes are not a readable CSV (or gzip) stream.
    Malformed,
    /// The CSV is readable but a header or value is invalid.
    Invalid,
    /// The body passed the configured size limit.
    TooLarge,
    /// Storage failed; the import was rolled back.
    Storage,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default(), column.as_ref().map(|c| format!("column {c}: ")).unwrap_or_default())]
pub struct ImportError {
    pub kind: ImportErrorKind,
    pub line: Option<u64>,
    pub column: Option<String>,
    pub message: String,
}

impl ImportError {
    fn line_too_long(line: u64, limits: &ImportLimits) -> Self {
        ImportError::at(ImportErrorKind::Invalid, Some(line), None, limits::Passed::Record(limits.max_record_bytes))
    }

    fn at(kind: ImportErrorKind, line: Option<u64>, column: Option<&str>, message: impl ToString) -> Self {
        ImportError { kind, line, column: column.map(str::to_string), message: message.to_string() }
    }
}

impl From<diesel::result::Error> for ImportError {
    fn from(e: diesel::result::Error) -> Self {
        ImportError::at(ImportErrorKind::Storage, None, None, e)
    }
}

impl From<DbError> for ImportError {
    fn from(e: DbError) -> Self {
        ImportError::at(ImportErrorKind::Storage, None, None, e)
    }
}

impl From<IngestError> for ImportError {
    fn from(e: IngestError) -> Self {
        ImportError::at(ImportErrorKind::Storage, None, None, e)
    }
}

/// Marks the io::Error a size-limited reader returns, so it maps to 413.
#[derive(Debug, thiserror::Error)]
#[error("the import is larger than the configured limit of {0} bytes")]
pub struct TooLarge(pub u64);

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub rows: u64,
    pub summary: WriteSummary,
}

/// Opens `input` as CSV, decompressing when it starts with the gzip magic bytes.
pub fn decoded<R: Read + Send + 'static>(input: R) -> std::io::Result<Box<dyn Read + Send>> {
    let mut buffered = BufReader::with_capacity(256 * 1024, input);
    let gzip = buffered.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    Ok(if gzip { Box::new(flate2::read::MultiGzDecoder::new(buffered)) } else { Box::new(buffered) })
}

/// A row as column name -> cell, over the header's positions.
struct CsvRow<'a> {
    positions: &'a HashMap<&'static str, usize>,
    record: &'a csv::StringRecord,
}

impl RowSource for CsvRow<'_> {
    fn value(&self, column: &str) -> Option<&str> {
        self.positions.get(column).and_then(|i| self.record.get(*i))
    }
}

/// `line`: where the record that failed starts.
fn read_error(e: csv::Error, line: u64) -> ImportError {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => {
            if let Some(limit) = io.get_ref().and_then(|inner| inner.downcast_ref::<TooLarge>()) {
                return ImportError::at(ImportErrorKind::TooLarge, Some(line), None, limit);
            }
            match io.get_ref().and_then(|inner| inner.downcast_ref::<limits::Passed>()) {
                Some(passed @ limits::Passed::Decompressed(_)) => {
                    return ImportError::at(ImportErrorKind::TooLarge, Some(line), None, passed)
                }
                Some(passed @ limits::Passed::Record(_)) => {
                    return ImportError::at(ImportErrorKind::Invalid, Some(line), None, passed)
                }
                None => {}
            }
            let what = match io.kind() {
                std::io::ErrorKind::UnexpectedEof => "the gzip stream is truncated".to_string(),
                std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData => {
                    format!("the gzip stream is corrupt ({io})")
                }
                _ => format!("reading failed ({io})"),
            };
            ImportError::at(ImportErrorKind::Malformed, Some(line), None, what)
        }
        csv::ErrorKind::Utf8 { err, .. } => ImportError::at(
            ImportErrorKind::Malformed,
            Some(line),
            None,
            format!("not UTF-8 text (field {})", err.field() + 1),
        ),
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => ImportError::at(
            ImportErrorKind::Malformed,
            Some(line),
            None,
            format!("{len} fields where the header has {expected_len}"),
        ),
        other => ImportError::at(ImportErrorKind::Malformed, Some(line), None, format!("{other:?}")),
    }
}

/// Maps FOCUS column names to their positions. Refuses an empty file, a FOCUS column named
/// twice (a later copy would silently win), two that differ only in case (one of them is not
/// the column it looks like), and a header missing a required column.
fn header_positions(headers: &csv::StringRecord) -> Result<HashMap<&'static str, usize>, ImportError> {
    let header_error = |message: String| ImportError::at(ImportErrorKind::Invalid, Some(1), None, message);
    if headers.iter().all(|name| name.trim_start_matches('\u{feff}').trim().is_empty()) {
        return Err(ImportError::at(ImportErrorKind::Invalid, None, None, "the file is empty: no header row"));
    }
    let mut positions = HashMap::default();
    let mut seen: HashMap<String, (usize, &str)> = HashMap::default();
    for (i, raw) in headers.iter().enumerate() {
        let name = raw.trim_start_matches('\u{feff}').trim();
        // Only names that read as a FOCUS column matter; other columns are ignored anyway.
        if !COLUMNS.iter().any(|c| c.name.eq_ignore_ascii_case(name)) {
            continue;
        }
        if let Some((first, first_raw)) = seen.insert(name.to_ascii_lowercase(), (i, raw)) {
            let what = if first_raw.trim_start_matches('\u{feff}').trim() == name {
                format!("column {name} appears twice, at positions {} and {}", first + 1, i + 1)
            } else {
                format!("columns '{first_raw}' and '{raw}' (positions {} and {}) differ only in case", first + 1, i + 1)
            };
            return Err(header_error(what));
        }
        if let Some(column) = COLUMNS.iter().find(|c| c.name == name) {
            positions.insert(column.name, i);
        }
    }
    if let Some(missing) = required_columns().find(|c| !positions.contains_key(c)) {
        return Err(ImportError::at(
            ImportErrorKind::Invalid,
            Some(1),
            Some(missing),
            "required column is missing from the header",
        ));
    }
    Ok(positions)
}

/// Imports a whole CSV stream in one transaction on `conn`. `progress` is called with the
/// rows written so far after every batch.
///
/// Two threads share the work: a parser thread reads, validates and fingerprints rows into
/// batches, while this thread writes them, so parsing and SQLite/PostgreSQL run side by
/// side. The channel between them holds two batches, which bounds memory. Written batches go
/// back to the parser, which drops their rows and refills the vector: rows freed on the
/// thread that allocated them cost the allocator a fraction of a cross-thread free.
pub fn import(
    conn: &mut DbConn,
    input: Box<dyn Read + Send>,
    source: &str,
    limits: ImportLimits,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportReport, ImportError> {
    let (input, lines) = tap::tap(input, limits);
    let mut reader =
        csv::ReaderBuilder::new().has_headers(true).flexible(false).buffer_capacity(tap::CSV_BUFFER).from_reader(input);
    let headers = reader.headers().map_err(|e| read_error(e, 1))?.clone();
    let (_, header_bytes) = lines.record_read(reader.position(), headers.as_byte_record().as_slice());
    if header_bytes > limits.max_record_bytes {
        return Err(ImportError::line_too_long(1, &limits));
    }
    let positions = header_positions(&headers)?;
    let (sender, batches) = std::sync::mpsc::sync_channel(2);
    let (give_back, written_batches) = std::sync::mpsc::sync_channel(2);
    let parser = Parser {
        reader,
        lines,
        positions,
        headers,
        limits,
        source: source.to_string(),
        batch_size: batch_rows(conn.backend()),
    };
    let parser = std::thread::Builder::new()
        .name("focus-csv-parser".into())
        .spawn(move || parser.parse_batches(&sender, &written_batches))
        .map_err(|e| ImportError::at(ImportErrorKind::Storage, None, None, format!("cannot start the parser: {e}")))?;
    let written = with_import_cache(conn, |conn| {
        write_transaction(conn, |conn| {
            let mut report = ImportReport::default();
            let load = begin_bulk_load(conn)?;
            loop {
                // Only the parser's explicit end commits: a channel that closes
                // without it means the parser died, and the import must roll back.
                let batch = batches.recv().map_err(|_| {
                    ImportError::at(ImportErrorKind::Storage, None, None, "the CSV parser stopped unexpectedly")
                })??;
                match batch {
                    Parsed::Batch(batch) => {
                        report.rows += batch.len() as u64;
                        report.summary.merge(upsert_costs_in(conn, &batch, load)?);
                        progress(report.rows);
                        // Full (the parser is behind) or gone: drop it here then.
                        let _ = give_back.try_send(batch);
                    }
                    Parsed::End(sums) => {
                        finish_bulk_load(conn, load)?;
                        // Into an empty ledger the parser's sums are the rollups.
                        if load.is_fresh() {
                            sums.store_as_rollups(conn)?;
                        } else {
                            rollups::refresh(conn, &report.summary.touched)?;
                        }
                        return Ok(report);
                    }
                }
            }
        })
    });
    // If writing failed the receiver is gone and the parser stops at its next send.
    drop(batches);
    let _ = parser.join();
    written
}

/// What the parser sends: batches, then the end with the rollups of every row, or the first
/// error instead.
enum Parsed {
    Batch(Vec<CostRow>),
    End(Box<Sums>),
}

type ParsedBatch = Result<Parsed, ImportError>;

/// The parser thread's state: the reader, the header, and what every row is checked against.
struct Parser {
    reader: csv::Reader<tap::Tap<Box<dyn Read + Send>>>,
    lines: tap::Lines,
    positions: HashMap<&'static str, usize>,
    headers: csv::StringRecord,
    limits: ImportLimits,
    source: String,
    batch_size: usize,
}

impl Parser {
    /// Reads rows into validated batches, sending the first error instead.
    fn parse_batches(
        mut self,
        sender: &std::sync::mpsc::SyncSender<ParsedBatch>,
        written: &std::sync::mpsc::Receiver<Vec<CostRow>>,
    ) {
        let batch_size = self.batch_size;
        let next_batch = || match written.try_recv() {
            Ok(mut old) => {
                old.clear();
                old
            }
            Err(_) => Vec::with_capacity(batch_size),
        };
        let now = crate::db::types::UtcTime::from(chrono::Utc::now());
        let mut seen = SeenKeys::default();
        let mut batch = next_batch();
        // The record's buffers, handed back and forth so that no row allocates them anew.
        let mut raw = Some(csv::ByteRecord::new());
        let mut sums = Sums::default();
        loop {
            let row = match self.read_record(raw.take().unwrap_or_default()) {
                Ok(None) => break,
                Ok(Some((record, line))) => {
                    let row = self
                        .parse_row(&record, line, &mut seen)
                        .map(|(parsed, key)| CostRow::new(parsed, key, &self.source, now.clone()));
                    raw = Some(record.into_byte_record());
                    row
                }
                Err(e) => Err(e),
            };
            match row {
                Ok(row) => {
                    sums.add(&row);
                    batch.push(row);
                }
                Err(e) => {
                    let _ = sender.send(Err(e));
                    return;
                }
            }
            if batch.len() == batch_size
                && sender.send(Ok(Parsed::Batch(std::mem::replace(&mut batch, next_batch())))).is_err()
            {
                return;
            }
        }
        if !batch.is_empty() && sender.send(Ok(Parsed::Batch(batch))).is_err() {
            return;
        }
        let _ = sender.send(Ok(Parsed::End(Box::new(sums))));
    }

    /// The next record as text with the line it starts on, or None at the end. Reads bytes
    /// and checks UTF-8 itself (as the csv crate would, without a copy), so that even a
    /// record that is not text has its exact line.
    fn read_record(&mut self, mut raw: csv::ByteRecord) -> Result<Option<(csv::StringRecord, u64)>, ImportError> {
        let read = self.reader.read_byte_record(&mut raw);
        let (line, length) = self.lines.record_read(self.reader.position(), raw.as_slice());
        match read {
            Ok(false) => return Ok(None),
            Ok(true) => {}
            Err(e) => return Err(read_error(e, line)),
        }
        if length > self.limits.max_record_bytes {
            return Err(ImportError::line_too_long(line, &self.limits));
        }
        if let Some(i) = raw.iter().position(|field| field.len() as u64 > self.limits.max_field_bytes) {
            let message =
                format!("the value is longer than import.max_field_bytes = {} bytes", self.limits.max_field_bytes);
            return Err(ImportError::at(ImportErrorKind::Invalid, Some(line), self.headers.get(i), message));
        }
        match csv::StringRecord::from_byte_record(raw) {
            Ok(record) => Ok(Some((record, line))),
            Err(e) => {
                let field = e.utf8_error().field() + 1;
                let message = format!("not UTF-8 text (field {field})");
                Err(ImportError::at(ImportErrorKind::Malformed, Some(line), None, message))
            }
        }
    }

    fn parse_row(
        &self,
        record: &csv::StringRecord,
        line: u64,
        seen: &mut SeenKeys,
    ) -> Result<(CostRecord, crate::domain::record_key::RecordKey), ImportError> {
        let parsed = CostRecord::parse(&CsvRow { positions: &self.positions, record })
            .map_err(|e| ImportError::at(ImportErrorKind::Invalid, Some(line), Some(e.column), e.problem))?;
        let key = parsed.key();
        seen.check(&key, line).map_err(|first| {
            let message = format!(
                "repeats the identity of line {first} (same provider, account, period, service, SKU, resource and tags)"
            );
            ImportError::at(ImportErrorKind::Invalid, Some(line), None, message)
        })?;
        Ok((parsed, key))
    }
}

/// SQLite's default 2 MB page cache makes a large import spill pages and re-read index
/// pages over and over; 32 MB for the import's connection (set back afterwards) holds the
/// identity index of a million rows and keeps peak memory well under 200 MB (64 MB was no
/// faster and cost 45 MB more). Each multi-row INSERT inside the transaction keeps a
/// statement journal (to undo just that statement on a constraint error); in memory rather
/// than in a temporary file, it costs a copy instead of a write per page.
fn with_import_cache<T>(
    conn: &mut DbConn,
    work: impl FnOnce(&mut DbConn) -> Result<T, ImportError>,
) -> Result<T, ImportError> {
    use diesel::connection::SimpleConnection;
    if conn.backend() != crate::db::Backend::Sqlite {
        return work(conn);
    }
    conn.batch_execute("PRAGMA cache_size = -32768; PRAGMA temp_store = MEMORY;")?;
    let result = work(conn);
    // The import's own error, if any, is the one worth reporting.
    let reset = conn.batch_execute("PRAGMA cache_size = -2000; PRAGMA temp_store = DEFAULT;");
    let value = result?;
    reset?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_check_names_the_missing_column() {
        let headers = csv::StringRecord::from(vec!["\u{feff}BilledCost", "ProviderName"]);
        let err = header_positions(&headers).unwrap_err();
        assert_eq!(err.line, Some(1));
        assert_eq!(err.column.as_deref(), Some("BillingAccountId"));
    }

    #[test]
    fn gzip_is_sniffed() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"a,b\n1,2\n").unwrap();
        let gz = enc.finish().unwrap();
        let mut out = String::new();
        decoded(std::io::Cursor::new(gz)).unwrap().read_to_string(&mut out).unwrap();
        assert_eq!(out, "a,b\n1,2\n");
        let mut plain = String::new();
        decoded(std::io::Cursor::new(b"x\n".to_vec())).unwrap().read_to_string(&mut plain).unwrap();
        assert_eq!(plain, "x\n");
    }
}
