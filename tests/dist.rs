//! The files in dist/: the CentOS 6 SysV init script drives a real slewd through
//! start, status, reload and stop; the systemd unit's command line is one slewd
//! accepts; the RPM and the .deb that scripts/package builds (from the debug
//! binaries `cargo test` has built) carry ntp's names, replace ntp's packages, keep
//! an existing /etc/ntp.conf, and their slewd, started from a scratch root with the
//! installed unit's command line, serves time to a real chronyd.

// Test code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

fn init(dir: &TempDir, action: &str, port: u16) -> (Option<i32>, String) {
    let mut cmd = Command::new("sh");
    cmd.arg(root().join("dist/slewd.init"))
        .arg(action)
        .env("SLEWD", slew_bin("slewd"))
        .env("PIDFILE", dir.join("slewd.pid"))
        .env("CONF", dir.join("ntp.conf"))
        // The real clock stays untouched: observe only, on a loopback port.
        .env(
            "OPTIONS",
            format!("--clock observe --listen 127.0.0.1:{port}"),
        );
    let out = run_with_timeout(cmd, Duration::from_secs(20));
    (out.status.code(), text(&out))
}

#[test]
fn sysv_init_script_starts_reports_reloads_and_stops_slewd() {
    let script = std::fs::read_to_string(root().join("dist/slewd.init")).unwrap();
    assert!(script.contains("# chkconfig:"), "chkconfig header");
    assert!(script.contains("# description:"));
    let dir = TempDir::new("init");
    std::fs::write(
        dir.join("ntp.conf"),
        "server 127.127.1.0\nfudge 127.127.1.0 stratum 10\n",
    )
    .unwrap();
    let port = free_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));

    let (code, out) = init(&dir, "status", port);
    assert_eq!(code, Some(3), "stopped before start: {out}");
    let (code, out) = init(&dir, "start", port);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("Starting slewd: [  OK  ]"), "{out}");
    // The daemon detached and answers at stratum 11 from its local clock.
    let mut answered = None;
    for _ in 0..50 {
        if let Some(m) = measure(addr) {
            answered = Some(m);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_, stratum, refid) = answered.expect("the detached slewd answers");
    assert_eq!((stratum, &refid), (11, b"LOCL"));
    let pid: i32 = std::fs::read_to_string(dir.join("slewd.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let (code, out) = init(&dir, "status", port);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!("slewd (pid {pid}) is running...")),
        "{out}"
    );
    let (code, out) = init(&dir, "reload", port);
    assert_eq!(code, Some(0), "{out}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(measure(addr).is_some(), "still serving after SIGHUP");
    let (code, out) = init(&dir, "configtest", port);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = init(&dir, "stop", port);
    assert_eq!(code, Some(0), "{out}");
    // SAFETY: kill(pid, 0) only checks whether the process exists.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    assert!(!alive, "slewd {pid} stopped");
    assert!(!dir.join("slewd.pid").exists());
    let (code, _) = init(&dir, "status", port);
    assert_eq!(code, Some(3));
}

#[test]
fn systemd_unit_command_line_is_accepted() {
    let unit = std::fs::read_to_string(root().join("dist/slewd.service")).unwrap();
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    assert!(unit.contains("ExecReload=/bin/kill -HUP $MAINPID"));
    // The same flags, with our binary and a test config, pass --check-config.
    let dir = TempDir::new("unit");
    std::fs::write(dir.join("ntp.conf"), "server 127.127.1.0\n").unwrap();
    let mut args: Vec<String> = exec
        .split_whitespace()
        .skip(1)
        .map(|a| a.replace("$OPTIONS", "-g"))
        // The unit runs as `ntp`, which the package creates; this machine may not
        // have it, and --check-config checks that the user exists.
        .map(|a| a.replace("ntp:ntp", "nobody:nogroup"))
        .collect();
    let c = args.iter().position(|a| a == "-c").unwrap();
    args[c + 1] = dir.join("ntp.conf").display().to_string();
    let mut cmd = Command::new(slew_bin("slewd"));
    cmd.args(&args).arg("--check-config");
    let out = run_with_timeout(cmd, Duration::from_secs(10));
    assert!(out.status.success(), "{:?}: {}", args, text(&out));
    // And a user that does not exist is caught by --check-config.
    let mut cmd = Command::new(slew_bin("slewd"));
    cmd.args(["-c"])
        .arg(dir.join("ntp.conf"))
        .args(["-u", "no-such-user-slew", "--check-config"]);
    let out = run_with_timeout(cmd, Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("no-such-user-slew"), "{}", text(&out));
}

/// slewd started the way systemd starts it: under the unit's CapabilityBoundingSet,
/// as root, dropping to an unprivileged user with `-u`. It must come up, serve, and
/// end with only CAP_SYS_TIME (the kernel clock) in its sets.
#[test]
fn systemd_unit_capability_bounding_set_lets_slewd_drop_privileges() {
    require("setpriv", "util-linux");
    let unit = std::fs::read_to_string(root().join("dist/slewd.service")).unwrap();
    let caps: Vec<String> = unit
        .lines()
        .find_map(|l| l.strip_prefix("CapabilityBoundingSet="))
        .expect("CapabilityBoundingSet")
        .split_whitespace()
        .map(|c| format!("+{}", c.trim_start_matches("CAP_").to_lowercase()))
        .collect();
    let bounding = format!("--bounding-set=-all,{}", caps.join(","));
    let dir = TempDir::new("unitcaps");
    // No source: the kernel clock is never adjusted.
    std::fs::write(
        dir.join("ntp.conf"),
        "server 127.127.1.0\nfudge 127.127.1.0 stratum 10\n",
    )
    .unwrap();
    let port = free_port();
    let mut cmd = Command::new("setpriv");
    cmd.arg(&bounding)
        .arg(slew_bin("slewd"))
        .args([
            "-n",
            "-u",
            "nobody:nogroup",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "-c",
        ])
        .arg(dir.join("ntp.conf"));
    let slewd = spawn_logged(cmd, "slewd", dir.join("slewd.log"));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_for_ntp(addr, Duration::from_secs(10), &slewd);
    let status = std::fs::read_to_string(format!("/proc/{}/status", slewd.pid())).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    assert_eq!(
        field("CapEff:"),
        "0000000002000000",
        "only cap_sys_time:\n{status}"
    );
    assert!(field("Uid:").starts_with("65534"), "{status}");
}

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

#[test]
fn rpm_provides_obsoletes_and_carries_ntps_names() {
    let out = TempDir::new("rpmq");
    let rpm = build_package(&out, "--rpm-only");
    let files = rpm_q(&rpm, &["-l"]);
    let files: Vec<&str> = files.lines().collect();
    assert_eq!(
        files,
        [
            "/etc/ntp.conf",
            "/etc/rc.d/init.d/ntpd",
            "/usr/bin/ntpstat",
            "/usr/bin/slewctl",
            "/usr/lib/systemd/system/ntpd.service",
            "/usr/lib/systemd/system/slewd.service",
            "/usr/sbin/ntpdate",
            "/usr/sbin/ntpq",
            "/usr/sbin/slewd",
            "/usr/share/doc/slew/README.md",
            "/var/lib/ntp",
            "/var/lib/ntp/drift",
            "/var/log/ntpstats",
        ]
    );
    // Modes, owners, link targets and flags: ntp.conf is config(noreplace) (`cn`),
    // the driftfile a ghost (`g`), the state directories the ntp user's.
    let meta = rpm_q(
        &rpm,
        &["--qf", "[%{FILENAMES} %{FILEMODES:perms} %{FILEUSERNAME} %{FILEFLAGS:fflags} %{FILELINKTOS}\n]"],
    );
    for line in [
        "/etc/ntp.conf -rw-r--r-- root cn ",
        "/etc/rc.d/init.d/ntpd -rwxr-xr-x root  ",
        "/usr/bin/ntpstat lrwxrwxrwx root  slewctl",
        "/usr/sbin/ntpq lrwxrwxrwx root  ../bin/slewctl",
        "/usr/sbin/ntpdate lrwxrwxrwx root  ../bin/slewctl",
        "/usr/lib/systemd/system/ntpd.service lrwxrwxrwx root  slewd.service",
        "/var/lib/ntp drwxr-xr-x ntp  ",
        "/var/lib/ntp/drift -rw-r--r-- ntp g ",
        "/var/log/ntpstats drwxr-xr-x ntp  ",
        "/usr/share/doc/slew/README.md -rw-r--r-- root d ",
    ] {
        assert!(meta.lines().any(|l| l == line), "{line:?} not in\n{meta}");
    }
    let provides = rpm_q(&rpm, &["--provides"]);
    for p in ["ntp = 4.2.8p99", "ntpdate = 4.2.8p99", "ntpstat = 4.2.8p99"] {
        assert!(provides.lines().any(|l| l == p), "{p}: {provides}");
    }
    let obsoletes = rpm_q(&rpm, &["--obsoletes"]);
    let conflicts = rpm_q(&rpm, &["--conflicts"]);
    for o in [
        "ntp < 4.2.8p99",
        "ntpdate < 4.2.8p99",
        "ntp-perl < 4.2.8p99",
        "ntpstat < 4.2.8p99",
    ] {
        assert!(obsoletes.lines().any(|l| l == o), "{o}: {obsoletes}");
        assert!(conflicts.lines().any(|l| l == o), "{o}: {conflicts}");
    }
    // Any ntp ever released sorts below what slew provides, so yum takes slew.
    for old in ["4.2.6p5-29.el7", "4.2.6p5-15.el6", "4.2.8p18-1.fc40"] {
        let cmp = run_ok(
            "rpm",
            &[
                "--eval",
                &format!("%{{lua: print(rpm.vercmp('{old}', '4.2.8p99'))}}"),
            ],
        );
        assert_eq!(cmp.trim(), "-1", "{old}");
    }
    let requires = rpm_q(&rpm, &["--requires"]);
    assert!(requires.lines().any(|l| l == "shadow-utils"), "{requires}");
    assert!(!requires.contains("ntp"), "{requires}");
    let scripts = rpm_q(&rpm, &["--scripts"]);
    for needle in [
        "preinstall scriptlet",
        "getent passwd ntp >/dev/null",
        "useradd -r $uid -g ntp -d /etc/ntp -s /sbin/nologin",
        "/sbin/chkconfig --add ntpd",
        "systemctl --no-reload disable --now slewd.service",
        "systemctl daemon-reload",
    ] {
        assert!(scripts.contains(needle), "{needle}: {scripts}");
    }
    let triggers = rpm_q(&rpm, &["--triggers"]);
    assert!(triggers.contains("triggerun scriptlet"), "{triggers}");
    assert!(triggers.contains("ntp < 4.2.8p99"), "{triggers}");
}

#[test]
fn rpm_installed_into_a_root_keeps_ntp_conf_and_its_slewd_serves_time() {
    let out = TempDir::new("rpmi");
    let rpm = build_package(&out, "--rpm-only");
    let scratch = TempDir::new("rpmroot");
    let root_dir = scratch.path();
    std::fs::create_dir_all(root_dir.join("etc")).unwrap();
    let conf = admins_conf(root_dir);
    std::fs::write(root_dir.join("etc/ntp.conf"), &conf).unwrap();
    run_ok("rpm", &["--root", root_dir.to_str().unwrap(), "--initdb"]);
    // --noscripts: the scratch root has no shell for %pre; --nodeps: nor a libc.
    run_ok(
        "rpm",
        &[
            "--root",
            root_dir.to_str().unwrap(),
            "-i",
            "--nodeps",
            "--noscripts",
            rpm.to_str().unwrap(),
        ],
    );
    // noreplace: the admin's file stays, the package's lands beside it.
    assert_eq!(
        std::fs::read_to_string(root_dir.join("etc/ntp.conf")).unwrap(),
        conf
    );
    let rpmnew = std::fs::read_to_string(root_dir.join("etc/ntp.conf.rpmnew")).unwrap();
    assert!(rpmnew.contains("driftfile /var/lib/ntp/drift"), "{rpmnew}");
    for (link, to) in [
        ("usr/sbin/ntpq", "../bin/slewctl"),
        ("usr/bin/ntpstat", "slewctl"),
        ("usr/sbin/ntpdate", "../bin/slewctl"),
        ("usr/lib/systemd/system/ntpd.service", "slewd.service"),
    ] {
        assert_eq!(
            std::fs::read_link(root_dir.join(link)).unwrap(),
            PathBuf::from(to),
            "{link}"
        );
        assert!(root_dir.join(link).exists(), "{link} resolves");
    }
    let unit =
        std::fs::read_to_string(root_dir.join("usr/lib/systemd/system/slewd.service")).unwrap();
    assert!(unit.contains("\nAlias=ntpd.service\n"), "{unit}");
    assert!(!unit.contains("Conflicts=ntpd.service"), "{unit}");
    // systemd takes ntpd.service for slewd: `systemctl enable ntpd` enables slewd.
    let systemctl = require("systemctl", "systemd");
    let root_arg = format!("--root={}", root_dir.display());
    let st = |args: &[&str]| {
        let mut cmd = Command::new(&systemctl);
        cmd.arg(&root_arg).args(args);
        run_with_timeout(cmd, Duration::from_secs(20))
    };
    let o = st(&["enable", "ntpd.service"]);
    assert!(o.status.success(), "{}", text(&o));
    // (links inside the root are absolute from the root's /)
    assert_eq!(
        std::fs::read_link(
            root_dir.join("etc/systemd/system/multi-user.target.wants/slewd.service")
        )
        .unwrap(),
        PathBuf::from("/usr/lib/systemd/system/slewd.service")
    );
    let o = st(&["is-enabled", "ntpd.service", "slewd.service"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "alias\nenabled\n");
    // `chkconfig ntpd on` reads this header; `service ntpd status` runs the script
    // under its installed name.
    let init = root_dir.join("etc/rc.d/init.d/ntpd");
    let script = std::fs::read_to_string(&init).unwrap();
    assert!(script.contains("\n# chkconfig:   - 58 74\n"), "{script}");
    let mut cmd = Command::new(&init);
    cmd.arg("status").env("PIDFILE", scratch.join("none.pid"));
    let o = run_with_timeout(cmd, Duration::from_secs(10));
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert_eq!(text(&o), "ntpd is stopped\n");
    let qa = run_ok(
        "rpm",
        &[
            "--root",
            root_dir.to_str().unwrap(),
            "-q",
            "--whatprovides",
            "ntp",
        ],
    );
    assert_eq!(qa.trim(), "slew-0.1.0-1.x86_64");
    installed_slewd_serves_chronyd(root_dir, &scratch, "usr/sbin/ntpq");
}

#[test]
fn deb_replaces_ntp_keeps_its_conffile_and_its_slewd_serves_time() {
    let out = TempDir::new("deb");
    let deb = build_package(&out, "--deb-only");
    let deb_s = deb.to_str().unwrap();
    let listing = run_ok("dpkg-deb", &["-c", deb_s]);
    for needle in [
        " ./usr/sbin/slewd\n",
        " ./usr/bin/slewctl\n",
        " ./usr/bin/ntpq -> slewctl\n",
        " ./usr/bin/ntpstat -> slewctl\n",
        " ./usr/sbin/ntpdate -> ../bin/slewctl\n",
        " ./usr/lib/systemd/system/slewd.service\n",
        " ./usr/lib/systemd/system/ntpd.service -> slewd.service\n",
        " ./usr/lib/systemd/system/ntp.service -> slewd.service\n",
        " ./etc/ntp.conf\n",
        " ./var/lib/ntp/\n",
        " ./var/log/ntpstats/\n",
    ] {
        assert!(listing.contains(needle), "{needle:?} not in\n{listing}");
    }
    let field = |name: &str| run_ok("dpkg-deb", &["-f", deb_s, name]).trim().to_string();
    assert_eq!(field("Package"), "slew");
    assert_eq!(field("Version"), "0.1.0-1");
    assert_eq!(field("Provides"), "ntp, ntpdate, ntpstat, time-daemon");
    assert_eq!(
        field("Conflicts"),
        "ntp, ntpdate, ntpsec, ntpsec-ntpdate, ntpstat, time-daemon"
    );
    assert_eq!(
        field("Replaces"),
        "ntp, ntpdate, ntpsec, ntpsec-ntpdate, ntpstat"
    );
    assert!(
        field("Depends").starts_with("libc6 (>= 2."),
        "{}",
        field("Depends")
    );
    let info = run_ok("dpkg-deb", &["-I", deb_s]);
    for s in ["conffiles", "preinst", "postinst", "prerm", "postrm"] {
        assert!(info.contains(&format!(" {s} ")), "{s}: {info}");
    }
    let ctl = TempDir::new("debctl");
    run_ok("dpkg-deb", &["-e", deb_s, ctl.path().to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(ctl.join("conffiles")).unwrap(),
        "/etc/ntp.conf\n"
    );
    let preinst = std::fs::read_to_string(ctl.join("preinst")).unwrap();
    assert!(
        preinst.contains("getent passwd ntp >/dev/null ||"),
        "{preinst}"
    );
    assert!(preinst.contains("useradd -r -g ntp"), "{preinst}");
    // Maintainer scripts need the target's shell and would add a user to this
    // machine: the tree is unpacked, as dpkg would lay it, and run from there.
    let scratch = TempDir::new("debroot");
    let root_dir = scratch.path();
    run_ok("dpkg-deb", &["-x", deb_s, root_dir.to_str().unwrap()]);
    assert!(root_dir.join("usr/bin/ntpq").exists());
    std::fs::write(root_dir.join("etc/ntp.conf"), admins_conf(root_dir)).unwrap();
    installed_slewd_serves_chronyd(root_dir, &scratch, "usr/bin/ntpq");
}

/// Runs a package's user-creating script with stand-ins for getent, groupadd and
/// useradd; returns what was called.
fn run_user_script(script: &str, user_exists: bool, arg: &str) -> String {
    let dir = TempDir::new("userscript");
    let log = dir.join("calls");
    let stub = |name: &str, body: &str| {
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    };
    let exists = if user_exists { "exit 0" } else { "exit 2" };
    stub(
        "getent",
        &format!("echo \"getent $*\" >> {}\n{exists}", log.display()),
    );
    for tool in ["groupadd", "useradd"] {
        stub(tool, &format!("echo \"{tool} $*\" >> {}", log.display()));
    }
    std::fs::write(dir.join("script"), script).unwrap();
    let mut cmd = Command::new("sh");
    cmd.arg(dir.join("script"))
        .arg(arg)
        .env("PATH", format!("{}:/usr/bin:/bin", dir.path().display()));
    let o = run_with_timeout(cmd, Duration::from_secs(10));
    assert!(o.status.success(), "{}", text(&o));
    std::fs::read_to_string(&log).unwrap_or_default()
}

#[test]
fn package_scripts_create_the_ntp_user_only_when_missing() {
    let out = TempDir::new("pre");
    let rpm = build_package(&out, "--rpm-only");
    let pre = rpm_q(&rpm, &["--qf", "%{PREIN}"]);
    // No ntp user and uid 38 free: RHEL's uid.
    assert_eq!(
        run_user_script(&pre, false, "1"),
        "getent group ntp\ngroupadd -r ntp\ngetent passwd ntp\ngetent passwd 38\n\
         useradd -r -u 38 -g ntp -d /etc/ntp -s /sbin/nologin -c NTP daemon ntp\n"
    );
    assert_eq!(
        run_user_script(&pre, true, "1"),
        "getent group ntp\ngetent passwd ntp\n"
    );
    let deb = build_package(&out, "--deb-only");
    let ctl = TempDir::new("prectl");
    run_ok(
        "dpkg-deb",
        &["-e", deb.to_str().unwrap(), ctl.path().to_str().unwrap()],
    );
    let preinst = std::fs::read_to_string(ctl.join("preinst")).unwrap();
    assert_eq!(
        run_user_script(&preinst, false, "install"),
        "getent group ntp\ngroupadd -r ntp\ngetent passwd ntp\n\
         useradd -r -g ntp -d /nonexistent -s /usr/sbin/nologin -c NTP daemon ntp\n"
    );
    assert_eq!(
        run_user_script(&preinst, true, "upgrade"),
        "getent group ntp\ngetent passwd ntp\n"
    );
}

/// A stand-in for RHEL's ntp package: its files where ntp has them, and ntp's
/// `%preun`, which disables the ntpd service when the package goes.
const FAKE_NTP_SPEC: &str = r#"Name: ntp
Version: 4.2.6p5
Release: 29.el7
Summary: stand-in for RHEL 7's ntp
License: NTP
BuildArch: noarch
%description
A stand-in for the ntp package, for slew's replacement test.
%install
mkdir -p %{buildroot}/etc/rc.d/init.d %{buildroot}/usr/sbin %{buildroot}/var/lib/ntp
echo "server 192.0.2.1 iburst" > %{buildroot}/etc/ntp.conf
printf '#!/bin/sh\nexit 0\n' > %{buildroot}/etc/rc.d/init.d/ntpd
printf '#!/bin/sh\nexit 0\n' > %{buildroot}/usr/sbin/ntpd
%preun
if [ "$1" -eq 0 ]; then
    if [ -d /run/systemd/system ]; then
        systemctl --no-reload disable ntpd.service
    else
        /sbin/chkconfig --del ntpd
    fi
fi
%files
%config(noreplace) /etc/ntp.conf
%attr(0755,root,root) /etc/rc.d/init.d/ntpd
%attr(0755,root,root) /usr/sbin/ntpd
%dir /var/lib/ntp
"#;

/// chkconfig as the scriptlets use it, keeping ntpd's on/off in /ntpd-on and
/// logging every call to /calls.
const FAKE_CHKCONFIG: &str = r#"#!/bin/sh
echo "chkconfig $*" >> /calls
case "$*" in
  "ntpd") [ -e /ntpd-on ] ;;
  "ntpd on") touch /ntpd-on ;;
  "--del ntpd") rm -f /ntpd-on ;;
  *) exit 0 ;;
esac
"#;

/// systemctl as the scriptlets use it: `disable ntpd.service` removes ntp's
/// WantedBy link, as systemd does; every call is logged to /calls.
const FAKE_SYSTEMCTL: &str = r#"#!/bin/sh
echo "systemctl $*" >> /calls
case "$*" in
  "--no-reload disable ntpd.service") rm -f /etc/systemd/system/multi-user.target.wants/ntpd.service ;;
esac
exit 0
"#;

/// A root where rpm can run scriptlets (chrooted): dash and the few tools they
/// call, with their libraries; /dev/null; stand-ins for chkconfig, systemctl and
/// the user tools.
fn scriptlet_root(dir: &Path) {
    for d in ["bin", "sbin", "usr/bin", "etc", "var/lib", "dev"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    dev_null(dir);
    copy_with_libraries(dir, &["/bin/dash", "/bin/mkdir", "/bin/touch", "/bin/rm"]);
    std::os::unix::fs::symlink("dash", dir.join("bin/sh")).unwrap();
    exec_file(dir.join("sbin/chkconfig"), FAKE_CHKCONFIG);
    exec_file(dir.join("usr/bin/systemctl"), FAKE_SYSTEMCTL);
    for tool in ["getent", "groupadd", "useradd"] {
        exec_file(
            dir.join("usr/bin").join(tool),
            &format!("#!/bin/sh\necho \"{tool} $*\" >> /calls\nexit 2\n"),
        );
    }
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

/// What `yum install slew` does to a machine running ntp — CentOS 6 (SysV) or
/// RHEL 7 (systemd): `rpm -U` (Obsoletes) installs slew and erases ntp, its
/// scriptlets and triggers run (chrooted into a scratch root): the ntp user is made,
/// the admin's ntp.conf stays, and the service stays enabled — or disabled — as ntpd
/// was.
#[test]
fn rpm_upgrade_replaces_an_installed_ntp_and_keeps_it_enabled_as_it_was_sysv_and_systemd() {
    let out = TempDir::new("rpmup");
    let slew = build_package(&out, "--rpm-only");
    std::fs::write(out.join("ntp.spec"), FAKE_NTP_SPEC).unwrap();
    let mut cmd = Command::new("rpmbuild");
    cmd.args(["-bb", "--quiet"])
        .arg(out.join("ntp.spec"))
        .arg("--define")
        .arg(format!("_topdir {}", out.join("top").display()))
        .arg("--define")
        .arg(format!("_rpmdir {}", out.path().display()))
        .args(["--define", "_build_name_fmt %%{NAME}.rpm"]);
    let o = run_with_timeout(cmd, Duration::from_secs(60));
    assert!(o.status.success(), "{}", text(&o));
    let ntp = out.join("ntp.rpm");
    for (systemd, enabled) in [(false, true), (false, false), (true, true), (true, false)] {
        let scratch = TempDir::new("rpmuproot");
        let r = scratch.path();
        scriptlet_root(r);
        let wants = r.join("etc/systemd/system/multi-user.target.wants");
        if systemd {
            // What the scriptlets test for a running systemd.
            std::fs::create_dir_all(r.join("run/systemd/system")).unwrap();
            std::fs::create_dir_all(&wants).unwrap();
        }
        let root_s = r.to_str().unwrap();
        run_ok("rpm", &["--root", root_s, "--initdb"]);
        run_ok(
            "rpm",
            &["--root", root_s, "-i", "--nodeps", ntp.to_str().unwrap()],
        );
        let conf = "server 127.127.1.0 # the admin's\n";
        std::fs::write(r.join("etc/ntp.conf"), conf).unwrap();
        if enabled && systemd {
            // `systemctl enable ntpd` of ntp's own unit.
            std::os::unix::fs::symlink(
                "/usr/lib/systemd/system/ntpd.service",
                wants.join("ntpd.service"),
            )
            .unwrap();
        } else if enabled {
            std::fs::write(r.join("ntpd-on"), "").unwrap();
        }
        run_ok(
            "rpm",
            &["--root", root_s, "-U", "--nodeps", slew.to_str().unwrap()],
        );
        assert_eq!(
            run_ok("rpm", &["--root", root_s, "-qa"]).trim(),
            "slew-0.1.0-1.x86_64"
        );
        assert_eq!(
            std::fs::read_to_string(r.join("etc/ntp.conf")).unwrap(),
            conf
        );
        assert!(r.join("etc/ntp.conf.rpmnew").exists());
        assert!(
            r.join("etc/rc.d/init.d/ntpd").exists(),
            "slew's script stays"
        );
        assert!(r.join("usr/sbin/slewd").exists());
        assert!(!r.join("usr/sbin/ntpd").exists(), "ntp's files are gone");
        assert!(!r.join("var/lib/ntp/.slew-enable").exists());
        let calls = std::fs::read_to_string(r.join("calls")).unwrap();
        // slew's %pre: no ntp user yet.
        let mut expected = vec![
            "getent group ntp",
            "groupadd -r ntp",
            "getent passwd ntp",
            "getent passwd 38",
            "useradd -r -u 38 -g ntp -d /etc/ntp -s /sbin/nologin -c NTP daemon ntp",
        ];
        if systemd {
            expected.extend([
                // slew's %post; its %triggerun only looks at ntp's link.
                "systemctl daemon-reload",
                // ntp's %preun.
                "systemctl --no-reload disable ntpd.service",
                // slew's %triggerpostun.
                "systemctl daemon-reload",
            ]);
            if enabled {
                expected.push("systemctl enable slewd.service");
            }
        } else {
            expected.extend([
                // slew's %post.
                "chkconfig --add ntpd",
                // slew's %triggerun: was ntpd on?
                "chkconfig ntpd",
                // ntp's %preun.
                "chkconfig --del ntpd",
                // slew's %triggerpostun.
                "chkconfig --add ntpd",
            ]);
            if enabled {
                expected.push("chkconfig ntpd on");
            }
            assert_eq!(r.join("ntpd-on").exists(), enabled);
        }
        assert_eq!(
            calls.lines().collect::<Vec<_>>(),
            expected,
            "systemd {systemd}, enabled {enabled}"
        );
    }
}

/// The user tools as a Debian root has them, enough for the maintainer scripts:
/// getent reads /etc/passwd and /etc/group, groupadd and useradd append to them.
const DEB_GETENT: &str = r#"#!/bin/sh
echo "getent $*" >> /calls
while IFS=: read -r name rest; do [ "$name" = "$2" ] && exit 0; done < /etc/$1
exit 2
"#;

/// `apt install ./slew.deb` on a Debian machine with ntp: dpkg (chrooted into a
/// scratch root where the maintainer scripts run) removes ntp (Conflicts +
/// Replaces), keeps the admin's /etc/ntp.conf (the package's beside it as
/// ntp.conf.dpkg-dist; `--force-confold` answers the conffile question as `apt -o
/// Dpkg::Options::=--force-confold` does), and creates the ntp user, which then
/// owns /var/lib/ntp.
#[test]
fn deb_installed_by_dpkg_replaces_ntp_keeps_ntp_conf_and_creates_the_user() {
    let out = TempDir::new("debup");
    let slew = build_package(&out, "--deb-only");
    // A stand-in for Debian's ntp: its conffile and its daemon.
    let fake = out.join("ntp-tree");
    for d in ["DEBIAN", "etc", "usr/sbin"] {
        std::fs::create_dir_all(fake.join(d)).unwrap();
    }
    std::fs::write(
        fake.join("DEBIAN/control"),
        "Package: ntp\nVersion: 1:4.2.8p15+dfsg-1\nArchitecture: all\n\
         Maintainer: slew tests <t@example.invalid>\nDescription: stand-in for ntp\n",
    )
    .unwrap();
    std::fs::write(fake.join("DEBIAN/conffiles"), "/etc/ntp.conf\n").unwrap();
    std::fs::write(fake.join("etc/ntp.conf"), "server 192.0.2.1 iburst\n").unwrap();
    exec_file(fake.join("usr/sbin/ntpd"), "#!/bin/sh\nexit 0\n");
    let ntp = out.join("ntp.deb");
    run_ok(
        "dpkg-deb",
        &[
            "--root-owner-group",
            "--build",
            fake.to_str().unwrap(),
            ntp.to_str().unwrap(),
        ],
    );
    let scratch = TempDir::new("debuproot");
    let r = scratch.path();
    for d in [
        "bin",
        "usr/bin",
        "etc",
        "var/lib/dpkg/info",
        "var/lib/dpkg/updates",
        "dev",
        "tmp",
    ] {
        std::fs::create_dir_all(r.join(d)).unwrap();
    }
    for f in [
        "var/lib/dpkg/status",
        "var/lib/dpkg/available",
        "etc/passwd",
        "etc/group",
    ] {
        std::fs::write(r.join(f), "").unwrap();
    }
    dev_null(r);
    copy_with_libraries(r, &["/bin/dash", "/bin/chown", "/bin/rm"]);
    std::os::unix::fs::symlink("dash", r.join("bin/sh")).unwrap();
    exec_file(r.join("usr/bin/getent"), DEB_GETENT);
    exec_file(
        r.join("usr/bin/groupadd"),
        "#!/bin/sh\necho \"groupadd $*\" >> /calls\necho ntp:x:999: >> /etc/group\n",
    );
    exec_file(
        r.join("usr/bin/useradd"),
        "#!/bin/sh\necho \"useradd $*\" >> /calls\n\
         echo ntp:x:999:999::/nonexistent:/usr/sbin/nologin >> /etc/passwd\n",
    );
    let root_arg = format!("--root={}", r.display());
    // --force-depends: the scratch root has no libc6 package.
    run_ok(
        "dpkg",
        &[&root_arg, "--force-depends", "-i", ntp.to_str().unwrap()],
    );
    let conf = "server 127.127.1.0 # the admin's\n";
    std::fs::write(r.join("etc/ntp.conf"), conf).unwrap();
    run_ok(
        "dpkg",
        &[
            &root_arg,
            "--force-depends",
            "--force-confold",
            "-i",
            slew.to_str().unwrap(),
        ],
    );
    let status = run_ok(
        "dpkg-query",
        &[&root_arg, "-W", "-f", "${Package} ${db:Status-Abbrev}\n"],
    );
    assert!(status.lines().any(|l| l.trim() == "slew ii"), "{status}");
    assert!(
        !status.lines().any(|l| l.trim() == "ntp ii"),
        "ntp removed: {status}"
    );
    assert_eq!(
        std::fs::read_to_string(r.join("etc/ntp.conf")).unwrap(),
        conf
    );
    assert!(r.join("etc/ntp.conf.dpkg-dist").exists());
    assert!(!r.join("usr/sbin/ntpd").exists(), "ntp's files are gone");
    assert_eq!(
        std::fs::read_link(r.join("usr/bin/ntpq")).unwrap(),
        PathBuf::from("slewctl")
    );
    assert_eq!(
        std::fs::read_to_string(r.join("calls")).unwrap(),
        "getent group ntp\ngroupadd -r ntp\ngetent passwd ntp\n\
         useradd -r -g ntp -d /nonexistent -s /usr/sbin/nologin -c NTP daemon ntp\n"
    );
    // postinst gave /var/lib/ntp to the new user.
    let meta = std::fs::metadata(r.join("var/lib/ntp")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), 999);
}
