//! ntpsec's ntpd as a peer of the interop tests, unpacked by scripts/install-peers
//! under target/peers. It binds port 123 (and 4460 for NTS-KE) and calls
//! ntp_adjtime at start, so the tests run it inside a network namespace of their
//! own, without CAP_SYS_TIME: it cannot touch the clock.

use std::path::PathBuf;
use std::process::Command;

use super::{root, spawn_logged, Proc, TempDir};

/// The path of ntpsec's ntpd; fails loudly (naming scripts/install-peers) when it
/// is not there, never skips.
pub fn ntpsec_ntpd_path() -> PathBuf {
    let ntpd = root().join("target/peers/ntpsec/usr/sbin/ntpd");
    assert!(
        ntpd.exists(),
        "ntpsec's ntpd is missing at {}: run scripts/install-peers",
        ntpd.display()
    );
    ntpd
}

/// Spawns ntpsec's ntpd in the foreground (`-n`) with `dir`/ntp.conf (which the
/// caller wrote) and its log in `dir`/ntpd.log, its output in `dir`/ntpd.out, under
/// `setpriv --bounding-set=-sys_time`. `setpriv` is the command to run setpriv
/// with: `ns.command("setpriv")`, or `Command::new("setpriv")` from a thread that
/// entered the namespace. Does not wait for it to answer.
pub fn spawn_ntpsec_ntpd(mut setpriv: Command, dir: &TempDir) -> Proc {
    setpriv
        .args(["--bounding-set=-sys_time"])
        .arg(ntpsec_ntpd_path())
        .args(["-n", "-c"])
        .arg(dir.join("ntp.conf"))
        .arg("-l")
        .arg(dir.join("ntpd.log"));
    spawn_logged(setpriv, "ntpd", dir.join("ntpd.out"))
}
