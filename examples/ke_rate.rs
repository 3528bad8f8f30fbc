//! NTS-KE handshakes per second: slewd's KE server (platform-linux `nts::KeServer`,
//! rustls + ring) beside chronyd's NTS-KE server, same run, same client (the port's
//! rustls `nts::client::exchange`, two threads, full TLS 1.3 handshake each, no
//! resumption), on loopback with an ECDSA P-256 certificate made by openssl.
//!
//! ```text
//! cargo run --release --example ke_rate [SECONDS]     # default 5 per server
//! ```
//!
//! Prints a Markdown table. Needs chronyd and openssl; nothing but loopback; chronyd
//! runs with -x (never touches the clock) and is killed at the end.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use slew_linux::server::nts::keystore::DEFAULT_ROTATION;
use slew_linux::server::nts::{
    client, tls, KeLimits, KeRequest, KeServer, KeServerConfig, KeyStore,
};

const THREADS: usize = 2;

fn openssl(dir: &Path, args: &[&str]) {
    let ok = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl")
        .success();
    assert!(ok, "openssl {args:?}");
}

fn pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut a = vec!["req", "-x509"];
    a.extend(ec);
    a.extend([
        "-subj",
        "/CN=bench CA",
        "-days",
        "2",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    a.extend(["-addext", "basicConstraints=critical,CA:TRUE"]);
    openssl(dir, &a);
    let mut a = vec!["req", "-new"];
    a.extend(ec);
    a.extend([
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    openssl(dir, &a);
    std::fs::write(
        dir.join("ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext",
            "-out",
            "server.pem",
        ],
    );
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Exchanges per second against 127.0.0.1:`port` over `secs`, and failures.
fn rate(port: u16, ca: &Path, secs: f64) -> (f64, u64) {
    let config = tls::client_config(Some(ca)).unwrap();
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let (config, ok, failed, stop) =
                (config.clone(), ok.clone(), failed.clone(), stop.clone());
            let mut req = KeRequest::new("127.0.0.1");
            req.port = port;
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match client::exchange_with(&req, config.clone()) {
                        Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                        Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    (
        ok.load(Ordering::Relaxed) as f64 / elapsed,
        failed.load(Ordering::Relaxed),
    )
}

fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let dir = std::env::temp_dir().join(format!("slew-ke-rate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (ca, cert, key) = pki(&dir);

    let slew_port = free_port();
    let mut cfg = KeServerConfig::new(cert.clone(), key.clone());
    cfg.listen = vec![SocketAddr::from(([127, 0, 0, 1], slew_port))];
    cfg.limits = KeLimits::default();
    let server = KeServer::start(&cfg, Arc::new(KeyStore::ephemeral(DEFAULT_ROTATION))).unwrap();

    let (ntp_port, chrony_port) = (free_port(), free_port());
    let conf = dir.join("chrony.conf");
    std::fs::write(
        &conf,
        format!(
            "port {ntp_port}\nbindaddress 127.0.0.1\nlocal stratum 10\nallow 127.0.0.0/8\n\
             cmdport 0\npidfile {d}/chronyd.pid\nntsserverkey {k}\nntsservercert {c}\n\
             ntsport {chrony_port}\nntsdumpdir {d}\n",
            d = dir.display(),
            k = key.display(),
            c = cert.display()
        ),
    )
    .unwrap();
    let mut chronyd = Command::new("chronyd")
        .args(["-x", "-d", "-u", "root", "-f"])
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chronyd");
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", chrony_port)).is_err() {
        assert!(Instant::now() < deadline, "chronyd does not listen");
        std::thread::sleep(Duration::from_millis(50));
    }

    println!("| NTS-KE server | handshakes/s ({THREADS} client threads, {secs} s) | failed |");
    println!("|---|---|---|");
    for (name, port) in [
        ("slewd (rustls, ring)", slew_port),
        ("chronyd (GnuTLS)", chrony_port),
    ] {
        let (r, failed) = rate(port, &ca, secs);
        println!("| {name} | {r:.0} | {failed} |");
    }
    let _ = chronyd.kill();
    let _ = chronyd.wait();
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
