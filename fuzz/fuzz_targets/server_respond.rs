//! Hostile packets through the whole server decision path (restrict table, rate
//! limiter, keys): no panic, and never an answer larger than the request.
#![no_main]

use core::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use slew_core::access::{AccessFlags, AccessTable, Family};
use slew_core::auth::{KeyTable, MacAlgorithm, SymmetricKey};
use slew_core::ratelimit::{DiscardParams, RateLimiter};
use slew_core::server::{Client, Policy, Server};
use slew_core::system::SystemVars;
use slew_core::{Instant, NtpTimestamp};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, packet)) = data.split_first() else {
        return;
    };
    let mut access: AccessTable<4> = AccessTable::default();
    let flags = AccessFlags::NAMED[usize::from(selector) % AccessFlags::NAMED.len()].0;
    let _ = access.insert_default(Family::V4, flags | AccessFlags::LIMITED | AccessFlags::KOD);
    let mut limiter: RateLimiter<16> = RateLimiter::new(DiscardParams::NTPD, [7; 16]);
    let mut keys: KeyTable<4> = KeyTable::new();
    for (id, alg) in [(1, MacAlgorithm::Md5), (2, MacAlgorithm::Sha1), (3, MacAlgorithm::Aes128Cmac)] {
        if let Some(k) = SymmetricKey::new(id, alg, b"fuzzkey", true) {
            let _ = keys.insert(k);
        }
    }
    let mut server = Server::new();
    let sys = SystemVars::unsynchronized(-20);
    let mut out = [0u8; 1024];
    for i in 0..3u64 {
        let mut policy = Policy {
            access: Some(&access),
            limiter: Some(&mut limiter),
            keys: Some(&keys),
        };
        let client = Client {
            addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, selector)),
            port: u16::from(selector),
            now: Instant::from_nanos(i * 100_000_000),
        };
        if let Ok(p) = server.respond_to(&mut policy, client, packet, NtpTimestamp::ZERO, &sys, &mut out) {
            let sent = p.finish(&mut out, NtpTimestamp::from_parts(1, 2));
            assert!(sent.len() <= packet.len(), "{} > {}", sent.len(), packet.len());
        }
    }
});
