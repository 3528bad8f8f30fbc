//! The directive table, shared argument helpers, and the handlers for files
//! (`driftfile`, `keys`, …) and key ids (`trustedkey`, …).

use std::net::{IpAddr, Ipv4Addr};

use super::error::{ErrorKind, WarningKind};
use super::keys::{self, parse_key_id, KeyId};
use super::lexer::{Line, Token};
use super::model::{AddressFamily, Host, KeysConfig, Located, SourceKind};
use super::parser::{end_column, Parser, ReadError};
use super::suggest::suggest;

/// Directives slew implements.
pub(super) const SUPPORTED: &[&str] = &[
    "server",
    "pool",
    "peer",
    "fudge",
    "restrict",
    "discard",
    "driftfile",
    "includefile",
    "keys",
    "trustedkey",
    "requestkey",
    "controlkey",
    "statistics",
    "statsdir",
    "filegen",
    "logfile",
    "tinker",
    "tos",
    "interface",
    "nic",
    "leapfile",
    "enable",
    "disable",
    "nts",
];

/// Directives ntpd (or ntpsec) knows and slew does not implement yet. They are refused
/// by name: skipping them would leave the admin believing they took effect.
pub(super) const UNSUPPORTED: &[&str] = &[
    "broadcast",
    "broadcastclient",
    "multicastclient",
    "manycastserver",
    "manycastclient",
    "crypto",
    "keysdir",
    "automax",
    "revoke",
    "broadcastdelay",
    "calldelay",
    "phone",
    "setvar",
    "ttl",
    "trap",
    "mdnstries",
    "mru",
    "rlimit",
    "saveconfigdir",
    "unconfig",
    "unpeer",
    "reset",
    "logconfig",
    "ntpsigndsocket",
    "nonvolatile",
    "unrestrict",
    "refclock",
    "dscp",
    "leapsmearinterval",
    "pollskewlist",
];

/// "IPv4" or "IPv6", for messages.
pub(super) fn family_name(f: AddressFamily) -> &'static str {
    match f {
        AddressFamily::V4 => "IPv4",
        AddressFamily::V6 => "IPv6",
    }
}

pub(super) fn family_of(ip: &IpAddr) -> AddressFamily {
    if ip.is_ipv4() {
        AddressFamily::V4
    } else {
        AddressFamily::V6
    }
}

/// A DNS name by RFC 1123 rules (letters, digits, `-`, `_` in labels of 1..=63).
fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.trim_end_matches('.').split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Why an address as written is neither an IP address nor a host name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostError {
    /// `fe80::1%eth0`: zones are not supported.
    ScopedIpv6,
    /// Has a colon, but is no IPv6 address.
    BadIpv6,
    /// Digits and dots, but no IPv4 address.
    BadIpv4,
    /// Not a host name either.
    BadHostName,
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::ScopedIpv6 => "scoped IPv6 addresses (with %zone) are not supported yet",
            Self::BadIpv6 => "not a valid IPv6 address",
            Self::BadIpv4 => "not a valid IPv4 address",
            Self::BadHostName => "not a valid host name",
        })
    }
}

impl std::error::Error for HostError {}

/// An address as written: IP or host name.
pub(super) fn parse_host(s: &str) -> Result<Host, HostError> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(Host::Ip(ip));
    }
    if s.contains(':') {
        return Err(if s.contains('%') {
            HostError::ScopedIpv6
        } else {
            HostError::BadIpv6
        });
    }
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(HostError::BadIpv4);
    }
    if is_hostname(s) {
        Ok(Host::Name(s.to_string()))
    } else {
        Err(HostError::BadHostName)
    }
}

impl Parser<'_> {
    /// Dispatch one line on its first word.
    pub(super) fn directive(&mut self, line: &Line<'_>) {
        let Some(first) = line.tokens.first() else {
            return;
        };
        let word = if first.quoted { "" } else { first.text };
        match word {
            "server" => self.source(SourceKind::Server, line),
            "pool" => self.source(SourceKind::Pool, line),
            "peer" => self.source(SourceKind::Peer, line),
            "fudge" => self.fudge(line),
            "restrict" => self.restrict(line),
            "discard" => self.discard(line),
            "includefile" => self.includefile(line),
            "driftfile" | "logfile" | "leapfile" | "statsdir" => self.file_directive(line, first),
            "keys" => self.keys(line),
            "trustedkey" => self.trustedkey(line),
            "requestkey" | "controlkey" => self.single_key(line, first),
            "statistics" => self.statistics(line),
            "filegen" => self.filegen(line),
            "tinker" => self.tinker(line),
            "tos" => self.tos(line),
            "interface" | "nic" => self.interface(line),
            "enable" | "disable" => self.system_flags(line, word == "enable"),
            "nts" => self.nts(line),
            w if UNSUPPORTED.contains(&w) => self.err(
                first.column,
                ErrorKind::Unsupported {
                    word: w.to_string(),
                    what: "directive".into(),
                },
            ),
            _ => {
                let suggestion =
                    suggest(first.text, SUPPORTED).or_else(|| suggest(first.text, UNSUPPORTED));
                self.err(
                    first.column,
                    ErrorKind::UnknownDirective {
                        word: first.text.to_string(),
                        suggestion,
                    },
                );
            }
        }
    }

    /// A number in `min..=max` from `tok`, or an error naming `after`.
    pub(super) fn number(
        &mut self,
        line: &Line<'_>,
        tok: Option<&Token<'_>>,
        after: &str,
        min: u64,
        max: u64,
    ) -> Option<u64> {
        let expected = format!("a whole number from {min} to {max}");
        let Some(tok) = tok else {
            self.missing(line, after, &expected);
            return None;
        };
        let parsed = if tok.text.bytes().all(|b| b.is_ascii_digit()) {
            tok.text.parse::<u64>().ok()
        } else {
            None
        };
        match parsed {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.err(
                    tok.column,
                    ErrorKind::InvalidNumber {
                        after: after.to_string(),
                        value: tok.text.to_string(),
                        expected,
                    },
                );
                None
            }
        }
    }

    /// Leading `-4`/`-6` words; returns the family and how many words it used.
    pub(super) fn family_prefix(&mut self, args: &[Token<'_>]) -> (Option<AddressFamily>, usize) {
        let mut family = None;
        let mut used = 0;
        for t in args {
            let f = match t.text {
                "-4" => AddressFamily::V4,
                "-6" => AddressFamily::V6,
                _ => break,
            };
            if family.is_some_and(|g| g != f) {
                self.err(
                    t.column,
                    ErrorKind::Conflict {
                        message: "both `-4` and `-6` given".into(),
                        hint: "keep one of them".into(),
                    },
                );
            }
            family = Some(f);
            used += 1;
        }
        (family, used)
    }

    /// `driftfile`, `logfile`, `leapfile`, `statsdir`: one path each.
    fn file_directive(&mut self, line: &Line<'_>, first: &Token<'_>) {
        let (name, expected): (&'static str, &str) = match first.text {
            "driftfile" => ("driftfile", "the path of the drift file"),
            "logfile" => ("logfile", "the path of the log file"),
            "leapfile" => ("leapfile", "the path of the leap seconds file"),
            _ => ("statsdir", "the directory for statistics files"),
        };
        let Some(tok) = self.single_arg(line, name, expected) else {
            return;
        };
        self.once(name, first.column);
        let value = Some(self.path_value(tok));
        match name {
            "driftfile" => self.config.driftfile = value,
            "logfile" => self.config.logfile = value,
            "leapfile" => self.config.leapfile = value,
            _ => self.config.statsdir = value,
        }
    }

    /// `keys PATH`: read and check the keys file now, so that `--check-config` sees
    /// its errors; an unreadable file is a warning (ntpd, too, carries on).
    fn keys(&mut self, line: &Line<'_>) {
        let Some(tok) = self.single_arg(line, "keys", "the path of the keys file") else {
            return;
        };
        self.once("keys", line.tokens.first().map_or(1, |t| t.column));
        let path = self.resolve(tok.text);
        let file = match self.read(&path) {
            Ok(bytes) => {
                self.keys_mode(&path, tok.column);
                match keys::parse_keys(&bytes, &path) {
                    Ok(f) => Some(f),
                    Err(errors) => {
                        for e in errors {
                            self.push_error(e);
                        }
                        None
                    }
                }
            }
            Err(e) => {
                let reason = match e {
                    ReadError::Io(e) => e.to_string(),
                    ReadError::TooLarge => "file too large".into(),
                };
                let p = path.clone();
                self.warn(tok.column, WarningKind::KeysUnreadable { path: p, reason });
                None
            }
        };
        let at = self.at(line.tokens.first().map_or(1, |t| t.column));
        self.config.keys = Some(KeysConfig { path, at, file });
    }

    /// ntpd's check: a keys file that others may read (or write), or its group may
    /// write, gives the secrets away. Warned about once per load; the file is still
    /// used, as ntpd does.
    fn keys_mode(&mut self, path: &std::path::Path, column: u32) {
        let Some(mode) = self.loader_mode(path) else {
            return;
        };
        if mode & 0o007 != 0 || mode & 0o020 != 0 {
            let path = path.to_path_buf();
            self.warn(column, WarningKind::KeysPermissive { path, mode });
        }
    }

    /// A key id from `tok`, or an error.
    pub(super) fn key_id(
        &mut self,
        line: &Line<'_>,
        tok: Option<&Token<'_>>,
        after: &str,
    ) -> Option<KeyId> {
        let Some(tok) = tok else {
            self.missing(line, after, "a key number from 1 to 65535");
            return None;
        };
        let id = parse_key_id(tok.text);
        if id.is_none() {
            self.err(
                tok.column,
                ErrorKind::InvalidNumber {
                    after: after.into(),
                    value: tok.text.into(),
                    expected: "a key number from 1 to 65535".into(),
                },
            );
        }
        id
    }

    /// `requestkey N`, `controlkey N`.
    fn single_key(&mut self, line: &Line<'_>, first: &Token<'_>) {
        let name: &'static str = if first.text == "requestkey" {
            "requestkey"
        } else {
            "controlkey"
        };
        let Some(tok) = self.single_arg(line, name, "a key number from 1 to 65535") else {
            return;
        };
        let Some(id) = self.key_id(line, Some(tok), name) else {
            return;
        };
        self.once(name, first.column);
        let at = self.at(tok.column);
        self.key_uses.push((id, at.clone(), name));
        let v = Some(Located { value: id, at });
        if name == "requestkey" {
            self.config.request_key = v;
        } else {
            self.config.control_key = v;
        }
    }

    /// `trustedkey 1 2 (4 ... 8) 42`: numbers and ranges, as ntpd 4.2.8 accepts them.
    /// The parentheses and the ellipsis may be written with or without spaces.
    fn trustedkey(&mut self, line: &Line<'_>) {
        let args = line.tokens.get(1..).unwrap_or(&[]);
        if args.is_empty() {
            self.missing(line, "trustedkey", "one or more key numbers");
            return;
        }
        // Split words further into numbers, `(`, `)` and `...`, keeping columns.
        let mut parts: Vec<(&str, u32)> = Vec::new();
        for t in args {
            let mut rest = t.text;
            let mut col = t.column;
            while !rest.is_empty() {
                let n = if rest.starts_with(['(', ')']) {
                    1
                } else if rest.starts_with("...") {
                    3
                } else {
                    rest.find(['(', ')', '.'])
                        .filter(|&i| i > 0)
                        .unwrap_or(rest.len())
                };
                let (head, tail) = rest.split_at(n);
                parts.push((head, col));
                col = col.saturating_add(u32::try_from(head.chars().count()).unwrap_or(0));
                rest = tail;
            }
        }
        let mut ids = Vec::new();
        let mut i = 0;
        let bad = |p: &mut Self, (text, col): (&str, u32), expected: &str| {
            p.err(
                col,
                ErrorKind::InvalidValue {
                    after: "trustedkey".into(),
                    value: text.into(),
                    expected: expected.into(),
                    suggestion: None,
                },
            );
        };
        let end = (line.tokens.last().map_or("", |t| t.text), end_column(line));
        while let Some(&part) = parts.get(i) {
            if part.0 == "(" {
                let lo = parts.get(i + 1).copied().unwrap_or(end);
                let dots = parts.get(i + 2).copied().unwrap_or(end);
                let hi = parts.get(i + 3).copied().unwrap_or(end);
                let close = parts.get(i + 4).copied().unwrap_or(end);
                let range = "a range written `(LOW ... HIGH)`";
                let (Some(a), Some(b)) = (parse_key_id(lo.0), parse_key_id(hi.0)) else {
                    let which = if parse_key_id(lo.0).is_none() { lo } else { hi };
                    return bad(self, which, range);
                };
                if dots.0 != "..." {
                    return bad(self, dots, range);
                }
                if close.0 != ")" {
                    return bad(self, close, range);
                }
                if a > b {
                    return bad(self, lo, "a range whose low end is not above its high end");
                }
                // Ranges are not checked against the keys file: they usually span
                // more numbers than the file defines, on purpose.
                self.config.trusted_keys.extend(a..=b);
                i += 5;
            } else {
                match parse_key_id(part.0) {
                    Some(id) => ids.push((id, part.1)),
                    None => return bad(self, part, "key numbers from 1 to 65535, or ranges"),
                }
                i += 1;
            }
        }
        for (id, col) in ids {
            let at = self.at(col);
            self.key_uses.push((id, at, "trustedkey"));
            self.config.trusted_keys.insert(id);
        }
    }
}

/// The host bits of a numeric address under a mask.
pub(super) fn mask_addr(addr: IpAddr, mask: IpAddr) -> Option<IpAddr> {
    match (addr, mask) {
        (IpAddr::V4(a), IpAddr::V4(m)) => {
            Some(IpAddr::V4(Ipv4Addr::from(u32::from(a) & u32::from(m))))
        }
        (IpAddr::V6(a), IpAddr::V6(m)) => Some(IpAddr::V6(std::net::Ipv6Addr::from(
            u128::from(a) & u128::from(m),
        ))),
        _ => None,
    }
}
