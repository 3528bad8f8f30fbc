//! slewd and chronyd's NTS, both ways: slewd follows it (a server, a pool checked
//! against its name), `chronyd -Q` accepts slewd, and slewd's server threads answer
//! it across a master-key rotation.

use super::*;

#[test]
fn slewd_follows_chronyd_over_nts() {
    let dir = TempDir::new("nts-slewd-follow");
    let ca = pki(&dir);
    let (ntp_port, ke_port) = (free_port(), free_tcp_port());
    let _chronyd = start_chronyd_nts(&dir, ntp_port, ke_port);
    let listen = loopback(free_port());
    let slewd = start_slewd(
        &dir,
        &nts_server_line(&ca, ke_port),
        &[listen],
        &["--clock", "virtual"],
    );
    let table = wait_for_peers(
        listen,
        Duration::from_secs(60),
        "chronyd selected over NTS",
        &slewd,
        |t| t.lines().any(|l| l.starts_with("*127.0.0.1 ")),
    );
    let log = slewd.log_text();
    assert!(log.contains("NTS-KE with 127.0.0.1:"), "{log}");
    assert!(
        log.contains(&format!("NTP to 127.0.0.1:{ntp_port}")),
        "chronyd's Port record honoured:\n{log}"
    );
    assert!(log.contains("synchronised to 127.0.0.1"), "{table}\n{log}");
    assert!(!log.contains("NTS answer refused"), "{log}");
}

/// `pool localhost nts`: each member's NTS-KE goes to the member's address with the
/// certificate checked against the pool's name (ntpsec's way). chronyd's certificate
/// names only `localhost` (no IP), so a KE that checked the address would fail.
#[test]
fn slewd_follows_a_pool_over_nts_checked_against_the_pool_name() {
    let dir = TempDir::new("nts-slewd-pool");
    let ca = make_ca(&dir, "test");
    let (cert, key) = nts_ke_support::make_server_cert(&dir, "test", "server", "DNS:localhost");
    std::fs::copy(&cert, dir.join("cert.pem")).unwrap();
    std::fs::copy(&key, dir.join("key.pem")).unwrap();
    let (ntp_port, ke_port) = (free_port(), free_tcp_port());
    let _chronyd = start_chronyd_nts(&dir, ntp_port, ke_port);
    let listen = loopback(free_port());
    let slewd = start_slewd(
        &dir,
        &format!(
            "pool localhost nts ca {} port {ke_port} iburst minpoll 3 maxpoll 3\n",
            ca.display()
        ),
        &[listen],
        &["--clock", "virtual"],
    );
    let table = wait_for_peers(
        listen,
        Duration::from_secs(60),
        "the pool member selected over NTS",
        &slewd,
        |t| t.lines().any(|l| l.starts_with("*localhost ")),
    );
    let log = slewd.log_text();
    assert!(
        log.contains(&format!(
            "NTS, keys from NTS-KE with 127.0.0.1:{ke_port} (certificate for localhost)"
        )),
        "the member's KE goes to its address, checked against the pool name:\n{log}"
    );
    assert!(
        log.contains(&format!("NTS-KE with 127.0.0.1:{ke_port} done")),
        "{log}"
    );
    assert!(
        log.contains(&format!("NTP to 127.0.0.1:{ntp_port}")),
        "chronyd's Port record honoured:\n{log}"
    );
    assert!(
        !log.contains("cannot honour"),
        "pool … nts is accepted:\n{log}"
    );
    assert!(!log.contains("NTS answer refused"), "{log}");
    let member = table
        .lines()
        .find(|l| l.starts_with("*localhost "))
        .unwrap();
    assert!(member.contains("nts:"), "an NTS source in peers:\n{table}");
}

#[test]
fn chronyd_accepts_slewd_as_nts_server() {
    let dir = TempDir::new("nts-slewd-serve");
    let ca = pki(&dir);
    let (port, ke_port) = (free_port(), free_tcp_port());
    let mut slewd = start_slewd(
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
    let (ok, out) = chronyd_nts_query(&dir, port, ke_port, &ca);
    assert!(
        ok,
        "chronyd -Q over NTS failed:\n{out}\nslewd log:\n{}",
        slewd.log_text()
    );
    let offset = chronyd_offset(&out).unwrap();
    assert!(offset.abs() < 0.05, "offset {offset}:\n{out}");
    // A restart keeps the master keys (the key file, 0600).
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.join("nts-keys"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o077, 0, "key file mode {mode:o}");
    slewd
        .terminate(Duration::from_secs(5))
        .expect("slewd exits");
    let log = slewd.log_text();
    assert!(log.contains("NTS master key created"), "{log}");
    let served = served_nts(&log);
    assert!(served.0 >= 1, "NTS-authenticated answers counted: {log}");
}

#[test]
fn server_threads_answer_nts_before_and_after_a_key_rotation() {
    let dir = TempDir::new("nts-slewd-threads");
    let ca = pki(&dir);
    let (port, ke_port) = (free_port(), free_tcp_port());
    let slewd = start_slewd(
        &dir,
        &nts_enable_conf(&dir),
        &[loopback(port)],
        &[
            "--clock",
            "virtual",
            "--server-threads",
            "2",
            "--nts-ke-port",
            &ke_port.to_string(),
            "--nts-rotation-s",
            "4",
        ],
    );
    wait_for_log(
        &slewd,
        "serving NTS-KE on 127.0.0.1:",
        Duration::from_secs(10),
    );
    // SO_REUSEPORT spreads chronyd's requests (a new source port each) over the
    // three sockets: a run or two reach the threads.
    let mut seen = 0;
    for _ in 0..3 {
        let (ok, out) = chronyd_nts_query(&dir, port, ke_port, &ca);
        assert!(ok, "chronyd -Q:\n{out}\nslewd log:\n{}", slewd.log_text());
        seen = nts_counts_now(&slewd).1;
        if seen > 0 {
            break;
        }
    }
    assert!(
        seen > 0,
        "no NTS answer from a server thread:\n{}",
        slewd.log_text()
    );
    wait_for_log(&slewd, "NTS master key rotated", Duration::from_secs(20));
    let mut after = seen;
    for _ in 0..3 {
        let (ok, out) = chronyd_nts_query(&dir, port, ke_port, &ca);
        assert!(
            ok,
            "after the rotation, chronyd -Q:\n{out}\nslewd log:\n{}",
            slewd.log_text()
        );
        after = nts_counts_now(&slewd).1;
        if after > seen {
            break;
        }
    }
    assert!(
        after > seen,
        "the threads answered no NTS after the rotation:\n{}",
        slewd.log_text()
    );
    // No client's cookie failed to open (the previous key still opens).
    let log = slewd.log_text();
    let last = log
        .lines()
        .rfind(|l| l.contains("served "))
        .unwrap_or_default();
    assert!(last.contains(", 0 NTS NAKs"), "{log}");
}
