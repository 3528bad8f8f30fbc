//! `server`, `pool`, `peer` and the LOCAL reference clock with its `fudge`.

use std::net::IpAddr;

use super::directives::{family_name, family_of, parse_host};
use super::error::{ConfigError, ErrorKind, Location, WarningKind};
use super::lexer::{Line, Token};
use super::model::{Host, LocalClock, Source, SourceKind, SourceOptions};
use super::parser::Parser;
use super::suggest::suggest;

/// Options of `server`/`pool`/`peer` slew implements.
const SOURCE_OPTIONS: &[&str] = &[
    "iburst", "burst", "prefer", "noselect", "true", "minpoll", "maxpoll", "key", "version",
    "port", "nts", "ca",
];
/// Options ntpd takes that slew does not; `true` when the option takes a value,
/// which is skipped with it so that it does not read as a second unknown word.
const SOURCE_UNSUPPORTED: &[(&str, bool)] = &[
    ("autokey", false),
    ("xleave", false),
    ("preempt", false),
    ("mode", true),
    ("ttl", true),
    // ntpsec: skip certificate checks. Refused: it would undo what NTS is for.
    ("noval", false),
    ("aead", true),
];

/// Poll exponents slew accepts (ntpd 4.2.8 clamps to 3..=17).
const POLL_MIN: u64 = 3;
const POLL_MAX: u64 = 17;

/// A `fudge` line waiting for all `server` lines to be known.
#[derive(Debug, Clone)]
pub(crate) struct PendingFudge {
    written: String,
    unit: u8,
    stratum: Option<u8>,
    refid: Option<String>,
    /// The address token.
    at: Location,
}

/// The refclock driver and unit of a 127.127.t.u address.
fn refclock(addr: &IpAddr) -> Option<(u8, u8)> {
    match addr {
        IpAddr::V4(a) => match a.octets() {
            [127, 127, t, u] => Some((t, u)),
            _ => None,
        },
        IpAddr::V6(_) => None,
    }
}

impl Parser<'_> {
    /// `server`/`pool`/`peer [-4|-6] ADDRESS [options]`.
    pub(super) fn source(&mut self, kind: SourceKind, line: &Line<'_>) {
        let directive = kind.name();
        let args = line.tokens.get(1..).unwrap_or(&[]);
        let (family, used) = self.family_prefix(args);
        let args = args.get(used..).unwrap_or(&[]);
        let Some(addr_tok) = args.first() else {
            self.missing(line, directive, "an address or a host name");
            return;
        };
        if SOURCE_OPTIONS.contains(&addr_tok.text) && !addr_tok.quoted {
            self.err(
                addr_tok.column,
                ErrorKind::MissingArgument {
                    after: directive.into(),
                    expected: format!("an address or a host name before `{}`", addr_tok.text),
                },
            );
            return;
        }
        // NMEA and SHM refclocks take ntpd's driver options (`mode` among them).
        let hw = addr_tok
            .text
            .parse::<IpAddr>()
            .ok()
            .as_ref()
            .and_then(refclock);
        if hw.is_some_and(|(t, _)| super::refclocks::supported(t)) {
            self.refclock_server(kind, line, addr_tok.column);
            return;
        }
        let mut ok = true;
        let host = match parse_host(addr_tok.text) {
            Ok(h) => Some(h),
            Err(reason) => {
                self.err(
                    addr_tok.column,
                    ErrorKind::InvalidAddress {
                        value: addr_tok.text.to_string(),
                        reason: reason.to_string(),
                    },
                );
                None
            }
        };
        if let (Some(Host::Ip(ip)), Some(f)) = (&host, family) {
            if family_of(ip) != f {
                ok = false;
                self.err(
                    addr_tok.column,
                    ErrorKind::Conflict {
                        message: format!(
                            "`{}` is not an {} address",
                            addr_tok.text,
                            family_name(f)
                        ),
                        hint: "remove `-4`/`-6` or fix the address".into(),
                    },
                );
            }
        }
        let (options, cols) = self.source_options(line, directive, args.get(1..).unwrap_or(&[]));
        let (Some(host), Some(options)) = (host, options) else {
            self.note_failed_clock(addr_tok.text);
            return;
        };
        if !ok {
            self.note_failed_clock(addr_tok.text);
            return;
        }
        if let Host::Ip(ip) = &host {
            if let Some((driver, unit)) = refclock(ip) {
                self.local_clock(kind, addr_tok, driver, unit, options, &cols);
                return;
            }
        }
        if let Some(id) = options.key {
            let col = cols.iter().find(|(n, _)| *n == "keyid").map_or(0, |c| c.1);
            let at = self.at(col);
            self.key_uses.push((id, at, directive));
        }
        let at = self.at(line.tokens.first().map_or(1, |t| t.column));
        self.config.sources.push(Source {
            kind,
            host,
            family,
            options,
            at,
        });
    }

    /// The options after the address. Returns None if any was bad, plus the column of
    /// each option given (to point at them in later checks).
    fn source_options(
        &mut self,
        line: &Line<'_>,
        directive: &'static str,
        args: &[Token<'_>],
    ) -> (Option<SourceOptions>, Vec<(&'static str, u32)>) {
        let mut o = SourceOptions::default();
        let mut ok = true;
        let mut cols = Vec::new();
        let mut it = args.iter();
        while let Some(t) = it.next() {
            let word = if t.quoted { "" } else { t.text };
            if let Some(&name) = SOURCE_OPTIONS.iter().find(|&&n| n == word) {
                cols.push((name, t.column));
            }
            match word {
                "iburst" => o.iburst = true,
                "burst" => o.burst = true,
                "prefer" => o.prefer = true,
                "noselect" => o.noselect = true,
                "true" => o.truechimer = true,
                "minpoll" | "maxpoll" => {
                    let n = self.number(line, it.next(), word, POLL_MIN, POLL_MAX);
                    let n = n.and_then(|n| u8::try_from(n).ok());
                    match (word, n) {
                        ("minpoll", Some(n)) => o.minpoll = Some(n),
                        (_, Some(n)) => o.maxpoll = Some(n),
                        (_, None) => ok = false,
                    }
                }
                "key" => {
                    let tok = it.next();
                    match self.key_id(line, tok, "key") {
                        Some(id) => {
                            o.key = Some(id);
                            // Warnings about the id point at the number itself.
                            cols.push(("keyid", tok.map_or(t.column, |k| k.column)));
                        }
                        None => ok = false,
                    }
                }
                "version" => match self.number(line, it.next(), "version", 1, 4) {
                    Some(n) => o.version = u8::try_from(n).ok(),
                    None => ok = false,
                },
                "port" => match self.number(line, it.next(), "port", 1, 65535) {
                    Some(n) => o.port = u16::try_from(n).ok(),
                    None => ok = false,
                },
                "nts" => o.nts = true,
                "ca" => match it.next() {
                    Some(p) => o.ca = Some(self.path_value(p).value),
                    None => {
                        self.missing(line, "ca", "the PEM file of the CAs to trust");
                        ok = false;
                    }
                },
                _ => {
                    ok = false;
                    if let Some(&(name, takes_arg)) =
                        SOURCE_UNSUPPORTED.iter().find(|(n, _)| *n == word)
                    {
                        self.err(
                            t.column,
                            ErrorKind::Unsupported {
                                word: name.into(),
                                what: format!("option of `{directive}`"),
                            },
                        );
                        if takes_arg {
                            it.next();
                        }
                    } else {
                        let suggestion = suggest(t.text, SOURCE_OPTIONS);
                        self.err(
                            t.column,
                            ErrorKind::UnknownOption {
                                directive,
                                word: t.text.to_string(),
                                suggestion,
                            },
                        );
                    }
                }
            }
        }
        if !self.nts_options(&mut o, directive, &cols) {
            ok = false;
        }
        if let (Some(min), Some(max)) = (o.minpoll, o.maxpoll) {
            if min > max {
                ok = false;
                let col = cols
                    .iter()
                    .find(|(n, _)| *n == "minpoll")
                    .map_or(0, |c| c.1);
                self.err(
                    col,
                    ErrorKind::Conflict {
                        message: format!("minpoll {min} is larger than maxpoll {max}"),
                        hint: "make minpoll at most maxpoll (ntpd would silently raise maxpoll)"
                            .into(),
                    },
                );
            }
        }
        (ok.then_some(o), cols)
    }

    /// `nts`, `ca` and `port` together: on an `nts` line `port` is the NTS-KE port;
    /// `ca` needs `nts`; `peer` cannot be NTS. False when refused.
    fn nts_options(
        &mut self,
        o: &mut SourceOptions,
        directive: &'static str,
        cols: &[(&'static str, u32)],
    ) -> bool {
        let col = |name: &str| cols.iter().find(|(n, _)| *n == name).map_or(0, |c| c.1);
        if o.nts {
            o.nts_port = o.port.take();
            if directive == "peer" {
                self.err(
                    col("nts"),
                    ErrorKind::Conflict {
                        message: "`nts` on a `peer` line".into(),
                        hint: "NTS is client/server only (RFC 8915): use `server`".into(),
                    },
                );
                return false;
            }
        } else if o.ca.is_some() {
            self.err(
                col("ca"),
                ErrorKind::Conflict {
                    message: "`ca` without `nts`".into(),
                    hint: "add `nts` to the line (the CA checks the NTS-KE server's certificate)"
                        .into(),
                },
            );
            return false;
        }
        true
    }

    /// Remember a LOCAL clock whose `server` line was refused, so that its `fudge`
    /// does not add a second, confusing error.
    fn note_failed_clock(&mut self, written: &str) {
        let unit = written.parse::<IpAddr>().ok().as_ref().and_then(refclock);
        if let Some((1, unit)) = unit {
            self.failed_clocks.push(unit);
        }
    }

    /// `server 127.127.t.u …`: only the LOCAL driver (t = 1) is supported.
    fn local_clock(
        &mut self,
        kind: SourceKind,
        addr_tok: &Token<'_>,
        driver: u8,
        unit: u8,
        options: SourceOptions,
        cols: &[(&'static str, u32)],
    ) {
        if driver != 1 {
            self.err(addr_tok.column, ErrorKind::UnsupportedRefclock { driver });
            return;
        }
        if kind != SourceKind::Server {
            self.err(
                addr_tok.column,
                ErrorKind::Conflict {
                    message: format!("the local clock cannot be a `{}`", kind.name()),
                    hint: format!("write `server {}`", addr_tok.text),
                },
            );
            return;
        }
        for &(name, col) in cols {
            match name {
                "key" | "version" | "port" => self.err(
                    col,
                    ErrorKind::Conflict {
                        message: format!("`{name}` does not apply to the local clock"),
                        hint: format!("remove `{name}` from this line"),
                    },
                ),
                "iburst" | "burst" => self.warn(
                    col,
                    WarningKind::NoEffect {
                        message: format!("`{name}` has no effect on the local clock"),
                        hint: format!("remove `{name}` from this line"),
                    },
                ),
                _ => {}
            }
        }
        if self.config.local_clocks.iter().any(|c| c.unit == unit) {
            self.err(
                addr_tok.column,
                ErrorKind::Conflict {
                    message: format!("local clock unit {unit} declared twice"),
                    hint: "remove one of the two `server` lines".into(),
                },
            );
            return;
        }
        let at = self.at(1);
        self.config.local_clocks.push(LocalClock {
            unit,
            options,
            stratum: None,
            refid: None,
            at,
            fudge_at: None,
        });
    }

    /// `fudge 127.127.1.u [stratum N] [refid XXXX]`.
    pub(super) fn fudge(&mut self, line: &Line<'_>) {
        let args = line.tokens.get(1..).unwrap_or(&[]);
        let Some(addr_tok) = args.first() else {
            self.missing(line, "fudge", "the clock's address, e.g. 127.127.1.0");
            return;
        };
        let ip = addr_tok.text.parse::<IpAddr>().ok();
        let Some((driver, unit)) = ip.as_ref().and_then(refclock) else {
            self.err(
                addr_tok.column,
                ErrorKind::InvalidAddress {
                    value: addr_tok.text.into(),
                    reason: "`fudge` takes a reference clock address 127.127.t.u".into(),
                },
            );
            return;
        };
        if super::refclocks::supported(driver) {
            self.refclock_fudge(line, addr_tok.column);
            return;
        }
        let mut ok = true;
        if driver != 1 {
            self.err(addr_tok.column, ErrorKind::UnsupportedRefclock { driver });
            ok = false;
        }
        let mut pending = PendingFudge {
            written: addr_tok.text.into(),
            unit,
            stratum: None,
            refid: None,
            at: self.at(addr_tok.column),
        };
        let mut it = args.get(1..).unwrap_or(&[]).iter();
        while let Some(t) = it.next() {
            match t.text {
                "stratum" => match self.number(line, it.next(), "stratum", 0, 15) {
                    Some(n) => pending.stratum = u8::try_from(n).ok(),
                    None => ok = false,
                },
                "refid" => match it.next() {
                    Some(r)
                        if (1..=4).contains(&r.text.len())
                            && r.text.bytes().all(|b| b.is_ascii_graphic()) =>
                    {
                        pending.refid = Some(r.text.to_string());
                    }
                    Some(r) => {
                        ok = false;
                        self.err(
                            r.column,
                            ErrorKind::InvalidValue {
                                after: "refid".into(),
                                value: r.text.into(),
                                expected: "1 to 4 ASCII characters, e.g. LOCL".into(),
                                suggestion: None,
                            },
                        );
                    }
                    None => {
                        ok = false;
                        self.missing(line, "refid", "1 to 4 ASCII characters, e.g. LOCL");
                    }
                },
                w @ ("time1" | "time2" | "flag1" | "flag2" | "flag3" | "flag4") => {
                    ok = false;
                    self.err(
                        t.column,
                        ErrorKind::Unsupported {
                            word: w.into(),
                            what: "option of `fudge` for the LOCAL clock".into(),
                        },
                    );
                    it.next();
                }
                _ => {
                    ok = false;
                    let suggestion = suggest(
                        t.text,
                        &["stratum", "refid", "time1", "time2", "flag1", "flag2"],
                    );
                    self.err(
                        t.column,
                        ErrorKind::UnknownOption {
                            directive: "fudge",
                            word: t.text.into(),
                            suggestion,
                        },
                    );
                }
            }
        }
        if ok {
            self.fudges.push(pending);
        }
    }

    /// Apply the `fudge` lines to the local clocks; a fudge for no clock is an error.
    pub(super) fn resolve_fudges(&mut self) {
        for f in std::mem::take(&mut self.fudges) {
            match self
                .config
                .local_clocks
                .iter_mut()
                .find(|c| c.unit == f.unit)
            {
                Some(c) => {
                    // Several fudges for one clock: each sets what it names (ntpd does
                    // the same), the last location is kept.
                    c.stratum = f.stratum.or(c.stratum);
                    c.refid = f.refid.or(c.refid.take());
                    c.fudge_at = Some(f.at);
                }
                // Its `server` line had an error of its own: one error is enough.
                None if self.failed_clocks.contains(&f.unit) => {}
                None => self.push_error(ConfigError::new(
                    f.at,
                    ErrorKind::FudgeWithoutServer { address: f.written },
                )),
            }
        }
    }
}
