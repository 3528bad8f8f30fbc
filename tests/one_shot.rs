//! `slewd -q` under slew-core's one step-or-slew rule (`endpoint::StepRule`): the
//! slew branch and `-x` (the step branch is `interop_follow`'s
//! `slewd_q_sets_the_time_once_and_exits`). Against a real chronyd on loopback,
//! with the virtual clock.

// Test code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

/// Runs `slewd -q` against a chronyd with its virtual clock `offset_s` ahead;
/// returns its log.
fn slewd_q(name: &str, offset_s: &str, extra: &[&str]) -> String {
    let dir = TempDir::new(name);
    let upstream = free_port();
    let _chronyd = start_chronyd_server(&dir, upstream, "");
    std::fs::write(
        dir.join("ntp.conf"),
        format!("server 127.0.0.1 port {upstream} iburst\n"),
    )
    .expect("write ntp.conf");
    let mut cmd = Command::new(slew_bin("slewd"));
    cmd.args([
        "-q",
        "-n",
        "--clock",
        "virtual",
        "--virtual-offset",
        offset_s,
    ])
    .args(extra)
    .args(["--listen", "127.0.0.1:0", "-c"])
    .arg(dir.join("ntp.conf"));
    let out = run_with_timeout(cmd, Duration::from_secs(70));
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(!t.contains("-q: stepped"), "one correction, a slew: {t}");
    t
}

#[test]
fn slewd_q_slews_an_offset_below_the_step_threshold() {
    // 50 ms ahead, below the 128 ms step threshold: one slew of about -50 ms.
    let t = slewd_q("once-slew", "0.05", &[]);
    let offset = number_after(&t, "-q: slewing the clock by ").unwrap_or_else(|| panic!("{t}"));
    assert!((offset + 0.05).abs() < 0.005, "{t}");
}

#[test]
fn slewd_q_x_slews_even_above_the_step_threshold() {
    // 0.5 s would be stepped; -x slews everything.
    let t = slewd_q("once-x", "0.5", &["-x"]);
    let offset = number_after(&t, "-q: slewing the clock by ").unwrap_or_else(|| panic!("{t}"));
    assert!((offset + 0.5).abs() < 0.005, "{t}");
}
