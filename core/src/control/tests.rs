//! Responder tests: golden requests captured from the real tools (see
//! `capture-requests.py`), fragment boundaries, errors.

use std::format;
use std::net::{IpAddr, Ipv4Addr};
use std::string::{String, ToString};
use std::vec::Vec;

use super::*;
use crate::time::NtpTimestamp;
use crate::wire::control::{ControlPacket, FLAG_MORE};
use crate::wire::RefId;

/// ntpsec's `ntpq -p`, first query: READSTAT, association 0, version 2, sequence 1
/// (ntpq puts LI = 3 in its requests).
pub const NTPQ_READSTAT: [u8; 12] = [
    0xd6, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];
/// `ntpq -p`, second query: READVAR for association 1 with no names (all variables).
pub const NTPQ_READVAR_ASSOC1: [u8; 12] = [
    0xd6, 0x02, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
];
/// `ntpq -c rv`: READVAR for association 0 with no names.
pub const NTPQ_RV: [u8; 12] = [
    0xd6, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];
/// `ntpq -c "rv 0 stratum,refid"`: 13 bytes of names, padded to 28.
pub const NTPQ_RV_NAMES: &[u8] =
    b"\xd6\x02\x00\x02\x00\x00\x00\x00\x00\x00\x00\x0dstratum,refid\x00\x00\x00";
/// `ntpq -c mrulist` starts with REQ_NONCE.
pub const NTPQ_REQ_NONCE: [u8; 12] = [
    0xd6, 0x0c, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];

/// Debian's C `ntpstat`: READVAR, version 2, sequence 1, association 0, sent as its
/// whole 576-byte struct (header + zeroed payload, count 0).
pub fn ntpstat_request() -> [u8; 576] {
    let mut r = [0u8; 576];
    r[..4].copy_from_slice(&[0x16, 0x02, 0x00, 0x01]);
    r
}

pub fn sys() -> SystemSnapshot<'static> {
    SystemSnapshot {
        version: "slew 0.1.0",
        processor: "x86_64",
        system: "Linux/6.1.0",
        leap: 0,
        clock_source: ClockSource::Local,
        event_count: 1,
        last_event: sys_event::CLOCK_SYNC,
        stratum: 11,
        precision: -20,
        root_delay_s: 0.0,
        root_dispersion_s: 0.010_5,
        refid: RefId::LOCL,
        refid_kind: RefIdKind::Code,
        reference_time: NtpTimestamp::from_parts(0xe9a0_0000, 0x8000_0000),
        clock: NtpTimestamp::from_parts(0xe9a0_0010, 0),
        peer: 1,
        tc: 6,
        mintc: 3,
        offset_s: 0.0,
        frequency_ppm: 0.0,
        sys_jitter_s: 0.0,
        clk_jitter_s: 0.0,
        clk_wander_ppm: 0.0,
        state: 4,
    }
}

pub fn local_peer() -> PeerSnapshot<'static> {
    PeerSnapshot {
        association_id: 1,
        srcadr: IpAddr::V4(Ipv4Addr::new(127, 127, 1, 0)),
        srcport: 123,
        srchost: Some("LOCAL(0)"),
        status: PeerStatus {
            configured: true,
            reachable: true,
            select: 6,
            event_count: 1,
            last_event: peer_event::REACHABLE,
            ..PeerStatus::default()
        },
        leap: 0,
        stratum: 10,
        precision: -20,
        root_delay_s: 0.0,
        root_dispersion_s: 0.0,
        refid: RefId::LOCL,
        refid_kind: RefIdKind::Code,
        reference_time: NtpTimestamp::from_parts(0xe9a0_0000, 0),
        received: NtpTimestamp::from_parts(0xe9a0_0000, 0),
        reach: 0xff,
        hmode: host_mode::CLIENT,
        hpoll: 6,
        ppoll: 6,
        offset_s: 0.0,
        delay_s: 0.0,
        dispersion_s: 0.000_95,
        jitter_s: 0.0,
        reason: "",
    }
}

/// Every datagram of the response.
fn respond(req: &[u8], sys: &SystemSnapshot<'_>, peers: &[PeerSnapshot<'_>]) -> Vec<Vec<u8>> {
    let mut r = Responder::new(req, sys, peers).expect("answered");
    let mut out = Vec::new();
    let mut buf = [0u8; CONTROL_MAX_PACKET];
    while let Some(n) = r.next_fragment(&mut buf) {
        out.push(buf[..n].to_vec());
        assert!(out.len() < 100, "runaway fragments");
    }
    out
}

fn text(frags: &[Vec<u8>]) -> String {
    let mut s = String::new();
    for f in frags {
        let p = ControlPacket::new_checked(&f[..]).expect("valid fragment");
        s.push_str(core::str::from_utf8(p.data()).expect("ascii"));
    }
    s
}

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

fn error_of(frags: &[Vec<u8>]) -> (u8, u8) {
    assert_eq!(frags.len(), 1);
    let f = &frags[0];
    assert_eq!(f.len(), 12, "errors carry no data");
    (f[1], f[4])
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
    let peers: Vec<PeerSnapshot<'_>> = (1..=300u16)
        .map(|id| PeerSnapshot {
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

// ---- The variables of ntpq's summaries, and mrulist -------------------------------

use crate::server::{DropReason, ServerStats};
use core::net::SocketAddr;

/// A request: header (version 2, sequence 7, association 0), data padded to 4.
fn request(opcode: u8, data: &[u8]) -> Vec<u8> {
    let mut r = std::vec![0x16, opcode, 0, 7, 0, 0, 0, 0, 0, 0];
    r.extend_from_slice(&(data.len() as u16).to_be_bytes());
    r.extend_from_slice(data);
    while r.len() % 4 != 0 {
        r.push(0);
    }
    r
}

fn respond_x(req: &[u8], x: &Extras<'_>) -> Option<Vec<Vec<u8>>> {
    let sys = sys();
    let peers = [local_peer()];
    let mut r = Responder::with_extras(req, &sys, &peers, x)?;
    let mut out = Vec::new();
    let mut buf = [0u8; CONTROL_MAX_PACKET];
    while let Some(n) = r.next_fragment(&mut buf) {
        out.push(buf[..n].to_vec());
        assert!(out.len() <= 130, "runaway fragments");
    }
    Some(out)
}

/// `name=value` pairs of a text response, in order.
fn pairs(frags: &[Vec<u8>]) -> Vec<(String, String)> {
    text(frags)
        .split(',')
        .filter_map(|i| {
            let (k, v) = i.trim().split_once('=')?;
            Some((k.trim().into(), v.trim().into()))
        })
        .collect()
}

fn rv_x(names: &[&str], x: &Extras<'_>) -> Vec<(String, String)> {
    let frags = respond_x(&request(2, names.join(",").as_bytes()), x).expect("answered");
    assert_eq!(frags[0][1] & 0x40, 0, "no error: {:?}", frags[0]);
    pairs(&frags)
}

fn value(p: &[(String, String)], name: &str) -> String {
    p.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("{name} missing in {p:?}"))
}

/// Every name ntpsec's ntpq asks in `sysinfo` (plus ntpd 4.2.8's `bcastdelay`),
/// `kerninfo`, `sysstats` (with the `_r` twins), `iostats`, `monstats`, `authinfo`.
const NTPQ_SUMMARY_NAMES: &[&str] = &[
    "peeradr",
    "peermode",
    "leap",
    "stratum",
    "precision",
    "rootdelay",
    "rootdisp",
    "rootdist",
    "refid",
    "reftime",
    "sys_jitter",
    "clk_jitter",
    "clk_wander",
    "authdelay",
    "bcastdelay",
    "koffset",
    "kfreq",
    "kmaxerr",
    "kesterr",
    "kstflags",
    "ktimeconst",
    "kprecis",
    "kfreqtol",
    "kppsfreq",
    "kppsstab",
    "kppsjitter",
    "kppscalibdur",
    "kppscalibs",
    "kppsjitexc",
    "kppsstbexc",
    "kppscaliberrs",
    "ss_uptime",
    "ss_numctlreq",
    "ss_reset",
    "ss_received",
    "ss_thisver",
    "ss_oldver",
    "ss_ver1",
    "ss_ver1client",
    "ss_ver1zero",
    "ss_ver1symm",
    "ss_badformat",
    "ss_badauth",
    "ss_declined",
    "ss_restricted",
    "ss_limited",
    "ss_kodsent",
    "ss_processed",
    "ss_reset_r",
    "ss_received_r",
    "ss_thisver_r",
    "ss_oldver_r",
    "ss_ver1_r",
    "ss_ver1client_r",
    "ss_ver1zero_r",
    "ss_ver1symm_r",
    "ss_badformat_r",
    "ss_badauth_r",
    "ss_declined_r",
    "ss_restricted_r",
    "ss_limited_r",
    "ss_kodsent_r",
    "ss_processed_r",
    "iostats_reset",
    "total_rbuf",
    "free_rbuf",
    "used_rbuf",
    "rbuf_lowater",
    "io_dropped",
    "io_ignored",
    "io_received",
    "io_sent",
    "io_sendfailed",
    "io_wakeups",
    "io_goodwakeups",
    "mru_enabled",
    "mru_hashslots",
    "mru_depth",
    "mru_deepest",
    "mru_maxdepth",
    "mru_mindepth",
    "mru_maxage",
    "mru_minage",
    "mru_mem",
    "mru_maxmem",
    "mru_exists",
    "mru_new",
    "mru_recycleold",
    "mru_recyclefull",
    "mru_none",
    "mru_oldest_age",
    "authreset",
    "authkeys",
    "authfreek",
    "authklookups",
    "authknotfound",
    "authencrypts",
    "authdigestencrypts",
    "authcmacencrypts",
    "authdecrypts",
    "authdigestdecrypts",
    "authdigestfails",
    "authcmacdecrypts",
    "authcmacfails",
];

#[test]
fn every_variable_of_ntpqs_summaries_is_answered_once_by_name() {
    for chunk in NTPQ_SUMMARY_NAMES.chunks(20) {
        let p = rv_x(chunk, &Extras::NONE);
        let names: Vec<&str> = p.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, chunk, "in the order asked");
        assert!(p.iter().all(|(_, v)| !v.is_empty()), "{p:?}");
    }
    // Plain `rv` keeps ntpd's default list: none of them.
    let all = text(&respond(&NTPQ_RV, &sys(), &[local_peer()]));
    assert!(!all.contains("ss_") && !all.contains("kmaxerr"), "{all}");
    // ntpsec 1.2.2 dropped these two: UNKNOWNVAR, as from it.
    for gone in ["authkuncached", "authkexpired"] {
        let frags = respond_x(&request(2, gone.as_bytes()), &Extras::NONE).unwrap();
        assert_eq!(error_of(&frags), (0xc2, 5), "{gone}");
    }
}

#[test]
fn kerninfo_converts_the_kernels_units() {
    // What an unsynchronised Linux kernel reports (see the interop test).
    let mut x = Extras::NONE;
    x.kernel = KernelState {
        maxerror: 16_000_000,
        esterror: 16_000_000,
        status: 0x40,
        constant: 2,
        precision: 1,
        tolerance: 32_768_000,
        freq: -12 * 65536,
        offset: 1500,
        ..KernelState::default()
    };
    let p = rv_x(
        &[
            "kmaxerr",
            "kesterr",
            "kstflags",
            "ktimeconst",
            "kprecis",
            "kfreqtol",
            "kfreq",
            "koffset",
        ],
        &x,
    );
    // µs → ms (ntpsec 1.2.2 says 16: it reads them as ns).
    assert_eq!(value(&p, "kmaxerr"), "16000.000");
    assert_eq!(value(&p, "kesterr"), "16000.000");
    assert_eq!(value(&p, "kstflags"), "\"unsync\"");
    assert_eq!(value(&p, "ktimeconst"), "2");
    assert_eq!(value(&p, "kprecis"), "0.001000");
    assert_eq!(value(&p, "kfreqtol"), "500.000");
    assert_eq!(value(&p, "kfreq"), "-12.000");
    assert_eq!(value(&p, "koffset"), "1.500000", "1500 µs");
    // STA_NANO: offset and jitter in ns; several words, space-separated.
    x.kernel.status = STA_NANO | 0x41;
    x.kernel.shift = 2;
    x.kernel.jitter = 2_000_000;
    x.kernel.calcnt = 5;
    let p = rv_x(
        &[
            "koffset",
            "kstflags",
            "kppsjitter",
            "kppscalibdur",
            "kppscalibs",
        ],
        &x,
    );
    assert_eq!(value(&p, "koffset"), "0.001500", "1500 ns");
    assert_eq!(value(&p, "kstflags"), "\"pll unsync nano\"");
    assert_eq!(value(&p, "kppsjitter"), "2.000000");
    assert_eq!(value(&p, "kppscalibdur"), "4");
    assert_eq!(value(&p, "kppscalibs"), "5");
    // Without a PPS signal (shift 0) ntpd reports the PPS figures as 0.
    x.kernel.shift = 0;
    let p = rv_x(&["kppsjitter", "kppscalibdur", "kppscalibs"], &x);
    assert!(p.iter().all(|(_, v)| v == "0"), "{p:?}");
    // Every bit has its word.
    x.kernel.status = 0xffff;
    let p = rv_x(&["kstflags"], &x);
    assert_eq!(
        value(&p, "kstflags"),
        "\"pll ppsfreq ppstime fll ins del unsync freqhold ppssignal ppsjitter ppswander ppserror clockerr nano mode=fll src=B\""
    );
}

#[test]
fn sysinfo_names_the_system_peer() {
    let mut x = Extras::NONE;
    let p = rv_x(
        &["peeradr", "peermode", "rootdist", "authdelay", "bcastdelay"],
        &x,
    );
    assert_eq!(value(&p, "peeradr"), "0.0.0.0:0");
    assert_eq!(value(&p, "peermode"), "0");
    assert_eq!(value(&p, "authdelay"), "0.000");
    x.sys_peer = Some("192.0.2.1:123".parse().unwrap());
    x.sys_peer_mode = 3;
    x.root_distance_s = 0.0125;
    let p = rv_x(&["peeradr", "peermode", "rootdist"], &x);
    assert_eq!(value(&p, "peeradr"), "192.0.2.1:123");
    assert_eq!(value(&p, "peermode"), "3");
    assert_eq!(value(&p, "rootdist"), "12.500");
    x.sys_peer = Some("[2001:db8::1]:123".parse().unwrap());
    assert_eq!(
        value(&rv_x(&["peeradr"], &x), "peeradr"),
        "[2001:db8::1]:123"
    );
}

#[test]
fn sysstats_iostats_authinfo_monstats_from_the_counters() {
    let mut s = ServerStats::ZERO;
    s.answered = 20;
    s.rate_kisses = 2;
    s.crypto_naks = 1;
    s.by_version = [0, 3, 1, 2, 30, 0, 0, 0];
    s.v1_by_mode = [1, 1, 0, 1, 0, 0, 0, 0];
    s.dropped[DropReason::Truncated.index()] = 4;
    s.dropped[DropReason::Malformed.index()] = 1;
    s.dropped[DropReason::NoServe.index()] = 5;
    s.dropped[DropReason::RateLimited.index()] = 7;
    s.dropped[DropReason::ModeServer.index()] = 2;
    s.mac.lookups = 6;
    s.mac.not_found = 1;
    s.mac.digest_checked = 3;
    s.mac.digest_failed = 1;
    s.mac.digest_signed = 2;
    s.mac.cmac_checked = 2;
    s.mac.cmac_signed = 2;
    let mut x = Extras::NONE;
    x.server = s;
    x.uptime_s = 3600;
    x.stats_since_s = 3600;
    x.control_requests = 9;
    x.io.received = 40;
    x.io.total_rbuf = 32;
    x.io.free_rbuf = 30;
    x.keys.keys = 3;
    x.keys.free = 1021;
    x.monitor.depth = 10;
    x.monitor.max_depth = 4096;
    x.monitor.entry_bytes = 64;
    let p = rv_x(
        &[
            "ss_uptime",
            "ss_numctlreq",
            "ss_received",
            "ss_received_r",
            "ss_thisver",
            "ss_oldver",
            "ss_ver1",
            "ss_ver1client",
            "ss_ver1zero",
            "ss_ver1symm",
            "ss_badformat",
            "ss_badauth",
            "ss_declined",
            "ss_restricted",
            "ss_limited",
        ],
        &x,
    );
    let expect = [
        ("ss_uptime", "3600"),
        ("ss_numctlreq", "9"),
        ("ss_received", "39"), // 20 answered + 19 dropped
        ("ss_received_r", "39"),
        ("ss_thisver", "30"),
        ("ss_oldver", "6"),
        ("ss_ver1", "3"),
        ("ss_ver1client", "1"),
        ("ss_ver1zero", "1"),
        ("ss_ver1symm", "1"),
        ("ss_badformat", "5"),
        ("ss_badauth", "1"),
        ("ss_declined", "2"),
        ("ss_restricted", "5"),
        ("ss_limited", "9"), // 7 dropped + 2 kissed
    ];
    for (k, v) in expect {
        assert_eq!(value(&p, k), v, "{k}");
    }
    let p = rv_x(
        &[
            "ss_kodsent",
            "ss_processed",
            "io_received",
            "used_rbuf",
            "authkeys",
            "authfreek",
            "authklookups",
            "authknotfound",
            "authencrypts",
            "authdecrypts",
            "authdigestfails",
            "authcmacdecrypts",
            "authcmacfails",
            "mru_mem",
            "mru_maxmem",
        ],
        &x,
    );
    let expect = [
        ("ss_kodsent", "2"),
        ("ss_processed", "17"),
        ("io_received", "40"),
        ("used_rbuf", "2"),
        ("authkeys", "3"),
        ("authfreek", "1021"),
        ("authklookups", "6"),
        ("authknotfound", "1"),
        ("authencrypts", "4"),
        ("authdecrypts", "5"),
        ("authdigestfails", "1"),
        ("authcmacdecrypts", "2"),
        ("authcmacfails", "0"),
        ("mru_mem", "1"),      // 640 bytes, rounded as ntpd: (640 + 512) / 1024
        ("mru_maxmem", "256"), // 4096 × 64 bytes
    ];
    for (k, v) in expect {
        assert_eq!(value(&p, k), v, "{k}");
    }
}

const CLIENT: &str = "127.0.0.9:40000";
const KEY: [u8; 16] = *b"nonce secret key";

fn mru_list(n: u32) -> Vec<MruEntry> {
    (0..n)
        .map(|i| MruEntry {
            addr: SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 50000 + i as u16)),
            first: NtpTimestamp::from_parts(0xe9a0_0000 + i, 0),
            last: NtpTimestamp::from_parts(0xe9a0_0100 + i, 0x8000_0000),
            count: 10 + i,
            mode_version: 0x23,
            restrict: if i % 2 == 0 { 0x20 } else { 0 },
            score: 1.5,
            dropped: i % 3,
        })
        .collect()
}

fn mru_extras(entries: &[MruEntry], now: NtpTimestamp) -> Extras<'_> {
    let mut x = Extras::NONE;
    x.mru = Some(MruContext {
        entries,
        nonce_key: KEY,
        client: CLIENT.parse().unwrap(),
        received: now,
        allowed: true,
    });
    x
}

fn now0() -> NtpTimestamp {
    NtpTimestamp::from_parts(0xe9a0_1000, 0)
}

/// REQ_NONCE, as ntpq's first step.
fn fetch_nonce(x: &Extras<'_>) -> String {
    let frags = respond_x(&NTPQ_REQ_NONCE, x).expect("answered");
    assert_eq!(frags.len(), 1);
    let t = text(&frags);
    assert!(t.starts_with("nonce=") && t.ends_with("\r\n"), "{t:?}");
    let n = t.trim_end().trim_start_matches("nonce=").to_string();
    assert_eq!(n.len(), 24);
    assert!(n.chars().all(|c| c.is_ascii_hexdigit()));
    assert!(n.starts_with("e9a01000"), "the time it was issued: {n}");
    n
}

#[test]
fn mrulist_nonce_then_every_entry_oldest_first() {
    let entries = mru_list(3);
    let x = mru_extras(&entries, now0());
    let nonce = fetch_nonce(&x);
    let frags = respond_x(
        &request(10, format!("nonce={nonce}, frags=32").as_bytes()),
        &x,
    )
    .expect("answered");
    let p = pairs(&frags);
    assert_eq!(p[0].0, "nonce", "a fresh nonce first: {p:?}");
    assert_eq!(value(&p, "addr.0"), "10.0.0.0:50000");
    assert_eq!(value(&p, "addr.2"), "10.0.0.2:50002");
    assert_eq!(value(&p, "last.1"), "0xe9a00101.80000000");
    assert_eq!(value(&p, "first.1"), "0xe9a00001.00000000");
    assert_eq!(value(&p, "ct.1"), "11");
    assert_eq!(value(&p, "mv.1"), "35");
    assert_eq!(value(&p, "rs.0"), "0x20");
    assert_eq!(value(&p, "sc.0"), "1.500");
    assert_eq!(value(&p, "dr.2"), "2");
    // The end: now and the newest entry's time.
    assert_eq!(value(&p, "now"), "0xe9a01000.00000000");
    assert_eq!(value(&p, "last.newest"), "0xe9a00102.80000000");
    // Filters: `mincount`, `resany`.
    let frags = respond_x(
        &request(
            10,
            format!("nonce={nonce}, frags=32, mincount=11, resany=0x20").as_bytes(),
        ),
        &x,
    )
    .unwrap();
    let p = pairs(&frags);
    assert_eq!(value(&p, "addr.0"), "10.0.0.2:50002", "{p:?}");
    assert!(p.iter().all(|(k, _)| k != "addr.1"));
}

#[test]
fn mrulist_refuses_forged_foreign_and_expired_nonces() {
    let entries = mru_list(3);
    let x = mru_extras(&entries, now0());
    let nonce = fetch_nonce(&x);
    let ask = |n: &str, x: &Extras<'_>| {
        respond_x(&request(10, format!("nonce={n}, frags=32").as_bytes()), x)
    };
    assert!(ask(&nonce, &x).is_some(), "the genuine one works");
    // A wrong tag, a wrong time, a short or non-hex nonce: silence, as ntpd.
    let mut forged = nonce.clone();
    let last = if forged.ends_with('0') { "1" } else { "0" };
    forged.replace_range(23.., last);
    assert!(ask(&forged, &x).is_none());
    let mut retimed = nonce.clone();
    retimed.replace_range(7..8, if &nonce[7..8] == "0" { "1" } else { "0" });
    assert!(ask(&retimed, &x).is_none());
    assert!(ask(&nonce[..23], &x).is_none());
    assert!(ask("zzzzzzzzzzzzzzzzzzzzzzzz", &x).is_none());
    assert!(ask("", &x).is_none());
    assert!(
        respond_x(&request(10, b"frags=32"), &x).is_none(),
        "no nonce"
    );
    // Another client (port or address) cannot use it.
    let mut other = x;
    if let Some(ctx) = other.mru.as_mut() {
        ctx.client = "127.0.0.9:40001".parse().unwrap();
    }
    assert!(ask(&nonce, &other).is_none());
    // 15 s later it still works; 16 s later it has expired; before it was issued too.
    let later = |s: i64| mru_extras(&entries, now0() + crate::time::NtpDuration::from_seconds(s));
    assert!(ask(&nonce, &later(15)).is_some());
    assert!(ask(&nonce, &later(16)).is_none());
    assert!(ask(&nonce, &later(-1)).is_none());
}

#[test]
fn mrulist_hostile_parameters() {
    let entries = mru_list(3);
    let x = mru_extras(&entries, now0());
    let nonce = fetch_nonce(&x);
    let ask = |rest: &str| respond_x(&request(10, format!("nonce={nonce}{rest}").as_bytes()), &x);
    // Huge frags, or neither frags nor a sane limit: BADVALUE.
    assert_eq!(error_of(&ask(", frags=129").unwrap()), (0xca, 6));
    assert!(ask(", frags=65536").is_none());
    assert_eq!(error_of(&ask("").unwrap()), (0xca, 6));
    assert_eq!(error_of(&ask(", limit=257").unwrap()), (0xca, 6));
    assert!(ask(", limit=256").is_some());
    // A bad laddr (or any value that does not parse): silence; a good one is fine.
    assert!(ask(", frags=4, laddr=not-an-address").is_none());
    assert!(ask(", frags=4, last.0=0xnope").is_none());
    assert!(ask(", frags=4, mincount=-1").is_none());
    assert!(ask(", frags=4, minscore=nan").is_none());
    assert!(ask(", frags=4, laddr=127.0.0.1").is_some());
    assert!(
        ask(", frags=4, addr.99=10.0.0.1, bogus=1").is_some(),
        "unknown names ignored"
    );
    // `nomrulist`: PERMISSION.
    let mut denied = x;
    if let Some(ctx) = denied.mru.as_mut() {
        ctx.allowed = false;
    }
    let frags = respond_x(
        &request(10, format!("nonce={nonce}, frags=4").as_bytes()),
        &denied,
    );
    assert_eq!(error_of(&frags.unwrap()), (0xca, 1));
    // Garbage of every length: no panic.
    let junk: Vec<u8> = (0..468u32).map(|i| (i * 37 % 251) as u8).collect();
    for cut in 0..junk.len() {
        let _ = respond_x(&request(10, &junk[..cut]), &x);
    }
}

#[test]
fn mrulist_in_rounds_as_ntpq_fetches_it() {
    // 300 clients, at most 2 datagrams per answer: ntpq comes back with the newest
    // entry it has as starting point until `now=` says the list is done.
    let entries = mru_list(300);
    let x = mru_extras(&entries, now0());
    let nonce = fetch_nonce(&x);
    let mut seen: Vec<String> = Vec::new();
    let mut prior: Option<(String, String)> = None;
    for round in 0..200 {
        let mut q = format!("nonce={nonce}, frags=2");
        if let Some((a, l)) = &prior {
            q.push_str(&format!(", addr.0={a}, last.0={l}"));
        }
        let frags = respond_x(&request(10, q.as_bytes()), &x).expect("answered");
        assert!(frags.len() <= 2, "round {round}: {} datagrams", frags.len());
        let p = pairs(&frags);
        if prior.is_some() {
            assert_eq!(p[0].0, "last.older", "the starting point is confirmed");
        }
        let mut i = 0;
        while let Some((_, a)) = p.iter().find(|(k, _)| *k == format!("addr.{i}")) {
            let l = value(&p, &format!("last.{i}"));
            seen.push(a.clone());
            prior = Some((a.clone(), l));
            i += 1;
        }
        assert!(
            i > 0 || p.iter().any(|(k, _)| k == "now"),
            "progress in round {round}"
        );
        if p.iter().any(|(k, _)| k == "now") {
            assert_eq!(seen.len(), 300, "every client once");
            let mut unique = seen.clone();
            unique.dedup();
            assert_eq!(unique.len(), 300);
            return;
        }
    }
    panic!("mrulist never completed: {} entries", seen.len());
}

#[test]
fn mrulist_starting_points_that_changed_get_unknownvar() {
    let entries = mru_list(3);
    let x = mru_extras(&entries, now0());
    let nonce = fetch_nonce(&x);
    let q = format!("nonce={nonce}, frags=4, addr.0=10.0.0.1:50001, last.0=0xe9a00101.00000000");
    assert_eq!(
        error_of(&respond_x(&request(10, q.as_bytes()), &x).unwrap()),
        (0xca, 5)
    );
    // `limit=1`: the entries named, whatever their time.
    let q = format!("nonce={nonce}, limit=1, addr.0=10.0.0.1, addr.1=10.0.0.9");
    let p = pairs(&respond_x(&request(10, q.as_bytes()), &x).unwrap());
    assert_eq!(value(&p, "addr.0"), "10.0.0.1:50001");
    assert!(
        p.iter().all(|(k, _)| k != "addr.1"),
        "10.0.0.9 is not known"
    );
    assert!(p.iter().any(|(k, _)| k == "now"));
}
