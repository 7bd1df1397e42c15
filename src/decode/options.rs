//! The TCP options that decide whether Linux accepts a segment (issue 23, class 3): the
//! timestamp (PAWS), an MD5 signature (RFC 2385) and a Fast Open cookie (RFC 7413).
//!
//! Read by hand: etherparse's option iterator stops at the first kind it does not know
//! (MD5 and Fast Open among them). The walk is bounded by the 40 bytes of options.

/// What the options of one segment say.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TcpOpts {
    /// TSval of a timestamp option (kind 8, length 10).
    pub tsval: Option<u32>,
    /// An MD5 signature option (kind 19): a socket without an MD5 key drops the segment
    /// (`tcp_inbound_md5_hash`, `TCP_MD5UNEXPECTED`).
    pub md5: bool,
    /// A Fast Open cookie (kind 34, or the experimental kind 254 with magic 0xF989) that
    /// carries a cookie, not just a cookie request.
    pub fastopen_cookie: bool,
}

const END: u8 = 0;
const NOP: u8 = 1;
const TIMESTAMP: u8 = 8;
const MD5SIG: u8 = 19;
const FASTOPEN: u8 = 34;
const EXPERIMENTAL: u8 = 254;
const FASTOPEN_MAGIC: [u8; 2] = [0xf9, 0x89];

/// Parses the option bytes of a TCP header (after the 20 fixed bytes). A malformed option
/// ends the walk, as in Linux's `tcp_parse_options`.
pub fn parse(mut b: &[u8]) -> TcpOpts {
    let mut o = TcpOpts::default();
    while let Some(&kind) = b.first() {
        match kind {
            END => break,
            NOP => {
                b = &b[1..];
                continue;
            }
            _ => {}
        }
        let Some(&len) = b.get(1) else { break };
        let len = usize::from(len);
        if len < 2 || len > b.len() {
            break;
        }
        let body = &b[2..len];
        match kind {
            TIMESTAMP if len == 10 => o.tsval = Some(u32::from_be_bytes([body[0], body[1], body[2], body[3]])),
            MD5SIG if len == 18 => o.md5 = true,
            FASTOPEN if len > 2 => o.fastopen_cookie = true,
            EXPERIMENTAL if len > 4 && body[..2] == FASTOPEN_MAGIC => o.fastopen_cookie = true,
            _ => {}
        }
        b = &b[len..];
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_timestamp_md5_and_cookie_past_unknown_kinds() {
        let mut b = vec![NOP, NOP, 99, 4, 0, 0, TIMESTAMP, 10, 0, 0, 1, 0, 0, 0, 0, 0];
        b.extend([MD5SIG, 18]);
        b.extend([0u8; 16]);
        b.extend([FASTOPEN, 10, 1, 2, 3, 4, 5, 6, 7, 8]);
        let o = parse(&b);
        assert_eq!(o, TcpOpts { tsval: Some(256), md5: true, fastopen_cookie: true });
        // A cookie request (no cookie) is not a cookie; a truncated option ends the walk.
        assert!(!parse(&[FASTOPEN, 2]).fastopen_cookie);
        assert_eq!(parse(&[TIMESTAMP, 10, 0, 0]), TcpOpts::default());
        assert!(parse(&[EXPERIMENTAL, 12, 0xf9, 0x89, 1, 2, 3, 4, 5, 6, 7, 8]).fastopen_cookie);
    }
}
