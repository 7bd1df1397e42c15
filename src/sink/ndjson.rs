//! NDJSON: one JSON object per line, written as records arrive.

use std::io::{self, Write};

use serde::Serialize;

pub struct Ndjson<W: Write> {
    w: W,
    /// Flush after every line (live mode: a log shipper sees each request at once).
    flush_each: bool,
}

impl<W: Write> Ndjson<W> {
    pub fn new(w: W, flush_each: bool) -> Ndjson<W> {
        Ndjson { w, flush_each }
    }

    pub fn write<T: Serialize>(&mut self, record: &T) -> io::Result<()> {
        serde_json::to_writer(&mut self.w, record).map_err(io::Error::other)?;
        self.w.write_all(b"\n")?;
        if self.flush_each {
            self.w.flush()?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }

    pub fn get_mut(&mut self) -> &mut W {
        &mut self.w
    }

    pub fn into_inner(self) -> W {
        self.w
    }
}
