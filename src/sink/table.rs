//! The summary table as a sink: requests are folded into a [`Summary`], printed at the end
//! (`analyze --format table`).

use std::io::{self, Write};

use super::Sink;
use super::summary::Summary;
use crate::event::{RequestRecord, StatsRecord};

pub struct TableSink<W: Write> {
    summary: Summary,
    out: W,
}

impl<W: Write> TableSink<W> {
    pub fn new(out: W) -> TableSink<W> {
        TableSink { summary: Summary::default(), out }
    }
}

impl<W: Write> Sink for TableSink<W> {
    fn record(&mut self, r: &RequestRecord) -> io::Result<()> {
        self.summary.add(r);
        Ok(())
    }

    fn finish(&mut self, s: &StatsRecord) -> io::Result<()> {
        let incomplete = s.verdict.as_ref().is_some_and(|v| v.incomplete);
        self.out.write_all(self.summary.render_checked(incomplete).as_bytes())?;
        self.out.flush()
    }
}
