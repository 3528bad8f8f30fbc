//! NTS sources (RFC 8915) in the node: the client half of the integration.
//!
//! A source becomes NTS with [`Node::set_source_nts`]. From then on:
//!
//! - **Key exchange is the port's.** While the source has no usable cookies (never
//!   keyed, all spent, an NTS NAK, or unreachable), its polls send nothing and the
//!   node queues [`Event::NeedKeyExchange`] once per need (it is never dropped from
//!   the queue; [`Node::needs_key_exchange`] can also be asked). The port runs NTS-KE
//!   off the poll loop and calls [`Node::install_nts`] with the jar, or
//!   [`Node::key_exchange_failed`] with the reason, after which the next poll asks
//!   again (the port backs off as it sees fit).
//! - **Requests** are the ordinary header (its transmit timestamp a random nonce, as
//!   for every source) followed by the jar's Unique Identifier, cookie, placeholders
//!   and authenticator ([`CookieJar::write_request`]); identifiers and nonces come
//!   from an [`NtsRng`] seeded by the port at each install.
//! - **Answers** go through [`CookieJar::read_response`] before anything else in the
//!   association sees them; a refusal (forged, replayed, not ours, a NAK) is counted
//!   with its reason and the packet never reaches the clock filter. An accepted answer
//!   then meets the ordinary checks (mode 4, origin = our transmit timestamp,
//!   duplicate). There is no fallback: an NTS source's unauthenticated answers are
//!   always refused.
//! - When the reach register empties, the jar is told ([`CookieJar::unreachable`]):
//!   the next poll asks for a new key exchange.
//!
//! What monitoring sees is [`SourceStatus::nts`](crate::peer::SourceStatus::nts).

use core::net::SocketAddr;

use super::{Event, Node, PacketVerdict};
use crate::nts::ext::{MIN_NONCE_LEN, UNIQUE_ID_LEN};
use crate::nts::jar::{CookieJar, RekeyReason, ResponseError};
use crate::nts::ke_msg::{MAX_COOKIES, MAX_COOKIE_LEN};
use crate::nts::rng::{NtsRng, SEED_LEN};
use crate::peer::{
    KeFailure, KeNeed, KeResult, NtsRefusal, NtsSourceStatus, Reason, SourceId, SourceStatus,
};
use crate::wire::{Packet, Repr, EXT_HEADER_LEN, HEADER_LEN};

/// The longest NTS request: header, Unique Identifier, eight fields of the longest
/// cookie (one cookie, seven placeholders), an authenticator with a 16-byte nonce.
pub const NTS_REQUEST_LEN: usize = HEADER_LEN
    + EXT_HEADER_LEN
    + UNIQUE_ID_LEN
    + MAX_COOKIES * (EXT_HEADER_LEN + MAX_COOKIE_LEN)
    + EXT_HEADER_LEN
    + 4
    + MIN_NONCE_LEN
    + crate::nts::aead::TAG_LEN;

/// One NTS source's state.
#[derive(Debug)]
pub(crate) struct NtsSource {
    pub(super) id: SourceId,
    jar: Option<CookieJar>,
    rng: Option<NtsRng>,
    /// The current need was announced ([`Event::NeedKeyExchange`]).
    asked: bool,
    key_exchanges: u32,
    last_ke: Option<KeResult>,
    refused: u32,
    last_refusal: Option<NtsRefusal>,
    naks: u32,
    buf: [u8; NTS_REQUEST_LEN],
}

impl NtsSource {
    fn new(id: SourceId) -> Self {
        NtsSource {
            id,
            jar: None,
            rng: None,
            asked: false,
            key_exchanges: 0,
            last_ke: None,
            refused: 0,
            last_refusal: None,
            naks: 0,
            buf: [0; NTS_REQUEST_LEN],
        }
    }

    fn need(&self) -> Option<KeNeed> {
        let Some(jar) = &self.jar else {
            return Some(KeNeed::Initial);
        };
        jar.needs_key_exchange().map(|r| match r {
            RekeyReason::OutOfCookies => KeNeed::OutOfCookies,
            RekeyReason::Nak => KeNeed::Nak,
            RekeyReason::Unreachable => KeNeed::Unreachable,
        })
    }

    fn refuse(&mut self, why: NtsRefusal) {
        self.refused = self.refused.saturating_add(1);
        self.last_refusal = Some(why);
    }

    fn status(&self) -> NtsSourceStatus {
        NtsSourceStatus {
            cookies: self.jar.as_ref().map_or(0, |j| j.cookies() as u8),
            needs_key_exchange: self.need(),
            key_exchanges: self.key_exchanges,
            last_key_exchange: self.last_ke,
            refused: self.refused,
            last_refusal: self.last_refusal,
            naks: self.naks,
        }
    }
}

const fn refusal(e: ResponseError) -> NtsRefusal {
    match e {
        ResponseError::NotWaiting => NtsRefusal::NotWaiting,
        ResponseError::Wire(_) => NtsRefusal::Wire,
        ResponseError::Field(_) => NtsRefusal::Field,
        ResponseError::UniqueId => NtsRefusal::UniqueId,
        ResponseError::Nak => NtsRefusal::Nak,
        ResponseError::MissingAuthenticator => NtsRefusal::MissingAuthenticator,
        ResponseError::Forged => NtsRefusal::Forged,
        ResponseError::NoCookies => NtsRefusal::NoCookies,
    }
}

impl<const N: usize, const R: usize, const S: usize> Node<N, R, S> {
    /// Makes source `id` an NTS source (`server HOST nts`): nothing is sent to it
    /// until [`Node::install_nts`]; its first poll queues
    /// [`Event::NeedKeyExchange`] with [`KeNeed::Initial`]. Takes one of the `S` NTS
    /// slots. Returns false when there is no such source or no free slot.
    pub fn set_source_nts(&mut self, id: SourceId) -> bool {
        if self.nts.iter().any(|n| n.id == id) {
            return true;
        }
        if !self.sources.iter().any(|s| s.id == id) {
            return false;
        }
        self.nts.push(NtsSource::new(id)).is_ok()
    }

    /// Whether `id` is an NTS source.
    pub fn is_nts(&self, id: SourceId) -> bool {
        self.nts.iter().any(|n| n.id == id)
    }

    /// After a successful NTS-KE for NTS source `id`: `jar` from
    /// [`CookieJar::new`] (the exported C2S/S2C keys and the cookies received),
    /// `ntp_addr` where its NTP requests go from now on (the KE server's Server and
    /// Port Negotiation records, else the KE host's address and port 123; answers are
    /// accepted only from there), and `rng_seed` 16 bytes from the operating system's
    /// entropy source (Unique Identifiers and nonces come from it). Replaces any jar
    /// held. Returns false when `id` is not an NTS source.
    pub fn install_nts(
        &mut self,
        id: SourceId,
        jar: CookieJar,
        ntp_addr: SocketAddr,
        rng_seed: [u8; SEED_LEN],
    ) -> bool {
        let Some(slot) = self.nts.iter_mut().find(|n| n.id == id) else {
            return false;
        };
        let Some(assoc) = self.sources.iter_mut().find(|s| s.id == id) else {
            return false;
        };
        assoc.config.addr = ntp_addr;
        slot.last_ke = Some(KeResult::Ok {
            cookies: jar.cookies() as u8,
        });
        slot.key_exchanges = slot.key_exchanges.saturating_add(1);
        slot.jar = Some(jar);
        slot.rng = Some(NtsRng::new(rng_seed));
        slot.asked = false;
        true
    }

    /// NTS-KE for `id` failed (`why` shows in its status). The jar held, if any, is
    /// kept as it was (it still needs a key exchange); the next poll queues
    /// [`Event::NeedKeyExchange`] again. Returns false when `id` is not NTS.
    pub fn key_exchange_failed(&mut self, id: SourceId, why: KeFailure) -> bool {
        let Some(slot) = self.nts.iter_mut().find(|n| n.id == id) else {
            return false;
        };
        slot.last_ke = Some(KeResult::Failed(why));
        slot.asked = false;
        true
    }

    /// `Some(why)` when NTS source `id` waits for a key exchange.
    pub fn needs_key_exchange(&self, id: SourceId) -> Option<KeNeed> {
        self.nts
            .iter()
            .find(|n| n.id == id)
            .and_then(NtsSource::need)
    }

    /// At a poll of `id`: whether a request may go out. An NTS source without usable
    /// cookies sends nothing and asks (once) for a key exchange instead.
    pub(super) fn nts_may_send(
        &mut self,
        id: SourceId,
        addr: SocketAddr,
        became_unreachable: bool,
    ) -> bool {
        let Some(slot) = self.nts.iter_mut().find(|n| n.id == id) else {
            return true;
        };
        if became_unreachable {
            if let Some(jar) = &mut slot.jar {
                jar.unreachable();
            }
        }
        let Some(reason) = slot.need() else {
            return true;
        };
        if !slot.asked {
            slot.asked = true;
            self.push_event(Event::NeedKeyExchange { id, addr, reason });
        }
        false
    }

    /// Writes the NTS request of `source` (header from `repr`) into its slot's
    /// buffer: `None` for a source that is not NTS, `Some(Err)` when nothing can be
    /// sent, else the slot and the length.
    pub(super) fn nts_write_request(
        &mut self,
        source: SourceId,
        repr: &Repr,
    ) -> Option<Result<(usize, usize), ()>> {
        let i = self.nts.iter().position(|n| n.id == source)?;
        let NtsSource { jar, rng, buf, .. } = self.nts.get_mut(i)?;
        let (Some(jar), Some(rng)) = (jar.as_mut(), rng.as_mut()) else {
            return Some(Err(()));
        };
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
        let uid: [u8; UNIQUE_ID_LEN] = rng.bytes();
        let nonce: [u8; MIN_NONCE_LEN] = rng.bytes();
        Some(
            jar.write_request(buf, uid, nonce)
                .map(|n| (i, n))
                .map_err(|_| ()),
        )
    }

    /// The request written by [`Self::nts_write_request`].
    pub(super) fn nts_request(&self, slot: usize, len: usize) -> &[u8] {
        self.nts
            .get(slot)
            .and_then(|n| n.buf.get(..len))
            .unwrap_or_default()
    }

    /// The NTS check of an answer from source `id`, before the association sees it:
    /// `None` to go on (not NTS, or accepted by the jar), else the refusal.
    pub(super) fn nts_check_reply(
        &mut self,
        id: SourceId,
        addr: SocketAddr,
        bytes: &[u8],
    ) -> Option<PacketVerdict> {
        let slot = self.nts.iter_mut().find(|n| n.id == id)?;
        let Some(jar) = &mut slot.jar else {
            slot.refuse(NtsRefusal::NotWaiting);
            return Some(PacketVerdict::Refused(Reason::NtsRefused));
        };
        match jar.read_response(bytes) {
            Ok(_) => None,
            Err(ResponseError::Nak) => {
                slot.naks = slot.naks.saturating_add(1);
                slot.refuse(NtsRefusal::Nak);
                if !slot.asked {
                    slot.asked = true;
                    let reason = KeNeed::Nak;
                    self.push_event(Event::NeedKeyExchange { id, addr, reason });
                }
                Some(PacketVerdict::Refused(Reason::NtsNak))
            }
            Err(e) => {
                slot.refuse(refusal(e));
                Some(PacketVerdict::Refused(Reason::NtsRefused))
            }
        }
    }

    /// Adds the NTS part to a source's status.
    pub(super) fn nts_status(&self, mut st: SourceStatus) -> SourceStatus {
        if let Some(slot) = self.nts.iter().find(|n| n.id == st.id) {
            let nts = slot.status();
            if nts.needs_key_exchange.is_some() && st.reach == 0 {
                st.reason = Reason::NtsKeyExchange;
            }
            st.nts = Some(nts);
        }
        st
    }

    /// Forgets the NTS state of a removed source.
    pub(super) fn nts_remove(&mut self, id: SourceId) {
        self.nts.retain(|n| n.id != id);
    }
}
