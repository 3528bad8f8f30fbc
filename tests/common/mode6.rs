//! Mode 6 scaffolding for the interop tests: ntpsec's ntpq inside a namespace, and
//! the variable names its summary commands ask for.

use std::path::PathBuf;
use std::process::Command;

use super::{require, root, NetNs};

/// The names ntpsec's ntpq asks in `sysinfo`, `kerninfo`, `sysstats`, `iostats`,
/// `monstats` and `authinfo`: the very file slew-core's responder unit tests read,
/// so the unit tests and the differential tests check the same lists.
#[path = "../../core/src/control/tests_ntpq_names.rs"]
pub mod ntpq_names;

/// ntpsec's ntpq, unpacked by scripts/install-peers under target/peers, to run on the
/// system python (which needs the `ntp` module, package python3-ntp) inside `ns`
/// against 127.0.0.1 with `args`. Fails loudly when either is missing; never skips.
/// The caller adds what its test needs (environment, timeout) and runs it.
pub fn ntpsec_ntpq_command(ns: &NetNs, args: &[&str]) -> Command {
    ntpsec_ntpq_command_at(ns, "127.0.0.1", args)
}

/// As [`ntpsec_ntpq_command`], asking `host`.
pub fn ntpsec_ntpq_command_at(ns: &NetNs, host: &str, args: &[&str]) -> Command {
    let script: PathBuf = root().join("target/peers/ntpsec/usr/bin/ntpq");
    assert!(
        script.exists(),
        "{} is missing: run scripts/install-peers (it unpacks ntpsec); this test does not skip",
        script.display()
    );
    let python = require("python3", "python3-ntp");
    let mut cmd = ns.command(python.to_str().unwrap());
    cmd.arg(&script).args(args).arg(host);
    cmd
}
