//! `restrict` flags and symmetric keys driven with real packets from several loopback
//! addresses (127.0.0.0/8 is all on `lo`) against a running slewd.

// Test code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use common::*;
use slew_core::auth::{AuthStatus, KeyTable, MacAlgorithm, SymmetricKey};

const KEYS: &str = "\
1 MD5 slewsecret
2 SHA1 0123456789abcdef0123456789abcdef01234567
3 AES128CMAC 000102030405060708090a0b0c0d0e0f
4 MD5 nottrusted
";

fn conf(keys: &std::path::Path) -> String {
    format!(
        "server 127.127.1.0\nfudge 127.127.1.0 stratum 10\n\
         restrict default kod limited nomodify notrap nopeer noquery\n\
         restrict 127.0.0.1\n\
         restrict 127.0.0.2 ignore\n\
         restrict 127.0.0.3 noserve\n\
         restrict 127.0.0.4 limited\n\
         restrict 127.0.0.5 limited kod\n\
         restrict 127.0.0.6 version\n\
         restrict 127.0.0.7 notrust\n\
         keys {}\ntrustedkey 1 2 3\n",
        keys.display()
    )
}

fn keys() -> KeyTable<8> {
    let mut t = KeyTable::new();
    for k in [
        SymmetricKey::new(1, MacAlgorithm::Md5, b"slewsecret", true),
        SymmetricKey::new(
            2,
            MacAlgorithm::Sha1,
            &[
                0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
                0xcd, 0xef, 0x01, 0x23, 0x45, 0x67,
            ],
            true,
        ),
        SymmetricKey::new(
            3,
            MacAlgorithm::Aes128Cmac,
            &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
            true,
        ),
        SymmetricKey::new(4, MacAlgorithm::Md5, b"nottrusted", true),
        SymmetricKey::new(9, MacAlgorithm::Md5, b"wrongsecret", true),
    ]
    .into_iter()
    .flatten()
    {
        t.insert(k).unwrap();
    }
    t
}

fn request(version: u8, mode: u8) -> Vec<u8> {
    let mut r = vec![0u8; 48];
    r[0] = (version << 3) | mode;
    r[40..48].copy_from_slice(&0x0123_4567_89ab_cdefu64.to_be_bytes());
    r
}

fn signed(key: &SymmetricKey) -> Vec<u8> {
    let mut b = request(4, 3);
    b.resize(72, 0);
    let n = key.sign(&mut b, 48).unwrap();
    b.truncate(n);
    b
}

/// Sends `req` from 127.0.0.`last` and returns the answer, if one comes in 300 ms.
fn ask(server: SocketAddr, last: u8, req: &[u8]) -> Option<Vec<u8>> {
    let s = UdpSocket::bind(SocketAddr::from(([127, 0, 0, last], 0))).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    s.send_to(req, server).unwrap();
    let mut buf = [0u8; 1024];
    s.recv_from(&mut buf).ok().map(|(n, _)| buf[..n].to_vec())
}

#[test]
fn restrict_flags_and_keys_with_real_packets() {
    let dir = TempDir::new("restrict");
    let keyfile = dir.join("ntp.keys");
    std::fs::write(&keyfile, KEYS).unwrap();
    let port = free_port();
    let server = SocketAddr::from(([127, 0, 0, 1], port));
    let mut slewd = start_slewd(&dir, &conf(&keyfile), &[server], &[]);
    let t = keys();

    // 127.0.0.1 is unrestricted: time and mode 6 both reach their paths.
    let a = ask(server, 1, &request(4, 3)).expect("127.0.0.1 is served");
    assert_eq!((a.len(), a[1]), (48, 11));
    // ignore: nothing at all.
    assert!(ask(server, 2, &request(4, 3)).is_none(), "ignore");
    // noserve: no time.
    assert!(ask(server, 3, &request(4, 3)).is_none(), "noserve");
    // limited: the second packet within `minimum` (2 s) gets silence...
    assert!(ask(server, 4, &request(4, 3)).is_some());
    assert!(ask(server, 4, &request(4, 3)).is_none(), "limited");
    // ... and with kod a RATE kiss, once.
    assert!(ask(server, 5, &request(4, 3)).is_some());
    let kiss = ask(server, 5, &request(4, 3)).expect("kod sends a kiss");
    assert_eq!((kiss.len(), kiss[1], &kiss[12..16]), (48, 0, &b"RATE"[..]));
    assert_eq!(kiss[0] >> 6, 3, "leap 3");
    assert!(
        ask(server, 5, &request(4, 3)).is_none(),
        "kisses are rate limited"
    );
    // version: v3 dropped, v4 served.
    assert!(ask(server, 6, &request(3, 3)).is_none(), "version");
    assert!(ask(server, 6, &request(4, 3)).is_some());
    // default (noquery): mode 6 dropped for 127.0.0.8; mode 7 never answered.
    assert!(ask(server, 8, &request(2, 6)).is_none(), "noquery");
    assert!(ask(server, 1, &request(2, 7)).is_none(), "mode 7");

    // notrust: unauthenticated dropped, MD5 answered and signed with key 1.
    assert!(ask(server, 7, &request(4, 3)).is_none(), "notrust");
    for (id, from) in [(1u32, 7u8), (2, 1), (3, 1)] {
        let req = signed(t.get(id).unwrap());
        let a = ask(server, from, &req).unwrap_or_else(|| panic!("key {id} answered"));
        assert_eq!(a.len(), req.len(), "key {id}: same size as the request");
        match t.check(&a) {
            AuthStatus::Authentic(k) => assert_eq!(k.id(), id),
            other => panic!("key {id}: {other:?}"),
        }
        assert_eq!(a[1], 11);
    }
    // Untrusted key 4, unknown key 9, a flipped digest bit: crypto-NAK, no time.
    let mut flipped = signed(t.get(1).unwrap());
    flipped[60] ^= 1;
    for req in [
        signed(t.get(4).unwrap()),
        signed(t.get(9).unwrap()),
        flipped,
    ] {
        let a = ask(server, 1, &req).expect("crypto-NAK");
        assert_eq!(a.len(), 52);
        assert_eq!(&a[48..52], &[0, 0, 0, 0]);
        assert_eq!(&a[40..48], &[0u8; 8], "no transmit time");
    }

    slewd
        .terminate(Duration::from_secs(5))
        .expect("slewd exits");
    let log = slewd.log_text();
    for word in [
        "restrict_ignore",
        "restrict_noserve",
        "rate_limited",
        "restrict_version",
        "restrict_noquery",
        "restrict_notrust",
        "3 crypto-NAKs",
        "1 RATE kisses",
    ] {
        assert!(log.contains(word), "{word} in the counters:\n{log}");
    }
}

#[test]
fn wildcard_without_restrict_default_warns() {
    let dir = TempDir::new("wildcard");
    let port = free_port();
    let mut slewd = start_slewd(
        &dir,
        "server 127.127.1.0\nfudge 127.127.1.0 stratum 10\n",
        &[SocketAddr::from(([0, 0, 0, 0], port))],
        &[],
    );
    let _ = ask(SocketAddr::from(([127, 0, 0, 1], port)), 1, &request(4, 3));
    slewd.terminate(Duration::from_secs(5));
    let log = slewd.log_text();
    assert!(log.contains("no `restrict default`"), "{log}");
}
