//! [`PeerVars`] through the responder and back: what READVAR encodes, the decoder
//! reads as it was, and reading then encoding again gives the same text.

use std::string::String;
use std::vec::Vec;

use proptest::prelude::*;

use super::tests_fixtures::{local_peer, respond, sys, text, NTPQ_READVAR_ASSOC1};
use super::*;
use crate::peer::{KeFailure, KeNeed, KeResult, NtsRefusal, NtsSourceStatus};
use crate::time::NtpTimestamp;
use crate::wire::control::ControlPacket;
use crate::wire::RefId;
use core::net::IpAddr;

/// The status word and the text of association 1's READVAR answer.
fn readvar(p: &PeerVars) -> (u16, String) {
    let frags = respond(&NTPQ_READVAR_ASSOC1, &sys(), core::slice::from_ref(p));
    let status = ControlPacket::new_checked(&frags[0][..]).unwrap().status();
    (status, text(&frags))
}

/// Milliseconds with the three decimals READVAR carries.
fn ms() -> impl Strategy<Value = f64> {
    (-1_000_000_000i64..1_000_000_000).prop_map(|k| k as f64 / 1000.0)
}

fn refid() -> impl Strategy<Value = (RefId, RefIdKind)> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|b| (RefId::from_bytes(b), RefIdKind::Address)),
        "[A-Z0-9]{0,4}".prop_map(|c| {
            let mut b = [0u8; 4];
            b[..c.len()].copy_from_slice(c.as_bytes());
            (RefId::from_bytes(b), RefIdKind::Code)
        }),
    ]
}

fn nts() -> impl Strategy<Value = Option<NtsSourceStatus>> {
    let ke = prop_oneof![
        Just(None),
        any::<u8>().prop_map(|cookies| Some(KeResult::Ok { cookies })),
        prop::sample::select(KeFailure::ALL.to_vec()).prop_map(|f| Some(KeResult::Failed(f))),
    ];
    let need = prop::option::of(prop::sample::select(KeNeed::ALL.to_vec()));
    let refusal = prop::option::of(prop::sample::select(NtsRefusal::ALL.to_vec()));
    prop::option::of(
        (
            any::<u8>(),
            need,
            any::<u32>(),
            ke,
            any::<u32>(),
            refusal,
            any::<u32>(),
        )
            .prop_map(
                |(
                    cookies,
                    needs_key_exchange,
                    key_exchanges,
                    last_key_exchange,
                    refused,
                    last_refusal,
                    naks,
                )| {
                    NtsSourceStatus {
                        cookies,
                        needs_key_exchange,
                        key_exchanges,
                        last_key_exchange,
                        refused,
                        last_refusal,
                        naks,
                    }
                },
            ),
    )
}

prop_compose! {
    fn peer_vars()(
        srcadr in any::<IpAddr>(),
        srcport in any::<u16>(),
        srchost in prop::option::of("[a-zA-Z0-9.()-]{1,60}"),
        // ntpd's broadcast bit (0x0800) has no field.
        word in any::<u16>().prop_map(|w| w & !0x0800),
        leap in 0u8..4,
        stratum in any::<u8>(),
        precision in any::<i8>(),
        (root_delay_ms, root_dispersion_ms) in (ms(), ms()),
        (refid, refid_kind) in refid(),
        (reference_time, received) in (any::<u64>(), any::<u64>()),
        reach in any::<u8>(),
        hmode in any::<u8>(),
        (hpoll, ppoll) in (any::<i8>(), any::<i8>()),
        (offset_ms, delay_ms, dispersion_ms, jitter_ms) in (ms(), ms(), ms(), ms()),
        reason in "[a-z -]{0,20}",
        nts in nts(),
    ) -> PeerVars {
        PeerVars {
            association_id: 1,
            srcadr,
            srcport,
            srchost: srchost.as_deref().map(bounded_text),
            status: PeerStatus::from_word(word),
            leap,
            stratum,
            precision,
            root_delay_ms,
            root_dispersion_ms,
            refid,
            refid_kind,
            reference_time: NtpTimestamp::from_bits(reference_time),
            received: NtpTimestamp::from_bits(received),
            reach,
            hmode,
            hpoll,
            ppoll,
            offset_ms,
            delay_ms,
            dispersion_ms,
            jitter_ms,
            reason: bounded_text(&reason),
            nts,
        }
    }
}

proptest! {
    #[test]
    fn what_readvar_encodes_decodes_to_the_same_peer_vars(p in peer_vars()) {
        let (status, list) = readvar(&p);
        prop_assert_eq!(status, p.status.word());
        let back = PeerVars::decode(1, status, list.as_bytes());
        prop_assert_eq!(&back, &p, "{}", list);
        // And the text is a fixed point: decoding, then encoding, says the same.
        let (status2, again) = readvar(&back);
        prop_assert_eq!(status2, status);
        prop_assert_eq!(again, list);
    }

    /// Whatever a server sends, the decoder answers (no panic) and its strings fit.
    #[test]
    fn any_list_decodes(list in prop::collection::vec(any::<u8>(), 0..600)) {
        let p = PeerVars::decode(3, 0x9614, &list);
        prop_assert_eq!(p.association_id, 3);
        prop_assert!(p.reason.len() <= REASON_MAX);
    }
}

#[test]
fn the_local_clock_and_a_foreign_daemons_list() {
    // The fixture through READVAR: the figures ntpq reads.
    let (status, list) = readvar(&local_peer());
    assert_eq!(PeerVars::decode(1, status, list.as_bytes()), local_peer());
    // ntpd's list: no `reason` (the tally's meaning stands in), no `nts`, an
    // IPv6 address in brackets, more decimals than slew sends, a name twice.
    let ntpd = b"srcadr=[2001:db8::1], srcport=123, stratum=2, stratum=9, refid=GPS,\r\n\
        reach=0x1, hmode=3, hpoll=10, ppoll=6, offset=-0.012345, delay=1.5, rec=0xe9a00000";
    let p = PeerVars::decode(9, 0x9300, ntpd);
    assert_eq!(p.srcadr, "2001:db8::1".parse::<IpAddr>().unwrap());
    assert_eq!(p.stratum, 2, "the first of two counts");
    assert_eq!(p.refid, RefId::from_bytes(*b"GPS\0"));
    assert_eq!(p.refid_kind, RefIdKind::Code);
    assert_eq!(p.reason, "outlier", "tally '-' without a reason");
    assert_eq!(p.offset_ms, -0.012345);
    assert_eq!(p.received, NtpTimestamp::from_parts(0xe9a0_0000, 0));
    assert_eq!((p.hpoll, p.ppoll), (10, 6));
    assert!(p.nts.is_none() && p.srchost.is_none());
    // A name longer than the room is cut at a character boundary.
    let long: Vec<u8> = [&b"srchost=\""[..], &"é".repeat(200).into_bytes(), b"\""].concat();
    let p = PeerVars::decode(2, 0, &long);
    assert_eq!(p.srchost.as_deref().map(str::len), Some(254));
}

#[test]
fn the_node_reports_the_local_clock_first_then_each_source() {
    use crate::node::{Node, NodeConfig};
    use crate::peer::SourceConfig;
    use crate::time::Instant;
    let mut node: Node<2> = Node::new(NodeConfig {
        local_clock_stratum: Some(10),
        ..NodeConfig::default()
    });
    let addr = "192.0.2.5:123".parse().unwrap();
    let id = node
        .add_source(SourceConfig::new(addr), Instant::ZERO)
        .unwrap();
    let wall = NtpTimestamp::from_unix(1_800_000_000, 0);
    let peers: Vec<PeerVars> = node
        .peer_vars(Instant::from_nanos(5_000_000_000), wall, 130)
        .collect();
    assert_eq!(peers.len(), 2);
    assert_eq!(peers[0].association_id, LOCAL_CLOCK_ASSOC_ID);
    assert_eq!(peers[0].srchost.as_deref(), Some("LOCAL(0)"));
    assert_eq!(peers[0].reach, 0b111, "three 64-s updates in 130 s");
    assert_eq!(peers[0].stratum, 10);
    assert_eq!(peers[1].association_id, association_id(id));
    assert_eq!(peers[1].srcadr, addr.ip());
    assert!(peers[1].received.is_zero(), "never answered");
    assert_eq!(peers[1].stratum, 16);
    let p = peers[1].clone().with_srchost(Some("ntp.example"));
    assert_eq!(p.srchost.as_deref(), Some("ntp.example"));
    assert!(p.with_srchost(Some("")).srchost.is_none());
}
