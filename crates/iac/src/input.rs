//! Reading input files with a stated bound: a file larger than its kind's cap is refused with
//! a clear error (a parse error record naming the size and the cap) instead of being read
//! into memory. Parsing costs a multiple of the text (about 2× for HCL, up to 25× for a plan's
//! JSON tree), so the caps keep one input well under a few hundred MB of memory.

use std::io::Read as _;
use std::path::Path;

/// `.tf`, `.tf.json`, `.tfvars`: real modules' files are a few hundred KB at most.
pub const MAX_TERRAFORM_BYTES: u64 = 16 << 20;
/// Plan JSON, CloudFormation, Kubernetes YAML, standard input: large plans reach tens of MB
/// (CloudFormation itself takes 1 MB templates).
pub const MAX_DOCUMENT_BYTES: u64 = 64 << 20;

/// The file's text, or an error naming its size and the cap when it is larger.
pub fn read_capped(path: &Path, cap: u64) -> std::io::Result<String> {
    let file = std::fs::File::open(path)?;
    if let Ok(m) = file.metadata()
        && m.is_file()
        && m.len() > cap
    {
        return Err(too_big(Some(m.len()), cap));
    }
    read_to_cap(file, cap)
}

/// Reads at most `cap` bytes of text; more is an error (a file that grows, or a pipe).
pub fn read_to_cap(r: impl std::io::Read, cap: u64) -> std::io::Result<String> {
    let mut buf = Vec::new();
    r.take(cap + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > cap {
        return Err(too_big(None, cap));
    }
    String::from_utf8(buf).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

fn too_big(size: Option<u64>, cap: u64) -> std::io::Error {
    let what = match size {
        Some(s) => format!("file is {}, over", mib(s)),
        None => "input is larger than".to_string(),
    };
    let msg = format!("{what} the {} limit for this kind of input (imdswatch iac); not read", mib(cap));
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_the_cap_is_an_error_naming_both_sizes() {
        let e = read_to_cap(&b"abcdef"[..], 4).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("input is larger than the 0.0 MiB limit"), "{e}");
        assert_eq!(read_to_cap(&b"abcd"[..], 4).ok().as_deref(), Some("abcd"));
        assert!(too_big(Some(3 << 30), 16 << 20).to_string().contains("file is 3072.0 MiB, over the 16.0 MiB limit"));
    }
}
