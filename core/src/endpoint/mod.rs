//! The one protocol core: [`Endpoint`] owns the client node, the server, the mode 6
//! responder, the access table, the rate limiter, the keys and the leap schedule.
//! A port hands it every datagram and every deadline, and carries out what it asks.
//!
//! | file | stage |
//! |---|---|
//! | `datagram` | one datagram, or a batch of them under one look at the tables |
//! | `batch` | dispatch by mode: answer, drop (counted), client reply, control |
//! | `policy` | the restrict table, rate limiter and keys behind [`ServePolicy`] |
//! | `leap` | the leap-seconds table: what to announce, when to arm the clock |
//! | `once` | one-shot mode and the one step-or-slew rule ([`StepRule`]) |
//! | `control` | mode 6 from the node itself, for a port without snapshots |
//! | `action` | what the port is asked to do ([`EndpointAction`], [`Datagram`]) |
//! | `drive` | [`run_once_with`]: actions into `Clock` and `Transport` calls |

mod action;
mod batch;
mod control;
mod datagram;
mod drive;
pub mod leap;
pub mod once;
mod policy;
mod serving;
#[cfg(test)]
mod tests;

pub use action::{Datagram, EndpointAction};
pub use batch::Batch;
pub use control::NODE_CONTROL_PEERS;
pub use drive::run_once_with;
pub use leap::LeapSchedule;
pub use once::{Correction, Force, StepRule};
pub use policy::{Open, ServePolicy, Tables};
pub use serving::{NoServer, ServerRole};

use crate::clock::LeapIndicator;
use crate::node::{Action, Node, NodeConfig, TxId};
use crate::server::{Server, ServerStats};
use crate::system::SystemVars;
use crate::time::{Instant, NtpTimestamp, WideDuration};

use once::OneShot;

/// Everything NTP in one sans-IO value: a client [`Node`] of `N` sources, `R`
/// reference clocks and `S` NTS slots, a server `V` consulting the tables `P` (a [`Server`], or
/// [`NoServer`] for a client only, which drops every request and costs no RAM),
/// the control responder, and the leap schedule.
///
/// # Method families, and the order to call them in
///
/// - **Configuration**: [`Endpoint::new`]; [`Endpoint::node_mut`] to add sources
///   and refclocks; [`Endpoint::policy_mut`] to change restrict lines, limits and
///   keys (SIGHUP); [`Endpoint::set_leap_schedule`] with the port's leap-seconds
///   table; [`Endpoint::set_one_shot`] once, before the first input, for `-q`;
///   [`Endpoint::server_mut`] for the server's NTS keys.
/// - **Server threads**: a port that answers on several threads gives each an
///   endpoint with no sources and hands it, whenever they change, what the
///   endpoint with the sources publishes: [`Endpoint::published_vars`] into
///   [`Endpoint::adopt_vars`], [`Endpoint::leap_schedule`] into
///   [`Endpoint::set_leap_schedule`]. Each thread then decides the leap
///   announcement from its own receive stamps, and counts its own drops.
/// - **Input** (`handle_*`): [`Endpoint::handle_datagram`] for every datagram,
///   whatever its mode, with its receive stamp (a time request is answered straight
///   into the port's buffer; finish it with the transmit time read as late as
///   possible), or [`Endpoint::batch`] then [`Batch::handle_datagram`] for each of
///   a batch (the tables taken once); [`Endpoint::answer_control`] for a query it
///   admitted (after the batch: the port's snapshot may read the tables);
///   [`Endpoint::handle_wall_time`] then [`Endpoint::handle_timeout`] when the
///   deadline passes; [`Endpoint::handle_tx_timestamp`] right after sending a request.
/// - **Output** (`poll_*`): after any input, call [`Endpoint::poll_action`] until it
///   returns `None` and carry out each [`EndpointAction`] ([`run_once_with`] does
///   the draining against a [`Clock`](crate::Clock) and a
///   [`Transport`](crate::Transport)); then sleep until [`Endpoint::poll_timeout`]
///   or the next datagram.
/// - **Getters**: [`Endpoint::served_vars`] (what answers carry, leap announcement
///   included), [`Endpoint::node`], [`Endpoint::server_stats`],
///   [`Endpoint::one_shot_done`].
///
/// `now` is always the port's monotonic [`Instant`]; wall time only enters through
/// timestamps.
///
/// ```
/// use slew_core::endpoint::{Datagram, Endpoint, Open};
/// use slew_core::node::NodeConfig;
/// use slew_core::{Instant, NtpTimestamp};
/// let mut ep: Endpoint<Open, 4> = Endpoint::new(NodeConfig::default(), Open);
/// let (local, from) = ("192.0.2.2:123".parse().unwrap(), "192.0.2.9:40000".parse().unwrap());
/// let mut request = [0u8; 48];
/// request[0] = 0x23; // version 4, mode 3
/// let mut out = [0u8; 48];
/// let rx = NtpTimestamp::from_unix(1_800_000_000, 0);
/// match ep.handle_datagram(Instant::ZERO, local, from, &request, rx, &mut out) {
///     Datagram::Answer(pending) => assert_eq!(pending.finish(&mut out, rx).len(), 48),
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug)]
pub struct Endpoint<
    P: ServePolicy,
    const N: usize,
    const R: usize = 0,
    const S: usize = 0,
    V: ServerRole = Server,
> {
    node: Node<N, R, S>,
    server: V,
    policy: P,
    leap: LeapSchedule,
    /// A server thread's: the system variables another endpoint published, served
    /// instead of this endpoint's node's.
    adopted: Option<SystemVars>,
    /// The latest wall-clock reading the port gave (a receive stamp, or
    /// [`Endpoint::handle_wall_time`]) and the monotonic time it was taken at: the
    /// leap schedule's idea of "now", carried forward by the monotonic clock.
    wall: Option<(Instant, NtpTimestamp)>,
    /// The monotonic time of the latest input.
    now: Instant,
    once: Option<OneShot>,
    /// Clock updates the node had made when we last looked (one-shot mode).
    updates_seen: u32,
}

impl<P: ServePolicy, const N: usize, const R: usize, const S: usize, V: ServerRole>
    Endpoint<P, N, R, S, V>
{
    /// An endpoint with a node of no sources, serving with the tables `policy`.
    pub fn new(config: NodeConfig, policy: P) -> Self {
        Self::from_node(Node::new(config), policy)
    }

    /// An endpoint around a node the port has built (sources and refclocks added).
    pub fn from_node(node: Node<N, R, S>, policy: P) -> Self {
        Self {
            node,
            server: V::default(),
            policy,
            leap: LeapSchedule::NONE,
            adopted: None,
            wall: None,
            now: Instant::ZERO,
            once: None,
            updates_seen: 0,
        }
    }

    /// The client node (sources, system status).
    pub fn node(&self) -> &Node<N, R, S> {
        &self.node
    }

    /// The client node, to add or remove sources and feed refclocks.
    pub fn node_mut(&mut self) -> &mut Node<N, R, S> {
        &mut self.node
    }

    /// The tables the server consults.
    pub fn policy(&self) -> &P {
        &self.policy
    }

    /// The tables, to change them (a reloaded configuration).
    pub fn policy_mut(&mut self) -> &mut P {
        &mut self.policy
    }

    /// Answered and dropped requests, by reason.
    pub fn server_stats(&self) -> &ServerStats {
        ServerRole::stats(&self.server)
    }

    /// The server, to install or rotate its NTS keys.
    pub fn server_mut(&mut self) -> &mut V {
        &mut self.server
    }

    /// What a server thread's endpoint adopts ([`Endpoint::adopt_vars`]) to answer
    /// as this one does: the system variables without the leap announcement, which
    /// every endpoint decides from its own receive stamps and leap schedule.
    pub fn published_vars(&self) -> SystemVars {
        self.adopted.unwrap_or_else(|| self.node.system_vars())
    }

    /// Serves `sys` (another endpoint's [`Endpoint::published_vars`]) instead of
    /// this endpoint's node's system variables; `None` serves the node's again.
    pub fn adopt_vars(&mut self, sys: Option<SystemVars>) {
        self.adopted = sys;
    }

    /// The leap schedule, from the port's leap-seconds table
    /// ([`LeapSchedule::from_table`]).
    pub fn set_leap_schedule(&mut self, leap: LeapSchedule) {
        self.leap = leap;
    }

    /// The leap schedule in force.
    pub fn leap_schedule(&self) -> &LeapSchedule {
        &self.leap
    }

    /// One-shot mode: the node's clock actions are held back, and its first
    /// measurement becomes one [`Correction`] by `rule`, reported as
    /// [`EndpointAction::OneShotDone`]. Set once, before the first input.
    pub fn set_one_shot(&mut self, rule: StepRule) {
        self.once = Some(OneShot::new(rule));
    }

    /// One-shot mode's correction, once decided.
    pub fn one_shot_done(&self) -> Option<Correction> {
        self.once.and_then(|o| o.done)
    }

    /// What answers carry at `now`: the node's system variables, with the leap
    /// schedule's announcement while one is pending and the sources do not already
    /// carry it (server threads are published this).
    pub fn served_vars(&self, now: Instant) -> SystemVars {
        self.served_vars_at(self.wall_unix_s(now))
    }

    fn served_vars_at(&self, unix_s: Option<i64>) -> SystemVars {
        batch::announced(self.published_vars(), &self.leap, unix_s)
    }

    /// The earliest time the endpoint wants [`Endpoint::handle_timeout`] called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.one_shot_done().is_some() {
            return None;
        }
        self.node.poll_timeout()
    }

    /// The wall time now, for the local clock's reference time and the leap
    /// schedule (call before [`Endpoint::handle_timeout`]).
    pub fn handle_wall_time(&mut self, now: Instant, wall: NtpTimestamp) {
        self.now = now;
        if !wall.is_zero() {
            self.wall = Some((now, wall));
        }
        self.node.handle_wall_time(now, wall);
    }

    /// Timers: requests that are due, the end of a slew.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if self.one_shot_done().is_some() {
            return;
        }
        self.node.handle_timeout(now);
    }

    /// The time request `tx` left, right after it was sent.
    pub fn handle_tx_timestamp(&mut self, tx: TxId, t1: NtpTimestamp) {
        self.node.handle_tx_timestamp(tx, t1);
    }

    /// The next thing to do, until `None`.
    pub fn poll_action(&mut self) -> Option<EndpointAction<'_>> {
        // Clock actions and events first, as the node queued them: one-shot mode
        // holds back the clock actions, and the leap schedule arms the status.
        while let Some(action) = self.node.poll_queued() {
            if let Some(once) = self.once.as_mut() {
                match action {
                    Action::Step(d) => once.measured(d),
                    Action::SetFrequency(_) | Action::SetStatus(_) => {}
                    other => return Some(EndpointAction::Node(other)),
                }
                continue;
            }
            return Some(EndpointAction::Node(match action {
                Action::SetStatus(mut status) if status.leap == LeapIndicator::NoWarning => {
                    if let Some(unix_s) = self.wall_unix_s(self.now) {
                        status.leap = self.leap.arm(unix_s);
                    }
                    Action::SetStatus(status)
                }
                other => other,
            }));
        }
        if let Some(c) = self.one_shot_report() {
            return Some(EndpointAction::OneShotDone(c));
        }
        self.node.poll_action().map(EndpointAction::Node)
    }

    /// One-shot mode: the correction, the first time it is known. A clock update
    /// without a step is a measurement too: the slew it scheduled (the system
    /// offset is already booked against it), slewed or stepped by the rule.
    fn one_shot_report(&mut self) -> Option<Correction> {
        let once = self.once.as_mut()?;
        let updates = self.node.system().updates;
        if updates != self.updates_seen {
            self.updates_seen = updates;
            let slew_s = self.node.pending_slew_s(self.now);
            once.measured(WideDuration::from_seconds_f64(slew_s));
        }
        match (once.done, once.reported) {
            (Some(c), false) => {
                once.reported = true;
                Some(c)
            }
            _ => None,
        }
    }

    /// The wall time at `now` as Unix seconds, from the latest reading.
    fn wall_unix_s(&self, now: Instant) -> Option<i64> {
        let (at, wall) = self.wall?;
        let since_s = i64::try_from(now.saturating_since(at).as_secs()).unwrap_or(i64::MAX);
        self.leap.unix_s(wall).map(|s| s.saturating_add(since_s))
    }
}
