//! Property tests: round trips of records, fields and the AEAD; the incremental KE
//! decoder against whole-stream parsing for any chunking; no panics on any bytes.

use proptest::prelude::*;
use std::vec::Vec;

use super::aead::{AeadKey, TAG_LEN};
use super::ext::{Authenticator, FieldWriter, InnerFields, NtsFields};
use super::ke::{parse_record, Feed, Record, RecordDecoder, CRITICAL};
use crate::wire::{Packet, HEADER_LEN};

/// (type word, body) pairs that form valid records.
fn record_strategy() -> impl Strategy<Value = (u16, Vec<u8>)> {
    let ids = proptest::collection::vec(any::<u8>(), 0..16).prop_map(|mut v| {
        v.truncate(v.len() & !1);
        v
    });
    let host = proptest::collection::vec(0x21u8..0x7f, 1..64);
    prop_oneof![
        Just((CRITICAL, Vec::new())),
        ids.clone().prop_map(|v| (CRITICAL | 1, v)),
        any::<u16>().prop_map(|c| (CRITICAL | 2, c.to_be_bytes().to_vec())),
        any::<u16>().prop_map(|c| (CRITICAL | 3, c.to_be_bytes().to_vec())),
        (ids, any::<bool>()).prop_map(|(v, c)| (if c { CRITICAL | 4 } else { 4 }, v)),
        (
            proptest::collection::vec(any::<u8>(), 1..300),
            any::<bool>()
        )
            .prop_map(|(v, c)| (if c { CRITICAL | 5 } else { 5 }, v)),
        (host, any::<bool>()).prop_map(|(v, c)| (if c { CRITICAL | 6 } else { 6 }, v)),
        (any::<u16>(), any::<bool>())
            .prop_map(|(p, c)| (if c { CRITICAL | 7 } else { 7 }, p.to_be_bytes().to_vec())),
        (8u16..0x8000, proptest::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(t, v)| (t & !CRITICAL, v)),
    ]
}

fn encode(records: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (t, body) in records {
        out.extend_from_slice(&t.to_be_bytes());
        out.extend_from_slice(&(body.len() as u16).to_be_bytes());
        out.extend_from_slice(body);
    }
    out
}

proptest! {
    #[test]
    fn records_round_trip((t, body) in record_strategy()) {
        let bytes = encode(&[(t, body.clone())]);
        let (record, rest) = parse_record(&bytes).unwrap();
        prop_assert!(rest.is_empty());
        prop_assert_eq!(record.type_word(), t);
        let mut out = [0u8; 512];
        let n = record.emit(&mut out).unwrap();
        prop_assert_eq!(&out[..n], &bytes[..]);
        prop_assert_eq!(Record::from_parts(t, &body), Ok(record));
    }

    #[test]
    fn decoder_agrees_with_whole_parse_for_any_chunking(
        records in proptest::collection::vec(record_strategy(), 0..12),
        chunks in proptest::collection::vec(1usize..40, 1..20),
    ) {
        let stream = encode(&records);
        let mut whole = Vec::new();
        let mut rest = &stream[..];
        while !rest.is_empty() {
            let (r, after) = parse_record(rest).unwrap();
            let mut buf = [0u8; 512];
            let n = r.emit(&mut buf).unwrap();
            whole.push(buf[..n].to_vec());
            rest = after;
        }
        // Only valid streams here; an End of Message in the middle makes the rest
        // AfterEnd, so cut the expected list there.
        let end = records.iter().position(|(t, _)| *t == CRITICAL);
        let mut d = RecordDecoder::new();
        let mut got = Vec::new();
        let mut pos = 0;
        let mut i = 0;
        let mut failed = false;
        'outer: while pos < stream.len() {
            let size = chunks[i % chunks.len()];
            i += 1;
            let mut chunk = &stream[pos..(pos + size).min(stream.len())];
            pos += chunk.len();
            while !chunk.is_empty() {
                match d.feed(chunk) {
                    Ok(Feed::NeedMore) => break,
                    Ok(Feed::Ready { consumed }) => {
                        let mut buf = [0u8; 512];
                        let n = d.record().unwrap().emit(&mut buf).unwrap();
                        got.push(buf[..n].to_vec());
                        chunk = &chunk[consumed..];
                    }
                    Err(_) => { failed = true; break 'outer; }
                }
            }
        }
        match end {
            Some(e) if e + 1 < records.len() => {
                prop_assert!(failed);
                prop_assert_eq!(&got[..], &whole[..=e]);
            }
            _ => {
                prop_assert!(!failed);
                prop_assert_eq!(got, whole);
            }
        }
    }

    #[test]
    fn ke_parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_record(&bytes);
        let mut d = RecordDecoder::new();
        let _ = d.feed(&bytes);
        let _ = d.record();
    }

    #[test]
    fn fields_round_trip(
        bodies in proptest::collection::vec(
            (0x0500u16..0xffff, proptest::collection::vec(any::<u8>(), 0..80)), 0..6),
    ) {
        let mut buf = [0u8; 1024];
        let mut w = FieldWriter::new(&mut buf, 0);
        for (t, b) in &bodies {
            w.push(*t, b).unwrap();
        }
        let n = w.len();
        let got: Vec<_> = InnerFields::new(&buf[..n]).map(|r| r.unwrap()).collect();
        prop_assert_eq!(got.len(), bodies.len());
        for ((t, b), (gt, gb)) in bodies.iter().zip(&got) {
            prop_assert_eq!(t, gt);
            prop_assert!(gb.len() >= b.len() && gb.len() >= 12 && gb.len() % 4 == 0);
            prop_assert_eq!(&gb[..b.len()], &b[..]);
            prop_assert!(gb[b.len()..].iter().all(|&x| x == 0));
        }
    }

    #[test]
    fn authenticator_round_trip(
        nonce in proptest::collection::vec(any::<u8>(), 1..40),
        plaintext in proptest::collection::vec(any::<u8>(), 0..200),
        uid in proptest::collection::vec(any::<u8>(), 32..60),
        min_len in 0usize..400,
        key in any::<[u8; 32]>(),
    ) {
        let key = AeadKey::new(key);
        let mut buf = [0u8; 1024];
        buf[0] = 0x23;
        let mut w = FieldWriter::new(&mut buf, HEADER_LEN);
        w.push(super::ext::UNIQUE_IDENTIFIER, &uid).unwrap();
        let at = w.len();
        w.push_authenticator(&key, &nonce, &plaintext, min_len).unwrap();
        let n = w.len();
        prop_assert!(n - at >= min_len);
        prop_assert!(n - at >= 4 + 4 + 16 + TAG_LEN);
        Packet::new_checked(&buf[..n]).unwrap();
        let fields = NtsFields::parse(&buf[..n]).unwrap();
        let (got_at, auth) = fields.authenticator.unwrap();
        prop_assert_eq!(got_at, at);
        prop_assert_eq!(auth.nonce(), &nonce[..]);
        let mut out = [0u8; 256];
        prop_assert_eq!(auth.open(&key, &buf[..at], &mut out).unwrap(), &plaintext[..]);
    }

    #[test]
    fn field_parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = Authenticator::parse(&bytes);
        for r in InnerFields::new(&bytes) { let _ = r; }
        let mut packet = std::vec![0x23u8; 48];
        packet.extend_from_slice(&bytes);
        let _ = NtsFields::parse(&packet);
    }
}
