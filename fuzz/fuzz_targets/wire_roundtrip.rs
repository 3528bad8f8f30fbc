//! Arbitrary bytes through the wire codec: nothing panics; whatever `new_checked`
//! accepts parses, re-emits to the same bytes and parses again to the same `Repr`; the
//! trailer walk accounts for every byte after the header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slew_core::wire::{Packet, Repr, HEADER_LEN};

fuzz_target!(|data: &[u8]| {
    // Every reader on an unchecked packet: must not panic, whatever the bytes.
    let unchecked = Packet::new_unchecked(data);
    let _ = (unchecked.leap(), unchecked.version(), unchecked.mode());
    let _ = (unchecked.stratum(), unchecked.poll(), unchecked.precision());
    let _ = (unchecked.root_delay(), unchecked.root_dispersion());
    let _ = (
        unchecked.ref_id().kiss_code(),
        unchecked.is_kiss(),
        unchecked.kiss_code(),
    );
    let _ = (
        unchecked.reference_timestamp(),
        unchecked.origin_timestamp(),
    );
    let _ = (
        unchecked.receive_timestamp(),
        unchecked.transmit_timestamp(),
    );
    let _ = format!(
        "{}",
        unchecked.ref_id().display_for_stratum(unchecked.stratum())
    );
    for field in unchecked.extensions() {
        let _ = (field.field_type(), field.value(), field.as_bytes());
    }
    if let Some(mac) = unchecked.mac() {
        let _ = (mac.key_id(), mac.digest(), mac.kind());
    }

    let packet = match Packet::new_checked(data) {
        Ok(packet) => packet,
        Err(e) => {
            // Repr::parse checks too, and says the same.
            assert_eq!(Repr::parse(&unchecked), Err(e));
            return;
        }
    };

    // parse -> emit -> parse agrees.
    let repr = Repr::parse(&packet).expect("a checked packet parses");
    let mut header = [0u8; HEADER_LEN];
    repr.emit(&mut Packet::new_unchecked(&mut header[..]));
    assert_eq!(
        &header[..],
        &data[..HEADER_LEN],
        "emit reproduces the header"
    );
    let mut whole = data.to_vec();
    repr.emit(&mut Packet::new_unchecked(&mut whole[..]));
    assert_eq!(whole, data, "emit leaves the trailer alone");
    let again = Packet::new_checked(&whole[..]).expect("re-emitted packet checks");
    assert_eq!(Repr::parse(&again), Ok(repr));

    // The walk covers the trailer exactly: extension fields, then at most a MAC.
    let mut walked = HEADER_LEN;
    for field in packet.extensions() {
        assert!(field.len() >= 16 && field.len() % 4 == 0);
        assert_eq!(field.as_bytes(), &data[walked..walked + field.len()]);
        walked += field.len();
    }
    match packet.mac() {
        Some(mac) => {
            assert!(matches!(mac.as_bytes().len(), 4 | 20 | 24));
            assert_eq!(mac.as_bytes(), &data[walked..]);
            if mac.is_crypto_nak() {
                assert_eq!(mac.key_id(), 0);
            }
        }
        None => assert_eq!(walked, data.len()),
    }
    if packet.version() != 4 {
        assert_eq!(packet.extensions().count(), 0);
    }
});
