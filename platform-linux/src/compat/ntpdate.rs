//! `ntpdate`: ntp 4.2.8's ntpdate as a thin layer over `slewctl date` (which queries,
//! chooses and sets the clock): this module parses ntpdate's options and prints
//! what ntpdate prints around the summary line — `-q`'s server lines, `-d`'s
//! transcript — and sends the summary to syslog with `-s`.
//!
//! Options: `-q` query only; `-b` always step; `-B` always slew; `-d` debug
//! transcript, never touching the clock; `-s` summary to syslog instead of standard
//! output; `-u` accepted (the query always uses an unprivileged port); `-p N`
//! samples (1–8); `-t S` timeout, seconds; `-o V` NTP version (1–4). ntpdate's
//! `-4 -6 -a -e -k -v` are refused by name.

use std::ffi::CString;
use std::fmt::Write as _;

use super::names::pretty_date;
use super::ntpq::format::host_name;
use super::{getopt, Refused};
use crate::ctl::query::{ServerReport, Unusable};

/// ntpdate's command line.
#[derive(Debug, Clone, PartialEq)]
pub struct Args {
    /// `-q`.
    pub query_only: bool,
    /// `-b`.
    pub step: bool,
    /// `-B`.
    pub slew: bool,
    /// `-d`.
    pub debug: bool,
    /// `-s`.
    pub syslog: bool,
    /// `-u`.
    pub unprivileged: bool,
    /// `-p`.
    pub samples: u32,
    /// `-t`, seconds.
    pub timeout_s: f64,
    /// `-o`.
    pub version: u8,
    /// The servers.
    pub servers: Vec<String>,
}

/// ntpdate's usage line.
pub const USAGE: &str = "usage: ntpdate [-bBdqsu] [-p samples] [-o version#] [-t timeo] server ...";

/// Parses ntpdate's command line (without argv[0]).
pub fn parse_args(args: &[String]) -> Result<Args, Refused> {
    let (opts, servers) = getopt(args, "bBdqsu46v", "potaek")?;
    let mut a = Args {
        query_only: false,
        step: false,
        slew: false,
        debug: false,
        syslog: false,
        unprivileged: false,
        samples: 4,
        timeout_s: 1.0,
        version: 4,
        servers,
    };
    for (c, v) in opts {
        let v = v.unwrap_or_default();
        match c {
            'q' => a.query_only = true,
            // The last of -b and -B wins, as in ntpdate.
            'b' => (a.step, a.slew) = (true, false),
            'B' => (a.step, a.slew) = (false, true),
            'd' => a.debug = true,
            's' => a.syslog = true,
            'u' => a.unprivileged = true,
            'p' => {
                a.samples = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=8).contains(n))
                    .ok_or_else(|| {
                        Refused::bad_value("-p", "must be a number of samples between 1 and 8")
                    })?
            }
            't' => {
                a.timeout_s = v
                    .parse()
                    .ok()
                    .filter(|t: &f64| t.is_finite() && *t > 0.0 && *t <= 60.0)
                    .ok_or_else(|| {
                        Refused::bad_value("-t", "must be a timeout in seconds (0 < t <= 60)")
                    })?
            }
            'o' => {
                a.version = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=4).contains(n))
                    .ok_or_else(|| {
                        Refused::bad_value("-o", "must be an NTP version between 1 and 4")
                    })?
            }
            other => return Err(Refused::unsupported(&format!("-{other}"))),
        }
    }
    if a.servers.is_empty() {
        return Err(Refused::bad_value(
            "server",
            "is missing: name at least one",
        ));
    }
    Ok(a)
}

/// ntpdate's `-d` reason for dropping a server.
pub fn dropped_because(u: &Unusable) -> &'static str {
    match u {
        Unusable::NotSynchronized { stratum, .. } if *stratum >= 16 => "strata too high",
        Unusable::NotSynchronized { .. } => "Leap not in sync",
        Unusable::TooFar { .. } => "server too far away",
        // No answer, a kiss, a send or resolve error, an answer not to our request:
        // ntpdate kept nothing of the server.
        _ => "no data",
    }
}

/// What ntpdate prints before its summary line: nothing, `-q`'s `server …`
/// lines, or `-d`'s transcript (transmit/receive, the dropped servers, each
/// server in full). Returns (stdout, stderr).
pub fn before_summary(args: &Args, reports: &[ServerReport]) -> (String, String) {
    let mut out = String::new();
    let mut err = String::new();
    if args.debug {
        for r in reports {
            let _ = writeln!(err, "Looking for host {} and service ntp", r.name);
            if let Some(a) = r.addr {
                let _ = writeln!(
                    err,
                    "host found : {}",
                    host_name(&a.ip().to_string(), false)
                );
            }
        }
        for r in reports {
            let Some(a) = r.addr else { continue };
            let answered = if r.samples.is_empty()
                && matches!(
                    r.problem,
                    Some(Unusable::NotSynchronized { .. } | Unusable::Kiss(_))
                ) {
                1
            } else {
                r.samples.len()
            };
            for i in 0..args.samples as usize {
                let _ = writeln!(out, "transmit({})", a.ip());
                if i < answered {
                    let _ = writeln!(out, "receive({})", a.ip());
                }
            }
        }
        for r in reports {
            if let (Some(u), Some(a)) = (r.unusable(), r.addr) {
                let _ = writeln!(out, "{}: Server dropped: {}", a.ip(), dropped_because(&u));
            }
        }
        for r in reports {
            out.push_str(&debug_server(args, r));
        }
    } else if args.query_only {
        for r in reports {
            let Some(a) = r.addr else { continue };
            match r.best() {
                Some(s) => {
                    let _ = writeln!(
                        out,
                        "server {}, stratum {}, offset {:.6}, delay {:.5}",
                        a.ip(),
                        s.repr.stratum,
                        s.offset.to_seconds_f64(),
                        s.delay.to_seconds_f64()
                    );
                }
                // ntpdate prints every server, zeros for one it kept nothing of;
                // a refused answer's stratum is known.
                None => {
                    let stratum = match &r.problem {
                        Some(Unusable::NotSynchronized { stratum, .. }) => *stratum,
                        _ => 0,
                    };
                    let _ = writeln!(
                        out,
                        "server {}, stratum {stratum}, offset 0.000000, delay 0.00000",
                        a.ip()
                    );
                }
            }
        }
    }
    (out, err)
}

/// `-d`'s block for one server.
fn debug_server(args: &Args, r: &ServerReport) -> String {
    let mut o = String::new();
    let Some(a) = r.addr else { return o };
    let best = r.best();
    let (stratum, leap) = match (best, &r.problem) {
        (Some(s), _) => (s.repr.stratum, s.repr.leap.to_bits()),
        (None, Some(Unusable::NotSynchronized { stratum, leap })) => (*stratum, leap.to_bits()),
        _ => (0, 0),
    };
    let precision = best.map_or(0, |s| s.repr.precision);
    let _ = writeln!(o, "server {}, port {}", a.ip(), a.port());
    let _ = writeln!(
        o,
        "stratum {stratum}, precision {precision}, leap {}{}, trust 000",
        (leap >> 1) & 1,
        leap & 1
    );
    let refid = match best {
        Some(s) if s.repr.stratum == 1 => super::names::visible(
            String::from_utf8_lossy(&s.repr.ref_id.to_bytes()).trim_end_matches('\0'),
        ),
        _ => a.ip().to_string(),
    };
    let delay = best.map_or(0.0, |s| s.delay.to_seconds_f64());
    let _ = writeln!(o, "refid [{refid}], delay {delay:.5}, dispersion 0.00000");
    let _ = writeln!(
        o,
        "transmitted {}, in filter {}",
        args.samples,
        r.samples.len()
    );
    let ts = |t: Option<slew_core::NtpTimestamp>| {
        let t = t.unwrap_or(slew_core::NtpTimestamp::ZERO);
        pretty_date(t.seconds(), t.fraction())
    };
    let _ = writeln!(
        o,
        "reference time:    {}",
        ts(best.map(|s| s.repr.reference_timestamp))
    );
    let _ = writeln!(
        o,
        "originate timestamp: {}",
        ts(best.map(|s| s.repr.transmit_timestamp))
    );
    let _ = writeln!(
        o,
        "transmit timestamp:  {}",
        ts(best.map(|s| s.repr.origin_timestamp))
    );
    let mut delays: Vec<f64> = r.samples.iter().map(|s| s.delay.to_seconds_f64()).collect();
    let mut offsets: Vec<f64> = r
        .samples
        .iter()
        .map(|s| s.offset.to_seconds_f64())
        .collect();
    delays.resize(8, 0.0);
    offsets.resize(8, 0.0);
    o.push_str("filter delay: ");
    for (i, d) in delays.iter().enumerate() {
        let _ = write!(o, " {:<8.8}", format!("{d:.5}"));
        if i == 3 {
            o.push_str("\n        ");
        }
    }
    o.push('\n');
    o.push_str("filter offset:");
    for (i, d) in offsets.iter().enumerate() {
        let _ = write!(o, " {:<8.8}", format!("{d:.6}"));
        if i == 3 {
            o.push_str("\n        ");
        }
    }
    o.push('\n');
    let _ = writeln!(o, "delay {delay:.5}, dispersion 0.00000");
    let offset = best.map_or(0.0, |s| s.offset.to_seconds_f64());
    let _ = writeln!(o, "offset {offset:.6}\n");
    o
}

/// Sends one line to syslog as ntpdate[pid] (facility daemon), `error` at LOG_ERR
/// else LOG_NOTICE.
pub fn syslog(message: &str, error: bool) {
    let Ok(msg) = CString::new(message.replace('\0', " ")) else {
        return;
    };
    let ident = c"ntpdate";
    let priority = if error {
        libc::LOG_ERR
    } else {
        libc::LOG_NOTICE
    };
    // SAFETY: ident is a static C string (openlog keeps the pointer); "%s" and msg
    // are valid NUL-terminated strings for the duration of the call.
    unsafe {
        libc::openlog(ident.as_ptr(), libc::LOG_PID, libc::LOG_DAEMON);
        libc::syslog(priority, c"%s".as_ptr(), msg.as_ptr());
        libc::closelog();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn ntpdates_options() {
        let a = parse_args(&s(&["-u", "-q", "-p", "2", "-t", "0.5", "-o3", "h1", "h2"])).unwrap();
        assert!(a.query_only && a.unprivileged && !a.debug);
        assert_eq!((a.samples, a.timeout_s, a.version), (2, 0.5, 3));
        assert_eq!(a.servers, s(&["h1", "h2"]));
        let a = parse_args(&s(&["-bB", "-ds", "h"])).unwrap();
        assert!(a.slew && !a.step && a.debug && a.syslog);
        for bad in ["-4", "-6", "-v", "-a", "-k", "-e"] {
            let mut v = s(&[bad]);
            if matches!(bad, "-a" | "-k" | "-e") {
                v.push("x".into());
            }
            v.push("h".into());
            let e = parse_args(&v).unwrap_err();
            assert_eq!(e.option, bad);
            assert!(e.to_string().contains("not supported"), "{e}");
        }
        assert_eq!(parse_args(&s(&["-x", "h"])).unwrap_err().option, "-x");
        assert_eq!(parse_args(&s(&["-p", "9", "h"])).unwrap_err().option, "-p");
        assert_eq!(parse_args(&s(&["-q"])).unwrap_err().option, "server");
    }
}
