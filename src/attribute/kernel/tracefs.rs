//! Where tracefs is, mounting it when it is not, and the id and format of a tracepoint.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::format::TracepointFormat;
use crate::sys::perf;

/// Where tracefs is usually found, newest convention first.
const PLACES: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// The tracefs directory holding `events/`, mounting tracefs at `/sys/kernel/tracing` when
/// no mounted one is found (needs CAP_SYS_ADMIN; a container may not be allowed to).
pub fn find_or_mount() -> Result<PathBuf, String> {
    if let Some(p) = PLACES.iter().map(PathBuf::from).find(|p| p.join("events").is_dir()) {
        return Ok(p);
    }
    let target = Path::new(PLACES[0]);
    let c = CString::new(target.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
    perf::mount_tracefs(&c).map_err(|e| format!("tracefs is not mounted and mounting it failed: {e}"))?;
    if target.join("events").is_dir() {
        Ok(target.to_path_buf())
    } else {
        Err("tracefs mounted but has no events/".into())
    }
}

/// The id and format of tracepoint `group/name`.
pub fn tracepoint(root: &Path, group: &str, name: &str) -> Result<(u64, TracepointFormat), String> {
    let dir = root.join("events").join(group).join(name);
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).map_err(|e| format!("{}/{f}: {e}", dir.display()));
    let id = read("id")?.trim().parse::<u64>().map_err(|e| format!("{group}:{name} id: {e}"))?;
    let format = TracepointFormat::parse(&read("format")?)?;
    Ok((id, format))
}
