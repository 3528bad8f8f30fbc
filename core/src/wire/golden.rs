//! Golden bytes captured from real peers on loopback (chrony 4.3, ntpsec 1.2.2's
//! ntpdig), by `core/tests/capture/capture-golden.sh`; see that script for exactly
//! how. Each array is pasted from its output; the comments say what each field decodes
//! to.

use std::string::ToString;

use super::{Mode, Packet, RefId, Repr};
use crate::clock::LeapIndicator;
use crate::time::{NtpShort, NtpTimestamp};

/// Unix time of the captures (2026-11-30T07:22:56Z), the pivot for era resolution.
const CAPTURED_UNIX_S: i64 = 1_796_023_376;

/// `chronyd -Q -f /dev/null 'server 127.0.0.1 port 12399 iburst maxsamples 1'`: the
/// first client request chronyd sent.
const CHRONYD_REQUEST: [u8; 48] = [
    0x23, // LI 0 (no warning), VN 4, mode 3 (client)
    0x00, // stratum 0
    0x06, // poll 6 (64 s)
    0x20, // precision +32: chrony hides its clock in client requests
    0x00, 0x00, 0x00, 0x00, // root delay 0
    0x00, 0x00, 0x00, 0x00, // root dispersion 0
    0x00, 0x00, 0x00, 0x00, // refid 0
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // reference timestamp 0
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // origin timestamp 0
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // receive timestamp 0
    0x74, 0xb3, 0xf3, 0x92, 0xca, 0x80, 0x41, 0x93, // transmit: random (not the time)
];

/// `chronyd -x` with `local stratum 10`, answering a 48-byte v4 mode-3 request whose
/// transmit timestamp was 0xe9a0b0c0_12345678 and poll 0.
const CHRONYD_RESPONSE: [u8; 48] = [
    0x24, // LI 0, VN 4, mode 4 (server)
    0x0a, // stratum 10 (local stratum 10)
    0x00, // poll 0: chronyd echoes the request's poll
    0xe6, // precision -26 (~15 ns)
    0x00, 0x00, 0x00, 0x00, // root delay 0
    0x00, 0x00, 0x00, 0x00, // root dispersion 0
    0x7f, 0x7f, 0x01, 0x01, // refid 127.127.1.1: chrony's local reference
    0xee, 0xb7, 0xa2, 0xce, 0xd6, 0xb1, 0x41, 0xce, // reference 2026-11-30T07:22:54.839Z
    0xe9, 0xa0, 0xb0, 0xc0, 0x12, 0x34, 0x56, 0x78, // origin: our transmit, echoed
    0xee, 0xb7, 0xa2, 0xd0, 0xa4, 0x9f, 0x3c, 0x8f, // receive 2026-11-30T07:22:56.643Z
    0xee, 0xb7, 0xa2, 0xd0, 0xa4, 0xa6, 0x89, 0xa8, // transmit 2026-11-30T07:22:56.643Z
];

/// `ntpdig -t 1 127.0.0.1` (port 123, in a network namespace).
const NTPDIG_REQUEST: [u8; 48] = [
    0xe3, // LI 3 (unsynchronised), VN 4, mode 3 (client)
    0x00, // stratum 0
    0x00, // poll 0
    0x00, // precision 0
    0x00, 0x00, 0x00, 0x00, // root delay 0
    0x00, 0x00, 0x00, 0x00, // root dispersion 0
    0x00, 0x00, 0x00, 0x00, // refid 0
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // reference timestamp 0
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // origin timestamp 0
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // receive timestamp 0
    0xee, 0xb7, 0xa2, 0xd0, 0xe5, 0xdf, 0x60, 0x00, // transmit 2026-11-30T07:22:56.898Z
];

/// Parses, re-emits and compares: the codec reproduces every real packet bit for bit.
fn round_trip(bytes: &[u8; 48]) -> Repr {
    let p = Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(p.extensions().count(), 0);
    assert_eq!(p.mac(), None);
    let repr = Repr::parse(&p).unwrap();
    let mut out = [0xffu8; 48];
    repr.emit(&mut Packet::new_unchecked(&mut out[..]));
    assert_eq!(&out, bytes);
    repr
}

#[test]
fn chronyd_client_request() {
    let repr = round_trip(&CHRONYD_REQUEST);
    assert_eq!(repr.leap, LeapIndicator::NoWarning);
    assert_eq!(repr.version, 4);
    assert_eq!(repr.mode, Mode::Client);
    assert_eq!(repr.stratum, 0);
    assert_eq!(repr.poll, 6);
    assert_eq!(repr.precision, 32);
    assert_eq!(repr.root_delay, NtpShort::ZERO);
    assert_eq!(repr.root_dispersion, NtpShort::ZERO);
    assert_eq!(repr.ref_id, RefId::default());
    assert!(repr.reference_timestamp.is_zero());
    assert!(
        repr.origin_timestamp.is_zero(),
        "chronyd's request has zero origin"
    );
    assert!(
        repr.receive_timestamp.is_zero(),
        "chronyd's request has zero receive"
    );
    assert_eq!(repr.transmit_timestamp.to_bits(), 0x74b3_f392_ca80_4193);
    // The transmit timestamp is a nonce: nowhere near the capture time (2098 or 1962).
    let (tx_unix, _) = repr.transmit_timestamp.to_unix(CAPTURED_UNIX_S);
    assert!((tx_unix - CAPTURED_UNIX_S).abs() > 10 * 365 * 86_400);
    // Not a kiss, whatever its refid says.
    assert!(!Packet::new_unchecked(&CHRONYD_REQUEST[..]).is_kiss());
}

#[test]
fn chronyd_server_response() {
    let repr = round_trip(&CHRONYD_RESPONSE);
    assert_eq!(repr.leap, LeapIndicator::NoWarning);
    assert_eq!(repr.version, 4);
    assert_eq!(repr.mode, Mode::Server);
    assert_eq!(repr.stratum, 10);
    assert_eq!(repr.poll, 0);
    assert_eq!(repr.precision, -26);
    assert_eq!(repr.root_delay, NtpShort::ZERO);
    assert_eq!(repr.root_dispersion, NtpShort::ZERO);
    assert_eq!(repr.ref_id, RefId::from_bytes([127, 127, 1, 1]));
    assert_eq!(
        repr.ref_id.display_for_stratum(repr.stratum).to_string(),
        "127.127.1.1"
    );
    // The origin echoes the request's transmit timestamp.
    assert_eq!(
        repr.origin_timestamp,
        NtpTimestamp::from_parts(0xe9a0_b0c0, 0x1234_5678)
    );
    // reference <= receive <= transmit, all at the capture time.
    let at = |t: NtpTimestamp| t.to_unix(CAPTURED_UNIX_S);
    assert_eq!(at(repr.reference_timestamp).0, CAPTURED_UNIX_S - 2);
    assert_eq!(at(repr.receive_timestamp).0, CAPTURED_UNIX_S);
    assert_eq!(at(repr.transmit_timestamp).0, CAPTURED_UNIX_S);
    assert!(repr.transmit_timestamp - repr.receive_timestamp >= crate::NtpDuration::ZERO);
    assert!(repr.receive_timestamp - repr.reference_timestamp >= crate::NtpDuration::ZERO);
    // Server processing took 0xa4a689a8 - 0xa49f3c8f fractions: about 111 µs.
    let processing = (repr.transmit_timestamp - repr.receive_timestamp).to_nanos();
    assert!((100_000..120_000).contains(&processing), "{processing} ns");
    assert!(!Packet::new_unchecked(&CHRONYD_RESPONSE[..]).is_kiss());
}

#[test]
fn ntpdig_request() {
    let repr = round_trip(&NTPDIG_REQUEST);
    assert_eq!(repr.leap, LeapIndicator::Unsynchronized);
    assert_eq!(repr.version, 4);
    assert_eq!(repr.mode, Mode::Client);
    assert_eq!(repr.stratum, 0);
    assert_eq!(repr.poll, 0);
    assert_eq!(repr.precision, 0);
    assert_eq!(repr.ref_id, RefId::default());
    assert!(repr.reference_timestamp.is_zero());
    assert!(repr.origin_timestamp.is_zero());
    assert!(repr.receive_timestamp.is_zero());
    // Unlike chronyd, ntpdig sends its clock's time.
    let (tx_unix, tx_nanos) = repr.transmit_timestamp.to_unix(CAPTURED_UNIX_S);
    assert_eq!(tx_unix, CAPTURED_UNIX_S);
    assert_eq!(tx_nanos / 1_000_000, 897);
    // LI 3, stratum 0 and a zero refid, but mode 3: not a kiss-o'-death.
    let p = Packet::new_checked(&NTPDIG_REQUEST[..]).unwrap();
    assert!(!p.is_kiss());
    assert_eq!(p.kiss_code(), None);
}

#[test]
fn requests_match_client_request_shape() {
    // Our own request has chronyd's shape except for precision.
    let ours = Repr::client_request(NtpTimestamp::from_bits(0x74b3_f392_ca80_4193), 6);
    let chronyd = round_trip(&CHRONYD_REQUEST);
    assert_eq!(
        Repr {
            precision: 32,
            ..ours
        },
        chronyd
    );
}

#[test]
fn captured_packets_with_a_mac_still_parse() {
    // The captured response with an MD5-sized MAC (key 1) appended: still valid, and
    // the header reads the same.
    let mut buf = [0u8; 68];
    buf[..48].copy_from_slice(&CHRONYD_RESPONSE);
    buf[48..52].copy_from_slice(&1u32.to_be_bytes());
    let p = Packet::new_checked(&buf[..]).unwrap();
    assert_eq!(p.mac().map(|m| m.key_id()), Some(1));
    assert_eq!(Repr::parse(&p), Ok(round_trip(&CHRONYD_RESPONSE)));
}
