//! slewd's statistics files and metrics endpoint, end to end: a running slewd
//! following a real chronyd on loopback writes ntpd-format loopstats and peerstats
//! under its statsdir, and answers a plain HTTP scrape on --metrics.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

/// Waits (bounded) until `file` has at least `n` lines.
fn wait_lines(file: &Path, n: usize, limit: Duration, who: &Proc) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if text.lines().count() >= n {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{} has {} line(s) after {limit:?}:\n{text}\n{}",
            file.display(),
            text.lines().count(),
            who.log_text()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The one file of a day-type set: `NAME.YYYYMMDD`.
fn dated_file(dir: &Path, name: &str) -> std::path::PathBuf {
    let found: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!("{name}.")))
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    let suffix = &found[0][name.len() + 1..];
    assert!(
        suffix.len() == 8 && suffix.bytes().all(|b| b.is_ascii_digit()),
        "{found:?}"
    );
    dir.join(&found[0])
}

fn fields(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

#[test]
fn slewd_writes_loopstats_and_peerstats_in_ntpds_format() {
    let dir = TempDir::new("stats");
    let stats = dir.join("ntpstats");
    std::fs::create_dir_all(&stats).unwrap();
    let chrony_port = free_port();
    let _chronyd = start_chronyd_server(&dir, chrony_port, "");
    let conf = format!(
        "server 127.0.0.1 port {chrony_port} iburst minpoll 4 maxpoll 4\n\
         statsdir {}\nstatistics loopstats peerstats\n\
         filegen loopstats file loopstats type day link enable\n\
         filegen peerstats file peerstats type day enable\n",
        stats.display()
    );
    let listen = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let slewd = start_slewd(&dir, &conf, &[listen], &["--clock", "virtual"]);

    let peer_file = stats.join("peerstats");
    let text = wait_lines(&peer_file, 3, Duration::from_secs(60), &slewd);
    let dated = dated_file(&stats, "peerstats");
    assert_eq!(
        std::fs::read_to_string(&dated).unwrap(),
        std::fs::read_to_string(&peer_file).unwrap()
    );
    for line in text.lines() {
        let f = fields(line);
        assert_eq!(f.len(), 8, "{line:?}");
        let mjd: i64 = f[0].parse().unwrap();
        assert!((60_000..80_000).contains(&mjd), "MJD: {line:?}");
        let secs: f64 = f[1].parse().unwrap();
        assert!(
            (0.0..86_400.0).contains(&secs) && f[1].split('.').nth(1).unwrap().len() == 3,
            "{line:?}"
        );
        assert_eq!(f[2], "127.0.0.1", "{line:?}");
        let status = u16::from_str_radix(f[3], 16).unwrap();
        assert_eq!(status & 0x8000, 0x8000, "configured bit: {line:?}");
        for v in &f[4..] {
            let (_, decimals) = v.split_once('.').unwrap();
            assert_eq!(decimals.len(), 9, "{line:?}");
            v.parse::<f64>().unwrap();
        }
        let delay: f64 = f[5].parse().unwrap();
        assert!((0.0..0.1).contains(&delay), "loopback delay: {line:?}");
    }

    let loop_file = stats.join("loopstats");
    let text = wait_lines(&loop_file, 1, Duration::from_secs(60), &slewd);
    dated_file(&stats, "loopstats");
    for line in text.lines() {
        let f = fields(line);
        assert_eq!(f.len(), 7, "{line:?}");
        f[0].parse::<i64>().unwrap();
        assert_eq!(f[1].split('.').nth(1).unwrap().len(), 3, "{line:?}");
        let offset: f64 = f[2].parse().unwrap();
        assert!(offset.abs() < 0.5, "{line:?}");
        assert_eq!(f[2].split('.').nth(1).unwrap().len(), 9, "{line:?}");
        f[3].parse::<f64>().unwrap();
        f[4].parse::<f64>().unwrap();
        f[5].parse::<f64>().unwrap();
        f[6].parse::<i8>().unwrap();
    }
    assert!(
        slewd.log_text().contains("statistics: writing"),
        "{}",
        slewd.log_text()
    );
}

#[test]
fn unsupported_statistics_are_refused_by_line() {
    let dir = TempDir::new("statsbad");
    let conf_path = dir.join("ntp.conf");
    std::fs::write(&conf_path, "server 127.127.1.0\nstatistics rawstats\n").unwrap();
    let mut cmd = std::process::Command::new(slew_bin("slewd"));
    cmd.arg("--check-config").arg("-c").arg(&conf_path);
    let out = run_with_timeout(cmd, Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("rawstats"), "{}", text(&out));
}
