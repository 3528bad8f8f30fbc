//! NTS scaffolding for the interop tests: certificates, chronyd as NTS server, and
//! NTS-KE over `openssl` (`s_client` as client, `s_server` as the TLS side of a
//! server) with the TLS exporter computed outside the code under test.
//!
//! Everything listens on 127.0.0.1 (or inside a namespace the caller entered); a
//! missing chronyd, openssl or python3 fails the test; every wait is bounded.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use slew_core::nts::ke::RecordDecoder;
use slew_core::nts::ke_msg::{
    exporter_context, write_request, Direction, KeOutcome, ResponseReader, EXPORTER_LABEL,
};
use slew_core::nts::SessionKeys;

use super::{require, run_with_timeout, spawn_logged, text, wait_for_ntp, Proc, TempDir};

/// The TLS of NTS-KE as `openssl s_client`/`s_server` take it (RFC 8915 §4: TLS 1.3,
/// ALPN `ntske/1`; AES-128-GCM so that every run exports the same way), quiet, and
/// ending in `-keylogfile` so that the keylog path comes next.
const NTS_KE_TLS_ARGS: [&str; 7] = [
    "-alpn",
    "ntske/1",
    "-tls1_3",
    "-ciphersuites",
    "TLS_AES_128_GCM_SHA256",
    "-quiet",
    "-keylogfile",
];

/// A self-signed certificate for 127.0.0.1 (and DNS name `localhost`) with its EC
/// P-256 key, made by `openssl req`: `dir`/cert.pem and `dir`/key.pem, valid for two
/// days. Both an NTS server's certificate and the trust anchor its clients are given.
pub fn make_cert(dir: &TempDir) {
    let openssl = require("openssl", "openssl");
    let out = run_with_timeout(
        {
            let mut c = Command::new(openssl);
            c.args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-days",
                "2",
                "-keyout",
            ])
            .arg(dir.join("key.pem"))
            .arg("-out")
            .arg(dir.join("cert.pem"));
            c
        },
        Duration::from_secs(20),
    );
    assert!(out.status.success(), "openssl req: {}", text(&out));
}

/// The name of the user the tests run as (`id -un`), for daemons' `-u`.
pub fn current_user() -> String {
    let user = text(&run_with_timeout(
        {
            let mut c = Command::new("id");
            c.arg("-un");
            c
        },
        Duration::from_secs(5),
    ));
    user.trim().to_owned()
}

/// chronyd as NTS server on loopback: NTP on 127.0.0.1:`ntp_port`, NTS-KE on
/// `ke_port`, local stratum 10, never touching the clock (`-x`). It uses the
/// certificate and key [`make_cert`] put in `dir` (its config, log, pid, drift and NTS
/// dump go there too) and runs as the current user so that it can read the key.
/// Returns once it answers NTP.
pub fn start_chronyd_nts(dir: &TempDir, ntp_port: u16, ke_port: u16) -> Proc {
    let chronyd = require("chronyd", "chrony");
    let user = current_user();
    let conf = dir.join("chrony.conf");
    std::fs::write(
        &conf,
        format!(
            "port {ntp_port}\nbindaddress 127.0.0.1\nlocal stratum 10\nallow 127.0.0.0/8\n\
             cmdport 0\npidfile {d}/chronyd.pid\ndriftfile {d}/chrony.drift\n\
             ntsserverkey {d}/key.pem\nntsservercert {d}/cert.pem\nntsport {ke_port}\n\
             ntsdumpdir {d}\n",
            d = dir.path().display()
        ),
    )
    .expect("write chrony.conf");
    let mut cmd = Command::new(chronyd);
    cmd.args(["-x", "-d", "-u", &user, "-f"]).arg(&conf);
    let p = spawn_logged(cmd, "chronyd", dir.join("chronyd.log"));
    wait_for_ntp(
        SocketAddr::from(([127, 0, 0, 1], ntp_port)),
        Duration::from_secs(10),
        &p,
    );
    p
}

/// One NTS-KE exchange as client through `openssl s_client` (TLS 1.3, ALPN
/// `ntske/1`, AES-128-GCM) to 127.0.0.1:`ke_port`: sends `request`, returns (the
/// server's response bytes, the session's exporter secret in hex from the keylog in
/// `dir`). Retries for up to 10 s while the server is not ready.
pub fn ke_over_tls(dir: &TempDir, ke_port: u16, request: &[u8]) -> (Vec<u8>, String) {
    let openssl = require("openssl", "openssl");
    let keylog = dir.join("keylog");
    let _ = std::fs::remove_file(&keylog);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut child = Command::new(&openssl)
            .args(["s_client", "-connect"])
            .arg(format!("127.0.0.1:{ke_port}"))
            .args(NTS_KE_TLS_ARGS)
            .arg(&keylog)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start openssl s_client");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(request)
            .expect("write the KE request");
        // chronyd closes the connection after End of Message; s_client then exits.
        let started = Instant::now();
        while child.try_wait().expect("wait").is_none() {
            if started.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                panic!("openssl s_client did not finish");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().expect("s_client output");
        let secret = exporter_secret(&std::fs::read_to_string(&keylog).unwrap_or_default());
        match secret {
            Some(s) if !out.stdout.is_empty() => return (out.stdout, s),
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(200)),
            _ => panic!(
                "NTS-KE over TLS failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }
}

/// The `EXPORTER_SECRET` (hex) of a TLS 1.3 keylog (`openssl -keylogfile`), if any.
pub fn exporter_secret(keylog: &str) -> Option<String> {
    keylog
        .lines()
        .find_map(|l| l.strip_prefix("EXPORTER_SECRET "))
        .and_then(|rest| rest.split_whitespace().nth(1))
        .map(str::to_owned)
}

/// TLS 1.3 exporter (RFC 8446 §7.5) with SHA-256 and the NTS label (RFC 8915 §5.1): HKDF-Expand-Label of the exporter
/// secret, computed by python3.
pub fn export_key(secret_hex: &str, context: &[u8]) -> [u8; 32] {
    let python = require("python3", "python3");
    let script = r#"
import hashlib, hmac, sys
def expand_label(secret, label, ctx, n):
    full = b"tls13 " + label
    info = n.to_bytes(2, "big") + bytes([len(full)]) + full + bytes([len(ctx)]) + ctx
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac.new(secret, t + info + bytes([i]), hashlib.sha256).digest()
        out, i = out + t, i + 1
    return out[:n]
secret = bytes.fromhex(sys.argv[1])
label = sys.argv[2].encode()
ctx = bytes.fromhex(sys.argv[3])
derived = expand_label(secret, label, hashlib.sha256(b"").digest(), 32)
print(expand_label(derived, b"exporter", hashlib.sha256(ctx).digest(), 32).hex())
"#;
    let ctx_hex: String = context.iter().map(|b| format!("{b:02x}")).collect();
    let out = run_with_timeout(
        {
            let mut c = Command::new(python);
            c.args(["-c", script, secret_hex, EXPORTER_LABEL, &ctx_hex]);
            c
        },
        Duration::from_secs(10),
    );
    assert!(out.status.success(), "python3 exporter: {}", text(&out));
    let hex = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let mut key = [0u8; 32];
    for (i, b) in key.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex");
    }
    key
}

/// The NTS session keys (RFC 8915 §5.1: C2S and S2C) exported from a TLS session's
/// exporter secret.
pub fn session_keys(secret_hex: &str) -> SessionKeys {
    SessionKeys::from_slices(
        &export_key(secret_hex, &exporter_context(Direction::ClientToServer)),
        &export_key(secret_hex, &exporter_context(Direction::ServerToClient)),
    )
}

/// Runs NTS-KE as client against the server on 127.0.0.1:`ke_port` ([`ke_over_tls`]
/// with slew-core's request, its response read by slew-core's incremental decoder
/// in 7-byte pieces); returns the outcome and the exported session keys.
pub fn key_exchange(dir: &TempDir, ke_port: u16) -> (KeOutcome, SessionKeys) {
    let mut request = [0u8; 64];
    let n = write_request(&mut request).unwrap();
    let (response, secret) = ke_over_tls(dir, ke_port, &request[..n]);
    // Through the incremental decoder in 7-byte pieces: records straddle the pieces.
    let mut decoder = RecordDecoder::new();
    let mut reader = ResponseReader::new();
    let mut ended = false;
    for piece in response.chunks(7) {
        ended = reader
            .feed(&mut decoder, piece)
            .expect("the server's KE response");
    }
    assert!(ended, "End of Message");
    let outcome = reader.finish().expect("a usable KE response");
    (outcome, session_keys(&secret))
}

/// `openssl s_server` on 127.0.0.1:`port` (TLS 1.3, ALPN `ntske/1`) with the
/// certificate and key [`make_cert`] put in `dir`, relaying the plaintext over its
/// stdin/stdout, logging its secrets to `keylog` (read them with
/// [`exporter_secret`]); returns once it accepts connections (probes that send
/// nothing do not disturb it). The caller kills it.
pub fn start_s_server(dir: &TempDir, port: u16, keylog: &Path) -> Child {
    let mut tls = Command::new(require("openssl", "openssl"))
        .args(["s_server", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-cert")
        .arg(dir.join("cert.pem"))
        .arg("-key")
        .arg(dir.join("key.pem"))
        .args(NTS_KE_TLS_ARGS)
        .arg(keylog)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start openssl s_server");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            let _ = tls.kill();
            panic!("openssl s_server does not listen on {port}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    tls
}

/// The wall clock as an NTP timestamp (a test's server reads it, never sets it).
pub fn now() -> slew_core::NtpTimestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    slew_core::NtpTimestamp::from_unix(d.as_secs() as i64, d.subsec_nanos())
}

/// The header of a stratum 1 answer to `request`, received at `received` and sent
/// now: what a test's stand-in NTS server puts before its NTS fields.
pub fn server_header(request: &[u8], received: slew_core::NtpTimestamp) -> slew_core::wire::Repr {
    use slew_core::wire::{Mode, Packet, Repr};
    let mut repr = Repr::parse(&Packet::new_checked(request).unwrap()).unwrap();
    repr.mode = Mode::Server;
    repr.stratum = 1;
    repr.precision = -20;
    repr.root_delay = slew_core::NtpShort::from_bits(0);
    repr.root_dispersion = slew_core::NtpShort::from_bits(0x10);
    repr.ref_id = slew_core::wire::RefId::from_ascii(b"GPS\0");
    repr.origin_timestamp = repr.transmit_timestamp;
    repr.reference_timestamp = received;
    repr.receive_timestamp = received;
    repr.transmit_timestamp = now();
    repr
}
