//! slewd's NTS-KE (platform-linux's `nts` module, rustls) against chronyd, both ways,
//! on loopback with a CA and a server certificate the test makes with openssl:
//!
//! - client: `nts::client::exchange` against chronyd's NTS-KE server gets eight
//!   cookies and chronyd's NTP port; the exported keys are proved right by NTS NTP
//!   requests from the core's `CookieJar` that chronyd authenticates and answers, and
//!   whose answers the jar verifies. Without the test CA (system store only) the same
//!   server is refused with a message that says how to trust it.
//! - server: `nts::KeServer` with cookies sealed by a `KeyStore`, for a real
//!   `chronyd -Q` NTS client; the test answers chronyd's NTS NTP requests with
//!   slew_core's `check_request` over the same store's keys, and chronyd must measure.
//!
//! A missing chronyd or openssl fails the test; every wait is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod nts_ke_support;

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::nts::{now, server_header};
use common::*;
use nts_ke_support::*;
use slew_core::nts::jar::CookieJar;
use slew_core::nts::ke_msg::MAX_COOKIES;
use slew_core::nts::server::check_request;
use slew_core::wire::{Mode, Packet, Repr};
use slew_core::NtpTimestamp;
use slew_linux::server::nts::keystore::DEFAULT_ROTATION;
use slew_linux::server::nts::{client, KeFailure, KeRequest, KeyStore};

fn user() -> String {
    let mut c = Command::new("id");
    c.arg("-un");
    text(&run_with_timeout(c, Duration::from_secs(5)))
        .trim()
        .to_string()
}

fn start_chronyd_nts(dir: &TempDir, ntp_port: u16, ke_port: u16) -> Proc {
    let conf = dir.join("chrony.conf");
    std::fs::write(
        &conf,
        format!(
            "port {ntp_port}\nbindaddress 127.0.0.1\nlocal stratum 10\nallow 127.0.0.0/8\n\
             cmdport 0\npidfile {d}/chronyd.pid\ndriftfile {d}/chrony.drift\n\
             ntsserverkey {d}/server.key\nntsservercert {d}/server.pem\nntsport {ke_port}\n\
             ntsdumpdir {d}\n",
            d = dir.path().display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new(require("chronyd", "chrony"));
    cmd.args(["-x", "-d", "-u", &user(), "-f"]).arg(&conf);
    let p = spawn_logged(cmd, "chronyd", dir.join("chronyd.log"));
    wait_for_ntp(
        SocketAddr::from(([127, 0, 0, 1], ntp_port)),
        Duration::from_secs(10),
        &p,
    );
    // chronyd's NTS-KE helper may start a moment after the NTP socket.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", ke_port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "chronyd: no NTS-KE on {ke_port}\n{}",
            p.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    p
}

/// One NTS NTP request from `jar`; the answer must authenticate.
fn nts_exchange(jar: &mut CookieJar, server: SocketAddr, seq: u8) -> Result<usize, String> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut buf = [0u8; 1500];
    let transmit = NtpTimestamp::from_unix(1_800_000_000 + i64::from(seq), 0);
    Repr::client_request(transmit, 6).emit(&mut Packet::new_unchecked(&mut buf[..]));
    let n = jar
        .write_request(&mut buf, [seq ^ 0x3c; 32], [seq ^ 0xc3; 16])
        .unwrap();
    let mut answer = [0u8; 2048];
    for _ in 0..3 {
        socket.send_to(&buf[..n], server).unwrap();
        if let Ok((m, _)) = socket.recv_from(&mut answer) {
            let p = Packet::new_checked(&answer[..m]).map_err(|e| format!("{e:?}"))?;
            assert_eq!(p.mode(), Mode::Server);
            assert_eq!(p.origin_timestamp(), transmit);
            return jar
                .read_response(&answer[..m])
                .map_err(|e| format!("{e:?}"));
        }
    }
    Err("no answer".into())
}

#[test]
fn nts_ke_client_gets_cookies_and_keys_from_chronyd() {
    let dir = TempDir::new("ntske-chronyd");
    let (ca, _cert, _key) = make_pki(&dir);
    let (ntp_port, ke_port) = (free_port(), free_tcp_port());
    let chronyd = start_chronyd_nts(&dir, ntp_port, ke_port);

    for host in ["127.0.0.1", "localhost"] {
        let mut req = KeRequest::new(host);
        req.port = ke_port;
        req.ca_file = Some(ca.clone());
        let ok = client::exchange(&req)
            .unwrap_or_else(|e| panic!("KE with {host}: {e}\n{}", chronyd.log_text()));
        assert_eq!(ok.jar.cookies(), MAX_COOKIES, "chronyd sends eight cookies");
        // chronyd names its NTP port and no other server: the KE host it is.
        assert_eq!(ok.ntp_port, ntp_port);
        assert_eq!(ok.ntp_host, host);
        assert!(ok.ke_addr.ip().is_loopback());

        // The exported keys are right: chronyd authenticates the request (else it
        // would NAK or drop) and the jar verifies chronyd's answer with S2C.
        let mut jar = ok.jar;
        let ntp = SocketAddr::from(([127, 0, 0, 1], ok.ntp_port));
        for seq in 0..2u8 {
            assert_eq!(
                nts_exchange(&mut jar, ntp, seq),
                Ok(1),
                "{}",
                chronyd.log_text()
            );
            assert_eq!(jar.cookies(), MAX_COOKIES);
        }
    }

    // The system store does not hold the test CA: refused, and the message says how
    // to trust the server.
    let mut req = KeRequest::new("localhost");
    req.port = ke_port;
    let e = client::exchange(&req).unwrap_err();
    assert_eq!(e, KeFailure::UnknownIssuer, "{e}");
    assert!(e.to_string().contains("ca FILE"), "{e}");
}

#[test]
fn nts_ke_server_serves_chronyd_as_nts_client() {
    let dir = TempDir::new("ntske-chronyd-client");
    let (ca, cert, key) = make_pki(&dir);
    let (ntp_port, ke_port) = (free_port(), free_tcp_port());
    let ntp = UdpSocket::bind(("127.0.0.1", ntp_port)).unwrap();
    ntp.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let (store, _) = KeyStore::load_or_create(&dir.join("nts.keys"), DEFAULT_ROTATION).unwrap();
    let store = Arc::new(store);
    let server = start_ke_server(
        cert,
        key,
        vec![SocketAddr::from(([127, 0, 0, 1], ke_port))],
        test_limits(),
        None,
        store.clone(),
    );

    std::fs::create_dir_all(dir.join("dump")).unwrap();
    let conf = dir.join("client.conf");
    std::fs::write(
        &conf,
        format!(
            "server 127.0.0.1 port {ntp_port} nts ntsport {ke_port} iburst minpoll -6 maxpoll -6\n\
             ntstrustedcerts {ca}\nntsdumpdir {d}/dump\ncmdport 0\npidfile {d}/client.pid\n",
            ca = ca.display(),
            d = dir.path().display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new(require("chronyd", "chrony"));
    cmd.args(["-Q", "-d", "-t", "15", "-u", &user(), "-f"])
        .arg(&conf);
    let mut client = spawn_logged(cmd, "chronyd -Q", dir.join("client.log"));

    // NTP: answer chronyd's NTS requests, opening its cookies with the store's keys.
    let (mut verified, mut refused) = (0, Vec::new());
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut rng = 1u8;
    while Instant::now() < deadline {
        if client.child.try_wait().unwrap().is_some() {
            break;
        }
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
                let mut out = [0u8; 2048];
                server_header(req, received).emit(&mut Packet::new_unchecked(&mut out[..]));
                let n = v
                    .write_response(req, &mut out, &keys, &mut |b| {
                        for x in b {
                            rng = rng.wrapping_mul(29).wrapping_add(7);
                            *x = rng;
                        }
                    })
                    .unwrap();
                ntp.send_to(&out[..n], from).unwrap();
            }
            Err(e) => refused.push(e),
        }
    }
    let status = client.child.wait().unwrap();
    let log = client.log_text();
    let stats = server.stats();
    use std::sync::atomic::Ordering::Relaxed;
    assert!(
        stats.served.load(Relaxed) >= 1,
        "no KE served; chronyd:\n{log}"
    );
    assert_eq!(stats.failed_handshake.load(Relaxed), 0, "chronyd:\n{log}");
    assert!(refused.is_empty(), "refused {refused:?}; chronyd:\n{log}");
    assert!(verified >= 1, "no NTS request verified; chronyd:\n{log}");
    assert!(status.success(), "chronyd -Q failed:\n{log}");
    assert!(log.contains("System clock wrong by"), "chronyd:\n{log}");
    server.stop();
}
