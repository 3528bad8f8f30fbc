//! Unit tests of the header view and `Repr` (kept apart to keep header.rs small).

use super::*;

/// A server response with a distinct value in every field.
const SAMPLE: [u8; 48] = [
    0xe4, // LI 3, VN 4, mode 4
    0x02, // stratum 2
    0x0a, // poll 10
    0xe9, // precision -23
    0x00, 0x01, 0x80, 0x00, // root delay 1.5 s
    0x00, 0x00, 0x40, 0x00, // root dispersion 0.25 s
    0xc0, 0x00, 0x02, 0x01, // refid 192.0.2.1
    0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, // reference
    0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, // origin
    0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, // receive
    0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, // transmit
];

fn sample_repr() -> Repr {
    Repr {
        leap: LeapIndicator::Unsynchronized,
        version: 4,
        mode: Mode::Server,
        stratum: 2,
        poll: 10,
        precision: -23,
        root_delay: NtpShort::from_bits(0x0001_8000),
        root_dispersion: NtpShort::from_bits(0x0000_4000),
        ref_id: RefId::from_bytes([192, 0, 2, 1]),
        reference_timestamp: NtpTimestamp::from_bits(0x1112_1314_1516_1718),
        origin_timestamp: NtpTimestamp::from_bits(0x2122_2324_2526_2728),
        receive_timestamp: NtpTimestamp::from_bits(0x3132_3334_3536_3738),
        transmit_timestamp: NtpTimestamp::from_bits(0x4142_4344_4546_4748),
    }
}

#[test]
fn every_getter_reads_its_field() {
    let p = Packet::new_checked(&SAMPLE[..]).unwrap();
    assert_eq!(p.leap(), LeapIndicator::Unsynchronized);
    assert_eq!(p.version(), 4);
    assert_eq!(p.mode(), Mode::Server);
    assert_eq!(p.stratum(), 2);
    assert_eq!(p.poll(), 10);
    assert_eq!(p.precision(), -23);
    assert_eq!(p.root_delay().to_bits(), 0x0001_8000);
    assert_eq!(p.root_delay().to_seconds_f64(), 1.5);
    assert_eq!(p.root_dispersion().to_bits(), 0x0000_4000);
    assert_eq!(p.root_dispersion().to_seconds_f64(), 0.25);
    assert_eq!(p.ref_id(), RefId::from_bytes([192, 0, 2, 1]));
    assert_eq!(p.reference_timestamp().to_bits(), 0x1112_1314_1516_1718);
    assert_eq!(p.origin_timestamp().to_bits(), 0x2122_2324_2526_2728);
    assert_eq!(p.receive_timestamp().to_bits(), 0x3132_3334_3536_3738);
    assert_eq!(p.transmit_timestamp().to_bits(), 0x4142_4344_4546_4748);
    assert!(p.trailer().is_empty());
    assert_eq!(p.extensions().count(), 0);
    assert_eq!(p.mac(), None);
    assert!(!p.is_kiss(), "stratum 2 is not a kiss");
    assert_eq!(p.kiss_code(), None);
    assert_eq!(p.as_ref(), &SAMPLE[..]);
    assert_eq!(p.into_inner(), &SAMPLE[..]);
}

#[test]
fn every_setter_writes_its_field_only() {
    let mut buf = [0u8; 48];
    let mut p = Packet::new_unchecked(&mut buf[..]);
    p.set_leap(LeapIndicator::Unsynchronized);
    p.set_version(4);
    p.set_mode(Mode::Server);
    p.set_stratum(2);
    p.set_poll(10);
    p.set_precision(-23);
    p.set_root_delay(NtpShort::from_bits(0x0001_8000));
    p.set_root_dispersion(NtpShort::from_bits(0x0000_4000));
    p.set_ref_id(RefId::from_bytes([192, 0, 2, 1]));
    p.set_reference_timestamp(NtpTimestamp::from_bits(0x1112_1314_1516_1718));
    p.set_origin_timestamp(NtpTimestamp::from_bits(0x2122_2324_2526_2728));
    p.set_receive_timestamp(NtpTimestamp::from_bits(0x3132_3334_3536_3738));
    p.set_transmit_timestamp(NtpTimestamp::from_bits(0x4142_4344_4546_4748));
    assert_eq!(buf, SAMPLE);
}

#[test]
fn first_byte_setters_keep_the_other_bits() {
    let mut buf = SAMPLE;
    let mut p = Packet::new_unchecked(&mut buf[..]);
    p.set_leap(LeapIndicator::Insert);
    assert_eq!(
        (p.leap(), p.version(), p.mode()),
        (LeapIndicator::Insert, 4, Mode::Server)
    );
    p.set_version(3);
    assert_eq!(
        (p.leap(), p.version(), p.mode()),
        (LeapIndicator::Insert, 3, Mode::Server)
    );
    p.set_mode(Mode::Client);
    assert_eq!(
        (p.leap(), p.version(), p.mode()),
        (LeapIndicator::Insert, 3, Mode::Client)
    );
    p.set_version(0xff); // only the low 3 bits are kept
    assert_eq!(
        (p.leap(), p.version(), p.mode()),
        (LeapIndicator::Insert, 7, Mode::Client)
    );
    assert_eq!(buf[1..], SAMPLE[1..]);
}

#[test]
fn mode_bits_round_trip_and_ignore_high_bits() {
    for bits in 0..8u8 {
        assert_eq!(Mode::from_bits(bits).to_bits(), bits);
        assert_eq!(Mode::from_bits(bits | 0xf8), Mode::from_bits(bits));
    }
    assert_eq!(Mode::from_bits(0), Mode::Reserved);
    assert_eq!(Mode::from_bits(1), Mode::SymmetricActive);
    assert_eq!(Mode::from_bits(2), Mode::SymmetricPassive);
    assert_eq!(Mode::from_bits(3), Mode::Client);
    assert_eq!(Mode::from_bits(4), Mode::Server);
    assert_eq!(Mode::from_bits(5), Mode::Broadcast);
    assert_eq!(Mode::from_bits(6), Mode::Control);
    assert_eq!(Mode::from_bits(7), Mode::Private);
    // ntpq's first byte: version 2, mode 6.
    assert_eq!(Mode::from_bits(0x16), Mode::Control);
}

#[test]
fn short_buffers_are_truncated() {
    for len in [0, 1, 12, 47] {
        assert_eq!(
            Packet::new_checked(&SAMPLE[..len]).map(|_| ()),
            Err(Error::Truncated),
            "len {len}"
        );
    }
    assert!(Packet::new_checked(&SAMPLE[..48]).is_ok());
}

#[test]
fn versions_one_to_four_only() {
    for version in 0..8u8 {
        let mut buf = SAMPLE;
        Packet::new_unchecked(&mut buf[..]).set_version(version);
        let got = Packet::new_checked(&buf[..]).map(|p| p.version());
        if (1..=4).contains(&version) {
            assert_eq!(got, Ok(version));
        } else {
            assert_eq!(got, Err(Error::BadVersion(version)));
        }
    }
}

#[test]
fn unchecked_short_buffer_reads_zero_and_ignores_writes() {
    let p = Packet::new_unchecked(&SAMPLE[..10]);
    assert_eq!(p.version(), 4);
    assert_eq!(p.root_delay().to_bits(), 0x0001_8000);
    assert_eq!(
        p.root_dispersion(),
        NtpShort::ZERO,
        "field cut short reads as zero"
    );
    assert_eq!(p.ref_id(), RefId::default());
    assert_eq!(p.transmit_timestamp(), NtpTimestamp::ZERO);
    assert!(p.trailer().is_empty());
    assert_eq!(p.extensions().count(), 0);
    assert_eq!(p.mac(), None);
    assert_eq!(p.check_len(), Err(Error::Truncated));

    let mut empty: [u8; 0] = [];
    let mut p = Packet::new_unchecked(&mut empty[..]);
    p.set_leap(LeapIndicator::Delete);
    p.set_transmit_timestamp(NtpTimestamp::from_bits(1));
    assert_eq!(p.leap(), LeapIndicator::NoWarning);
    assert_eq!(p.mode(), Mode::Reserved);
    assert_eq!(p.poll(), 0);
    assert_eq!(p.precision(), 0);
}

#[test]
fn repr_parse_reads_the_header() {
    let p = Packet::new_checked(&SAMPLE[..]).unwrap();
    assert_eq!(Repr::parse(&p), Ok(sample_repr()));
}

#[test]
fn repr_parse_checks_unchecked_packets() {
    assert_eq!(
        Repr::parse(&Packet::new_unchecked(&SAMPLE[..47])),
        Err(Error::Truncated)
    );
    let mut buf = SAMPLE;
    buf[0] = 0xc4; // version 0
    assert_eq!(
        Repr::parse(&Packet::new_unchecked(&buf[..])),
        Err(Error::BadVersion(0))
    );
    let mut long = [0u8; 51];
    long[..48].copy_from_slice(&SAMPLE);
    assert_eq!(
        Repr::parse(&Packet::new_unchecked(&long[..])),
        Err(Error::BadLength)
    );
}

#[test]
fn repr_emit_writes_the_header_and_leaves_the_trailer() {
    let repr = sample_repr();
    assert_eq!(repr.buffer_len(), HEADER_LEN);
    let mut buf = [0xaau8; 68];
    repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
    assert_eq!(buf[..48], SAMPLE);
    assert!(buf[48..].iter().all(|&b| b == 0xaa));
}

#[test]
fn repr_emit_overwrites_every_header_bit() {
    let mut buf = [0xffu8; 48];
    sample_repr().emit(&mut Packet::new_unchecked(&mut buf[..]));
    assert_eq!(buf, SAMPLE);
}

#[test]
fn repr_emit_into_a_short_buffer_does_not_panic() {
    let mut buf = [0u8; 20];
    sample_repr().emit(&mut Packet::new_unchecked(&mut buf[..]));
    // Whole fields only: the reference timestamp (bytes 16..24) does not fit.
    assert_eq!(buf[..16], SAMPLE[..16]);
    assert_eq!(buf[16..], [0; 4]);
}

#[test]
fn client_request_is_mode_3_version_4_mostly_zero() {
    let t = NtpTimestamp::from_parts(0xe9a0_0000, 0x1234_5678);
    let repr = Repr::client_request(t, 6);
    let mut buf = [0u8; 48];
    repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
    assert_eq!(buf[0], 0x23, "LI 0, VN 4, mode 3");
    assert_eq!(buf[1], 0);
    assert_eq!(buf[2], 6);
    assert!(buf[3..40].iter().all(|&b| b == 0));
    assert_eq!(buf[40..48], [0xe9, 0xa0, 0, 0, 0x12, 0x34, 0x56, 0x78]);
    let p = Packet::new_checked(&buf[..]).unwrap();
    assert_eq!(Repr::parse(&p), Ok(repr));
}

#[test]
fn kiss_needs_leap_3_stratum_0_and_mode_server() {
    let mut buf = SAMPLE;
    let mut p = Packet::new_unchecked(&mut buf[..]);
    p.set_stratum(0);
    p.set_ref_id(RefId::RATE);
    assert!(p.is_kiss());
    assert_eq!(p.kiss_code(), Some(KissCode::Rate));
    p.set_leap(LeapIndicator::NoWarning);
    assert!(!p.is_kiss());
    p.set_leap(LeapIndicator::Unsynchronized);
    p.set_mode(Mode::SymmetricPassive);
    assert!(!p.is_kiss());
    p.set_mode(Mode::Server);
    p.set_stratum(1);
    assert!(!p.is_kiss());
    assert_eq!(p.kiss_code(), None);
}

#[test]
fn packet_over_owned_array_and_vec_like_buffers() {
    let p = Packet::new_checked(SAMPLE).unwrap();
    assert_eq!(p.stratum(), 2);
    let mut p = Packet::new_unchecked([0u8; 48]);
    sample_repr().emit(&mut p);
    assert_eq!(p.into_inner(), SAMPLE);
}

#[test]
fn error_display() {
    use std::string::ToString;
    assert_eq!(Error::Truncated.to_string(), "NTP packet truncated");
    assert_eq!(
        Error::BadVersion(7).to_string(),
        "unsupported NTP version 7"
    );
    assert_eq!(
        Error::BadExtension.to_string(),
        "malformed NTP extension field"
    );
    assert_eq!(
        Error::BadLength.to_string(),
        "NTP packet trailer is neither extension fields nor a MAC"
    );
}

#[cfg(feature = "std")]
#[test]
fn error_is_a_std_error() {
    let e: &dyn std::error::Error = &Error::Truncated;
    assert!(e.source().is_none());
}
