//! The files in dist/: the CentOS 6 SysV init script drives a real slewd through
//! start, status, reload and stop; the systemd unit's command line is one slewd
//! accepts; the RPM and the .deb that scripts/package builds (from the debug
//! binaries `cargo test` has built) carry ntp's names, replace ntp's packages, keep
//! an existing /etc/ntp.conf, and their slewd, started from a scratch root with the
//! installed unit's command line, serves time to a real chronyd.

// Test code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "../common/mod.rs"]
mod common;

mod deb;
mod init;
mod package_users;
mod rpm;
mod rpm_upgrade;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

/// Builds one package with scripts/package from the debug binaries into `out`.
fn build_package(out: &TempDir, which: &str) -> PathBuf {
    let bins = slew_bin("slewd").parent().unwrap().to_path_buf();
    slew_bin("slewctl");
    require("rpmbuild", "rpm");
    require("dpkg-deb", "dpkg");
    let mut cmd = Command::new(root().join("scripts/package"));
    cmd.arg("--bins")
        .arg(&bins)
        .arg("--out")
        .arg(out.path())
        .arg(which);
    let o = run_with_timeout(cmd, Duration::from_secs(120));
    assert!(o.status.success(), "scripts/package: {}", text(&o));
    let path = String::from_utf8_lossy(&o.stdout)
        .lines()
        .last()
        .unwrap()
        .to_string();
    let path = PathBuf::from(path);
    assert!(path.exists(), "{}", path.display());
    path
}

fn run_ok(program: &str, args: &[&str]) -> String {
    let mut cmd = Command::new(program);
    cmd.args(args);
    let o = run_with_timeout(cmd, Duration::from_secs(60));
    assert!(o.status.success(), "{program} {args:?}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn rpm_q(pkg: &Path, args: &[&str]) -> String {
    let mut all = vec!["-qp"];
    all.extend_from_slice(args);
    all.push(pkg.to_str().unwrap());
    run_ok("rpm", &all)
}

/// The admin's /etc/ntp.conf from before the switch: the local clock at stratum 10,
/// its driftfile inside the scratch root.
fn admins_conf(root_dir: &Path) -> String {
    format!(
        "# the admin's own file\ndriftfile {}/var/lib/ntp/drift\nserver 127.127.1.0\nfudge 127.127.1.0 stratum 10\n",
        root_dir.display()
    )
}

/// Starts the slewd installed under `root_dir` with the installed unit's ExecStart,
/// paths moved under the root, the ntp user (which this machine need not have)
/// replaced by nobody, and `$OPTIONS` a loopback port and the observe clock; checks
/// that a real chronyd gets time from it.
fn installed_slewd_serves_chronyd(root_dir: &Path, log_dir: &TempDir, ntpq: &str) {
    let unit = std::fs::read_to_string(root_dir.join("usr/lib/systemd/system/slewd.service"))
        .expect("installed unit");
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    let port = free_port();
    let under_root = |a: &str| -> String {
        if a.starts_with('/') {
            format!("{}{a}", root_dir.display())
        } else {
            a.to_string()
        }
    };
    let mut argv: Vec<String> = Vec::new();
    for a in exec.split_whitespace() {
        match a {
            "$OPTIONS" => argv.extend(
                [
                    "--clock",
                    "observe",
                    "--listen",
                    &format!("127.0.0.1:{port}"),
                ]
                .map(String::from),
            ),
            "ntp:ntp" => argv.push("nobody:nogroup".into()),
            a => argv.push(under_root(a)),
        }
    }
    assert!(argv[0].ends_with("/usr/sbin/slewd"), "{argv:?}");
    std::fs::create_dir_all(root_dir.join("run")).unwrap();
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    let slewd = spawn_logged(cmd, "installed slewd", log_dir.join("slewd.log"));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_for_ntp(addr, Duration::from_secs(10), &slewd);
    let (ok, out) = chronyd_query("127.0.0.1", port);
    assert!(ok, "chronyd -Q: {out}\n{}", slewd.log_text());
    let offset = chronyd_offset(&out).unwrap_or_else(|| panic!("{out}"));
    assert!(offset.abs() < 0.01, "offset {offset}: {out}");
    assert!(root_dir.join("run/slewd.pid").exists(), "-p from the unit");
    // The article's commands, as installed (links to the installed slewctl); the
    // port is given since this slewd is not on 123.
    let server = format!("127.0.0.1:{port}");
    let mut cmd = Command::new(root_dir.join(ntpq));
    cmd.args(["-p", &server]);
    let o = run_with_timeout(cmd, Duration::from_secs(20));
    assert!(o.status.success(), "{}", text(&o));
    let peers = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        peers.starts_with(
            "     remote           refid      st t when poll reach   delay   offset  jitter\n"
        ),
        "{peers}"
    );
    assert!(
        peers.contains("\n*LOCAL(0)        .LOCL.          10 l "),
        "{peers}"
    );
    let mut cmd = Command::new(root_dir.join("usr/sbin/ntpdate"));
    cmd.args(["-u", "-q", &server]);
    let o = run_with_timeout(cmd, Duration::from_secs(20));
    assert!(o.status.success(), "{}", text(&o));
    let date = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        date.starts_with("server 127.0.0.1, stratum 11, offset "),
        "{date}"
    );
    assert!(date.contains(" ntpdate["), "{date}");
}

fn dev_null(dir: &Path) {
    let null = dir.join("dev/null");
    run_ok(
        "mknod",
        &["-m", "666", null.to_str().unwrap(), "c", "1", "3"],
    );
}

fn exec_file(p: PathBuf, body: &str) {
    std::fs::write(&p, body).unwrap();
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

/// Copies programs into a root with the libraries `ldd` names for them.
fn copy_with_libraries(dir: &Path, bins: &[&str]) {
    for bin in bins {
        std::fs::copy(bin, dir.join(bin.trim_start_matches('/'))).unwrap();
        for lib in run_ok("ldd", &[bin]).split_whitespace() {
            if lib.starts_with('/') {
                let at = dir.join(lib.trim_start_matches('/'));
                std::fs::create_dir_all(at.parent().unwrap()).unwrap();
                if !at.exists() {
                    std::fs::copy(lib, &at).unwrap();
                }
            }
        }
    }
}
