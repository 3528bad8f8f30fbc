//! Variable names, their order and their formats, as ntpd 4.2.8 answers READVAR.
//!
//! Units follow ntpd: delays, offsets, dispersions and jitters in milliseconds,
//! frequency and wander in ppm, poll intervals in log2 seconds, timestamps as
//! `0x` + 8 hex digits + `.` + 8 hex digits, `reach` in hex (ntpq prints it in octal),
//! strings in double quotes. Peer figures carry three decimals, as ntpd 4.2.8 sends
//! them (ntpq -p then prints three decimals too, as in the article's output).

use core::fmt::{self, Write};

use super::peer_vars::PeerVars;
use super::snapshot::{RefIdKind, SystemSnapshot};
use crate::peer::{KeResult, NtsSourceStatus};
use crate::time::NtpTimestamp;
use crate::wire::RefId;

/// A system variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SysVar {
    /// `version`
    Version,
    /// `processor`
    Processor,
    /// `system`
    System,
    /// `leap`
    Leap,
    /// `stratum`
    Stratum,
    /// `precision`
    Precision,
    /// `rootdelay`, ms
    RootDelay,
    /// `rootdisp`, ms
    RootDisp,
    /// `refid`
    RefId,
    /// `reftime`
    RefTime,
    /// `clock`
    Clock,
    /// `peer`
    Peer,
    /// `tc`
    Tc,
    /// `mintc`
    MinTc,
    /// `offset`, ms
    Offset,
    /// `frequency`, ppm
    Frequency,
    /// `sys_jitter`, ms
    SysJitter,
    /// `clk_jitter`, ms
    ClkJitter,
    /// `clk_wander`, ppm
    ClkWander,
    /// `state`: the discipline state (older ntpd versions sent it; slewctl reads it).
    State,
}

/// ntpd's default order for `rv 0`. The C ntpstat reads `stratum`, `rootdelay`,
/// `rootdisp`, `refid` and `tc` from the first fragment only; with the string
/// variables capped (see [`SystemSnapshot`]) they all end well before byte 468.
pub const SYS_DEFAULT: [SysVar; 20] = [
    SysVar::Version,
    SysVar::Processor,
    SysVar::System,
    SysVar::Leap,
    SysVar::Stratum,
    SysVar::Precision,
    SysVar::RootDelay,
    SysVar::RootDisp,
    SysVar::RefId,
    SysVar::RefTime,
    SysVar::Clock,
    SysVar::Peer,
    SysVar::Tc,
    SysVar::MinTc,
    SysVar::Offset,
    SysVar::Frequency,
    SysVar::SysJitter,
    SysVar::ClkJitter,
    SysVar::ClkWander,
    SysVar::State,
];

impl SysVar {
    /// The name on the wire.
    pub const fn name(self) -> &'static str {
        match self {
            SysVar::Version => "version",
            SysVar::Processor => "processor",
            SysVar::System => "system",
            SysVar::Leap => "leap",
            SysVar::Stratum => "stratum",
            SysVar::Precision => "precision",
            SysVar::RootDelay => "rootdelay",
            SysVar::RootDisp => "rootdisp",
            SysVar::RefId => "refid",
            SysVar::RefTime => "reftime",
            SysVar::Clock => "clock",
            SysVar::Peer => "peer",
            SysVar::Tc => "tc",
            SysVar::MinTc => "mintc",
            SysVar::Offset => "offset",
            SysVar::Frequency => "frequency",
            SysVar::SysJitter => "sys_jitter",
            SysVar::ClkJitter => "clk_jitter",
            SysVar::ClkWander => "clk_wander",
            SysVar::State => "state",
        }
    }

    /// Looks a name up (exact, case-sensitive as ntpd).
    pub fn from_name(name: &[u8]) -> Option<Self> {
        SYS_DEFAULT
            .iter()
            .copied()
            .find(|v| v.name().as_bytes() == name)
    }

    /// Writes `name=value`.
    pub fn write(self, s: &SystemSnapshot<'_>, w: &mut dyn Write) -> fmt::Result {
        let name = self.name();
        match self {
            SysVar::Version => write!(w, "{name}=\"{}\"", Quoted(s.version)),
            SysVar::Processor => write!(w, "{name}=\"{}\"", Quoted(s.processor)),
            SysVar::System => write!(w, "{name}=\"{}\"", Quoted(s.system)),
            SysVar::Leap => write!(w, "{name}={}", s.leap & 0b11),
            SysVar::Stratum => write!(w, "{name}={}", s.stratum),
            SysVar::Precision => write!(w, "{name}={}", s.precision),
            SysVar::RootDelay => write!(w, "{name}={}", Ms(s.root_delay_s, 3)),
            SysVar::RootDisp => write!(w, "{name}={}", Ms(s.root_dispersion_s, 3)),
            SysVar::RefId => write!(w, "{name}={}", RefIdText(s.refid, s.refid_kind)),
            SysVar::RefTime => write!(w, "{name}={}", Lfp(s.reference_time)),
            SysVar::Clock => write!(w, "{name}={}", Lfp(s.clock)),
            SysVar::Peer => write!(w, "{name}={}", s.peer),
            SysVar::Tc => write!(w, "{name}={}", s.tc),
            SysVar::MinTc => write!(w, "{name}={}", s.mintc),
            SysVar::Offset => write!(w, "{name}={}", Ms(s.offset_s, 6)),
            SysVar::Frequency => write!(w, "{name}={}", Fixed(s.frequency_ppm, 3)),
            SysVar::SysJitter => write!(w, "{name}={}", Ms(s.sys_jitter_s, 6)),
            SysVar::ClkJitter => write!(w, "{name}={}", Ms(s.clk_jitter_s, 6)),
            SysVar::ClkWander => write!(w, "{name}={}", Fixed(s.clk_wander_ppm, 3)),
            SysVar::State => write!(w, "{name}={}", s.state),
        }
    }
}

/// A peer variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerVar {
    /// `srcadr`
    SrcAdr,
    /// `srcport`
    SrcPort,
    /// `srchost` (only sent when the snapshot has one)
    SrcHost,
    /// `leap`
    Leap,
    /// `stratum`
    Stratum,
    /// `precision`
    Precision,
    /// `rootdelay`, ms
    RootDelay,
    /// `rootdisp`, ms
    RootDisp,
    /// `refid`
    RefId,
    /// `reftime` (only sent once known)
    RefTime,
    /// `rec` (only sent once a reply arrived)
    Rec,
    /// `reach`, hex
    Reach,
    /// `hmode`
    HMode,
    /// `hpoll`
    HPoll,
    /// `ppoll`
    PPoll,
    /// `offset`, ms
    Offset,
    /// `delay`, ms
    Delay,
    /// `dispersion`, ms
    Dispersion,
    /// `jitter`, ms
    Jitter,
    /// `reason`: slew's own, why the source is not selected (empty: nothing against it).
    Reason,
    /// `nts`: 1 for an NTS source, 0 otherwise. This and the other `nts*` variables
    /// are slew's own (ntpsec reports NTS only in system counters such as
    /// `nts_client_send`); the default list has them only for an NTS source.
    Nts,
    /// `ntscookies`: cookies held.
    NtsCookies,
    /// `ntske`: NTS-KE sessions that succeeded.
    NtsKe,
    /// `ntskelast`: the last NTS-KE's outcome, `ok` or a failure code
    /// (`KeFailure::code()`), empty before the first.
    NtsKeLast,
    /// `ntskecookies`: cookies the last successful NTS-KE gave.
    NtsKeCookies,
    /// `ntsneedke`: why the source waits for NTS-KE (`KeNeed::code()`), empty when not.
    NtsNeedKe,
    /// `ntsnaks`: NTS NAKs received.
    NtsNaks,
    /// `ntsrefused`: answers refused by the NTS checks (NAKs included).
    NtsRefused,
    /// `ntsrefusal`: why the last one was (`NtsRefusal::code()`), empty for none.
    NtsRefusal,
}

/// ntpd's default order for `rv ASSOC` (the subset slew keeps), then slew's `reason`
/// and, for an NTS source, its `nts*` variables.
/// `reftime` precedes `rec`: ntpq -p computes "when" from whichever comes last.
pub const PEER_DEFAULT: [PeerVar; 29] = [
    PeerVar::SrcAdr,
    PeerVar::SrcPort,
    PeerVar::SrcHost,
    PeerVar::Leap,
    PeerVar::Stratum,
    PeerVar::Precision,
    PeerVar::RootDelay,
    PeerVar::RootDisp,
    PeerVar::RefId,
    PeerVar::RefTime,
    PeerVar::Rec,
    PeerVar::Reach,
    PeerVar::HMode,
    PeerVar::HPoll,
    PeerVar::PPoll,
    PeerVar::Offset,
    PeerVar::Delay,
    PeerVar::Dispersion,
    PeerVar::Jitter,
    PeerVar::Reason,
    PeerVar::Nts,
    PeerVar::NtsCookies,
    PeerVar::NtsKe,
    PeerVar::NtsKeLast,
    PeerVar::NtsKeCookies,
    PeerVar::NtsNeedKe,
    PeerVar::NtsNaks,
    PeerVar::NtsRefused,
    PeerVar::NtsRefusal,
];

impl PeerVar {
    /// The name on the wire.
    pub const fn name(self) -> &'static str {
        match self {
            PeerVar::SrcAdr => "srcadr",
            PeerVar::SrcPort => "srcport",
            PeerVar::SrcHost => "srchost",
            PeerVar::Leap => "leap",
            PeerVar::Stratum => "stratum",
            PeerVar::Precision => "precision",
            PeerVar::RootDelay => "rootdelay",
            PeerVar::RootDisp => "rootdisp",
            PeerVar::RefId => "refid",
            PeerVar::RefTime => "reftime",
            PeerVar::Rec => "rec",
            PeerVar::Reach => "reach",
            PeerVar::HMode => "hmode",
            PeerVar::HPoll => "hpoll",
            PeerVar::PPoll => "ppoll",
            PeerVar::Offset => "offset",
            PeerVar::Delay => "delay",
            PeerVar::Dispersion => "dispersion",
            PeerVar::Jitter => "jitter",
            PeerVar::Reason => "reason",
            PeerVar::Nts => "nts",
            PeerVar::NtsCookies => "ntscookies",
            PeerVar::NtsKe => "ntske",
            PeerVar::NtsKeLast => "ntskelast",
            PeerVar::NtsKeCookies => "ntskecookies",
            PeerVar::NtsNeedKe => "ntsneedke",
            PeerVar::NtsNaks => "ntsnaks",
            PeerVar::NtsRefused => "ntsrefused",
            PeerVar::NtsRefusal => "ntsrefusal",
        }
    }

    /// Looks a name up.
    pub fn from_name(name: &[u8]) -> Option<Self> {
        PEER_DEFAULT
            .iter()
            .copied()
            .find(|v| v.name().as_bytes() == name)
    }

    /// Whether the default list includes it for this peer: `srchost` only when there
    /// is a name, timestamps only once known (so ntpq shows "-" for "when", as for
    /// ntpd's never-reached peers). An explicitly requested variable is always sent.
    pub fn in_default(self, p: &PeerVars) -> bool {
        match self {
            PeerVar::SrcHost => p.srchost.is_some(),
            PeerVar::RefTime => !p.reference_time.is_zero(),
            PeerVar::Rec => !p.received.is_zero(),
            // A plain source's list stays ntpd's (ntpq's layouts are compared).
            PeerVar::Nts
            | PeerVar::NtsCookies
            | PeerVar::NtsKe
            | PeerVar::NtsKeLast
            | PeerVar::NtsKeCookies
            | PeerVar::NtsNeedKe
            | PeerVar::NtsNaks
            | PeerVar::NtsRefused
            | PeerVar::NtsRefusal => p.nts.is_some(),
            _ => true,
        }
    }

    /// Writes `name=value`.
    pub fn write(self, p: &PeerVars, w: &mut dyn Write) -> fmt::Result {
        let name = self.name();
        match self {
            PeerVar::SrcAdr => write!(w, "{name}={}", p.srcadr),
            PeerVar::SrcPort => write!(w, "{name}={}", p.srcport),
            PeerVar::SrcHost => write!(
                w,
                "{name}=\"{}\"",
                Quoted(p.srchost.as_deref().unwrap_or(""))
            ),
            PeerVar::Leap => write!(w, "{name}={}", p.leap & 0b11),
            PeerVar::Stratum => write!(w, "{name}={}", p.stratum),
            PeerVar::Precision => write!(w, "{name}={}", p.precision),
            PeerVar::RootDelay => write!(w, "{name}={}", Fixed(p.root_delay_ms, 3)),
            PeerVar::RootDisp => write!(w, "{name}={}", Fixed(p.root_dispersion_ms, 3)),
            PeerVar::RefId => write!(w, "{name}={}", RefIdText(p.refid, p.refid_kind)),
            PeerVar::RefTime => write!(w, "{name}={}", Lfp(p.reference_time)),
            PeerVar::Rec => write!(w, "{name}={}", Lfp(p.received)),
            PeerVar::Reach => write!(w, "{name}={:#x}", p.reach),
            PeerVar::HMode => write!(w, "{name}={}", p.hmode),
            PeerVar::HPoll => write!(w, "{name}={}", p.hpoll),
            PeerVar::PPoll => write!(w, "{name}={}", p.ppoll),
            PeerVar::Offset => write!(w, "{name}={}", Fixed(p.offset_ms, 3)),
            PeerVar::Delay => write!(w, "{name}={}", Fixed(p.delay_ms, 3)),
            PeerVar::Dispersion => write!(w, "{name}={}", Fixed(p.dispersion_ms, 3)),
            PeerVar::Jitter => write!(w, "{name}={}", Fixed(p.jitter_ms, 3)),
            PeerVar::Reason => write!(w, "{name}=\"{}\"", Quoted(&p.reason)),
            _ => write_nts(self, p.nts.as_ref(), w),
        }
    }
}

/// Writes one of the `nts*` variables; a plain source reports zeros and empty codes.
fn write_nts(v: PeerVar, nts: Option<&NtsSourceStatus>, w: &mut dyn Write) -> fmt::Result {
    let name = v.name();
    let n = nts.copied().unwrap_or(NtsSourceStatus {
        cookies: 0,
        needs_key_exchange: None,
        key_exchanges: 0,
        last_key_exchange: None,
        refused: 0,
        last_refusal: None,
        naks: 0,
    });
    match v {
        PeerVar::Nts => write!(w, "{name}={}", u8::from(nts.is_some())),
        PeerVar::NtsCookies => write!(w, "{name}={}", n.cookies),
        PeerVar::NtsKe => write!(w, "{name}={}", n.key_exchanges),
        PeerVar::NtsKeLast => {
            let code = match n.last_key_exchange {
                None => "",
                Some(KeResult::Ok { .. }) => "ok",
                Some(KeResult::Failed(f)) => f.code(),
            };
            write!(w, "{name}=\"{code}\"")
        }
        PeerVar::NtsKeCookies => {
            let c = match n.last_key_exchange {
                Some(KeResult::Ok { cookies }) => cookies,
                _ => 0,
            };
            write!(w, "{name}={c}")
        }
        PeerVar::NtsNeedKe => {
            let code = n.needs_key_exchange.map_or("", |k| k.code());
            write!(w, "{name}=\"{code}\"")
        }
        PeerVar::NtsNaks => write!(w, "{name}={}", n.naks),
        PeerVar::NtsRefused => write!(w, "{name}={}", n.refused),
        PeerVar::NtsRefusal => {
            let code = n.last_refusal.map_or("", |r| r.code());
            write!(w, "{name}=\"{code}\"")
        }
        _ => Ok(()),
    }
}

/// Seconds shown as milliseconds with this many decimals; NaN and infinities as 0
/// so that a parser never meets "NaN".
struct Ms(f64, usize);

impl fmt::Display for Ms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Fixed(self.0 * 1e3, self.1).fmt(f)
    }
}

/// A plain decimal with this many decimals; non-finite values as 0.
pub(super) struct Fixed(pub(super) f64, pub(super) usize);

impl fmt::Display for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = if self.0.is_finite() { self.0 } else { 0.0 };
        write!(f, "{v:.*}", self.1)
    }
}

/// An NTP timestamp as ntpd's `ctl_putts` writes it.
struct Lfp(NtpTimestamp);

impl fmt::Display for Lfp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:08x}.{:08x}", self.0.seconds(), self.0.fraction())
    }
}

/// A refid: a dotted quad, or its printable characters (NULs dropped, anything that
/// could break the list — comma, quote, `=`, controls — shown as `.`).
struct RefIdText(RefId, RefIdKind);

impl fmt::Display for RefIdText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0.to_bytes();
        match self.1 {
            RefIdKind::Address => {
                let [a, b2, c, d] = b;
                write!(f, "{a}.{b2}.{c}.{d}")
            }
            RefIdKind::Code => {
                for &c in b.iter().take_while(|&&c| c != 0) {
                    let ok = c.is_ascii_graphic() && !matches!(c, b',' | b'"' | b'=');
                    f.write_char(if ok { char::from(c) } else { '.' })?;
                }
                Ok(())
            }
        }
    }
}

/// A string inside double quotes: quotes, commas, `=`, backslashes and controls
/// become `.`, so that no value can end the string or the list early, nor plant a
/// `stratum=` that the C ntpstat's plain substring search would find first.
struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            let bad = matches!(c, '"' | ',' | '=' | '\\') || c.is_control();
            f.write_char(if bad { '.' } else { c })?;
        }
        Ok(())
    }
}
