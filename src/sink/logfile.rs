//! The `--output FILE` of live mode: appended to, reopened on SIGHUP (logrotate's
//! `postrotate kill -HUP`), and never the reason the monitor stops. The caller also checks
//! [`LogFile::path_state`] now and then: a file deleted or moved away without a SIGHUP would
//! otherwise swallow every line that follows.
//!
//! The monitor runs as root and its lines carry text a client chose, so every open and
//! reopen goes through [`open_log_file`]: a symbolic link among the folders is followed only
//! when only root (or the monitor's user) could have made it: owned by one of them, in a
//! folder that no group and no other user can write (`/var/run` → `/run` is followed,
//! `dir/link/imds.ndjson` with `dir` writable by others is refused); the last path component
//! is never followed if it is a symbolic link (`O_NOFOLLOW`), the descriptor is not inherited (`O_CLOEXEC`), a new file
//! is created with mode 0600, and the opened file must be a regular file owned by the
//! monitor's effective user with a single link (a hard link planted to another file is
//! refused). A character device (`/dev/null`, `/dev/full`) is also accepted: only root can
//! make one, and appending to it changes no file. A refused reopen keeps the monitor running:
//! the caller reports it once and counts it.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// Mode of a log file the monitor creates: read and written by its owner only.
pub const LOG_MODE: u32 = 0o600;

/// Opens `path` for appending under the rules above. A refusal is an error of kind
/// `PermissionDenied` whose message says why ("is a symbolic link", ...).
pub fn open_log_file(path: &Path) -> io::Result<File> {
    let euid = rustix::process::geteuid().as_raw();
    let (Some(name), Some(parent)) = (path.file_name(), path.parent()) else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a file path"));
    };
    let dir = open_folder(parent, euid)?;
    let flags = OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let f = match rustix::fs::openat(&dir, name, flags, Mode::from_raw_mode(LOG_MODE)) {
        Ok(fd) => File::from(fd),
        Err(Errno::LOOP) => return Err(refused("is a symbolic link")),
        Err(e) => return Err(e.into()),
    };
    check_opened(&f.metadata()?, euid)?;
    Ok(f)
}

/// A folder is trusted when only root or the monitor's user can change what is in it: owned
/// by one of them, writable by no group and no other user.
fn trusted(m: &std::fs::Metadata, euid: u32) -> bool {
    (m.uid() == 0 || m.uid() == euid) && m.mode() & 0o022 == 0
}

/// Opens the folder of a log file, following a symbolic link among its components only when
/// the link is owned by root or the monitor's user and lies in a trusted folder (as
/// `/var/run` → `/run`): a link that someone else could have planted (`-o dir/link/file`
/// with `dir` writable by others) is refused. The folder found is then opened with
/// `openat2(RESOLVE_NO_SYMLINKS)` on its resolved path, so a link swapped in after the check
/// is refused too (kernels without `openat2`: plain `O_DIRECTORY` open of the resolved path).
fn open_folder(parent: &Path, euid: u32) -> io::Result<OwnedFd> {
    let start = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
    let abs = if start.is_absolute() { start.to_path_buf() } else { std::env::current_dir()?.join(start) };
    let mut real = PathBuf::from("/");
    for c in abs.components() {
        let name = match c {
            Component::Normal(n) => n,
            Component::ParentDir => {
                real.pop();
                continue;
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => continue,
        };
        let cand = real.join(name);
        let m = std::fs::symlink_metadata(&cand)?;
        if m.file_type().is_symlink() {
            let holder = std::fs::metadata(&real)?;
            if !(trusted(&holder, euid) && (m.uid() == 0 || m.uid() == euid)) {
                return Err(refused(&format!(
                    "folder {} is a symbolic link in a folder others can write",
                    crate::text::safe_path(&cand)
                )));
            }
            real = std::fs::canonicalize(&cand)?;
        } else {
            real = cand;
        }
    }
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    match rustix::fs::openat2(rustix::fs::CWD, &real, flags, Mode::empty(), ResolveFlags::NO_SYMLINKS) {
        Ok(fd) => Ok(fd),
        Err(Errno::NOSYS) => Ok(rustix::fs::open(&real, flags, Mode::empty())?),
        Err(Errno::LOOP) => Err(refused(&format!("a folder of {} changed into a symbolic link", real.display()))),
        Err(e) => Err(e.into()),
    }
}

/// The fstat check on an opened log file.
fn check_opened(m: &std::fs::Metadata, euid: u32) -> io::Result<()> {
    let ft = m.file_type();
    if ft.is_char_device() {
        return Ok(());
    }
    if !ft.is_file() {
        return Err(refused("is not a regular file"));
    }
    if m.uid() != euid {
        return Err(refused(&format!("is owned by uid {}, not by the monitor's uid {euid}", m.uid())));
    }
    if m.nlink() != 1 {
        return Err(refused(&format!("has {} hard links (another name points at it)", m.nlink())));
    }
    Ok(())
}

fn refused(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, format!("refused: {why}"))
}

/// Whether an error of [`open_log_file`] is a refusal (as opposed to a missing directory,
/// a full disk...).
pub fn is_refusal(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::PermissionDenied && e.to_string().starts_with("refused: ")
}

/// Whether the path still names the file being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathState {
    Same,
    /// The path names another file or none, and the open file still has a name (rotated):
    /// what was written is in the moved file.
    Moved,
    /// The open file has no name left: what was written since is lost.
    Deleted,
    /// No file is open (a reopen was refused after a deletion): lines are lost and counted.
    Closed,
}

/// A failed reopen; `first` is set for the first failure since the last success, so that
/// the caller reports and counts an episode once rather than once a second.
#[derive(Debug)]
pub struct ReopenError {
    pub error: io::Error,
    pub first: bool,
}

pub struct LogFile {
    path: PathBuf,
    w: Option<BufWriter<File>>,
    failing: bool,
}

impl LogFile {
    pub fn open(path: &Path) -> io::Result<LogFile> {
        Ok(LogFile { path: path.to_owned(), w: Some(BufWriter::new(open_log_file(path)?)), failing: false })
    }

    /// A log whose file could not be opened (refused at start): nothing is open, writes fail
    /// and are counted, and the caller's reopen each second opens it once it is acceptable.
    pub fn closed(path: &Path) -> LogFile {
        LogFile { path: path.to_owned(), w: None, failing: false }
    }

    /// Flushes what is buffered to the old file and continues in a new one at the same path.
    /// On failure the old file (if any) stays the one written to.
    pub fn reopen(&mut self) -> Result<(), ReopenError> {
        if let Some(w) = &mut self.w {
            let _ = w.flush();
        }
        match open_log_file(&self.path) {
            Ok(f) => {
                self.w = Some(BufWriter::new(f));
                self.failing = false;
                Ok(())
            }
            Err(error) => {
                let first = !self.failing;
                self.failing = true;
                Err(ReopenError { error, first })
            }
        }
    }

    /// Stops writing to the open file (deleted, and no new one could be opened): further
    /// writes fail, so that the caller counts them, instead of filling an unnamed file.
    pub fn close(&mut self) {
        if let Some(mut w) = self.w.take() {
            let _ = w.flush();
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Compares the open file with what the path names now.
    pub fn path_state(&self) -> PathState {
        let Some(w) = &self.w else { return PathState::Closed };
        let Ok(open) = w.get_ref().metadata() else { return PathState::Same };
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
        match &mut self.w {
            Some(w) => w.write(buf),
            None => Err(io::Error::other("no output file is open (its reopen was refused)")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.w {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

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

    #[test]
    fn a_new_log_file_is_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("new.ndjson");
        drop(open_log_file(&path).expect("open"));
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, LOG_MODE);
    }

    #[test]
    fn symlinks_and_hard_links_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("target");
        std::fs::write(&target, "precious\n").expect("target");
        let link = dir.path().join("imds.ndjson");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        let e = open_log_file(&link).expect_err("a symlink is followed");
        assert!(is_refusal(&e) && e.to_string().contains("symbolic link"), "{e}");
        std::fs::remove_file(&link).expect("unlink");
        std::fs::hard_link(&target, &link).expect("hard link");
        let e = open_log_file(&link).expect_err("a hard link is accepted");
        assert!(is_refusal(&e) && e.to_string().contains("hard links"), "{e}");
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "precious\n");
        let e = open_log_file(dir.path()).expect_err("a directory");
        assert!(!is_refusal(&e) || e.to_string().contains("regular"), "{e}");
    }

    /// Issue 23, class 7: `-o dir/link/imds.ndjson` followed a symlinked folder (only a final
    /// symlink was refused). A folder link is followed only where no one else could have
    /// planted it.
    #[test]
    fn symlinked_folders_are_followed_only_from_trusted_folders() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let elsewhere = d.join("elsewhere");
        std::fs::create_dir(&elsewhere).expect("mkdir");
        // A folder everyone can write, holding a link to `elsewhere`.
        let shared = d.join("shared");
        std::fs::create_dir(&shared).expect("mkdir");
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        std::os::unix::fs::symlink(&elsewhere, shared.join("link")).expect("symlink");
        let e = open_log_file(&shared.join("link/imds.ndjson")).expect_err("followed a planted folder link");
        assert!(is_refusal(&e) && e.to_string().contains("symbolic link"), "{e}");
        let e = open_log_file(&shared.join("link/../link/imds.ndjson")).expect_err("again, spelt otherwise");
        assert!(is_refusal(&e), "{e}");
        assert!(!elsewhere.join("imds.ndjson").exists(), "nothing created through the link");
        // A folder owned by another user (as root only: chown).
        let euid = rustix::process::geteuid().as_raw();
        if euid == 0 {
            let theirs = d.join("theirs");
            std::fs::create_dir(&theirs).expect("mkdir");
            std::os::unix::fs::symlink(&elsewhere, theirs.join("link")).expect("symlink");
            std::os::unix::fs::chown(&theirs, Some(65534), None).expect("chown");
            let e = open_log_file(&theirs.join("link/imds.ndjson")).expect_err("another user's folder");
            assert!(is_refusal(&e), "{e}");
            // A link owned by another user in a trusted folder.
            std::os::unix::fs::symlink(&elsewhere, d.join("their-link")).expect("symlink");
            std::os::unix::fs::lchown(d.join("their-link"), Some(65534), None).expect("lchown");
            let e = open_log_file(&d.join("their-link/imds.ndjson")).expect_err("another user's link");
            assert!(is_refusal(&e), "{e}");
        }
        // A link only the monitor's user could make (a trusted folder, its own link): followed.
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::os::unix::fs::symlink(&elsewhere, d.join("mine")).expect("symlink");
        let mut f = open_log_file(&d.join("mine/imds.ndjson")).expect("a trusted link");
        writeln!(f, "x").expect("write");
        assert_eq!(std::fs::read_to_string(elsewhere.join("imds.ndjson")).expect("read"), "x\n");
        // A missing folder stays a plain error, not a refusal.
        let e = open_log_file(&d.join("missing/imds.ndjson")).expect_err("missing");
        assert!(!is_refusal(&e) && e.kind() == io::ErrorKind::NotFound, "{e}");
        // A relative path works as before.
        assert!(open_folder(Path::new(""), euid).is_ok());
    }

    #[test]
    fn the_owner_and_type_checks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        std::fs::write(&path, "").expect("file");
        let m = std::fs::metadata(&path).expect("stat");
        assert!(check_opened(&m, m.uid()).is_ok());
        let e = check_opened(&m, m.uid().wrapping_add(1)).expect_err("another owner");
        assert!(is_refusal(&e) && e.to_string().contains("owned by uid"), "{e}");
        let dev = std::fs::metadata("/dev/null").expect("/dev/null");
        assert!(check_opened(&dev, m.uid().wrapping_add(1)).is_ok());
        let fifo = std::fs::metadata(dir.path()).expect("dir");
        assert!(check_opened(&fifo, fifo.uid()).is_err());
    }

    #[test]
    fn a_refused_reopen_keeps_the_old_file_then_recovers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("imds.ndjson");
        let moved = dir.path().join("imds.ndjson.1");
        let target = dir.path().join("target");
        std::fs::write(&target, "precious\n").expect("target");
        let mut f = LogFile::open(&path).expect("open");
        std::fs::rename(&path, &moved).expect("move away");
        std::os::unix::fs::symlink(&target, &path).expect("plant");
        let e = f.reopen().expect_err("followed the planted symlink");
        assert!(e.first && is_refusal(&e.error), "{e:?}");
        assert!(!f.reopen().expect_err("again").first, "reported once per episode");
        writeln!(f, "line").expect("write");
        f.flush().expect("flush");
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "precious\n");
        assert_eq!(std::fs::read_to_string(&moved).expect("read"), "line\n");
        f.close();
        assert_eq!(f.path_state(), PathState::Closed);
        assert!(writeln!(f, "lost").is_err(), "a closed log fails writes so they are counted");
        std::fs::remove_file(&path).expect("remove the symlink");
        f.reopen().expect("a plain path again");
        assert_eq!(f.path_state(), PathState::Same);
    }
}
