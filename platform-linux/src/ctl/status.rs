//! `slewctl status`: ntpstat's three lines and exit codes, then slew's own line with
//! the frequency and the discipline state.
//!
//! What ntpstat decides, slewctl decides the same way: leap 3 in the system status
//! word is "unsynchronised" (exit 1), with "time server re-starting" when the last
//! system event is 1 (freq_not_set); otherwise "synchronised to" the clock source
//! of the status word (for an NTP server: its refid) at the server's stratum (exit
//! 0), "time correct to within" rootdisp + rootdelay/2 ms; "polling server every"
//! 2^tc s in both cases. No answer: exit 2.

use serde::Serialize;

use super::client::{var, var_f64, var_i64, ControlClient, CtlError};
use super::json;

/// Exit status: synchronised.
pub const EXIT_SYNC: u8 = 0;
/// Exit status: not synchronised.
pub const EXIT_UNSYNC: u8 = 1;
/// Exit status: the daemon did not answer.
pub const EXIT_NO_DAEMON: u8 = 2;

/// The clock sources of the system status word, as ntpstat names them.
const SOURCES: [&str; 10] = [
    "unspecified",
    "atomic clock",
    "VLF radio",
    "HF radio",
    "UHF radio",
    "local net",
    "NTP server",
    "UDP/TIME",
    "wristwatch",
    "modem",
];

/// The system's state, from the status word and READVAR 0.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    /// The system status word.
    pub status_word: u16,
    /// Stratum.
    pub stratum: Option<i64>,
    /// `refid`.
    pub refid: String,
    /// `rootdelay`, ms.
    pub root_delay_ms: f64,
    /// `rootdisp`, ms.
    pub root_disp_ms: f64,
    /// `tc`, log2 s.
    pub tc: i64,
    /// `offset`, ms.
    pub offset_ms: Option<f64>,
    /// `frequency`, ppm.
    pub frequency_ppm: Option<f64>,
    /// `sys_jitter`, ms.
    pub sys_jitter_ms: Option<f64>,
    /// `state`: the discipline state (slewd and older ntpd send it).
    pub state: Option<i64>,
}

impl Status {
    /// From the status word and the system variables.
    pub fn from_vars(status_word: u16, vars: &[(String, String)]) -> Self {
        Self {
            status_word,
            stratum: var_i64(vars, "stratum"),
            refid: var(vars, "refid").unwrap_or("").to_string(),
            root_delay_ms: var_f64(vars, "rootdelay").unwrap_or(0.0),
            root_disp_ms: var_f64(vars, "rootdisp").unwrap_or(0.0),
            tc: var_i64(vars, "tc").unwrap_or(6),
            offset_ms: var_f64(vars, "offset"),
            frequency_ppm: var_f64(vars, "frequency"),
            sys_jitter_ms: var_f64(vars, "sys_jitter"),
            state: var_i64(vars, "state"),
        }
    }

    /// Leap indicator of the status word.
    pub fn leap(&self) -> u8 {
        (self.status_word >> 14) as u8
    }

    /// Clock source of the status word.
    pub fn clock_source(&self) -> u8 {
        ((self.status_word >> 8) & 0x3f) as u8
    }

    /// Last system event code.
    pub fn last_event(&self) -> u8 {
        (self.status_word & 0xf) as u8
    }

    /// Synchronised, as ntpstat judges it.
    pub fn synchronised(&self) -> bool {
        self.leap() != 3 && !(self.clock_source() == 6 && self.refid.is_empty())
    }

    /// What the clock follows: "NTP server (ADDR)", "local net", ….
    pub fn source_text(&self) -> String {
        let src = self.clock_source();
        let name = SOURCES
            .get(usize::from(src))
            .copied()
            .unwrap_or("unknown source");
        if src == 6 {
            // The refid is the server's word: shown escaped, never raw.
            format!("{name} ({})", crate::config::escape::escape(&self.refid))
        } else {
            name.to_string()
        }
    }

    /// The error bound ntpstat prints: rootdisp + rootdelay/2, ms.
    pub fn correct_within_ms(&self) -> f64 {
        self.root_disp_ms + self.root_delay_ms / 2.0
    }

    /// The poll interval, s.
    pub fn poll_s(&self) -> u64 {
        1u64 << self.tc.clamp(0, 17)
    }

    /// The discipline state's name and meaning.
    pub fn state_text(&self) -> Option<(&'static str, &'static str)> {
        Some(match self.state? {
            0 => ("NSET", "never set"),
            1 => ("FSET", "frequency from the driftfile, time not yet set"),
            2 => ("SPIK", "a large offset is held back until it persists"),
            3 => ("FREQ", "measuring the frequency"),
            4 => ("SYNC", "normal operation"),
            _ => ("?", "unknown state"),
        })
    }

    /// The exit status.
    pub fn exit_code(&self) -> u8 {
        if self.synchronised() {
            EXIT_SYNC
        } else {
            EXIT_UNSYNC
        }
    }

    /// ntpstat's lines, then slew's.
    pub fn text(&self) -> String {
        let mut out = String::new();
        if self.synchronised() {
            out.push_str(&format!(
                "synchronised to {} at stratum {}\n",
                self.source_text(),
                self.stratum.unwrap_or(16)
            ));
            out.push_str(&format!(
                "   time correct to within {:.0} ms\n",
                self.correct_within_ms()
            ));
        } else {
            out.push_str("unsynchronised\n");
            if self.last_event() == 1 {
                out.push_str("  time server re-starting\n");
            }
        }
        out.push_str(&format!("   polling server every {} s\n", self.poll_s()));
        let mut extra = Vec::new();
        if let Some(f) = self.frequency_ppm {
            extra.push(format!("frequency {f:+.3} ppm"));
        }
        if let Some(o) = self.offset_ms {
            extra.push(format!("offset {o:+.3} ms"));
        }
        if let Some((name, meaning)) = self.state_text() {
            extra.push(format!("discipline {name} ({meaning})"));
        }
        if !extra.is_empty() {
            out.push_str(&format!("   {}\n", extra.join(", ")));
        }
        out
    }

    /// As JSON.
    pub fn json(&self, server: &str) -> String {
        /// `slewctl status --json`, in its field order.
        #[derive(Serialize)]
        struct StatusJson<'a> {
            server: &'a str,
            synchronised: bool,
            exit: u8,
            leap: u8,
            source: String,
            stratum: Option<i64>,
            refid: &'a str,
            correct_within_ms: f64,
            root_delay_ms: f64,
            root_dispersion_ms: f64,
            poll_s: u64,
            offset_ms: Option<f64>,
            frequency_ppm: Option<f64>,
            sys_jitter_ms: Option<f64>,
            discipline: &'a str,
        }
        json::to_string(&StatusJson {
            server,
            synchronised: self.synchronised(),
            exit: self.exit_code(),
            leap: self.leap(),
            source: self.source_text(),
            stratum: self.stratum,
            refid: &self.refid,
            correct_within_ms: self.correct_within_ms(),
            root_delay_ms: self.root_delay_ms,
            root_dispersion_ms: self.root_disp_ms,
            poll_s: self.poll_s(),
            offset_ms: self.offset_ms,
            frequency_ppm: self.frequency_ppm,
            sys_jitter_ms: self.sys_jitter_ms,
            discipline: self.state_text().map_or("", |s| s.0),
        })
    }
}

/// Asks the server.
pub fn fetch(client: &mut ControlClient) -> Result<Status, CtlError> {
    let (resp, vars) = client.read_vars(0, &[])?;
    Ok(Status::from_vars(resp.status, &vars))
}
