//! slew's `ntpq`, `ntpstat` and `ntpdate` (slewctl under those names, as the
//! packages install it) against the real tools on the same slewd: ntpsec's ntpq,
//! Debian's C ntpstat and ntpsec's ntpdig. They insist on 127.0.0.1:123, so slewd
//! runs inside a network namespace each test creates and deletes.
//!
//! What is compared, and what is masked because it changes with time:
//! - `ntpq -p`/`-pn`: every column but `when` (seconds since the last poll) equal;
//!   slew's line is then checked byte for byte against ntpq 4.2.8's layout. ntpsec
//!   prints a jitter column one wider and a 79-column rule, and a reference clock
//!   refid as 127.127.1.1 where 4.2.8 prints LOCAL(1); slew prints 4.2.8's.
//! - `ntpq -c rv` (0 and 1): the status line byte for byte; the variables in the
//!   same order with equal values, numbers compared as numbers (ntpsec reprints
//!   them: `rootdisp=10.0` for `10.000`, `6e-05`), timestamps by their hex part
//!   (ntpsec shows ISO dates, 4.2.8 `Tue, Dec  1 2026 …`); masked: `clock`, and
//!   the local clock association's `reftime` and `rec` (the time it is read).
//! - `ntpq -c associations`, `-c "rv 0 stratum,refid"`: byte for byte.
//! - `ntpstat`: byte for byte, exit codes too, synchronised, unsynchronised and with
//!   no daemon.
//! - `ntpdate -q` vs `ntpdig`: server, stratum, offset within 1 ms, exit status;
//!   slew's lines checked against ntpdate's layout with the time stamp, pid and
//!   the offset/delay digits masked.
//! - `ntpdate -d` vs `ntpdig -d` on a stratum-16 server: both drop it for its
//!   stratum and find no server; slew's transcript has ntpdate's lines.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::mode6::ntpsec_ntpq_command;
use common::*;

const LOCAL_CLOCK_CONF: &str = "server 127.127.1.0\nfudge 127.127.1.0 stratum 10\n";
const NO_SOURCE_CONF: &str = "# nothing to follow\n";

/// slewctl linked under `name` in `dir`, as the packages install it.
fn slew_tool(dir: &TempDir, name: &str) -> PathBuf {
    let link = dir.join(name);
    if !link.exists() {
        std::os::unix::fs::symlink(slew_bin("slewctl"), &link).unwrap();
    }
    link
}

fn run_in(ns: &NetNs, program: &Path, args: &[&str]) -> Output {
    let mut cmd = ns.command(program.to_str().unwrap());
    cmd.args(args).env("TZ", "UTC");
    run_with_timeout(cmd, Duration::from_secs(30))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// ntpsec's ntpq (unpacked by scripts/install-peers), on the system python.
fn ntpsec_ntpq(ns: &NetNs, args: &[&str]) -> Output {
    let mut cmd = ntpsec_ntpq_command(ns, args);
    cmd.env("TZ", "UTC");
    run_with_timeout(cmd, Duration::from_secs(30))
}

fn start(ns: &NetNs, dir: &TempDir, conf: &str) -> Proc {
    let port_123 = SocketAddr::from(([127, 0, 0, 1], 123));
    let slewd = start_slewd_with(dir, conf, &[port_123], &["--clock", "observe"], Some(ns));
    ns.wait_for_ntp(&slewd);
    slewd
}

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

/// `name=value` pairs of an rv answer after its status line, across line breaks.
fn rv_pairs(text: &str) -> Vec<(String, String)> {
    let body: Vec<&str> = text.lines().skip(1).collect();
    let joined = body.join(" ");
    let mut out = Vec::new();
    let mut item = String::new();
    let mut quoted = false;
    for c in joined.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                item.push(c);
            }
            ',' if !quoted => {
                out.push(item.trim().to_string());
                item.clear();
            }
            _ => item.push(c),
        }
    }
    out.push(item.trim().to_string());
    // 4.2.8's dates have a comma of their own ("Tue, Dec  1 2026 …"): a piece
    // without `=` belongs to the item before it.
    let mut items: Vec<String> = Vec::new();
    for i in out.into_iter().filter(|i| !i.is_empty()) {
        match items.last_mut() {
            Some(last) if !i.contains('=') => {
                last.push_str(", ");
                last.push_str(&i);
            }
            _ => items.push(i),
        }
    }
    items
        .into_iter()
        .map(|i| {
            let (n, v) = i.split_once('=').unwrap_or((&i, ""));
            (n.to_string(), v.to_string())
        })
        .collect()
}

fn same_value(name: &str, ours: &str, theirs: &str) -> bool {
    if ours == theirs {
        return true;
    }
    let first = |v: &str| v.split_whitespace().next().unwrap_or("").to_string();
    if ["reftime", "rec", "org", "xmt"].contains(&name) {
        // Timestamps: the hex part (ntpsec shows ISO dates after it).
        return first(ours) == first(theirs);
    }
    match (ours.parse::<f64>(), theirs.parse::<f64>()) {
        // The root dispersion grows by PHI (15 µs/s) since the last update, and
        // the two queries are a moment apart: 0.05 ms covers three seconds.
        (Ok(a), Ok(b)) if name == "rootdisp" => (a - b).abs() <= 0.05,
        (Ok(a), Ok(b)) => (a - b).abs() <= 1e-9_f64.max(a.abs() * 1e-6),
        _ => false,
    }
}

fn compare_rv(ns: &NetNs, ntpq: &Path, command: &str, masked: &[&str]) {
    let ours = run_in(ns, ntpq, &["-c", command, "127.0.0.1"]);
    let theirs = ntpsec_ntpq(ns, &["-c", command]);
    let (o, t) = (stdout(&ours), stdout(&theirs));
    assert!(ours.status.success() && !o.is_empty(), "{}", text(&ours));
    assert_eq!(o.lines().next(), t.lines().next(), "status lines");
    // 4.2.8 wraps at 72 columns (73 with the comma that ends a line).
    assert!(o.lines().all(|l| l.len() <= 73), "{o}");
    let (po, pt) = (rv_pairs(&o), rv_pairs(&t));
    let names = |p: &[(String, String)]| p.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&po), names(&pt), "ours:\n{o}\nntpsec:\n{t}");
    for ((n, a), (_, b)) in po.iter().zip(&pt) {
        if masked.contains(&n.as_str()) {
            continue;
        }
        assert!(
            same_value(n, a, b),
            "{n}: ours {a:?}, ntpsec {b:?}\n{o}\n{t}"
        );
    }
}

#[test]
fn ntpq_rv_matches_ntpsecs_ntpq_variable_for_variable() {
    let ns = NetNs::new("crv");
    let dir = TempDir::new("crv");
    let _slewd = start(&ns, &dir, LOCAL_CLOCK_CONF);
    let ntpq = slew_tool(&dir, "ntpq");
    // `clock` is the time of each answer; the local clock's `reftime` and `rec`
    // too (it is read when polled, and the first polls come quickly).
    compare_rv(&ns, &ntpq, "rv", &["clock"]);
    compare_rv(&ns, &ntpq, "rv 1", &["reftime", "rec"]);
    let ours = run_in(&ns, &ntpq, &["-c", "rv 0 stratum,refid", "127.0.0.1"]);
    let theirs = ntpsec_ntpq(&ns, &["-c", "rv 0 stratum,refid"]);
    assert_eq!(stdout(&ours), "stratum=11, refid=LOCL\n");
    assert_eq!(stdout(&ours), stdout(&theirs));
    // readlist is rv with the (empty) default list; `&1` is the first association.
    let rl = stdout(&run_in(&ns, &ntpq, &["-c", "readlist", "127.0.0.1"]));
    assert!(rl.starts_with("associd=0 status=0515 "), "{rl}");
    let amp = stdout(&run_in(&ns, &ntpq, &["-c", "rv &1 srcadr", "127.0.0.1"]));
    assert_eq!(amp, "srcadr=127.127.1.0\n");
    // An unknown variable: ntpq 4.2.8's words, on standard error.
    let bad = run_in(&ns, &ntpq, &["-c", "rv 0 nosuchvar", "127.0.0.1"]);
    assert_eq!(
        stderr(&bad),
        "***A request variable unknown to the server\n"
    );
    assert_eq!(stdout(&bad), "");
    // Several commands, in order.
    let two = stdout(&run_in(
        &ns,
        &ntpq,
        &["-c", "rv 0 stratum", "-c", "rv 0 refid", "127.0.0.1"],
    ));
    assert_eq!(two, "stratum=11\nrefid=LOCL\n");
}

/// The commands whose variables slewd's responder is still gaining: they print
/// 4.2.8's labelled lines for what is answered, or its error line; never a panic.
#[test]
fn ntpq_statistics_commands_answer_or_say_why() {
    let ns = NetNs::new("cstat");
    let dir = TempDir::new("cstat");
    let _slewd = start(&ns, &dir, LOCAL_CLOCK_CONF);
    let ntpq = slew_tool(&dir, "ntpq");
    for (cmd, first_label) in [
        ("sysinfo", "associd=0 status="),
        ("kerninfo", "associd=0 status="),
        ("sysstats", "uptime:"),
        ("iostats", "time since reset:"),
        ("monstats", "enabled:"),
        ("authinfo", "time since reset:"),
        (
            "mrulist",
            "lstint avgint rstr r m v  count rport remote address",
        ),
    ] {
        let o = run_in(&ns, &ntpq, &["-c", cmd, "127.0.0.1"]);
        assert!(o.status.success(), "{cmd}: {}", text(&o));
        let (out, err) = (stdout(&o), stderr(&o));
        let answered = out.starts_with(first_label);
        let refused = err.lines().any(|l| {
            l.starts_with("***A request variable unknown to the server")
                || l.starts_with("***Server reports a bad opcode in request")
        });
        assert!(answered || refused, "{cmd}:\n{out}\n{err}");
        assert!(!err.contains("panicked"), "{cmd}: {err}");
    }
}

#[test]
fn ntpq_reads_commands_at_its_prompt() {
    let ns = NetNs::new("cint");
    let dir = TempDir::new("cint");
    let _slewd = start(&ns, &dir, LOCAL_CLOCK_CONF);
    let ntpq = slew_tool(&dir, "ntpq");
    let session = |args: &[&str], input: &str| -> String {
        let mut cmd = ns.command(ntpq.to_str().unwrap());
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // -i: the prompt, as on a terminal; `quit` ends it.
    let out = session(&["-i", "127.0.0.1"], "rv 0 stratum\npe\nquit\nrv 0 refid\n");
    assert!(
        out.starts_with("ntpq> stratum=11\nntpq>      remote"),
        "{out:?}"
    );
    assert!(out.ends_with("ntpq> "), "{out:?}");
    assert!(!out.contains("refid=LOCL"), "stopped at quit: {out:?}");
    // Commands from a pipe: no prompt, to the end of input.
    let out = session(&[], "rv 0 stratum\nrv 0 refid\n");
    assert_eq!(out, "stratum=11\nrefid=LOCL\n");
}

#[test]
fn ntpstat_matches_debians_ntpstat_byte_for_byte() {
    let real = require("ntpstat", "ntpstat");
    let ns = NetNs::new("cns");
    let dir = TempDir::new("cns");
    let ours_bin = slew_tool(&dir, "ntpstat");
    let check = |ns: &NetNs, expect_code: i32| {
        let ours = run_in(ns, &ours_bin, &[]);
        let theirs = run_in(ns, &real, &[]);
        assert_eq!(stdout(&ours), stdout(&theirs));
        assert_eq!(stderr(&ours), stderr(&theirs));
        assert_eq!(ours.status.code(), theirs.status.code());
        assert_eq!(ours.status.code(), Some(expect_code), "{}", text(&ours));
        stdout(&ours)
    };
    let mut slewd = start(&ns, &dir, LOCAL_CLOCK_CONF);
    let out = check(&ns, 0);
    assert_eq!(
        out,
        "synchronised to local net at stratum 11 \n   time correct to within 10 ms\n   polling server every 64 s\n"
    );
    slewd.terminate(Duration::from_secs(5));
    check(&ns, 2);
    let _slewd = start(&ns, &dir, NO_SOURCE_CONF);
    let out = check(&ns, 1);
    assert!(out.starts_with("unsynchronised\n"), "{out}");
}

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

#[test]
fn unsupported_options_are_refused_by_name() {
    let dir = TempDir::new("crefuse");
    for (tool, args, named) in [
        ("ntpq", vec!["-w", "-p"], "-w"),
        ("ntpq", vec!["-d"], "-d"),
        ("ntpq", vec!["--wide"], "--wide"),
        ("ntpdate", vec!["-a", "1", "127.0.0.1"], "-a"),
        ("ntpdate", vec!["-v", "127.0.0.1"], "-v"),
        ("ntpdate", vec!["-x", "127.0.0.1"], "-x"),
        ("ntpdate", vec!["-p", "9", "127.0.0.1"], "-p"),
        ("ntpstat", vec!["-x"], "-x"),
    ] {
        let mut cmd = Command::new(slew_tool(&dir, tool));
        cmd.args(&args);
        let o = run_with_timeout(cmd, Duration::from_secs(10));
        assert_eq!(o.status.code(), Some(1), "{tool} {args:?}: {}", text(&o));
        assert!(
            stderr(&o).contains(&format!("`{named}'")),
            "{tool} {args:?}: {}",
            stderr(&o)
        );
        assert_eq!(stdout(&o), "", "{tool} {args:?}");
    }
    // A command ntpq has and slew's lacks is named too.
    let mut cmd = Command::new(slew_tool(&dir, "ntpq"));
    cmd.args(["-c", "opeers", "127.0.0.1:1"]);
    let o = run_with_timeout(cmd, Duration::from_secs(10));
    assert!(
        stderr(&o).contains("`opeers' is not supported"),
        "{}",
        text(&o)
    );
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

/// Several hosts: each command runs against each; tables get ntpq's `server
/// (local)` column and rv answers a `server=` prefix.
#[test]
fn ntpq_asks_every_host_given() {
    let ns = NetNs::new("cmh");
    let dir = TempDir::new("cmh");
    let listen = [
        SocketAddr::from(([127, 0, 0, 1], 123)),
        SocketAddr::from(([127, 0, 0, 2], 123)),
    ];
    let slewd = start_slewd_with(
        &dir,
        LOCAL_CLOCK_CONF,
        &listen,
        &["--clock", "observe"],
        Some(&ns),
    );
    ns.wait_for_ntp(&slewd);
    let ntpq = slew_tool(&dir, "ntpq");
    let o = run_in(
        &ns,
        &ntpq,
        &["-n", "-c", "rv 0 stratum", "-p", "127.0.0.1", "127.0.0.2"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let rule = "=".repeat(10 + 78);
    let table = |host: &str| {
        format!(
            "server=127.0.0.{host} stratum=11\n\
             server (l      remote           refid      st t when poll reach   delay   offset  jitter\n\
             {rule}\n\
             127.0.0.{host} *LOCAL(0)        .LOCL.          10 l "
        )
    };
    let out = stdout(&o);
    let masked: String = out
        .lines()
        .map(|l| if l.contains("LOCAL(0)") { &l[..48] } else { l })
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(masked, format!("{}\n{}", table("1"), table("2")), "{out}");
}

/// Labelled lines (`label:  value`) as (label, value), for ntpq outputs whose
/// layout differs (ntpsec right-aligns values and adds rate columns).
fn labelled_values(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.starts_with("associd="))
        .filter_map(|l| {
            // 4.2.8 has one label without a colon.
            let at = l
                .find(":  ")
                .or_else(|| l.find("interval ").map(|i| i + "interval".len()))?;
            let (label, rest) = l.split_at(at);
            let value = rest
                .trim_start_matches(':')
                .split_whitespace()
                .next()
                .unwrap_or("");
            Some((label.trim().to_string(), value.to_string()))
        })
        .collect()
}

fn as_number(v: &str) -> Option<f64> {
    match v.strip_prefix("0x") {
        Some(h) => i64::from_str_radix(h, 16).ok().map(|i| i as f64),
        None => v.parse().ok(),
    }
}

/// ntpsec's ntpd answers every statistics command (slewd's responder is still
/// gaining them): slew's ntpq prints the same values as ntpsec's ntpq for the
/// counters that hold still between two reads, in 4.2.8's labelled lines.
#[test]
fn ntpq_statistics_commands_match_ntpsecs_ntpq_on_ntpsecs_ntpd() {
    let ntpd = root().join("target/peers/ntpsec/usr/sbin/ntpd");
    assert!(
        ntpd.exists(),
        "{} missing: run scripts/install-peers",
        ntpd.display()
    );
    let ns = NetNs::new("cnsec");
    let dir = TempDir::new("cnsec");
    std::fs::write(
        dir.join("ntp.conf"),
        // Loopback unrestricted: ntpsec's default `limited` would drop this test's
        // bursts of queries.
        format!(
            "driftfile {}\nrestrict default nomodify\nrestrict 127.0.0.1\n",
            dir.join("ntpd.drift").display()
        ),
    )
    .unwrap();
    let mut cmd = ns.command("setpriv");
    cmd.args(["--bounding-set=-sys_time"])
        .arg(&ntpd)
        .args(["-n", "-c"])
        .arg(dir.join("ntp.conf"));
    let ntpd_proc = spawn_logged(cmd, "ntpd", dir.join("ntpd.out"));
    ns.wait_for_ntp(&ntpd_proc);
    let ntpq = slew_tool(&dir, "ntpq");
    let ours = |c: &str| {
        let o = run_in(&ns, &ntpq, &["-c", c, "127.0.0.1"]);
        assert!(o.status.success(), "{c}: {}", text(&o));
        assert_eq!(stderr(&o), "", "{c}");
        stdout(&o)
    };
    let theirs = |c: &str| stdout(&ntpsec_ntpq(&ns, &["-c", c]));
    for (cmd, stable) in [
        (
            "kerninfo",
            &[
                "pll offset",
                "pll frequency",
                "kernel status",
                "pll time constant",
                "precision",
                "frequency tolerance",
                "calibration interval",
                "calibration errors",
            ][..],
        ),
        (
            "monstats",
            &[
                "enabled",
                "peak addresses",
                "maximum addresses",
                "reclaim above count",
                "kilobytes",
                "maximum kilobytes",
            ][..],
        ),
        (
            "iostats",
            // (ntpsec's ntpq stops after "ignored packets" in the first second:
            // its rate column divides by the uptime.)
            &["receive buffers", "free receive buffers", "dropped packets"][..],
        ),
        (
            "sysinfo",
            &[
                "leap indicator",
                "stratum",
                "log2 precision",
                "reference ID",
            ][..],
        ),
    ] {
        let (o, t) = (ours(cmd), theirs(cmd));
        // 4.2.8's labels, two blanks, the value as sent.
        let first = o.lines().find(|l| !l.starts_with("associd=")).unwrap_or("");
        assert!(
            first.contains(":  ") || first.contains("interval  "),
            "{cmd}:\n{o}"
        );
        let (lo, lt) = (labelled_values(&o), labelled_values(&t));
        for label in stable {
            let a = lo.iter().find(|(l, _)| l == label).map(|(_, v)| v.as_str());
            // ntpsec leaves a line with an empty value out (4.2.8 prints it).
            let b = lt
                .iter()
                .find(|(l, _)| l == label)
                .map(|(_, v)| v.as_str())
                .or(Some("").filter(|_| a == Some("")));
            let (Some(a), Some(b)) = (a, b) else {
                panic!("{cmd}: {label} missing\nours:\n{o}\nntpsec:\n{t}");
            };
            let same = a == b
                || matches!((as_number(a), as_number(b)), (Some(x), Some(y)) if (x - y).abs() < 1e-9);
            assert!(same, "{cmd} {label}: ours {a}, ntpsec {b}\n{o}\n{t}");
        }
    }
    // kerninfo and sysinfo carry the status line, byte for byte.
    let (o, t) = (ours("kerninfo"), theirs("kerninfo"));
    assert_eq!(o.lines().next(), t.lines().next());
    // mrulist: this test's own queries, from localhost, mode 6 version 2.
    let mo = run_in(&ns, &ntpq, &["-c", "mrulist", "127.0.0.1"]);
    // 4.2.8's progress lines, on standard error.
    assert_eq!(
        stderr(&mo),
        "Ctrl-C will stop MRU retrieval and display partial results.\n\
         Retrieved 1 unique MRU entries and 0 updates.\n"
    );
    let m = stdout(&mo);
    let lines: Vec<&str> = m.lines().collect();
    assert_eq!(
        lines[0], "lstint avgint rstr r m v  count rport remote address",
        "{m}"
    );
    assert_eq!(lines[1], "=".repeat(78));
    let row: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(&row[3..6], [".", "6", "2"], "{m}");
    assert_eq!(row[8], "localhost", "{m}");
    let t = theirs("mrulist");
    assert!(t.contains(" . 6 2 ") && t.contains("localhost"), "{t}");
}
