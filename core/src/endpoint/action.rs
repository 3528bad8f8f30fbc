//! What the endpoint asks of its port.

use crate::node;
use crate::server::{DropReason, PendingResponse};

use super::once::Correction;

/// One thing for the port to do, borrowed from the endpoint. Carry them out in the
/// order given.
#[derive(Debug)]
#[non_exhaustive]
#[must_use = "an action must be carried out: the endpoint assumes it was"]
pub enum EndpointAction<'a> {
    /// The client node's action, passed through as the node made it (its leap bit
    /// armed from the leap schedule): see [`node::Action`].
    Node(node::Action<'a>),
    /// One-shot mode is done: make this correction on the real clock, then stop.
    OneShotDone(Correction),
}

/// What [`Endpoint::handle_datagram`](super::Endpoint::handle_datagram) made of a
/// datagram.
#[derive(Debug)]
#[must_use = "an answer must be finished with the transmit time and sent"]
pub enum Datagram {
    /// A time request, answered into the caller's buffer: read the clock as late as
    /// possible, [`PendingResponse::finish`] and send the bytes back to the sender.
    Answer(PendingResponse),
    /// A mode 6 query the core admits: answer it with
    /// [`Endpoint::answer_control`](super::Endpoint::answer_control).
    Control,
    /// A reply for the client node, which took it: drain
    /// [`Endpoint::poll_action`](super::Endpoint::poll_action).
    Client(node::PacketVerdict),
    /// Dropped, and counted in the server's statistics under this reason.
    Dropped(DropReason),
}
