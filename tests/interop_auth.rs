//! Symmetric-key authentication against the real peers, with one secret written in
//! both key-file dialects (ntp.keys for slewd and ntpsec, chrony.keys for chronyd),
//! MD5 and SHA1:
//!
//! - a real `chronyd -Q … key N` accepts slewd's signed answers, and gets nothing
//!   usable when its key differs;
//! - ntpsec's `ntpdig -a N -k FILE` (port 123, so in a namespace) accepts them;
//! - slewd as an authenticated client (`server … key N`, virtual clock) follows a
//!   real chronyd with the same key (serves stratum 11), and does not when chronyd's
//!   key differs, saying why in its log.
//!
//! A missing peer fails the test; every wait is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// Key 1: MD5 with an ASCII secret; key 2: SHA1 with a 20-byte hex secret.
const MD5_ASCII: &str = "slewSharedKey1";
const SHA1_HEX: &str = "8f3a6c1d2e4b5a69788796a5b4c3d2e1f0a1b2c3";
/// The same ids with other secrets of the same lengths.
const MD5_OTHER: &str = "slewSharedKeyX";
const SHA1_OTHER: &str = "000000112233445566778899aabbccddeeff0011";

/// Writes ntp.keys and chrony.keys for the same two keys; returns their paths.
fn key_files(dir: &TempDir, tag: &str, md5: &str, sha1: &str) -> (PathBuf, PathBuf) {
    let ntp = dir.join(&format!("{tag}-ntp.keys"));
    let chrony = dir.join(&format!("{tag}-chrony.keys"));
    // ntp.keys: an MD5 key of up to 20 characters is ASCII; 40 hex digits are hex.
    std::fs::write(&ntp, format!("1 MD5 {md5}\n2 SHA1 {sha1}\n")).unwrap();
    std::fs::write(&chrony, format!("1 MD5 ASCII:{md5}\n2 SHA1 HEX:{sha1}\n")).unwrap();
    (ntp, chrony)
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// slewd serving its local clock at stratum 10 with the keys trusted.
fn slewd_server_conf(keys: &std::path::Path) -> String {
    format!(
        "server 127.127.1.0\nfudge 127.127.1.0 stratum 10\nkeys {}\ntrustedkey 1 2\n",
        keys.display()
    )
}

/// `chronyd -Q` measuring slewd with key `key` from `keyfile`.
fn chronyd_query_key(port: u16, key: u32, keyfile: &std::path::Path) -> (bool, String) {
    let chronyd = require("chronyd", "chrony");
    let mut cmd = Command::new(chronyd);
    cmd.args(["-Q", "-t", "6"])
        .arg(format!("keyfile {}", keyfile.display()))
        .arg(format!(
            "server 127.0.0.1 port {port} key {key} iburst minpoll -6 maxpoll -6 maxsamples 4"
        ));
    let out = run_with_timeout(cmd, Duration::from_secs(20));
    (out.status.success(), text(&out))
}

/// The answer counters slewd logs at exit ("served N requests (A authenticated, …").
fn served_line(log: &str) -> String {
    log.lines()
        .find(|l| l.contains("served ") && l.contains("authenticated"))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn chronyd_accepts_slewd_signed_answers_and_refuses_a_different_key() {
    require("chronyd", "chrony");
    let dir = TempDir::new("auth-chronyq");
    let (ntp_keys, chrony_keys) = key_files(&dir, "same", MD5_ASCII, SHA1_HEX);
    let (_, other_keys) = key_files(&dir, "other", MD5_OTHER, SHA1_OTHER);
    let port = free_port();
    let mut slewd = start_slewd(
        &dir,
        &slewd_server_conf(&ntp_keys),
        &[addr(port)],
        &["--clock", "virtual"],
    );
    for key in [1, 2] {
        let (ok, out) = chronyd_query_key(port, key, &chrony_keys);
        assert!(ok, "chronyd -Q with key {key} failed:\n{out}");
        let offset = chronyd_offset(&out).unwrap_or_else(|| panic!("no offset:\n{out}"));
        assert!(offset.abs() < 0.01, "key {key}: offset {offset}");
    }
    for key in [1, 2] {
        let (ok, out) = chronyd_query_key(port, key, &other_keys);
        assert!(
            !ok,
            "chronyd -Q with a different key {key} succeeded:\n{out}"
        );
        assert!(
            out.contains("No suitable source"),
            "key {key}: expected chronyd to find no usable source:\n{out}"
        );
        assert!(chronyd_offset(&out).is_none(), "{out}");
    }
    slewd
        .terminate(Duration::from_secs(5))
        .expect("slewd exits");
    let log = slewd.log_text();
    let served = served_line(&log);
    // The good queries got signed answers (chronyd -Q stops after a few samples),
    // the bad ones crypto-NAKs.
    let count = |what: &str| -> u64 {
        served
            .split(['(', ','])
            .find(|p| p.contains(what))
            .and_then(|p| p.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no `{what}` count in {served:?}; log:\n{log}"))
    };
    assert!(count("authenticated") >= 4, "{served}");
    assert!(count("crypto-NAKs") >= 2, "{served}");
}

#[test]
fn ntpdig_accepts_slewd_signed_answers() {
    let ntpdig = require("ntpdig", "ntpsec-ntpdig");
    let dir = TempDir::new("auth-ntpdig");
    let (ntp_keys, _) = key_files(&dir, "same", MD5_ASCII, SHA1_HEX);
    let (other_keys, _) = key_files(&dir, "other", MD5_OTHER, SHA1_OTHER);
    let ns = NetNs::new("auth");
    let slewd = start_slewd_with(
        &dir,
        &slewd_server_conf(&ntp_keys),
        &[addr(123)],
        &["--clock", "virtual"],
        Some(&ns),
    );
    ns.wait_for_ntp(&slewd);
    let dig = |key: u32, keys: &std::path::Path| {
        let mut cmd = ns.command(ntpdig.to_str().unwrap());
        cmd.args(["-t", "2", "-a", &key.to_string(), "-k"])
            .arg(keys)
            .arg("127.0.0.1");
        let out = run_with_timeout(cmd, Duration::from_secs(20));
        (out.status.success(), text(&out))
    };
    for key in [1, 2] {
        let (ok, out) = dig(key, &ntp_keys);
        assert!(
            ok,
            "ntpdig -a {key} failed:\n{out}\nslewd:\n{}",
            slewd.log_text()
        );
        // ntpdig prints "<date> <time> (+|-)offset +/- error 127.0.0.1 s11 no-leap".
        assert!(out.contains("127.0.0.1") && out.contains(" s11 "), "{out}");
    }
    for key in [1, 2] {
        let (ok, out) = dig(key, &other_keys);
        assert!(
            !ok,
            "ntpdig -a {key} with a different key succeeded:\n{out}"
        );
        assert!(!out.contains(" s11 "), "{out}");
    }
}

/// The stratum slewd on `port` serves, if it answers.
fn stratum_of(port: u16) -> Option<u8> {
    raw_query(addr(port), Duration::from_secs(1)).and_then(|b| b.get(1).copied())
}

/// Waits (bounded) for slewd on `port` to serve `stratum`; returns whether it did.
fn serves_stratum(port: u16, stratum: u8, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if stratum_of(port) == Some(stratum) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    false
}

/// slewd following chronyd on `upstream` with `key`, keys from `ntp_keys`.
fn slewd_client(dir: &TempDir, upstream: u16, key: u32, ntp_keys: &std::path::Path) -> (Proc, u16) {
    let port = free_port();
    let conf = format!(
        "server 127.0.0.1 port {upstream} key {key} iburst minpoll 3 maxpoll 3\nkeys {}\ntrustedkey 1 2\n",
        ntp_keys.display()
    );
    let p = start_slewd(dir, &conf, &[addr(port)], &["--clock", "virtual"]);
    (p, port)
}

#[test]
fn slewd_follows_chronyd_with_the_same_key_only() {
    require("chronyd", "chrony");
    for key in [1u32, 2] {
        let dir = TempDir::new("auth-client");
        let (ntp_keys, chrony_keys) = key_files(&dir, "same", MD5_ASCII, SHA1_HEX);
        let upstream = free_port();
        let _chronyd = start_chronyd_server(
            &dir,
            upstream,
            &format!("keyfile {}", chrony_keys.display()),
        );
        let (slewd, port) = slewd_client(&dir, upstream, key, &ntp_keys);
        assert!(
            serves_stratum(port, 11, Duration::from_secs(40)),
            "key {key}: slewd did not synchronise to chronyd; log:\n{}",
            slewd.log_text()
        );
        let log = slewd.log_text();
        assert!(
            log.contains(&format!("requests signed with key {key}")),
            "{log}"
        );
        assert!(log.contains("synchronised to 127.0.0.1"), "{log}");
        assert!(!log.contains("answer refused"), "{log}");
    }
}

#[test]
fn slewd_refuses_chronyd_with_a_different_key_and_says_why() {
    require("chronyd", "chrony");
    let dir = TempDir::new("auth-client-bad");
    let (ntp_keys, _) = key_files(&dir, "same", MD5_ASCII, SHA1_HEX);
    let (_, other_chrony) = key_files(&dir, "other", MD5_OTHER, SHA1_OTHER);
    let upstream = free_port();
    let _chronyd = start_chronyd_server(
        &dir,
        upstream,
        &format!("keyfile {}", other_chrony.display()),
    );
    let (slewd, port) = slewd_client(&dir, upstream, 2, &ntp_keys);
    // chronyd drops requests whose MAC it cannot verify (no crypto-NAK): slewd stays
    // unsynchronised and, after three minimum polls (24 s), says what that means.
    let deadline = Instant::now() + Duration::from_secs(40);
    let needle = "no answer to requests signed with key 2";
    while Instant::now() < deadline && !slewd.log_text().contains(needle) {
        std::thread::sleep(Duration::from_millis(500));
    }
    let log = slewd.log_text();
    assert!(log.contains(needle), "no diagnosis in the log:\n{log}");
    assert!(log.contains("check the keys file on both sides"), "{log}");
    assert!(!log.contains("synchronised to"), "{log}");
    assert_eq!(
        stratum_of(port).expect("slewd answers"),
        16,
        "unsynchronised: nothing authentic to follow"
    );
}

#[test]
fn slewd_refuses_unsigned_and_forged_answers_with_a_reason() {
    // A fake upstream on loopback that answers slewd's signed requests three ways:
    // unsigned, with a corrupted MAC, and with a crypto-NAK. slewd logs each reason
    // once and never synchronises.
    let dir = TempDir::new("auth-client-fake");
    let (ntp_keys, _) = key_files(&dir, "same", MD5_ASCII, SHA1_HEX);
    let fake = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    fake.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let upstream = fake.local_addr().unwrap().port();
    let (slewd, port) = slewd_client(&dir, upstream, 1, &ntp_keys);
    let mut answered = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut buf = [0u8; 512];
    while Instant::now() < deadline && answered < 6 {
        let Ok((n, from)) = fake.recv_from(&mut buf) else {
            continue;
        };
        assert_eq!(n, 68, "a request signed with MD5 key 1: 48 + 4 + 16 bytes");
        assert_eq!(&buf[48..52], &1u32.to_be_bytes(), "key id 1");
        let mut ans = [0u8; 68];
        ans[0] = 0x24; // leap 0, version 4, mode 4
        ans[1] = 2;
        ans[24..32].copy_from_slice(&buf[40..48]); // origin = the request's transmit
        ans[32..40].copy_from_slice(&buf[40..48]);
        ans[40..48].copy_from_slice(&buf[40..48]);
        let len = match answered % 3 {
            0 => 48, // unsigned
            1 => {
                ans[48..52].copy_from_slice(&1u32.to_be_bytes()); // key 1, digest zeros
                68
            }
            _ => 52, // crypto-NAK: key id 0 alone
        };
        fake.send_to(&ans[..len], from).unwrap();
        answered += 1;
    }
    assert!(answered >= 3, "slewd sent only {answered} requests");
    let log = slewd.log_text();
    assert!(log.contains("answer refused (auth)"), "{log}");
    assert!(log.contains("answer refused (crypto-nak)"), "{log}");
    assert!(!log.contains("synchronised to"), "{log}");
    assert_eq!(stratum_of(port).expect("slewd answers"), 16);
}
