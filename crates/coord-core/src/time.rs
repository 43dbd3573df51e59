//! Time as coord counts it: milliseconds since the Unix epoch, always passed in.
//!
//! The core never reads a clock. The embedded store reads the host's clock, the Redis backend
//! the server's, and tests choose their own; all of them hand the result to the core as a
//! [`Timestamp`].

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A point in time, in milliseconds since the Unix epoch.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The timestamp `ms` milliseconds after the epoch.
    #[must_use]
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    /// Milliseconds since the epoch.
    #[must_use]
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// How long after `earlier` this is; zero when `earlier` is not earlier.
    #[must_use]
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0).max(0) as u64)
    }

    /// This time plus `d` (saturating).
    #[must_use]
    pub fn plus(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(millis(d)))
    }

    /// This time minus `d` (saturating).
    #[must_use]
    pub fn minus(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_sub(millis(d)))
    }
}

/// A duration in whole milliseconds, saturating at `i64::MAX`.
#[must_use]
pub fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A [`Duration`] in JSON as whole milliseconds (`#[serde(with = "coord_core::time::ms")]`).
pub mod ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `d` as its milliseconds.
    ///
    /// # Errors
    /// Those of the serializer.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    /// Reads milliseconds as a duration.
    ///
    /// # Errors
    /// Anything but a whole number of milliseconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// A duration written the way people read it in a table: `0s`, `12s`, `4m10s`, `3h5m`, `2d4h`.
///
/// Whole seconds, two units at most, so a column stays narrow and the figure meaningful.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compact(pub Duration);

impl fmt::Display for Compact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs();
        let (mins, hours, days) = (secs / 60, secs / 3600, secs / 86_400);
        if secs < 60 {
            write!(f, "{secs}s")
        } else if mins < 60 {
            write_pair(f, mins, "m", secs % 60, "s")
        } else if hours < 24 {
            write_pair(f, hours, "h", mins % 60, "m")
        } else {
            write_pair(f, days, "d", hours % 24, "h")
        }
    }
}

/// How long ago `then` was at `now`, as every view of coord prints it: `12s ago`, or `now`
/// within a second.
#[must_use]
pub fn ago(then: Timestamp, now: Timestamp) -> String {
    let d = now.since(then);
    if d < Duration::from_secs(1) {
        "now".to_owned()
    } else {
        format!("{} ago", Compact(d))
    }
}

fn write_pair(f: &mut fmt::Formatter<'_>, a: u64, ua: &str, b: u64, ub: &str) -> fmt::Result {
    if b == 0 {
        write!(f, "{a}{ua}")
    } else {
        write!(f, "{a}{ua}{b}{ub}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ago_says_now_within_a_second() {
        let t = Timestamp::from_millis(1_764_064_800_123);
        assert_eq!(ago(t, t.plus(Duration::from_millis(400))), "now");
        assert_eq!(ago(t, t.plus(Duration::from_secs(754))), "12m34s ago");
    }

    #[test]
    fn compact_uses_at_most_two_units() {
        let cases = [
            (0, "0s"),
            (850, "0s"),
            (12_000, "12s"),
            (60_000, "1m"),
            (250_000, "4m10s"),
            (3_600_000, "1h"),
            (11_100_000, "3h5m"),
            (86_400_000 * 2 + 3_600_000 * 4 + 59_000, "2d4h"),
        ];
        for (ms, want) in cases {
            assert_eq!(
                Compact(Duration::from_millis(ms)).to_string(),
                want,
                "{ms} ms"
            );
        }
    }

    #[test]
    fn since_never_goes_negative() {
        let a = Timestamp::from_millis(1_000);
        let b = Timestamp::from_millis(4_000);
        assert_eq!(b.since(a), Duration::from_secs(3));
        assert_eq!(a.since(b), Duration::ZERO);
        assert_eq!(a.plus(Duration::from_secs(3)), b);
        assert_eq!(b.minus(Duration::from_secs(3)), a);
    }
}
