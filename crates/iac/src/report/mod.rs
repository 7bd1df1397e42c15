//! Output formats: human (default), JSON, SARIF 2.1.0.

pub mod fix;
pub mod human;
pub mod json;
pub mod sarif;

use crate::verdict::{Record, ResourceVerdict};

/// Counts for the summary line and the JSON summary.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Summary {
    pub checked: usize,
    pub pass: usize,
    pub fail: usize,
    pub unknown: usize,
    pub parse_error: usize,
    pub files: usize,
    /// Module calls not followed (remote sources not installed).
    pub unresolved: usize,
}

impl Summary {
    pub fn of(records: &[Record]) -> Summary {
        let mut s = Summary::default();
        let mut files = std::collections::BTreeSet::new();
        for r in records {
            files.insert(r.file.as_str());
            match r.verdict {
                ResourceVerdict::Pass => s.pass += 1,
                ResourceVerdict::Fail => s.fail += 1,
                ResourceVerdict::Unknown => s.unknown += 1,
                ResourceVerdict::ParseError => s.parse_error += 1,
            }
        }
        s.checked = s.pass + s.fail + s.unknown;
        s.files = files.len();
        s
    }
}
