//! Several capture files: each record names the file it came from (`"capture": {"file": ...}`),
//! and the records of each file come out in time order.
//!
//! Each file is a capture of its own (analyze ends its connections with the file), so a
//! record belongs to the file being read. The records of the current file wait here and are
//! sorted by time when the file ends; at most [`MAX_BUFFERED`] wait: beyond that the waiting
//! ones are written (sorted) and a new batch begins, so memory stays bounded while order
//! holds within each batch.

use std::sync::Arc;

use crate::event::{CaptureFile, RequestRecord};
use crate::sink::{Driver, Sink};

/// Records of one file held for sorting.
pub const MAX_BUFFERED: usize = 100_000;

#[derive(Default)]
pub struct PerFile {
    file: Arc<str>,
    /// Boxed as the engine hands them over: sorting moves pointers, not records.
    #[allow(clippy::vec_box)]
    waiting: Vec<Box<RequestRecord>>,
    /// Times a file's records were written in more than one batch.
    pub batches_split: u64,
}

impl PerFile {
    /// The file now being read.
    pub fn begin(&mut self, file: String) {
        self.file = file.into();
    }

    /// Holds a record of the current file; writes the batch when the bound is reached.
    pub fn push<S: Sink>(&mut self, mut r: Box<RequestRecord>, driver: &mut Driver<S>) {
        r.capture = Some(CaptureFile { file: self.file.clone() });
        self.waiting.push(r);
        if self.waiting.len() >= MAX_BUFFERED {
            self.batches_split += 1;
            self.flush(driver);
        }
    }

    /// Writes the waiting records in time order (stable: ties keep completion order).
    pub fn flush<S: Sink>(&mut self, driver: &mut Driver<S>) {
        self.waiting.sort_by_key(|r| r.timestamp.0);
        for r in self.waiting.drain(..) {
            driver.record(&r);
        }
    }
}
