//! The drivers against segments and pseudo-terminals the tests make themselves.
//! Each SHM test runs in its own IPC namespace (the test thread unshares it: tests
//! run as root, as CI does), so no segment of a real gpsd or ntpd on the machine is
//! ever seen or touched, and the tests cannot see each other's.

use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::Duration;

use slew_core::clock::LeapIndicator;
use slew_core::refclock::nmea::{checksum, NmeaError};
use slew_core::refclock::nmea_mode::{NmeaEvent, NmeaMode};
use slew_core::refclock::shm::{ShmError, ShmRecord, STALL_READS};
use slew_core::refclock::UnixTime;

use super::nmea::NmeaPort;
use super::realtime_unix;
use super::shm::{shm_key, AttachError, ShmReader, ShmSegment};

/// A fresh IPC namespace for this test thread.
fn private_ipc() {
    // SAFETY: plain syscall; affects only the calling thread.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWIPC) };
    assert_eq!(
        rc,
        0,
        "unshare(CLONE_NEWIPC) needs root: {}",
        std::io::Error::last_os_error()
    );
}

fn record(receive: UnixTime, reference: UnixTime, mode: i32) -> ShmRecord {
    ShmRecord {
        mode,
        count: 0,
        clock_sec: reference.secs,
        clock_usec: (reference.nanos / 1000) as i32,
        receive_sec: receive.secs,
        receive_usec: (receive.nanos / 1000) as i32,
        leap: 0,
        precision: -10,
        nsamples: 3,
        valid: 1,
        clock_nsec: reference.nanos,
        receive_nsec: receive.nanos,
    }
}

#[test]
fn shm_modes_0_and_1_give_the_offset_and_clear_valid() {
    private_ipc();
    let seg = ShmSegment::attach(0, true, false).expect("create unit 0");
    let mut writer = ShmSegment::attach(0, false, false).expect("second attach");
    let mut reader = ShmReader::new(seg);
    for (k, mode) in [1, 0, 1].into_iter().enumerate() {
        let rx = realtime_unix();
        writer.write(&record(rx, rx.add_s(0.040 + k as f64 * 1e-3), mode));
        let s = reader.read().expect("a sample");
        assert!(
            (s.offset_s() - (0.040 + k as f64 * 1e-3)).abs() < 1e-9,
            "mode {mode}: {s:?}"
        );
        assert_eq!(s.leap, LeapIndicator::NoWarning);
        assert_eq!(reader.read(), Err(ShmError::NotReady), "valid was cleared");
    }
    assert_eq!(reader.segment().precision_log2(), -10);
    reader.segment().remove().expect("remove");
}

#[test]
fn shm_units_0_and_1_are_private() {
    private_ipc();
    for (unit, want) in [(0u8, 0o600), (1, 0o600), (2, 0o666)] {
        let seg = ShmSegment::attach(unit, true, false).expect("create");
        // SAFETY: shmid_ds is plain data.
        let mut ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
        // SAFETY: plain syscalls on our own namespace's segment.
        let id = unsafe { libc::shmget(shm_key(unit), 0, 0) };
        assert!(id >= 0);
        assert_eq!(unsafe { libc::shmctl(id, libc::IPC_STAT, &mut ds) }, 0);
        assert_eq!(ds.shm_perm.mode & 0o777, want, "unit {unit}");
        seg.remove().expect("remove");
    }
}

#[test]
fn shm_wrong_size_is_refused_with_its_reason() {
    private_ipc();
    for (unit, size) in [(3u8, 64usize), (4, 200)] {
        // SAFETY: plain syscall creating a segment in our own namespace.
        let id = unsafe { libc::shmget(shm_key(unit), size, libc::IPC_CREAT | 0o600) };
        assert!(id >= 0, "{}", std::io::Error::last_os_error());
        for create in [false, true] {
            let e = ShmSegment::attach(unit, create, false).expect_err("must refuse");
            assert_eq!(
                e,
                AttachError::WrongSize {
                    found: size,
                    expected: 96
                },
                "unit {unit}"
            );
            assert_eq!(
                e.as_shm_error(),
                Some(ShmError::WrongSize {
                    found: size,
                    expected: 96
                })
            );
            assert!(e.to_string().contains(&format!("{size} bytes")), "{e}");
        }
        // SAFETY: remove the segment we made.
        unsafe { libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
    }
    assert_eq!(
        ShmSegment::attach(5, false, false).expect_err("none"),
        AttachError::Missing
    );
}

#[test]
fn shm_stalled_writer_is_reported() {
    private_ipc();
    let mut writer = ShmSegment::attach(2, true, true).expect("create");
    let mut reader = ShmReader::new(ShmSegment::attach(2, false, false).expect("attach"));
    let rx = realtime_unix();
    let rec = record(rx, rx.add_s(0.040), 1);
    writer.write(&rec);
    assert!(reader.read().is_ok());
    // The writer sets valid again without a new record: a duplicate, not a sample.
    writer.write(&rec);
    assert_eq!(reader.read(), Err(ShmError::Duplicate));
    let mut last = Ok(());
    for _ in 1..STALL_READS {
        last = reader.read().map(|_| ());
    }
    assert_eq!(last, Err(ShmError::Stalled { reads: STALL_READS }));
    // A new record ends it.
    let rx = realtime_unix();
    writer.write(&record(rx, rx.add_s(0.040), 1));
    assert!(reader.read().is_ok());
    writer.remove().expect("remove");
}

#[test]
fn shm_invalid_records_are_refused() {
    private_ipc();
    let mut writer = ShmSegment::attach(2, true, true).expect("create");
    let mut reader = ShmSegment::attach(2, false, false).expect("attach");
    let rx = realtime_unix();
    let mut rec = record(rx, rx.add_s(0.040), 1);
    rec.valid = 0;
    writer.write(&rec);
    assert_eq!(reader.read(realtime_unix()), Err(ShmError::NotReady));
    let mut rec = record(rx, rx.add_s(0.040), 7);
    writer.write(&rec);
    assert_eq!(reader.read(realtime_unix()), Err(ShmError::BadMode(7)));
    rec = record(rx.add_s(-10.0), rx.add_s(-9.96), 1);
    writer.write(&rec);
    assert_eq!(reader.read(realtime_unix()), Err(ShmError::Stale));
    rec = record(rx, rx, 1);
    rec.clock_usec = 2_000_000;
    writer.write(&rec);
    assert_eq!(reader.read(realtime_unix()), Err(ShmError::BadTimestamp));
    rec = record(rx, rx, 1);
    rec.leap = 3;
    writer.write(&rec);
    let s = reader.read(realtime_unix()).expect("read");
    assert_eq!(
        s.leap,
        LeapIndicator::Unsynchronized,
        "the source refuses it"
    );
    writer.remove().expect("remove");
}

/// A pseudo-terminal: the master we write to, the slave's path for the driver.
pub(crate) struct Pty {
    pub master: std::fs::File,
    pub slave: PathBuf,
}

pub(crate) fn open_pty() -> Pty {
    // SAFETY: plain libc calls; the fd is owned by the File.
    unsafe {
        let fd = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(fd >= 0);
        assert_eq!(libc::grantpt(fd), 0);
        assert_eq!(libc::unlockpt(fd), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(fd, name.as_mut_ptr(), name.len()), 0);
        let slave = std::ffi::CStr::from_ptr(name.as_ptr())
            .to_string_lossy()
            .into_owned();
        Pty {
            master: std::fs::File::from(OwnedFd::from_raw_fd(fd)),
            slave: PathBuf::from(slave),
        }
    }
}

fn line(body: &str) -> String {
    format!("${body}*{:02X}\r\n", checksum(body.as_bytes()))
}

/// hhmmss.sss and ddmmyy of a Unix time.
fn nmea_time(t: UnixTime) -> (String, String) {
    let day = t.secs.div_euclid(86_400);
    let sod = t.secs.rem_euclid(86_400);
    let (y, m, d) = slew_core::refclock::civil::civil_from_days(day);
    (
        format!(
            "{:02}{:02}{:02}.{:03}",
            sod / 3600,
            sod / 60 % 60,
            sod % 60,
            t.nanos / 1_000_000
        ),
        format!("{d:02}{m:02}{:02}", y % 100),
    )
}

fn collect(port: &mut NmeaPort, wait: Duration) -> Vec<Result<f64, NmeaError>> {
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + wait;
    while std::time::Instant::now() < deadline {
        port.read_available(|e| match e {
            NmeaEvent::Sample(s, _, _) => out.push(Ok(s.offset_s())),
            NmeaEvent::Rejected(e, _) => out.push(Err(e)),
            NmeaEvent::Filtered(_) => {}
        })
        .expect("read");
        std::thread::sleep(Duration::from_millis(2));
    }
    out
}

#[test]
fn nmea_driver_on_a_pty_sees_the_sentence_offset() {
    let mut pty = open_pty();
    let mut port = NmeaPort::open(&pty.slave, NmeaMode(0x10)).expect("open pty at 9600");
    let mut offsets = Vec::new();
    for _ in 0..5 {
        let now = realtime_unix();
        let (hms, dmy) = nmea_time(now.add_s(0.040));
        let text = line(&format!(
            "GPRMC,{hms},A,4807.038,N,01131.000,E,0.0,0.0,{dmy},,,A"
        ));
        pty.master.write_all(text.as_bytes()).expect("write");
        for r in collect(&mut port, Duration::from_millis(30)) {
            offsets.push(r.expect("a sample"));
        }
        std::thread::sleep(Duration::from_millis(1000));
    }
    assert_eq!(offsets.len(), 5, "{offsets:?}");
    // The sentence says now + 40 ms, cut to the millisecond; the pty and the
    // scheduler only ever make the stamp later, so no offset is above +40 ms, and
    // on an idle machine they are within a few ms of it (a loaded one delays some
    // reads by ten or more: the median is the figure).
    for o in &offsets {
        assert!(*o <= 0.0401 && *o > 0.0, "{offsets:?}");
    }
    offsets.sort_by(f64::total_cmp);
    assert!((offsets[2] - 0.040).abs() < 0.005, "median: {offsets:?}");
}

#[test]
fn nmea_driver_reports_no_fix_and_bad_checksum() {
    let mut pty = open_pty();
    let mut port = NmeaPort::open(&pty.slave, NmeaMode(0)).expect("open pty");
    let now = realtime_unix();
    let (hms, dmy) = nmea_time(now);
    let mut bad = line(&format!(
        "GPRMC,{hms},A,4807.038,N,01131.000,E,0.0,0.0,{dmy},,,A"
    ));
    bad.replace_range(8..9, "9"); // a changed digit in the time: checksum no longer matches
    let text = format!(
        "{}{}{}",
        line(&format!("GPRMC,{hms},V,,,,,0.0,0.0,{dmy},,,N")),
        line(&format!(
            "GPGGA,{hms},4807.038,N,01131.000,E,0,00,99.9,,M,,M,,"
        )),
        bad
    );
    pty.master.write_all(text.as_bytes()).expect("write");
    let got = collect(&mut port, Duration::from_millis(100));
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0], Err(NmeaError::NoFix));
    assert_eq!(got[1], Err(NmeaError::NoFix));
    assert!(
        matches!(got[2], Err(NmeaError::BadChecksum { .. })),
        "{got:?}"
    );
    let c = port.counters();
    assert_eq!((c.no_fix, c.bad_checksum, c.accepted), (2, 1, 0));
}

#[test]
fn nmea_open_refuses_unassigned_baud_bits() {
    let pty = open_pty();
    let e = NmeaPort::open(&pty.slave, NmeaMode(0x60)).expect_err("mode 0x60");
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
}
