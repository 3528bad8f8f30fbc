//! Both packages' user-creating scripts make the ntp user only when it is missing.

use super::*;

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
