//! The port's NTS-KE client and server (rustls) against each other and against
//! hand-driven TLS peers, on loopback with certificates made by openssl: wrong
//! certificates and wrong ALPN are refused with messages that say why, a request split
//! into one TLS record per byte is still read, and the cookies the server hands out
//! seal exactly the keys both sides exported.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod nts_ke_support;

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use nts_ke_support::*;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, Connection};
use slew_core::nts::ke::RecordDecoder;
use slew_core::nts::ke_msg::{write_request, ResponseReader, MAX_COOKIES};
use slew_linux::server::nts::keystore::DEFAULT_ROTATION;
use slew_linux::server::nts::{
    client, stream, tls, KeClient, KeFailure, KeRequest, KeServer, KeyStore,
};

fn loopback(port: u16) -> Vec<SocketAddr> {
    vec![SocketAddr::from(([127, 0, 0, 1], port))]
}

fn request(host: &str, port: u16, ca: Option<&Path>) -> KeRequest {
    let mut r = KeRequest::new(host);
    r.port = port;
    r.ca_file = ca.map(Path::to_path_buf);
    r
}

fn server(dir: &TempDir, cert: &str, port: u16) -> (KeServer, Arc<KeyStore>) {
    let keys = Arc::new(KeyStore::ephemeral(DEFAULT_ROTATION));
    let s = start_ke_server(
        dir.join(&format!("{cert}.pem")),
        dir.join(&format!("{cert}.key")),
        loopback(port),
        test_limits(),
        None,
        keys.clone(),
    );
    (s, keys)
}

/// A rustls client configuration trusting `ca`, offering `alpn`.
fn raw_config(ca: &Path, alpn: &[&[u8]]) -> Arc<ClientConfig> {
    let mut cfg =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_root_certificates(tls::roots(Some(ca)).unwrap())
            .with_no_client_auth();
    cfg.alpn_protocols = alpn.iter().map(|a| a.to_vec()).collect();
    Arc::new(cfg)
}

fn raw_connect(port: u16, cfg: Arc<ClientConfig>) -> (Connection, TcpStream) {
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    (
        Connection::Client(ClientConnection::new(cfg, name).unwrap()),
        tcp,
    )
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(3)
}

#[test]
fn nts_ke_certificate_problems_are_refused_and_explained() {
    let dir = TempDir::new("ntske-certs");
    let (ca, _, _) = make_pki(&dir);
    let other_ca = make_ca(&dir, "other");
    make_server_cert(&dir, "test", "elsewhere", "DNS:elsewhere.example");
    let port = free_tcp_port();
    let (good, _) = server(&dir, "server", port);

    // The right CA: served, through the threaded client and its channel.
    let ke = KeClient::new();
    ke.spawn(7, request("localhost", port, Some(&ca))).unwrap();
    let done = ke.recv_timeout(Duration::from_secs(10)).expect("a result");
    assert_eq!(done.id, 7);
    let ok = done.result.unwrap();
    assert_eq!(ok.jar.cookies(), MAX_COOKIES);
    assert_eq!((ok.ntp_host.as_str(), ok.ntp_port), ("localhost", 123));
    assert!(ke.try_recv().is_none());

    // A CA that did not sign it, and the system store: unknown issuer, with the fix.
    for ca_file in [Some(other_ca.as_path()), None] {
        let e = client::exchange(&request("localhost", port, ca_file)).unwrap_err();
        assert_eq!(e, KeFailure::UnknownIssuer);
        assert!(e.to_string().contains("`ca FILE`"), "{e}");
    }
    good.stop();

    // A certificate for another name.
    let (wrong_name, _) = server(&dir, "elsewhere", port);
    let e = client::exchange(&request("localhost", port, Some(&ca))).unwrap_err();
    assert_eq!(e, KeFailure::NameMismatch, "{e}");
    assert!(e.to_string().contains("not valid for the name"), "{e}");
    wrong_name.stop();

    // Nobody listening.
    let e = client::exchange(&request("127.0.0.1", port, Some(&ca))).unwrap_err();
    assert_eq!(e, KeFailure::Refused, "{e}");
}

#[test]
fn nts_ke_wrong_alpn_is_refused_both_ways() {
    let dir = TempDir::new("ntske-alpn");
    let (ca, _, _) = make_pki(&dir);
    let port = free_tcp_port();
    let (srv, _) = server(&dir, "server", port);

    // A client offering another protocol: the server's TLS refuses it.
    let (mut conn, mut tcp) = raw_connect(port, raw_config(&ca, &[b"http/1.1"]));
    let e = stream::handshake(&mut conn, &mut tcp, soon()).unwrap_err();
    assert_eq!(KeFailure::from_io(&e, "handshake"), KeFailure::Alpn, "{e}");

    // A client offering no ALPN: TLS completes, the server closes without answering.
    let (mut conn, mut tcp) = raw_connect(port, raw_config(&ca, &[]));
    stream::handshake(&mut conn, &mut tcp, soon()).unwrap();
    let mut buf = [0u8; 64];
    let n = write_request(&mut buf).unwrap();
    let _ = stream::write_plain(&mut conn, &mut tcp, soon(), &buf[..n]);
    let r = stream::read_plain(&mut conn, &mut tcp, soon(), &mut buf);
    assert!(
        matches!(r, Ok(0) | Err(_)),
        "no answer without ntske/1: {r:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(2);
    while srv.stats().failed_handshake.load(Relaxed) < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(srv.stats().failed_handshake.load(Relaxed), 2);
    assert_eq!(srv.stats().served.load(Relaxed), 0);
    srv.stop();

    // Our client against a TLS server that does not speak ntske/1.
    let openssl = require("openssl", "openssl");
    let mut s_server = Command::new(openssl)
        .args(["s_server", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-cert")
        .arg(dir.join("server.pem"))
        .arg("-key")
        .arg(dir.join("server.key"))
        .args(["-alpn", "h2", "-tls1_3", "-quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "openssl s_server does not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let e = client::exchange(&request("localhost", port, Some(&ca))).unwrap_err();
    let _ = s_server.kill();
    let _ = s_server.wait();
    assert_eq!(e, KeFailure::Alpn, "{e}");
    assert!(e.to_string().contains("ntske/1"), "{e}");
}

#[test]
fn nts_ke_request_split_one_byte_per_tls_record_is_served() {
    let dir = TempDir::new("ntske-split");
    let (ca, _, _) = make_pki(&dir);
    let port = free_tcp_port();
    let (srv, keys) = server(&dir, "server", port);

    let (mut conn, mut tcp) = raw_connect(port, raw_config(&ca, &[b"ntske/1"]));
    stream::handshake(&mut conn, &mut tcp, soon()).unwrap();
    let mut req = [0u8; 64];
    let n = write_request(&mut req).unwrap();
    // Each write becomes its own TLS record; flush each so they travel apart.
    for b in &req[..n] {
        stream::write_plain(&mut conn, &mut tcp, soon(), std::slice::from_ref(b)).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    let mut decoder = RecordDecoder::new();
    let mut reader = ResponseReader::new();
    let mut buf = [0u8; 4096];
    loop {
        let m = stream::read_plain(&mut conn, &mut tcp, soon(), &mut buf).unwrap();
        if m == 0 || reader.feed(&mut decoder, &buf[..m]).unwrap() {
            break;
        }
    }
    let outcome = reader.finish().unwrap();
    assert_eq!(outcome.cookies.len(), MAX_COOKIES);
    // Every cookie seals the keys this client exported from the session.
    let exported = client::export_keys(&conn).unwrap();
    for c in &outcome.cookies {
        assert_eq!(keys.current().open(c).unwrap(), exported);
    }
    assert_eq!(srv.stats().served.load(Relaxed), 1);
    srv.stop();
}
