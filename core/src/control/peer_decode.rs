//! READVAR's answer for one association read back into [`PeerVars`]: the inverse of
//! what [`PeerVar::write`] encodes, and tolerant of what other daemons send (ntpd and
//! ntpsec omit slew's `reason` and `nts*`; a hostile server sends anything).
//!
//! Every variable is optional: a missing or unreadable one takes ntpq's default
//! (stratum 16, `hmode` 3, `hpoll` 6, port 123, zero elsewhere). Where a name comes
//! twice, the first counts.

use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::peer_vars::{bounded_text, PeerVars, ReasonText};
use super::snapshot::{PeerStatus, RefIdKind};
use super::vars::{PeerVar, PEER_DEFAULT};
use crate::peer::{KeFailure, KeNeed, KeResult, NtsRefusal, NtsSourceStatus};
use crate::time::NtpTimestamp;
use crate::wire::RefId;

/// The `name=value` items of a variable list (`a=1, b="x, y",\r\n…`), each name
/// and value trimmed and the value's surrounding double quotes removed.
pub fn var_items(list: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut rest = list;
    core::iter::from_fn(move || loop {
        if rest.is_empty() {
            return None;
        }
        let mut quoted = false;
        let end = rest
            .iter()
            .position(|&c| {
                if c == b'"' {
                    quoted = !quoted;
                }
                c == b',' && !quoted
            })
            .unwrap_or(rest.len());
        let (item, tail) = rest.split_at_checked(end).unwrap_or((rest, &[]));
        let item = trim(item);
        rest = tail.get(1..).unwrap_or(&[]);
        if item.is_empty() {
            continue;
        }
        let (name, value) = match item.iter().position(|&c| c == b'=') {
            Some(eq) => {
                let (name, value) = item.split_at_checked(eq).unwrap_or((item, &[]));
                (trim(name), trim(value.get(1..).unwrap_or(&[])))
            }
            None => (item, &[][..]),
        };
        let value = match value {
            [b'"', inner @ .., b'"'] => inner,
            v => v,
        };
        return Some((name, value));
    })
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [c, tail @ ..] = s {
        if !(c.is_ascii_whitespace() || *c == 0) {
            break;
        }
        s = tail;
    }
    while let [head @ .., c] = s {
        if !(c.is_ascii_whitespace() || *c == 0) {
            break;
        }
        s = head;
    }
    s
}

/// A value as text, invalid UTF-8 shown as U+FFFD, cut to `N` bytes.
fn lossy<const N: usize>(v: &[u8]) -> heapless::String<N> {
    let mut out = heapless::String::new();
    for chunk in v.utf8_chunks() {
        for c in chunk.valid().chars() {
            if out.push(c).is_err() {
                return out;
            }
        }
        if !chunk.invalid().is_empty() && out.push(char::REPLACEMENT_CHARACTER).is_err() {
            return out;
        }
    }
    out
}

/// An integer, decimal or `0x` hex.
fn int(v: &[u8]) -> Option<i64> {
    let v = core::str::from_utf8(v).ok()?;
    match v.strip_prefix("0x") {
        Some(hex) => i64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

fn float(v: &[u8]) -> Option<f64> {
    core::str::from_utf8(v).ok()?.parse().ok()
}

/// `0xSSSSSSSS.FFFFFFFF` (ntpd's `ctl_putts`); a missing fraction is zero.
fn lfp(v: &[u8]) -> Option<NtpTimestamp> {
    let v = core::str::from_utf8(v).ok()?.strip_prefix("0x")?;
    let (s, f) = v.split_once('.').unwrap_or((v, "0"));
    let s = u32::from_str_radix(s.get(..8.min(s.len()))?, 16).ok()?;
    let f = u32::from_str_radix(f.get(..8.min(f.len()))?, 16).ok()?;
    Some(NtpTimestamp::from_parts(s, f))
}

/// A dotted quad is an address refid; anything else a code of up to four bytes.
fn refid(v: &[u8]) -> (RefId, RefIdKind) {
    if let Some(a) = core::str::from_utf8(v)
        .ok()
        .and_then(|t| t.parse::<Ipv4Addr>().ok())
    {
        return (RefId::from_bytes(a.octets()), RefIdKind::Address);
    }
    let mut b = [0u8; 4];
    for (d, s) in b.iter_mut().zip(v) {
        *d = *s;
    }
    (RefId::from_bytes(b), RefIdKind::Code)
}

/// `192.0.2.1`, `2001:db8::1`, or either with brackets or a port.
fn address(v: &[u8]) -> Option<IpAddr> {
    let t = core::str::from_utf8(v).ok()?;
    t.parse::<IpAddr>()
        .ok()
        .or_else(|| t.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            t.strip_prefix('[')
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse().ok())
        })
}

/// `v` held to `lo..=hi`, which `T` holds.
fn clamp<T: TryFrom<i64> + Default>(v: i64, lo: i64, hi: i64) -> T {
    T::try_from(v.clamp(lo, hi)).unwrap_or_default()
}

fn ke_result(code: &[u8], cookies: u8) -> Option<KeResult> {
    if code == b"ok" {
        return Some(KeResult::Ok { cookies });
    }
    KeFailure::ALL
        .iter()
        .find(|f| f.code().as_bytes() == code)
        .map(|&f| KeResult::Failed(f))
}

/// What the tally alone says against a source, for a daemon that sends no `reason`.
fn reason_from_tally(status: PeerStatus, reach: u8) -> &'static str {
    match status.tally() {
        'x' => "falseticker",
        '.' => "excess",
        '-' => "outlier",
        '#' => "backup",
        ' ' if reach == 0 => "unreach",
        ' ' => "rejected",
        _ => "",
    }
}

impl PeerVars {
    /// Association `association_id`'s variables from READVAR's answer `list`, with
    /// the peer status word `status` (the answer's, or the READSTAT list's).
    ///
    /// What [`PeerVar::write`] wrote comes back as it was: the figures to the
    /// decimals sent, strings as sent (cut to their capacity). A daemon that sends
    /// no `reason` gets the tally's meaning (`falseticker`, `unreach`…); `nts` is
    /// `Some` only with `nts=1`, and an NTS code slew does not know reads as none.
    pub fn decode(association_id: u16, status: u16, list: &[u8]) -> Self {
        let mut p = PeerVars {
            association_id,
            srcadr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            srcport: 123,
            srchost: None,
            status: PeerStatus::from_word(status),
            leap: 0,
            stratum: 16,
            precision: 0,
            root_delay_ms: 0.0,
            root_dispersion_ms: 0.0,
            refid: RefId::from_bytes([0; 4]),
            refid_kind: RefIdKind::Code,
            reference_time: NtpTimestamp::ZERO,
            received: NtpTimestamp::ZERO,
            reach: 0,
            hmode: 3,
            hpoll: 6,
            ppoll: 0,
            offset_ms: 0.0,
            delay_ms: 0.0,
            dispersion_ms: 0.0,
            jitter_ms: 0.0,
            reason: ReasonText::new(),
            nts: None,
        };
        let mut nts = Nts::default();
        let mut seen = 0u32;
        let mut has_reason = false;
        for (name, v) in var_items(list) {
            let Some(var) = PeerVar::from_name(name) else {
                continue;
            };
            let bit = 1u32 << PEER_DEFAULT.iter().position(|&d| d == var).unwrap_or(31);
            if seen & bit != 0 {
                continue;
            }
            seen |= bit;
            let n = int(v);
            let f = float(v);
            match var {
                PeerVar::SrcAdr => {
                    if let Some(a) = address(v) {
                        p.srcadr = a;
                    }
                }
                PeerVar::SrcPort => p.srcport = n.map_or(123, |n| clamp(n, 0, 65535)),
                PeerVar::SrcHost => {
                    p.srchost = Some(lossy(v)).filter(|h: &super::HostName| !h.is_empty())
                }
                PeerVar::Leap => p.leap = n.map_or(0, |n| clamp::<u8>(n, 0, 3)),
                PeerVar::Stratum => p.stratum = n.map_or(16, |n| clamp(n, 0, 255)),
                PeerVar::Precision => p.precision = n.map_or(0, |n| clamp(n, -128, 127)),
                PeerVar::RootDelay => p.root_delay_ms = f.unwrap_or(0.0),
                PeerVar::RootDisp => p.root_dispersion_ms = f.unwrap_or(0.0),
                PeerVar::RefId => (p.refid, p.refid_kind) = refid(v),
                PeerVar::RefTime => p.reference_time = lfp(v).unwrap_or(NtpTimestamp::ZERO),
                PeerVar::Rec => p.received = lfp(v).unwrap_or(NtpTimestamp::ZERO),
                PeerVar::Reach => p.reach = n.map_or(0, |n| clamp(n, 0, 255)),
                PeerVar::HMode => p.hmode = n.map_or(3, |n| clamp(n, 0, 255)),
                PeerVar::HPoll => p.hpoll = n.map_or(6, |n| clamp(n, -128, 127)),
                PeerVar::PPoll => p.ppoll = n.map_or(0, |n| clamp(n, -128, 127)),
                PeerVar::Offset => p.offset_ms = f.unwrap_or(0.0),
                PeerVar::Delay => p.delay_ms = f.unwrap_or(0.0),
                PeerVar::Dispersion => p.dispersion_ms = f.unwrap_or(0.0),
                PeerVar::Jitter => p.jitter_ms = f.unwrap_or(0.0),
                PeerVar::Reason => {
                    has_reason = true;
                    p.reason = lossy(v);
                }
                _ => nts.read(var, v),
            }
        }
        if !has_reason {
            p.reason = bounded_text(reason_from_tally(p.status, p.reach));
        }
        p.nts = nts.finish();
        p
    }
}

/// The `nts*` variables as they come.
#[derive(Default)]
struct Nts<'a> {
    on: bool,
    cookies: u8,
    key_exchanges: u32,
    last: &'a [u8],
    last_cookies: u8,
    need: &'a [u8],
    naks: u32,
    refused: u32,
    refusal: &'a [u8],
}

impl<'a> Nts<'a> {
    fn read(&mut self, var: PeerVar, v: &'a [u8]) {
        let count = |max: i64| int(v).unwrap_or(0).clamp(0, max);
        match var {
            PeerVar::Nts => self.on = int(v) == Some(1),
            PeerVar::NtsCookies => self.cookies = count(255) as u8,
            PeerVar::NtsKe => self.key_exchanges = count(u32::MAX.into()) as u32,
            PeerVar::NtsKeLast => self.last = v,
            PeerVar::NtsKeCookies => self.last_cookies = count(255) as u8,
            PeerVar::NtsNeedKe => self.need = v,
            PeerVar::NtsNaks => self.naks = count(u32::MAX.into()) as u32,
            PeerVar::NtsRefused => self.refused = count(u32::MAX.into()) as u32,
            PeerVar::NtsRefusal => self.refusal = v,
            _ => {}
        }
    }

    fn finish(self) -> Option<NtsSourceStatus> {
        if !self.on {
            return None;
        }
        Some(NtsSourceStatus {
            cookies: self.cookies,
            needs_key_exchange: KeNeed::ALL
                .iter()
                .copied()
                .find(|k| k.code().as_bytes() == self.need),
            key_exchanges: self.key_exchanges,
            last_key_exchange: ke_result(self.last, self.last_cookies),
            refused: self.refused,
            last_refusal: NtsRefusal::ALL
                .iter()
                .copied()
                .find(|r| r.code().as_bytes() == self.refusal),
            naks: self.naks,
        })
    }
}
