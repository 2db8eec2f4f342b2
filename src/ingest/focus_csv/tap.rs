//! Between the decompressed stream and the csv reader: the import's limits on size, enforced
//! as bytes arrive, and physical line numbers for errors, as `grep -n` counts them.
//!
//! The csv crate marks a record with where its reading began, which in a CRLF file sits
//! before the `\n` that ends the previous line (and before any blank lines it skips), so every
//! line of a CRLF file (Python's csv module writes those) came out one too low. Where a record
//! *ends* is exact: the reader's position after it counts every `\n` consumed, and the last
//! byte consumed says whether its terminator's `\n` is among them. [`Tap`] keeps the most
//! recent bytes of the stream so that byte can be looked up.

use super::limits::{ImportLimits, Passed};
use std::io::Read;
use std::sync::{Arc, Mutex};

/// The csv reader's own buffer; the tap remembers twice as much, so the byte just before the
/// reader's position is always still there.
pub const CSV_BUFFER: usize = 64 * 1024;
const REMEMBERED: usize = 2 * CSV_BUFFER;

struct Recent {
    ring: Box<[u8]>,
    /// Bytes read through the tap so far.
    total: u64,
    /// Where the record being read began (the end of the last one).
    record_start: u64,
}

/// The reading side, handed to the csv reader.
pub struct Tap<R> {
    inner: R,
    recent: Arc<Mutex<Recent>>,
    limits: ImportLimits,
}

/// The looking-up side, kept by the parser.
#[derive(Clone)]
pub struct Lines {
    recent: Arc<Mutex<Recent>>,
}

/// Wraps `inner`; give the [`Tap`] to the csv reader (with a buffer of [`CSV_BUFFER`]).
pub fn tap<R: Read>(inner: R, limits: ImportLimits) -> (Tap<R>, Lines) {
    let ring = vec![0; REMEMBERED].into_boxed_slice();
    let recent = Arc::new(Mutex::new(Recent { ring, total: 0, record_start: 0 }));
    (Tap { inner, recent: recent.clone(), limits }, Lines { recent })
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut recent = self.recent.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let keep = &buf[n.saturating_sub(REMEMBERED)..n];
        let at = ((recent.total + (n - keep.len()) as u64) % REMEMBERED as u64) as usize;
        let (to_end, wrapped) = keep.split_at(keep.len().min(REMEMBERED - at));
        recent.ring[at..at + to_end.len()].copy_from_slice(to_end);
        recent.ring[..wrapped.len()].copy_from_slice(wrapped);
        recent.total += n as u64;
        if recent.total > self.limits.max_decompressed_bytes {
            return Err(std::io::Error::other(Passed::Decompressed(self.limits.max_decompressed_bytes)));
        }
        // The csv reader holds at most its buffer beyond the record it is reading, so past
        // this the record itself is too long, and reading on would only grow it in memory.
        if recent.total - recent.record_start > self.limits.max_record_bytes + CSV_BUFFER as u64 {
            return Err(std::io::Error::other(Passed::Record(self.limits.max_record_bytes)));
        }
        Ok(n)
    }
}

impl Lines {
    fn byte_at(&self, offset: u64) -> Option<u8> {
        // The csv reader's position trails the bytes read by at most its buffer.
        let recent = self.recent.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let remembered = recent.total.saturating_sub(REMEMBERED as u64)..recent.total;
        remembered.contains(&offset).then(|| recent.ring[(offset % REMEMBERED as u64) as usize])
    }

    /// Call after each record (or a failed read): `end` is the reader's position after it,
    /// `fields` its bytes (newlines inside quoted fields move the start up). Returns the line
    /// on which the record starts, and its length in bytes.
    pub fn record_read(&self, end: &csv::Position, fields: &[u8]) -> (u64, u64) {
        let last = end.byte().checked_sub(1).and_then(|at| self.byte_at(at));
        let end_line = end.line() - u64::from(last == Some(b'\n'));
        let inside = fields.iter().filter(|&&b| b == b'\n').count() as u64;
        let mut recent = self.recent.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let length = end.byte().saturating_sub(recent.record_start);
        recent.record_start = end.byte();
        (end_line.saturating_sub(inside).max(1), length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line of every record, read as the importer reads.
    fn record_lines(data: &str) -> Vec<u64> {
        let (input, lines) = tap(data.as_bytes(), ImportLimits::default());
        let mut reader = csv::ReaderBuilder::new().buffer_capacity(CSV_BUFFER).from_reader(input);
        let mut record = csv::ByteRecord::new();
        let mut found = Vec::new();
        while reader.read_byte_record(&mut record).unwrap() {
            found.push(lines.record_read(reader.position(), record.as_slice()).0);
        }
        found
    }

    #[test]
    fn lines_are_physical_whatever_the_terminator() {
        assert_eq!(record_lines("a,b\nx,y\nz,w\n"), [2, 3]);
        assert_eq!(record_lines("a,b\r\nx,y\r\nz,w\r\n"), [2, 3]);
        assert_eq!(record_lines("a,b\r\nx,y\r\nz,w"), [2, 3]);
        assert_eq!(record_lines("a,b\nx,y\nz,w"), [2, 3]);
    }

    #[test]
    fn blank_lines_and_quoted_newlines_are_counted() {
        assert_eq!(record_lines("a,b\nx,y\n\nz,w\n"), [2, 4]);
        assert_eq!(record_lines("a,b\r\n\r\nx,y\r\n"), [3]);
        assert_eq!(record_lines("a,b\n\"x\ny\",1\nz,w\n"), [2, 4]);
        assert_eq!(record_lines("a,b\r\n\"x\r\ny\",1\r\nz,w\r\n"), [2, 4]);
    }

    #[test]
    fn lines_stay_right_past_the_remembered_window() {
        let long = "v".repeat(3 * CSV_BUFFER);
        let data = format!("a,b\n{long},1\nx,y\r\nz,w\n");
        assert_eq!(record_lines(&data), [2, 3, 4]);
        let many: String = (0..50_000).map(|i| format!("{i},{i}\r\n")).collect();
        let lines = record_lines(&format!("a,b\r\n{many}"));
        assert_eq!(lines.len(), 50_000);
        assert!(lines.iter().enumerate().all(|(i, &l)| l == i as u64 + 2));
    }

    #[test]
    fn a_record_past_the_limit_stops_the_stream_with_bounded_memory() {
        let limits = ImportLimits { max_record_bytes: 4096, ..Default::default() };
        let zeros = std::io::repeat(0).take(1 << 30);
        let (input, _lines) = tap(zeros, limits);
        let mut reader = csv::ReaderBuilder::new().buffer_capacity(CSV_BUFFER).has_headers(false).from_reader(input);
        let mut record = csv::ByteRecord::new();
        let err = reader.read_byte_record(&mut record).unwrap_err();
        assert!(err.to_string().contains("import.max_record_bytes = 4096"), "{err}");
        assert!(record.as_slice().len() < 4096 + 2 * CSV_BUFFER, "held {} bytes", record.as_slice().len());
    }

    #[test]
    fn a_stream_past_the_decompressed_limit_stops() {
        let limits = ImportLimits { max_decompressed_bytes: 100_000, ..Default::default() };
        let lines: String = (0..20_000).map(|i| format!("{i},x\n")).collect();
        let (input, _lines) = tap(lines.as_bytes(), limits);
        let mut reader = csv::ReaderBuilder::new().buffer_capacity(CSV_BUFFER).from_reader(input);
        let err = reader.byte_records().find_map(Result::err).expect("stopped");
        assert!(err.to_string().contains("import.max_decompressed_bytes = 100000"), "{err}");
    }
}
