//! The daemon's reference clocks: the SHM segment read once a second (on the
//! loop's deadline, no busy loop) and the NMEA tty read whenever `poll(2)` says it
//! is readable (its fd joins the poll set), each reading handed to the node with
//! [`Node::handle_refclock_sample`]. Refusals (no fix, bad checksum, a stalled
//! writer, a segment of the wrong size, …) are never followed: the reason is kept
//! for `slewctl peers` / `ntpq` (`reason=`) and logged when it changes, and again
//! at most once a minute while it lasts.

use std::os::fd::BorrowedFd;
use std::time::Duration;

use slew_core::node::{Node, RefclockInputError};
use slew_core::peer::SourceId;
use slew_core::refclock::nmea_mode::{NmeaEvent, NmeaMode};
use slew_core::refclock::shm::ShmError;
use slew_core::refclock::source::{Driver, RefclockConfig};
use slew_core::refclock::{RefSample, UnixTime};
use slew_core::Instant;

use crate::os::refclock::nmea::{device_path, NmeaPort};
use crate::os::refclock::shm::{AttachError, ShmReader, ShmSegment};

/// ntpd reads the SHM segment once a second.
pub const SHM_READ_INTERVAL: Duration = Duration::from_secs(1);
/// A receiver that could not be opened is tried again this often.
pub const REOPEN_INTERVAL: Duration = Duration::from_secs(10);
/// A reason that lasts is logged again at most this often.
pub const REASON_LOG_INTERVAL: Duration = Duration::from_secs(60);

enum Input {
    Shm(Option<ShmReader>),
    Nmea(Option<NmeaPort>),
}

/// One configured refclock and its driver.
pub struct RefDriver {
    /// The node's id for it.
    pub id: SourceId,
    /// ntpq's name: `SHM(0)`, `GPS_NMEA(0)`.
    pub name: String,
    config: RefclockConfig,
    input: Input,
    /// Why the last reading was refused, until one is taken.
    pub reason: Option<&'static str>,
    next_read: Instant,
    logged: Option<(&'static str, Instant)>,
    /// Readings not yet written to clockstats: (receive time on the daemon's
    /// clock, timecode). Bounded: a reading a second, drained every loop turn.
    pub clockstats: Vec<(UnixTime, String)>,
}

impl std::fmt::Debug for RefDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefDriver")
            .field("name", &self.name)
            .field("reason", &self.reason)
            .finish_non_exhaustive()
    }
}

/// ntpq's name of a refclock (ntpd's driver names).
pub fn clock_name(config: &RefclockConfig) -> String {
    let driver = match config.driver {
        Driver::Shm => "SHM",
        Driver::Nmea => "GPS_NMEA",
        Driver::Pps => "PPS",
    };
    format!("{driver}({})", config.unit)
}

impl RefDriver {
    /// The driver for `config`, opened on the first [`RefDriver::service`].
    pub fn new(id: SourceId, config: RefclockConfig, now: Instant) -> Self {
        let input = match config.driver {
            Driver::Nmea => Input::Nmea(None),
            _ => Input::Shm(None),
        };
        Self {
            id,
            name: clock_name(&config),
            config,
            input,
            reason: None,
            next_read: now,
            logged: None,
            clockstats: Vec::new(),
        }
    }

    /// Its configuration.
    pub fn config(&self) -> &RefclockConfig {
        &self.config
    }

    /// The tty to wait on, if this is an open NMEA receiver.
    pub fn poll_fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.input {
            Input::Nmea(Some(p)) => Some(p.fd()),
            _ => None,
        }
    }

    /// When this driver next wants [`RefDriver::service`] without a readable fd
    /// (an open tty wakes the loop itself).
    pub fn deadline(&self) -> Option<Instant> {
        match &self.input {
            Input::Nmea(Some(_)) => None,
            _ => Some(self.next_read),
        }
    }

    fn refuse(&mut self, reason: &'static str, detail: &str, now: Instant) {
        self.reason = Some(reason);
        let due = match self.logged {
            Some((r, at)) => r != reason || now.saturating_since(at) >= REASON_LOG_INTERVAL,
            None => true,
        };
        if due {
            log::warn!("{}: {detail}; not followed", self.name);
            self.logged = Some((reason, now));
        }
    }

    /// `line`: the NMEA sentence the sample came from, clockstats' timecode for
    /// that driver (ntpd writes the sentence itself); `None` for SHM, whose timecode
    /// is the reference time.
    fn take<const N: usize, const R: usize, const S: usize>(
        &mut self,
        node: &mut Node<N, R, S>,
        now: Instant,
        sample: &RefSample,
        line: Option<&str>,
        clock: &mut dyn FnMut(UnixTime) -> UnixTime,
    ) {
        // The receive stamp is CLOCK_REALTIME's: the disciplined clock's reading
        // at that moment is what the offset is of (they differ for `--clock virtual`).
        let sample = RefSample {
            receive: clock(sample.receive),
            ..*sample
        };
        if self.clockstats.len() < 64 {
            let code = line.map_or_else(|| timecode(sample.reference), str::to_string);
            self.clockstats.push((sample.receive, code));
        }
        match node.handle_refclock_sample(now, self.id, &sample) {
            Ok(()) => {
                if self.reason.take().is_some() {
                    log::info!("{}: samples accepted again", self.name);
                    self.logged = None;
                }
            }
            Err(RefclockInputError::Rejected(r)) => self.refuse(r.reason(), r.reason(), now),
            Err(RefclockInputError::UnknownSource) => {}
        }
    }

    /// Read what there is: the SHM segment when its second is due, the tty when
    /// `readable` (or to open it when due).
    pub fn service<const N: usize, const R: usize, const S: usize>(
        &mut self,
        node: &mut Node<N, R, S>,
        now: Instant,
        readable: bool,
        clock: &mut dyn FnMut(UnixTime) -> UnixTime,
    ) {
        match &mut self.input {
            Input::Shm(reader) => {
                if now < self.next_read {
                    return;
                }
                self.next_read = now.saturating_add(SHM_READ_INTERVAL);
                if reader.is_none() {
                    let private = self.config.mode & 1 != 0;
                    match ShmSegment::attach(self.config.unit, true, private) {
                        Ok(seg) => *reader = Some(ShmReader::new(seg)),
                        Err(e) => {
                            let reason = match e {
                                AttachError::WrongSize { .. } => ShmError::WrongSize {
                                    found: 0,
                                    expected: 0,
                                }
                                .reason(),
                                AttachError::Missing => "no segment",
                                AttachError::Os(_) => "cannot attach the segment",
                            };
                            let detail = e.to_string();
                            self.refuse(reason, &detail, now);
                            return;
                        }
                    }
                }
                let Some(r) = reader.as_mut() else { return };
                let read = r.read();
                let precision = r.segment().precision_log2();
                match read {
                    Ok(sample) => {
                        if let Some(rc) = node.refclock_mut(self.id) {
                            rc.set_precision_log2(precision);
                        }
                        self.take(node, now, &sample, None, clock);
                    }
                    Err(ShmError::NotReady) => {}
                    Err(e) => {
                        let detail = e.to_string();
                        self.refuse(e.reason(), &detail, now);
                    }
                }
            }
            Input::Nmea(port) => {
                if port.is_none() {
                    if now < self.next_read {
                        return;
                    }
                    self.next_read = now.saturating_add(REOPEN_INTERVAL);
                    let path = device_path(self.config.unit);
                    match NmeaPort::open(std::path::Path::new(&path), NmeaMode(self.config.mode)) {
                        Ok(p) => {
                            log::info!("{}: reading {path}", self.name);
                            *port = Some(p);
                        }
                        Err(e) => {
                            let detail = format!("cannot open {path}: {e}");
                            self.refuse("cannot open the receiver", &detail, now);
                        }
                    }
                    return;
                }
                if !readable {
                    return;
                }
                let Some(p) = port.as_mut() else { return };
                let mut samples: Vec<(RefSample, String)> = Vec::new();
                let mut refused: Vec<(&'static str, String)> = Vec::new();
                let res = p.read_available(|ev| match ev {
                    NmeaEvent::Sample(s, _, line) => {
                        // Printable already (the checksum passed); escaped anyway,
                        // as everything a peer sends is before it reaches a file.
                        let text = crate::config::escape::escape_bytes(line);
                        samples.push((s, text.trim_end().to_string()));
                    }
                    NmeaEvent::Rejected(e, line) => {
                        let text = String::from_utf8_lossy(line).trim_end().to_string();
                        refused.push((e.reason(), format!("{}: {text:.90}", e.reason())));
                    }
                    NmeaEvent::Filtered(_) => {}
                });
                match res {
                    Ok(_) => {}
                    Err(e) => {
                        let detail = format!("read failed: {e}; reopening");
                        *port = None;
                        self.next_read = now.saturating_add(REOPEN_INTERVAL);
                        self.refuse("receiver read failed", &detail, now);
                    }
                }
                for (reason, detail) in refused {
                    self.refuse(reason, &detail, now);
                }
                for (s, line) in &samples {
                    self.take(node, now, s, Some(line), clock);
                }
            }
        }
    }
}

/// ntpd 4.2.8's SHM timecode: the reference time, `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
fn timecode(t: UnixTime) -> String {
    let day = t.secs.div_euclid(86_400);
    let sod = t.secs.rem_euclid(86_400);
    let (y, m, d) = slew_core::refclock::civil::civil_from_days(day);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:09}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60,
        t.nanos
    )
}
