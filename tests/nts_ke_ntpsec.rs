//! slewd's NTS-KE (rustls) against ntpsec's ntpd, both ways. ntpsec's NTS-KE port is
//! fixed at 4460 and its NTP port at 123, so each test runs in a network namespace it
//! creates (only its loopback). The KE client's keys are proved by NTS NTP answers
//! that ntpsec sends and the core's jar verifies; the KE server's cookies by ntpsec's
//! NTS requests that open with the KeyStore's keys.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod nts_ke_support;

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::nts::now;
use common::*;
use nts_ke_support::*;
use slew_core::nts::ke_msg::MAX_COOKIES;
use slew_core::nts::server::check_request;
use slew_core::wire::{Mode, Packet, Repr};
use slew_core::NtpTimestamp;
use slew_linux::server::nts::keystore::DEFAULT_ROTATION;
use slew_linux::server::nts::{client, KeRequest, KeyStore};

fn ntpsec_ntpd() -> std::path::PathBuf {
    let ntpd = root().join("target/peers/ntpsec/usr/sbin/ntpd");
    assert!(
        ntpd.exists(),
        "ntpsec's ntpd is missing at {}: run scripts/install-peers",
        ntpd.display()
    );
    ntpd
}

fn ntpd_command(ntpd: &std::path::Path, dir: &TempDir) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--bounding-set=-sys_time"])
        .arg(ntpd)
        .args(["-n", "-c"])
        .arg(dir.join("ntp.conf"))
        .arg("-l")
        .arg(dir.join("ntpd.log"));
    cmd
}

fn log(dir: &TempDir) -> String {
    std::fs::read_to_string(dir.join("ntpd.log")).unwrap_or_default()
}

#[test]
fn nts_ke_client_gets_working_keys_from_ntpsec() {
    let ntpd = ntpsec_ntpd();
    let ns = NetNs::new("ntske-ntpsec");
    let dir = TempDir::new("ntske-ntpsec");
    let (ca, cert, key) = make_pki(&dir);
    std::fs::write(
        dir.join("ntp.conf"),
        format!(
            "tos orphan 10 orphanwait 1\ndriftfile {d}/ntpd.drift\nstatsdir {d}/\n\
             nts enable\nnts cert {c}\nnts key {k}\nnts cookie {d}/nts-keys\n",
            d = dir.path().display(),
            c = cert.display(),
            k = key.display()
        ),
    )
    .unwrap();
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                ns.enter_this_thread();
                // Spawned from this thread, so inside the namespace.
                let _ntpd = spawn_logged(ntpd_command(&ntpd, &dir), "ntpd", dir.join("ntpd.out"));
                let mut req = KeRequest::new("localhost");
                req.ca_file = Some(ca.clone());
                let deadline = Instant::now() + Duration::from_secs(20);
                let ok = loop {
                    match client::exchange(&req) {
                        Ok(ok) => break ok,
                        Err(e) => {
                            assert!(Instant::now() < deadline, "{e}\nntpd log:\n{}", log(&dir));
                            std::thread::sleep(Duration::from_millis(200));
                        }
                    }
                };
                assert_eq!(ok.jar.cookies(), MAX_COOKIES, "ntpd log:\n{}", log(&dir));
                let mut jar = ok.jar;
                let server = SocketAddr::from(([127, 0, 0, 1], ok.ntp_port));
                let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
                socket
                    .set_read_timeout(Some(Duration::from_secs(2)))
                    .unwrap();
                let mut verified = 0;
                for seq in 0..10u8 {
                    let mut buf = [0u8; 1500];
                    let transmit = NtpTimestamp::from_unix(1_800_000_000 + i64::from(seq), 0);
                    Repr::client_request(transmit, 6)
                        .emit(&mut Packet::new_unchecked(&mut buf[..]));
                    if jar.needs_key_exchange().is_some() {
                        break;
                    }
                    let n = jar.write_request(&mut buf, [seq; 32], [!seq; 16]).unwrap();
                    socket.send_to(&buf[..n], server).unwrap();
                    let mut answer = [0u8; 2048];
                    if let Ok((m, _)) = socket.recv_from(&mut answer) {
                        let p = Packet::new_checked(&answer[..m]).unwrap();
                        assert_eq!(p.mode(), Mode::Server);
                        assert_eq!(p.origin_timestamp(), transmit);
                        assert_eq!(jar.read_response(&answer[..m]), Ok(1), "request {seq}");
                        verified += 1;
                        if verified == 3 {
                            break;
                        }
                    }
                }
                assert_eq!(verified, 3, "ntpd log:\n{}", log(&dir));
            })
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    });
}

#[test]
fn nts_ke_server_serves_ntpsec_as_nts_client() {
    let ntpd = ntpsec_ntpd();
    let ns = NetNs::new("ntske-ntpsec-client");
    let dir = TempDir::new("ntske-ntpsec-client");
    let (ca, cert, key) = make_pki(&dir);
    let ntp_port = 12300;
    std::fs::write(
        dir.join("ntp.conf"),
        format!(
            "server localhost nts ca {ca} iburst minpoll 3 maxpoll 3\n\
             driftfile {d}/ntpd.drift\nstatsdir {d}/\n",
            ca = ca.display(),
            d = dir.path().display()
        ),
    )
    .unwrap();
    let (verified, refused, served) = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                ns.enter_this_thread();
                let ntp = UdpSocket::bind(("127.0.0.1", ntp_port)).unwrap();
                ntp.set_read_timeout(Some(Duration::from_millis(200)))
                    .unwrap();
                let store = Arc::new(KeyStore::ephemeral(DEFAULT_ROTATION));
                let server = start_ke_server(
                    cert.clone(),
                    key.clone(),
                    vec![
                        SocketAddr::from(([127, 0, 0, 1], 4460)),
                        SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 4460)),
                    ],
                    test_limits(),
                    Some(ntp_port),
                    store.clone(),
                );
                let _ntpd = spawn_logged(ntpd_command(&ntpd, &dir), "ntpd", dir.join("ntpd.out"));
                let (mut verified, mut refused) = (0, Vec::new());
                let deadline = Instant::now() + Duration::from_secs(40);
                let mut rng = 5u8;
                while Instant::now() < deadline && verified < 2 {
                    let mut req = [0u8; 2048];
                    let Ok((len, from)) = ntp.recv_from(&mut req) else {
                        continue;
                    };
                    let received = now();
                    let req = &req[..len];
                    let keys = store.current();
                    match check_request(req, &keys) {
                        Ok(v) => {
                            verified += 1;
                            let mut repr = Repr::parse(&Packet::new_checked(req).unwrap()).unwrap();
                            repr.mode = Mode::Server;
                            repr.stratum = 1;
                            repr.precision = -20;
                            repr.ref_id = slew_core::wire::RefId::from_ascii(b"GPS\0");
                            repr.origin_timestamp = repr.transmit_timestamp;
                            repr.reference_timestamp = received;
                            repr.receive_timestamp = received;
                            repr.transmit_timestamp = now();
                            let mut out = [0u8; 2048];
                            repr.emit(&mut Packet::new_unchecked(&mut out[..]));
                            let n = v
                                .write_response(req, &mut out, &keys, &mut |b| {
                                    for x in b {
                                        rng = rng.wrapping_mul(29).wrapping_add(11);
                                        *x = rng;
                                    }
                                })
                                .unwrap();
                            ntp.send_to(&out[..n], from).unwrap();
                        }
                        Err(e) => refused.push(e),
                    }
                }
                let served = server.stats().served.load(Relaxed);
                server.stop();
                (verified, refused, served)
            })
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    });
    let log = log(&dir);
    assert!(served >= 1, "no NTS-KE served; ntpd log:\n{log}");
    assert!(refused.is_empty(), "refused {refused:?}; ntpd log:\n{log}");
    assert!(
        verified >= 2,
        "NTS requests verified: {verified}; ntpd log:\n{log}"
    );
}
