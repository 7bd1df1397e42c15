//! Credential identity (issue 28): the one response body imdswatch reads. For a credential
//! fetch answered 2xx (EC2 IMDS `security-credentials/ROLE`, ECS task credentials, EKS Pod
//! Identity), the JSON answer is copied into a bounded buffer that is zeroed when dropped,
//! read for `AccessKeyId`, `Expiration`, `Type` and `RoleArn` only, and dropped at once.
//! `SecretAccessKey` and `Token` are skipped by the parser (never copied into a string of
//! ours) and never leave this module.
//!
//! Bound: [`MAX_BODY`] bytes per answer (an EC2 answer is about 1.3 KiB, its session token
//! most of it); a longer body is not read at all and is counted (`credential_bodies_over_cap`).

use serde::Deserialize;
use zeroize::Zeroizing;

use crate::event::CredentialIdentity;

/// Longest credential answer read (bytes). Longer ones are skipped as before, and counted.
pub const MAX_BODY: usize = 8 * 1024;

/// The body of one armed answer, while it is read.
#[derive(Debug)]
pub struct Capture {
    /// Preallocated to the body's length, so it never reallocates (a reallocation would leave
    /// an unzeroed copy behind).
    buf: Zeroizing<Vec<u8>>,
    want: usize,
}

impl Capture {
    /// A capture for a body of `len` bytes; `None` past [`MAX_BODY`] or for an empty one.
    pub fn new(len: u64) -> Option<Capture> {
        let want = usize::try_from(len).ok().filter(|n| (1..=MAX_BODY).contains(n))?;
        Some(Capture { buf: Zeroizing::new(Vec::with_capacity(want)), want })
    }

    /// Appends body bytes (never past the announced length).
    pub fn extend(&mut self, data: &[u8]) {
        let room = self.want - self.buf.len();
        self.buf.extend_from_slice(&data[..data.len().min(room)]);
    }

    pub fn complete(&self) -> bool {
        self.buf.len() == self.want
    }

    /// The body, zeroed when the returned value is dropped.
    pub fn into_body(self) -> Zeroizing<Vec<u8>> {
        self.buf
    }
}

/// The body capture of one response stream: nearly always idle (`None`, no allocation).
#[derive(Debug, Default)]
pub struct BodyTap(Option<Box<TapState>>);

#[derive(Debug)]
enum TapState {
    /// Waiting for the next response head.
    Armed,
    Reading(Capture),
    Done(Zeroizing<Vec<u8>>),
}

impl BodyTap {
    /// Reads the body of the next response head (cancels a body still held).
    pub fn arm(&mut self) {
        self.0 = Some(Box::new(TapState::Armed));
    }

    /// A response head came, with a body of `len` bytes (`None`: chunked, unframed or none).
    /// One-shot: only the head right after [`BodyTap::arm`] is read. True when the body was
    /// not read for being longer than [`MAX_BODY`] (to be counted).
    pub fn on_head(&mut self, len: Option<u64>) -> bool {
        if !matches!(self.0.as_deref(), Some(TapState::Armed)) {
            return false;
        }
        self.0 = None;
        let Some(n) = len else { return false };
        match Capture::new(n) {
            Some(c) => {
                self.0 = Some(Box::new(TapState::Reading(c)));
                false
            }
            None => true,
        }
    }

    /// Body bytes being skipped: kept when the tap is reading.
    pub fn feed(&mut self, data: &[u8]) {
        if let Some(TapState::Reading(c)) = self.0.as_deref_mut() {
            c.extend(data);
            if c.complete()
                && let Some(TapState::Reading(c)) = self.0.take().map(|b| *b)
            {
                self.0 = Some(Box::new(TapState::Done(c.into_body())));
            }
        }
    }

    pub fn reading(&self) -> bool {
        matches!(self.0.as_deref(), Some(TapState::Reading(_)))
    }

    /// Drops a body being read (a hole, a reset); its bytes are zeroed.
    pub fn abort(&mut self) {
        if self.reading() {
            self.0 = None;
        }
    }

    /// The complete body, once.
    pub fn take(&mut self) -> Option<Zeroizing<Vec<u8>>> {
        match self.0.take().map(|b| *b) {
            Some(TapState::Done(b)) => Some(b),
            other => {
                self.0 = other.map(Box::new);
                None
            }
        }
    }
}

/// The stream's credential body capture (issue 28), driven by the engine's connection.
impl super::HttpStream {
    /// Issue 28: the body of the next response head (when framed by Content-Length, at most
    /// [`MAX_BODY`]) is kept for [`HttpStream::take_body`] instead of skipped.
    /// Cancels a body still held.
    pub fn arm_capture(&mut self) {
        self.tap.arm();
    }

    /// The body read since [`HttpStream::arm_capture`], once complete (zeroed on drop).
    pub fn take_body(&mut self) -> Option<zeroize::Zeroizing<Vec<u8>>> {
        self.tap.take()
    }

    /// A body is being read (its head came, its last byte has not).
    pub fn capturing(&self) -> bool {
        self.tap.reading()
    }
}

/// The fields read; everything else (the secret key, the token) is skipped by serde without
/// being copied.
#[derive(Deserialize)]
struct Answer {
    #[serde(rename = "AccessKeyId")]
    access_key_id: Option<String>,
    #[serde(rename = "Expiration")]
    expiration: Option<String>,
    #[serde(rename = "Type")]
    kind: Option<String>,
    #[serde(rename = "RoleArn")]
    role_arn: Option<String>,
}

/// Longest value kept of each field (an AccessKeyId is 16 to 128 characters).
const MAX_FIELD: usize = 128;

/// The identity in a credential answer `body` of a request for `path`; `None` when the body
/// is not such an answer (a role listing, an error document, not JSON).
pub fn identity(path: &str, body: &[u8]) -> Option<CredentialIdentity> {
    let a: Answer = serde_json::from_slice(body).ok()?;
    let access_key_id = a.access_key_id.filter(|k| plain(k, |c| c.is_ascii_uppercase() || c.is_ascii_digit()));
    let id = CredentialIdentity {
        role: role_of_path(path).or_else(|| a.role_arn.as_deref().and_then(role_of_arn)),
        expiration: a.expiration.filter(|e| plain(e, |c| c.is_ascii_alphanumeric() || "-:.+".contains(c))),
        kind: a.kind.filter(|t| plain(t, |c| c.is_ascii_alphanumeric() || c == '-')),
        access_key_id,
    };
    (id.access_key_id.is_some()).then_some(id)
}

/// Non-empty, at most [`MAX_FIELD`] characters, each accepted by `ok`.
fn plain(s: &str, ok: impl Fn(char) -> bool) -> bool {
    !s.is_empty() && s.len() <= MAX_FIELD && s.chars().all(ok)
}

/// A role name: IAM allows `[\w+=,.@-]`, 64 characters.
fn role_name(s: &str) -> Option<String> {
    plain(s, |c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)).then(|| s.to_owned())
}

/// `ROLE` of `/latest/meta-data/iam/security-credentials/ROLE` (any version segment, query
/// dropped); `None` for the listing (`.../security-credentials/`) and other paths.
pub fn role_of_path(path: &str) -> Option<String> {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let (_, role) = path.split_once("/meta-data/iam/security-credentials/")?;
    role_name(role)
}

/// The role of `arn:aws:iam::ACCOUNT:role/PATH/NAME` (ECS `RoleArn`).
fn role_of_arn(arn: &str) -> Option<String> {
    let (_, rest) = arn.split_once(":role/")?;
    role_name(rest.rsplit('/').next()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EC2: &[u8] = br#"{
  "Code" : "Success",
  "LastUpdated" : "2026-12-05T05:00:00Z",
  "Type" : "AWS-HMAC",
  "AccessKeyId" : "ASIAEXAMPLEKEY000001",
  "SecretAccessKey" : "SECRETMARKERabc/def+ghi",
  "Token" : "TOKENMARKER\u0041xyz==",
  "Expiration" : "2026-12-05T11:00:00Z"
}"#;

    #[test]
    fn ec2_answer_gives_role_key_expiration_type_and_nothing_secret() {
        let id = identity("/latest/meta-data/iam/security-credentials/app-role", EC2).expect("identity");
        assert_eq!(id.role.as_deref(), Some("app-role"));
        assert_eq!(id.access_key_id.as_deref(), Some("ASIAEXAMPLEKEY000001"));
        assert_eq!(id.expiration.as_deref(), Some("2026-12-05T11:00:00Z"));
        assert_eq!(id.kind.as_deref(), Some("AWS-HMAC"));
        let text = format!("{id:?}");
        assert!(!text.contains("SECRETMARKER") && !text.contains("TOKENMARKER"), "{text}");
    }

    #[test]
    fn ecs_answer_names_the_role_from_its_arn() {
        let body = br#"{"RoleArn":"arn:aws:iam::111122223333:role/svc/task-role","AccessKeyId":"ASIAECS0000000000001","SecretAccessKey":"s","Token":"t","Expiration":"2026-12-05T11:00:00Z"}"#;
        let id = identity("/v2/credentials/REDACTED", body).expect("identity");
        assert_eq!(id.role.as_deref(), Some("task-role"));
        assert_eq!(id.access_key_id.as_deref(), Some("ASIAECS0000000000001"));
    }

    #[test]
    fn listings_errors_and_odd_values_give_nothing() {
        assert_eq!(identity("/latest/meta-data/iam/security-credentials/", b"app-role"), None);
        assert_eq!(identity("/latest/meta-data/iam/security-credentials/r", b"{\"Code\":\"Failure\"}"), None);
        let id =
            identity("/latest/meta-data/iam/security-credentials/r\u{1b}[2J", br#"{"AccessKeyId":"ASIA\u001b[2J"}"#);
        assert_eq!(id, None, "a key id with a control character is not kept");
        let id =
            identity("/latest/meta-data/iam/security-credentials/r%0a", br#"{"AccessKeyId":"ASIAOK"}"#).expect("id");
        assert_eq!(id.role, None, "an odd role name is not kept");
    }

    #[test]
    fn capture_is_bounded_and_never_grows_past_the_announced_length() {
        assert!(Capture::new(MAX_BODY as u64 + 1).is_none());
        assert!(Capture::new(0).is_none());
        let mut c = Capture::new(4).expect("capture");
        c.extend(b"ab");
        assert!(!c.complete());
        c.extend(b"cdef");
        assert!(c.complete());
        assert_eq!(&c.into_body()[..], b"abcd");
    }
}
