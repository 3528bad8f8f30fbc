//! `slewd -u`: after binding, the daemon runs as the named user with CAP_SYS_TIME
//! only (kernel clock) or no capability at all (virtual clock), and still serves.
//! Needs root (the tests start slewd as root, as an init system does).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use common::*;

/// CAP_SYS_TIME is bit 25.
const CAP_SYS_TIME_MASK: u64 = 1 << 25;

fn status_field(pid: i32, name: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
        .trim()
        .to_string()
}

fn caps(pid: i32, name: &str) -> u64 {
    u64::from_str_radix(&status_field(pid, name), 16).unwrap()
}

fn nobody() -> (u32, u32) {
    let out = Command::new("id").args(["-u", "nobody"]).output().unwrap();
    let uid = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let out = Command::new("id").args(["-g", "nobody"]).output().unwrap();
    let gid = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    (uid, gid)
}

fn require_root() {
    assert!(
        nix::unistd::Uid::effective().is_root(),
        "this test starts slewd as root to watch it drop privileges: run it as root (.ci/run does)"
    );
}

/// Starts slewd with `-u nobody` and `extra`, checks ids and capability sets, and
/// that it still answers.
fn check(extra: &[&str], want_caps: u64) {
    require_root();
    let dir = TempDir::new("privdrop");
    let port = free_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut args = vec!["-u", "nobody"];
    args.extend_from_slice(extra);
    // No source and no local clock: the kernel clock is never touched.
    let slewd = start_slewd(&dir, "restrict default\n", &[addr], &args);
    let pid = slewd.pid();
    let (uid, gid) = nobody();
    let ids = |f: &str| -> Vec<u32> {
        status_field(pid, f)
            .split_whitespace()
            .map(|x| x.parse().unwrap())
            .collect()
    };
    assert_eq!(ids("Uid"), vec![uid; 4], "real, effective, saved, fs uid");
    assert_eq!(ids("Gid"), vec![gid; 4], "real, effective, saved, fs gid");
    assert_eq!(
        ids("Groups"),
        vec![gid],
        "no supplementary groups but its own"
    );
    assert_eq!(caps(pid, "CapEff"), want_caps, "effective set");
    assert_eq!(caps(pid, "CapPrm"), want_caps, "permitted set");
    assert_eq!(caps(pid, "CapInh"), 0, "inheritable set");
    assert_eq!(caps(pid, "CapAmb"), 0, "ambient set");
    assert_eq!(caps(pid, "CapBnd"), want_caps, "bounding set");
    assert_eq!(status_field(pid, "NoNewPrivs"), "1");
    // Still serving, after the drop.
    let answer = raw_query(addr, Duration::from_secs(2)).expect("an answer after the drop");
    assert!(answer.len() >= 48 && answer[0] & 7 == 4, "a mode 4 answer");
    let log = slewd.log_text();
    assert!(log.contains("running as nobody"), "log:\n{log}");
}

#[test]
fn kernel_clock_keeps_only_cap_sys_time() {
    check(&[], CAP_SYS_TIME_MASK);
}

#[test]
fn virtual_clock_keeps_no_capability() {
    check(&["--clock", "virtual"], 0);
}

#[test]
fn observe_clock_keeps_no_capability() {
    check(&["--clock", "observe"], 0);
}

#[test]
fn unknown_user_is_refused_before_start() {
    let dir = TempDir::new("privdrop-nouser");
    let conf = dir.join("ntp.conf");
    std::fs::write(&conf, "restrict default\n").unwrap();
    let port = free_port();
    let mut cmd = Command::new(slew_bin("slewd"));
    cmd.arg("-n").arg("-c").arg(&conf);
    cmd.args(["--listen", &format!("127.0.0.1:{port}")]);
    cmd.args(["-u", "no-such-user-slew"]);
    let out = run_with_timeout(cmd, Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("no user named no-such-user-slew"),
        "{}",
        text(&out)
    );
    assert!(raw_query(
        SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(300)
    )
    .is_none());
}

/// After `-u`, a keys file that only root may read (CentOS ships /etc/ntp/keys 0600)
/// cannot be re-read on SIGHUP: slewd must keep its keys and say why, not reload
/// into a configuration without them.
#[test]
fn sighup_keeps_the_keys_when_the_dropped_user_cannot_read_them() {
    require_root();
    let dir = TempDir::new("hupkeys");
    let keys = dir.join("ntp.keys");
    std::fs::write(&keys, "1 MD5 sesame\n").unwrap();
    let conf = format!(
        "server 127.127.1.0\nfudge 127.127.1.0 stratum 10\nkeys {}\ntrustedkey 1\n",
        keys.display()
    );
    let port = free_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    // The temp dir must be traversable by nobody for the config itself.
    let mode = |p: &std::path::Path, m: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    };
    mode(dir.path(), 0o755);
    let slewd = start_slewd(
        &dir,
        &conf,
        &[addr],
        &["--clock", "observe", "-u", "nobody"],
    );
    mode(&dir.join("ntp.conf"), 0o644);
    mode(&keys, 0o600);
    // SAFETY: kill(2) on our own child's PID.
    unsafe { libc::kill(slewd.pid(), libc::SIGHUP) };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !slewd
        .log_text()
        .contains("keeping the running configuration")
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = slewd.log_text();
    assert!(
        log.contains("the keys file cannot be read now"),
        "SIGHUP with an unreadable keys file:\n{log}"
    );
    assert!(
        raw_query(addr, Duration::from_secs(1)).is_some(),
        "still serving"
    );
}
