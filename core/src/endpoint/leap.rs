//! The leap-second schedule: from a leap-seconds table the port hands in, what to
//! announce to clients and when to arm the clock.
//!
//! Clients are warned [`ANNOUNCE_BEFORE_S`] before the leap (ntpd announces it for
//! the month before; 28 days keeps the warning within the month). The clock is armed
//! only on the last day ([`ARM_BEFORE_S`]): a kernel inserts or deletes at the next
//! UTC midnight while the flag is set.

use crate::clock::LeapIndicator;
use crate::time::NtpTimestamp;

/// Clients are warned this long before a leap second, seconds.
pub const ANNOUNCE_BEFORE_S: i64 = 28 * 86_400;

/// The clock is armed this long before, seconds.
pub const ARM_BEFORE_S: i64 = 86_400;

/// The next leap second of a leap-seconds table, kept without the table (no alloc).
///
/// Entries are `(unix_s, tai_minus_utc_s)`: from `unix_s` on, TAI − UTC is the second
/// value, so a change between two entries is a leap second at the end of the UTC day
/// before the later one (+1: inserted, −1: deleted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LeapSchedule {
    /// (insert or delete, the Unix second the new offset starts).
    next: Option<(LeapIndicator, i64)>,
}

impl LeapSchedule {
    /// No leap second known.
    pub const NONE: Self = Self { next: None };

    /// The first leap second after `now_unix_s` in `entries` (sorted by time).
    pub fn from_table(entries: &[(i64, i32)], now_unix_s: i64) -> Self {
        let next = entries.windows(2).find_map(|w| match w {
            [(_, before), (at, after)] if *at > now_unix_s && after != before => {
                let kind = if after > before {
                    LeapIndicator::Insert
                } else {
                    LeapIndicator::Delete
                };
                Some((kind, *at))
            }
            _ => None,
        });
        Self { next }
    }

    /// The pending leap second: (insert or delete, the Unix second that ends the
    /// leap day), if one is still to come.
    pub fn next_leap(&self, now_unix_s: i64) -> Option<(LeapIndicator, i64)> {
        self.next.filter(|&(_, at)| at > now_unix_s)
    }

    /// The leap indicator to announce to clients at `now_unix_s`.
    pub fn announce(&self, now_unix_s: i64) -> LeapIndicator {
        self.within(now_unix_s, ANNOUNCE_BEFORE_S)
    }

    /// The leap bit to give the clock at `now_unix_s` (only on the leap day).
    pub fn arm(&self, now_unix_s: i64) -> LeapIndicator {
        self.within(now_unix_s, ARM_BEFORE_S)
    }

    /// Wall time as Unix seconds, taking the NTP era nearest the pending leap (a
    /// table is only ever consulted within months of its entries).
    pub fn unix_s(&self, wall: NtpTimestamp) -> Option<i64> {
        self.next.map(|(_, at)| wall.to_unix(at).0)
    }

    fn within(&self, now_unix_s: i64, before_s: i64) -> LeapIndicator {
        match self.next_leap(now_unix_s) {
            Some((kind, at)) if at - now_unix_s <= before_s => kind,
            _ => LeapIndicator::NoWarning,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEAP_AT: i64 = 1_798_761_600; // 2027-01-01 00:00:00 UTC (invented leap)
    const TABLE: [(i64, i32); 3] = [(63_072_000, 10), (1_483_228_800, 37), (LEAP_AT, 38)];

    #[test]
    fn announces_for_four_weeks_and_arms_on_the_last_day() {
        let s = LeapSchedule::from_table(&TABLE, LEAP_AT - 100 * 86_400);
        assert_eq!(
            s.next_leap(LEAP_AT - 100),
            Some((LeapIndicator::Insert, LEAP_AT))
        );
        assert_eq!(s.announce(LEAP_AT - 60 * 86_400), LeapIndicator::NoWarning);
        assert_eq!(s.announce(LEAP_AT - 20 * 86_400), LeapIndicator::Insert);
        assert_eq!(s.arm(LEAP_AT - 20 * 86_400), LeapIndicator::NoWarning);
        assert_eq!(s.arm(LEAP_AT - 10 * 3600), LeapIndicator::Insert);
        assert_eq!(s.announce(LEAP_AT + 1), LeapIndicator::NoWarning);
        assert_eq!(s.next_leap(LEAP_AT), None, "after it, nothing pending");
    }

    #[test]
    fn a_falling_offset_is_a_deletion_and_a_past_table_has_nothing() {
        let s = LeapSchedule::from_table(&[(63_072_000, 10), (LEAP_AT, 9)], 0);
        assert_eq!(s.arm(LEAP_AT - 60), LeapIndicator::Delete);
        let past = LeapSchedule::from_table(&TABLE, LEAP_AT + 1);
        assert_eq!(past, LeapSchedule::NONE);
        assert_eq!(LeapSchedule::from_table(&[], 0), LeapSchedule::NONE);
    }

    #[test]
    fn wall_time_maps_to_unix_seconds_near_the_leap() {
        let s = LeapSchedule::from_table(&TABLE, 0);
        let wall = NtpTimestamp::from_unix(LEAP_AT - 5, 0);
        assert_eq!(s.unix_s(wall), Some(LEAP_AT - 5));
        assert_eq!(LeapSchedule::NONE.unix_s(wall), None);
    }
}
