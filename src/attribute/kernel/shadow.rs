//! The shadow process table: what a pid is, learnt from `sched:sched_process_exec` and
//! `sched:sched_process_fork` samples while the process still lives, so that a client that
//! exited before its connect sample was read is still described (exe, command line, user,
//! parent chain, container).
//!
//! Why these tracepoints rather than the proc connector (`NETLINK_CONNECTOR`/`CN_IDX_PROC`):
//! they come through the same perf rings, format parser and poll loop as the connect events,
//! with the same perf timestamps, so one thread merges all samples in time order and a
//! fork/exec is always applied before a later connect of the same pid. The connector would be
//! a second socket with its own message format, no timestamps to order against the perf
//! samples, and its exec message carries no file name.
//!
//! The table is an LRU keyed by pid; each entry holds the perf time of the fork/exec that
//! made it (the process's start, to this table): a fork of a reused pid replaces the entry,
//! and an entry younger than a connect sample is not used for it.

use std::os::unix::fs::MetadataExt;

use lru::LruCache;

use super::format::{ExecLayout, Field, ForkLayout};
use crate::attribute::container;
use crate::attribute::process::{MAX_DEPTH, ProcReader, file_name};
use crate::event::{Ancestor, Attribution, AttributionSource, Container, Process, ProcessFile};

/// Processes remembered at most.
pub const SHADOW: usize = 4_096;
/// Longest exec file name kept, in bytes (PATH_MAX).
const FILENAME_CAP: usize = 4_096;

/// A process event read from the sched tracepoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcEvent {
    /// `pid` replaced its image by `filename`.
    Exec { pid: u32, filename: String },
    /// `parent` made `child` (a process or a thread), named `comm`.
    Fork { parent: u32, child: u32, comm: String },
}

/// What the table knows about one pid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    /// Perf time (ns) of the fork or exec that made this entry.
    pub start: u64,
    pub comm: String,
    pub exe: Option<String>,
    pub ppid: Option<u32>,
    pub uid: Option<u32>,
    pub cmdline: Option<String>,
    /// `Some(None)`: the cgroup was read and names no container.
    pub container: Option<Option<Container>>,
}

fn i32_at(raw: &[u8], f: Field) -> Option<u32> {
    let v = i32::from_ne_bytes(raw.get(f.offset..f.offset + 4)?.try_into().ok()?);
    u32::try_from(v).ok().filter(|&p| p != 0)
}

/// A `__data_loc char[]` field: a u32 of (length << 16 | offset) into the record, the string
/// NUL-terminated within that length. Lossy UTF-8, capped.
fn data_loc(raw: &[u8], f: Field) -> Option<String> {
    let loc = u32::from_ne_bytes(raw.get(f.offset..f.offset + 4)?.try_into().ok()?);
    let (off, len) = ((loc & 0xffff) as usize, (loc >> 16) as usize);
    let s = raw.get(off..off + len)?;
    let s = s.split(|&b| b == 0).next().unwrap_or_default();
    let s = &s[..s.len().min(FILENAME_CAP)];
    Some(String::from_utf8_lossy(s).into_owned())
}

/// The raw record of a `sched_process_exec` sample.
pub fn parse_exec(raw: &[u8], l: &ExecLayout) -> Option<ProcEvent> {
    Some(ProcEvent::Exec { pid: i32_at(raw, l.pid)?, filename: data_loc(raw, l.filename)? })
}

/// The raw record of a `sched_process_fork` sample.
pub fn parse_fork(raw: &[u8], l: &ForkLayout) -> Option<ProcEvent> {
    Some(ProcEvent::Fork {
        parent: i32_at(raw, l.parent_pid)?,
        child: i32_at(raw, l.child_pid)?,
        comm: data_loc(raw, l.child_comm)?,
    })
}

/// Counters of the table, read by the kernel path's counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ShadowStats {
    /// Connects whose process was gone from /proc and was described by the table.
    pub hits: u64,
    /// Entries evicted (least recently used) because the table was full.
    pub evicted: u64,
}

#[derive(Debug)]
pub struct Shadow {
    table: LruCache<u32, Entry>,
    pub stats: ShadowStats,
}

impl Shadow {
    pub fn new(cap: usize) -> Shadow {
        Shadow { table: LruCache::new(super::nz(cap)), stats: ShadowStats::default() }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.table.len()
    }

    fn put(&mut self, pid: u32, e: Entry) {
        if self.table.push(pid, e).is_some_and(|(k, _)| k != pid) {
            self.stats.evicted += 1;
        }
    }

    /// What /proc says about a living `pid` now (each part absent when unreadable).
    fn read(procs: &ProcReader, pid: u32, start: u64) -> Entry {
        let dir = procs.dir(pid);
        let stat = procfs::process::Process::new_with_root(dir.clone()).and_then(|p| p.stat()).ok();
        let exe = std::fs::read_link(dir.join("exe")).ok().map(|p| p.to_string_lossy().into_owned());
        // The owner of /proc/PID is the process's effective uid (one stat, no status parse).
        let uid = std::fs::metadata(&dir).ok().map(|m| m.uid());
        let cgroup = std::fs::read_to_string(dir.join("cgroup")).ok();
        Entry {
            start,
            comm: stat.as_ref().map(|s| s.comm.clone()).unwrap_or_default(),
            exe,
            ppid: stat.and_then(|s| u32::try_from(s.ppid).ok()),
            uid,
            cmdline: uid.map(|_| procs.cmdline(pid)),
            container: cgroup.map(|c| container::from_cgroup(&c)),
        }
    }

    /// What an exec may change, read from /proc: the image, the effective uid (set-uid
    /// files), the command line, the cgroup.
    fn read_exec(procs: &ProcReader, pid: u32) -> Entry {
        let dir = procs.dir(pid);
        let exe = std::fs::read_link(dir.join("exe")).ok().map(|p| p.to_string_lossy().into_owned());
        let uid = std::fs::metadata(&dir).ok().map(|m| m.uid());
        let cgroup = std::fs::read_to_string(dir.join("cgroup")).ok();
        Entry {
            exe,
            uid,
            cmdline: uid.map(|_| procs.cmdline(pid)),
            container: cgroup.map(|c| container::from_cgroup(&c)),
            ..Entry::default()
        }
    }

    /// Applies one event at perf time `time`, reading /proc while the process is there.
    pub fn apply(&mut self, ev: ProcEvent, time: u64, procs: &ProcReader) {
        match ev {
            ProcEvent::Fork { parent, child, comm } => {
                // A fork copies the parent's image, credentials and cgroup.
                let p = match self.table.get(&parent) {
                    Some(p) => p.clone(),
                    None => {
                        let p = Shadow::read(procs, parent, time);
                        self.put(parent, p.clone());
                        p
                    }
                };
                self.put(child, Entry { start: time, comm, ppid: Some(parent), ..p });
            }
            ProcEvent::Exec { pid, filename } => {
                let before = self.table.pop(&pid);
                let mut e = match &before {
                    // Known from its fork (or an earlier exec): an exec keeps the parent and sets
                    // comm to the file's base name, so /proc/PID/stat is not read (a host with
                    // exec churn pays this for every exec). The cgroup is: a runtime moves a
                    // container's first process between its fork and its exec.
                    Some(b) if b.ppid.is_some() => Entry { start: time, ppid: b.ppid, ..Shadow::read_exec(procs, pid) },
                    _ => Shadow::read(procs, pid, time),
                };
                e.ppid = e.ppid.or(before.as_ref().and_then(|b| b.ppid));
                e.uid = e.uid.or(before.as_ref().and_then(|b| b.uid));
                e.container = e.container.or(before.and_then(|b| b.container));
                if e.comm.is_empty() {
                    e.comm = file_name("", Some(&filename)).chars().take(15).collect();
                }
                // The exec's file (a script, not its interpreter, for `#!`) when /proc has none.
                e.exe = e.exe.or(Some(filename));
                self.put(pid, e);
            }
        }
    }

    /// The table's description of `pid` for a connect at perf time `time`, when /proc no
    /// longer has it. `None` when the table does not know the pid (or knows no uid for it).
    pub fn describe(&mut self, pid: u32, time: u64, procs: &mut ProcReader) -> Option<Attribution> {
        let e = self.table.get(&pid).filter(|e| e.start <= time)?.clone();
        let uid = e.uid?;
        self.stats.hits += 1;
        Some(self.attribution(pid, e, uid, procs))
    }

    /// The table's description of `pid` for a connect at perf time `time` while /proc still
    /// has it, when the table knows everything /proc would say (image, command line, parent,
    /// container, from the process's fork and exec): only the effective uid, which `setuid`
    /// changes without an event, is read again (one `stat` of /proc/PID). Saves reading five
    /// /proc files for a process seen starting (benches/live_cpu.sh, a new process per request).
    pub fn known(&mut self, pid: u32, time: u64, procs: &mut ProcReader) -> Option<Attribution> {
        let e = self.table.get(&pid).filter(|e| e.start <= time)?.clone();
        if e.exe.is_none() || e.cmdline.is_none() || e.ppid.is_none() || e.container.is_none() {
            return None;
        }
        let uid = std::fs::metadata(procs.dir(pid)).ok()?.uid();
        Some(self.attribution(pid, e, uid, procs))
    }

    fn attribution(&mut self, pid: u32, e: Entry, uid: u32, procs: &mut ProcReader) -> Attribution {
        let mut missing = Vec::new();
        if e.exe.is_none() {
            missing.push("exe");
        }
        if e.cmdline.is_none() {
            missing.push("cmdline");
        }
        if e.ppid.is_none() {
            missing.push("ancestors");
        }
        if e.container.is_none() {
            missing.push("container");
        }
        let ancestors = self.ancestors(pid, e.ppid, procs);
        let process = Process {
            pid,
            file: ProcessFile { name: file_name(&e.comm, e.exe.as_deref()), path: e.exe },
            cmdline: e.cmdline.unwrap_or_default(),
            uid,
            user: procs.user_name(uid),
            ancestors,
        };
        Attribution {
            process: Some(process),
            container: e.container.flatten(),
            source: Some(AttributionSource::Kernel),
            missing,
            ..Attribution::default()
        }
    }

    /// Completes a description read from /proc while the process was exiting (its `exe`
    /// link and its memory, hence its command line, already gone) from the table; returns
    /// what is still missing.
    pub fn complete(&mut self, p: &mut Process, time: u64) -> Vec<&'static str> {
        let e = self.table.peek(&p.pid).filter(|e| e.start <= time);
        if p.file.path.is_none()
            && let Some(exe) = e.and_then(|e| e.exe.clone())
        {
            p.file = ProcessFile { name: file_name(&p.file.name, Some(&exe)), path: Some(exe) };
        }
        if p.cmdline.is_empty()
            && let Some(c) = e.and_then(|e| e.cmdline.clone())
        {
            p.cmdline = c;
        }
        let mut missing = Vec::new();
        if p.file.path.is_none() {
            missing.push("exe");
        }
        if p.cmdline.is_empty() {
            missing.push("cmdline");
        }
        missing
    }

    /// Parent first: from the table while it knows the pids, then from /proc.
    fn ancestors(&mut self, pid: u32, mut ppid: Option<u32>, procs: &mut ProcReader) -> Vec<Ancestor> {
        let mut out: Vec<Ancestor> = Vec::new();
        let mut seen = vec![pid];
        while let Some(p) = ppid.filter(|&p| p != 0 && out.len() < MAX_DEPTH && !seen.contains(&p)) {
            let Some(e) = self.table.peek(&p) else {
                let child = seen.last().copied().unwrap_or(pid);
                out.extend(procs.ancestry(child, p).into_iter().take(MAX_DEPTH - out.len()));
                break;
            };
            out.push(Ancestor { pid: p, name: file_name(&e.comm, e.exe.as_deref()), path: e.exe.clone() });
            seen.push(p);
            ppid = e.ppid;
        }
        out
    }
}
