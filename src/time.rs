//! Packet timestamps: microseconds since the Unix epoch, printed as RFC 3339 UTC.

use std::time::{Duration, UNIX_EPOCH};

use serde::{Serialize, Serializer};

/// A packet's capture time, in microseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

impl Timestamp {
    pub fn from_parts(secs: u64, micros: u32) -> Timestamp {
        Timestamp(
            secs.saturating_mul(1_000_000)
                .saturating_add(u64::from(micros)),
        )
    }

    pub fn now() -> Timestamp {
        let d = UNIX_EPOCH.elapsed().unwrap_or_default();
        Timestamp(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
    }

    pub fn micros_since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    pub fn secs(self) -> u64 {
        self.0 / 1_000_000
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Years past 9999 cannot be written in RFC 3339; clamp rather than fail.
        const MAX: u64 = 253_402_300_799_999_999;
        let t = UNIX_EPOCH + Duration::from_micros(self.0.min(MAX));
        write!(f, "{}", humantime::format_rfc3339_micros(t))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_with_microseconds() {
        let t = Timestamp::from_parts(1_700_000_000, 42);
        assert_eq!(t.to_string(), "2023-11-14T22:13:20.000042Z");
    }

    #[test]
    fn far_future_is_clamped_not_panicking() {
        assert_eq!(
            Timestamp(u64::MAX).to_string(),
            "9999-12-31T23:59:59.999999Z"
        );
    }
}
