//! `ntpq -p`/`-pn`: every column but `when` equal to ntpsec's ntpq, in ntpq 4.2.8's
//! layout, for the local clock and for an upstream server.

use super::*;

/// A peers row as fields: tally, remote, refid, then st t when poll reach delay
/// offset jitter.
fn peer_fields(line: &str) -> Vec<String> {
    let tally = line.chars().next().unwrap().to_string();
    let remote = line.get(1..16).unwrap().trim().to_string();
    let refid = line.get(17..32).unwrap().trim().to_string();
    let mut f = vec![tally, remote, refid];
    f.extend(line[32..].split_whitespace().map(String::from));
    f
}

/// The row ntpq 4.2.8 prints for these fields.
fn ntpq_428_row(f: &[String]) -> String {
    format!(
        "{}{:<15.15} {:<15} {:>2} {} {:>4.4} {:>4.4}  {:>3}  {:>7.7} {:>8.7} {:>7.7}",
        f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10]
    )
}

const HEADER_428: &str =
    "     remote           refid      st t when poll reach   delay   offset  jitter";

/// ntpsec prints a reference clock refid as its address (127.127.1.1); ntpq 4.2.8
/// by the driver's name (LOCAL(1)).
fn refid_as_428(refid: &str) -> String {
    let parts: Vec<&str> = refid.split('.').collect();
    match parts.as_slice() {
        ["127", "127", "1", u] => format!("LOCAL({u})"),
        _ => refid.to_string(),
    }
}

fn compare_peers(ns: &NetNs, ntpq: &Path, flags: &str) {
    // Both within the same second or two; retried when a poll lands in between
    // (reach changes).
    for attempt in 0..3 {
        let ours = run_in(ns, ntpq, &[flags, "127.0.0.1"]);
        let theirs = ntpsec_ntpq(ns, &[flags]);
        assert!(ours.status.success(), "{}", text(&ours));
        assert!(theirs.status.success(), "{}", text(&theirs));
        let (o, t) = (stdout(&ours), stdout(&theirs));
        let ol: Vec<&str> = o.lines().collect();
        let tl: Vec<&str> = t.lines().collect();
        assert_eq!(ol[0], HEADER_428, "{o}");
        assert_eq!(ol[1], "=".repeat(78), "{o}");
        assert_eq!(
            tl[0],
            "     remote           refid      st t when poll reach   delay   offset   jitter"
        );
        assert_eq!(ol.len(), tl.len(), "ours:\n{o}\nntpsec:\n{t}");
        let mut same = true;
        for (a, b) in ol[2..].iter().zip(&tl[2..]) {
            let (mut fa, mut fb) = (peer_fields(a), peer_fields(b));
            // The whole row in 4.2.8's layout, byte for byte.
            assert_eq!(ntpq_428_row(&fa), *a, "layout of {a:?}");
            // `when` masked.
            fa[5] = "W".into();
            fb[5] = "W".into();
            fb[2] = refid_as_428(&fb[2]);
            same &= fa == fb;
            if attempt == 2 {
                assert_eq!(fa, fb, "ours:\n{o}\nntpsec:\n{t}");
            }
        }
        if same {
            return;
        }
    }
}

#[test]
fn ntpq_p_matches_ntpsecs_ntpq_in_ntpq_428s_layout() {
    let ns = NetNs::new("cq");
    let dir = TempDir::new("cq");
    let _slewd = start(&ns, &dir, LOCAL_CLOCK_CONF);
    let ntpq = slew_tool(&dir, "ntpq");
    compare_peers(&ns, &ntpq, "-p");
    compare_peers(&ns, &ntpq, "-pn");
    let ours = stdout(&run_in(&ns, &ntpq, &["-p", "127.0.0.1"]));
    assert!(
        ours.contains("\n*LOCAL(0)        .LOCL.          10 l "),
        "{ours}"
    );
    // `-c peers` is -p; the default host is 127.0.0.1.
    let by_c = stdout(&run_in(&ns, &ntpq, &["-c", "peers"]));
    assert_eq!(by_c.lines().count(), 3, "{by_c}");
    let ours = run_in(&ns, &ntpq, &["-c", "associations", "127.0.0.1"]);
    let theirs = ntpsec_ntpq(&ns, &["-c", "associations"]);
    assert_eq!(stdout(&ours), stdout(&theirs));
    assert!(stdout(&ours).contains("sys.peer"), "{}", stdout(&ours));
}

/// slewd following a real chronyd (both inside the namespace): the row of an NTP
/// server (`u`, an address refid, delay and jitter) matches ntpsec's too.
#[test]
fn ntpq_p_matches_ntpsecs_ntpq_for_an_upstream_server() {
    let chronyd = require("chronyd", "chrony");
    let ns = NetNs::new("cqu");
    let dir = TempDir::new("cqu");
    let conf = dir.join("chrony.conf");
    std::fs::write(
        &conf,
        format!(
            "port 11123\nbindaddress 127.0.0.1\nlocal stratum 3\nallow 127.0.0.0/8\n\
             cmdport 0\npidfile {}\ndriftfile {}\n",
            dir.join("chronyd.pid").display(),
            dir.join("chrony.drift").display()
        ),
    )
    .unwrap();
    let mut cmd = ns.command(chronyd.to_str().unwrap());
    cmd.args(["-x", "-d", "-f"]).arg(&conf);
    let _chronyd = spawn_logged(cmd, "chronyd", dir.join("chronyd.log"));
    let slewd = start(
        &ns,
        &dir,
        "server 127.0.0.1 port 11123 iburst minpoll 4 maxpoll 4\n",
    );
    let ntpq = slew_tool(&dir, "ntpq");
    let mut selected = String::new();
    for _ in 0..60 {
        selected = stdout(&run_in(&ns, &ntpq, &["-pn", "127.0.0.1"]));
        if selected.contains("\n*127.0.0.1 ") {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        selected.contains("\n*127.0.0.1       LOCAL(1)         3 u "),
        "{selected}\n{}",
        slewd.log_text()
    );
    compare_peers(&ns, &ntpq, "-pn");
    // Without -n the address is looked up, as ntpq does (127.0.0.1 is localhost).
    compare_peers(&ns, &ntpq, "-p");
    // ntpstat names the server; "correct to within" grows between two reads, so
    // the pair is read again when it changed in between.
    let real = require("ntpstat", "ntpstat");
    let ours_bin = slew_tool(&dir, "ntpstat");
    let mut pair = (String::new(), String::new());
    for _ in 0..3 {
        let ours = run_in(&ns, &ours_bin, &[]);
        let theirs = run_in(&ns, &real, &[]);
        assert_eq!(ours.status.code(), Some(0), "{}", text(&ours));
        assert_eq!(theirs.status.code(), Some(0), "{}", text(&theirs));
        pair = (stdout(&ours), stdout(&theirs));
        if pair.0 == pair.1 {
            break;
        }
    }
    assert_eq!(pair.0, pair.1);
    assert!(
        pair.0
            .starts_with("synchronised to NTP server (127.0.0.1) at stratum 4 \n"),
        "{}",
        pair.0
    );
}
