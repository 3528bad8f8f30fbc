//! An NTS source end to end, in process: a node talks to the core's own server with
//! NTS keys across many polls. Cookies are sealed by the server's master keys and the
//! session keys are shared as NTS-KE would leave them (`nts::testkit`).
use std::vec::Vec;

use super::*;
use crate::clock::LeapIndicator;
use crate::nts::rng::SEED_LEN;
use crate::nts::testkit::{jar, master, server_keys};
use crate::peer::{KeFailure, KeNeed, KeResult, NtsRefusal};
use crate::server::{ResponseKind, Server};
use crate::time::NtpDuration;
use crate::wire::RefId;

/// Where the source is configured (the NTS-KE host), and where NTS-KE says NTP goes.
fn ke_host() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], 123))
}
fn ntp_addr() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], 10123))
}

/// The server's clock is this far ahead of the node's, seconds.
const SERVER_AHEAD_S: f64 = 0.020;
const SEED: [u8; SEED_LEN] = [0x5e; SEED_LEN];

struct World {
    node: Node<2, 0, 2>,
    server: Server,
    id: SourceId,
    now_ns: u64,
    events: Vec<Event>,
}

/// A request that went out, and its answer from the server.
struct Exchange {
    to: SocketAddr,
    request: Vec<u8>,
    answer: Vec<u8>,
    kind: ResponseKind,
}

impl World {
    fn new() -> Self {
        let mut node: Node<2, 0, 2> = Node::new(NodeConfig::default());
        let id = node
            .add_source(
                SourceConfig {
                    iburst: true,
                    ..SourceConfig::new(ke_host())
                },
                Instant::ZERO,
            )
            .unwrap();
        assert!(node.set_source_nts(id));
        let mut server = Server::new();
        server.set_nts_keys(server_keys(), [0x77; SEED_LEN]);
        World {
            node,
            server,
            id,
            now_ns: 0,
            events: Vec::new(),
        }
    }

    fn wall(&self, after_ns: u64) -> NtpTimestamp {
        NtpTimestamp::from_unix(1_800_000_000, 0)
            + NtpDuration::from_seconds_f64((self.now_ns + after_ns) as f64 * 1e-9)
    }

    fn drain(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        let mut sent = None;
        let t1 = self.wall(0);
        while let Some(a) = self.node.poll_action() {
            match a {
                Action::Send { to, bytes, tx } => {
                    sent = Some((to, bytes.to_vec(), tx));
                }
                Action::Event(e) => self.events.push(e),
                _ => {}
            }
            if let Some((_, _, tx)) = &sent {
                let tx = *tx;
                self.node.handle_tx_timestamp(tx, t1);
            }
        }
        sent.map(|(to, b, _)| (to, b))
    }

    /// Runs to the source's next poll; the request sent there, if any, and the
    /// server's answer to it.
    fn poll(&mut self) -> Option<Exchange> {
        let due = self
            .node
            .sources
            .iter()
            .find(|s| s.id == self.id)
            .unwrap()
            .next_poll();
        self.now_ns = self.now_ns.max(due.as_nanos());
        self.node.handle_timeout(Instant::from_nanos(self.now_ns));
        let (to, request) = self.drain()?;
        let ahead = NtpDuration::from_seconds_f64(SERVER_AHEAD_S);
        let rx = self.wall(1_000_000) + ahead;
        let mut out = [0u8; 2048];
        let p = self.server.respond(&request, rx, &sys(), &mut out).unwrap();
        let kind = p.kind();
        let answer = p.finish(&mut out, self.wall(1_100_000) + ahead).to_vec();
        Some(Exchange {
            to,
            request,
            answer,
            kind,
        })
    }

    fn deliver(&mut self, bytes: &[u8]) -> PacketVerdict {
        let now = Instant::from_nanos(self.now_ns + 2_200_000);
        let v = self
            .node
            .handle_packet(now, ntp_addr(), bytes, self.wall(2_200_000));
        let _ = self.drain();
        v
    }

    /// One poll answered as the server answered it.
    fn round(&mut self) -> PacketVerdict {
        let x = self.poll().expect("a request");
        assert_eq!(x.to, ntp_addr());
        assert!(x.answer.len() <= x.request.len());
        self.deliver(&x.answer)
    }

    fn status(&self) -> SourceStatus {
        self.node
            .source(self.id, Instant::from_nanos(self.now_ns))
            .unwrap()
    }

    fn nts(&self) -> crate::peer::NtsSourceStatus {
        self.status().nts.unwrap()
    }

    fn key_exchange_requests(&mut self) -> Vec<KeNeed> {
        let id = self.id;
        let v = self
            .events
            .iter()
            .filter_map(|e| match e {
                Event::NeedKeyExchange { id: i, reason, .. } if *i == id => Some(*reason),
                _ => None,
            })
            .collect();
        self.events.clear();
        v
    }

    fn install(&mut self, cookies: usize) {
        let keys = self.server.nts_keys().unwrap().clone();
        assert!(self
            .node
            .install_nts(self.id, jar(&keys, cookies), ntp_addr(), SEED));
    }
}

fn sys() -> SystemVars {
    SystemVars {
        leap: LeapIndicator::NoWarning,
        stratum: 1,
        precision: -20,
        root_delay: NtpDuration::ZERO,
        root_dispersion: NtpDuration::ZERO,
        ref_id: RefId::GPS,
        reference_time: NtpTimestamp::from_unix(1_800_000_000, 0),
        poll: PollInterval::DEFAULT_MIN,
    }
}

/// Keyed and answered for a while: synchronised to the NTS source.
fn synced_world() -> World {
    let mut w = World::new();
    assert!(w.poll().is_none(), "nothing is sent before NTS-KE");
    assert_eq!(w.key_exchange_requests(), [KeNeed::Initial]);
    assert!(w.poll().is_none());
    assert_eq!(w.key_exchange_requests(), [], "asked once per need");
    w.install(8);
    for _ in 0..10 {
        assert_eq!(w.round(), PacketVerdict::Accepted);
    }
    w
}

#[test]
fn an_nts_source_synchronises_through_the_core_server() {
    let w = synced_world();
    let st = w.status();
    assert_eq!(w.node.system().system_peer, Some(w.id));
    assert_eq!(st.reach, 0xff);
    // The offset as it will be once the node's own slew is done (the test clock
    // does not move): between zero and the server's lead.
    assert!(
        st.offset_s > 0.0 && st.offset_s < SERVER_AHEAD_S + 0.001,
        "{}",
        st.offset_s
    );
    let nts = st.nts.unwrap();
    assert_eq!(nts.cookies, 8, "every answer brought its cookie back");
    assert_eq!(nts.needs_key_exchange, None);
    assert_eq!(nts.key_exchanges, 1);
    assert_eq!(nts.last_key_exchange, Some(KeResult::Ok { cookies: 8 }));
    assert_eq!((nts.refused, nts.naks), (0, 0));
    assert_eq!(st.addr, ntp_addr(), "requests go where NTS-KE said");
    assert_eq!(w.server.stats().nts.served, 10);
}

#[test]
fn forged_replayed_and_unauthenticated_answers_never_reach_the_filter() {
    let mut w = synced_world();
    let x = w.poll().unwrap();
    assert_eq!(x.kind, ResponseKind::Nts);
    let refused = |w: &mut World, bytes: &[u8], why: NtsRefusal| {
        let before = w.status();
        assert_eq!(w.deliver(bytes), PacketVerdict::Refused(Reason::NtsRefused));
        let st = w.status();
        assert_eq!(st.nts.unwrap().last_refusal, Some(why));
        assert_eq!(st.last_rx, before.last_rx, "the filter saw nothing");
        assert_eq!(st.offset_s, before.offset_s);
    };
    // A bit flipped in the authenticator, and one in the header (the receive
    // timestamp: an attacker's favourite).
    let mut forged = x.answer.clone();
    let at = forged.len() - 30;
    forged[at] ^= 0x04;
    refused(&mut w, &forged, NtsRefusal::Forged);
    let mut forged = x.answer.clone();
    forged[33] ^= 0x01;
    refused(&mut w, &forged, NtsRefusal::Forged);
    // The header alone: no NTS fields at all.
    refused(&mut w, &x.answer[..HEADER_LEN], NtsRefusal::UniqueId);
    // None of that cancelled the real answer.
    let before = w.status().last_rx;
    assert_eq!(w.deliver(&x.answer), PacketVerdict::Accepted);
    assert_ne!(w.status().last_rx, before);
    // Replayed: the request was answered already.
    refused(&mut w, &x.answer, NtsRefusal::NotWaiting);
    // The answer to an older request is not ours either.
    let y = w.poll().unwrap();
    refused(&mut w, &x.answer, NtsRefusal::UniqueId);
    assert_eq!(w.deliver(&y.answer), PacketVerdict::Accepted);
    assert_eq!(w.nts().refused, 5);
}

#[test]
fn a_nak_after_two_key_rotations_asks_for_key_exchange() {
    let mut w = synced_world();
    assert!(w.server.rotate_nts_key(master(2, 0x66)));
    assert_eq!(
        w.round(),
        PacketVerdict::Accepted,
        "one rotation: still open"
    );
    assert!(w.server.rotate_nts_key(master(3, 0x67)));
    let x = w.poll().unwrap();
    assert_eq!(x.kind, ResponseKind::NtsNak);
    assert_eq!(w.deliver(&x.answer), PacketVerdict::Refused(Reason::NtsNak));
    assert_eq!(w.key_exchange_requests(), [KeNeed::Nak]);
    let nts = w.nts();
    assert_eq!((nts.naks, nts.needs_key_exchange), (1, Some(KeNeed::Nak)));
    // Nothing is sent meanwhile, and the need is not announced again.
    assert!(w.poll().is_none());
    assert!(w.poll().is_none());
    assert_eq!(w.key_exchange_requests(), []);
    // The port's NTS-KE fails once, then succeeds.
    assert!(w.node.key_exchange_failed(w.id, KeFailure::Timeout));
    assert_eq!(
        w.nts().last_key_exchange,
        Some(KeResult::Failed(KeFailure::Timeout))
    );
    assert!(w.poll().is_none());
    assert_eq!(w.key_exchange_requests(), [KeNeed::Nak], "asked again");
    w.install(8);
    assert_eq!(w.round(), PacketVerdict::Accepted);
    assert_eq!(w.nts().key_exchanges, 2);
}

#[test]
fn lost_answers_run_the_jar_out_and_placeholders_refill_it() {
    let mut w = synced_world();
    // Three answers lost: three cookies spent, none back.
    for _ in 0..3 {
        assert!(w.poll().is_some());
    }
    assert_eq!(w.nts().cookies, 5);
    // The next request carries three placeholders: its answer brings four cookies.
    let x = w.poll().unwrap();
    let placeholders = crate::nts::ext::NtsFields::parse(&x.request)
        .unwrap()
        .placeholders;
    assert_eq!(placeholders, 3);
    assert_eq!(w.deliver(&x.answer), PacketVerdict::Accepted);
    assert_eq!(w.nts().cookies, 8);
    // A jar of three, all answers lost: the fourth poll asks for NTS-KE instead.
    w.install(3);
    for _ in 0..3 {
        assert!(w.poll().is_some());
    }
    let _ = w.key_exchange_requests();
    assert!(w.poll().is_none());
    assert_eq!(w.key_exchange_requests(), [KeNeed::OutOfCookies]);
    assert_eq!(w.nts().cookies, 0);
}

#[test]
fn eight_lost_answers_ask_for_key_exchange() {
    let mut w = synced_world();
    let _ = w.key_exchange_requests();
    let mut sent = 0;
    while w.poll().is_some() {
        sent += 1;
        assert!(sent <= 8, "eight cookies, eight requests at most");
    }
    // The reach register emptied with the eighth lost poll: re-key (cookies may
    // belong to a rotated-out key), whichever came first.
    let asked = w.key_exchange_requests();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(matches!(
        asked[0],
        KeNeed::Unreachable | KeNeed::OutOfCookies
    ));
    assert_eq!(w.status().reason, Reason::NtsKeyExchange);
    // A fresh key exchange: back in service.
    w.install(8);
    assert_eq!(w.round(), PacketVerdict::Accepted);
}

#[test]
fn answers_before_any_key_exchange_are_refused() {
    let mut w = World::new();
    assert!(w.poll().is_none());
    // A plain server answer from the configured address.
    let mut req = [0u8; HEADER_LEN];
    Repr::client_request(NtpTimestamp::from_parts(5, 5), 6)
        .emit(&mut Packet::new_unchecked(&mut req[..]));
    let mut out = [0u8; 64];
    let p = Server::new()
        .respond(&req, w.wall(0), &sys(), &mut out)
        .unwrap();
    let ans = p.finish(&mut out, w.wall(0)).to_vec();
    let now = Instant::from_nanos(w.now_ns);
    assert_eq!(
        w.node.handle_packet(now, ke_host(), &ans, w.wall(0)),
        PacketVerdict::Refused(Reason::NtsRefused)
    );
    assert_eq!(w.nts().last_refusal, Some(NtsRefusal::NotWaiting));
}
