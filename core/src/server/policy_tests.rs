//! The server under a policy: every restrict flag, the rate limiter with RATE kisses,
//! authenticated answers and crypto-NAKs, and the no-amplification rule.

use core::net::{IpAddr, Ipv4Addr};

use super::*;
use crate::access::{AccessFlags, AccessTable, Family};
use crate::auth::{KeyTable, MacAlgorithm, SymmetricKey};
use crate::ratelimit::{DiscardParams, RateLimiter};
use crate::time::NtpDuration;

fn request(version: u8, mode: u8) -> [u8; 48] {
    let mut b = [0u8; 48];
    b[0] = (version << 3) | mode;
    b[2] = 6;
    b[40..48].copy_from_slice(&0x1122_3344_5566_7788u64.to_be_bytes());
    b
}

fn sys() -> SystemVars {
    SystemVars {
        leap: LeapIndicator::NoWarning,
        stratum: 3,
        precision: -23,
        root_delay: NtpDuration::from_seconds_f64(0.25),
        root_dispersion: NtpDuration::from_seconds_f64(0.5),
        ref_id: RefId::from_bytes([127, 0, 0, 2]),
        reference_time: NtpTimestamp::from_parts(1000, 0),
        poll: crate::PollInterval::from_log2(6),
    }
}

fn from(last: u8, t: f64) -> Client {
    Client {
        addr: IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)),
        port: 40000,
        now: Instant::from_nanos((t * 1e9) as u64),
    }
}

/// 127.0.0.N gets flags `f(N)`; default unrestricted.
fn table(entries: &[(u8, AccessFlags)]) -> AccessTable<16> {
    let mut t = AccessTable::default();
    for (last, flags) in entries {
        t.insert(
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, *last)),
            IpAddr::V4(Ipv4Addr::BROADCAST),
            false,
            *flags,
        )
        .unwrap();
    }
    t
}

fn keys() -> KeyTable<4> {
    let mut k = KeyTable::new();
    k.insert(SymmetricKey::new(1, MacAlgorithm::Md5, b"secret", true).unwrap())
        .unwrap();
    k.insert(SymmetricKey::new(2, MacAlgorithm::Sha1, &[7u8; 20], true).unwrap())
        .unwrap();
    k.insert(SymmetricKey::new(3, MacAlgorithm::Aes128Cmac, &[9u8; 16], true).unwrap())
        .unwrap();
    k.insert(SymmetricKey::new(4, MacAlgorithm::Md5, b"other", false).unwrap())
        .unwrap();
    k
}

struct Rig {
    server: Server,
    access: AccessTable<16>,
    limiter: RateLimiter<64>,
    keys: KeyTable<4>,
}

impl Rig {
    fn new(entries: &[(u8, AccessFlags)]) -> Self {
        Rig {
            server: Server::new(),
            access: table(entries),
            limiter: RateLimiter::new(DiscardParams::NTPD, [5; 16]),
            keys: keys(),
        }
    }

    fn ask(
        &mut self,
        client: Client,
        req: &[u8],
    ) -> Result<(ResponseKind, std::vec::Vec<u8>), DropReason> {
        let mut policy = Policy {
            access: Some(&self.access),
            limiter: Some(&mut self.limiter),
            keys: Some(&self.keys),
        };
        let mut buf = [0u8; 128];
        let p = self.server.respond_to(
            &mut policy,
            client,
            req,
            NtpTimestamp::from_parts(2000, 0),
            &sys(),
            &mut buf,
        )?;
        let kind = p.kind();
        let out = p.finish(&mut buf, NtpTimestamp::from_parts(2000, 7));
        assert!(
            out.len() <= req.len(),
            "amplification: {} > {}",
            out.len(),
            req.len()
        );
        Ok((kind, out.to_vec()))
    }
}

#[test]
fn ignore_drops_everything_even_garbage() {
    let mut r = Rig::new(&[(2, AccessFlags::IGNORE)]);
    assert_eq!(
        r.ask(from(2, 0.0), &request(4, 3)).unwrap_err(),
        DropReason::Ignored
    );
    assert_eq!(
        r.ask(from(2, 0.0), &request(2, 6)).unwrap_err(),
        DropReason::Ignored
    );
    assert_eq!(
        r.ask(from(2, 0.0), &[1, 2, 3]).unwrap_err(),
        DropReason::Ignored
    );
    assert!(r.ask(from(3, 0.0), &request(4, 3)).is_ok());
    assert_eq!(r.server.stats().dropped_for(DropReason::Ignored), 3);
}

#[test]
fn noserve_keeps_queries() {
    let mut r = Rig::new(&[(2, AccessFlags::NOSERVE)]);
    assert_eq!(
        r.ask(from(2, 0.0), &request(4, 3)).unwrap_err(),
        DropReason::NoServe
    );
    assert_eq!(
        r.ask(from(2, 0.0), &request(1, 0)).unwrap_err(),
        DropReason::NoServe
    );
    assert_eq!(
        r.ask(from(2, 0.0), &request(2, 6)).unwrap_err(),
        DropReason::Control
    );
}

#[test]
fn noquery_keeps_time() {
    let mut r = Rig::new(&[(2, AccessFlags::NOQUERY | AccessFlags::NOMODIFY)]);
    assert_eq!(
        r.ask(from(2, 0.0), &request(2, 6)).unwrap_err(),
        DropReason::NoQuery
    );
    assert_eq!(
        r.ask(from(2, 0.0), &request(4, 3)).unwrap().0,
        ResponseKind::Time
    );
    // Mode 7 is never answered, restricted or not.
    assert_eq!(
        r.ask(from(3, 0.0), &request(2, 7)).unwrap_err(),
        DropReason::ModeUnsupported
    );
    // Control allowed elsewhere.
    assert_eq!(
        r.ask(from(3, 0.0), &request(2, 6)).unwrap_err(),
        DropReason::Control
    );
}

#[test]
fn version_flag_wants_v4() {
    let mut r = Rig::new(&[(2, AccessFlags::VERSION)]);
    assert_eq!(
        r.ask(from(2, 0.0), &request(3, 3)).unwrap_err(),
        DropReason::VersionRestricted
    );
    assert!(r.ask(from(2, 0.0), &request(4, 3)).is_ok());
    assert!(r.ask(from(3, 0.0), &request(3, 3)).is_ok());
}

#[test]
fn flags_without_effect_on_time_service() {
    for f in [
        AccessFlags::NOMODIFY,
        AccessFlags::NOTRAP,
        AccessFlags::NOPEER,
        AccessFlags::NOMRULIST,
        AccessFlags::KOD,
        AccessFlags::NOEPEER,
        AccessFlags::LOWPRIOTRAP,
    ] {
        let mut r = Rig::new(&[(2, f)]);
        for i in 0..20 {
            assert_eq!(
                r.ask(from(2, f64::from(i) * 0.01), &request(4, 3))
                    .unwrap()
                    .0,
                ResponseKind::Time,
                "{f:?}"
            );
        }
    }
}

#[test]
fn limited_drops_and_kod_kisses() {
    let mut r = Rig::new(&[
        (2, AccessFlags::LIMITED),
        (3, AccessFlags::LIMITED | AccessFlags::KOD),
    ]);
    assert!(r.ask(from(2, 0.0), &request(4, 3)).is_ok());
    assert_eq!(
        r.ask(from(2, 0.5), &request(4, 3)).unwrap_err(),
        DropReason::RateLimited
    );
    assert!(r.ask(from(3, 0.0), &request(4, 3)).is_ok());
    let (kind, kiss) = r.ask(from(3, 0.5), &request(4, 3)).unwrap();
    assert_eq!(kind, ResponseKind::RateKiss);
    let p = Packet::new_checked(&kiss[..]).unwrap();
    assert!(p.is_kiss());
    assert_eq!(p.ref_id(), RefId::RATE);
    assert_eq!(p.stratum(), 0);
    assert_eq!(p.origin_timestamp().to_bits(), 0x1122_3344_5566_7788);
    assert_eq!(kiss.len(), 48);
    // The kiss itself is rate limited: the next over-limit packet gets silence.
    assert_eq!(
        r.ask(from(3, 0.6), &request(4, 3)).unwrap_err(),
        DropReason::RateLimited
    );
    // Unlimited sources are never counted.
    for i in 0..50 {
        assert!(r.ask(from(4, f64::from(i) * 0.01), &request(4, 3)).is_ok());
    }
    assert_eq!(r.server.stats().rate_kisses, 1);
}

fn signed(key: u32, alg_len: usize, keys: &KeyTable<4>) -> std::vec::Vec<u8> {
    let mut b = [0u8; 72];
    b[..48].copy_from_slice(&request(4, 3));
    let k = keys.get(key).unwrap();
    let len = k.sign(&mut b, 48).unwrap();
    assert_eq!(len, 48 + 4 + alg_len);
    b[..len].to_vec()
}

#[test]
fn authenticated_request_gets_signed_answer_with_same_key() {
    let mut r = Rig::new(&[]);
    let ks = keys();
    for (id, dlen) in [(1u32, 16usize), (2, 20), (3, 16)] {
        let req = signed(id, dlen, &ks);
        let (kind, out) = r.ask(from(2, 0.0), &req).unwrap();
        assert_eq!(kind, ResponseKind::Authenticated(id));
        assert_eq!(out.len(), req.len(), "same header+MAC size");
        // The answer verifies under the same key, with the final transmit stamp.
        match ks.check(&out) {
            crate::auth::AuthStatus::Authentic(k) => assert_eq!(k.id(), id),
            other => panic!("{other:?}"),
        }
        let p = Packet::new_checked(&out[..]).unwrap();
        assert_eq!(p.transmit_timestamp(), NtpTimestamp::from_parts(2000, 7));
        assert_eq!(p.stratum(), 3);
    }
    assert_eq!(r.server.stats().authenticated, 3);
}

#[test]
fn bad_mac_unknown_or_untrusted_key_gets_crypto_nak_and_no_time() {
    let mut r = Rig::new(&[]);
    let ks = keys();
    let mut bad = signed(1, 16, &ks);
    bad[60] ^= 1;
    let mut unknown = signed(1, 16, &ks);
    unknown[48..52].copy_from_slice(&77u32.to_be_bytes());
    let untrusted = signed(4, 16, &ks);
    let mut wrong_len = signed(2, 20, &ks);
    wrong_len[48..52].copy_from_slice(&1u32.to_be_bytes());
    for req in [bad, unknown, untrusted, wrong_len] {
        let (kind, out) = r.ask(from(2, 0.0), &req).unwrap();
        assert!(matches!(kind, ResponseKind::CryptoNak(_)), "{kind:?}");
        assert_eq!(out.len(), 52);
        assert_eq!(out[48..52], [0, 0, 0, 0]);
        let p = Packet::new_checked(&out[..]).unwrap();
        assert_eq!(p.transmit_timestamp(), NtpTimestamp::ZERO, "no time");
        assert_eq!(p.receive_timestamp(), NtpTimestamp::ZERO, "no time");
        assert_eq!(p.ref_id(), RefId::CRYP);
        assert!(p.mac().unwrap().is_crypto_nak());
    }
    assert_eq!(r.server.stats().crypto_naks, 4);
}

#[test]
fn notrust_requires_authentication() {
    let mut r = Rig::new(&[(2, AccessFlags::NOTRUST)]);
    assert_eq!(
        r.ask(from(2, 0.0), &request(4, 3)).unwrap_err(),
        DropReason::NotTrusted
    );
    let req = signed(1, 16, &keys());
    assert_eq!(
        r.ask(from(2, 0.0), &req).unwrap().0,
        ResponseKind::Authenticated(1)
    );
}

#[test]
fn open_policy_naks_every_mac() {
    let mut server = Server::new();
    let req = signed(1, 16, &keys());
    let mut buf = [0u8; 128];
    let p = server
        .respond(&req, NtpTimestamp::ZERO, &sys(), &mut buf)
        .unwrap();
    assert!(matches!(p.kind(), ResponseKind::CryptoNak(_)));
    assert_eq!(p.len(), 52);
}

#[test]
fn client_crypto_nak_and_extensions_are_never_echoed() {
    let mut r = Rig::new(&[]);
    let mut req = [0u8; 52];
    req[..48].copy_from_slice(&request(4, 3));
    let (kind, out) = r.ask(from(2, 0.0), &req).unwrap();
    assert_eq!(kind, ResponseKind::Time);
    assert_eq!(out.len(), 48);
    // A 28-byte extension field and no MAC: answered with the bare header.
    let mut req = [0u8; 76];
    req[..48].copy_from_slice(&request(4, 3));
    req[48..52].copy_from_slice(&[0x01, 0x04, 0x00, 28]);
    let (_, out) = r.ask(from(2, 0.0), &req).unwrap();
    assert_eq!(out.len(), 48);
}

#[test]
fn small_buffers_are_drops_not_panics() {
    let ks = keys();
    let req = signed(2, 20, &ks);
    let access: AccessTable<1> = AccessTable::new(AccessFlags::NONE);
    for size in [0usize, 10, 47, 48, 51, 52, 71] {
        let mut server = Server::new();
        let mut policy = Policy {
            access: Some(&access),
            limiter: None,
            keys: Some(&ks),
        };
        let mut buf = std::vec![0u8; size];
        let got = server.respond_to(
            &mut policy,
            from(2, 0.0),
            &req,
            NtpTimestamp::ZERO,
            &sys(),
            &mut buf,
        );
        assert_eq!(got.unwrap_err(), DropReason::NoBuffer, "{size}");
    }
    let _ = Family::V4;
}

#[test]
fn the_monitor_list_records_every_client_limited_or_not() {
    let mut r = Rig::new(&[(4, AccessFlags::LIMITED.union(AccessFlags::KOD))]);
    for i in 0..3 {
        assert!(r.ask(from(3, f64::from(i) * 0.1), &request(4, 3)).is_ok());
    }
    // A mode 6 query is recorded too (ntpq's own row in ntpd's mrulist).
    assert_eq!(
        r.ask(from(3, 0.5), &request(2, 6)).unwrap_err(),
        DropReason::Control
    );
    assert!(r.ask(from(4, 0.0), &request(3, 3)).is_ok());
    let (kind, _) = r.ask(from(4, 0.1), &request(3, 3)).unwrap();
    assert_eq!(kind, ResponseKind::RateKiss);
    let rows: std::vec::Vec<_> = r.limiter.entries().collect();
    assert_eq!(rows.len(), 2);
    let row = |last: u8| {
        *rows
            .iter()
            .find(|e| e.addr == IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
            .unwrap()
    };
    let a = row(3);
    assert_eq!((a.count, a.dropped, a.port), (4, 0, 40000));
    assert_eq!(a.mode_version, (2 << 3) | 6, "its last packet: ntpq's");
    assert_eq!(a.flags, 0, "unrestricted");
    assert_eq!(a.first, Instant::ZERO);
    assert_eq!(a.last, Instant::from_nanos(500_000_000));
    // 100 ms apart are fast for a client polling every 2^3 s: the bucket fills.
    assert!(a.score > 1.0, "{}", a.score);
    let b = row(4);
    assert_eq!(
        (b.count, b.dropped),
        (2, 1),
        "the kissed one was over the limit"
    );
    assert_eq!(b.mode_version, (3 << 3) | 3);
    assert_eq!(b.flags, 0x20 | 0x400, "ntpd's RES_LIMITED | RES_KOD");
    let s = r.limiter.stats();
    assert_eq!((s.inserted, s.exists, s.peak), (2, 4, 2));
}

#[test]
fn disable_monitor_records_only_limited_clients() {
    let mut r = Rig::new(&[(4, AccessFlags::LIMITED)]);
    r.limiter.set_monitor_all(false);
    assert!(r.ask(from(3, 0.0), &request(4, 3)).is_ok());
    assert_eq!(
        r.ask(from(3, 0.5), &request(2, 6)).unwrap_err(),
        DropReason::Control
    );
    assert_eq!(
        r.limiter.occupied(),
        0,
        "unrestricted clients are not recorded"
    );
    assert!(r.ask(from(4, 0.0), &request(4, 3)).is_ok());
    assert_eq!(
        r.ask(from(4, 0.5), &request(4, 3)).unwrap_err(),
        DropReason::RateLimited,
        "the limit still holds"
    );
    assert_eq!(r.limiter.occupied(), 1);
}

#[test]
fn versions_and_macs_are_counted_for_sysstats_and_authinfo() {
    let mut r = Rig::new(&[]);
    let ks = keys();
    for (v, m) in [
        (4, 3),
        (4, 3),
        (3, 3),
        (2, 3),
        (1, 0),
        (1, 3),
        (1, 1),
        (2, 6),
        (4, 6),
    ] {
        let _ = r.ask(from(2, 0.0), &request(v, m));
    }
    let s = *r.server.stats();
    assert_eq!(s.by_version, [0, 3, 1, 1, 2, 0, 0, 0], "mode 6 not counted");
    assert_eq!(s.v1_by_mode[..4], [1, 1, 0, 1]);
    assert_eq!(s.received(), 9);
    let mut bad = signed(1, 16, &ks);
    bad[60] ^= 1;
    let mut unknown = signed(1, 16, &ks);
    unknown[48..52].copy_from_slice(&77u32.to_be_bytes());
    let mut bad_cmac = signed(3, 16, &ks);
    bad_cmac[60] ^= 1;
    for req in [
        signed(1, 16, &ks),
        signed(2, 20, &ks),
        signed(3, 16, &ks),
        bad,
        unknown,
        bad_cmac,
    ] {
        r.ask(from(2, 0.0), &req).unwrap();
    }
    let m = r.server.stats().mac;
    assert_eq!(m.lookups, 6);
    assert_eq!(m.not_found, 1);
    assert_eq!(
        (m.digest_checked, m.digest_failed, m.digest_signed),
        (3, 1, 2)
    );
    assert_eq!((m.cmac_checked, m.cmac_failed, m.cmac_signed), (2, 1, 1));
}
