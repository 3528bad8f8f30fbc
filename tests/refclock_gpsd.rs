//! The real gpsd between a GPS and slew: the test plays the receiver, writing RMC,
//! GGA and ZDA sentences that carry the current UTC second plus a known offset
//! (+40 ms: each second T is sent at T − 40 ms); gpsd reads them and writes ntpd's
//! SHM segment (unit 0); slew's SHM reader must see offsets of +40 ms within the
//! path's jitter. The same bytes go at the same moment to a pseudo-terminal read by
//! slew's own NMEA driver, which must agree.
//!
//! gpsd is fed over a loopback TCP connection (`tcp://127.0.0.1:PORT`), not a pty:
//! gpsd 3.22 classifies `/dev/pts/*` (and any char device of the pty majors 3 and
//! 136–143) as its own test harness's source and, on purpose, never writes NTP SHM
//! for it (`ntpshm_link_activate` returns early for `source_pty`). A TCP source is
//! handled like a serial receiver there: a clock segment is allocated and written.
//!
//! Everything happens in a private IPC namespace (the test thread unshares one and
//! gpsd is started from it), so a gpsd or ntpd on the machine is never seen or
//! touched, and the namespace's segments go with it; the test also removes unit 0.
//! gpsd listens on a free loopback port and is killed by PID at the end.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use common::gps::{nmea_line as line, open_pty, sentences, sleep_until};
use common::{require, spawn_logged, TempDir};
use slew_core::refclock::nmea::NmeaError;
use slew_core::refclock::nmea_mode::{NmeaEvent, NmeaMode};
use slew_core::refclock::shm::ShmError;
use slew_core::refclock::source::{Driver, RefclockConfig, RefclockSource};
use slew_core::refclock::UnixTime;
use slew_core::Instant;
use slew_linux::os::refclock::nmea::NmeaPort;
use slew_linux::os::refclock::realtime_unix;
use slew_linux::os::refclock::shm::{ShmReader, ShmSegment};

const OFFSET_S: f64 = 0.040;

/// One second's sentences naming second `t` (a receiver's burst after the top of
/// the second), with a fix.
fn burst(t: i64) -> String {
    let s = sentences(t, true);
    format!("{}{}{}", s.rmc, s.gga, s.zda)
}

/// Something the sentences are written to (gpsd's TCP feed, our pty's master).
trait WriteRef {
    fn write_bytes(&self, b: &[u8]);
}

impl WriteRef for std::fs::File {
    fn write_bytes(&self, b: &[u8]) {
        let mut f = self;
        f.write_all(b).expect("write to pty");
    }
}

impl WriteRef for TcpStream {
    fn write_bytes(&self, b: &[u8]) {
        let mut s = self;
        s.write_all(b).expect("write to gpsd");
    }
}

/// gpsd on a loopback TCP feed the test serves: -N foreground, -n poll without
/// clients, -b read-only (never writes to the "receiver"), -p passive (no
/// reconfiguration), -S a free loopback port for its clients, -F a control socket in
/// the temp dir. Returns gpsd and the connection it made to us.
fn start_gpsd(gpsd: &std::path::Path, dir: &TempDir) -> (common::Proc, TcpStream) {
    let feed = TcpListener::bind("127.0.0.1:0").expect("bind feed");
    let feed_port = feed.local_addr().expect("addr").port();
    let mut cmd = Command::new(gpsd);
    cmd.args(["-N", "-n", "-b", "-p", "-D", "3", "-S"])
        .arg(common::free_port().to_string())
        .arg("-F")
        .arg(dir.join("gpsd.sock"))
        .arg(format!("tcp://127.0.0.1:{feed_port}"));
    let proc = spawn_logged(cmd, "gpsd", dir.join("gpsd.log"));
    feed.set_nonblocking(true).expect("nonblocking");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match feed.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).expect("blocking");
                s.set_nodelay(true).expect("nodelay");
                return (proc, s);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "gpsd did not connect to its feed: {}",
                    proc.log_text()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// Remove every NTP segment gpsd made in our namespace (units 0–7; the namespace
/// takes any left with it when the test process ends).
fn remove_ntp_segments() {
    for unit in 0..8 {
        if let Ok(seg) = ShmSegment::attach(unit, false, false) {
            seg.remove().expect("remove segment");
        }
    }
}

fn private_ipc() {
    // SAFETY: plain syscall; affects only this test thread and what it spawns.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWIPC) };
    assert_eq!(
        rc,
        0,
        "unshare(CLONE_NEWIPC) needs root: {}",
        std::io::Error::last_os_error()
    );
}

fn stats(xs: &[f64]) -> (f64, f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let min = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (mean, min, max)
}

#[test]
fn gpsd_shm_and_our_nmea_driver_see_the_same_offset() {
    let gpsd = require("gpsd", "gpsd");
    private_ipc();
    let dir = TempDir::new("gpsd");
    let (gpsd_proc, gps_feed) = start_gpsd(&gpsd, &dir);
    let our_pty = open_pty();
    let mut ours = NmeaPort::open(&our_pty.slave, NmeaMode(0x10)).expect("open our pty");

    let mut masters: [&dyn WriteRef; 2] = [&gps_feed, &our_pty.master];
    let mut shm: Option<ShmReader> = None;
    let mut shm_offsets = Vec::new();
    let mut shm_errors = Vec::new();
    let mut nmea_offsets = Vec::new();
    // Our NMEA source with `fudge 127.127.20.0 time2 -0.040`: the sentence's known
    // lateness taken out, its poll must say the clock is right.
    let mut nmea_cfg = RefclockConfig::new(Driver::Nmea, 0);
    nmea_cfg.fudge.time2_s = -OFFSET_S;
    let mut nmea_src = RefclockSource::new(nmea_cfg, Instant::from_nanos(0));
    let mut refclock =
        RefclockSource::new(RefclockConfig::new(Driver::Shm, 0), Instant::from_nanos(0));
    let start = realtime_unix().secs + 1;
    for t in start..start + 12 {
        // Second t is sent 40 ms before it starts: the sentences are 40 ms ahead.
        sleep_until(UnixTime::new(t, 0).add_s(-OFFSET_S));
        let text = burst(t);
        for m in masters.iter_mut() {
            m.write_bytes(text.as_bytes());
        }
        // Read both sides for most of the second.
        let until = UnixTime::new(t, 700_000_000);
        while realtime_unix() < until {
            ours.read_available(|e| match e {
                NmeaEvent::Sample(s, _, _) => {
                    nmea_offsets.push(s.offset_s());
                    nmea_src.add_sample(&s).expect("our sample accepted");
                }
                NmeaEvent::Rejected(e, l) => {
                    panic!("{e}: {}", String::from_utf8_lossy(l))
                }
                NmeaEvent::Filtered(_) => {}
            })
            .expect("read our pty");
            std::thread::sleep(Duration::from_millis(5));
        }
        // The SHM segment is read once a second, as ntpd does.
        if shm.is_none() {
            // gpsd creates the segments at start-up (as root: units 0 and 1).
            shm = ShmSegment::attach(0, false, false).ok().map(ShmReader::new);
        }
        if let Some(r) = shm.as_mut() {
            match r.read() {
                Ok(s) => {
                    shm_offsets.push(s.offset_s());
                    refclock.add_sample(&s).expect("gpsd's sample accepted");
                }
                // gpsd's first seconds (before NTP_MIN_FIXES fixes) write nothing.
                Err(ShmError::NotReady) if shm_offsets.is_empty() => {}
                Err(e) => shm_errors.push(e),
            }
        }
    }
    let log = gpsd_proc.log_text();
    // gpsd goes away: the segment stays, nothing new comes, and after STALL_READS
    // reads the writer is reported stalled (its last record is never used again).
    drop(gpsd_proc);
    let mut after = Vec::new();
    if let Some(r) = shm.as_mut() {
        for _ in 0..slew_core::refclock::shm::STALL_READS {
            after.push(r.read());
        }
    }
    remove_ntp_segments();
    assert!(after.iter().all(|r| r.is_err()), "{after:?}");
    assert_eq!(
        after.last(),
        Some(&Err(ShmError::Stalled {
            reads: slew_core::refclock::shm::STALL_READS
        })),
        "{after:?}"
    );
    assert!(
        shm_errors.is_empty(),
        "{:?}\n--- gpsd log (tail) ---\n{}",
        &shm_errors[..shm_errors.len().min(5)],
        log.lines().rev().take(40).collect::<Vec<_>>().join("\n")
    );
    // gpsd ships time only after NTP_MIN_FIXES (3) fixes: 12 seconds give ≥ 6.
    assert!(
        shm_offsets.len() >= 6,
        "gpsd wrote {} samples: {shm_offsets:?}\n--- gpsd log (tail) ---\n{}",
        shm_offsets.len(),
        log.lines().rev().take(40).collect::<Vec<_>>().join("\n")
    );
    assert_eq!(
        nmea_offsets.len(),
        12,
        "one sample a second: {nmea_offsets:?}"
    );
    let (g_mean, g_min, g_max) = stats(&shm_offsets);
    let (n_mean, n_min, n_max) = stats(&nmea_offsets);
    println!(
        "gpsd SHM: n={} mean {:+.3} ms [{:+.3}, {:+.3}]; slew NMEA: n={} mean {:+.3} ms [{:+.3}, {:+.3}]",
        shm_offsets.len(),
        g_mean * 1e3,
        g_min * 1e3,
        g_max * 1e3,
        nmea_offsets.len(),
        n_mean * 1e3,
        n_min * 1e3,
        n_max * 1e3
    );
    // The path (pty or loopback TCP, gpsd's and our scheduling on a loaded 2-core
    // machine) only ever makes the receive stamp later: no offset is above +40 ms
    // (+1 ms of slack for the clock read), none is more than 40 ms late, and the
    // medians are within 10 ms of +40 ms and of each other.
    let median = |xs: &[f64]| {
        let mut v = xs.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    for (who, xs) in [("gpsd", &shm_offsets), ("nmea", &nmea_offsets)] {
        for o in xs.iter() {
            assert!(
                *o <= OFFSET_S + 0.001 && *o > 0.0,
                "{who}: {o} not within (0, +41 ms]: {xs:?}"
            );
        }
        let m = median(xs);
        assert!((m - OFFSET_S).abs() < 0.010, "{who}: median {m}: {xs:?}");
    }
    let (gm, nm) = (median(&shm_offsets), median(&nmea_offsets));
    assert!((gm - nm).abs() < 0.010, "gpsd median {gm} vs ours {nm}");
    // And through the refclock source: one poll's median filter output.
    let out = refclock.poll(Instant::from_nanos(16_000_000_000));
    let s = out.sample.expect("a poll with samples");
    assert!((s.offset_s - OFFSET_S).abs() < 0.020, "{s:?}");
    assert_eq!(s.delay_s, 0.0);
    let ours = nmea_src.poll(Instant::from_nanos(16_000_000_000));
    let s = ours.sample.expect("a poll with samples");
    assert!(s.offset_s.abs() < 0.010, "time2 fudged: {s:?}");
    assert_eq!(nmea_src.ref_id(), slew_core::wire::RefId::GPS);
}

#[test]
fn gpsd_ships_nothing_without_a_fix_and_our_driver_says_why() {
    let gpsd = require("gpsd", "gpsd");
    private_ipc();
    let dir = TempDir::new("gpsd-nofix");
    let (gpsd_proc, gps_feed) = start_gpsd(&gpsd, &dir);
    let our_pty = open_pty();
    let mut ours = NmeaPort::open(&our_pty.slave, NmeaMode(0x10)).expect("open our pty");
    let mut masters: [&dyn WriteRef; 2] = [&gps_feed, &our_pty.master];
    let mut shm: Option<ShmReader> = None;
    let mut shm_samples = 0;
    let mut reasons = Vec::new();
    let start = realtime_unix().secs + 1;
    for t in start..start + 7 {
        sleep_until(UnixTime::new(t, 0).add_s(-OFFSET_S));
        // A receiver without a fix: RMC status V, GGA quality 0, and one good-looking
        // RMC with a corrupted checksum.
        let good = burst(t);
        let rmc = good
            .lines()
            .next()
            .unwrap_or_default()
            .replace(",A,", ",V,");
        let body = &rmc[1..rmc.find('*').unwrap()];
        let rmc_v = line(body);
        let gga_0 = line(
            &good.lines().nth(1).unwrap()[1..good.lines().nth(1).unwrap().find('*').unwrap()]
                .replace(",E,1,", ",E,0,"),
        );
        let mut bad_sum = good.lines().next().unwrap().to_string();
        let n = bad_sum.len();
        bad_sum.replace_range(n - 2.., if bad_sum.ends_with("00") { "01" } else { "00" });
        let text = format!("{rmc_v}{gga_0}{bad_sum}\r\n");
        for m in masters.iter_mut() {
            m.write_bytes(text.as_bytes());
        }
        let until = UnixTime::new(t, 700_000_000);
        while realtime_unix() < until {
            ours.read_available(|e| match e {
                NmeaEvent::Sample(..) => panic!("no sample may come from these"),
                NmeaEvent::Rejected(e, _) => reasons.push(e),
                NmeaEvent::Filtered(_) => {}
            })
            .expect("read");
            std::thread::sleep(Duration::from_millis(5));
        }
        if shm.is_none() {
            shm = ShmSegment::attach(0, false, false).ok().map(ShmReader::new);
        }
        if let Some(r) = shm.as_mut() {
            if r.read().is_ok() {
                shm_samples += 1;
            }
        }
    }
    drop(gpsd_proc);
    assert!(shm.is_some(), "gpsd created SHM unit 0");
    remove_ntp_segments();
    assert_eq!(shm_samples, 0, "gpsd must not ship time without a fix");
    assert_eq!(reasons.len(), 21, "{reasons:?}");
    let no_fix = reasons.iter().filter(|e| **e == NmeaError::NoFix).count();
    let bad = reasons
        .iter()
        .filter(|e| matches!(e, NmeaError::BadChecksum { .. }))
        .count();
    assert_eq!((no_fix, bad), (14, 7), "{reasons:?}");
}
