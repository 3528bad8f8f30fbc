//! `mrulist`: the nonce, the rounds ntpq fetches it in, and hostile parameters.

use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use super::tests_fixtures::*;
use super::*;
use crate::time::NtpTimestamp;
use core::net::SocketAddr;

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
