//! Opening the node's files under `--host-root` as root (issue 23, class 7). A runtime's
//! state files are written by whoever controls the runtime, and a container can sometimes
//! reach them; the monitor must not be made to wait on them or read outside the root:
//!
//! - every path is resolved *inside* the root with `openat2(RESOLVE_IN_ROOT |
//!   RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)`: no symbolic link is followed in any
//!   component (a `config.json` linked to `/etc/shadow`, or a directory linked elsewhere, is
//!   refused), and `..` cannot climb above the root;
//! - on a kernel without `openat2` (before 5.6, or a seccomp filter answering `ENOSYS`) the
//!   same is done one component at a time with `openat(O_NOFOLLOW)`, `..` refused;
//! - a file is opened `O_NONBLOCK` (a FIFO or a device cannot block the attribution thread)
//!   and `O_NOFOLLOW`, then `fstat`ed: only a regular file is read.
//!
//! What is trusted: the root directory itself (`--host-root`, given by the operator, may be a
//! symbolic link or a mount). Nothing below it is.

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::path::{Component, Path};

use rustix::fs::{Dir, FileType, Mode, OFlags, ResolveFlags, fstat, openat, openat2};
use rustix::io::Errno;

/// Opens `rel` (relative to `root`) with `flags`, resolved inside the root, no symbolic link
/// followed.
fn open_in_root(root: &Path, rel: &Path, flags: OFlags) -> io::Result<File> {
    // (openat2 refuses O_PATH with flags other than O_DIRECTORY, O_NOFOLLOW, O_CLOEXEC.)
    let extra = if flags.contains(OFlags::PATH) { OFlags::empty() } else { OFlags::NOCTTY };
    let flags = flags | OFlags::NOFOLLOW | OFlags::CLOEXEC | extra;
    let root_fd = rustix::fs::open(root, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
    let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    match openat2(&root_fd, rel, flags, Mode::empty(), resolve) {
        Ok(fd) => Ok(File::from(fd)),
        Err(Errno::NOSYS) => walk(root_fd, rel, flags),
        Err(e) => Err(e.into()),
    }
}

/// The fallback of [`open_in_root`]: one component at a time, none followed.
fn walk(root_fd: rustix::fd::OwnedFd, rel: &Path, flags: OFlags) -> io::Result<File> {
    let names: Vec<&std::ffi::OsStr> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(Ok(n)),
            Component::CurDir | Component::RootDir => None,
            Component::ParentDir | Component::Prefix(_) => Some(Err(io::Error::from(Errno::XDEV))),
        })
        .collect::<io::Result<_>>()?;
    let Some((last, dirs)) = names.split_last() else {
        return Err(Errno::INVAL.into());
    };
    let mut cur = root_fd;
    for d in dirs {
        cur = openat(&cur, *d, OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())?;
    }
    Ok(File::from(openat(&cur, *last, flags, Mode::empty())?))
}

/// Opens a regular file under the root for reading (see the module's rules). A FIFO, a
/// socket, a device or a directory is refused (`InvalidInput`), without blocking.
pub fn open_file(root: &Path, rel: &Path) -> io::Result<File> {
    let f = open_in_root(root, rel, OFlags::RDONLY | OFlags::NONBLOCK)?;
    if FileType::from_raw_mode(fstat(&f)?.st_mode) != FileType::RegularFile {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"));
    }
    Ok(f)
}

/// The names in a directory under the root (at most `max`; `.` and `..` left out), resolved
/// by the module's rules.
pub fn list_dir(root: &Path, rel: &Path, max: usize) -> io::Result<Vec<OsString>> {
    let f = open_in_root(root, rel, OFlags::RDONLY | OFlags::DIRECTORY)?;
    let mut dir = Dir::read_from(&f)?;
    let mut names = Vec::new();
    while names.len() < max {
        let Some(entry) = dir.read() else { break };
        let Ok(entry) = entry else { break };
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(OsString::from_vec(name.to_vec()));
        }
    }
    Ok(names)
}

/// Where the symbolic link `rel` under the root points (the link itself is not followed; its
/// folders are resolved by the module's rules).
pub fn read_link(root: &Path, rel: &Path) -> io::Result<std::path::PathBuf> {
    let parent = rel.parent().unwrap_or(Path::new(""));
    let name = rel.file_name().ok_or(io::Error::from(Errno::INVAL))?;
    let dir = if parent.as_os_str().is_empty() {
        rustix::fs::open(root, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?.into()
    } else {
        open_in_root(root, parent, OFlags::PATH | OFlags::DIRECTORY)?
    };
    let target = rustix::fs::readlinkat(&dir, name, Vec::new())?;
    Ok(OsString::from_vec(target.into_bytes()).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::fs::symlink;
    use std::time::{Duration, Instant};

    #[test]
    fn rootfs_refuses_links_fifos_and_climbing() {
        let outside = tempfile::tempdir().expect("tempdir");
        std::fs::write(outside.path().join("secret"), "outside").expect("write");
        let root = tempfile::tempdir().expect("tempdir");
        let r = root.path();
        std::fs::create_dir_all(r.join("a/b")).expect("mkdir");
        std::fs::write(r.join("a/b/ok.json"), "inside").expect("write");
        symlink(outside.path().join("secret"), r.join("a/b/link.json")).expect("symlink");
        symlink(outside.path(), r.join("a/dirlink")).expect("symlink");
        rustix::fs::mknodat(rustix::fs::CWD, r.join("a/b/fifo.json"), FileType::Fifo, Mode::from_raw_mode(0o600), 0)
            .expect("mkfifo");
        let mut s = String::new();
        open_file(r, Path::new("a/b/ok.json")).expect("open").read_to_string(&mut s).expect("read");
        assert_eq!(s, "inside");
        assert!(open_file(r, Path::new("a/b/link.json")).is_err(), "a final symlink");
        assert!(open_file(r, Path::new("a/dirlink/secret")).is_err(), "a symlinked folder");
        assert!(open_file(r, Path::new("../../../../etc/passwd")).is_err(), "clamped at the root");
        let t = Instant::now();
        let e = open_file(r, Path::new("a/b/fifo.json")).expect_err("a FIFO");
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(t.elapsed() < Duration::from_secs(1), "never blocks");
        assert!(open_file(r, Path::new("a/b")).is_err(), "a directory");
        assert_eq!(
            open_file(r, Path::new("a/missing")).expect_err("missing").kind(),
            io::ErrorKind::NotFound,
            "missing stays NotFound"
        );
        // The fallback walk gives the same answers.
        let fd = || rustix::fs::open(r, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).expect("root");
        let ro = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOFOLLOW;
        assert!(walk(fd(), Path::new("a/b/ok.json"), ro).is_ok());
        assert!(walk(fd(), Path::new("a/b/link.json"), ro).is_err());
        assert!(walk(fd(), Path::new("a/dirlink/secret"), ro).is_err());
        assert!(walk(fd(), Path::new("a/../a/b/ok.json"), ro).is_err());
        // Listing and links.
        let mut names = list_dir(r, Path::new("a/b"), 100).expect("list");
        names.sort();
        assert_eq!(names, ["fifo.json", "link.json", "ok.json"]);
        assert_eq!(list_dir(r, Path::new("a/b"), 1).expect("list").len(), 1);
        assert!(list_dir(r, Path::new("a/dirlink"), 100).is_err());
        assert_eq!(read_link(r, Path::new("a/b/link.json")).expect("link"), outside.path().join("secret"));
    }
}
