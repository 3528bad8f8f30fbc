//! slewd and ntpsec's ntpd over NTS, both ways, in a network namespace (ntpd's
//! ports are fixed).

use super::*;

/// `slewctl peers` inside `ns`.
fn peers_in(ns: &NetNs, listen: SocketAddr) -> String {
    let mut cmd = ns.command(slew_bin("slewctl").to_str().unwrap());
    cmd.args(["-s", &listen.to_string(), "peers"]);
    text(&run_with_timeout(cmd, Duration::from_secs(20)))
}

#[test]
fn slewd_follows_ntpsec_over_nts() {
    let ns = NetNs::new("nts-slewd-ntpsec");
    let dir = TempDir::new("nts-slewd-ntpsec");
    let ca = pki(&dir);
    std::fs::write(
        dir.join("ntp.conf"),
        format!(
            "tos orphan 10 orphanwait 1\ndriftfile {d}/ntpd.drift\nstatsdir {d}/\n\
             nts enable\nnts cert {d}/cert.pem\nnts key {d}/key.pem\nnts cookie {d}/ntpsec-keys\n",
            d = dir.path().display()
        ),
    )
    .unwrap();
    let ntpd = spawn_ntpsec_ntpd(ns.command("setpriv"), &dir);
    ns.wait_for_ntp(&ntpd);
    // slewd's own files beside ntpd's: its ntp.conf goes to a sub-directory.
    let sdir = TempDir::new("nts-slewd-ntpsec-slewd");
    let listen = loopback(12300);
    let slewd = start_slewd_with(
        &sdir,
        &format!(
            "server localhost nts ca {} iburst minpoll 3 maxpoll 3\n",
            ca.display()
        ),
        &[listen],
        &["--clock", "virtual"],
        Some(&ns),
    );
    let log = wait_for_log(&slewd, " done: ", Duration::from_secs(30));
    assert!(
        log.contains("NTP to 127.0.0.1:123") || log.contains("NTP to [::1]:123"),
        "{log}"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut table = String::new();
    while Instant::now() < deadline {
        table = peers_in(&ns, listen);
        if table.lines().any(|l| l.starts_with('*')) {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        table.lines().any(|l| l.starts_with('*')),
        "ntpsec not selected:\n{table}\nslewd log:\n{}\nntpd log:\n{}",
        slewd.log_text(),
        std::fs::read_to_string(dir.join("ntpd.log")).unwrap_or_default()
    );
    assert!(
        !slewd.log_text().contains("NTS answer refused"),
        "{}",
        slewd.log_text()
    );
}

#[test]
fn ntpsec_follows_slewd_over_nts() {
    let ns = NetNs::new("nts-ntpsec-slewd");
    let dir = TempDir::new("nts-ntpsec-slewd");
    let ca = pki(&dir);
    // ntpsec's ports are fixed (KE 4460, its own NTP socket on 123): slewd serves
    // NTS-KE on 4460 here and NTP on 12300, which its Port record names.
    let slewd = start_slewd_with(
        &dir,
        &nts_enable_conf(&dir),
        &[loopback(12300)],
        &["--clock", "virtual"],
        Some(&ns),
    );
    wait_for_log(
        &slewd,
        "serving NTS-KE on 127.0.0.1:4460",
        Duration::from_secs(10),
    );
    let ndir = TempDir::new("nts-ntpsec-slewd-ntpd");
    std::fs::write(
        ndir.join("ntp.conf"),
        format!(
            "server localhost nts ca {} iburst minpoll 3 maxpoll 3\n\
             driftfile {d}/ntpd.drift\nstatsdir {d}/\n",
            ca.display(),
            d = ndir.path().display()
        ),
    )
    .unwrap();
    let _ntpd = spawn_ntpsec_ntpd(ns.command("setpriv"), &ndir);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut served = 0;
    while Instant::now() < deadline && served < 2 {
        std::thread::sleep(Duration::from_secs(2));
        served = nts_counts_now(&slewd).0;
    }
    assert!(
        served >= 2,
        "NTS-authenticated answers to ntpsec: {served}\nslewd log:\n{}\nntpd log:\n{}",
        slewd.log_text(),
        std::fs::read_to_string(ndir.join("ntpd.log")).unwrap_or_default()
    );
    let log = slewd.log_text();
    let last = log
        .lines()
        .rfind(|l| l.contains("served "))
        .unwrap_or_default();
    assert!(last.contains(", 0 NTS NAKs"), "{log}");
}
