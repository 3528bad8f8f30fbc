//! slew-core's NTS building blocks against a real chronyd, on loopback, before any of
//! it is wired into slewd. As a client, against chronyd's NTS server:
//!
//! - NTS-KE: `openssl s_client` (TLS 1.3, ALPN `ntske/1`) carries the request that
//!   `ke_msg::write_request` wrote, and the response goes through the incremental
//!   `RecordDecoder` + `ResponseReader` in small chunks;
//! - keys: the TLS exporter (RFC 8446 §7.5) computed from the session's
//!   `EXPORTER_SECRET` (openssl's `-keylogfile`) with the RFC 8915 §5.1 label and
//!   context, HKDF-SHA256 done by python3's hashlib (the workspace has no SHA-256);
//! - NTP: `CookieJar` requests that chronyd must authenticate, answers that the jar
//!   must verify and refill from, and a request with a damaged cookie that chronyd
//!   must NAK (and the jar must take as "re-key").
//!
//! The same client checks against ntpsec's ntpd as NTS server (ports 123 and 4460
//! fixed, so in a network namespace); ntpsec 1.2.2 drops a request with a damaged
//! cookie instead of NAKing it, which the test allows (an answer must be a NAK).
//!
//! As a server, for a real `chronyd -Q` NTS client: `openssl s_server` terminates TLS,
//! `RecordDecoder` + `RequestReader` read chronyd's request, `write_accept` answers
//! with eight cookies sealed by `CookieKeys` over the exported keys, and
//! `check_request` + `write_response` answer the NTS requests; chronyd must measure.
//!
//! And for ntpsec's ntpd as NTS client (in a namespace): it must take our NTS-KE
//! answer and then send a cookie that came from one of our NTP answers, which it only
//! has if it verified and decrypted that answer.
//!
//! A missing chronyd, ntpsec, openssl or python3 fails the test; every wait is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{ChildStdin, ChildStdout, Command};
use std::time::{Duration, Instant};

use common::ntpsec::spawn_ntpsec_ntpd;
use common::nts::{
    current_user, exporter_secret, key_exchange, make_cert, now, server_header, session_keys,
    start_chronyd_nts, start_s_server,
};
use common::{free_port, require, spawn_logged, NetNs, TempDir};
use slew_core::nts::cookie::{CookieKeys, COOKIE_LEN};
use slew_core::nts::ext::{NtsFields, NTS_COOKIE};
use slew_core::nts::jar::{CookieJar, RekeyReason, ResponseError};
use slew_core::nts::ke::{Feed, RecordDecoder};
use slew_core::nts::ke_msg::{write_accept, RequestOutcome, RequestReader, MAX_COOKIES};
use slew_core::wire::{Mode, Packet, Repr, HEADER_LEN};
use slew_core::NtpTimestamp;

/// Sends `request`, returns the first answer within 2 s (three tries).
fn exchange(socket: &UdpSocket, server: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut buf = [0u8; 2048];
    for _ in 0..3 {
        socket.send_to(request, server).expect("send");
        if let Ok((n, _)) = socket.recv_from(&mut buf) {
            return buf[..n].to_vec();
        }
    }
    panic!("no answer from {server}");
}

fn nts_request(jar: &mut CookieJar, seq: u8) -> (Vec<u8>, NtpTimestamp) {
    let mut buf = [0u8; 1500];
    let transmit = NtpTimestamp::from_unix(1_800_000_000 + i64::from(seq), 0);
    Repr::client_request(transmit, 6).emit(&mut Packet::new_unchecked(&mut buf[..]));
    let uid = [seq.wrapping_mul(37) ^ 0x5a; 32];
    let nonce = [seq ^ 0xa5; 16];
    let n = jar.write_request(&mut buf, uid, nonce).unwrap();
    (buf[..n].to_vec(), transmit)
}

/// Our NTS-KE server's half of one exchange, over `openssl s_server`'s plaintext:
/// reads the client's request from `tls_out` through slew-core's decoder (it must
/// accept), then answers on `tls_in` with eight cookies that `master` seals (nonces
/// `[i; 16]`) over the keys exported from this TLS session (its secret from
/// `keylog`), naming `ntp_port`. `peer` names the client in failure messages and
/// `early_log` gives what to add when TLS closes before the request ended.
fn answer_ke(
    tls_out: &mut ChildStdout,
    tls_in: &mut ChildStdin,
    keylog: &Path,
    master: &CookieKeys,
    ntp_port: u16,
    peer: &str,
    early_log: impl Fn() -> String,
) {
    let mut decoder = RecordDecoder::new();
    let mut reader = RequestReader::new();
    let mut buf = [0u8; 256];
    while !reader.ended() {
        let n = tls_out.read(&mut buf).expect("read the KE request");
        assert!(n > 0, "TLS closed early{}", early_log());
        let mut piece = &buf[..n];
        while let Feed::Ready { consumed } = decoder
            .feed(piece)
            .unwrap_or_else(|e| panic!("{peer}'s request: {e:?}"))
        {
            reader.record(decoder.record().unwrap());
            piece = &piece[consumed..];
        }
    }
    assert_eq!(reader.finish(), RequestOutcome::Accept);
    let secret = exporter_secret(&std::fs::read_to_string(keylog).unwrap())
        .expect("EXPORTER_SECRET in the keylog");
    let session = session_keys(&secret);
    let cookies: Vec<[u8; COOKIE_LEN]> = (0..MAX_COOKIES as u8)
        .map(|i| {
            let mut c = [0u8; COOKIE_LEN];
            master.seal(&session, &[i; 16], &mut c).unwrap();
            c
        })
        .collect();
    let mut response = [0u8; 2048];
    let n = write_accept(
        &mut response,
        cookies.iter().map(|c| &c[..]),
        None,
        Some(ntp_port),
    )
    .unwrap();
    tls_in.write_all(&response[..n]).unwrap();
    tls_in.flush().unwrap();
}

#[test]
fn chronyd_nts_server_accepts_slew_core_nts_requests() {
    let dir = TempDir::new("nts-chronyd");
    make_cert(&dir);
    let (ntp_port, ke_port) = (free_port(), free_port());
    let chronyd = start_chronyd_nts(&dir, ntp_port, ke_port);

    let (outcome, keys) = key_exchange(&dir, ke_port);
    assert_eq!(
        outcome.cookies.len(),
        MAX_COOKIES,
        "chronyd sends eight cookies"
    );
    // chronyd names its NTP port; no other server.
    assert_eq!(outcome.port, Some(ntp_port));
    assert_eq!(outcome.server, None);
    let server = SocketAddr::from(([127, 0, 0, 1], outcome.port.unwrap()));
    let mut jar = CookieJar::new(keys, &outcome);

    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();

    // Three requests; each answer authenticates and refills the jar to eight.
    for seq in 0..3u8 {
        let (request, transmit) = nts_request(&mut jar, seq);
        let answer = exchange(&socket, server, &request);
        let p = Packet::new_checked(&answer[..]).expect("an NTP packet");
        assert_eq!(p.mode(), Mode::Server);
        assert_eq!(p.origin_timestamp(), transmit);
        assert_ne!(p.stratum(), 0, "not a kiss; log:\n{}", chronyd.log_text());
        assert!(answer.len() <= request.len(), "no amplification");
        assert_eq!(jar.read_response(&answer), Ok(1), "request {seq}");
        assert_eq!(jar.cookies(), MAX_COOKIES);
        // A replay of the same answer is refused.
        assert_eq!(jar.read_response(&answer), Err(ResponseError::NotWaiting));
    }

    // Three lost answers: the next request carries three placeholders and gets four
    // cookies back.
    for seq in 3..6u8 {
        let _ = nts_request(&mut jar, seq);
    }
    let (request, _) = nts_request(&mut jar, 6);
    assert_eq!(NtsFields::parse(&request).unwrap().placeholders, 3);
    let answer = exchange(&socket, server, &request);
    assert_eq!(jar.read_response(&answer), Ok(4));
    assert_eq!(jar.cookies(), MAX_COOKIES);

    // A damaged cookie: chronyd cannot open it and sends an NTS NAK, which the jar
    // takes as "re-key".
    let (mut request, _) = nts_request(&mut jar, 7);
    let fields = NtsFields::parse(&request).unwrap();
    let cookie = fields.cookie.unwrap();
    let cookie_at = cookie.as_ptr() as usize - request.as_ptr() as usize;
    assert_eq!(
        u16::from_be_bytes([request[cookie_at - 4], request[cookie_at - 3]]),
        NTS_COOKIE
    );
    request[cookie_at + 40] ^= 0x01;
    let answer = exchange(&socket, server, &request);
    let p = Packet::new_checked(&answer[..]).unwrap();
    assert_eq!((p.stratum(), &p.ref_id().to_bytes()), (0, b"NTSN"));
    assert!(answer.len() > HEADER_LEN, "the unique id is echoed");
    assert_eq!(jar.read_response(&answer), Err(ResponseError::Nak));
    assert_eq!(jar.needs_key_exchange(), Some(RekeyReason::Nak));

    // A fresh NTS-KE gives a working jar again.
    let (outcome, keys) = key_exchange(&dir, ke_port);
    let mut jar = CookieJar::new(keys, &outcome);
    let (request, _) = nts_request(&mut jar, 8);
    let answer = exchange(&socket, server, &request);
    assert_eq!(jar.read_response(&answer), Ok(1));
}

#[test]
fn chronyd_nts_client_accepts_slew_core_nts_server() {
    use slew_core::nts::aead::AeadKey;
    use slew_core::nts::cookie::MasterKey;
    use slew_core::nts::server::check_request;

    let dir = TempDir::new("nts-chronyd-client");
    make_cert(&dir);
    let (ntp_port, ke_port) = (free_port(), free_port());
    let ntp = UdpSocket::bind(("127.0.0.1", ntp_port)).unwrap();
    ntp.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();

    // The TLS side of our NTS-KE server: openssl s_server relays the plaintext.
    let keylog = dir.join("keylog");
    let mut tls = start_s_server(&dir, ke_port, &keylog);
    let mut tls_in = tls.stdin.take().unwrap();
    let mut tls_out = tls.stdout.take().unwrap();

    // A real chronyd client: measure us once, with NTS, without touching the clock.
    std::fs::create_dir_all(dir.join("dump")).unwrap();
    let conf = dir.join("client.conf");
    std::fs::write(
        &conf,
        format!(
            "server 127.0.0.1 port {ntp_port} nts ntsport {ke_port} iburst minpoll -6 maxpoll -6\n\
             ntstrustedcerts {d}/cert.pem\nntsdumpdir {d}/dump\ncmdport 0\npidfile {d}/client.pid\n",
            d = dir.path().display()
        ),
    )
    .unwrap();
    let user = current_user();
    let mut cmd = Command::new(require("chronyd", "chrony"));
    cmd.args(["-Q", "-d", "-t", "15", "-u", &user, "-f"])
        .arg(&conf);
    let mut client = spawn_logged(cmd, "chronyd -Q", dir.join("client.log"));

    // NTS-KE: read chronyd's request through the decoder, answer with eight cookies
    // sealing the keys exported from this TLS session.
    let master = CookieKeys::new(MasterKey {
        id: 0x51e3,
        key: AeadKey::new([0x6b; 32]),
    });
    answer_ke(
        &mut tls_out,
        &mut tls_in,
        &keylog,
        &master,
        ntp_port,
        "chronyd",
        || format!("; chronyd: {}", client.log_text()),
    );

    // NTP: answer chronyd's NTS requests until it has its measurement.
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
        match check_request(req, &master) {
            Ok(v) => {
                verified += 1;
                let mut out = [0u8; 2048];
                server_header(req, received).emit(&mut Packet::new_unchecked(&mut out[..]));
                let n = v
                    .write_response(req, &mut out, &master, &mut |b| {
                        for x in b {
                            rng = rng.wrapping_mul(29).wrapping_add(7);
                            *x = rng;
                        }
                    })
                    .unwrap();
                assert!(n <= len);
                ntp.send_to(&out[..n], from).unwrap();
            }
            Err(e) => refused.push(e),
        }
    }
    let status = client.child.wait().unwrap();
    let _ = tls.kill();
    let _ = tls.wait();
    let log = client.log_text();
    assert!(refused.is_empty(), "refused {refused:?}; chronyd:\n{log}");
    assert!(verified >= 1, "no NTS request verified; chronyd:\n{log}");
    assert!(status.success(), "chronyd -Q failed:\n{log}");
    assert!(log.contains("System clock wrong by"), "chronyd:\n{log}");
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port` (in the
/// calling thread's namespace); `log` is the listener's log, for the failure message.
fn wait_for_tcp(port: u16, log: &std::path::Path) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nothing listens on {port}; log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn ntpsec_nts_server_accepts_slew_core_nts_requests() {
    let ns = NetNs::new("nts-ntpsec");
    let dir = TempDir::new("nts-ntpsec");
    make_cert(&dir);
    // ntpsec serves NTP on 123 and NTS-KE on 4460 only: in our namespace, without
    // CAP_SYS_TIME, in orphan mode (it answers from its own clock).
    std::fs::write(
        dir.join("ntp.conf"),
        format!(
            "tos orphan 10 orphanwait 1\ndriftfile {d}/ntpd.drift\nstatsdir {d}/\n\
             nts enable\nnts cert {d}/cert.pem\nnts key {d}/key.pem\nnts cookie {d}/nts-keys\n",
            d = dir.path().display()
        ),
    )
    .unwrap();
    let ntpd = spawn_ntpsec_ntpd(ns.command("setpriv"), &dir);

    // Sockets and the TLS client must live in the namespace: do it all in a thread
    // that entered it.
    let log = dir.join("ntpd.log");
    let (cookies, cookie_len, results, nak) = std::thread::scope(|scope| {
        scope
            .spawn(|| in_namespace(&ns, &log))
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    });
    let log = std::fs::read_to_string(dir.join("ntpd.log")).unwrap_or_default();
    assert_eq!(cookies, MAX_COOKIES, "ntpd log:\n{log}");
    eprintln!("ntpsec cookies: {cookies} of {cookie_len} bytes");
    for (i, r) in results.iter().enumerate() {
        assert_eq!(*r, Ok(1), "request {i}; ntpd log:\n{log}");
    }
    // ntpsec 1.2.2 drops a request whose cookie does not open rather than NAK it
    // (RFC 8915 §5.7 says SHOULD NAK); if it answers, the answer must be a NAK the
    // jar takes as "re-key".
    if let Some((nak, verdict)) = nak {
        let p = Packet::new_checked(&nak[..]).unwrap();
        assert_eq!((p.stratum(), &p.ref_id().to_bytes()), (0, b"NTSN"));
        assert_eq!(verdict, Err(ResponseError::Nak));
    }
    drop(ntpd);
}

/// What [`ntpsec_nts_server_accepts_slew_core_nts_requests`] measures: (cookies, first
/// cookie's length, the verdicts on three answers, the answer to a damaged cookie).
type NtpsecRun = (
    usize,
    usize,
    Vec<Result<usize, ResponseError>>,
    Option<(Vec<u8>, Result<usize, ResponseError>)>,
);

/// The client side of the ntpsec test, run in a thread that entered `ns`.
fn in_namespace(ns: &NetNs, log: &std::path::Path) -> NtpsecRun {
    ns.enter_this_thread();
    wait_for_tcp(4460, log);
    let tmp = TempDir::new("nts-ntpsec-ke");
    let (outcome, keys) = key_exchange(&tmp, 4460);
    assert!(!outcome.cookies.is_empty());
    let server = SocketAddr::from(([127, 0, 0, 1], outcome.port.unwrap_or(123)));
    let mut jar = CookieJar::new(keys, &outcome);
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut results = Vec::new();
    for seq in 0..3u8 {
        let (request, transmit) = nts_request(&mut jar, seq);
        let answer = exchange(&socket, server, &request);
        let p = Packet::new_checked(&answer[..]).expect("an NTP packet");
        assert_eq!(p.mode(), Mode::Server);
        assert_eq!(p.origin_timestamp(), transmit);
        results.push(jar.read_response(&answer));
    }
    // A damaged cookie.
    let (mut request, _) = nts_request(&mut jar, 9);
    let cookie = NtsFields::parse(&request).unwrap().cookie.unwrap();
    let cookie_at = cookie.as_ptr() as usize - request.as_ptr() as usize;
    request[cookie_at + 40] ^= 0x01;
    let mut buf = [0u8; 2048];
    socket.send_to(&request, server).unwrap();
    let nak = socket
        .recv_from(&mut buf)
        .ok()
        .map(|(n, _)| (buf[..n].to_vec(), jar.read_response(&buf[..n])));
    (
        outcome.cookies.len(),
        outcome.cookies[0].len(),
        results,
        nak,
    )
}

#[test]
fn ntpsec_nts_client_accepts_slew_core_nts_server() {
    let ns = NetNs::new("nts-ntpsec-client");
    let dir = TempDir::new("nts-ntpsec-client");
    make_cert(&dir);
    let outcome = std::thread::scope(|scope| {
        scope
            .spawn(|| serve_ntpsec_client(&ns, &dir))
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    });
    let (verified, refused, renewed) = outcome;
    let log = std::fs::read_to_string(dir.join("ntpd.log")).unwrap_or_default();
    assert!(refused.is_empty(), "refused {refused:?}; ntpd log:\n{log}");
    assert!(verified >= 1, "no NTS request verified; ntpd log:\n{log}");
    // ntpsec only has cookies from our NTP answers if it decrypted and accepted them.
    assert!(
        renewed,
        "ntpsec never sent a cookie from our answers ({verified} requests); ntpd log:\n{log}"
    );
}

/// Our NTS-KE (through s_server) and NTS-NTP server for an ntpsec client, all in
/// `ns`. Returns (requests verified, requests refused, whether a verified request
/// carried a cookie from one of our NTP answers rather than from NTS-KE).
fn serve_ntpsec_client(
    ns: &NetNs,
    dir: &TempDir,
) -> (usize, Vec<slew_core::nts::server::RequestError>, bool) {
    use slew_core::nts::aead::AeadKey;
    use slew_core::nts::cookie::MasterKey;
    use slew_core::nts::server::check_request;

    ns.enter_this_thread();
    let ntp_port = 12300;
    let ntp = UdpSocket::bind(("127.0.0.1", ntp_port)).unwrap();
    ntp.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let keylog = dir.join("keylog");
    let mut tls = start_s_server(dir, 4460, &keylog);
    let mut tls_in = tls.stdin.take().unwrap();
    let mut tls_out = tls.stdout.take().unwrap();

    std::fs::write(
        dir.join("ntp.conf"),
        format!(
            "server 127.0.0.1 nts ca {d}/cert.pem iburst minpoll 3 maxpoll 3\n\
             driftfile {d}/ntpd.drift\nstatsdir {d}/\n",
            d = dir.path().display()
        ),
    )
    .unwrap();
    let _ntpd = spawn_ntpsec_ntpd(Command::new("setpriv"), dir);

    let master = CookieKeys::new(MasterKey {
        id: 7,
        key: AeadKey::new([0x3c; 32]),
    });
    answer_ke(
        &mut tls_out,
        &mut tls_in,
        &keylog,
        &master,
        ntp_port,
        "ntpsec",
        String::new,
    );
    // ntpsec closes its side after End of Message; so do we.
    drop(tls_in);

    let (mut verified, mut refused, mut renewed) = (0, Vec::new(), false);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut rng = 3u8;
    while Instant::now() < deadline && !renewed {
        let mut req = [0u8; 2048];
        if let Ok((len, from)) = ntp.recv_from(&mut req) {
            let received = now();
            let req = &req[..len];
            match check_request(req, &master) {
                Ok(v) => {
                    verified += 1;
                    // The KE cookies have nonces [i; 16]; ours in answers are random.
                    let cookie = NtsFields::parse(req).unwrap().cookie.unwrap();
                    renewed |= !(0..MAX_COOKIES as u8).any(|i| cookie[4..20] == [i; 16]);
                    let mut out = [0u8; 2048];
                    server_header(req, received).emit(&mut Packet::new_unchecked(&mut out[..]));
                    let n = v
                        .write_response(req, &mut out, &master, &mut |b| {
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
    }
    let _ = tls.kill();
    let _ = tls.wait();
    (verified, refused, renewed)
}
