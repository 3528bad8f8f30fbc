//! `restrict` and `discard` (ntp_acc(5)).
//!
//! Grammar, as ntpd 4.2.8 takes it:
//! `restrict [-4|-6] (default | source | ADDRESS [mask MASK]) [FLAG ...] [ippeerlimit N]`.
//!
//! Differences from ntpd, all on the side of saying so rather than guessing:
//! - ntpd silently clears address bits outside the mask; slew does the same and warns.
//! - `kod` without `limited` does nothing in ntpd (it only changes how over-limit
//!   packets are answered); slew accepts it and warns, since the article's own
//!   `restrict default kod nomodify …` suggests admins expect more from it.
//! - `mssntp` (Samba's signing daemon) is refused as unsupported.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::directives::{family_name, mask_addr, parse_host};
use super::error::{ErrorKind, WarningKind};
use super::lexer::Line;
use super::model::{AddressFamily, Host, Restrict, RestrictFlag, RestrictFlags, RestrictTarget};
use super::parser::Parser;
use super::suggest::suggest;

/// Every word that may follow the address of a `restrict` line.
const RESTRICT_WORDS: &[&str] = &[
    "mask",
    "ippeerlimit",
    "flake",
    "ignore",
    "kod",
    "limited",
    "lowpriotrap",
    "noepeer",
    "nomodify",
    "nomrulist",
    "nopeer",
    "noquery",
    "noserve",
    "notrap",
    "notrust",
    "ntpport",
    "version",
    "serverresponse",
];

fn all_ones(family: AddressFamily) -> IpAddr {
    match family {
        AddressFamily::V4 => IpAddr::V4(Ipv4Addr::BROADCAST),
        AddressFamily::V6 => IpAddr::V6(Ipv6Addr::from(u128::MAX)),
    }
}

impl Parser<'_> {
    /// A `restrict` line.
    pub(super) fn restrict(&mut self, line: &Line<'_>) {
        let args = line.tokens.get(1..).unwrap_or(&[]);
        let (family, used) = self.family_prefix(args);
        let args = args.get(used..).unwrap_or(&[]);
        let Some(target_tok) = args.first() else {
            self.missing(line, "restrict", "`default`, `source` or an address");
            return;
        };
        let mut ok = true;
        // What the line matches, before `mask` is known.
        enum Written {
            Default,
            Source,
            Ip(IpAddr),
            Name(String),
        }
        let written = match target_tok.text {
            "default" if !target_tok.quoted => Written::Default,
            "source" if !target_tok.quoted => Written::Source,
            text => match parse_host(text) {
                Ok(Host::Ip(ip)) => Written::Ip(ip),
                Ok(Host::Name(n)) => {
                    // A flag in address position is a missing address, not a host
                    // called "nomodify".
                    if RestrictFlag::from_name(text).is_some() || text == "mask" {
                        self.err(
                            target_tok.column,
                            ErrorKind::MissingArgument {
                                after: "restrict".into(),
                                expected: format!(
                                    "`default`, `source` or an address before `{text}`"
                                ),
                            },
                        );
                        return;
                    }
                    Written::Name(n)
                }
                Err(reason) => {
                    self.err(
                        target_tok.column,
                        ErrorKind::InvalidAddress {
                            value: text.into(),
                            reason: reason.to_string(),
                        },
                    );
                    return;
                }
            },
        };
        let mut flags = RestrictFlags::EMPTY;
        let mut mask: Option<(IpAddr, u32)> = None;
        let mut ippeerlimit = None;
        let mut it = args.get(1..).unwrap_or(&[]).iter();
        while let Some(t) = it.next() {
            let word = if t.quoted { "" } else { t.text };
            match word {
                "mask" => match it.next() {
                    Some(m) => match m.text.parse::<IpAddr>() {
                        Ok(ip) => mask = Some((ip, m.column)),
                        Err(_) => {
                            ok = false;
                            self.err(
                                m.column,
                                ErrorKind::InvalidAddress {
                                    value: m.text.into(),
                                    reason: "a mask is written as an address, e.g. 255.255.255.0"
                                        .into(),
                                },
                            );
                        }
                    },
                    None => {
                        ok = false;
                        self.missing(line, "mask", "a mask, e.g. 255.255.255.0");
                    }
                },
                "ippeerlimit" => match self.number(line, it.next(), "ippeerlimit", 0, 65535) {
                    Some(n) => ippeerlimit = u32::try_from(n).ok(),
                    None => ok = false,
                },
                "serverresponse" => match it.next() {
                    Some(f) if f.text == "fuzz" => flags.insert(RestrictFlag::ServerResponseFuzz),
                    other => {
                        ok = false;
                        match other {
                            Some(f) => self.err(
                                f.column,
                                ErrorKind::InvalidValue {
                                    after: "serverresponse".into(),
                                    value: f.text.into(),
                                    expected: "`fuzz`".into(),
                                    suggestion: suggest(f.text, &["fuzz"]),
                                },
                            ),
                            None => self.missing(line, "serverresponse", "`fuzz`"),
                        }
                    }
                },
                "mssntp" => {
                    ok = false;
                    self.err(
                        t.column,
                        ErrorKind::Unsupported {
                            word: "mssntp".into(),
                            what: "flag of `restrict`".into(),
                        },
                    );
                }
                _ => match RestrictFlag::from_name(word) {
                    Some(f) => flags.insert(f),
                    None => {
                        ok = false;
                        self.err(
                            t.column,
                            ErrorKind::UnknownOption {
                                directive: "restrict",
                                word: t.text.into(),
                                suggestion: suggest(t.text, RESTRICT_WORDS),
                            },
                        );
                    }
                },
            }
        }
        let target = match written {
            Written::Default | Written::Source => {
                if let Some((_, col)) = mask {
                    ok = false;
                    self.err(
                        col,
                        ErrorKind::Conflict {
                            message: format!("`mask` does not apply to `{}`", target_tok.text),
                            hint: "remove `mask …` from this line".into(),
                        },
                    );
                }
                if matches!(written, Written::Source) {
                    if family.is_some() {
                        ok = false;
                        self.err(
                            target_tok.column,
                            ErrorKind::Conflict {
                                message: "`-4`/`-6` does not apply to `restrict source`".into(),
                                hint: "remove `-4`/`-6` from this line".into(),
                            },
                        );
                    }
                    RestrictTarget::Source
                } else {
                    RestrictTarget::Default { family }
                }
            }
            Written::Name(name) => RestrictTarget::Host {
                name,
                family,
                mask: mask.map(|m| m.0),
            },
            Written::Ip(ip) => {
                let fam = if ip.is_ipv4() {
                    AddressFamily::V4
                } else {
                    AddressFamily::V6
                };
                if let Some(f) = family.filter(|&f| f != fam) {
                    ok = false;
                    self.err(
                        target_tok.column,
                        ErrorKind::Conflict {
                            message: format!(
                                "`{}` is not an {} address",
                                target_tok.text,
                                family_name(f)
                            ),
                            hint: "remove `-4`/`-6` or fix the address".into(),
                        },
                    );
                }
                let (m, col) = mask.unwrap_or((all_ones(fam), target_tok.column));
                match mask_addr(ip, m) {
                    Some(addr) => {
                        if addr != ip {
                            self.warn(
                                target_tok.column,
                                WarningKind::NoEffect {
                                    message: format!(
                                        "`{ip}` has bits outside mask `{m}`; they are ignored"
                                    ),
                                    hint: format!("write `{addr}` to say what is meant"),
                                },
                            );
                        }
                        RestrictTarget::Network { addr, mask: m }
                    }
                    None => {
                        self.err(
                            col,
                            ErrorKind::Conflict {
                                message: format!("mask `{m}` is not of the same family as `{ip}`"),
                                hint: "write an IPv4 mask for an IPv4 address, IPv6 for IPv6"
                                    .into(),
                            },
                        );
                        return;
                    }
                }
            }
        };
        if flags.contains(RestrictFlag::Kod) && !flags.contains(RestrictFlag::Limited) {
            let col = args
                .iter()
                .find(|t| t.text == "kod")
                .map_or(1, |t| t.column);
            self.warn(
                col,
                WarningKind::NoEffect {
                    message: "`kod` has no effect without `limited`".into(),
                    hint: "add `limited` to rate-limit clients and send them RATE kisses, \
                           or remove `kod`"
                        .into(),
                },
            );
        }
        if ok {
            let at = self.at(line.tokens.first().map_or(1, |t| t.column));
            self.config.restricts.push(Restrict {
                target,
                flags,
                ippeerlimit,
                at,
            });
        }
    }

    /// `discard [average N] [minimum N] [monitor N]`.
    pub(super) fn discard(&mut self, line: &Line<'_>) {
        let args = line.tokens.get(1..).unwrap_or(&[]);
        if args.is_empty() {
            self.missing(line, "discard", "`average N`, `minimum N` or `monitor N`");
            return;
        }
        let mut d = self.config.discard;
        let mut it = args.iter();
        while let Some(t) = it.next() {
            match t.text {
                // log2 seconds, like a poll exponent.
                "average" => {
                    if let Some(n) = self.number(line, it.next(), "average", 0, 17) {
                        d.average = u8::try_from(n).ok();
                    }
                }
                "minimum" => {
                    if let Some(n) = self.number(line, it.next(), "minimum", 0, 86_400) {
                        d.minimum = u32::try_from(n).ok();
                    }
                }
                "monitor" => {
                    if let Some(n) = self.number(line, it.next(), "monitor", 0, u64::from(u32::MAX))
                    {
                        d.monitor = u32::try_from(n).ok();
                    }
                }
                _ => self.err(
                    t.column,
                    ErrorKind::UnknownOption {
                        directive: "discard",
                        word: t.text.into(),
                        suggestion: suggest(t.text, &["average", "minimum", "monitor"]),
                    },
                ),
            }
        }
        self.config.discard = d;
    }
}
