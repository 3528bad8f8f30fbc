//! The plain data the control responder reports: what the daemon knows about itself
//! ([`SystemSnapshot`]) and each association ([`PeerVars`](super::PeerVars), in its
//! own file), copied out at the moment of a query. No behaviour, no references into
//! the daemon's state beyond a few borrowed strings, so any daemon loop can fill them
//! in.

use crate::time::NtpTimestamp;
use crate::wire::RefId;

/// How a refid is shown: ntpd prints an address-like refid as a dotted quad and a
/// code (a reference clock's name, `LOCL`, `INIT`, a kiss code) as its characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefIdKind {
    /// Up to four ASCII characters: `refid=LOCL`, shown by ntpq as `.LOCL.`.
    Code,
    /// An IPv4 address or IPv6 hash: `refid=192.0.2.1`.
    Address,
}

impl RefIdKind {
    /// ntpd's rule for a refid received from a server of this stratum: codes at
    /// strata 0, 1 and 16, addresses at 2 to 15.
    pub const fn for_stratum(stratum: u8) -> Self {
        if stratum >= 2 && stratum <= 15 {
            RefIdKind::Address
        } else {
            RefIdKind::Code
        }
    }
}

/// The clock source in the system status word (ntpd's `CTL_SST_TS_*`); `ntpstat`
/// names it ("synchronised to NTP server", "… to local net").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockSource {
    /// 0: not synchronised, or unknown.
    Unspecified,
    /// 5: the local clock (ntpd's LOCAL driver reports this; ntpstat: "local net").
    Local,
    /// 6: another NTP server.
    Ntp,
}

impl ClockSource {
    /// The six bits in the status word.
    pub const fn to_bits(self) -> u8 {
        match self {
            ClockSource::Unspecified => 0,
            ClockSource::Local => 5,
            ClockSource::Ntp => 6,
        }
    }
}

/// System event codes (the low four bits of the system status word), as ntpd numbers
/// them. The C `ntpstat` prints "time server re-starting" for
/// [`FREQ_NOT_SET`](sys_event::FREQ_NOT_SET), which is what ntpd reports at start
/// without a drift file.
pub mod sys_event {
    /// No event.
    pub const UNSPECIFIED: u8 = 0;
    /// Started without a frequency file (ntpstat: "time server re-starting").
    pub const FREQ_NOT_SET: u8 = 1;
    /// Frequency read from the drift file.
    pub const FREQ_SET: u8 = 2;
    /// A spike was detected.
    pub const SPIKE_DETECT: u8 = 3;
    /// Measuring the frequency.
    pub const FREQ_MODE: u8 = 4;
    /// The clock is synchronised.
    pub const CLOCK_SYNC: u8 = 5;
    /// The daemon restarted.
    pub const RESTART: u8 = 6;
    /// The system peer was lost.
    pub const NO_SYS_PEER: u8 = 8;
}

/// Peer event codes (the low four bits of a peer status word), as ntpd numbers them.
pub mod peer_event {
    /// No event.
    pub const UNSPECIFIED: u8 = 0;
    /// The association was mobilised.
    pub const MOBILIZE: u8 = 1;
    /// The association became unreachable.
    pub const UNREACHABLE: u8 = 3;
    /// The association became reachable.
    pub const REACHABLE: u8 = 4;
    /// The system peer changed to this one.
    pub const SYS_PEER: u8 = 6;
}

/// The system variables, as of the query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SystemSnapshot<'a> {
    /// Software name and version (`version="slew 0.1.0"`). Keep it under 64 bytes.
    pub version: &'a str,
    /// CPU architecture (`processor="x86_64"`). Keep it under 32 bytes.
    pub processor: &'a str,
    /// Operating system and release (`system="Linux/6.1.0"`). Keep it under 64 bytes.
    pub system: &'a str,
    /// Leap indicator, 0–3 (3: unsynchronised).
    pub leap: u8,
    /// What the clock follows.
    pub clock_source: ClockSource,
    /// Events since the counter was last reset (saturates at 15).
    pub event_count: u8,
    /// The last system event ([`sys_event`]).
    pub last_event: u8,
    /// Stratum served to clients.
    pub stratum: u8,
    /// Clock precision, log2 s.
    pub precision: i8,
    /// Root delay, seconds.
    pub root_delay_s: f64,
    /// Root dispersion, seconds.
    pub root_dispersion_s: f64,
    /// Reference id served to clients.
    pub refid: RefId,
    /// How to show it.
    pub refid_kind: RefIdKind,
    /// Last clock update.
    pub reference_time: NtpTimestamp,
    /// The time now (`clock=`).
    pub clock: NtpTimestamp,
    /// Association id of the system peer, 0 for none.
    pub peer: u16,
    /// System poll interval, log2 s (`tc`).
    pub tc: i8,
    /// Lower bound of the poll interval, log2 s (`mintc`).
    pub mintc: i8,
    /// Last clock offset, seconds.
    pub offset_s: f64,
    /// Frequency correction, ppm.
    pub frequency_ppm: f64,
    /// Combined jitter of the selected sources, seconds.
    pub sys_jitter_s: f64,
    /// Jitter of the clock discipline, seconds.
    pub clk_jitter_s: f64,
    /// Frequency wander, ppm.
    pub clk_wander_ppm: f64,
    /// Discipline state, numbered as ntpd: 0 NSET, 1 FSET, 2 SPIK, 3 FREQ, 4 SYNC.
    pub state: u8,
}

impl SystemSnapshot<'_> {
    /// The system status word: LI (2 bits) | clock source (6) | event count (4) |
    /// last event (4).
    pub fn status_word(&self) -> u16 {
        (u16::from(self.leap & 0b11) << 14)
            | (u16::from(self.clock_source.to_bits() & 0x3f) << 8)
            | (u16::from(self.event_count.min(15)) << 4)
            | u16::from(self.last_event & 0xf)
    }
}

/// The peer status byte (the high byte of a peer status word).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PeerStatus {
    /// Configured in ntp.conf (0x80); ntpq -p shows only configured or reachable
    /// associations.
    pub configured: bool,
    /// Authentication enabled (0x40).
    pub auth_enabled: bool,
    /// Last packet authentic (0x20).
    pub authentic: bool,
    /// Reachable (0x10).
    pub reachable: bool,
    /// Selection code, the low three bits: 0 ' ' rejected, 1 'x' falseticker,
    /// 2 '.' excess, 3 '-' outlier, 4 '+' candidate, 5 '#' backup, 6 '*' system
    /// peer, 7 'o' PPS peer. The discipline's `Tally::select_code()` gives it.
    pub select: u8,
    /// Events since the counter was last reset (saturates at 15).
    pub event_count: u8,
    /// The last peer event ([`peer_event`]).
    pub last_event: u8,
}

impl PeerStatus {
    /// The 16-bit peer status word.
    pub fn word(&self) -> u16 {
        let mut b = self.select & 0b111;
        if self.configured {
            b |= 0x80;
        }
        if self.auth_enabled {
            b |= 0x40;
        }
        if self.authentic {
            b |= 0x20;
        }
        if self.reachable {
            b |= 0x10;
        }
        (u16::from(b) << 8)
            | (u16::from(self.event_count.min(15)) << 4)
            | u16::from(self.last_event & 0xf)
    }

    /// From a 16-bit peer status word (a READSTAT list's, a READVAR answer's).
    /// ntpd's broadcast bit (0x08 of the high byte) has no field and is dropped.
    pub fn from_word(word: u16) -> Self {
        let b = (word >> 8) as u8;
        PeerStatus {
            configured: b & 0x80 != 0,
            auth_enabled: b & 0x40 != 0,
            authentic: b & 0x20 != 0,
            reachable: b & 0x10 != 0,
            select: b & 0b111,
            event_count: ((word >> 4) & 0xf) as u8,
            last_event: (word & 0xf) as u8,
        }
    }

    /// The tally character ntpq -p prints for the selection code.
    pub fn tally(&self) -> char {
        match self.select & 0b111 {
            1 => 'x',
            2 => '.',
            3 => '-',
            4 => '+',
            5 => '#',
            6 => '*',
            7 => 'o',
            _ => ' ',
        }
    }
}

/// Host modes for `hmode` (ntpd's `MODE_*`).
pub mod host_mode {
    /// Symmetric active.
    pub const ACTIVE: u8 = 1;
    /// Symmetric passive.
    pub const PASSIVE: u8 = 2;
    /// Client: `server` lines and reference clocks (ntpq -p shows `u`, or `l` for a
    /// clock with a `srchost` like "LOCAL(0)").
    pub const CLIENT: u8 = 3;
    /// Broadcast server.
    pub const BROADCAST: u8 = 5;
}

/// One association, as of the query: the responder's name for [`PeerVars`], kept
/// (its lifetime unused) for code written before the peer's state had one shape.
///
/// [`PeerVars`]: super::PeerVars
pub type PeerSnapshot<'a> = super::PeerVars;
