//! `server … key N`: signed requests, and only answers signed with key N accepted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::auth::{AuthStatus, KeyTable, MacAlgorithm, SymmetricKey};
use crate::clock::LeapIndicator;
use crate::server::{Client, Policy, ResponseKind, Server};
use crate::wire::RefId;

fn addr() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], 123))
}

fn key(id: u32, alg: MacAlgorithm, secret: &[u8]) -> SymmetricKey {
    SymmetricKey::new(id, alg, secret, true).unwrap()
}

fn table(keys: &[SymmetricKey]) -> KeyTable<4> {
    let mut t = KeyTable::new();
    for k in keys {
        t.insert(k.clone()).unwrap();
    }
    t
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

/// A node with one `key 7` source holding `k` (when given).
fn node_with(k: Option<SymmetricKey>) -> (Node<2>, SourceId) {
    let mut node: Node<2> = Node::new(NodeConfig::default());
    let id = node
        .add_source(
            SourceConfig {
                key: Some(7),
                ..SourceConfig::new(addr())
            },
            Instant::ZERO,
        )
        .unwrap();
    if let Some(k) = k {
        assert!(node.set_source_key(id, k));
    }
    (node, id)
}

/// The first request, as sent, and its T1.
fn request(node: &mut Node<2>) -> (std::vec::Vec<u8>, NtpTimestamp) {
    node.handle_timeout(Instant::from_nanos(3_000_000_000));
    let t1 = NtpTimestamp::from_unix(1_800_000_000, 0);
    let (req, tx) = match node.poll_action() {
        Some(Action::Send { bytes, tx, .. }) => (bytes.to_vec(), tx),
        other => panic!("expected a send, got {other:?}"),
    };
    node.handle_tx_timestamp(tx, t1);
    (req, t1)
}

/// What a server holding `keys` answers to `req`.
fn answer(req: &[u8], keys: &KeyTable<4>, rx: NtpTimestamp) -> (ResponseKind, std::vec::Vec<u8>) {
    let mut policy = Policy {
        access: None,
        limiter: None,
        keys: Some(keys),
    };
    let client = Client {
        addr: core::net::IpAddr::V4(core::net::Ipv4Addr::LOCALHOST),
        port: 123,
        now: Instant::ZERO,
    };
    let mut buf = [0u8; 128];
    let p = Server::new()
        .respond_to(&mut policy, client, req, rx, &sys(), &mut buf)
        .unwrap();
    let kind = p.kind();
    (kind, p.finish(&mut buf, rx).to_vec())
}

#[test]
fn requests_are_signed_with_the_sources_key() {
    for (alg, secret, len) in [
        (MacAlgorithm::Md5, &b"shared-secret"[..], 68),
        (MacAlgorithm::Sha1, &[0x5a; 20][..], 72),
        (MacAlgorithm::Aes128Cmac, &[0x33; 16][..], 68),
    ] {
        let k = key(7, alg, secret);
        let (mut node, _) = node_with(Some(k.clone()));
        let (req, _) = request(&mut node);
        assert_eq!(req.len(), len, "{alg:?}");
        match table(&[k]).check(&req) {
            AuthStatus::Authentic(k) => assert_eq!(k.id(), 7),
            other => panic!("{alg:?}: {other:?}"),
        }
    }
}

#[test]
fn signed_answer_is_accepted() {
    let k = key(7, MacAlgorithm::Sha1, b"0123456789abcdefghij");
    let (mut node, _) = node_with(Some(k.clone()));
    let (req, t1) = request(&mut node);
    let (kind, ans) = answer(&req, &table(&[k]), t1 + NtpDuration::from_seconds_f64(0.5));
    assert_eq!(kind, ResponseKind::Authenticated(7));
    let t4 = t1 + NtpDuration::from_seconds_f64(0.01);
    let now = Instant::from_nanos(3_010_000_000);
    assert_eq!(
        node.handle_packet(now, addr(), &ans, t4),
        PacketVerdict::Accepted
    );
    assert_eq!(node.sources(now).next().unwrap().reach, 1);
}

#[test]
fn unsigned_forged_or_foreign_answers_are_refused_and_the_real_one_still_counts() {
    let k = key(7, MacAlgorithm::Md5, b"shared-secret");
    let (mut node, _) = node_with(Some(k.clone()));
    let (req, t1) = request(&mut node);
    let rx = t1 + NtpDuration::from_seconds_f64(0.5);
    let t4 = t1 + NtpDuration::from_seconds_f64(0.01);
    let now = Instant::from_nanos(3_010_000_000);
    let (_, good) = answer(&req, &table(&[k]), rx);
    let refused = |node: &mut Node<2>, bytes: &[u8], why: Reason| {
        assert_eq!(
            node.handle_packet(now, addr(), bytes, t4),
            PacketVerdict::Refused(why)
        );
        let st = node.sources(now).next().unwrap();
        assert_eq!(st.last_refusal, Some(why));
        assert_eq!(st.reach, 0, "a refused answer does not make it reachable");
    };
    // The header alone: unsigned.
    refused(&mut node, &good[..HEADER_LEN], Reason::AuthFailed);
    // A flipped digest bit.
    let mut forged = good.clone();
    *forged.last_mut().unwrap() ^= 1;
    refused(&mut node, &forged, Reason::AuthFailed);
    // A changed header under the old MAC.
    let mut forged = good.clone();
    forged[1] = 2;
    refused(&mut node, &forged, Reason::AuthFailed);
    // Signed correctly, but with another key the server also trusts.
    let other = key(8, MacAlgorithm::Md5, b"shared-secret");
    let mut foreign = good[..HEADER_LEN].to_vec();
    foreign.resize(HEADER_LEN + 20, 0);
    let len = other.sign(&mut foreign, HEADER_LEN).unwrap();
    refused(&mut node, &foreign[..len], Reason::AuthFailed);
    // An unsigned kiss cannot demobilise or slow down an authenticated association.
    let mut kiss = good[..HEADER_LEN].to_vec();
    kiss[0] = 0xe4; // leap 3, version 4, mode 4
    kiss[1] = 0;
    kiss[12..16].copy_from_slice(b"DENY");
    refused(&mut node, &kiss, Reason::AuthFailed);
    // None of that used up the request: the real answer is taken.
    assert_eq!(
        node.handle_packet(now, addr(), &good, t4),
        PacketVerdict::Accepted
    );
}

#[test]
fn crypto_nak_is_refused_with_its_own_reason() {
    let k = key(7, MacAlgorithm::Md5, b"shared-secret");
    let (mut node, _) = node_with(Some(k));
    let (req, t1) = request(&mut node);
    // The server has another secret under id 7: it cannot authenticate us.
    let theirs = key(7, MacAlgorithm::Md5, b"different");
    let (kind, nak) = answer(&req, &table(&[theirs]), t1);
    assert!(matches!(kind, ResponseKind::CryptoNak(_)), "{kind:?}");
    assert_eq!(nak.len(), HEADER_LEN + 4);
    let now = Instant::from_nanos(3_010_000_000);
    assert_eq!(
        node.handle_packet(now, addr(), &nak, t1),
        PacketVerdict::Refused(Reason::CryptoNak)
    );
    assert_eq!(
        node.sources(now).next().unwrap().last_refusal,
        Some(Reason::CryptoNak)
    );
    // A crypto-NAK with a wrong origin is still just a bogus packet.
    let mut stale = nak.clone();
    stale[24] ^= 0xff;
    assert_eq!(
        node.handle_packet(now, addr(), &stale, t1),
        PacketVerdict::Refused(Reason::BadOrigin)
    );
    assert_eq!(Reason::CryptoNak.code(), "crypto-nak");
    assert_eq!(Reason::AuthFailed.code(), "auth");
}

#[test]
fn key_must_match_the_source_and_be_trusted() {
    let (mut node, id) = node_with(None);
    assert!(!node.set_source_key(id, key(8, MacAlgorithm::Md5, b"x")));
    let untrusted = SymmetricKey::new(7, MacAlgorithm::Md5, b"x", false).unwrap();
    assert!(!node.set_source_key(id, untrusted));
    assert!(!node.set_source_key(SourceId(99), key(7, MacAlgorithm::Md5, b"x")));
    // Without its key the request goes unsigned and every answer is refused.
    let (req, t1) = request(&mut node);
    assert_eq!(req.len(), HEADER_LEN);
    let (_, ans) = answer(&req, &table(&[]), t1);
    assert_eq!(
        node.handle_packet(Instant::from_nanos(3_010_000_000), addr(), &ans, t1),
        PacketVerdict::Refused(Reason::AuthFailed)
    );
}

#[test]
fn source_without_key_ignores_macs() {
    let mut node: Node<2> = Node::new(NodeConfig::default());
    node.add_source(SourceConfig::new(addr()), Instant::ZERO)
        .unwrap();
    let (req, t1) = request(&mut node);
    assert_eq!(req.len(), HEADER_LEN, "no key, no MAC");
    let (_, mut ans) = answer(&req, &table(&[]), t1);
    // Whatever trailer an answer carries, an unauthenticated association uses the header.
    ans.extend_from_slice(&[0, 0, 0, 0]);
    assert_eq!(
        node.handle_packet(Instant::from_nanos(3_010_000_000), addr(), &ans, t1),
        PacketVerdict::Accepted
    );
}
