//! Skipping a chunked body (RFC 9112 7.1) without storing it.

/// Longest chunk-size in hex digits (u64).
const MAX_SIZE_DIGITS: u8 = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Chunked {
    /// Reading a chunk-size line (hex digits, then extensions up to LF).
    #[default]
    SizeStart,
    Size {
        value: u64,
        digits: u8,
        ext: bool,
    },
    /// Skipping chunk data.
    Data(u64),
    /// The CRLF after chunk data.
    DataEnd,
    /// Trailer lines after the last chunk, up to a blank line.
    Trailer {
        line_start: bool,
    },
}

impl Chunked {
    /// Consumes bytes; returns how many were used and whether the body ended.
    pub fn advance(&mut self, data: &[u8]) -> Result<(usize, bool), ()> {
        let mut i = 0;
        while i < data.len() {
            match *self {
                Chunked::Data(left) => {
                    let k = left.min((data.len() - i) as u64);
                    i += k as usize;
                    *self = if k == left { Chunked::DataEnd } else { Chunked::Data(left - k) };
                    continue;
                }
                Chunked::SizeStart => *self = Chunked::Size { value: 0, digits: 0, ext: false },
                _ => {}
            }
            let b = data[i];
            i += 1;
            match self {
                Chunked::Size { value, digits, ext } => match b {
                    b'\n' if *digits == 0 => return Err(()),
                    b'\n' if *value == 0 => *self = Chunked::Trailer { line_start: true },
                    b'\n' => *self = Chunked::Data(*value),
                    b'\r' => {}
                    _ if *ext => {}
                    b';' | b' ' | b'\t' => *ext = true,
                    _ => {
                        let d = (b as char).to_digit(16).ok_or(())?;
                        *digits += 1;
                        if *digits > MAX_SIZE_DIGITS {
                            return Err(());
                        }
                        *value = (*value << 4) | u64::from(d);
                    }
                },
                Chunked::DataEnd => match b {
                    b'\n' => *self = Chunked::SizeStart,
                    b'\r' => {}
                    _ => return Err(()),
                },
                Chunked::Trailer { line_start } => match b {
                    b'\n' if *line_start => return Ok((i, true)),
                    b'\n' => *line_start = true,
                    b'\r' => {}
                    _ => *line_start = false,
                },
                Chunked::SizeStart | Chunked::Data(_) => {}
            }
        }
        Ok((i, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(parts: &[&[u8]]) -> Result<(usize, bool), ()> {
        let mut c = Chunked::default();
        let mut total = 0;
        for p in parts {
            let (used, done) = c.advance(p)?;
            total += used;
            if done {
                return Ok((total, true));
            }
        }
        Ok((total, false))
    }

    #[test]
    fn whole_body_in_one_piece() {
        let body = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\n\r\nGET";
        assert_eq!(run(&[body]), Ok((body.len() - 3, true)));
    }

    #[test]
    fn body_cut_anywhere() {
        let body: &[u8] = b"a\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n";
        for cut in 0..body.len() {
            let (a, b) = body.split_at(cut);
            assert_eq!(run(&[a, b]), Ok((body.len(), true)), "cut at {cut}");
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(run(&[b"zz\r\n"]).is_err());
        assert!(run(&[b"\r\n"]).is_err());
        assert!(run(&[b"fffffffffffffffff\r\n"]).is_err());
        assert!(run(&[b"1\r\nab"]).is_err());
    }
}
