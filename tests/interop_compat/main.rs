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

#[path = "../common/mod.rs"]
mod common;

mod ntpdate;
mod ntpq_peers;
mod ntpq_vars;
mod ntpstat;

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
