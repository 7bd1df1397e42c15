//! The `--output FILE` of live mode: appended to, reopened on SIGHUP (logrotate's
//! `postrotate kill -HUP`), and never the reason the monitor stops. The caller also checks
//! [`LogFile::path_state`] now and then: a file deleted or moved away without a SIGHUP would
//! otherwise swallow every line that follows.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Whether the path still names the file being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathState {
    Same,
    /// The path names another file or none, and the open file still has a name (rotated):
    /// what was written is in the moved file.
    Moved,
    /// The open file has no name left: what was written since is lost.
    Deleted,
}

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

    /// Compares the open file with what the path names now.
    pub fn path_state(&self) -> PathState {
        let Ok(open) = self.w.get_ref().metadata() else { return PathState::Same };
        if open.nlink() == 0 {
            return PathState::Deleted;
        }
        match std::fs::metadata(&self.path) {
            Ok(m) if m.dev() == open.dev() && m.ino() == open.ino() => PathState::Same,
            _ => PathState::Moved,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deleted_and_moved_files_are_told_apart_and_reopened() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("imds.ndjson");
        let mut f = LogFile::open(&path).expect("open");
        assert_eq!(f.path_state(), PathState::Same);

        std::fs::rename(&path, dir.path().join("imds.ndjson.1")).expect("rotate");
        assert_eq!(f.path_state(), PathState::Moved);
        f.reopen().expect("reopen");
        assert_eq!(f.path_state(), PathState::Same);

        std::fs::remove_file(&path).expect("delete");
        assert_eq!(f.path_state(), PathState::Deleted);
        f.reopen().expect("reopen");
        writeln!(f, "after").expect("write");
        f.flush().expect("flush");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "after\n");
    }
}
