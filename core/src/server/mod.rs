//! Answering client requests: a request becomes a response in the caller's buffer.
//!
//! Call order, per received datagram:
//!
//! 1. [`Server::respond_to`] with the [`Policy`] (restrict table, rate limiter, keys),
//!    the [`Client`] it came from, the request bytes, the kernel's receive timestamp
//!    and the current [`SystemVars`]. It either fills the caller's buffer with a
//!    response (all fields but the transmit timestamp) and returns a
//!    [`PendingResponse`], or returns the [`DropReason`] and counts it.
//!    ([`Server::respond`] is the same with no restrictions and no keys.)
//! 2. Read the clock as late as possible, then [`PendingResponse::finish`] writes the
//!    transmit timestamp, signs the answer when the request was authenticated, and
//!    hands back the bytes to send.
//!
//! The split exists so that the transmit timestamp is taken after all the work of
//! building the answer, right before the send: the client's offset estimate depends
//! on it (RFC 5905 §8).
//!
//! # Decisions, in order
//!
//! 1. `restrict … ignore` for the source: drop, before the packet is even parsed.
//! 2. The packet must parse ([`Packet::new_checked`]); mode 3 (or version 1 mode 0)
//!    is a time request; mode 6 goes to the control path only from loopback or a
//!    source a `restrict` line more specific than `default` names, and never under
//!    `noquery` ([`DropReason::Control`] tells the caller to hand it over); every
//!    other mode, mode 7 included, is dropped.
//! 3. `noserve`: drop; `version`: drop unless version 4.
//! 4. `limited`: the [`RateLimiter`] decides: serve,
//!    drop, or (with `kod`) answer with a RATE kiss. Before any MAC is computed, so a
//!    flood costs no cryptography.
//! 5. NTS ([`nts`], with the `nts` feature and keys installed): a request with NTS
//!    fields is verified, NAKed or dropped there and never reaches the MAC check; an
//!    ordinary request goes on.
//! 6. The MAC ([`crate::auth`]): none → plain answer (or drop under `notrust`); valid
//!    under a trusted key → answer signed with the same key; anything else (unknown
//!    or untrusted key, wrong digest) → a crypto-NAK, and no time.
//!
//! # Amplification
//!
//! A response is never larger than its request: a plain answer or a RATE kiss is the
//! 48-byte header, and every request is at least that; a crypto-NAK (52 bytes) only
//! answers a request carrying a MAC (at least 68 bytes); a signed answer carries a MAC
//! of the length the request's own MAC had. Extension fields are never echoed, but by
//! NTS, whose answers are exactly as long as their requests and whose NAK is shorter.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

#[cfg(feature = "nts")]
pub mod nts;
#[cfg(feature = "nts")]
#[cfg(test)]
mod nts_tests;
#[cfg(test)]
mod policy_tests;
mod stats;
#[cfg(test)]
mod tests;

use core::net::IpAddr;

pub use stats::{DropReason, MacStats, NtsStats, ServerStats};

use crate::access::{Access, AccessTable};
#[cfg(feature = "auth")]
use crate::auth::{AuthFailure, AuthStatus, KeyTable, SymmetricKey};
use crate::clock::LeapIndicator;
use crate::ratelimit::{RateLimiter, Seen, Verdict};
use crate::system::SystemVars;
use crate::time::{Instant, NtpShort, NtpTimestamp};
use crate::wire::{self, Mode, Packet, RefId, Repr, HEADER_LEN};

/// Where a request came from, and when (monotonic, for the rate limiter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Client {
    /// Source address.
    pub addr: IpAddr,
    /// Source port.
    pub port: u16,
    /// Monotonic time of arrival.
    pub now: Instant,
}

/// The restrict table, as the server asks it.
pub trait AccessLookup {
    /// The flags for a source address and port.
    fn access(&self, addr: IpAddr, port: u16) -> Access;

    /// Whether a `restrict` line more specific than `default` names this source
    /// (mode 6 from beyond loopback is handed on only for such sources). A table
    /// that cannot tell names none.
    fn names_specifically(&self, addr: IpAddr, port: u16) -> bool {
        let _ = (addr, port);
        false
    }
}

impl<const N: usize> AccessLookup for AccessTable<N> {
    fn access(&self, addr: IpAddr, port: u16) -> Access {
        self.lookup(addr, port)
    }

    fn names_specifically(&self, addr: IpAddr, port: u16) -> bool {
        self.matches_specific(addr, port)
    }
}

/// Who may send mode 6 queries, decided here once for every port: `noquery`
/// refuses; otherwise loopback may, and beyond it only a source that a `restrict`
/// line more specific than `default` names (ntpd answers any source its `restrict
/// default` lets through; slew answers remote `ntpq` only where the admin wrote a
/// line for it, issue 5). Without a restrict table ([`Policy::OPEN`]) nothing is
/// restricted.
fn control_verdict(
    table: Option<&dyn AccessLookup>,
    client: &Client,
    access: Access,
) -> DropReason {
    if !access.may_query() {
        return DropReason::NoQuery;
    }
    let Some(table) = table else {
        return DropReason::Control;
    };
    let loopback = match client.addr {
        IpAddr::V4(a) => a.is_loopback(),
        IpAddr::V6(a) => a.is_loopback() || a.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    };
    if loopback || table.names_specifically(client.addr, client.port) {
        DropReason::Control
    } else {
        DropReason::NoQuery
    }
}

/// The rate limiter, as the server asks it.
pub trait RateCheck {
    /// Records a request and says what to do with it (see [`RateLimiter::record`]):
    /// `limit` is `Some(kod)` for a `limited` source, `None` to only monitor it.
    fn record(&mut self, addr: IpAddr, now: Instant, seen: Seen, limit: Option<bool>) -> Verdict;

    /// Whether sources that are not `limited` are recorded too (ntpd's `enable
    /// monitor`, its default); `false` after `disable monitor`.
    fn monitors_all(&self) -> bool {
        true
    }
}

impl<const N: usize> RateCheck for RateLimiter<N> {
    fn record(&mut self, addr: IpAddr, now: Instant, seen: Seen, limit: Option<bool>) -> Verdict {
        RateLimiter::record(self, addr, now, seen, limit)
    }

    fn monitors_all(&self) -> bool {
        RateLimiter::monitors_all(self)
    }
}

/// The key table, as the server asks it.
#[cfg(feature = "auth")]
pub trait KeyLookup {
    /// Reads the trailer of a received packet (see [`KeyTable::check`]).
    fn check_mac(&self, packet: &[u8]) -> AuthStatus<'_>;

    /// The algorithm of key `id`, if it is known (for the counters).
    fn algorithm_of(&self, id: u32) -> Option<crate::auth::MacAlgorithm> {
        let _ = id;
        None
    }
}

#[cfg(feature = "auth")]
impl<const N: usize> KeyLookup for KeyTable<N> {
    fn check_mac(&self, packet: &[u8]) -> AuthStatus<'_> {
        self.check(packet)
    }

    fn algorithm_of(&self, id: u32) -> Option<crate::auth::MacAlgorithm> {
        self.get(id).map(SymmetricKey::algorithm)
    }
}

/// What the server consults for each request. [`Policy::OPEN`]: no restrictions, no
/// rate limit, no keys (every MAC gets a crypto-NAK).
pub struct Policy<'a> {
    /// The restrict table; `None` serves everyone.
    pub access: Option<&'a dyn AccessLookup>,
    /// The rate limiter for `limited` sources; `None` never limits.
    pub limiter: Option<&'a mut dyn RateCheck>,
    /// The symmetric keys; `None` knows no key.
    #[cfg(feature = "auth")]
    pub keys: Option<&'a dyn KeyLookup>,
}

impl core::fmt::Debug for Policy<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Policy")
            .field("access", &self.access.is_some())
            .field("limiter", &self.limiter.is_some())
            .finish()
    }
}

impl Policy<'_> {
    /// No restrictions, no rate limit, no keys.
    pub const OPEN: Policy<'static> = Policy {
        access: None,
        limiter: None,
        #[cfg(feature = "auth")]
        keys: None,
    };
}

/// What kind of answer a [`PendingResponse`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseKind {
    /// The time, unauthenticated.
    Time,
    /// The time, signed with this key id.
    Authenticated(u32),
    /// A RATE kiss-o'-death to an over-limit client.
    RateKiss,
    /// A crypto-NAK: the request's MAC did not authenticate (why, when known).
    #[cfg(feature = "auth")]
    CryptoNak(AuthFailure),
    /// A crypto-NAK (the `auth` feature is off: no key is known).
    #[cfg(not(feature = "auth"))]
    CryptoNak,
    /// The time, authenticated by NTS (RFC 8915), with fresh cookies.
    Nts,
    /// An NTS NAK: the request's cookie did not open or its authenticator did not
    /// verify. Carries no time.
    NtsNak,
}

impl ResponseKind {
    /// True for a crypto-NAK, with or without the `auth` feature's reason.
    pub const fn is_crypto_nak(&self) -> bool {
        #[cfg(feature = "auth")]
        {
            matches!(self, Self::CryptoNak(_))
        }
        #[cfg(not(feature = "auth"))]
        {
            matches!(self, Self::CryptoNak)
        }
    }
}

/// A response whose every field but the transmit timestamp is written.
#[derive(Debug)]
#[must_use = "a pending response must be finished with the transmit time and sent"]
pub struct PendingResponse {
    len: usize,
    kind: ResponseKind,
    /// The key to sign with: a copy, so the response borrows nothing.
    #[cfg(feature = "auth")]
    sign_with: Option<SymmetricKey>,
    /// The NTS authenticator to seal once the transmit timestamp is in.
    #[cfg(feature = "nts")]
    nts_seal: Option<crate::nts::server::UnsealedResponse>,
}

impl PendingResponse {
    /// A response that goes out without a MAC.
    const fn unsigned(len: usize, kind: ResponseKind) -> Self {
        Self {
            len,
            kind,
            #[cfg(feature = "auth")]
            sign_with: None,
            #[cfg(feature = "nts")]
            nts_seal: None,
        }
    }

    /// Length of the response in bytes, MAC included.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Always false: a response has a header. (For clippy's `len_without_is_empty`.)
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// What kind of answer this is.
    pub const fn kind(&self) -> ResponseKind {
        self.kind
    }

    /// Writes the transmit timestamp, read from the clock as late as possible, signs
    /// the packet if the request was authenticated, and returns the bytes to send:
    /// the first [`len`](Self::len) bytes of `buf`, the same buffer given to
    /// [`Server::respond_to`]. A crypto-NAK or an NTS NAK carries no time: its
    /// transmit timestamp stays zero. An NTS answer's authenticator is sealed here,
    /// over the header with its transmit timestamp; should that fail (a different
    /// buffer than the one given to `respond_to`), nothing is to be sent: the bytes
    /// are empty.
    pub fn finish(self, buf: &mut [u8], transmit: NtpTimestamp) -> &[u8] {
        if !self.kind.is_crypto_nak() && self.kind != ResponseKind::NtsNak {
            if let Some(header) = buf.get_mut(..HEADER_LEN) {
                Packet::new_unchecked(header).set_transmit_timestamp(transmit);
            }
        }
        #[cfg(feature = "auth")]
        if let Some(key) = &self.sign_with {
            // Room was checked when the response was built.
            let _ = key.sign(buf, HEADER_LEN);
        }
        #[cfg(feature = "nts")]
        if let Some(unsealed) = &self.nts_seal {
            if unsealed.seal(buf).is_err() {
                return &[];
            }
        }
        buf.get(..self.len).unwrap_or_default()
    }
}

/// The time server: stateless apart from its counters and, with NTS, its master keys
/// and nonce generator.
#[derive(Clone, Debug, Default)]
pub struct Server {
    stats: ServerStats,
    #[cfg(feature = "nts")]
    nts: Option<nts::NtsServer>,
}

/// How the request's trailer was judged.
enum Auth {
    /// No MAC (or a crypto-NAK from the client, which authenticates nothing).
    None,
    #[cfg(feature = "auth")]
    Valid(SymmetricKey),
    #[cfg(feature = "auth")]
    Invalid(AuthFailure),
    #[cfg(not(feature = "auth"))]
    Invalid,
}

impl Server {
    /// A server with zeroed counters.
    pub const fn new() -> Self {
        Self {
            stats: ServerStats::ZERO,
            #[cfg(feature = "nts")]
            nts: None,
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> &ServerStats {
        &self.stats
    }

    /// Counts a drop decided outside [`Server::respond_to`] (a datagram cut short by
    /// the receive buffer, say).
    pub fn count_drop(&mut self, reason: DropReason) {
        if let Some(c) = self.stats.dropped.get_mut(reason.index()) {
            *c += 1;
        }
    }

    /// [`Server::respond_to`] with [`Policy::OPEN`]: everyone is served, no key is
    /// known.
    pub fn respond(
        &mut self,
        request: &[u8],
        rx_time: NtpTimestamp,
        sys: &SystemVars,
        out: &mut [u8],
    ) -> Result<PendingResponse, DropReason> {
        let client = Client {
            addr: IpAddr::V4(core::net::Ipv4Addr::UNSPECIFIED),
            port: 0,
            now: Instant::ZERO,
        };
        let mut open = Policy::OPEN;
        self.respond_to(&mut open, client, request, rx_time, sys, out)
    }

    /// Builds the answer to `request` from `client`, received at `rx_time`, into
    /// `out`, following `policy` (decisions in the [module docs](self)).
    ///
    /// The time answer is mode 4 with the request's version and poll, origin = the
    /// request's transmit timestamp, receive = `rx_time`, and the system variables.
    /// Version 1 predates the mode field and sends mode 0 as a client; that one case
    /// of mode 0 is served (RFC 1305 appendix), every other mode 0 is dropped.
    pub fn respond_to(
        &mut self,
        policy: &mut Policy<'_>,
        client: Client,
        request: &[u8],
        rx_time: NtpTimestamp,
        sys: &SystemVars,
        out: &mut [u8],
    ) -> Result<PendingResponse, DropReason> {
        // Versions of time traffic only: ntpd counts mode 6 (ntpq speaks version 2)
        // in neither "current" nor "older version".
        if let Some(&first) = request.first().filter(|&&b| b & 0b111 != 6) {
            let version = usize::from((first >> 3) & 0b111);
            let mode = usize::from(first & 0b111);
            if let Some(c) = self.stats.by_version.get_mut(version) {
                *c += 1;
            }
            if version == 1 {
                if let Some(c) = self.stats.v1_by_mode.get_mut(mode) {
                    *c += 1;
                }
            }
        }
        let hook = Hook {
            #[cfg(feature = "nts")]
            nts: self.nts.as_mut().map(|n| (n, &mut self.stats.nts)),
            _none: core::marker::PhantomData,
        };
        let result = Self::build(policy, hook, client, request, rx_time, sys, out);
        match &result {
            Ok(p) => {
                self.stats.answered += 1;
                match p.kind {
                    ResponseKind::Time => {}
                    ResponseKind::Authenticated(_) => self.stats.authenticated += 1,
                    ResponseKind::RateKiss => self.stats.rate_kisses += 1,
                    k if k.is_crypto_nak() => self.stats.crypto_naks += 1,
                    _ => {}
                }
            }
            Err(reason) => self.count_drop(*reason),
        }
        #[cfg(feature = "auth")]
        self.count_mac(policy, &result);
        result
    }

    /// The MAC counters for one request (a second, cheap look at its trailer: the
    /// MAC itself is not computed again).
    #[cfg(feature = "auth")]
    fn count_mac(&mut self, policy: &Policy<'_>, result: &Result<PendingResponse, DropReason>) {
        use crate::auth::MacAlgorithm;
        let judged = match result {
            Ok(p) => match p.kind {
                ResponseKind::Authenticated(id) => Some((id, true)),
                ResponseKind::CryptoNak(why) => Some((why.key_id(), false)),
                _ => None,
            },
            Err(_) => None,
        };
        let Some((id, ok)) = judged else { return };
        let mac = &mut self.stats.mac;
        mac.lookups += 1;
        let algorithm = policy.keys.and_then(|k| k.algorithm_of(id));
        match algorithm {
            None => mac.not_found += 1,
            Some(MacAlgorithm::Aes128Cmac) => {
                mac.cmac_checked += 1;
                if ok {
                    mac.cmac_signed += 1;
                } else {
                    mac.cmac_failed += 1;
                }
            }
            Some(_) => {
                mac.digest_checked += 1;
                if ok {
                    mac.digest_signed += 1;
                } else {
                    mac.digest_failed += 1;
                }
            }
        }
    }

    fn build(
        policy: &mut Policy<'_>,
        hook: Hook<'_>,
        client: Client,
        request: &[u8],
        rx_time: NtpTimestamp,
        sys: &SystemVars,
        out: &mut [u8],
    ) -> Result<PendingResponse, DropReason> {
        let access = match policy.access {
            Some(table) => table.access(client.addr, client.port),
            None => Access::OPEN,
        };
        if access.is_ignored() {
            return Err(DropReason::Ignored);
        }
        // Control (mode 6) messages have a 12-byte header of their own: dispatch on
        // the first byte before the 48-byte check would call them truncated.
        let seen = Seen {
            port: client.port,
            mode_version: request.first().map_or(0, |&b| b & 0x3f),
            flags: access.flags.ntpd_bits(),
        };
        if request.first().map(|&b| Mode::from_bits(b)) == Some(Mode::Control) {
            if let Some(limiter) = policy.limiter.as_deref_mut() {
                if limiter.monitors_all() {
                    limiter.record(client.addr, client.now, seen, None);
                }
            }
            return Err(control_verdict(policy.access, &client, access));
        }
        let packet = Packet::new_checked(request).map_err(|e| match e {
            wire::Error::Truncated => DropReason::Truncated,
            wire::Error::BadVersion(_) => DropReason::BadVersion,
            _ => DropReason::Malformed,
        })?;
        let version = packet.version();
        match packet.mode() {
            Mode::Client => {}
            Mode::Reserved if version == 1 => {}
            Mode::Reserved => return Err(DropReason::ModeReserved),
            Mode::Server if packet.is_kiss() => return Err(DropReason::KissOfDeath),
            Mode::Server => return Err(DropReason::ModeServer),
            Mode::Control => return Err(control_verdict(policy.access, &client, access)),
            _ => return Err(DropReason::ModeUnsupported),
        }
        if !access.may_serve() {
            return Err(DropReason::NoServe);
        }
        if access.requires_v4() && version != 4 {
            return Err(DropReason::VersionRestricted);
        }
        if let Some(limiter) = policy.limiter.as_deref_mut() {
            let limit = access.is_limited().then_some(access.sends_kod());
            if limit.is_some() || limiter.monitors_all() {
                match limiter.record(client.addr, client.now, seen, limit) {
                    Verdict::Serve => {}
                    Verdict::Drop => return Err(DropReason::RateLimited),
                    Verdict::Kiss => return rate_kiss(&packet, rx_time, sys, out),
                }
            }
        }
        #[cfg(feature = "nts")]
        if let Some((nts, stats)) = hook.nts {
            if let nts::Hook::Done(r) = nts::answer(nts, stats, &packet, request, rx_time, sys, out)
            {
                return r;
            }
        }
        let _ = hook;
        let auth = judge_mac(policy, request, &packet);
        match auth {
            Auth::None if access.requires_auth() => Err(DropReason::NotTrusted),
            Auth::None => time_answer(&packet, rx_time, sys, out, ResponseKind::Time),
            #[cfg(feature = "auth")]
            Auth::Valid(key) => {
                let total = HEADER_LEN + key.mac_len();
                if out.len() < total {
                    return Err(DropReason::NoBuffer);
                }
                let kind = ResponseKind::Authenticated(key.id());
                let mut p = time_answer(&packet, rx_time, sys, out, kind)?;
                p.len = total;
                p.sign_with = Some(key);
                Ok(p)
            }
            #[cfg(feature = "auth")]
            Auth::Invalid(why) => crypto_nak(&packet, out, ResponseKind::CryptoNak(why)),
            #[cfg(not(feature = "auth"))]
            Auth::Invalid => crypto_nak(&packet, out, ResponseKind::CryptoNak),
        }
    }
}

/// What [`Server::build`] may use besides the policy: the NTS keys and counters.
struct Hook<'a> {
    #[cfg(feature = "nts")]
    nts: Option<(&'a mut nts::NtsServer, &'a mut NtsStats)>,
    _none: core::marker::PhantomData<&'a mut ()>,
}

/// Judges the request's MAC trailer, if any.
fn judge_mac(policy: &Policy<'_>, request: &[u8], packet: &Packet<&[u8]>) -> Auth {
    let Some(mac) = packet.mac() else {
        return Auth::None;
    };
    if mac.is_crypto_nak() {
        return Auth::None;
    }
    #[cfg(feature = "auth")]
    {
        let Some(keys) = policy.keys else {
            return Auth::Invalid(AuthFailure::UnknownKey(mac.key_id()));
        };
        match keys.check_mac(request) {
            AuthStatus::Authentic(key) => Auth::Valid(key.clone()),
            AuthStatus::Failed(why) => Auth::Invalid(why),
            AuthStatus::None | AuthStatus::CryptoNak => Auth::None,
        }
    }
    #[cfg(not(feature = "auth"))]
    {
        let _ = (policy, request);
        Auth::Invalid
    }
}

/// A kiss-o'-death (RFC 5905 §7.4) answering `packet`: leap 3, stratum 0, the code
/// in the refid, version and poll echoed, origin = the client's transmit timestamp
/// (so the client can match it), no reference data; `time` as receive and transmit.
fn kiss(packet: &Packet<&[u8]>, code: RefId, precision: i8, time: NtpTimestamp) -> Repr {
    Repr {
        leap: LeapIndicator::Unsynchronized,
        version: packet.version(),
        mode: Mode::Server,
        stratum: 0,
        poll: packet.poll(),
        precision,
        root_delay: NtpShort::ZERO,
        root_dispersion: NtpShort::ZERO,
        ref_id: code,
        reference_timestamp: NtpTimestamp::ZERO,
        origin_timestamp: packet.transmit_timestamp(),
        receive_timestamp: time,
        transmit_timestamp: time,
    }
}

fn emit(repr: &Repr, out: &mut [u8]) -> Result<usize, DropReason> {
    let len = repr.buffer_len();
    let out = out.get_mut(..len).ok_or(DropReason::NoBuffer)?;
    repr.emit(&mut Packet::new_unchecked(out));
    Ok(len)
}

fn time_answer(
    packet: &Packet<&[u8]>,
    rx_time: NtpTimestamp,
    sys: &SystemVars,
    out: &mut [u8],
    kind: ResponseKind,
) -> Result<PendingResponse, DropReason> {
    let response = Repr {
        leap: if sys.is_synchronized() {
            sys.leap
        } else {
            LeapIndicator::Unsynchronized
        },
        version: packet.version(),
        mode: Mode::Server,
        stratum: sys.stratum,
        poll: packet.poll(),
        precision: sys.precision,
        root_delay: NtpShort::from_duration(sys.root_delay),
        root_dispersion: NtpShort::from_duration(sys.root_dispersion_at(rx_time)),
        ref_id: sys.ref_id,
        reference_timestamp: sys.reference_time,
        origin_timestamp: packet.transmit_timestamp(),
        receive_timestamp: rx_time,
        // Written by `PendingResponse::finish`; until then the receive time, so a
        // caller who forgets to finish still sends a self-consistent packet.
        transmit_timestamp: rx_time,
    };
    let len = emit(&response, out)?;
    Ok(PendingResponse::unsigned(len, kind))
}

/// A RATE kiss (RFC 5905 §7.4): leap 3, stratum 0, refid "RATE". It echoes the
/// client's transmit timestamp as origin so the client can match it, and carries our
/// receive and transmit times like ntpd's. Not signed: it costs no cryptography, and
/// an authenticated client ignores it, which is the safe side.
fn rate_kiss(
    packet: &Packet<&[u8]>,
    rx_time: NtpTimestamp,
    sys: &SystemVars,
    out: &mut [u8],
) -> Result<PendingResponse, DropReason> {
    let response = kiss(packet, RefId::RATE, sys.precision, rx_time);
    let len = emit(&response, out)?;
    Ok(PendingResponse::unsigned(len, ResponseKind::RateKiss))
}

/// A crypto-NAK (RFC 5905 §7.4, ntpd's behaviour on a failed MAC): a kiss with code
/// "CRYP" and no time (receive and transmit timestamps zero), origin = the client's
/// transmit timestamp, followed by a key id of 0. 52 bytes, answering a request of
/// at least 68.
fn crypto_nak(
    packet: &Packet<&[u8]>,
    out: &mut [u8],
    kind: ResponseKind,
) -> Result<PendingResponse, DropReason> {
    // No time in a crypto-NAK: receive and transmit stay zero.
    let response = kiss(packet, RefId::CRYP, 0, NtpTimestamp::ZERO);
    let header = emit(&response, out)?;
    let nak = header + wire::CRYPTO_NAK_LEN;
    out.get_mut(header..nak)
        .ok_or(DropReason::NoBuffer)?
        .fill(0);
    Ok(PendingResponse::unsigned(nak, kind))
}
