//! `statistics`, `filegen`, `tinker`, `tos`, `interface`/`nic`, `enable`/`disable`
//! (ntp_mon(5), ntp_misc(5)).

use std::net::IpAddr;

use super::error::ErrorKind;
use super::lexer::{Line, Token};
use super::model::{
    Filegen, FilegenType, InterfaceAction, InterfaceMatch, InterfaceRule, StatsKind, SystemFlag,
    SystemFlagSetting,
};
use super::parser::Parser;
use super::suggest::suggest;

const STATS_NAMES: &[&str] = &[
    "clockstats",
    "cryptostats",
    "loopstats",
    "peerstats",
    "protostats",
    "rawstats",
    "sysstats",
    "timingstats",
];
const FILEGEN_TYPES: &[&str] = &["none", "pid", "day", "week", "month", "year", "age"];
const FILEGEN_WORDS: &[&str] = &["file", "type", "link", "nolink", "enable", "disable"];
const TINKER_WORDS: &[&str] = &[
    "allan",
    "dispersion",
    "freq",
    "huffpuff",
    "maxslewrate",
    "panic",
    "step",
    "stepback",
    "stepfwd",
    "stepout",
    "tick",
];
const TOS_WORDS: &[&str] = &[
    "beacon",
    "ceiling",
    "cohort",
    "floor",
    "maxclock",
    "maxdist",
    "minclock",
    "mindist",
    "minsane",
    "orphan",
    "orphanwait",
    "basedate",
];
const INTERFACE_ACTIONS: &[&str] = &["listen", "ignore", "drop"];
const FLAG_WORDS: &[&str] = &[
    "auth",
    "kernel",
    "monitor",
    "ntp",
    "stats",
    "mode7",
    "peer_clear_digest_early",
    "unpeer_crypto_early",
    "unpeer_crypto_nak_early",
    "unpeer_digest_early",
    "bclient",
    "calibrate",
];

fn stats_kind(word: &str) -> Option<StatsKind> {
    StatsKind::ALL.into_iter().find(|k| k.name() == word)
}

/// `YYYY-MM-DD` with plausible ranges (ntpd's `basedate`).
fn is_date(s: &str) -> bool {
    let mut parts = s.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let num = |t: &str, len: usize| {
        (t.len() == len && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse::<u32>().ok())
            .flatten()
    };
    matches!(
        (num(y, 4), num(m, 2), num(d, 2)),
        (Some(1970..=2100), Some(1..=12), Some(1..=31))
    )
}

impl Parser<'_> {
    /// A value word, or a `MissingArgument` error.
    fn value_after<'t, 'a>(
        &mut self,
        line: &Line<'_>,
        tok: Option<&'t Token<'a>>,
        after: &str,
        expected: &str,
    ) -> Option<&'t Token<'a>> {
        if tok.is_none() {
            self.missing(line, after, expected);
        }
        tok
    }

    fn bad_value(&mut self, t: &Token<'_>, after: &str, expected: &str, choices: &[&'static str]) {
        self.err(
            t.column,
            ErrorKind::InvalidValue {
                after: after.into(),
                value: t.text.into(),
                expected: expected.into(),
                suggestion: suggest(t.text, choices),
            },
        );
    }

    /// `statistics NAME ...`.
    pub(super) fn statistics(&mut self, line: &Line<'_>) {
        let args = line.tokens.get(1..).unwrap_or(&[]);
        if args.is_empty() {
            self.missing(line, "statistics", "one or more of loopstats, peerstats, …");
        }
        for t in args {
            match stats_kind(t.text) {
                Some(k) => {
                    self.config.statistics.insert(k);
                }
                None => self.bad_value(t, "statistics", "a statistics name", STATS_NAMES),
            }
        }
    }

    /// `filegen NAME [file F] [type T] [link|nolink] [enable|disable]`.
    pub(super) fn filegen(&mut self, line: &Line<'_>) {
        let args = line.tokens.get(1..).unwrap_or(&[]);
        let Some(name) = args.first() else {
            self.missing(line, "filegen", "a statistics name, e.g. loopstats");
            return;
        };
        let kind = stats_kind(name.text);
        if kind.is_none() {
            self.bad_value(name, "filegen", "a statistics name", STATS_NAMES);
        }
        let at = self.at(line.tokens.first().map_or(1, |t| t.column));
        let mut g = Filegen {
            kind: kind.unwrap_or(StatsKind::Loopstats),
            file: None,
            file_type: None,
            link: None,
            enabled: None,
            at,
        };
        let mut ok = kind.is_some();
        let mut it = args.get(1..).unwrap_or(&[]).iter();
        while let Some(t) = it.next() {
            match t.text {
                "file" => match self.value_after(line, it.next(), "file", "a file name") {
                    Some(f) => g.file = Some(f.text.to_string()),
                    None => ok = false,
                },
                "type" => {
                    let expected = "none, pid, day, week, month, year or age";
                    let Some(v) = self.value_after(line, it.next(), "type", expected) else {
                        ok = false;
                        continue;
                    };
                    g.file_type = Some(match v.text {
                        "none" => FilegenType::None,
                        "pid" => FilegenType::Pid,
                        "day" => FilegenType::Day,
                        "week" => FilegenType::Week,
                        "month" => FilegenType::Month,
                        "year" => FilegenType::Year,
                        "age" => FilegenType::Age,
                        _ => {
                            ok = false;
                            self.bad_value(v, "type", expected, FILEGEN_TYPES);
                            continue;
                        }
                    });
                }
                "link" => g.link = Some(true),
                "nolink" => g.link = Some(false),
                "enable" => g.enabled = Some(true),
                "disable" => g.enabled = Some(false),
                _ => {
                    ok = false;
                    self.err(
                        t.column,
                        ErrorKind::UnknownOption {
                            directive: "filegen",
                            word: t.text.into(),
                            suggestion: suggest(t.text, FILEGEN_WORDS),
                        },
                    );
                }
            }
        }
        if ok {
            self.config.filegens.push(g);
        }
    }

    /// A finite decimal number in `min..=max` (tinker and tos take fractions).
    fn real(
        &mut self,
        line: &Line<'_>,
        tok: Option<&Token<'_>>,
        after: &str,
        min: f64,
        max: f64,
    ) -> Option<f64> {
        let expected = format!("a number from {min} to {max}");
        let tok = self.value_after(line, tok, after, &expected)?;
        // Only plain decimal notation: Rust's parser would also take "inf" and "NaN".
        let plain = !tok.text.is_empty()
            && tok
                .text
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
        match tok.text.parse::<f64>() {
            Ok(v) if plain && v.is_finite() && (min..=max).contains(&v) => Some(v),
            _ => {
                self.err(
                    tok.column,
                    ErrorKind::InvalidNumber {
                        after: after.into(),
                        value: tok.text.into(),
                        expected,
                    },
                );
                None
            }
        }
    }

    /// `tinker NAME VALUE ...`.
    pub(super) fn tinker(&mut self, line: &Line<'_>) {
        let args = line.tokens.get(1..).unwrap_or(&[]);
        if args.is_empty() {
            self.missing(line, "tinker", "a variable and its value, e.g. `panic 0`");
        }
        let mut t = self.config.tinker;
        let mut it = args.iter();
        while let Some(w) = it.next() {
            // Ranges are generous; they exist to catch typos such as a missing decimal
            // point, not to second-guess an admin's tuning.
            let (slot, min, max) = match w.text {
                "allan" => (&mut t.allan, 0.0, 20.0),
                "dispersion" => (&mut t.dispersion, 0.0, 1000.0),
                "freq" => (&mut t.freq, -500.0, 500.0),
                "huffpuff" => (&mut t.huffpuff, 0.0, 86_400.0),
                // slew's extension (chrony's `maxslewrate`): ppm, at least a ppm (a
                // slew has to end) and at most the kernel's ±10 % tick range.
                "maxslewrate" => (&mut t.maxslewrate, 1.0, 100_000.0),
                "panic" => (&mut t.panic, 0.0, 1e9),
                "step" => (&mut t.step, 0.0, 1e9),
                "stepback" => (&mut t.stepback, 0.0, 1e9),
                "stepfwd" => (&mut t.stepfwd, 0.0, 1e9),
                "stepout" => (&mut t.stepout, 0.0, 1e9),
                "tick" => (&mut t.tick, 0.0, 1.0),
                _ => {
                    self.err(
                        w.column,
                        ErrorKind::UnknownOption {
                            directive: "tinker",
                            word: w.text.into(),
                            suggestion: suggest(w.text, TINKER_WORDS),
                        },
                    );
                    // The next word is probably this variable's value.
                    it.next();
                    continue;
                }
            };
            let v = self.real(line, it.next(), w.text, min, max);
            if v.is_some() {
                *slot = v;
            }
        }
        self.config.tinker = t;
    }

    /// `tos NAME VALUE ...`.
    pub(super) fn tos(&mut self, line: &Line<'_>) {
        let args = line.tokens.get(1..).unwrap_or(&[]);
        if args.is_empty() {
            self.missing(line, "tos", "a variable and its value, e.g. `minsane 1`");
        }
        let mut it = args.iter();
        while let Some(w) = it.next() {
            let v = it.next();
            // Integers are checked into u64 and narrowed; the ranges make narrowing exact.
            let int = |p: &mut Self, min: u64, max: u64| p.number(line, v, w.text, min, max);
            let u8v = |n: u64| u8::try_from(n).ok();
            let u32v = |n: u64| u32::try_from(n).ok();
            match w.text {
                "beacon" => {
                    if let Some(n) = int(self, 1, 1 << 20) {
                        self.config.tos.beacon = u32v(n);
                    }
                }
                "ceiling" => {
                    if let Some(n) = int(self, 1, 16) {
                        self.config.tos.ceiling = u8v(n);
                    }
                }
                "floor" => {
                    if let Some(n) = int(self, 0, 15) {
                        self.config.tos.floor = u8v(n);
                    }
                }
                "orphan" => {
                    if let Some(n) = int(self, 1, 16) {
                        self.config.tos.orphan = u8v(n);
                    }
                }
                "cohort" => {
                    if let Some(n) = int(self, 0, 1) {
                        self.config.tos.cohort = Some(n == 1);
                    }
                }
                "maxclock" => {
                    if let Some(n) = int(self, 1, 100) {
                        self.config.tos.maxclock = u32v(n);
                    }
                }
                "minclock" => {
                    if let Some(n) = int(self, 1, 100) {
                        self.config.tos.minclock = u32v(n);
                    }
                }
                "minsane" => {
                    if let Some(n) = int(self, 0, 100) {
                        self.config.tos.minsane = u32v(n);
                    }
                }
                "orphanwait" => {
                    if let Some(n) = int(self, 0, 86_400) {
                        self.config.tos.orphanwait = u32v(n);
                    }
                }
                "maxdist" => {
                    if let Some(x) = self.real(line, v, "maxdist", 0.0, 16.0) {
                        self.config.tos.maxdist = Some(x);
                    }
                }
                "mindist" => {
                    if let Some(x) = self.real(line, v, "mindist", 0.0, 16.0) {
                        self.config.tos.mindist = Some(x);
                    }
                }
                "basedate" => match self.value_after(line, v, "basedate", "a date YYYY-MM-DD") {
                    Some(d) if is_date(d.text) => self.config.tos.basedate = Some(d.text.into()),
                    Some(d) => self.bad_value(d, "basedate", "a date YYYY-MM-DD", &[]),
                    None => {}
                },
                "bcpollbstep" => self.err(
                    w.column,
                    ErrorKind::Unsupported {
                        word: "bcpollbstep".into(),
                        what: "option of `tos` (broadcast)".into(),
                    },
                ),
                _ => self.err(
                    w.column,
                    ErrorKind::UnknownOption {
                        directive: "tos",
                        word: w.text.into(),
                        suggestion: suggest(w.text, TOS_WORDS),
                    },
                ),
            }
        }
    }

    /// `interface listen|ignore|drop all|ipv4|ipv6|wildcard|NAME|ADDR[/LEN]`.
    pub(super) fn interface(&mut self, line: &Line<'_>) {
        let directive = if line.tokens.first().is_some_and(|t| t.text == "nic") {
            "nic"
        } else {
            "interface"
        };
        let args = line.tokens.get(1..).unwrap_or(&[]);
        let Some(action_tok) = args.first() else {
            self.missing(line, directive, "`listen`, `ignore` or `drop`");
            return;
        };
        let action = match action_tok.text {
            "listen" => InterfaceAction::Listen,
            "ignore" => InterfaceAction::Ignore,
            "drop" => InterfaceAction::Drop,
            _ => {
                let expected = "`listen`, `ignore` or `drop`";
                return self.bad_value(action_tok, directive, expected, INTERFACE_ACTIONS);
            }
        };
        let expected = "all, ipv4, ipv6, wildcard, an interface name or an address[/bits]";
        let Some(m) = args.get(1) else {
            return self.missing(line, action_tok.text, expected);
        };
        if let Some(extra) = args.get(2) {
            return self.err(
                extra.column,
                ErrorKind::UnexpectedArgument {
                    directive,
                    word: extra.text.into(),
                },
            );
        }
        let matches = match m.text {
            "all" => InterfaceMatch::All,
            "ipv4" => InterfaceMatch::Ipv4,
            "ipv6" => InterfaceMatch::Ipv6,
            "wildcard" => InterfaceMatch::Wildcard,
            text => {
                let (addr, len) = match text.split_once('/') {
                    Some((a, l)) => (a, Some(l)),
                    None => (text, None),
                };
                match addr.parse::<IpAddr>() {
                    Ok(ip) => {
                        let max = if ip.is_ipv4() { 32 } else { 128 };
                        let len = match len.map(|l| l.parse::<u8>().ok().filter(|&n| n <= max)) {
                            None => None,
                            Some(Some(n)) => Some(n),
                            Some(None) => return self.bad_value(m, directive, expected, &[]),
                        };
                        InterfaceMatch::Prefix { addr: ip, len }
                    }
                    // Linux interface names: at most 15 bytes, no '/', no spaces.
                    Err(_)
                        if len.is_none()
                            && text.len() <= 15
                            && text
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b"-_.:@".contains(&b)) =>
                    {
                        InterfaceMatch::Name(text.to_string())
                    }
                    Err(_) => return self.bad_value(m, directive, expected, &[]),
                }
            }
        };
        let at = self.at(line.tokens.first().map_or(1, |t| t.column));
        self.config.interfaces.push(InterfaceRule {
            action,
            matches,
            at,
        });
    }

    /// `enable FLAG ...` / `disable FLAG ...`.
    pub(super) fn system_flags(&mut self, line: &Line<'_>, enabled: bool) {
        let directive = if enabled { "enable" } else { "disable" };
        let args = line.tokens.get(1..).unwrap_or(&[]);
        if args.is_empty() {
            self.missing(line, directive, "one or more flags, e.g. `monitor`");
        }
        for t in args {
            let flag = match t.text {
                "auth" => SystemFlag::Auth,
                "kernel" => SystemFlag::Kernel,
                "monitor" => SystemFlag::Monitor,
                "ntp" => SystemFlag::Ntp,
                "stats" => SystemFlag::Stats,
                // Disabling mode 7 is what slew always does; enabling it cannot be honoured.
                "mode7" if !enabled => SystemFlag::Mode7,
                "peer_clear_digest_early" => SystemFlag::PeerClearDigestEarly,
                "unpeer_crypto_early" => SystemFlag::UnpeerCryptoEarly,
                "unpeer_crypto_nak_early" => SystemFlag::UnpeerCryptoNakEarly,
                "unpeer_digest_early" => SystemFlag::UnpeerDigestEarly,
                w @ ("mode7" | "bclient" | "calibrate") => {
                    self.err(
                        t.column,
                        ErrorKind::Unsupported {
                            word: w.into(),
                            what: format!("flag of `{directive}`"),
                        },
                    );
                    continue;
                }
                _ => {
                    self.bad_value(t, directive, "a system flag", FLAG_WORDS);
                    continue;
                }
            };
            let at = self.at(t.column);
            self.config
                .system_flags
                .push(SystemFlagSetting { flag, enabled, at });
        }
    }
}
