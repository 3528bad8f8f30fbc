//! ntp.conf's `leapfile`: the NIST/IERS `leap-seconds.list` that tells when the next
//! leap second falls, so slewd can warn its clients (the leap indicator) and arm the
//! kernel (`STA_INS`/`STA_DEL`) even when its upstream servers do not say so.
//!
//! Format: `#` starts a comment; `#@ T` is the file's expiry and `#$ T` its last
//! update (NTP seconds); every other line is `T OFFSET`, the NTP second from which
//! TAI − UTC is OFFSET. A change of OFFSET at T means a leap second at the end of
//! the UTC day before T (+1: inserted, −1: deleted).

use std::fmt;
use std::path::Path;

use slew_core::LeapIndicator;

/// Seconds from the NTP epoch to the Unix epoch.
const UNIX_OFFSET_S: i64 = 2_208_988_800;

/// Clients are warned this long before a leap second (ntpd announces it for the
/// month before; 28 days keeps the warning within the month).
pub const ANNOUNCE_BEFORE_S: i64 = 28 * 86_400;

/// The kernel is armed this long before: it inserts or deletes at the next UTC
/// midnight while the flag is set, so the flag must only be set on the last day.
pub const ARM_BEFORE_S: i64 = 86_400;

/// A parsed leap-seconds list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeapTable {
    /// (Unix second the new offset starts, TAI − UTC from then on).
    pub entries: Vec<(i64, i32)>,
    /// When the file stops being authoritative (Unix seconds), if it says.
    pub expires: Option<i64>,
}

/// Why a leapfile was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeapFileError {
    /// 1-based line, 0 for the whole file.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for LeapFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

fn ntp_to_unix(word: &str, line: usize) -> Result<i64, LeapFileError> {
    word.parse::<i64>()
        .ok()
        .and_then(|t| t.checked_sub(UNIX_OFFSET_S))
        .ok_or_else(|| LeapFileError {
            line,
            message: format!("`{word}` is not a time in NTP seconds"),
        })
}

/// Parses a leap-seconds list.
pub fn parse(text: &str) -> Result<LeapTable, LeapFileError> {
    let mut table = LeapTable::default();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if let Some(rest) = raw.strip_prefix("#@") {
            let word = rest.split_whitespace().next().unwrap_or("");
            table.expires = Some(ntp_to_unix(word, line)?);
            continue;
        }
        let data = raw.split('#').next().unwrap_or("").trim();
        if data.is_empty() {
            continue;
        }
        let mut words = data.split_whitespace();
        let (Some(t), Some(off)) = (words.next(), words.next()) else {
            return Err(LeapFileError {
                line,
                message: "expected `NTP-SECONDS TAI-OFFSET`".into(),
            });
        };
        let at = ntp_to_unix(t, line)?;
        let offset: i32 = off.parse().map_err(|_| LeapFileError {
            line,
            message: format!("`{off}` is not a TAI − UTC offset"),
        })?;
        if table.entries.last().is_some_and(|&(prev, _)| prev >= at) {
            return Err(LeapFileError {
                line,
                message: "times must increase".into(),
            });
        }
        table.entries.push((at, offset));
    }
    if table.entries.is_empty() {
        return Err(LeapFileError {
            line: 0,
            message: "no leap second entries".into(),
        });
    }
    Ok(table)
}

/// Reads and parses `path`.
pub fn read(path: &Path) -> Result<LeapTable, LeapFileError> {
    let text = std::fs::read_to_string(path).map_err(|e| LeapFileError {
        line: 0,
        message: e.to_string(),
    })?;
    parse(&text)
}

impl LeapTable {
    /// The next leap second after `now_unix`: (insert or delete, the Unix second at
    /// which the new offset starts, i.e. the midnight that ends the leap day).
    pub fn next_leap(&self, now_unix: i64) -> Option<(LeapIndicator, i64)> {
        let mut prev: Option<i32> = None;
        for &(at, offset) in &self.entries {
            if let Some(p) = prev {
                if at > now_unix && offset != p {
                    let kind = if offset > p {
                        LeapIndicator::Insert
                    } else {
                        LeapIndicator::Delete
                    };
                    return Some((kind, at));
                }
            }
            prev = Some(offset);
        }
        None
    }

    /// The leap indicator to announce to clients at `now_unix`.
    pub fn announce(&self, now_unix: i64) -> LeapIndicator {
        match self.next_leap(now_unix) {
            Some((kind, at)) if at - now_unix <= ANNOUNCE_BEFORE_S => kind,
            _ => LeapIndicator::NoWarning,
        }
    }

    /// The leap bit to give the kernel at `now_unix` (only on the leap day).
    pub fn arm(&self, now_unix: i64) -> LeapIndicator {
        match self.next_leap(now_unix) {
            Some((kind, at)) if at - now_unix <= ARM_BEFORE_S => kind,
            _ => LeapIndicator::NoWarning,
        }
    }

    /// True when the file's own expiry date has passed.
    pub fn expired(&self, now_unix: i64) -> bool {
        self.expires.is_some_and(|e| e < now_unix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tail of a real list's layout, with an invented future leap at
    /// 2027-01-01 (NTP 3976214400) to exercise the rules.
    const LIST: &str = "\
#\tUpdated through IERS Bulletin C
#$\t 3676924800
#@\t 3991680000
#
2272060800\t10\t# 1 Jan 1972
3692217600\t37\t# 1 Jan 2017
3976214400\t38\t# 1 Jan 2027 (invented for the test)
#h\tabcdef
";

    const LEAP_AT: i64 = 3_976_214_400 - UNIX_OFFSET_S; // 2027-01-01 00:00:00 UTC

    #[test]
    fn finds_the_next_insertion_and_when_to_act() {
        let t = parse(LIST).unwrap();
        assert_eq!(t.entries.len(), 3);
        assert_eq!(
            t.next_leap(LEAP_AT - 100),
            Some((LeapIndicator::Insert, LEAP_AT))
        );
        assert_eq!(t.next_leap(LEAP_AT), None, "after it, nothing pending");
        // Two months before: silent; 20 days before: announced, kernel not armed;
        // 10 hours before: both.
        assert_eq!(t.announce(LEAP_AT - 60 * 86_400), LeapIndicator::NoWarning);
        assert_eq!(t.announce(LEAP_AT - 20 * 86_400), LeapIndicator::Insert);
        assert_eq!(t.arm(LEAP_AT - 20 * 86_400), LeapIndicator::NoWarning);
        assert_eq!(t.arm(LEAP_AT - 10 * 3600), LeapIndicator::Insert);
        assert_eq!(t.announce(LEAP_AT + 1), LeapIndicator::NoWarning);
    }

    #[test]
    fn a_negative_leap_is_a_deletion() {
        let t = parse("2272060800 10\n3976214400 9\n").unwrap();
        assert_eq!(t.arm(LEAP_AT - 60), LeapIndicator::Delete);
    }

    #[test]
    fn expiry_and_errors() {
        let t = parse(LIST).unwrap();
        assert!(!t.expired(LEAP_AT));
        assert!(t.expired(3_991_680_001 - UNIX_OFFSET_S));
        assert_eq!(parse("2272060800\n").unwrap_err().line, 1);
        assert_eq!(parse("abc 10\n").unwrap_err().line, 1);
        assert_eq!(parse("3692217600 37\n2272060800 10\n").unwrap_err().line, 2);
        assert_eq!(parse("# only comments\n").unwrap_err().line, 0);
    }
}
