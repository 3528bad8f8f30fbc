//! Logging for the binaries: to stderr (foreground, `-n`) or to syslog (daemon),
//! through the `log` facade so library code never cares where lines go.

use std::ffi::CString;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use log::{Level, LevelFilter, Log, Metadata, Record};

/// Where log lines go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sink {
    /// Standard error, each line prefixed with a UTC time and the program name.
    Stderr,
    /// The system log (`LOG_DAEMON` facility).
    Syslog,
    /// A file (ntp.conf's `logfile`), appended to, lines as on stderr.
    File(PathBuf),
}

enum Target {
    Stderr,
    Syslog,
    File(std::fs::File),
}

struct Logger {
    target: Mutex<Target>,
    program: Mutex<&'static str>,
}

static LOGGER: Logger = Logger {
    target: Mutex::new(Target::Stderr),
    program: Mutex::new("slew"),
};

impl Log for Logger {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let program = self.program.lock().map(|p| *p).unwrap_or("slew");
        let Ok(mut target) = self.target.lock() else {
            return;
        };
        // The last line of defence for bytes from outside (names, answers, files)
        // that a message quotes: controls are escaped, never written raw. Newlines
        // stay: a message and its hint are two lines the program wrote.
        let text = format!("{}", record.args());
        let text = crate::config::escape::escape_keep_newlines(&text);
        let line = || {
            format!(
                "{} {}[{}]: {}{}\n",
                format_utc(crate::os::time::unix_now_s()),
                program,
                std::process::id(),
                level_tag(record.level()),
                text
            )
        };
        match &mut *target {
            Target::Stderr => {
                let _ = std::io::stderr().lock().write_all(line().as_bytes());
            }
            Target::File(f) => {
                let _ = f.write_all(line().as_bytes());
            }
            Target::Syslog => {
                let priority = match record.level() {
                    Level::Error => libc::LOG_ERR,
                    Level::Warn => libc::LOG_WARNING,
                    Level::Info => libc::LOG_INFO,
                    Level::Debug | Level::Trace => libc::LOG_DEBUG,
                };
                // Escaped above: no NUL can cut the record short.
                if let Ok(msg) = CString::new(text.as_bytes()) {
                    // SAFETY: a constant "%s" format with one valid C string argument.
                    unsafe { libc::syslog(priority, c"%s".as_ptr(), msg.as_ptr()) };
                }
            }
        }
    }

    fn flush(&self) {}
}

fn level_tag(level: Level) -> &'static str {
    match level {
        Level::Error => "error: ",
        Level::Warn => "warning: ",
        _ => "",
    }
}

/// `YYYY-MM-DD HH:MM:SS` in UTC, without a time zone database.
pub fn format_utc(unix_s: i64) -> String {
    let days = unix_s.div_euclid(86_400);
    let secs = unix_s.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's well-known civil-from-days algorithm (a published formula).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Installs the logger, or moves it to another sink (slewd logs to stderr until it
/// has detached, then to syslog or its logfile). A logfile that cannot be opened
/// leaves the logger on stderr and says so.
pub fn init(sink: Sink, program: &'static str, verbose: bool) {
    let target = match sink {
        Sink::Stderr => Target::Stderr,
        Sink::Syslog => {
            let ident: &'static std::ffi::CStr = match program {
                "slewd" => c"slewd",
                _ => c"slew",
            };
            // SAFETY: `ident` is a 'static C string, as openlog requires.
            unsafe { libc::openlog(ident.as_ptr(), libc::LOG_PID, libc::LOG_DAEMON) };
            Target::Syslog
        }
        Sink::File(path) => match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
        {
            Ok(f) => Target::File(f),
            Err(e) => {
                eprintln!(
                    "{program}: cannot open logfile {}: {e}; logging to stderr",
                    path.display()
                );
                Target::Stderr
            }
        },
    };
    if let Ok(mut t) = LOGGER.target.lock() {
        *t = target;
    }
    if let Ok(mut p) = LOGGER.program.lock() {
        *p = program;
    }
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(if verbose {
        LevelFilter::Debug
    } else {
        LevelFilter::Info
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes from outside that a message quotes reach the log escaped; the newline
    /// between a message and its hint stays. (The only test that installs the
    /// logger: it stays on this file for the rest of the test binary.)
    #[test]
    fn controls_in_a_message_are_escaped_in_the_log() {
        let path = std::env::temp_dir().join(format!("slew-logger-{}.log", std::process::id()));
        let _ = std::fs::remove_file(&path);
        init(Sink::File(path.clone()), "slewd", false);
        log::warn!("name a\x1b[31mb\0c\x7f\n  hint: fix it");
        let text = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert!(
            text.contains("warning: name a\\x1b[31mb\\0c\\x7f\n  hint: fix it\n"),
            "{text:?}"
        );
    }

    #[test]
    fn utc_formatting() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(format_utc(2_085_978_496), "2036-02-07 06:28:16");
        assert_eq!(format_utc(-1), "1969-12-31 23:59:59");
    }
}
