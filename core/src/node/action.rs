//! What the node asks of its port: [`Action`]s, borrowed from the node one at a time.

use core::net::SocketAddr;

use crate::clock::ClockStatus;
use crate::peer::{Reason, SourceId};
use crate::time::{NtpTimestamp, WideDuration};

/// Identifies a request on its way out, so the port can report when it left
/// (T1) with [`Node::handle_tx_timestamp`](super::Node::handle_tx_timestamp).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxId {
    pub(crate) source: SourceId,
    pub(crate) nonce: NtpTimestamp,
}

impl TxId {
    /// The source the request is for.
    pub fn source(&self) -> SourceId {
        self.source
    }

    /// The request's transmit timestamp field as sent: a random nonce, unique per
    /// request, by which a port matches a kernel transmit stamp (which comes back
    /// with the packet) to its request.
    pub fn nonce(&self) -> NtpTimestamp {
        self.nonce
    }
}

/// Something worth a log line (or a statistics record).
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A source answered after being unreachable (or for the first time).
    Reachable {
        /// Which.
        id: SourceId,
        /// Its address.
        addr: SocketAddr,
    },
    /// Eight polls without an answer.
    Unreachable {
        /// Which.
        id: SourceId,
        /// Its address.
        addr: SocketAddr,
    },
    /// A new system peer ("synchronised to X at stratum N").
    SystemPeer {
        /// Which.
        id: SourceId,
        /// Its address.
        addr: SocketAddr,
        /// Our stratum now.
        stratum: u8,
    },
    /// The system peer is gone and nothing replaced it.
    NoSystemPeer {
        /// Why.
        reason: Reason,
    },
    /// The local clock became the time source.
    LocalClock {
        /// Stratum we serve at.
        stratum: u8,
    },
    /// No source for `tos orphanwait`: orphan mode (`tos orphan`) began.
    Orphan {
        /// Stratum we serve at.
        stratum: u8,
    },
    /// A source is a falseticker (logged when it becomes one).
    Falseticker {
        /// Which.
        id: SourceId,
        /// Its address.
        addr: SocketAddr,
    },
    /// The clock was stepped.
    Step {
        /// By how much, seconds.
        offset_s: f64,
    },
    /// A step for a clock kept at full width, resolved into the era window
    /// ([`crate::clock::era_resolved`]): the node measured `asked`, which is known
    /// modulo the NTP era (2^32 s); the clock was stepped by `resolved`. Emitted by
    /// the endpoint's driver ([`crate::endpoint::run_once_with`]), right before it
    /// makes the step.
    EraStep {
        /// The step the discipline asked for.
        asked: WideDuration,
        /// The step made: `asked` plus whole eras.
        resolved: WideDuration,
    },
    /// An offset above the step threshold was held back (SPIK).
    Spike {
        /// The offset, seconds.
        offset_s: f64,
    },
    /// An offset above the panic threshold: the clock was not touched. ntpd exits
    /// here; the port decides.
    Panic {
        /// The offset, seconds.
        offset_s: f64,
    },
    /// A kiss-o'-death arrived.
    Kiss {
        /// Which.
        id: SourceId,
        /// Its address.
        addr: SocketAddr,
        /// What it means for us.
        code: Reason,
    },
    /// An NTS source needs NTS-KE before it can send again: run it (off the poll
    /// loop) and report with [`Node::install_nts`](super::Node::install_nts) or
    /// [`Node::key_exchange_failed`](super::Node::key_exchange_failed). Queued once
    /// per need, never dropped from the queue.
    NeedKeyExchange {
        /// Which.
        id: SourceId,
        /// Its NTP address (the port knows the NTS-KE host it was configured with).
        addr: SocketAddr,
        /// Why.
        reason: crate::peer::KeNeed,
    },
    /// An association was dropped (DENY, RSTR).
    Demobilized {
        /// Which.
        id: SourceId,
        /// Its address.
        addr: SocketAddr,
        /// Why.
        reason: Reason,
    },
}

/// One thing for the port to do. Carry them out in the order given.
#[derive(Debug)]
#[must_use = "an action must be carried out: the node assumes it was"]
pub enum Action<'a> {
    /// Send `bytes` to `to`, then report the time it left with
    /// [`Node::handle_tx_timestamp`](super::Node::handle_tx_timestamp).
    Send {
        /// Destination.
        to: SocketAddr,
        /// The request (borrowed from the node's buffer).
        bytes: &'a [u8],
        /// Pass back with the transmit time.
        tx: TxId,
    },
    /// Step the clock ([`Clock::step`](crate::Clock::step)).
    Step(WideDuration),
    /// Set the frequency correction ([`Clock::set_frequency_ppm`](crate::Clock::set_frequency_ppm)):
    /// the discipline's frequency plus the rate of the slew in progress. The node
    /// slews only this way, never with [`Clock::slew`](crate::Clock::slew).
    SetFrequency(f64),
    /// Publish the synchronisation state ([`Clock::set_status`](crate::Clock::set_status)).
    SetStatus(ClockStatus),
    /// Log it.
    Event(Event),
}

/// An action waiting in the node's queue (sends are queued apart).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Queued {
    Step(WideDuration),
    SetFrequency(f64),
    SetStatus(ClockStatus),
    Event(Event),
}

impl Queued {
    pub(crate) fn into_action<'a>(self) -> Action<'a> {
        match self {
            Queued::Step(d) => Action::Step(d),
            Queued::SetFrequency(f) => Action::SetFrequency(f),
            Queued::SetStatus(s) => Action::SetStatus(s),
            Queued::Event(e) => Action::Event(e),
        }
    }
}
