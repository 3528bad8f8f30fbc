//! SIGHUP and NTS: a renewed certificate is served, an added NTS source followed.

use super::*;

/// SIGHUP re-reads `nts cert`/`nts key` (here renewed in place, as certbot does, by
/// one of another CA): KE clients from then on see the new certificate; a broken
/// key on a later SIGHUP is refused and the certificate in use stays.
#[test]
fn sighup_serves_a_replaced_nts_certificate() {
    let dir = TempDir::new("nts-slewd-hup");
    let ca = pki(&dir);
    let other = make_ca(&dir, "other");
    let (renewed, renewed_key) =
        nts_ke_support::make_server_cert(&dir, "other", "renewed", "DNS:localhost,IP:127.0.0.1");
    let (port, ke_port) = (free_port(), free_tcp_port());
    let slewd = start_slewd(
        &dir,
        &nts_enable_conf(&dir),
        &[loopback(port)],
        &["--clock", "virtual", "--nts-ke-port", &ke_port.to_string()],
    );
    wait_for_log(
        &slewd,
        "serving NTS-KE on 127.0.0.1:",
        Duration::from_secs(10),
    );
    ke_with(ke_port, &ca).expect("KE with the first certificate");
    assert!(ke_with(ke_port, &other).is_err(), "not yet the other CA's");

    std::fs::copy(&renewed, dir.join("cert.pem")).unwrap();
    std::fs::copy(&renewed_key, dir.join("key.pem")).unwrap();
    // SAFETY: kill(2) on our own child's PID.
    unsafe { libc::kill(slewd.pid(), libc::SIGHUP) };
    wait_for_log(
        &slewd,
        "reload: NTS-KE serves the certificate",
        Duration::from_secs(10),
    );
    ke_with(ke_port, &other)
        .unwrap_or_else(|e| panic!("KE with the renewed certificate: {e}\n{}", slewd.log_text()));
    let old = ke_with(ke_port, &ca).expect_err("the old certificate is no longer served");
    assert!(old.contains("certificate"), "{old}");

    std::fs::write(dir.join("key.pem"), "not a key\n").unwrap();
    // SAFETY: as above.
    unsafe { libc::kill(slewd.pid(), libc::SIGHUP) };
    wait_for_log(
        &slewd,
        "reload: NTS-KE keeps the certificate in use",
        Duration::from_secs(10),
    );
    ke_with(ke_port, &other).expect("the renewed certificate is still served");
    // NTP service went on throughout.
    common::wait_for_ntp(loopback(port), Duration::from_secs(5), &slewd);
}

/// A `server … nts` line added by SIGHUP is a new NTS source: its NTS-KE runs and
/// slewd follows it (the source reload, with the NTS settings read again).
#[test]
fn sighup_adds_an_nts_source() {
    let dir = TempDir::new("nts-slewd-hup-source");
    let ca = pki(&dir);
    let (ntp_port, ke_port) = (free_port(), free_tcp_port());
    let _chronyd = start_chronyd_nts(&dir, ntp_port, ke_port);
    let listen = loopback(free_port());
    let slewd = start_slewd(
        &dir,
        "server 127.127.1.0\nfudge 127.127.1.0 stratum 10\n",
        &[listen],
        &["--clock", "virtual"],
    );
    std::fs::write(dir.join("ntp.conf"), nts_server_line(&ca, ke_port)).unwrap();
    // SAFETY: kill(2) on our own child's PID.
    unsafe { libc::kill(slewd.pid(), libc::SIGHUP) };
    wait_for_log(
        &slewd,
        &format!("NTS-KE with 127.0.0.1:{ke_port} done"),
        Duration::from_secs(30),
    );
    wait_for_peers(
        listen,
        Duration::from_secs(60),
        "the added NTS source selected",
        &slewd,
        |t| {
            t.lines()
                .any(|l| l.starts_with("*127.0.0.1 ") && l.contains("nts:"))
        },
    );
}
