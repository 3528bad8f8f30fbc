//! The words ntp 4.2.8's tools print for status words and timestamps: `leap_none,
//! sync_ntp, 3 events, clock_sync`, `conf, reach, sel_sys.peer, 1 event, reachable`,
//! `eeb9b947.33d359b3  Tue, Dec  1 2026 21:23:19.202`.

const LEAP: [&str; 4] = ["leap_none", "leap_add_sec", "leap_del_sec", "leap_alarm"];
const SYNC: [&str; 10] = [
    "sync_unspec",
    "sync_pps",
    "sync_lf_radio",
    "sync_hf_radio",
    "sync_uhf_radio",
    "sync_local",
    "sync_ntp",
    "sync_other",
    "sync_wristwatch",
    "sync_telephone",
];
const SYS_EVENTS: [&str; 16] = [
    "unspecified",
    "freq_not_set",
    "freq_set",
    "spike_detect",
    "freq_mode",
    "clock_sync",
    "restart",
    "panic_stop",
    "no_sys_peer",
    "leap_armed",
    "leap_disarmed",
    "leap_event",
    "clock_step",
    "kern",
    "TAI",
    "stale_leapsecond_values",
];
const SELECT: [&str; 8] = [
    "sel_reject",
    "sel_falsetick",
    "sel_excess",
    "sel_outlier",
    "sel_candidate",
    "sel_backup",
    "sel_sys.peer",
    "sel_pps.peer",
];
/// Peer events 1..=15 (0 is "unspecified" and not printed).
pub const PEER_EVENTS: [&str; 16] = [
    "",
    "mobilize",
    "demobilize",
    "unreachable",
    "reachable",
    "restart",
    "no_reply",
    "rate_exceeded",
    "access_denied",
    "leap_armed",
    "sys_peer",
    "clock_event",
    "bad_auth",
    "popcorn",
    "interleave_mode",
    "interleave_error",
];
/// Peer status bits, high to low, as ntpq names them.
const PEER_BITS: [(u8, &str); 5] = [
    (0x80, "conf"),
    (0x40, "authenb"),
    (0x20, "auth"),
    (0x10, "reach"),
    (0x08, "bcast"),
];

fn code(table: &[&'static str], i: u16, prefix: &str) -> String {
    table
        .get(usize::from(i))
        .map(|s| s.to_string())
        .unwrap_or_else(|| format!("{prefix}_{i}"))
}

/// "no events", "1 event", "3 events".
pub fn events(count: u16) -> String {
    match count {
        0 => "no events".into(),
        1 => "1 event".into(),
        n => format!("{n} events"),
    }
}

/// The system status word in words: `leap_none, sync_local, 1 event, clock_sync`.
pub fn system_status(word: u16) -> String {
    format!(
        "{}, {}, {}, {}",
        code(&LEAP, word >> 14, "leap"),
        code(&SYNC, (word >> 8) & 0x3f, "sync"),
        events((word >> 4) & 0xf),
        code(&SYS_EVENTS, word & 0xf, ""),
    )
}

/// A peer status word in words: `conf, reach, sel_sys.peer, 1 event, reachable`.
pub fn peer_status(word: u16) -> String {
    let bits = (word >> 8) as u8;
    let flags: Vec<&str> = PEER_BITS
        .iter()
        .filter(|(b, _)| bits & b != 0)
        .map(|(_, n)| *n)
        .collect();
    let mut out = format!(
        "{}, {}, {}",
        flags.join(", "),
        code(&SELECT, u16::from(bits & 7), "sel"),
        events((word >> 4) & 0xf)
    );
    let event = usize::from(word & 0xf);
    if event != 0 {
        out.push_str(", ");
        out.push_str(PEER_EVENTS.get(event).copied().unwrap_or(""));
    }
    out
}

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Unix seconds of an NTP timestamp's seconds field, in the era nearest 2026 (as ntp
/// does, 1968–2104 with the pivot of era 1 at 2036).
fn unix_of_ntp(seconds: u32) -> i64 {
    const NTP_TO_UNIX: i64 = 2_208_988_800;
    let s = i64::from(seconds) - NTP_TO_UNIX;
    // Era 0 ends in 2036: timestamps below 1968 (era 0) belong to era 1.
    if s < -(1i64 << 31) {
        s + (1i64 << 32)
    } else {
        s
    }
}

/// ntp's prettydate: `eeb9b947.33d359b3  Tue, Dec  1 2026 21:23:19.202`, in the
/// local time zone (as ntpq and ntpdate print it).
pub fn pretty_date(seconds: u32, fraction: u32) -> String {
    let mut ms = fraction / 4_294_967;
    let mut s = seconds;
    if ms >= 1000 {
        ms -= 1000;
        s = s.wrapping_add(1);
    }
    let unix = unix_of_ntp(s);
    let t = unix as libc::time_t;
    // SAFETY: localtime_r only writes the tm it is given; both outlive the call.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            None
        } else {
            Some(tm)
        }
    };
    let Some(tm) = tm else {
        return format!("{seconds:08x}.{fraction:08x}");
    };
    format!(
        "{seconds:08x}.{fraction:08x}  {}, {} {:2} {:4} {:2}:{:02}:{:02}.{:03}",
        DAYS.get(tm.tm_wday as usize).copied().unwrap_or("???"),
        MONTHS.get(tm.tm_mon as usize).copied().unwrap_or("???"),
        tm.tm_mday,
        1900 + tm.tm_year,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        ms
    )
}

/// Parses `0xSSSSSSSS.FFFFFFFF` or `SSSSSSSS.FFFFFFFF` (how servers send timestamps).
pub fn parse_timestamp(text: &str) -> Option<(u32, u32)> {
    let t = text.strip_prefix("0x").unwrap_or(text);
    let (s, f) = t.split_once('.')?;
    if s.len() > 8 || f.len() > 8 || s.is_empty() || f.is_empty() {
        return None;
    }
    Some((
        u32::from_str_radix(s, 16).ok()?,
        u32::from_str_radix(f, 16).ok()?,
    ))
}

/// A reference clock address (127.127.T.U) as ntp names the driver: `LOCAL(0)`.
pub fn refclock_name(addr: &str) -> Option<String> {
    let ip: std::net::Ipv4Addr = addr.parse().ok()?;
    let [a, b, t, u] = ip.octets();
    if (a, b) != (127, 127) {
        return None;
    }
    let name = match t {
        1 => "LOCAL",
        4 => "WWVB_SPEC",
        8 => "GENERIC",
        20 => "GPS_NMEA",
        22 => "PPS",
        28 => "SHM",
        _ => return Some(format!("REFCLK({t},{u})")),
    };
    Some(format!("{name}({u})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_words_in_ntpqs_words() {
        assert_eq!(
            system_status(0x0515),
            "leap_none, sync_local, 1 event, clock_sync"
        );
        assert_eq!(
            system_status(0xc618),
            "leap_alarm, sync_ntp, 1 event, no_sys_peer"
        );
        assert_eq!(
            peer_status(0x9614),
            "conf, reach, sel_sys.peer, 1 event, reachable"
        );
        assert_eq!(peer_status(0x8000), "conf, sel_reject, no events");
        assert_eq!(
            peer_status(0x943a),
            "conf, reach, sel_candidate, 3 events, sys_peer"
        );
    }

    #[test]
    fn prettydate_in_utc() {
        std::env::set_var("TZ", "UTC");
        // 2026-12-01 21:23:19.202 UTC
        assert_eq!(
            pretty_date(0xeeb9_b947, 0x33d3_59b3),
            "eeb9b947.33d359b3  Tue, Dec  1 2026 21:23:19.202"
        );
        // Zero is 2036-02-07 06:28:16 (era 1), as ntp prints it.
        assert_eq!(
            pretty_date(0, 0),
            "00000000.00000000  Thu, Feb  7 2036  6:28:16.000"
        );
        assert_eq!(
            parse_timestamp("0xeeb9b947.33d359b3"),
            Some((0xeeb9b947, 0x33d359b3))
        );
        assert_eq!(
            parse_timestamp("eeb9b947.33d359b3"),
            Some((0xeeb9b947, 0x33d359b3))
        );
        assert_eq!(parse_timestamp("12"), None);
        assert_eq!(refclock_name("127.127.1.0").as_deref(), Some("LOCAL(0)"));
        assert_eq!(refclock_name("127.0.0.1"), None);
    }
}

/// Text from a server made safe for the terminal as ntpq's makeascii does it (the
/// `cat -v` way): control characters as `^X`, DEL as `^?`, bytes with the high bit
/// as `M-` and the rest. Printable ASCII passes unchanged.
pub fn visible(text: &str) -> String {
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for b in text.bytes() {
        let mut c = b;
        if c & 0x80 != 0 {
            out.push_str("M-");
            c &= 0x7f;
        }
        match c {
            0..=0x1f => {
                out.push('^');
                out.push(char::from(c + b'@'));
            }
            0x7f => out.push_str("^?"),
            _ => out.push(char::from(c)),
        }
    }
    out
}

#[cfg(test)]
mod visible_tests {
    use super::visible;

    #[test]
    fn control_bytes_are_shown_not_sent() {
        assert_eq!(visible("LOCAL(0)"), "LOCAL(0)");
        assert_eq!(visible("a\u{1b}[2Jb"), "a^[[2Jb");
        assert_eq!(visible("x\ty\u{7f}"), "x^Iy^?");
        assert_eq!(visible("é"), "M-CM-)");
    }
}
