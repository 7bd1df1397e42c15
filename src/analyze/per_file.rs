//! Several capture files into NDJSON: each record names the file it came from
//! (`"capture": {"file": ...}`), and the records of each file come out in time order.
//!
//! Each file is a capture of its own (analyze ends its connections with the file), so a
//! record belongs to the file being read. The records of the current file wait here and are
//! sorted by time when the file ends; at most [`MAX_BUFFERED`] wait: beyond that the waiting
//! ones are written (sorted) and a new batch begins, so memory stays bounded while order
//! holds within each batch.

use std::io::{self, Write};

use serde::Serialize;

use crate::event::RequestRecord;
use crate::sink::ndjson::Ndjson;

/// Records of one file held for sorting.
pub const MAX_BUFFERED: usize = 100_000;

#[derive(Serialize)]
struct Capture<'a> {
    file: &'a str,
}

/// A request record with the `capture` object appended.
#[derive(Serialize)]
struct WithFile<'a> {
    #[serde(flatten)]
    record: &'a RequestRecord,
    capture: Capture<'a>,
}

#[derive(Default)]
pub struct PerFile {
    file: String,
    /// Boxed as the engine hands them over: sorting moves pointers, not records.
    #[allow(clippy::vec_box)]
    waiting: Vec<Box<RequestRecord>>,
    /// Times a file's records were written in more than one batch.
    pub batches_split: u64,
}

impl PerFile {
    /// The file now being read.
    pub fn begin(&mut self, file: String) {
        self.file = file;
    }

    /// Holds a record of the current file; writes the batch when the bound is reached.
    pub fn push<W: Write>(&mut self, r: Box<RequestRecord>, out: &mut Ndjson<W>) -> io::Result<()> {
        self.waiting.push(r);
        if self.waiting.len() >= MAX_BUFFERED {
            self.batches_split += 1;
            return self.flush(out);
        }
        Ok(())
    }

    /// Writes the waiting records in time order (stable: ties keep completion order).
    pub fn flush<W: Write>(&mut self, out: &mut Ndjson<W>) -> io::Result<()> {
        self.waiting.sort_by_key(|r| r.timestamp.0);
        let mut res = Ok(());
        for r in self.waiting.drain(..) {
            if res.is_ok() {
                res = out.write(&WithFile { record: &r, capture: Capture { file: &self.file } });
            }
        }
        res
    }
}
