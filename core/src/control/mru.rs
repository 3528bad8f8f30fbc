//! `ntpq -c mrulist`: REQ_NONCE (opcode 12) and READ_MRU (opcode 10), as ntpsec
//! 1.2.2 speaks them.
//!
//! 1. ntpq asks REQ_NONCE; the answer is `nonce=` and 24 hex digits: the request's
//!    arrival time (NTP seconds and fraction) and a 32-bit tag, a keyed hash
//!    (SipHash-1-3 under the port's random secret) of that time and the client's
//!    address and port. Only who receives traffic at an address can know a tag for
//!    it, so the list cannot be reflected at a spoofed victim.
//! 2. ntpq asks READ_MRU with `nonce=…, frags=N` (or `limit=N`) and, on later
//!    rounds, `addr.I=`/`last.I=` pairs of the newest entries it has. A request with
//!    a missing, forged, foreign or expired (older than [`NONCE_TIMEOUT_S`]) nonce,
//!    or a parameter that does not parse, gets no answer at all, as from ntpd.
//!    `frags` above [`MRU_FRAGS_LIMIT`], or neither `frags` nor a `limit` of 1 to
//!    [`MRU_ROW_LIMIT`], gets BADVALUE; a client `nomrulist` restricts gets
//!    PERMISSION; starting points that all changed get UNKNOWNVAR (ntpq then backs
//!    up).
//! 3. The answer: `last.older`/`addr.older` confirming the starting point (when one
//!    was given), a fresh `nonce`, then entries least recently seen first, each as
//!    `addr.I last.I first.I ct.I mv.I rs.I sc.I dr.I`, within `frags` datagrams;
//!    when the list is done, `now=` and `last.newest=`.
//!
//! Filters ntpq can send are honoured (`mincount`, `mindrop`, `minscore`, `resall`,
//! `resany`, `maxlstint`, `minlstint`, `recent`), except `laddr`: it must parse, but
//! slew's table does not record which local address a client used, so it selects
//! every entry.

use core::net::{IpAddr, SocketAddr};

use super::extra::{MruContext, MruEntry};
use crate::ratelimit::sip13;
use crate::time::NtpTimestamp;

/// A nonce is accepted for this long after it was issued, seconds (ntpsec's
/// `NONCE_TIMEOUT`).
pub const NONCE_TIMEOUT_S: i64 = 16;
/// Most datagrams one READ_MRU answer may be asked for (ntpd's `MRU_FRAGS_LIMIT`).
pub const MRU_FRAGS_LIMIT: u16 = 128;
/// Most entries one READ_MRU answer may be asked for with `limit=` (ntpd's
/// `MRU_ROW_LIMIT`).
pub const MRU_ROW_LIMIT: u32 = 256;
/// Starting points a request may carry (`addr.0`… `addr.15`).
pub const MRU_PRIORS: usize = 16;

/// The nonce text for `client` at `at`: 24 hex digits.
pub fn nonce(key: &[u8; 16], client: SocketAddr, at: NtpTimestamp) -> [u8; 24] {
    let tag = tag(key, client, at.seconds(), at.fraction());
    let mut out = [0u8; 24];
    for (i, word) in [at.seconds(), at.fraction(), tag].iter().enumerate() {
        for j in 0..8 {
            let nibble = (word >> (28 - 4 * j)) & 0xf;
            if let Some(b) = out.get_mut(i * 8 + j) {
                *b = b"0123456789abcdef"
                    .get(nibble as usize)
                    .copied()
                    .unwrap_or(b'0');
            }
        }
    }
    out
}

fn tag(key: &[u8; 16], client: SocketAddr, secs: u32, frac: u32) -> u32 {
    let mut k0 = [0u8; 8];
    let mut k1 = [0u8; 8];
    k0.copy_from_slice(key.get(..8).unwrap_or(&[0; 8]));
    k1.copy_from_slice(key.get(8..).unwrap_or(&[0; 8]));
    let key = (u64::from_le_bytes(k0), u64::from_le_bytes(k1));
    let (family, bits) = match client.ip() {
        IpAddr::V4(a) => (4u64, u128::from(u32::from(a))),
        IpAddr::V6(a) => (6u64, u128::from(a)),
    };
    let time = (u64::from(secs) << 32) | u64::from(frac);
    let h = sip13(key, time, (bits >> 64) as u64, bits as u64);
    let h = sip13(key, h, (family << 16) | u64::from(client.port()), 0);
    h as u32
}

/// Whether `text` is a nonce issued to `client` less than [`NONCE_TIMEOUT_S`]
/// before `now`.
pub fn nonce_valid(key: &[u8; 16], client: SocketAddr, text: &[u8], now: NtpTimestamp) -> bool {
    if text.len() != 24 {
        return false;
    }
    let word = |i: usize| text.get(i * 8..i * 8 + 8).and_then(hex_u32);
    let (Some(secs), Some(frac), Some(given)) = (word(0), word(1), word(2)) else {
        return false;
    };
    if tag(key, client, secs, frac) != given {
        return false;
    }
    let issued = NtpTimestamp::from_parts(secs, frac);
    let age = now - issued;
    let age_ns = age.to_nanos();
    (0..NONCE_TIMEOUT_S * 1_000_000_000).contains(&age_ns)
}

fn hex_u32(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 8 {
        return None;
    }
    s.iter().try_fold(0u32, |acc, &c| {
        let d = char::from(c).to_digit(16)?;
        Some((acc << 4) | d)
    })
}

/// `0x` + 8 hex + `.` + 8 hex, as ntpd's timestamps.
fn parse_lfp(s: &[u8]) -> Option<NtpTimestamp> {
    let s = s.strip_prefix(b"0x")?;
    let dot = s.iter().position(|&c| c == b'.')?;
    let secs = hex_u32(s.get(..dot)?)?;
    let frac = hex_u32(s.get(dot + 1..)?)?;
    Some(NtpTimestamp::from_parts(secs, frac))
}

fn parse_uint(s: &[u8]) -> Option<u32> {
    core::str::from_utf8(s).ok()?.parse().ok()
}

fn parse_hex16(s: &[u8]) -> Option<u16> {
    let s = s.strip_prefix(b"0x").or_else(|| s.strip_prefix(b"0X"))?;
    u16::try_from(hex_u32(s)?).ok()
}

fn parse_addr(s: &[u8]) -> Option<IpAddr> {
    let text = core::str::from_utf8(s).ok()?;
    if let Ok(a) = text.parse::<SocketAddr>() {
        return Some(a.ip());
    }
    text.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok()
}

/// What a READ_MRU request asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MruRequest {
    /// `frags=`, 0 when not given.
    pub frags: u16,
    /// `limit=`, 0 when not given.
    pub limit: u32,
    min_count: u32,
    min_drop: u32,
    min_score: f64,
    res_all: u16,
    res_any: u16,
    max_lstint_s: u32,
    min_lstint_s: u32,
    recent: u32,
}

/// How a READ_MRU request is answered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MruDecision {
    /// No answer at all (nonce missing or invalid, a value that does not parse).
    Silent,
    /// An error response.
    Error(crate::wire::control::ErrorCode),
    /// Entries from this plan.
    Answer(MruPlan),
}

/// The entries to send.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MruPlan {
    /// The request's parameters.
    pub request: MruRequest,
    /// The index of the confirmed starting point (sent as `*.older`), if any.
    pub older: Option<usize>,
    /// The first entry index to consider.
    pub start: usize,
    /// `limit=1`: the entries the `addr.I` name, not a range.
    pub named: bool,
}

/// Reads a READ_MRU request's parameters and decides.
pub fn decide(data: &[u8], ctx: &MruContext<'_>) -> MruDecision {
    use crate::wire::control::ErrorCode;
    if !ctx.allowed {
        return MruDecision::Error(ErrorCode::Permission);
    }
    let mut r = MruRequest {
        frags: 0,
        limit: 0,
        min_count: 0,
        min_drop: 0,
        min_score: 0.0,
        res_all: 0,
        res_any: 0,
        max_lstint_s: 0,
        min_lstint_s: 0,
        recent: 0,
    };
    let mut priors_addr: [Option<IpAddr>; MRU_PRIORS] = [None; MRU_PRIORS];
    let mut priors_last: [Option<NtpTimestamp>; MRU_PRIORS] = [None; MRU_PRIORS];
    let mut nonce_ok = false;
    for item in data.split(|&b| b == b',') {
        let mut kv = item.splitn(2, |&b| b == b'=');
        let name = super::trim(kv.next().unwrap_or(&[]));
        let value = super::trim(kv.next().unwrap_or(&[]));
        if name.is_empty() {
            continue;
        }
        let ok = match name {
            b"nonce" => {
                nonce_ok = nonce_valid(&ctx.nonce_key, ctx.client, value, ctx.received);
                true
            }
            b"frags" => parse_uint(value)
                .and_then(|v| u16::try_from(v).ok())
                .map(|v| r.frags = v)
                .is_some(),
            b"limit" => parse_uint(value).map(|v| r.limit = v).is_some(),
            b"mincount" => parse_uint(value).map(|v| r.min_count = v).is_some(),
            b"mindrop" => parse_uint(value).map(|v| r.min_drop = v).is_some(),
            b"minscore" => core::str::from_utf8(value)
                .ok()
                .and_then(|t| t.parse::<f64>().ok())
                .filter(|v| v.is_finite())
                .map(|v| r.min_score = v.max(0.0))
                .is_some(),
            b"resall" => parse_hex16(value).map(|v| r.res_all = v).is_some(),
            b"resany" => parse_hex16(value).map(|v| r.res_any = v).is_some(),
            b"maxlstint" => parse_uint(value).map(|v| r.max_lstint_s = v).is_some(),
            b"minlstint" => parse_uint(value).map(|v| r.min_lstint_s = v).is_some(),
            b"recent" => parse_uint(value).map(|v| r.recent = v).is_some(),
            b"laddr" => parse_addr(value).is_some(),
            _ => {
                if let Some(i) = indexed(name, b"addr.") {
                    match (parse_addr(value), priors_addr.get_mut(i)) {
                        (Some(a), Some(slot)) => {
                            *slot = Some(a);
                            true
                        }
                        _ => false,
                    }
                } else if let Some(i) = indexed(name, b"last.") {
                    match (parse_lfp(value), priors_last.get_mut(i)) {
                        (Some(t), Some(slot)) => {
                            *slot = Some(t);
                            true
                        }
                        _ => false,
                    }
                } else {
                    // Unknown names are ignored, as by ntpd.
                    true
                }
            }
        };
        if !ok {
            return MruDecision::Silent;
        }
    }
    if !nonce_ok {
        return MruDecision::Silent;
    }
    if (r.frags == 0 && !(r.limit > 0 && r.limit <= MRU_ROW_LIMIT)) || r.frags > MRU_FRAGS_LIMIT {
        return MruDecision::Error(ErrorCode::BadValue);
    }
    if r.frags != 0 && r.limit == 0 {
        r.limit = u32::MAX;
    } else if r.limit != 0 && r.frags == 0 {
        r.frags = MRU_FRAGS_LIMIT;
    }
    if r.limit == 1 {
        return MruDecision::Answer(MruPlan {
            request: r,
            older: None,
            start: 0,
            named: true,
        });
    }
    let priors = priors_addr
        .iter()
        .zip(priors_last.iter())
        .take_while(|(a, l)| a.is_some() && l.is_some())
        .count();
    if priors == 0 {
        let skip = if r.recent > 0 {
            ctx.entries.len().saturating_sub(r.recent as usize)
        } else {
            0
        };
        return MruDecision::Answer(MruPlan {
            request: r,
            older: None,
            start: skip,
            named: false,
        });
    }
    let found = priors_addr
        .iter()
        .zip(priors_last.iter())
        .take(priors)
        .find_map(|(a, l)| {
            ctx.entries
                .iter()
                .position(|e| Some(e.addr.ip()) == *a && Some(e.last) == *l)
        });
    match found {
        Some(i) => MruDecision::Answer(MruPlan {
            request: r,
            older: Some(i),
            start: i + 1,
            named: false,
        }),
        None => MruDecision::Error(ErrorCode::UnknownVariable),
    }
}

/// `addr.7` → 7 (0 to 15 only).
fn indexed(name: &[u8], prefix: &[u8]) -> Option<usize> {
    let i = parse_uint(name.strip_prefix(prefix)?)? as usize;
    (i < MRU_PRIORS).then_some(i)
}

impl MruPlan {
    /// Whether entry `e` passes the request's filters at `now`.
    pub fn selects(&self, e: &MruEntry, now: NtpTimestamp) -> bool {
        let r = &self.request;
        let lstint_s = (now - e.last).to_seconds_f64();
        e.count >= r.min_count
            && e.dropped >= r.min_drop
            && e.score >= r.min_score
            && (r.res_all == 0 || e.restrict & r.res_all == r.res_all)
            && (r.res_any == 0 || e.restrict & r.res_any != 0)
            && (r.max_lstint_s == 0 || lstint_s <= f64::from(r.max_lstint_s))
            && (r.min_lstint_s == 0 || lstint_s >= f64::from(r.min_lstint_s))
    }
}

/// For `limit=1`: the `addr.I` of the request (`data`), as (I, address).
pub fn named_addrs(data: &[u8]) -> impl Iterator<Item = (usize, IpAddr)> + '_ {
    data.split(|&b| b == b',').filter_map(|item| {
        let mut kv = item.splitn(2, |&b| b == b'=');
        let name = super::trim(kv.next().unwrap_or(&[]));
        let value = super::trim(kv.next().unwrap_or(&[]));
        Some((indexed(name, b"addr.")?, parse_addr(value)?))
    })
}
