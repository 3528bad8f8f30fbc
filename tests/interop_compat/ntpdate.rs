//! `ntpdate` against ntpsec's ntpdig: `-q`, `-d` on a stratum-16 server, and `-s`
//! to syslog.

use super::*;

/// ntpdate -q's lines with the digits that change masked: `N` for the stamp's and
/// pid's, `X` for offset and delay.
fn mask_ntpdate(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    // " 1 Dec 21:30:11 ntpdate[3505]: …": stamp and pid.
    if rest.len() > 16 && rest.as_bytes().get(15) == Some(&b' ') {
        out.push_str("DD Mon HH:MM:SS ");
        rest = &rest[16..];
    }
    if let Some(after) = rest.strip_prefix("ntpdate[") {
        let close = after.find(']').unwrap();
        out.push_str("ntpdate[N]");
        rest = &after[close + 1..];
    }
    let mut words = Vec::new();
    let mut prev = "";
    for w in rest.split(' ') {
        let masked = if prev == "offset" || prev == "delay" {
            let (num, tail) = w.split_at(w.find(',').unwrap_or(w.len()));
            let decimals = num.split('.').nth(1).map_or(0, str::len);
            format!("X.{}{tail}", "d".repeat(decimals))
        } else {
            w.to_string()
        };
        prev = w;
        words.push(masked);
    }
    out.push_str(&words.join(" "));
    out
}

#[test]
fn ntpdate_q_agrees_with_ntpdig_in_ntpdates_lines() {
    let ntpdig = require("ntpdig", "ntpsec-ntpdig");
    let ns = NetNs::new("cnd");
    let dir = TempDir::new("cnd");
    let _slewd = start(&ns, &dir, LOCAL_CLOCK_CONF);
    let ntpdate = slew_tool(&dir, "ntpdate");
    let ours = run_in(&ns, &ntpdate, &["-u", "-q", "127.0.0.1"]);
    let theirs = run_in(&ns, &ntpdig, &["127.0.0.1"]);
    assert_eq!(ours.status.code(), Some(0), "{}", text(&ours));
    assert_eq!(theirs.status.code(), Some(0), "{}", text(&theirs));
    let o = stdout(&ours);
    let lines: Vec<String> = o.lines().map(mask_ntpdate).collect();
    assert_eq!(
        lines,
        [
            "server 127.0.0.1, stratum 11, offset X.dddddd, delay X.ddddd",
            "DD Mon HH:MM:SS ntpdate[N]: adjust time server 127.0.0.1 offset X.dddddd sec",
        ],
        "{o}"
    );
    // ntpdig: "2026-12-01 21:23:15.619527 (+0000) -0.000005 +/- 0.000091 127.0.0.1 s11 no-leap"
    let t = stdout(&theirs);
    let tw: Vec<&str> = t.split_whitespace().collect();
    assert_eq!(tw[6], "127.0.0.1", "{t}");
    assert_eq!(tw[7], "s11", "{t}");
    let their_offset: f64 = tw[3].parse().unwrap();
    let our_offset = number_after(&o, "offset").unwrap();
    assert!(
        their_offset.abs() < 0.001 && our_offset.abs() < 0.001,
        "{o}\n{t}"
    );
    // -s: the summary goes to syslog, the server lines stay.
    let quiet = run_in(&ns, &ntpdate, &["-s", "-q", "127.0.0.1"]);
    assert_eq!(quiet.status.code(), Some(0));
    let q = stdout(&quiet);
    assert!(q.starts_with("server 127.0.0.1, stratum 11"), "{q}");
    assert!(!q.contains("adjust time server"), "{q}");
    // -b / -B pick the verb, as ntpdate's -q shows it.
    let step = stdout(&run_in(&ns, &ntpdate, &["-q", "-b", "127.0.0.1"]));
    assert!(
        step.contains("]: step time server 127.0.0.1 offset "),
        "{step}"
    );
}

#[test]
fn ntpdate_d_explains_a_stratum_16_server_as_ntpdig_does() {
    let ntpdig = require("ntpdig", "ntpsec-ntpdig");
    let ns = NetNs::new("cndd");
    let dir = TempDir::new("cndd");
    let _slewd = start(&ns, &dir, NO_SOURCE_CONF);
    let ntpdate = slew_tool(&dir, "ntpdate");
    // The article's symptom first: -u says only that nothing is suitable.
    let plain = run_in(&ns, &ntpdate, &["-u", "127.0.0.1"]);
    assert_eq!(plain.status.code(), Some(1));
    let p = stdout(&plain);
    assert_eq!(
        p.lines().map(mask_ntpdate).collect::<Vec<_>>(),
        ["DD Mon HH:MM:SS ntpdate[N]: no server suitable for synchronization found"],
        "{p}"
    );
    // slew says why beside ntpdate's output.
    assert!(stderr(&plain).contains("stratum 16"), "{}", stderr(&plain));
    // -q lists the server, with what is known of it.
    let q = run_in(&ns, &ntpdate, &["-q", "127.0.0.1"]);
    assert_eq!(q.status.code(), Some(1));
    assert_eq!(
        stdout(&q).lines().map(mask_ntpdate).collect::<Vec<_>>(),
        [
            "server 127.0.0.1, stratum 16, offset X.dddddd, delay X.ddddd",
            "DD Mon HH:MM:SS ntpdate[N]: no server suitable for synchronization found"
        ],
        "{}",
        stdout(&q)
    );
    let ours = run_in(&ns, &ntpdate, &["-d", "127.0.0.1"]);
    let theirs = run_in(&ns, &ntpdig, &["-d", "127.0.0.1"]);
    assert_eq!(ours.status.code(), Some(1), "{}", text(&ours));
    assert_eq!(theirs.status.code(), Some(1), "{}", text(&theirs));
    let o = stdout(&ours);
    for line in [
        "transmit(127.0.0.1)",
        "receive(127.0.0.1)",
        "127.0.0.1: Server dropped: strata too high",
        "server 127.0.0.1, port 123",
        "stratum 16, precision 0, leap 11, trust 000",
        "transmitted 4, in filter 0",
    ] {
        assert!(o.lines().any(|l| l == line), "{line:?} not in\n{o}");
    }
    assert!(o.contains("\nfilter delay:  0.00000 "), "{o}");
    assert!(
        o.trim_end()
            .ends_with("]: no server suitable for synchronization found"),
        "{o}"
    );
    assert!(
        stderr(&ours).contains("Looking for host 127.0.0.1 and service ntp"),
        "{}",
        stderr(&ours)
    );
    // ntpdig drops it for the same reason.
    let t = text(&theirs);
    assert!(t.contains("Response dropped: stratum too high"), "{t}");
    assert!(t.contains("no eligible servers"), "{t}");
}

/// `ntpdate -s`: the summary line goes to syslog (facility daemon, notice, tag
/// ntpdate[pid]) and not to standard output. The test listens on a socket that a
/// private mount namespace puts at /dev/log for ntpdate alone.
#[test]
fn ntpdate_s_sends_its_line_to_syslog() {
    let unshare = require("unshare", "util-linux");
    let dir = TempDir::new("csys");
    let devdir = dir.join("dev");
    std::fs::create_dir_all(&devdir).unwrap();
    let log = std::os::unix::net::UnixDatagram::bind(devdir.join("log")).unwrap();
    log.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let port = free_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let _slewd = start_slewd(&dir, LOCAL_CLOCK_CONF, &[addr], &["--clock", "observe"]);
    let ntpdate = slew_tool(&dir, "ntpdate");
    let mut cmd = Command::new(unshare);
    cmd.args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(format!(
            "mount --bind {} /dev && exec {} -s -u -q 127.0.0.1:{port}",
            devdir.display(),
            ntpdate.display()
        ));
    let o = run_with_timeout(cmd, Duration::from_secs(30));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("server 127.0.0.1, stratum 11, offset "),
        "{out}"
    );
    assert!(!out.contains("adjust time server"), "{out}");
    let mut buf = [0u8; 1024];
    let n = log.recv(&mut buf).expect("a syslog datagram");
    let line = String::from_utf8_lossy(&buf[..n]).into_owned();
    // <29>: daemon.notice.
    assert!(line.starts_with("<29>"), "{line}");
    let msg = line.split_once("ntpdate[").map(|(_, m)| m).unwrap_or("");
    let (pid, rest) = msg.split_once("]: ").unwrap_or_else(|| panic!("{line}"));
    assert!(pid.parse::<u32>().is_ok(), "{line}");
    assert!(
        rest.starts_with("adjust time server 127.0.0.1 offset ") && rest.ends_with(" sec"),
        "{line}"
    );
}
