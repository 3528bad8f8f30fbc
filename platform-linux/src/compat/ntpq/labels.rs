//! ntpq 4.2.8's labelled lists — `sysinfo`, `kerninfo`, `sysstats`, `iostats`,
//! `monstats`, `authinfo` — as pure functions of the variables answered.

use super::format::{address_and_port, get, unquote};
use crate::compat::names::{self, pretty_date, visible};

/// How a labelled list shows a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// The value, quotes removed; the line is left out when the server did not send it.
    Text,
    /// An address (`peeradr`): the host name; `0.0.0.0` when missing.
    Address,
    /// A timestamp: prettydate; 1900/2036 when missing.
    Time,
    /// A mode number: its name.
    Mode,
    /// The leap bits: `00` … `11`.
    Leap,
}

/// One labelled line of `sysinfo` & co.: variable, label, how shown.
pub type Label = (&'static str, &'static str, Shown);

/// `sysinfo` (with the status line).
pub const SYSINFO: &[Label] = &[
    ("peeradr", "system peer:      ", Shown::Address),
    ("peermode", "system peer mode: ", Shown::Mode),
    ("leap", "leap indicator:   ", Shown::Leap),
    ("stratum", "stratum:          ", Shown::Text),
    ("precision", "log2 precision:   ", Shown::Text),
    ("rootdelay", "root delay:       ", Shown::Text),
    ("rootdisp", "root dispersion:  ", Shown::Text),
    ("refid", "reference ID:     ", Shown::Text),
    ("reftime", "reference time:   ", Shown::Time),
    ("sys_jitter", "system jitter:    ", Shown::Text),
    ("clk_jitter", "clock jitter:     ", Shown::Text),
    ("clk_wander", "clock wander:     ", Shown::Text),
    ("bcastdelay", "broadcast delay:  ", Shown::Text),
    ("authdelay", "symm. auth. delay:", Shown::Text),
];

/// `kerninfo` (with the status line).
pub const KERNINFO: &[Label] = &[
    ("koffset", "pll offset:          ", Shown::Text),
    ("kfreq", "pll frequency:       ", Shown::Text),
    ("kmaxerr", "maximum error:       ", Shown::Text),
    ("kesterr", "estimated error:     ", Shown::Text),
    ("kstflags", "kernel status:       ", Shown::Text),
    ("ktimeconst", "pll time constant:   ", Shown::Text),
    ("kprecis", "precision:           ", Shown::Text),
    ("kfreqtol", "frequency tolerance: ", Shown::Text),
    ("kppsfreq", "pps frequency:       ", Shown::Text),
    ("kppsstab", "pps stability:       ", Shown::Text),
    ("kppsjitter", "pps jitter:          ", Shown::Text),
    ("kppscalibdur", "calibration interval ", Shown::Text),
    ("kppscalibs", "calibration cycles:  ", Shown::Text),
    ("kppsjitexc", "jitter exceeded:     ", Shown::Text),
    ("kppsstbexc", "stability exceeded:  ", Shown::Text),
    ("kppscaliberrs", "calibration errors:  ", Shown::Text),
];

/// `sysstats`.
pub const SYSSTATS: &[Label] = &[
    ("ss_uptime", "uptime:               ", Shown::Text),
    ("ss_reset", "sysstats reset:       ", Shown::Text),
    ("ss_received", "packets received:     ", Shown::Text),
    ("ss_thisver", "current version:      ", Shown::Text),
    ("ss_oldver", "older version:        ", Shown::Text),
    ("ss_badformat", "bad length or format: ", Shown::Text),
    ("ss_badauth", "authentication failed:", Shown::Text),
    ("ss_declined", "declined:             ", Shown::Text),
    ("ss_restricted", "restricted:           ", Shown::Text),
    ("ss_limited", "rate limited:         ", Shown::Text),
    ("ss_kodsent", "KoD responses:        ", Shown::Text),
    ("ss_processed", "processed for time:   ", Shown::Text),
];

/// `iostats`.
pub const IOSTATS: &[Label] = &[
    ("iostats_reset", "time since reset:     ", Shown::Text),
    ("total_rbuf", "receive buffers:      ", Shown::Text),
    ("free_rbuf", "free receive buffers: ", Shown::Text),
    ("used_rbuf", "used receive buffers: ", Shown::Text),
    ("rbuf_lowater", "low water refills:    ", Shown::Text),
    ("io_dropped", "dropped packets:      ", Shown::Text),
    ("io_ignored", "ignored packets:      ", Shown::Text),
    ("io_received", "received packets:     ", Shown::Text),
    ("io_sent", "packets sent:         ", Shown::Text),
    ("io_sendfailed", "packet send failures: ", Shown::Text),
    ("io_wakeups", "input wakeups:        ", Shown::Text),
    ("io_goodwakeups", "useful input wakeups: ", Shown::Text),
];

/// `monstats`.
pub const MONSTATS: &[Label] = &[
    ("mru_enabled", "enabled:            ", Shown::Text),
    ("mru_depth", "addresses:          ", Shown::Text),
    ("mru_deepest", "peak addresses:     ", Shown::Text),
    ("mru_maxdepth", "maximum addresses:  ", Shown::Text),
    ("mru_mindepth", "reclaim above count:", Shown::Text),
    ("mru_maxage", "reclaim older than: ", Shown::Text),
    ("mru_mem", "kilobytes:          ", Shown::Text),
    ("mru_maxmem", "maximum kilobytes:  ", Shown::Text),
];

/// `authinfo`.
pub const AUTHINFO: &[Label] = &[
    ("authreset", "time since reset:", Shown::Text),
    ("authkeys", "stored keys:     ", Shown::Text),
    ("authfreek", "free keys:       ", Shown::Text),
    ("authklookups", "key lookups:     ", Shown::Text),
    ("authknotfound", "keys not found:  ", Shown::Text),
    ("authkuncached", "uncached keys:   ", Shown::Text),
    ("authkexpired", "expired keys:    ", Shown::Text),
    ("authencrypts", "encryptions:     ", Shown::Text),
    ("authdecrypts", "decryptions:     ", Shown::Text),
];

const MODES: [&str; 8] = [
    "unspec",
    "active",
    "passive",
    "client",
    "server",
    "broadcast",
    "control",
    "private",
];

/// A labelled list from the variables answered: `label  value` lines; a text
/// variable the server did not send is left out (as ntpq 4.2.8 does).
pub fn labelled(
    table: &[Label],
    status: Option<u16>,
    vars: &[(String, Option<String>)],
    numeric: bool,
) -> String {
    let mut out = String::new();
    if let Some(st) = status {
        out.push_str(&format!(
            "associd=0 status={st:04x} {},\n",
            names::system_status(st)
        ));
    }
    for (var, label, shown) in table {
        let v = get(vars, var).map(unquote);
        let text = match shown {
            Shown::Text => match v {
                Some(v) => v.to_string(),
                None => continue,
            },
            Shown::Address => address_and_port(v.unwrap_or("0.0.0.0"), numeric),
            Shown::Time => {
                let (s, f) = v.and_then(names::parse_timestamp).unwrap_or((0, 0));
                pretty_date(s, f)
            }
            Shown::Mode => {
                let m = v.and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
                MODES
                    .get(m)
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| format!("mode#{m}"))
            }
            Shown::Leap => {
                let l = v.and_then(|v| v.parse::<u8>().ok()).unwrap_or(0) & 3;
                format!("{}{}", l >> 1, l & 1)
            }
        };
        out.push_str(&format!("{label}  {}\n", visible(&text)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compat::ntpq::format::split_vars;

    #[test]
    fn labelled_lists_leave_out_what_is_not_answered() {
        let v = split_vars(
            b"stratum=11, precision=-24, refid=LOCL, peeradr=127.127.1.0, peermode=3, leap=0",
        );
        let out = labelled(&SYSINFO[..5], Some(0x0515), &v, true);
        assert_eq!(
            out,
            "associd=0 status=0515 leap_none, sync_local, 1 event, clock_sync,\n\
             system peer:        127.127.1.0\n\
             system peer mode:   client\n\
             leap indicator:     00\n\
             stratum:            11\n\
             log2 precision:     -24\n"
        );
        assert_eq!(labelled(SYSSTATS, None, &[], true), "");
    }
}
