//! ntp.conf's `leapfile`: the NIST/IERS `leap-seconds.list` that tells when the next
//! leap second falls, so slewd can warn its clients (the leap indicator) and arm the
//! kernel (`STA_INS`/`STA_DEL`) even when its upstream servers do not say so.
//!
//! Format: `#` starts a comment; `#@ T` is the file's expiry and `#$ T` its last
//! update (NTP seconds); every other line is `T OFFSET`, the NTP second from which
//! TAI − UTC is OFFSET. A change of OFFSET at T means a leap second at the end of
//! the UTC day before T (+1: inserted, −1: deleted).
//!
//! This module only reads the file; what to announce and when to arm the kernel is
//! decided in slew-core ([`slew_core::endpoint::LeapSchedule`]).

use std::fmt;
use std::path::Path;

use slew_core::LeapIndicator;

/// Seconds from the NTP epoch to the Unix epoch.
const UNIX_OFFSET_S: i64 = 2_208_988_800;

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
    /// which the new offset starts, i.e. the midnight that ends the leap day). What
    /// to announce and when to arm the clock is slew-core's
    /// [`LeapSchedule`](slew_core::endpoint::LeapSchedule).
    pub fn next_leap(&self, now_unix: i64) -> Option<(LeapIndicator, i64)> {
        self.schedule(now_unix).next_leap(now_unix)
    }

    /// The core's schedule from this table at `now_unix`.
    pub fn schedule(&self, now_unix: i64) -> slew_core::endpoint::LeapSchedule {
        slew_core::endpoint::LeapSchedule::from_table(&self.entries, now_unix)
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
        // Announcing and arming: slew-core's LeapSchedule, tested there.
        let s = t.schedule(LEAP_AT - 20 * 86_400);
        assert_eq!(s.announce(LEAP_AT - 20 * 86_400), LeapIndicator::Insert);
    }

    #[test]
    fn a_negative_leap_is_a_deletion() {
        let t = parse("2272060800 10\n3976214400 9\n").unwrap();
        assert_eq!(
            t.next_leap(LEAP_AT - 60),
            Some((LeapIndicator::Delete, LEAP_AT))
        );
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
