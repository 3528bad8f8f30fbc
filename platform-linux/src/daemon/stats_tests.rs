use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::*;
use crate::config::{Config, Location};
use crate::settings::stats::{not_honoured, settings_from};

/// 2026-11-30 23:59:59.5 UTC.
const BEFORE_MIDNIGHT: f64 = 1_796_083_199.5;
/// 2026-12-01 00:00:00.25 UTC.
const AFTER_MIDNIGHT: f64 = 1_796_083_200.25;

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("slew-stats-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn parse(text: &str) -> Config {
    crate::config::test_config(text)
}

#[test]
fn mjd_seconds_and_suffix() {
    assert_eq!(
        mjd_and_seconds(946_684_800.0),
        (51_544, 0.0),
        "2000-01-01 is MJD 51544"
    );
    assert_eq!(mjd_and_seconds(BEFORE_MIDNIGHT), (61_374, 86_399.5));
    assert_eq!(mjd_and_seconds(AFTER_MIDNIGHT), (61_375, 0.25));
    // Never 86400.000 from rounding.
    assert_eq!(mjd_and_seconds(1_796_083_199.999_9).1, 86_399.999);
    assert_eq!(day_suffix(61_374), ".20261130");
    assert_eq!(day_suffix(61_375), ".20261201");
}

#[test]
fn loopstats_line_is_ntpds() {
    // ntp_mon(5)'s example: 50935 75440.031 0.000006019 13.778190 0.000351733 0.013380 6
    let unix = (50_935 - MJD_UNIX_EPOCH) as f64 * 86_400.0 + 75_440.031;
    let r = LoopRecord {
        offset_s: 0.000006019,
        frequency_ppm: 13.778190,
        jitter_s: 0.000351733,
        wander_ppm: 0.013380,
        tc: 6,
    };
    assert_eq!(
        loop_line(unix, &r),
        "50935 75440.031 0.000006019 13.778190 0.000351733 0.013380 6"
    );
    let nan = LoopRecord {
        offset_s: f64::NAN,
        ..r
    };
    assert!(loop_line(unix, &nan).contains(" 0.000000000 13.778190"));
}

#[test]
fn peerstats_line_is_ntpds() {
    // ntp_mon(5)'s example:
    // 48773 10847.650 127.127.4.1 9714 -0.001605376 0.000000000 0.001424877 0.000958674
    let unix = (48_773 - MJD_UNIX_EPOCH) as f64 * 86_400.0 + 10_847.650;
    let r = PeerRecord {
        addr: IpAddr::from([127, 127, 4, 1]),
        status: 0x9714,
        offset_s: -0.001605376,
        delay_s: 0.0,
        dispersion_s: 0.001424877,
        jitter_s: 0.000958674,
    };
    assert_eq!(
        peer_line(unix, &r),
        "48773 10847.650 127.127.4.1 9714 -0.001605376 0.000000000 0.001424877 0.000958674"
    );
    let v6 = PeerRecord {
        addr: "2001:db8::1".parse().unwrap(),
        ..r
    };
    assert!(peer_line(unix, &v6).contains(" 2001:db8::1 9714 "));
}

fn loop_record() -> LoopRecord {
    LoopRecord {
        offset_s: 0.001,
        frequency_ppm: -1.5,
        jitter_s: 0.0001,
        wander_ppm: 0.01,
        tc: 6,
    }
}

#[test]
fn daily_files_rotate_at_utc_midnight_with_the_link() {
    let dir = tmpdir("rotate");
    let s = settings_from(&parse(&format!(
        "statsdir {}\nstatistics loopstats\n",
        dir.display()
    )));
    let mut w = StatsWriter::new(&s);
    w.record_loop(BEFORE_MIDNIGHT - 60.0, &loop_record());
    w.record_loop(BEFORE_MIDNIGHT, &loop_record());
    let day1 = dir.join("loopstats.20261130");
    let link = dir.join("loopstats");
    let text = std::fs::read_to_string(&day1).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        text.starts_with("61374 86339.500 0.001000000 -1.500000 0.000100000 0.010000 6\n"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(&link).unwrap(),
        text,
        "the link is the current file"
    );
    w.record_loop(AFTER_MIDNIGHT, &loop_record());
    let day2 = dir.join("loopstats.20261201");
    let text2 = std::fs::read_to_string(&day2).unwrap();
    assert_eq!(
        text2,
        "61375 0.250 0.001000000 -1.500000 0.000100000 0.010000 6\n"
    );
    assert_eq!(
        std::fs::read_to_string(&day1).unwrap().lines().count(),
        2,
        "yesterday closed"
    );
    assert_eq!(
        std::fs::metadata(&link).unwrap().ino(),
        std::fs::metadata(&day2).unwrap().ino(),
        "the link moved to today's file"
    );
    // A restart appends to today's file.
    let mut w = StatsWriter::new(&s);
    w.record_loop(AFTER_MIDNIGHT + 1.0, &loop_record());
    assert_eq!(std::fs::read_to_string(&day2).unwrap().lines().count(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn filegen_file_type_none_nolink_and_disable() {
    let dir = tmpdir("filegen");
    let c = parse(&format!(
        "statsdir {}\nstatistics loopstats peerstats\n\
         filegen peerstats file peers type none nolink enable\n\
         filegen loopstats disable\n",
        dir.display()
    ));
    assert!(not_honoured(&c, &Location::file(Path::new("/etc/ntp.conf"))).is_empty());
    let s = settings_from(&c);
    assert!(!s.loopstats.enabled, "filegen … disable wins");
    assert_eq!(
        s.peerstats,
        FileGen {
            file: "peers".into(),
            rotation: Rotation::None,
            link: false,
            enabled: true
        }
    );
    let mut w = StatsWriter::new(&s);
    w.record_loop(BEFORE_MIDNIGHT, &loop_record());
    let r = PeerRecord {
        addr: IpAddr::from([192, 0, 2, 1]),
        status: 0x9614,
        offset_s: 0.0,
        delay_s: 0.001,
        dispersion_s: 0.002,
        jitter_s: 0.0003,
    };
    w.record_peer(BEFORE_MIDNIGHT, &r);
    w.record_peer(AFTER_MIDNIGHT, &r);
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["peers"], "one file, no suffix, no loopstats");
    let text = std::fs::read_to_string(dir.join("peers")).unwrap();
    assert_eq!(
        text,
        "61374 86399.500 192.0.2.1 9614 0.000000000 0.001000000 0.002000000 0.000300000\n\
         61375 0.250 192.0.2.1 9614 0.000000000 0.001000000 0.002000000 0.000300000\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn defaults_and_refusals() {
    let s = settings_from(&parse("driftfile /var/lib/ntp/drift\n"));
    assert!(!s.any());
    assert_eq!(s.dir, PathBuf::from(DEFAULT_STATSDIR));
    // The line RHEL's ntp.conf carries, commented out: accepted.
    let c = parse("statistics clockstats cryptostats loopstats peerstats\n");
    let at = Location::file(Path::new("/etc/ntp.conf"));
    assert!(not_honoured(&c, &at).is_empty());
    let c = parse("statistics rawstats\nfilegen loopstats type week\nfilegen sysstats enable\n");
    let n = not_honoured(&c, &at);
    assert_eq!(n.len(), 3, "{n:?}");
    assert!(n.iter().any(|(_, w)| w.contains("rawstats")));
    assert!(n.iter().any(|(at, w)| at.line == 2 && w.contains("type")));
    assert!(n
        .iter()
        .any(|(at, w)| at.line == 3 && w.contains("sysstats")));
}

#[test]
fn an_unwritable_directory_is_skipped() {
    let s = StatsSettings {
        dir: PathBuf::from("/nonexistent/slew-stats"),
        loopstats: FileGen {
            enabled: true,
            ..FileGen::default_for("loopstats")
        },
        ..StatsSettings::default()
    };
    let mut w = StatsWriter::new(&s);
    w.record_loop(BEFORE_MIDNIGHT, &loop_record());
    w.record_loop(BEFORE_MIDNIGHT, &loop_record());
    assert!(w.active());
}
