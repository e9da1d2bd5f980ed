//! A bound on CSV line length. csv-async grows its record buffer for as long as a record
//! lasts, so a file that is one endless line (or one endless quoted field) would be held
//! whole. [`BoundedCsv`] watches the bytes on their way to the CSV reader with csv-core,
//! the parser csv-async itself is built on and set up the same way, and fails the read
//! once a record is longer than the bound, naming the line it started on.
use super::limits::{kib, LimitExceeded};
use csv_core::ReadRecordResult;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

/// Field ends csv-core may report per call; more are fine, it is called again.
const ENDS: usize = 64;

/// An [`AsyncRead`] that fails with [`LimitExceeded::Line`] (as the error's inner error)
/// once a CSV record is longer than the bound.
pub struct BoundedCsv<R> {
    inner: R,
    records: RecordBounds,
}

impl<R: AsyncRead + Unpin> BoundedCsv<R> {
    pub fn new(inner: R, max_line_kb: u64) -> Self {
        BoundedCsv {
            inner,
            records: RecordBounds::new(max_line_kb),
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for BoundedCsv<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        this.records
            .feed(&buf.filled()[before..])
            .map_err(io::Error::other)?;
        Poll::Ready(Ok(()))
    }
}

/// Where the CSV stands: which record, from which line, how long so far.
struct RecordBounds {
    parser: csv_core::Reader,
    /// Where csv-core copies field contents; one byte more than the bound, so a record
    /// that fills it is over the bound.
    scratch: Vec<u8>,
    scratch_used: usize,
    ends: [usize; ENDS],
    max_bytes: u64,
    max_kb: u64,
    /// Inside a record (its first byte has been seen), not between records.
    in_record: bool,
    record_bytes: u64,
    record_line: u64,
}

impl RecordBounds {
    fn new(max_line_kb: u64) -> Self {
        let max_bytes = kib(max_line_kb);
        RecordBounds {
            parser: csv_core::Reader::new(),
            scratch: vec![0; usize::try_from(max_bytes).unwrap_or(usize::MAX / 2) + 1],
            scratch_used: 0,
            ends: [0; ENDS],
            max_bytes,
            max_kb: max_line_kb,
            in_record: false,
            record_bytes: 0,
            record_line: 1,
        }
    }

    fn too_long(&self) -> LimitExceeded {
        LimitExceeded::Line {
            line: self.record_line,
            limit_kb: self.max_kb,
        }
    }

    fn feed(&mut self, mut input: &[u8]) -> Result<(), LimitExceeded> {
        while !input.is_empty() {
            if !self.in_record {
                // Line breaks between records (blank lines included) belong to no record;
                // the next record starts on the line after them.
                let blank = input
                    .iter()
                    .position(|b| !matches!(b, b'\r' | b'\n'))
                    .unwrap_or(input.len());
                let (breaks, rest) = input.split_at(blank);
                self.step_all(breaks)?;
                input = rest;
                if input.is_empty() {
                    return Ok(());
                }
                self.in_record = true;
                self.record_bytes = 0;
                self.record_line = self.parser.line();
            }
            let (result, consumed) = self.step(input);
            input = &input[consumed..];
            self.record_bytes += consumed as u64;
            match result {
                ReadRecordResult::Record => {
                    // The last byte read was the line break ending the record.
                    if self.record_bytes.saturating_sub(1) > self.max_bytes {
                        return Err(self.too_long());
                    }
                    self.in_record = false;
                    self.scratch_used = 0;
                }
                ReadRecordResult::OutputFull => return Err(self.too_long()),
                _ if self.record_bytes > self.max_bytes => return Err(self.too_long()),
                _ => {}
            }
        }
        Ok(())
    }

    /// Feeds bytes that end no record (line breaks between records).
    fn step_all(&mut self, mut input: &[u8]) -> Result<(), LimitExceeded> {
        while !input.is_empty() {
            let (result, consumed) = self.step(input);
            if matches!(result, ReadRecordResult::OutputFull) {
                return Err(self.too_long());
            }
            input = &input[consumed..];
        }
        Ok(())
    }

    /// One call into csv-core; returns what it found and how many bytes it read.
    fn step(&mut self, input: &[u8]) -> (ReadRecordResult, usize) {
        let (result, consumed, written, _) = self.parser.read_record(
            input,
            &mut self.scratch[self.scratch_used..],
            &mut self.ends,
        );
        self.scratch_used += written;
        (result, consumed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &[u8], max_kb: u64, chunk: usize) -> Result<(), LimitExceeded> {
        let mut bounds = RecordBounds::new(max_kb);
        input.chunks(chunk).try_for_each(|c| bounds.feed(c))
    }

    #[test]
    fn a_line_past_the_bound_is_named_by_the_line_it_starts_on() {
        let mut csv = b"phone,name\n+14155550100,Ann\n\n+14155550101,".to_vec();
        csv.extend(std::iter::repeat_n(b'x', 3000));
        csv.extend(b"\n+14155550102,Cy\n");
        for chunk in [1, 7, 4096, csv.len()] {
            assert_eq!(
                check(&csv, 2, chunk),
                Err(LimitExceeded::Line {
                    line: 4,
                    limit_kb: 2
                }),
                "read {chunk} bytes at a time"
            );
            assert_eq!(check(&csv, 3, chunk), Ok(()));
        }
    }

    #[test]
    fn quoted_line_breaks_keep_the_record_going() {
        // Many short physical lines inside one quoted field: one long record.
        let mut csv = b"phone,notes\r\n+14155550100,\"".to_vec();
        for _ in 0..300 {
            csv.extend(b"a short line\r\n");
        }
        csv.extend(b"\"\r\n");
        assert_eq!(
            check(&csv, 2, 100),
            Err(LimitExceeded::Line {
                line: 2,
                limit_kb: 2
            })
        );
        assert_eq!(check(&csv, 8, 100), Ok(()));
    }

    #[test]
    fn a_stray_quote_inside_a_field_does_not_open_a_quoted_field() {
        // csv-core reads `O"Brien` as text, so the lines after it are records of their own.
        let mut csv = b"phone,name\n+14155550100,O\"Brien\n".to_vec();
        for i in 0..1000 {
            csv.extend(format!("+1415555{i:04},Ann\n").as_bytes());
        }
        assert_eq!(check(&csv, 1, 333), Ok(()));
    }
}
