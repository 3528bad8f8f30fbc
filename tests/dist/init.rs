//! dist/'s service files driving a real slewd: the SysV init script through
//! start, status, reload and stop; the systemd unit's command line and its
//! capability bounding set.

use super::*;

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
