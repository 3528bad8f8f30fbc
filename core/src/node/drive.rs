//! The generic driver: turns a node's actions into [`Clock`] and [`Transport`]
//! calls, so a port does not have to.

use crate::clock::{Clock, Error as _, ErrorKind};
use crate::transport::Transport;

use super::{Action, Event, Node, TxId};

/// What [`run_once_with`] hands the port besides the node's events.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Report<'a> {
    /// A node event, for the log.
    Event(&'a Event),
    /// The clock refused an action (an observe-only clock asked to step, no
    /// CAP_SYS_TIME…). The node carries on as if it had been done.
    ClockError(ErrorKind),
    /// A request could not be sent; it counts as lost.
    SendError(ErrorKind),
    /// A request was sent, and its T1 taken from the clock right after `send`. A
    /// port with kernel transmit stamps reports the better T1 later with
    /// [`Node::handle_tx_timestamp`], which replaces this one.
    Sent(TxId),
}

/// Drain the node's actions into `clock` and `transport`, dropping events and
/// errors. Call after every `handle_*`.
pub fn run_once<const N: usize, const R: usize, const S: usize, C: Clock, T: Transport>(
    node: &mut Node<N, R, S>,
    clock: &mut C,
    transport: &mut T,
) {
    run_once_with(node, clock, transport, |_| {});
}

/// Like [`run_once`], handing events and errors to `report`.
pub fn run_once_with<const N: usize, const R: usize, const S: usize, C: Clock, T: Transport>(
    node: &mut Node<N, R, S>,
    clock: &mut C,
    transport: &mut T,
    mut report: impl FnMut(Report<'_>),
) {
    loop {
        let sent = {
            let Some(action) = node.poll_action() else {
                break;
            };
            carry_out(action, clock, transport, &mut report)
        };
        if let Some((tx, t1)) = sent {
            node.handle_tx_timestamp(tx, t1);
            report(Report::Sent(tx));
        }
    }
}

/// Carries out one action against `clock` and `transport`; for a request that left,
/// returns it with the T1 read right after `send`, for
/// [`Node::handle_tx_timestamp`] (and [`Report::Sent`]). The one place an [`Action`]
/// becomes trait calls: [`run_once_with`] and the endpoint's driver
/// ([`crate::endpoint::run_once_with`]) both use it.
pub fn carry_out<C: Clock, T: Transport>(
    action: Action<'_>,
    clock: &mut C,
    transport: &mut T,
    report: &mut impl FnMut(Report<'_>),
) -> Option<(TxId, crate::time::NtpTimestamp)> {
    let mut sent = None;
    let clock_result = match action {
        Action::Send { to, bytes, tx } => {
            match transport.send(to, bytes) {
                Ok(()) => match clock.now() {
                    Ok(t1) => sent = Some((tx, t1)),
                    Err(e) => report(Report::ClockError(e.kind())),
                },
                Err(e) => report(Report::SendError(e.kind())),
            }
            Ok(())
        }
        Action::Step(d) => clock.step(d),
        Action::SetFrequency(ppm) => clock.set_frequency_ppm(ppm),
        Action::SetStatus(s) => clock.set_status(s),
        Action::Event(ev) => {
            report(Report::Event(&ev));
            Ok(())
        }
    };
    if let Err(e) = clock_result {
        report(Report::ClockError(e.kind()));
    }
    sent
}
