//! `yum install slew` over an installed ntp, SysV and systemd: rpm's scriptlets
//! and triggers run chrooted in a scratch root with stand-ins for the system tools.

use super::*;

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
