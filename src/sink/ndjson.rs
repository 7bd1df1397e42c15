//! NDJSON: one JSON object per line, written as records arrive.

use std::io::{self, Write};

use serde::Serialize;

pub struct Ndjson<W: Write> {
    w: W,
    /// One line, serialized before it is written: write errors keep their kind (a closed
    /// pipe stays `BrokenPipe`), and a line is written whole or not at all.
    line: Vec<u8>,
    /// Flush after every line (live mode: a log shipper sees each request at once).
    flush_each: bool,
}

impl<W: Write> Ndjson<W> {
    pub fn new(w: W, flush_each: bool) -> Ndjson<W> {
        Ndjson { w, line: Vec::with_capacity(1024), flush_each }
    }

    pub fn write<T: Serialize>(&mut self, record: &T) -> io::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, record).map_err(io::Error::other)?;
        self.line.push(b'\n');
        self.w.write_all(&self.line)?;
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
