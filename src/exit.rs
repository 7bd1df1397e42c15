//! Exit statuses (documented in `--help` and README). A leaf: every command returns one, and
//! `cli` turns it into the process status.

use std::process::ExitCode;

/// What a run of imdswatch ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Ran to the end; nothing to report (or nothing asked to fail on).
    Ok = 0,
    /// Something could not be done: a file unreadable or cut short, a capture died, an
    /// output failed.
    Error = 1,
    /// The command line is wrong.
    Usage = 2,
    /// IMDSv1 was seen (`analyze --fail-on-v1`) or allowed (`iac`).
    V1Seen = 3,
}

impl Exit {
    /// The number the process exits with.
    pub const fn code(self) -> u8 {
        self as u8
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code())
    }
}

/// The statuses as numbers, for code that returns a plain `u8`.
pub const OK: u8 = Exit::Ok.code();
pub const ERROR: u8 = Exit::Error.code();
pub const USAGE: u8 = Exit::Usage.code();
pub const V1_SEEN: u8 = Exit::V1Seen.code();
