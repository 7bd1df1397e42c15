//! uid → user name from the host's passwd file (no NSS, no libc). Loaded on first use; an
//! unknown uid reloads the file at most every `RELOAD_EVERY`. Users of a container's own
//! passwd are not known here: their uid is still reported.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const RELOAD_EVERY: Duration = Duration::from_secs(10);
/// Entries kept at most (a passwd file is small; this bounds a hostile one).
const MAX_USERS: usize = 65_536;

/// Parses passwd lines `name:x:uid:gid:gecos:home:shell`; the first name of a uid wins.
pub(crate) fn parse_passwd(text: &str) -> HashMap<u32, String> {
    let mut map = HashMap::new();
    for line in text.lines() {
        if map.len() >= MAX_USERS {
            break;
        }
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut f = line.split(':');
        let (Some(name), Some(_), Some(uid)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let Ok(uid) = uid.trim().parse::<u32>() else {
            continue;
        };
        if !name.is_empty() && !name.starts_with(['+', '-']) {
            map.entry(uid).or_insert_with(|| name.to_string());
        }
    }
    map
}

#[derive(Debug)]
pub(crate) struct Users {
    path: PathBuf,
    names: HashMap<u32, String>,
    loaded_at: Option<Instant>,
}

impl Users {
    pub fn new(path: &Path) -> Users {
        Users { path: path.to_path_buf(), names: HashMap::new(), loaded_at: None }
    }

    pub fn name(&mut self, uid: u32) -> Option<String> {
        if let Some(n) = self.names.get(&uid) {
            return Some(n.clone());
        }
        if self.loaded_at.is_some_and(|t| t.elapsed() < RELOAD_EVERY) {
            return None;
        }
        self.loaded_at = Some(Instant::now());
        self.names = std::fs::read_to_string(&self.path).map(|t| parse_passwd(&t)).unwrap_or_default();
        self.names.get(&uid).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_passwd_parsing() {
        let text = "root:x:0:0:root:/root:/bin/bash\n\
                    # comment\n\
                    \n\
                    daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
                    broken line\n\
                    bad:x:notanumber:1::/:/bin/sh\n\
                    ubuntu:x:1000:1000:Ubuntu:/home/ubuntu:/bin/bash\n\
                    toor:x:0:0::/root:/bin/sh\n\
                    +nis::::::\n";
        let m = parse_passwd(text);
        assert_eq!(m.get(&0).map(String::as_str), Some("root"));
        assert_eq!(m.get(&1).map(String::as_str), Some("daemon"));
        assert_eq!(m.get(&1000).map(String::as_str), Some("ubuntu"));
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn attribute_users_file_and_missing_file() {
        let tmp = tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(tmp.path(), "svc:x:4242:4242::/:/bin/false\n").unwrap_or_else(|e| panic!("{e}"));
        let mut u = Users::new(tmp.path());
        assert_eq!(u.name(4242).as_deref(), Some("svc"));
        assert_eq!(u.name(7), None);
        let mut missing = Users::new(Path::new("/nonexistent/passwd"));
        assert_eq!(missing.name(0), None);
    }
}
