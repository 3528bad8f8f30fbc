//! `ntpq` variables and commands: `rv` variable for variable against ntpsec's
//! ntpq, the statistics commands, the prompt, several hosts.

use super::*;
use common::ntpsec::ntpsec_ntpd_path;

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
    let ntpd = ntpsec_ntpd_path();
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
