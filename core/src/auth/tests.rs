//! Known-answer vectors computed independently with Python:
//! `hashlib.md5(key + msg)`, `hashlib.sha1(key + msg)` and the `cryptography`
//! package's `CMAC(AES(key))`, with `msg = bytes(range(48))`.

use super::*;

const MSG: [u8; 48] = {
    let mut m = [0u8; 48];
    let mut i = 0;
    while i < 48 {
        m[i] = i as u8;
        i += 1;
    }
    m
};

fn hex(s: &str) -> std::vec::Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

const SHA1_KEY: &str = "0123456789abcdef0123456789abcdef01234567";

#[test]
fn md5_known_answer() {
    let mut out = [0u8; 20];
    assert_eq!(
        compute(MacAlgorithm::Md5, b"secret", &MSG, &mut out),
        Some(16)
    );
    assert_eq!(out[..16], hex("a03f32571504b4138d76d44a54fe953c")[..]);
}

#[test]
fn sha1_known_answer() {
    let mut out = [0u8; 20];
    let key = hex(SHA1_KEY);
    assert_eq!(compute(MacAlgorithm::Sha1, &key, &MSG, &mut out), Some(20));
    assert_eq!(out[..], hex("1003e0fff2dbe72a252fbbe53c1c1bf91a5d9fa3")[..]);
}

#[test]
fn cmac_known_answer_and_short_key_padding() {
    let mut out = [0u8; 16];
    let key: std::vec::Vec<u8> = (0..16).collect();
    compute(MacAlgorithm::Aes128Cmac, &key, &MSG, &mut out).unwrap();
    assert_eq!(out[..], hex("5247121db0e50733fb83bab08fbba8ea")[..]);
    compute(MacAlgorithm::Aes128Cmac, b"short", &MSG, &mut out).unwrap();
    assert_eq!(out[..], hex("5ca40667a0253a9970f1d654b5fa14d4")[..]);
}

#[test]
fn verify_rejects_any_change() {
    let d = hex("a03f32571504b4138d76d44a54fe953c");
    assert!(verify(MacAlgorithm::Md5, b"secret", &MSG, &d));
    assert!(!verify(MacAlgorithm::Md5, b"secreT", &MSG, &d));
    assert!(!verify(MacAlgorithm::Md5, b"secret", &MSG[..47], &d));
    assert!(!verify(MacAlgorithm::Md5, b"secret", &MSG, &d[..15]));
    let mut bad = d.clone();
    bad[15] ^= 1;
    assert!(!verify(MacAlgorithm::Md5, b"secret", &MSG, &bad));
    let mut short = [0u8; 10];
    assert_eq!(compute(MacAlgorithm::Sha1, b"k", &MSG, &mut short), None);
}

fn table() -> KeyTable<8> {
    let mut t = KeyTable::new();
    t.insert(SymmetricKey::new(1, MacAlgorithm::Md5, b"secret", true).unwrap())
        .unwrap();
    t.insert(SymmetricKey::new(2, MacAlgorithm::Sha1, &hex(SHA1_KEY), true).unwrap())
        .unwrap();
    let cmac_key: std::vec::Vec<u8> = (0..16).collect();
    t.insert(SymmetricKey::new(3, MacAlgorithm::Aes128Cmac, &cmac_key, true).unwrap())
        .unwrap();
    t.insert(SymmetricKey::new(4, MacAlgorithm::Md5, b"untrusted", false).unwrap())
        .unwrap();
    t
}

#[test]
fn sign_then_check_every_algorithm() {
    let t = table();
    for (id, len) in [(1u32, 68usize), (2, 72), (3, 68)] {
        let mut buf = [0u8; 80];
        buf[..48].copy_from_slice(&MSG);
        buf[0] = 0x23; // v4 client
        let key = t.trusted(id).unwrap();
        assert_eq!(key.sign(&mut buf, 48), Some(len));
        assert_eq!(u32::from_be_bytes(buf[48..52].try_into().unwrap()), id);
        match t.check(&buf[..len]) {
            AuthStatus::Authentic(k) => assert_eq!(k.id(), id),
            other => panic!("{other:?}"),
        }
        // One bit anywhere breaks it.
        for pos in [0, 47, 51, len - 1] {
            let mut b = buf;
            b[pos] ^= 0x10;
            assert!(
                matches!(t.check(&b[..len]), AuthStatus::Failed(_)),
                "key {id} bit at {pos}"
            );
        }
    }
}

#[test]
fn md5_mac_matches_the_independent_vector_on_the_wire() {
    let t = table();
    let mut buf = [0u8; 68];
    buf[..48].copy_from_slice(&MSG);
    t.trusted(1).unwrap().sign(&mut buf, 48).unwrap();
    assert_eq!(buf[52..], hex("a03f32571504b4138d76d44a54fe953c")[..]);
}

#[test]
fn failures_and_nak() {
    let t = table();
    let mut buf = [0u8; 72];
    buf[0] = 0x23;
    assert_eq!(t.check(&buf[..48]), AuthStatus::None);
    assert_eq!(t.check(&buf[..52]), AuthStatus::CryptoNak);
    buf[48..52].copy_from_slice(&9u32.to_be_bytes());
    assert_eq!(
        t.check(&buf[..68]),
        AuthStatus::Failed(AuthFailure::UnknownKey(9))
    );
    buf[48..52].copy_from_slice(&4u32.to_be_bytes());
    assert_eq!(
        t.check(&buf[..68]),
        AuthStatus::Failed(AuthFailure::UntrustedKey(4))
    );
    buf[48..52].copy_from_slice(&1u32.to_be_bytes());
    assert_eq!(
        t.check(&buf[..72]),
        AuthStatus::Failed(AuthFailure::WrongLength(1))
    );
    assert_eq!(
        t.check(&buf[..68]),
        AuthStatus::Failed(AuthFailure::BadDigest(1))
    );
    assert_eq!(AuthFailure::BadDigest(1).key_id(), 1);
    let mut out = [0xffu8; 52];
    assert_eq!(append_crypto_nak(&mut out, 48), Some(52));
    assert_eq!(out[48..], [0, 0, 0, 0]);
    assert_eq!(append_crypto_nak(&mut out, 49), None);
}

#[test]
fn table_rules() {
    let mut t = table();
    assert_eq!(t.len(), 4);
    assert!(t.trusted(4).is_none() && t.get(4).is_some());
    assert!(t.set_trusted(4, true));
    assert!(t.trusted(4).is_some());
    assert!(!t.set_trusted(99, true));
    assert_eq!(
        t.insert(SymmetricKey::new(1, MacAlgorithm::Md5, b"x", true).unwrap()),
        Err(KeyTableError::Duplicate(1))
    );
    assert!(SymmetricKey::new(0, MacAlgorithm::Md5, b"x", true).is_none());
    assert!(SymmetricKey::new(5, MacAlgorithm::Md5, b"", true).is_none());
    assert!(SymmetricKey::new(5, MacAlgorithm::Md5, &[1u8; 33], true).is_none());
    let mut small: KeyTable<1> = KeyTable::new();
    small
        .insert(SymmetricKey::new(1, MacAlgorithm::Md5, b"x", true).unwrap())
        .unwrap();
    assert_eq!(
        small.insert(SymmetricKey::new(2, MacAlgorithm::Md5, b"x", true).unwrap()),
        Err(KeyTableError::Full)
    );
    assert!(!std::format!("{:?}", t.get(1).unwrap()).contains("secret\""));
    // No room to sign: None, not a panic.
    let mut tiny = [0u8; 50];
    assert_eq!(t.trusted(1).unwrap().sign(&mut tiny, 48), None);
}
