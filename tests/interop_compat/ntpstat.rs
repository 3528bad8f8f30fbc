//! `ntpstat` byte for byte against Debian's C ntpstat, exit codes too.

use super::*;

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
