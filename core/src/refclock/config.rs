//! ntpd's refclock lines, parsed on their own (the ntp.conf parser will call these
//! when a `server` address is `127.127.T.U`):
//!
//! ```text
//! server 127.127.28.0 minpoll 4 maxpoll 4 prefer mode 1
//! fudge  127.127.28.0 time1 0.420 refid GPS stratum 0 flag1 1
//! ```
//!
//! Both take the words after the keyword. `fudge` options are applied onto the
//! [`Fudge`] of the refclock with the same address.

use super::source::{Driver, Fudge, RefclockConfig};
use crate::time::PollInterval;
use crate::wire::RefId;

/// Why a refclock line was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefclockConfigError {
    /// The address is not `127.127.T.U`.
    NotRefclock,
    /// A type slew has no driver for (the number is in it).
    UnknownDriver(u8),
    /// An option this line does not take.
    UnknownOption,
    /// An option without its value.
    MissingValue,
    /// A value out of range or not a number.
    BadValue,
}

impl RefclockConfigError {
    /// A short reason for diagnostics.
    pub const fn reason(self) -> &'static str {
        match self {
            RefclockConfigError::NotRefclock => "not a reference clock address (127.127.T.U)",
            RefclockConfigError::UnknownDriver(_) => {
                "no driver for this refclock type (20 NMEA, 22 PPS, 28 SHM)"
            }
            RefclockConfigError::UnknownOption => "unknown option",
            RefclockConfigError::MissingValue => "option needs a value",
            RefclockConfigError::BadValue => "bad value",
        }
    }
}

/// `127.127.T.U` → (type, unit); `None` for any other address.
pub fn refclock_address(addr: &str) -> Option<(u8, u8)> {
    let rest = addr.strip_prefix("127.127.")?;
    let (t, u) = rest.split_once('.')?;
    let parse = |s: &str| {
        (!s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u8>().ok())
            .flatten()
    };
    Some((parse(t)?, parse(u)?))
}

fn driver_of(addr: &str) -> Result<(Driver, u8), RefclockConfigError> {
    let (t, unit) = refclock_address(addr).ok_or(RefclockConfigError::NotRefclock)?;
    let driver = Driver::from_type(t).ok_or(RefclockConfigError::UnknownDriver(t))?;
    Ok((driver, unit))
}

fn poll_value(v: &str) -> Result<PollInterval, RefclockConfigError> {
    let p: i8 = v.parse().map_err(|_| RefclockConfigError::BadValue)?;
    // ntpd takes 3..17 for refclocks too (a refclock may poll every 8 s).
    if (3..=17).contains(&p) {
        Ok(PollInterval::from_log2(p))
    } else {
        Err(RefclockConfigError::BadValue)
    }
}

/// The words after `server` (or `peer`/`pool`, which ntpd treats alike for a
/// refclock address): the address, then options.
pub fn parse_server<'a>(
    words: impl IntoIterator<Item = &'a str>,
) -> Result<RefclockConfig, RefclockConfigError> {
    let mut words = words.into_iter();
    let addr = words.next().ok_or(RefclockConfigError::NotRefclock)?;
    let (driver, unit) = driver_of(addr)?;
    let mut cfg = RefclockConfig::new(driver, unit);
    while let Some(w) = words.next() {
        match w {
            "prefer" => cfg.prefer = true,
            "noselect" => cfg.noselect = true,
            // Accepted and meaningless for a refclock, as in ntpd.
            "iburst" | "burst" | "true" => {}
            "minpoll" | "maxpoll" | "mode" => {
                let v = words.next().ok_or(RefclockConfigError::MissingValue)?;
                match w {
                    "minpoll" => cfg.minpoll = poll_value(v)?,
                    "maxpoll" => cfg.maxpoll = poll_value(v)?,
                    _ => cfg.mode = v.parse().map_err(|_| RefclockConfigError::BadValue)?,
                }
            }
            _ => return Err(RefclockConfigError::UnknownOption),
        }
    }
    if cfg.maxpoll < cfg.minpoll {
        cfg.maxpoll = cfg.minpoll;
    }
    Ok(cfg)
}

/// The words after `fudge`: the address it applies to and the fudge factors, applied
/// onto `base` (a later `fudge` line changes only what it names, as in ntpd).
pub fn parse_fudge<'a>(
    words: impl IntoIterator<Item = &'a str>,
    base: Fudge,
) -> Result<(Driver, u8, Fudge), RefclockConfigError> {
    let mut words = words.into_iter();
    let addr = words.next().ok_or(RefclockConfigError::NotRefclock)?;
    let (driver, unit) = driver_of(addr)?;
    let mut f = base;
    while let Some(w) = words.next() {
        let v = words.next().ok_or(RefclockConfigError::MissingValue)?;
        match w {
            "time1" | "time2" => {
                let s: f64 = v.parse().map_err(|_| RefclockConfigError::BadValue)?;
                if !s.is_finite() || s.abs() > 86_400.0 {
                    return Err(RefclockConfigError::BadValue);
                }
                if w == "time1" {
                    f.time1_s = s;
                } else {
                    f.time2_s = s;
                }
            }
            "stratum" => {
                let s: u8 = v.parse().map_err(|_| RefclockConfigError::BadValue)?;
                if s > 15 {
                    return Err(RefclockConfigError::BadValue);
                }
                f.stratum = Some(s);
            }
            "refid" => {
                let b = v.as_bytes();
                if b.is_empty() || b.len() > 4 || !b.iter().all(|c| c.is_ascii_graphic()) {
                    return Err(RefclockConfigError::BadValue);
                }
                let mut id = [0u8; 4];
                for (d, s) in id.iter_mut().zip(b) {
                    *d = *s;
                }
                f.refid = Some(RefId::from_bytes(id));
            }
            "flag1" | "flag2" | "flag3" | "flag4" => {
                let bit = match w {
                    "flag1" => 1,
                    "flag2" => 2,
                    "flag3" => 4,
                    _ => 8,
                };
                match v {
                    "0" => f.flags &= !bit,
                    "1" => f.flags |= bit,
                    _ => return Err(RefclockConfigError::BadValue),
                }
            }
            _ => return Err(RefclockConfigError::UnknownOption),
        }
    }
    Ok((driver, unit, f))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> core::str::SplitWhitespace<'_> {
        s.split_whitespace()
    }

    #[test]
    fn addresses() {
        assert_eq!(refclock_address("127.127.28.0"), Some((28, 0)));
        assert_eq!(refclock_address("127.127.20.3"), Some((20, 3)));
        assert_eq!(refclock_address("127.0.0.1"), None);
        assert_eq!(refclock_address("127.127.28"), None);
        assert_eq!(refclock_address("127.127.28.256"), None);
        assert_eq!(refclock_address("127.127.+1.0"), None);
    }

    #[test]
    fn server_lines() {
        let c = parse_server(words("127.127.28.0 minpoll 4 maxpoll 4 prefer")).expect("ok");
        assert_eq!((c.driver, c.unit, c.prefer), (Driver::Shm, 0, true));
        assert_eq!((c.minpoll.log2(), c.maxpoll.log2()), (4, 4));
        let c = parse_server(words("127.127.20.1 mode 17 noselect iburst")).expect("ok");
        assert_eq!(
            (c.driver, c.unit, c.mode, c.noselect),
            (Driver::Nmea, 1, 17, true)
        );
        assert_eq!(c.minpoll, PollInterval::DEFAULT_MIN);
        let c = parse_server(words("127.127.22.0 minpoll 8 maxpoll 4")).expect("ok");
        assert_eq!(c.maxpoll.log2(), 8, "maxpoll raised to minpoll");
    }

    #[test]
    fn server_errors() {
        assert_eq!(
            parse_server(words("10.0.0.1")),
            Err(RefclockConfigError::NotRefclock)
        );
        assert_eq!(
            parse_server(words("127.127.1.0")),
            Err(RefclockConfigError::UnknownDriver(1))
        );
        assert_eq!(
            parse_server(words("127.127.28.0 minpoll")),
            Err(RefclockConfigError::MissingValue)
        );
        assert_eq!(
            parse_server(words("127.127.28.0 minpoll 30")),
            Err(RefclockConfigError::BadValue)
        );
        assert_eq!(
            parse_server(words("127.127.28.0 key 3")),
            Err(RefclockConfigError::UnknownOption)
        );
        assert_eq!(
            parse_server(words("")),
            Err(RefclockConfigError::NotRefclock)
        );
    }

    #[test]
    fn fudge_lines() {
        let (d, u, f) = parse_fudge(
            words("127.127.20.0 time1 0.0 time2 -0.040 stratum 1 refid GNSS flag1 1 flag4 1"),
            Fudge::default(),
        )
        .expect("ok");
        assert_eq!((d, u), (Driver::Nmea, 0));
        assert_eq!(f.time2_s, -0.040);
        assert_eq!(f.stratum, Some(1));
        assert_eq!(f.refid, Some(RefId::from_ascii(b"GNSS")));
        assert!(f.flag(1) && !f.flag(2) && !f.flag(3) && f.flag(4));
        // A second line changes only what it names.
        let (_, _, f2) = parse_fudge(words("127.127.20.0 flag1 0 refid GP"), f).expect("ok");
        assert!(!f2.flag(1) && f2.flag(4));
        assert_eq!(f2.time2_s, -0.040);
        assert_eq!(f2.refid, Some(RefId::from_bytes(*b"GP\0\0")));
    }

    #[test]
    fn fudge_errors() {
        let e = |s| parse_fudge(words(s), Fudge::default()).map(|_| ());
        assert_eq!(
            e("127.127.28.0 time1"),
            Err(RefclockConfigError::MissingValue)
        );
        assert_eq!(
            e("127.127.28.0 time1 x"),
            Err(RefclockConfigError::BadValue)
        );
        assert_eq!(
            e("127.127.28.0 time1 NaN"),
            Err(RefclockConfigError::BadValue)
        );
        assert_eq!(
            e("127.127.28.0 stratum 16"),
            Err(RefclockConfigError::BadValue)
        );
        assert_eq!(
            e("127.127.28.0 refid TOOLONG"),
            Err(RefclockConfigError::BadValue)
        );
        assert_eq!(
            e("127.127.28.0 flag1 2"),
            Err(RefclockConfigError::BadValue)
        );
        assert_eq!(
            e("127.127.28.0 flag5 1"),
            Err(RefclockConfigError::UnknownOption)
        );
        assert_eq!(
            e("127.0.0.1 time1 0"),
            Err(RefclockConfigError::NotRefclock)
        );
    }
}
