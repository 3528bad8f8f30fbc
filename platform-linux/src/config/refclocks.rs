//! `server 127.127.20.U` (NMEA) and `server 127.127.28.U` (SHM) with their `fudge`
//! lines, in ntpd's syntax: the words go to slew-core's refclock line parser
//! (`slew_core::refclock::config`), which knows each driver's options.

use slew_core::refclock::config::{parse_fudge, parse_server, RefclockConfigError};
use slew_core::refclock::source::Driver;

use super::error::{ErrorKind, Location};
use super::lexer::Line;
use super::model::{RefclockLine, SourceKind};
use super::parser::Parser;

/// Drivers with a Linux implementation (LOCAL, type 1, is handled on its own).
pub(super) fn supported(driver: u8) -> bool {
    matches!(Driver::from_type(driver), Some(Driver::Nmea | Driver::Shm))
}

/// A `fudge` for a hardware refclock, applied once every `server` line is known.
#[derive(Debug, Clone)]
pub(crate) struct PendingRefclockFudge {
    words: Vec<String>,
    at: Location,
}

impl Parser<'_> {
    /// `server 127.127.T.U [prefer] [noselect] [minpoll N] [maxpoll N] [mode M]`.
    pub(super) fn refclock_server(&mut self, kind: SourceKind, line: &Line<'_>, col: u32) {
        if kind != SourceKind::Server {
            self.err(
                col,
                ErrorKind::Conflict {
                    message: format!("a reference clock cannot be a `{}`", kind.name()),
                    hint: "write `server 127.127.T.U`".into(),
                },
            );
            return;
        }
        let words = line.tokens.iter().skip(1).map(|t| t.text);
        match parse_server(words) {
            Ok(config) => {
                let addr = slew_core::peer::refclock_addr(&config);
                if self
                    .config
                    .refclocks
                    .iter()
                    .any(|r| slew_core::peer::refclock_addr(&r.config) == addr)
                {
                    self.err(
                        col,
                        ErrorKind::Conflict {
                            message: format!("reference clock {} declared twice", addr.ip()),
                            hint: "remove one of the two `server` lines".into(),
                        },
                    );
                    return;
                }
                let at = self.at(line.tokens.first().map_or(1, |t| t.column));
                self.config.refclocks.push(RefclockLine {
                    config,
                    at,
                    fudge_at: None,
                });
            }
            Err(e) => self.refclock_error(col, "server", e),
        }
    }

    /// `fudge 127.127.T.U [time1 S] [time2 S] [stratum N] [refid ID] [flag1..4 0|1]`.
    pub(super) fn refclock_fudge(&mut self, line: &Line<'_>, col: u32) {
        let words: Vec<String> = line.tokens.iter().skip(1).map(|t| t.text.into()).collect();
        // Checked now (so the error points at this line), applied at resolve time.
        match parse_fudge(words.iter().map(String::as_str), Default::default()) {
            Ok(_) => {
                let at = self.at(col);
                self.refclock_fudges
                    .push(PendingRefclockFudge { words, at });
            }
            Err(e) => self.refclock_error(col, "fudge", e),
        }
    }

    fn refclock_error(&mut self, col: u32, directive: &'static str, e: RefclockConfigError) {
        let kind = match e {
            RefclockConfigError::UnknownDriver(driver) => ErrorKind::UnsupportedRefclock { driver },
            other => ErrorKind::InvalidValue {
                after: directive.into(),
                value: "127.127.T.U line".into(),
                expected: other.reason().into(),
                suggestion: None,
            },
        };
        self.err(col, kind);
    }

    /// Apply the refclock `fudge` lines in file order; one for no clock is an error.
    pub(super) fn resolve_refclock_fudges(&mut self) {
        for f in std::mem::take(&mut self.refclock_fudges) {
            let words = || f.words.iter().map(String::as_str);
            let Ok((driver, unit, _)) = parse_fudge(words(), Default::default()) else {
                continue;
            };
            let found = self
                .config
                .refclocks
                .iter_mut()
                .find(|r| r.config.driver == driver && r.config.unit == unit);
            match found {
                Some(r) => {
                    if let Ok((_, _, fudge)) = parse_fudge(words(), r.config.fudge) {
                        r.config.fudge = fudge;
                        r.fudge_at = Some(f.at);
                    }
                }
                None => self.push_error(super::error::ConfigError::new(
                    f.at,
                    ErrorKind::FudgeWithoutServer {
                        address: f.words.first().cloned().unwrap_or_default(),
                    },
                )),
            }
        }
    }
}
