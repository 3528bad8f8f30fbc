//! The variables of ntpq's summaries (`sysinfo`, `kerninfo`, `sysstats`, `iostats`,
//! `monstats`, `authinfo`): every name answered, in the units ntpd uses.

use std::vec::Vec;

use super::tests_fixtures::*;
use super::tests_ntpq_names::*;
use super::*;
use crate::server::{DropReason, ServerStats};

/// Every name ntpsec's ntpq asks in `sysinfo` (plus ntpd 4.2.8's `bcastdelay`),
/// `kerninfo`, `sysstats` (with the `_r` twins), `iostats`, `monstats`, `authinfo`.
fn ntpq_summary_names() -> Vec<&'static str> {
    let lists: [&[&'static str]; 8] = [
        SYSINFO,
        &["bcastdelay"],
        KERNINFO,
        SYSSTATS,
        SYSSTATS_RECENT,
        IOSTATS,
        MONSTATS,
        AUTHINFO,
    ];
    lists.concat()
}

#[test]
fn every_variable_of_ntpqs_summaries_is_answered_once_by_name() {
    for chunk in ntpq_summary_names().chunks(20) {
        let p = rv_x(chunk, &Extras::NONE);
        let names: Vec<&str> = p.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, chunk, "in the order asked");
        assert!(p.iter().all(|(_, v)| !v.is_empty()), "{p:?}");
    }
    // Plain `rv` keeps ntpd's default list: none of them.
    let all = text(&respond(&NTPQ_RV, &sys(), &[local_peer()]));
    assert!(!all.contains("ss_") && !all.contains("kmaxerr"), "{all}");
    // ntpsec 1.2.2 dropped these two: UNKNOWNVAR, as from it.
    for gone in ["authkuncached", "authkexpired"] {
        let frags = respond_x(&request(2, gone.as_bytes()), &Extras::NONE).unwrap();
        assert_eq!(error_of(&frags), (0xc2, 5), "{gone}");
    }
}

#[test]
fn kerninfo_converts_the_kernels_units() {
    // What an unsynchronised Linux kernel reports (see the interop test).
    let mut x = Extras::NONE;
    x.kernel = KernelState {
        maxerror: 16_000_000,
        esterror: 16_000_000,
        status: 0x40,
        constant: 2,
        precision: 1,
        tolerance: 32_768_000,
        freq: -12 * 65536,
        offset: 1500,
        ..KernelState::default()
    };
    let p = rv_x(
        &[
            "kmaxerr",
            "kesterr",
            "kstflags",
            "ktimeconst",
            "kprecis",
            "kfreqtol",
            "kfreq",
            "koffset",
        ],
        &x,
    );
    // µs → ms (ntpsec 1.2.2 says 16: it reads them as ns).
    assert_eq!(value(&p, "kmaxerr"), "16000.000");
    assert_eq!(value(&p, "kesterr"), "16000.000");
    assert_eq!(value(&p, "kstflags"), "\"unsync\"");
    assert_eq!(value(&p, "ktimeconst"), "2");
    assert_eq!(value(&p, "kprecis"), "0.001000");
    assert_eq!(value(&p, "kfreqtol"), "500.000");
    assert_eq!(value(&p, "kfreq"), "-12.000");
    assert_eq!(value(&p, "koffset"), "1.500000", "1500 µs");
    // STA_NANO: offset and jitter in ns; several words, space-separated.
    x.kernel.status = STA_NANO | 0x41;
    x.kernel.shift = 2;
    x.kernel.jitter = 2_000_000;
    x.kernel.calcnt = 5;
    let p = rv_x(
        &[
            "koffset",
            "kstflags",
            "kppsjitter",
            "kppscalibdur",
            "kppscalibs",
        ],
        &x,
    );
    assert_eq!(value(&p, "koffset"), "0.001500", "1500 ns");
    assert_eq!(value(&p, "kstflags"), "\"pll unsync nano\"");
    assert_eq!(value(&p, "kppsjitter"), "2.000000");
    assert_eq!(value(&p, "kppscalibdur"), "4");
    assert_eq!(value(&p, "kppscalibs"), "5");
    // Without a PPS signal (shift 0) ntpd reports the PPS figures as 0.
    x.kernel.shift = 0;
    let p = rv_x(&["kppsjitter", "kppscalibdur", "kppscalibs"], &x);
    assert!(p.iter().all(|(_, v)| v == "0"), "{p:?}");
    // Every bit has its word.
    x.kernel.status = 0xffff;
    let p = rv_x(&["kstflags"], &x);
    assert_eq!(
        value(&p, "kstflags"),
        "\"pll ppsfreq ppstime fll ins del unsync freqhold ppssignal ppsjitter ppswander ppserror clockerr nano mode=fll src=B\""
    );
}

#[test]
fn sysinfo_names_the_system_peer() {
    let mut x = Extras::NONE;
    let p = rv_x(
        &["peeradr", "peermode", "rootdist", "authdelay", "bcastdelay"],
        &x,
    );
    assert_eq!(value(&p, "peeradr"), "0.0.0.0:0");
    assert_eq!(value(&p, "peermode"), "0");
    assert_eq!(value(&p, "authdelay"), "0.000");
    x.sys_peer = Some("192.0.2.1:123".parse().unwrap());
    x.sys_peer_mode = 3;
    x.root_distance_s = 0.0125;
    let p = rv_x(&["peeradr", "peermode", "rootdist"], &x);
    assert_eq!(value(&p, "peeradr"), "192.0.2.1:123");
    assert_eq!(value(&p, "peermode"), "3");
    assert_eq!(value(&p, "rootdist"), "12.500");
    x.sys_peer = Some("[2001:db8::1]:123".parse().unwrap());
    assert_eq!(
        value(&rv_x(&["peeradr"], &x), "peeradr"),
        "[2001:db8::1]:123"
    );
}

#[test]
fn sysstats_iostats_authinfo_monstats_from_the_counters() {
    let mut s = ServerStats::ZERO;
    s.answered = 20;
    s.rate_kisses = 2;
    s.crypto_naks = 1;
    s.by_version = [0, 3, 1, 2, 30, 0, 0, 0];
    s.v1_by_mode = [1, 1, 0, 1, 0, 0, 0, 0];
    s.dropped[DropReason::Truncated.index()] = 4;
    s.dropped[DropReason::Malformed.index()] = 1;
    s.dropped[DropReason::NoServe.index()] = 5;
    s.dropped[DropReason::RateLimited.index()] = 7;
    s.dropped[DropReason::ModeServer.index()] = 2;
    s.mac.lookups = 6;
    s.mac.not_found = 1;
    s.mac.digest_checked = 3;
    s.mac.digest_failed = 1;
    s.mac.digest_signed = 2;
    s.mac.cmac_checked = 2;
    s.mac.cmac_signed = 2;
    let mut x = Extras::NONE;
    x.server = s;
    x.uptime_s = 3600;
    x.stats_since_s = 3600;
    x.control_requests = 9;
    x.io.received = 40;
    x.io.total_rbuf = 32;
    x.io.free_rbuf = 30;
    x.keys.keys = 3;
    x.keys.free = 1021;
    x.monitor.depth = 10;
    x.monitor.max_depth = 4096;
    x.monitor.entry_bytes = 64;
    let p = rv_x(
        &[
            "ss_uptime",
            "ss_numctlreq",
            "ss_received",
            "ss_received_r",
            "ss_thisver",
            "ss_oldver",
            "ss_ver1",
            "ss_ver1client",
            "ss_ver1zero",
            "ss_ver1symm",
            "ss_badformat",
            "ss_badauth",
            "ss_declined",
            "ss_restricted",
            "ss_limited",
        ],
        &x,
    );
    let expect = [
        ("ss_uptime", "3600"),
        ("ss_numctlreq", "9"),
        ("ss_received", "39"), // 20 answered + 19 dropped
        ("ss_received_r", "39"),
        ("ss_thisver", "30"),
        ("ss_oldver", "6"),
        ("ss_ver1", "3"),
        ("ss_ver1client", "1"),
        ("ss_ver1zero", "1"),
        ("ss_ver1symm", "1"),
        ("ss_badformat", "5"),
        ("ss_badauth", "1"),
        ("ss_declined", "2"),
        ("ss_restricted", "5"),
        ("ss_limited", "9"), // 7 dropped + 2 kissed
    ];
    for (k, v) in expect {
        assert_eq!(value(&p, k), v, "{k}");
    }
    let p = rv_x(
        &[
            "ss_kodsent",
            "ss_processed",
            "io_received",
            "used_rbuf",
            "authkeys",
            "authfreek",
            "authklookups",
            "authknotfound",
            "authencrypts",
            "authdecrypts",
            "authdigestfails",
            "authcmacdecrypts",
            "authcmacfails",
            "mru_mem",
            "mru_maxmem",
        ],
        &x,
    );
    let expect = [
        ("ss_kodsent", "2"),
        ("ss_processed", "17"),
        ("io_received", "40"),
        ("used_rbuf", "2"),
        ("authkeys", "3"),
        ("authfreek", "1021"),
        ("authklookups", "6"),
        ("authknotfound", "1"),
        ("authencrypts", "4"),
        ("authdecrypts", "5"),
        ("authdigestfails", "1"),
        ("authcmacdecrypts", "2"),
        ("authcmacfails", "0"),
        ("mru_mem", "1"),      // 640 bytes, rounded as ntpd: (640 + 512) / 1024
        ("mru_maxmem", "256"), // 4096 × 64 bytes
    ];
    for (k, v) in expect {
        assert_eq!(value(&p, k), v, "{k}");
    }
}
