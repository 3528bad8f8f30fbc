//! The generic driver: turns the endpoint's actions into [`Clock`] and
//! [`Transport`] calls, as [`crate::node::run_once_with`] does for a bare node.

use crate::clock::{era_resolved, Clock};
use crate::node::{carry_out, Action, Event, NodeConfig, Report};
use crate::transport::Transport;

use super::{Correction, Endpoint, EndpointAction, ServePolicy, ServerRole};

/// Drains the endpoint's actions into `clock` and `transport`, handing events and
/// errors to `report`; returns one-shot mode's correction when it was decided in
/// this drain (the port makes it and stops). Call after every `handle_*`.
///
/// A step for a clock kept at full width ([`Clock::full_width_now_unix_ns`]) is
/// resolved into the era window first when the discipline may step that far (`-g`,
/// or no panic threshold), reported as [`Event::EraStep`]; without, it is made as
/// asked and the port's era check refuses what is left.
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
    let era_allowed = may_cross_eras(ep.node().config());
    let mut done = None;
    loop {
        let sent = match ep.poll_action() {
            None => break,
            Some(EndpointAction::Node(Action::Step(asked))) if era_allowed => {
                let resolved = era_resolved(clock, asked);
                if resolved != asked {
                    report(Report::Event(&Event::EraStep { asked, resolved }));
                }
                carry_out(Action::Step(resolved), clock, transport, &mut report)
            }
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

/// Whether a correction beyond the panic threshold may be made: `-g`
/// (`allow_big_first`), or no threshold at all.
fn may_cross_eras(config: &NodeConfig) -> bool {
    let d = &config.discipline;
    d.allow_big_first || d.panic_threshold_s <= 0.0
}

#[cfg(test)]
#[path = "drive_tests.rs"]
mod tests;
