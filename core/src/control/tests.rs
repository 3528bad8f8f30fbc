//! Responder tests: golden requests captured from the real tools (see
//! `capture-requests.py`), fragment boundaries, errors.

use std::string::String;
use std::vec::Vec;

use super::tests_fixtures::*;
use super::*;
use crate::time::NtpTimestamp;
use crate::wire::control::{ControlPacket, FLAG_MORE};
use crate::wire::RefId;

#[test]
fn readstat_lists_associations_with_status_words() {
    let sys = sys();
    let peers = [local_peer()];
    let frags = respond(&NTPQ_READSTAT, &sys, &peers);
    assert_eq!(frags.len(), 1);
    let f = &frags[0];
    // LI 0, version 2 echoed, mode 6; response, opcode 1; sequence 1; status: LI 0,
    // source 5 (local), 1 event, event 5 (clock_sync); association 0; offset 0;
    // count 4; one pair (1, 0x9614).
    assert_eq!(
        f[..],
        [0x16, 0x81, 0, 1, 0x05, 0x15, 0, 0, 0, 0, 0, 4, 0, 1, 0x96, 0x14]
    );
}

#[test]
fn ntpstat_gets_its_variables_in_the_first_fragment() {
    let sys = sys();
    let peers = [local_peer()];
    let frags = respond(&ntpstat_request(), &sys, &peers);
    let first = &frags[0];
    // What the C ntpstat checks before it reads anything.
    assert_eq!(first[0] & 0x3f, 0x16);
    assert_eq!(first[1] & !FLAG_MORE, 0x82);
    let body = text(&frags[..1]);
    for needle in [
        "stratum=11,",
        "rootdelay=0.000,",
        "rootdisp=10.500,",
        "refid=LOCL,",
        "tc=6,",
    ] {
        assert!(body.contains(needle), "{needle} missing from {body:?}");
    }
    assert!(body.ends_with("\r\n"));
}

#[test]
fn ntpstat_variables_fit_even_with_the_longest_strings() {
    let long = "x".repeat(64);
    let mut sys = sys();
    sys.version = &long;
    sys.processor = &long[..32];
    sys.system = &long;
    let frags = respond(&ntpstat_request(), &sys, &[]);
    let first = text(&frags[..1]);
    assert!(first.contains("tc=6,"), "{first:?}");
}

#[test]
fn rv_0_is_in_ntpds_order_and_units() {
    let sys = sys();
    let body = text(&respond(&NTPQ_RV, &sys, &[]));
    assert_eq!(
        body,
        "version=\"slew 0.1.0\", processor=\"x86_64\", system=\"Linux/6.1.0\", leap=0,\r\n\
         stratum=11, precision=-20, rootdelay=0.000, rootdisp=10.500, refid=LOCL,\r\n\
         reftime=0xe9a00000.80000000, clock=0xe9a00010.00000000, peer=1, tc=6,\r\n\
         mintc=3, offset=0.000000, frequency=0.000, sys_jitter=0.000000,\r\n\
         clk_jitter=0.000000, clk_wander=0.000, state=4\r\n"
    );
}

#[test]
fn peer_variables_for_ntpq_p() {
    let sys = sys();
    let peers = [local_peer()];
    let frags = respond(&NTPQ_READVAR_ASSOC1, &sys, &peers);
    let p = ControlPacket::new_checked(&frags[0][..]).unwrap();
    assert_eq!(
        p.status(),
        0x9614,
        "the peer status word, for the tally code"
    );
    assert_eq!(p.association_id(), 1);
    let body = text(&frags);
    assert!(body.starts_with("srcadr=127.127.1.0, srcport=123, srchost=\"LOCAL(0)\","));
    for needle in [
        "refid=LOCL,",
        "reach=0xff,",
        "hmode=3,",
        "hpoll=6,",
        "ppoll=6,",
        "stratum=10,",
        "dispersion=0.950,",
        "reason=\"\"",
    ] {
        assert!(body.contains(needle), "{needle} missing from {body:?}");
    }
    // "when" comes from the later of reftime and rec: rec must follow reftime.
    assert!(body.find("reftime=").unwrap() < body.find("rec=").unwrap());
}

#[test]
fn requested_names_in_requested_order() {
    let sys = sys();
    let body = text(&respond(NTPQ_RV_NAMES, &sys, &[]));
    assert_eq!(body, "stratum=11, refid=LOCL\r\n");
}

#[test]
fn never_received_peer_omits_timestamps() {
    let sys = sys();
    let mut p = local_peer();
    p.received = NtpTimestamp::ZERO;
    p.reference_time = NtpTimestamp::ZERO;
    let body = text(&respond(&NTPQ_READVAR_ASSOC1, &sys, &[p]));
    assert!(
        !body.contains("rec=") && !body.contains("reftime="),
        "{body}"
    );
}

#[test]
fn errors_as_ntpd_answers_them() {
    let sys = sys();
    let peers = [local_peer()];
    // Unknown association.
    let mut req = NTPQ_READVAR_ASSOC1;
    req[7] = 9;
    assert_eq!(error_of(&respond(&req, &sys, &peers)), (0xc2, 4));
    // Unknown variable.
    let mut req = Vec::from(&NTPQ_RV[..]);
    req[11] = 7;
    req.extend_from_slice(b"bogus=1\0");
    assert_eq!(error_of(&respond(&req, &sys, &peers)), (0xc2, 5));
    // Writes and configuration are refused: slew is not modified remotely.
    for op in [3u8, 5, 6, 8, 9, 31] {
        let mut req = NTPQ_RV;
        req[1] = op;
        assert_eq!(
            error_of(&respond(&req, &sys, &peers)),
            (0xc0 | op, 1),
            "op {op}"
        );
    }
    // Opcodes slew does not implement.
    for op in [0u8, 4, 7, 10, 11, 12, 13, 30] {
        let mut req = NTPQ_RV;
        req[1] = op;
        assert_eq!(
            error_of(&respond(&req, &sys, &peers)),
            (0xc0 | op, 3),
            "op {op}"
        );
    }
    assert_eq!(error_of(&respond(&NTPQ_REQ_NONCE, &sys, &peers)), (0xcc, 3));
}

#[test]
fn no_answer_to_garbage_or_responses() {
    let sys = sys();
    for bad in [
        &[][..],
        &NTPQ_RV[..11],
        &[0x1e, 0x02, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0][..], // mode 6 ok, version 3 ok? no: 0x1e = vn 3 mode 6
    ] {
        let _ = Responder::new(bad, &sys, &[]);
    }
    assert!(Responder::new(&[], &sys, &[]).is_none());
    assert!(Responder::new(&NTPQ_RV[..11], &sys, &[]).is_none());
    let mut resp = NTPQ_RV;
    resp[1] |= 0x80;
    assert!(Responder::new(&resp, &sys, &[]).is_none(), "a response");
    let mut v0 = NTPQ_RV;
    v0[0] = 0x06;
    assert!(Responder::new(&v0, &sys, &[]).is_none(), "version 0");
    let mut mode7 = NTPQ_RV;
    mode7[0] = 0x17;
    assert!(Responder::new(&mode7, &sys, &[]).is_none(), "mode 7");
    let mut long_count = NTPQ_RV;
    long_count[11] = 8;
    assert!(
        Responder::new(&long_count, &sys, &[]).is_none(),
        "count past the end"
    );
}

/// Many associations: READSTAT fragments at 468 bytes (117 pairs), offsets add up.
#[test]
fn association_list_fragments_at_468_bytes() {
    let sys = sys();
    let peers: Vec<PeerVars> = (1..=300u16)
        .map(|id| PeerVars {
            association_id: id,
            ..local_peer()
        })
        .collect();
    let frags = respond(&NTPQ_READSTAT, &sys, &peers);
    assert_eq!(frags.len(), 3);
    let mut expected_offset = 0;
    for (i, f) in frags.iter().enumerate() {
        let p = ControlPacket::new_checked(&f[..]).unwrap();
        assert_eq!(usize::from(p.offset()), expected_offset);
        assert_eq!(p.more(), i < 2);
        assert_eq!(p.sequence(), 1);
        expected_offset += usize::from(p.count());
        assert_eq!(f.len() % 4, 0);
    }
    assert_eq!(frags[0].len(), 12 + 468);
    assert_eq!(expected_offset, 300 * 4);
}

/// A long variable list: no item straddles two fragments, and joining the fragments
/// gives the same text as one long list would.
#[test]
fn text_fragments_keep_items_whole() {
    let sys = sys();
    let peers = [local_peer()];
    let mut req = Vec::from(&NTPQ_READVAR_ASSOC1[..]);
    let mut names = String::new();
    while names.len() < 440 {
        names.push_str("srchost,reftime,");
    }
    req[10..12].copy_from_slice(&(names.len() as u16).to_be_bytes());
    req.extend_from_slice(names.as_bytes());
    while req.len() % 4 != 0 {
        req.push(0);
    }
    let frags = respond(&req, &sys, &peers);
    assert!(frags.len() >= 2, "{} fragments", frags.len());
    for f in &frags[..frags.len() - 1] {
        let p = ControlPacket::new_checked(&f[..]).unwrap();
        assert!(p.more());
        let data = core::str::from_utf8(p.data()).unwrap();
        // Every fragment ends on an item boundary: its last item is complete.
        let last = data.rsplit([',', ' ', '\n']).next().unwrap();
        assert!(
            last.starts_with("srchost=\"LOCAL(0)\"") || last.starts_with("reftime=0x"),
            "fragment ends mid-item: {last:?}"
        );
        assert!(usize::from(p.count()) <= 468);
    }
    let all = text(&frags);
    let items: Vec<&str> = all.trim_end().split(',').map(|s| s.trim()).collect();
    assert_eq!(
        items.len(),
        names.split(',').filter(|s| !s.is_empty()).count()
    );
}

#[test]
fn separators_and_line_breaks_like_ntpd() {
    // A line never passes 72 characters; breaks are ",\r\n".
    let sys = sys();
    let body = text(&respond(&NTPQ_RV, &sys, &[]));
    for line in body.split("\r\n") {
        assert!(line.len() <= 72, "{line:?}");
    }
}

#[test]
fn hostile_strings_cannot_break_the_list() {
    let mut sys = sys();
    sys.system = "Linux\",stratum=1,\r\n";
    sys.refid = RefId::from_bytes(*b"A,=\x01");
    let body = text(&respond(&NTPQ_RV, &sys, &[]));
    assert!(body.contains("system=\"Linux..stratum.1...\""), "{body}");
    assert!(body.contains("refid=A..."), "{body}");
    assert_eq!(body.matches("stratum=").count(), 1);
}

#[test]
fn status_words() {
    let mut s = sys();
    assert_eq!(s.status_word(), 0x0515);
    s.leap = 3;
    s.clock_source = ClockSource::Unspecified;
    s.event_count = 0;
    s.last_event = sys_event::FREQ_NOT_SET;
    assert_eq!(s.status_word(), 0xc001);
    let st = PeerStatus {
        configured: true,
        select: 4,
        ..PeerStatus::default()
    };
    assert_eq!(st.word(), 0x8400);
    assert_eq!(st.tally(), '+');
    assert_eq!(RefIdKind::for_stratum(1), RefIdKind::Code);
    assert_eq!(RefIdKind::for_stratum(2), RefIdKind::Address);
    assert_eq!(RefIdKind::for_stratum(16), RefIdKind::Code);
}

#[test]
fn small_buffer_ends_the_response() {
    let sys = sys();
    let mut r = Responder::new(&NTPQ_RV, &sys, &[]).unwrap();
    let mut small = [0u8; 100];
    assert_eq!(r.next_fragment(&mut small), None);
}

#[test]
fn never_panics_on_arbitrary_requests() {
    let sys = sys();
    let peers = [local_peer()];
    // A cheap deterministic sweep: every opcode, association and flag combination
    // over a few payloads, plus every truncation of the golden requests.
    let payloads: [&[u8]; 4] = [b"", b",,,", b"srcadr=,=,\xff\xfe", b"stratum"];
    let mut buf = [0u8; CONTROL_MAX_PACKET];
    for b0 in [0x16u8, 0x0e, 0x26, 0xd6, 0x3e] {
        for b1 in 0..=255u8 {
            for assoc in [0u16, 1, 2, 0xffff] {
                for pl in payloads {
                    let mut req = std::vec![b0, b1, 0, 7, 0, 0];
                    req.extend_from_slice(&assoc.to_be_bytes());
                    req.extend_from_slice(&[0, 0]);
                    req.extend_from_slice(&(pl.len() as u16).to_be_bytes());
                    req.extend_from_slice(pl);
                    if let Some(mut r) = Responder::new(&req, &sys, &peers) {
                        let mut n = 0;
                        while let Some(len) = r.next_fragment(&mut buf) {
                            assert!(len <= CONTROL_MAX_PACKET && len % 4 == 0);
                            n += 1;
                            assert!(n < 10);
                        }
                    }
                }
            }
        }
    }
    for cut in 0..NTPQ_RV_NAMES.len() {
        let _ = Responder::new(&NTPQ_RV_NAMES[..cut], &sys, &peers);
    }
}

/// An NTS source's row carries the `nts*` variables after `reason`; a plain
/// source's default list stays ntpd's (no `nts` at all).
#[test]
fn nts_variables_only_for_an_nts_source() {
    use crate::peer::{KeFailure, KeNeed, KeResult, NtsRefusal, NtsSourceStatus};
    let sys = sys();
    let plain = text(&respond(&NTPQ_READVAR_ASSOC1, &sys, &[local_peer()]));
    assert!(!plain.contains("nts"), "{plain}");

    let mut p = local_peer();
    p.nts = Some(NtsSourceStatus {
        cookies: 3,
        needs_key_exchange: Some(KeNeed::Nak),
        key_exchanges: 2,
        last_key_exchange: Some(KeResult::Failed(KeFailure::Certificate)),
        refused: 5,
        last_refusal: Some(NtsRefusal::Forged),
        naks: 1,
    });
    let body = text(&respond(&NTPQ_READVAR_ASSOC1, &sys, &[p.clone()]));
    let flat = body.replace("\r\n", " ");
    assert!(
        flat.contains(
            "reason=\"\", nts=1, ntscookies=3, ntske=2, ntskelast=\"certificate\", \
             ntskecookies=0, ntsneedke=\"nak\", ntsnaks=1, ntsrefused=5, \
             ntsrefusal=\"forged\""
        ),
        "{body:?}"
    );

    p.nts = Some(NtsSourceStatus {
        cookies: 8,
        needs_key_exchange: None,
        key_exchanges: 1,
        last_key_exchange: Some(KeResult::Ok { cookies: 8 }),
        refused: 0,
        last_refusal: None,
        naks: 0,
    });
    let body = text(&respond(&NTPQ_READVAR_ASSOC1, &sys, &[p])).replace("\r\n", " ");
    assert!(
        body.contains("ntskelast=\"ok\", ntskecookies=8, ntsneedke=\"\","),
        "{body}"
    );
}
