//! The `--output FILE` of live mode: appended to, reopened on SIGHUP (logrotate's
//! `postrotate kill -HUP`), and never the reason the monitor stops.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

pub struct LogFile {
    path: PathBuf,
    w: BufWriter<File>,
}

impl LogFile {
    pub fn open(path: &Path) -> io::Result<LogFile> {
        Ok(LogFile { path: path.to_owned(), w: BufWriter::new(Self::append(path)?) })
    }

    fn append(path: &Path) -> io::Result<File> {
        OpenOptions::new().create(true).append(true).open(path)
    }

    /// Flushes what is buffered to the old file and continues in a new one at the same path.
    pub fn reopen(&mut self) -> io::Result<()> {
        let _ = self.w.flush();
        let f = Self::append(&self.path)?;
        self.w = BufWriter::new(f);
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Write for LogFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.w.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}
