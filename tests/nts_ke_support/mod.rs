//! Shared by the nts_ke_* tests: a test PKI made with the openssl CLI (a CA, a server
//! certificate it signs for localhost/127.0.0.1/::1, and odd ones for the refusal
//! tests), and the port's NTS-KE server started on loopback.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use slew_linux::server::nts::{KeLimits, KeServer, KeServerConfig, KeyStore};

use super::common::{require, run_with_timeout, text, TempDir};

fn openssl(args: &[&str], dir: &TempDir) {
    let mut c = Command::new(require("openssl", "openssl"));
    c.current_dir(dir.path()).args(args);
    let out = run_with_timeout(c, Duration::from_secs(20));
    assert!(out.status.success(), "openssl {args:?}: {}", text(&out));
}

/// A CA `NAME-ca.pem` (key `NAME-ca.key`) in `dir`.
pub fn make_ca(dir: &TempDir, name: &str) -> PathBuf {
    let (cert, key) = (format!("{name}-ca.pem"), format!("{name}-ca.key"));
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            &format!("/CN={name} test CA"),
            "-days",
            "2",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout",
            &key,
            "-out",
            &cert,
        ],
        dir,
    );
    dir.join(&cert)
}

/// A server certificate `NAME.pem` / key `NAME.key` signed by CA `ca`, for `san`
/// (openssl's subjectAltName syntax). Returns (cert, key).
pub fn make_server_cert(dir: &TempDir, ca: &str, name: &str, san: &str) -> (PathBuf, PathBuf) {
    let (cert, key, csr, ext) = (
        format!("{name}.pem"),
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.ext"),
    );
    std::fs::write(
        dir.join(&ext),
        format!("subjectAltName={san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"),
    )
    .unwrap();
    openssl(
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            &key,
            "-out",
            &csr,
        ],
        dir,
    );
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &format!("{ca}-ca.pem"),
            "-CAkey",
            &format!("{ca}-ca.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &ext,
            "-out",
            &cert,
        ],
        dir,
    );
    (dir.join(&cert), dir.join(&key))
}

/// The usual PKI: CA "test" and its server certificate "server" for
/// localhost, 127.0.0.1 and ::1. Returns (ca, cert, key).
pub fn make_pki(dir: &TempDir) -> (PathBuf, PathBuf, PathBuf) {
    let ca = make_ca(dir, "test");
    let (cert, key) = make_server_cert(dir, "test", "server", "DNS:localhost,IP:127.0.0.1,IP:::1");
    (ca, cert, key)
}

/// Short limits so the bounds are seen within seconds.
pub fn test_limits() -> KeLimits {
    KeLimits {
        max_connections: 12,
        per_address: 8,
        handshake_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(1),
    }
}

/// The port's NTS-KE server on `listen` with `cert`/`key`.
pub fn start_ke_server(
    cert: PathBuf,
    key: PathBuf,
    listen: Vec<SocketAddr>,
    limits: KeLimits,
    ntp_port: Option<u16>,
    keys: Arc<KeyStore>,
) -> KeServer {
    let mut cfg = KeServerConfig::new(cert, key);
    cfg.listen = listen;
    cfg.limits = limits;
    cfg.ntp_port = ntp_port;
    KeServer::start(&cfg, keys).expect("start the NTS-KE server")
}

/// A free TCP port on loopback (bound, read, released).
pub fn free_tcp_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
