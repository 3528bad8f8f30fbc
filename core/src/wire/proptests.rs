//! Property tests of the codec: round trips, and no panics on arbitrary bytes.

use proptest::prelude::*;
use std::string::ToString;
use std::vec::Vec;

use super::{Error, Mode, Packet, Repr, HEADER_LEN};
use crate::clock::LeapIndicator;
use crate::time::{NtpShort, NtpTimestamp};
use crate::wire::RefId;

fn repr_strategy() -> impl Strategy<Value = Repr> {
    (
        (
            0..4u8,
            1..=4u8,
            0..8u8,
            any::<u8>(),
            any::<i8>(),
            any::<i8>(),
        ),
        (any::<u32>(), any::<u32>(), any::<[u8; 4]>()),
        (any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>()),
    )
        .prop_map(
            |((li, vn, mode, stratum, poll, precision), (delay, disp, refid), (r, o, rx, tx))| {
                Repr {
                    leap: LeapIndicator::from_bits(li),
                    version: vn,
                    mode: Mode::from_bits(mode),
                    stratum,
                    poll,
                    precision,
                    root_delay: NtpShort::from_bits(delay),
                    root_dispersion: NtpShort::from_bits(disp),
                    ref_id: RefId::from_bytes(refid),
                    reference_timestamp: NtpTimestamp::from_bits(r),
                    origin_timestamp: NtpTimestamp::from_bits(o),
                    receive_timestamp: NtpTimestamp::from_bits(rx),
                    transmit_timestamp: NtpTimestamp::from_bits(tx),
                }
            },
        )
}

/// Calls everything that reads a packet; must never panic. Returns the checked result.
fn exercise(bytes: &[u8]) -> Result<(), Error> {
    let p = Packet::new_unchecked(bytes);
    let _ = (
        p.leap(),
        p.version(),
        p.mode(),
        p.stratum(),
        p.poll(),
        p.precision(),
    );
    let _ = (
        p.root_delay(),
        p.root_dispersion(),
        p.ref_id(),
        p.is_kiss(),
        p.kiss_code(),
    );
    let _ = (p.reference_timestamp(), p.origin_timestamp());
    let _ = (p.receive_timestamp(), p.transmit_timestamp());
    let _ = p.ref_id().display_for_stratum(p.stratum()).to_string();
    let walked: usize = p
        .extensions()
        .map(|f| {
            let _ = (f.field_type(), f.value(), f.as_bytes(), f.is_empty());
            f.len()
        })
        .sum();
    let mac = p.mac();
    if let Some(m) = mac {
        let _ = (m.key_id(), m.digest(), m.kind(), m.is_crypto_nak());
    }
    let parsed = Repr::parse(&p);
    let checked = Packet::new_checked(bytes);
    assert_eq!(checked.is_ok(), parsed.is_ok());
    assert_eq!(p.check_len(), parsed.map(|_| ()));
    if let Ok(checked) = checked {
        // A checked packet's trailer is exactly its extension fields plus its MAC.
        let mac_len = mac.map_or(0, |m| m.as_bytes().len());
        assert_eq!(HEADER_LEN + walked + mac_len, bytes.len());
        // Re-emitting the header gives the same bytes back.
        let repr = Repr::parse(&checked)?;
        let mut out = bytes.to_vec();
        repr.emit(&mut Packet::new_unchecked(&mut out[..]));
        assert_eq!(out, bytes);
    }
    parsed.map(|_| ())
}

/// An extension field of type `t`, total length `len` (a multiple of 4, ≥ 16).
fn ext(t: u16, len: usize, fill: u8) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    v.extend_from_slice(&t.to_be_bytes());
    v.extend_from_slice(&u16::try_from(len).unwrap().to_be_bytes());
    v.resize(len, fill);
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn repr_emit_parse_round_trip(repr in repr_strategy(), extra in 0usize..2) {
        // 48 bytes, or 48 + a crypto-NAK: the trailer does not change the header.
        let mut buf = std::vec![0u8; repr.buffer_len() + extra * 4];
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
        let p = Packet::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(Repr::parse(&p), Ok(repr));
        prop_assert_eq!(p.extensions().count(), 0);
        prop_assert_eq!(p.mac().is_some(), extra == 1);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = exercise(&bytes);
    }

    #[test]
    fn arbitrary_trailers_never_panic(
        repr in repr_strategy(),
        trailer in proptest::collection::vec(any::<u8>(), 0..120),
        small_len in proptest::option::of((0usize..6, 0u16..80)),
    ) {
        let mut buf = std::vec![0u8; HEADER_LEN];
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
        buf.extend_from_slice(&trailer);
        // Often plant a plausible extension length so the walk goes deeper.
        if let Some((at, len)) = small_len {
            let pos = HEADER_LEN + 2 + at * 4;
            if pos + 2 <= buf.len() {
                buf[pos..pos + 2].copy_from_slice(&(len * 4).to_be_bytes());
            }
        }
        let _ = exercise(&buf);
    }

    #[test]
    fn well_formed_trailers_walk_back_exactly(
        repr in repr_strategy(),
        fields in proptest::collection::vec((any::<u16>(), 4usize..20, any::<u8>()), 0..5),
        mac in prop_oneof![Just(None), Just(Some(0usize)), Just(Some(16)), Just(Some(20))],
        key_id in 1u32..,
    ) {
        let mut repr = repr;
        repr.version = 4;
        let mut buf = std::vec![0u8; HEADER_LEN];
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
        // RFC 7822: without a real MAC (none, or a crypto-NAK) the last field must be
        // at least 28 bytes, so that it is never taken for a MAC.
        let last_min = if matches!(mac, Some(16) | Some(20)) { 16 } else { 28 };
        let n = fields.len();
        let mut expected = Vec::new();
        for (i, &(t, words, fill)) in fields.iter().enumerate() {
            let len = if i + 1 == n { (words * 4).max(last_min) } else { words * 4 };
            buf.extend(ext(t, len, fill));
            expected.push((t, len));
        }
        let mac_bytes = mac.map(|digest_len| {
            let id = if digest_len == 0 { 0 } else { key_id };
            let mut m = id.to_be_bytes().to_vec();
            m.resize(4 + digest_len, 0xab);
            m
        });
        if let Some(m) = &mac_bytes {
            buf.extend_from_slice(m);
        }
        let p = Packet::new_checked(&buf[..]).unwrap();
        let got: Vec<_> = p.extensions().map(|f| (f.field_type(), f.len())).collect();
        prop_assert_eq!(got, expected);
        prop_assert_eq!(p.mac().map(|m| m.as_bytes().to_vec()), mac_bytes);
        prop_assert_eq!(Repr::parse(&p), Ok(repr));
        prop_assert!(exercise(&buf).is_ok());
    }
}
