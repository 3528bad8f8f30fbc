//! Statistics files in ntpd's formats (ntp_mon(5)): `loopstats` and `peerstats`,
//! so that existing graphing and summary scripts keep working.
//!
//! - `loopstats`, one line per clock update:
//!   `MJD SECONDS OFFSET FREQUENCY JITTER WANDER TC` — the day (Modified Julian
//!   Day), seconds past UTC midnight (3 decimals), clock offset (s), frequency
//!   (ppm), RMS jitter (s), Allan deviation / wander (ppm), time constant (log2 s);
//!   e.g. `50935 75440.031 0.000006019 13.778190 0.000351733 0.013380 6`.
//! - `peerstats`, one line per valid sample of a source:
//!   `MJD SECONDS ADDRESS STATUS OFFSET DELAY DISPERSION JITTER` — the peer status
//!   word in hex, then seconds; e.g.
//!   `48773 10847.650 127.127.4.1 9714 -0.001605376 0.000000000 0.001424877 0.000958674`.
//!
//! Files live under `statsdir` (default [`DEFAULT_STATSDIR`]) and form ntpd's file
//! generation sets: `filegen NAME [file F] [type day|none] [link|nolink]
//! [enable|disable]`. With `type day` (the default) each UTC day has its own
//! `F.YYYYMMDD`, opened at the first record after midnight; `link` (the default)
//! keeps `F` itself as a hard link to the current file, as ntpd does. `statistics
//! NAME…` enables the named sets; `filegen … enable/disable` overrides it.
//!
//! - `clockstats`, one line per reading of a reference clock (ntpd's
//!   `record_clock_stats`): `MJD SECONDS ADDRESS TIMECODE` — the receive time, the
//!   clock's address, and its last timecode: for NMEA the sentence used, for SHM
//!   the reference time as ntpd 4.2.8's SHM driver prints it
//!   (`YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`); e.g.
//!   `61375 79200.041 127.127.28.0 2026-12-01T22:00:00.000000000Z`.
//!
//! `cryptostats` is accepted and stays empty: slew has no Autokey. The other kinds and the other file types are refused by line at load.
//!
//! A file that cannot be written is logged once per file name and skipped: the
//! time service never waits for statistics.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use slew_core::node::Node;
use slew_core::peer::SourceId;
use slew_core::{Instant, NtpTimestamp};

use crate::os::logger::civil_from_days;
pub use crate::settings::stats::{FileGen, Rotation, StatsSettings, DEFAULT_STATSDIR};

/// Days from 1858-11-17 (MJD 0) to 1970-01-01.
pub const MJD_UNIX_EPOCH: i64 = 40_587;

/// MJD and seconds past UTC midnight of a Unix time.
pub fn mjd_and_seconds(unix_s: f64) -> (i64, f64) {
    let days = (unix_s / 86_400.0).floor();
    let secs = unix_s - days * 86_400.0;
    // Rounded to milliseconds as ntpd prints them, never 86400.000.
    let secs = ((secs * 1000.0).round() / 1000.0).clamp(0.0, 86_399.999);
    (days as i64 + MJD_UNIX_EPOCH, secs)
}

/// The `.YYYYMMDD` suffix of an MJD.
pub fn day_suffix(mjd: i64) -> String {
    let (y, m, d) = civil_from_days(mjd - MJD_UNIX_EPOCH);
    format!(".{y:04}{m:02}{d:02}")
}

/// One loopstats record.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LoopRecord {
    /// Clock offset, s.
    pub offset_s: f64,
    /// Frequency, ppm.
    pub frequency_ppm: f64,
    /// RMS jitter, s.
    pub jitter_s: f64,
    /// Wander, ppm.
    pub wander_ppm: f64,
    /// Time constant (poll exponent).
    pub tc: i8,
}

/// One peerstats record.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PeerRecord {
    /// The peer's address.
    pub addr: IpAddr,
    /// Its peer status word.
    pub status: u16,
    /// Offset, s.
    pub offset_s: f64,
    /// Delay, s.
    pub delay_s: f64,
    /// Dispersion, s.
    pub dispersion_s: f64,
    /// Jitter, s.
    pub jitter_s: f64,
}

fn finite(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        0.0
    }
}

/// ntpd's loopstats line (without the newline).
pub fn loop_line(unix_s: f64, r: &LoopRecord) -> String {
    let (mjd, secs) = mjd_and_seconds(unix_s);
    format!(
        "{mjd} {secs:.3} {:.9} {:.6} {:.9} {:.6} {}",
        finite(r.offset_s),
        finite(r.frequency_ppm),
        finite(r.jitter_s),
        finite(r.wander_ppm),
        r.tc
    )
}

/// ntpd's peerstats line (without the newline).
pub fn peer_line(unix_s: f64, r: &PeerRecord) -> String {
    let (mjd, secs) = mjd_and_seconds(unix_s);
    format!(
        "{mjd} {secs:.3} {} {:x} {:.9} {:.9} {:.9} {:.9}",
        r.addr,
        r.status,
        finite(r.offset_s),
        finite(r.delay_s),
        finite(r.dispersion_s),
        finite(r.jitter_s)
    )
}

/// An open file generation set.
#[derive(Debug)]
struct OpenGen {
    gen: FileGen,
    base: PathBuf,
    /// The day the open file belongs to (0 with no rotation) and the file.
    open: Option<(i64, File)>,
    /// The last path that failed, so it is logged once.
    failed: Option<PathBuf>,
}

impl OpenGen {
    fn new(dir: &Path, gen: FileGen) -> Self {
        Self {
            base: dir.join(&gen.file),
            gen,
            open: None,
            failed: None,
        }
    }

    /// The file a record of day `mjd` goes to.
    fn path_for(&self, mjd: i64) -> PathBuf {
        match self.gen.rotation {
            Rotation::Day => {
                let mut p = self.base.clone().into_os_string();
                p.push(day_suffix(mjd));
                PathBuf::from(p)
            }
            Rotation::None => self.base.clone(),
        }
    }

    fn write(&mut self, mjd: i64, line: &str) {
        let key = match self.gen.rotation {
            Rotation::Day => mjd,
            Rotation::None => 0,
        };
        let current = matches!(&self.open, Some((k, _)) if *k == key);
        if !current {
            self.open = None;
            let path = self.path_for(mjd);
            match OpenOptions::new().create(true).append(true).open(&path) {
                Ok(f) => {
                    self.failed = None;
                    if self.gen.link && path != self.base {
                        // ntpd's `link`: the name without suffix is the current file.
                        let _ = std::fs::remove_file(&self.base);
                        if let Err(e) = std::fs::hard_link(&path, &self.base) {
                            log::warn!(
                                "cannot link {} to {}: {e}",
                                self.base.display(),
                                path.display()
                            );
                        }
                    }
                    log::info!("statistics: writing {}", path.display());
                    self.open = Some((key, f));
                }
                Err(e) => {
                    if self.failed.as_ref() != Some(&path) {
                        log::warn!("cannot open statistics file {}: {e}", path.display());
                        self.failed = Some(path);
                    }
                    return;
                }
            }
        }
        if let Some((_, f)) = self.open.as_mut() {
            if let Err(e) = writeln!(f, "{line}") {
                log::warn!("cannot write statistics file: {e}");
                self.open = None;
            }
        }
    }
}

/// Writes the enabled statistics.
#[derive(Debug)]
pub struct StatsWriter {
    loopstats: Option<OpenGen>,
    peerstats: Option<OpenGen>,
    clockstats: Option<OpenGen>,
}

impl StatsWriter {
    /// Nothing is opened until the first record.
    pub fn new(s: &StatsSettings) -> Self {
        let open = |g: &FileGen| g.enabled.then(|| OpenGen::new(&s.dir, g.clone()));
        Self {
            loopstats: open(&s.loopstats),
            peerstats: open(&s.peerstats),
            clockstats: open(&s.clockstats),
        }
    }

    /// Whether any set is written.
    pub fn active(&self) -> bool {
        self.loopstats.is_some() || self.peerstats.is_some() || self.clockstats.is_some()
    }

    /// One reading of reference clock `addr` received at `unix_s`.
    pub fn record_clock(&mut self, unix_s: f64, addr: IpAddr, timecode: &str) {
        if let Some(g) = self.clockstats.as_mut() {
            let (mjd, secs) = mjd_and_seconds(unix_s);
            g.write(mjd, &format!("{mjd} {secs:.3} {addr} {timecode}"));
        }
    }

    /// Whether peerstats is written.
    pub fn wants_peers(&self) -> bool {
        self.peerstats.is_some()
    }

    /// One clock update at `unix_s`.
    pub fn record_loop(&mut self, unix_s: f64, r: &LoopRecord) {
        if let Some(g) = self.loopstats.as_mut() {
            g.write(mjd_and_seconds(unix_s).0, &loop_line(unix_s, r));
        }
    }

    /// One peer sample at `unix_s`.
    pub fn record_peer(&mut self, unix_s: f64, r: &PeerRecord) {
        if let Some(g) = self.peerstats.as_mut() {
            g.write(mjd_and_seconds(unix_s).0, &peer_line(unix_s, r));
        }
    }
}

/// The daemon's side: after each turn of the node, writes what changed — a clock
/// update (the node's update counter moved, or the local clock's reference was
/// refreshed) is a loopstats line, a new last reply of a source is a peerstats line.
#[derive(Debug)]
pub struct Recorder {
    writer: StatsWriter,
    last_reftime: NtpTimestamp,
    last_updates: u32,
    /// The last loop record and when it was written (Unix s).
    last_loop: Option<(LoopRecord, f64)>,
    last_rx: Vec<(SourceId, Instant)>,
}

impl Recorder {
    /// A recorder for these settings (inactive when nothing is enabled).
    pub fn new(s: &StatsSettings) -> Self {
        Self {
            writer: StatsWriter::new(s),
            last_reftime: NtpTimestamp::ZERO,
            last_updates: 0,
            last_loop: None,
            last_rx: Vec::new(),
        }
    }

    /// Whether anything is recorded (the daemon skips the call otherwise).
    pub fn active(&self) -> bool {
        self.writer.active()
    }

    /// A clockstats line (see [`StatsWriter::record_clock`]).
    pub fn record_clock(&mut self, unix_s: f64, addr: IpAddr, timecode: &str) {
        self.writer.record_clock(unix_s, addr, timecode);
    }

    /// Compares the node with the last call and records the differences; `wall` is
    /// the daemon clock's time now.
    pub fn after_drive<const N: usize, const R: usize, const S: usize>(
        &mut self,
        node: &Node<N, R, S>,
        now: Instant,
        wall: NtpTimestamp,
    ) {
        if !self.writer.active() {
            return;
        }
        let unix_s = wall.to_unix_f64(crate::os::time::unix_now_s());
        let sys = node.system();
        let reftime = sys.vars.reference_time;
        // One line per clock update, written once the update's figures are final
        // (after the node's actions were carried out). The local clock makes no
        // updates: a line per refresh of its reference time, as ntpd's LOCAL(0).
        let updated = sys.updates != self.last_updates;
        let local_refresh = node.local_clock().is_some_and(|l| l.active)
            && !reftime.is_zero()
            && reftime != self.last_reftime;
        self.last_updates = sys.updates;
        self.last_reftime = reftime;
        if updated || local_refresh {
            let r = LoopRecord {
                offset_s: sys.offset_s,
                frequency_ppm: sys.frequency_ppm,
                jitter_s: sys.jitter_s,
                wander_ppm: sys.clock_wander_ppm,
                tc: sys.vars.poll.log2(),
            };
            self.last_loop = Some((r, unix_s));
            self.writer.record_loop(unix_s, &r);
        }
        if !self.writer.wants_peers() {
            return;
        }
        for s in node.sources(now) {
            let Some(rx) = s.last_rx else { continue };
            match self.last_rx.iter_mut().find(|(id, _)| *id == s.id) {
                Some((_, last)) if *last == rx => continue,
                Some((_, last)) => *last = rx,
                None => self.last_rx.push((s.id, rx)),
            }
            self.writer.record_peer(
                unix_s,
                &PeerRecord {
                    addr: s.addr.ip(),
                    status: crate::server::snapshot::source_peer_status(&s).word(),
                    offset_s: s.offset_s,
                    delay_s: s.delay_s,
                    dispersion_s: s.dispersion_s,
                    jitter_s: s.jitter_s,
                },
            );
        }
        // Forget removed sources (bounded by the node's table).
        self.last_rx
            .retain(|(id, _)| node.source(*id, now).is_some());
    }
}

#[cfg(test)]
#[path = "stats_tests.rs"]
mod tests;
