//! The RPM: its metadata carries ntp's names and replaces ntp; installed into a
//! scratch root it keeps the admin's ntp.conf and its slewd serves time.

use super::*;

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
