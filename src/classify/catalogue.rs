//! The IMDS client catalogue (issue 24): which real client a user agent or a process is,
//! the first version of it with IMDSv2, and how to upgrade it. The data is
//! `catalogue.json` beside this file, compiled in (also read by `scripts/clients-doc.py`
//! for docs/client-catalogue.md); this module parses it once and matches against it. Pure functions
//! over text: the advice built on a match lives in `verdict::remedy`.

use std::cmp::Ordering;
use std::sync::OnceLock;

use serde::Deserialize;

/// How a client stands towards IMDSv2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Imdsv2 {
    /// From `fixed_in` on.
    Since,
    /// Every version.
    Always,
    /// IMDSv1 only (replaced by another product: see its `upgrade`).
    Never,
    /// Current releases use it; the vendor states no first version.
    Current,
    /// The caller builds its own requests.
    HandWritten,
}

/// One catalogue row.
#[derive(Debug, Clone, Deserialize)]
pub struct Row {
    /// Short, stable name: the metrics' `product` label.
    pub id: String,
    pub product: String,
    pub ecosystem: String,
    #[serde(default)]
    pub user_agent: Vec<String>,
    #[serde(default)]
    pub process: Vec<String>,
    #[serde(default)]
    pub match_all: bool,
    pub imdsv2: Imdsv2,
    pub fixed_in: Option<String>,
    /// Behaviour on 401/403/404/405 and timeouts.
    pub on_failure: String,
    pub upgrade: Vec<String>,
    /// Hand-written callers: the token recipe's language.
    pub language: Option<String>,
    pub source: String,
}

#[derive(Debug, Deserialize)]
pub struct Catalogue {
    pub aws_sdk_page: String,
    pub rows: Vec<Row>,
    pub recipes: std::collections::BTreeMap<String, Vec<String>>,
}

/// The catalogue, parsed once (a unit test checks that it parses).
pub fn catalogue() -> &'static Catalogue {
    static C: OnceLock<Catalogue> = OnceLock::new();
    C.get_or_init(|| serde_json::from_str(include_str!("catalogue.json")).expect("catalogue.json is valid (tested)"))
}

/// What is known of the process that sent a request (live mode).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessHint {
    /// The executable's path (or name).
    pub exe: String,
    /// The first arguments after argv[0] (at most [`MAX_ARGS`]): a script's path.
    pub args: Vec<String>,
}

/// Arguments kept in a [`ProcessHint`].
pub const MAX_ARGS: usize = 3;
/// Longest text kept per field of a [`ProcessHint`].
const MAX_ARG_LEN: usize = 256;

impl ProcessHint {
    /// From an executable path and a command line (argv joined by spaces).
    pub fn new(exe: &str, cmdline: &str) -> ProcessHint {
        let clip = |s: &str| s.chars().take(MAX_ARG_LEN).collect::<String>();
        let args =
            cmdline.split_whitespace().skip(1).filter(|a| !a.starts_with('-')).take(MAX_ARGS).map(clip).collect();
        ProcessHint { exe: clip(exe), args }
    }

    /// From a request record's process.
    pub fn of(p: &crate::event::Process) -> ProcessHint {
        ProcessHint::new(p.file.path.as_deref().unwrap_or(&p.file.name), &p.cmdline)
    }

    fn basenames(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.exe.as_str())
            .chain(self.args.iter().map(String::as_str))
            .map(|p| p.rsplit('/').next().unwrap_or(p))
    }
}

/// A catalogue row that matched, with the version read from the user agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identified {
    pub row: &'static Row,
    pub version: Option<String>,
    /// The row matched on the process, not the user agent.
    pub by_process: bool,
}

impl PartialEq for Row {
    fn eq(&self, o: &Row) -> bool {
        self.id == o.id
    }
}
impl Eq for Row {}

/// Where a version stands against `fixed_in`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Older than the first version with IMDSv2 (or IMDSv1-only product).
    Old,
    /// Uses IMDSv2 by default: IMDSv1 from it means its token request failed.
    Modern,
    /// Version not known; `fixed_in` is.
    Unknown,
    /// A hand-written caller.
    HandWritten,
}

impl Identified {
    pub fn standing(&self) -> Standing {
        match self.row.imdsv2 {
            Imdsv2::Never => Standing::Old,
            Imdsv2::Always => Standing::Modern,
            Imdsv2::HandWritten => Standing::HandWritten,
            Imdsv2::Current => Standing::Unknown,
            Imdsv2::Since => match (&self.version, &self.row.fixed_in) {
                (Some(v), Some(f)) if compare_versions(v, f) == Ordering::Less => Standing::Old,
                (Some(_), _) => Standing::Modern,
                (None, _) => Standing::Unknown,
            },
        }
    }
}

/// Compares dotted versions numerically (`1.13.24` < `1.13.25` < `1.14`); a part that is not
/// a number compares by its leading digits.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let parts = |s: &str| -> Vec<u64> {
        s.split('.')
            .map(|p| p.chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap_or(0))
            .collect()
    };
    let (a, b) = (parts(a), parts(b));
    let n = a.len().max(b.len());
    (0..n).map(|i| a.get(i).unwrap_or(&0).cmp(b.get(i).unwrap_or(&0))).find(|o| o.is_ne()).unwrap_or(Ordering::Equal)
}

/// The version after the first `/` of a user-agent word (`Botocore/1.13.24` → `1.13.24`).
fn word_version(word: &str) -> Option<String> {
    let v: String = word.split_once('/')?.1.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    let v = v.trim_end_matches('.');
    (!v.is_empty() && v.starts_with(|c: char| c.is_ascii_digit())).then(|| v.chars().take(32).collect())
}

/// The version a user-agent pattern reads, if the pattern matches `ua`.
fn ua_match(pattern: &str, ua: Option<&str>) -> Option<Option<String>> {
    let p = pattern;
    if p == "<none>" {
        return ua.is_none_or(|u| u.trim().is_empty()).then_some(None);
    }
    let ua = ua?;
    if let Some(exact) = p.strip_prefix('=') {
        return ua.trim().eq_ignore_ascii_case(exact).then_some(None);
    }
    let word = ua.split_whitespace().find(|w| w.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p)))?;
    Some(word_version(word))
}

fn process_match(pattern: &str, p: &ProcessHint) -> bool {
    if pattern.contains('/') {
        p.exe.contains(pattern) || p.args.iter().any(|a| a.contains(pattern))
    } else {
        p.basenames().any(|b| b == pattern)
    }
}

/// The first catalogue row that matches this user agent and process.
pub fn identify(ua: Option<&str>, process: Option<&ProcessHint>) -> Option<Identified> {
    if process.is_some() {
        return identify_in(&catalogue().rows, ua, process);
    }
    // By user agent alone (every offline client): the answer is remembered. A verdict of
    // 10,000 clients asks a few times per client, for a handful of user agents; each answer
    // reads every row's patterns (12% of `analyze`'s instructions on a 20,000-request
    // capture of 7,000 clients, issue 29).
    thread_local! {
        static BY_UA: std::cell::RefCell<lru::LruCache<String, Option<Identified>>> =
            std::cell::RefCell::new(lru::LruCache::new(UA_CACHE));
    }
    let Some(ua) = ua else { return identify_in(&catalogue().rows, None, None) }; // cheap
    BY_UA.with_borrow_mut(|cache| {
        if let Some(hit) = cache.get(ua) {
            return hit.clone();
        }
        let found = identify_in(&catalogue().rows, Some(ua), None);
        cache.put(ua.to_owned(), found.clone());
        found
    })
}

/// User agents whose catalogue answer is remembered, per thread.
const UA_CACHE: std::num::NonZeroUsize = std::num::NonZeroUsize::new(256).expect("non-zero");

fn identify_in(rows: &'static [Row], ua: Option<&str>, process: Option<&ProcessHint>) -> Option<Identified> {
    for row in rows {
        let by_ua = row.user_agent.iter().find_map(|p| ua_match(p, ua));
        let by_proc = process.is_some_and(|pr| row.process.iter().any(|p| process_match(p, pr)));
        let hit = if row.match_all { by_ua.is_some() && by_proc } else { by_ua.is_some() || by_proc };
        if hit {
            // A row that the user agent also names (cloud-init) reads its version there.
            // A hand-written caller's user agent carries its library's version, not its own.
            let version = by_ua.flatten().filter(|_| row.imdsv2 != Imdsv2::HandWritten);
            return Some(Identified { row, version, by_process: by_proc && !row.match_all });
        }
    }
    None
}

/// The language of a hand-written caller, from its row or its executable.
pub fn language(id: Option<&Identified>, process: Option<&ProcessHint>) -> &'static str {
    if let Some(l) = id.and_then(|i| i.row.language.as_deref()) {
        return match l {
            "python" => "python",
            "go" => "go",
            "java" => "java",
            "node" => "node",
            "ruby" => "ruby",
            "php" => "php",
            _ => "shell",
        };
    }
    let exe = process.map_or("", |p| p.exe.rsplit('/').next().unwrap_or(&p.exe));
    if exe.starts_with("python") {
        "python"
    } else if exe.starts_with("node") {
        "node"
    } else if exe == "java" {
        "java"
    } else if exe.starts_with("ruby") {
        "ruby"
    } else if exe.starts_with("php") {
        "php"
    } else {
        "shell"
    }
}

/// The token recipe of a language.
pub fn recipe(language: &str) -> &'static [String] {
    let r = &catalogue().recipes;
    r.get(language).or_else(|| r.get("shell")).map_or(&[], Vec::as_slice)
}

#[cfg(test)]
mod tests;
