//! Shared helpers of the fuzz targets: a cursor over the fuzzer's bytes, and the link-type
//! byte used by the `decode` and `engine` targets (also written by the `seed` tool).

use imdswatch::capture::LinkType;

/// All link types the decoder handles; an input's first byte picks one (modulo).
pub const LINKS: [LinkType; 6] =
    [LinkType::Ethernet, LinkType::LinuxSll, LinkType::LinuxSll2, LinkType::RawIp, LinkType::Null, LinkType::Loop];

pub fn link_from_byte(b: u8) -> LinkType {
    LINKS[b as usize % LINKS.len()]
}

pub fn link_to_byte(l: LinkType) -> u8 {
    LINKS.iter().position(|x| *x == l).unwrap_or(0) as u8
}

/// Reads little pieces off the front of the input; every read succeeds (zeros past the end).
pub struct Input<'a>(pub &'a [u8]);

impl<'a> Input<'a> {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// Up to `n` bytes.
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
}

/// Frames of an `engine` input: `[link][len u16 le][frame]...`.
pub fn frames(data: &[u8]) -> Vec<(LinkType, &[u8])> {
    let mut inp = Input(data);
    let mut v = Vec::new();
    while !inp.is_empty() {
        let link = link_from_byte(inp.u8());
        let len = inp.u16() as usize;
        v.push((link, inp.bytes(len)));
    }
    v
}

/// Encodes frames the way [`frames`] reads them (for seeds).
pub fn encode_frames(fs: &[(LinkType, &[u8])]) -> Vec<u8> {
    let mut v = Vec::new();
    for (l, f) in fs {
        let f = &f[..f.len().min(u16::MAX as usize)];
        v.push(link_to_byte(*l));
        v.extend((f.len() as u16).to_le_bytes());
        v.extend_from_slice(f);
    }
    v
}

/// The endpoints every target watches: the defaults and the bundled mock's loopback one.
pub fn endpoints() -> imdswatch::endpoint::Endpoints {
    imdswatch::endpoint::Endpoints::parse(&[
        "169.254.169.254:80".into(),
        "[fd00:ec2::254]:80".into(),
        "127.0.0.1:1338".into(),
    ])
    .expect("endpoints")
}
