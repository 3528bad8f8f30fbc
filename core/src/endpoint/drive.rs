//! The generic driver: turns the endpoint's actions into [`Clock`] and
//! [`Transport`] calls, as [`crate::node::run_once_with`] does for a bare node.

use crate::clock::Clock;
use crate::node::{carry_out, Report};
use crate::transport::Transport;

use super::{Correction, Endpoint, EndpointAction, ServePolicy, ServerRole};

/// Drains the endpoint's actions into `clock` and `transport`, handing events and
/// errors to `report`; returns one-shot mode's correction when it was decided in
/// this drain (the port makes it and stops). Call after every `handle_*`.
pub fn run_once_with<
    P: ServePolicy,
    const N: usize,
    const R: usize,
    const S: usize,
    V: ServerRole,
    C: Clock,
    T: Transport,
>(
    ep: &mut Endpoint<P, N, R, S, V>,
    clock: &mut C,
    transport: &mut T,
    mut report: impl FnMut(Report<'_>),
) -> Option<Correction> {
    let mut done = None;
    loop {
        let sent = match ep.poll_action() {
            None => break,
            Some(EndpointAction::Node(action)) => carry_out(action, clock, transport, &mut report),
            Some(EndpointAction::OneShotDone(c)) => {
                done = Some(c);
                None
            }
        };
        if let Some((tx, t1)) = sent {
            ep.handle_tx_timestamp(tx, t1);
            report(Report::Sent(tx));
        }
    }
    done
}
