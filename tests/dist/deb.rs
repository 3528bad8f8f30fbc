//! The .deb: it replaces ntp and keeps its conffile; installed by dpkg into a
//! scratch root, its maintainer scripts create the ntp user and its slewd serves time.

use super::*;

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
